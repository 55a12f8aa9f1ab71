# SPDX-License-Identifier: Apache-2.0
"""The attacker's side of the evasion suite: one technique per call, run
inside a fabricated pod as `python3 act.py TECHNIQUE ARGS...`. Raw syscalls
through ctypes, so each technique is the syscall the issue names and not
what a library would pick instead. Prints what it did; the suite asserts
what the agent saw."""

import ctypes
import ctypes.util
import os
import socket
import struct
import sys

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

# x86_64 syscall numbers
SYS = {"sendmmsg": 307, "setns": 308, "process_vm_writev": 311, "bpf": 321,
       "pivot_root": 155, "open_by_handle_at": 304, "name_to_handle_at": 303,
       "creat": 85, "setfsuid": 122, "setfsgid": 123, "setgroups": 116, "unshare": 272,
       "mount": 165, "ptrace": 101, "finit_module": 313}
MSG_FASTOPEN = 0x20000000


def sys_(name, *args):
    # syscall(2) is variadic: a Python int would go as a 32-bit int and
    # leave the register's upper half undefined
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = libc.syscall(ctypes.c_long(SYS[name]), *args)
    return r if r >= 0 else -ctypes.get_errno()


class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_int),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]


def sockaddr_in(host, port):
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H4s8x", port, socket.inet_aton(host))


def main(argv):
    what, args = argv[1], argv[2:]
    if what == "udp-sendto":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", (args[0], int(args[1])))
    elif what == "udp-connected-send":
        # connected to one peer, then a sendto naming another: the
        # kernel routes that datagram to the address named
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((args[0], int(args[1])))
        s.send(b"x")
        if len(args) > 2:
            s.sendto(b"y", (args[0], int(args[2])))
    elif what == "udp-sendmsg":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendmsg([b"x"], [], 0, (args[0], int(args[1])))
    elif what == "udp-sendmmsg":
        # one call, one message per port: every destination must be seen
        host, ports = args[0], [int(p) for p in args[1:]]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        n = len(ports)
        names = [ctypes.create_string_buffer(sockaddr_in(host, p), 16) for p in ports]
        data = ctypes.create_string_buffer(b"x", 1)
        iovs = (iovec * n)(*[iovec(ctypes.cast(data, ctypes.c_void_p), 1) for _ in ports])
        vec = (mmsghdr * n)()
        for i in range(n):
            vec[i].hdr.name = ctypes.cast(names[i], ctypes.c_void_p)
            vec[i].hdr.namelen = 16
            vec[i].hdr.iov = ctypes.pointer(iovs[i])
            vec[i].hdr.iovlen = 1
        r = sys_("sendmmsg", s.fileno(), vec, n, 0)
        assert r == n, r
    elif what == "raw-icmp-sendto":
        # an echo request on a raw socket: no ports, routed as ICMP
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.sendto(struct.pack("!BBHHH", 8, 0, 0xf7fe, 1, 0), (args[0], 0))
    elif what == "tcp-fastopen":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.sendto(b"GET /", MSG_FASTOPEN, (args[0], int(args[1])))
    elif what == "unix-connect":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(args[0])
    elif what == "creat":
        fd = sys_("creat", args[0].encode(), 0o600)
        assert fd >= 0, fd
    elif what == "open-by-handle":
        # Shocker: a file reached through a handle, no path in the open
        handle = ctypes.create_string_buffer(8 + 128)
        struct.pack_into("I", handle, 0, 128)
        mount_id = ctypes.c_int()
        r = sys_("name_to_handle_at", -100, args[0].encode(), handle, ctypes.byref(mount_id), 0)
        assert r == 0, r
        mfd = os.open(os.path.dirname(args[0]), os.O_RDONLY)
        fd = sys_("open_by_handle_at", mfd, handle, os.O_RDONLY)
        assert fd >= 0, fd
    elif what == "setfsuid":
        sys_("setfsuid", int(args[0]))
    elif what == "setgroups":
        groups = (ctypes.c_uint * 1)(int(args[0]))
        assert sys_("setgroups", 1, groups) == 0
    elif what == "unshare":
        assert sys_("unshare", 0x04000000) == 0  # CLONE_NEWUTS
    elif what == "setns":
        # into its own namespace: allowed anywhere, and still the syscall
        fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
        assert sys_("setns", fd, 0x04000000) == 0
    elif what == "mount":
        assert sys_("unshare", 0x00020000) == 0  # its own mount namespace
        assert sys_("mount", b"none", args[0].encode(), b"tmpfs", 0, None) == 0
    elif what == "pivot-root":
        sys_("unshare", 0x00020000)
        print("pivot_root", sys_("pivot_root", args[0].encode(), args[0].encode()))
    elif what == "ptrace":
        pid = os.fork()
        if pid == 0:
            while True:
                os.pause() if hasattr(os, "pause") else None
        r = sys_("ptrace", 16, pid, 0, 0)  # PTRACE_ATTACH
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        print("ptrace", r, "target", pid)
    elif what == "process-vm-writev":
        buf = ctypes.create_string_buffer(b"old", 4)
        src = ctypes.create_string_buffer(b"new", 4)
        local = iovec(ctypes.cast(src, ctypes.c_void_p), 3)
        remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 3)
        r = sys_("process_vm_writev", os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote),
                 1, 0)
        assert r == 3 and buf.value == b"new", (r, buf.value)
    elif what == "bpf":
        attr = ctypes.create_string_buffer(128)  # a zero map_create: EINVAL, but asked
        print("bpf", sys_("bpf", 0, attr, 128))
    elif what == "finit-module":
        fd = os.open(args[0], os.O_RDONLY)
        print("finit_module", sys_("finit_module", fd, b"", 0))
    else:
        raise SystemExit("unknown technique " + what)
    print("done", what)


if __name__ == "__main__":
    main(sys.argv)
