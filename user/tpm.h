/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading PCRs from the TPM through tpm2-tss (ESAPI) */
#ifndef IMASNAP_TPM_H
#define IMASNAP_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

#define TPM_DEFAULT_TCTI	"device:/dev/tpmrm0"

/*
 * Fills pcrs with every bank the TPM has allocated and, in each, the values of
 * the PCRs in pcr_mask (bit n: PCR n). tcti NULL: "device:/dev/tpmrm0".
 * Returns 0, or -errno with a message printed to stderr.
 */
int tpm_read_pcrs(struct replay *pcrs, uint32_t pcr_mask, const char *tcti);

/*
 * A TCTI string names one of the system's own TCTIs, never a library:
 * "NAME" or "NAME:CONF" with NAME one of device, mssim, swtpm, tabrmd. tpm2-tss
 * would dlopen() any other name, a path included, inside a protected loader.
 * Fills lib with "libtss2-tcti-NAME.so.0" (looked up by the dynamic linker
 * in the system's library directories) and *conf with CONF (NULL: none).
 * -EINVAL for anything else (the caller says so).
 */
int tcti_resolve(const char *tcti, char *lib, size_t lib_size, const char **conf);

#endif /* IMASNAP_TPM_H */
