/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Test records, built by hand from the documented layouts (not with
 * log_encode, which they check), and real kernel output.
 */
#ifndef IMASNAP_FIXTURES_H
#define IMASNAP_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "replay.h"

/*
 * Real lines of /sys/kernel/security/ima/ascii_runtime_measurements, as
 * quoted from running kernels: the first one (ima_policy=tcb, no TPM, so a
 * zero boot aggregate) in the linux-integrity thread on boot_aggregate_late,
 * all of them in Keylime's create_runtime_policy tests. Each template digest
 * is sha1 over the template data, which the tests check.
 */
static const char *const real_lines[] = {
	"10 0adefe762c149c7cec19da62f0da1297fcfbffff ima-ng sha256:0000000000000000000000000000000000000000000000000000000000000000 boot_aggregate\n",
	"10 cff3da2ff339a1f07bb0dbcbc0381e794ed09555 ima-ng sha256:3e5e8ad9d8b4dd191413aba6166c7a975c3eab903d1fad77ecfa2d5810d6585c /usr/bin/kmod\n",
	"10 13d5b414e08a45698ce9e3c66545b25ba694046c ima-ng sha256:f51de8688a2903b94016c06f186cf1f053ececd2a88a5f349f29b35a06e94c43 /usr/lib64/ld-linux-x86-64.so.2\n",
	"10 6f3474e730fb7da4bb26cad2d8f5d9d5482735f6 ima-buf sha256:571016c9f57363c80e08dd4346391c4e70227e41b0247b8a3aa2240a178d3d14 dm_table_load 646d5f76657273696f6e3d342e34362e303b6e616d653d7268656c2d726f6f742c757569643d4c564d2d79543538654c3268616470746a55396c565131573078315035544679454e35627450416b375963386779586633446667647a6a7554466b4a39503661746868582c6d616a6f723d3235332c6d696e6f723d302c6d696e6f725f636f756e743d312c6e756d5f746172676574733d313b7461726765745f696e6465783d302c7461726765745f626567696e3d302c7461726765745f6c656e3d3133333133363338342c7461726765745f6e616d653d6c696e6561722c7461726765745f76657273696f6e3d312e342e302c6465766963655f6e616d653d3235323a332c73746172743d37333234363732303b\n",
};
#define NR_REAL_LINES	(sizeof(real_lines) / sizeof(real_lines[0]))

/*
 * The legacy "ima" template's boot_aggregate with a zero boot aggregate:
 * sha1(20 zero bytes | "boot_aggregate" zero-padded to 256 bytes), computed
 * apart from this code (python hashlib).
 */
#define LEGACY_ZERO_BOOT_AGGREGATE_SHA1 "719de8e521439498e9b77f6ed41e230b9821111e"

static inline void fx_le32(struct buf *b, uint32_t v)
{
	uint8_t le[4] = { v, v >> 8, v >> 16, v >> 24 };

	if (buf_append(b, le, sizeof(le)))
		abort();
}

static inline void fx_bytes(struct buf *b, const void *p, size_t len)
{
	if (buf_append(b, p, len))
		abort();
}

/* One template field as IMA holds it in memory: u32 len | bytes */
static inline void fx_field(struct buf *b, const void *p, uint32_t len)
{
	fx_le32(b, len);
	fx_bytes(b, p, len);
}

/* Decodes hex[0..2*len) into out; returns the byte count */
static inline size_t fx_unhex(const char *hex, size_t hex_len, uint8_t *out)
{
	size_t i;
	unsigned int v;

	for (i = 0; i + 1 < hex_len; i += 2) {
		if (sscanf(hex + i, "%2x", &v) != 1)
			abort();
		out[i / 2] = v;
	}
	return hex_len / 2;
}

/* d-ng ("algo:\0digest") then n-ng ("name\0"), as the kernel builds them */
static inline void fx_ng_fields(struct buf *b, const char *algo,
				const uint8_t *digest, size_t digest_len,
				const char *name)
{
	size_t algo_len = strlen(algo);

	fx_le32(b, algo_len + 2 + digest_len);
	fx_bytes(b, algo, algo_len);
	fx_bytes(b, ":", 2);	/* ':' and its NUL */
	fx_bytes(b, digest, digest_len);
	fx_field(b, name, strlen(name) + 1);
}

/* A non-legacy binary record, byte by byte from log.h's layout */
static inline void fx_record(struct buf *b, uint32_t pcr,
			     const uint8_t *sha1, const char *template,
			     const struct buf *fields)
{
	fx_le32(b, pcr);
	fx_bytes(b, sha1, LOG_SHA1_SIZE);
	fx_field(b, template, strlen(template));
	fx_field(b, fields->data, fields->len);
}

/* A real line split into what IMA holds in memory */
struct fixture {
	uint32_t pcr;
	uint8_t sha1[LOG_SHA1_SIZE];
	char template[32];
	struct buf fields;
};

/* Parses "PCR SHA1 ima-ng|ima-buf ALGO:HEX NAME [BUFHEX]\n" */
static inline void fx_from_line(const char *line, struct fixture *fx)
{
	char sha1[41], algo[16], digest[129], name[256], bufhex[1024];
	uint8_t bytes[512];
	size_t len;
	int n;

	memset(fx, 0, sizeof(*fx));
	bufhex[0] = '\0';
	n = sscanf(line, "%u %40s %31s %15[^:]:%128s %255s %1023s", &fx->pcr,
		   sha1, fx->template, algo, digest, name, bufhex);
	if (n < 6)
		abort();
	fx_unhex(sha1, 40, fx->sha1);
	len = fx_unhex(digest, strlen(digest), bytes);
	fx_ng_fields(&fx->fields, algo, bytes, len, name);
	if (!strcmp(fx->template, "ima-buf")) {
		len = fx_unhex(bufhex, strlen(bufhex), bytes);
		fx_field(&fx->fields, bytes, len);
	}
}

/*
 * A snapshot_aggregate record, from docs/formats.md's layout: ima-buf with
 * d-ng = sha256(buf), n-ng = "snapshot_aggregate", buf = the header (version
 * and the word at offset 60 as given), one bank table entry per bank of
 * base and one PCR record per PCR base->pcrs_used names. Its SHA-1 template
 * digest is that of its template data, as IMA's would be.
 */
static inline void fx_aggregate(struct buf *out, uint32_t pcr, uint16_t version,
				uint32_t word60, const uint8_t head[LOG_SHA1_SIZE],
				uint64_t trimmed, const struct replay *base)
{
	struct buf agg = {0}, fields = {0};
	uint8_t header[64] = "imasnap", digest[32], sha1[LOG_SHA1_SIZE];
	int b, p, nr_pcrs = 0;

	for (p = 0; p < REPLAY_NR_PCRS; p++)
		nr_pcrs += !!(base->pcrs_used & (1u << p));
	header[8] = version;
	header[10] = 64;
	header[12] = base->nr_banks;
	header[14] = nr_pcrs;
	memset(header + 16, 0xee, 16);
	for (b = 0; b < 8; b++)
		header[32 + b] = trimmed >> (8 * b);
	memcpy(header + 40, head, LOG_SHA1_SIZE);
	for (b = 0; b < 4; b++)
		header[60 + b] = word60 >> (8 * b);
	fx_bytes(&agg, header, sizeof(header));
	for (b = 0; b < base->nr_banks; b++) {
		uint8_t bank[8] = { base->bank[b].alg_id, base->bank[b].alg_id >> 8,
				    base->bank[b].size, base->bank[b].size >> 8 };

		fx_bytes(&agg, bank, sizeof(bank));
	}
	for (p = 0; p < REPLAY_NR_PCRS; p++) {
		if (!(base->pcrs_used & (1u << p)))
			continue;
		fx_le32(&agg, p);
		for (b = 0; b < base->nr_banks; b++)
			fx_bytes(&agg, base->bank[b].pcr[p], base->bank[b].size);
	}
	if (!EVP_Digest(agg.data, agg.len, digest, NULL, EVP_sha256(), NULL))
		abort();
	fx_ng_fields(&fields, "sha256", digest, sizeof(digest), "snapshot_aggregate");
	fx_field(&fields, agg.data, agg.len);
	if (!EVP_Digest(fields.data, fields.len, sha1, NULL, EVP_sha1(), NULL))
		abort();
	fx_record(out, pcr, sha1, "ima-buf", &fields);
	buf_free(&agg);
	buf_free(&fields);
}

#endif /* IMASNAP_FIXTURES_H */
