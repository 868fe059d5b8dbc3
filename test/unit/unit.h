/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A tiny unit-test harness: CHECK macros count passes and failures, print
 * each failure with its place, and UNIT_DONE() prints "N passed, N failed"
 * (the line run.sh sums) and gives the exit status.
 */
#ifndef IMASNAP_UNIT_H
#define IMASNAP_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_passed, unit_failed;

static inline int unit_check(int ok, const char *file, int line,
			     const char *what)
{
	if (ok) {
		unit_passed++;
		return 1;
	}
	unit_failed++;
	fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
	return 0;
}

#define CHECK(cond) unit_check(!!(cond), __FILE__, __LINE__, #cond)

#define CHECK_INT(got, want) do {					\
	long long got_ = (got), want_ = (want);				\
	if (!unit_check(got_ == want_, __FILE__, __LINE__,		\
			#got " == " #want))				\
		fprintf(stderr, "\tgot %lld, want %lld\n", got_, want_);	\
} while (0)

#define CHECK_MEM(got, want, len)					\
	CHECK(memcmp((got), (want), (len)) == 0)

#define CHECK_STR(got, want) do {					\
	const char *got_ = (got), *want_ = (want);			\
	if (!unit_check(got_ && !strcmp(got_, want_), __FILE__,	\
			__LINE__, #got " == " #want))			\
		fprintf(stderr, "\tgot  \"%s\"\n\twant \"%s\"\n",	\
			got_ ? got_ : "(null)", want_);			\
} while (0)

/* A fresh scratch directory for one test program: dir[size]; 0 or -1 */
static inline int unit_tmpdir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/imasnap-unit.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes what unit_tmpdir made, and everything in it; 0 or -1 */
static inline int unit_rmtree(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

/* Ends main(): prints the counts; non-zero exit status on any failure */
#define UNIT_DONE() do {						\
	printf("%d passed, %d failed\n", unit_passed, unit_failed);	\
	return unit_failed ? 1 : 0;					\
} while (0)

#endif /* IMASNAP_UNIT_H */
