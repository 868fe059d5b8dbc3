// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel helper's state file as user space reads it (user/kernel_log.c:
 * helper_state_value, kernel_offset, kernel_head), from a fake securityfs.
 * The format is docs/kernel-helper.md's: one "key: value" a line, values decimal
 * (epoch_start may be negative). Invariants, for "trimmed" and "epoch_start":
 * - found (0) only when some line starts with "key: " followed by an
 *   optional '-' and digits that end the line (a value of at most 2^64 - 1),
 *   and then the value is the first such line's number (modulo 2^64);
 * - -EINVAL when lines start with "key: " but none is good; -ENOENT when no
 *   line starts with "key: ";
 * - kernel_head is trimmed + epoch_start when both are read.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "kernel_log.h"

/* The first good line that starts with "key: ": 0 and its value; -EINVAL, -ENOENT */
static int reference(const uint8_t *data, size_t size, const char *key, uint64_t *val)
{
	size_t klen = strlen(key), off = 0, len, i;
	const uint8_t *line, *nl, *v;
	int err = -ENOENT;
	char *digits;
	bool neg;

	for (; off < size; off += len + 1) {
		line = data + off;
		nl = memchr(line, '\n', size - off);
		len = nl ? (size_t)(nl - line) : size - off;
		if (len < klen + 2 || memcmp(line, key, klen) || memcmp(line + klen, ": ", 2))
			continue;
		err = -EINVAL;
		v = line + klen + 2;
		i = neg = len > klen + 2 && v[0] == '-';
		if (!nl || len - klen - 2 - neg < 1)
			continue;
		for (; i < len - klen - 2; i++)
			if (v[i] < '0' || v[i] > '9')
				break;
		if (i < len - klen - 2)
			continue;
		digits = strndup((const char *)v, len - klen - 2);
		FUZZ_SETUP(digits);
		errno = 0;
		*val = strtoull(digits, NULL, 10);
		free(digits);
		if (!errno)
			return 0;
	}
	return err;
}

static int check_key(const uint8_t *data, size_t size, const char *key, uint64_t *val)
{
	uint64_t want = 0;
	int err = helper_state_value(key, val), ref = reference(data, size, key, &want);

	if (err != ref)
		dprintf(2, "%s: got %d, want %d\n", key, err, ref);
	FUZZ_ASSERT(err == ref);
	FUZZ_ASSERT(err || *val == want);
	return err;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4200];

	fuzz_quiet();
	fuzz_mkdir("sfs");
	fuzz_mkdir("sfs/imasnap");
	fuzz_write("sfs/imasnap/trim", "", 0);
	fuzz_path(path, sizeof(path), "sfs");
	FUZZ_SETUP(!setenv("IMASNAP_SECURITYFS", path, 1));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t trimmed, start, offset, head;
	int err_t, err_s, err;

	fuzz_write("sfs/imasnap/state", data, size);
	err_t = check_key(data, size, "trimmed", &trimmed);
	err_s = check_key(data, size, "epoch_start", &start);
	err = kernel_offset(&offset);
	FUZZ_ASSERT(err == err_s && (err || offset == start));
	err = kernel_head(&head);
	FUZZ_ASSERT(err == (err_t ?: err_s) && (err || head == trimmed + start));
	return 0;
}
