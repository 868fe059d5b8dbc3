/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What imasnap needs from the running kernel, checked before anything is
 * loaded, pinned or created: by `imasnap check` (an operator, before
 * installing) and at the start of imasnap-load.
 */
#ifndef IMASNAP_PREREQ_H
#define IMASNAP_PREREQ_H

#include <stdbool.h>
#include <stdio.h>

enum prereq {
	PREREQ_IMA = 1 << 0,		/* IMA's lists in securityfs */
	PREREQ_BTF = 1 << 1,		/* /sys/kernel/btf/vmlinux (CO-RE) */
	PREREQ_FEXIT = 1 << 2,		/* fexit on ima_add_digest_entry */
	PREREQ_BPF_LSM = 1 << 3,	/* "bpf" among the active LSMs (--protect) */
	PREREQ_KALLSYMS_ALL = 1 << 4,	/* data symbols in kallsyms (kernel helper) */
	PREREQ_ALL = (1 << 5) - 1,
};

/* What capture alone needs (imasnap-load without --protect) */
#define PREREQ_CAPTURE (PREREQ_IMA | PREREQ_BTF | PREREQ_FEXIT)

/*
 * Checks each piece in `which`; prints one "missing: ..." line to `out` for
 * each one that is missing, and an "ok: ..." line for each present one if
 * `verbose`. Returns the set of missing pieces (0: all there).
 */
unsigned int prereq_check(unsigned int which, bool verbose, FILE *out);

#endif
