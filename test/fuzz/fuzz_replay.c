// SPDX-License-Identifier: GPL-2.0-only
/*
 * Replay (user/replay.c): a log's records extend PCRs per bank as IMA
 * extends the TPM, and replay_until_match looks for the prefix that gives
 * the TPM's values. Input: u8 flags | binary log. Flag bit 0: set each
 * record's logged SHA-1 to that of its data (so replay gets past the digest
 * check; violations stay zero); bit 1: the "TPM" extended the SHA-2 banks
 * with padded SHA-1 (a kernel without those hashes). The TPM's values are
 * the log's own replay, so, with the n records the log holds (n >= 1):
 * - when every digest is right, the replay matches, at n - 1 or n (IMA
 *   counts an entry before it extends; both are allowed);
 * - replay_check_digest agrees with a SHA-1 computed here;
 * - a wrong digest before the last record is reported (-EBADMSG) and the
 *   replay stops there; one in the last record is reported or matched before;
 * - a failed extend leaves the replay unchanged; epoch_base only names an
 *   aggregate that counts no entry before it.
 */
#include <openssl/evp.h>

#include "fuzz.h"
#include "log.h"
#include "replay.h"
#include "snapshot.h"

#define MAX_RECORDS	64

static const uint16_t algs[] = { ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512 };

struct records {
	uint8_t *data;
	size_t offsets[MAX_RECORDS + 1];
	bool digest_ok[MAX_RECORDS];
	uint64_t n;
};

static const uint8_t *record_at(const void *ctx, uint64_t i, size_t *len)
{
	const struct records *r = ctx;

	if (i >= r->n)
		return NULL;
	*len = r->offsets[i + 1] - r->offsets[i];
	return r->data + r->offsets[i];
}

/*
 * Whether the record's logged SHA-1 is that of the bytes its digest hashes
 * (a violation's zero digest is right), computed here apart from replay.c;
 * with fix, makes it so
 */
static bool digest_ok(uint8_t *bytes, size_t len, bool fix)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	struct log_record rec;
	struct buf hashed = { 0 };
	uint8_t sha1[EVP_MAX_MD_SIZE];
	bool ok;

	FUZZ_ASSERT(log_parse(bytes, len, &rec, NULL) == (ssize_t)len);
	if (!memcmp(rec.digest, zero, LOG_SHA1_SIZE))
		return true;
	FUZZ_ASSERT(!log_hashed_bytes(&rec, &hashed));
	FUZZ_ASSERT(EVP_Digest(hashed.data, hashed.len, sha1, NULL, EVP_sha1(), NULL));
	ok = !memcmp(rec.digest, sha1, LOG_SHA1_SIZE);
	if (fix)
		memcpy((uint8_t *)log_record_sha1(bytes), sha1, LOG_SHA1_SIZE);
	buf_free(&hashed);
	return ok || fix;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	struct records r = { .data = fuzz_dup(in.p, in.left) };
	struct replay_pair all, rp;
	struct replay tpm, before;
	struct log_record rec;
	struct aggregate agg;
	uint64_t i, bad = UINT64_MAX, matched, at;
	size_t off = 0, len;
	ssize_t got;
	int err;

	while (r.n < MAX_RECORDS &&
	       (got = log_parse(r.data + off, in.left - off, &rec, NULL)) > 0) {
		r.digest_ok[r.n] = digest_ok(r.data + off, got, flags & 1);
		if (!r.digest_ok[r.n] && bad == UINT64_MAX)
			bad = r.n;
		off += got;
		r.offsets[++r.n] = off;
	}
	if (!r.n)
		goto out;
	FUZZ_ASSERT(!replay_pair_init_algs(&all, algs, 4));
	for (i = 0; i < r.n; i++) {
		const uint8_t *bytes = record_at(&r, i, &len);

		FUZZ_ASSERT(log_parse(bytes, len, &rec, NULL) == (ssize_t)len);
		FUZZ_ASSERT(!replay_check_digest(&rec) == r.digest_ok[i]);
		FUZZ_ASSERT(!replay_extend(&all.hashed, &rec) && !replay_extend(&all.padded, &rec));
		/* out of range: refused, and nothing changes */
		before = all.hashed;
		rec.pcr += REPLAY_NR_PCRS;
		FUZZ_ASSERT(replay_extend(&all.hashed, &rec) == -EINVAL);
		FUZZ_ASSERT(!memcmp(&before, &all.hashed, sizeof(before)));
	}
	FUZZ_ASSERT(all.hashed.records == r.n);
	tpm = flags & 2 ? all.padded : all.hashed;

	FUZZ_ASSERT(!replay_pair_init(&rp, &tpm));
	err = replay_until_match(&rp, &tpm, record_at, &r, 0, r.n, r.n, &matched, stderr);
	if (bad == UINT64_MAX)
		FUZZ_ASSERT(!err && (matched == r.n || matched == r.n - 1));
	else if (bad + 1 < r.n)
		FUZZ_ASSERT(err == -EBADMSG && rp.hashed.records == bad);
	else
		FUZZ_ASSERT(err == -EBADMSG || (!err && matched == r.n - 1));

	if (!epoch_base(record_at, &r, r.n, &agg, &at)) {
		const uint8_t *bytes;

		FUZZ_ASSERT(at < r.n && !agg.trimmed);
		bytes = record_at(&r, at, &len);
		FUZZ_ASSERT(log_parse(bytes, len, &rec, NULL) > 0);
		FUZZ_ASSERT(!aggregate_parse(&rec, &agg));
	}
out:
	free(r.data);
	return 0;
}
