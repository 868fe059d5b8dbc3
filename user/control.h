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
 */
#ifndef IMASNAP_CONTROL_H
#define IMASNAP_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_MAX_CLIENTS	8	/* requests waiting for their message */
#define CONTROL_CLIENT_MS	1000	/* how long a client may take to send it */

struct control {
	int listen_fd;			/* -1: none */
	int epoll_fd;			/* where client sockets are watched */
	struct {
		int fd;			/* -1: free */
		uint64_t since;		/* ms, when accepted */
	} client[CONTROL_MAX_CLIENTS];
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
/* Drops clients that did not send their request in time */
void control_expire(struct control *ctl, uint64_t now);
void control_close(struct control *ctl);

/* Message parsers (len bytes, not NUL-terminated): 0 or -EINVAL */
int control_parse_request(const char *msg, size_t len, uint64_t *keep);
int control_parse_reply(const char *msg, size_t len, int *result, uint64_t *trimmed);

/*
 * Asks the loader of store dir to snapshot. -ECONNREFUSED when no loader
 * listens; -EPERM (with a message) when the socket is not root's; otherwise
 * 0 with *result the loader's answer (0 or -errno).
 */
int control_snapshot(const char *dir, uint64_t keep, int *result, uint64_t *trimmed);

#endif /* IMASNAP_CONTROL_H */
