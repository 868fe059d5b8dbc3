/* SPDX-License-Identifier: GPL-2.0-only */
/* The protection maps' keys and values, shared by bpf/protect.bpf.c and user/protect.c */
#ifndef IMASNAP_PROTECT_H
#define IMASNAP_PROTECT_H

/* What a protected inode is; the hooks treat each kind as its comment says */
enum protect_kind {
	PROTECT_NONE = 0,
	PROTECT_FILE = 1,	/* the log: no write, truncate, unlink, rename, attr change */
	PROTECT_DIR = 2,	/* store or pin directory: the same, for it and every entry in it */
	PROTECT_EXE = 3,	/* the loader's executable: as a FILE, and exec makes a loader */
};

/*
 * The store directory, its log, the pin directory and the loader's
 * executable: four inodes, with room to spare. Identified by the device
 * number and inode number, which stat(2) and the kernel agree on for every
 * file system a store lives on (the loader checks it on start); a protected
 * inode cannot be unlinked, so its number cannot be reused while protected.
 */
#define PROTECT_MAX_INODES	8

struct protect_inode {
	unsigned long long dev;		/* the kernel's sb->s_dev (MKDEV encoding) */
	unsigned long long ino;
	unsigned int kind;		/* enum protect_kind; 0: unused slot */
	unsigned int pad;
};

struct protect_table {
	struct protect_inode inode[PROTECT_MAX_INODES];
};

/* BPF object kinds: prog, map and link ids are allocated separately */
enum protect_id_kind {
	PROTECT_ID_PROG = 1,
	PROTECT_ID_MAP = 2,
	PROTECT_ID_LINK = 3,
};

/* Owner of a guarded object id: the protection itself, or the capture programs */
enum protect_owner {
	PROTECT_OWNER_SELF = 1,		/* lives as long as the protection pins */
	PROTECT_OWNER_CAPTURE = 2,	/* replaced by each loader start */
};

struct protect_id {
	unsigned int kind;		/* enum protect_id_kind */
	unsigned int id;
};

/* Counters the tests and the loader read */
struct protect_stats {
	unsigned long long denied;	/* operations refused */
	unsigned long long loader_seen;	/* protected opens by a loader: the self-check */
	unsigned long long loaders_marked;	/* execs recognised as the loader */
	unsigned long long loaders_refused;	/* loader execs refused (traced, LD_* env) */
};

#endif /* IMASNAP_PROTECT_H */
