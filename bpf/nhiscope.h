/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/*
 * The one ABI between the kernel programs and user space: every event,
 * map key and map value that crosses the boundary is declared here, once.
 * Layouts are pinned with _Static_assert so a field added in the wrong
 * place breaks the build, not the decoder.
 */
#ifndef NHISCOPE_H
#define NHISCOPE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NH_COMM_LEN 16
#define NH_PATH_MAX 256 /* bounded copy; longer paths are flagged */
/* A path's dedup object is SipHash-1-3 of this many fixed words then the
 * path (one word less is one SipHash round less per repeat). */
#define NH_SIPHASH_WORDS 3
/* argv bytes copied for the secret scanner, NUL separated: copied in
 * NH_ARGS_CHUNK pieces up to the agent's bound (at most this); longer is
 * flagged. Exec records are as long as their argv, not this. */
#define NH_ARGS_MAX   32768
#define NH_ARGS_CHUNK 4096
#define NH_ARGS_SHOW  1024 /* argv bytes shown in events; more is flagged */
#define NH_ADDR_LEN   16

enum nh_kind {
	NH_KIND_NONE = 0,
	NH_KIND_EXEC,
	NH_KIND_FORK,
	NH_KIND_EXIT,
	NH_KIND_CONNECT,
	NH_KIND_ACCEPT,
	NH_KIND_OPEN,
	NH_KIND_SETUID, /* setuid, setreuid, setresuid */
	NH_KIND_SETGID, /* setgid, setregid, setresgid */
	NH_KIND_CAPSET,
	NH_KIND_SUMMARY,      /* dedup window closed: count of suppressed repeats */
	NH_KIND_CGROUP_RMDIR, /* lets the agent drop cached identities */
	/* 12..39: probe coverage */
	NH_KIND_SEND = 12,	   /* sendto/sendmsg/sendmmsg to an IP destination */
	NH_KIND_UNIX_CONNECT = 13, /* connect on an AF_UNIX socket: the peer's inode */
	NH_KIND_NAMESPACE = 14,	   /* unshare, setns, mount, pivot_root */
	NH_KIND_PTRACE = 15,	   /* ptrace, process_vm_writev */
	NH_KIND_BPF = 16,	   /* bpf() */
	NH_KIND_MODULE = 17,	   /* init_module, finit_module */
	/* 18..21: io_uring */
	NH_KIND_IO_URING_CREATE = 18, /* an identity's io_uring ring set up */
	/* issue 17b: 22..25 */
	NH_KIND_COMPAT_SYSCALL = 22, /* a compat (int $0x80) syscall: the opt-in compat monitor */
	/* 40..43: flood budget and the agent's lifecycle */
	NH_KIND_FLOOD = 40, /* an identity's events beyond its budget, and its losses */
	/* Made by the agent, never by BPF: numbered here so that one table
	 * names it with the kernel's kinds. */
	NH_KIND_MONITORING_GAP = 41,
	/* Explicit: kinds are reserved in ranges per change; tables must cope
	 * with unnamed kinds below it. */
	NH_KIND_MAX = 48,
};

/* nh_hdr.flags */
enum nh_flag {
	NH_F_PATH_TRUNC = 1u << 0,
	NH_F_ARGS_TRUNC = 1u << 1,
	NH_F_DEDUP = 1u << 2, /* first of a deduplicated series */
	/* exec: the process has a controlling terminal */
	NH_F_TTY = 1u << 3,
	/* exec: the process is in a pid namespace its parent is not in, and
	 * is not that namespace's init: something entered the namespace from
	 * outside (kubectl/docker exec, nsenter) rather than descending from
	 * the container's init */
	NH_F_NS_ENTERED = 1u << 4,
	/* open: the file opened is in the inode map (struct nh_inode_val):
	 * cred_id names it; bits 5..7 are issue 16's */
	NH_F_CRED_INODE = 1u << 5,
	/* ... through its volume directory (a rotated projected token) */
	NH_F_CRED_VOLUME = 1u << 6,
	/* issue 17: bits 8..15 */
	/* exec: the new image runs with an effective uid/gid other than the
	 * real one, or a non-root uid holds permitted capabilities (setuid,
	 * setgid or file-capability binary) */
	NH_F_PRIV_EXEC = 1u << 8,
	/* send/unix connect: the address was read from the caller's memory
	 * after the syscall, not from the kernel's socket: another thread
	 * could have changed it in between (see docs/coverage.md) */
	NH_F_USER_ADDR = 1u << 9,
	/* exec: the new image is a 32-bit (compat) process */
	NH_F_COMPAT32 = 1u << 10,
	/* bits 11..12: io_uring. The operation was an io_uring request, not
	 * a syscall (bpf/iouring.bpf.c) */
	NH_F_IO_URING = 1u << 11,
	/* io_uring: reported at submission, with no result: the request
	 * asked for no completion on success (IOSQE_CQE_SKIP_SUCCESS) */
	NH_F_URING_NO_CQE = 1u << 12,
};

/* Which syscall produced an event, for kinds shared by several. */
enum nh_syscall {
	NH_SYS_NONE = 0,
	NH_SYS_OPEN,
	NH_SYS_OPENAT,
	NH_SYS_OPENAT2,
	NH_SYS_ACCEPT,
	NH_SYS_ACCEPT4,
	NH_SYS_CONNECT,
	NH_SYS_SETUID,
	NH_SYS_SETREUID,
	NH_SYS_SETRESUID,
	NH_SYS_SETGID,
	NH_SYS_SETREGID,
	NH_SYS_SETRESGID,
	NH_SYS_CAPSET,
	/* issue 17: 20..59 */
	NH_SYS_SENDTO = 20,
	NH_SYS_SENDMSG = 21,
	NH_SYS_SENDMMSG = 22,
	NH_SYS_CREAT = 23,
	NH_SYS_OPEN_BY_HANDLE_AT = 24,
	NH_SYS_SETFSUID = 25,
	NH_SYS_SETFSGID = 26,
	NH_SYS_SETGROUPS = 27,
	NH_SYS_UNSHARE = 28,
	NH_SYS_SETNS = 29,
	NH_SYS_MOUNT = 30,
	NH_SYS_PIVOT_ROOT = 31,
	NH_SYS_PTRACE = 32,
	NH_SYS_PROCESS_VM_WRITEV = 33,
	NH_SYS_BPF = 34,
	NH_SYS_INIT_MODULE = 35,
	NH_SYS_FINIT_MODULE = 36,
	/* 40..47: io_uring operations with no syscall of their own */
	NH_SYS_SEND_ZC = 40,	/* IORING_OP_SEND_ZC */
	NH_SYS_SENDMSG_ZC = 41, /* IORING_OP_SENDMSG_ZC */
	NH_SYS_IO_URING_SETUP = 42,
	/* issue 17b: 48..55 (compat monitor: syscalls with no native hook) */
	NH_SYS_EXECVE = 48,
	NH_SYS_EXECVEAT = 49,
	NH_SYS_SOCKETCALL = 50,
	NH_SYS_MAX = 64, /* fixed: see NH_KIND_MAX */
};

/* Attribution carried by every event. */
struct nh_hdr {
	__u64 ts_ns;	 /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 cgroup_id; /* cgroup v2 id == inode of the cgroup directory */
	__u64 obj_hash;	 /* dedup object hash, 0 when not deduplicated */
	__u32 kind;	 /* enum nh_kind */
	__u32 flags;	 /* enum nh_flag */
	__u32 tgid;
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 mntns;
	char comm[NH_COMM_LEN];
};

struct nh_sockaddr {
	__u16 family;		/* AF_INET or AF_INET6 */
	__u16 port;		/* host byte order */
	__u8 addr[NH_ADDR_LEN]; /* IPv4 in the first 4 bytes */
};

struct nh_exec_event {
	struct nh_hdr h;
	__u16 path_len;	 /* bytes in path, without the NUL */
	__u16 args_len;	 /* bytes in args, NUL separated */
	__u32 ns_pid;	 /* pid in the process's own pid namespace */
	__u32 args_size; /* argv bytes the process has, copied or not */
	/* the credentials the new image runs with (NH_F_PRIV_EXEC) */
	__u32 euid;
	__u32 egid;
	__u32 pad;
	__u64 cap_effective;
	__u64 cap_permitted;
	char path[NH_PATH_MAX];
	char args[NH_ARGS_MAX]; /* only args_len bytes are sent */
};

struct nh_fork_event {
	struct nh_hdr h; /* the parent */
	__u32 child_tgid;
	__u32 child_pid;
};

struct nh_exit_event {
	struct nh_hdr h;
	__s32 exit_code; /* wait(2) status encoding */
	__u32 pad;
};

struct nh_connect_event {
	struct nh_hdr h;
	struct nh_sockaddr dst;
	__s32 fd;
	__s32 result; /* 0 or -errno; -EINPROGRESS for non-blocking */
	__u32 pad;
};

struct nh_accept_event {
	struct nh_hdr h;
	struct nh_sockaddr peer;
	__u16 local_port;
	__u16 syscall; /* enum nh_syscall */
	__s32 fd;      /* listening socket */
	__s32 result;  /* new fd or -errno */
};

struct nh_open_event {
	struct nh_hdr h;
	__s32 dirfd;
	__s32 result; /* fd or -errno */
	__u32 open_flags;
	__u32 mode;
	__u16 path_len;
	__u16 syscall;		/* enum nh_syscall */
	__u32 cred_id;		/* nh_inode_val.id when NH_F_CRED_INODE, else 0 */
	char path[NH_PATH_MAX]; /* 8-byte aligned: nh_path_copy */
};

/* sendto/sendmsg/sendmmsg: one event per distinct destination of the call
 * (every message of a sendmmsg). The destination is the socket's peer when
 * the call names none (a connected socket, a TCP Fast Open connect). */
struct nh_send_event {
	struct nh_hdr h;
	struct nh_sockaddr dst;
	__s32 fd;
	__s32 result;  /* bytes or messages sent, or -errno */
	__u16 syscall; /* enum nh_syscall */
	__u16 pad;
	__u32 msg_index; /* sendmmsg: which message named this destination */
};

#define NH_UNIX_PATH_MAX 108 /* sizeof(sun_path) */

/* connect on an AF_UNIX socket. When it succeeded, dev/ino and path are
 * the peer's: the socket file the server bound and its address as the
 * kernel keeps it, which the client cannot swap. Otherwise only the
 * caller's path (NH_F_USER_ADDR). An abstract name starts with a NUL. */
struct nh_unix_event {
	struct nh_hdr h;
	__u64 dev; /* kernel dev_t (MAJOR << 20 | MINOR), 0 unknown */
	__u64 ino;
	__s32 fd;
	__s32 result;
	__u16 path_len;
	__u16 sock_type; /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	__u32 pad;
	char path[NH_UNIX_PATH_MAX];
	__u32 pad2;
};

/* Namespace, ptrace, bpf and module operations: rare, each one reported
 * (deduplicated per identity, binary, operation, outcome and path). */
struct nh_op_event {
	struct nh_hdr h;
	__u16 syscall; /* enum nh_syscall */
	__u16 path_len;
	__u32 target_pid; /* ptrace, process_vm_writev */
	__s64 result;
	__u64 op;		/* unshare/clone flags, setns nstype, mount flags, ptrace request,
				 * bpf command, finit_module flags */
	__u64 arg;		/* setns/finit_module fd, bpf prog/map type when known */
	char path[NH_PATH_MAX]; /* mount target, pivot_root new root, module file */
};

/* io_uring_setup of a ring (deduplicated per identity, binary and
 * whether the kernel polls its submission queue: an SQPOLL ring's
 * requests are submitted by a kernel thread of the owner's process). */
struct nh_ring_event {
	struct nh_hdr h;
	__s32 fd;	   /* the ring's descriptor */
	__u32 setup_flags; /* IORING_SETUP_* */
	__u32 sq_entries;
	__u32 cq_entries;
};

/* The compat monitor (bpf/compat.bpf.c): a syscall a 64-bit kernel took
 * through its 32-bit entry (int $0x80, sysenter, or a 32-bit process's
 * syscall). Seen at entry, before the kernel acted: no outcome, and the
 * path and address are read from the caller's memory (NH_F_USER_ADDR).
 * h.flags always has NH_F_COMPAT32. */
struct nh_compat_event {
	struct nh_hdr h;
	__u16 syscall; /* enum nh_syscall: the native equivalent, NH_SYS_NONE if none */
	__u16 path_len;
	__u32 nr;		/* the ia32 syscall number */
	__u32 args[4];		/* ebx, ecx, edx, esi as passed */
	struct nh_sockaddr dst; /* connect, sendto (also through socketcall) */
	__u32 pad;
	char path[NH_PATH_MAX]; /* open, openat, creat, execve, execveat, ... */
};

/* setuid/setgid families: real, effective, saved ids before and after;
 * setfsuid/setfsgid: real, effective and file-system ids; setgroups:
 * real, effective gid and the number of groups. */
struct nh_cred_event {
	struct nh_hdr h;
	__u32 syscall; /* enum nh_syscall */
	__s32 result;
	__u32 old_ids[3];
	__u32 new_ids[3];
	__u32 args[3]; /* as passed; -1 means "unchanged" */
	__u32 pad;
};

struct nh_capset_event {
	struct nh_hdr h;
	__s32 result;
	__u32 pad;
	__u64 old_effective, old_permitted, old_inheritable;
	__u64 new_effective, new_permitted, new_inheritable;
};

/* In-kernel dedup map: what was already reported for which identity. */
struct nh_dedup_key {
	__u64 cgroup_id;
	__u64 obj_hash;
	__u32 uid;
	__u32 kind;
};

/* nh_dedup_val.flags */
enum nh_dedup_flag {
	/* Learned behaviour, set by the agent: never expires, so it is never
	 * reported in full again; repeats still reach summaries (exact rates). */
	NH_DEDUP_PINNED = 1u << 0,
};

struct nh_dedup_val {
	__u64 count;	    /* repeats suppressed since the last summary */
	__u64 window_start; /* ts of the first report or the last summary */
	__u32 last_tgid;
	__u32 last_pid;
	__u32 flags; /* enum nh_dedup_flag */
	__u32 pad;
	__u64 owner; /* identity cgroup whose quota the entry counts against */
};

/* Per identity in the dedup map (struct nh_dedup_val.owner): a workload
 * opening novel objects stops being remembered at its quota, so it can
 * neither fill the map nor make it evict another identity's entries. */
struct nh_dedup_owner {
	__u64 live;    /* entries held: hooks add, the flush deletes and recounts */
	__u64 refused; /* first reports not remembered: the identity was at its quota */
	__u64 evicted; /* its entries that went without a delete (the full map's LRU) */
	__u64 counted; /* the flush's recount in progress */
};

struct nh_summary_event {
	struct nh_hdr h; /* pid/tgid of the last repeat */
	struct nh_dedup_key key;
	__u64 count; /* repeats since window_start, up to h.ts_ns */
	__u64 window_start;
};

struct nh_cgroup_event {
	struct nh_hdr h; /* h.cgroup_id is the removed cgroup */
	__u32 hierarchy_id;
	__u32 pad;
};

/*
 * Files and sockets the agent watches, by what the kernel says they are:
 * (device, inode) of the opened file, device as the kernel's internal
 * dev_t of its superblock (i_sb->s_dev), never stat(2)'s st_dev (btrfs
 * subvolumes and overlayfs report another one). The agent learns each
 * key by opening the file (O_PATH) and reading it back through the same
 * BPF code as the open hook (nh_inode_learn), so both sides agree by
 * construction. Any hook that ends at an inode (open; an AF_UNIX
 * connect's socket file) looks it up the same way; kind says what the
 * entry is.
 */
struct nh_inode_key {
	__u64 ino; /* 0: the device marker (no inode is numbered 0) */
	__u32 dev;
	__u32 pad;
};

enum nh_inode_kind {
	NH_INODE_NONE = 0,
	NH_INODE_CRED_FILE,   /* a catalogued credential file */
	NH_INODE_CRED_VOLUME, /* a projected volume's directory: its token, whatever
			       * timestamped directory holds it now (name below) */
	NH_INODE_DEVICE,      /* ino 0: this device holds volume directories */
	NH_INODE_SOCKET,      /* reserved: a runtime socket's file (AF_UNIX connect) */
};

#define NH_INODE_NAME 16

/* A bit per (device, inode) hash, set for every key of the inode map (and
 * for no other, after each rescan): an open whose file's bit is clear
 * skips the map lookups. Shared by BPF and the agent. */
#define NH_CRED_FILTER_WORDS 1024 /* 65536 bits */

static inline __u32 nh_cred_filter_bit(__u64 ino, __u32 dev)
{
	return (__u32)(((ino ^ ((__u64)dev << 40)) * 0x9E3779B97F4A7C15ULL) >> 48);
}

struct nh_inode_val {
	__u32 id;   /* the agent's name for the entry, never 0 */
	__u32 kind; /* enum nh_inode_kind */
	/* CRED_VOLUME: the file name that is the credential ("token"),
	 * NUL padded; shorter than NH_INODE_NAME */
	char name[NH_INODE_NAME];
};

/* Per-CPU, per-kind counters (array map indexed by enum nh_kind). */
struct nh_counters {
	__u64 emitted;
	__u64 suppressed; /* repeats folded by dedup */
	__u64 lost;	  /* ring-buffer reservation failures */
	__u64 flooded;	  /* beyond the identity's budget: counted, not sent */
};

/* Flood isolation. The agent tells the kernel which cgroups are
 * identities (a pod, container or unit: the cgroup the kubelet, runtime
 * or systemd owns, never a leaf the workload may create): the identities
 * map sends a cgroup id to its identity's cgroup id. Each identity has an
 * event budget per window; beyond it, its events are counted per kind
 * instead of sent, and its ring-buffer losses are counted too. The flush
 * takes both counts into a flood record (exact: atomic exchanges). */
/* identities map value flag: this cgroup is an identity of its own (a
 * cgroup no pod, container or unit owns, e.g. a session scope) and only
 * for its own members, never for cgroups below it. */
#define NH_IDENTITY_LEAF_ONLY (1ULL << 63)

struct nh_budget {
	__u64 window_start;	 /* coarse clock; the budget window in progress */
	__u64 used;		 /* events sent or refused in that window */
	__u64 since;		 /* first count not yet reported, 0 for none */
	__u64 last;		 /* tgid << 32 | uid of the last event counted */
	__u64 over[NH_KIND_MAX]; /* beyond the budget, by kind */
	__u64 lost[NH_KIND_MAX]; /* within it but the ring was full, by kind */
};

struct nh_flood_event {
	struct nh_hdr h;     /* h.cgroup_id: the identity's cgroup */
	__u64 window_start;  /* first count of this report */
	__u64 budget;	     /* events per window */
	__u64 budget_window; /* ns */
	__u64 pad;
	__u64 over[NH_KIND_MAX];
	__u64 lost[NH_KIND_MAX];
};

_Static_assert(sizeof(struct nh_hdr) == 72, "nh_hdr layout");
_Static_assert(sizeof(struct nh_sockaddr) == 20, "nh_sockaddr layout");
_Static_assert(sizeof(struct nh_exec_event) == 72 + 40 + NH_PATH_MAX + NH_ARGS_MAX, "exec layout");
_Static_assert(NH_ARGS_MAX % NH_ARGS_CHUNK == 0 && (NH_ARGS_MAX & (NH_ARGS_MAX - 1)) == 0,
	       "argv chunks");
_Static_assert(sizeof(struct nh_fork_event) == 80, "fork layout");
_Static_assert(sizeof(struct nh_exit_event) == 80, "exit layout");
_Static_assert(sizeof(struct nh_connect_event) == 104, "connect layout");
_Static_assert(sizeof(struct nh_accept_event) == 104, "accept layout");
_Static_assert(sizeof(struct nh_open_event) == 96 + NH_PATH_MAX, "open layout");
_Static_assert(sizeof(struct nh_cred_event) == 120, "cred layout");
_Static_assert(sizeof(struct nh_send_event) == 112, "send layout");
_Static_assert(__builtin_offsetof(struct nh_open_event, path) % 8 == 0, "open path alignment");
_Static_assert(sizeof(struct nh_unix_event) == 104 + NH_UNIX_PATH_MAX + 4, "unix layout");
_Static_assert(sizeof(struct nh_op_event) == 104 + NH_PATH_MAX, "op layout");
_Static_assert(sizeof(struct nh_capset_event) == 128, "capset layout");
_Static_assert(sizeof(struct nh_ring_event) == 88, "ring layout");
_Static_assert(sizeof(struct nh_dedup_key) == 24, "dedup key layout");
_Static_assert(sizeof(struct nh_dedup_val) == 40, "dedup value layout");
_Static_assert(sizeof(struct nh_dedup_owner) == 32, "dedup owner layout");
_Static_assert(sizeof(struct nh_summary_event) == 112, "summary layout");
_Static_assert(sizeof(struct nh_cgroup_event) == 80, "cgroup layout");
_Static_assert(sizeof(struct nh_counters) == 32, "counters layout");
_Static_assert(sizeof(struct nh_budget) == 32 + 16 * NH_KIND_MAX, "budget layout");
_Static_assert(sizeof(struct nh_flood_event) == 104 + 16 * NH_KIND_MAX, "flood layout");
_Static_assert(sizeof(struct nh_inode_key) == 16, "inode key layout");
_Static_assert(sizeof(struct nh_inode_val) == 24, "inode value layout");

#endif /* NHISCOPE_H */
