// SPDX-License-Identifier: GPL-2.0-only
/*
 * sd_notify(3)'s protocol and journald's level prefixes, in a few lines of
 * our own instead of a dependency on libsystemd (service.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "service.h"

int service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	socklen_t sa_len;
	ssize_t sent;
	int fd, err = 0;

	if (!len)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* an abstract name */
	sa_len = offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/');
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
	if (sent < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Is stderr the journal's stream? ($JOURNAL_STREAM is "DEVICE:INODE") */
static int stderr_is_journal(void)
{
	static int known = -1;
	const char *env;
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (known >= 0)
		return known;
	env = getenv("JOURNAL_STREAM");
	known = env && sscanf(env, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
		!fstat(2, &st) && st.st_dev == dev && st.st_ino == ino;
	return known;
}

void say(int level, const char *fmt, ...)
{
	va_list ap;

	if (stderr_is_journal())
		fprintf(stderr, "<%d>", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
