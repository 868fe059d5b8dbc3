// SPDX-License-Identifier: GPL-2.0-only
/* PCR values in evmctl's --pcrs file format (pcrfile.h) */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pcrfile.h"

/* 24 lines of the longest digest, and room for spaces between its bytes */
#define PCR_FILE_MAX	(REPLAY_NR_PCRS * (16 + 3 * REPLAY_MAX_DIGEST) + 1)

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* "PCR-NN:": the PCR index, or -1 */
static int parse_label(const char *p, size_t len)
{
	int pcr;

	if (len < 7 || memcmp(p, "PCR-", 4) || p[6] != ':' ||
	    hex_value(p[4]) < 0 || hex_value(p[4]) > 9 ||
	    hex_value(p[5]) < 0 || hex_value(p[5]) > 9)
		return -1;
	pcr = (p[4] - '0') * 10 + (p[5] - '0');
	return pcr < REPLAY_NR_PCRS ? pcr : -1;
}

/* The digest after the label: size bytes of hex, bytes maybe spaced */
static const char *parse_digest(const char *p, size_t len, size_t size, uint8_t *out)
{
	size_t i = 0, n = 0;
	int hi, lo;

	while (i < len && is_blank(p[i]))
		i++;
	while (i < len && !is_blank(p[i])) {
		if (n == size)
			return "more hex digits than the bank's digest has";
		if (i + 1 >= len)
			return "odd number of hex digits";
		hi = hex_value(p[i]);
		lo = hex_value(p[i + 1]);
		if (hi < 0 || lo < 0)
			return "not a hex digit";
		out[n++] = hi << 4 | lo;
		i += 2;
		/* a single space between bytes, as the TPM 1.2 sysfs file has */
		if (i + 1 < len && p[i] == ' ' && hex_value(p[i + 1]) >= 0)
			i++;
	}
	while (i < len && is_blank(p[i]))
		i++;
	if (i < len)
		return "unexpected text after the digest";
	if (n != size)
		return "fewer hex digits than the bank's digest has";
	return NULL;
}

int pcr_file_parse(const char *text, size_t len, size_t size,
		   uint8_t pcr[REPLAY_NR_PCRS][REPLAY_MAX_DIGEST], uint32_t *given,
		   unsigned int *line, const char **why)
{
	const char *p = text, *end = text + len, *eol;
	size_t n, i;
	int idx;

	*given = 0;
	for (*line = 1; p < end; (*line)++, p = eol + 1) {
		eol = memchr(p, '\n', end - p) ?: end;
		n = eol - p;
		for (i = 0; i < n && is_blank(p[i]); i++)
			;
		if (i == n)
			continue;
		if (memchr(p, '\0', n)) {
			*why = "a NUL byte";
			return -EINVAL;
		}
		idx = parse_label(p, n);
		if (idx < 0) {
			*why = "not a 'PCR-NN: HEX' line (NN from 00 to 23)";
			return -EINVAL;
		}
		if (*given & (1u << idx)) {
			*why = "this PCR is given twice";
			return -EINVAL;
		}
		*why = parse_digest(p + 7, n - 7, size, pcr[idx]);
		if (*why)
			return -EINVAL;
		*given |= 1u << idx;
	}
	if (!*given) {
		*line = 1;
		*why = "no PCR values";
		return -EINVAL;
	}
	return 0;
}

/* Reads a small file whole into text[PCR_FILE_MAX]: its length or -errno */
static ssize_t read_small(const char *path, char *text)
{
	size_t len = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, text + len, PCR_FILE_MAX - len);
		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			len += n;
	} while (!err && n && len < PCR_FILE_MAX);
	close(fd);
	if (!err && len == PCR_FILE_MAX)
		err = -EFBIG;
	return err ?: (ssize_t)len;
}

int pcr_values_add(struct pcr_values *v, const char *arg)
{
	struct replay_bank *bank = &v->values.bank[v->values.nr_banks];
	static char text[PCR_FILE_MAX];
	const char *comma = strchr(arg, ','), *file, *why;
	char name[16];
	unsigned int line;
	uint16_t alg;
	ssize_t len;
	int b;

	if (!comma || comma == arg || (size_t)(comma - arg) >= sizeof(name) || !comma[1]) {
		fprintf(stderr, "imasnap: --pcrs %s: use ALG,FILE (e.g. sha256,pcrs.txt)\n", arg);
		return -EINVAL;
	}
	memcpy(name, arg, comma - arg);
	name[comma - arg] = '\0';
	file = comma + 1;
	alg = alg_from_name(name);
	if (!alg) {
		fprintf(stderr, "imasnap: --pcrs %s: unknown algorithm '%s' (sha1, sha256, sha384, sha512, sm3)\n",
			arg, name);
		return -EINVAL;
	}
	for (b = 0; b < v->values.nr_banks; b++) {
		if (v->values.bank[b].alg_id == alg) {
			fprintf(stderr, "imasnap: --pcrs %s: %s is given twice\n", arg, name);
			return -EINVAL;
		}
	}
	if (v->values.nr_banks == REPLAY_MAX_BANKS) {
		fprintf(stderr, "imasnap: --pcrs %s: at most %d banks\n", arg, REPLAY_MAX_BANKS);
		return -EINVAL;
	}
	len = read_small(file, text);
	if (len < 0) {
		fprintf(stderr, "imasnap: --pcrs %s: cannot read %s: %s\n", arg, file,
			len == -EFBIG ? "too large for a PCR file" : strerror(-len));
		return -EINVAL;
	}
	bank->alg_id = alg;
	bank->size = alg_digest_size(alg);
	if (pcr_file_parse(text, len, bank->size, bank->pcr, &v->given[v->values.nr_banks],
			   &line, &why)) {
		fprintf(stderr, "imasnap: %s:%u: %s (%s, %u-byte digests)\n", file, line, why,
			name, bank->size);
		return -EINVAL;
	}
	v->file[v->values.nr_banks++] = file;
	return 0;
}

/* Every PCR the store extends, in every bank given, equals its hashed replay */
bool pcr_values_match_hashed(const struct pcr_values *v, const struct replay_pair *rp)
{
	const struct replay_bank *got, *want;
	unsigned int p;
	int b;

	for (p = 0; p < REPLAY_NR_PCRS; p++) {
		if (!(rp->hashed.pcrs_used & (1u << p)))
			continue;
		for (b = 0; b < v->values.nr_banks; b++) {
			got = &rp->hashed.bank[b];
			want = &v->values.bank[b];
			if (got->size && memcmp(got->pcr[p], want->pcr[p], got->size))
				return false;
		}
	}
	return true;
}
