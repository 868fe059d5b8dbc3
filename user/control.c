// SPDX-License-Identifier: GPL-2.0-only
/* The loader's control socket (see control.h) */
#include <errno.h>
#include <fcntl.h>
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
#define SNAPSHOT_TIMEOUT_S	600	/* a trim of a long list takes a while */
/*
 * status and read fall back to the file when the loader does not answer in
 * this time (stopped, or stuck in a long commit): waiting as long as for a
 * snapshot would hang `imasnap status` behind a SIGSTOPped loader.
 */
#define QUERY_TIMEOUT_S		5
#define PIPE_BYTES	(1 << 20)	/* what a stream's pipe holds: less wakeups */
#define CHUNK_BYTES	(1 << 16)
#define PUMP_CHUNKS	16	/* most a stream takes of the loader at a time */

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
	for (i = 0; i < CONTROL_MAX_STREAMS; i++)
		ctl->stream[i].fd = -1;
	ctl->source = NULL;
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

static void drop_stream(struct control *ctl, int i)
{
	close(ctl->stream[i].fd);	/* the reader sees the end, or EOF early */
	ctl->stream[i].fd = -1;
}

/*
 * Sends what the pipe takes now, at most PUMP_CHUNKS chunks, read through
 * the loader's own descriptor (pread: its offset is not moved). The pipe is
 * non-blocking: a slow reader never holds the loader up.
 */
static void pump(struct control *ctl, int i, uint64_t now)
{
	static char chunk[CHUNK_BYTES];
	uint64_t left;
	ssize_t n, sent;
	int round;

	for (round = 0; round < PUMP_CHUNKS && ctl->stream[i].off < ctl->stream[i].end; round++) {
		left = ctl->stream[i].end - ctl->stream[i].off;
		n = pread(ctl->stream[i].src, chunk, left < sizeof(chunk) ? left : sizeof(chunk),
			  ctl->stream[i].off);
		if (n <= 0)
			break;		/* the reader gets less than BYTES: it refuses that */
		sent = write(ctl->stream[i].fd, chunk, n);
		if (sent < 0 && errno == EAGAIN)
			return;
		if (sent <= 0)
			break;		/* EPIPE: the reader went */
		ctl->stream[i].off += sent;
		ctl->stream[i].since = now;
	}
	if (round == PUMP_CHUNKS && ctl->stream[i].off < ctl->stream[i].end)
		return;
	drop_stream(ctl, i);
}

/* A pipe for src's bytes: its read end in *rfd, its write end a stream */
static int open_stream(struct control *ctl, const struct control_source *src, uint64_t now,
		       int *rfd)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	int i, p[2];

	for (i = 0; i < CONTROL_MAX_STREAMS && ctl->stream[i].fd >= 0; i++)
		;
	if (i == CONTROL_MAX_STREAMS)
		return -EBUSY;
	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);	/* a smaller pipe only costs wakeups */
	ev.data.fd = p[1];
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) ||
	    epoll_ctl(ctl->epoll_fd, EPOLL_CTL_ADD, p[1], &ev)) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	ctl->stream[i].fd = p[1];
	ctl->stream[i].src = src->fd;
	ctl->stream[i].off = 0;
	ctl->stream[i].end = src->bytes;
	ctl->stream[i].since = now;
	*rfd = p[0];
	return 0;
}

/* The reply with a descriptor (SCM_RIGHTS) when fd >= 0 */
static void send_with_fd(int sock, const char *msg, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* "status" and "read": the store as the loader wrote it, and its counters */
static void reply_source(struct control *ctl, int sock, bool data, uint64_t now, void *ctx)
{
	struct control_source src = { .fd = -1 };
	char msg[CONTROL_REPLY_MAX];
	int err, n, rfd = -1;

	err = ctl->source ? ctl->source(ctx, &src) : -EOPNOTSUPP;
	if (!err && data)
		err = open_stream(ctl, &src, now, &rfd);
	n = snprintf(msg, sizeof(msg), "%d %" PRIu64 " %" PRIu64 "\n", err, err ? 0 : src.bytes,
		     err ? 0 : src.entries);
	if (!err)
		n += stats_format(&src.stats, msg + n, sizeof(msg) - n);
	send_with_fd(sock, msg, n, rfd);
	if (rfd >= 0)
		close(rfd);
}

/* One non-blocking read: a SOCK_SEQPACKET request comes whole or not yet */
static void serve_client(struct control *ctl, int i, uint64_t now, control_snapshot_fn snapshot,
			 void *ctx)
{
	char msg[MSG_MAX];
	uint64_t keep, trimmed = 0;
	ssize_t n;
	int err;

	n = recv(ctl->client[i].fd, msg, sizeof(msg), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if ((n == 6 && !memcmp(msg, "status", 6)) || (n == 4 && !memcmp(msg, "read", 4))) {
		reply_source(ctl, ctl->client[i].fd, n == 4, now, ctx);
	} else if (n > 0) {
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
	for (i = 0; i < CONTROL_MAX_STREAMS; i++)
		if (ctl->stream[i].fd >= 0 && now - ctl->stream[i].since >= CONTROL_STREAM_MS)
			drop_stream(ctl, i);
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
			serve_client(ctl, i, now, snapshot, ctx);
			return true;
		}
	}
	for (i = 0; i < CONTROL_MAX_STREAMS; i++) {
		if (ctl->stream[i].fd == fd) {
			pump(ctl, i, now);
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
	for (i = 0; i < CONTROL_MAX_STREAMS; i++)
		if (ctl->stream[i].fd >= 0)
			drop_stream(ctl, i);
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

int control_parse_source_reply(const char *msg, size_t len, int *result,
			       struct control_source *src)
{
	char text[CONTROL_REPLY_MAX], again[64];
	const char *nl = memchr(msg, '\n', len);
	uint64_t err = 0;
	int n;

	if (!nl || len >= sizeof(text) || memchr(msg, '\0', len))
		return -EINVAL;
	memcpy(text, msg, len);
	text[len] = '\0';
	if (sscanf(text, "-%" SCNu64 " %" SCNu64 " %" SCNu64, &err, &src->bytes,
		   &src->entries) != 3 &&
	    (err = 0, sscanf(text, "0 %" SCNu64 " %" SCNu64, &src->bytes, &src->entries) != 2))
		return -EINVAL;
	/* 0 or a negative errno, and nothing but what the loader writes */
	n = snprintf(again, sizeof(again), "%d %" PRIu64 " %" PRIu64 "\n", -(int)err,
		     src->bytes, src->entries);
	if (err > 4095 || n != nl + 1 - msg || memcmp(again, text, n))
		return -EINVAL;
	stats_parse(text + n, &src->stats);
	*result = -(int)err;
	return 0;
}

/* Connected to the loader of store dir, which root bound: the socket, or -errno */
static int control_connect(const char *dir, int timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	struct sockaddr_un sun;
	socklen_t len;
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
		close(fd);
		return err;
	}
	/* anyone may bind the name first: only root's answer is the loader's */
	uid = peer_uid(fd);
	if (uid != 0) {
		fprintf(stderr, "imasnap: the control socket @%s is held by uid %ld, not root: not imasnap-load; refusing to use it\n",
			sun.sun_path + 1, uid);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/*
 * Sends req and takes the reply into msg[size] (*len bytes), and a
 * descriptor passed with it into *fd (-1: none; NULL: none wanted)
 */
static int control_ask(const char *dir, const char *req, int timeout_s, char *msg, size_t size,
		       size_t *len, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = msg, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *cm;
	ssize_t n = strlen(req);
	int sock, err = 0;

	if (fd)
		*fd = -1;
	sock = control_connect(dir, timeout_s);
	if (sock < 0)
		return sock;
	if (send(sock, req, n, MSG_NOSIGNAL) != n) {
		err = -errno;
		goto out;
	}
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		err = n < 0 ? -errno : -EPIPE;
		goto out;
	}
	*len = n;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		if (fd && *fd < 0)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
		else
			close(*(int *)CMSG_DATA(cm));
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		err = -EPROTO;
out:
	close(sock);
	if (err && fd && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return err;
}

int control_snapshot(const char *dir, uint64_t keep, int *result, uint64_t *trimmed)
{
	char req[MSG_MAX], msg[MSG_MAX];
	size_t len;
	int err;

	snprintf(req, sizeof(req), "snapshot %" PRIu64, keep);
	err = control_ask(dir, req, SNAPSHOT_TIMEOUT_S, msg, sizeof(msg), &len, NULL);
	if (!err && control_parse_reply(msg, len, result, trimmed))
		err = -EPROTO;
	return err;
}

int control_read_store(const char *dir, bool data, struct control_source *src, int *result)
{
	char msg[CONTROL_REPLY_MAX];
	size_t len;
	int err;

	memset(src, 0, sizeof(*src));
	err = control_ask(dir, data ? "read" : "status", QUERY_TIMEOUT_S, msg, sizeof(msg),
			  &len, &src->fd);
	if (!err && control_parse_source_reply(msg, len, result, src))
		err = -EPROTO;
	if (!err && data && !*result && src->fd < 0)
		err = -EPROTO;
	if ((err || *result) && src->fd >= 0) {
		close(src->fd);
		src->fd = -1;
	}
	return err;
}
