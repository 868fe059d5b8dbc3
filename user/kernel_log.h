/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel's side: IMA's measurement list as securityfs shows it, and the
 * kernel helper's state. Every entry has a global index: its position among
 * all entries IMA listed since boot. The list starts at global index
 * "trimmed" (0 until the helper trims) and runtime_measurements_count is the
 * global index of the next entry.
 */
#ifndef IMASNAP_KERNEL_LOG_H
#define IMASNAP_KERNEL_LOG_H

#include <stdint.h>

#include "log.h"

struct kernel_log {
	struct buf raw;		/* binary_runtime_measurements as read */
	uint64_t first;		/* global index of the first record */
	uint64_t count;		/* records in raw */
	size_t *offsets;	/* offset of each record in raw */
};

/* securityfs mount point: $IMASNAP_SECURITYFS or /sys/kernel/security */
const char *securityfs_path(void);
/* path = <securityfs>/dir/file ("ima" or "imasnap"; file may be "") */
void securityfs_file(char *path, size_t size, const char *dir, const char *file);

/* Reads and parses the whole list; 0 or -errno with a message on stderr */
int kernel_log_read(struct kernel_log *kl);
void kernel_log_free(struct kernel_log *kl);
/* The record at a global index; -ENOENT if the list does not hold it */
int kernel_log_get(const struct kernel_log *kl, uint64_t index,
		   struct log_record *rec);

/* The raw bytes of the record at a global index; NULL if not listed */
const uint8_t *kernel_log_bytes(const struct kernel_log *kl, uint64_t index,
				size_t *len);

/*
 * Indexes are the epoch's: a kexec that continues the epoch starts this
 * kernel's entry 0 at the helper's epoch_start (kernel_offset; 0 without the
 * helper, or on the epoch's first kernel).
 */
int kernel_offset(uint64_t *offset);
/* runtime_measurements_count: entries this kernel listed since boot */
int kernel_count_since_boot(uint64_t *count);
/* runtime_measurements_count + offset: the index of the next entry */
int kernel_count(uint64_t *count);
/*
 * Who holds the kernel's list files open, which keeps trims out (the
 * helper's imasnap/readers): "COMM (pid N, LIST for S s), ..." in out, ""
 * when nobody; -ENOENT without a helper that says
 */
int helper_readers(char *out, size_t size);
/* A "key: N" line of the helper's state file; -ENOENT without the helper */
int helper_state_value(const char *key, uint64_t *val);
/* The same from another of its files ("stats") */
int helper_file_value(const char *file, const char *key, uint64_t *val);
/*
 * The index of the list's first entry (trimmed + offset); 0 when the helper
 * is not loaded (kernel_log_read then finds it from a snapshot_aggregate)
 */
int kernel_head(uint64_t *head);
/* Parses a whole buffer of records into offsets; -EINVAL on any bad byte */
int log_index(const uint8_t *data, size_t len, size_t **offsets,
	      uint64_t *count, size_t *tail);

#endif /* IMASNAP_KERNEL_LOG_H */
