/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading PCRs from the TPM through tpm2-tss (ESAPI) */
#ifndef IMASNAP_TPM_H
#define IMASNAP_TPM_H

#include <stdint.h>

#include "replay.h"

/*
 * Fills pcrs with every bank the TPM has allocated and, in each, the values of
 * the PCRs in pcr_mask (bit n: PCR n). tcti NULL: "device:/dev/tpmrm0".
 * Returns 0, or -errno with a message printed to stderr.
 */
int tpm_read_pcrs(struct replay *pcrs, uint32_t pcr_mask, const char *tcti);

#endif /* IMASNAP_TPM_H */
