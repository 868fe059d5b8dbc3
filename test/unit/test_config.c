// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tests of the loader's configuration file (user/config.c) and of the
 * service glue (user/service.c: the notify socket, journal level prefixes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "service.h"
#include "unit.h"

static const struct config defaults = CONFIG_DEFAULTS;

static char err[2048];

static int parse(const char *text, struct config *cfg)
{
	*cfg = defaults;
	err[0] = '\0';
	return config_parse(text, strlen(text), "test.conf", cfg, err, sizeof(err));
}

static void test_every_key(void)
{
	struct config cfg;

	CHECK_INT(parse("# a comment\n\n  store = /srv/ima  \n ring_size=8M\n"
			"snapshot_entries = 0\nsnapshot_bytes = 64K\nsnapshot_kmem = 256K\nprotect = yes\n"
			"tcti = swtpm:port=2321\r\nstore_group = keylime\n", &cfg), 0);
	CHECK_STR(cfg.store_dir, "/srv/ima");
	CHECK_INT(cfg.ring_size, 8 << 20);
	CHECK_INT(cfg.snapshot_entries, 0);
	CHECK_INT(cfg.snapshot_bytes, 64 << 10);
	CHECK_INT(cfg.snapshot_kmem, 256 << 10);
	CHECK(cfg.protect);
	CHECK_STR(cfg.tcti, "swtpm:port=2321");
	CHECK_STR(cfg.store_group, "keylime");
	CHECK_INT(cfg.set, CONFIG_SET_STORE | CONFIG_SET_RING_SIZE | CONFIG_SET_SNAPSHOT_ENTRIES |
		  CONFIG_SET_SNAPSHOT_BYTES | CONFIG_SET_PROTECT | CONFIG_SET_TCTI |
		  CONFIG_SET_STORE_GROUP | CONFIG_SET_SNAPSHOT_KMEM);
}

static void test_empty_keeps_defaults(void)
{
	struct config cfg;

	CHECK_INT(parse("", &cfg), 0);
	CHECK(!memcmp(&cfg, &defaults, sizeof(cfg)));
	CHECK_INT(parse("#store = /nowhere\n   \n\t# protect = yes", &cfg), 0);
	CHECK(!memcmp(&cfg, &defaults, sizeof(cfg)));
	CHECK_INT(parse("protect = off\n", &cfg), 0);
	CHECK(!cfg.protect && cfg.set == CONFIG_SET_PROTECT);
}

/* Each bad file: -EINVAL, the exact message (file:line), cfg unchanged */
static void test_errors(void)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "store = /a\nring_sz = 8M\n", "test.conf:2: unknown key 'ring_sz'" },
		{ "protect = yes\nprotect = no\n", "test.conf:2: protect: given twice" },
		{ "\n\nstore /a\n", "test.conf:3: expected 'key = value'" },
		{ "store =\n", "test.conf:1: store: no value" },
		{ " = 5\n", "test.conf:1: a value without a key" },
		{ "store = var/lib\n", "test.conf:1: store = var/lib: not an absolute path" },
		{ "ring_size = 5000\n", "test.conf:1: ring_size = 5000: not a power of two from 4096 to 1G" },
		{ "ring_size = 2G\n", "test.conf:1: ring_size = 2G: not a power of two from 4096 to 1G" },
		{ "snapshot_entries = -1\n", "test.conf:1: snapshot_entries = -1: not a number" },
		{ "snapshot_bytes = 4 M\n", "test.conf:1: snapshot_bytes = 4 M: not a number" },
		{ "snapshot_kmem = 1x\n", "test.conf:1: snapshot_kmem = 1x: not a number" },
		{ "protect = maybe\n", "test.conf:1: protect = maybe: not yes or no" },
		{ "tcti = /usr/lib/evil.so\n",
		  "test.conf:1: tcti = /usr/lib/evil.so: use device[:PATH], mssim[:CONF], swtpm[:CONF] or tabrmd[:CONF]" },
		{ "store_group = Wheel\n", "test.conf:1: store_group = Wheel: not a group name" },
		{ "store_group = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "test.conf:1: store_group = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: not a group name" },
		{ "store = /a # trailing\nprotect = yes # no\n", "test.conf:2: protect = yes # no: not yes or no" },
	};
	struct config cfg;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(parse(bad[i].text, &cfg), -EINVAL);
		CHECK_STR(err, bad[i].msg);
		CHECK(!memcmp(&cfg, &defaults, sizeof(cfg)));
	}
}

static void test_nul_and_long_line(void)
{
	char text[CONFIG_LINE_MAX + 40];
	struct config cfg = defaults;

	CHECK_INT(config_parse("store = /a\0b\n", 13, "f", &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "f:1: a NUL byte: not a text file");
	memset(text, '#', sizeof(text));
	memcpy(text, "store = /a\n", 11);
	text[sizeof(text) - 1] = '\0';
	CHECK_INT(parse(text, &cfg), -EINVAL);
	CHECK_STR(err, "test.conf:2: line longer than 1024 bytes");
	CHECK(!memcmp(&cfg, &defaults, sizeof(cfg)));
	/* exactly CONFIG_LINE_MAX bytes is a line */
	text[11 + CONFIG_LINE_MAX] = '\0';
	CHECK_INT(parse(text, &cfg), 0);
}

static void test_print_round_trip(void)
{
	struct config cfg, again;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	CHECK_INT(parse("store = /x\nring_size = 16K\nprotect = 1\nstore_group = adm\n", &cfg), 0);
	f = open_memstream(&out, &len);
	if (!CHECK(f))
		return;
	config_print(&cfg, "device:/dev/tpmrm0", f);
	fclose(f);
	CHECK_INT(parse(out, &again), 0);
	CHECK_STR(again.store_dir, "/x");
	CHECK_INT(again.ring_size, 16384);
	CHECK(again.protect);
	CHECK_STR(again.tcti, "device:/dev/tpmrm0");
	CHECK_STR(again.store_group, "adm");
	free(out);
}

static void test_load(void)
{
	char dir[] = "/tmp/imasnap-config-XXXXXX", path[64];
	struct config cfg = defaults;
	FILE *f;

	if (!CHECK(mkdtemp(dir)))
		return;
	snprintf(path, sizeof(path), "%s/imasnap.conf", dir);
	CHECK_INT(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "No such file"));
	f = fopen(path, "w");
	if (!CHECK(f))
		return;
	fprintf(f, "snapshot_entries = 7\n");
	fclose(f);
	CHECK_INT(config_load(path, &cfg, err, sizeof(err)), 0);
	CHECK_INT(cfg.snapshot_entries, 7);
	/* a file larger than any configuration: refused, not read in part */
	f = fopen(path, "w");
	if (!CHECK(f))
		return;
	for (int i = 0; i < CONFIG_MAX_SIZE / 8 + 1; i++)
		fputs("#######\n", f);
	fclose(f);
	cfg = defaults;
	CHECK_INT(config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	CHECK(!memcmp(&cfg, &defaults, sizeof(cfg)));
	unlink(path);
	rmdir(dir);
}

/* service_notify: one datagram to $NOTIFY_SOCKET, a path or an abstract name */
static void test_notify(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[64], name[64];
	int fd;
	ssize_t n;

	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(service_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(service_notify("READY=1"), -EINVAL);

	snprintf(name, sizeof(name), "@imasnap-test-notify-%d", getpid());
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	memcpy(sa.sun_path + 1, name + 1, strlen(name) - 1);
	if (!CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&sa,
				    offsetof(struct sockaddr_un, sun_path) + strlen(name))))
		return;
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK_INT(service_notify("READY=1\nSTATUS=ok"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK_INT(n, 17);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_STR(buf, "READY=1\nSTATUS=ok");
	close(fd);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/imasnap-test-notify-%d", getpid());
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (!CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa))))
		return;
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	CHECK_INT(service_notify("STOPPING=1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK_INT(n, 10);
	close(fd);
	unlink(sa.sun_path);
	unsetenv("NOTIFY_SOCKET");
}

/* say(): "<N>" only when stderr is the stream $JOURNAL_STREAM names */
static void say_to_file(const char *path, bool journal)
{
	struct stat st;
	char env[64];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || dup2(fd, 2) < 0 || fstat(2, &st))
		_exit(1);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + !journal);
	setenv("JOURNAL_STREAM", env, 1);
	say(LOG_WARNING, "x %d\n", 5);
	_exit(0);
}

static void test_say(void)
{
	char path[64], buf[32] = "";
	int status, journal;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/imasnap-test-say-%d", getpid());
	for (journal = 0; journal < 2; journal++) {
		if (!fork())
			say_to_file(path, journal);
		wait(&status);
		CHECK_INT(status, 0);
		f = fopen(path, "r");
		if (!CHECK(f && fgets(buf, sizeof(buf), f)))
			return;
		fclose(f);
		CHECK_STR(buf, journal ? "<4>x 5\n" : "x 5\n");
	}
	unlink(path);
}

int main(void)
{
	test_every_key();
	test_empty_keeps_defaults();
	test_errors();
	test_nul_and_long_line();
	test_print_round_trip();
	test_load();
	test_notify();
	test_say();
	UNIT_DONE();
}
