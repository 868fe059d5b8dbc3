// SPDX-License-Identifier: GPL-2.0-only
/*
 * Protection: creating, taking over and lifting the BPF LSM programs of
 * bpf/protect.bpf.c.
 *
 * The first loader with --protect loads the programs, fills their table
 * (store directory, log, pin directory, its own executable), marks itself
 * through a pidfd, attaches and pins every link and the maps others need.
 * From then on an exec of the same executable (same device and inode) is
 * marked as a loader by the programs themselves, so a restarted loader can
 * open the pinned maps that nobody else can, and takes over. The price: any
 * process that runs that executable is "the loader" (the executable cannot
 * be modified, renamed over or removed while protection is in force, and
 * exec refuses the mark to a traced task or one with LD_* variables).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "protect.h"
#include "../bpf/protect.h"
#include "protect.skel.h"

#define PIN_TABLE	PROTECT_PIN_PREFIX "table"
#define PIN_TASKS	PROTECT_PIN_PREFIX "loader_tasks"
#define PIN_IDS		PROTECT_PIN_PREFIX "guarded_ids"
#define PIN_STATS	PROTECT_PIN_PREFIX "stats"
#define PIN_LINK	PROTECT_PIN_PREFIX "link_"

void protect_init(struct protect *p)
{
	memset(p, 0, sizeof(*p));
	p->table_fd = p->ids_fd = p->tasks_fd = p->stats_fd = -1;
}

/* To the kernel log (an audit trail root cannot rewrite in place) and stderr */
static void __attribute__((format(printf, 1, 2))) log_event(const char *fmt, ...)
{
	char msg[512], record[600];
	va_list ap;
	int fd, len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "imasnap-load: %s\n", msg);
	/* one write(2) is one kernel log record (dprintf does not do that) */
	len = snprintf(record, sizeof(record), "<5>imasnap: %s\n", msg);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, record, len) != len)
		fprintf(stderr, "imasnap-load: cannot write to the kernel log: %s\n",
			strerror(errno));
	close(fd);
}

static int pin_path(char *buf, size_t size, const char *pin_dir, const char *name)
{
	if (snprintf(buf, size, "%s/%s", pin_dir, name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static int open_pin(const char *pin_dir, const char *name)
{
	char path[512];
	int fd;

	if (pin_path(path, sizeof(path), pin_dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

/*
 * The programs compare with the superblock's s_dev, which is in the kernel's
 * internal encoding (major << 20 | minor, MKDEV), not the st_dev that stat(2)
 * returns (glibc's makedev: major << 8 | minor, with the high bits elsewhere).
 * The two agree only for major 0 (tmpfs, 9p, other anonymous devices), so
 * without this a store on a disk (ext4 on /dev/vda, major 254) is unknown to
 * the programs and cannot be protected.
 */
static __u64 kernel_dev(dev_t dev)
{
	return ((__u64)major(dev) << 20) | minor(dev);
}

static int set_entry(struct protect_table *t, int slot, const struct stat *st,
		     unsigned int kind)
{
	if (slot >= PROTECT_MAX_INODES)
		return -E2BIG;
	t->inode[slot].dev = kernel_dev(st->st_dev);
	t->inode[slot].ino = st->st_ino;
	t->inode[slot].kind = kind;
	return 0;
}

static int fill_table(struct protect_table *t, const struct store *s, const char *pin_dir)
{
	struct stat dir, log, pins, exe;

	memset(t, 0, sizeof(*t));
	if (fstat(s->dirfd, &dir) || fstat(s->fd, &log) || stat(pin_dir, &pins) ||
	    stat("/proc/self/exe", &exe)) {
		fprintf(stderr, "protection: cannot stat the store, %s or /proc/self/exe: %s\n",
			pin_dir, strerror(errno));
		return -errno;
	}
	if (log.st_nlink != 1) {
		fprintf(stderr, "protection: %s/%s has %ju links; remove the others first\n",
			s->dir, STORE_LOG_NAME, (uintmax_t)log.st_nlink);
		return -EMLINK;
	}
	set_entry(t, 0, &dir, PROTECT_DIR);
	set_entry(t, 1, &log, PROTECT_FILE);
	set_entry(t, 2, &pins, PROTECT_DIR);
	return set_entry(t, 3, &exe, PROTECT_EXE);
}

/* The calling process, by a pidfd: the kernel keys task storage by it */
static int mark_self(int tasks_fd)
{
	__u32 mark = 1;
	int pidfd, err = 0;

	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return -errno;
	if (bpf_map_update_elem(tasks_fd, &pidfd, &mark, BPF_ANY))
		err = -errno;
	close(pidfd);
	return err;
}

static int obj_id(int fd, unsigned int kind, __u32 *id)
{
	struct bpf_prog_info prog = {};
	struct bpf_map_info map = {};
	struct bpf_link_info link = {};
	__u32 len;
	int err;

	switch (kind) {
	case PROTECT_ID_PROG:
		len = sizeof(prog);
		err = bpf_obj_get_info_by_fd(fd, &prog, &len);
		*id = prog.id;
		break;
	case PROTECT_ID_MAP:
		len = sizeof(map);
		err = bpf_obj_get_info_by_fd(fd, &map, &len);
		*id = map.id;
		break;
	default:
		len = sizeof(link);
		err = bpf_obj_get_info_by_fd(fd, &link, &len);
		*id = link.id;
		break;
	}
	return err ? -errno : 0;
}

static int guard_fd(struct protect *p, int fd, unsigned int kind, __u32 owner)
{
	struct protect_id key = { .kind = kind };
	int err;

	err = obj_id(fd, kind, &key.id);
	if (!err && bpf_map_update_elem(p->ids_fd, &key, &owner, BPF_ANY))
		err = -errno;
	if (err)
		fprintf(stderr, "protection: cannot guard BPF object (fd %d): %s\n", fd,
			strerror(-err));
	return err;
}

static int guard_object(struct protect *p, struct bpf_object *obj, __u32 owner)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int err = 0;

	bpf_object__for_each_program(prog, obj)
		if (!err && bpf_program__fd(prog) >= 0)
			err = guard_fd(p, bpf_program__fd(prog), PROTECT_ID_PROG, owner);
	bpf_object__for_each_map(map, obj)
		if (!err && bpf_map__fd(map) >= 0)
			err = guard_fd(p, bpf_map__fd(map), PROTECT_ID_MAP, owner);
	return err;
}

/* Reads the statistics map; zeroes on failure */
static struct protect_stats read_stats(const struct protect *p)
{
	struct protect_stats st = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(p->stats_fd, &zero, &st);
	return st;
}

/*
 * One write-mode open of the log (nothing is written): the programs count it
 * as a loader's only if they recognise both the log and this task, which
 * proves that the table's identities are the kernel's (st_dev is not the
 * superblock's device on every file system, e.g. btrfs subvolumes).
 */
static int self_check(const struct protect *p, const struct store *s)
{
	unsigned long long before = read_stats(p).loader_seen;
	int fd;

	fd = openat(s->dirfd, STORE_LOG_NAME, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		fprintf(stderr, "protection: the loader cannot open its own store for writing: %s\n",
			strerror(errno));
		return -errno;
	}
	close(fd);
	if (read_stats(p).loader_seen != before + 1) {
		fprintf(stderr, "protection: the BPF programs do not recognise %s/%s by its device and inode number (a file system whose st_dev is not its superblock's device, such as a btrfs subvolume?): the store cannot be protected there\n",
			s->dir, STORE_LOG_NAME);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Removes every protect_* pin: the links go with them (release, or a half-made start) */
static int remove_pins(const char *pin_dir, bool detach)
{
	char path[512];
	struct dirent *de;
	int err = 0, fd;
	DIR *d;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, PROTECT_PIN_PREFIX, strlen(PROTECT_PIN_PREFIX)) ||
		    pin_path(path, sizeof(path), pin_dir, de->d_name))
			continue;
		/*
		 * Detach at once where the kernel can (a descriptor someone got
		 * from the pin would keep the link alive); 6.1 cannot detach LSM
		 * links (EOPNOTSUPP): removing the pin drops them.
		 */
		if (detach && !strncmp(de->d_name, PIN_LINK, strlen(PIN_LINK))) {
			fd = bpf_obj_get(path);
			if (fd >= 0 && bpf_link_detach(fd) && errno != EOPNOTSUPP &&
			    errno != EINVAL) {
				err = -errno;
				fprintf(stderr, "cannot detach %s: %s\n", path, strerror(errno));
			}
			if (fd >= 0)
				close(fd);
		}
		if (unlink(path)) {
			err = -errno;
			fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
		}
	}
	closedir(d);
	return err;
}

static int open_pinned_maps(struct protect *p, const char *pin_dir)
{
	p->table_fd = open_pin(pin_dir, PIN_TABLE);
	if (p->table_fd < 0)
		return p->table_fd;
	p->tasks_fd = open_pin(pin_dir, PIN_TASKS);
	p->ids_fd = open_pin(pin_dir, PIN_IDS);
	p->stats_fd = open_pin(pin_dir, PIN_STATS);
	if (p->tasks_fd < 0)
		return p->tasks_fd;
	if (p->ids_fd < 0)
		return p->ids_fd;
	return p->stats_fd < 0 ? p->stats_fd : 0;
}

static void explain_not_loader(const char *pin_dir)
{
	fprintf(stderr, "protection is in force (%s/" PIN_TABLE ") but this process is not recognised as imasnap-load: it must be the same executable (device and inode) that created it, not traced, without LD_* variables. Run that executable, or lift the protection with it: imasnap-load --release-protection --store DIR\n",
		pin_dir);
}

static int read_table(const struct protect *p, struct protect_table *t)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(p->table_fd, &zero, t) ? -errno : 0;
}

static bool same_inode(const struct protect_inode *e, const struct stat *st)
{
	return e->dev == kernel_dev(st->st_dev) && e->ino == st->st_ino;
}

static int take_over(struct protect *p, const char *pin_dir, const struct store *s)
{
	struct protect_table t;
	struct stat dir, log;
	int err;

	err = open_pinned_maps(p, pin_dir);
	if (err == -EPERM || err == -EACCES) {
		explain_not_loader(pin_dir);
		return err;
	}
	if (err) {
		fprintf(stderr, "cannot open the protection's maps under %s: %s\n", pin_dir,
			strerror(-err));
		return err;
	}
	err = read_table(p, &t);
	if (err)
		return err;
	if (fstat(s->dirfd, &dir) || fstat(s->fd, &log))
		return -errno;
	if (t.inode[0].kind != PROTECT_DIR || !same_inode(&t.inode[0], &dir) ||
	    !same_inode(&t.inode[1], &log)) {
		fprintf(stderr, "protection is in force for another store (device %llu, inode %llu), not %s: lift it first (imasnap-load --release-protection --store THAT_DIR)\n",
			t.inode[0].dev, t.inode[0].ino, s->dir);
		return -EBUSY;
	}
	/* exec marked this task already; a pidfd mark as well is harmless */
	err = mark_self(p->tasks_fd);
	if (err) {
		fprintf(stderr, "protection: cannot mark the loader: %s\n", strerror(-err));
		return err;
	}
	err = self_check(p, s);
	if (!err)
		fprintf(stderr, "imasnap-load: took over the protection of store %s\n", s->dir);
	return err;
}

static int pin_maps(struct protect *p, const char *pin_dir)
{
	struct protect_bpf *skel = p->skel;
	struct { struct bpf_map *map; const char *name; } maps[] = {
		{ skel->maps.table, PIN_TABLE }, { skel->maps.loader_tasks, PIN_TASKS },
		{ skel->maps.guarded_ids, PIN_IDS }, { skel->maps.stats, PIN_STATS },
	};
	char path[512];
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++) {
		err = pin_path(path, sizeof(path), pin_dir, maps[i].name);
		if (!err)
			err = bpf_map__pin(maps[i].map, path);
	}
	if (err)
		fprintf(stderr, "protection: cannot pin under %s: %s\n", pin_dir, strerror(-err));
	return err;
}

/* bpf_link__prog is libbpf 1.2; a link attached here remembers its program */
struct attached {
	struct bpf_link *link;
	struct bpf_program *prog;
};

static int attach_all(struct protect *p, const char *pin_dir)
{
	struct attached att[64];
	struct bpf_program *prog;
	char path[512], name[128];
	size_t n = 0, i;
	int err = 0;

	bpf_object__for_each_program(prog, p->skel->obj) {
		if (n == sizeof(att) / sizeof(att[0]))
			return -E2BIG;
		att[n].prog = prog;
		att[n].link = bpf_program__attach(prog);
		if (!att[n].link) {
			err = -errno;
			fprintf(stderr, "protection: cannot attach %s: %s (is \"bpf\" in the kernel's lsm= list?)\n",
				bpf_program__name(prog), strerror(errno));
			break;
		}
		n++;
	}
	for (i = 0; i < n && !err; i++)
		err = guard_fd(p, bpf_link__fd(att[i].link), PROTECT_ID_LINK, PROTECT_OWNER_SELF);
	for (i = 0; i < n && !err; i++) {
		snprintf(name, sizeof(name), PIN_LINK "%s", bpf_program__name(att[i].prog));
		err = pin_path(path, sizeof(path), pin_dir, name);
		if (!err)
			err = bpf_link__pin(att[i].link, path);
		if (err)
			fprintf(stderr, "protection: cannot pin %s: %s\n", path, strerror(-err));
	}
	if (!err)
		err = pin_maps(p, pin_dir);
	/* the pins hold the links now; on failure, closing detaches them */
	for (i = 0; i < n; i++) {
		if (!err)
			bpf_link__disconnect(att[i].link);
		bpf_link__destroy(att[i].link);
	}
	return err;
}

static int create(struct protect *p, const char *pin_dir, const struct store *s)
{
	struct protect_table t;
	__u32 zero = 0;
	int err;

	/* a start that died half-way leaves pins without a table */
	remove_pins(pin_dir, true);
	err = fill_table(&t, s, pin_dir);
	if (err)
		return err;
	p->skel = protect_bpf__open_and_load();
	if (!p->skel) {
		err = -errno;
		fprintf(stderr, "protection: cannot load the BPF LSM programs: %s (needs CONFIG_BPF_LSM and \"bpf\" in lsm=; -v shows libbpf's log)\n",
			strerror(errno));
		return err;
	}
	p->table_fd = bpf_map__fd(p->skel->maps.table);
	p->tasks_fd = bpf_map__fd(p->skel->maps.loader_tasks);
	p->ids_fd = bpf_map__fd(p->skel->maps.guarded_ids);
	p->stats_fd = bpf_map__fd(p->skel->maps.stats);
	/* everything is in place before the first program is attached */
	if (bpf_map_update_elem(p->table_fd, &zero, &t, BPF_ANY))
		return -errno;
	err = mark_self(p->tasks_fd);
	if (!err)
		err = guard_object(p, p->skel->obj, PROTECT_OWNER_SELF);
	if (!err)
		err = attach_all(p, pin_dir);
	if (!err)
		err = self_check(p, s);
	if (err) {
		remove_pins(pin_dir, true);
		return err;
	}
	log_event("protection of store %s (device %llu, inode %llu) in force", s->dir,
		  t.inode[0].dev, t.inode[0].ino);
	return 0;
}

int protect_start(struct protect *p, const char *pin_dir, const struct store *s,
		  bool want)
{
	char path[512];
	int err;

	err = pin_path(path, sizeof(path), pin_dir, PIN_TABLE);
	if (err)
		return err;
	if (!access(path, F_OK))
		err = take_over(p, pin_dir, s);
	else if (want)
		err = create(p, pin_dir, s);
	if (err)
		protect_close(p);
	return err;
}

int protect_guard_capture(struct protect *p, struct bpf_object *obj, struct bpf_link *link)
{
	struct protect_id key, next, *prev = NULL;
	__u32 owner;
	int err;

	if (p->ids_fd < 0)
		return 0;
	/* the previous loader's capture objects are gone (their pins were replaced) */
	while (!bpf_map_get_next_key(p->ids_fd, prev, &next)) {
		key = next;
		if (!bpf_map_lookup_elem(p->ids_fd, &key, &owner) &&
		    owner == PROTECT_OWNER_CAPTURE) {
			bpf_map_delete_elem(p->ids_fd, &key);
			prev = NULL;	/* restart: the deleted key cannot lead on */
			continue;
		}
		prev = &key;
	}
	err = guard_object(p, obj, PROTECT_OWNER_CAPTURE);
	if (!err && link)
		err = guard_fd(p, bpf_link__fd(link), PROTECT_ID_LINK, PROTECT_OWNER_CAPTURE);
	return err;
}

void protect_close(struct protect *p)
{
	/* created here: the maps' descriptors are the skeleton's */
	if (p->skel) {
		protect_bpf__destroy(p->skel);
	} else {
		if (p->table_fd >= 0)
			close(p->table_fd);
		if (p->tasks_fd >= 0)
			close(p->tasks_fd);
		if (p->ids_fd >= 0)
			close(p->ids_fd);
		if (p->stats_fd >= 0)
			close(p->stats_fd);
	}
	protect_init(p);
}

int protect_release(const char *pin_dir, const char *store_dir)
{
	struct protect p;
	struct protect_table t;
	struct stat dir;
	int lock_fd, err;

	protect_init(&p);
	if (stat(store_dir, &dir)) {
		fprintf(stderr, "--release-protection: cannot stat store %s: %s\n", store_dir,
			strerror(errno));
		return -errno;
	}
	lock_fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0 && errno == ENOENT) {
		fprintf(stderr, "imasnap-load: no protection is in force (no %s)\n", pin_dir);
		return 0;
	}
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		fprintf(stderr, "--release-protection: %s\n", err == -EBUSY ?
			"imasnap-load is running: stop it first" : strerror(-err));
		goto out;
	}
	err = open_pinned_maps(&p, pin_dir);
	if (err == -ENOENT) {
		fprintf(stderr, "imasnap-load: no protection is in force (no %s/" PIN_TABLE ")\n",
			pin_dir);
		err = 0;
		goto out;
	}
	if (err == -EPERM || err == -EACCES)
		explain_not_loader(pin_dir);
	if (!err)
		err = read_table(&p, &t);
	if (err)
		goto out;
	if (!same_inode(&t.inode[0], &dir)) {
		fprintf(stderr, "--release-protection: the protection is of another store (device %llu, inode %llu), not %s; nothing changed\n",
			t.inode[0].dev, t.inode[0].ino, store_dir);
		err = -EINVAL;
		goto out;
	}
	log_event("protection of store %s (device %llu, inode %llu) lifted by uid %u (pid %d)",
		  store_dir, t.inode[0].dev, t.inode[0].ino, getuid(), getpid());
	err = remove_pins(pin_dir, true);
out:
	protect_close(&p);
	if (lock_fd >= 0)
		close(lock_fd);
	return err;
}
