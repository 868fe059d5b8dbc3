// SPDX-License-Identifier: GPL-2.0-only
/* The agents' view of the store (view.h) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "view.h"

#define WRITE_BATCH	(1 << 20)	/* lines formatted before they are written */

/* The log's bytes [from, to) mapped read-only: *data points at from */
struct mapping {
	void *base;
	size_t len;
	const uint8_t *data;
};

static int map_range(int fd, uint64_t from, uint64_t to, struct mapping *m)
{
	uint64_t start = from & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);

	m->base = NULL;
	m->len = to - start;
	m->data = NULL;
	if (to <= from)
		return 0;
	m->base = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, start);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		return -errno;
	}
	m->data = (const uint8_t *)m->base + (from - start);
	return 0;
}

static void unmap_range(struct mapping *m)
{
	if (m->base)
		munmap(m->base, m->len);
}

/* Writes what is unwritten; what a short write leaves stays for the next try */
static int write_unwritten(struct view *v)
{
	size_t done = 0;
	ssize_t n = 0;

	while (done < v->unwritten.len) {
		n = write(v->fd, v->unwritten.data + done, v->unwritten.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += n;
	}
	v->unwritten.len -= done;
	if (!v->unwritten.len)
		return 0;
	memmove(v->unwritten.data, v->unwritten.data + done, v->unwritten.len);
	return n < 0 ? -errno : -EIO;
}

int view_sync(struct view *v, int store_fd, uint64_t store_size)
{
	struct log_record rec;
	struct mapping m;
	size_t off = 0;
	ssize_t size;
	int err;

	if (v->fd < 0)
		return 0;
	/* a line is never torn for good: its rest is written before anything new */
	err = write_unwritten(v);
	if (err || v->store_off >= store_size)
		return err;
	err = map_range(store_fd, v->store_off, store_size, &m);
	while (!err && v->store_off + off < store_size) {
		size = log_parse(m.data + off, store_size - v->store_off - off, &rec, NULL);
		if (size <= 0) {
			err = -EUCLEAN;
			break;
		}
		err = log_format_ascii(&rec, &v->unwritten);
		if (err)
			break;
		off += size;
		v->entries++;
		if (v->unwritten.len >= WRITE_BATCH || v->store_off + off == store_size) {
			v->store_off += off;
			off = 0;
			err = write_unwritten(v);
		}
	}
	unmap_range(&m);
	if (err && err != v->failing)
		fprintf(stderr, "imasnap-load: cannot append to the view %s: %s (retried after each commit)\n",
			v->path, strerror(-err));
	else if (!err && v->failing)
		fprintf(stderr, "imasnap-load: the view %s is in step again\n", v->path);
	v->failing = err;
	return err;
}

/*
 * How much of the file is the store's lines: the store's records it covers
 * (v->entries, v->store_off), a last line it holds only the start of going
 * to unwritten. -ESTALE when it holds anything else.
 */
static int match_lines(struct view *v, const uint8_t *text, size_t text_len, const uint8_t *log,
		       size_t log_len)
{
	struct buf line = {0};
	struct log_record rec;
	size_t at = 0, n;
	ssize_t size;
	int err = 0;

	while (!err && at < text_len) {
		size = v->store_off < log_len ?
		       log_parse(log + v->store_off, log_len - v->store_off, &rec, NULL) : 0;
		line.len = 0;
		if (size <= 0 || log_format_ascii(&rec, &line)) {
			err = -ESTALE;
			break;
		}
		n = line.len < text_len - at ? line.len : text_len - at;
		if (memcmp(text + at, line.data, n)) {
			err = -ESTALE;
			break;
		}
		if (n < line.len)
			err = buf_append(&v->unwritten, line.data + n, line.len - n);
		at += n;
		v->store_off += size;
		v->entries++;
	}
	buf_free(&line);
	return err;
}

/* Replaces the file at v->path with a new, empty one (readers of the old keep it) */
static int start_new_file(struct view *v)
{
	close(v->fd);
	v->fd = -1;
	v->entries = v->store_off = 0;
	v->unwritten.len = 0;
	if (unlink(v->path) && errno != ENOENT)
		return -errno;
	v->fd = open(v->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     STORE_FILE_MODE);
	return v->fd < 0 ? -errno : store_file_access(v->fd);
}

/* The view's directory: made if missing, root:group STORE_DIR_MODE */
static int view_dir(const char *path)
{
	char dir[4096], *slash;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return -EINVAL;		/* a file right in / is no view */
	*slash = '\0';
	if (mkdir(dir, STORE_DIR_MODE) && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	err = store_dir_access(fd);
	close(fd);
	return err;
}

int view_open(struct view *v, const char *path, int store_fd, uint64_t store_size)
{
	struct mapping text = {0}, log = {0};
	struct stat st;
	int err;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	if (snprintf(v->path, sizeof(v->path), "%s", path) >= (int)sizeof(v->path))
		return -ENAMETOOLONG;
	err = view_dir(path);
	if (err)
		goto out;
	/* read and write: what it holds is read through this one open */
	v->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, STORE_FILE_MODE);
	if (v->fd < 0 || fstat(v->fd, &st)) {
		err = -errno;
		goto out;
	}
	err = S_ISREG(st.st_mode) ? store_file_access(v->fd) : -EINVAL;
	err = err ?: map_range(v->fd, 0, st.st_size, &text);
	err = err ?: map_range(store_fd, 0, store_size, &log);
	if (!err && match_lines(v, text.data, st.st_size, log.data, store_size) == -ESTALE) {
		fprintf(stderr, "imasnap-load: the view %s is not this store's log (another store or epoch): a new file replaces it; agents reading it must start again\n",
			path);
		err = start_new_file(v);
	}
	unmap_range(&text);
	unmap_range(&log);
	err = err ?: view_sync(v, store_fd, store_size);
out:
	if (err) {
		fprintf(stderr, "imasnap-load: cannot keep the view %s: %s\n", path, strerror(-err));
		view_close(v);
	}
	return err;
}

void view_close(struct view *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	buf_free(&v->unwritten);
}
