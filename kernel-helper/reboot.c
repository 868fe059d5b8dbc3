// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nothing measured before a reboot or a kexec may be missing from the store:
 * the TPM keeps its PCRs over kexec, so an entry extended but never stored
 * would leave the epoch's log short of the PCRs for good.
 *
 * The loader tells the helper, after each fdatasync, how many entries of the
 * epoch the store holds (securityfs imasnap/persisted). When the kernel goes
 * down, the reboot notifier takes IMA's list mutex, so no new entry can be
 * added, waits (at most reboot_wait_ms) until the store holds every entry in
 * the list, and then keeps the mutex: measurement stays suspended until the
 * kernel is gone, as upstream IMA does on reboot since 6.14. Measuring tasks
 * block in ima_add_template_entry() before they extend the TPM.
 *
 * The wait happens only once a loader has reported: a host that runs without
 * one reboots as before (and still stops measuring at the last moment).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/reboot.h>
#include <linux/wait.h>

#include "imasnap.h"

unsigned int reboot_wait_ms = 5000;

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
	return READ_ONCE(snap.trimmed_before) + atomic_long_read(&ima.htable->len);
}

static int reboot_notify(struct notifier_block *nb, unsigned long action,
			 void *data)
{
	unsigned long wait = msecs_to_jiffies(READ_ONCE(reboot_wait_ms));
	u64 total;

	/*
	 * No trim from here on: one would need IMA's mutex. snap.lock itself
	 * is not kept, the loader reads the state file while it catches up.
	 */
	mutex_lock(&snap.lock);
	snap.suspended = true;
	mutex_unlock(&snap.lock);
	mutex_lock(ima.extend_list_mutex);
	total = epoch_entries();
	if (!READ_ONCE(loader_reported)) {
		pr_info("measurement suspended at %llu entries (no loader reported)\n",
			total);
	} else if (wait_event_timeout(persisted_wait,
				      READ_ONCE(persisted) >= total, wait)) {
		pr_info("measurement suspended; the store holds all %llu entries\n",
			total);
	} else {
		pr_warn("measurement suspended; the store holds %llu of %llu entries after %u ms: the rest is lost, and the next kernel cannot continue this epoch\n",
			READ_ONCE(persisted), total, reboot_wait_ms);
	}
	/* held on purpose: nothing more is measured */
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
}
