// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agents' view (user/view.c): the store's records as the kernel's ascii
 * lines (real lines of running kernels, fixtures.h), appended in place on
 * the same inode as the store grows, a torn last line completed, and a view
 * of another log replaced by a new file, never rewritten in place; and
 * export's reading of the loader's pipe (user/stream.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "unit.h"
#include "store.h"
#include "stream.h"
#include "view.h"

static char top[64], path[128], store_path[128];

/* Appends real line i's binary record to the store file; returns its size */
static off_t add_record(int fd, size_t i)
{
	struct fixture fx;
	struct buf rec = {0};

	fx_from_line(real_lines[i], &fx);
	fx_record(&rec, fx.pcr, fx.sha1, fx.template, &fx.fields);
	CHECK_INT(write(fd, rec.data, rec.len), (ssize_t)rec.len);
	buf_free(&fx.fields);
	buf_free(&rec);
	return lseek(fd, 0, SEEK_END);
}

/* The view file's text equals real lines [0, n) */
static void check_text(size_t n)
{
	char got[8192] = "", want[8192] = "";
	size_t i;
	int fd = open(path, O_RDONLY);

	for (i = 0; i < n; i++)
		strcat(want, real_lines[i]);
	CHECK(fd >= 0 && read(fd, got, sizeof(got) - 1) >= 0);
	CHECK_STR(got, want);
	close(fd);
}

static ino_t inode_of(const char *p)
{
	struct stat st;

	return stat(p, &st) ? 0 : st.st_ino;
}

static void test_view(void)
{
	struct view v;
	int store = open(store_path, O_RDWR | O_CREAT | O_TRUNC, 0600), fd;
	off_t size = 0, two;
	ino_t ino;
	size_t i;

	/* a new view of a store of two records */
	size = add_record(store, 0);
	two = size = add_record(store, 1);
	CHECK_INT(view_open(&v, path, store, size), 0);
	CHECK_INT(v.entries, 2);
	check_text(2);
	ino = inode_of(path);
	/* the store grows: lines appended in place */
	for (i = 2; i < NR_REAL_LINES; i++)
		size = add_record(store, i);
	CHECK_INT(view_sync(&v, store, size), 0);
	check_text(NR_REAL_LINES);
	CHECK_INT(inode_of(path), ino);
	view_close(&v);

	/* a restart keeps the file; a torn last line is completed, not replaced */
	CHECK_INT(truncate(path, strlen(real_lines[0]) + 10), 0);
	CHECK_INT(view_open(&v, path, store, size), 0);
	check_text(NR_REAL_LINES);
	CHECK_INT(inode_of(path), ino);
	CHECK_INT(v.entries, NR_REAL_LINES);
	view_close(&v);

	/* a view longer than the store, or of other lines: a new file */
	CHECK_INT(view_open(&v, path, store, two), 0);
	check_text(2);
	CHECK(inode_of(path) != ino);
	view_close(&v);
	ino = inode_of(path);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK_INT(write(fd, real_lines[1], strlen(real_lines[1])), (ssize_t)strlen(real_lines[1]));
	close(fd);
	CHECK_INT(view_open(&v, path, store, size), 0);
	check_text(NR_REAL_LINES);
	CHECK(inode_of(path) != ino);
	view_close(&v);
	close(store);
}

/* stream_each's emit: what it was given, appended */
static int collect(void *arg, const uint8_t *bytes, size_t len, const struct log_record *recs,
		   uint32_t count)
{
	return buf_append(arg, bytes, len);
}

/*
 * export's reading of the loader's pipe (user/stream.c, which reads a pipe
 * in order where pread cannot): every record whole and in order; a stream
 * that ends inside a record leaves a tail, which export refuses
 */
static void test_stream_pipe(void)
{
	struct store_stream s;
	struct fixture fx;
	struct buf all = {0}, got;
	size_t i, last = 0;
	int p[2];

	for (i = 0; i < NR_REAL_LINES; i++) {
		last = all.len;
		fx_from_line(real_lines[i], &fx);
		fx_record(&all, fx.pcr, fx.sha1, fx.template, &fx.fields);
		buf_free(&fx.fields);
	}
	for (i = 0; i < 3; i++) {
		/* whole; cut one byte short; one stray byte after */
		size_t n = all.len - (i == 1);

		memset(&got, 0, sizeof(got));
		CHECK_INT(pipe(p), 0);
		CHECK_INT(write(p[1], all.data, n), (ssize_t)n);
		if (i == 2)
			CHECK_INT(write(p[1], "\xff", 1), 1);
		close(p[1]);
		stream_init(&s, p[0], 64);	/* smaller than a record: batches split them */
		CHECK_INT(stream_each(&s, 0, collect, &got), 0);
		CHECK_INT(s.next, i == 1 ? NR_REAL_LINES - 1 : NR_REAL_LINES);
		CHECK_INT(got.len, i == 1 ? last : all.len);
		CHECK(!memcmp(got.data, all.data, got.len));
		CHECK_INT(s.tail, i == 0 ? 0 : i == 1 ? all.len - 1 - last : 1);
		stream_free(&s);
		buf_free(&got);
		close(p[0]);
	}
	buf_free(&all);
}

int main(void)
{
	if (unit_tmpdir(top, sizeof(top)))
		return 2;
	snprintf(path, sizeof(path), "%s/view/ascii_runtime_measurements", top);
	snprintf(store_path, sizeof(store_path), "%s/store", top);
	test_view();
	test_stream_pipe();
	if (unit_rmtree(top))
		return 2;
	UNIT_DONE();
}
