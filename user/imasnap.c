// SPDX-License-Identifier: GPL-2.0-only
/*
 * imasnap: status, verify and export of the measurement log that
 * imasnap-load keeps (the store) together with what is still in the kernel.
 *
 * Exit status: 0 success; 1 verification failed (the log does not replay to
 * the TPM, or store and kernel disagree); 2 bad command line; 3 could not
 * check (store, kernel list or TPM unreadable).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "control.h"
#include "epoch.h"
#include "kernel_log.h"
#include "log.h"
#include "pcrfile.h"
#include "prereq.h"
#include "replay.h"
#include "snapshot.h"
#include "status.h"
#include "store.h"
#include "stream.h"
#include "tpm.h"

enum {
	EXIT_VERIFIED = 0,
	EXIT_MISMATCH = 1,
	EXIT_USAGE = 2,
	EXIT_UNCHECKED = 3,
};

struct cmd_opts {
	const char *store_dir;
	const char *tcti;
	const char *format;
	uint64_t from;
	uint64_t keep;
	bool json;
	bool store_only;
	struct pcr_values *pcrs;	/* verify --pcrs: offline, no kernel, no TPM */
};

/* The store and the kernel's list, read once */
struct combined_log {
	struct store_view store;
	struct kernel_log kernel;
};

static const char usage[] =
	"Usage: imasnap COMMAND [options]\n"
	"\n"
	"Commands:\n"
	"  status   kernel list and store sizes, lag, ring drops and repairs\n"
	"  verify   replay store + kernel list against the TPM's PCRs, or the store\n"
"           alone against PCR values given (--pcrs), on any machine\n"
	"  snapshot trim the entries the store holds from the kernel's list\n"
	"  export   write the combined log from a global entry index\n"
	"  kexec-prepare  snapshot all the store holds; run just before kexec -s -l\n"
	"  check    does this kernel have what imasnap needs? (one line a piece)\n"
	"\n"
	"Options:\n"
	"  -s, --store DIR     store directory (default " STORE_DEFAULT_DIR ")\n"
	"  -j, --json          status: machine-readable output\n"
	"  -f, --from N        export: first global entry index (default 0)\n"
	"  -F, --format FMT    export: binary (default) or ascii\n"
	"  -S, --store-only    export: the store alone (no kernel list needed)\n"
	"  -p, --pcrs ALG,FILE verify: PCR values of bank ALG in evmctl's format\n"
	"                      ('PCR-NN: HEX' lines); repeat for more banks\n"
	"  -k, --keep N        snapshot: leave the last N stored entries in the kernel\n"
	"  -T, --tcti CONF     verify: TPM TCTI (default device:/dev/tpmrm0)\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 ok, 1 verification failed (check: a piece is missing),\n"
	"2 bad usage, 3 could not check.\n";

static void combined_free(struct combined_log *c)
{
	store_view_free(&c->store);
	kernel_log_free(&c->kernel);
}

/*
 * The store: from its running loader if there is one (control.h: a read of
 * the log by path while the loader writes it is an open_writers violation
 * under a policy that measures root's reads), else from the file.
 */
static int store_fetch(const char *dir, struct store_view *v)
{
	struct control_source src;
	int err, result;

	err = control_read_store(dir, true, &src, &result);
	if (err == -ECONNREFUSED)
		return store_read(dir, v);
	/* the file, as without a loader: it works, but may cost a violation */
	if (err || result) {
		fprintf(stderr, "imasnap: the store's loader did not send it (%s): reading the file\n",
			strerror(-(err ?: result)));
		return store_read(dir, v);
	}
	err = store_view_stream(src.fd, src.bytes, src.entries, v);
	close(src.fd);
	return err;
}

static int combined_read_from(struct combined_log *c, const char *dir,
			      int (*read_store)(const char *dir, struct store_view *v))
{
	int err;

	memset(c, 0, sizeof(*c));
	err = read_store(dir, &c->store);
	if (!err)
		err = kernel_log_read(&c->kernel);
	if (err)
		combined_free(c);
	return err;
}

static int combined_read(struct combined_log *c, const char *dir)
{
	return combined_read_from(c, dir, store_fetch);
}

/* Global index of the end of the combined log */
static uint64_t combined_end(const struct combined_log *c)
{
	uint64_t kend = c->kernel.first + c->kernel.count;

	return kend > c->store.entries ? kend : c->store.entries;
}

/* Record i of the combined log: from the store if it has it, else the kernel */
static const uint8_t *combined_bytes(const struct combined_log *c, uint64_t i,
				     size_t *len)
{
	if (i < c->store.entries)
		return store_view_record(&c->store, i, len);
	return kernel_log_bytes(&c->kernel, i, len);
}

/* What status shows of the store */
struct store_summary {
	uint64_t entries, bytes;
	struct loader_stats stats;
	bool running;
};

/* From the running loader (nothing is opened), else from the files */
static int store_summary(const char *dir, struct store_summary *sum)
{
	struct control_source src;
	struct store_view v;
	int err, result;

	err = control_read_store(dir, false, &src, &result);
	if (!err && !result) {
		sum->entries = src.entries;
		sum->bytes = src.bytes;
		sum->stats = src.stats;
		sum->running = true;
		return 0;
	}
	if (err != -ECONNREFUSED)
		fprintf(stderr, "imasnap: the store's loader did not answer (%s): reading the file\n",
			strerror(-(err ?: result)));
	err = store_read(dir, &v);
	if (err)
		return err;
	sum->entries = v.entries;
	sum->bytes = v.data.len;
	store_view_free(&v);
	stats_load(dir, &sum->stats);
	sum->running = store_locked(dir);
	return 0;
}

/* Who keeps trims out by holding the kernel's list open (with the helper loaded) */
static void print_list_readers(void)
{
	char readers[1024];

	if (helper_readers(readers, sizeof(readers)))
		return;
	printf("list readers: %s\n", *readers ? readers : "none");
	if (*readers)
		printf("  (trims wait while the kernel's list files are open: point agents at the view, docs/keylime.md)\n");
}

static void print_status_text(const struct combined_log *c, const char *dir,
			      const struct loader_stats *st, uint64_t bytes, uint64_t lag,
			      const char *last_snapshot, bool running)
{
	printf("kernel entries: %" PRIu64 "\nkernel bytes: %zu\nkernel trimmed: %" PRIu64 "\n",
	       c->kernel.count, c->kernel.raw.len, c->kernel.first);
	printf("store: %s/%s\nstore entries: %" PRIu64 "\nstore bytes: %zu\n", dir,
	       STORE_LOG_NAME, c->store.entries, (size_t)bytes);
	printf("lag: %" PRIu64 "\ndrops: %" PRIu64 "\nrepairs: %" PRIu64 " (%" PRIu64 " entries)\n",
	       lag, st->drops, st->repairs, st->repaired);
	printf("duplicates: %" PRIu64 "\noversized: %" PRIu64
	       " (too large for the ring, read from the kernel's list)\n",
	       st->duplicates, st->truncated);
	printf("snapshots: %" PRIu64 " (%" PRIu64 " entries trimmed by the loader)\n"
	       "last snapshot: %s\nloader: %s\n", st->snapshots, st->trimmed,
	       last_snapshot, running ? "running" : "not running");
	print_list_readers();
}

static void print_status_json(const struct combined_log *c, const struct loader_stats *st,
			      uint64_t bytes, uint64_t lag, int64_t last_snapshot, bool running)
{
	printf("{\"kernel_entries\": %" PRIu64 ", \"kernel_bytes\": %zu, "
	       "\"kernel_trimmed\": %" PRIu64 ", \"store_entries\": %" PRIu64 ", "
	       "\"store_bytes\": %zu, \"lag\": %" PRIu64 ", ", c->kernel.count,
	       c->kernel.raw.len, c->kernel.first, c->store.entries, (size_t)bytes, lag);
	printf("\"drops\": %" PRIu64 ", \"repairs\": %" PRIu64 ", \"repaired_entries\": %"
	       PRIu64 ", \"duplicates\": %" PRIu64 ", \"oversized\": %" PRIu64 ", ",
	       st->drops, st->repairs, st->repaired, st->duplicates, st->truncated);
	printf("\"snapshots\": %" PRIu64 ", \"snapshot_trimmed\": %" PRIu64
	       ", \"last_snapshot_entry\": %" PRId64 ", \"loader_running\": %s, "
	       "\"loader_starts\": %" PRIu64 "}\n", st->snapshots, st->trimmed,
	       last_snapshot, running ? "true" : "false", st->starts);
}

static int cmd_status(const struct cmd_opts *o)
{
	struct store_summary sum;
	struct combined_log c = {0};
	struct aggregate agg;
	uint64_t kend, lag, at;
	char last[128] = "none";
	int64_t last_at = -1;

	if (store_summary(o->store_dir, &sum) || kernel_log_read(&c.kernel))
		return EXIT_UNCHECKED;
	c.store.entries = sum.entries;
	kend = c.kernel.first + c.kernel.count;
	lag = kend > c.store.entries ? kend - c.store.entries : 0;
	if (!aggregate_latest(&c.kernel, &agg, &at)) {
		last_at = at;
		snprintf(last, sizeof(last), "entry %" PRIu64 " (the kernel's list starts at entry %"
			 PRIu64 ")", at, agg.trimmed);
	}
	if (o->json)
		print_status_json(&c, &sum.stats, sum.bytes, lag, last_at, sum.running);
	else
		print_status_text(&c, o->store_dir, &sum.stats, sum.bytes, lag, last, sum.running);
	combined_free(&c);
	return 0;
}

static void print_hex(const uint8_t *p, size_t n)
{
	while (n--)
		printf("%02x", *p++);
}

static void report_bank(const struct replay_pair *rp, int b, const struct replay *tpm,
			unsigned int pcr)
{
	const struct replay_bank *bank = &rp->hashed.bank[b];
	const char *name = alg_name(bank->alg_id);

	if (!bank->size) {
		printf("PCR %u %s: not checked (no digest support)\n", pcr, name ?: "unknown bank");
		return;
	}
	switch (replay_bank_match(rp, b, tpm, pcr)) {
	case HASHED_MATCH:
		printf("PCR %u %s: matches the TPM\n", pcr, name);
		break;
	case PADDED_MATCH:
		printf("PCR %u %s: matches the TPM (extended with padded SHA-1 digests: the kernel had no %s at boot)\n",
		       pcr, name, name);
		break;
	case NO_MATCH:
		printf("PCR %u %s: replay ", pcr, name);
		print_hex(bank->pcr[pcr], bank->size);
		printf(", TPM ");
		print_hex(replay_find_bank(tpm, bank->alg_id)->pcr[pcr], bank->size);
		printf("\n");
		break;
	}
}

static void report_pcrs(const struct replay_pair *rp, const struct replay *tpm)
{
	unsigned int p;
	int b;

	for (p = 0; p < REPLAY_NR_PCRS; p++)
		if (rp->hashed.pcrs_used & (1u << p))
			for (b = 0; b < rp->hashed.nr_banks; b++)
				report_bank(rp, b, tpm, p);
}

static const uint8_t *combined_record(const void *ctx, uint64_t i, size_t *len)
{
	return combined_bytes(ctx, i, len);
}

/* Replays [from, end) and reports; EXIT_VERIFIED or EXIT_MISMATCH */
static int check_replay(const struct combined_log *c, uint64_t from,
			const struct replay *tpm, uint64_t counted,
			struct replay_pair *rp, const char *what)
{
	uint64_t matched;

	if (replay_until_match(rp, tpm, combined_record, c, from, combined_end(c), counted,
			       &matched, stdout)) {
		printf("FAIL: %s does not replay\n", what);
		return EXIT_MISMATCH;
	}
	report_pcrs(rp, tpm);
	if (matched == UINT64_MAX) {
		printf("FAIL: %s: replay of entries %" PRIu64 "..%" PRIu64 " does not match the TPM\n",
		       what, from, combined_end(c));
		return EXIT_MISMATCH;
	}
	printf("OK: %s: entries %" PRIu64 "..%" PRIu64 " replay to the TPM's PCRs\n", what,
	       from, matched);
	return EXIT_VERIFIED;
}

/*
 * The kernel's list on its own: from the base values of its newest
 * snapshot_aggregate, which describe the list's current head.
 */
static int check_kernel_list(const struct combined_log *c, const struct replay *tpm,
			     uint64_t counted)
{
	struct replay_pair rp;
	struct aggregate agg;
	uint64_t at;
	int err;

	err = aggregate_latest(&c->kernel, &agg, &at);
	if (err == -ENOENT && !c->kernel.first) {
		printf("kernel list: never trimmed (replayed from zero with the store)\n");
		return EXIT_VERIFIED;
	}
	if (err) {
		printf("FAIL: the kernel's list starts at entry %" PRIu64 " but has no %s snapshot_aggregate\n",
		       c->kernel.first, err == -ENOENT ? "" : "readable");
		return EXIT_MISMATCH;
	}
	if (agg.trimmed != c->kernel.first) {
		printf("FAIL: the snapshot_aggregate at entry %" PRIu64 " is for a list starting at entry %"
		       PRIu64 ", but the list starts at entry %" PRIu64 "\n", at, agg.trimmed,
		       c->kernel.first);
		return EXIT_MISMATCH;
	}
	printf("kernel list: base from the snapshot_aggregate at entry %" PRIu64 "\n", at);
	err = replay_pair_init(&rp, tpm);
	err = err ?: replay_pair_set_base(&rp, &agg.base);
	if (err) {
		printf("FAIL: the snapshot_aggregate's banks do not fit the TPM's\n");
		return EXIT_MISMATCH;
	}
	return check_replay(c, c->kernel.first, tpm, counted, &rp, "kernel list from its base");
}

/*
 * The epoch's PCRs before its entry 0: zero, or for an epoch that began at a
 * cut (continuity could not be proven) the TPM's values then, which the
 * cut's snapshot_aggregate records. Only the base the loader recorded in
 * DIR/epoch when it made the cut is taken (epoch_base_proven).
 */
static int epoch_start_values(replay_record_fn record, const void *ctx, uint64_t end,
			      const char *dir, struct replay_pair *rp)
{
	struct epoch_file ef;
	struct aggregate agg;
	const char *why = "";
	uint64_t at;
	int err;

	err = epoch_file_load(dir, &ef);
	if (err && err != -ENOENT) {
		printf("FAIL: %s/%s cannot be read: %s\n", dir, EPOCH_FILE_NAME, strerror(-err));
		return err == -EINVAL ? EXIT_MISMATCH : EXIT_UNCHECKED;
	}
	err = epoch_base_proven(record, ctx, end,
				!err && ef.has_base ? &ef.base : NULL, &agg, &at, &why);
	if (err == -ENOENT)
		return EXIT_VERIFIED;
	if (err) {
		printf("FAIL: epoch base: %s (entry %" PRIu64 ")\n", why, at);
		return EXIT_MISMATCH;
	}
	printf("epoch: began at a cut (snapshot_aggregate at entry %" PRIu64
	       ", as recorded in %s/%s): replayed from the TPM's values then; what the TPM took before is in no store\n",
	       at, dir, EPOCH_FILE_NAME);
	if (replay_pair_set_base(rp, &agg.base)) {
		printf("FAIL: the snapshot_aggregate's banks do not fit the TPM's\n");
		return EXIT_MISMATCH;
	}
	return EXIT_VERIFIED;
}

/*
 * Entries before the kernel's head are in the store alone: they must replay
 * to the base values the kernel holds for its head (and for every
 * snapshot_aggregate it still lists), or the store's history is not the
 * kernel's.
 */
static int check_store_before_head(const struct combined_log *c, const struct replay_pair *rp)
{
	uint64_t at = 0;
	uint16_t alg = 0;
	int pcr = -1;

	if (!replay_to_kernel_bases(rp, combined_record, c, &c->kernel, &at, &pcr, &alg))
		return EXIT_VERIFIED;
	if (pcr < 0)
		printf("FAIL: the store's entries before the kernel's snapshot_aggregate at entry %" PRIu64
		       " cannot be replayed\n", at);
	else
		printf("FAIL: the store's entries before the kernel's head do not replay to the base values of the kernel's snapshot_aggregate at entry %"
		       PRIu64 " (PCR %d, %s)\n", at, pcr, alg_name(alg) ?: "unknown bank");
	return EXIT_MISMATCH;
}

/*
 * The PCRs a replay of the combined log can touch: those its records extend,
 * the base values of its snapshot_aggregates, and IMA's own PCR. Reading
 * only these keeps the TPM read to one or two PCR_Read commands, so that
 * values of one moment can be had while measurements run (all 24 PCRs of
 * four banks take twelve, and an extend between any two spoils the read).
 */
static uint32_t combined_pcrs(const struct combined_log *c)
{
	uint32_t pcrs = 1u << AGGREGATE_PCR;	/* IMA's own */
	struct log_record rec;
	struct aggregate agg;
	const uint8_t *bytes;
	uint64_t i, end = combined_end(c);
	size_t len;

	/* no store read: the kernel's list alone */
	for (i = c->store.entries ? 0 : c->kernel.first; i < end; i++) {
		bytes = combined_bytes(c, i, &len);
		if (!bytes || log_parse(bytes, len, &rec, NULL) <= 0)
			continue;
		if (rec.pcr < REPLAY_NR_PCRS)
			pcrs |= 1u << rec.pcr;
		if (!aggregate_parse(&rec, &agg))
			pcrs |= agg.base.pcrs_used;
	}
	return pcrs;
}

/*
 * The TPM's values of the PCRs the log can touch, then the log as it is
 * after that read (so that some prefix of it is what the TPM took). Which
 * PCRs, the kernel's list alone tells: its records', and through its
 * snapshot_aggregates' bases those of every record trimmed before them, so
 * the store is read once. A log read after the TPM that names a PCR not
 * read (a rule for another PCR that measured meanwhile, or a store with
 * records the kernel never listed) is read again with that PCR.
 */
#define VERIFY_READ_TRIES 3

static int verify_read(const struct cmd_opts *o, struct combined_log *c, struct replay *tpm,
		       uint64_t *counted)
{
	uint32_t pcrs = 0, want;
	int err, tries;

	memset(c, 0, sizeof(*c));
	err = kernel_log_read(&c->kernel);
	for (tries = 0; !err; tries++) {
		want = combined_pcrs(c);
		if (tries && !(want & ~pcrs))
			return 0;
		combined_free(c);
		if (tries == VERIFY_READ_TRIES) {
			fprintf(stderr, "imasnap verify: the log named new PCRs during each of %d TPM reads\n",
				tries);
			return -EAGAIN;
		}
		pcrs |= want;
		if (kernel_count(counted) || tpm_read_pcrs(tpm, pcrs, o->tcti))
			return -EIO;
		err = combined_read(c, o->store_dir);
	}
	return err;
}

/* The store's log for reading (its path in path[size]), or -1, said */
static int store_log_open(const char *dir, const char *cmd, char *path, size_t size)
{
	int fd;

	snprintf(path, size, "%s/%s", dir, STORE_LOG_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "imasnap %s: cannot open store %s: %s\n", cmd, path, strerror(errno));
	return fd;
}

/*
 * After an offline replay: every PCR the store extends (and IMA's own, if
 * the files give it), in every bank given, must equal the value given.
 */
static int check_given(const struct replay_pair *rp, const struct pcr_values *v,
		       uint64_t entries)
{
	uint32_t pcrs = rp->hashed.pcrs_used, bit;
	bool missing = false, differs = false;
	unsigned int p;
	int b;

	for (b = 0; b < v->values.nr_banks; b++)
		pcrs |= v->given[b] & (1u << AGGREGATE_PCR);
	for (p = 0; p < REPLAY_NR_PCRS; p++) {
		bit = 1u << p;
		for (b = 0; (pcrs & bit) && b < v->values.nr_banks; b++) {
			if (!(v->given[b] & bit)) {
				printf("PCR %u %s: %s gives no value\n", p,
				       alg_name(v->values.bank[b].alg_id), v->file[b]);
				missing = true;
				continue;
			}
			report_bank(rp, b, &v->values, p);
			differs |= rp->hashed.bank[b].size && !replay_bank_match(rp, b, &v->values, p);
		}
	}
	if (missing) {
		printf("FAIL: cannot check: a PCR file lacks a PCR the store extends\n");
		return EXIT_UNCHECKED;
	}
	if (differs) {
		printf("FAIL: store: replay of entries 0..%" PRIu64 " does not match the PCR values given\n",
		       entries);
		return EXIT_MISMATCH;
	}
	printf("OK: store: entries 0..%" PRIu64 " replay to the PCR values given\n", entries);
	return EXIT_VERIFIED;
}

/*
 * The store alone against PCR values given (a TPM quote's), away from the
 * machine: no kernel list, no TPM. The store is streamed, so memory does not
 * grow with it; an epoch begun at a cut starts from its recorded base.
 */
static int cmd_verify_offline(const struct cmd_opts *o)
{
	struct store_stream s;
	struct replay_pair rp;
	char path[4200];
	int fd, err, ret;

	fd = store_log_open(o->store_dir, "verify", path, sizeof(path));
	if (fd < 0)
		return EXIT_UNCHECKED;
	stream_init(&s, fd, 0);
	ret = replay_pair_init(&rp, &o->pcrs->values) ? EXIT_UNCHECKED :
	      epoch_start_values(stream_record, &s, UINT64_MAX, o->store_dir, &rp);
	stream_free(&s);
	err = ret ? 0 : stream_replay_given(&s, fd, &rp, o->pcrs, stdout);
	close(fd);
	if (ret)
		return ret;
	printf("store: %" PRIu64 " entries, %" PRIu64 " bytes (offline: no kernel list, no TPM)\n",
	       s.next, s.bytes);
	if (err == -EBADMSG) {
		printf("FAIL: store does not replay\n");
		return EXIT_MISMATCH;
	}
	if (err) {
		printf("FAIL: cannot read store %s: %s\n", path, strerror(-err));
		return EXIT_UNCHECKED;
	}
	if (s.tail)
		printf("store ends in a partial record (%zu bytes): a write in progress, a crash imasnap-load repairs on start, or a truncated copy\n",
		       s.tail);
	return check_given(&rp, o->pcrs, s.next);
}

static int cmd_verify(const struct cmd_opts *o)
{
	struct replay_pair rp;
	struct replay tpm;
	struct combined_log c;
	uint64_t counted, index;
	int err, ret = EXIT_VERIFIED;

	if (o->pcrs->values.nr_banks)
		return cmd_verify_offline(o);
	err = verify_read(o, &c, &tpm, &counted);
	if (err)
		return err == -EINVAL ? EXIT_MISMATCH : EXIT_UNCHECKED;
	printf("store: %" PRIu64 " entries; kernel list: entries %" PRIu64 "..%" PRIu64 "\n",
	       c.store.entries, c.kernel.first, c.kernel.first + c.kernel.count);
	if (c.store.tail)
		printf("store ends in a partial record (%zu bytes): a write in progress, or a crash imasnap-load repairs on start\n",
		       c.store.tail);
	if (log_compare_kernel(c.store.data.data, c.store.data.len - c.store.tail, &c.kernel,
			       c.store.entries, &index)) {
		printf("FAIL: store entry %" PRIu64 " differs from the kernel's list\n", index);
		ret = EXIT_MISMATCH;
		goto out;
	}
	printf("store matches the kernel's list where both hold entries\n");
	ret = replay_pair_init(&rp, &tpm) ? EXIT_UNCHECKED :
	      epoch_start_values(combined_record, &c, combined_end(&c), o->store_dir, &rp);
	if (ret == EXIT_VERIFIED)
		ret = check_store_before_head(&c, &rp);
	if (ret == EXIT_VERIFIED)
		ret = check_replay(&c, 0, &tpm, counted, &rp, "store + kernel list");
	if (ret == EXIT_VERIFIED)
		ret = check_kernel_list(&c, &tpm, counted);
out:
	combined_free(&c);
	return ret;
}

struct export_out {
	bool ascii;
	struct buf text;
};

/* A batch of whole records: as they are, or formatted one by one */
static int export_batch(void *arg, const uint8_t *bytes, size_t len,
			const struct log_record *recs, uint32_t count)
{
	struct export_out *e = arg;
	uint32_t i;

	if (!e->ascii)
		return fwrite(bytes, 1, len, stdout) == len ? 0 : -EIO;
	e->text.len = 0;
	for (i = 0; i < count; i++)
		if (log_format_ascii(&recs[i], &e->text))
			return -ENOMEM;
	return fwrite(e->text.data, 1, e->text.len, stdout) == e->text.len ? 0 : -EIO;
}

/*
 * The store alone, streamed: where the kernel keeps no IMA list (a copy of
 * a store on another machine). A torn last record is not exported.
 */
static int cmd_export_store(const struct cmd_opts *o)
{
	struct export_out e = { .ascii = !strcmp(o->format, "ascii") };
	struct store_stream s;
	char path[4200];
	int fd, err;

	fd = store_log_open(o->store_dir, "export", path, sizeof(path));
	if (fd < 0)
		return EXIT_UNCHECKED;
	stream_init(&s, fd, 0);
	err = stream_each(&s, o->from, export_batch, &e);
	close(fd);
	buf_free(&e.text);
	if (!err && fflush(stdout))
		err = -EIO;
	if (err == -EBADMSG)
		fprintf(stderr, "imasnap export: store entry %" PRIu64 " cannot be read: %s\n",
			s.next, s.why ?: "not a record");
	else if (err)
		fprintf(stderr, "imasnap export: %s\n", strerror(-err));
	else if (o->from > s.next) {
		fprintf(stderr, "imasnap export: --from %" PRIu64 " is past the end of the store (%" PRIu64 " entries)\n",
			o->from, s.next);
		return EXIT_USAGE;
	}
	return err ? EXIT_UNCHECKED : 0;
}

/* Entry i of the combined log, as export_batch writes it */
static int export_entry(struct export_out *e, const struct combined_log *c, uint64_t i)
{
	struct log_record rec;
	const uint8_t *bytes;
	size_t len = 0;

	/* bytes first: len is combined_bytes's output */
	bytes = combined_bytes(c, i, &len);
	if (!bytes || log_parse(bytes, len, &rec, NULL) <= 0 || export_batch(e, bytes, len, &rec, 1)) {
		fprintf(stderr, "imasnap export: cannot write entry %" PRIu64 "\n", i);
		return EXIT_UNCHECKED;
	}
	return 0;
}

static int export_check_from(const struct cmd_opts *o, uint64_t end)
{
	if (o->from <= end)
		return 0;
	fprintf(stderr, "imasnap export: --from %" PRIu64 " is past the end of the log (%" PRIu64 " entries)\n",
		o->from, end);
	return EXIT_USAGE;
}

/*
 * The store as its loader sends it (control.h), streamed in batches like
 * --store-only (a store of hundreds of MB is never held whole), then the
 * kernel's entries it does not hold
 */
static int export_from_loader(const struct cmd_opts *o, const struct control_source *src,
			      struct export_out *e)
{
	struct combined_log c = {0};
	struct store_stream s;
	uint64_t i, end;
	int ret, err;

	if (kernel_log_read(&c.kernel))
		return EXIT_UNCHECKED;
	c.store.entries = src->entries;
	end = combined_end(&c);
	ret = export_check_from(o, end);
	stream_init(&s, src->fd, 0);
	err = ret ? 0 : stream_each(&s, o->from, export_batch, e);
	if (!ret && (err || s.next != src->entries || s.bytes != src->bytes || s.tail)) {
		fprintf(stderr, "imasnap export: the loader sent %" PRIu64 " records (%" PRIu64
			" bytes), not the %" PRIu64 " (%" PRIu64 " bytes) it announced%s%s\n",
			s.next, s.bytes, src->entries, src->bytes, err ? ": " : "",
			err ? strerror(-err) : "");
		ret = EXIT_UNCHECKED;
	}
	stream_free(&s);
	for (i = o->from > src->entries ? o->from : src->entries; !ret && i < end; i++)
		ret = export_entry(e, &c, i);
	kernel_log_free(&c.kernel);
	return ret;
}

static int cmd_export(const struct cmd_opts *o)
{
	struct export_out e = { .ascii = !strcmp(o->format, "ascii") };
	struct control_source src;
	struct combined_log c;
	uint64_t i, end;
	int ret, result;

	if (o->store_only)
		return cmd_export_store(o);
	ret = control_read_store(o->store_dir, true, &src, &result);
	if (!ret && !result) {
		ret = export_from_loader(o, &src, &e);
		close(src.fd);
	} else {
		/* no loader (or none that answers): the file, as store_fetch does */
		if (ret != -ECONNREFUSED)
			fprintf(stderr, "imasnap: the store's loader did not send it (%s): reading the file\n",
				strerror(-(ret ?: result)));
		if (combined_read_from(&c, o->store_dir, store_read))
			return EXIT_UNCHECKED;
		end = combined_end(&c);
		ret = export_check_from(o, end);
		for (i = o->from; !ret && i < end; i++)
			ret = export_entry(&e, &c, i);
		combined_free(&c);
	}
	if (fflush(stdout) && !ret)
		ret = EXIT_UNCHECKED;
	buf_free(&e.text);
	return ret;
}

/*
 * Trims what the store holds, but the last --keep entries, from the kernel's
 * list. A running loader of the store is asked to (under protection only it
 * may trim, and it makes its queue durable first); else this does it.
 */
static int cmd_snapshot(const struct cmd_opts *o)
{
	uint64_t trimmed = 0, head;
	int err, result;

	bool by_loader;

	err = control_snapshot(o->store_dir, o->keep, &result, &trimmed);
	by_loader = err != -ECONNREFUSED;
	if (!by_loader)
		result = snapshot_store(o->store_dir, o->keep, &trimmed);
	else if (err)
		result = err;
	if (result == -ENODEV) {
		fprintf(stderr, "imasnap snapshot: the kernel helper is not loaded (insmod kernel-helper/imasnap.ko)\n");
		return EXIT_UNCHECKED;
	}
	if (result == -EBUSY)
		print_list_readers();
	if (result) {
		fprintf(stderr, "imasnap snapshot: trim refused: %s%s\n", strerror(-result),
			result == -ESTALE ? " (the store does not match the kernel's list)" :
			result == -EBUSY ? " (readers kept the kernel's list open; try again)" :
			result == -EPERM && !by_loader ?
			" (the store is protected: only its loader trims; start imasnap-load)" : "");
		return result == -ESTALE ? EXIT_MISMATCH : EXIT_UNCHECKED;
	}
	if (!trimmed) {
		printf("nothing to trim: the kernel's list holds no stored entry beyond --keep %" PRIu64 "\n",
		       o->keep);
		return 0;
	}
	kernel_head(&head);
	printf("trimmed %" PRIu64 " entries; the kernel's list now starts at entry %" PRIu64 "\n",
	       trimmed, head);
	return 0;
}

/* Before install: every prerequisite, one line each; changes nothing */
static int cmd_check(const struct cmd_opts *o)
{
	unsigned int missing = prereq_check(PREREQ_ALL, true, stdout);

	if (!missing) {
		printf("imasnap check: this kernel has everything imasnap needs\n");
		return EXIT_VERIFIED;
	}
	printf("imasnap check: %d missing; imasnap-load %s on this kernel\n",
	       __builtin_popcount(missing),
	       missing & PREREQ_CAPTURE ? "cannot capture" : "captures, but not all of imasnap works");
	return EXIT_MISMATCH;
}

/*
 * Right before `kexec -s -l`: trims everything the store holds, so that a
 * CONFIG_IMA_KEXEC kernel copies a few entries into the next kernel, not the
 * history (the copy is made at load time, sized by IMA's bookkeeping).
 */
static int cmd_kexec_prepare(const struct cmd_opts *o)
{
	if (o->keep) {
		fprintf(stderr, "imasnap kexec-prepare: trims all the store holds; --keep is for snapshot\n");
		return EXIT_USAGE;
	}
	return cmd_snapshot(o);
}

static int parse_opts(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option long_opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "from", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "tcti", required_argument, NULL, 'T' },
		{ "keep", required_argument, NULL, 'k' },
		{ "store-only", no_argument, NULL, 'S' },
		{ "pcrs", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *conf;
	char lib[64];
	int c;

	while ((c = getopt_long(argc, argv, "s:jf:F:T:k:Sp:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->store_dir = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'f':
			if (parse_count(optarg, false, &o->from)) {
				fprintf(stderr, "imasnap: --from %s: not an entry index\n", optarg);
				return -EINVAL;
			}
			break;
		case 'F':
			if (strcmp(optarg, "binary") && strcmp(optarg, "ascii")) {
				fprintf(stderr, "imasnap: --format %s: use binary or ascii\n", optarg);
				return -EINVAL;
			}
			o->format = optarg;
			break;
		case 'T':
			if (tcti_resolve(optarg, lib, sizeof(lib), &conf)) {
				fprintf(stderr, "imasnap: --tcti %s: use device[:PATH], mssim[:CONF], swtpm[:CONF] or tabrmd[:CONF]; a library is never loaded by path\n",
					optarg);
				return -EINVAL;
			}
			o->tcti = optarg;
			break;
		case 'S':
			o->store_only = true;
			break;
		case 'p':
			if (pcr_values_add(o->pcrs, optarg))
				return -EINVAL;
			break;
		case 'k':
			if (parse_count(optarg, false, &o->keep)) {
				fprintf(stderr, "imasnap: --keep %s: not a number of entries\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "imasnap: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!*o->store_dir) {
		fprintf(stderr, "imasnap: --store needs a directory\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(const struct cmd_opts *o);
	} cmds[] = {
		{ "status", cmd_status },
		{ "verify", cmd_verify },
		{ "export", cmd_export },
		{ "snapshot", cmd_snapshot },
		{ "kexec-prepare", cmd_kexec_prepare },
		{ "check", cmd_check },
	};
	static struct pcr_values pcrs;
	struct cmd_opts o = { .store_dir = STORE_DEFAULT_DIR, .format = "binary", .pcrs = &pcrs };
	size_t i;

	/* before anything can initialise OpenSSL: no code named by a caller */
	if (replay_crypto_init()) {
		fprintf(stderr, "imasnap: cannot initialise OpenSSL\n");
		return EXIT_UNCHECKED;
	}
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (parse_opts(argc - 1, argv + 1, &o)) {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
		if ((o.pcrs->values.nr_banks && cmds[i].run != cmd_verify) ||
		    (o.store_only && cmds[i].run != cmd_export)) {
			fprintf(stderr, "imasnap %s: --pcrs is for verify, --store-only for export\n",
				argv[1]);
			return EXIT_USAGE;
		}
		return cmds[i].run(&o);
	}
	fprintf(stderr, "imasnap: unknown command '%s'\n%s", argv[1], usage);
	return EXIT_USAGE;
}
