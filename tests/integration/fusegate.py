#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A FUSE file system whose fsyncs can hang: a disk that takes writes and
never finishes a sync, for the agent's spool (test_faults).

It passes every request through to a backing directory, speaking the
kernel's FUSE protocol on /dev/fuse itself (mounted with util-linux's
`mount -i`, no FUSE library needed). While the gate is closed (from the
start; SIGUSR2 opens it for good) an fsync or fdatasync of a file at
least HOLD bytes long gets no answer, as on a disk whose flushes never
complete; opening the gate does the held syncs and answers them.

Only big files (full spool segments) are held: the kernel's FUSE fsync
holds the file's inode lock until answered, which a real disk's fsync
does not, so holding the sync of the file the agent still appends to
would stall its appends for a reason no real disk has. Files are opened
FOPEN_NOFLUSH (close does not wait on that lock either) and FOPEN_DIRECT_IO
(every read and write is a request, no stale page cache).

usage: fusegate.py BACKING MOUNTPOINT STATEFILE HOLD
The state file (JSON) says how many syncs were held, are held now and
were done; written after each change."""

import errno
import json
import os
import signal
import stat
import struct
import subprocess
import sys

IN_HDR = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen pad
OUT_HDR = struct.Struct("<IiQ")
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
FOPEN_DIRECT_IO, FOPEN_NOFLUSH = 1 << 0, 1 << 5
FATTR_MODE, FATTR_UID, FATTR_GID, FATTR_SIZE, FATTR_FH = 1, 2, 4, 8, 64
(LOOKUP, FORGET, GETATTR, SETATTR, MKDIR, UNLINK, RMDIR, RENAME, OPEN, READ, WRITE, STATFS,
 RELEASE, FSYNC, FLUSH, INIT, OPENDIR, READDIR, RELEASEDIR, FSYNCDIR, ACCESS, CREATE,
 INTERRUPT, BATCH_FORGET, RENAME2) = (1, 2, 3, 4, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20, 25, 26,
                                     27, 28, 29, 30, 34, 35, 36, 42, 45)
NO_REPLY = (FORGET, BATCH_FORGET, INTERRUPT)
MAX_WRITE = 128 << 10


class Gate:
    def __init__(self, backing, state, hold):
        self.paths = {1: backing}  # nodeid -> backing path
        self.ids = {backing: 1}
        self.dirs = {}  # opendir handle -> listing
        self.next_id = 2
        self.state, self.hold = state, hold
        self.closed = True
        self.held = []  # (unique, fd, datasync)
        self.held_total = self.synced = 0
        self.fd = os.open("/dev/fuse", os.O_RDWR)

    def save(self):
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"held_total": self.held_total, "held": len(self.held),
                       "synced": self.synced, "closed": self.closed}, f)
        os.rename(tmp, self.state)

    def reply(self, unique, err=0, data=b""):
        try:
            os.write(self.fd, OUT_HDR.pack(OUT_HDR.size + len(data), -err, unique) + data)
        except OSError:
            pass  # the request was interrupted or the file system is gone

    def node(self, path):
        if path not in self.ids:
            self.ids[path] = self.next_id
            self.paths[self.next_id] = path
            self.next_id += 1
        return self.ids[path]

    @staticmethod
    def attr(st):
        return ATTR.pack(st.st_ino, st.st_size, st.st_blocks, int(st.st_atime),
                         int(st.st_mtime), int(st.st_ctime), 0, 0, 0, st.st_mode, st.st_nlink,
                         st.st_uid, st.st_gid, st.st_rdev, 4096, 0)

    def entry(self, path):
        st = os.lstat(path)
        # entry valid for 1 s (all changes come through here), attributes never cached
        return struct.pack("<QQQQII", self.node(path), 0, 1, 0, 0, 0) + self.attr(st)

    def open_gate(self, *_):
        self.closed = False
        for unique, fd, datasync in self.held:
            (os.fdatasync if datasync else os.fsync)(fd)
            self.synced += 1
            self.reply(unique)
        self.held = []
        self.save()

    def fsync(self, unique, fh, flags):
        if self.closed and os.fstat(fh).st_size >= self.hold:
            self.held.append((unique, fh, flags & 1))
            self.held_total += 1
            self.save()
            if not self.closed:  # SIGUSR2 came in between
                self.open_gate()
            return
        (os.fdatasync if flags & 1 else os.fsync)(fh)
        self.synced += 1
        self.save()
        self.reply(unique)

    def rename(self, old, new, flags):
        if flags & 1 and os.path.lexists(new):  # RENAME_NOREPLACE
            raise OSError(errno.EEXIST, "exists")
        os.rename(old, new)
        self.ids.pop(new, None)
        nid = self.ids.pop(old, None)
        if nid:
            self.ids[new] = nid
            self.paths[nid] = new

    def handle(self, op, unique, nodeid, body):
        path = self.paths.get(nodeid)

        def name(b):
            return os.path.join(path, b.split(b"\0")[0].decode())
        if op == INIT:
            major, minor = struct.unpack_from("<II", body)
            out = struct.pack("<IIIIHHIIHHI", 7, min(minor, 31), 0, 0, 16, 12, MAX_WRITE, 1,
                              0, 0, 0)
            return out + b"\0" * (64 - len(out))
        if op == LOOKUP:
            return self.entry(name(body))
        if op == GETATTR:
            flags, _, fh = struct.unpack_from("<IIQ", body)
            st = os.fstat(fh) if flags & 1 else os.lstat(path)
            return struct.pack("<QII", 0, 0, 0) + self.attr(st)
        if op == SETATTR:
            valid, _, fh, size = struct.unpack_from("<IIQQ", body)
            mode, _, uid, gid = struct.unpack_from("<IIII", body, 68)
            if valid & FATTR_SIZE:
                os.ftruncate(fh, size) if valid & FATTR_FH else os.truncate(path, size)
            if valid & FATTR_MODE:
                os.chmod(path, stat.S_IMODE(mode))
            if valid & (FATTR_UID | FATTR_GID):
                os.chown(path, uid if valid & FATTR_UID else -1, gid if valid & FATTR_GID else -1)
            return struct.pack("<QII", 0, 0, 0) + self.attr(os.lstat(path))
        if op == MKDIR:
            mode, umask = struct.unpack_from("<II", body)
            p = name(body[8:])
            os.mkdir(p, mode & ~umask & 0o7777)
            return self.entry(p)
        if op in (UNLINK, RMDIR):
            p = name(body)
            (os.unlink if op == UNLINK else os.rmdir)(p)
            self.paths.pop(self.ids.pop(p, 0), None)
            return b""
        if op in (RENAME, RENAME2):
            newdir, = struct.unpack_from("<Q", body)
            flags = struct.unpack_from("<I", body, 8)[0] if op == RENAME2 else 0
            old, new = body[16 if op == RENAME2 else 8:].split(b"\0")[:2]
            self.rename(name(old), os.path.join(self.paths[newdir], new.decode()), flags)
            return b""
        if op in (OPEN, CREATE):
            if op == OPEN:
                flags, = struct.unpack_from("<I", body)
                fh, p = os.open(path, flags & ~os.O_NOCTTY), None
            else:
                flags, mode, umask = struct.unpack_from("<III", body)
                p = name(body[16:])
                fh = os.open(p, flags & ~os.O_NOCTTY, mode & ~umask & 0o7777)
            out = struct.pack("<QIi", fh, FOPEN_DIRECT_IO | FOPEN_NOFLUSH, 0)
            return (self.entry(p) + out) if p else out
        if op == READ:
            fh, off, size = struct.unpack_from("<QQI", body)
            return os.pread(fh, size, off)
        if op == WRITE:
            fh, off, size = struct.unpack_from("<QQI", body)
            return struct.pack("<II", os.pwrite(fh, body[40:40 + size], off), 0)
        if op == STATFS:
            v = os.statvfs(self.paths[1])
            return struct.pack("<QQQQQIIII", v.f_blocks, v.f_bfree, v.f_bavail, v.f_files,
                               v.f_ffree, v.f_bsize, v.f_namemax, v.f_frsize, 0) + b"\0" * 24
        if op == RELEASE:
            os.close(struct.unpack_from("<Q", body)[0])
            return b""
        if op == FSYNC:
            fh, flags = struct.unpack_from("<QI", body)
            self.fsync(unique, fh, flags)
            return None
        if op in (FLUSH, FSYNCDIR, ACCESS):
            return b""
        if op == OPENDIR:
            h = self.next_id
            self.next_id += 1
            self.dirs[h] = [(".", stat.S_IFDIR), ("..", stat.S_IFDIR)] + [
                (e.name, stat.S_IFMT(e.stat(follow_symlinks=False).st_mode))
                for e in os.scandir(path)]
            return struct.pack("<QIi", h, 0, 0)
        if op == READDIR:
            h, off, size = struct.unpack_from("<QQI", body)
            out = b""
            for i, (n, t) in enumerate(self.dirs[h][off:], start=off):
                b = n.encode()
                ent = struct.pack("<QQII", 1, i + 1, len(b), t >> 12) + b
                ent += b"\0" * (-len(ent) % 8)
                if len(out) + len(ent) > size:
                    break
                out += ent
            return out
        if op == RELEASEDIR:
            self.dirs.pop(struct.unpack_from("<Q", body)[0], None)
            return b""
        raise OSError(errno.ENOSYS, "not implemented")

    def serve(self):
        while True:
            try:
                req = os.read(self.fd, MAX_WRITE + 65536)
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                    continue
                return  # ENODEV: unmounted
            _, op, unique, nodeid, *_ = IN_HDR.unpack_from(req)
            if op in NO_REPLY:
                continue
            try:
                out = self.handle(op, unique, nodeid, req[IN_HDR.size:])
                if out is not None:
                    self.reply(unique, 0, out)
            except OSError as e:
                self.reply(unique, e.errno or errno.EIO)


def main():
    backing, mnt, state, hold = sys.argv[1:5]
    g = Gate(os.path.abspath(backing), state, int(hold))
    signal.signal(signal.SIGUSR2, g.open_gate)
    g.save()
    subprocess.run(["mount", "-i", "-t", "fuse", "-o",
                    "fd=%d,rootmode=40000,user_id=0,group_id=0" % g.fd, "nhgate", mnt],
                   check=True, pass_fds=(g.fd,))
    g.serve()


if __name__ == "__main__":
    main()
