// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nothing measured before a reboot or a kexec may be missing from the store:
 * the TPM keeps its PCRs over kexec, so an entry extended but never stored
 * would leave the epoch's log short of the PCRs for good.
 *
 * The loader tells the helper, after each fdatasync, how many entries of the
 * epoch the store holds (securityfs imasnap/persisted). When the kernel goes
 * down, the reboot notifier stops trims, has a worker take IMA's list mutex,
 * so no new entry can be added or reach the TPM, and waits (at most
 * reboot_wait_ms) until the store holds every entry in the list. The worker
 * keeps the mutex: measuring tasks block in ima_add_template_entry() before
 * they extend the TPM, until the kernel is gone (upstream IMA suspends
 * measurement on reboot since 6.14 with a flag under that mutex, which 6.1
 * does not have).
 *
 * Not the rebooting task: if the reboot does not happen (reboot(2) returns
 * from a power-off that failed, and the task exits), it would exit holding
 * the mutex and IMA would stop for good. The worker gives the mutex back,
 * with a warning, once the kernel is still up REBOOT_HOLD_MS after the
 * longest the notifier can wait: that reboot did not happen (or device
 * shutdown took that long), and measurement and trims resume.
 *
 * The wait happens only once a loader has reported: a host that runs without
 * one reboots as before (and still stops measuring at the last moment).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/moduleparam.h>
#include <linux/reboot.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "imasnap.h"

#define REBOOT_WAIT_MAX_MS 60000
#define REBOOT_HOLD_MS 30000

unsigned int reboot_wait_ms = 5000;

/* A bound: the reboot must not wait for ever, nor the mutex be held. */
static int reboot_wait_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, REBOOT_WAIT_MAX_MS);
}

static const struct kernel_param_ops reboot_wait_ops = {
	.set = reboot_wait_set,
	.get = param_get_uint,
};
module_param_cb(reboot_wait_ms, &reboot_wait_ops, &reboot_wait_ms, 0644);
MODULE_PARM_DESC(reboot_wait_ms,
		 "How long a reboot or kexec waits for the loader to store every entry (ms, 0..60000, default 5000)");

static u64 persisted;
static bool loader_reported;
static DECLARE_WAIT_QUEUE_HEAD(persisted_wait);

void persisted_set(u64 count)
{
	WRITE_ONCE(persisted, count);
	WRITE_ONCE(loader_reported, true);
	wake_up_all(&persisted_wait);
}

/*
 * IMA's count of every entry it listed this boot (carried over kexec, and
 * trimmed since, included) plus the epoch's entries before them. Without a
 * walk of the list: that would need snap.lock, and a long list is slow.
 */
static u64 epoch_entries(void)
{
	return READ_ONCE(snap.trimmed_before) + ima_listed_since_boot();
}

static void trims_suspend(bool suspend)
{
	mutex_lock(&snap.lock);
	snap.suspended = suspend;
	mutex_unlock(&snap.lock);
}

static DECLARE_COMPLETION(hold_taken);
static DECLARE_WAIT_QUEUE_HEAD(hold_wait);
static bool hold_stop;		/* the module goes: give the mutex back now */

static void hold_ima(struct work_struct *work)
{
	unsigned long hold = msecs_to_jiffies(READ_ONCE(reboot_wait_ms) +
					      REBOOT_HOLD_MS);
	long left;
	u64 start = list_lock();

	complete(&hold_taken);
	left = wait_event_timeout(hold_wait, READ_ONCE(hold_stop), hold);
	list_unlock(HOLD_REBOOT, start);
	if (!left)
		pr_warn("the kernel is still up %u ms after its reboot notifier suspended measurement: the reboot failed? IMA's list mutex is given back, measurement and trims resume\n",
			jiffies_to_msecs(hold));
	trims_suspend(false);
}
static DECLARE_WORK(hold_work, hold_ima);

static void wait_for_store(u64 total)
{
	unsigned int ms = READ_ONCE(reboot_wait_ms);
	u64 stored = READ_ONCE(persisted);

	if (!READ_ONCE(loader_reported)) {
		pr_info("measurement suspended at %llu entries (no loader reported)\n",
			total);
		return;
	}
	if (stored < total)
		pr_info("measurement suspended at %llu entries; waiting up to %u ms for the store, which holds %llu\n",
			total, ms, stored);
	if (wait_event_timeout(persisted_wait, READ_ONCE(persisted) >= total,
			       msecs_to_jiffies(ms))) {
		pr_info("measurement suspended; the store holds all %llu entries\n",
			total);
		return;
	}
	stored = READ_ONCE(persisted);
	pr_warn("measurement suspended; the store holds %llu of %llu entries after %u ms: %llu missing, and the next kernel cannot continue this epoch\n",
		stored, total, ms, total - stored);
}

static int reboot_notify(struct notifier_block *nb, unsigned long action,
			 void *data)
{
	/* a hold of an earlier reboot that did not happen ends first */
	flush_work(&hold_work);
	/*
	 * No trim from here on: one would need IMA's mutex. snap.lock itself
	 * is not kept, the loader reads the state file while it catches up.
	 */
	trims_suspend(true);
	reinit_completion(&hold_taken);
	queue_work(system_long_wq, &hold_work);
	wait_for_completion(&hold_taken);
	wait_for_store(epoch_entries());
	return NOTIFY_DONE;
}

static struct notifier_block reboot_nb = {
	.notifier_call = reboot_notify,
	/* after other notifiers, which may still measure */
	.priority = INT_MIN,
};

int reboot_hook_install(void)
{
	int err = register_reboot_notifier(&reboot_nb);

	if (err)
		pr_err("cannot register the reboot notifier: %d\n", err);
	return err;
}

void reboot_hook_remove(void)
{
	unregister_reboot_notifier(&reboot_nb);
	WRITE_ONCE(hold_stop, true);
	wake_up(&hold_wait);
	flush_work(&hold_work);
}
