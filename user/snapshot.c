// SPDX-License-Identifier: GPL-2.0-only
/* Trimming through the kernel helper; snapshot_aggregate records */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"
#include "snapshot_format.h"
#include "store.h"

/* The n-th "u32 len | bytes" field of a record's template data */
static int record_field(const struct log_record *rec, int n,
			const uint8_t **data, uint32_t *len)
{
	uint32_t off = 0;
	int i;

	for (i = 0; off + 4 <= rec->data_len; i++) {
		*len = le32(rec->data + off);
		*data = rec->data + off + 4;
		if (*len > rec->data_len - off - 4)
			return -EINVAL;
		if (i == n)
			return 0;
		off += 4 + *len;
	}
	return -ENOENT;
}

/*
 * sizes[] gets each bank's digest size as the table gives it: the PCR records
 * hold values of that size even for a bank this program cannot replay (an
 * algorithm it does not know, or one the helper could not hash)
 */
static int parse_banks(const uint8_t **p, const uint8_t *end, struct aggregate *agg,
		       int nr_banks, uint16_t *sizes)
{
	uint16_t algs[REPLAY_MAX_BANKS] = {0};
	int i, err;

	if (nr_banks > REPLAY_MAX_BANKS || end - *p < nr_banks * AGG_BANK_SIZE)
		return -EINVAL;
	for (i = 0; i < nr_banks; i++)
		algs[i] = le16(*p + i * AGG_BANK_SIZE);
	err = replay_init(&agg->base, algs, nr_banks);
	for (i = 0; !err && i < nr_banks; i++, *p += AGG_BANK_SIZE) {
		sizes[i] = le16(*p + 2);
		/* a bank the helper could not hash has no base: skip it */
		if (le16(*p + 4) & AGG_BANK_UNAVAILABLE)
			agg->base.bank[i].size = 0;
		if (alg_digest_size(algs[i]) && sizes[i] != alg_digest_size(algs[i]))
			err = -EINVAL;
	}
	return err;
}

static int parse_pcrs(const uint8_t *p, const uint8_t *end, struct aggregate *agg,
		      int nr_pcrs, const uint16_t *sizes)
{
	struct replay_bank *bank;
	int n, b, last = -1;
	uint32_t pcr;
	size_t size;

	for (n = 0; n < nr_pcrs; n++) {
		if (end - p < 4)
			return -EINVAL;
		pcr = le32(p);
		p += 4;
		if (pcr >= REPLAY_NR_PCRS || (int)pcr <= last)
			return -EINVAL;
		last = pcr;
		for (b = 0; b < agg->base.nr_banks; b++) {
			bank = &agg->base.bank[b];
			size = sizes[b];
			if ((size_t)(end - p) < size)
				return -EINVAL;
			if (bank->size)
				memcpy(bank->pcr[pcr], p, size);
			p += size;
		}
		agg->base.pcrs_used |= 1u << pcr;
	}
	return p == end ? 0 : -EINVAL;
}

/*
 * The head field and whether it is set: version 2 says so in its flags,
 * version 1 by a non-zero head (its word at 60 is reserved, 0). A head set
 * to zero is a violation's digest.
 */
static int parse_head(const uint8_t *buf, struct aggregate *agg)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	uint32_t word = le32(buf + 60);

	memcpy(agg->head, buf + 40, LOG_SHA1_SIZE);
	switch (le16(buf + 8)) {
	case AGG_VERSION_1:
		agg->head_set = memcmp(agg->head, zero, LOG_SHA1_SIZE) != 0;
		return word ? -EINVAL : 0;
	case AGG_VERSION_2:
		agg->head_set = word & AGG_HEAD_SET;
		if (word & ~AGG_HEAD_SET ||
		    (!agg->head_set && memcmp(agg->head, zero, LOG_SHA1_SIZE)))
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

int aggregate_parse(const struct log_record *rec, struct aggregate *agg)
{
	uint16_t sizes[REPLAY_MAX_BANKS];
	const uint8_t *name, *buf, *p;
	uint32_t name_len, len;
	int err;

	if (rec->name_len != strlen("ima-buf") || memcmp(rec->name, "ima-buf", rec->name_len) ||
	    record_field(rec, 1, &name, &name_len) ||
	    name_len != sizeof(AGGREGATE_EVENT_NAME) ||
	    memcmp(name, AGGREGATE_EVENT_NAME, name_len))
		return -ENOENT;
	if (record_field(rec, 2, &buf, &len) || len < AGG_HEADER_SIZE ||
	    memcmp(buf, AGG_MAGIC, sizeof(AGG_MAGIC)) || le16(buf + 10) != AGG_HEADER_SIZE ||
	    parse_head(buf, agg))
		return -EINVAL;
	memcpy(agg->epoch, buf + 16, AGGREGATE_EPOCH_SIZE);
	agg->trimmed = le64(buf + 32);
	p = buf + AGG_HEADER_SIZE;
	err = parse_banks(&p, buf + len, agg, le16(buf + 12), sizes);
	return err ?: parse_pcrs(p, buf + len, agg, le16(buf + 14), sizes);
}

int aggregate_latest(const struct kernel_log *kl, struct aggregate *agg,
		     uint64_t *index)
{
	struct log_record rec;
	uint64_t i;
	int err;

	for (i = kl->first + kl->count; i-- > kl->first;) {
		err = kernel_log_get(kl, i, &rec);
		if (!err)
			err = aggregate_parse(&rec, agg);
		if (err != -ENOENT) {
			*index = i;
			return err;
		}
	}
	return -ENOENT;
}

int epoch_base(replay_record_fn record, const void *ctx, uint64_t end,
	       struct aggregate *agg, uint64_t *index)
{
	struct log_record rec;
	const uint8_t *bytes;
	uint64_t i;
	size_t len;
	int err;

	for (i = 0; i < end; i++) {
		bytes = record(ctx, i, &len);
		if (!bytes || log_parse(bytes, len, &rec, NULL) <= 0)
			return -ENOENT;	/* replay stops there and says so */
		err = aggregate_parse(&rec, agg);
		if (err == -ENOENT)
			continue;
		*index = i;
		return !err && !agg->trimmed ? 0 : -ENOENT;
	}
	return -ENOENT;
}

int epoch_base_proven(replay_record_fn record, const void *ctx, uint64_t end,
		      const struct epoch_base_id *recorded, struct aggregate *agg,
		      uint64_t *at, const char **why)
{
	static const uint8_t zero[LOG_SHA1_SIZE];
	struct log_record rec;
	const uint8_t *bytes;
	size_t len;
	int err = -ENOENT;

	for (*at = 0; *at < end; (*at)++) {
		bytes = record(ctx, *at, &len);
		if (!bytes || log_parse(bytes, len, &rec, NULL) <= 0)
			break;		/* replay stops there and says so */
		err = aggregate_parse(&rec, agg);
		if (err != -ENOENT)
			break;
	}
	/* a malformed aggregate claims to be one: it is no base, and no zero start */
	if (err == -ENOENT || (!err && agg->trimmed)) {
		*why = "the store records a base (DIR/epoch) but the log holds none there";
		return recorded ? -EBADMSG : -ENOENT;
	}
	if (err)
		*why = "the log's first snapshot_aggregate is malformed";
	else if (!recorded)
		*why = "the log begins at a snapshot_aggregate base that the loader did not record in DIR/epoch";
	else if (*at != recorded->index || memcmp(rec.digest, recorded->digest, LOG_SHA1_SIZE))
		*why = "the log's base is not the record the loader recorded in DIR/epoch";
	else if (rec.pcr != AGGREGATE_PCR)
		*why = "the base is not logged in PCR 10";
	else if (!memcmp(rec.digest, zero, LOG_SHA1_SIZE) || replay_check_digest(&rec))
		*why = "the base's template data does not hash to its digest";
	else
		return 0;
	return -EBADMSG;
}

/* bank b of replay r equals want's bank of its algorithm in every PCR */
static bool bank_equals(const struct replay_bank *got, const struct replay_bank *want, int *pcr)
{
	for (*pcr = 0; *pcr < REPLAY_NR_PCRS; (*pcr)++)
		if (memcmp(got->pcr[*pcr], want->pcr[*pcr], want->size))
			return false;
	return true;
}

/* Every bank of base the replay has: equal to it, hashed or padded */
static int check_base(const struct replay_pair *rp, const struct replay *base, int *pcr,
		      uint16_t *alg)
{
	const struct replay_bank *want, *hashed, *padded;
	int b, p;

	for (b = 0; b < base->nr_banks; b++) {
		want = &base->bank[b];
		hashed = replay_find_bank(&rp->hashed, want->alg_id);
		padded = replay_find_bank(&rp->padded, want->alg_id);
		if (!want->size || !hashed || hashed->size != want->size)
			continue;
		if (bank_equals(hashed, want, pcr) ||
		    (padded->sha1_padded && bank_equals(padded, want, &p)))
			continue;
		*alg = want->alg_id;
		return -EBADMSG;
	}
	return 0;
}

static int replay_range(struct replay_pair *rp, replay_record_fn record, const void *ctx,
			uint64_t from, uint64_t end)
{
	struct replay_hasher h;
	struct log_record rec;
	const uint8_t *bytes;
	size_t len;
	int err;

	err = replay_hasher_init(&h);
	for (; !err && from < end; from++) {
		bytes = record(ctx, from, &len);
		err = !bytes || log_parse(bytes, len, &rec, NULL) <= 0 ? -EBADMSG :
		      replay_pair_record(&h, rp, &rec);
	}
	replay_hasher_free(&h);
	return err ? -EBADMSG : 0;
}

int replay_to_kernel_bases(const struct replay_pair *start, replay_record_fn record,
			   const void *ctx, const struct kernel_log *kl, uint64_t *bad_at,
			   int *pcr, uint16_t *alg)
{
	struct replay_pair *rp;
	struct log_record rec;
	struct aggregate agg;
	uint64_t i, pos = 0;
	int err = 0;

	rp = malloc(sizeof(*rp));	/* some 25 KiB: not on the stack */
	if (!rp)
		return -ENOMEM;
	*rp = *start;
	for (i = kl->first; !err && i < kl->first + kl->count; i++) {
		if (kernel_log_get(kl, i, &rec) || aggregate_parse(&rec, &agg) ||
		    agg.trimmed > kl->first)
			continue;
		*bad_at = i;
		*pcr = -1;
		*alg = 0;
		if (agg.trimmed < pos) {	/* not in order: from the start again */
			*rp = *start;
			pos = 0;
		}
		err = replay_range(rp, record, ctx, pos, agg.trimmed);
		pos = agg.trimmed;
		err = err ?: check_base(rp, &agg.base, pcr, alg);
	}
	free(rp);
	return err;
}

bool helper_present(void)
{
	char path[512];

	securityfs_file(path, sizeof(path), "imasnap", "trim");
	return access(path, F_OK) == 0;
}

int helper_write(const char *file, const void *cmd, size_t len)
{
	char path[512];
	ssize_t n;
	int fd, err;

	securityfs_file(path, sizeof(path), "imasnap", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, cmd, len);
	err = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

int trim_command(char *cmd, size_t size, uint64_t count,
		 const uint8_t last_digest[LOG_SHA1_SIZE], const uint64_t *head)
{
	size_t len;
	int i, n;

	n = snprintf(cmd, size, "%" PRIu64 " ", count);
	for (i = 0; n >= 0 && i < LOG_SHA1_SIZE; i++)
		n += snprintf(cmd + n, size > (size_t)n ? size - n : 0, "%02x", last_digest[i]);
	if (n >= 0 && head)
		n += snprintf(cmd + n, size > (size_t)n ? size - n : 0, " %" PRIu64, *head);
	len = n;
	if (n < 0 || len + 2 > size)
		return -ENAMETOOLONG;
	cmd[len++] = '\n';
	cmd[len] = '\0';
	return len;
}

#define TRIM_TRIES	5	/* another trim moved the head between read and write */

/*
 * Writes "N DIGEST H": the helper refuses (ESTALE) when the head is not at H
 * any more, so N always counts from the head we read. A helper from before
 * the third field refuses it with EINVAL: it gets the two-field form, whose
 * digest check it always relied on.
 */
static int trim_once(uint64_t end, const uint8_t last_digest[LOG_SHA1_SIZE],
		     uint64_t *trimmed)
{
	char cmd[96];
	uint64_t head;
	int len, err;

	err = kernel_head(&head);
	if (err)
		return err;
	if (end <= head)
		return 0;
	len = trim_command(cmd, sizeof(cmd), end - head, last_digest, &head);
	err = len < 0 ? len : helper_write("trim", cmd, len);
	if (err == -EINVAL) {
		len = trim_command(cmd, sizeof(cmd), end - head, last_digest, NULL);
		err = len < 0 ? len : helper_write("trim", cmd, len);
	}
	if (!err)
		*trimmed = end - head;
	return err;
}

int trim_to(uint64_t end, const uint8_t last_digest[LOG_SHA1_SIZE],
	    uint64_t *trimmed)
{
	int tries, err = -ESTALE;

	*trimmed = 0;
	for (tries = 0; tries < TRIM_TRIES && err == -ESTALE; tries++)
		err = trim_once(end, last_digest, trimmed);
	return err;
}

int helper_report_persisted(uint64_t entries)
{
	char cmd[32];
	int len;

	if (!helper_present())
		return -ENODEV;
	len = snprintf(cmd, sizeof(cmd), "%" PRIu64 "\n", entries);
	return helper_write("persisted", cmd, len);
}

/* Only a store that is the kernel's log where both hold entries may trim */
static int store_matches_kernel(const struct buf *data, size_t tail, uint64_t entries)
{
	struct kernel_log kl;
	uint64_t index;
	int err;

	err = kernel_log_read(&kl);
	if (err)
		return err;
	if (log_compare_kernel(data->data, data->len - tail, &kl, entries, &index)) {
		fprintf(stderr, "imasnap: store entry %" PRIu64 " differs from the kernel's list\n",
			index);
		err = -ESTALE;
	}
	kernel_log_free(&kl);
	return err;
}

static int sync_store(const char *dir)
{
	char path[4200];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOG_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fdatasync(fd))
		err = -errno;
	close(fd);
	return err;
}

int snapshot_store(const char *dir, uint64_t keep, uint64_t *trimmed)
{
	struct store_view v;
	size_t len;
	int err;

	*trimmed = 0;
	if (!helper_present())
		return -ENODEV;
	err = sync_store(dir);
	if (!err)
		err = store_read(dir, &v);
	if (err)
		return err < 0 ? err : -EIO;
	err = store_matches_kernel(&v.data, v.tail, v.entries);
	if (!err && v.entries > keep)
		err = trim_to(v.entries - keep,
			      log_record_sha1(store_view_record(&v, v.entries - keep - 1, &len)),
			      trimmed);
	store_view_free(&v);
	return err;
}
