// SPDX-License-Identifier: GPL-2.0-only
/* Reading IMA's measurement list and counters from securityfs */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel_log.h"
#include "snapshot.h"

#define READ_CHUNK	(1 << 20)

const char *securityfs_path(void)
{
	const char *env = getenv("IMASNAP_SECURITYFS");

	return env && *env ? env : "/sys/kernel/security";
}

static int read_file(const char *path, struct buf *out)
{
	int fd, err = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		err = buf_reserve(out, READ_CHUNK);
		if (err)
			break;
		n = read(fd, out->data + out->len, out->cap - out->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		out->len += n;
	}
	close(fd);
	return err;
}

static int read_u64_file(const char *path, uint64_t *val)
{
	struct buf b = {0};
	char *end;
	int err;

	err = read_file(path, &b);
	if (err)
		return err;
	err = buf_append(&b, "", 1);
	if (!err) {
		errno = 0;
		*val = strtoull((char *)b.data, &end, 10);
		if (errno || end == (char *)b.data || (*end && *end != '\n'))
			err = -EINVAL;
	}
	buf_free(&b);
	return err;
}

int log_index(const uint8_t *data, size_t len, size_t **offsets,
	      uint64_t *count, size_t *tail)
{
	struct log_record rec;
	size_t off = 0, cap = 0, *offs = NULL, *grown;
	uint64_t n = 0;
	const char *why = NULL;
	ssize_t size;

	while (off < len) {
		size = log_parse(data + off, len - off, &rec, &why);
		if (size < 0) {
			fprintf(stderr, "record %" PRIu64 " at byte %zu: %s\n",
				n, off, why ? why : "malformed");
			free(offs);
			return -EINVAL;
		}
		if (size == 0)
			break;
		if (offsets && n == cap) {
			cap = cap ? cap * 2 : 1024;
			grown = realloc(offs, cap * sizeof(*offs));
			if (!grown) {
				free(offs);
				return -ENOMEM;
			}
			offs = grown;
		}
		if (offsets)
			offs[n] = off;
		n++;
		off += size;
	}
	if (offsets)
		*offsets = offs;
	*count = n;
	*tail = len - off;
	return 0;
}

void securityfs_file(char *path, size_t size, const char *dir, const char *file)
{
	snprintf(path, size, "%s/%s%s%s", securityfs_path(), dir, *file ? "/" : "", file);
}

int helper_readers(char *out, size_t size)
{
	char path[512], *line = NULL, secs[32], list[64];
	size_t cap = 0, len = 0;
	int pid, n, comm;
	FILE *f;

	securityfs_file(path, sizeof(path), "imasnap", "readers");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	out[0] = '\0';
	while (getline(&line, &cap, f) > 0 && len < size) {
		comm = 0;
		if (sscanf(line, "%d %31s %63s %n", &pid, secs, list, &comm) != 3 || !comm)
			continue;
		line[strcspn(line, "\n")] = '\0';
		n = snprintf(out + len, size - len, "%s%s (pid %d, %s for %s%.*s s)",
			     len ? ", " : "", line + comm, pid, list,
			     secs[strlen(secs) - 1] == '+' ? "at least " : "",
			     (int)strcspn(secs, "+"), secs);
		len += n > 0 ? (size_t)n : 0;
	}
	free(line);
	fclose(f);
	return 0;
}

/*
 * Whole lines (getline: a long one is not read as several), and a value of
 * digits, '-' allowed (strtoull alone also takes blanks, '+', or nothing)
 */
int helper_file_value(const char *file, const char *key, uint64_t *val)
{
	char path[512], *line = NULL, *value, *digit, *end;
	size_t klen = strlen(key), cap = 0;
	int err = -ENOENT;
	FILE *f;

	securityfs_file(path, sizeof(path), "imasnap", file);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (err && getline(&line, &cap, f) > 0) {
		if (strncmp(line, key, klen) || strncmp(line + klen, ": ", 2))
			continue;
		value = line + klen + 2;
		digit = value + (*value == '-');
		errno = 0;
		*val = strtoull(value, &end, 10);
		err = errno || *digit < '0' || *digit > '9' || *end != '\n' ? -EINVAL : 0;
	}
	free(line);
	fclose(f);
	if (err)
		fprintf(stderr, "%s: no \"%s:\" line\n", path, key);
	return err;
}

int helper_state_value(const char *key, uint64_t *val)
{
	return helper_file_value("state", key, val);
}

/*
 * The helper prints a negative epoch_start after a new epoch began at a cut;
 * strtoull takes it modulo 2^64, and every sum with it wraps back.
 */
int kernel_offset(uint64_t *offset)
{
	*offset = 0;
	return helper_present() ? helper_state_value("epoch_start", offset) : 0;
}

int kernel_head(uint64_t *head)
{
	uint64_t trimmed, offset;
	int err;

	*head = 0;
	if (!helper_present())
		return 0;	/* nothing trimmed, or see head_from_aggregate */
	err = helper_state_value("trimmed", &trimmed);
	if (!err)
		err = kernel_offset(&offset);
	if (!err)
		*head = trimmed + offset;
	return err;
}

int kernel_count_since_boot(uint64_t *count)
{
	char path[512];
	int err;

	securityfs_file(path, sizeof(path), "ima", "runtime_measurements_count");
	err = read_u64_file(path, count);
	if (err)
		fprintf(stderr, "cannot read %s: %s\n", path, strerror(-err));
	return err;
}

int kernel_count(uint64_t *count)
{
	uint64_t offset;
	int err = kernel_count_since_boot(count);

	err = err ?: kernel_offset(&offset);
	if (!err)
		*count += offset;
	return err;
}

/*
 * Where the list starts when the helper is not loaded (unloaded after a
 * trim): every trim appends a snapshot_aggregate that records the list's new
 * head, so the newest one in the list tells; none: nothing was trimmed.
 */
static uint64_t head_from_aggregate(struct kernel_log *kl)
{
	struct aggregate agg;
	uint64_t index;

	kl->first = 0;
	if (aggregate_latest(kl, &agg, &index) || agg.trimmed > UINT64_MAX - kl->count)
		return 0;
	return agg.trimmed;
}

/*
 * IMA's count keeps every entry since boot, so a list shorter than it was
 * trimmed (or grew since it was read: the search below then finds nothing
 * and says 0). Saves that search through the whole list in the common case.
 */
static bool list_was_trimmed(const struct kernel_log *kl)
{
	char path[512];
	uint64_t count;

	securityfs_file(path, sizeof(path), "ima", "runtime_measurements_count");
	return read_u64_file(path, &count) || count > kl->count;
}

int kernel_log_read(struct kernel_log *kl)
{
	uint64_t before, after;
	char path[512];
	size_t tail;
	int err;

	memset(kl, 0, sizeof(*kl));
	securityfs_file(path, sizeof(path), "ima", "binary_runtime_measurements");
	/* A trim between the two reads of "trimmed" would shift the indexes */
	do {
		kernel_log_free(kl);
		err = kernel_head(&before);
		if (!err)
			err = read_file(path, &kl->raw);
		if (!err)
			err = kernel_head(&after);
		if (err) {
			fprintf(stderr, "cannot read %s: %s\n", path, strerror(-err));
			return err;
		}
	} while (before != after);
	kl->first = before;
	err = log_index(kl->raw.data, kl->raw.len, &kl->offsets, &kl->count, &tail);
	if (!err && tail)
		err = -EINVAL;
	if (err) {
		fprintf(stderr, "%s: unexpected layout, not IMA's binary format\n", path);
		kernel_log_free(kl);
		return err;
	}
	if (!helper_present() && list_was_trimmed(kl))
		kl->first = head_from_aggregate(kl);
	return 0;
}

void kernel_log_free(struct kernel_log *kl)
{
	buf_free(&kl->raw);
	free(kl->offsets);
	kl->offsets = NULL;
	kl->count = 0;
}

const uint8_t *kernel_log_bytes(const struct kernel_log *kl, uint64_t index,
				size_t *len)
{
	size_t off, end;

	if (index < kl->first || index - kl->first >= kl->count)
		return NULL;
	off = kl->offsets[index - kl->first];
	end = index - kl->first + 1 < kl->count ?
	      kl->offsets[index - kl->first + 1] : kl->raw.len;
	*len = end - off;
	return kl->raw.data + off;
}

int kernel_log_get(const struct kernel_log *kl, uint64_t index,
		   struct log_record *rec)
{
	const uint8_t *bytes;
	size_t len;

	bytes = kernel_log_bytes(kl, index, &len);
	if (!bytes)
		return -ENOENT;
	return log_parse(bytes, len, rec, NULL) > 0 ? 0 : -EINVAL;
}
