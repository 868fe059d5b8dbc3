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
 *    (read-write opens in i_writecount) before it calls the open method, so
 *    those counters cover every open file, even ones opened before this
 *    module was loaded;
 *  - the module swaps both inodes' i_fop for a copy whose open method waits
 *    while a trim runs (a gate), so no new reader starts during a trim.
 *    Openers waiting at the gate are counted in i_readcount too; the gate
 *    counts them itself and subtracts them.
 *
 * A trim closes the gate, then waits a bounded time for the open count to
 * drop to zero; if it does not, it reopens the gate and fails with -EBUSY
 * without having changed anything.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "imasnap.h"

struct gated_file {
	struct inode *inode;
	const struct file_operations *orig;
	struct file_operations fops;
};

static struct gated_file gated[2];
static DEFINE_SPINLOCK(gate_lock);
static bool gate_closed;		/* under gate_lock */
static unsigned int gate_waiters;	/* openers waiting, under gate_lock */
static DECLARE_WAIT_QUEUE_HEAD(gate_wq);

static int gate_open(struct inode *inode, struct file *file)
{
	const struct file_operations *orig = NULL;
	int i, err;

	for (i = 0; i < ARRAY_SIZE(gated); i++)
		if (gated[i].inode == inode)
			orig = gated[i].orig;
	if (WARN_ON_ONCE(!orig))
		return -ENODEV;

	spin_lock(&gate_lock);
	while (gate_closed) {
		gate_waiters++;
		spin_unlock(&gate_lock);
		err = wait_event_interruptible(gate_wq, !READ_ONCE(gate_closed));
		spin_lock(&gate_lock);
		gate_waiters--;
		if (err) {
			spin_unlock(&gate_lock);
			return err;
		}
	}
	spin_unlock(&gate_lock);
	return orig->open(inode, file);
}

static int open_files(void)
{
	int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(gated); i++)
		n += atomic_read(&gated[i].inode->i_readcount) +
		     max(atomic_read(&gated[i].inode->i_writecount), 0);
	return n;
}

int readers_gate_install(void)
{
	struct dentry *dentries[] = { *ima.binary_list, *ima.ascii_list };
	const struct file_operations *fops[] = { ima.binary_list_fops,
						 ima.ascii_list_fops };
	int i;

	for (i = 0; i < ARRAY_SIZE(gated); i++) {
		struct gated_file *g = &gated[i];

		g->inode = d_inode(dentries[i]);
		g->orig = fops[i];
		g->fops = *fops[i];
		/* files opened through the copy pin the module */
		g->fops.owner = THIS_MODULE;
		g->fops.open = gate_open;
		inode_lock(g->inode);
		WRITE_ONCE(g->inode->i_fop, &g->fops);
		inode_unlock(g->inode);
	}
	return 0;
}

void readers_gate_remove(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(gated); i++) {
		inode_lock(gated[i].inode);
		WRITE_ONCE(gated[i].inode->i_fop, gated[i].orig);
		inode_unlock(gated[i].inode);
	}
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
	gate_closed = true;
	spin_unlock(&gate_lock);
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
