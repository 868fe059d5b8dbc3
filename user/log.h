/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IMA's binary_runtime_measurements record format, as the kernel writes it
 * (security/integrity/ima/ima_fs.c: ima_measurements_show), little endian:
 *
 *   u32 pcr | u8 digest[20] | u32 name_len | char name[name_len] |
 *   u32 data_len (absent for the legacy "ima" template) | u8 data[data_len]
 *
 * For every template but "ima", data is the sequence of fields, each
 * "u32 len | bytes", and is also what the template digest hashes. The legacy
 * "ima" template logs "u8 digest[20] | u32 len | name" with no data_len, and
 * hashes "digest[20] | name zero-padded to 256 bytes".
 */
#ifndef IMASNAP_LOG_H
#define IMASNAP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOG_SHA1_SIZE		20
#define LOG_LEGACY_NAME		"ima"
/* IMA_EVENT_NAME_LEN_MAX + 1: the legacy template hashes its name padded to this */
#define LOG_LEGACY_NAME_PAD	256
/* Sanity bounds that reject garbage rather than limit IMA */
#define LOG_NAME_MAX		255
#define LOG_DATA_MAX		(64u << 20)

/* A growable byte buffer */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
/* Appends printf output (no NUL) */
int __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...);
void buf_free(struct buf *b);

/* One parsed record; pointers point into the parsed buffer */
struct log_record {
	uint32_t pcr;
	uint8_t digest[LOG_SHA1_SIZE];	/* template SHA-1 digest; zero: violation */
	const char *name;		/* template name, name_len bytes, no NUL */
	uint32_t name_len;
	const uint8_t *data;		/* template data as logged */
	uint32_t data_len;
	size_t size;			/* bytes of the whole record */
};

/*
 * Parses the record at buf[0..len). Returns its size; 0 when buf holds only
 * the beginning of a record (a torn tail); -EINVAL when the bytes cannot be a
 * record (err, if not NULL, gets a reason).
 */
ssize_t log_parse(const uint8_t *buf, size_t len, struct log_record *rec,
		  const char **err);

/* A well-formed binary record's SHA-1 template digest: after its PCR index */
static inline const uint8_t *log_record_sha1(const uint8_t *record)
{
	return record + sizeof(uint32_t);
}

bool log_is_legacy(const struct log_record *rec);
bool log_is_violation(const struct log_record *rec);

/*
 * Appends a record to out. fields is the template's fields as IMA holds them
 * in memory, each "u32 len | bytes" (what the BPF program copies); for the
 * legacy "ima" template it is converted to the logged form.
 * Returns 0 or -errno (-EINVAL for malformed fields).
 */
int log_encode(struct buf *out, uint32_t pcr,
	       const uint8_t digest[LOG_SHA1_SIZE], const char *name,
	       const uint8_t *fields, size_t fields_len);

/* A piece of the bytes a template digest hashes */
struct log_part {
	const uint8_t *data;
	size_t len;
};
#define LOG_HASHED_PARTS	3

/*
 * The bytes that a bank's template digest hashes, in order, without a copy:
 * the template data, or for the legacy template its digest, name and the
 * name's zero padding. Returns the number of parts.
 */
int log_hashed_parts(const struct log_record *rec, struct log_part parts[LOG_HASHED_PARTS]);

/*
 * Appends to out the bytes that a bank's template digest hashes (the
 * digest itself is H(bytes) for every bank).
 */
int log_hashed_bytes(const struct log_record *rec, struct buf *out);

/* Writes the record in the kernel's ascii_runtime_measurements form */
int log_format_ascii(const struct log_record *rec, struct buf *out);

#endif /* IMASNAP_LOG_H */
