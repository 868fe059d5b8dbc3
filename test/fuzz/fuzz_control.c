// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's control socket, server side (user/control.c, included for
 * its address helper): the input is one message that a client sends to the
 * listening socket; control_handle() accepts the client (on the listening
 * socket's event), then reads its message, asks for a snapshot and replies
 * (on the client's event), never blocking. Invariants:
 * - the snapshot is asked for exactly when the message is shorter than
 *   MSG_MAX, holds no NUL, and is "snapshot " and a count parse_count()
 *   takes, with that count;
 * - every non-empty message gets one reply "ERR TRIMMED": the snapshot's
 *   result and count, or -EINVAL and 0; "status" and "read" get
 *   "-EOPNOTSUPP 0 0\n" (this server describes no store); an empty one gets
 *   none;
 * - a caller other than root (when the fuzzer does not run as root) gets
 *   -EPERM at once and nothing is asked for;
 * - no client is left behind in the server's table.
 */
#include <inttypes.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz.h"
#include "user/control.c"

static struct control ctl;
static bool root;
static struct sockaddr_un addr;
static socklen_t addr_len;

struct asked {
	int calls;
	uint64_t keep;
};

/* A result that depends on the count, to see it carried back */
static int snapshot(void *ctx, uint64_t keep, uint64_t *trimmed)
{
	struct asked *asked = ctx;

	asked->calls++;
	asked->keep = keep;
	*trimmed = keep / 3;
	return keep % 2 ? -EBUSY : 0;
}

/* Whether the server must ask for a snapshot of *keep for this message */
static int reference(const uint8_t *data, size_t size, uint64_t *keep)
{
	char text[MSG_MAX];

	if (size >= MSG_MAX || memchr(data, '\0', size))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (strncmp(text, "snapshot ", 9))
		return 0;
	return !parse_count(text + 9, false, keep);
}

/* "status" and "read": asks for the store, which this server has none of */
static bool source_request(const uint8_t *data, size_t size)
{
	return (size == 6 && !memcmp(data, "status", 6)) || (size == 4 && !memcmp(data, "read", 4));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int epoll_fd = epoll_create1(EPOLL_CLOEXEC);

	fuzz_quiet();
	root = geteuid() == 0;
	FUZZ_SETUP(epoll_fd >= 0);
	FUZZ_SETUP(!control_listen(&ctl, fuzz_dir(), epoll_fd));
	FUZZ_SETUP(!control_addr(fuzz_dir(), &addr, &addr_len));
	return 0;
}

/* The server's slot for the client it accepted last; -1 if none */
static int client_fd(void)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (ctl.client[i].fd >= 0)
			return ctl.client[i].fd;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timeval tv = { .tv_sec = 5 };
	struct asked asked = { 0 };
	char reply_text[128], want[128];
	uint64_t keep = 0;
	ssize_t n;
	int fd, valid;

	if (size > 4096)
		return 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	FUZZ_SETUP(fd >= 0);
	FUZZ_SETUP(!setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	FUZZ_SETUP(!connect(fd, (struct sockaddr *)&addr, addr_len));
	FUZZ_SETUP(send(fd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
	FUZZ_ASSERT(control_handle(&ctl, ctl.listen_fd, 0, snapshot, &asked));
	if (root)
		FUZZ_ASSERT(control_handle(&ctl, client_fd(), 0, snapshot, &asked));
	FUZZ_ASSERT(client_fd() < 0);
	n = recv(fd, reply_text, sizeof(reply_text) - 1, 0);
	close(fd);

	valid = root && reference(data, size, &keep);
	FUZZ_ASSERT(asked.calls == valid && (!valid || asked.keep == keep));
	if (!size && root) {
		FUZZ_ASSERT(n == 0);
		return 0;
	}
	FUZZ_ASSERT(n > 0);
	reply_text[n] = '\0';
	if (valid)
		snprintf(want, sizeof(want), "%d %" PRIu64, keep % 2 ? -EBUSY : 0, keep / 3);
	else if (root && source_request(data, size))
		snprintf(want, sizeof(want), "%d 0 0\n", -EOPNOTSUPP);	/* no store here */
	else
		snprintf(want, sizeof(want), "%d 0", root ? -EINVAL : -EPERM);
	FUZZ_ASSERT(!strcmp(reply_text, want));
	return 0;
}
