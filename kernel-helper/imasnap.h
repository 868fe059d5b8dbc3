/* SPDX-License-Identifier: GPL-2.0-only */
/* Interfaces between the parts of the imasnap helper module. */
#ifndef IMASNAP_H
#define IMASNAP_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/tpm.h>
#include <linux/types.h>
#include <crypto/sha1.h>

#include "ima_private.h"
#include "parse.h"

#define IMASNAP_EPOCH_SIZE 16
#define IMASNAP_EVENT_NAME "snapshot_aggregate"

/* ima_syms.c: IMA's unexported objects, found through kallsyms */
struct ima_internals {
	struct list_head *measurements;
#ifdef IMASNAP_IMA_H_TABLE
	struct ima_h_table *htable;
#else
	struct hlist_head **htable;	/* 7.x: IMA may replace the array */
	atomic_long_t *num_records;	/* [enum binary_lists] */
#endif
	struct mutex *extend_list_mutex;
	unsigned long *binary_runtime_size;
	int *sha1_idx;
	int *hash_algo_idx;
	struct tpm_chip **tpm_chip;
	struct dentry **binary_list;	/* ima_fs.c's dentry pointers */
	struct dentry **ascii_list;
	const struct file_operations *binary_list_fops;
	const struct file_operations *ascii_list_fops;
	const void *btf_start;
	const void *btf_end;
	atomic_t *kexec_lock;		/* CONFIG_IMA_KEXEC only */
	process_buffer_measurement_fn process_buffer_measurement;
	ima_free_template_entry_fn free_template_entry;
};
extern struct ima_internals ima;
int ima_internals_resolve(void);
int ima_internals_check(void);

/* Every entry IMA listed this boot; the helper's trims do not lower it */
static inline long ima_listed_since_boot(void)
{
#ifdef IMASNAP_IMA_H_TABLE
	return atomic_long_read(&ima.htable->len);
#else
	return atomic_long_read(&ima.num_records[IMA_BINARY_LIST]);
#endif
}

/* The bucket IMA hashes @digest into (under rcu_read_lock or IMA's mutex) */
static inline struct hlist_head *ima_hash_bucket(const u8 *digest)
{
#ifdef IMASNAP_IMA_H_TABLE
	return &ima.htable->queue[ima_hash_key(digest)];
#else
	return &READ_ONCE(*ima.htable)[ima_hash_key(digest)];
#endif
}

/* btf_check.c */
int ima_layout_check(void);

/* banks.c: the TPM's PCR banks and replaying entries into PCR values */
struct pcr_bank {
	u16 alg_id;		/* TPM_ALG_* */
	u16 digest_size;
	u16 crypto_id;		/* HASH_ALGO_*, HASH_ALGO__LAST if unmapped */
	bool available;		/* false: the helper cannot hash this bank */
	struct crypto_shash *tfm;	/* NULL: built-in SHA-384/512 */
};

struct pcr_banks {
	int nr;
	struct pcr_bank bank[TPM2_MAX_PCR_BANKS];
};

int banks_init(struct pcr_banks *banks, struct tpm_chip *chip);
void banks_free(struct pcr_banks *banks);
const char *bank_name(const struct pcr_bank *bank);
int pcr_replay_entry(const struct pcr_banks *banks, struct pcr_values *values,
		     const struct ima_template_entry *entry);
bool entry_is_violation(const struct ima_template_entry *entry);
const u8 *entry_sha1(const struct ima_template_entry *entry);

/* sha512.c: SHA-384/512 for banks the crypto API cannot serve here */
void sha512_extend(u16 digest_size, u8 *pcr, const u8 *digest);

/* aggregate.c: the snapshot_aggregate record */
/* head holds the digest of the list's first entry once the trim completed */
#define AGG_HEAD_SET 0x1
struct aggregate {
	u8 epoch[IMASNAP_EPOCH_SIZE];
	u64 trimmed;
	u8 head[SHA1_DIGEST_SIZE];
	u32 flags;		/* AGG_HEAD_SET (version 1: head not zero) */
	struct pcr_values *base;
};
void *aggregate_encode(const struct pcr_banks *banks,
		       const struct aggregate *agg, size_t *len);
int aggregate_decode(const struct pcr_banks *banks, const u8 *buf,
		     size_t len, struct aggregate *agg);
bool entry_is_aggregate(const struct ima_template_entry *entry,
			const u8 **buf, u32 *len);

/* readers.c: keeps readers of IMA's list files out while entries go */
int readers_gate_alloc(void);
void readers_gate_free(void);
void readers_gate_install(void);
void readers_gate_remove(void);
int readers_block(unsigned int wait_ms);
void readers_unblock(void);
struct seq_file;
int readers_show(struct seq_file *m, void *v);

/* stats.c: how long the helper holds IMA's list mutex and the kexec lock */
enum hold_kind {
	HOLD_TRIM,	/* unlinking a batch of entries */
	HOLD_TAIL,	/* a look at the list's tail (checks against the TPM) */
	HOLD_UNHASHED,	/* the check of the unhashed prefix (load) */
	HOLD_RECOVER,	/* the entries added during the load's walk */
	HOLD_REBOOT,	/* measurement suspended for a reboot: long by design */
	HOLD_KEXEC,	/* the kexec lock, append and unlink (CONFIG_IMA_KEXEC) */
	HOLD_APPEND,	/* IMA recording the snapshot_aggregate (its TPM extend) */
	HOLD_NR
};
extern const struct file_operations stats_fops;
void hold_record(enum hold_kind kind, u64 start_ns);
u64 list_lock(void);
void list_unlock(enum hold_kind kind, u64 start_ns);
void tpm_command_check(void);
void cut_counted(bool rebase);

/* trim.c */
struct list_stats {
	u64 entries;
	u64 bytes;
	u64 kmem;	/* kernel memory of the entries (ksize of each part) */
};

struct imasnap_state {
	struct mutex lock;	/* serializes trims, state reads */
	u64 trimmed;		/* entries removed from this kernel's list */
	u64 trimmed_before;	/* epoch index of this kernel's entry 0 (wraps below 0) */
	/*
	 * The list's first @unhashed entries are not in IMA's hash table:
	 * carried over kexec (ima_restore_measurement_list adds them unhashed,
	 * their hnext never initialized), always a prefix of the list.
	 */
	u64 unhashed;
	u8 epoch[IMASNAP_EPOCH_SIZE];
	struct pcr_banks banks;
	struct pcr_values *base; /* PCR values before the list's first entry */
	bool suspended;		/* the kernel is going down: no more trims */
	/* list_stats' count of the list up to and including @stats_last */
	struct list_stats stats;
	struct ima_queue_entry *stats_last;	/* NULL: nothing counted */
};
extern struct imasnap_state snap;
extern unsigned int reader_wait_ms;
extern unsigned int trim_batch;
extern unsigned int trim_hold_us;

/* epoch index of the list's first entry */
static inline u64 head_index(void)
{
	return snap.trimmed_before + snap.trimmed;
}

int trim_entries(const struct trim_cmd *t);
/* a new base for the list, from the loader, checked against the TPM */
struct rebase {
	u64 count;		/* entries of the epoch before the new head */
	struct pcr_values *base;
};
int rebase_entries(u64 n, const u8 digest[SHA1_DIGEST_SIZE],
		   const struct rebase *rebase);
void list_stats(struct list_stats *stats);
u32 entry_binary_size(const struct ima_template_entry *entry);
size_t entry_kmem(const struct ima_queue_entry *qe);

/* recover.c */
int recover_state(void);
u64 count_unhashed(void);
int list_matches_tpm(const struct pcr_values *base, struct list_head *start,
		     bool warn);

/* reboot.c: before a reboot or kexec, the store catches up, IMA stops */
extern unsigned int reboot_wait_ms;
void persisted_set(u64 count);
int reboot_hook_install(void);
void reboot_hook_remove(void);

#endif /* IMASNAP_H */
