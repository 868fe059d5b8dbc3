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

#include "store.h"

#define EPOCH_FILE_NAME		"epoch"

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
