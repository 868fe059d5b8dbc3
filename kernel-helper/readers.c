// SPDX-License-Identifier: GPL-2.0-only
/*
 * Keeps readers of ascii_runtime_measurements and binary_runtime_measurements
 * out while a trim removes entries.
 *
 * Linux 6.1's seq_file iterators for those files (ima_fs.c) hold entry
 * pointers without any lock while they format a read, and between reads
 * they remember only an entry index. Freeing entries under a reader would be
 * a use after free; removing entries before its position would make it skip
 * records. So a trim runs only while no one has either file open:
 *
 *  - do_dentry_open() counts every read-only open in the inode's i_readcount
 *    and every open for writing in i_writecount before it calls the open
 *    method, so those counters cover every open file, even ones opened
 *    before this module was loaded; an open with O_ACCMODE 3 (neither read
 *    nor write) is counted in neither, and cannot read;
 *  - the module swaps both inodes' i_fop for a copy whose open method waits
 *    while a trim runs (a gate), so no new reader starts during a trim.
 *    Openers waiting at the gate that do_dentry_open() counted are counted
 *    by the gate too and subtracted; the others are not, or a real reader
 *    would go unseen.
 *
 * A trim closes the gate, then waits a bounded time for the open count to
 * drop to zero; if it does not, it reopens the gate and fails with -EBUSY
 * without having changed anything.
 *
 * The module's lifetime. Like IMA's own, the copies have no owner: opens
 * never take a reference on the module, so an open that races rmmod never
 * asks fops_get() for a module going away (do_dentry_open() WARNs and fails
 * it), and fops_get(), which reads i_fop more than once, counts the same
 * whichever i_fop it sees while the gate is put in or taken out. Instead:
 *  - a file that passed the gate is switched to IMA's own operations, so no
 *    open file points into the module;
 *  - the copies are allocated, and are never freed: an open that took a
 *    copy from i_fop just before the gate was removed may use it for as long
 *    as that file is open (about 600 bytes per unload);
 *  - on removal the copies' open becomes IMA's, and the helper waits until
 *    no task can still be in, or about to enter, gate_open() (a counter for
 *    the ones inside, which may sleep, and an RCU-tasks grace period before
 *    and after it for the instructions around it).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/fdtable.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kmemleak.h>
#include <linux/module.h>
#include <linux/rcupdate_wait.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/wait_bit.h>

#include "imasnap.h"

struct gated_file {
	struct inode *inode;
	const struct file_operations *orig;
	struct file_operations *fops;	/* never freed, see above */
};

static struct gated_file gated[2];
static DEFINE_SPINLOCK(gate_lock);
static bool gate_installed;		/* under gate_lock */
static bool gate_closed;		/* under gate_lock */
static unsigned int gate_waiters;	/* counted openers waiting, under gate_lock */
static DECLARE_WAIT_QUEUE_HEAD(gate_wq);
static atomic_t gate_inside = ATOMIC_INIT(0);	/* tasks in gate_open() */

/*
 * When each open file of the lists was opened, for imasnap/readers: files
 * that passed the gate, by their struct file (a key only, never followed; a
 * closed file's slot is taken over by the next open at its address or by
 * the newest opener when all are in use). Files opened before the gate was
 * installed are timed from then, as a lower bound.
 */
#define OPENERS_MAX	64
static struct {
	const struct file *file;
	unsigned long since;	/* jiffies */
} openers[OPENERS_MAX];		/* under gate_lock */
static unsigned long installed_at;	/* jiffies */

static void opener_record(const struct file *file)
{
	int i, match = -1, unused = -1, oldest = 0, slot;

	spin_lock(&gate_lock);
	for (i = 0; i < OPENERS_MAX; i++) {
		if (openers[i].file == file)
			match = i;
		else if (!openers[i].file && unused < 0)
			unused = i;
		else if (openers[i].file && time_before(openers[i].since, openers[oldest].since))
			oldest = i;
	}
	slot = match >= 0 ? match : unused >= 0 ? unused : oldest;
	openers[slot].file = file;
	openers[slot].since = jiffies;
	spin_unlock(&gate_lock);
}

/* 6.1 fs/open.c: do_dentry_open() counted @file in i_readcount or i_writecount */
static bool open_counted(const struct file *file)
{
	return file->f_mode & (FMODE_READ | FMODE_WRITE);
}

static int gate_wait(struct file *file)
{
	unsigned int counted = open_counted(file);
	int err = 0;

	spin_lock(&gate_lock);
	while (gate_closed && !err) {
		gate_waiters += counted;
		spin_unlock(&gate_lock);
		err = wait_event_interruptible(gate_wq, !READ_ONCE(gate_closed));
		spin_lock(&gate_lock);
		gate_waiters -= counted;
	}
	spin_unlock(&gate_lock);
	return err;
}

static int gate_open(struct inode *inode, struct file *file)
{
	const struct file_operations *orig = NULL;
	int i, err;

	/* before anything that may sleep: readers_gate_remove() */
	atomic_inc(&gate_inside);
	for (i = 0; i < ARRAY_SIZE(gated); i++)
		if (gated[i].inode == inode)
			orig = gated[i].orig;
	err = WARN_ON_ONCE(!orig) ? -ENODEV : gate_wait(file);
	if (!err) {
		/* from here on IMA's file, with nothing in this module */
		file->f_op = orig;
		err = orig->open(inode, file);
	}
	if (!err)
		opener_record(file);
	if (atomic_dec_and_test(&gate_inside))
		wake_up_var(&gate_inside);
	return err;
}

static int open_files(void)
{
	int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(gated); i++)
		n += atomic_read(&gated[i].inode->i_readcount) +
		     max(atomic_read(&gated[i].inode->i_writecount), 0);
	return n;
}

static void set_i_fop(struct inode *inode, const struct file_operations *fops)
{
	inode_lock(inode);
	WRITE_ONCE(inode->i_fop, fops);
	inode_unlock(inode);
}

/* The copies, before init creates anything a failure would have to undo. */
int readers_gate_alloc(void)
{
	const struct file_operations *fops[] = { ima.binary_list_fops,
						 ima.ascii_list_fops };
	int i;

	for (i = 0; i < ARRAY_SIZE(gated); i++) {
		gated[i].fops = kmemdup(fops[i], sizeof(*fops[i]), GFP_KERNEL);
		if (!gated[i].fops) {
			readers_gate_free();
			pr_err("cannot allocate the list files' gate\n");
			return -ENOMEM;
		}
		gated[i].orig = fops[i];
		gated[i].fops->owner = NULL;	/* see above; IMA's is built in */
		gated[i].fops->open = gate_open;
	}
	return 0;
}

/* Only for copies never installed. */
void readers_gate_free(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(gated); i++) {
		kfree(gated[i].fops);
		gated[i].fops = NULL;
	}
}

/* Cannot fail: init's last step. */
void readers_gate_install(void)
{
	int i;

	gated[0].inode = d_inode(*ima.binary_list);
	gated[1].inode = d_inode(*ima.ascii_list);
	for (i = 0; i < ARRAY_SIZE(gated); i++)
		set_i_fop(gated[i].inode, gated[i].fops);
	spin_lock(&gate_lock);
	installed_at = jiffies;
	gate_installed = true;
	spin_unlock(&gate_lock);
}

void readers_gate_remove(void)
{
	int i;

	spin_lock(&gate_lock);
	gate_installed = false;
	spin_unlock(&gate_lock);
	for (i = 0; i < ARRAY_SIZE(gated); i++) {
		set_i_fop(gated[i].inode, gated[i].orig);
		/* an open that took the copy before calls IMA's open */
		WRITE_ONCE(gated[i].fops->open, gated[i].orig->open);
	}
	/* whoever read gate_open from a copy has entered it and counts */
	synchronize_rcu_tasks();
	wait_var_event(&gate_inside, !atomic_read(&gate_inside));
	/* and has run gate_open()'s last instructions */
	synchronize_rcu_tasks();
	for (i = 0; i < ARRAY_SIZE(gated); i++)
		kmemleak_not_leak(gated[i].fops);
}

struct holder_scan {
	struct seq_file *m;
	struct task_struct *task;
};

/* One line for a descriptor of @scan->task on a list file */
static int show_holder(const void *p, struct file *file, unsigned int fd)
{
	static const char *const names[] = { "binary_runtime_measurements",
					     "ascii_runtime_measurements" };
	const struct holder_scan *scan = p;
	unsigned long since;
	bool exact = false;
	int i, list = -1;

	for (i = 0; i < ARRAY_SIZE(gated); i++)
		if (gated[i].inode && file_inode(file) == gated[i].inode)
			list = i;
	if (list < 0)
		return 0;
	spin_lock(&gate_lock);
	since = installed_at;
	for (i = 0; i < OPENERS_MAX; i++) {
		if (openers[i].file == file) {
			since = openers[i].since;
			exact = true;
		}
	}
	spin_unlock(&gate_lock);
	seq_printf(scan->m, "%d %lu%s %s %s\n", task_tgid_nr(scan->task),
		   (jiffies - since) / HZ, exact ? "" : "+", names[list], scan->task->comm);
	return 0;
}

/*
 * imasnap/readers: who holds the list files open, which keeps trims out
 * (readers_block), so that a refused trim can name them. One line per open
 * descriptor: "PID SECONDS LIST COMM" (COMM last: it may hold blanks;
 * SECONDS ends in '+' when the file was opened before the helper was loaded
 * and is a lower bound). Found by every process's descriptor table, so it
 * sees files opened before the gate too.
 */
int readers_show(struct seq_file *m, void *v)
{
	struct holder_scan scan = { .m = m };
	struct task_struct *p;

	rcu_read_lock();
	for_each_process(p) {
		task_lock(p);
		if (p->files) {
			scan.task = p;
			iterate_fd(p->files, 0, show_holder, &scan);
		}
		task_unlock(p);
	}
	rcu_read_unlock();
	return 0;
}

void readers_unblock(void)
{
	spin_lock(&gate_lock);
	gate_closed = false;
	spin_unlock(&gate_lock);
	wake_up_all(&gate_wq);
}

int readers_block(unsigned int wait_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(wait_ms);
	int busy;

	spin_lock(&gate_lock);
	gate_closed = gate_installed;
	spin_unlock(&gate_lock);
	if (!gate_closed) {
		pr_info("trim refused: the helper is still loading; nothing changed, retry\n");
		return -EBUSY;
	}
	for (;;) {
		spin_lock(&gate_lock);
		busy = open_files() - gate_waiters;
		spin_unlock(&gate_lock);
		if (busy <= 0)
			return 0;
		if (time_after(jiffies, deadline)) {
			readers_unblock();
			pr_info("trim refused: %d open file(s) on IMA's measurement lists after %u ms; nothing changed, retry once readers close them\n",
				busy, wait_ms);
			return -EBUSY;
		}
		if (msleep_interruptible(10)) {
			readers_unblock();
			return -EINTR;
		}
	}
}
