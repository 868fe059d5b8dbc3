// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of helper_state_value (user/kernel_log.c): the kernel helper's state
 * file, "key: value" lines (docs/kernel-helper.md, /sys/kernel/security/imasnap/state),
 * read from a fake securityfs named by IMASNAP_SECURITYFS.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel_log.h"
#include "unit.h"

static char top[64], state[160];

static void set_state(const char *text)
{
	FILE *f = fopen(state, "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
}

/* helper_state_value(key) on a state file of text: its error, value in *val */
static int value_of(const char *text, const char *key, uint64_t *val)
{
	set_state(text);
	*val = 12345;
	return helper_state_value(key, val);
}

static void test_real_state(void)
{
	static const char real[] =
		"version: 1\ntrimmed: 1\nepoch_start: 0\nentries: 6\nbytes: 939\n"
		"epoch: 257eb0d671e5df295c51e056946262e5\n"
		"base: 10 sha1 0b97263d981286d73a87d76db00525233f095ad6\n";
	uint64_t v;

	CHECK_INT(value_of(real, "trimmed", &v), 0);
	CHECK_INT(v, 1);
	CHECK_INT(value_of(real, "bytes", &v), 0);
	CHECK_INT(v, 939);
	CHECK_INT(value_of(real, "persisted", &v), -ENOENT);
	/* a negative epoch_start wraps, and sums with it wrap back */
	CHECK_INT(value_of("trimmed: 5\nepoch_start: -5\n", "epoch_start", &v), 0);
	CHECK_INT(v + 5, 0);
}

/*
 * A value must be digits ('-' allowed): before the fix strtoull took an
 * empty value as 0, and blanks or '+' before the number (found by
 * test/fuzz/fuzz_state)
 */
static void test_value_without_digits_is_refused(void)
{
	uint64_t v;

	CHECK_INT(value_of("trimmed: \n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: \r\r7\n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed:  7\n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: +7\n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: -\n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: 7x\n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: 7", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: 18446744073709551616\n", "trimmed", &v), -EINVAL);
	CHECK_INT(value_of("trimmed: 18446744073709551615\n", "trimmed", &v), 0);
	CHECK(v == UINT64_MAX);
}

/*
 * A line longer than the reader's old 256-byte buffer was read in pieces,
 * and a piece that began with "key: " passed for a line of its own
 */
static void test_long_line_is_one_line(void)
{
	char text[400];
	uint64_t v;

	memset(text, 'x', 300);
	strcpy(text + 255, "trimmed: 9\n");
	CHECK_INT(value_of(text, "trimmed", &v), -ENOENT);
	strcat(text, "trimmed: 4\n");
	CHECK_INT(value_of(text, "trimmed", &v), 0);
	CHECK_INT(v, 4);
}

int main(void)
{
	char path[128];

	if (unit_tmpdir(top, sizeof(top)))
		return 2;
	snprintf(path, sizeof(path), "%s/imasnap", top);
	snprintf(state, sizeof(state), "%s/state", path);
	if (mkdir(path, 0755) || setenv("IMASNAP_SECURITYFS", top, 1))
		return 2;

	test_real_state();
	test_value_without_digits_is_refused();
	test_long_line_is_one_line();

	unlink(state);
	rmdir(path);
	rmdir(top);
	UNIT_DONE();
}
