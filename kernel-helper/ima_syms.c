// SPDX-License-Identifier: GPL-2.0-only
/*
 * Finds IMA's unexported objects through kallsyms and checks that each one is
 * what the helper expects before anything uses it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dcache.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/namei.h>
#include <linux/string.h>

#include "imasnap.h"

struct ima_internals ima;

/*
 * Where a kernel lacks an optional symbol, the helper points at its own:
 * since 6.16 ima_fs.c keeps no dentry of its list files (they are found by
 * path, below), and a 7.x IMA without CONFIG_IMA_KEXEC has no
 * binary_runtime_size (it tracks no size: ULONG_MAX, as 6.1's).
 */
static struct dentry *list_dentry[2];
static unsigned long size_untracked = ULONG_MAX;
#define IMA_DIR "/sys/kernel/security/ima/"

typedef unsigned long (*kallsyms_lookup_name_fn)(const char *name);

/*
 * kallsyms_lookup_name is not exported since 5.7; registering a kprobe on it
 * makes the kprobe core resolve its address, and unregistering leaves nothing
 * behind.
 */
static kallsyms_lookup_name_fn find_kallsyms_lookup_name(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	kallsyms_lookup_name_fn fn;

	if (register_kprobe(&kp) < 0)
		return NULL;
	fn = (kallsyms_lookup_name_fn)kp.addr;
	unregister_kprobe(&kp);
	return fn;
}

#define SYMBOL(field, name) { (void **)&ima.field, name, NULL }
#define OPTIONAL(field, name, fallback) { (void **)&ima.field, name, fallback }
static const struct {
	void **where;
	const char *name;
	void *fallback;		/* NULL: the symbol is required */
} symbols[] = {
	SYMBOL(measurements, "ima_measurements"),
	SYMBOL(htable, "ima_htable"),
#ifndef IMASNAP_IMA_H_TABLE
	SYMBOL(num_records, "ima_num_records"),
#endif
	SYMBOL(extend_list_mutex, "ima_extend_list_mutex"),
#ifdef CONFIG_IMA_KEXEC
	SYMBOL(binary_runtime_size, "binary_runtime_size"),
#else
	OPTIONAL(binary_runtime_size, "binary_runtime_size", &size_untracked),
#endif
	SYMBOL(sha1_idx, "ima_sha1_idx"),
	SYMBOL(hash_algo_idx, "ima_hash_algo_idx"),
	SYMBOL(tpm_chip, "ima_tpm_chip"),
	OPTIONAL(binary_list, "binary_runtime_measurements", &list_dentry[0]),
	OPTIONAL(ascii_list, "ascii_runtime_measurements", &list_dentry[1]),
	SYMBOL(binary_list_fops, "ima_measurements_ops"),
	SYMBOL(ascii_list_fops, "ima_ascii_measurements_ops"),
	SYMBOL(btf_start, "__start_BTF"),
	SYMBOL(btf_end, "__stop_BTF"),
	SYMBOL(process_buffer_measurement, "process_buffer_measurement"),
	SYMBOL(free_template_entry, "ima_free_template_entry"),
};

static int list_file_check(struct dentry *dentry, const char *name,
			   const struct file_operations *fops)
{
	if (!dentry || IS_ERR(dentry) || d_really_is_negative(dentry)) {
		pr_err("IMA's %s file does not exist; refusing to load\n", name);
		return -ENOENT;
	}
	/*
	 * Newer IMA lists each hash algorithm in a file of its own and makes
	 * these names symlinks to one of them: readers of every such file hold
	 * entries, and the gate covers two files only.
	 */
	if (d_is_symlink(dentry)) {
		pr_err("IMA's %s is a symlink (IMA keeps one list file per hash algorithm here); the helper holds back readers of two list files only, so trims could free entries a reader of another holds; refusing to load\n",
		       name);
		return -EOPNOTSUPP;
	}
	if (d_inode(dentry)->i_fop != fops) {
		pr_err("IMA's %s file does not use IMA's file operations (%ps): another module replaced them, or this is not the expected kernel; refusing to load\n",
		       name, d_inode(dentry)->i_fop);
		return -EINVAL;
	}
	return 0;
}

/*
 * The symbols are found by name only; these checks catch a name that means
 * something else on this kernel before the helper writes through it.
 */
int ima_internals_check(void)
{
	struct tpm_chip *chip = *ima.tpm_chip;
	int slots = chip ? chip->nr_allocated_banks : 0;
	struct ima_queue_entry *qe;
	struct ima_template_entry *e;
	int err;

	err = list_file_check(*ima.binary_list, "binary_runtime_measurements",
			      ima.binary_list_fops);
	if (!err)
		err = list_file_check(*ima.ascii_list,
				      "ascii_runtime_measurements",
				      ima.ascii_list_fops);
	if (err)
		return err;

	/* IMA keeps up to two extra digest slots for SHA-1 and its hash */
	if (*ima.sha1_idx < 0 || *ima.sha1_idx >= slots + 2 ||
	    *ima.hash_algo_idx < 0 || *ima.hash_algo_idx >= slots + 2) {
		pr_err("IMA's digest slot indexes (sha1 %d, hash %d) do not fit %d TPM banks; refusing to load\n",
		       *ima.sha1_idx, *ima.hash_algo_idx, slots);
		return -EINVAL;
	}
	if (chip && chip->nr_allocated_banks > TPM2_MAX_PCR_BANKS) {
		pr_err("the TPM reports %u PCR banks, more than %d; refusing to load\n",
		       chip->nr_allocated_banks, TPM2_MAX_PCR_BANKS);
		return -EINVAL;
	}
#ifndef CONFIG_IMA_KEXEC
	/* without CONFIG_IMA_KEXEC, IMA never tracks the list's size */
	if (*ima.binary_runtime_size != ULONG_MAX) {
		pr_err("binary_runtime_size is %lu, expected ULONG_MAX on a kernel without CONFIG_IMA_KEXEC; refusing to load\n",
		       *ima.binary_runtime_size);
		return -EINVAL;
	}
#endif
	if (list_empty(ima.measurements)) {
		pr_err("IMA's measurement list is empty (no boot_aggregate): IMA is not initialized; refusing to load\n");
		return -ENOENT;
	}
	qe = list_first_entry(ima.measurements, struct ima_queue_entry, later);
	e = qe->entry;
	if (!e || !e->digests || !e->template_desc ||
	    !e->template_desc->name || e->pcr < 0 ||
	    e->template_desc->num_fields < 1 ||
	    e->template_desc->num_fields > 15 ||
	    strnlen(e->template_desc->name, 16) == 16) {
		pr_err("the first entry of IMA's measurement list does not look like an IMA entry; refusing to load\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * IMA's list file @name by path, for a kernel that keeps no pointer to it.
 * No reference is kept: IMA never removes its files (list_file_check then
 * checks that the file is IMA's).
 */
static int list_dentry_lookup(struct dentry **dentry, const char *name)
{
	struct path path;
	int err = kern_path(name, 0, &path);

	if (err) {
		pr_err("cannot find %s (%d): is securityfs mounted at /sys/kernel/security?; refusing to load\n",
		       name, err);
		return err;
	}
	*dentry = path.dentry;
	path_put(&path);
	return 0;
}

int ima_internals_resolve(void)
{
	kallsyms_lookup_name_fn lookup = find_kallsyms_lookup_name();
	unsigned long addr;
	int i;

	if (!lookup) {
		pr_err("cannot resolve kallsyms_lookup_name through a kprobe (needs CONFIG_KPROBES); refusing to load\n");
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(symbols); i++) {
		addr = lookup(symbols[i].name);
		if (!addr && symbols[i].fallback) {
			*symbols[i].where = symbols[i].fallback;
			continue;
		}
		if (!addr) {
			pr_err("kernel symbol %s not found (needs CONFIG_IMA, CONFIG_KALLSYMS_ALL and CONFIG_DEBUG_INFO_BTF); refusing to load\n",
			       symbols[i].name);
			return -ENOENT;
		}
		*symbols[i].where = (void *)addr;
	}
	if (ima.binary_list == &list_dentry[0] &&
	    list_dentry_lookup(&list_dentry[0], IMA_DIR "binary_runtime_measurements"))
		return -ENOENT;
	if (ima.ascii_list == &list_dentry[1] &&
	    list_dentry_lookup(&list_dentry[1], IMA_DIR "ascii_runtime_measurements"))
		return -ENOENT;
	/* kernel/kexec_internal.h: kexec_trylock() */
	if (IS_ENABLED(CONFIG_IMA_KEXEC)) {
		ima.kexec_lock = (atomic_t *)lookup("__kexec_lock");
		if (!ima.kexec_lock) {
			pr_err("kernel symbol __kexec_lock not found (needed with CONFIG_IMA_KEXEC); refusing to load\n");
			return -ENOENT;
		}
	}
	return 0;
}
