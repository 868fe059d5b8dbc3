// SPDX-License-Identifier: GPL-2.0-only
/*
 * The store against the kernel's list (user/store.c, user/kernel_log.c): a
 * loader opens DIR/binary_runtime_measurements, reads the kernel's list from
 * securityfs and reconciles the two, repairing a torn last record. Input:
 * u8 flags | u32 store length | u32 trimmed | store bytes | list bytes; flag
 * bit 0: the helper is loaded (its state file says trimmed, epoch_start 0),
 * else runtime_measurements_count says how many entries the list lost.
 * Invariants:
 * - opening counts the store's records and torn tail as log_index does,
 *   where a tail may also be zeros after at most the start of a record (a
 *   crash's leftovers), and changes nothing; a store that is not a log is
 *   refused;
 * - reconcile succeeds exactly when every stored entry the list still holds
 *   is byte for byte the kernel's and a torn tail is a proper prefix of the
 *   kernel's next entry, or zeros after a (possibly empty) prefix of it;
 *   then only that tail is cut; on refusal the store is unchanged;
 * - after success, appending the kernel's remaining entries makes the store
 *   read back (store_read) as the whole list from the store's first entry.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "kernel_log.h"
#include "log.h"
#include "store.h"

#define STORE	"store/" STORE_LOG_NAME

static char store_dir[4200];

/* Writes the fake securityfs; returns the list's record count, or -1 */
static int64_t fake_kernel(const uint8_t *list, size_t len, bool helper, uint32_t trimmed)
{
	char text[128];
	size_t tail;
	uint64_t count;
	int n;

	fuzz_write("sfs/ima/binary_runtime_measurements", list, len);
	if (log_index(list, len, NULL, &count, &tail) || tail)
		count = 0;
	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", count + trimmed);
	fuzz_write("sfs/ima/runtime_measurements_count", text, n);
	if (helper) {
		n = snprintf(text, sizeof(text), "version: 1\ntrimmed: %u\nepoch_start: 0\n",
			     trimmed);
		fuzz_write("sfs/imasnap/state", text, n);
		fuzz_write("sfs/imasnap/trim", "", 0);
	} else {
		fuzz_unlink("sfs/imasnap/state");
		fuzz_unlink("sfs/imasnap/trim");
	}
	return count;
}

/*
 * How opening must count the store: log_index's records and tail, or, where
 * log_index refuses, the records that parse and a tail of zeros after at
 * most an incomplete record. -EINVAL: not a log.
 */
static int expect_index(const uint8_t *store, size_t len, uint64_t *entries, size_t *tail)
{
	struct log_record rec;
	size_t off = 0, end = len;
	ssize_t n;
	int err = log_index(store, len, NULL, entries, tail);

	if (err != -EINVAL)
		return err;
	for (*entries = 0; (n = log_parse(store + off, len - off, &rec, NULL)) > 0; (*entries)++)
		off += n;
	while (end > off && !store[end - 1])
		end--;
	if (end == len || (end > off && log_parse(store + off, end - off, &rec, NULL) != 0))
		return -EINVAL;
	*tail = len - off;
	return 0;
}

/* The outcome reconcile must have, worked out from the two logs apart */
static bool should_reconcile(const uint8_t *store, uint64_t entries, size_t size, size_t tail,
			     const struct kernel_log *kl)
{
	const uint8_t *k;
	size_t off = 0, len, common;
	struct log_record rec;
	uint64_t i;

	if (entries > kl->first + kl->count || entries < kl->first)
		return false;
	for (i = 0; i < entries; i++, off += rec.size) {
		FUZZ_ASSERT(log_parse(store + off, size - off, &rec, NULL) > 0);
		if (i < kl->first)
			continue;
		k = kernel_log_bytes(kl, i, &len);
		if (len != rec.size || memcmp(k, store + off, len))
			return false;
	}
	if (!tail)
		return true;
	k = kernel_log_bytes(kl, entries, &len);
	if (k && tail < len && !memcmp(k, store + size, tail))
		return true;
	/* zeros after what matches the kernel's next entry */
	for (common = 0; k && common < tail && common < len; common++)
		if (store[size + common] != k[common])
			break;
	for (i = common; i < tail; i++)
		if (store[size + i])
			return false;
	return common < tail;
}

static void catch_up(struct store *s, const struct kernel_log *kl)
{
	struct store_view v;
	const uint8_t *k;
	uint64_t i, index;
	size_t len;

	for (i = store_next(s); i < kl->first + kl->count; i++) {
		k = kernel_log_bytes(kl, i, &len);
		FUZZ_ASSERT(!store_append(s, k, len));
	}
	FUZZ_ASSERT(!store_flush(s));
	FUZZ_ASSERT(s->entries == kl->first + kl->count);
	FUZZ_ASSERT(!store_read(store_dir, &v));
	FUZZ_ASSERT(v.entries == s->entries && !v.tail && v.data.len == (size_t)s->size);
	FUZZ_ASSERT(!log_compare_kernel(v.data.data, v.data.len, kl, v.entries, &index));
	store_view_free(&v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4200];

	fuzz_quiet();
	fuzz_mkdir("store");
	fuzz_mkdir("sfs");
	fuzz_mkdir("sfs/ima");
	fuzz_mkdir("sfs/imasnap");
	fuzz_path(path, sizeof(path), "sfs");
	FUZZ_SETUP(!setenv("IMASNAP_SECURITYFS", path, 1));
	fuzz_path(store_dir, sizeof(store_dir), "store");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	uint32_t store_len = fuzz_u32(&in), trimmed = fuzz_u32(&in) % 64;
	const uint8_t *store, *list;
	size_t len, list_len, tail, after_len;
	uint64_t entries;
	struct kernel_log kl;
	struct store s;
	uint8_t *after;
	int64_t count;
	int err, indexed;

	store = fuzz_bytes(&in, store_len, &len);
	list = fuzz_bytes(&in, in.left, &list_len);
	fuzz_write(STORE, store, len);
	count = fake_kernel(list, list_len, flags & 1, trimmed);
	indexed = expect_index(store, len, &entries, &tail);

	err = store_open_append(&s, store_dir);
	FUZZ_ASSERT(indexed ? err == -EUCLEAN : !err);
	after = fuzz_read(STORE, &after_len);
	FUZZ_ASSERT(after_len == len && (!len || !memcmp(after, store, len)));
	free(after);
	if (err)
		return 0;
	FUZZ_ASSERT(s.entries == entries && s.tail == tail && (size_t)s.size == len - tail);

	err = kernel_log_read(&kl);
	FUZZ_ASSERT(!err || count == 0);
	if (err) {
		store_close(&s);
		return 0;
	}
	/* without the helper the head comes from the newest snapshot_aggregate */
	FUZZ_ASSERT(kl.count == (uint64_t)count && (!(flags & 1) || kl.first == trimmed));

	bool ok = should_reconcile(store, entries, len - tail, tail, &kl);

	err = store_reconcile(&s, &kl);
	FUZZ_ASSERT(ok ? !err : err == -EUCLEAN);
	after = fuzz_read(STORE, &after_len);
	FUZZ_ASSERT(after_len == (ok ? len - tail : len) && (!after_len || !memcmp(after, store, after_len)));
	free(after);
	if (!err) {
		FUZZ_ASSERT(!s.tail);
		catch_up(&s, &kl);
	}
	kernel_log_free(&kl);
	store_close(&s);
	return 0;
}
