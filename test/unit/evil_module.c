// SPDX-License-Identifier: GPL-2.0-only
/*
 * Code a caller might try to have imasnap load (a TCTI "library", an OpenSSL
 * provider module): built by test_harden.c, it leaves a file at
 * $EVIL_MARKER when anything loads it.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void loaded(void)
{
	const char *marker = getenv("EVIL_MARKER");

	if (marker)
		close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}
