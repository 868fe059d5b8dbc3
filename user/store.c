// SPDX-License-Identifier: GPL-2.0-only
/* The on-disk store: opening, checking against the kernel, appending */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

/* Who besides root reads the store's files (store_set_group); -1: left as created */
static gid_t store_gid = (gid_t)-1;

void store_set_group(gid_t gid)
{
	store_gid = gid;
}

int store_file_access(int fd)
{
	return fchown(fd, -1, store_gid) || fchmod(fd, STORE_FILE_MODE) ? -errno : 0;
}

int store_dir_access(int fd)
{
	return fchown(fd, -1, store_gid) || fchmod(fd, STORE_DIR_MODE) ? -errno : 0;
}

/*
 * The directory and every file in it (the log, counters, epoch files, kept
 * epochs) as readable as the kernel's own log and no more: root, and the
 * group. By name, without opening anything: an open for reading of the log
 * while it is open for writing is an open_writers violation.
 */
int store_set_access(const struct store *s)
{
	struct dirent *e;
	struct stat st;
	int fd, err = 0;
	DIR *d;

	err = store_dir_access(s->dirfd);
	if (err)
		return err;
	fd = dup(s->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	while (!err && (e = readdir(d))) {
		if (fstatat(s->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (fchownat(s->dirfd, e->d_name, -1, store_gid, AT_SYMLINK_NOFOLLOW) ||
		    fchmodat(s->dirfd, e->d_name, STORE_FILE_MODE, 0))
			err = -errno;
	}
	closedir(d);
	if (err)
		fprintf(stderr, "cannot restrict access to %s: %s\n", s->dir, strerror(-err));
	return err;
}

static int make_dirs(const char *dir)
{
	char path[4096], *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		/* the store's own directory is never open to all, not even at first */
		if (mkdir(path, c ? 0755 : STORE_DIR_MODE) && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* Maps the log read-only; an empty file maps to NULL */
static int map_log(int fd, const uint8_t **data, size_t *len)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*len = st.st_size;
	*data = NULL;
	if (!st.st_size)
		return 0;
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*data = p;
	return 0;
}

static void unmap_log(const uint8_t *data, size_t len)
{
	if (data)
		munmap((void *)data, len);
}

/* Where the run of zero bytes that ends p[0..n) begins (n: none) */
static size_t zero_run_start(const uint8_t *p, size_t n)
{
	while (n && !p[n - 1])
		n--;
	return n;
}

/*
 * Bytes after the last record that a crash can leave and no writer ever
 * meant: zeros (a file system that extended the file but lost the data),
 * perhaps after the start of a record that landed. Anything else that does
 * not parse is refused as it is.
 */
static bool torn_garbage(const uint8_t *p, size_t n)
{
	struct log_record rec;
	size_t z = zero_run_start(p, n);

	return z < n && (!z || log_parse(p, z, &rec, NULL) == 0);
}

/*
 * Indexes a store's bytes like log_index, but a tail of torn_garbage is a
 * tail (repaired by the loader, ignored by readers), not a bad store
 */
static int index_store(const uint8_t *data, size_t len, size_t **offsets, uint64_t *count,
		       size_t *tail)
{
	struct log_record rec;
	const char *why = NULL;
	size_t off = 0;
	ssize_t size;
	int err;

	err = log_index(data, len, offsets, count, tail);
	if (err != -EINVAL)
		return err;
	/* log_index said why; find where the records end */
	for (*count = 0; (size = log_parse(data + off, len - off, &rec, &why)) > 0; (*count)++)
		off += size;
	if (!torn_garbage(data + off, len - off))
		return -EINVAL;
	fprintf(stderr, "(the store ends in %zu bytes of torn garbage after record %" PRIu64
		": a crash left them)\n", len - off, *count);
	*tail = len - off;
	return offsets ? log_index(data, off, offsets, count, &off) : 0;
}

static int count_records(struct store *s)
{
	const uint8_t *data;
	size_t len, *offsets = NULL;
	int err;

	err = map_log(s->fd, &data, &len);
	if (err)
		return err;
	err = index_store(data, len, &offsets, &s->entries, &s->tail);
	if (!err && s->entries)
		memcpy(s->last_digest, log_record_sha1(data + offsets[s->entries - 1]),
		       LOG_SHA1_SIZE);
	unmap_log(data, len);
	free(offsets);
	if (err)
		return -EUCLEAN;
	s->size = len - s->tail;
	return 0;
}

int store_open_append(struct store *s, const char *dir)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->fd = s->dirfd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	err = make_dirs(dir);
	if (err) {
		fprintf(stderr, "cannot create store directory %s: %s\n", dir, strerror(-err));
		return err;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		goto fail_errno;
	s->fd = openat(s->dirfd, STORE_LOG_NAME, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		       STORE_FILE_MODE);
	if (s->fd < 0)
		goto fail_errno;
	if (flock(s->fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		fprintf(stderr, "%s/%s is in use by another imasnap-load\n", dir, STORE_LOG_NAME);
		goto fail;
	}
	/* a new log must survive a crash as a directory entry too */
	if (fsync(s->dirfd))
		goto fail_errno;
	err = count_records(s);
	if (err) {
		fprintf(stderr, "%s/%s is not a measurement log (see above); left as it is\n",
			dir, STORE_LOG_NAME);
		goto fail;
	}
	return 0;
fail_errno:
	err = -errno;
	fprintf(stderr, "cannot open store %s: %s\n", dir, strerror(errno));
fail:
	store_close(s);
	return err;
}

int store_record_digest(const struct store *s, uint64_t i, uint8_t digest[LOG_SHA1_SIZE])
{
	struct log_record rec;
	const uint8_t *data;
	size_t len, off = 0;
	ssize_t size = 0;
	uint64_t n;
	int err;

	if (i >= s->entries)
		return -ERANGE;
	if (i + 1 == s->entries) {
		memcpy(digest, s->last_digest, LOG_SHA1_SIZE);
		return 0;
	}
	err = map_log(s->fd, &data, &len);
	if (err)
		return err;
	/* only what this loader wrote and synced counts, whatever follows it */
	if (len > (size_t)s->size)
		len = s->size;
	for (n = 0; n <= i; n++, off += size) {
		size = log_parse(data + off, len - off, &rec, NULL);
		if (size <= 0)
			break;
	}
	if (size > 0)
		memcpy(digest, rec.digest, LOG_SHA1_SIZE);
	unmap_log(data, len);
	return size > 0 ? 0 : -EUCLEAN;
}

/* Indexes v->data (read whole); name says what it is in a message */
static int view_index(struct store_view *v, const char *name)
{
	int err = index_store(v->data.data, v->data.len, &v->offsets, &v->entries, &v->tail);

	if (err) {
		fprintf(stderr, "%s: not a measurement log\n", name);
		store_view_free(v);
	}
	return err;
}

int store_view_fd(int fd, const char *name, struct store_view *v)
{
	const uint8_t *map;
	size_t len;
	int err;

	memset(v, 0, sizeof(*v));
	err = map_log(fd, &map, &len);
	if (err)
		return err;
	err = buf_append(&v->data, map, len);
	unmap_log(map, len);
	return err ?: view_index(v, name);
}

int store_read(const char *dir, struct store_view *v)
{
	char path[4200];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOG_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "cannot open store %s: %s\n", path, strerror(errno));
		return err;
	}
	err = store_view_fd(fd, path, v);
	close(fd);
	return err;
}

int store_view_stream(int fd, uint64_t bytes, uint64_t entries, struct store_view *v)
{
	ssize_t n = 1;
	int err = 0;

	memset(v, 0, sizeof(*v));
	while (!err && n > 0 && v->data.len <= bytes) {
		err = buf_reserve(&v->data, 1 << 16);
		n = err ? 0 : read(fd, v->data.data + v->data.len, 1 << 16);
		if (n > 0)
			v->data.len += n;
		else if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n < 0)
			n = 1;
	}
	if (!err && v->data.len != bytes) {
		fprintf(stderr, "the loader sent %zu bytes of the store, not %" PRIu64 "\n",
			v->data.len, bytes);
		err = -EPROTO;
	}
	err = err ?: view_index(v, "the store sent by imasnap-load");
	if (!err && (v->entries != entries || v->tail)) {
		fprintf(stderr, "the loader sent %" PRIu64 " records, not %" PRIu64 "\n",
			v->entries, entries);
		err = -EPROTO;
	}
	if (err)
		store_view_free(v);
	return err;
}

void store_view_free(struct store_view *v)
{
	buf_free(&v->data);
	free(v->offsets);
	v->offsets = NULL;
}

const uint8_t *store_view_record(const struct store_view *v, uint64_t i, size_t *len)
{
	size_t end = i + 1 < v->entries ? v->offsets[i + 1] : v->data.len - v->tail;

	*len = end - v->offsets[i];
	return v->data.data + v->offsets[i];
}

bool store_locked(const char *dir)
{
	char path[4200];
	bool locked;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOG_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	locked = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return locked;
}

int log_compare_kernel(const uint8_t *data, size_t len,
		       const struct kernel_log *kl, uint64_t entries,
		       uint64_t *index)
{
	struct log_record srec;
	const uint8_t *kbytes;
	size_t off = 0, klen;
	uint64_t i;

	for (i = 0; i < entries; i++, off += srec.size) {
		*index = i;
		if (log_parse(data + off, len - off, &srec, NULL) <= 0)
			return -EUCLEAN;
		if (i < kl->first)
			continue;
		kbytes = kernel_log_bytes(kl, i, &klen);
		if (!kbytes || klen != srec.size || memcmp(kbytes, data + off, klen))
			return -EUCLEAN;
	}
	return 0;
}

/*
 * A torn tail is repaired only if it is the start of the kernel's next
 * entry, perhaps followed by zeros, or zeros alone (torn_garbage): nothing
 * a writer meant is dropped, and a real divergence is refused.
 */
static int check_tail(const uint8_t *tail, size_t len, const struct kernel_log *kl,
		      uint64_t index)
{
	const uint8_t *kbytes;
	size_t klen = 0, common = 0;

	kbytes = kernel_log_bytes(kl, index, &klen);
	while (kbytes && common < len && common < klen && tail[common] == kbytes[common])
		common++;
	if (kbytes && common == len && len < klen)
		return 0;
	if (common < len && zero_run_start(tail + common, len - common) == 0)
		return 0;
	if (!kbytes)
		fprintf(stderr, "store ends in %zu bytes of a record the kernel does not list\n", len);
	else
		fprintf(stderr, "store ends in %zu bytes that are not the start of entry %" PRIu64 "\n",
			len, index);
	return -EUCLEAN;
}

int store_reconcile(struct store *s, const struct kernel_log *kl)
{
	uint64_t end = kl->first + kl->count, index;
	const uint8_t *data;
	size_t len;
	int err;

	if (s->entries > end) {
		fprintf(stderr, "store holds %" PRIu64 " entries, the kernel listed only %" PRIu64
			" this boot: the store is from another boot or corrupt\n", s->entries, end);
		return -EUCLEAN;
	}
	if (s->entries < kl->first) {
		fprintf(stderr, "the kernel trimmed %" PRIu64 " entries but the store holds only %"
			PRIu64 ": entries were lost\n", kl->first, s->entries);
		return -EUCLEAN;
	}
	err = map_log(s->fd, &data, &len);
	if (err)
		return err;
	if (len != (size_t)s->size + s->tail)
		err = -EAGAIN;	/* changed under us: the lock should prevent it */
	if (!err && log_compare_kernel(data, s->size, kl, s->entries, &index)) {
		fprintf(stderr, "store entry %" PRIu64 " differs from the kernel's\n", index);
		err = -EUCLEAN;
	}
	if (!err && s->tail)
		err = check_tail(data + s->size, s->tail, kl, s->entries);
	unmap_log(data, len);
	if (err) {
		fprintf(stderr, "%s/%s does not match the kernel's measurement list; left as it is\n",
			s->dir, STORE_LOG_NAME);
		return err == -EUCLEAN ? err : -EUCLEAN;
	}
	if (s->tail) {
		if (ftruncate(s->fd, s->size) || fdatasync(s->fd))
			return -errno;
		fprintf(stderr, "repaired a torn last record (%zu bytes) in %s\n", s->tail, s->dir);
		s->tail = 0;
	}
	return 0;
}

int store_append(struct store *s, const void *record, size_t len)
{
	size_t off = s->pending.len;
	int err;

	if (len < sizeof(uint32_t) + LOG_SHA1_SIZE)
		return -EINVAL;
	err = buf_append(&s->pending, record, len);
	if (!err) {
		s->pending_entries++;
		s->pending_last = off;
	}
	return err;
}

int store_flush(struct store *s)
{
	size_t done = 0;
	ssize_t n;

	while (done < s->pending.len) {
		n = pwrite(s->fd, s->pending.data + done, s->pending.len - done,
			   s->size + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			goto fail;
		done += n;
	}
	/* what a failed write left past the records, if cutting it failed too */
	if (s->cut_after && ftruncate(s->fd, s->size + s->pending.len))
		goto fail;
	if (fdatasync(s->fd))
		goto fail;
	s->cut_after = false;
	if (s->pending_entries)
		memcpy(s->last_digest, log_record_sha1(s->pending.data + s->pending_last),
		       LOG_SHA1_SIZE);
	s->size += s->pending.len;
	s->entries += s->pending_entries;
	s->pending.len = 0;
	s->pending_entries = 0;
	return 0;
fail:
	n = -errno;
	/* leave no partial record behind; the queue stays for a retry */
	if (ftruncate(s->fd, s->size)) {
		n = -errno;
		s->cut_after = true;
	}
	fprintf(stderr, "cannot write store %s: %s\n", s->dir, strerror((int)-n));
	return (int)n;
}

void store_close(struct store *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->fd = s->dirfd = -1;
	buf_free(&s->pending);
}
