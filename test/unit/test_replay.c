// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of user/replay.c. Expected PCR values are computed here the plain
 * way, with one-shot EVP_Digest over concatenated bytes, apart from the code
 * under test.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "fixtures.h"
#include "log.h"
#include "replay.h"
#include "unit.h"

static const uint16_t four_banks[] = {
	ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512,
};
#define NR_FOUR_BANKS	4

static const EVP_MD *md_of(uint16_t alg_id)
{
	switch (alg_id) {
	case ALG_SHA1: return EVP_sha1();
	case ALG_SHA256: return EVP_sha256();
	case ALG_SHA384: return EVP_sha384();
	case ALG_SHA512: return EVP_sha512();
	default: return NULL;
	}
}

static void hash(uint16_t alg_id, const void *p, size_t len, uint8_t *out)
{
	if (!EVP_Digest(p, len, out, NULL, md_of(alg_id), NULL))
		abort();
}

/* pcr = H(pcr | digest) */
static void expect_extend(uint16_t alg_id, uint8_t *pcr, const uint8_t *digest)
{
	size_t n = EVP_MD_get_size(md_of(alg_id));
	uint8_t both[2 * REPLAY_MAX_DIGEST];

	memcpy(both, pcr, n);
	memcpy(both + n, digest, n);
	hash(alg_id, both, 2 * n, pcr);
}

/* pcr extended with a record whose template data is data[len] */
static void expect_record(uint16_t alg_id, uint8_t *pcr, const uint8_t *data,
			  size_t len)
{
	uint8_t digest[REPLAY_MAX_DIGEST];

	hash(alg_id, data, len, digest);
	expect_extend(alg_id, pcr, digest);
}

/* Records live in one buffer per test; rec points into it */
static void make_record(struct buf *b, struct log_record *rec, uint32_t pcr,
			const char *path, bool violation)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	uint8_t file_digest[32], sha1[LOG_SHA1_SIZE];
	struct buf fields = { 0 };

	memset(file_digest, violation ? 0 : path[0], sizeof(file_digest));
	fx_ng_fields(&fields, "sha256", file_digest, 32, path);
	hash(ALG_SHA1, fields.data, fields.len, sha1);
	b->len = 0;
	fx_record(b, pcr, violation ? zero : sha1, "ima-ng", &fields);
	if (log_parse(b->data, b->len, rec, NULL) != (ssize_t)b->len)
		abort();
	buf_free(&fields);
}

static bool pcr_is(const struct replay *r, uint16_t alg_id, unsigned int pcr,
		   const uint8_t *want)
{
	const struct replay_bank *bank = replay_find_bank(r, alg_id);

	return bank && !memcmp(bank->pcr[pcr], want, bank->size);
}

static void test_one_record_every_bank(void)
{
	struct buf b = { 0 };
	struct log_record rec;
	struct replay r;
	uint8_t want[REPLAY_MAX_DIGEST];
	int i;

	CHECK_INT(replay_init(&r, four_banks, NR_FOUR_BANKS), 0);
	make_record(&b, &rec, 10, "/usr/bin/kmod", false);
	CHECK_INT(replay_extend(&r, &rec), 0);
	for (i = 0; i < NR_FOUR_BANKS; i++) {
		memset(want, 0, sizeof(want));
		expect_record(four_banks[i], want, rec.data, rec.data_len);
		CHECK(pcr_is(&r, four_banks[i], 10, want));
		memset(want, 0, sizeof(want));
		CHECK(pcr_is(&r, four_banks[i], 11, want));
	}
	CHECK_INT(r.pcrs_used, 1u << 10);
	CHECK_INT(r.records, 1);
	buf_free(&b);
}

/* The real boot_aggregate: the sha1 bank extends with the logged digest */
static void test_real_boot_aggregate(void)
{
	struct buf b = { 0 };
	struct log_record rec;
	struct fixture fx;
	struct replay r;
	uint8_t want[LOG_SHA1_SIZE] = { 0 };

	fx_from_line(real_lines[0], &fx);
	fx_record(&b, fx.pcr, fx.sha1, fx.template, &fx.fields);
	CHECK_INT(log_parse(b.data, b.len, &rec, NULL), b.len);
	CHECK_INT(replay_init(&r, four_banks, 1), 0);
	CHECK_INT(replay_extend(&r, &rec), 0);
	expect_extend(ALG_SHA1, want, fx.sha1);
	CHECK(pcr_is(&r, ALG_SHA1, 10, want));
	buf_free(&b);
	buf_free(&fx.fields);
}

/* Violations: logged as zeros, extended as 0xff in every bank */
static void test_violation(void)
{
	uint8_t want[REPLAY_MAX_DIGEST], ones[REPLAY_MAX_DIGEST],
		zero[REPLAY_MAX_DIGEST] = { 0 };
	struct buf b = { 0 };
	struct log_record rec;
	struct replay r;
	int i;

	memset(ones, 0xff, sizeof(ones));
	CHECK_INT(replay_init(&r, four_banks, NR_FOUR_BANKS), 0);
	make_record(&b, &rec, 10, "/tmp/tocttou", true);
	CHECK(log_is_violation(&rec));
	CHECK_INT(replay_extend(&r, &rec), 0);
	for (i = 0; i < NR_FOUR_BANKS; i++) {
		memset(want, 0, sizeof(want));
		expect_extend(four_banks[i], want, ones);
		CHECK(pcr_is(&r, four_banks[i], 10, want));
		memset(want, 0, sizeof(want));
		expect_extend(four_banks[i], want, zero);
		CHECK(!pcr_is(&r, four_banks[i], 10, want));
		memset(want, 0, sizeof(want));
		expect_record(four_banks[i], want, rec.data, rec.data_len);
		CHECK(!pcr_is(&r, four_banks[i], 10, want));
	}
	buf_free(&b);
}

/* Records for PCR 11 and 10 (a policy pcr= rule) replay separately */
static void test_separate_pcrs(void)
{
	uint8_t want10[32] = { 0 }, want11[32] = { 0 };
	struct buf b = { 0 };
	struct log_record rec;
	struct replay r;

	CHECK_INT(replay_init(&r, four_banks + 1, 1), 0);
	make_record(&b, &rec, 10, "/b", false);
	CHECK_INT(replay_extend(&r, &rec), 0);
	expect_record(ALG_SHA256, want10, rec.data, rec.data_len);
	make_record(&b, &rec, 11, "/a", false);
	CHECK_INT(replay_extend(&r, &rec), 0);
	expect_record(ALG_SHA256, want11, rec.data, rec.data_len);
	make_record(&b, &rec, 10, "/c", false);
	CHECK_INT(replay_extend(&r, &rec), 0);
	expect_record(ALG_SHA256, want10, rec.data, rec.data_len);
	CHECK(pcr_is(&r, ALG_SHA256, 10, want10));
	CHECK(pcr_is(&r, ALG_SHA256, 11, want11));
	CHECK_INT(r.pcrs_used, (1u << 10) | (1u << 11));
	CHECK_INT(r.records, 3);
	buf_free(&b);
}

/* A snapshot's base values are where replay continues from */
static void test_set_pcr(void)
{
	uint8_t base[48], want[48];
	struct buf b = { 0 };
	struct log_record rec;
	struct replay r;

	memset(base, 0x42, sizeof(base));
	CHECK_INT(replay_init(&r, four_banks, NR_FOUR_BANKS), 0);
	CHECK_INT(replay_set_pcr(&r, ALG_SHA384, 10, base, 48), 0);
	CHECK_INT(replay_set_pcr(&r, ALG_SHA384, 10, base, 32), -EINVAL);
	CHECK_INT(replay_set_pcr(&r, ALG_SHA384, 24, base, 48), -EINVAL);
	CHECK_INT(replay_set_pcr(&r, ALG_SM3_256, 10, base, 32), -ENOENT);
	make_record(&b, &rec, 10, "/x", false);
	CHECK_INT(replay_extend(&r, &rec), 0);
	memcpy(want, base, sizeof(want));
	expect_record(ALG_SHA384, want, rec.data, rec.data_len);
	CHECK(pcr_is(&r, ALG_SHA384, 10, want));
	buf_free(&b);
}

/* An algorithm replay does not know gets size 0 and is left alone */
static void test_unknown_bank(void)
{
	static const uint16_t banks[] = { 0x0099, ALG_SHA256 };
	uint8_t zero[REPLAY_MAX_DIGEST] = { 0 }, want[32] = { 0 };
	struct buf b = { 0 };
	struct log_record rec;
	struct replay r;

	CHECK_INT(alg_digest_size(0x0099), 0);
	CHECK(alg_name(0x0099) == NULL);
	CHECK_STR(alg_name(ALG_SHA384), "sha384");
	CHECK_INT(alg_digest_size(ALG_SHA512), 64);
	CHECK_INT(replay_init(&r, banks, 2), 0);
	CHECK_INT(r.bank[0].size, 0);
	make_record(&b, &rec, 10, "/y", false);
	CHECK_INT(replay_extend(&r, &rec), 0);
	CHECK_MEM(r.bank[0].pcr[10], zero, REPLAY_MAX_DIGEST);
	expect_record(ALG_SHA256, want, rec.data, rec.data_len);
	CHECK(pcr_is(&r, ALG_SHA256, 10, want));
	CHECK_INT(replay_set_pcr(&r, 0x0099, 10, zero, 0), -EINVAL);
	buf_free(&b);
}

/* The legacy template hashes digest | name padded to 256 in every bank */
static void test_legacy(void)
{
	uint8_t hashed[20 + 256] = { 0 }, want[32] = { 0 };
	struct buf b = { 0 }, fields = { 0 };
	uint8_t sha1[LOG_SHA1_SIZE];
	struct log_record rec;
	struct replay r;

	fx_field(&fields, hashed, 20);
	fx_field(&fields, "boot_aggregate", 15);
	fx_unhex(LEGACY_ZERO_BOOT_AGGREGATE_SHA1, 40, sha1);
	CHECK_INT(log_encode(&b, 10, sha1, "ima", fields.data, fields.len), 0);
	CHECK_INT(log_parse(b.data, b.len, &rec, NULL), b.len);
	memcpy(hashed + 20, "boot_aggregate", 14);
	CHECK_INT(replay_init(&r, four_banks + 1, 1), 0);
	CHECK_INT(replay_extend(&r, &rec), 0);
	expect_record(ALG_SHA256, want, hashed, sizeof(hashed));
	CHECK(pcr_is(&r, ALG_SHA256, 10, want));
	buf_free(&b);
	buf_free(&fields);
}

static void test_bad_input(void)
{
	struct log_record rec = { .pcr = 24 };
	struct replay r;

	CHECK_INT(replay_init(&r, four_banks, REPLAY_MAX_BANKS + 1), -EINVAL);
	CHECK_INT(replay_init(&r, four_banks, NR_FOUR_BANKS), 0);
	CHECK_INT(replay_extend(&r, &rec), -EINVAL);
	CHECK_INT(r.records, 0);
	CHECK(replay_find_bank(&r, ALG_SM3_256) == NULL);
}

static const uint8_t *record_of(const void *ctx, uint64_t i, size_t *len)
{
	const struct buf *bufs = ctx;

	*len = bufs[i].len;
	return bufs[i].data;
}

/* what replay_until_match finds in 3 records against a TPM after k of them */
static uint64_t match_after(const struct buf *bufs, uint64_t k, uint64_t counted)
{
	struct replay_pair rp;
	struct log_record rec;
	struct replay tpm;
	uint64_t i, matched = 0;

	CHECK_INT(replay_init(&tpm, four_banks, NR_FOUR_BANKS), 0);
	for (i = 0; i < k; i++) {
		log_parse(bufs[i].data, bufs[i].len, &rec, NULL);
		CHECK_INT(replay_extend(&tpm, &rec), 0);
	}
	CHECK_INT(replay_pair_init(&rp, &tpm), 0);
	CHECK_INT(replay_until_match(&rp, &tpm, record_of, bufs, 0, 3, counted, &matched,
				     stderr), 0);
	return matched;
}

/*
 * The TPM is read after the count: entries counted before it are in it, but
 * for one IMA had counted and not yet extended; later ones may be in it too
 */
static void test_until_match(void)
{
	struct buf bufs[3] = { { 0 } };
	struct log_record rec;
	int i;

	for (i = 0; i < 3; i++)
		make_record(&bufs[i], &rec, 10, i == 0 ? "/a" : i == 1 ? "/b" : "/c", false);
	CHECK_INT(match_after(bufs, 2, 2), 2);
	CHECK_INT(match_after(bufs, 2, 3), 2);		/* the third in flight */
	CHECK_INT(match_after(bufs, 3, 1), 3);		/* measured since the count */
	CHECK_INT(match_after(bufs, 1, 3), UINT64_MAX);	/* two short: not this log */
	for (i = 0; i < 3; i++)
		buf_free(&bufs[i]);
}

int main(void)
{
	test_one_record_every_bank();
	test_real_boot_aggregate();
	test_violation();
	test_separate_pcrs();
	test_set_pcr();
	test_unknown_bank();
	test_legacy();
	test_bad_input();
	test_until_match();
	UNIT_DONE();
}
