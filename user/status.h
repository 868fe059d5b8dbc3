/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loader's counters, kept beside the log as DIR/loader.state (text,
 * "key: value" lines) so that `imasnap status` can show them. Replaced
 * atomically (write, fsync, rename); they count since the store was created.
 */
#ifndef IMASNAP_STATUS_H
#define IMASNAP_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define LOADER_STATE_NAME	"loader.state"

struct loader_stats {
	uint64_t events;	/* entries that arrived through the ring */
	uint64_t drops;		/* ring full when the BPF program ran */
	uint64_t repairs;	/* times a gap was filled from the kernel's list */
	uint64_t repaired;	/* entries those repairs fetched */
	uint64_t duplicates;	/* ring events for entries already stored */
	uint64_t fetched;	/* entries read from the kernel's list at start-up */
	uint64_t truncated;	/* entries too large for the ring, fetched */
	uint64_t snapshots;	/* automatic snapshots (trims) the loader made */
	uint64_t trimmed;	/* entries those snapshots removed from the kernel */
	uint64_t starts;	/* loader start-ups on this store */
	int64_t pid;		/* last loader's pid */
};

/* Room for the "key: value" lines of every counter */
#define STATS_TEXT_MAX		512

/* The lines stats_format writes; unknown keys are skipped */
void stats_parse(const char *text, struct loader_stats *st);
/* Length written (NUL-terminated) or -ENOSPC */
int stats_format(const struct loader_stats *st, char *out, size_t size);
int stats_load(const char *dir, struct loader_stats *st);
int stats_save(const char *dir, const struct loader_stats *st);

#endif /* IMASNAP_STATUS_H */
