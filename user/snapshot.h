/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Snapshots: trimming the kernel's list through the kernel helper
 * (/sys/kernel/security/imasnap/trim), and reading the snapshot_aggregate
 * records it appends (format: docs/formats.md, "The snapshot_aggregate entry").
 */
#ifndef IMASNAP_SNAPSHOT_H
#define IMASNAP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel_log.h"
#include "log.h"
#include "replay.h"

#define AGGREGATE_EVENT_NAME	"snapshot_aggregate"
#define AGGREGATE_EPOCH_SIZE	16
#define AGGREGATE_PCR		10	/* CONFIG_IMA_MEASURE_PCR_IDX */

struct aggregate {
	uint8_t epoch[AGGREGATE_EPOCH_SIZE];
	uint64_t trimmed;	/* global index of the list's head after the trim */
	/*
	 * head_set: head is the SHA-1 template digest of the list's new first
	 * entry (zero: a violation); clear: the trim removed every entry listed
	 * when it was asked, head is zero
	 */
	bool head_set;
	uint8_t head[LOG_SHA1_SIZE];
	/* PCR values just before the head, per bank (size 0: unavailable) */
	struct replay base;
};

/*
 * Decodes a record if it is a snapshot_aggregate: 0, -ENOENT if it is some
 * other record, -EINVAL if it claims to be one but is malformed.
 */
int aggregate_parse(const struct log_record *rec, struct aggregate *agg);
/* The newest snapshot_aggregate in the kernel's list and its global index */
int aggregate_latest(const struct kernel_log *kl, struct aggregate *agg,
		     uint64_t *index);

/*
 * Where an epoch that began at a cut has its base: a log's first
 * snapshot_aggregate, if it counts no entry of the epoch before the head it
 * describes (the helper's rebase with C = 0, when continuity could not be
 * proven). 0 with *agg and its index, or -ENOENT: the epoch began at zero.
 */
int epoch_base(replay_record_fn record, const void *ctx, uint64_t end,
	       struct aggregate *agg, uint64_t *index);

/* Which record an epoch begun at a cut has as its base (DIR/epoch) */
struct epoch_base_id {
	uint64_t index;				/* the epoch's entry index */
	uint8_t digest[LOG_SHA1_SIZE];		/* its SHA-1 template digest */
};

/*
 * The base of an epoch begun at a cut, as verify accepts it: the log's first
 * snapshot_aggregate if it counts no entry before its head (trimmed 0) must
 * be the record the loader recorded when it made the cut (recorded; NULL:
 * none was), a well-formed aggregate logged in PCR 10
 * (CONFIG_IMA_MEASURE_PCR_IDX), not a violation, its digest its data's.
 * 0 with *agg and *at; -ENOENT: no base, none recorded (the epoch began at
 * zero); -EBADMSG with *why: a base that is not proven, or a recorded one
 * missing.
 */
int epoch_base_proven(replay_record_fn record, const void *ctx, uint64_t end,
		      const struct epoch_base_id *recorded, struct aggregate *agg,
		      uint64_t *at, const char **why);

/*
 * The part of a log before the kernel's head (replayed from start, the
 * epoch's values before entry 0) must give, at each snapshot_aggregate the
 * kernel still lists, exactly that record's base values, per PCR and per
 * bank (either way IMA may extend a bank): the kernel's are authoritative.
 * 0; -EBADMSG with *bad_at the aggregate's index, *pcr and *alg where they
 * differ (*pcr -1: the log's records there cannot be read).
 */
int replay_to_kernel_bases(const struct replay_pair *start, replay_record_fn record,
			   const void *ctx, const struct kernel_log *kl, uint64_t *bad_at,
			   int *pcr, uint16_t *alg);

/* true when the helper module is loaded */
bool helper_present(void);
/* One write(2) of a command to the helper's file imasnap/<file>: 0 or -errno */
int helper_write(const char *file, const void *cmd, size_t len);
/* Tells the helper that the store holds the epoch's first entries durably */
int helper_report_persisted(uint64_t entries);
/*
 * The trim file's command "COUNT DIGEST[ HEAD]\n" in cmd[size]: its length,
 * or -ENAMETOOLONG. head NULL: the two-field form of helpers before HEAD.
 */
int trim_command(char *cmd, size_t size, uint64_t count,
		 const uint8_t last_digest[LOG_SHA1_SIZE], const uint64_t *head);

/*
 * Trims the kernel's list up to (not including) global index end, whose
 * previous entry has SHA-1 template digest last_digest: the helper checks
 * that digest, so nothing that the caller does not hold can go. *trimmed
 * gets the number of entries removed (0: nothing to do). The command names
 * the head it counted from; when another trim moved it, reads again (a few
 * times). -ESTALE: the list does not hold that entry there; -EBUSY: readers
 * kept the list open.
 */
int trim_to(uint64_t end, const uint8_t last_digest[LOG_SHA1_SIZE],
	    uint64_t *trimmed);

/*
 * Trims from the kernel's list every entry the store in dir holds, but the
 * last keep: syncs the store, checks it against the kernel's list, and trims
 * through the helper up to its last record. -ENODEV: no helper; -ESTALE: the
 * store differs from the kernel's list (message on stderr); -EBUSY: readers
 * kept the list open; -EPERM: the store's protection, only its loader trims.
 */
int snapshot_store(const char *dir, uint64_t keep, uint64_t *trimmed);

#endif /* IMASNAP_SNAPSHOT_H */
