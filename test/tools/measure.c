// SPDX-License-Identifier: GPL-2.0-only
/*
 * measure: a measurement load generator for tests and benchmarks.
 *
 *   measure [-w WRITERS] [-n FILES] [-s BYTES] DIR
 *
 * Creates FILES distinct files in DIR (a tmpfs the IMA policy measures),
 * then WRITERS processes each open and read their share, so that IMA
 * measures every file once. Prints the seconds the reads took. Creating the
 * files is not timed; one process does the reads of each share (an exec
 * per file would cost far more than the measurement under emulation).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int parse_count(const char *arg, long *val)
{
	char *end;

	errno = 0;
	*val = strtol(arg, &end, 10);
	return errno || end == arg || *end || *val <= 0 ? -1 : 0;
}

static int create_files(const char *dir, long files, long size)
{
	char path[4096], *data;
	long i;
	int fd;

	data = malloc(size);
	if (!data)
		return -1;
	for (i = 0; i < files; i++) {
		/* distinct content: IMA would not log a second identical digest */
		memset(data, 'a' + i % 26, size);
		snprintf(data, size, "%ld %d\n", i, getpid());
		snprintf(path, sizeof(path), "%s/f%ld", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, data, size) != size || close(fd)) {
			perror(path);
			free(data);
			return -1;
		}
	}
	free(data);
	return 0;
}

static int read_share(const char *dir, long first, long files, long step)
{
	char path[4096], buf[4096];
	long i;
	int fd;

	for (i = first; i < files; i += step) {
		snprintf(path, sizeof(path), "%s/f%ld", dir, i);
		fd = open(path, O_RDONLY);
		if (fd < 0 || read(fd, buf, sizeof(buf)) < 0) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long writers = 4, files = 1000, size = 64, w;
	struct timespec t0, t1;
	int c, status, failed = 0;

	while ((c = getopt(argc, argv, "w:n:s:")) != -1) {
		if ((c == 'w' && !parse_count(optarg, &writers)) ||
		    (c == 'n' && !parse_count(optarg, &files)) ||
		    (c == 's' && !parse_count(optarg, &size)))
			continue;
		fprintf(stderr, "usage: measure [-w WRITERS] [-n FILES] [-s BYTES] DIR\n");
		return 2;
	}
	if (optind != argc - 1 || size < 32) {
		fprintf(stderr, "usage: measure [-w WRITERS] [-n FILES] [-s BYTES >= 32] DIR\n");
		return 2;
	}
	if (mkdir(argv[optind], 0755) && errno != EEXIST) {
		perror(argv[optind]);
		return 1;
	}
	if (create_files(argv[optind], files, size))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (w = 0; w < writers; w++)
		if (fork() == 0)
			_exit(read_share(argv[optind], w, files, writers));
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return failed;
}
