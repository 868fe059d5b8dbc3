// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of offline verification: PCR files in evmctl's format
 * (user/pcrfile.c) and the streaming, multi-threaded replay of a store
 * (user/stream.c). Expected PCR values are computed here the plain way,
 * with one-shot EVP_Digest, and compared with what the online verify's
 * replay (replay_until_match) gives for the same records.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fixtures.h"
#include "log.h"
#include "pcrfile.h"
#include "replay.h"
#include "snapshot.h"
#include "stream.h"
#include "unit.h"

static const uint16_t four_banks[] = { ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512 };
#define NR_FOUR_BANKS	4

/* ---- PCR files ---- */

static uint8_t pcr[REPLAY_NR_PCRS][REPLAY_MAX_DIGEST];

static int parse(const char *text, size_t size, uint32_t *given, unsigned int *line,
		 const char **why)
{
	memset(pcr, 0, sizeof(pcr));
	return pcr_file_parse(text, strlen(text), size, pcr, given, line, why);
}

static void test_pcr_file_good(void)
{
	static const char text[] =
		"PCR-00: 0000000000000000000000000000000000000000\n"
		"\n"
		"PCR-10: 0123456789ABCDEFabcdef0123456789abcdef01\r\n"
		"PCR-23:  01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef 01 23 45 67 \n";
	static const uint8_t want10[LOG_SHA1_SIZE] = {
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xab, 0xcd,
		0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01,
	};
	const char *why = NULL;
	unsigned int line;
	uint32_t given;

	CHECK_INT(parse(text, LOG_SHA1_SIZE, &given, &line, &why), 0);
	CHECK_INT(given, 1u << 0 | 1u << 10 | 1u << 23);
	CHECK_MEM(pcr[10], want10, LOG_SHA1_SIZE);
	CHECK_INT(pcr[23][0], 0x01);
	CHECK_INT(pcr[23][19], 0x67);
}

/* Each bad file: the line named, a reason, nothing taken as valid */
static void test_pcr_file_bad(void)
{
	static const struct {
		const char *text;
		unsigned int line;
		const char *why;
	} bad[] = {
		{ "PCR-10: 00112233445566778899aabbccddeeff0011223\n", 1, "odd number" },
		{ "\nPCR-10: 00112233445566778899aabbccddeeff001122\n", 2, "fewer hex digits" },
		{ "PCR-10: 00112233445566778899aabbccddeeff0011223344\n", 1, "more hex digits" },
		{ "PCR-10: 00112233445566778899aabbccddeeff001122zz\n", 1, "not a hex digit" },
		{ "PCR-10: 00112233445566778899aabbccddeeff00112233 x\n", 1, "unexpected text" },
		{ "PCR-24: 00112233445566778899aabbccddeeff00112233\n", 1, "not a 'PCR-NN" },
		{ "PCR-1: 00112233445566778899aabbccddeeff00112233\n", 1, "not a 'PCR-NN" },
		{ "pcr-10: 00112233445566778899aabbccddeeff00112233\n", 1, "not a 'PCR-NN" },
		{ "PCR-10 00112233445566778899aabbccddeeff00112233\n", 1, "not a 'PCR-NN" },
		{ "PCR-10: 00112233445566778899aabbccddeeff00112233\n"
		  "PCR-10: 00112233445566778899aabbccddeeff00112233\n", 2, "given twice" },
		{ "", 1, "no PCR values" },
		{ "\n \n", 1, "no PCR values" },
	};
	const char *why;
	unsigned int line;
	uint32_t given;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		line = 0;
		CHECK_INT(parse(bad[i].text, LOG_SHA1_SIZE, &given, &line, &why), -EINVAL);
		CHECK_INT(line, bad[i].line);
		if (!CHECK(why && strstr(why, bad[i].why)))
			fprintf(stderr, "\tcase %zu: why \"%s\"\n", i, why ?: "(null)");
	}
	/* a sha256 digest in a sha1 file is too long, and the other way round */
	CHECK_INT(parse("PCR-10: 0011223344556677889900112233445566778899001122334455667788990011\n",
			LOG_SHA1_SIZE, &given, &line, &why), -EINVAL);
	CHECK_INT(parse("PCR-10: 00112233445566778899aabbccddeeff00112233\n", 32, &given,
			&line, &why), -EINVAL);
	/* a NUL in a line */
	CHECK_INT(pcr_file_parse("PCR-10: 00\0", 11, 1, pcr, &given, &line, &why), -EINVAL);
}

static char tmpdir[] = "/tmp/imasnap-offline-XXXXXX";

static const char *write_file(const char *name, const void *data, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f))
		abort();
	return path;
}

static void test_pcr_values_add(void)
{
	static const char sha1_file[] = "PCR-10: 00112233445566778899aabbccddeeff00112233\n";
	struct pcr_values v;
	char arg[300];
	const char *path;

	memset(&v, 0, sizeof(v));
	path = write_file("sha1", sha1_file, strlen(sha1_file));
	snprintf(arg, sizeof(arg), "sha1,%s", path);
	CHECK_INT(pcr_values_add(&v, arg), 0);
	CHECK_INT(v.values.nr_banks, 1);
	CHECK_INT(v.values.bank[0].alg_id, ALG_SHA1);
	CHECK_INT(v.given[0], 1u << 10);
	CHECK_INT(v.values.bank[0].pcr[10][19], 0x33);
	/* the same bank twice, a file of the wrong digest size, bad arguments */
	CHECK_INT(pcr_values_add(&v, arg), -EINVAL);
	snprintf(arg, sizeof(arg), "sha256,%s", path);
	CHECK_INT(pcr_values_add(&v, arg), -EINVAL);
	snprintf(arg, sizeof(arg), "md5,%s", path);
	CHECK_INT(pcr_values_add(&v, arg), -EINVAL);
	CHECK_INT(pcr_values_add(&v, "sha256"), -EINVAL);
	CHECK_INT(pcr_values_add(&v, "sha256,"), -EINVAL);
	CHECK_INT(pcr_values_add(&v, ",file"), -EINVAL);
	snprintf(arg, sizeof(arg), "sha256,%s/missing", tmpdir);
	CHECK_INT(pcr_values_add(&v, arg), -EINVAL);
	CHECK_INT(v.values.nr_banks, 1);
	unlink(path);
}

/* ---- streaming replay ---- */

static void hash(uint16_t alg_id, const void *p, size_t len, uint8_t *out)
{
	const EVP_MD *md = EVP_get_digestbyname(alg_name(alg_id));

	if (!md || !EVP_Digest(p, len, out, NULL, md, NULL))
		abort();
}

/*
 * A store of n ima-ng records (every 7th in PCR 11, every 50th a
 * violation), and the PCR values of each bank it replays to
 */
static void make_store(struct buf *store, uint64_t n, uint8_t want[][REPLAY_NR_PCRS][REPLAY_MAX_DIGEST])
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	uint8_t file_digest[32], sha1[LOG_SHA1_SIZE], t[REPLAY_MAX_DIGEST];
	uint8_t both[2 * REPLAY_MAX_DIGEST];
	struct buf fields = { 0 };
	char path[64];
	uint32_t pcr_i;
	uint64_t i;
	size_t size;
	bool violation;
	int b;

	memset(want, 0, NR_FOUR_BANKS * sizeof(want[0]));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/usr/lib/offline/%08llu.so", (unsigned long long)i);
		memset(file_digest, (int)i, sizeof(file_digest));
		fields.len = 0;
		fx_ng_fields(&fields, "sha256", file_digest, 32, path);
		violation = i % 50 == 49;
		pcr_i = i % 7 ? 10 : 11;
		hash(ALG_SHA1, fields.data, fields.len, sha1);
		fx_record(store, pcr_i, violation ? zero : sha1, "ima-ng", &fields);
		for (b = 0; b < NR_FOUR_BANKS; b++) {
			size = alg_digest_size(four_banks[b]);
			if (violation)
				memset(t, 0xff, size);
			else
				hash(four_banks[b], fields.data, fields.len, t);
			memcpy(both, want[b][pcr_i], size);
			memcpy(both + size, t, size);
			hash(four_banks[b], both, 2 * size, want[b][pcr_i]);
		}
	}
	buf_free(&fields);
}

static int store_fd(const struct buf *store, size_t len)
{
	const char *path = write_file("store", store->data, len);
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		abort();
	unlink(path);
	return fd;
}

static bool replay_is(const struct replay *r, uint8_t want[][REPLAY_NR_PCRS][REPLAY_MAX_DIGEST])
{
	int b;

	for (b = 0; b < NR_FOUR_BANKS; b++)
		if (memcmp(r->bank[b].pcr, want[b], sizeof(r->bank[b].pcr)))
			return false;
	return true;
}

static uint8_t want[NR_FOUR_BANKS][REPLAY_NR_PCRS][REPLAY_MAX_DIGEST];

/* Every bank, 1 and 3 workers, buffers of 4 KiB and the default */
static void test_stream_banks(void)
{
	static const struct { int threads; size_t buffer; } runs[] = {
		{ 1, 4096 }, { 3, 4096 }, { 0, 0 },
	};
	struct buf store = { 0 };
	struct store_stream s;
	struct replay_pair rp;
	size_t i;
	int fd;

	make_store(&store, 5000, want);
	fd = store_fd(&store, store.len);
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
		stream_init(&s, fd, runs[i].buffer);
		CHECK_INT(stream_replay(&s, &rp, runs[i].threads, stderr), 0);
		CHECK_INT(s.next, 5000);
		CHECK_INT(s.bytes, store.len);
		CHECK_INT(s.tail, 0);
		CHECK(replay_is(&rp.hashed, want));
		CHECK_INT(rp.hashed.pcrs_used, 1u << 10 | 1u << 11);
		CHECK_INT(rp.hashed.records, 5000);
		stream_free(&s);
	}
	close(fd);
	buf_free(&store);
}

/*
 * Memory does not grow with the store: a store 100 times the buffer is
 * replayed with each batch's buffer at the size asked for; one record
 * larger than the buffer grows it to that record's size, not the store's.
 */
static void test_stream_memory_bound(void)
{
	struct buf store = { 0 }, big = { 0 }, fields = { 0 };
	static uint8_t name[3000];
	uint8_t digest[32] = { 0 }, sha1[LOG_SHA1_SIZE];
	struct store_stream s;
	struct replay_pair rp;
	int fd;

	make_store(&store, 4000, want);
	CHECK(store.len > 100 * 4096);
	fd = store_fd(&store, store.len);
	CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
	stream_init(&s, fd, 4096);
	CHECK_INT(stream_replay(&s, &rp, 2, stderr), 0);
	CHECK_INT(s.next, 4000);
	CHECK_INT(s.buffer_max, 4096);
	CHECK(replay_is(&rp.hashed, want));
	close(fd);

	/* one record of 3 KiB of name, then the same store: buffer of 1 KiB */
	memset(name, 'a', sizeof(name) - 1);
	fx_ng_fields(&fields, "sha256", digest, 32, (const char *)name);
	hash(ALG_SHA1, fields.data, fields.len, sha1);
	fx_record(&big, 10, sha1, "ima-ng", &fields);
	buf_append(&big, store.data, store.len);
	fd = store_fd(&big, big.len);
	CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
	stream_init(&s, fd, 1024);
	CHECK_INT(stream_replay(&s, &rp, 2, stderr), 0);
	CHECK_INT(s.next, 4001);
	CHECK_INT(s.buffer_max, 4096);	/* 1 KiB doubled until the record fit */
	close(fd);
	buf_free(&fields);
	buf_free(&big);
	buf_free(&store);
}

static const uint8_t *view_record(const void *ctx, uint64_t i, size_t *len)
{
	const struct buf *b = ctx;
	struct log_record rec;
	size_t off = 0;

	while (off < b->len && log_parse(b->data + off, b->len - off, &rec, NULL) > 0) {
		if (!i--) {
			*len = rec.size;
			return b->data + off;
		}
		off += rec.size;
	}
	return NULL;
}

/*
 * The offline replay gives what the online verify's replay gives for the
 * same records (replay_until_match, both the hashed and the padded replay);
 * and the sequential cursor reads the same records.
 */
static void test_stream_equals_online(void)
{
	struct buf store = { 0 };
	struct replay_pair offline, online;
	struct store_stream s;
	struct replay tpm;
	const uint8_t *a, *b;
	size_t alen, blen;
	uint64_t matched, i;
	int fd;

	make_store(&store, 300, want);
	fd = store_fd(&store, store.len);
	CHECK_INT(replay_pair_init_algs(&offline, four_banks, NR_FOUR_BANKS), 0);
	stream_init(&s, fd, 2048);
	CHECK_INT(stream_replay(&s, &offline, 2, stderr), 0);
	stream_free(&s);
	CHECK_INT(replay_init(&tpm, four_banks, NR_FOUR_BANKS), 0);	/* matches no prefix */
	CHECK_INT(replay_pair_init(&online, &tpm), 0);
	CHECK_INT(replay_until_match(&online, &tpm, view_record, &store, 0, 300, 300,
				     &matched, stderr), 0);
	CHECK(matched == UINT64_MAX);
	CHECK(!memcmp(&offline, &online, sizeof(offline)));

	stream_init(&s, fd, 2048);
	for (i = 0; i < 300; i++) {
		a = stream_record(&s, i, &alen);
		b = view_record(&store, i, &blen);
		if (!CHECK(a && alen == blen && !memcmp(a, b, blen)))
			break;
		CHECK(stream_record(&s, i, &alen) == a);	/* the same one again */
	}
	CHECK(!stream_record(&s, 300, &alen));
	CHECK(!stream_record(&s, 5, &alen));		/* no going back */
	stream_free(&s);
	close(fd);
	buf_free(&store);
}

/* A record whose data does not hash to its digest: -EBADMSG, named */
static void test_stream_mismatch(void)
{
	struct buf store = { 0 };
	struct store_stream s;
	struct replay_pair rp;
	char out[512] = "";
	FILE *f;
	int fd;

	make_store(&store, 3000, want);
	/* the last byte of record 2047's data: its name's NUL, made 'x' */
	store.data[(size_t)(view_record(&store, 2048, &(size_t){ 0 }) - store.data) - 1] = 'x';
	fd = store_fd(&store, store.len);
	f = fmemopen(out, sizeof(out) - 1, "w");
	CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
	stream_init(&s, fd, 8192);
	CHECK_INT(stream_replay(&s, &rp, 2, f), -EBADMSG);
	fclose(f);
	CHECK(strstr(out, "entry 2047: its template data does not hash to its logged digest"));
	CHECK_INT(rp.hashed.records, 2047);
	close(fd);
	buf_free(&store);
}

/* Truncated: the whole records replay, the partial one is counted apart */
static void test_stream_truncated(void)
{
	struct buf store = { 0 };
	struct store_stream s;
	struct replay_pair rp;
	size_t len;
	int fd;

	make_store(&store, 1000, want);
	len = store.len - 30;
	fd = store_fd(&store, len);
	CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
	stream_init(&s, fd, 4096);
	CHECK_INT(stream_replay(&s, &rp, 2, stderr), 0);
	CHECK_INT(s.next, 999);
	CHECK_INT(s.tail, len - s.bytes);
	CHECK(s.tail > 0);
	CHECK(!replay_is(&rp.hashed, want));
	close(fd);

	/* bytes that cannot be a record (PCR 99) after 10 good ones */
	store.len = (size_t)(view_record(&store, 10, &len) - store.data);
	fx_le32(&store, 99);
	fx_bytes(&store, want[0][0], 60);
	fd = store_fd(&store, store.len);
	CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
	stream_init(&s, fd, 4096);
	CHECK_INT(stream_replay(&s, &rp, 2, stderr), -EBADMSG);
	CHECK_INT(s.next, 10);
	CHECK_INT(rp.hashed.records, 10);	/* those before it, in the same batch */
	CHECK(s.why && strstr(s.why, "PCR index 99"));
	close(fd);
	buf_free(&store);
}

/*
 * Against values given: one pass without the padded replay when the hashed
 * replay matches; a second pass with it when a bank (here sha256, as IMA
 * extends a bank it could not hash) matches only padded.
 */
static void test_stream_given_padded(void)
{
	static const uint16_t banks[] = { ALG_SHA1, ALG_SHA256 };
	struct replay_pair full, rp, zero;
	struct buf store = { 0 };
	struct store_stream s;
	struct pcr_values v;
	int fd, b;

	make_store(&store, 3000, want);
	fd = store_fd(&store, store.len);
	CHECK_INT(replay_pair_init_algs(&full, banks, 2), 0);
	stream_init(&s, fd, 0);
	CHECK_INT(stream_replay(&s, &full, 0, stderr), 0);
	memset(&v, 0, sizeof(v));
	CHECK_INT(replay_init(&v.values, banks, 2), 0);
	for (b = 0; b < 2; b++) {
		v.given[b] = full.hashed.pcrs_used;
		memcpy(v.values.bank[b].pcr, full.hashed.bank[b].pcr, sizeof(v.values.bank[b].pcr));
	}
	CHECK_INT(replay_pair_init_algs(&zero, banks, 2), 0);
	rp = zero;
	CHECK_INT(stream_replay_given(&s, fd, &rp, &v, stderr), 0);
	CHECK(rp.hashed_only);
	CHECK(!memcmp(&rp.hashed, &full.hashed, sizeof(rp.hashed)));
	CHECK(!memcmp(&rp.padded, &zero.padded, sizeof(rp.padded)));	/* never extended */
	CHECK(pcr_values_match_hashed(&v, &rp));

	memcpy(v.values.bank[1].pcr, full.padded.bank[1].pcr, sizeof(v.values.bank[1].pcr));
	rp = zero;
	CHECK_INT(stream_replay_given(&s, fd, &rp, &v, stderr), 0);
	CHECK(!rp.hashed_only);
	CHECK(!memcmp(&rp, &full, sizeof(rp)));
	CHECK(!pcr_values_match_hashed(&v, &rp));
	CHECK_INT(replay_bank_match(&rp, 1, &v.values, 10), PADDED_MATCH);
	CHECK_INT(replay_bank_match(&rp, 0, &v.values, 10), HASHED_MATCH);
	stream_free(&s);
	close(fd);
	buf_free(&store);
}

/*
 * An epoch begun at a cut, read through the stream's sequential cursor by
 * the online verify's own check (epoch_base_proven): the base recorded in
 * DIR/epoch is found and its values start the replay; unrecorded, refused.
 */
static void test_stream_epoch_base(void)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	struct buf store = { 0 }, rest = { 0 };
	struct epoch_base_id id = { .index = 0 };
	struct replay_pair rp, plain;
	struct store_stream s;
	struct aggregate agg;
	struct replay base;
	const char *why;
	uint64_t at;
	size_t len;
	int fd, b;

	CHECK_INT(replay_init(&base, four_banks, NR_FOUR_BANKS), 0);
	for (b = 0; b < NR_FOUR_BANKS; b++)
		memset(base.bank[b].pcr[10], 0x40 + b, base.bank[b].size);
	base.pcrs_used = 1u << 10;
	fx_aggregate(&store, 10, 2, 0, zero, 0, &base);
	memcpy(id.digest, log_record_sha1(store.data), LOG_SHA1_SIZE);
	make_store(&rest, 200, want);
	buf_append(&store, rest.data, rest.len);
	fd = store_fd(&store, store.len);

	stream_init(&s, fd, 1024);
	CHECK_INT(epoch_base_proven(stream_record, &s, UINT64_MAX, &id, &agg, &at, &why), 0);
	CHECK_INT(at, 0);
	stream_free(&s);
	CHECK_INT(replay_pair_init_algs(&rp, four_banks, NR_FOUR_BANKS), 0);
	CHECK_INT(replay_pair_set_base(&rp, &agg.base), 0);
	CHECK_INT(memcmp(rp.hashed.bank[1].pcr[10], base.bank[1].pcr[10], 32), 0);
	plain = rp;
	stream_init(&s, fd, 1024);
	CHECK_INT(stream_replay(&s, &rp, 2, stderr), 0);
	CHECK_INT(s.next, 201);
	CHECK(memcmp(&rp.hashed, &plain.hashed, sizeof(rp.hashed)));
	stream_free(&s);

	stream_init(&s, fd, 1024);
	CHECK_INT(epoch_base_proven(stream_record, &s, UINT64_MAX, NULL, &agg, &at, &why),
		  -EBADMSG);
	stream_free(&s);
	/* no aggregate at all: -ENOENT after reading the whole stream */
	close(fd);
	fd = store_fd(&rest, rest.len);
	stream_init(&s, fd, 1024);
	CHECK_INT(epoch_base_proven(stream_record, &s, UINT64_MAX, NULL, &agg, &at, &why),
		  -ENOENT);
	CHECK_INT(s.next, 200);
	CHECK(!stream_record(&s, 200, &len));
	stream_free(&s);
	close(fd);
	buf_free(&rest);
	buf_free(&store);
}

int main(void)
{
	if (replay_crypto_init() || !mkdtemp(tmpdir))
		return 1;
	test_pcr_file_good();
	test_pcr_file_bad();
	test_pcr_values_add();
	test_stream_banks();
	test_stream_memory_bound();
	test_stream_equals_online();
	test_stream_mismatch();
	test_stream_truncated();
	test_stream_given_padded();
	test_stream_epoch_base();
	rmdir(tmpdir);
	UNIT_DONE();
}
