// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of aggregate_parse (user/snapshot.c): the snapshot_aggregate record
 * as docs/formats.md documents it and kernel-helper/aggregate.c writes it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "log.h"
#include "replay.h"
#include "snapshot.h"
#include "unit.h"

/*
 * A real one: the ascii line of the helper's first trim in the test guest
 * (ima-ng, four banks, PCR 10), and the base values its state file showed
 */
static const char real_aggregate[] =
	"10 b4c55e7474f9f53e496cdd6cea6160898c3629ec ima-buf sha256:31cdff12a451e31eed74eb8005291bf5cef8cf97dd8bf9789b8880dd0e9d3582 snapshot_aggregate 696d61736e6170000100400004000100257eb0d671e5df295c51e056946262e50100000000000000fe363ad5a8a4d980a04e8410ebcece9660f0b4350000000004001400000000000b002000000000000c003000000000000d004000000000000a0000000b97263d981286d73a87d76db00525233f095ad6b3f25f45c27b5542ad0cc2bf30e628df3aabb1e2c7fbda2b086e2722b538aec70f0b1c660306aa9d6cd0e49570c8dca84d99d013e2d4be88c309ebc72614d825c816de03ed1fb4b3a22866cb6390f58bafc17385713083fa17661f71a628760184b50739ceea894cbde8a3cc6ab1441c81d2231e37a71ea86bb24fdec5d442c9db0d16def222fd00e9bb100cb499c543\n";
static const char real_sha256_base[] =
	"b3f25f45c27b5542ad0cc2bf30e628df3aabb1e2c7fbda2b086e2722b538aec7";

static void le16(struct buf *b, uint16_t v)
{
	uint8_t le[2] = { v, v >> 8 };

	fx_bytes(b, le, sizeof(le));
}

/* Header of a version 1 buf: 64 bytes */
static void header(struct buf *b, uint16_t nr_banks, uint16_t nr_pcrs, uint64_t trimmed)
{
	static const uint8_t zero[20];
	uint8_t epoch[16];

	memset(epoch, 0xe5, sizeof(epoch));
	fx_bytes(b, "imasnap", 8);
	le16(b, 1);
	le16(b, 64);
	le16(b, nr_banks);
	le16(b, nr_pcrs);
	fx_bytes(b, epoch, sizeof(epoch));
	fx_le32(b, trimmed);
	fx_le32(b, trimmed >> 32);
	fx_bytes(b, zero, 20);	/* head */
	fx_le32(b, 0);		/* reserved */
}

static void bank(struct buf *b, uint16_t alg, uint16_t size, uint16_t flags)
{
	le16(b, alg);
	le16(b, size);
	le16(b, flags);
	le16(b, 0);
}

/* The buf in an ima-buf record named snapshot_aggregate; parsed into agg */
static int parse_buf(const struct buf *agg_buf, struct aggregate *agg)
{
	static const uint8_t digest[32];
	uint8_t sha1[LOG_SHA1_SIZE] = { 1 };
	struct buf fields = { 0 }, record = { 0 };
	struct log_record rec;
	int err = -EIO;

	fx_ng_fields(&fields, "sha256", digest, sizeof(digest), AGGREGATE_EVENT_NAME);
	fx_field(&fields, agg_buf->data, agg_buf->len);
	fx_record(&record, 10, sha1, "ima-buf", &fields);
	if (log_parse(record.data, record.len, &rec, NULL) == (ssize_t)record.len)
		err = aggregate_parse(&rec, agg);
	buf_free(&fields);
	buf_free(&record);
	return err;
}

static void test_real_aggregate(void)
{
	struct buf record = { 0 };
	struct log_record rec;
	struct aggregate agg;
	struct fixture fx;
	uint8_t want[32];
	const struct replay_bank *b;

	fx_from_line(real_aggregate, &fx);
	fx_record(&record, fx.pcr, fx.sha1, fx.template, &fx.fields);
	CHECK_INT(log_parse(record.data, record.len, &rec, NULL), record.len);
	CHECK_INT(replay_check_digest(&rec), 0);
	CHECK_INT(aggregate_parse(&rec, &agg), 0);
	CHECK_INT(agg.trimmed, 1);
	CHECK_INT(agg.base.nr_banks, 4);
	CHECK_INT(agg.base.pcrs_used, 1u << 10);
	fx_unhex(real_sha256_base, 64, want);
	b = replay_find_bank(&agg.base, ALG_SHA256);
	CHECK(b && b->size == 32 && !memcmp(b->pcr[10], want, 32));
	buf_free(&record);
	buf_free(&fx.fields);
}

/*
 * The helper lists every bank of the TPM, also one whose algorithm this
 * program does not know (0x0027, SHA3-256): its values are skipped by the
 * table's digest size and the banks after it still read right. Before the
 * fix the parser took such a bank's size from its own table (0) and
 * rejected the whole aggregate.
 */
static void test_unknown_bank_is_skipped(void)
{
	struct buf b = { 0 };
	struct aggregate agg;
	const struct replay_bank *sha256;
	uint8_t sha1_v[20], sha3_v[32], sha256_v[32];

	memset(sha1_v, 0x11, sizeof(sha1_v));
	memset(sha3_v, 0x33, sizeof(sha3_v));
	memset(sha256_v, 0x25, sizeof(sha256_v));
	header(&b, 3, 1, 7);
	bank(&b, ALG_SHA1, 20, 0);
	bank(&b, 0x0027, 32, 0);
	bank(&b, ALG_SHA256, 32, 0);
	fx_le32(&b, 10);
	fx_bytes(&b, sha1_v, 20);
	fx_bytes(&b, sha3_v, 32);
	fx_bytes(&b, sha256_v, 32);
	CHECK_INT(parse_buf(&b, &agg), 0);
	CHECK_INT(agg.trimmed, 7);
	CHECK_INT(agg.base.nr_banks, 3);
	CHECK_INT(agg.base.bank[1].size, 0);
	sha256 = replay_find_bank(&agg.base, ALG_SHA256);
	CHECK(sha256 && sha256->size == 32 && !memcmp(sha256->pcr[10], sha256_v, 32));
	/* flagged unavailable: the same */
	b.data[64 + 8 + 4] = 1;
	CHECK_INT(parse_buf(&b, &agg), 0);
	buf_free(&b);
}

/*
 * A bank's digest size in the table must be its algorithm's, unavailable
 * or not, and the length must follow from the table: an unavailable sha256
 * bank that claims size 0 but holds 32 bytes per PCR is malformed (before
 * the fix it was read by the algorithm's size and accepted).
 */
static void test_bank_size_must_match(void)
{
	uint8_t value[32] = { 0 };
	struct aggregate agg;
	struct buf b = { 0 };

	header(&b, 1, 1, 3);
	bank(&b, ALG_SHA256, 0, 1);
	fx_le32(&b, 10);
	fx_bytes(&b, value, 32);
	CHECK_INT(parse_buf(&b, &agg), -EINVAL);
	/* the same with the right size is fine */
	b.data[64 + 2] = 32;
	CHECK_INT(parse_buf(&b, &agg), 0);
	CHECK_INT(agg.base.bank[0].size, 0);
	/* one byte more or less than the table says: malformed */
	fx_bytes(&b, "", 1);
	CHECK_INT(parse_buf(&b, &agg), -EINVAL);
	b.len -= 2;
	CHECK_INT(parse_buf(&b, &agg), -EINVAL);
	buf_free(&b);
}

int main(void)
{
	test_real_aggregate();
	test_unknown_bank_is_skipped();
	test_bank_size_must_match();
	UNIT_DONE();
}
