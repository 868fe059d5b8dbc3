// SPDX-License-Identifier: GPL-2.0-only
/*
 * The store read as a stream (user/stream.c), as verify --pcrs and export
 * --store-only read it, in batches of a buffer far smaller than the store.
 * The first byte picks the buffer's size (64 to 16,384 bytes), the rest is
 * the store. Invariants, against one log_parse loop over the whole store:
 * - the stream yields the same records, in order, with the same bytes, both
 *   in batches (stream_each, from entry 0 and from entry 3) and through
 *   the sequential cursor (stream_record);
 * - it stops where the loop stops: at a partial last record (s.tail its
 *   bytes) or at bytes that cannot be a record (-EBADMSG at that entry);
 * - no batch's buffer grows past the largest of the size asked for, twice
 *   the largest record, and twice the bytes from where the loop stopped to
 *   the end (a torn or bad record is read until it is known to be one).
 */
#include <fcntl.h>

#include "stream.h"

#include "fuzz.h"

struct seen {
	const uint8_t *store;
	size_t off;		/* of the next record expected */
	uint64_t records;
	bool differs;
};

static int check_batch(void *arg, const uint8_t *bytes, size_t len,
		       const struct log_record *recs, uint32_t count)
{
	struct seen *w = arg;
	uint32_t i;
	size_t sum = 0;

	for (i = 0; i < count; i++)
		sum += recs[i].size;
	w->differs |= sum != len || memcmp(bytes, w->store + w->off, len);
	w->off += len;
	w->records += count;
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen all = { 0 }, later = { 0 };
	struct log_record rec;
	struct store_stream s;
	size_t buffer, off = 0, biggest = 0, len, skip = 0;
	uint64_t records = 0, i;
	const uint8_t *store, *bytes;
	char path[4200];
	ssize_t n = 0;
	int fd, err;

	if (!size)
		return 0;
	buffer = 64u << (data[0] % 9);
	store = data + 1;
	size--;
	while (off < size && (n = log_parse(store + off, size - off, &rec, NULL)) > 0) {
		if (records == 3)
			skip = off;
		off += n;
		records++;
		if ((size_t)n > biggest)
			biggest = n;
	}
	fuzz_write("store", store, size);
	fuzz_path(path, sizeof(path), "store");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	FUZZ_SETUP(fd >= 0);

	all.store = store;
	stream_init(&s, fd, buffer);
	err = stream_each(&s, 0, check_batch, &all);
	FUZZ_ASSERT(err == (n < 0 ? -EBADMSG : 0));
	FUZZ_ASSERT(!all.differs && all.records == records && all.off == off);
	FUZZ_ASSERT(s.next == records && s.bytes == off);
	FUZZ_ASSERT(n < 0 || s.tail == size - off);
	if (size - off > biggest)
		biggest = size - off;
	FUZZ_ASSERT(s.buffer_max <= (buffer > 2 * biggest ? buffer : 2 * biggest));

	later.store = store;
	later.off = skip;
	stream_init(&s, fd, buffer);
	stream_each(&s, 3, check_batch, &later);
	FUZZ_ASSERT(!later.differs && later.records == (records > 3 ? records - 3 : 0));

	stream_init(&s, fd, buffer);
	for (i = 0, off = 0; i < records; i++, off += len) {
		bytes = stream_record(&s, i, &len);
		FUZZ_ASSERT(bytes && off + len <= size && !memcmp(bytes, store + off, len));
	}
	FUZZ_ASSERT(!stream_record(&s, records, &len));
	stream_free(&s);
	close(fd);
	return 0;
}
