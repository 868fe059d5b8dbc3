// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's counters file DIR/loader.state (user/status.c), which
 * `imasnap status` reads: "key: value" lines. Invariants:
 * - loading succeeds and changes nothing in the file;
 * - what was loaded, saved and loaded again is the same, and the saved file
 *   is one "key: value" line per counter;
 * - a file of the counters' keys in the saved format loads every value.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "status.h"

#define NR_COUNTERS	(sizeof(struct loader_stats) / sizeof(uint64_t))

static char dir[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fuzz_mkdir("store");
	fuzz_path(dir, sizeof(dir), "store");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct loader_stats st, again, want;
	uint8_t *after;
	size_t len, i, lines = 0;

	fuzz_write("store/" LOADER_STATE_NAME, data, size);
	FUZZ_ASSERT(!stats_load(dir, &st));
	after = fuzz_read("store/" LOADER_STATE_NAME, &len);
	FUZZ_ASSERT(len == size && (!size || !memcmp(after, data, size)));
	free(after);

	FUZZ_ASSERT(!stats_save(dir, &st));
	FUZZ_ASSERT(!stats_load(dir, &again));
	FUZZ_ASSERT(!memcmp(&st, &again, sizeof(st)));
	after = fuzz_read("store/" LOADER_STATE_NAME, &len);
	for (i = 0; i < len; i++)
		lines += after[i] == '\n';
	FUZZ_ASSERT(lines == NR_COUNTERS && len && after[len - 1] == '\n');
	free(after);

	/* every counter set to a value taken from the input, saved, loaded */
	memset(&want, 0, sizeof(want));
	memcpy(&want, data, size < sizeof(want) ? size : sizeof(want));
	FUZZ_ASSERT(!stats_save(dir, &want));
	FUZZ_ASSERT(!stats_load(dir, &again));
	FUZZ_ASSERT(!memcmp(&want, &again, sizeof(want)));
	return 0;
}
