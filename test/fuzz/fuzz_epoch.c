// SPDX-License-Identifier: GPL-2.0-only
/*
 * The store's epoch file (user/epoch.c, included for its static reader and
 * writer): "epoch <boot id>\nboot <boot id>\n" and perhaps "base <index>
 * <sha1 hex>\n". Invariants:
 * - the reader is strict: a file is accepted only if it is byte for byte
 *   what the writer writes for what was read;
 * - what was read, written back and read again is the same;
 * - reading changes nothing.
 */
#include "user/epoch.c"

#include "fuzz.h"

static struct store s;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fuzz_mkdir("store");
	fuzz_path(s.dir, sizeof(s.dir), "store");
	FUZZ_SETUP((s.dirfd = open(s.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	s.fd = -1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct epoch_file ef = { 0 }, again = { 0 };
	uint8_t *after;
	size_t len;
	int err;

	fuzz_write("store/" EPOCH_FILE_NAME, data, size);
	err = epoch_read(&s, &ef);
	FUZZ_ASSERT(!err || err == -EINVAL);
	after = fuzz_read("store/" EPOCH_FILE_NAME, &len);
	FUZZ_ASSERT(len == size && (!size || !memcmp(after, data, size)));
	free(after);
	if (err)
		return 0;
	FUZZ_ASSERT(!epoch_write(&s, &ef));
	after = fuzz_read("store/" EPOCH_FILE_NAME, &len);
	FUZZ_ASSERT(len == size && !memcmp(after, data, size));
	free(after);
	FUZZ_ASSERT(!epoch_read(&s, &again));
	FUZZ_ASSERT(!memcmp(&ef, &again, sizeof(ef)));
	return 0;
}
