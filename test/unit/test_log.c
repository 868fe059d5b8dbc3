// SPDX-License-Identifier: GPL-2.0-only
/* Tests of user/log.c: the kernel's binary and ascii measurement records */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "log.h"
#include "replay.h"
#include "unit.h"

static char *ascii_of(const struct log_record *rec)
{
	static struct buf out;

	out.len = 0;
	if (log_format_ascii(rec, &out) || buf_append(&out, "", 1))
		return NULL;
	return (char *)out.data;
}

/*
 * Every proper prefix of a good record is a torn tail, never garbage. The
 * prefix is followed by 0xff bytes so that reading past its end shows.
 */
static void check_prefixes(const uint8_t *rec, size_t size)
{
	struct log_record parsed;
	size_t len, bad = 0;
	uint8_t *copy = malloc(size);

	if (!copy)
		abort();
	for (len = 0; len < size; len++) {
		memset(copy, 0xff, size);
		memcpy(copy, rec, len);
		if (log_parse(copy, len, &parsed, NULL) != 0)
			bad++;
	}
	CHECK_INT(bad, 0);
	free(copy);
}

/* Real kernel lines: encode = hand-built bytes, parse, ascii, digest */
static void test_real_lines(void)
{
	struct buf encoded = { 0 }, built = { 0 };
	struct log_record rec;
	struct fixture fx;
	size_t i;

	for (i = 0; i < NR_REAL_LINES; i++) {
		fx_from_line(real_lines[i], &fx);
		fx_record(&built, fx.pcr, fx.sha1, fx.template, &fx.fields);
		CHECK_INT(log_encode(&encoded, fx.pcr, fx.sha1, fx.template,
				     fx.fields.data, fx.fields.len), 0);
		CHECK_INT(encoded.len, built.len);
		CHECK_MEM(encoded.data, built.data, built.len);
		CHECK_INT(log_parse(built.data, built.len, &rec, NULL),
			  built.len);
		CHECK_INT(rec.pcr, 10);
		CHECK_INT(rec.data_len, fx.fields.len);
		CHECK_MEM(rec.data, fx.fields.data, fx.fields.len);
		CHECK(!log_is_legacy(&rec) && !log_is_violation(&rec));
		CHECK_INT(replay_check_digest(&rec), 0);
		CHECK_STR(ascii_of(&rec), real_lines[i]);
		check_prefixes(built.data, built.len);
		encoded.len = built.len = 0;
		buf_free(&fx.fields);
	}
	buf_free(&encoded);
	buf_free(&built);
}

/* A record whose data does not hash to its digest is caught */
static void test_digest_mismatch(void)
{
	struct buf built = { 0 };
	struct log_record rec;
	struct fixture fx;

	fx_from_line(real_lines[1], &fx);
	fx.fields.data[fx.fields.len - 2] ^= 1;	/* a letter of the path */
	fx_record(&built, fx.pcr, fx.sha1, fx.template, &fx.fields);
	CHECK_INT(log_parse(built.data, built.len, &rec, NULL), built.len);
	CHECK_INT(replay_check_digest(&rec), -EBADMSG);
	buf_free(&built);
	buf_free(&fx.fields);
}

static void parse_built(struct buf *built, struct log_record *rec)
{
	CHECK_INT(log_parse(built->data, built->len, rec, NULL), built->len);
}

/* ima-sig with and without a signature: an empty field leaves its space */
static void test_ima_sig(void)
{
	static const uint8_t sig[] = { 0x03, 0x02, 0x04, 0xab, 0xcd };
	uint8_t digest[32], sha1[LOG_SHA1_SIZE] = { 0x5a };
	struct buf fields = { 0 }, built = { 0 };
	struct log_record rec;

	memset(digest, 0x11, sizeof(digest));
	fx_ng_fields(&fields, "sha256", digest, sizeof(digest), "/bin/a_b");
	fx_field(&fields, sig, sizeof(sig));
	fx_record(&built, 10, sha1, "ima-sig", &fields);
	parse_built(&built, &rec);
	CHECK_STR(ascii_of(&rec),
		  "10 5a00000000000000000000000000000000000000 ima-sig sha256:1111111111111111111111111111111111111111111111111111111111111111 /bin/a_b 030204abcd\n");
	check_prefixes(built.data, built.len);

	fields.len = built.len = 0;
	fx_ng_fields(&fields, "sha256", digest, sizeof(digest), "/bin/a");
	fx_field(&fields, NULL, 0);
	fx_record(&built, 9, sha1, "ima-sig", &fields);
	parse_built(&built, &rec);
	CHECK_STR(ascii_of(&rec),
		  " 9 5a00000000000000000000000000000000000000 ima-sig sha256:1111111111111111111111111111111111111111111111111111111111111111 /bin/a \n");
	buf_free(&fields);
	buf_free(&built);
}

/* A custom format names its fields; unknown templates show hex */
static void test_custom_and_unknown(void)
{
	static const uint8_t uid[4] = { 0xe8, 0x03 }, mode[2] = { 0xa4, 0x81 };
	uint8_t digest[20], sha1[LOG_SHA1_SIZE] = { 0 };
	struct buf fields = { 0 }, built = { 0 }, encoded = { 0 };
	struct log_record rec;

	sha1[19] = 1;
	memset(digest, 0xab, sizeof(digest));
	fx_ng_fields(&fields, "sha1", digest, sizeof(digest), "/etc/x");
	fx_field(&fields, uid, sizeof(uid));
	fx_field(&fields, mode, sizeof(mode));
	fx_record(&built, 11, sha1, "d-ng|n-ng|iuid|imode", &fields);
	CHECK_INT(log_encode(&encoded, 11, sha1, "d-ng|n-ng|iuid|imode",
			     fields.data, fields.len), 0);
	CHECK_INT(encoded.len, built.len);
	CHECK_MEM(encoded.data, built.data, built.len);
	parse_built(&built, &rec);
	CHECK_STR(ascii_of(&rec),
		  "11 0000000000000000000000000000000000000001 d-ng|n-ng|iuid|imode sha1:abababababababababababababababababababab /etc/x 1000 33188\n");
	check_prefixes(built.data, built.len);

	built.len = 0;
	fx_record(&built, 11, sha1, "my-template", &fields);
	parse_built(&built, &rec);
	CHECK_STR(ascii_of(&rec),
		  "11 0000000000000000000000000000000000000001 my-template 736861313a00abababababababababababababababababababab 2f6574632f7800 e8030000 a481\n");
	buf_free(&fields);
	buf_free(&built);
	buf_free(&encoded);
}

/* Legacy fields as IMA holds them: d (20 bytes), n (name and NUL) */
static void legacy_fields(struct buf *fields, const char *name)
{
	static const uint8_t zero[LOG_SHA1_SIZE];

	fx_field(fields, zero, sizeof(zero));
	fx_field(fields, name, strlen(name) + 1);
}

static void test_legacy(void)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	struct buf fields = { 0 }, encoded = { 0 }, built = { 0 }, hashed = { 0 };
	uint8_t sha1[LOG_SHA1_SIZE];
	struct log_record rec;

	fx_unhex(LEGACY_ZERO_BOOT_AGGREGATE_SHA1, 40, sha1);
	legacy_fields(&fields, "boot_aggregate");
	CHECK_INT(log_encode(&encoded, 10, sha1, "ima", fields.data,
			     fields.len), 0);
	/* pcr | digest | u32 3 "ima" | d | u32 strlen | name: no data_len */
	fx_le32(&built, 10);
	fx_bytes(&built, sha1, sizeof(sha1));
	fx_field(&built, "ima", 3);
	fx_bytes(&built, zero, sizeof(zero));
	fx_field(&built, "boot_aggregate", 14);
	CHECK_INT(encoded.len, built.len);
	CHECK_MEM(encoded.data, built.data, built.len);

	CHECK_INT(log_parse(built.data, built.len, &rec, NULL), built.len);
	CHECK(log_is_legacy(&rec));
	CHECK_INT(rec.data_len, 20 + 4 + 14);
	check_prefixes(built.data, built.len);

	CHECK_INT(log_hashed_bytes(&rec, &hashed), 0);
	CHECK_INT(hashed.len, 20 + 256);
	CHECK_MEM(hashed.data + 20, "boot_aggregate\0\0", 16);
	CHECK_MEM(hashed.data + 20 + 14, zero, 20);
	CHECK_INT(hashed.data[275], 0);
	CHECK_INT(replay_check_digest(&rec), 0);
	CHECK_STR(ascii_of(&rec),
		  "10 719de8e521439498e9b77f6ed41e230b9821111e ima 0000000000000000000000000000000000000000 boot_aggregate\n");
	buf_free(&fields);
	buf_free(&encoded);
	buf_free(&built);
	buf_free(&hashed);
}

static void test_legacy_encode_errors(void)
{
	static const uint8_t sha1[LOG_SHA1_SIZE], d32[32];
	struct buf fields = { 0 }, out = { 0 };
	char long_name[300];

	fx_field(&fields, d32, sizeof(d32));	/* sha256-sized d */
	fx_field(&fields, "x", 2);
	CHECK_INT(log_encode(&out, 10, sha1, "ima", fields.data, fields.len),
		  -EINVAL);
	fields.len = 0;
	legacy_fields(&fields, "x");
	fx_field(&fields, "y", 2);		/* a third field */
	CHECK_INT(log_encode(&out, 10, sha1, "ima", fields.data, fields.len),
		  -EINVAL);
	fields.len = 0;
	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	legacy_fields(&fields, long_name);
	CHECK_INT(log_encode(&out, 10, sha1, "ima", fields.data, fields.len),
		  -EINVAL);
	CHECK_INT(out.len, 0);	/* failures leave out unchanged */
	buf_free(&fields);
	buf_free(&out);
}

/* Garbage: the bytes of a good record with one field broken */
struct garbage {
	const char *what;
	size_t offset;
	uint32_t value;
};

static void check_garbage(const struct buf *good, const struct garbage *g)
{
	struct buf bad = { 0 };
	struct log_record rec;
	const char *err = NULL;
	uint8_t le[4] = { g->value, g->value >> 8, g->value >> 16,
			  g->value >> 24 };

	fx_bytes(&bad, good->data, good->len);
	memcpy(bad.data + g->offset, le, sizeof(le));
	if (!unit_check(log_parse(bad.data, bad.len, &rec, &err) == -EINVAL,
			__FILE__, __LINE__, g->what))
		return;
	CHECK(err && *err);
	/* known bad from its first bytes: even a torn copy is garbage */
	CHECK_INT(log_parse(bad.data, g->offset + 4, &rec, NULL), -EINVAL);
	buf_free(&bad);
}

static void test_garbage(void)
{
	/* offsets in an ima-ng record named "ima-ng" */
	static const struct garbage cases[] = {
		{ "PCR 4096", 0, 4096 },
		{ "PCR 24", 0, 24 },
		{ "name length 0", 24, 0 },
		{ "name length 256", 24, 256 },
		{ "name length huge", 24, 0xffffffff },
		{ "data length over the bound", 34, LOG_DATA_MAX + 1 },
		{ "data length huge", 34, 0xffffffff },
		{ "field longer than the data", 38, 1000 },
		{ "field length huge", 38, 0xfffffffc },
		{ "name not ascii", 28, 0x00676d69 },
	};
	struct buf good = { 0 }, fields = { 0 };
	uint8_t sha1[LOG_SHA1_SIZE] = { 1 }, digest[32] = { 0 };
	struct log_record rec;
	const char *err = NULL;
	size_t i;

	fx_ng_fields(&fields, "sha256", digest, sizeof(digest), "/x");
	fx_record(&good, 10, sha1, "ima-ng", &fields);
	CHECK_INT(log_parse(good.data, good.len, &rec, NULL), good.len);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_garbage(&good, &cases[i]);

	memcpy(good.data, "\x00\x10\x00\x00", 4);
	CHECK_INT(log_parse(good.data, good.len, &rec, &err), -EINVAL);
	CHECK_STR(err, "PCR index 4096 out of range");
	buf_free(&good);
	buf_free(&fields);
}

/* Field sequences that do not exactly fill data_len */
static void test_malformed_fields(void)
{
	static const uint8_t sha1[LOG_SHA1_SIZE] = { 1 };
	struct buf fields = { 0 }, built = { 0 }, out = { 0 };
	struct log_record rec;

	fx_field(&fields, "abc", 3);
	fx_bytes(&fields, "\x01\x00", 2);	/* 2 stray bytes: no u32 */
	fx_record(&built, 10, sha1, "ima-ng", &fields);
	CHECK_INT(log_parse(built.data, built.len, &rec, NULL), -EINVAL);
	CHECK_INT(log_encode(&out, 10, sha1, "ima-ng", fields.data,
			     fields.len), -EINVAL);
	CHECK_INT(out.len, 0);

	fields.len = built.len = 0;
	fx_le32(&fields, 4);		/* claims 4 bytes, has 3 */
	fx_bytes(&fields, "abc", 3);
	fx_record(&built, 10, sha1, "ima-ng", &fields);
	CHECK_INT(log_parse(built.data, built.len, &rec, NULL), -EINVAL);

	/* the legacy template's name length over 255 */
	built.len = 0;
	fx_le32(&built, 10);
	fx_bytes(&built, sha1, sizeof(sha1));
	fx_field(&built, "ima", 3);
	fx_bytes(&built, sha1, sizeof(sha1));
	fx_le32(&built, 256);
	CHECK_INT(log_parse(built.data, built.len, &rec, NULL), -EINVAL);
	buf_free(&fields);
	buf_free(&built);
	buf_free(&out);
}

/* Records back to back parse one at a time; a tail may be torn */
static void test_stream(void)
{
	struct buf stream = { 0 };
	struct log_record rec;
	struct fixture fx;
	size_t i, off = 0, n = 0;
	ssize_t size;

	for (i = 0; i < NR_REAL_LINES; i++) {
		fx_from_line(real_lines[i], &fx);
		fx_record(&stream, fx.pcr, fx.sha1, fx.template, &fx.fields);
		buf_free(&fx.fields);
	}
	stream.len -= 5;
	while ((size = log_parse(stream.data + off, stream.len - off, &rec,
				 NULL)) > 0) {
		off += size;
		n++;
	}
	CHECK_INT(size, 0);
	CHECK_INT(n, NR_REAL_LINES - 1);
	buf_free(&stream);
}

/* IMA logs a violation with a zero digest */
static void test_violation(void)
{
	static const uint8_t zero[64];
	struct buf fields = { 0 }, built = { 0 };
	struct log_record rec;

	fx_ng_fields(&fields, "sha256", zero, 32, "/tmp/open-writers");
	fx_record(&built, 10, zero, "ima-ng", &fields);
	parse_built(&built, &rec);
	CHECK(log_is_violation(&rec));
	CHECK_INT(replay_check_digest(&rec), 0);
	CHECK_STR(ascii_of(&rec),
		  "10 0000000000000000000000000000000000000000 ima-ng sha256:0000000000000000000000000000000000000000000000000000000000000000 /tmp/open-writers\n");
	buf_free(&fields);
	buf_free(&built);
}

static void test_buf(void)
{
	struct buf b = { 0 };
	size_t i;

	for (i = 0; i < 1000; i++)
		if (buf_append(&b, &i, 1))
			break;
	CHECK_INT(b.len, 1000);
	CHECK(b.cap >= b.len);
	CHECK_INT(b.data[999], 999 & 0xff);
	CHECK_INT(buf_reserve(&b, SIZE_MAX), -EOVERFLOW);
	CHECK_INT(buf_append(&b, "", SIZE_MAX - 10), -EOVERFLOW);
	CHECK_INT(b.len, 1000);
	buf_free(&b);
	CHECK(!b.data && !b.len && !b.cap);
}

int main(void)
{
	test_real_lines();
	test_digest_mismatch();
	test_ima_sig();
	test_custom_and_unknown();
	test_legacy();
	test_legacy_encode_errors();
	test_garbage();
	test_malformed_fields();
	test_stream();
	test_violation();
	test_buf();
	UNIT_DONE();
}
