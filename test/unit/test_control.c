// SPDX-License-Identifier: GPL-2.0-only
/*
 * The loader's control socket (user/control.c): its message parsers, both
 * ends' checks of the other (a non-root squatter on the name, a non-root
 * client) and a server that a silent client cannot hold up. Needs root
 * (children drop to uid 65534 to play the other users).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "unit.h"

#define NOBODY 65534

static char top[64];
static int snapshots;
static uint64_t last_keep;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int fake_snapshot(void *ctx, uint64_t keep, uint64_t *trimmed)
{
	snapshots++;
	last_keep = keep;
	*trimmed = 7;
	return 0;
}

static int source_fd = -1;

static int fake_source(void *ctx, struct control_source *src)
{
	struct stat st;

	if (fstat(source_fd, &st))
		return -errno;
	src->fd = source_fd;
	src->bytes = st.st_size;
	src->entries = 3;
	memset(&src->stats, 0, sizeof(src->stats));
	src->stats.drops = 11;
	src->stats.pid = 4242;
	return 0;
}

static void test_source_reply_parser(void)
{
	static const char *const bad[] = {
		"", "0 1 2", "0 1\n", "-0 1 2\n", "00 1 2\n", "1 1 2\n", "0 1 2 \n",
		" 0 1 2\n", "0 -1 2\n", "-4096 0 0\n",
	};
	struct control_source src;
	int result = 99;
	size_t i;

	CHECK_INT(control_parse_source_reply("0 10 2\ndrops: 5\npid: 9\n", 22, &result, &src), 0);
	CHECK_INT(result, 0);
	CHECK_INT(src.bytes, 10);
	CHECK_INT(src.entries, 2);
	CHECK_INT(src.stats.drops, 5);
	CHECK_INT(src.stats.pid, 9);
	CHECK_INT(control_parse_source_reply("-16 0 0\n", 8, &result, &src), 0);
	CHECK_INT(result, -16);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(control_parse_source_reply(bad[i], strlen(bad[i]), &result, &src), -EINVAL);
}

static void test_parsers(void)
{
	static const char *const bad_requests[] = {
		"", "snapshot", "snapshot ", "snapshot -1", "snapshot 1x", "Snapshot 1",
		"snapshot 99999999999999999999999", "snapshot 1 2", "trim 1",
	};
	static const char *const bad_replies[] = {
		"", "0", "0 ", "x 1", "-0 1", "00 1", "1 1", "-4096 0", "0 -1", "0 1 ",
		"-5 1x", " 0 1", "--5 1",
	};
	uint64_t keep, trimmed;
	int result;
	size_t i;

	CHECK_INT(control_parse_request("snapshot 0", 10, &keep), 0);
	CHECK_INT(keep, 0);
	CHECK_INT(control_parse_request("snapshot 12345", 14, &keep), 0);
	CHECK_INT(keep, 12345);
	/* a NUL inside the message, or a message as long as the buffer */
	CHECK_INT(control_parse_request("snapshot 1\0002", 12, &keep), -EINVAL);
	CHECK_INT(control_parse_request("snapshot 1111111111111111111111111111111111111111111111111111111111", 66, &keep),
		  -EINVAL);
	for (i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++)
		CHECK_INT(control_parse_request(bad_requests[i], strlen(bad_requests[i]), &keep),
			  -EINVAL);
	CHECK_INT(control_parse_reply("0 42", 4, &result, &trimmed), 0);
	CHECK_INT(result, 0);
	CHECK_INT(trimmed, 42);
	CHECK_INT(control_parse_reply("-16 0", 5, &result, &trimmed), 0);
	CHECK_INT(result, -EBUSY);
	for (i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++)
		CHECK_INT(control_parse_reply(bad_replies[i], strlen(bad_replies[i]), &result,
					      &trimmed), -EINVAL);
}

/* a child that binds the store's name as nobody and answers like a loader */
static pid_t squat(const char *dir, int ready)
{
	struct control ctl;
	pid_t pid = fork();
	int epfd, fd;

	if (pid)
		return pid;
	epfd = epoll_create1(0);
	if (setgid(NOBODY) || setuid(NOBODY) || control_listen(&ctl, dir, epfd))
		_exit(2);
	if (write(ready, "x", 1) != 1)
		_exit(2);
	fd = accept(ctl.listen_fd, NULL, NULL);
	/* blocking here is fine: it is the impostor */
	if (fd >= 0)
		send(fd, "0 5", 3, MSG_NOSIGNAL);
	sleep(1);
	_exit(0);
}

static void test_client_refuses_a_socket_not_roots(void)
{
	char dir[128], c;
	uint64_t trimmed = 0;
	int pipefd[2], result = 99, status;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/squatted", top);
	mkdir(dir, 0755);
	if (pipe(pipefd))
		exit(2);
	pid = squat(dir, pipefd[1]);
	CHECK_INT(read(pipefd[0], &c, 1), 1);
	CHECK_INT(control_snapshot(dir, 0, &result, &trimmed), -EPERM);
	CHECK_INT(result, 99);
	CHECK_INT(trimmed, 0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* connects to dir's control socket (as uid, if not root) and sends msg (NULL: nothing) */
static pid_t client(const char *dir, uid_t uid, const char *msg, int hold_s, int ready)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char reply[64] = "";
	pid_t pid = fork();
	int fd, n;

	if (pid)
		return pid;
	if (uid && (setgid(uid) || setuid(uid)))
		_exit(2);
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "imasnap-load:%s", dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sa_family_t) + 1 + n))
		_exit(3);
	if (write(ready, "x", 1) != 1)
		_exit(2);
	if (msg) {
		/* a refused client may find the socket closed already: its reply is queued */
		send(fd, msg, strlen(msg), MSG_NOSIGNAL);
		n = recv(fd, reply, sizeof(reply) - 1, 0);
		/* refused: told EPERM, or reset when the request came before the close */
		if (n < 0 && errno == ECONNRESET)
			_exit(10);
		_exit(n > 0 && !strncmp(reply, "0 7", 3) ? 0 : !strncmp(reply, "-1 0", 4) ? 10 : 5);
	}
	sleep(hold_s);
	_exit(0);
}

/* serves whatever epoll says for up to ms; returns how long the longest call took */
static uint64_t serve_for(struct control *ctl, int epfd, int ms)
{
	struct epoll_event ev[4];
	uint64_t end = now_ms() + ms, t, longest = 0;
	int i, n;

	while (now_ms() < end) {
		n = epoll_wait(epfd, ev, 4, 10);
		for (i = 0; i < n; i++) {
			t = now_ms();
			CHECK(control_handle(ctl, ev[i].data.fd, t, fake_snapshot, NULL));
			if (now_ms() - t > longest)
				longest = now_ms() - t;
		}
		control_expire(ctl, now_ms());
	}
	return longest;
}

static void test_server(void)
{
	struct control ctl;
	char dir[128], real[256], c;
	int epfd = epoll_create1(0), pipefd[2], status, i, used;
	pid_t silent, root, nobody;

	snprintf(dir, sizeof(dir), "%s/served", top);
	mkdir(dir, 0755);
	if (!realpath(dir, real) || pipe(pipefd))
		exit(2);
	CHECK_INT(control_listen(&ctl, dir, epfd), 0);
	/* a client that connects and says nothing for 3 s */
	silent = client(real, 0, NULL, 3, pipefd[1]);
	CHECK_INT(read(pipefd[0], &c, 1), 1);
	CHECK(serve_for(&ctl, epfd, 200) < 50);
	for (used = 0, i = 0; i < CONTROL_MAX_CLIENTS; i++)
		used += ctl.client[i].fd >= 0;
	CHECK_INT(used, 1);
	/* meanwhile a root client is answered, a nobody one refused unheard */
	root = client(real, 0, "snapshot 3", 0, pipefd[1]);
	nobody = client(real, NOBODY, "snapshot 1", 0, pipefd[1]);
	CHECK_INT(read(pipefd[0], &c, 1), 1);
	CHECK_INT(read(pipefd[0], &c, 1), 1);
	CHECK(serve_for(&ctl, epfd, 300) < 50);
	CHECK_INT(waitpid(root, &status, 0), root);
	CHECK_INT(WEXITSTATUS(status), 0);
	CHECK_INT(waitpid(nobody, &status, 0), nobody);
	CHECK_INT(status, 10 << 8);
	CHECK_INT(snapshots, 1);
	CHECK_INT(last_keep, 3);
	/* the silent one is dropped after CONTROL_CLIENT_MS */
	serve_for(&ctl, epfd, CONTROL_CLIENT_MS);
	for (used = 0, i = 0; i < CONTROL_MAX_CLIENTS; i++)
		used += ctl.client[i].fd >= 0;
	CHECK_INT(used, 0);
	kill(silent, SIGKILL);
	waitpid(silent, &status, 0);
	control_close(&ctl);
	close(epfd);
}

/* a root client that asks for the store (data) or the status and checks it */
static pid_t store_client(const char *dir, bool data, bool take, const uint8_t *want,
			  size_t len)
{
	struct control_source src;
	uint8_t *got;
	size_t have = 0;
	ssize_t n;
	int result;
	pid_t pid = fork();

	if (pid)
		return pid;
	if (control_read_store(dir, data, &src, &result) || result)
		_exit(3);
	if (src.bytes != len || src.entries != 3 || src.stats.drops != 11 ||
	    src.stats.pid != 4242 || (src.fd >= 0) != data)
		_exit(4);
	if (!data || !take)
		_exit(0);	/* a reader that goes without reading */
	got = malloc(len + 1);
	while (got && (n = read(src.fd, got + have, len + 1 - have)) > 0)
		have += n;
	_exit(got && have == len && !memcmp(got, want, len) ? 0 : 5);
}

/*
 * status and read: the store's bytes through a pipe, far more than the
 * pipe holds, while the server stays responsive; a reader that leaves
 * early costs the server nothing (no SIGPIPE death, the stream freed)
 */
static void test_store_stream(void)
{
	enum { LEN = 5 << 20 };
	struct control ctl;
	char dir[128], real[256], path[160];
	uint8_t *data = malloc(LEN);
	int epfd = epoll_create1(0), status, i, used;
	pid_t reader, quitter, asker;
	size_t j;

	snprintf(dir, sizeof(dir), "%s/streamed", top);
	snprintf(path, sizeof(path), "%s/log", top);
	mkdir(dir, 0755);
	if (!data || !realpath(dir, real))
		exit(2);
	for (j = 0; j < LEN; j++)
		data[j] = (uint8_t)(j * 7 + j / 4096);
	source_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_INT(write(source_fd, data, LEN), LEN);
	CHECK_INT(control_listen(&ctl, dir, epfd), 0);
	ctl.source = fake_source;
	signal(SIGPIPE, SIG_IGN);	/* as the loader does */
	reader = store_client(real, true, true, data, LEN);
	quitter = store_client(real, true, false, data, LEN);
	asker = store_client(real, false, false, data, LEN);
	for (i = 0; i < 3; i++)
		CHECK(serve_for(&ctl, epfd, 500) < 100);
	while (!waitpid(reader, &status, WNOHANG))
		serve_for(&ctl, epfd, 100);
	CHECK_INT(WEXITSTATUS(status), 0);
	CHECK_INT(waitpid(quitter, &status, 0), quitter);
	CHECK_INT(WEXITSTATUS(status), 0);
	CHECK_INT(waitpid(asker, &status, 0), asker);
	CHECK_INT(WEXITSTATUS(status), 0);
	serve_for(&ctl, epfd, 100);
	for (used = 0, i = 0; i < CONTROL_MAX_STREAMS; i++)
		used += ctl.stream[i].fd >= 0;
	CHECK_INT(used, 0);
	control_close(&ctl);
	close(source_fd);
	close(epfd);
	free(data);
}

/*
 * A loader that does not answer (SIGSTOPped, say): status and read give up
 * after a few seconds with -EAGAIN, and the caller reads the file; they
 * must not wait as long as a snapshot may (capture.bats hung 600 s on it).
 */
static void test_query_of_a_silent_loader(void)
{
	char dir[128], real[4096];
	struct control_source src;
	struct control ctl;
	int epfd = epoll_create1(0), result = 0;
	uint64_t start;

	snprintf(dir, sizeof(dir), "%s/silent", top);
	mkdir(dir, 0755);
	if (epfd < 0 || !realpath(dir, real))
		exit(2);
	CHECK_INT(control_listen(&ctl, real, epfd), 0);
	/* nobody serves ctl: the request waits in the socket's queue */
	start = now_ms();
	CHECK_INT(control_read_store(real, false, &src, &result), -EAGAIN);
	CHECK(now_ms() - start < 30 * 1000);
	CHECK_INT(src.fd, -1);
	control_close(&ctl);
	close(epfd);
}

int main(void)
{
	if (unit_tmpdir(top, sizeof(top)) || chmod(top, 0755))
		return 2;
	test_parsers();
	test_source_reply_parser();
	if (geteuid() == 0) {
		test_client_refuses_a_socket_not_roots();
		test_query_of_a_silent_loader();
		test_server();
		test_store_stream();
	} else {
		printf("not root: the socket tests need root (they play other users)\n");
	}
	if (unit_rmtree(top))
		return 2;
	UNIT_DONE();
}
