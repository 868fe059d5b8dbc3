/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A store read as a stream, for checking it away from the machine that wrote
 * it: records are parsed (log_parse) in batches from a buffer of fixed size,
 * so memory does not grow with the store (a record larger than the buffer
 * grows it to that record, at most LOG_DATA_MAX). The replay hashes each
 * batch's template data on worker threads (that part is parallel) while the
 * calling thread extends the PCRs with the previous batch in log order (the
 * chain is sequential).
 */
#ifndef IMASNAP_STREAM_H
#define IMASNAP_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "log.h"
#include "pcrfile.h"
#include "replay.h"

#define STREAM_BUFFER_DEFAULT	(1u << 20)
#define STREAM_BATCH_RECORDS	2048

struct stream_batch;

struct store_stream {
	int fd;
	off_t offset;		/* of the next byte to read */
	bool eof;
	size_t buffer_size;	/* each batch's buffer, unless a record is larger */
	size_t buffer_max;	/* the largest any batch's buffer grew to */
	uint64_t next;		/* global index of the next record to parse */
	uint64_t bytes;		/* bytes of the whole records parsed */
	size_t tail;		/* at the end: bytes of a partial record left */
	const char *why;	/* a record that cannot be one (entry next) */
	/* the sequential cursor's batch (stream_record) */
	struct stream_batch *cursor;
};

/* Reads fd from its start; buffer_size 0: STREAM_BUFFER_DEFAULT */
void stream_init(struct store_stream *s, int fd, size_t buffer_size);
void stream_free(struct store_stream *s);

/*
 * Record i of the stream, read sequentially (i may repeat the last record or
 * be the next one): a replay_record_fn over a store_stream. NULL at the end,
 * for a record that cannot be one (s->why), on a read error or out of order.
 */
const uint8_t *stream_record(const void *stream, uint64_t i, size_t *len);

/*
 * Replays the whole stream into rp with threads worker threads (0: one per
 * online CPU). 0; -EBADMSG (said on out: the entry and why) for a record
 * that cannot be read or whose data does not hash to its digest; -EIO on a
 * read error; -ENOMEM. s->next, s->bytes and s->tail say how far it got.
 */
int stream_replay(struct store_stream *s, struct replay_pair *rp, int threads, FILE *out);

/*
 * Offline verification's replay of the store on fd into rp (its start
 * values set), against the values given in v. The padded replay (a bank
 * IMA could not hash) is a sequential third of the work for two banks and
 * needed only when a bank differs: first the stream is replayed without
 * it, then, if a bank's hashed replay is not v's value, again from rp's
 * start with it. As stream_replay; s says how far the last pass got.
 */
int stream_replay_given(struct store_stream *s, int fd, struct replay_pair *rp,
			const struct pcr_values *v, FILE *out);

/*
 * Calls emit for each whole record from global index from on, in batches of
 * consecutive records (bytes, len, count): export's path. Returns emit's
 * first error, -EBADMSG (s->why) or -EIO.
 */
int stream_each(struct store_stream *s, uint64_t from,
		int (*emit)(void *arg, const uint8_t *bytes, size_t len,
			    const struct log_record *recs, uint32_t count),
		void *arg);

#endif /* IMASNAP_STREAM_H */
