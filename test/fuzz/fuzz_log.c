// SPDX-License-Identifier: GPL-2.0-only
/*
 * The binary measurement log of every template (user/log.c), as read from a
 * store or from the kernel: ima-ng, ima-sig, ima-buf, the legacy ima (no
 * data length) and custom formats. Invariants:
 * - log_index and record-by-record log_parse agree, and the records' sizes
 *   plus the torn tail add up to the input;
 * - a record parses the same in a buffer of exactly its size (ASan sees any
 *   read past it), and every proper prefix of it is a torn tail (0), never
 *   garbage;
 * - log_encode of what was parsed gives back the record's bytes;
 * - its ascii line and the bytes its template digest hashes can be made.
 */
#include "fuzz.h"
#include "log.h"
#include "kernel_log.h"
#include "replay.h"
#include "snapshot.h"

#define LEGACY_HDR	(LOG_SHA1_SIZE + 4)

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static void check_prefixes(const uint8_t *bytes, size_t size)
{
	struct log_record rec;
	size_t len, step = size <= 512 ? 1 : size / 61;
	uint8_t *copy;

	for (len = 0; len < size; len += (len + step < size ? step : size - 1 - len ?: 1)) {
		copy = fuzz_dup(bytes, len);
		FUZZ_ASSERT(log_parse(copy, len, &rec, NULL) == 0);
		free(copy);
	}
}

/* encode(decode(record)) == record */
static void check_encode(const uint8_t *bytes, const struct log_record *rec)
{
	struct buf out = { 0 }, fields = { 0 };
	char name[LOG_NAME_MAX + 1];
	const uint8_t *event;
	uint32_t event_len;
	uint8_t len[4];

	memcpy(name, rec->name, rec->name_len);
	name[rec->name_len] = '\0';
	if (!log_is_legacy(rec)) {
		FUZZ_ASSERT(!log_encode(&out, rec->pcr, rec->digest, name, rec->data,
					rec->data_len));
		goto compare;
	}
	/* the legacy template's fields in memory: d, and n with its NUL */
	event = rec->data + LEGACY_HDR;
	event_len = rec->data_len - LEGACY_HDR;
	if (memchr(event, '\0', event_len))
		return;	/* the kernel never logs a NUL in an event name */
	le32(len, LOG_SHA1_SIZE);
	FUZZ_ASSERT(!buf_append(&fields, len, 4) &&
		    !buf_append(&fields, rec->data, LOG_SHA1_SIZE));
	le32(len, event_len + 1);
	FUZZ_ASSERT(!buf_append(&fields, len, 4) &&
		    !buf_append(&fields, event, event_len) &&
		    !buf_append(&fields, "", 1));
	FUZZ_ASSERT(!log_encode(&out, rec->pcr, rec->digest, name, fields.data, fields.len));
compare:
	FUZZ_ASSERT(out.len == rec->size && !memcmp(out.data, bytes, rec->size));
	buf_free(&out);
	buf_free(&fields);
}

static void check_forms(const struct log_record *rec)
{
	struct buf out = { 0 };
	struct aggregate agg;
	char head[8];

	FUZZ_ASSERT(!log_format_ascii(rec, &out));
	FUZZ_ASSERT(out.len > 2 + 1 + 40 + 1 + rec->name_len && out.data[out.len - 1] == '\n');
	snprintf(head, sizeof(head), "%2u ", rec->pcr);
	FUZZ_ASSERT(!memcmp(out.data, head, strlen(head)));
	out.len = 0;
	FUZZ_ASSERT(!log_hashed_bytes(rec, &out));
	FUZZ_ASSERT(out.len == (log_is_legacy(rec) ? LOG_SHA1_SIZE + LOG_LEGACY_NAME_PAD :
				rec->data_len));
	buf_free(&out);
	replay_check_digest(rec);
	aggregate_parse(rec, &agg);	/* fuzz_aggregate checks the results */
}

static void check_record(const uint8_t *bytes, const struct log_record *rec)
{
	struct log_record again;
	uint8_t *copy = fuzz_dup(bytes, rec->size);

	FUZZ_ASSERT(log_parse(copy, rec->size, &again, NULL) == (ssize_t)rec->size);
	FUZZ_ASSERT(again.pcr == rec->pcr && again.name_len == rec->name_len &&
		    again.data_len == rec->data_len &&
		    !memcmp(again.digest, rec->digest, LOG_SHA1_SIZE));
	FUZZ_ASSERT(rec->pcr < REPLAY_NR_PCRS && rec->name_len >= 1 &&
		    (const uint8_t *)rec->name > bytes && rec->data >= (const uint8_t *)rec->name &&
		    rec->data + rec->data_len <= bytes + rec->size);
	check_prefixes(copy, rec->size);
	check_encode(copy, &again);
	check_forms(&again);
	free(copy);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, tail = 0, *offsets = NULL;
	struct log_record rec;
	uint64_t count = 0, n = 0;
	int indexed;
	ssize_t got = 0;

	indexed = log_index(data, size, &offsets, &count, &tail);
	while (off < size) {
		got = log_parse(data + off, size - off, &rec, NULL);
		if (got <= 0)
			break;
		FUZZ_ASSERT((size_t)got == rec.size && (size_t)got <= size - off);
		FUZZ_ASSERT(indexed || (n < count && offsets[n] == off));
		check_record(data + off, &rec);
		off += got;
		n++;
	}
	/* garbage anywhere fails the whole index; else it is every record */
	FUZZ_ASSERT(got >= 0 || got == -EINVAL);
	FUZZ_ASSERT(got < 0 ? indexed == -EINVAL :
		    !indexed && count == n && tail == size - off);
	free(offsets);
	return 0;
}
