/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Replay of a measurement log into PCR values, per PCR and per bank, as IMA
 * extends them (security/integrity/ima/ima_queue.c, ima_api.c):
 *   PCR[bank] = H_bank(PCR[bank] | template_digest[bank])
 * where template_digest[bank] = H_bank(log_hashed_bytes(record)), except for
 * violations (logged digest all zero), which extend with all 0xff bytes.
 */
#ifndef IMASNAP_REPLAY_H
#define IMASNAP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define REPLAY_NR_PCRS		24
#define REPLAY_MAX_BANKS	8
#define REPLAY_MAX_DIGEST	64

/* TCG algorithm identifiers (TPM2_ALG_*) */
#define ALG_SHA1	0x0004
#define ALG_SHA256	0x000b
#define ALG_SHA384	0x000c
#define ALG_SHA512	0x000d
#define ALG_SM3_256	0x0012

struct replay_bank {
	uint16_t alg_id;
	uint16_t size;		/* digest bytes; 0: algorithm not supported */
	/*
	 * IMA extends a bank whose hash the kernel could not load at boot
	 * with the template's SHA-1 digest, zero-padded (ima_crypto.c)
	 */
	bool sha1_padded;
	uint8_t pcr[REPLAY_NR_PCRS][REPLAY_MAX_DIGEST];
};

struct replay {
	int nr_banks;
	struct replay_bank bank[REPLAY_MAX_BANKS];
	uint32_t pcrs_used;	/* bit n: some record extended PCR n */
	uint64_t records;
};

/*
 * Initialises OpenSSL without its configuration file and clears the
 * variables that name code for it to load (OPENSSL_CONF, OPENSSL_MODULES,
 * OPENSSL_ENGINES, ...): a protected loader runs no code a caller names.
 * Call first thing in main(), before any digest. 0 or -EIO.
 */
int replay_crypto_init(void);

/* PCRs start at zero. Unknown algorithms get size 0 and are not replayed. */
int replay_init(struct replay *r, const uint16_t *alg_ids, int nr_banks);
/* Replays every bank but SHA-1 as IMA does when it has no hash for it */
void replay_pad_sha1(struct replay *r);
/* Sets a starting value (a snapshot's base) for one PCR of one bank */
int replay_set_pcr(struct replay *r, uint16_t alg_id, unsigned int pcr,
		   const uint8_t *value, size_t size);
/* One thread's hashing state: an EVP_MD_CTX per algorithm, reused */
#define REPLAY_HASHER_ALGS	5
struct replay_hasher {
	struct evp_md_ctx_st *ctx[REPLAY_HASHER_ALGS];
};

int replay_hasher_init(struct replay_hasher *h);
void replay_hasher_free(struct replay_hasher *h);

/*
 * What a record's replay hashes from its data: its SHA-1 template digest
 * (checked against the logged one) and every bank's. Computing these is the
 * replay's parallel part; extending with them is its sequential part.
 */
struct record_digests {
	uint8_t sha1[LOG_SHA1_SIZE];
	uint8_t bank[REPLAY_MAX_BANKS][REPLAY_MAX_DIGEST];
};

/* The record's digests for r's banks (none for a violation) */
int replay_record_digests(struct replay_hasher *h, const struct replay *r,
			  const struct log_record *rec, struct record_digests *d);

/* Extends every bank with the record; -EINVAL for a PCR out of range */
int replay_extend(struct replay *r, const struct log_record *rec);
/*
 * 0 when the record's logged SHA-1 template digest is sha1 of its hashed
 * bytes (or it is a violation); -EBADMSG when not
 */
int replay_check_digest(const struct log_record *rec);
const struct replay_bank *replay_find_bank(const struct replay *r,
					   uint16_t alg_id);
/* Digest size of a TCG algorithm, 0 if unknown; its name ("sha256") or NULL */
uint16_t alg_digest_size(uint16_t alg_id);
const char *alg_name(uint16_t alg_id);
/* The algorithm of a name alg_name gives ("sha256"), 0 if none */
uint16_t alg_from_name(const char *name);

/*
 * IMA extends each bank with the template's digest in that bank's hash, or,
 * for a bank whose hash the kernel could not load at boot, with the SHA-1
 * digest zero-padded. The log does not say which, so both are replayed.
 */
struct replay_pair {
	struct replay hashed;
	struct replay padded;
	/* the padded replay is skipped: a first pass whose result may do */
	bool hashed_only;
};

enum bank_match { NO_MATCH, HASHED_MATCH, PADDED_MATCH };

/* Both replays at zero, in these banks, or in the TPM's */
int replay_pair_init_algs(struct replay_pair *rp, const uint16_t *alg_ids, int nr_banks);
int replay_pair_init(struct replay_pair *rp, const struct replay *tpm);
/* Starts both replays from a snapshot_aggregate's base values */
int replay_pair_set_base(struct replay_pair *rp, const struct replay *base);
/*
 * Extends both replays with a record whose digests d were computed for
 * rp->hashed: -EBADMSG when its data does not hash to its logged SHA-1
 * digest, -EINVAL for a PCR out of range. replay_pair_record computes d too.
 */
int replay_pair_extend(struct replay_hasher *h, struct replay_pair *rp,
		       const struct log_record *rec, const struct record_digests *d);
int replay_pair_record(struct replay_hasher *h, struct replay_pair *rp,
		       const struct log_record *rec);
/*
 * replay_pair_extend (d NULL: replay_pair_record) of entry i, saying on out
 * why it cannot be replayed
 */
int replay_report_record(struct replay_hasher *h, struct replay_pair *rp,
			 const struct log_record *rec, const struct record_digests *d,
			 uint64_t i, FILE *out);
/* Whether bank b of PCR pcr equals the TPM's, and which way */
enum bank_match replay_bank_match(const struct replay_pair *rp, int b,
				  const struct replay *tpm, unsigned int pcr);

/* Record i of some log (NULL: not there), and its length */
typedef const uint8_t *(*replay_record_fn)(const void *ctx, uint64_t i, size_t *len);

/*
 * Replays records [from, end) into rp. IMA lists and counts an entry before
 * it extends the PCR (both under its list mutex, so one entry at a time) and
 * measurements go on while we read, so the TPM is read first and must equal
 * the replay of some prefix that holds the entries counted before that read
 * but perhaps the last: *matched is the end of the first such prefix, or
 * UINT64_MAX if none. -EBADMSG (said on out) for a record that cannot be
 * read or whose digest is not its data's.
 */
int replay_until_match(struct replay_pair *rp, const struct replay *tpm,
		       replay_record_fn record, const void *ctx, uint64_t from,
		       uint64_t end, uint64_t counted, uint64_t *matched, FILE *out);

#endif /* IMASNAP_REPLAY_H */
