// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "epoch.h"
#include "kernel_log.h"
#include "replay.h"
#include "snapshot.h"
#include "tpm.h"

/* lowercase only: the kernel's boot ids and the digests the loader writes */
static bool hex_digits(const char *p, size_t n)
{
	for (; n; n--, p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

bool boot_id_valid(const char *id)
{
	static const size_t groups[] = { 8, 4, 4, 4, 12 };
	size_t i;

	if (strlen(id) == 32)
		return hex_digits(id, 32);
	if (strlen(id) != BOOT_ID_SIZE - 1)
		return false;
	for (i = 0; i < 5; id += groups[i] + 1, i++)
		if (!hex_digits(id, groups[i]) || (i < 4 && id[groups[i]] != '-'))
			return false;
	return true;
}

static int read_boot_id(char id[BOOT_ID_SIZE])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	int err = 0;

	if (!f || !fgets(id, BOOT_ID_SIZE, f) || !boot_id_valid(id))
		err = -EIO;
	if (f)
		fclose(f);
	if (err)
		fprintf(stderr, "cannot read /proc/sys/kernel/random/boot_id\n");
	return err;
}

/* "KEY VALUE" into value[size]: a boot id, or the base's "INDEX HEX" */
static bool take_line(const char **p, const char *end, const char *key, char *value,
		      size_t size)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', end - *p);
	size_t vlen;

	if (!nl || (size_t)(nl - *p) <= klen || strncmp(*p, key, klen) || (*p)[klen] != ' ')
		return false;
	vlen = nl - *p - klen - 1;
	if (vlen >= size || memchr(*p + klen + 1, '\0', vlen))
		return false;
	memcpy(value, *p + klen + 1, vlen);
	value[vlen] = '\0';
	*p = nl + 1;
	return true;
}

static bool parse_base(const char *value, struct epoch_base_id *base)
{
	const char *space = strchr(value, ' ');
	unsigned int byte;
	char digits[24];
	int i;

	if (!space || space - value >= (int)sizeof(digits) || strlen(space + 1) != 40 ||
	    !hex_digits(space + 1, 40))
		return false;
	memcpy(digits, value, space - value);
	digits[space - value] = '\0';
	if (parse_count(digits, false, &base->index) || (digits[0] == '0' && digits[1]))
		return false;
	for (i = 0; i < LOG_SHA1_SIZE; i++) {
		sscanf(space + 1 + 2 * i, "%2x", &byte);
		base->digest[i] = byte;
	}
	return true;
}

int epoch_file_parse(const char *text, size_t len, struct epoch_file *ef)
{
	const char *p = text, *end = text + len;
	char base[80];

	memset(ef, 0, sizeof(*ef));
	if (!take_line(&p, end, "epoch", ef->epoch, sizeof(ef->epoch)) ||
	    !take_line(&p, end, "boot", ef->boot, sizeof(ef->boot)) ||
	    !boot_id_valid(ef->epoch) || !boot_id_valid(ef->boot))
		return -EINVAL;
	if (p < end) {
		if (!take_line(&p, end, "base", base, sizeof(base)) || !parse_base(base, &ef->base))
			return -EINVAL;
		ef->has_base = true;
	}
	return p == end ? 0 : -EINVAL;
}

#define EPOCH_FILE_MAX	256

/* -ENOENT: no file (a new store, or one older than epoch files) */
static int epoch_read_at(int dirfd, const char *dir, struct epoch_file *ef)
{
	char text[EPOCH_FILE_MAX];
	ssize_t n;
	int fd, err;

	fd = openat(dirfd, EPOCH_FILE_NAME, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (!err && (n == sizeof(text) || epoch_file_parse(text, n, ef)))
		err = -EINVAL;
	if (err == -EINVAL)
		fprintf(stderr, "%s/%s: not an epoch file (epoch and boot lines with boot ids, and perhaps a base line)\n",
			dir, EPOCH_FILE_NAME);
	return err;
}

static int epoch_read(const struct store *s, struct epoch_file *ef)
{
	return epoch_read_at(s->dirfd, s->dir, ef);
}

int epoch_file_load(const char *dir, struct epoch_file *ef)
{
	int dirfd, err;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	err = epoch_read_at(dirfd, dir, ef);
	close(dirfd);
	return err;
}

/* Written to a temporary name, synced and renamed: never half a file */
static int epoch_write(const struct store *s, const struct epoch_file *ef)
{
	static const char tmp[] = EPOCH_FILE_NAME ".tmp";
	char text[EPOCH_FILE_MAX];
	int fd, len, i, err = 0;

	len = snprintf(text, sizeof(text), "epoch %s\nboot %s\n", ef->epoch, ef->boot);
	if (ef->has_base) {
		len += snprintf(text + len, sizeof(text) - len, "base %" PRIu64 " ", ef->base.index);
		for (i = 0; i < LOG_SHA1_SIZE; i++)
			len += snprintf(text + len, sizeof(text) - len, "%02x", ef->base.digest[i]);
		len += snprintf(text + len, sizeof(text) - len, "\n");
	}
	errno = 0;
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    STORE_FILE_MODE);
	if (fd < 0 || store_file_access(fd) || write(fd, text, len) != len || fsync(fd) ||
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

	/* through the open log: a new open for reading would be a violation */
	err = store_view_fd(s->fd, s->dir, &v);
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

/*
 * The list's first n entries, about to be cut by a new epoch, saved beside
 * the store and synced (file and directory) before the cut: a crash or a
 * full disk in between must not lose them. The first call creates the file
 * (*fd -1, name[size] set); a retry rewrites it.
 */
static int save_unproven(const struct store *s, const struct kernel_log *kl, uint64_t n,
			 const char *boot, int *fd, char *name, size_t size)
{
	const uint8_t *first, *last;
	size_t len, flen;
	int i, at, err = 0;

	first = kernel_log_bytes(kl, kl->first, &flen);
	last = kernel_log_bytes(kl, kl->first + n - 1, &len);
	if (!first || !last)
		return -EINVAL;
	len += last - first;
	for (i = 1; *fd < 0 && i < 100; i++) {
		at = snprintf(name, size, "%s.unproven-%s", STORE_LOG_NAME, boot);
		if (i > 1)
			snprintf(name + at, size - at, "-%d", i);
		*fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			     STORE_FILE_MODE);
		if (*fd < 0 && errno != EEXIST)
			break;
	}
	errno = 0;
	if (*fd < 0 || store_file_access(*fd) || ftruncate(*fd, 0) ||
	    pwrite(*fd, first, len, 0) != (ssize_t)len ||
	    fsync(*fd) || fsync(s->dirfd))
		err = errno ? -errno : -EIO;
	if (err)
		fprintf(stderr, "imasnap-load: cannot save the entries a new epoch would cut in %s/%s: %s; nothing is cut\n",
			s->dir, *fd < 0 ? STORE_LOG_NAME ".unproven-*" : name, strerror(-err));
	return err;
}

/* A cut that did not happen leaves no file of entries it did not cut */
static void drop_unproven(const struct store *s, int fd, const char *name)
{
	if (fd < 0)
		return;
	close(fd);
	if (unlinkat(s->dirfd, name, 0) || fsync(s->dirfd))
		fprintf(stderr, "imasnap-load: cannot remove %s/%s: %s\n", s->dir, name,
			strerror(errno));
}

/*
 * The epoch's base, as the helper logged it at the cut (in the list the
 * store begins from): its index and digest go to DIR/epoch, the only base
 * verify will accept. A list without one begins the epoch at zero: no base
 * (-ENOENT when the caller needs one). *changed: ef differs from before.
 */
static int record_base(struct epoch_file *ef, bool *changed)
{
	struct epoch_file was = *ef;
	struct kernel_log kl = { 0 };
	struct log_record rec;
	struct aggregate agg;
	uint64_t at;
	int err;

	ef->has_base = false;
	memset(&ef->base, 0, sizeof(ef->base));
	err = kernel_log_read(&kl);
	err = err ?: epoch_base(kernel_record, &kl, kl.first + kl.count, &agg, &at);
	err = err ?: kernel_log_get(&kl, at, &rec);
	if (!err) {
		ef->has_base = true;
		ef->base.index = at;
		memcpy(ef->base.digest, rec.digest, LOG_SHA1_SIZE);
	}
	kernel_log_free(&kl);
	*changed = was.has_base != ef->has_base || memcmp(&was.base, &ef->base, sizeof(ef->base));
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
 * reading and the cut make the values wrong (-EBADMSG): read again. What is
 * cut is saved beside the store first, as unproven as it is; the base the
 * cut logged is recorded in ef.
 */
static int begin_epoch_at_cut(const struct store *s, const char *tcti, const char *boot,
			      struct epoch_file *ef)
{
	struct kernel_log kl = { 0 };
	struct rebase_values rv = { 0 };
	struct replay tpm;
	char name[128];
	int b, tries, fd = -1, err = -EBADMSG;
	bool changed;

	for (tries = 0; tries < CUT_TRIES && (err == -EBADMSG || err == -ESTALE ||
					      err == -ERANGE); tries++) {
		kernel_log_free(&kl);
		err = tpm_read_pcrs(&tpm, (1u << REPLAY_NR_PCRS) - 1, tcti);
		err = err ?: kernel_log_read(&kl);
		if (err)
			break;
		if (!kl.count) {
			err = -EBADMSG;
			continue;
		}
		rv.nr_banks = tpm.nr_banks;
		for (b = 0; b < tpm.nr_banks; b++)
			rv.bank_from[b] = &tpm;
		rv.pcrs = list_pcrs(&kl);
		err = save_unproven(s, &kl, kl.count, boot, &fd, name, sizeof(name));
		if (err)
			break;
		err = rebase(&kl, kl.count, 0, &rv);
	}
	if (err) {
		drop_unproven(s, fd, name);
		fprintf(stderr, "imasnap-load: cannot begin a new epoch at a cut: %s\n", strerror(-err));
	} else {
		close(fd);
		err = record_base(ef, &changed);
		if (err)
			fprintf(stderr, "imasnap-load: the cut's snapshot_aggregate is not in the kernel's list: %s\n",
				strerror(-err));
		fprintf(stderr, "imasnap-load: a new epoch begins here: the helper cut the kernel's %" PRIu64
			" entries (kept, unproven, as %s/%s) and recorded the TPM's PCRs as the base of what follows in a snapshot_aggregate; %s replays to the TPM from there\n",
			kl.count, s->dir, name, s->dir);
	}
	kernel_log_free(&kl);
	return err;
}

/* Keeps the store under a name that says which epoch it holds, opens a new one */
/*
 * Renames dirfd/from to dirfd/to, never over an existing to: one step where
 * the file system offers one (RENAME_NOREPLACE; a hard link, which fails on
 * an existing name), else a check then a rename (9p takes neither flag nor
 * link: a name created between the two is replaced there).
 */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
	if (!renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (!linkat(dirfd, from, dirfd, to, 0))
		return unlinkat(dirfd, from, 0) ? -errno : 0;
	if (errno != EPERM && errno != EOPNOTSUPP)
		return -errno;
	if (!faccessat(dirfd, to, F_OK, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	return renameat(dirfd, from, dirfd, to) ? -errno : 0;
}

static int new_epoch(struct store *s, const struct epoch_file *old)
{
	char dir[sizeof(s->dir)], name[128];
	int err;

	snprintf(dir, sizeof(dir), "%s", s->dir);
	snprintf(name, sizeof(name), "%s.epoch-%s", STORE_LOG_NAME, old->epoch);
	/* one step that never replaces a kept epoch */
	err = rename_noreplace(s->dirfd, STORE_LOG_NAME, name);
	if (!err && fsync(s->dirfd))
		err = -errno;
	if (err) {
		if (err == -EEXIST)
			fprintf(stderr, "%s/%s exists already; not overwriting it\n", dir, name);
		else
			fprintf(stderr, "cannot rename %s/%s: %s\n", dir, STORE_LOG_NAME,
				strerror(-err));
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
	bool dirty = false, changed;
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
		/* the list begins the epoch: from zero, or from a cut's base */
		if (!err) {
			err = record_base(&ef, &changed);
			err = err == -ENOENT ? 0 : err;
		} else if (err == -EUCLEAN && helper_present()) {
			err = begin_epoch_at_cut(s, tcti, boot, &ef);
		} else if (err == -EUCLEAN) {
			fprintf(stderr, "imasnap-load: a log started here could never be verified, so none is started: load the helper (imasnap.ko) to begin a new epoch at a cut, put the store back, or reboot\n");
		}
		if (err)
			return err;
		dirty = true;	/* the epoch file says where this store's epoch begins */
	}
	if (!strcmp(ef.boot, boot) && !dirty)
		return 0;
	snprintf(ef.boot, sizeof(ef.boot), "%s", boot);
	return epoch_write(s, &ef);
}
