/* SPDX-License-Identifier: GPL-2.0-only */
/* Command-line numbers, one parser for imasnap and imasnap-load */
#ifndef IMASNAP_ARGS_H
#define IMASNAP_ARGS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * A decimal count; with units, an optional K or M suffix (binary units).
 * Signs, spaces, overflow and trailing bytes are -EINVAL.
 */
static inline int parse_count(const char *arg, bool units, uint64_t *val)
{
	char *end;

	if (*arg < '0' || *arg > '9')
		return -EINVAL;
	errno = 0;
	*val = strtoull(arg, &end, 10);
	if (errno)
		return -EINVAL;
	if (units && (*end == 'K' || *end == 'k') && *val < (1ull << 44))
		*val <<= 10, end++;
	else if (units && (*end == 'M' || *end == 'm') && *val < (1ull << 34))
		*val <<= 20, end++;
	return *end ? -EINVAL : 0;
}

#endif /* IMASNAP_ARGS_H */
