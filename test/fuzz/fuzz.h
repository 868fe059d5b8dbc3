/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared by the libFuzzer targets (test/fuzz/fuzz_*.c): FUZZ_ASSERT, which
 * aborts with the invariant that failed so that libFuzzer keeps the input as
 * a reproducer; a scratch directory per process (under $TMPDIR, removed at
 * exit) for parsers that read files; and a reader that splits an input.
 *
 * The library says what is wrong with bad input on stderr; a fuzzer feeds
 * little else, so those messages go to /dev/null unless FUZZ_VERBOSE is set
 * (when reproducing). Sanitizer and libFuzzer reports are written to file
 * descriptor 2 directly and are not affected.
 */
#ifndef IMASNAP_FUZZ_H
#define IMASNAP_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "%s:%d: invariant failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/* Only for the set-up of a target: fails the whole run */
#define FUZZ_SETUP(cond) do {						\
	if (!(cond)) {							\
		dprintf(2, "%s:%d: set-up failed: %s: %s\n",		\
			__FILE__, __LINE__, #cond, strerror(errno));	\
		exit(2);						\
	}								\
} while (0)

static char fuzz_scratch[4096];

static int fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fuzz_cleanup(void)
{
	nftw(fuzz_scratch, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The process's scratch directory (made on first use) */
static inline const char *fuzz_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (fuzz_scratch[0])
		return fuzz_scratch;
	snprintf(fuzz_scratch, sizeof(fuzz_scratch), "%s/imasnap-fuzz.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	FUZZ_SETUP(mkdtemp(fuzz_scratch));
	atexit(fuzz_cleanup);
	return fuzz_scratch;
}

static inline void fuzz_quiet(void)
{
	if (!getenv("FUZZ_VERBOSE"))
		FUZZ_SETUP((stderr = fopen("/dev/null", "w")));
}

/* path = scratch/rel */
static inline void fuzz_path(char *path, size_t size, const char *rel)
{
	snprintf(path, size, "%s/%s", fuzz_dir(), rel);
}

static inline void fuzz_mkdir(const char *rel)
{
	char path[4200];

	fuzz_path(path, sizeof(path), rel);
	FUZZ_SETUP(!mkdir(path, 0755) || errno == EEXIST);
}

/* Replaces scratch/rel with data[0..len) */
static inline void fuzz_write(const char *rel, const void *data, size_t len)
{
	char path[4200];
	int fd;

	fuzz_path(path, sizeof(path), rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_SETUP(fd >= 0);
	FUZZ_SETUP(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static inline void fuzz_unlink(const char *rel)
{
	char path[4200];

	fuzz_path(path, sizeof(path), rel);
	FUZZ_SETUP(!unlink(path) || errno == ENOENT);
}

/* Reads scratch/rel whole into a malloc'ed buffer (NULL when empty) */
static inline uint8_t *fuzz_read(const char *rel, size_t *len)
{
	char path[4200];
	struct stat st;
	uint8_t *data = NULL;
	int fd;

	fuzz_path(path, sizeof(path), rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	FUZZ_SETUP(fd >= 0 && !fstat(fd, &st));
	*len = st.st_size;
	if (*len) {
		FUZZ_SETUP((data = malloc(*len)));
		FUZZ_SETUP(read(fd, data, *len) == (ssize_t)*len);
	}
	close(fd);
	return data;
}

/* An input consumed from the front: fixed fields, then the rest */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4 && in->left; i++, in->p++, in->left--)
		v |= (uint32_t)in->p[0] << (8 * i);
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	uint8_t v = 0;

	if (in->left) {
		v = in->p[0];
		in->p++;
		in->left--;
	}
	return v;
}

/* Up to n bytes (fewer when the input ends) */
static inline const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	*got = n < in->left ? n : in->left;
	in->p += *got;
	in->left -= *got;
	return p;
}

/* A copy of data[0..len) in a buffer of exactly len bytes, so ASan sees over-reads */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	FUZZ_SETUP(copy);
	if (len)
		memcpy(copy, data, len);
	return copy;
}

#endif /* IMASNAP_FUZZ_H */
