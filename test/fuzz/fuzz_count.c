// SPDX-License-Identifier: GPL-2.0-only
/*
 * Command-line counts (user/args.h: parse_count), as imasnap and
 * imasnap-load take them. Input: u8 (bit 0: with units) | the argument (up
 * to its first NUL). Invariants:
 * - accepted exactly when the argument is decimal digits, with units
 *   optionally followed by one K/k or M/m, whose value fits in 64 bits (with
 *   units: scaled, below 2^54, parse_count's bound for sizes);
 * - the value is the digits' number, times 1024 or 1024^2 for K or M, and
 *   printing it back (scaled down) gives the digits without leading zeros.
 */
#include <inttypes.h>

#include "args.h"
#include "fuzz.h"

/* -1: not a count; else the shift of its suffix, *val the digits' number */
static int reference(const char *arg, bool units, uint64_t *val)
{
	const char *p = arg;
	int shift = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (*val = 0; *p >= '0' && *p <= '9'; p++) {
		if (*val > (UINT64_MAX - (*p - '0')) / 10)
			return -1;
		*val = *val * 10 + (*p - '0');
	}
	if (units && (*p == 'K' || *p == 'k'))
		shift = 10, p++;
	else if (units && (*p == 'M' || *p == 'm'))
		shift = 20, p++;
	if (*p || (shift && *val >= (1ull << (54 - shift))))
		return -1;
	return shift;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	bool units = fuzz_u8(&in) & 1;
	char *arg = strndup((const char *)in.p, in.left), text[32];
	const char *digits;
	uint64_t val = 0, want;
	int shift, err;

	FUZZ_SETUP(arg);
	err = parse_count(arg, units, &val);
	shift = reference(arg, units, &want);
	FUZZ_ASSERT(shift < 0 ? err == -EINVAL : !err && val == want << shift);
	if (!err) {
		snprintf(text, sizeof(text), "%" PRIu64, val >> shift);
		for (digits = arg; digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9'; digits++)
			;
		FUZZ_ASSERT(!strncmp(text, digits, strlen(text)) &&
			    strlen(digits) == strlen(text) + !!shift);
	}
	free(arg);
	return 0;
}
