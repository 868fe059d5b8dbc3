/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * PCR values given on the command line, one file per bank, in evmctl's
 * --pcrs format (ima-evm-utils, read_one_bank): one line per PCR,
 *   PCR-NN: HEX
 * NN two decimal digits (00..23), HEX the bank's digest, in either case,
 * its bytes optionally separated by single spaces (the TPM 1.2 sysfs file's
 * form). Blank lines are allowed; anything else, a PCR given twice or a
 * digest of another length is an error.
 */
#ifndef IMASNAP_PCRFILE_H
#define IMASNAP_PCRFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay.h"

struct pcr_values {
	struct replay values;			/* bank b: the file of --pcrs b */
	uint32_t given[REPLAY_MAX_BANKS];	/* bit n: the file gives PCR n */
	const char *file[REPLAY_MAX_BANKS];
};

/*
 * Parses a file's text[0..len) as values of a bank of size bytes: 0, or
 * -EINVAL with *line (from 1) and *why
 */
int pcr_file_parse(const char *text, size_t len, size_t size,
		   uint8_t pcr[REPLAY_NR_PCRS][REPLAY_MAX_DIGEST], uint32_t *given,
		   unsigned int *line, const char **why);

/*
 * Adds the bank of an "ALG,FILE" argument: 0, or -EINVAL with a message on
 * stderr naming the argument, or FILE:LINE and what is wrong there
 */
int pcr_values_add(struct pcr_values *v, const char *arg);

/*
 * Every PCR the replay extended equals, in every bank given, the hashed
 * replay's value (the padded replay is not looked at)
 */
bool pcr_values_match_hashed(const struct pcr_values *v, const struct replay_pair *rp);

#endif /* IMASNAP_PCRFILE_H */
