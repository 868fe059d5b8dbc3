// SPDX-License-Identifier: GPL-2.0-only
/* The loader's control socket (see control.h) */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "args.h"
#include "control.h"

#define CONTROL_PREFIX	"imasnap-load:"
#define MSG_MAX		64
#define ASK_TIMEOUT_S	600	/* a trim of a long list takes a while */

/* "\0imasnap-load:/real/path": abstract, so no file in the store's directory */
static int control_addr(const char *dir, struct sockaddr_un *sun, socklen_t *len)
{
	char real[PATH_MAX];
	int n;

	if (!realpath(dir, real))
		return -errno;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1, "%s%s",
		     CONTROL_PREFIX, real);
	if (n < 0 || (size_t)n >= sizeof(sun->sun_path) - 1)
		return -ENAMETOOLONG;
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	return 0;
}

/* The uid at the other end of a connected unix socket; -1 when unknown */
static long peer_uid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return -1;
	return cred.uid;
}

static int watch(int epoll_fd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void control_init(struct control *ctl)
{
	int i;

	ctl->listen_fd = ctl->epoll_fd = -1;
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		ctl->client[i].fd = -1;
}

int control_listen(struct control *ctl, const char *dir, int epoll_fd)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, err;

	control_init(ctl);
	ctl->epoll_fd = epoll_fd;
	err = control_addr(dir, &sun, &len);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, len) || listen(fd, CONTROL_MAX_CLIENTS)) {
		err = -errno;
		close(fd);
		return err;
	}
	err = watch(epoll_fd, fd);
	if (err) {
		close(fd);
		return err;
	}
	ctl->listen_fd = fd;
	return 0;
}

static void drop_client(struct control *ctl, int i)
{
	close(ctl->client[i].fd);	/* close also takes it off the epoll set */
	ctl->client[i].fd = -1;
}

static void reply(int fd, int err, uint64_t trimmed)
{
	char msg[MSG_MAX];
	int n = snprintf(msg, sizeof(msg), "%d %" PRIu64, err, trimmed);

	/* a reply the client does not take at once is its loss, not ours */
	send(fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Closes a refused client's socket without reading its request, but a unix
 * socket closed with a message unread resets its peer, which then loses the
 * answer: take (and drop) what it sent already, without waiting.
 */
static void refuse(int fd)
{
	char msg[MSG_MAX];

	while (recv(fd, msg, sizeof(msg), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/*
 * Takes every pending connection: a non-root peer is told EPERM and closed
 * at once (trimming is root's, as the trim file is); a root one waits,
 * watched, for its request.
 */
static void accept_clients(struct control *ctl, uint64_t now)
{
	int fd, i;

	while ((fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		for (i = 0; i < CONTROL_MAX_CLIENTS && ctl->client[i].fd >= 0; i++)
			;
		if (peer_uid(fd) != 0 || i == CONTROL_MAX_CLIENTS || watch(ctl->epoll_fd, fd)) {
			reply(fd, i == CONTROL_MAX_CLIENTS ? -EBUSY : -EPERM, 0);
			refuse(fd);
			continue;
		}
		ctl->client[i].fd = fd;
		ctl->client[i].since = now;
	}
}

/* One non-blocking read: a SOCK_SEQPACKET request comes whole or not yet */
static void serve_client(struct control *ctl, int i, control_snapshot_fn snapshot, void *ctx)
{
	char msg[MSG_MAX];
	uint64_t keep, trimmed = 0;
	ssize_t n;
	int err;

	n = recv(ctl->client[i].fd, msg, sizeof(msg), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		err = control_parse_request(msg, n, &keep);
		err = err ?: snapshot(ctx, keep, &trimmed);
		reply(ctl->client[i].fd, err, trimmed);
	}
	drop_client(ctl, i);
}

void control_expire(struct control *ctl, uint64_t now)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->client[i].fd >= 0 && now - ctl->client[i].since >= CONTROL_CLIENT_MS)
			drop_client(ctl, i);
}

bool control_handle(struct control *ctl, int fd, uint64_t now, control_snapshot_fn snapshot,
		    void *ctx)
{
	int i;

	if (fd < 0)
		return false;
	if (fd == ctl->listen_fd) {
		accept_clients(ctl, now);
		return true;
	}
	for (i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (ctl->client[i].fd == fd) {
			serve_client(ctl, i, snapshot, ctx);
			return true;
		}
	}
	return false;
}

void control_close(struct control *ctl)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl->client[i].fd >= 0)
			drop_client(ctl, i);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	ctl->listen_fd = -1;
}

/* msg[0..len) as a C string in out[MSG_MAX]; -EINVAL if it holds a NUL or is too long */
static int message_string(const char *msg, size_t len, char out[MSG_MAX])
{
	if (len >= MSG_MAX || memchr(msg, '\0', len))
		return -EINVAL;
	memcpy(out, msg, len);
	out[len] = '\0';
	return 0;
}

int control_parse_request(const char *msg, size_t len, uint64_t *keep)
{
	char text[MSG_MAX];

	if (message_string(msg, len, text) || strncmp(text, "snapshot ", 9))
		return -EINVAL;
	return parse_count(text + 9, false, keep);
}

int control_parse_reply(const char *msg, size_t len, int *result, uint64_t *trimmed)
{
	char text[MSG_MAX], again[MSG_MAX];
	uint64_t err = 0;

	if (message_string(msg, len, text))
		return -EINVAL;
	if (sscanf(text, "-%" SCNu64 " %" SCNu64, &err, trimmed) != 2 &&
	    (err = 0, sscanf(text, "0 %" SCNu64, trimmed) != 1))
		return -EINVAL;
	/* 0 or a negative errno, and nothing but what the loader writes */
	if (err > 4095 || snprintf(again, sizeof(again), "%d %" PRIu64, -(int)err, *trimmed) !=
			  (int)len || memcmp(again, text, len))
		return -EINVAL;
	*result = -(int)err;
	return 0;
}

int control_snapshot(const char *dir, uint64_t keep, int *result, uint64_t *trimmed)
{
	struct timeval tv = { .tv_sec = ASK_TIMEOUT_S };
	struct sockaddr_un sun;
	char msg[MSG_MAX];
	socklen_t len;
	ssize_t n;
	long uid;
	int fd, err;

	err = control_addr(dir, &sun, &len);
	if (err)
		return err == -ENOENT ? -ECONNREFUSED : err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, len)) {
		err = -errno;
		goto out;
	}
	/* anyone may bind the name first: only root's answer is the loader's */
	uid = peer_uid(fd);
	if (uid != 0) {
		fprintf(stderr, "imasnap: the control socket @%s is held by uid %ld, not root: not imasnap-load; refusing to use it\n",
			sun.sun_path + 1, uid);
		err = -EPERM;
		goto out;
	}
	n = snprintf(msg, sizeof(msg), "snapshot %" PRIu64, keep);
	if (send(fd, msg, n, MSG_NOSIGNAL) != n) {
		err = -errno;
		goto out;
	}
	n = recv(fd, msg, sizeof(msg), 0);
	if (n <= 0) {
		err = n < 0 ? -errno : -EPIPE;
		goto out;
	}
	if (control_parse_reply(msg, n, result, trimmed))
		err = -EPROTO;
out:
	close(fd);
	return err;
}
