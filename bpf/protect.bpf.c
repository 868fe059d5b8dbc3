// SPDX-License-Identifier: GPL-2.0-only
/*
 * Protection of the store, of the helper's control files and of imasnap's own
 * BPF objects, for every task but the loader: root included.
 *
 * What is protected is a short table of inodes (the store directory, its
 * log, the pin directory, the loader's executable), keyed by device and
 * inode number so that it holds while nothing has them open. An entry of a
 * protected directory is protected as well: the loader replaces
 * loader.state by rename, so those inodes come and go.
 *
 * The loader is a task, marked in task storage: by itself (through a
 * pidfd) when it creates the protection, and by the bprm_committed_creds
 * hook when a later exec runs the recorded executable, untraced and without
 * LD_* variables in its environment. The mark dies with the task; a PID
 * number that is reused is never mistaken for it.
 *
 * Deny by default applies only to the protected objects: every hook first
 * decides whether the object is protected (a few loads and compares), and
 * only then looks at the task, so unrelated file work pays almost nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "protect.h"

char LICENSE[] SEC("license") = "GPL";

/* Not in BTF (macros) */
#define EPERM			1
#define FMODE_WRITE		0x2
#define MAY_WRITE		0x2
#define MAY_APPEND		0x8
#define MAP_SHARED		0x1
#define PTRACE_MODE_ATTACH	0x2
#define SECURITYFS_MAGIC	0x73636673
#define BPF_FS_MAGIC		0xcafe4a11

/* One table, replaced whole by the loader */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct protect_table);
} table SEC(".maps");

/* The loader's tasks: storage is freed with the task */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} loader_tasks SEC(".maps");

/*
 * Ids of imasnap's programs, maps and links that others may not open or
 * detach: this object's (about 20) and the capture programs' (4), with room
 * for a few stale capture ids between a crash and the next start.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct protect_id);
	__type(value, __u32);
} guarded_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct protect_stats);
} stats SEC(".maps");

/* The exec check reads argument and environment strings up to this size */
#define ENV_STRING_MAX		4096
#define ENV_STRINGS_MAX		1024

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[ENV_STRING_MAX]);
} env_buf SEC(".maps");

static __always_inline struct protect_stats *get_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline unsigned int inode_kind(const struct inode *inode)
{
	struct protect_table *t;
	__u32 zero = 0;
	__u64 ino;
	int i;

	if (!inode)
		return PROTECT_NONE;
	t = bpf_map_lookup_elem(&table, &zero);
	if (!t)
		return PROTECT_NONE;
	ino = inode->i_ino;
	for (i = 0; i < PROTECT_MAX_INODES; i++) {
		if (t->inode[i].ino != ino || !t->inode[i].kind)
			continue;
		if (t->inode[i].dev == inode->i_sb->s_dev)
			return t->inode[i].kind;
	}
	return PROTECT_NONE;
}

/* Protected itself, or an entry of a protected directory */
static __always_inline bool dentry_protected(const struct dentry *dentry)
{
	if (!dentry)
		return false;
	if (inode_kind(dentry->d_inode))
		return true;
	return inode_kind(dentry->d_parent->d_inode) == PROTECT_DIR;
}

static __always_inline bool task_is_loader(struct task_struct *task)
{
	return bpf_task_storage_get(&loader_tasks, task, 0, 0) != NULL;
}

/* The verdict on a protected object: the loader may, nobody else may */
static __always_inline int guard(bool protected)
{
	struct protect_stats *s;

	if (!protected || task_is_loader(bpf_get_current_task_btf()))
		return 0;
	s = get_stats();
	if (s)
		__sync_fetch_and_add(&s->denied, 1);
	return -EPERM;
}

static __always_inline bool name_is(const struct dentry *d, const char *want, __u32 len)
{
	char name[8] = {};
	__u32 i;

	if (d->d_name.len != len)
		return false;
	bpf_probe_read_kernel(name, len & 7, d->d_name.name);
	for (i = 0; i < 7 && i < len; i++)
		if (name[i] != want[i])
			return false;
	return true;
}

/*
 * The kernel helper's control files, securityfs imasnap/{trim,rebase,
 * persisted}: every file there (state is read-only anyway).
 */
static __always_inline bool is_helper_file(const struct file *file)
{
	const struct dentry *d = file->f_path.dentry;

	if (file->f_inode->i_sb->s_magic != SECURITYFS_MAGIC)
		return false;
	return name_is(d->d_parent, "imasnap", 7);
}

/* Opening for writing (O_TRUNC without write access is path_truncate's) */
SEC("lsm/file_open")
int BPF_PROG(guard_open, struct file *file)
{
	struct protect_stats *s;
	int ret;

	/* read-only opens, by far the most, stop here */
	if (!(file->f_mode & FMODE_WRITE))
		return 0;
	if (is_helper_file(file))
		return guard(true);
	if (!dentry_protected(file->f_path.dentry))
		return 0;
	ret = guard(true);
	/* the loader checks with one open that the table's identities work */
	s = get_stats();
	if (!ret && s)
		__sync_fetch_and_add(&s->loader_seen, 1);
	return ret;
}

/* Writes through a descriptor opened earlier; fallocate asks MAY_WRITE too */
SEC("lsm/file_permission")
int BPF_PROG(guard_write, struct file *file, int mask)
{
	if (!(mask & (MAY_WRITE | MAY_APPEND)))
		return 0;
	return guard(dentry_protected(file->f_path.dentry) || is_helper_file(file));
}

/* A shared mapping of a descriptor open for writing writes without write(2) */
SEC("lsm/mmap_file")
int BPF_PROG(guard_mmap, struct file *file, unsigned long reqprot,
	     unsigned long prot, unsigned long flags)
{
	if (!file || !(flags & MAP_SHARED) || !(file->f_mode & FMODE_WRITE))
		return 0;
	return guard(dentry_protected(file->f_path.dentry));
}

/* truncate(2), ftruncate(2) and O_TRUNC all come here on 6.1 */
SEC("lsm/path_truncate")
int BPF_PROG(guard_truncate, const struct path *path)
{
	return guard(dentry_protected(path->dentry));
}

SEC("lsm/inode_setattr")
int BPF_PROG(guard_setattr, struct dentry *dentry, struct iattr *attr)
{
	return guard(dentry_protected(dentry));
}

SEC("lsm/inode_setxattr")
int BPF_PROG(guard_setxattr, struct user_namespace *mnt_userns, struct dentry *dentry,
	     const char *name, const void *value, size_t size, int flags)
{
	return guard(dentry_protected(dentry));
}

SEC("lsm/inode_removexattr")
int BPF_PROG(guard_removexattr, struct user_namespace *mnt_userns, struct dentry *dentry,
	     const char *name)
{
	return guard(dentry_protected(dentry));
}

SEC("lsm/inode_unlink")
int BPF_PROG(guard_unlink, struct inode *dir, struct dentry *dentry)
{
	return guard(dentry_protected(dentry));
}

SEC("lsm/inode_rmdir")
int BPF_PROG(guard_rmdir, struct inode *dir, struct dentry *dentry)
{
	return guard(dentry_protected(dentry));
}

/* Either end: moving a protected entry away, or replacing one (new_dentry may be negative) */
SEC("lsm/inode_rename")
int BPF_PROG(guard_rename, struct inode *old_dir, struct dentry *old_dentry,
	     struct inode *new_dir, struct dentry *new_dentry)
{
	return guard(dentry_protected(old_dentry) || dentry_protected(new_dentry));
}

/* A new name for a protected file would be a way around the directory's protection */
SEC("lsm/inode_link")
int BPF_PROG(guard_link, struct dentry *old_dentry, struct inode *dir,
	     struct dentry *new_dentry)
{
	return guard(dentry_protected(old_dentry) || dentry_protected(new_dentry));
}

/* Nothing new in a protected directory (a planted loader.state.tmp, a symlink) */
SEC("lsm/inode_create")
int BPF_PROG(guard_create, struct inode *dir, struct dentry *dentry, umode_t mode)
{
	return guard(inode_kind(dir) == PROTECT_DIR);
}

SEC("lsm/inode_mkdir")
int BPF_PROG(guard_mkdir, struct inode *dir, struct dentry *dentry, umode_t mode)
{
	return guard(inode_kind(dir) == PROTECT_DIR);
}

SEC("lsm/inode_symlink")
int BPF_PROG(guard_symlink, struct inode *dir, struct dentry *dentry, const char *old_name)
{
	return guard(inode_kind(dir) == PROTECT_DIR);
}

SEC("lsm/inode_mknod")
int BPF_PROG(guard_mknod, struct inode *dir, struct dentry *dentry, umode_t mode, dev_t dev)
{
	return guard(inode_kind(dir) == PROTECT_DIR);
}

SEC("lsm/sb_mount")
int BPF_PROG(guard_mount, const char *dev_name, const struct path *path,
	     const char *type, unsigned long flags, void *data)
{
	return guard(dentry_protected(path->dentry));
}

/* A file system that holds a protected inode (by its device) */
static __always_inline bool sb_protected(const struct super_block *sb)
{
	struct protect_table *t;
	__u32 zero = 0;
	int i;

	t = bpf_map_lookup_elem(&table, &zero);
	if (!t)
		return false;
	for (i = 0; i < PROTECT_MAX_INODES; i++)
		if (t->inode[i].kind && t->inode[i].dev == sb->s_dev)
			return true;
	return false;
}

/*
 * Unmounting the bpffs that holds the pins: a lazy unmount (umount -l
 * /sys/fs/bpf) leaves the pins to die with the last reference to that file
 * system, and with them the protection, once the loader stops. Other file
 * systems (the store's) may go: shutdown unmounts them, and a store out of
 * reach changes no history.
 */
SEC("lsm/sb_umount")
int BPF_PROG(guard_umount, struct vfsmount *mnt, int flags)
{
	const struct super_block *sb = mnt->mnt_sb;

	return guard(sb->s_magic == BPF_FS_MAGIC && sb_protected(sb));
}

SEC("lsm/move_mount")
int BPF_PROG(guard_move_mount, const struct path *from_path, const struct path *to_path)
{
	return guard(dentry_protected(to_path->dentry));
}

/* ptrace, /proc/PID/mem, process_vm_writev and pidfd_getfd on the loader */
SEC("lsm/ptrace_access_check")
int BPF_PROG(guard_ptrace, struct task_struct *child, unsigned int mode)
{
	if (!(mode & PTRACE_MODE_ATTACH))
		return 0;
	return guard(task_is_loader(child));
}

/* true when no environment string starts with LD_ (ld.so would load code) */
static __always_inline bool env_clean(struct linux_binprm *bprm)
{
	unsigned long p = bprm->p;
	int strings = bprm->argc + bprm->envc;
	__u32 zero = 0;
	char *buf;
	long len;
	int i;

	buf = bpf_map_lookup_elem(&env_buf, &zero);
	if (!buf || strings > ENV_STRINGS_MAX)
		return false;
	/* argv's strings, then envp's, end to end from bprm->p */
	for (i = 0; i < ENV_STRINGS_MAX && i < strings; i++) {
		len = bpf_probe_read_user_str(buf, ENV_STRING_MAX, (const void *)p);
		if (len <= 0 || len >= ENV_STRING_MAX)
			return false;	/* unreadable or too long to skip: refuse */
		if (i >= bprm->argc && buf[0] == 'L' && buf[1] == 'D' && buf[2] == '_')
			return false;
		p += len;
	}
	return true;
}

/*
 * After exec has committed the new credentials (ptrace_attach is still
 * locked out): a task running the loader's executable becomes a loader; any
 * other exec ends a task's loader mark.
 */
SEC("lsm/bprm_committed_creds")
int BPF_PROG(mark_loader, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct protect_stats *s = get_stats();
	__u32 *mark;

	if (inode_kind(bprm->file->f_inode) != PROTECT_EXE) {
		bpf_task_storage_delete(&loader_tasks, task);
		return 0;
	}
	if (task->ptrace || !env_clean(bprm)) {
		bpf_task_storage_delete(&loader_tasks, task);
		if (s)
			__sync_fetch_and_add(&s->loaders_refused, 1);
		return 0;
	}
	mark = bpf_task_storage_get(&loader_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (mark)
		*mark = 1;
	if (mark && s)
		__sync_fetch_and_add(&s->loaders_marked, 1);
	return 0;
}

static __always_inline bool id_guarded(__u32 kind, __u32 id)
{
	struct protect_id key = { .kind = kind, .id = id };

	return id && bpf_map_lookup_elem(&guarded_ids, &key);
}

/*
 * The link behind a descriptor of the calling task, for LINK_DETACH and
 * LINK_UPDATE. A descriptor that is not a link yields some other number,
 * which at worst turns the kernel's EINVAL into EPERM.
 */
static __always_inline __u32 link_id_of_fd(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file *file = NULL, **fds;
	struct fdtable *fdt;
	struct bpf_link *link;

	fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return 0;
	link = BPF_CORE_READ(file, private_data);
	return link ? BPF_CORE_READ(link, id) : 0;
}

/* Opening by id, and detaching or replacing a link through a descriptor */
SEC("lsm/bpf")
int BPF_PROG(guard_bpf_cmd, int cmd, union bpf_attr *attr, unsigned int size)
{
	switch (cmd) {
	case BPF_PROG_GET_FD_BY_ID:
		return guard(id_guarded(PROTECT_ID_PROG, attr->prog_id));
	case BPF_MAP_GET_FD_BY_ID:
		return guard(id_guarded(PROTECT_ID_MAP, attr->map_id));
	case BPF_LINK_GET_FD_BY_ID:
		return guard(id_guarded(PROTECT_ID_LINK, attr->link_id));
	case BPF_LINK_DETACH:
		return guard(id_guarded(PROTECT_ID_LINK, link_id_of_fd(attr->link_detach.link_fd)));
	case BPF_LINK_UPDATE:
		return guard(id_guarded(PROTECT_ID_LINK, link_id_of_fd(attr->link_update.link_fd)));
	default:
		return 0;
	}
}

/* Every new descriptor for a map or program, whether by id or from a pin */
SEC("lsm/bpf_map")
int BPF_PROG(guard_bpf_map, struct bpf_map *map, fmode_t fmode)
{
	return guard(id_guarded(PROTECT_ID_MAP, map->id));
}

SEC("lsm/bpf_prog")
int BPF_PROG(guard_bpf_prog, struct bpf_prog *prog)
{
	return guard(id_guarded(PROTECT_ID_PROG, prog->aux->id));
}
