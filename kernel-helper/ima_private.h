/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IMA's private types, copied from security/integrity/ima/ima.h of Linux 6.1
 * (linux-headers does not ship that file), with what changed up to 7.2: the
 * hash table's struct (IMASNAP_IMA_H_TABLE, set by Kbuild from the target's
 * BTF) and process_buffer_measurement's first argument (6.3). The helper
 * dereferences exactly these; each one is checked twice against BTF:
 *   - at build time against the target kernel's BTF (btf_layout.h, generated
 *     from vmlinux.h by gen_btf_layout.c), a mismatch fails the build;
 *   - at load time against the running kernel's BTF (btf_check.c), a mismatch
 *     makes the module refuse to load.
 */
#ifndef IMASNAP_IMA_PRIVATE_H
#define IMASNAP_IMA_PRIVATE_H

#include <linux/build_bug.h>
#include <linux/list.h>
#include <linux/stddef.h>
#include <linux/tpm.h>
#include <linux/types.h>
#include <linux/version.h>

#include "btf_layout.h"

#define IMA_HASH_BITS 10
#define IMA_MEASURE_HTABLE_SIZE (1 << IMA_HASH_BITS)

struct ima_event_data;
struct seq_file;

struct ima_field_data {
	u8 *data;
	u32 len;
};

struct ima_template_field {
	const char field_id[16];
	int (*field_init)(struct ima_event_data *event_data,
			  struct ima_field_data *field_data);
	/* the second argument is enum ima_show_type, an int-sized enum */
	void (*field_show)(struct seq_file *m, int show,
			   struct ima_field_data *field_data);
};

struct ima_template_desc {
	struct list_head list;
	char *name;
	char *fmt;
	int num_fields;
	const struct ima_template_field **fields;
};

struct ima_template_entry {
	int pcr;
	struct tpm_digest *digests;
	struct ima_template_desc *template_desc;
	u32 template_data_len;
	struct ima_field_data template_data[];
};

struct ima_queue_entry {
	struct hlist_node hnext;	/* place in hash collision list */
	struct list_head later;		/* place in ima_measurements list */
	struct ima_template_entry *entry;
};

#ifdef IMASNAP_IMA_H_TABLE
#define IMASNAP_HAS_H_TABLE true
struct ima_h_table {
	atomic_long_t len;	/* every measurement since boot; never lowered */
	atomic_long_t violations;
	struct hlist_head queue[IMA_MEASURE_HTABLE_SIZE];
};
#else
/*
 * 7.x: enum binary_lists indexes ima_num_records[]; ima_add_digest_entry
 * counts the live list in BINARY (and BINARY_FULL), which only upstream's
 * staging (CONFIG_IMA_STAGING) lowers: with the helper's trims, which leave
 * it alone, it is every measurement since boot, as ima_h_table.len was.
 */
#define IMASNAP_HAS_H_TABLE false
#define IMA_BINARY_LIST 0
#endif

static inline unsigned int ima_hash_key(const u8 *digest)
{
	return (digest[0] | digest[1] << 8) % IMA_MEASURE_HTABLE_SIZE;
}

/*
 * security/integrity/ima/ima_main.c; enum ima_hooks is passed as an int
 * (IMA_HOOK_NONE: no policy lookup, always measured into @pcr).
 */
#define IMA_HOOK_NONE 0
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define IMASNAP_PBM_MAPPING "struct mnt_idmap *"
struct mnt_idmap;
typedef struct mnt_idmap *pbm_mapping_t;
#else
#define IMASNAP_PBM_MAPPING "struct user_namespace *"
typedef struct user_namespace *pbm_mapping_t;
#endif
typedef int (*process_buffer_measurement_fn)(pbm_mapping_t mapping,
					     struct inode *inode,
					     const void *buf, int size,
					     const char *eventname, int func,
					     int pcr, const char *func_data,
					     bool buf_hash, u8 *digest,
					     size_t digest_len);
typedef void (*ima_free_template_entry_fn)(struct ima_template_entry *entry);

/* lib/crypto's SHA-256 context: struct sha256_ctx since 6.17 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define imasnap_sha256 sha256_ctx
#else
#define imasnap_sha256 sha256_state
#endif

/* Build-time check against the target kernel's BTF. */
#define IMASNAP_BTF_SIZE(s)						\
	static_assert(sizeof(struct s) == BTF_SIZEOF_##s,		\
		      "struct " #s ": size differs from the target kernel's BTF")
#define IMASNAP_BTF_OFFSET(s, m)					\
	static_assert(offsetof(struct s, m) == BTF_OFFSETOF_##s##__##m,	\
		      "struct " #s "." #m ": offset differs from the target kernel's BTF")

IMASNAP_BTF_SIZE(ima_field_data);
IMASNAP_BTF_OFFSET(ima_field_data, data);
IMASNAP_BTF_OFFSET(ima_field_data, len);
IMASNAP_BTF_SIZE(ima_template_field);
IMASNAP_BTF_OFFSET(ima_template_field, field_id);
IMASNAP_BTF_OFFSET(ima_template_field, field_init);
IMASNAP_BTF_OFFSET(ima_template_field, field_show);
IMASNAP_BTF_SIZE(ima_template_desc);
IMASNAP_BTF_OFFSET(ima_template_desc, list);
IMASNAP_BTF_OFFSET(ima_template_desc, name);
IMASNAP_BTF_OFFSET(ima_template_desc, fmt);
IMASNAP_BTF_OFFSET(ima_template_desc, num_fields);
IMASNAP_BTF_OFFSET(ima_template_desc, fields);
IMASNAP_BTF_SIZE(ima_template_entry);
IMASNAP_BTF_OFFSET(ima_template_entry, pcr);
IMASNAP_BTF_OFFSET(ima_template_entry, digests);
IMASNAP_BTF_OFFSET(ima_template_entry, template_desc);
IMASNAP_BTF_OFFSET(ima_template_entry, template_data_len);
IMASNAP_BTF_OFFSET(ima_template_entry, template_data);
IMASNAP_BTF_SIZE(ima_queue_entry);
IMASNAP_BTF_OFFSET(ima_queue_entry, hnext);
IMASNAP_BTF_OFFSET(ima_queue_entry, later);
IMASNAP_BTF_OFFSET(ima_queue_entry, entry);
#ifdef IMASNAP_IMA_H_TABLE
IMASNAP_BTF_SIZE(ima_h_table);
IMASNAP_BTF_OFFSET(ima_h_table, len);
IMASNAP_BTF_OFFSET(ima_h_table, violations);
IMASNAP_BTF_OFFSET(ima_h_table, queue);
#else
static_assert(IMA_BINARY_LIST == BTF_ENUM_BINARY,
	      "enum binary_lists: BINARY differs from the target kernel's BTF");
#endif
/* public, but the helper replays its bytes: check it too */
IMASNAP_BTF_SIZE(tpm_digest);
IMASNAP_BTF_OFFSET(tpm_digest, alg_id);
IMASNAP_BTF_OFFSET(tpm_digest, digest);

#endif /* IMASNAP_IMA_PRIVATE_H */
