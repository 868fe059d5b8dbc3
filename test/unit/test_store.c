// SPDX-License-Identifier: GPL-2.0-only
/*
 * Store recovery: the loader's start-up check of a store against the
 * kernel's list. The kernel's list is a file in a scratch directory named
 * by IMASNAP_SECURITYFS (the reader under test is the same code that reads
 * securityfs); the store is a scratch directory. Also the loader's epoch
 * check at start (epoch.h) as far as it goes without the kernel helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "epoch.h"
#include "kernel_log.h"
#include "log.h"
#include "status.h"
#include "store.h"
#include "unit.h"

/* the epoch tests never read a TPM: the fake list is no real TPM's */
#define NO_TPM "device:/nonexistent-tpm"

static char top[64], securityfs[128], store_dir[128];
static struct buf kernel_list;	/* what the fake kernel lists */
static size_t record_end[16];	/* offset after each record in kernel_list */
static int nr_records;

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd)) {
		perror(path);
		exit(2);
	}
}

static struct buf read_whole(const char *path)
{
	struct buf b = {0};
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&b, chunk, n);
	if (fd >= 0)
		close(fd);
	return b;
}

/* an ima-ng record whose name and digest differ per index */
static void add_kernel_record(int i)
{
	uint8_t fields[128], digest[LOG_SHA1_SIZE];
	char name[32];
	uint32_t len;
	size_t off = 0;

	len = 8 + 32;
	memcpy(fields + off, &len, 4);
	memcpy(fields + off + 4, "sha256:", 8);
	memset(fields + off + 12, 0x40 + i, 32);
	off += 4 + len;
	len = snprintf(name, sizeof(name), "/tmp/file-%d", i) + 1;
	memcpy(fields + off, &len, 4);
	memcpy(fields + off + 4, name, len);
	off += 4 + len;
	memset(digest, i + 1, sizeof(digest));
	log_encode(&kernel_list, 10, digest, "ima-ng", fields, off);
	record_end[nr_records++] = kernel_list.len;
}

static void set_kernel(void)
{
	char path[256], count[32];
	int len = snprintf(count, sizeof(count), "%d\n", nr_records);

	snprintf(path, sizeof(path), "%s/ima/binary_runtime_measurements", securityfs);
	write_file(path, kernel_list.data, kernel_list.len);
	snprintf(path, sizeof(path), "%s/ima/runtime_measurements_count", securityfs);
	write_file(path, count, len);
}

static void set_store(const void *data, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", store_dir, STORE_LOG_NAME);
	write_file(path, data, len);
}

static struct buf store_bytes(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", store_dir, STORE_LOG_NAME);
	return read_whole(path);
}

/* opens the store and checks it against the kernel as the loader does */
static int reconcile(struct store *s)
{
	struct kernel_log kl;
	int err;

	err = store_open_append(s, store_dir);
	if (err)
		return err;
	err = kernel_log_read(&kl);
	if (!err)
		err = store_reconcile(s, &kl);
	kernel_log_free(&kl);
	return err;
}

/* the store's bytes are exactly want[0..len) */
static void check_store_is(const void *want, size_t len)
{
	struct buf got = store_bytes();

	CHECK_INT(got.len, len);
	CHECK(got.len == len && (!len || !memcmp(got.data, want, len)));
	buf_free(&got);
}

static void test_prefix_store_is_accepted(void)
{
	struct store s;

	set_store(kernel_list.data, record_end[2]);
	CHECK_INT(reconcile(&s), 0);
	CHECK_INT(s.entries, 3);
	CHECK_INT(s.tail, 0);
	store_close(&s);
	check_store_is(kernel_list.data, record_end[2]);
}

static void test_torn_tail_is_repaired(void)
{
	struct store s;
	size_t cut = record_end[3] + 7;	/* 7 bytes of record 4 */

	set_store(kernel_list.data, cut);
	CHECK_INT(reconcile(&s), 0);
	CHECK_INT(s.entries, 4);
	CHECK_INT(s.tail, 0);
	store_close(&s);
	check_store_is(kernel_list.data, record_end[3]);
}

static void test_foreign_tail_is_refused(void)
{
	struct buf b = {0};
	struct store s;

	buf_append(&b, kernel_list.data, record_end[3]);
	buf_append(&b, "\x0a\x00\x00\x00\x99\x99", 6);	/* PCR 10, wrong digest */
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), -EUCLEAN);
	store_close(&s);
	check_store_is(b.data, b.len);
	buf_free(&b);
}

/* zeros a crash left after the last record, alone or after part of the next */
static void test_zero_tail_is_repaired(void)
{
	static const uint8_t zeros[300];
	struct buf b = {0};
	struct store s;

	buf_append(&b, kernel_list.data, record_end[3]);
	buf_append(&b, zeros, sizeof(zeros));
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), 0);
	CHECK_INT(s.entries, 4);
	store_close(&s);
	check_store_is(kernel_list.data, record_end[3]);

	b.len = 0;
	buf_append(&b, kernel_list.data, record_end[3] + 9);
	buf_append(&b, zeros, sizeof(zeros));
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), 0);
	store_close(&s);
	check_store_is(kernel_list.data, record_end[3]);

	/* the kernel lists nothing after the store: zeros are still no record */
	b.len = 0;
	buf_append(&b, kernel_list.data, kernel_list.len);
	buf_append(&b, zeros, 5);
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), 0);
	store_close(&s);
	check_store_is(kernel_list.data, kernel_list.len);
	buf_free(&b);
}

/* a tail that is not the kernel's next entry stays refused, zeros after it or not */
static void test_foreign_tail_before_zeros_is_refused(void)
{
	static const uint8_t zeros[64];
	struct buf b = {0};
	struct store s;

	buf_append(&b, kernel_list.data, record_end[3]);
	buf_append(&b, "\x0a\x00\x00\x00\x99\x99", 6);
	buf_append(&b, zeros, sizeof(zeros));
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), -EUCLEAN);
	store_close(&s);
	check_store_is(b.data, b.len);
	/* a bad record with valid ones after it is no torn tail */
	b.len = 0;
	buf_append(&b, kernel_list.data, record_end[1]);
	buf_append(&b, "\xff\xff\xff\xff", 4);
	buf_append(&b, kernel_list.data + record_end[1], record_end[2] - record_end[1]);
	buf_append(&b, zeros, 8);
	set_store(b.data, b.len);
	CHECK_INT(store_open_append(&s, store_dir), -EUCLEAN);
	store_close(&s);
	check_store_is(b.data, b.len);
	buf_free(&b);
}

static void test_changed_entry_is_refused(void)
{
	struct buf b = {0};
	struct store s;

	buf_append(&b, kernel_list.data, record_end[4]);
	b.data[record_end[1] + 30] ^= 1;	/* inside record 2's data */
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), -EUCLEAN);
	store_close(&s);
	check_store_is(b.data, b.len);
	buf_free(&b);
}

static void test_longer_store_is_refused(void)
{
	struct buf b = {0};
	struct store s;

	/* another boot: more entries than this kernel ever listed */
	buf_append(&b, kernel_list.data, kernel_list.len);
	buf_append(&b, kernel_list.data, record_end[0]);
	set_store(b.data, b.len);
	CHECK_INT(reconcile(&s), -EUCLEAN);
	store_close(&s);
	check_store_is(b.data, b.len);
	buf_free(&b);
}

static void test_garbage_store_is_refused(void)
{
	static const uint8_t garbage[] = "not a measurement log at all, really";
	struct store s;

	set_store(garbage, sizeof(garbage));
	CHECK_INT(store_open_append(&s, store_dir), -EUCLEAN);
	store_close(&s);
	check_store_is(garbage, sizeof(garbage));
}

static void test_append_and_flush(void)
{
	struct store s;

	set_store(kernel_list.data, record_end[1]);
	CHECK_INT(reconcile(&s), 0);
	CHECK_INT(store_append(&s, kernel_list.data + record_end[1],
			       record_end[2] - record_end[1]), 0);
	CHECK_INT(store_next(&s), 3);
	CHECK_INT(s.entries, 2);
	CHECK_INT(store_flush(&s), 0);
	CHECK_INT(s.entries, 3);
	/* the last durable record's digest is what a trim names */
	CHECK_MEM(s.last_digest, kernel_list.data + record_end[1] + 4, LOG_SHA1_SIZE);
	store_close(&s);
	check_store_is(kernel_list.data, record_end[2]);
}

/*
 * A write the file system refuses (here EFBIG, past RLIMIT_FSIZE; ENOSPC
 * and EIO take the same path) leaves no partial record, keeps the queue,
 * and the same flush succeeds once writes go through again.
 */
static void test_failed_flush_keeps_queue_for_retry(void)
{
	struct rlimit old, low;
	struct store s;

	set_store(kernel_list.data, record_end[1]);
	CHECK_INT(reconcile(&s), 0);
	CHECK_INT(store_append(&s, kernel_list.data + record_end[1],
			       record_end[2] - record_end[1]), 0);
	CHECK_INT(store_append(&s, kernel_list.data + record_end[2],
			       record_end[3] - record_end[2]), 0);
	CHECK(!getrlimit(RLIMIT_FSIZE, &old));
	low = old;
	/* room for part of the queue: the write stops inside a record */
	low.rlim_cur = record_end[1] + (record_end[2] - record_end[1]) / 2;
	signal(SIGXFSZ, SIG_IGN);
	CHECK(!setrlimit(RLIMIT_FSIZE, &low));
	CHECK_INT(store_flush(&s), -EFBIG);
	CHECK(!setrlimit(RLIMIT_FSIZE, &old));
	signal(SIGXFSZ, SIG_DFL);
	CHECK_INT(s.entries, 2);
	CHECK_INT(store_next(&s), 4);
	check_store_is(kernel_list.data, record_end[1]);
	CHECK_INT(store_flush(&s), 0);
	CHECK_INT(s.entries, 4);
	store_close(&s);
	check_store_is(kernel_list.data, record_end[3]);
}

/*
 * A requested snapshot names the digest of a durable record read through
 * the loader's own descriptor: a file planted at the store's path (its
 * directory moved) changes nothing, nor do bytes not yet synced.
 */
static void test_record_digest_from_own_descriptor(void)
{
	uint8_t digest[LOG_SHA1_SIZE];
	char path[256], moved[256];
	struct store s;

	set_store(kernel_list.data, record_end[3]);
	CHECK_INT(reconcile(&s), 0);
	snprintf(path, sizeof(path), "%s/%s", store_dir, STORE_LOG_NAME);
	snprintf(moved, sizeof(moved), "%s/moved", top);
	CHECK_INT(rename(path, moved), 0);
	set_store(kernel_list.data + record_end[0], record_end[3] - record_end[0]);
	CHECK_INT(store_record_digest(&s, 1, digest), 0);
	CHECK_MEM(digest, kernel_list.data + record_end[0] + 4, LOG_SHA1_SIZE);
	CHECK_INT(store_record_digest(&s, 0, digest), 0);
	CHECK_MEM(digest, kernel_list.data + 4, LOG_SHA1_SIZE);
	CHECK_INT(store_record_digest(&s, 2, digest), 0);
	CHECK_MEM(digest, kernel_list.data + record_end[1] + 4, LOG_SHA1_SIZE);
	/* queued, not durable: not there yet */
	CHECK_INT(store_append(&s, kernel_list.data + record_end[3],
			       record_end[4] - record_end[3]), 0);
	CHECK_INT(store_record_digest(&s, 4, digest), -ERANGE);
	store_close(&s);
	CHECK_INT(rename(moved, path), 0);
}

/* loader.state is replaced whole and never written through a symlink */
static void test_stats_save_follows_no_symlink(void)
{
	struct loader_stats st = { .events = 5 }, got;
	char link[256], target[256];
	struct buf b;

	snprintf(link, sizeof(link), "%s/%s.tmp", store_dir, LOADER_STATE_NAME);
	snprintf(target, sizeof(target), "%s/victim", top);
	write_file(target, "keep", 4);
	CHECK_INT(symlink(target, link), 0);
	CHECK_INT(stats_save(store_dir, &st), -ELOOP);
	b = read_whole(target);
	CHECK(b.len == 4 && !memcmp(b.data, "keep", 4));
	buf_free(&b);
	unlink(link);
	CHECK_INT(stats_save(store_dir, &st), 0);
	CHECK_INT(stats_load(store_dir, &got), 0);
	CHECK_INT(got.events, 5);
	CHECK(access(link, F_OK) && errno == ENOENT);
}

static void test_one_loader_per_store(void)
{
	struct store a, b;

	set_store(kernel_list.data, record_end[0]);
	CHECK_INT(store_open_append(&a, store_dir), 0);
	CHECK_INT(store_open_append(&b, store_dir), -EBUSY);
	CHECK(store_locked(store_dir));
	store_close(&a);
	store_close(&b);
}

static void set_epoch(const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", store_dir, EPOCH_FILE_NAME);
	write_file(path, text, strlen(text));
}

static struct buf epoch_bytes(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", store_dir, EPOCH_FILE_NAME);
	return read_whole(path);
}

/* epoch_begin on the store as it is now, as the loader runs it */
static int epoch_start_store(void)
{
	struct store s;
	int err = store_open_append(&s, store_dir);

	if (!err)
		err = epoch_begin(&s, NO_TPM);
	store_close(&s);
	return err;
}

static void this_boot(char id[37])
{
	struct buf b = read_whole("/proc/sys/kernel/random/boot_id");

	memset(id, 0, 37);
	if (b.len >= 36)
		memcpy(id, b.data, 36);
	buf_free(&b);
}

static void check_epoch_is(const char *want)
{
	struct buf got = epoch_bytes();

	CHECK(got.len == strlen(want) && !memcmp(got.data, want, got.len));
	buf_free(&got);
}

static void test_epoch_of_a_new_store(void)
{
	char boot[37], want[128];

	this_boot(boot);
	snprintf(want, sizeof(want), "epoch %s\nboot %s\n", boot, boot);
	set_store("", 0);
	set_epoch("epoch 00000000-0000-0000-0000-000000000000\n"
		  "boot 00000000-0000-0000-0000-000000000000\n");
	/* an empty store written in another boot: simply this boot's now */
	CHECK_INT(epoch_start_store(), 0);
	check_epoch_is(want);
	/* the same boot again: nothing to prove, nothing rewritten */
	CHECK_INT(epoch_start_store(), 0);
	check_epoch_is(want);
}

static void test_epoch_of_another_boot_needs_the_helper(void)
{
	static const char other[] = "epoch 11111111-1111-1111-1111-111111111111\n"
				    "boot 22222222-2222-2222-2222-222222222222\n";

	set_store(kernel_list.data, record_end[2]);
	set_epoch(other);
	/* no helper to prove continuity with: refused, nothing renamed */
	CHECK_INT(epoch_start_store(), -ENOPKG);
	check_store_is(kernel_list.data, record_end[2]);
	check_epoch_is(other);
}

static void test_garbage_epoch_file_is_refused(void)
{
	static const char junk[] = "boot\nepoch\n\x01\x02";

	set_store(kernel_list.data, record_end[1]);
	set_epoch(junk);
	CHECK_INT(epoch_start_store(), -EINVAL);
	check_store_is(kernel_list.data, record_end[1]);
	check_epoch_is(junk);
}

/* the helper's files, as it shows a list whose first @trimmed entries are gone */
static void set_helper(const char *trimmed)
{
	char path[256], state[128];
	int len = snprintf(state, sizeof(state), "version: 1\ntrimmed: %s\nepoch_start: 0\n",
			   trimmed);

	snprintf(path, sizeof(path), "%s/imasnap", securityfs);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/imasnap/trim", securityfs);
	write_file(path, "", 0);
	snprintf(path, sizeof(path), "%s/imasnap/state", securityfs);
	write_file(path, state, len);
}

static void remove_helper(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/imasnap/trim", securityfs);
	unlink(path);
	snprintf(path, sizeof(path), "%s/imasnap/state", securityfs);
	unlink(path);
	snprintf(path, sizeof(path), "%s/imasnap", securityfs);
	rmdir(path);
}

static void test_new_store_without_the_epoch_start_is_refused(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", store_dir, EPOCH_FILE_NAME);
	unlink(path);
	set_store("", 0);
	/*
	 * the epoch's first two entries were trimmed into a store that is gone:
	 * a new epoch would begin at a cut, but no TPM gives its base values
	 */
	set_helper("2");
	CHECK_INT(epoch_start_store(), -ENODEV);
	check_store_is("", 0);
	CHECK(access(path, F_OK) && errno == ENOENT);
	/* the same list with nothing trimmed begins the epoch */
	set_helper("0");
	CHECK_INT(epoch_start_store(), 0);
	CHECK(!access(path, F_OK));
	remove_helper();
}

int main(void)
{
	char path[256];
	int i;

	if (unit_tmpdir(top, sizeof(top)))
		return 2;
	snprintf(securityfs, sizeof(securityfs), "%s/securityfs", top);
	snprintf(store_dir, sizeof(store_dir), "%s/store", top);
	snprintf(path, sizeof(path), "%s/ima", securityfs);
	mkdir(securityfs, 0755);
	mkdir(path, 0755);
	mkdir(store_dir, 0755);
	setenv("IMASNAP_SECURITYFS", securityfs, 1);
	for (i = 0; i < 6; i++)
		add_kernel_record(i);
	set_kernel();

	test_prefix_store_is_accepted();
	test_torn_tail_is_repaired();
	test_foreign_tail_is_refused();
	test_zero_tail_is_repaired();
	test_foreign_tail_before_zeros_is_refused();
	test_changed_entry_is_refused();
	test_longer_store_is_refused();
	test_garbage_store_is_refused();
	test_append_and_flush();
	test_failed_flush_keeps_queue_for_retry();
	test_record_digest_from_own_descriptor();
	test_stats_save_follows_no_symlink();
	test_one_loader_per_store();
	test_epoch_of_a_new_store();
	test_epoch_of_another_boot_needs_the_helper();
	test_garbage_epoch_file_is_refused();
	test_new_store_without_the_epoch_start_is_refused();

	if (unit_rmtree(top))
		return 2;
	buf_free(&kernel_list);
	UNIT_DONE();
}
