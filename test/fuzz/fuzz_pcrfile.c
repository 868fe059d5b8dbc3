// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCR files in evmctl's format (user/pcrfile.c), as verify --pcrs reads
 * them. The first byte picks the bank's digest size, the rest is the file.
 * Invariants:
 * - a file is either accepted, with at least one PCR given, or refused
 *   with a reason and a line number within the file;
 * - an accepted file's values, written back one "PCR-NN: hex" line each,
 *   parse to the same values and the same PCRs;
 * - every PCR given has its "PCR-NN:" label in the file.
 */
#include "pcrfile.h"

#include "fuzz.h"

static const size_t sizes[] = { 20, 32, 48, 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pcr[REPLAY_NR_PCRS][REPLAY_MAX_DIGEST], again[REPLAY_NR_PCRS][REPLAY_MAX_DIGEST];
	static char text[REPLAY_NR_PCRS * (10 + 2 * REPLAY_MAX_DIGEST)];
	const char *file = (const char *)data + 1, *why = NULL;
	unsigned int line = 0, lines = 1, p;
	uint32_t given, given_again;
	size_t digest, len = 0, i;
	char label[8];
	int err;

	if (!size)
		return 0;
	digest = sizes[data[0] % 4];
	for (i = 1; i < size; i++)
		lines += data[i] == '\n';
	err = pcr_file_parse(file, size - 1, digest, pcr, &given, &line, &why);
	if (err) {
		FUZZ_ASSERT(err == -EINVAL && why && line >= 1 && line <= lines);
		return 0;
	}
	FUZZ_ASSERT(given && given < (1u << REPLAY_NR_PCRS));
	for (p = 0; p < REPLAY_NR_PCRS; p++) {
		if (!(given & (1u << p)))
			continue;
		snprintf(label, sizeof(label), "PCR-%02u:", p);
		FUZZ_ASSERT(memmem(file, size - 1, label, 7));
		len += snprintf(text + len, sizeof(text) - len, "PCR-%02u: ", p);
		for (i = 0; i < digest; i++)
			len += snprintf(text + len, sizeof(text) - len, "%02x", pcr[p][i]);
		text[len++] = '\n';
	}
	FUZZ_ASSERT(!pcr_file_parse(text, len, digest, again, &given_again, &line, &why));
	FUZZ_ASSERT(given_again == given);
	for (p = 0; p < REPLAY_NR_PCRS; p++)
		FUZZ_ASSERT(!(given & (1u << p)) || !memcmp(pcr[p], again[p], digest));
	return 0;
}
