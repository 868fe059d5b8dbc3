// SPDX-License-Identifier: GPL-2.0-only
/*
 * Parsers of the helper's control file commands (see parse.h). Every command
 * is parsed strictly: decimal numbers without sign or leading zeros, fields
 * separated by one space, an optional final newline, nothing else. A parser
 * fails with -EINVAL (or -ERANGE for a count too large for u64) and then the
 * caller changes nothing.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/version.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/hex.h>	/* hex2bin: kernel.h stopped including it */
#endif

#include "parse.h"
#else
/* user space (the fuzz target): the kernel functions used below */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <string.h>

#include "parse.h"

static int hex_to_bin(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* as lib/hexdump.c: 0, or -EINVAL at the first character that is not hex */
static int hex2bin(u8 *dst, const char *src, size_t count)
{
	while (count--) {
		int hi = hex_to_bin(*src++), lo;

		if (hi < 0)
			return -EINVAL;
		lo = hex_to_bin(*src++);
		if (lo < 0)
			return -EINVAL;
		*dst++ = (hi << 4) | lo;
	}
	return 0;
}
#endif

/* ASCII digits only: isdigit() depends on the locale in user space */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A whole string of decimal digits, no sign, no leading zero (but "0"):
 * -EINVAL otherwise; too large for u64: -ERANGE.
 */
int parse_u64(const char *s, u64 *v)
{
	u64 val = 0;
	int err = 0;

	if (!is_digit(*s) || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (; *s; s++) {
		if (!is_digit(*s))
			return -EINVAL;
		if (val > (~0ULL - (*s - '0')) / 10)
			err = -ERANGE;	/* but garbage later is -EINVAL */
		val = val * 10 + (*s - '0');
	}
	if (!err)
		*v = val;
	return err;
}

/* Length of the run of digits at @s, at most @len. */
static size_t digits(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && is_digit(s[n]))
		n++;
	return n;
}

/* @len digits at @s, no leading zero (but "0"), as a u64 */
static int parse_number(const char *s, size_t len, u64 *v)
{
	char number[21];

	if (!len || (s[0] == '0' && len > 1))
		return -EINVAL;
	if (len >= sizeof(number))
		return -ERANGE;
	memcpy(number, s, len);
	number[len] = '\0';
	return parse_u64(number, v);
}

/*
 * "<N> <40 hex>[ <H>]" with an optional final newline. N is at least 1; a
 * number too large for u64 is a count past the end of any list (-ERANGE),
 * like any other N larger than the list. H, the epoch index of the list's
 * head as the writer read it, must fit a u64 (else -EINVAL).
 */
int trim_parse(const char *cmd, size_t len, struct trim_cmd *t)
{
	size_t n_len, hex_at, h_at, h_len = 0;

	if (len && cmd[len - 1] == '\n')
		len--;
	n_len = digits(cmd, len);
	hex_at = n_len + 1;
	h_at = hex_at + 2 * SHA1_DIGEST_SIZE + 1;
	if (len > h_at - 1) {
		h_len = digits(cmd + h_at, len - h_at);
		if (!h_len || h_at + h_len != len || cmd[h_at - 1] != ' ')
			return -EINVAL;
	} else if (len != h_at - 1) {
		return -EINVAL;
	}
	if (!n_len || cmd[n_len] != ' ' ||
	    hex2bin(t->digest, cmd + hex_at, SHA1_DIGEST_SIZE))
		return -EINVAL;
	if (cmd[0] == '0')
		return -EINVAL;	/* N = 0, or a leading zero on any length */
	t->head_given = h_len != 0;
	t->head = 0;
	if (t->head_given && parse_number(cmd + h_at, h_len, &t->head))
		return -EINVAL;
	return parse_number(cmd, n_len, &t->n);
}

static int bank_by_name(const struct parse_bank *banks, int nr,
			const char *name)
{
	int i;

	for (i = 0; i < nr; i++)
		if (banks[i].available && !strcmp(banks[i].name, name))
			return i;
	return -1;
}

/*
 * "<pcr> <alg> <hex>" lines into @base: every available bank, for each PCR
 * named; lines for other banks are skipped.
 */
static int rebase_parse_values(char *lines, const struct parse_bank *banks,
			       int nr, struct pcr_values *base)
{
	u32 seen[IMASNAP_NR_PCRS] = { 0 }, all = 0;
	char *line, *pcr_s, *alg, *hex;
	unsigned int pcr;
	u64 pcr64;
	int i;

	for (i = 0; i < nr; i++)
		if (banks[i].available)
			all |= BIT(i);
	while ((line = strsep(&lines, "\n")) && *line) {
		pcr_s = strsep(&line, " ");
		alg = strsep(&line, " ");
		hex = line;
		if (!alg || !hex || parse_u64(pcr_s, &pcr64) ||
		    pcr64 >= IMASNAP_NR_PCRS)
			return -EINVAL;
		pcr = pcr64;
		i = bank_by_name(banks, nr, alg);
		if (i < 0)
			continue;	/* a bank this helper does not keep */
		if ((seen[pcr] & BIT(i)) ||
		    strlen(hex) != 2 * banks[i].digest_size ||
		    hex2bin(base->value[pcr][i], hex, banks[i].digest_size))
			return -EINVAL;
		seen[pcr] |= BIT(i);
		base->mask |= BIT(pcr);
	}
	if (lines)	/* an empty line before the end */
		return -EINVAL;
	for (pcr = 0; pcr < IMASNAP_NR_PCRS; pcr++)
		if ((base->mask & BIT(pcr)) && seen[pcr] != all)
			return -EINVAL;
	return 0;
}

/*
 * "<N> <sha1hex or -> <C>\n" then "<pcr> <alg> <hex>\n" lines (every
 * available bank for each PCR given). @cmd is NUL-terminated at @len and
 * cut up in place. Any error is -EINVAL.
 */
int rebase_parse(char *cmd, size_t len, const struct parse_bank *banks,
		 int nr_banks, struct rebase_cmd *rb)
{
	char *head, *n_s, *d_s, *c_s;

	if (!len || cmd[len - 1] != '\n' || nr_banks > TPM2_MAX_PCR_BANKS)
		return -EINVAL;
	cmd[len - 1] = '\0';
	head = strsep(&cmd, "\n");
	n_s = strsep(&head, " ");
	d_s = strsep(&head, " ");
	c_s = head;
	if (!d_s || !c_s || parse_u64(n_s, &rb->n) ||
	    parse_u64(c_s, &rb->count))
		return -EINVAL;
	memset(rb->digest, 0, sizeof(rb->digest));
	if (rb->n ? strlen(d_s) != 2 * SHA1_DIGEST_SIZE ||
		    hex2bin(rb->digest, d_s, SHA1_DIGEST_SIZE) :
		    strcmp(d_s, "-"))
		return -EINVAL;
	/* no PCR given: all zero */
	return cmd ? rebase_parse_values(cmd, banks, nr_banks, rb->base) : 0;
}

/* "<C>" with an optional final newline; @cmd is NUL-terminated at @len */
int persisted_parse(char *cmd, size_t len, u64 *count)
{
	if (len && cmd[len - 1] == '\n')
		cmd[len - 1] = '\0';
	return parse_u64(cmd, count) ? -EINVAL : 0;
}
