/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Measurement epochs. A store holds one epoch: every entry the TPM's PCRs
 * took since their last reset. A kexec keeps the PCRs, so the next kernel
 * continues the epoch (with or without the list carried over); a full boot
 * resets them and starts a new one.
 *
 * DIR/epoch says which boot began the store and which boot last wrote it:
 *   epoch <boot id>\n
 *   boot <boot id>\n
 * (boot ids from /proc/sys/kernel/random/boot_id). A loader started in
 * another boot than the last writer proves, through the helper's rebase,
 * that the store's replay followed by this kernel's list gives the TPM's
 * PCRs, and then appends; if no proof holds, it keeps the store as
 * binary_runtime_measurements.epoch-<epoch boot id> and starts a new one.
 */
#ifndef IMASNAP_EPOCH_H
#define IMASNAP_EPOCH_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"
#include "store.h"

#define EPOCH_FILE_NAME		"epoch"
#define BOOT_ID_SIZE		37	/* 36 characters and the NUL */

/*
 * DIR/epoch, in this order:
 *   epoch <boot id>\n
 *   boot <boot id>\n
 *   base <index> <sha1 hex>\n    (only for an epoch begun at a cut)
 * Boot ids: the UUID form of /proc/sys/kernel/random/boot_id, or 32 hex digits.
 */
struct epoch_file {
	char epoch[BOOT_ID_SIZE];	/* boot that began the store */
	char boot[BOOT_ID_SIZE];	/* boot that last wrote it */
	bool has_base;
	struct epoch_base_id base;	/* the cut's snapshot_aggregate */
};

/* true for a boot id in one of the two forms above */
bool boot_id_valid(const char *id);
/* Parses the file's text[0..len): 0, or -EINVAL for anything else */
int epoch_file_parse(const char *text, size_t len, struct epoch_file *ef);
/* Reads DIR/epoch: 0, -ENOENT (none), -EINVAL (message on stderr) */
int epoch_file_load(const char *dir, struct epoch_file *ef);

/*
 * Run by the loader once it holds the store (and before it reconciles it
 * with the kernel's list). May close, rename and reopen *s. 0, or -errno
 * with a message: -ENOPKG when another boot wrote the store and the helper
 * that could prove continuity is not loaded; -EUCLEAN when the store is
 * empty but the kernel's list does not begin the epoch (checked against the
 * TPM named by tcti, NULL: the default).
 */
int epoch_begin(struct store *s, const char *tcti);

#endif /* IMASNAP_EPOCH_H */
