/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agents' view: the store as the kernel's ascii_runtime_measurements
 * prints it, one line per entry of the epoch from its entry 0, for an
 * attestation agent to read as its log (Keylime's ima_ml_path). The loader
 * appends to it after every commit, in place: the file is never truncated or
 * replaced while it continues the same log, so a reader may keep it open and
 * seek to offsets it remembered. A view that is not a prefix of the store's
 * lines (another store, a new epoch) is replaced by a new file.
 *
 * It belongs on a file system the IMA policy does not measure (tmpfs under
 * ima_policy=tcb: the default /run/imasnap): a measured read of a file open
 * for writing is an open_writers violation, and the loader keeps it open.
 */
#ifndef IMASNAP_VIEW_H
#define IMASNAP_VIEW_H

#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define VIEW_DEFAULT_PATH	"/run/imasnap/ascii_runtime_measurements"

struct view {
	char path[4096];
	int fd;			/* open for appending; -1: no view */
	uint64_t entries;	/* lines in the file (or in unwritten) */
	uint64_t store_off;	/* store bytes those lines cover */
	struct buf unwritten;	/* lines a short write left: they go first */
	int failing;		/* the last sync's error, said once */
};

/*
 * Opens (or makes) the view at path for the store whose first store_size
 * bytes of log the descriptor store_fd holds: keeps its lines while they are
 * the store's, else starts a new file, then appends what it lacks. The
 * directory is made STORE_DIR_MODE and the file STORE_FILE_MODE, with the
 * store's group.
 */
int view_open(struct view *v, const char *path, int store_fd, uint64_t store_size);
/* Appends the lines of the store's records past v->store_off (up to store_size) */
int view_sync(struct view *v, int store_fd, uint64_t store_size);
void view_close(struct view *v);

#endif /* IMASNAP_VIEW_H */
