// SPDX-License-Identifier: GPL-2.0-only
/*
 * Streaming replay of a store (stream.h). A batch is a buffer of whole
 * records and their parsed form; the bytes of a partial record at its end
 * are carried to the next batch. The replay keeps STREAM_SLOTS batches in
 * flight: the calling thread reads and parses one while the workers hash
 * the ones before it, and extends the oldest once it is hashed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"

#define STREAM_SLOTS	3
/* records a worker claims at a time: few lock round trips per batch */
#define STREAM_CHUNK	128

struct stream_batch {
	uint8_t *buf;
	size_t cap, len;	/* bytes held */
	size_t used;		/* bytes of its whole records */
	uint64_t first;		/* global index of its first record */
	uint32_t nr;
	struct log_record rec[STREAM_BATCH_RECORDS];
	size_t off[STREAM_BATCH_RECORDS];	/* where each record starts */
	struct record_digests dig[STREAM_BATCH_RECORDS];
	/* hashing: under the pool's lock */
	bool queued;
	uint32_t claimed, hashed;
	int err;
};

void stream_init(struct store_stream *s, int fd, size_t buffer_size)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->buffer_size = buffer_size ?: STREAM_BUFFER_DEFAULT;
}

static void batch_free(struct stream_batch *b)
{
	if (b)
		free(b->buf);
	free(b);
}

void stream_free(struct store_stream *s)
{
	batch_free(s->cursor);
	s->cursor = NULL;
}

static int batch_grow(struct store_stream *s, struct stream_batch *b, size_t need)
{
	size_t cap = b->cap ?: s->buffer_size;
	uint8_t *buf;

	while (cap < need)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	buf = realloc(b->buf, cap);
	if (!buf)
		return -ENOMEM;
	b->buf = buf;
	b->cap = cap;
	if (cap > s->buffer_max)
		s->buffer_max = cap;
	return 0;
}

/* Reads until the buffer is full or the store ends */
static int batch_read(struct store_stream *s, struct stream_batch *b)
{
	ssize_t n;

	while (b->len < b->cap && !s->eof) {
		n = pread(s->fd, b->buf + b->len, b->cap - b->len, s->offset);
		/* a pipe (the loader's, control.h) is read in order: same bytes */
		if (n < 0 && errno == ESPIPE)
			n = read(s->fd, b->buf + b->len, b->cap - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -EIO;
		s->eof = !n;
		s->offset += n;
		b->len += n;
	}
	return 0;
}

/*
 * Fills b with the records after prev's (NULL: the stream's start). A
 * record that does not fit grows the buffer; only the largest record of the
 * store decides how far. 0 with b->nr 0 at the end of the stream;
 * -EBADMSG (s->why) with b->nr the records before bytes that are no record.
 */
static int batch_fill(struct store_stream *s, struct stream_batch *b,
		      const struct stream_batch *prev)
{
	size_t carry = prev ? prev->len - prev->used : 0;
	size_t pos = 0;
	ssize_t n;
	int err;

	b->nr = 0;
	b->len = 0;
	b->first = s->next;
	err = batch_grow(s, b, carry > s->buffer_size ? carry : s->buffer_size);
	if (err)
		return err;
	if (carry)
		memmove(b->buf, prev->buf + prev->used, carry);	/* prev may be b */
	b->len = carry;
	err = batch_read(s, b);
	while (!err && b->nr < STREAM_BATCH_RECORDS) {
		n = log_parse(b->buf + pos, b->len - pos, &b->rec[b->nr], &s->why);
		if (n < 0)
			err = -EBADMSG;
		else if (n > 0) {
			b->off[b->nr] = pos;
			pos += n;
			b->nr++;
			s->next++;
			s->bytes += n;
		} else if (b->nr || s->eof) {
			break;
		} else {
			/* one record larger than the buffer: make room for more */
			err = batch_grow(s, b, b->cap + 1);
			err = err ?: batch_read(s, b);
		}
	}
	b->used = pos;
	if (s->eof && b->nr < STREAM_BATCH_RECORDS)
		s->tail = b->len - pos;
	return err;
}

static struct stream_batch *batch_new(void)
{
	return calloc(1, sizeof(struct stream_batch));
}

const uint8_t *stream_record(const void *stream, uint64_t i, size_t *len)
{
	/* a cursor moves: the record function's context is const for random access */
	struct store_stream *s = (struct store_stream *)stream;
	struct stream_batch *b = s->cursor;
	const struct log_record *rec;

	if (!b) {
		s->offset = 0;
		b = s->cursor = batch_new();
		if (!b)
			return NULL;
		batch_fill(s, b, NULL);
	}
	/* a batch that ends at bytes that are no record holds the records before */
	if (i == b->first + b->nr && b->nr)
		batch_fill(s, b, b);
	if (i < b->first || i >= b->first + b->nr)
		return NULL;
	rec = &b->rec[i - b->first];
	*len = rec->size;
	return b->buf + b->off[i - b->first];
}

/* The workers and the batches they hash */
struct hash_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a batch was queued, or quit */
	pthread_cond_t done;	/* a batch is hashed */
	struct stream_batch *slot[STREAM_SLOTS];
	const struct replay *banks;
	bool quit;
};

/* Claims up to STREAM_CHUNK records of the oldest queued batch; under lock */
static struct stream_batch *claim(struct hash_pool *p, struct stream_batch *only,
				  uint32_t *from, uint32_t *to)
{
	struct stream_batch *b, *best = NULL;
	int i;

	for (i = 0; i < STREAM_SLOTS; i++) {
		b = p->slot[i];
		if ((only && b != only) || !b->queued || b->claimed == b->nr)
			continue;
		if (!best || b->first < best->first)
			best = b;
	}
	if (!best)
		return NULL;
	*from = best->claimed;
	*to = best->nr - *from > STREAM_CHUNK ? *from + STREAM_CHUNK : best->nr;
	best->claimed = *to;
	return best;
}

/* Hashes records [from, to) of b outside the lock, then counts them */
static void hash_chunk(struct hash_pool *p, struct replay_hasher *h,
		       struct stream_batch *b, uint32_t from, uint32_t to)
{
	uint32_t i;
	int err = 0;

	pthread_mutex_unlock(&p->lock);
	for (i = from; !err && i < to; i++)
		err = replay_record_digests(h, p->banks, &b->rec[i], &b->dig[i]);
	pthread_mutex_lock(&p->lock);
	if (err && !b->err)
		b->err = err;
	b->hashed += to - from;
	if (b->hashed == b->nr)
		pthread_cond_broadcast(&p->done);
}

static void *hash_worker(void *arg)
{
	struct hash_pool *p = arg;
	struct stream_batch *b;
	struct replay_hasher h;
	uint32_t from, to;

	if (replay_hasher_init(&h))
		return NULL;	/* the others, and the caller, hash without it */
	pthread_mutex_lock(&p->lock);
	while (!p->quit) {
		b = claim(p, NULL, &from, &to);
		if (b)
			hash_chunk(p, &h, b, from, to);
		else
			pthread_cond_wait(&p->work, &p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	replay_hasher_free(&h);
	return NULL;
}

static void pool_queue(struct hash_pool *p, struct stream_batch *b)
{
	pthread_mutex_lock(&p->lock);
	b->claimed = b->hashed = 0;
	b->err = 0;
	b->queued = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
}

/* Waits until b is hashed, hashing what of it no worker has claimed yet */
static int pool_wait(struct hash_pool *p, struct replay_hasher *h, struct stream_batch *b)
{
	uint32_t from, to;
	int err;

	pthread_mutex_lock(&p->lock);
	while (b->hashed < b->nr) {
		if (claim(p, b, &from, &to))
			hash_chunk(p, h, b, from, to);
		else
			pthread_cond_wait(&p->done, &p->lock);
	}
	b->queued = false;
	err = b->err;
	pthread_mutex_unlock(&p->lock);
	return err;
}

/* Extends rp with b's records, in order */
static int batch_extend(struct replay_hasher *h, struct replay_pair *rp,
			const struct stream_batch *b, FILE *out)
{
	uint32_t i;
	int err = 0;

	for (i = 0; !err && i < b->nr; i++)
		err = replay_report_record(h, rp, &b->rec[i], &b->dig[i], b->first + i, out);
	return err ? -EBADMSG : 0;
}

static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/*
 * The calling thread's loop: fill slot k (carrying from k-1) and queue it;
 * when every slot is in flight or the stream ended, extend with the oldest.
 */
static int replay_slots(struct store_stream *s, struct hash_pool *p, struct replay_hasher *h,
			struct replay_pair *rp, FILE *out)
{
	struct stream_batch *prev = NULL, *b;
	int filled = 0, extended = 0, err = 0, fill_err = 0;
	bool end = false;

	while (!err && (!end || extended < filled)) {
		if (!end && filled - extended < STREAM_SLOTS) {
			b = p->slot[filled % STREAM_SLOTS];
			/* the records before one that cannot be read are replayed */
			fill_err = batch_fill(s, b, prev);
			end = fill_err || !b->nr;
			if (b->nr) {
				pool_queue(p, b);
				prev = b;
				filled++;
			}
			continue;
		}
		b = p->slot[extended % STREAM_SLOTS];
		err = pool_wait(p, h, b);
		err = err ?: batch_extend(h, rp, b, out);
		extended++;
	}
	/* what is still queued must not be hashed once the slots are freed */
	for (; extended < filled; extended++)
		pool_wait(p, h, p->slot[extended % STREAM_SLOTS]);
	if (!err && fill_err == -EBADMSG)
		fprintf(out, "entry %" PRIu64 ": cannot be read: %s\n", s->next,
			s->why ?: "not a record");
	return err ?: fill_err;
}

int stream_replay(struct store_stream *s, struct replay_pair *rp, int threads, FILE *out)
{
	struct hash_pool p = { .banks = &rp->hashed };
	pthread_t tid[64];
	struct replay_hasher h = { 0 };
	int i, started = 0, err = 0;

	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.work, NULL);
	pthread_cond_init(&p.done, NULL);
	s->offset = 0;
	for (i = 0; !err && i < STREAM_SLOTS; i++) {
		p.slot[i] = batch_new();
		err = p.slot[i] ? 0 : -ENOMEM;
	}
	err = err ?: replay_hasher_init(&h);
	if (threads <= 0)
		threads = online_cpus();
	if (threads > 64)
		threads = 64;
	/* a worker that cannot start leaves its share to the others */
	for (i = 0; !err && i < threads; i++)
		if (!pthread_create(&tid[started], NULL, hash_worker, &p))
			started++;
	err = err ?: replay_slots(s, &p, &h, rp, out);
	pthread_mutex_lock(&p.lock);
	p.quit = true;
	pthread_cond_broadcast(&p.work);
	pthread_mutex_unlock(&p.lock);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	replay_hasher_free(&h);
	for (i = 0; i < STREAM_SLOTS; i++)
		batch_free(p.slot[i]);
	pthread_cond_destroy(&p.done);
	pthread_cond_destroy(&p.work);
	pthread_mutex_destroy(&p.lock);
	return err;
}

int stream_replay_given(struct store_stream *s, int fd, struct replay_pair *rp,
			const struct pcr_values *v, FILE *out)
{
	struct replay_pair *start = malloc(sizeof(*start));	/* 25 KiB */
	int err;

	if (!start)
		return -ENOMEM;
	*start = *rp;
	rp->hashed_only = true;
	stream_init(s, fd, s->buffer_size);
	err = stream_replay(s, rp, 0, out);
	if (!err && !pcr_values_match_hashed(v, rp)) {
		*rp = *start;
		stream_init(s, fd, s->buffer_size);
		err = stream_replay(s, rp, 0, out);
	}
	free(start);
	return err;
}

int stream_each(struct store_stream *s, uint64_t from,
		int (*emit)(void *arg, const uint8_t *bytes, size_t len,
			    const struct log_record *recs, uint32_t count),
		void *arg)
{
	struct stream_batch *b = batch_new();
	uint64_t skip;
	int err, ret;

	if (!b)
		return -ENOMEM;
	s->offset = 0;
	/* a batch that ends at bytes that are no record holds the records before */
	err = batch_fill(s, b, NULL);
	while (b->nr) {
		skip = from > b->first ? from - b->first : 0;
		ret = skip < b->nr ? emit(arg, b->buf + b->off[skip], b->used - b->off[skip],
					  &b->rec[skip], b->nr - skip) : 0;
		if (ret || err) {
			err = ret ?: err;
			break;
		}
		err = batch_fill(s, b, b);
	}
	batch_free(b);
	return err;
}
