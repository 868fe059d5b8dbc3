#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""One operation on the store, the helper's files or imasnap's BPF objects,
for test/bats/protect.bats: protect-ops.py OP ARGS... prints "ok" if the
operation went through, else the errno's name (one exec, exact errno)."""
import ctypes, errno, mmap, os, struct, sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF = 321
BPF_OBJ_GET, BPF_LINK_UPDATE, BPF_LINK_DETACH = 7, 29, 34
SYS_PROCESS_VM_WRITEV, SYS_PIDFD_GETFD = 311, 438
NEXT_ID = {'prog': 11, 'map': 12, 'link': 31}
FD_BY_ID = {'prog': 13, 'map': 14, 'link': 30}


def check(ret, what):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, what)
    return ret


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    return check(libc.syscall(SYS_BPF, cmd, buf, 128), 'bpf'), buf


def obj_get(path):
    name = ctypes.create_string_buffer(path.encode())
    return bpf(BPF_OBJ_GET, struct.pack('<QII', ctypes.addressof(name), 0, 0))[0]


def by_id(kind):
    """Tries to open every object of a kind by id: 'denied=N opened=M'"""
    denied = opened = 0
    nid = 0
    while True:
        try:
            _, buf = bpf(NEXT_ID[kind], struct.pack('<III', nid, 0, 0))
        except OSError:
            break
        nid = struct.unpack_from('<I', buf.raw, 4)[0]
        try:
            fd, _ = bpf(FD_BY_ID[kind], struct.pack('<III', nid, 0, 0))
            os.close(fd)
            opened += 1
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EACCES):
                raise
            denied += 1
    return 'denied=%d opened=%d' % (denied, opened)


def run(op, a):
    if op == 'append':
        os.write(os.open(a[0], os.O_WRONLY | os.O_APPEND), b'junk')
    elif op == 'overwrite':
        os.pwrite(os.open(a[0], os.O_WRONLY), b'\0' * 8, 0)
    elif op == 'open-trunc':
        os.open(a[0], os.O_WRONLY | os.O_TRUNC)
    elif op == 'open-rdonly-trunc':
        os.open(a[0], os.O_RDONLY | os.O_TRUNC)
    elif op == 'truncate':
        os.truncate(a[0], 0)
    elif op == 'fd-append':
        fd = int(a[0])
        os.pwrite(fd, b'junk', os.fstat(fd).st_size)
    elif op == 'fd-overwrite':
        os.pwrite(int(a[0]), b'\0' * 8, 0)
    elif op == 'fd-mmap-write':
        m = mmap.mmap(int(a[0]), 0, flags=mmap.MAP_SHARED,
                      prot=mmap.PROT_READ | mmap.PROT_WRITE)
        m[0:8] = b'\0' * 8
    elif op == 'fd-ftruncate':
        os.ftruncate(int(a[0]), 0)
    elif op == 'fd-punch-hole':
        # FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
        check(libc.fallocate(int(a[0]), 3, ctypes.c_long(0), ctypes.c_long(4096)),
              'fallocate')
    elif op == 'unlink':
        os.unlink(a[0])
    elif op == 'rmdir':
        os.rmdir(a[0])
    elif op == 'rename':
        os.rename(a[0], a[1])
    elif op == 'link':
        os.link(a[0], a[1])
    elif op == 'create':
        os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    elif op == 'symlink':
        os.symlink(a[0], a[1])
    elif op == 'chmod':
        os.chmod(a[0], int(a[1], 8))
    elif op == 'chown':
        os.chown(a[0], int(a[1]), int(a[2]))
    elif op == 'utime':
        os.utime(a[0], (0, 0))
    elif op == 'setxattr':
        os.setxattr(a[0], a[1], b'imasnap')
    elif op == 'removexattr':
        os.removexattr(a[0], a[1])
    elif op == 'bind-mount':
        # MS_BIND
        check(libc.mount(a[0].encode(), a[1].encode(), None, 4096, None), 'mount')
    elif op == 'umount':   # umount2(path, flags): 2 is MNT_DETACH (umount -l)
        check(libc.umount2(a[0].encode(), int(a[1])), 'umount')
    elif op == 'tmpfs-mount':
        check(libc.mount(b'none', a[0].encode(), b'tmpfs', 0, None), 'mount')
    elif op == 'write':
        fd = os.open(a[0], os.O_WRONLY)
        os.write(fd, a[1].encode())
    elif op == 'read':
        with open(a[0], 'rb') as f:
            return str(len(f.read()))
    elif op == 'by-id':
        return by_id(a[0])
    elif op == 'obj-get':
        os.close(obj_get(a[0]))
    elif op == 'detach-pin':
        fd = obj_get(a[0])
        bpf(BPF_LINK_DETACH, struct.pack('<I', fd))
    elif op == 'update-pin':
        # a new program from a descriptor that is not one: refused (EPERM)
        # before the kernel looks at it, or EINVAL from the kernel
        fd = obj_get(a[0])
        bpf(BPF_LINK_UPDATE, struct.pack('<IIII', fd, fd, 0, 0))
    elif op == 'proc-mem':
        os.open('/proc/%s/mem' % a[0], os.O_RDWR)
    elif op == 'vm-writev':
        # to address 16 of the loader: EFAULT if the access check let it by
        buf = ctypes.create_string_buffer(8)
        local = (ctypes.c_size_t * 2)(ctypes.addressof(buf), 8)
        remote = (ctypes.c_size_t * 2)(16, 8)
        check(libc.syscall(SYS_PROCESS_VM_WRITEV, int(a[0]), local, 1, remote, 1, 0),
              'process_vm_writev')
    elif op == 'pidfd-getfd':
        pidfd = os.pidfd_open(int(a[0]))
        os.close(check(libc.syscall(SYS_PIDFD_GETFD, pidfd, int(a[1]), 0), 'pidfd_getfd'))
    else:
        return 'unknown op ' + op
    return 'ok'


try:
    print(run(sys.argv[1], sys.argv[2:]))
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
