// SPDX-License-Identifier: GPL-2.0-only
/* The loader's counters file */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "status.h"
#include "store.h"

#define STAT_FIELD(name) { #name, offsetof(struct loader_stats, name) }

static const struct {
	const char *key;
	size_t offset;
} stat_fields[] = {
	STAT_FIELD(events), STAT_FIELD(drops), STAT_FIELD(repairs),
	STAT_FIELD(repaired), STAT_FIELD(duplicates), STAT_FIELD(fetched),
	STAT_FIELD(truncated), STAT_FIELD(snapshots), STAT_FIELD(trimmed),
	STAT_FIELD(starts), STAT_FIELD(pid),
};

#define NR_FIELDS (sizeof(stat_fields) / sizeof(stat_fields[0]))

static uint64_t *field(struct loader_stats *st, size_t i)
{
	return (uint64_t *)((char *)st + stat_fields[i].offset);
}

void stats_parse(const char *text, struct loader_stats *st)
{
	char key[32];
	uint64_t val;
	size_t i;
	int n;

	memset(st, 0, sizeof(*st));
	while (sscanf(text, "%31[a-z]: %" SCNu64 "\n%n", key, &val, &n) == 2) {
		for (i = 0; i < NR_FIELDS; i++)
			if (!strcmp(key, stat_fields[i].key))
				*field(st, i) = val;
		text += n;
	}
}

int stats_format(const struct loader_stats *st, char *out, size_t size)
{
	struct loader_stats copy = *st;
	size_t i, len = 0;
	int n;

	for (i = 0; i < NR_FIELDS; i++, len += n) {
		n = snprintf(out + len, size - len, "%s: %" PRIu64 "\n", stat_fields[i].key,
			     *field(&copy, i));
		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
	}
	return len;
}

int stats_load(const char *dir, struct loader_stats *st)
{
	char path[4200], text[STATS_TEXT_MAX];
	size_t len;
	FILE *f;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/%s", dir, LOADER_STATE_NAME);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	stats_parse(text, st);
	return 0;
}

/*
 * Replaced whole: a temporary file (never through a symlink), synced, renamed
 * over the old one, and the directory synced
 */
int stats_save(const char *dir, const struct loader_stats *st)
{
	static const char tmp[] = LOADER_STATE_NAME ".tmp";
	char text[STATS_TEXT_MAX];
	int dirfd, fd = -1, err = 0, len;
	FILE *f = NULL;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    STORE_FILE_MODE);
	f = fd >= 0 && !store_file_access(fd) ? fdopen(fd, "w") : NULL;
	if (!f) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	len = stats_format(st, text, sizeof(text));
	if (len < 0 || fwrite(text, 1, len, f) != (size_t)len)
		err = -EIO;
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && (renameat(dirfd, tmp, dirfd, LOADER_STATE_NAME) || fsync(dirfd)))
		err = -errno;
	if (err)
		unlinkat(dirfd, tmp, 0);
out:
	close(dirfd);
	return err;
}
