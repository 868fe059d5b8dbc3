// SPDX-License-Identifier: GPL-2.0-only
/*
 * imasnap: trims the head of IMA's measurement list on request.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/security.h>
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/mutex.h>
#include <linux/list.h>

typedef unsigned long (*kallsyms_lookup_name_t)(const char *name);

static struct {
	struct list_head *measurements;
	void *htable;
	struct mutex *extend_list_mutex;
	unsigned long *binary_runtime_size;
} ima;

static struct dentry *imasnap_dir;
static struct dentry *state_file;

/*
 * kallsyms_lookup_name is not exported since 5.7; a kprobe registered on it
 * resolves its address, and unregistering leaves nothing behind.
 */
static kallsyms_lookup_name_t find_kallsyms_lookup_name(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	kallsyms_lookup_name_t fn;

	if (register_kprobe(&kp) < 0)
		return NULL;
	fn = (kallsyms_lookup_name_t)kp.addr;
	unregister_kprobe(&kp);
	return fn;
}

static int resolve_symbols(void)
{
	kallsyms_lookup_name_t lookup = find_kallsyms_lookup_name();
	static const char *const names[] = {
		"ima_measurements", "ima_htable", "ima_extend_list_mutex",
		"binary_runtime_size",
	};
	unsigned long addr[ARRAY_SIZE(names)];
	int i;

	if (!lookup) {
		pr_err("cannot resolve kallsyms_lookup_name through a kprobe (CONFIG_KPROBES?); refusing to load\n");
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		addr[i] = lookup(names[i]);
		if (!addr[i]) {
			pr_err("kernel symbol %s not found (needs CONFIG_IMA and CONFIG_KALLSYMS_ALL); refusing to load\n",
			       names[i]);
			return -ENOENT;
		}
	}
	ima.measurements = (struct list_head *)addr[0];
	ima.htable = (void *)addr[1];
	ima.extend_list_mutex = (struct mutex *)addr[2];
	ima.binary_runtime_size = (unsigned long *)addr[3];
	return 0;
}

static int state_show(struct seq_file *m, void *v)
{
	seq_puts(m, "version: 1\n");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(state);

static int __init imasnap_init(void)
{
	int err;

	err = resolve_symbols();
	if (err)
		return err;

	imasnap_dir = securityfs_create_dir("imasnap", NULL);
	if (IS_ERR(imasnap_dir)) {
		err = PTR_ERR(imasnap_dir);
		pr_err("cannot create securityfs directory imasnap: %d\n", err);
		goto out;
	}
	state_file = securityfs_create_file("state", 0444, imasnap_dir, NULL,
					    &state_fops);
	if (IS_ERR(state_file)) {
		err = PTR_ERR(state_file);
		pr_err("cannot create securityfs file imasnap/state: %d\n", err);
		goto out_dir;
	}
	return 0;

out_dir:
	securityfs_remove(imasnap_dir);
out:
	return err;
}

static void __exit imasnap_exit(void)
{
	securityfs_remove(state_file);
	securityfs_remove(imasnap_dir);
}

module_init(imasnap_init);
module_exit(imasnap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trim the head of IMA's measurement list, keeping the PCR chain");
