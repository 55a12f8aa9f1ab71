// SPDX-License-Identifier: Apache-2.0
#include "decode.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static const size_t kind_size[NH_KIND_MAX] = {
    [NH_KIND_EXEC] = sizeof(struct nh_exec_event),
    [NH_KIND_FORK] = sizeof(struct nh_fork_event),
    [NH_KIND_EXIT] = sizeof(struct nh_exit_event),
    [NH_KIND_CONNECT] = sizeof(struct nh_connect_event),
    [NH_KIND_ACCEPT] = sizeof(struct nh_accept_event),
    [NH_KIND_OPEN] = sizeof(struct nh_open_event),
    [NH_KIND_SETUID] = sizeof(struct nh_cred_event),
    [NH_KIND_SETGID] = sizeof(struct nh_cred_event),
    [NH_KIND_CAPSET] = sizeof(struct nh_capset_event),
    [NH_KIND_SUMMARY] = sizeof(struct nh_summary_event),
    [NH_KIND_CGROUP_RMDIR] = sizeof(struct nh_cgroup_event),
    [NH_KIND_SEND] = sizeof(struct nh_send_event),
    [NH_KIND_UNIX_CONNECT] = sizeof(struct nh_unix_event),
    [NH_KIND_NAMESPACE] = sizeof(struct nh_op_event),
    [NH_KIND_PTRACE] = sizeof(struct nh_op_event),
    [NH_KIND_BPF] = sizeof(struct nh_op_event),
    [NH_KIND_MODULE] = sizeof(struct nh_op_event),
    [NH_KIND_IO_URING_CREATE] = sizeof(struct nh_ring_event),
    [NH_KIND_COMPAT_SYSCALL] = sizeof(struct nh_compat_event),
    [NH_KIND_FLOOD] = sizeof(struct nh_flood_event),
};

static const char *const kind_names[NH_KIND_ALL] = {
    [NH_KIND_NONE] = "none",
    [NH_KIND_EXEC] = "exec",
    [NH_KIND_FORK] = "fork",
    [NH_KIND_EXIT] = "exit",
    [NH_KIND_CONNECT] = "connect",
    [NH_KIND_ACCEPT] = "accept",
    [NH_KIND_OPEN] = "open",
    [NH_KIND_SETUID] = "setuid",
    [NH_KIND_SETGID] = "setgid",
    [NH_KIND_CAPSET] = "capset",
    [NH_KIND_SUMMARY] = "summary",
    [NH_KIND_CGROUP_RMDIR] = "cgroup_rmdir",
    [NH_KIND_SEND] = "send",
    [NH_KIND_UNIX_CONNECT] = "unix_connect",
    [NH_KIND_NAMESPACE] = "namespace",
    [NH_KIND_PTRACE] = "ptrace",
    [NH_KIND_BPF] = "bpf",
    [NH_KIND_MODULE] = "module",
    [NH_KIND_IO_URING_CREATE] = "io_uring_create",
    [NH_KIND_COMPAT_SYSCALL] = "compat_syscall",
    [NH_KIND_FLOOD] = "flood",
    [NH_KIND_MONITORING_GAP] = "monitoring_gap",
    [NH_KIND_LOSS] = "loss",
    [NH_KIND_CREDENTIAL_USE] = "credential_use",
    [NH_KIND_CREDENTIAL_REUSE] = "credential_reuse",
    [NH_KIND_SECRET_EXPOSURE] = "secret_exposure",
    [NH_KIND_HUMAN_USE] = "human_use",
    [NH_KIND_IDENTITY_CONFLICT] = "identity_conflict",
    [NH_KIND_ANOMALY] = "anomaly",
    [NH_KIND_MONITORING_TAMPERED] = "monitoring_tampered",
};

static const char *const syscall_names[NH_SYS_MAX] = {
    [NH_SYS_NONE] = "",
    [NH_SYS_OPEN] = "open",
    [NH_SYS_OPENAT] = "openat",
    [NH_SYS_OPENAT2] = "openat2",
    [NH_SYS_ACCEPT] = "accept",
    [NH_SYS_ACCEPT4] = "accept4",
    [NH_SYS_CONNECT] = "connect",
    [NH_SYS_SETUID] = "setuid",
    [NH_SYS_SETREUID] = "setreuid",
    [NH_SYS_SETRESUID] = "setresuid",
    [NH_SYS_SETGID] = "setgid",
    [NH_SYS_SETREGID] = "setregid",
    [NH_SYS_SETRESGID] = "setresgid",
    [NH_SYS_CAPSET] = "capset",
    [NH_SYS_SENDTO] = "sendto",
    [NH_SYS_SENDMSG] = "sendmsg",
    [NH_SYS_SENDMMSG] = "sendmmsg",
    [NH_SYS_CREAT] = "creat",
    [NH_SYS_OPEN_BY_HANDLE_AT] = "open_by_handle_at",
    [NH_SYS_SETFSUID] = "setfsuid",
    [NH_SYS_SETFSGID] = "setfsgid",
    [NH_SYS_SETGROUPS] = "setgroups",
    [NH_SYS_UNSHARE] = "unshare",
    [NH_SYS_SETNS] = "setns",
    [NH_SYS_MOUNT] = "mount",
    [NH_SYS_PIVOT_ROOT] = "pivot_root",
    [NH_SYS_PTRACE] = "ptrace",
    [NH_SYS_PROCESS_VM_WRITEV] = "process_vm_writev",
    [NH_SYS_BPF] = "bpf",
    [NH_SYS_INIT_MODULE] = "init_module",
    [NH_SYS_FINIT_MODULE] = "finit_module",
    [NH_SYS_SEND_ZC] = "send_zc",
    [NH_SYS_SENDMSG_ZC] = "sendmsg_zc",
    [NH_SYS_IO_URING_SETUP] = "io_uring_setup",
    [NH_SYS_EXECVE] = "execve",
    [NH_SYS_EXECVEAT] = "execveat",
    [NH_SYS_SOCKETCALL] = "socketcall",
};

int nh_decode(const void *data, size_t size, const struct nh_hdr **hdr)
{
	const struct nh_hdr *h = data;

	if (!data || size < sizeof(*h))
		return -EINVAL;
	if (h->kind == NH_KIND_NONE || h->kind >= NH_KIND_MAX || !kind_size[h->kind])
		return -EINVAL;
	if (h->kind == NH_KIND_EXEC) {
		const struct nh_exec_event *e = data;

		/* as long as its argv: the header, the path, args_len bytes */
		if (size < offsetof(struct nh_exec_event, args) || size > kind_size[h->kind])
			return -EBADMSG;
		if (e->path_len >= NH_PATH_MAX || e->args_len > NH_ARGS_MAX ||
		    offsetof(struct nh_exec_event, args) + e->args_len > size)
			return -EBADMSG;
	} else if (size != kind_size[h->kind]) {
		return -EBADMSG;
	} else if (h->kind == NH_KIND_OPEN) {
		const struct nh_open_event *e = data;

		if (e->path_len >= NH_PATH_MAX || e->syscall >= NH_SYS_MAX)
			return -EBADMSG;
	} else if (h->kind == NH_KIND_SUMMARY) {
		const struct nh_summary_event *e = data;

		if (e->key.kind == NH_KIND_NONE || e->key.kind >= NH_KIND_MAX ||
		    !kind_size[e->key.kind])
			return -EBADMSG;
	} else if (h->kind == NH_KIND_SETUID || h->kind == NH_KIND_SETGID) {
		const struct nh_cred_event *e = data;

		if (e->syscall >= NH_SYS_MAX)
			return -EBADMSG;
	} else if (h->kind == NH_KIND_ACCEPT) {
		const struct nh_accept_event *e = data;

		if (e->syscall >= NH_SYS_MAX)
			return -EBADMSG;
	} else if (h->kind == NH_KIND_SEND) {
		const struct nh_send_event *e = data;

		if (e->syscall >= NH_SYS_MAX)
			return -EBADMSG;
	} else if (h->kind == NH_KIND_UNIX_CONNECT) {
		const struct nh_unix_event *e = data;

		if (e->path_len > NH_UNIX_PATH_MAX)
			return -EBADMSG;
	} else if (h->kind >= NH_KIND_NAMESPACE && h->kind <= NH_KIND_MODULE) {
		const struct nh_op_event *e = data;

		if (e->syscall >= NH_SYS_MAX || e->path_len >= NH_PATH_MAX)
			return -EBADMSG;
	} else if (h->kind == NH_KIND_COMPAT_SYSCALL) {
		const struct nh_compat_event *e = data;

		if (e->syscall >= NH_SYS_MAX || e->path_len >= NH_PATH_MAX)
			return -EBADMSG;
	}
	*hdr = h;
	return 0;
}

const char *nh_kind_name(uint32_t kind)
{
	return nh_kind_named(kind) ? kind_names[kind] : "unknown";
}

bool nh_kind_named(uint32_t kind)
{
	return kind < NH_KIND_ALL && kind_names[kind];
}

const char *nh_kind_list(void)
{
	return "exec, fork, exit, connect, accept, open, setuid, setgid, capset, summary, "
	       "cgroup_rmdir, send, unix_connect, namespace, ptrace, bpf, module, io_uring_create, "
	       "cgroup_rmdir, send, unix_connect, namespace, ptrace, bpf, module, compat_syscall, "
	       "flood, "
	       "monitoring_gap, loss, credential_use, credential_reuse, secret_exposure, "
	       "human_use, "
	       "identity_conflict, anomaly, monitoring_tampered";
}

int nh_kind_parse(const char *name)
{
	for (int k = NH_KIND_NONE + 1; k < NH_KIND_ALL; k++)
		if (kind_names[k] && strcmp(name, kind_names[k]) == 0)
			return k;
	return -EINVAL;
}

const char *nh_syscall_name(uint32_t sys)
{
	return sys < NH_SYS_MAX && syscall_names[sys] ? syscall_names[sys] : "unknown";
}
