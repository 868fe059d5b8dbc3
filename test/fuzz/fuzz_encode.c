// SPDX-License-Identifier: GPL-2.0-only
/*
 * log_encode (user/log.c): what the BPF program copies from the kernel (PCR,
 * SHA-1 template digest, template name, the template's fields as IMA holds
 * them) becomes a binary record. Input: u8 pcr | 20 bytes digest | u8
 * template | fields; template picks a builtin name, a custom format, or
 * (past the list) takes a name from the fields' first bytes. Invariants:
 * - an encoded record parses back to exactly what was encoded (for the
 *   legacy ima template: digest | u32 strlen(name) | name);
 * - encoding fails only for a PCR out of range, a name that cannot be one,
 *   or fields that are not a sequence of "u32 len | bytes", and then leaves
 *   the output buffer as it was.
 */
#include "fuzz.h"
#include "log.h"

static const char *const names[] = {
	"ima-ng", "ima-sig", "ima", "ima-buf", "ima-ngv2", "ima-modsig",
	"d-ng|n-ng|sig|iuid|igid|imode", "d|n", "n-ng",
};
#define NR_NAMES	(sizeof(names) / sizeof(names[0]))
#define PREFIX		"earlier records"

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The fields' layout, walked independently of log.c */
static int count_fields(const uint8_t *p, size_t len)
{
	size_t off = 0;
	uint32_t flen;
	int n = 0;

	while (off < len) {
		if (len - off < 4)
			return -1;
		flen = get_le32(p + off);
		if (flen > len - off - 4)
			return -1;
		off += 4 + flen;
		n++;
	}
	return n;
}

static bool name_ok(const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return len >= 1 && len <= LOG_NAME_MAX;
}

/* Legacy: fields d (20 bytes) and n; logged as d | u32 strlen(n) | n */
static bool legacy_ok(const uint8_t *f, size_t len, struct buf *want)
{
	uint32_t dlen, nlen;
	uint8_t le[4];

	if (count_fields(f, len) != 2)
		return false;
	dlen = get_le32(f);
	if (dlen != LOG_SHA1_SIZE)
		return false;
	nlen = strnlen((const char *)f + 28, get_le32(f + 24));
	if (nlen > LOG_LEGACY_NAME_PAD - 1)
		return false;
	le[0] = nlen;
	le[1] = nlen >> 8;
	le[2] = le[3] = 0;
	FUZZ_ASSERT(!buf_append(want, f + 4, LOG_SHA1_SIZE) && !buf_append(want, le, 4) &&
		    !buf_append(want, f + 28, nlen));
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct buf out = { 0 }, want = { 0 };
	uint8_t digest[LOG_SHA1_SIZE] = { 0 };
	struct log_record rec;
	const uint8_t *fields, *d;
	char name[LOG_NAME_MAX + 2];
	uint32_t pcr = fuzz_u8(&in) % 32;
	unsigned int which;
	size_t len, fields_len;
	bool legacy, ok;
	int err;

	d = fuzz_bytes(&in, LOG_SHA1_SIZE, &len);
	memcpy(digest, d, len);
	which = fuzz_u8(&in);
	if (which < NR_NAMES) {
		snprintf(name, sizeof(name), "%s", names[which]);
	} else {
		d = fuzz_bytes(&in, (which - NR_NAMES) % (LOG_NAME_MAX + 2), &len);
		memcpy(name, d, len);
		name[len] = '\0';
	}
	fields = fuzz_bytes(&in, in.left, &fields_len);
	legacy = !strcmp(name, "ima");
	ok = pcr < 24 && name_ok(name) &&
	     (legacy ? legacy_ok(fields, fields_len, &want) :
		       count_fields(fields, fields_len) >= 0);
	if (ok && !legacy)
		FUZZ_ASSERT(!buf_append(&want, fields, fields_len));

	FUZZ_ASSERT(!buf_append(&out, PREFIX, strlen(PREFIX)));
	err = log_encode(&out, pcr, digest, name, fields, fields_len);
	FUZZ_ASSERT(ok ? !err : err == -EINVAL);
	FUZZ_ASSERT(!memcmp(out.data, PREFIX, strlen(PREFIX)));
	if (err) {
		FUZZ_ASSERT(out.len == strlen(PREFIX));
		goto out;
	}
	len = out.len - strlen(PREFIX);
	FUZZ_ASSERT(log_parse(out.data + strlen(PREFIX), len, &rec, NULL) == (ssize_t)len);
	FUZZ_ASSERT(rec.pcr == pcr && !memcmp(rec.digest, digest, LOG_SHA1_SIZE));
	FUZZ_ASSERT(rec.name_len == strlen(name) && !memcmp(rec.name, name, rec.name_len));
	FUZZ_ASSERT(log_is_legacy(&rec) == legacy);
	FUZZ_ASSERT(rec.data_len == want.len && (!want.len || !memcmp(rec.data, want.data, want.len)));
out:
	buf_free(&out);
	buf_free(&want);
	return 0;
}
