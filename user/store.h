/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The store: DIR/binary_runtime_measurements, every entry of the measurement
 * epoch in the kernel's binary format, append-only. Its record i is the entry
 * with global index i. Appends are group-committed: store_append() queues,
 * store_flush() writes the queue and fdatasync()s it.
 */
#ifndef IMASNAP_STORE_H
#define IMASNAP_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kernel_log.h"
#include "log.h"

#define STORE_DEFAULT_DIR	"/var/lib/imasnap"
#define STORE_LOG_NAME		"binary_runtime_measurements"
/* As readable as the kernel's log (0440 root): root, and a group (--group) */
#define STORE_FILE_MODE		0640
#define STORE_DIR_MODE		0750

struct store {
	char dir[4096];
	int dirfd;
	int fd;			/* the log; -1 when closed */
	uint64_t entries;	/* complete records written (durable after flush) */
	off_t size;		/* bytes of those records */
	size_t tail;		/* bytes of a torn record after them, at open */
	uint8_t last_digest[LOG_SHA1_SIZE];	/* of the last record written */
	struct buf pending;	/* queued records */
	uint64_t pending_entries;
	size_t pending_last;	/* offset of the last queued record */
	bool cut_after;		/* a failed write may have left bytes past size */
};

/*
 * Opens DIR's log for appending (creating DIR and the log if needed) and
 * takes an exclusive lock on it: one loader per store. Counts its records.
 */
int store_open_append(struct store *s, const char *dir);

/* The group whose members may read the store's files (default: root's) */
void store_set_group(gid_t gid);
/* A file the loader creates in the store's directory: STORE_FILE_MODE, root:group */
int store_file_access(int fd);
/* A directory of the loader's (the store's, the view's): STORE_DIR_MODE, root:group */
int store_dir_access(int fd);
/* The directory (STORE_DIR_MODE) and every file in it so, root:group */
int store_set_access(const struct store *s);
/* A store read whole for checking: its bytes and where each record starts */
struct store_view {
	struct buf data;
	size_t *offsets;
	uint64_t entries;
	size_t tail;		/* bytes of a torn record after the last one */
};
/* Reads a store for checking: the whole log and the index of its records */
int store_read(const char *dir, struct store_view *v);
/*
 * The same from an open descriptor of the log (name for messages): the
 * loader reads its own store so, without a new open (under a policy that
 * measures root's reads, an open for reading while the log is open for
 * writing is an open_writers violation in the measurement log)
 */
int store_view_fd(int fd, const char *name, struct store_view *v);
/*
 * The same from a stream (a pipe from the loader, control.h) that must carry
 * exactly bytes bytes holding entries whole records
 */
int store_view_stream(int fd, uint64_t bytes, uint64_t entries, struct store_view *v);

void store_view_free(struct store_view *v);
/* Record i (< v->entries): its bytes and length */
const uint8_t *store_view_record(const struct store_view *v, uint64_t i, size_t *len);
/* true when some process (a loader) holds the store's lock */
bool store_locked(const char *dir);

/*
 * Checks that the store and the kernel's list agree wherever both hold an
 * entry, and repairs a torn last record that is the start of the kernel's
 * next entry. Changes nothing and returns -EUCLEAN (message on stderr) when
 * they disagree.
 */
int store_reconcile(struct store *s, const struct kernel_log *kl);

/*
 * Compares records [kl->first, entries) of a log with the kernel's list.
 * Returns 0, or -EUCLEAN with *index set to the first entry that differs.
 */
int log_compare_kernel(const uint8_t *data, size_t len,
		       const struct kernel_log *kl, uint64_t entries,
		       uint64_t *index);

/*
 * The SHA-1 template digest of durable record i of an open store, read
 * through its own descriptor (never by path): -ERANGE past its durable count
 */
int store_record_digest(const struct store *s, uint64_t i, uint8_t digest[LOG_SHA1_SIZE]);

int store_append(struct store *s, const void *record, size_t len);
int store_flush(struct store *s);
/* entries queued or written: the global index of the next entry */
static inline uint64_t store_next(const struct store *s)
{
	return s->entries + s->pending_entries;
}
void store_close(struct store *s);

#endif /* IMASNAP_STORE_H */
