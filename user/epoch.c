// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epoch.h"
#include "kernel_log.h"
#include "replay.h"
#include "snapshot.h"
#include "tpm.h"

#define BOOT_ID_SIZE 37		/* 36 characters and the NUL */

struct epoch_file {
	char epoch[BOOT_ID_SIZE];	/* boot that began the store */
	char boot[BOOT_ID_SIZE];	/* boot that last wrote it */
};

static int read_boot_id(char id[BOOT_ID_SIZE])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int err = 0;

	if (!f || !fgets(id, BOOT_ID_SIZE, f) || strlen(id) != BOOT_ID_SIZE - 1)
		err = -EIO;
	if (f)
		fclose(f);
	if (err)
		fprintf(stderr, "cannot read /proc/sys/kernel/random/boot_id\n");
	return err;
}

/* -ENOENT: no file (a new store, or one older than epoch files) */
static int epoch_read(const struct store *s, struct epoch_file *ef)
{
	char line[64];
	FILE *f;
	int fd, got = 0;

	fd = openat(s->dirfd, EPOCH_FILE_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "epoch %36s", ef->epoch) == 1)
			got |= 1;
		else if (sscanf(line, "boot %36s", ef->boot) == 1)
			got |= 2;
	}
	fclose(f);
	if (got != 3) {
		fprintf(stderr, "%s/%s: not an epoch file (no epoch and boot lines)\n",
			s->dir, EPOCH_FILE_NAME);
		return -EINVAL;
	}
	return 0;
}

/* Written to a temporary name, synced and renamed: never half a file */
static int epoch_write(const struct store *s, const struct epoch_file *ef)
{
	static const char tmp[] = EPOCH_FILE_NAME ".tmp";
	char text[128];
	int fd, len, err = 0;

	len = snprintf(text, sizeof(text), "epoch %s\nboot %s\n", ef->epoch, ef->boot);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write(fd, text, len) != len || fsync(fd) ||
	    renameat(s->dirfd, tmp, s->dirfd, EPOCH_FILE_NAME) || fsync(s->dirfd))
		err = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr, "cannot write %s/%s: %s\n", s->dir, EPOCH_FILE_NAME,
			strerror(-err));
	return err;
}

/*
 * The PCR values after every record of the store, from the epoch's base, in
 * the banks IMA may use, both ways IMA may extend a bank (struct replay_pair)
 */
static const uint8_t *store_record(const void *ctx, uint64_t i, size_t *len)
{
	return store_view_record(ctx, i, len);
}

static int store_replay(const struct store_view *v, struct replay_pair *rp)
{
	static const uint16_t algs[] = { ALG_SHA1, ALG_SHA256, ALG_SHA384, ALG_SHA512 };
	struct log_record rec;
	struct aggregate agg;
	const uint8_t *p;
	size_t len;
	uint64_t i;
	int err;

	err = replay_pair_init_algs(rp, algs, sizeof(algs) / sizeof(algs[0]));
	if (!err && !epoch_base(store_record, v, v->entries, &agg, &i))
		err = replay_pair_set_base(rp, &agg.base);
	for (i = 0; !err && i < v->entries; i++) {
		p = store_view_record(v, i, &len);
		err = log_parse(p, len, &rec, NULL) > 0 ? 0 : -EINVAL;
		err = err ?: replay_extend(&rp->hashed, &rec);
		err = err ?: replay_extend(&rp->padded, &rec);
	}
	return err;
}

/* The PCR values a rebase names: which PCRs, and bank b from bank_from[b] */
struct rebase_values {
	const struct replay *bank_from[REPLAY_MAX_BANKS];
	int nr_banks;
	uint32_t pcrs;
};

/*
 * Asks the helper to cut the list's first k entries and to take the values
 * as the PCRs before the rest, with count entries of the epoch before it (0:
 * a new epoch begins there). -EBADMSG: the rest does not replay from there
 * to the TPM; -ESTALE: entry k is not the one the list holds there.
 */
static int rebase(const struct kernel_log *kl, uint64_t k, uint64_t count,
		  const struct rebase_values *rv)
{
	struct log_record rec;
	struct buf cmd = { 0 };
	char hex[2 * REPLAY_MAX_DIGEST + 1];
	unsigned int pcr, i;
	int b, err = 0;

	if (k && kernel_log_get(kl, kl->first + k - 1, &rec))
		return -ESTALE;
	if (k) {
		for (i = 0; i < LOG_SHA1_SIZE; i++)
			sprintf(hex + 2 * i, "%02x", rec.digest[i]);
	} else {
		strcpy(hex, "-");
	}
	err = buf_printf(&cmd, "%" PRIu64 " %s %" PRIu64 "\n", k, hex, count);
	for (pcr = 0; !err && pcr < REPLAY_NR_PCRS; pcr++) {
		if (!(rv->pcrs & (1u << pcr)))
			continue;
		for (b = 0; !err && b < rv->nr_banks; b++) {
			const struct replay_bank *bank = &rv->bank_from[b]->bank[b];

			if (!bank->size)
				continue;
			for (i = 0; i < bank->size; i++)
				sprintf(hex + 2 * i, "%02x", bank->pcr[pcr][i]);
			err = buf_printf(&cmd, "%u %s %s\n", pcr, alg_name(bank->alg_id), hex);
		}
	}
	if (!err)
		err = helper_write("rebase", cmd.data, cmd.len);
	buf_free(&cmd);
	return err;
}

/*
 * How many of the list's first entries the store holds already (carried over
 * by a CONFIG_IMA_KEXEC kernel). Equal records do not prove it (a kernel
 * that carried nothing logs the same boot_aggregate again), so the caller
 * lets the TPM decide between this count and none.
 */
static uint64_t carried_candidate(const struct store_view *v, const struct kernel_log *kl)
{
	const uint8_t *a, *b;
	size_t alen, blen;
	uint64_t k = 0;

	while (kl->first + k < v->entries && k < kl->count) {
		a = store_view_record(v, kl->first + k, &alen);
		b = kernel_log_bytes(kl, kl->first + k, &blen);
		if (!b || alen != blen || memcmp(a, b, alen))
			break;
		k++;
	}
	return k;
}

/*
 * Which of the list's first entries came over kexec, and which banks IMA
 * extends with padded SHA-1, are not written anywhere: the TPM decides. Of
 * the candidates, only the true one can replay to its PCRs; every refused
 * try changes nothing.
 */
static int continue_epoch(const struct store *s)
{
	struct store_view v = { 0 };
	struct kernel_log kl = { 0 };
	struct rebase_values rv;
	struct replay_pair rp;
	uint64_t tries[2];
	unsigned int padded, nr_tries, i;
	int b, err;

	err = store_read(s->dir, &v);
	if (err)
		return err < 0 ? err : -EIO;
	err = store_replay(&v, &rp);
	if (err) {
		fprintf(stderr, "%s: cannot replay the store\n", s->dir);
		goto out;
	}
	err = kernel_log_read(&kl);
	if (err)
		goto out;
	tries[0] = carried_candidate(&v, &kl);
	tries[1] = 0;
	nr_tries = tries[0] ? 2 : 1;
	rv.nr_banks = rp.hashed.nr_banks;
	rv.pcrs = rp.hashed.pcrs_used;
	err = -EBADMSG;
	for (i = 0; i < nr_tries && (err == -EBADMSG || err == -ESTALE); i++) {
		/* bit b: bank b extended with padded SHA-1; bank 0 is SHA-1 itself */
		for (padded = 0; padded < (1u << rv.nr_banks); padded += 2) {
			for (b = 0; b < rv.nr_banks; b++)
				rv.bank_from[b] = padded & (1u << b) ? &rp.padded : &rp.hashed;
			err = rebase(&kl, tries[i], v.entries, &rv);
			if (err != -EBADMSG && err != -ESTALE)
				break;
		}
	}
	if (!err)
		fprintf(stderr, "imasnap-load: this boot continues the store's epoch (the TPM's PCRs replay from its %" PRIu64
			" entries through this kernel's list; %" PRIu64 " entries came over kexec)\n",
			v.entries, tries[i - 1]);
	else if (err != -EBADMSG && err != -ESTALE)
		fprintf(stderr, "imasnap-load: the helper refused to rebase the list: %s\n",
			strerror(-err));
out:
	kernel_log_free(&kl);
	store_view_free(&v);
	return err == -ESTALE ? -EBADMSG : err;
}

static const uint8_t *kernel_record(const void *ctx, uint64_t i, size_t *len)
{
	return kernel_log_bytes(ctx, i, len);
}

/*
 * A new (empty) store begins the epoch with the kernel's list: the list must
 * hold the epoch's first entry, and replayed from zero give the TPM's PCRs.
 * Neither holds when the PCRs took entries that are in no store here: trimmed
 * into a store that is gone, or measured by the kernel before a kexec. Then
 * -EUCLEAN, with the reason. Without a readable TPM nothing can be verified
 * at all: the store starts, unchecked.
 */
static int check_list_begins_epoch(const struct store *s, const char *tcti, bool say)
{
	struct kernel_log kl = { 0 };
	struct replay_pair rp;
	struct aggregate agg;
	struct replay tpm;
	uint64_t counted, matched, at;
	bool tpm_read;
	int err;

	err = kernel_count(&counted);
	if (err)
		return err;
	tpm_read = !tpm_read_pcrs(&tpm, (1u << REPLAY_NR_PCRS) - 1, tcti);
	err = kernel_log_read(&kl);
	if (err)
		goto out;
	if (kl.first) {
		if (say)
			fprintf(stderr, "imasnap-load: continuity cannot be proven: %s holds no entries, but the kernel's list starts at the epoch's entry %" PRIu64
				": the entries before it were trimmed into a store that is gone (or carried over kexec from one)\n",
				s->dir, kl.first);
		err = -EUCLEAN;
		goto out;
	}
	if (!tpm_read) {
		fprintf(stderr, "imasnap-load: cannot read the TPM: the new store is not checked against it\n");
		goto out;
	}
	err = replay_pair_init(&rp, &tpm);
	/* an epoch begun at a cut (and no entry stored since) starts from its base */
	if (!err && !epoch_base(kernel_record, &kl, kl.count, &agg, &at))
		err = replay_pair_set_base(&rp, &agg.base);
	err = err ?: replay_until_match(&rp, &tpm, kernel_record, &kl, 0, kl.count, counted,
					&matched, stderr);
	if (!err && matched == UINT64_MAX && say)
		fprintf(stderr, "imasnap-load: continuity cannot be proven: %s holds no entries, and this kernel's list replayed from zero does not give the TPM's PCRs: they took measurements that are in no store here (a kernel's before a kexec, whose store was lost or moved; or this is another TPM)\n",
			s->dir);
	if (!err && matched == UINT64_MAX)
		err = -EUCLEAN;
out:
	kernel_log_free(&kl);
	return err;
}

/* The list's first n entries, cut by a new epoch, beside the store */
static int keep_unproven(const struct store *s, const struct kernel_log *kl, uint64_t n,
			 const char *boot, char *name, size_t size)
{
	const uint8_t *first, *last;
	size_t len, flen;
	int fd = -1, i, at, err = 0;

	first = kernel_log_bytes(kl, kl->first, &flen);
	last = kernel_log_bytes(kl, kl->first + n - 1, &len);
	if (!first || !last)
		return -EINVAL;
	len += last - first;
	for (i = 1; fd < 0 && i < 100; i++) {
		at = snprintf(name, size, "%s.unproven-%s", STORE_LOG_NAME, boot);
		if (i > 1)
			snprintf(name + at, size - at, "-%d", i);
		fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0 || write(fd, first, len) != (ssize_t)len || fsync(fd) || fsync(s->dirfd))
		err = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr, "imasnap-load: cannot keep the cut entries in %s/%s: %s; they are gone\n",
			s->dir, name, strerror(-err));
	return err;
}

/* PCRs the list's records extend */
static uint32_t list_pcrs(const struct kernel_log *kl)
{
	struct log_record rec;
	uint32_t pcrs = 0;
	uint64_t i;

	for (i = kl->first; i < kl->first + kl->count; i++)
		if (!kernel_log_get(kl, i, &rec) && rec.pcr < REPLAY_NR_PCRS)
			pcrs |= 1u << rec.pcr;
	return pcrs;
}

#define CUT_TRIES	20	/* measurements between reading and cutting: again */
#define CHECK_TRIES	3	/* a list that does not begin the epoch, seen so */

/*
 * When continuity cannot be proven, a new epoch begins at a cut: the helper
 * cuts every entry of the list and takes the TPM's values as the base of
 * what follows (rebase with C = 0, checked under IMA's mutex), so that the
 * new store replays to the TPM from there. Entries measured between our
 * reading and the cut make the values wrong (-EBADMSG): read again. What was
 * cut is kept beside the store, as unproven as it is.
 */
static int begin_epoch_at_cut(const struct store *s, const char *tcti, const char *boot)
{
	struct kernel_log kl = { 0 };
	struct rebase_values rv = { 0 };
	struct replay tpm;
	char name[128];
	int b, tries, err = -EBADMSG;

	for (tries = 0; tries < CUT_TRIES && (err == -EBADMSG || err == -ESTALE ||
					      err == -ERANGE); tries++) {
		kernel_log_free(&kl);
		err = tpm_read_pcrs(&tpm, (1u << REPLAY_NR_PCRS) - 1, tcti);
		err = err ?: kernel_log_read(&kl);
		if (err)
			break;
		rv.nr_banks = tpm.nr_banks;
		for (b = 0; b < tpm.nr_banks; b++)
			rv.bank_from[b] = &tpm;
		rv.pcrs = list_pcrs(&kl);
		err = kl.count ? rebase(&kl, kl.count, 0, &rv) : -EBADMSG;
	}
	if (err) {
		fprintf(stderr, "imasnap-load: cannot begin a new epoch at a cut: %s\n", strerror(-err));
	} else {
		/* the epoch has begun: a failure to keep the cut entries is said, no more */
		bool kept = !keep_unproven(s, &kl, kl.count, boot, name, sizeof(name));

		fprintf(stderr, "imasnap-load: a new epoch begins here: the helper cut the kernel's %" PRIu64
			" entries (%s%s%s%s) and recorded the TPM's PCRs as the base of what follows in a snapshot_aggregate; %s replays to the TPM from there\n",
			kl.count, kept ? "kept, unproven, as " : "not kept",
			kept ? s->dir : "", kept ? "/" : "", kept ? name : "", s->dir);
	}
	kernel_log_free(&kl);
	return err;
}

/* Keeps the store under a name that says which epoch it holds, opens a new one */
static int new_epoch(struct store *s, const struct epoch_file *old)
{
	char dir[sizeof(s->dir)], name[128];
	int err;

	snprintf(dir, sizeof(dir), "%s", s->dir);
	snprintf(name, sizeof(name), "%s.epoch-%s", STORE_LOG_NAME, old->epoch);
	if (!faccessat(s->dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW)) {
		fprintf(stderr, "%s/%s exists already; not overwriting it\n", dir, name);
		return -EEXIST;
	}
	if (renameat(s->dirfd, STORE_LOG_NAME, s->dirfd, name) || fsync(s->dirfd)) {
		err = -errno;
		fprintf(stderr, "cannot rename %s/%s: %s\n", dir, STORE_LOG_NAME, strerror(errno));
		return err;
	}
	fprintf(stderr, "imasnap-load: this boot cannot continue the store's epoch: its %" PRIu64
		" entries and this kernel's list do not replay to the TPM's PCRs (a full reboot reset them, or this is another TPM); kept as %s/%s, starting a new epoch\n",
		s->entries, dir, name);
	store_close(s);
	return store_open_append(s, dir);
}

int epoch_begin(struct store *s, const char *tcti)
{
	struct epoch_file ef = { 0 };
	char boot[BOOT_ID_SIZE];
	int tries, err;

	err = read_boot_id(boot);
	if (err)
		return err;
	err = epoch_read(s, &ef);
	if (err == -ENOENT) {
		/* a new store; or one from before epoch files: taken as this boot's */
		snprintf(ef.epoch, sizeof(ef.epoch), "%s", boot);
	} else if (err) {
		return err;
	} else if (strcmp(ef.boot, boot) && (s->entries || s->tail)) {
		if (!helper_present()) {
			fprintf(stderr, "imasnap-load: %s was last written in another boot (%s); only the kernel helper (imasnap.ko) can prove that this boot continues its epoch: load it (after a full reboot, moving the store away also starts a new epoch)\n",
				s->dir, ef.boot);
			return -ENOPKG;
		}
		err = continue_epoch(s);
		if (err == -EBADMSG) {
			err = new_epoch(s, &ef);
			snprintf(ef.epoch, sizeof(ef.epoch), "%s", boot);
		}
		if (err)
			return err;
	} else if (!s->entries && !s->tail) {
		snprintf(ef.epoch, sizeof(ef.epoch), "%s", boot);
	}
	/*
	 * A new store, or the one a refused continuation began. What follows a
	 * failed check cuts the whole list: the failure must be seen again.
	 */
	for (tries = 1; !s->entries && !s->tail && tries <= CHECK_TRIES; tries++) {
		err = check_list_begins_epoch(s, tcti, tries == CHECK_TRIES);
		if (err != -EUCLEAN)
			break;
	}
	if (!s->entries && !s->tail) {
		if (err == -EUCLEAN && helper_present())
			err = begin_epoch_at_cut(s, tcti, boot);
		else if (err == -EUCLEAN)
			fprintf(stderr, "imasnap-load: a log started here could never be verified, so none is started: load the helper (imasnap.ko) to begin a new epoch at a cut, put the store back, or reboot\n");
		if (err)
			return err;
	}
	if (!strcmp(ef.boot, boot))
		return 0;
	snprintf(ef.boot, sizeof(ef.boot), "%s", boot);
	return epoch_write(s, &ef);
}
