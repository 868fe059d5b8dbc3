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
 *   state  (0444) "key: value" lines: version, trimmed, entries, bytes,
 *          epoch, then "base: <pcr> <alg> <hex>" per PCR with a base and
 *          per bank the helper can hash.
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
static struct dentry *trim_file;

static int state_show(struct seq_file *m, void *v)
{
	struct list_stats stats;
	int pcr, i;

	if (mutex_lock_interruptible(&snap.lock))
		return -EINTR;
	list_stats(&stats);
	seq_puts(m, "version: 1\n");
	seq_printf(m, "trimmed: %llu\n", snap.trimmed);
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
		return -EINVAL;	/* N = 0, or a leading zero */
	if (digits >= sizeof(number))
		return -ERANGE;
	memcpy(number, cmd, digits);
	number[digits] = '\0';
	return kstrtou64(number, 10, n) ? -ERANGE : 0;
}

static ssize_t trim_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	char cmd[TRIM_CMD_MAX + 1];
	u8 digest[SHA1_DIGEST_SIZE];
	u64 n;
	int err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (*ppos != 0 || count == 0 || count > TRIM_CMD_MAX)
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = '\0';
	err = trim_parse(cmd, count, &n, digest);
	if (err)
		return err;

	if (mutex_lock_interruptible(&snap.lock))
		return -EINTR;
	err = trim_entries(n, digest);
	mutex_unlock(&snap.lock);
	return err ? err : count;
}

static const struct file_operations trim_fops = {
	.owner = THIS_MODULE,
	.write = trim_write,
	.llseek = default_llseek,	/* so a write at an offset is seen */
};

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
	err = readers_gate_install();
	if (err)
		goto out_banks;

	imasnap_dir = securityfs_create_dir("imasnap", NULL);
	if (IS_ERR(imasnap_dir)) {
		err = PTR_ERR(imasnap_dir);
		pr_err("cannot create securityfs directory imasnap: %d\n", err);
		goto out_gate;
	}
	state_file = securityfs_create_file("state", 0444, imasnap_dir, NULL,
					    &state_fops);
	if (IS_ERR(state_file)) {
		err = PTR_ERR(state_file);
		pr_err("cannot create securityfs file imasnap/state: %d\n", err);
		goto out_dir;
	}
	trim_file = securityfs_create_file("trim", 0200, imasnap_dir, NULL,
					   &trim_fops);
	if (IS_ERR(trim_file)) {
		err = PTR_ERR(trim_file);
		pr_err("cannot create securityfs file imasnap/trim: %d\n", err);
		goto out_state;
	}
	pr_info("ready: %llu entries trimmed so far, %d PCR banks\n",
		snap.trimmed, snap.banks.nr);
	return 0;

out_state:
	securityfs_remove(state_file);
out_dir:
	securityfs_remove(imasnap_dir);
out_gate:
	readers_gate_remove();
out_banks:
	banks_free(&snap.banks);
out_base:
	kfree(snap.base);
	return err;
}

static void __exit imasnap_exit(void)
{
	securityfs_remove(trim_file);
	securityfs_remove(state_file);
	securityfs_remove(imasnap_dir);
	readers_gate_remove();
	banks_free(&snap.banks);
	kfree(snap.base);
}

module_init(imasnap_init);
module_exit(imasnap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trim the head of IMA's measurement list, keeping the PCR chain in a snapshot_aggregate entry");
