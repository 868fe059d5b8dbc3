/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The snapshot_aggregate record's layout (docs/formats.md, "The snapshot_aggregate
 * entry") and the little-endian reads it takes: one copy, for the parser
 * (snapshot.c) and the fuzzer that checks it (test/fuzz/fuzz_aggregate.c).
 */
#ifndef IMASNAP_SNAPSHOT_FORMAT_H
#define IMASNAP_SNAPSHOT_FORMAT_H

#include <stdint.h>

#define AGG_MAGIC	"imasnap"	/* 8 bytes with its NUL */
#define AGG_VERSION_1	1	/* offset 60: reserved 0; non-zero head: head set */
#define AGG_VERSION_2	2	/* offset 60: flags */
#define AGG_HEAD_SET	0x1
#define AGG_HEADER_SIZE	64
#define AGG_BANK_SIZE	8
#define AGG_BANK_UNAVAILABLE 0x1

static inline uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static inline uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static inline uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

#endif /* IMASNAP_SNAPSHOT_FORMAT_H */
