// SPDX-License-Identifier: GPL-2.0-only
/*
 * imasnap-load: loads and attaches the capture program, catches up with the
 * entries IMA listed before it attached, then follows the ring and appends
 * every entry, in order and durably, to the store.
 *
 * Every entry carries its global index, so the loader knows exactly which
 * entry it needs next. Anything the ring did not deliver (full ring, missed
 * run, entries before start-up, entries too large for the ring) is read
 * from the kernel's own list instead: nothing is lost, nothing is stored
 * twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "args.h"
#include "imasnap.h"
#include "imasnap.skel.h"
#include "config.h"
#include "control.h"
#include "epoch.h"
#include "kernel_log.h"
#include "log.h"
#include "prereq.h"
#include "protect.h"
#include "service.h"
#include "snapshot.h"
#include "status.h"
#include "store.h"
#include "tpm.h"
#include "view.h"

#define PIN_DIR		"/sys/fs/bpf/imasnap"
#define COMMIT_MS	50	/* group commit window: durable within this + fsync */
#define IDLE_MS		100	/* poll timeout; the kernel's count is checked then */
#define STATS_MS	1000	/* how often loader.state is rewritten */
#define POLICY_MS	1000	/* how often the snapshot policy looks at the kernel */
#define POLICY_NEAR_MS	100	/* ... once the list is past half its memory budget */

static const char *const pin_names[] = {
	"capture_entry", "capture_entry_link", "ring", "counters",
};

static struct options {
	const char *store_dir;
	const char *tcti;		/* the TPM a new store is checked against */
	const char *store_group;	/* may read the store; NULL: not a group's */
	const char *config;		/* the configuration file read, if any */
	unsigned long ring_size;
	uint64_t snapshot_entries;	/* 0: no automatic snapshots by count */
	uint64_t snapshot_bytes;	/* 0: none by size */
	uint64_t snapshot_kmem;		/* 0: none by the list's kernel memory */
	bool protect;			/* create the store's protection (--protect) */
	bool release_protection;	/* lift it, and do nothing else */
	bool check_config;		/* print the settings, and do nothing else */
	bool verbose;
	const char *view;		/* the agents' view; NULL: none */
} opts = {
	.store_dir = STORE_DEFAULT_DIR,
	.view = VIEW_DEFAULT_PATH,
	.ring_size = CONFIG_DEFAULT_RING_SIZE,
	.snapshot_entries = CONFIG_DEFAULT_SNAPSHOT_ENTRIES,
	.snapshot_bytes = CONFIG_DEFAULT_SNAPSHOT_BYTES,
	.snapshot_kmem = CONFIG_DEFAULT_SNAPSHOT_KMEM,
};

struct loader {
	struct imasnap_bpf *skel;
	struct ring_buffer *ring;
	struct store store;
	struct loader_stats stats;
	struct loader_stats base;	/* counters of earlier runs */
	struct protect protect;
	struct buf record;		/* one encoded record */
	uint64_t pending_since;		/* ms; when the oldest queued entry came */
	uint64_t stats_saved;		/* ms */
	uint64_t saved_repairs;		/* stats.repairs when last saved */
	int behind_ticks;		/* idle polls with the kernel ahead of us */
	uint64_t policy_checked;	/* ms */
	bool kmem_near;			/* the list was past half its memory budget */
	bool snapshots_off;		/* the helper refused: stop trying */
	int pin_dir_fd;
	struct control control;		/* `imasnap snapshot` requests */
	struct view view;		/* the agents' ascii view of the store */
	char readers_said[512];		/* holders of the kernel's list last named */
	uint64_t readers_said_at;	/* ms */
	int epoll_fd;			/* the ring and the control sockets */
	int error;			/* set by the ring callback */
	uint64_t offset;		/* epoch index of the kernel's entry 0 */
	uint64_t reported;		/* store entries the helper was told of */
	uint64_t fault_since;		/* ms; 0: the store takes writes */
	uint64_t retry_at;		/* ms; next write try while it does not */
};

static volatile sig_atomic_t exiting;

static const char usage[] =
	"Usage: imasnap-load [--store DIR] [--ring-size BYTES]\n"
	"                    [--snapshot-entries N] [--snapshot-bytes BYTES]\n"
	"                    [--snapshot-kmem BYTES] [--[no-]protect] [--tcti CONF]\n"
	"                    [--store-group GROUP] [--config FILE]\n"
	"                    [--view PATH | --no-view] [-v]\n"
	"       imasnap-load --release-protection --store DIR\n"
	"       imasnap-load --check-config [--config FILE] [options]\n"
	"\n"
	"Persists every IMA measurement to DIR/" STORE_LOG_NAME ",\n"
	"in the kernel's binary format. Runs until SIGINT or SIGTERM.\n"
	"\n"
	"  -s, --store DIR        store directory (default " STORE_DEFAULT_DIR ")\n"
	"  -r, --ring-size BYTES  ring buffer size, a power of two >= 4096,\n"
	"                         suffix K or M allowed (default 4M)\n"
	"  -n, --snapshot-entries N  snapshot (trim what the store holds) when\n"
	"                         the kernel's list passes N entries (default\n"
	"                         10000; 0: never); needs kernel-helper/imasnap.ko\n"
	"  -b, --snapshot-bytes BYTES  the same by the list's binary size\n"
	"                         (default 4M; 0: never)\n"
	"  -k, --snapshot-kmem BYTES  keep the kernel memory that IMA's list\n"
	"                         holds (as the helper counts it) under BYTES:\n"
	"                         snapshot once it passes 3/4 of it (default 1M;\n"
	"                         0: never)\n"
	"  -p, --protect          protect the store, the helper's trim file and\n"
	"                         imasnap's BPF objects from every other process\n"
	"                         (BPF LSM); stays in force after exit, and a\n"
	"                         restarted loader takes it over\n"
	"      --no-protect       do not create it (overrides protect = yes)\n"
	"      --release-protection  lift that protection of DIR (logged to the\n"
	"                         kernel log); refused while a loader runs\n"
	"  -T, --tcti CONF        the TPM a new store is checked against: the\n"
	"                         kernel's list must replay to its PCRs (default\n"
	"                         device:/dev/tpmrm0)\n"
	"  -g, --store-group GROUP  the group that may read the store and the view\n"
	"                         besides root: directories root:GROUP 0750, files\n"
	"                         0640 (default: root's group); --group is the same\n"
	"      --view PATH        keep the store as ascii lines, as the kernel's\n"
	"                         ascii_runtime_measurements, in PATH for agents\n"
	"                         (default " VIEW_DEFAULT_PATH ";\n"
	"                         on a file system the IMA policy does not measure)\n"
	"      --no-view          keep no such view\n"
	"  -c, --config FILE      read settings from FILE (imasnap.conf(5) format,\n"
	"                         see imasnap-load(8)); options given here override it\n"
	"      --check-config     parse and check the settings (FILE, default\n"
	"                         " CONFIG_DEFAULT_PATH "), print them, exit 0 or 1\n"
	"  -v, --verbose          libbpf debug output\n"
	"  -h, --help             this text\n";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int parse_ring_size(const char *arg)
{
	uint64_t val;

	if (parse_count(arg, true, &val) || !config_ring_size_ok(val)) {
		fprintf(stderr, "imasnap-load: --ring-size %s: not a power of two from 4096 to 1G\n",
			arg);
		return -EINVAL;
	}
	opts.ring_size = val;
	return 0;
}

static int parse_threshold(const char *name, const char *arg, uint64_t *val)
{
	if (!parse_count(arg, true, val))
		return 0;
	fprintf(stderr, "imasnap-load: --%s %s: not a number\n", name, arg);
	return -EINVAL;
}

static int check_tcti(const char *arg)
{
	const char *conf;
	char lib[64];

	if (!tcti_resolve(arg, lib, sizeof(lib), &conf))
		return 0;
	fprintf(stderr, "imasnap-load: --tcti %s: use device[:PATH], mssim[:CONF], swtpm[:CONF] or tabrmd[:CONF]; a library is never loaded by path\n",
		arg);
	return -EINVAL;
}

static int parse_option(int c, const char *arg)
{
	switch (c) {
	case 's':
		if (*arg)
			break;
		fprintf(stderr, "imasnap-load: --store needs a directory\n");
		return -EINVAL;
	case 'r':
		return parse_ring_size(arg);
	case 'n':
		return parse_threshold("snapshot-entries", arg, &opts.snapshot_entries);
	case 'b':
		return parse_threshold("snapshot-bytes", arg, &opts.snapshot_bytes);
	case 'k':
		return parse_threshold("snapshot-kmem", arg, &opts.snapshot_kmem);
	case 'p':
		opts.protect = true;
		break;
	case 'P':
		opts.protect = false;
		break;
	case 'R':
		opts.release_protection = true;
		break;
	case 'T':
		if (check_tcti(arg))
			return -EINVAL;
		opts.tcti = arg;
		break;
	case 'g':
		if (!config_group_ok(arg)) {
			fprintf(stderr, "imasnap-load: --store-group %s: not a group name\n", arg);
			return -EINVAL;
		}
		opts.store_group = arg;
		break;
	case 'c':
	case 'C':
		break;		/* read before every other option: parse_args() */
	case 'v':
		opts.verbose = true;
		break;
	case 'V':
		opts.view = arg;
		break;
	case 'N':
		opts.view = NULL;
		break;
	case 'h':
		fputs(usage, stdout);
		exit(0);
	default:
		fputs(usage, stderr);
		return -EINVAL;
	}
	if (c == 's')
		opts.store_dir = arg;
	return 0;
}

/* The file's settings, as defaults that the command line overrides */
static struct config file_cfg;

static void apply_config(const struct config *cfg)
{
	if (cfg->set & CONFIG_SET_STORE)
		opts.store_dir = cfg->store_dir;
	if (cfg->set & CONFIG_SET_RING_SIZE)
		opts.ring_size = cfg->ring_size;
	if (cfg->set & CONFIG_SET_SNAPSHOT_ENTRIES)
		opts.snapshot_entries = cfg->snapshot_entries;
	if (cfg->set & CONFIG_SET_SNAPSHOT_BYTES)
		opts.snapshot_bytes = cfg->snapshot_bytes;
	if (cfg->set & CONFIG_SET_SNAPSHOT_KMEM)
		opts.snapshot_kmem = cfg->snapshot_kmem;
	if (cfg->set & CONFIG_SET_PROTECT)
		opts.protect = cfg->protect;
	if (cfg->set & CONFIG_SET_TCTI)
		opts.tcti = cfg->tcti;
	if (cfg->set & CONFIG_SET_STORE_GROUP)
		opts.store_group = cfg->store_group;
}

static int load_config(void)
{
	char err[CONFIG_LINE_MAX + 256];

	if (!opts.config)
		return 0;
	if (!config_load(opts.config, &file_cfg, err, sizeof(err))) {
		apply_config(&file_cfg);
		return 0;
	}
	fprintf(stderr, "imasnap-load: %s\n", err);
	return -EINVAL;
}

/* --check-config: the effective settings, in the file's own format */
static int check_config(void)
{
	struct config cfg = {
		.ring_size = opts.ring_size,
		.snapshot_entries = opts.snapshot_entries,
		.snapshot_bytes = opts.snapshot_bytes,
		.snapshot_kmem = opts.snapshot_kmem,
		.protect = opts.protect,
	};

	snprintf(cfg.store_dir, sizeof(cfg.store_dir), "%s", opts.store_dir);
	snprintf(cfg.tcti, sizeof(cfg.tcti), "%s", opts.tcti ?: "");
	snprintf(cfg.store_group, sizeof(cfg.store_group), "%s", opts.store_group ?: "");
	if (opts.store_group && !getgrnam(opts.store_group)) {
		fprintf(stderr, "imasnap-load: store_group %s: no such group\n", opts.store_group);
		return 1;
	}
	printf("# %s\n", opts.config ?: "no configuration file");
	config_print(&cfg, TPM_DEFAULT_TCTI, stdout);
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "snapshot-entries", required_argument, NULL, 'n' },
		{ "snapshot-bytes", required_argument, NULL, 'b' },
		{ "snapshot-kmem", required_argument, NULL, 'k' },
		{ "protect", no_argument, NULL, 'p' },
		{ "no-protect", no_argument, NULL, 'P' },
		{ "release-protection", no_argument, NULL, 'R' },
		{ "tcti", required_argument, NULL, 'T' },
		{ "store-group", required_argument, NULL, 'g' },
		{ "group", required_argument, NULL, 'g' },
		{ "view", required_argument, NULL, 'V' },
		{ "no-view", no_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char short_opts[] = "s:r:n:b:k:pT:g:c:vh";
	int c;

	/* first the file, so that every other option overrides it */
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		if (c == 'c')
			opts.config = optarg;
		else if (c == 'C')
			opts.check_config = true;
	}
	if (opts.check_config && !opts.config)
		opts.config = CONFIG_DEFAULT_PATH;
	if (load_config())
		return opts.check_config ? 1 : 2;
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1)
		if (parse_option(c, optarg))
			return opts.check_config ? 1 : 2;
	if (optind < argc) {
		fprintf(stderr, "imasnap-load: unexpected argument '%s'\n%s", argv[optind], usage);
		return opts.check_config ? 1 : 2;
	}
	if (opts.check_config)
		exit(check_config());
	return 0;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !opts.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	exiting = 1;
}

/*
 * Writes the queue durably and tells the helper how far the store goes: a
 * reboot or kexec waits for the store to hold every entry (reboot.c).
 */
static int commit(struct loader *l)
{
	int err = store_flush(&l->store);

	if (!err && l->store.entries != l->reported)
		l->reported = helper_report_persisted(l->store.entries) ? 0 : l->store.entries;
	if (!err)
		view_sync(&l->view, l->store.fd, l->store.size);	/* a failure is said, and retried */
	return err;
}

/*
 * A store that cannot take writes (file system full, device failing) stops
 * nothing but the store: the helper never trims past what was reported
 * durable, so the kernel's list keeps every entry the store lacks. The
 * loader says what failed, keeps its queue (no longer than that backlog of
 * the kernel's) and tries again every FAULT_RETRY_MS.
 */
#define FAULT_RETRY_MS		500

static bool store_fault(int err)
{
	return err == -ENOSPC || err == -EIO || err == -EDQUOT || err == -EFBIG ||
	       err == -EROFS;
}

/* commit() for the main loop: a store fault is waited out, not fatal */
static int commit_or_retry(struct loader *l)
{
	uint64_t now = now_ms();
	int err;

	if (l->fault_since && now < l->retry_at)
		return 0;
	err = commit(l);
	if (store_fault(err)) {
		if (!l->fault_since)
			say(LOG_ERR, "imasnap-load: the store takes no writes (%s): %" PRIu64
			    " entries are durable, the kernel's list keeps the rest; retrying every %d ms\n",
			    strerror(-err), l->store.entries, FAULT_RETRY_MS);
		l->fault_since = l->fault_since ?: now;
		l->retry_at = now + FAULT_RETRY_MS;
		return 0;
	}
	if (!err && l->fault_since) {
		say(LOG_NOTICE, "imasnap-load: the store takes writes again after %" PRIu64
		    " ms: %" PRIu64 " entries durable\n", now - l->fault_since, l->store.entries);
		l->fault_since = 0;
	}
	return err;
}

static void queue_started(struct loader *l)
{
	if (!l->store.pending_entries)
		l->pending_since = now_ms();
}

/* Queues the kernel's entries from the store's end up to (not including) upto */
static int fetch_from_kernel(struct loader *l, uint64_t upto, uint64_t *fetched)
{
	struct kernel_log kl;
	const uint8_t *bytes;
	uint64_t first = store_next(&l->store);
	size_t len;
	int err;

	*fetched = 0;
	err = kernel_log_read(&kl);
	if (err)
		return err;
	if (upto == UINT64_MAX)
		upto = kl.first + kl.count;
	queue_started(l);
	for (; store_next(&l->store) < upto; (*fetched)++) {
		bytes = kernel_log_bytes(&kl, store_next(&l->store), &len);
		if (!bytes) {
			fprintf(stderr, "entry %" PRIu64 " is not in the kernel's list (it holds %"
				PRIu64 "..%" PRIu64 ")\n", store_next(&l->store), kl.first,
				kl.first + kl.count);
			err = -ENOENT;
			break;
		}
		err = store_append(&l->store, bytes, len);
		if (err)
			break;
	}
	kernel_log_free(&kl);
	if (!err && *fetched && opts.verbose)
		fprintf(stderr, "fetched entries %" PRIu64 "..%" PRIu64 " from the kernel's list\n",
			first, upto - 1);
	return err;
}

static int repair_gap(struct loader *l, uint64_t upto)
{
	uint64_t fetched;
	int err;

	err = fetch_from_kernel(l, upto, &fetched);
	if (!err && fetched) {
		l->stats.repairs++;
		l->stats.repaired += fetched;
	}
	return err;
}

/* The event's fields in the logged form; false if the event cannot be used */
static bool encode_event(struct loader *l, const struct imasnap_event *ev, size_t size)
{
	if (ev->flags & IMASNAP_EV_TRUNCATED ||
	    size < offsetof(struct imasnap_event, data) + ev->data_len ||
	    ev->sha1_slot >= ev->nr_banks || ev->nr_banks > IMASNAP_MAX_BANKS ||
	    ev->data_len != ev->template_data_len ||
	    !memchr(ev->name, '\0', sizeof(ev->name)))
		return false;
	l->record.len = 0;
	return !log_encode(&l->record, ev->pcr, ev->bank[ev->sha1_slot].digest,
			   ev->name, ev->data, ev->data_len);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct loader *l = ctx;
	const struct imasnap_event *ev = data;
	uint64_t next = store_next(&l->store), seq;
	int err = 0;

	if (size < offsetof(struct imasnap_event, data)) {
		fprintf(stderr, "short ring event (%zu bytes)\n", size);
		l->error = -EINVAL;
		return l->error;
	}
	l->stats.events++;
	seq = ev->seq + l->offset;
	if (seq < next) {
		l->stats.duplicates++;
		return 0;
	}
	if (seq > next)
		err = repair_gap(l, seq);
	if (err)
		goto out;
	queue_started(l);
	if (encode_event(l, ev, size)) {
		err = store_append(&l->store, l->record.data, l->record.len);
	} else {
		/*
		 * Everything the kernel lists now, not just this entry: the
		 * next oversized events are then duplicates, and a burst of
		 * them costs one read of the list instead of one each
		 */
		l->stats.truncated++;
		err = repair_gap(l, UINT64_MAX);
	}
out:
	if (err)
		l->error = err;
	return err;
}

static void update_stats(struct loader *l, bool force)
{
	struct imasnap_bpf__bss *bss = l->skel->bss;
	uint64_t now = now_ms();

	l->stats.drops = l->base.drops + bss->events_dropped;
	if (!force && now - l->stats_saved < STATS_MS)
		return;
	l->stats_saved = now;
	l->saved_repairs = l->stats.repairs;
	if (stats_save(l->store.dir, &l->stats))
		fprintf(stderr, "cannot save %s/%s\n", l->store.dir, LOADER_STATE_NAME);
}

/*
 * When the ring is idle but the kernel has listed more than we hold, entries
 * were lost on the way (full ring, missed run). Wait one more idle poll so
 * an event still being submitted is not mistaken for a loss.
 */
static int check_kernel_count(struct loader *l)
{
	uint64_t count;
	int err;

	/* not kernel_count(): the offset is fixed, no need to ask each tick */
	err = kernel_count_since_boot(&count);
	if (err)
		return err;
	count += l->offset;
	if (count <= store_next(&l->store)) {
		l->behind_ticks = 0;
		return 0;
	}
	if (l->behind_ticks++ < 1)
		return 0;
	l->behind_ticks = 0;
	return repair_gap(l, count);
}

static int flush_if_due(struct loader *l, bool idle)
{
	int err;

	if (!l->store.pending_entries)
		return 0;
	if (!idle && now_ms() - l->pending_since < COMMIT_MS)
		return 0;
	err = commit_or_retry(l);
	/* repairs are rare and tests and operators look for them at once */
	if (!err)
		update_stats(l, l->stats.repairs != l->saved_repairs);
	return err;
}

/*
 * The memory budget triggers at 3/4, and is looked at every POLICY_NEAR_MS
 * once past half: what arrives before the next look and during the trim
 * must fit in the rest.
 */
static bool over_threshold(struct loader *l)
{
	uint64_t entries, bytes, kmem = 0;

	if (helper_state_value("entries", &entries) || helper_state_value("bytes", &bytes) ||
	    (opts.snapshot_kmem && helper_file_value("stats", "kmem", &kmem)))
		return false;
	l->kmem_near = opts.snapshot_kmem && kmem > opts.snapshot_kmem / 2;
	return (opts.snapshot_entries && entries > opts.snapshot_entries) ||
	       (opts.snapshot_bytes && bytes > opts.snapshot_bytes) ||
	       (opts.snapshot_kmem && kmem > opts.snapshot_kmem / 4 * 3);
}

/*
 * A snapshot put off because the kernel's list is held open: whoever holds
 * it is named, when that changes and once a minute while it lasts (an agent
 * left on the kernel's list holds it for ever, and trims then never happen)
 */
#define READERS_SAY_MS	60000

static void say_readers(struct loader *l, uint64_t now)
{
	char readers[sizeof(l->readers_said)];

	if (helper_readers(readers, sizeof(readers)) || !*readers) {
		if (opts.verbose)
			fprintf(stderr, "snapshot: the kernel's list is being read; later\n");
		return;
	}
	if (!strcmp(readers, l->readers_said) && now - l->readers_said_at < READERS_SAY_MS)
		return;
	fprintf(stderr, "imasnap-load: snapshot put off: the kernel's list is held open by %s; trims wait until it is closed (point agents at the view%s%s)\n",
		readers, opts.view ? " " : "", opts.view ? opts.view : "");
	snprintf(l->readers_said, sizeof(l->readers_said), "%s", readers);
	l->readers_said_at = now;
}

static void count_snapshot(struct loader *l, uint64_t trimmed)
{
	l->stats.snapshots++;
	l->stats.trimmed += trimmed;
	if (opts.verbose)
		fprintf(stderr, "snapshot: trimmed %" PRIu64 " entries\n", trimmed);
	update_stats(l, true);
}

/*
 * The automatic snapshot: when the kernel's list passes a threshold, trim
 * every entry the store holds durably. The helper checks the digest of the
 * last one, so nothing the store lacks can go. Readers holding the list
 * open (EBUSY) only delay it.
 */
static int maybe_snapshot(struct loader *l)
{
	uint64_t now = now_ms(), trimmed;
	int err;

	if (l->snapshots_off ||
	    now - l->policy_checked < (l->kmem_near ? POLICY_NEAR_MS : POLICY_MS))
		return 0;
	l->policy_checked = now;
	if (!helper_present() || !over_threshold(l))
		return 0;
	err = commit_or_retry(l);
	if (err)
		return err;
	err = trim_to(l->store.entries, l->store.last_digest, &trimmed);
	if (!err) {
		count_snapshot(l, trimmed);
	} else if (err == -EBUSY || err == -EINTR) {
		say_readers(l, now);
	} else {
		say(LOG_WARNING, "imasnap-load: automatic snapshots stopped: trim to entry %" PRIu64
		    " failed: %s\n", l->store.entries, strerror(-err));
		l->snapshots_off = true;
	}
	return 0;
}

/*
 * `imasnap snapshot` asks a running loader (control.h): under protection
 * only the loader may trim. What the loader wrote and synced through its own
 * descriptor is the truth: never the store re-read by its path, where
 * another file may stand now (a parent directory moved). The helper checks
 * the last digest against its list.
 */
static int requested_snapshot(void *ctx, uint64_t keep, uint64_t *trimmed)
{
	struct loader *l = ctx;
	uint8_t digest[LOG_SHA1_SIZE];
	uint64_t end;
	int err;

	*trimmed = 0;
	if (!helper_present())
		return -ENODEV;
	err = commit_or_retry(l);
	if (err) {
		l->error = err;
		return err;
	}
	if (l->store.entries <= keep)
		return 0;
	end = l->store.entries - keep;
	err = store_record_digest(&l->store, end - 1, digest);
	err = err ?: trim_to(end, digest, trimmed);
	if (!err && *trimmed)
		count_snapshot(l, *trimmed);
	return err;
}

/*
 * `imasnap status`, `verify` and `export` ask the loader for its store
 * (control.h): what it wrote, sent from its own descriptor, so that they
 * never open a log open for writing (an open_writers violation under a
 * policy that measures root's reads). What it sends is what is durable.
 */
static int store_source(void *ctx, struct control_source *src)
{
	struct loader *l = ctx;

	update_stats(l, false);
	src->fd = l->store.fd;
	src->bytes = l->store.size;
	src->entries = l->store.entries;
	src->stats = l->stats;
	return 0;
}

static int start_control(struct loader *l)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epoll_fd < 0)
		return -errno;
	ev.data.fd = ring_buffer__epoll_fd(l->ring);
	if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	err = control_listen(&l->control, l->store.dir, l->epoll_fd);
	l->control.source = store_source;
	if (err)
		fprintf(stderr, "imasnap-load: no control socket (%s)%s: `imasnap snapshot` cannot ask this loader\n",
			strerror(-err), err == -EADDRINUSE ?
			"; another process holds its name, and imasnap refuses a socket that is not root's" : "");
	return 0;
}

/*
 * Sleeps out the rest of the group-commit window. The ring does not wake us
 * for the entries that arrive meanwhile (it only wakes a consumer that has
 * caught up), so a burst costs one wakeup and one fdatasync per window, not
 * one wakeup per entry.
 */
static void wait_commit_window(struct loader *l)
{
	uint64_t now = now_ms();
	uint64_t due = l->fault_since ? l->retry_at : l->pending_since + COMMIT_MS;
	struct timespec ts;

	if (now >= due)
		return;
	ts.tv_sec = (due - now) / 1000;
	ts.tv_nsec = (due - now) % 1000 * 1000000;
	nanosleep(&ts, NULL);		/* a signal only ends the window early */
}

/*
 * Waits for entries or a control request; then consumes the ring and serves
 * the request. Returns the number of entries consumed or -errno.
 */
static int wait_and_consume(struct loader *l)
{
	struct epoll_event ev[2 + CONTROL_MAX_CLIENTS + CONTROL_MAX_STREAMS];
	int i, n, ready = 0;

	if (l->store.pending_entries) {
		wait_commit_window(l);
	} else {
		ready = epoll_wait(l->epoll_fd, ev, sizeof(ev) / sizeof(ev[0]), IDLE_MS);
		/* a signal (SIGTERM, or SIGSTOP/SIGCONT) interrupts the wait */
		if (ready < 0)
			return errno == EINTR ? 0 : -errno;
	}
	n = ring_buffer__consume(l->ring);
	if (n < 0 || l->error)
		return n < 0 ? n : l->error;
	/* a client is served only when its request is there: none can hold us up */
	for (i = 0; i < ready; i++)
		control_handle(&l->control, ev[i].data.fd, now_ms(), requested_snapshot, l);
	control_expire(&l->control, now_ms());
	return l->error ?: n;
}

static int follow(struct loader *l)
{
	int n, err = 0;

	while (!exiting && !err) {
		n = wait_and_consume(l);
		if (n < 0) {
			if (n != l->error)
				fprintf(stderr, "reading the ring failed: %s\n", strerror(-n));
			return n;
		}
		if (n == 0)
			err = check_kernel_count(l);
		if (!err)
			err = flush_if_due(l, n == 0);
		if (!err)
			err = maybe_snapshot(l);
	}
	return err;
}

/* Drains the ring and the kernel's list so that the store is complete */
static int drain(struct loader *l)
{
	uint64_t fetched;
	int err;

	err = ring_buffer__consume(l->ring);
	if (err < 0)
		return err;
	if (l->error)
		return l->error;
	err = fetch_from_kernel(l, UINT64_MAX, &fetched);
	if (!err)
		err = commit(l);
	return err;
}

static int catch_up(struct loader *l)
{
	struct kernel_log kl;
	int err;

	err = kernel_log_read(&kl);
	if (err)
		return err;
	err = store_reconcile(&l->store, &kl);
	kernel_log_free(&kl);
	if (err)
		return err;
	err = fetch_from_kernel(l, UINT64_MAX, &l->stats.fetched);
	if (!err)
		err = commit(l);
	if (!err)
		say(LOG_INFO, "imasnap-load: store %s holds %" PRIu64 " entries (%" PRIu64
		    " read from the kernel's list)\n", l->store.dir, l->store.entries,
		    l->stats.fetched);
	return err;
}

static void unpin_all(void)
{
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(pin_names) / sizeof(pin_names[0]); i++) {
		snprintf(path, sizeof(path), PIN_DIR "/%s", pin_names[i]);
		if (unlink(path) && errno != ENOENT)
			fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
	}
}

/* One loader at a time owns the pins; stale ones from a killed loader go */
static int take_pin_dir(struct loader *l)
{
	if (mkdir(PIN_DIR, 0700) && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s (is bpffs mounted on /sys/fs/bpf?)\n",
			PIN_DIR, strerror(errno));
		return -errno;
	}
	l->pin_dir_fd = open(PIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->pin_dir_fd < 0)
		return -errno;
	if (flock(l->pin_dir_fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "another imasnap-load is running (it holds %s)\n", PIN_DIR);
		close(l->pin_dir_fd);
		l->pin_dir_fd = -1;
		return -EBUSY;
	}
	unpin_all();
	return 0;
}

static int pin_all(struct loader *l)
{
	struct imasnap_bpf *skel = l->skel;
	int err;

	err = bpf_program__pin(skel->progs.capture_entry, PIN_DIR "/capture_entry");
	if (!err)
		err = bpf_link__pin(skel->links.capture_entry, PIN_DIR "/capture_entry_link");
	if (!err)
		err = bpf_map__pin(skel->maps.ring, PIN_DIR "/ring");
	if (!err)
		err = bpf_map__pin(skel->maps.bss, PIN_DIR "/counters");
	if (err)
		fprintf(stderr, "cannot pin under %s: %s\n", PIN_DIR, strerror(-err));
	return err;
}

/*
 * --store-group: GROUP's members (an attestation agent) read the store and
 * the view, nobody else but root does; store_set_access() gives the
 * directories root:GROUP 0750 and the files 0640 once protection allows.
 * Without it, root's group.
 */
static int set_store_group(void)
{
	struct group *gr;

	if (!opts.store_group) {
		store_set_group(0);
		return 0;
	}
	gr = getgrnam(opts.store_group);
	if (!gr) {
		say(LOG_ERR, "imasnap-load: store group %s: no such group\n", opts.store_group);
		return -ENOENT;
	}
	store_set_group(gr->gr_gid);
	return 0;
}

static int load_bpf(struct loader *l)
{
	int err;

	l->skel = imasnap_bpf__open();
	if (!l->skel) {
		fprintf(stderr, "cannot open the BPF object\n");
		return -errno;
	}
	err = bpf_map__set_max_entries(l->skel->maps.ring, opts.ring_size);
	if (!err)
		err = imasnap_bpf__load(l->skel);
	if (err) {
		fprintf(stderr, "cannot load the BPF programs: %s (run as root, on a kernel with IMA, BTF and BPF; -v shows libbpf's log)\n",
			strerror(-err));
		return err;
	}
	err = imasnap_bpf__attach(l->skel);
	if (err) {
		fprintf(stderr, "cannot attach to ima_add_digest_entry: %s\n", strerror(-err));
		return err;
	}
	l->ring = ring_buffer__new(bpf_map__fd(l->skel->maps.ring), handle_event, l, NULL);
	if (!l->ring) {
		fprintf(stderr, "cannot set up the ring buffer\n");
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct loader l = { .pin_dir_fd = -1, .epoll_fd = -1, .view.fd = -1 };
	int err;

	/* before anything can initialise OpenSSL: no code named by a caller */
	if (replay_crypto_init()) {
		fprintf(stderr, "imasnap-load: cannot initialise OpenSSL\n");
		return 1;
	}
	err = parse_args(argc, argv);
	if (err)
		return err;
	libbpf_set_print(print_libbpf);
	protect_init(&l.protect);
	control_init(&l.control);
	if (opts.release_protection)
		return protect_release(PIN_DIR, opts.store_dir) ? 1 : 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* a reader that closes its store stream early is no reason to die */
	signal(SIGPIPE, SIG_IGN);

	/* a kernel without what capture needs: say what, before anything is created */
	if (prereq_check(PREREQ_CAPTURE | (opts.protect ? PREREQ_BPF_LSM : 0), false, stderr)) {
		fprintf(stderr, "imasnap-load: this kernel lacks what imasnap-load needs (above); nothing was loaded or created\n");
		return 1;
	}

	/*
	 * One loader per machine, checked before anything changes: a second
	 * loader must not rebase or cut the list (epoch_begin) of the first.
	 */
	err = set_store_group();
	if (!err)
		err = take_pin_dir(&l);
	if (!err)
		err = store_open_append(&l.store, opts.store_dir);
	/* protection in force must recognise this loader before it changes anything */
	if (!err)
		err = protect_start(&l.protect, PIN_DIR, &l.store, false);
	if (!err)
		err = epoch_begin(&l.store, opts.tcti);
	/* new protection covers the store epoch_begin settled on (it may start a new one) */
	if (!err && opts.protect && !protect_active(&l.protect))
		err = protect_start(&l.protect, PIN_DIR, &l.store, true);
	/* only now: protection in force lets no other task (nor this one before) chmod */
	if (!err)
		err = store_set_access(&l.store);
	if (!err)
		err = kernel_offset(&l.offset);
	if (err)
		goto cleanup;
	stats_load(l.store.dir, &l.base);
	l.stats = l.base;
	l.stats.starts++;
	l.stats.pid = getpid();
	if (!err)
		err = load_bpf(&l);
	if (!err)
		err = protect_guard_capture(&l.protect, l.skel->obj, l.skel->links.capture_entry);
	if (!err)
		err = catch_up(&l);
	/* a view that cannot be kept is said, and the store is kept all the same */
	if (!err && opts.view && *opts.view)
		view_open(&l.view, opts.view, l.store.fd, l.store.size);
	if (!err)
		err = pin_all(&l);
	if (!err)
		err = start_control(&l);
	if (err)
		goto cleanup;
	update_stats(&l, true);
	say(LOG_INFO, "imasnap-load: following IMA's measurements (ring %lu bytes)\n",
	    opts.ring_size);
	/* ready: the store holds every entry the kernel listed before now */
	service_notify("READY=1\nSTATUS=following IMA's measurements");

	err = follow(&l);
	service_notify("STOPPING=1");
	if (!err)
		err = drain(&l);
	update_stats(&l, true);
	if (!err)
		say(LOG_INFO, "imasnap-load: stopped; store holds %" PRIu64 " entries\n",
		    l.store.entries);
cleanup:
	/* one line at error level: the messages above may carry none */
	if (err)
		say(LOG_ERR, "imasnap-load: exiting on error: %s\n", strerror(err < 0 ? -err : err));
	control_close(&l.control);
	if (l.epoll_fd >= 0)
		close(l.epoll_fd);
	ring_buffer__free(l.ring);
	if (l.pin_dir_fd >= 0) {
		unpin_all();
		close(l.pin_dir_fd);
	}
	imasnap_bpf__destroy(l.skel);
	protect_close(&l.protect);	/* its pins stay: protection outlives the loader */
	view_close(&l.view);
	store_close(&l.store);
	buf_free(&l.record);
	return err ? 1 : 0;
}
