// SPDX-License-Identifier: GPL-2.0-only
/*
 * IMA's binary measurement record: parse, encode, the bytes a template digest
 * hashes, and the ascii form. The layouts follow Linux 6.1
 * (security/integrity/ima/ima_fs.c, ima_template_lib.c, ima_crypto.c); see
 * log.h for the record layout.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The legacy template's logged data: digest | u32 name length | name */
#define LEGACY_HDR_SIZE	(LOG_SHA1_SIZE + sizeof(uint32_t))
/* IMA_EVENT_NAME_LEN_MAX: the legacy template never logs a longer name */
#define LEGACY_NAME_MAX	(LOG_LEGACY_NAME_PAD - 1)
/* IMA extends PCRs of a TPM 2.0 PC client: 0..23 */
#define NR_PCRS		24

/* Room for reasons that name a value; one per thread, so callers need no lock */
static __thread char err_text[96];

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *data;

	if (extra > SIZE_MAX - b->len)
		return -EOVERFLOW;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	data = realloc(b->data, cap);
	if (!data)
		return -ENOMEM;
	b->data = data;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	int err = buf_reserve(b, len);

	if (err)
		return err;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static int buf_append_le32(struct buf *b, uint32_t v)
{
	uint8_t le[4];

	put_le32(le, v);
	return buf_append(b, le, sizeof(le));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	/* +1: vsnprintf writes a NUL that is then dropped from len */
	err = buf_reserve(b, (size_t)n + 1);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

static int buf_append_hex(struct buf *b, const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	int err;

	if (len > SIZE_MAX / 2)
		return -EOVERFLOW;
	err = buf_reserve(b, len * 2);
	if (err)
		return err;
	for (i = 0; i < len; i++) {
		b->data[b->len++] = digits[p[i] >> 4];
		b->data[b->len++] = digits[p[i] & 0xf];
	}
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* A read position in bytes that may end early (a torn record) */
struct cursor {
	const uint8_t *p;
	size_t left;
};

static const uint8_t *take(struct cursor *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->left < n)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

static bool take_le32(struct cursor *c, uint32_t *v)
{
	const uint8_t *p = take(c, sizeof(*v));

	if (p)
		*v = get_le32(p);
	return p;
}

/*
 * One step over a template-data field sequence ("u32 len | bytes" each).
 * Returns 1 with the next field, 0 at the end of the sequence.
 */
struct field_iter {
	const uint8_t *p;
	size_t left;
};

static int field_next(struct field_iter *it, const uint8_t **data,
		      uint32_t *len)
{
	if (!it->left)
		return 0;
	if (it->left < sizeof(*len))
		return -EINVAL;
	*len = get_le32(it->p);
	if (*len > it->left - sizeof(*len))
		return -EINVAL;
	*data = it->p + sizeof(*len);
	it->p += sizeof(*len) + *len;
	it->left -= sizeof(*len) + *len;
	return 1;
}

/*
 * Checks that fields[0..avail) can begin a sequence of fields that exactly
 * fills total bytes: a field may run past avail (not read yet) but not past
 * total. With avail == total this is the full check.
 */
static bool fields_fit(const uint8_t *fields, size_t avail, size_t total)
{
	size_t off = 0;
	uint32_t len;

	while (off < total) {
		if (total - off < sizeof(len))
			return false;
		if (off + sizeof(len) > avail)
			return true;
		len = get_le32(fields + off);
		off += sizeof(len);
		if (len > total - off)
			return false;
		off += len;
	}
	return true;
}

static int fail(const char **err, const char *reason)
{
	if (err)
		*err = reason;
	return -EINVAL;
}

static bool is_legacy_name(const char *name, size_t len)
{
	return len == strlen(LOG_LEGACY_NAME) &&
	       !memcmp(name, LOG_LEGACY_NAME, len);
}

/* Template names and formats are short ascii ids such as "d-ng|n-ng" */
static bool name_is_valid(const uint8_t *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

/* The legacy data: digest | u32 len | name, with no data_len before it */
static ssize_t parse_legacy_data(struct cursor *c, struct log_record *rec,
				 const char **err)
{
	const uint8_t *start = c->p;
	uint32_t name_len;

	if (!take(c, LOG_SHA1_SIZE) || !take_le32(c, &name_len))
		return 0;
	if (name_len > LEGACY_NAME_MAX)
		return fail(err, "legacy ima template event name longer than 255 bytes");
	if (!take(c, name_len))
		return 0;
	rec->data = start;
	rec->data_len = LEGACY_HDR_SIZE + name_len;
	return 1;
}

static ssize_t parse_data(struct cursor *c, struct log_record *rec,
			  const char **err)
{
	uint32_t data_len;

	if (!take_le32(c, &data_len))
		return 0;
	if (data_len > LOG_DATA_MAX)
		return fail(err, "template data length over 64 MiB");
	if (!fields_fit(c->p, c->left < data_len ? c->left : data_len,
			data_len))
		return fail(err, "template data is not a sequence of length-prefixed fields");
	rec->data = c->p;
	rec->data_len = data_len;
	return take(c, data_len) ? 1 : 0;
}

ssize_t log_parse(const uint8_t *buf, size_t len, struct log_record *rec,
		  const char **err)
{
	struct cursor c = { .p = buf, .left = len };
	const uint8_t *digest, *name;
	ssize_t ret;

	memset(rec, 0, sizeof(*rec));
	if (!take_le32(&c, &rec->pcr))
		return 0;
	if (rec->pcr >= NR_PCRS) {
		snprintf(err_text, sizeof(err_text),
			 "PCR index %u out of range", rec->pcr);
		return fail(err, err_text);
	}
	digest = take(&c, LOG_SHA1_SIZE);
	if (!digest || !take_le32(&c, &rec->name_len))
		return 0;
	memcpy(rec->digest, digest, LOG_SHA1_SIZE);
	if (rec->name_len < 1 || rec->name_len > LOG_NAME_MAX)
		return fail(err, "template name length not in 1..255");
	/* what is there of the name must be valid, even in a torn tail */
	if (!name_is_valid(c.p, c.left < rec->name_len ? c.left : rec->name_len))
		return fail(err, "template name is not printable ascii");
	name = take(&c, rec->name_len);
	if (!name)
		return 0;
	rec->name = (const char *)name;
	ret = log_is_legacy(rec) ? parse_legacy_data(&c, rec, err) :
				   parse_data(&c, rec, err);
	if (ret <= 0)
		return ret;
	rec->size = len - c.left;
	return rec->size;
}

bool log_is_legacy(const struct log_record *rec)
{
	return is_legacy_name(rec->name, rec->name_len);
}

bool log_is_violation(const struct log_record *rec)
{
	static const uint8_t zero[LOG_SHA1_SIZE];

	return !memcmp(rec->digest, zero, LOG_SHA1_SIZE);
}

/*
 * The legacy template's fields are d (the 20-byte digest) and n (the name
 * with its NUL); the kernel logs d without a length and n as
 * "u32 strlen | name" (IMA_SHOW_BINARY_NO_FIELD_LEN, _OLD_STRING_FMT).
 */
static int encode_legacy_data(struct buf *out, const uint8_t *fields,
			      size_t fields_len)
{
	struct field_iter it = { .p = fields, .left = fields_len };
	const uint8_t *d, *n;
	uint32_t d_len, n_len;

	if (field_next(&it, &d, &d_len) != 1 ||
	    field_next(&it, &n, &n_len) != 1 || it.left)
		return -EINVAL;
	if (d_len != LOG_SHA1_SIZE)
		return -EINVAL;
	n_len = strnlen((const char *)n, n_len);
	if (n_len > LEGACY_NAME_MAX)
		return -EINVAL;
	if (buf_append(out, d, d_len) || buf_append_le32(out, n_len) ||
	    buf_append(out, n, n_len))
		return -ENOMEM;
	return 0;
}

static int encode_data(struct buf *out, const uint8_t *fields,
		       size_t fields_len)
{
	if (fields_len > LOG_DATA_MAX ||
	    !fields_fit(fields, fields_len, fields_len))
		return -EINVAL;
	if (buf_append_le32(out, fields_len) ||
	    buf_append(out, fields, fields_len))
		return -ENOMEM;
	return 0;
}

int log_encode(struct buf *out, uint32_t pcr,
	       const uint8_t digest[LOG_SHA1_SIZE], const char *name,
	       const uint8_t *fields, size_t fields_len)
{
	size_t name_len = strnlen(name, LOG_NAME_MAX + 1);
	size_t start = out->len;
	int err;

	if (pcr >= NR_PCRS || name_len < 1 || name_len > LOG_NAME_MAX ||
	    !name_is_valid((const uint8_t *)name, name_len))
		return -EINVAL;
	if (buf_append_le32(out, pcr) ||
	    buf_append(out, digest, LOG_SHA1_SIZE) ||
	    buf_append_le32(out, name_len) || buf_append(out, name, name_len)) {
		err = -ENOMEM;
		goto undo;
	}
	if (is_legacy_name(name, name_len))
		err = encode_legacy_data(out, fields, fields_len);
	else
		err = encode_data(out, fields, fields_len);
	if (!err)
		return 0;
undo:
	/* a failed encode leaves out as it was, so callers can retry */
	out->len = start;
	return err;
}

int log_hashed_parts(const struct log_record *rec, struct log_part parts[LOG_HASHED_PARTS])
{
	static const uint8_t zeros[LOG_LEGACY_NAME_PAD];
	uint32_t name_len;

	if (!log_is_legacy(rec)) {
		parts[0] = (struct log_part){ rec->data, rec->data_len };
		return 1;
	}
	/* ima_calc_field_array_hash_tfm: digest | name padded to 256 bytes */
	name_len = rec->data_len - LEGACY_HDR_SIZE;
	parts[0] = (struct log_part){ rec->data, LOG_SHA1_SIZE };
	parts[1] = (struct log_part){ rec->data + LEGACY_HDR_SIZE, name_len };
	parts[2] = (struct log_part){ zeros, LOG_LEGACY_NAME_PAD - name_len };
	return 3;
}

int log_hashed_bytes(const struct log_record *rec, struct buf *out)
{
	struct log_part parts[LOG_HASHED_PARTS];
	size_t start = out->len;
	int i, n = log_hashed_parts(rec, parts);

	for (i = 0; i < n; i++) {
		if (buf_append(out, parts[i].data, parts[i].len)) {
			out->len = start;
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * ascii form. The binary log carries no field ids, so they come from the
 * template: a builtin template's name, or else the name itself, which for a
 * custom template (ima_template_fmt=) is its format, e.g. "d-ng|n-ng|buf".
 */
enum field_show {
	SHOW_HEX,		/* DATA_FMT_HEX and DATA_FMT_DIGEST */
	SHOW_DIGEST_ALGO,	/* DATA_FMT_DIGEST_WITH_ALGO (and _TYPE_AND_ALGO) */
	SHOW_STRING,		/* DATA_FMT_STRING */
	SHOW_UINT,		/* DATA_FMT_UINT */
	SHOW_UNKNOWN,
};

static const struct {
	const char *name;
	const char *fmt;
} builtin_templates[] = {
	{ "ima-ng", "d-ng|n-ng" },
	{ "ima-sig", "d-ng|n-ng|sig" },
	{ "ima-ngv2", "d-ngv2|n-ng" },
	{ "ima-sigv2", "d-ngv2|n-ng|sig" },
	{ "ima-buf", "d-ng|n-ng|buf" },
	{ "ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig" },
	{ "evm-sig",
	  "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode" },
};

/* ima_template.c supported_fields[], by the show function each one uses */
static const struct {
	const char *id;
	enum field_show show;
} field_shows[] = {
	{ "d", SHOW_HEX },		{ "n", SHOW_STRING },
	{ "d-ng", SHOW_DIGEST_ALGO },	{ "d-ngv2", SHOW_DIGEST_ALGO },
	{ "n-ng", SHOW_STRING },	{ "sig", SHOW_HEX },
	{ "buf", SHOW_HEX },		{ "d-modsig", SHOW_DIGEST_ALGO },
	{ "modsig", SHOW_HEX },		{ "evmsig", SHOW_HEX },
	{ "iuid", SHOW_UINT },		{ "igid", SHOW_UINT },
	{ "imode", SHOW_UINT },		{ "xattrnames", SHOW_STRING },
	{ "xattrlengths", SHOW_HEX },	{ "xattrvalues", SHOW_HEX },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static void template_fmt(const struct log_record *rec, const char **fmt,
			 size_t *len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtin_templates); i++) {
		if (strlen(builtin_templates[i].name) == rec->name_len &&
		    !memcmp(builtin_templates[i].name, rec->name,
			    rec->name_len)) {
			*fmt = builtin_templates[i].fmt;
			*len = strlen(*fmt);
			return;
		}
	}
	*fmt = rec->name;
	*len = rec->name_len;
}

static enum field_show field_show_of(const char *id, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(field_shows); i++)
		if (strlen(field_shows[i].id) == len &&
		    !memcmp(field_shows[i].id, id, len))
			return field_shows[i].show;
	return SHOW_UNKNOWN;
}

/*
 * Fills shows[] from the template's format. Returns the number of fields,
 * or -1 when some id is unknown (then every field is shown as hex).
 */
static int template_shows(const struct log_record *rec,
			  enum field_show *shows, int max)
{
	size_t fmt_len, pos = 0, id_len;
	const char *fmt, *bar;
	int n = 0;

	template_fmt(rec, &fmt, &fmt_len);
	for (;;) {
		bar = memchr(fmt + pos, '|', fmt_len - pos);
		id_len = bar ? (size_t)(bar - fmt) - pos : fmt_len - pos;
		if (n == max)
			return -1;
		shows[n] = field_show_of(fmt + pos, id_len);
		if (shows[n++] == SHOW_UNKNOWN)
			return -1;
		if (!bar)
			return n;
		pos += id_len + 1;
	}
}

/* "algo:\0digest" shows as "algo:hex"; anything else as plain hex */
static int show_digest_algo(struct buf *out, const uint8_t *p, uint32_t len)
{
	const uint8_t *nul = memchr(p, '\0', len);

	if (!nul || nul == p || nul[-1] != ':')
		return buf_append_hex(out, p, len);
	if (buf_append(out, p, nul - p))
		return -ENOMEM;
	return buf_append_hex(out, nul + 1, len - (nul + 1 - p));
}

/* The kernel prints host-endian values of 1, 2, 4 or 8 bytes; x86 is LE */
static int show_uint(struct buf *out, const uint8_t *p, uint32_t len)
{
	uint64_t v = 0;
	uint32_t i;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return 0;
	for (i = 0; i < len; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return buf_printf(out, "%llu", (unsigned long long)v);
}

static int show_field(struct buf *out, enum field_show show,
		      const uint8_t *p, uint32_t len)
{
	switch (show) {
	case SHOW_DIGEST_ALGO:
		return show_digest_algo(out, p, len);
	case SHOW_STRING:
		/* seq_printf("%s"): up to the NUL the kernel stores */
		return buf_append(out, p, strnlen((const char *)p, len));
	case SHOW_UINT:
		return show_uint(out, p, len);
	default:
		return buf_append_hex(out, p, len);
	}
}

#define MAX_TEMPLATE_FIELDS	16	/* IMA_TEMPLATE_NUM_FIELDS_MAX is 15 */

static int count_fields(const struct log_record *rec)
{
	struct field_iter it = { .p = rec->data, .left = rec->data_len };
	const uint8_t *p;
	uint32_t len;
	int n = 0;

	while (field_next(&it, &p, &len) == 1)
		n++;
	return n;
}

static int format_fields(const struct log_record *rec, struct buf *out)
{
	struct field_iter it = { .p = rec->data, .left = rec->data_len };
	enum field_show shows[MAX_TEMPLATE_FIELDS];
	int nr_shows = template_shows(rec, shows, MAX_TEMPLATE_FIELDS);
	const uint8_t *p;
	uint32_t len;
	int i, ret;

	/* a field count that disagrees with the format: show raw hex */
	if (count_fields(rec) != nr_shows)
		nr_shows = -1;
	for (i = 0; (ret = field_next(&it, &p, &len)) == 1; i++) {
		/* ima_ascii_measurements_show: a space, then nothing if empty */
		if (buf_append(out, " ", 1))
			return -ENOMEM;
		if (len && show_field(out, nr_shows < 0 ? SHOW_HEX : shows[i],
				      p, len))
			return -ENOMEM;
	}
	return ret;
}

static int format_legacy_fields(const struct log_record *rec,
				struct buf *out)
{
	if (buf_append(out, " ", 1) ||
	    buf_append_hex(out, rec->data, LOG_SHA1_SIZE) ||
	    buf_append(out, " ", 1) ||
	    buf_append(out, rec->data + LEGACY_HDR_SIZE,
		       rec->data_len - LEGACY_HDR_SIZE))
		return -ENOMEM;
	return 0;
}

int log_format_ascii(const struct log_record *rec, struct buf *out)
{
	size_t start = out->len;
	int err;

	err = buf_printf(out, "%2u ", rec->pcr);
	err = err ?: buf_append_hex(out, rec->digest, LOG_SHA1_SIZE);
	err = err ?: buf_printf(out, " %.*s", (int)rec->name_len, rec->name);
	if (!err)
		err = log_is_legacy(rec) ? format_legacy_fields(rec, out) :
					   format_fields(rec, out);
	err = err ?: buf_append(out, "\n", 1);
	if (err)
		out->len = start;
	return err;
}
