// SPDX-License-Identifier: GPL-2.0-only
/*
 * The snapshot_aggregate record (user/snapshot.c: aggregate_parse), whose
 * layout docs/formats.md documents ("The snapshot_aggregate entry"). Input: u8
 * mode | bytes. Mode bit 0 set: the bytes are the record's buf field, put in
 * an ima-buf record named snapshot_aggregate as the helper logs it; clear:
 * the bytes are a binary log, and every record in it is tried (and the
 * newest aggregate looked up as `imasnap` does). Invariants, on success:
 * - the length is 64 + 8 nr_banks + nr_pcrs (4 + the banks' digest sizes),
 *   docs/formats.md's rule ("a parser must reject any other length");
 * - header fields, banks and every PCR value are the ones in the buf, PCRs
 *   ascending; a bank flagged unavailable has no values;
 * - aggregate_latest finds the last record that is an aggregate.
 */
#include "fixtures.h"
#include "fuzz.h"
#include "kernel_log.h"
#include "log.h"
#include "snapshot.h"
#include "snapshot_format.h"

static void check_aggregate(const uint8_t *buf, uint32_t len, const struct aggregate *agg)
{
	unsigned int nr_banks = le16(buf + 12), nr_pcrs = le16(buf + 14), b, n;
	const uint8_t *p = buf + AGG_HEADER_SIZE + AGG_BANK_SIZE * nr_banks;
	size_t record = 4, size;
	uint64_t trimmed = 0;
	uint32_t pcr;

	FUZZ_ASSERT(len >= AGG_HEADER_SIZE + AGG_BANK_SIZE * nr_banks);
	for (b = 0; b < nr_banks; b++)
		record += le16(buf + AGG_HEADER_SIZE + AGG_BANK_SIZE * b + 2);
	FUZZ_ASSERT(len == AGG_HEADER_SIZE + AGG_BANK_SIZE * nr_banks + nr_pcrs * record);
	for (n = 0; n < 8; n++)
		trimmed |= (uint64_t)buf[32 + n] << (8 * n);
	FUZZ_ASSERT(agg->trimmed == trimmed && !memcmp(agg->epoch, buf + 16, 16) &&
		    !memcmp(agg->head, buf + 40, LOG_SHA1_SIZE));
	FUZZ_ASSERT(agg->base.nr_banks == (int)nr_banks &&
		    (unsigned int)__builtin_popcount(agg->base.pcrs_used) == nr_pcrs);
	for (b = 0; b < nr_banks; b++) {
		const uint8_t *t = buf + AGG_HEADER_SIZE + AGG_BANK_SIZE * b;

		FUZZ_ASSERT(agg->base.bank[b].alg_id == le16(t));
		FUZZ_ASSERT(agg->base.bank[b].size == 0 ||
			    (!(le16(t + 4) & 1) && agg->base.bank[b].size == le16(t + 2)));
	}
	for (n = 0; n < nr_pcrs; n++) {
		pcr = le32(p);
		FUZZ_ASSERT(pcr < REPLAY_NR_PCRS && (agg->base.pcrs_used & (1u << pcr)));
		FUZZ_ASSERT(!n || pcr > le32(p - record));
		p += 4;
		for (b = 0; b < nr_banks; b++) {
			size = agg->base.bank[b].size;
			FUZZ_ASSERT(!memcmp(agg->base.bank[b].pcr[pcr], p, size));
			p += le16(buf + AGG_HEADER_SIZE + AGG_BANK_SIZE * b + 2);
		}
	}
}

/* The buf field of an ima-buf record, as aggregate_parse takes it */
static void check_record(const struct log_record *rec, struct aggregate *agg, int err)
{
	const uint8_t *p = rec->data;
	uint32_t len;
	int i;

	if (err)
		return;
	for (i = 0; i < 2; i++)
		p += 4 + le32(p);
	len = le32(p);
	check_aggregate(p + 4, len, agg);
}

static void fuzz_buf(const uint8_t *buf, size_t len)
{
	static const uint8_t digest[32];
	struct buf fields = { 0 }, record = { 0 };
	uint8_t sha1[LOG_SHA1_SIZE] = { 1 };
	struct log_record rec;
	struct aggregate agg;
	int err;

	fx_ng_fields(&fields, "sha256", digest, sizeof(digest), AGGREGATE_EVENT_NAME);
	fx_field(&fields, buf, len);
	fx_record(&record, 10, sha1, "ima-buf", &fields);
	FUZZ_ASSERT(log_parse(record.data, record.len, &rec, NULL) == (ssize_t)record.len);
	err = aggregate_parse(&rec, &agg);
	FUZZ_ASSERT(err == 0 || err == -EINVAL);
	check_record(&rec, &agg, err);
	buf_free(&fields);
	buf_free(&record);
}

static void fuzz_log(const uint8_t *data, size_t len, uint64_t first)
{
	struct kernel_log kl = { .first = first };
	struct log_record rec;
	struct aggregate agg;
	uint64_t i, index, last = UINT64_MAX;
	size_t tail;
	int err, last_err = -ENOENT;

	if (log_index(data, len, &kl.offsets, &kl.count, &tail))
		return;
	FUZZ_ASSERT(!buf_append(&kl.raw, data, len - tail));
	for (i = first; i < first + kl.count; i++) {
		FUZZ_ASSERT(!kernel_log_get(&kl, i, &rec));
		err = aggregate_parse(&rec, &agg);
		FUZZ_ASSERT(err == 0 || err == -EINVAL || err == -ENOENT);
		check_record(&rec, &agg, err);
		if (err != -ENOENT) {
			last = i;
			last_err = err;
		}
	}
	err = aggregate_latest(&kl, &agg, &index);
	FUZZ_ASSERT(err == last_err && (err == -ENOENT || index == last));
	kernel_log_free(&kl);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t mode = fuzz_u8(&in);

	if (mode & 1)
		fuzz_buf(in.p, in.left);
	else
		fuzz_log(in.p, in.left, mode >> 1);
	return 0;
}
