// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replays measurement records into PCR values, per PCR and per bank, the way
 * IMA extends the TPM (ima_queue.c: ima_pcr_extend; ima_api.c:
 * ima_calc_field_array_hash for each bank's template digest).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "replay.h"

static const struct alg_info {
	uint16_t id;
	uint16_t size;
	const char *name;	/* the kernel's hash_algo_name, also OpenSSL's */
} algs[] = {
	{ ALG_SHA1, 20, "sha1" },
	{ ALG_SHA256, 32, "sha256" },
	{ ALG_SHA384, 48, "sha384" },
	{ ALG_SHA512, 64, "sha512" },
	{ ALG_SM3_256, 32, "sm3" },
};

static const struct alg_info *alg_lookup(uint16_t alg_id)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].id == alg_id)
			return &algs[i];
	return NULL;
}

uint16_t alg_digest_size(uint16_t alg_id)
{
	const struct alg_info *alg = alg_lookup(alg_id);

	return alg ? alg->size : 0;
}

const char *alg_name(uint16_t alg_id)
{
	const struct alg_info *alg = alg_lookup(alg_id);

	return alg ? alg->name : NULL;
}

uint16_t alg_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (!strcmp(algs[i].name, name))
			return algs[i].id;
	return 0;
}

_Static_assert(sizeof(algs) / sizeof(algs[0]) == REPLAY_HASHER_ALGS, "one context per algorithm");
static const EVP_MD *fetched_mds[REPLAY_HASHER_ALGS];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/*
 * Fetched once: an EVP_MD looked up by name at each digest costs OpenSSL 3
 * a fetch per call, which a replay of a million records notices.
 */
static void fetch_mds(void)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		fetched_mds[i] = EVP_MD_fetch(NULL, algs[i].name, NULL);
}

/* NULL when this OpenSSL cannot compute the algorithm (sm3 may be absent) */
static const EVP_MD *alg_md(uint16_t alg_id)
{
	const struct alg_info *alg = alg_lookup(alg_id);

	pthread_once(&fetch_once, fetch_mds);
	return alg ? fetched_mds[alg - algs] : NULL;
}

/* Contexts are made when first used: most replays use two algorithms or four */
int replay_hasher_init(struct replay_hasher *h)
{
	memset(h, 0, sizeof(*h));
	return 0;
}

void replay_hasher_free(struct replay_hasher *h)
{
	size_t i;

	for (i = 0; i < REPLAY_HASHER_ALGS; i++) {
		EVP_MD_CTX_free(h->ctx[i]);
		h->ctx[i] = NULL;
	}
}

/* out = H(parts...); serves template digests and extends */
static int hash_parts(struct replay_hasher *h, uint16_t alg_id,
		      const struct log_part *parts, int nr_parts, uint8_t *out)
{
	const struct alg_info *alg = alg_lookup(alg_id);
	const EVP_MD *md = alg_md(alg_id);
	EVP_MD_CTX **ctx;
	int i, ok;

	if (!md)
		return -EOPNOTSUPP;
	/*
	 * One context per algorithm: a context initialised again for the
	 * same digest keeps its state's memory; for another it frees it
	 */
	ctx = &h->ctx[alg - algs];
	if (*ctx) {
		/* NULL: the same digest again, its provider state reset in place */
		md = NULL;
	} else {
		*ctx = EVP_MD_CTX_new();
		if (!*ctx)
			return -ENOMEM;
	}
	ok = EVP_DigestInit_ex2(*ctx, md, NULL);
	for (i = 0; ok && i < nr_parts; i++)
		ok = EVP_DigestUpdate(*ctx, parts[i].data, parts[i].len);
	ok = ok && EVP_DigestFinal_ex(*ctx, out, NULL);
	return ok ? 0 : -EIO;
}

int replay_crypto_init(void)
{
	static const char *const code_vars[] = {
		"OPENSSL_CONF", "OPENSSL_CONF_INCLUDE", "OPENSSL_MODULES",
		"OPENSSL_ENGINES",
	};
	size_t i;

	for (i = 0; i < sizeof(code_vars) / sizeof(code_vars[0]); i++)
		unsetenv(code_vars[i]);
	/* the config's "once" is spent here: later implicit inits load none */
	return OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) ? 0 : -EIO;
}

int replay_init(struct replay *r, const uint16_t *alg_ids, int nr_banks)
{
	int i;

	if (nr_banks < 0 || nr_banks > REPLAY_MAX_BANKS)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->nr_banks = nr_banks;
	for (i = 0; i < nr_banks; i++) {
		r->bank[i].alg_id = alg_ids[i];
		if (alg_md(alg_ids[i]))
			r->bank[i].size = alg_digest_size(alg_ids[i]);
	}
	return 0;
}

void replay_pad_sha1(struct replay *r)
{
	int i;

	for (i = 0; i < r->nr_banks; i++)
		r->bank[i].sha1_padded = r->bank[i].alg_id != ALG_SHA1 &&
					 r->bank[i].size >= LOG_SHA1_SIZE;
}

const struct replay_bank *replay_find_bank(const struct replay *r,
					   uint16_t alg_id)
{
	int i;

	for (i = 0; i < r->nr_banks; i++)
		if (r->bank[i].alg_id == alg_id)
			return &r->bank[i];
	return NULL;
}

int replay_set_pcr(struct replay *r, uint16_t alg_id, unsigned int pcr,
		   const uint8_t *value, size_t size)
{
	struct replay_bank *bank;

	bank = (struct replay_bank *)replay_find_bank(r, alg_id);
	if (!bank)
		return -ENOENT;
	if (pcr >= REPLAY_NR_PCRS || !bank->size || size != bank->size)
		return -EINVAL;
	memcpy(bank->pcr[pcr], value, size);
	return 0;
}

int replay_record_digests(struct replay_hasher *h, const struct replay *r,
			  const struct log_record *rec, struct record_digests *d)
{
	struct log_part parts[LOG_HASHED_PARTS];
	const struct replay_bank *bank;
	int i, n, err;

	/* IMA extends violations with all ones: nothing to hash */
	if (log_is_violation(rec))
		return 0;
	n = log_hashed_parts(rec, parts);
	err = hash_parts(h, ALG_SHA1, parts, n, d->sha1);
	for (i = 0; !err && i < r->nr_banks; i++) {
		bank = &r->bank[i];
		if (!bank->size || bank->sha1_padded)
			continue;
		if (bank->alg_id == ALG_SHA1)
			memcpy(d->bank[i], d->sha1, LOG_SHA1_SIZE);
		else
			err = hash_parts(h, bank->alg_id, parts, n, d->bank[i]);
	}
	return err;
}

/* The bank's template digest of the record, into digest[bank->size] */
static const uint8_t *template_digest(const struct replay_bank *bank,
				      const struct log_record *rec,
				      const uint8_t *hashed, uint8_t *digest)
{
	/* IMA extends violations with all ones, though it logs all zeros */
	if (log_is_violation(rec)) {
		memset(digest, 0xff, bank->size);
		return digest;
	}
	if (bank->sha1_padded) {
		memset(digest, 0, bank->size);
		memcpy(digest, rec->digest, LOG_SHA1_SIZE);
		return digest;
	}
	return hashed;
}

/*
 * Computes every bank's new value before changing any, so that a failure
 * leaves r as it was.
 */
static int extend_banks(struct replay_hasher *h, struct replay *r,
			const struct log_record *rec, const struct record_digests *d)
{
	uint8_t next[REPLAY_MAX_BANKS][REPLAY_MAX_DIGEST];
	uint8_t digest[REPLAY_MAX_DIGEST];
	struct log_part parts[2];
	struct replay_bank *bank;
	int i, err;

	for (i = 0; i < r->nr_banks; i++) {
		bank = &r->bank[i];
		if (!bank->size)
			continue;
		parts[0] = (struct log_part){ bank->pcr[rec->pcr], bank->size };
		parts[1] = (struct log_part){ template_digest(bank, rec, d->bank[i], digest),
					      bank->size };
		err = hash_parts(h, bank->alg_id, parts, 2, next[i]);
		if (err)
			return err;
	}
	for (i = 0; i < r->nr_banks; i++)
		if (r->bank[i].size)
			memcpy(r->bank[i].pcr[rec->pcr], next[i],
			       r->bank[i].size);
	return 0;
}

static int extend_with(struct replay_hasher *h, struct replay *r,
		       const struct log_record *rec, const struct record_digests *d)
{
	int err;

	if (rec->pcr >= REPLAY_NR_PCRS)
		return -EINVAL;
	err = extend_banks(h, r, rec, d);
	if (err)
		return err;
	r->pcrs_used |= 1u << rec->pcr;
	r->records++;
	return 0;
}

int replay_extend(struct replay *r, const struct log_record *rec)
{
	struct record_digests d;
	struct replay_hasher h;
	int err;

	err = replay_hasher_init(&h);
	err = err ?: replay_record_digests(&h, r, rec, &d);
	err = err ?: extend_with(&h, r, rec, &d);
	replay_hasher_free(&h);
	return err;
}

int replay_check_digest(const struct log_record *rec)
{
	struct log_part parts[LOG_HASHED_PARTS];
	uint8_t digest[LOG_SHA1_SIZE];
	struct replay_hasher h;
	int err;

	if (log_is_violation(rec))
		return 0;
	err = replay_hasher_init(&h);
	err = err ?: hash_parts(&h, ALG_SHA1, parts, log_hashed_parts(rec, parts), digest);
	replay_hasher_free(&h);
	if (err)
		return err;
	return memcmp(digest, rec->digest, LOG_SHA1_SIZE) ? -EBADMSG : 0;
}

int replay_pair_extend(struct replay_hasher *h, struct replay_pair *rp,
		       const struct log_record *rec, const struct record_digests *d)
{
	int err;

	if (!log_is_violation(rec) && memcmp(d->sha1, rec->digest, LOG_SHA1_SIZE))
		return -EBADMSG;
	err = extend_with(h, &rp->hashed, rec, d);
	return err || rp->hashed_only ? err : extend_with(h, &rp->padded, rec, d);
}

int replay_pair_record(struct replay_hasher *h, struct replay_pair *rp,
		       const struct log_record *rec)
{
	struct record_digests d;
	int err;

	err = replay_record_digests(h, &rp->hashed, rec, &d);
	return err ?: replay_pair_extend(h, rp, rec, &d);
}

enum bank_match replay_bank_match(const struct replay_pair *rp, int b,
				  const struct replay *tpm, unsigned int pcr)
{
	const struct replay_bank *t = replay_find_bank(tpm, rp->hashed.bank[b].alg_id);
	size_t size = rp->hashed.bank[b].size;

	if (!memcmp(rp->hashed.bank[b].pcr[pcr], t->pcr[pcr], size))
		return HASHED_MATCH;
	if (rp->padded.bank[b].sha1_padded &&
	    !memcmp(rp->padded.bank[b].pcr[pcr], t->pcr[pcr], size))
		return PADDED_MATCH;
	return NO_MATCH;
}

static bool replay_matches(const struct replay_pair *rp, const struct replay *tpm)
{
	unsigned int p;
	int b;

	for (p = 0; p < REPLAY_NR_PCRS; p++) {
		if (!(rp->hashed.pcrs_used & (1u << p)))
			continue;
		for (b = 0; b < rp->hashed.nr_banks; b++)
			if (rp->hashed.bank[b].size && !replay_bank_match(rp, b, tpm, p))
				return false;
	}
	return true;
}

int replay_pair_init_algs(struct replay_pair *rp, const uint16_t *alg_ids, int nr_banks)
{
	int err = replay_init(&rp->hashed, alg_ids, nr_banks);

	err = err ?: replay_init(&rp->padded, alg_ids, nr_banks);
	replay_pad_sha1(&rp->padded);
	rp->hashed_only = false;
	return err;
}

int replay_pair_init(struct replay_pair *rp, const struct replay *tpm)
{
	uint16_t ids[REPLAY_MAX_BANKS];
	int b;

	for (b = 0; b < tpm->nr_banks; b++)
		ids[b] = tpm->bank[b].alg_id;
	return replay_pair_init_algs(rp, ids, tpm->nr_banks);
}

int replay_pair_set_base(struct replay_pair *rp, const struct replay *base)
{
	const struct replay_bank *b;
	unsigned int p;
	int i, err = 0;

	for (i = 0; i < base->nr_banks; i++) {
		b = &base->bank[i];
		for (p = 0; b->size && !err && p < REPLAY_NR_PCRS; p++) {
			if (!(base->pcrs_used & (1u << p)))
				continue;
			err = replay_set_pcr(&rp->hashed, b->alg_id, p, b->pcr[p], b->size);
			err = err ?: replay_set_pcr(&rp->padded, b->alg_id, p, b->pcr[p], b->size);
		}
	}
	return err;
}

int replay_report_record(struct replay_hasher *h, struct replay_pair *rp,
			 const struct log_record *rec, const struct record_digests *d,
			 uint64_t i, FILE *out)
{
	int err = d ? replay_pair_extend(h, rp, rec, d) : replay_pair_record(h, rp, rec);

	if (err == -EBADMSG)
		fprintf(out, "entry %" PRIu64 ": its template data does not hash to its logged digest: replay diverges here\n",
			i);
	else if (err)
		fprintf(out, "entry %" PRIu64 ": cannot be replayed (PCR %u)\n", i, rec->pcr);
	return err;
}

int replay_until_match(struct replay_pair *rp, const struct replay *tpm,
		       replay_record_fn record, const void *ctx, uint64_t from,
		       uint64_t end, uint64_t counted, uint64_t *matched, FILE *out)
{
	struct replay_hasher h;
	struct log_record rec;
	const uint8_t *bytes;
	uint64_t i;
	size_t len;
	int err;

	*matched = UINT64_MAX;
	err = replay_hasher_init(&h);
	for (i = from; !err && i < end; i++) {
		bytes = record(ctx, i, &len);
		if (!bytes || log_parse(bytes, len, &rec, NULL) <= 0) {
			fprintf(out, "entry %" PRIu64 ": cannot be read\n", i);
			err = -EBADMSG;
			break;
		}
		err = replay_report_record(&h, rp, &rec, NULL, i, out);
		/* IMA counts an entry before it extends the TPM: one may be in flight */
		if (!err && i + 2 >= counted && replay_matches(rp, tpm)) {
			*matched = i + 1;
			break;
		}
	}
	replay_hasher_free(&h);
	return err;
}
