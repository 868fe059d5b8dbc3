// SPDX-License-Identifier: GPL-2.0-only
/*
 * How long the helper holds IMA's list mutex and the kexec lock: timed in the
 * kernel around each critical section (ktime_get_ns after the lock is taken,
 * again before it is given back), the longest and the count kept per
 * section, shown in securityfs imasnap/stats. A measuring task that waits
 * for IMA's mutex waits at most the longest hold shown here (plus the holds
 * of other measurements, each across its own TPM extend).
 *
 * A hold that ends with a task waiting for the mutex (its wait list not
 * empty) delayed a measurement, by at most that hold (the mutex hands over to
 * a waiter that lost it once): <name>_waited counts those holds, and
 * <name>_waited_max_ns is the longest, the longest wait the helper caused.
 *
 * Every IMA list mutex section of the helper goes through list_lock() and
 * list_unlock(), so the helper knows when it holds the mutex: a TPM command
 * sent then is counted (tpm_under_list_mutex), and must stay 0.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>

#include "imasnap.h"

struct hold_stat {
	u64 count;
	u64 max_ns;
	u64 total_ns;
	u64 over_1ms;
	u64 waited;
	u64 waited_max_ns;
};

static const char *const hold_names[HOLD_NR] = {
	[HOLD_TRIM] = "trim",
	[HOLD_TAIL] = "tail",
	[HOLD_UNHASHED] = "unhashed",
	[HOLD_RECOVER] = "recover",
	[HOLD_REBOOT] = "reboot",
	[HOLD_KEXEC] = "kexec_lock",
	[HOLD_APPEND] = "append",
};

static DEFINE_SPINLOCK(stats_lock);	/* every field below */
static struct hold_stat holds[HOLD_NR];
static u64 trims, rebases, tpm_under_list_mutex;
/* the task inside a list_lock() section: only one at a time, IMA's mutex */
static struct task_struct *list_holder;

static void hold_add(enum hold_kind kind, u64 start_ns, bool waited)
{
	u64 ns = ktime_get_ns() - start_ns;
	struct hold_stat *h = &holds[kind];

	spin_lock(&stats_lock);
	h->count++;
	h->total_ns += ns;
	h->max_ns = max(h->max_ns, ns);
	h->over_1ms += ns >= NSEC_PER_MSEC;
	if (waited) {
		h->waited++;
		h->waited_max_ns = max(h->waited_max_ns, ns);
	}
	spin_unlock(&stats_lock);
}

void hold_record(enum hold_kind kind, u64 start_ns)
{
	hold_add(kind, start_ns, false);
}

/* A racy look, enough for a count: a task queued on the mutex now. */
static bool list_mutex_waited(void)
{
#ifdef CONFIG_PREEMPT_RT
	return false;	/* an rtmutex: no wait list to look at */
#elif defined(IMASNAP_MUTEX_FIRST_WAITER)
	return READ_ONCE(ima.extend_list_mutex->first_waiter);
#else
	return !list_empty(&ima.extend_list_mutex->wait_list);
#endif
}

u64 list_lock(void)
{
	mutex_lock(ima.extend_list_mutex);
	WRITE_ONCE(list_holder, current);
	return ktime_get_ns();
}

void list_unlock(enum hold_kind kind, u64 start_ns)
{
	hold_add(kind, start_ns, list_mutex_waited());
	WRITE_ONCE(list_holder, NULL);
	mutex_unlock(ima.extend_list_mutex);
}

/* Before each TPM command the helper sends. */
void tpm_command_check(void)
{
	if (READ_ONCE(list_holder) != current)
		return;
	WARN_ONCE(1, "TPM command under IMA's list mutex\n");
	spin_lock(&stats_lock);
	tpm_under_list_mutex++;
	spin_unlock(&stats_lock);
}

void cut_counted(bool rebase)
{
	spin_lock(&stats_lock);
	if (rebase)
		rebases++;
	else
		trims++;
	spin_unlock(&stats_lock);
}

/*
 * "key: value" lines, as the state file: version, kmem (the list's, counted
 * as the state file counts entries), trims, rebases, tpm_under_list_mutex,
 * then per section <name>_count, <name>_max_ns, <name>_total_ns,
 * <name>_over_1ms, <name>_waited and <name>_waited_max_ns. The
 * counters are copied under the spinlock, printed after it.
 */
static int stats_show(struct seq_file *m, void *v)
{
	struct hold_stat h[HOLD_NR];
	struct list_stats list;
	u64 t, r, tpm;
	int i;

	if (mutex_lock_interruptible(&snap.lock))
		return -EINTR;
	list_stats(&list);
	mutex_unlock(&snap.lock);
	spin_lock(&stats_lock);
	memcpy(h, holds, sizeof(h));
	t = trims;
	r = rebases;
	tpm = tpm_under_list_mutex;
	spin_unlock(&stats_lock);

	seq_puts(m, "version: 1\n");
	seq_printf(m, "kmem: %llu\n", list.kmem);
	seq_printf(m, "trims: %llu\nrebases: %llu\n", t, r);
	seq_printf(m, "tpm_under_list_mutex: %llu\n", tpm);
	for (i = 0; i < HOLD_NR; i++) {
		const char *n = hold_names[i];

		seq_printf(m, "%s_count: %llu\n%s_max_ns: %llu\n%s_total_ns: %llu\n",
			   n, h[i].count, n, h[i].max_ns, n, h[i].total_ns);
		seq_printf(m, "%s_over_1ms: %llu\n%s_waited: %llu\n%s_waited_max_ns: %llu\n",
			   n, h[i].over_1ms, n, h[i].waited, n,
			   h[i].waited_max_ns);
	}
	return 0;
}

static int stats_open(struct inode *inode, struct file *file)
{
	return single_open(file, stats_show, NULL);
}

const struct file_operations stats_fops = {
	.owner = THIS_MODULE,
	.open = stats_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};
