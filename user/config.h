/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loader's configuration file (/etc/imasnap/imasnap.conf): one
 * `key = value` a line, `#` starts a comment line, blank lines are ignored.
 * Every key maps to one imasnap-load option (imasnap-load(8)); options on
 * the command line override the file. Anything else is an error that names
 * FILE:LINE, and the loader then starts nothing.
 */
#ifndef IMASNAP_CONFIG_H
#define IMASNAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

#define CONFIG_DEFAULT_PATH	"/etc/imasnap/imasnap.conf"
#define CONFIG_MAX_SIZE		(64 << 10)	/* a config file is small */
#define CONFIG_LINE_MAX		1024
#define CONFIG_GROUP_MAX	32		/* useradd's limit on a name */

/* The loader's defaults (imasnap-load(8)); the unit tests and fuzzers use them too */
#define CONFIG_DEFAULT_RING_SIZE	(4 << 20)
#define CONFIG_DEFAULT_SNAPSHOT_ENTRIES	10000
#define CONFIG_DEFAULT_SNAPSHOT_BYTES	(4 << 20)
#define CONFIG_DEFAULT_SNAPSHOT_KMEM	(1 << 20)

/* A struct config holding the defaults, as an initializer */
#define CONFIG_DEFAULTS {						\
	.store_dir = STORE_DEFAULT_DIR,					\
	.ring_size = CONFIG_DEFAULT_RING_SIZE,				\
	.snapshot_entries = CONFIG_DEFAULT_SNAPSHOT_ENTRIES,		\
	.snapshot_bytes = CONFIG_DEFAULT_SNAPSHOT_BYTES,		\
	.snapshot_kmem = CONFIG_DEFAULT_SNAPSHOT_KMEM,			\
}

/* The loader's settings; CONFIG_SET_* bits say which ones the file gave */
struct config {
	char store_dir[CONFIG_LINE_MAX];
	uint64_t ring_size;
	uint64_t snapshot_entries;
	uint64_t snapshot_bytes;
	uint64_t snapshot_kmem;
	bool protect;
	char tcti[CONFIG_LINE_MAX];	/* "": the loader's default TPM */
	char store_group[CONFIG_GROUP_MAX + 1];	/* "": the store is not a group's */
	unsigned int set;
};

enum {
	CONFIG_SET_STORE = 1 << 0,
	CONFIG_SET_RING_SIZE = 1 << 1,
	CONFIG_SET_SNAPSHOT_ENTRIES = 1 << 2,
	CONFIG_SET_SNAPSHOT_BYTES = 1 << 3,
	CONFIG_SET_PROTECT = 1 << 4,
	CONFIG_SET_TCTI = 1 << 5,
	CONFIG_SET_STORE_GROUP = 1 << 6,
	CONFIG_SET_SNAPSHOT_KMEM = 1 << 7,
};

/* A ring size the loader accepts: a power of two from 4096 to 1 GiB */
bool config_ring_size_ok(uint64_t size);
/* A group name: [a-z_][a-z0-9_-]*, at most CONFIG_GROUP_MAX bytes */
bool config_group_ok(const char *name);

/*
 * Parses text (len bytes, NUL bytes refused) into cfg, which holds the
 * defaults on entry; only the keys the text names change. On error: -EINVAL
 * and "FILE:LINE: what is wrong" in err, and cfg unchanged.
 */
int config_parse(const char *text, size_t len, const char *file, struct config *cfg,
		 char *err, size_t err_size);
/* Reads and parses a file: as config_parse, or -errno and err says why */
int config_load(const char *path, struct config *cfg, char *err, size_t err_size);
/* Writes cfg in the file's own format, so the output parses to the same */
void config_print(const struct config *cfg, const char *default_tcti, FILE *f);

#endif /* IMASNAP_CONFIG_H */
