// SPDX-License-Identifier: GPL-2.0-only
/* The loader's control socket (see control.h) */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "args.h"
#include "control.h"

#define CONTROL_PREFIX	"imasnap-load:"
#define MSG_MAX		64
#define SERVE_TIMEOUT_S	1	/* a silent client cannot hold up the loader */
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

static void set_timeout(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int control_listen(const char *dir)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, err;

	err = control_addr(dir, &sun, &len);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, len) || listen(fd, 4)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int parse_request(const char *msg, uint64_t *keep)
{
	if (strncmp(msg, "snapshot ", 9))
		return -EINVAL;
	return parse_count(msg + 9, false, keep);
}

int control_serve(int lfd, int (*snapshot)(void *ctx, uint64_t keep, uint64_t *trimmed),
		  void *ctx)
{
	char msg[MSG_MAX];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uint64_t keep, trimmed = 0;
	ssize_t n;
	int fd, err;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 0 : -errno;
	set_timeout(fd, SERVE_TIMEOUT_S);
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	if (n <= 0)
		goto out;
	msg[n] = '\0';
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0)
		err = -EPERM;	/* trimming is root's, as the trim file is */
	else
		err = parse_request(msg, &keep) ?: snapshot(ctx, keep, &trimmed);
	n = snprintf(msg, sizeof(msg), "%d %" PRIu64, err, trimmed);
	send(fd, msg, n, MSG_NOSIGNAL);
out:
	close(fd);
	return 0;
}

int control_snapshot(const char *dir, uint64_t keep, int *result, uint64_t *trimmed)
{
	struct sockaddr_un sun;
	char msg[MSG_MAX];
	socklen_t len;
	ssize_t n;
	int fd, err;

	err = control_addr(dir, &sun, &len);
	if (err)
		return err == -ENOENT ? -ECONNREFUSED : err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeout(fd, ASK_TIMEOUT_S);
	if (connect(fd, (struct sockaddr *)&sun, len)) {
		err = -errno;
		goto out;
	}
	n = snprintf(msg, sizeof(msg), "snapshot %" PRIu64, keep);
	if (send(fd, msg, n, MSG_NOSIGNAL) != n) {
		err = -errno;
		goto out;
	}
	n = recv(fd, msg, sizeof(msg) - 1, 0);
	if (n <= 0) {
		err = n < 0 ? -errno : -EPIPE;
		goto out;
	}
	msg[n] = '\0';
	if (sscanf(msg, "%d %" SCNu64, result, trimmed) != 2)
		err = -EPROTO;
out:
	close(fd);
	return err;
}
