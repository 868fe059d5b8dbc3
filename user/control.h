/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The loader's control socket: how `imasnap snapshot` asks a running
 * imasnap-load to trim, since under the store's protection only the loader
 * may write the helper's trim file. An abstract unix socket named after the
 * store's real path (nothing to create in the protected directory), one
 * SOCK_SEQPACKET message each way. Both ends check the other first
 * (SO_PEERCRED): the loader answers root only, and `imasnap` talks only to a
 * socket root bound (anyone may bind an abstract name first).
 *
 *   request: "snapshot KEEP"      reply: "ERR TRIMMED" (ERR: 0 or -errno)
 *   request: "status"             reply: "ERR BYTES ENTRIES\n" + loader.state lines
 *   request: "read"               the same, with the read end of a pipe
 *                                 (SCM_RIGHTS) that carries the store's
 *                                 first BYTES bytes, ENTRIES whole records
 *
 * status, verify and export ask so, rather than open the store: under a
 * policy that measures root's reads (ima_policy=tcb), every open for reading
 * of a file open for writing (the loader's log) is logged as an
 * open_writers violation, and a verifier fails the log on it. A pipe is no
 * file IMA measures, and it gives the reader no write access to the store
 * (a passed copy of the loader's own descriptor would). The loader fills the
 * pipe from its own descriptor without blocking, a chunk at a time between
 * its other work, so a store of any size streams through it.
 */
#ifndef IMASNAP_CONTROL_H
#define IMASNAP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define CONTROL_MAX_CLIENTS	8	/* requests waiting for their message */
#define CONTROL_CLIENT_MS	1000	/* how long a client may take to send it */
#define CONTROL_MAX_STREAMS	4	/* stores being sent at a time */
#define CONTROL_STREAM_MS	30000	/* a reader that takes nothing for this long is dropped */
#define CONTROL_REPLY_MAX	(64 + STATS_TEXT_MAX)

/* What the loader tells status, verify and export: its store as it wrote it */
struct control_source {
	int fd;			/* loader: its log, readable; client: the pipe (-1: none) */
	uint64_t bytes;		/* whole records written */
	uint64_t entries;
	struct loader_stats stats;
};

struct control {
	int listen_fd;			/* -1: none */
	int epoll_fd;			/* where client sockets are watched */
	struct {
		int fd;			/* -1: free */
		uint64_t since;		/* ms, when accepted */
	} client[CONTROL_MAX_CLIENTS];
	struct {
		int fd;			/* the pipe's write end; -1: free */
		int src;		/* the loader's log (not ours to close) */
		uint64_t off, end;	/* bytes of the log still to send */
		uint64_t since;		/* ms, when the reader last took some */
	} stream[CONTROL_MAX_STREAMS];
	/* the ctx below describes the store: NULL, status and read are refused */
	int (*source)(void *ctx, struct control_source *src);
};

/* What the loader does for a request: trim all but keep stored entries */
typedef int (*control_snapshot_fn)(void *ctx, uint64_t keep, uint64_t *trimmed);

/* No sockets yet: control_close() may be called on it */
void control_init(struct control *ctl);

/*
 * Listens for store dir; sockets are added to epoll_fd (data.fd = socket).
 * 0 or -errno (ctl->listen_fd stays -1).
 */
int control_listen(struct control *ctl, const char *dir, int epoll_fd);

/*
 * Serves what epoll reported on fd (the listening socket or a client's),
 * never blocking: accepts and authenticates new clients, answers a client
 * whose request has come, and drops clients older than CONTROL_CLIENT_MS
 * (now, in ms). false when fd is none of the control's sockets.
 */
bool control_handle(struct control *ctl, int fd, uint64_t now, control_snapshot_fn snapshot,
		    void *ctx);
/* Drops clients that did not send their request in time, and stalled streams */
void control_expire(struct control *ctl, uint64_t now);
void control_close(struct control *ctl);

/* Message parsers (len bytes, not NUL-terminated): 0 or -EINVAL */
int control_parse_request(const char *msg, size_t len, uint64_t *keep);
int control_parse_reply(const char *msg, size_t len, int *result, uint64_t *trimmed);
int control_parse_source_reply(const char *msg, size_t len, int *result,
			       struct control_source *src);

/*
 * Asks the loader of store dir to snapshot. -ECONNREFUSED when no loader
 * listens; -EPERM (with a message) when the socket is not root's; otherwise
 * 0 with *result the loader's answer (0 or -errno).
 */
int control_snapshot(const char *dir, uint64_t keep, int *result, uint64_t *trimmed);

/*
 * Asks the loader of store dir for its store: with data, src->fd is a pipe
 * that carries its bytes (the caller closes it), else -1. Returns like
 * control_snapshot, and -EAGAIN when the loader does not answer within
 * 5 s (the caller then reads the file).
 */
int control_read_store(const char *dir, bool data, struct control_source *src, int *result);

#endif /* IMASNAP_CONTROL_H */
