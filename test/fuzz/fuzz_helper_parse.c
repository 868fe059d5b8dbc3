// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the kernel helper's control file parsers
 * (kernel-helper/parse.c), built in user space. The first byte picks the
 * parser, the rest is the command as a write(2) would bring it: the module
 * hands the parsers a NUL-terminated copy of at most the file's maximum size,
 * and refuses commands with a NUL inside before parsing.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ikernel-helper \
 *     test/fuzz/fuzz_helper_parse.c kernel-helper/parse.c -o fuzz_helper_parse
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static const struct parse_bank banks[] = {
	{ "sha1", 20, true },
	{ "sha256", 32, true },
	{ "sha384", 48, false },	/* lines for it are skipped */
	{ "sha512", 64, true },
};

static void check_u64(const char *s)
{
	u64 v;
	int err = parse_u64(s, &v);

	assert(err == 0 || err == -EINVAL || err == -ERANGE);
	if (!err) {
		char back[24];

		/* a parsed number prints back to the same text */
		snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
		assert(!strcmp(back, s));
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct pcr_values base;
	struct rebase_cmd rb;
	struct trim_cmd t;
	size_t len;
	char *cmd;
	u64 count;
	int err;

	if (!size)
		return 0;
	len = size - 1;
	if (len > REBASE_CMD_MAX)
		return 0;
	cmd = malloc(len + 1);
	if (!cmd)
		return 0;
	memcpy(cmd, data + 1, len);
	cmd[len] = '\0';
	if (strlen(cmd) != len)
		goto out;	/* the module refuses these before parsing */
	switch (data[0] % 4) {
	case 0:
		if (len > TRIM_CMD_MAX)
			break;
		err = trim_parse(cmd, len, &t);
		assert(err == 0 || err == -EINVAL || err == -ERANGE);
		assert(err || t.n > 0);
		break;
	case 1:
		memset(&base, 0, sizeof(base));
		memset(&rb, 0, sizeof(rb));
		rb.base = &base;
		err = rebase_parse(cmd, len, banks,
				   sizeof(banks) / sizeof(banks[0]), &rb);
		assert(err == 0 || err == -EINVAL);
		assert(!(base.mask & ~((1UL << IMASNAP_NR_PCRS) - 1)));
		break;
	case 2:
		if (len > 32)
			break;
		err = persisted_parse(cmd, len, &count);
		assert(err == 0 || err == -EINVAL);
		break;
	default:
		check_u64(cmd);
		break;
	}
out:
	free(cmd);
	return 0;
}
