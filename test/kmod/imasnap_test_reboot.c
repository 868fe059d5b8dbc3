// SPDX-License-Identifier: GPL-2.0-only
/*
 * For test/bats/gate.bats only: a reboot that ran the reboot notifiers but
 * did not happen. At insmod it calls the notifier that imasnap.ko put on the
 * kernel's reboot chain, as kernel_power_off() would (SYS_POWER_OFF), and
 * returns: the kernel stays up, as after a power-off that failed. No real
 * path in the test guest does that (its power-off works; a halt or kexec
 * does not come back), and no other driver's notifier is called.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/reboot.h>

/* kallsyms_lookup_name is not exported since 5.7: its address, from a kprobe */
static unsigned long symbol_address(const char *name)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long (*lookup)(const char *name);

	if (register_kprobe(&kp))
		return 0;
	lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	return lookup(name);
}

static int __init test_reboot_init(void)
{
	struct blocking_notifier_head *chain =
		(void *)symbol_address("reboot_notifier_list");
	unsigned long notify = symbol_address("imasnap:reboot_notify");
	struct notifier_block *nb;
	int ran = 0;

	if (!chain || !notify) {
		pr_err("reboot_notifier_list or imasnap's reboot_notify not found (imasnap.ko loaded?)\n");
		return -ENOENT;
	}
	/* held for reading, imasnap cannot unregister (or unload) meanwhile */
	down_read(&chain->rwsem);
	for (nb = rcu_dereference_raw(chain->head); nb;
	     nb = rcu_dereference_raw(nb->next)) {
		if ((unsigned long)nb->notifier_call != notify)
			continue;
		nb->notifier_call(nb, SYS_POWER_OFF, NULL);
		ran++;
	}
	up_read(&chain->rwsem);
	pr_info("ran %d imasnap reboot notifier(s); no reboot follows\n", ran);
	return ran ? 0 : -ENOENT;
}

static void __exit test_reboot_exit(void)
{
}

module_init(test_reboot_init);
module_exit(test_reboot_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("imasnap test: run imasnap's reboot notifier without a reboot");
