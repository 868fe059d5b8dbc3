// SPDX-License-Identifier: GPL-2.0-only
/*
 * imasnap: trims the head of IMA's measurement list on request, keeping the
 * chain to the TPM's PCRs in a snapshot_aggregate entry.
 *
 * /sys/kernel/security/imasnap/
 *   trim   (0200, CAP_SYS_ADMIN) one write of "<N> <sha1hex>\n": remove the
 *          first N entries of the list, the N-th of which has SHA-1 template
 *          digest <sha1hex>. Errors, each leaving the list unchanged:
 *            EINVAL  not that format, N = 0, or a write at an offset
 *            ERANGE  N is larger than the list
 *            ESTALE  the N-th entry has another digest
 *            EBUSY   a measurement list file stayed open reader_wait_ms
 *   rebase (0200, CAP_SYS_ADMIN) one write, for a kernel that continues an
 *          epoch after kexec: "<N> <sha1hex or -> <C>\n" then lines
 *          "<pcr> <alg> <hex>\n" (every bank for each PCR given; PCRs not
 *          given are zero): cut the first N entries (carried over, already
 *          in the store; N may be 0) and take these values as the PCRs
 *          before what remains, with C entries of the epoch before it
 *          (C = 0: a new epoch begins there, when continuity cannot be
 *          proven). Accepted only if the rest of the list replays from them
 *          to the TPM's values; then a snapshot_aggregate records them.
 *          Errors as trim, and EBADMSG: they do not replay to the TPM.
 *   persisted (0200, CAP_SYS_ADMIN) "<C>\n": the store holds the epoch's
 *          first C entries durably (the loader, after each commit); a reboot
 *          or kexec waits for the store to hold all (reboot.c).
 *   state  (0444) "key: value" lines: version, trimmed, epoch_start (the
 *          epoch's index of this kernel's first entry: positive after a
 *          kexec, negative when a new epoch began at a cut), entries, bytes,
 *          epoch, then "base: <pcr> <alg> <hex>" per PCR with a base and per
 *          bank the helper can hash.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "imasnap.h"

unsigned int reader_wait_ms = 1000;
module_param(reader_wait_ms, uint, 0644);
MODULE_PARM_DESC(reader_wait_ms,
		 "How long a trim waits for readers of IMA's list files to close them before failing with EBUSY (ms, default 1000)");

unsigned int trim_batch = 128;
module_param(trim_batch, uint, 0644);
MODULE_PARM_DESC(trim_batch,
		 "Entries unlinked per hold of IMA's list mutex (1..4096, default 128)");

static struct dentry *imasnap_dir;
static struct dentry *state_file;

static int state_show(struct seq_file *m, void *v)
{
	struct list_stats stats;
	int pcr, i;

	if (mutex_lock_interruptible(&snap.lock))
		return -EINTR;
	list_stats(&stats);
	seq_puts(m, "version: 1\n");
	seq_printf(m, "trimmed: %llu\n", snap.trimmed);
	seq_printf(m, "epoch_start: %lld\n", (s64)snap.trimmed_before);
	seq_printf(m, "entries: %llu\n", stats.entries);
	seq_printf(m, "bytes: %llu\n", stats.bytes);
	seq_printf(m, "epoch: %*phN\n", IMASNAP_EPOCH_SIZE, snap.epoch);
	for (pcr = 0; pcr < IMASNAP_NR_PCRS; pcr++) {
		if (!(snap.base->mask & BIT(pcr)))
			continue;
		for (i = 0; i < snap.banks.nr; i++) {
			const struct pcr_bank *b = &snap.banks.bank[i];

			if (!b->available)
				continue;
			seq_printf(m, "base: %d %s %*phN\n", pcr,
				   bank_name(b), b->digest_size,
				   snap.base->value[pcr][i]);
		}
	}
	mutex_unlock(&snap.lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(state);

/* Decimal, no sign, no leading zero: -EINVAL; too large for u64: -ERANGE */
static int parse_u64(const char *s, u64 *v)
{
	if (!isdigit(*s) || (s[0] == '0' && s[1]))
		return -EINVAL;
	return kstrtou64(s, 10, v) ? -ERANGE : 0;
}

/*
 * "<N> <40 hex>" with an optional final newline, nothing else. N is decimal
 * without sign or leading zeros; a number too large for u64 is a count past
 * the end of any list (ERANGE), like any other N larger than the list.
 */
#define TRIM_CMD_MAX 128

static int trim_parse(const char *cmd, size_t len, u64 *n,
		      u8 digest[SHA1_DIGEST_SIZE])
{
	char number[21];
	size_t digits = 0;

	if (len && cmd[len - 1] == '\n')
		len--;
	while (digits < len && isdigit(cmd[digits]))
		digits++;
	if (!digits || len != digits + 1 + 2 * SHA1_DIGEST_SIZE ||
	    cmd[digits] != ' ' ||
	    hex2bin(digest, cmd + digits + 1, SHA1_DIGEST_SIZE))
		return -EINVAL;
	if (cmd[0] == '0')
		return -EINVAL;	/* N = 0, or a leading zero on any length */
	if (digits >= sizeof(number))
		return -ERANGE;
	memcpy(number, cmd, digits);
	number[digits] = '\0';
	return parse_u64(number, n);
}

static int trim_command(char *cmd, size_t len)
{
	u8 digest[SHA1_DIGEST_SIZE];
	u64 n;
	int err = trim_parse(cmd, len, &n, digest);

	return err ?: trim_entries(n, digest);
}

static const struct pcr_bank *bank_by_name(const char *name, int *idx)
{
	for (*idx = 0; *idx < snap.banks.nr; (*idx)++) {
		const struct pcr_bank *b = &snap.banks.bank[*idx];

		if (b->available && !strcmp(bank_name(b), name))
			return b;
	}
	return NULL;
}

/*
 * "<pcr> <alg> <hex>" lines into @base: every bank the helper keeps, for
 * each PCR named; lines for other banks are skipped.
 */
static int rebase_parse_values(char *lines, struct pcr_values *base)
{
	u32 seen[IMASNAP_NR_PCRS] = {}, all = 0;
	char *line, *pcr_s, *alg, *hex;
	const struct pcr_bank *b;
	unsigned int pcr;
	int i;

	for (i = 0; i < snap.banks.nr; i++)
		if (snap.banks.bank[i].available)
			all |= BIT(i);
	while ((line = strsep(&lines, "\n")) && *line) {
		pcr_s = strsep(&line, " ");
		alg = strsep(&line, " ");
		hex = line;
		if (!alg || !hex || kstrtouint(pcr_s, 10, &pcr) ||
		    pcr >= IMASNAP_NR_PCRS)
			return -EINVAL;
		b = bank_by_name(alg, &i);
		if (!b)
			continue;	/* a bank this helper does not keep */
		if ((seen[pcr] & BIT(i)) ||
		    strlen(hex) != 2 * b->digest_size ||
		    hex2bin(base->value[pcr][i], hex, b->digest_size))
			return -EINVAL;
		seen[pcr] |= BIT(i);
		base->mask |= BIT(pcr);
	}
	if (lines)	/* an empty line before the end */
		return -EINVAL;
	for (pcr = 0; pcr < IMASNAP_NR_PCRS; pcr++)
		if ((base->mask & BIT(pcr)) && seen[pcr] != all)
			return -EINVAL;
	return 0;
}

static int rebase_command(char *cmd, size_t len)
{
	u8 digest[SHA1_DIGEST_SIZE] = {};
	char *head = cmd, *n_s, *d_s, *c_s;
	struct rebase rb = {};
	u64 n;
	int err = -EINVAL;

	if (!len || cmd[len - 1] != '\n')
		return -EINVAL;
	cmd[len - 1] = '\0';
	head = strsep(&cmd, "\n");
	n_s = strsep(&head, " ");
	d_s = strsep(&head, " ");
	c_s = head;
	if (!d_s || !c_s || parse_u64(n_s, &n) || parse_u64(c_s, &rb.count))
		return -EINVAL;
	if (n ? strlen(d_s) != 2 * SHA1_DIGEST_SIZE ||
		hex2bin(digest, d_s, SHA1_DIGEST_SIZE) : strcmp(d_s, "-"))
		return -EINVAL;
	rb.base = kzalloc(sizeof(*rb.base), GFP_KERNEL);
	if (!rb.base)
		return -ENOMEM;
	/* no PCR given: all zero */
	err = cmd ? rebase_parse_values(cmd, rb.base) : 0;
	err = err ?: rebase_entries(n, digest, &rb);
	kfree(rb.base);
	return err;
}

static int persisted_command(char *cmd, size_t len)
{
	u64 count;

	if (len && cmd[len - 1] == '\n')
		cmd[len - 1] = '\0';
	if (parse_u64(cmd, &count))
		return -EINVAL;
	persisted_set(count);
	return 0;
}

/*
 * The write-only control files: one command per write(2), at offset 0. A
 * locked command runs under snap.lock. persisted is one value, written by
 * the loader after every commit: it must not wait behind a trim.
 */
struct control {
	const char *name;
	size_t max;
	bool locked;
	int (*run)(char *cmd, size_t len);
	struct dentry *dentry;
};

static struct control controls[] = {
	{ "trim", TRIM_CMD_MAX, true, trim_command },
	/* a header and up to 24 PCRs x 4 banks of SHA-512 hex */
	{ "rebase", 16384, true, rebase_command },
	{ "persisted", 32, false, persisted_command },
};

static int control_run(const struct control *c, char *cmd, size_t len)
{
	int err;

	if (!c->locked)
		return c->run(cmd, len);
	if (mutex_lock_interruptible(&snap.lock))
		return -EINTR;
	err = c->run(cmd, len);
	mutex_unlock(&snap.lock);
	return err;
}

static ssize_t control_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	const struct control *c = file_inode(file)->i_private;
	char *cmd;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (*ppos != 0 || count == 0 || count > c->max)
		return -EINVAL;
	cmd = memdup_user_nul(ubuf, count);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	err = strlen(cmd) == count ? control_run(c, cmd, count) : -EINVAL;
	kfree(cmd);
	return err ? err : count;
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.write = control_write,
	.llseek = default_llseek,	/* so a write at an offset is seen */
};

static void files_remove(void)
{
	int i;

	for (i = ARRAY_SIZE(controls) - 1; i >= 0; i--)
		securityfs_remove(controls[i].dentry);	/* NULL-safe */
	securityfs_remove(state_file);
	securityfs_remove(imasnap_dir);
}

static int file_create(struct dentry **d, const char *name, umode_t mode,
		       void *data, const struct file_operations *fops)
{
	*d = securityfs_create_file(name, mode, imasnap_dir, data, fops);
	if (IS_ERR(*d)) {
		int err = PTR_ERR(*d);

		*d = NULL;
		pr_err("cannot create securityfs file imasnap/%s: %d\n", name,
		       err);
		return err;
	}
	return 0;
}

static int files_create(void)
{
	int i, err;

	imasnap_dir = securityfs_create_dir("imasnap", NULL);
	if (IS_ERR(imasnap_dir)) {
		err = PTR_ERR(imasnap_dir);
		imasnap_dir = NULL;
		pr_err("cannot create securityfs directory imasnap: %d\n", err);
		return err;
	}
	err = file_create(&state_file, "state", 0444, NULL, &state_fops);
	for (i = 0; !err && i < ARRAY_SIZE(controls); i++)
		err = file_create(&controls[i].dentry, controls[i].name, 0200,
				  &controls[i], &control_fops);
	if (err)
		files_remove();
	return err;
}

static int __init imasnap_init(void)
{
	int err;

	mutex_init(&snap.lock);
	err = ima_internals_resolve();
	if (!err)
		err = ima_layout_check();
	if (!err)
		err = ima_internals_check();
	if (err)
		return err;

	snap.base = kzalloc(sizeof(*snap.base), GFP_KERNEL);
	if (!snap.base)
		return -ENOMEM;
	err = banks_init(&snap.banks, *ima.tpm_chip);
	if (err)
		goto out_base;
	mutex_lock(&snap.lock);
	err = recover_state();
	mutex_unlock(&snap.lock);
	if (err)
		goto out_banks;
	err = readers_gate_alloc();
	if (err)
		goto out_banks;
	err = reboot_hook_install();
	if (err)
		goto out_gate;
	err = files_create();
	if (err)
		goto out_reboot;
	/*
	 * Last, and nothing can fail after the files exist and the gate is
	 * in: a failed init frees the module whatever still points into it.
	 */
	readers_gate_install();
	pr_info("ready: %llu entries trimmed so far, %d PCR banks\n",
		snap.trimmed, snap.banks.nr);
	return 0;

out_reboot:
	reboot_hook_remove();
out_gate:
	readers_gate_free();
out_banks:
	banks_free(&snap.banks);
out_base:
	kfree(snap.base);
	return err;
}

/* The reverse of init: the gate goes first. */
static void __exit imasnap_exit(void)
{
	readers_gate_remove();
	files_remove();
	reboot_hook_remove();
	banks_free(&snap.banks);
	kfree(snap.base);
}

module_init(imasnap_init);
module_exit(imasnap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trim the head of IMA's measurement list, keeping the PCR chain in a snapshot_aggregate entry");
