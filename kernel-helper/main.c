// SPDX-License-Identifier: GPL-2.0-only
/*
 * imasnap: trims the head of IMA's measurement list on request, keeping the
 * chain to the TPM's PCRs in a snapshot_aggregate entry.
 *
 * /sys/kernel/security/imasnap/
 *   trim   (0200, CAP_SYS_ADMIN) one write of "<N> <sha1hex> <H>\n": remove
 *          the first N entries of the list, the N-th of which has SHA-1
 *          template digest <sha1hex>, if the list's first entry is still
 *          the epoch's entry H (state: trimmed + epoch_start) as the writer
 *          read it. Digests repeat (every violation's is zero), so H is what
 *          keeps two writers from trimming by one count twice. "<N>
 *          <sha1hex>\n" (no H) is accepted unchecked, for manual use.
 *          Errors, each leaving the list unchanged:
 *            EINVAL  not that format, N = 0, or a write at an offset
 *            ERANGE  N is larger than the list
 *            ESTALE  the N-th entry has another digest, or the head is not H
 *            EBUSY   a measurement list file stayed open reader_wait_ms
 *            ENOENT  IMA's policy is empty: it records nothing
 *          Trims (and rebases) are serialized by snap.lock.
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
 *   The control files refuse an open for writing without CAP_SYS_ADMIN
 *   (EPERM), and check it again at each write.
 *   state  (0444) "key: value" lines: version, trimmed, epoch_start (the
 *          epoch's index of this kernel's first entry: positive after a
 *          kexec, negative when a new epoch began at a cut), entries, bytes,
 *          epoch, then "base: <pcr> <alg> <hex>" per PCR with a base and per
 *          bank the helper can hash.
 *   stats  (0444) "key: value" lines (stats.c): kmem (kernel memory the
 *          listed entries hold: what trimming them frees), trims, rebases,
 *          TPM commands sent under IMA's list mutex (always 0), and per
 *          critical section the count, longest and total hold in ns.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/kmemleak.h>
#include <linux/module.h>
#include <linux/rcupdate_wait.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait_bit.h>

#include "imasnap.h"

unsigned int reader_wait_ms = 1000;
module_param(reader_wait_ms, uint, 0644);
MODULE_PARM_DESC(reader_wait_ms,
		 "How long a trim waits for readers of IMA's list files to close them before failing with EBUSY (ms, default 1000)");

unsigned int trim_batch = 4096;
module_param(trim_batch, uint, 0644);
MODULE_PARM_DESC(trim_batch,
		 "At most this many entries unlinked per hold of IMA's list mutex (1..4096, default 4096; trim_hold_us bounds a hold first)");

unsigned int trim_hold_us = 200;
module_param(trim_hold_us, uint, 0644);
MODULE_PARM_DESC(trim_hold_us,
		 "A trim gives IMA's list mutex back after holding it this long (us, 1..100000, default 200)");

static struct dentry *imasnap_dir;
static struct dentry *state_file;
static struct dentry *readers_file;
static struct dentry *stats_file;

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
DEFINE_SHOW_ATTRIBUTE(readers);

static int trim_command(char *cmd, size_t len)
{
	struct trim_cmd t;
	int err = trim_parse(cmd, len, &t);

	return err ?: trim_entries(&t);
}

static int rebase_command(char *cmd, size_t len)
{
	struct parse_bank banks[TPM2_MAX_PCR_BANKS];
	struct rebase_cmd rc = {};
	struct rebase rb;
	int i, err;

	for (i = 0; i < snap.banks.nr; i++) {
		banks[i].name = bank_name(&snap.banks.bank[i]);
		banks[i].digest_size = snap.banks.bank[i].digest_size;
		banks[i].available = snap.banks.bank[i].available;
	}
	rc.base = kzalloc(sizeof(*rc.base), GFP_KERNEL);
	if (!rc.base)
		return -ENOMEM;
	err = rebase_parse(cmd, len, banks, snap.banks.nr, &rc);
	rb.count = rc.count;
	rb.base = rc.base;
	err = err ?: rebase_entries(rc.n, rc.digest, &rb);
	kfree(rc.base);
	return err;
}

static int persisted_command(char *cmd, size_t len)
{
	u64 count;
	int err = persisted_parse(cmd, len, &count);

	if (!err)
		persisted_set(count);
	return err;
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
	{ "rebase", REBASE_CMD_MAX, true, rebase_command },
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

/* as safesetid: an open for writing needs the capability already */
static int control_open(struct inode *inode, struct file *file)
{
	if ((file->f_mode & FMODE_WRITE) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

static const struct file_operations control_fops = {
	.owner = THIS_MODULE,
	.open = control_open,
	.write = control_write,
	.llseek = default_llseek,	/* so a write at an offset is seen */
};

/*
 * The helper's files and rmmod. Inodes whose fops this module owns would
 * make an open that races rmmod ask fops_get() for a module going away:
 * do_dentry_open() WARNs. As for IMA's list files (readers.c), each inode
 * gets an allocated copy without owner, never freed, whose one method is
 * file_open(): it takes the module reference itself, failing cleanly with
 * ENODEV once rmmod has begun, and switches the file to the module's fops,
 * whose owner's reference fput() gives back. An open file still holds the
 * module (rmmod: "in use"); on removal the copies lose their open, and the
 * helper waits until no task can be in, or about to enter, file_open().
 */
struct file_kind {
	struct file_operations fops;	/* the inodes': only open; never freed */
	const struct file_operations *real;
};

static struct file_kind *state_kind, *readers_kind, *stats_kind, *control_kind;
static atomic_t file_open_inside = ATOMIC_INIT(0);

static int file_open(struct inode *inode, struct file *file)
{
	const struct file_kind *k = container_of(file->f_op, struct file_kind,
						 fops);
	int err = -ENODEV;

	/* before anything else: files_retire() */
	atomic_inc(&file_open_inside);
	if (try_module_get(THIS_MODULE)) {
		/* from here on fput() puts the reference, through ->owner */
		file->f_op = k->real;
		err = k->real->open ? k->real->open(inode, file) : 0;
	}
	if (atomic_dec_and_test(&file_open_inside))
		wake_up_var(&file_open_inside);
	return err;
}

static struct file_kind *file_kind_alloc(const struct file_operations *real)
{
	struct file_kind *k = kzalloc(sizeof(*k), GFP_KERNEL);

	if (k) {
		k->fops.open = file_open;
		k->real = real;
	}
	return k;
}

/* After the files are removed: nothing may enter this module through them. */
static void files_retire(void)
{
	struct file_kind *kinds[] = { state_kind, readers_kind, stats_kind, control_kind };
	int i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i])	/* an open through a stale dentry: no methods */
			WRITE_ONCE(kinds[i]->fops.open, NULL);
	/* whoever read file_open from a copy has entered it and counts */
	synchronize_rcu_tasks();
	wait_var_event(&file_open_inside, !atomic_read(&file_open_inside));
	/* and has run file_open()'s last instructions */
	synchronize_rcu_tasks();
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		kmemleak_not_leak(kinds[i]);	/* NULL-safe */
}

/*
 * securityfs_remove() unlinks a file but leaves its dentry hashed while
 * anyone still holds it (a lookup or an open racing rmmod): the directory
 * then stays non-empty, its removal fails, and every later insmod finds
 * "imasnap" taken (EEXIST) until reboot. Unhashed, the file is gone for
 * those holders' next lookup too, and the directory goes.
 */
static void file_remove(struct dentry *d)
{
	if (!d)
		return;
	dget(d);
	securityfs_remove(d);
	d_drop(d);
	dput(d);
}

static void files_remove(void)
{
	int i;

	for (i = ARRAY_SIZE(controls) - 1; i >= 0; i--)
		file_remove(controls[i].dentry);
	file_remove(readers_file);
	file_remove(stats_file);
	file_remove(state_file);
	securityfs_remove(imasnap_dir);	/* NULL-safe */
	files_retire();
}

static int file_create(struct dentry **d, const char *name, umode_t mode,
		       void *data, const struct file_kind *kind)
{
	*d = securityfs_create_file(name, mode, imasnap_dir, data, &kind->fops);
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

	state_kind = file_kind_alloc(&state_fops);
	readers_kind = file_kind_alloc(&readers_fops);
	stats_kind = file_kind_alloc(&stats_fops);
	control_kind = file_kind_alloc(&control_fops);
	if (!state_kind || !readers_kind || !stats_kind || !control_kind) {
		/* nothing installed yet */
		kfree(state_kind);
		kfree(readers_kind);
		kfree(stats_kind);
		kfree(control_kind);
		state_kind = readers_kind = stats_kind = control_kind = NULL;
		return -ENOMEM;
	}
	imasnap_dir = securityfs_create_dir("imasnap", NULL);
	if (IS_ERR(imasnap_dir)) {
		err = PTR_ERR(imasnap_dir);
		imasnap_dir = NULL;
		pr_err("cannot create securityfs directory imasnap: %d\n", err);
		files_remove();
		return err;
	}
	err = file_create(&state_file, "state", 0444, NULL, state_kind);
	/* as IMA's own lists: whose processes hold them is root's to know */
	if (!err)
		err = file_create(&readers_file, "readers", 0440, NULL, readers_kind);
	if (!err)
		err = file_create(&stats_file, "stats", 0444, NULL, stats_kind);
	for (i = 0; !err && i < ARRAY_SIZE(controls); i++)
		err = file_create(&controls[i].dentry, controls[i].name, 0200,
				  &controls[i], control_kind);
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
