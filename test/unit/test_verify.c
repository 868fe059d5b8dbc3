// SPDX-License-Identifier: GPL-2.0-only
/*
 * What verify accepts as history (user/snapshot.c, user/epoch.c): an epoch
 * base only when it is the one DIR/epoch records, a well-formed aggregate in
 * PCR 10; the store's entries before the kernel's head only when they
 * replay to the base values the kernel holds. The forgery: a fake base plus
 * filler on a resettable PCR in place of the real history.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "epoch.h"
#include "fixtures.h"
#include "kernel_log.h"
#include "log.h"
#include "replay.h"
#include "snapshot.h"
#include "unit.h"

static const uint16_t banks[] = { ALG_SHA1, ALG_SHA256 };

#define MAX_RECORDS 16

/* a log of records by global index: the store's, then the kernel's */
struct log {
	struct buf rec[MAX_RECORDS];
	int n;
};

static const uint8_t *log_record(const void *ctx, uint64_t i, size_t *len)
{
	const struct log *l = ctx;

	if (i >= (uint64_t)l->n)
		return NULL;
	*len = l->rec[i].len;
	return l->rec[i].data;
}

/* an ima-ng record on pcr, its digest its template data's */
static void add_entry(struct log *l, uint32_t pcr, const char *name)
{
	uint8_t file_digest[32], sha1[LOG_SHA1_SIZE];
	struct buf fields = {0};

	memset(file_digest, name[0], sizeof(file_digest));
	fx_ng_fields(&fields, "sha256", file_digest, sizeof(file_digest), name);
	if (!EVP_Digest(fields.data, fields.len, sha1, NULL, EVP_sha1(), NULL))
		abort();
	fx_record(&l->rec[l->n++], pcr, sha1, "ima-ng", &fields);
	buf_free(&fields);
}

static void add_aggregate(struct log *l, uint32_t pcr, uint64_t trimmed, const struct replay *base)
{
	static const uint8_t head[LOG_SHA1_SIZE];

	fx_aggregate(&l->rec[l->n++], pcr, 2, 0, head, trimmed, base);
}

/* the replay of records [0, end) from start, as a base (every PCR listed) */
static void base_after(const struct log *l, uint64_t end, const struct replay *start,
		       struct replay *base)
{
	struct log_record rec;
	uint64_t i;

	*base = *start;
	for (i = 0; i < end; i++)
		if (log_parse(l->rec[i].data, l->rec[i].len, &rec, NULL) <= 0 ||
		    replay_extend(base, &rec))
			abort();
	base->pcrs_used = (1u << REPLAY_NR_PCRS) - 1;
}

/* the kernel's list: records [first, l->n) of the log */
static void kernel_of(const struct log *l, uint64_t first, struct kernel_log *kl)
{
	int i;

	memset(kl, 0, sizeof(*kl));
	kl->first = first;
	kl->offsets = calloc(MAX_RECORDS, sizeof(*kl->offsets));
	for (i = first; i < l->n; i++) {
		kl->offsets[kl->count++] = kl->raw.len;
		fx_bytes(&kl->raw, l->rec[i].data, l->rec[i].len);
	}
}

static void log_free(struct log *l)
{
	while (l->n)
		buf_free(&l->rec[--l->n]);
}

static void digest_of(const struct log *l, uint64_t i, struct epoch_base_id *id)
{
	id->index = i;
	memcpy(id->digest, log_record_sha1(l->rec[i].data), LOG_SHA1_SIZE);
}

/* What a test of the history checks works with: zero values, a start */
struct history_check {
	struct replay_pair zero, start;
	struct kernel_log kl;
	struct aggregate agg;
	struct epoch_base_id id;
	const char *why;
	uint64_t at, bad;
	uint16_t alg;
	int pcr;
};

/* c's zero values, and base's banks (all zero) */
static void history_check_init(struct history_check *c, struct replay *base)
{
	memset(c, 0, sizeof(*c));
	c->why = "";
	if (replay_pair_init_algs(&c->zero, banks, 2) || replay_init(base, banks, 2))
		abort();
}

/*
 * The real history: entries 0..3 trimmed (the store has them), the kernel
 * lists 4, 5 and the trim's aggregate. The forgery replaces 0..3 with a base
 * that gives PCR 10 its value at the head, and filler on PCR 16.
 */
static void test_forged_history(void)
{
	struct log real = {0}, forged = {0};
	struct replay base, fake;
	struct history_check c;

	history_check_init(&c, &base);
	add_entry(&real, 10, "boot_aggregate");
	add_entry(&real, 10, "/etc/a");
	add_entry(&real, 10, "/etc/b");
	add_entry(&real, 10, "/etc/c");
	add_entry(&real, 10, "/etc/d");
	add_entry(&real, 10, "/etc/e");
	base_after(&real, 4, &c.zero.hashed, &base);
	add_aggregate(&real, 10, 4, &base);
	kernel_of(&real, 4, &c.kl);

	/* the real store: no base, and its history gives the kernel's values */
	CHECK_INT(epoch_base_proven(log_record, &real, real.n, NULL, &c.agg, &c.at, &c.why), -ENOENT);
	CHECK_INT(replay_to_kernel_bases(&c.zero, log_record, &real, &c.kl, &c.bad, &c.pcr, &c.alg), 0);

	/* the forgery: a base with PCR 10 at the head's value, filler on PCR 16 */
	fake = base;
	memset(fake.bank[0].pcr[16], 0, sizeof(fake.bank[0].pcr[16]));
	memset(fake.bank[1].pcr[16], 0, sizeof(fake.bank[1].pcr[16]));
	fake.pcrs_used = 1u << 10;
	add_aggregate(&forged, 10, 0, &fake);
	add_entry(&forged, 16, "filler-1");
	add_entry(&forged, 16, "filler-2");
	add_entry(&forged, 16, "filler-3");
	add_entry(&forged, 10, "/etc/d");
	add_entry(&forged, 10, "/etc/e");
	fx_bytes(&forged.rec[forged.n++], real.rec[6].data, real.rec[6].len);
	/* a base DIR/epoch does not record is not taken */
	CHECK_INT(epoch_base_proven(log_record, &forged, forged.n, NULL, &c.agg, &c.at, &c.why),
		  -EBADMSG);
	CHECK_INT(c.at, 0);
	/* nor one recorded elsewhere */
	digest_of(&real, 0, &c.id);
	CHECK_INT(epoch_base_proven(log_record, &forged, forged.n, &c.id, &c.agg, &c.at, &c.why),
		  -EBADMSG);
	/* root rewrote DIR/epoch too: the kernel's base values still refuse it */
	digest_of(&forged, 0, &c.id);
	CHECK_INT(epoch_base_proven(log_record, &forged, forged.n, &c.id, &c.agg, &c.at, &c.why), 0);
	c.start = c.zero;
	CHECK_INT(replay_pair_set_base(&c.start, &c.agg.base), 0);
	CHECK_INT(replay_to_kernel_bases(&c.start, log_record, &forged, &c.kl, &c.bad, &c.pcr, &c.alg),
		  -EBADMSG);
	/* PCR 10 differs first: the fake base extends it itself; PCR 16 by the filler */
	CHECK_INT(c.bad, 6);
	CHECK(c.pcr == 10 || c.pcr == 16);
	kernel_log_free(&c.kl);
	log_free(&real);
	log_free(&forged);
}

/* bases that are no aggregate of the helper's: PCR 16, a violation */
static void test_improper_bases(void)
{
	struct log l = {0};
	struct replay base;
	struct aggregate agg;
	struct epoch_base_id id;
	const char *why = "";
	uint64_t at;

	if (replay_init(&base, banks, 2))
		abort();
	base.pcrs_used = 1u << 10;
	add_aggregate(&l, 16, 0, &base);
	add_entry(&l, 10, "/etc/a");
	digest_of(&l, 0, &id);
	CHECK_INT(epoch_base_proven(log_record, &l, l.n, &id, &agg, &at, &why), -EBADMSG);
	CHECK_STR(why, "the base is not logged in PCR 10");
	log_free(&l);

	add_aggregate(&l, 10, 0, &base);
	memset(l.rec[0].data + 4, 0, LOG_SHA1_SIZE);	/* a violation's digest */
	add_entry(&l, 10, "/etc/a");
	digest_of(&l, 0, &id);
	CHECK_INT(epoch_base_proven(log_record, &l, l.n, &id, &agg, &at, &why), -EBADMSG);
	log_free(&l);

	/* DIR/epoch records a base the log does not hold */
	add_entry(&l, 10, "boot_aggregate");
	id.index = 0;
	CHECK_INT(epoch_base_proven(log_record, &l, l.n, &id, &agg, &at, &why), -EBADMSG);
	CHECK_INT(epoch_base_proven(log_record, &l, l.n, NULL, &agg, &at, &why), -ENOENT);
	log_free(&l);
}

/*
 * A true epoch begun at a cut: its base (recorded) at entry 0, entries 0..2
 * trimmed since; the kernel's aggregate's values are the replay from the base
 */
static void test_epoch_begun_at_a_cut(void)
{
	struct log l = {0};
	struct replay cut, later;
	struct history_check c;

	history_check_init(&c, &cut);
	memset(cut.bank[0].pcr[10], 0x77, 20);
	memset(cut.bank[1].pcr[10], 0x78, 32);
	cut.pcrs_used = 1u << 10;
	add_aggregate(&l, 10, 0, &cut);
	add_entry(&l, 10, "/etc/a");
	add_entry(&l, 11, "/etc/b");
	add_entry(&l, 10, "/etc/c");
	base_after(&l, 3, &cut, &later);
	add_aggregate(&l, 10, 3, &later);
	kernel_of(&l, 3, &c.kl);
	digest_of(&l, 0, &c.id);
	CHECK_INT(epoch_base_proven(log_record, &l, l.n, &c.id, &c.agg, &c.at, &c.why), 0);
	CHECK_INT(c.at, 0);
	c.start = c.zero;
	CHECK_INT(replay_pair_set_base(&c.start, &c.agg.base), 0);
	CHECK_INT(replay_to_kernel_bases(&c.start, log_record, &l, &c.kl, &c.bad, &c.pcr, &c.alg), 0);
	/* replayed from zero instead, the same history does not give them */
	CHECK_INT(replay_to_kernel_bases(&c.zero, log_record, &l, &c.kl, &c.bad, &c.pcr, &c.alg), -EBADMSG);
	CHECK_INT(c.pcr, 10);
	kernel_log_free(&c.kl);
	log_free(&l);
}

static void test_epoch_file(void)
{
	static const char *const bad[] = {
		"",
		"epoch 0123456789abcdef0123456789abcdef\n",
		"boot 0123456789abcdef0123456789abcdef\nepoch 0123456789abcdef0123456789abcdef\n",
		"epoch ../../etc/passwd\nboot 0123456789abcdef0123456789abcdef\n",
		"epoch 0123456789abcdef0123456789abcde\nboot 0123456789abcdef0123456789abcdef\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdeg\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 0123456789ab-cdef-0123-456789abcdef0\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 1\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 01 0000000000000000000000000000000000000000\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 1 000000000000000000000000000000000000000\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase -1 0000000000000000000000000000000000000000\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nextra\n",
		/* strict: only what the loader writes (lowercase, one space, one of each) */
		"epoch 01234567-89AB-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 0123456789ABCDEF0123456789abcdef\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 1 00112233445566778899AABBCCDDEEFF00112233\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\r\nboot 01234567-89ab-cdef-0123-456789abcdef\n",
		"epoch  01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef \nboot 01234567-89ab-cdef-0123-456789abcdef\n",
		"boot 01234567-89ab-cdef-0123-456789abcdef\nepoch 01234567-89ab-cdef-0123-456789abcdef\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\n\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase +1 0000000000000000000000000000000000000000\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 18446744073709551616 0000000000000000000000000000000000000000\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 1  0000000000000000000000000000000000000000\n",
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 01234567-89ab-cdef-0123-456789abcdef\nbase 1 0000000000000000000000000000000000000000\nbase 1 0000000000000000000000000000000000000000\n",
	};
	static const char good[] =
		"epoch 01234567-89ab-cdef-0123-456789abcdef\nboot 0123456789abcdef0123456789abcdef\n"
		"base 12 00112233445566778899aabbccddeeff00112233\n";
	struct epoch_file ef;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(epoch_file_parse(bad[i], strlen(bad[i]), &ef), -EINVAL);
	/* a NUL inside */
	CHECK_INT(epoch_file_parse("epoch 0123456789abcdef0123456789abcdef\nboot 0123456789abcdef\0\n",
				   60, &ef), -EINVAL);
	CHECK_INT(epoch_file_parse(good, strlen(good), &ef), 0);
	CHECK_STR(ef.epoch, "01234567-89ab-cdef-0123-456789abcdef");
	CHECK_STR(ef.boot, "0123456789abcdef0123456789abcdef");
	CHECK(ef.has_base);
	CHECK_INT(ef.base.index, 12);
	CHECK_MEM(ef.base.digest, "\x00\x11\x22\x33", 4);
	CHECK_INT(ef.base.digest[19], 0x33);
	/* without a base line */
	CHECK_INT(epoch_file_parse(good, strlen(good) - 49, &ef), 0);
	CHECK(!ef.has_base);
	CHECK(boot_id_valid("01234567-89ab-cdef-0123-456789abcdef"));
	CHECK(!boot_id_valid("01234567-89ab-cdef-0123-456789abcde/"));
	CHECK(!boot_id_valid("x"));
}

int main(void)
{
	test_forged_history();
	test_improper_bases();
	test_epoch_begun_at_a_cut();
	test_epoch_file();
	UNIT_DONE();
}
