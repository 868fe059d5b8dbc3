/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Protection of the store and of imasnap's controls by BPF LSM programs
 * (bpf/protect.bpf.c): nobody but the loader may modify the store, drive the
 * helper's trim file, remove imasnap's pins or open its BPF objects. The
 * programs' links and maps are pinned under the pin directory as protect_*
 * and stay in force while no loader runs; a restarted loader takes them
 * over. Lifting them is protect_release(), run by `imasnap-load
 * --release-protection --store DIR`.
 */
#ifndef IMASNAP_PROTECT_USER_H
#define IMASNAP_PROTECT_USER_H

#include <stdbool.h>

#include <bpf/libbpf.h>

#include "store.h"

#define PROTECT_PIN_PREFIX	"protect_"

struct protect {
	struct protect_bpf *skel;	/* when this process created the protection */
	int table_fd;			/* -1: not protected */
	int ids_fd;
	int tasks_fd;
	int stats_fd;
};

void protect_init(struct protect *p);

/*
 * Takes over the protection pinned under pin_dir, which must be the
 * protection of this store; if there is none and create is set, creates it
 * for the store's directory and log, pin_dir and this executable, and marks
 * this task as the loader. Call it with the store open and pin_dir locked.
 * Without pins and without create: does nothing (not protected).
 */
int protect_start(struct protect *p, const char *pin_dir, const struct store *s,
		  bool create);

/*
 * Guards the capture programs' objects (programs and maps of obj, and link)
 * like the protection's own; forgets the previous loader's. No-op when not
 * protected.
 */
int protect_guard_capture(struct protect *p, struct bpf_object *obj, struct bpf_link *link);

/* true once protect_start() took over or created the protection */
static inline bool protect_active(const struct protect *p)
{
	return p->table_fd >= 0;
}

/* Closes descriptors; the pins keep the protection in force */
void protect_close(struct protect *p);

/*
 * Lifts the protection of store_dir: refuses while a loader runs (holds
 * pin_dir's lock) or when the protection is of another store; logs to the
 * kernel log and stderr, detaches the links and removes the protect_* pins.
 */
int protect_release(const char *pin_dir, const char *store_dir);

#endif /* IMASNAP_PROTECT_USER_H */
