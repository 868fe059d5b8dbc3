// SPDX-License-Identifier: GPL-2.0-only
/*
 * The store's epoch file (user/epoch.c, included for its static reader and
 * writer): "epoch <boot id>\nboot <boot id>\n". Invariants:
 * - a file is accepted only with an epoch and a boot line, whose values are
 *   1 to 36 non-blank characters found in the file after "epoch" or "boot"
 *   and blanks (the reader is lenient: sscanf's "epoch %36s");
 * - what was read, written back and read again is the same, and the written
 *   file is exactly the two lines;
 * - reading changes nothing.
 */
#include <ctype.h>

#include "user/epoch.c"

#include "fuzz.h"

static struct store s;

/* Somewhere in the file: key, blanks (sscanf's " "), then value */
static void check_value(const char *value, const uint8_t *data, size_t size,
			const char *key)
{
	size_t i, len = strlen(value), klen = strlen(key);
	const uint8_t *at = data, *p;
	bool found = false;

	FUZZ_ASSERT(len >= 1 && len < BOOT_ID_SIZE);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT(!isspace((unsigned char)value[i]));
	while (!found && (p = memmem(at, size - (at - data), key, klen))) {
		at = p + 1;
		for (p += klen; p < data + size && isspace(*p); p++)
			;
		found = (size_t)(data + size - p) >= len && !memcmp(p, value, len);
	}
	FUZZ_ASSERT(found);
}

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
	char text[128];
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
	check_value(ef.epoch, data, size, "epoch");
	check_value(ef.boot, data, size, "boot");

	FUZZ_ASSERT(!epoch_write(&s, &ef));
	FUZZ_ASSERT(!epoch_read(&s, &again));
	FUZZ_ASSERT(!strcmp(ef.epoch, again.epoch) && !strcmp(ef.boot, again.boot));
	after = fuzz_read("store/" EPOCH_FILE_NAME, &len);
	snprintf(text, sizeof(text), "epoch %s\nboot %s\n", ef.epoch, ef.boot);
	FUZZ_ASSERT(len == strlen(text) && !memcmp(after, text, len));
	free(after);
	return 0;
}
