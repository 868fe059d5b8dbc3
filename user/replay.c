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

/* NULL when this OpenSSL cannot compute the algorithm (sm3 may be absent) */
static const EVP_MD *alg_md(uint16_t alg_id)
{
	const struct alg_info *alg = alg_lookup(alg_id);

	return alg ? EVP_get_digestbyname(alg->name) : NULL;
}

/* out = H(a | b); b may be empty. Serves template digests and extends. */
static int hash2(uint16_t alg_id, const void *a, size_t a_len,
		 const void *b, size_t b_len, uint8_t *out)
{
	const EVP_MD *md = alg_md(alg_id);
	EVP_MD_CTX *ctx;
	int ok;

	if (!md)
		return -EOPNOTSUPP;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL) &&
	     EVP_DigestUpdate(ctx, a, a_len) &&
	     EVP_DigestUpdate(ctx, b, b_len) &&
	     EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
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

/* The bank's template digest of the record, into digest[bank->size] */
static int template_digest(const struct replay_bank *bank,
			   const struct log_record *rec,
			   const struct buf *hashed, uint8_t *digest)
{
	/* IMA extends violations with all ones, though it logs all zeros */
	if (log_is_violation(rec)) {
		memset(digest, 0xff, bank->size);
		return 0;
	}
	if (bank->sha1_padded) {
		memset(digest, 0, bank->size);
		memcpy(digest, rec->digest, LOG_SHA1_SIZE);
		return 0;
	}
	return hash2(bank->alg_id, hashed->data, hashed->len, NULL, 0, digest);
}

/*
 * Computes every bank's new value before changing any, so that a failure
 * leaves r as it was.
 */
static int extend_banks(struct replay *r, const struct log_record *rec,
			const struct buf *hashed)
{
	uint8_t next[REPLAY_MAX_BANKS][REPLAY_MAX_DIGEST];
	uint8_t digest[REPLAY_MAX_DIGEST];
	struct replay_bank *bank;
	int i, err;

	for (i = 0; i < r->nr_banks; i++) {
		bank = &r->bank[i];
		if (!bank->size)
			continue;
		err = template_digest(bank, rec, hashed, digest);
		err = err ?: hash2(bank->alg_id, bank->pcr[rec->pcr],
				   bank->size, digest, bank->size, next[i]);
		if (err)
			return err;
	}
	for (i = 0; i < r->nr_banks; i++)
		if (r->bank[i].size)
			memcpy(r->bank[i].pcr[rec->pcr], next[i],
			       r->bank[i].size);
	return 0;
}

int replay_extend(struct replay *r, const struct log_record *rec)
{
	struct buf hashed = { 0 };
	int err;

	if (rec->pcr >= REPLAY_NR_PCRS)
		return -EINVAL;
	err = log_hashed_bytes(rec, &hashed);
	err = err ?: extend_banks(r, rec, &hashed);
	buf_free(&hashed);
	if (err)
		return err;
	r->pcrs_used |= 1u << rec->pcr;
	r->records++;
	return 0;
}

int replay_check_digest(const struct log_record *rec)
{
	uint8_t digest[LOG_SHA1_SIZE];
	struct buf hashed = { 0 };
	int err;

	if (log_is_violation(rec))
		return 0;
	err = log_hashed_bytes(rec, &hashed);
	err = err ?: hash2(ALG_SHA1, hashed.data, hashed.len, NULL, 0, digest);
	buf_free(&hashed);
	if (err)
		return err;
	return memcmp(digest, rec->digest, LOG_SHA1_SIZE) ? -EBADMSG : 0;
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

int replay_until_match(struct replay_pair *rp, const struct replay *tpm,
		       replay_record_fn record, const void *ctx, uint64_t from,
		       uint64_t end, uint64_t counted, uint64_t *matched, FILE *out)
{
	struct log_record rec;
	const uint8_t *bytes;
	uint64_t i;
	size_t len;
	int err;

	*matched = UINT64_MAX;
	for (i = from; i < end; i++) {
		bytes = record(ctx, i, &len);
		if (!bytes || log_parse(bytes, len, &rec, NULL) <= 0) {
			fprintf(out, "entry %" PRIu64 ": cannot be read\n", i);
			return -EBADMSG;
		}
		if (replay_check_digest(&rec)) {
			fprintf(out, "entry %" PRIu64 ": its template data does not hash to its logged digest: replay diverges here\n",
				i);
			return -EBADMSG;
		}
		err = replay_extend(&rp->hashed, &rec);
		err = err ?: replay_extend(&rp->padded, &rec);
		if (err) {
			fprintf(out, "entry %" PRIu64 ": cannot be replayed (PCR %u)\n", i, rec.pcr);
			return err;
		}
		/* IMA counts an entry before it extends the TPM: one may be in flight */
		if (i + 2 >= counted && replay_matches(rp, tpm)) {
			*matched = i + 1;
			break;
		}
	}
	return 0;
}
