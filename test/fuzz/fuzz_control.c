// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's control socket, server side (user/control.c, included for
 * its address helper): the input is one message that a client sends to the
 * listening socket; control_serve reads it, asks for a snapshot and replies.
 * Invariants, for the message as the server receives it (its first 63
 * bytes, up to a NUL):
 * - the snapshot is asked for exactly when it is "snapshot " and a decimal
 *   count of at most 2^64 - 1 and nothing else, with that count;
 * - every non-empty message gets one reply "ERR TRIMMED": the snapshot's
 *   result and count, or -EINVAL and 0; an empty one gets none;
 * - a caller other than root (when the fuzzer does not run as root) gets
 *   -EPERM and nothing is asked for.
 */
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz.h"
#include "user/control.c"

static int lfd;
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

/* "snapshot N": 1 and N; 0 for anything else */
static int reference(const char *msg, uint64_t *keep)
{
	const char *p = msg + strlen("snapshot ");

	if (strncmp(msg, "snapshot ", strlen("snapshot ")) || !*p)
		return 0;
	for (*keep = 0; *p; p++) {
		if (*p < '0' || *p > '9' || *keep > (UINT64_MAX - (*p - '0')) / 10)
			return 0;
		*keep = *keep * 10 + (*p - '0');
	}
	return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	root = geteuid() == 0;
	lfd = control_listen(fuzz_dir());
	FUZZ_SETUP(lfd >= 0);
	FUZZ_SETUP(!control_addr(fuzz_dir(), &addr, &addr_len));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char msg[MSG_MAX], reply[128], want[128];
	struct asked asked = { 0 };
	uint64_t keep = 0;
	ssize_t n;
	int fd, valid, len;

	if (size > 4096)
		return 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	FUZZ_SETUP(fd >= 0);
	set_timeout(fd, 5);
	FUZZ_SETUP(!connect(fd, (struct sockaddr *)&addr, addr_len));
	FUZZ_SETUP(send(fd, data, size, MSG_NOSIGNAL) == (ssize_t)size);
	FUZZ_ASSERT(!control_serve(lfd, snapshot, &asked));
	n = recv(fd, reply, sizeof(reply) - 1, 0);
	close(fd);

	len = size < sizeof(msg) - 1 ? size : sizeof(msg) - 1;
	memcpy(msg, data, len);
	msg[len] = '\0';
	valid = reference(msg, &keep);
	/* trimming is root's: anyone else gets EPERM, whatever was asked */
	if (!root)
		valid = 0;
	FUZZ_ASSERT(asked.calls == valid && (!valid || asked.keep == keep));
	if (!size) {
		FUZZ_ASSERT(n == 0);
		return 0;
	}
	FUZZ_ASSERT(n > 0);
	reply[n] = '\0';
	if (valid)
		snprintf(want, sizeof(want), "%d %" PRIu64, keep % 2 ? -EBUSY : 0, keep / 3);
	else
		snprintf(want, sizeof(want), "%d 0", root ? -EINVAL : -EPERM);
	FUZZ_ASSERT(!strcmp(reply, want));
	return 0;
}
