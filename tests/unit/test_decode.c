/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/decode.c: every record kind at its exact size, and
 * every way a record can be short, long, of an unknown kind or carry an
 * out-of-range length or enum.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "decode.h"
#include "nhiscope.h"

/* Large enough for the biggest record plus slack, aligned like a ring buffer record. */
static union {
	struct nh_hdr h;
	struct nh_exec_event exec;
	struct nh_fork_event fork;
	struct nh_exit_event exit;
	struct nh_connect_event connect;
	struct nh_accept_event accept;
	struct nh_open_event open;
	struct nh_cred_event cred;
	struct nh_capset_event capset;
	struct nh_summary_event summary;
	struct nh_cgroup_event cgroup;
	struct nh_flood_event flood;
	unsigned char bytes[sizeof(struct nh_exec_event) + 64];
} rec;

static const struct nh_hdr sentinel;

static size_t size_of_kind(uint32_t kind)
{
	switch (kind) {
	case NH_KIND_EXEC:
		return sizeof(struct nh_exec_event);
	case NH_KIND_FORK:
		return sizeof(struct nh_fork_event);
	case NH_KIND_EXIT:
		return sizeof(struct nh_exit_event);
	case NH_KIND_CONNECT:
		return sizeof(struct nh_connect_event);
	case NH_KIND_ACCEPT:
		return sizeof(struct nh_accept_event);
	case NH_KIND_OPEN:
		return sizeof(struct nh_open_event);
	case NH_KIND_SETUID:
	case NH_KIND_SETGID:
		return sizeof(struct nh_cred_event);
	case NH_KIND_CAPSET:
		return sizeof(struct nh_capset_event);
	case NH_KIND_SUMMARY:
		return sizeof(struct nh_summary_event);
	case NH_KIND_CGROUP_RMDIR:
		return sizeof(struct nh_cgroup_event);
	case NH_KIND_SEND:
		return sizeof(struct nh_send_event);
	case NH_KIND_UNIX_CONNECT:
		return sizeof(struct nh_unix_event);
	case NH_KIND_NAMESPACE:
	case NH_KIND_PTRACE:
	case NH_KIND_BPF:
	case NH_KIND_MODULE:
		return sizeof(struct nh_op_event);
	case NH_KIND_IO_URING_CREATE:
		return sizeof(struct nh_ring_event);
	case NH_KIND_COMPAT:
		return sizeof(struct nh_compat_event);
	case NH_KIND_FLOOD:
		return sizeof(struct nh_flood_event);
	default:
		return 0;
	}
}

/* A zeroed record of @kind that is valid as far as its payload goes. */
static void fabricate(uint32_t kind)
{
	memset(&rec, 0, sizeof(rec));
	rec.h.kind = kind;
	rec.h.ts_ns = 123456789;
	rec.h.cgroup_id = 4242;
	rec.h.tgid = 100;
	rec.h.pid = 101;
	memcpy(rec.h.comm, "worker", 7);
	switch (kind) {
	case NH_KIND_EXEC:
		memcpy(rec.exec.path, "/bin/true", 9);
		rec.exec.path_len = 9;
		memcpy(rec.exec.args, "true\0-x", 8);
		rec.exec.args_len = 8;
		break;
	case NH_KIND_OPEN:
		memcpy(rec.open.path, "/etc/hosts", 10);
		rec.open.path_len = 10;
		rec.open.syscall = NH_SYS_OPENAT;
		break;
	case NH_KIND_ACCEPT:
		rec.accept.syscall = NH_SYS_ACCEPT4;
		break;
	case NH_KIND_SETUID:
		rec.cred.syscall = NH_SYS_SETRESUID;
		break;
	case NH_KIND_SETGID:
		rec.cred.syscall = NH_SYS_SETGID;
		break;
	case NH_KIND_SUMMARY:
		rec.summary.key.kind = NH_KIND_OPEN;
		rec.summary.count = 7;
		break;
	default:
		break;
	}
}

/* Kinds the kernel sends: the enum has gaps (ranges reserved per change)
 * and kinds only the agent makes. */
static int kernel_kind(uint32_t k)
{
	return size_of_kind(k) != 0;
}

/* Decode the current record; on failure *out must be left untouched. */
static int decode(size_t size)
{
	const struct nh_hdr *out = &sentinel;
	int rc = nh_decode(&rec, size, &out);

	if (rc == 0)
		CHECK(out == &rec.h);
	else
		CHECK(out == &sentinel);
	return rc;
}

static void test_every_kind_decodes(void)
{
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		size_t size = size_of_kind(k);

		if (!kernel_kind(k)) { /* unknown to the decoder too */
			fabricate(NH_KIND_FORK);
			rec.h.kind = k;
			CHECK(decode(sizeof(struct nh_fork_event)) == -EINVAL);
			continue;
		}
		CHECK(size >= sizeof(struct nh_hdr));
		fabricate(k);
		if (decode(size) != 0) {
			fprintf(stderr, "  (kind %u of size %zu rejected)\n", k, size);
			CHECK(0);
		}
	}
}

static void test_too_short(void)
{
	const struct nh_hdr *out = &sentinel;

	fabricate(NH_KIND_FORK);
	CHECK(decode(0) == -EINVAL);
	CHECK(decode(1) == -EINVAL);
	CHECK(decode(sizeof(struct nh_hdr) - 1) == -EINVAL);
	CHECK(nh_decode(NULL, sizeof(struct nh_fork_event), &out) == -EINVAL);
	CHECK(out == &sentinel);
	/* a bare header is long enough to read the kind, but not a record */
	CHECK(decode(sizeof(struct nh_hdr)) == -EBADMSG);
}

static void test_unknown_kind(void)
{
	static const uint32_t bad[] = {NH_KIND_NONE, NH_KIND_MAX, NH_KIND_MAX + 1, 0x7fffffff,
				       0xffffffff};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fabricate(NH_KIND_FORK);
		rec.h.kind = bad[i];
		CHECK(decode(sizeof(struct nh_fork_event)) == -EINVAL);
		CHECK(decode(sizeof(struct nh_hdr)) == -EINVAL);
		CHECK(decode(sizeof(struct nh_exec_event)) == -EINVAL);
	}
}

static void test_wrong_size(void)
{
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		size_t size = size_of_kind(k);

		if (!kernel_kind(k))
			continue;
		fabricate(k);
		if (k == NH_KIND_EXEC) /* a full one: its argv fills the record */
			rec.exec.args_len = NH_ARGS_MAX;
		CHECK(decode(size - 1) == -EBADMSG);
		CHECK(decode(size + 1) == -EBADMSG);
		CHECK(decode(size + 8) == -EBADMSG);
		CHECK(decode(size) == 0);
	}
	/* the size of another kind is not good enough */
	fabricate(NH_KIND_EXEC);
	rec.exec.args_len = 100;
	CHECK(decode(sizeof(struct nh_open_event)) == -EBADMSG);
	fabricate(NH_KIND_OPEN);
	CHECK(decode(sizeof(struct nh_exec_event)) == -EBADMSG);
	fabricate(NH_KIND_CONNECT);
	CHECK(decode(sizeof(struct nh_capset_event)) == -EBADMSG);
}

static void test_exec_bounds(void)
{
	const size_t size = sizeof(struct nh_exec_event);

	fabricate(NH_KIND_EXEC);
	rec.exec.path_len = NH_PATH_MAX - 1;
	CHECK(decode(size) == 0);
	rec.exec.path_len = NH_PATH_MAX;
	CHECK(decode(size) == -EBADMSG);
	rec.exec.path_len = 0xffff;
	CHECK(decode(size) == -EBADMSG);

	fabricate(NH_KIND_EXEC);
	rec.exec.args_len = 0;
	CHECK(decode(size) == 0);
	rec.exec.args_len = NH_ARGS_MAX;
	CHECK(decode(size) == 0);
	rec.exec.args_len = NH_ARGS_MAX + 1;
	CHECK(decode(size) == -EBADMSG);
	rec.exec.args_len = 0xffff;
	CHECK(decode(size) == -EBADMSG);
}

/* An exec record is as long as its argv: header and path, then exactly
 * args_len bytes or more, up to the largest record. */
static void test_exec_variable_size(void)
{
	const size_t head = offsetof(struct nh_exec_event, args);

	fabricate(NH_KIND_EXEC);
	rec.exec.args_len = 5;
	CHECK(decode(head + 5) == 0);
	CHECK(decode(head + 8) == 0); /* slack after the argv */
	CHECK(decode(head + 4) == -EBADMSG);
	CHECK(decode(head - 1) == -EBADMSG);
	CHECK(decode(sizeof(struct nh_exec_event) + 1) == -EBADMSG);
	rec.exec.args_len = 0;
	CHECK(decode(head) == 0);
	rec.exec.args_len = NH_ARGS_MAX;
	CHECK(decode(head + NH_ARGS_MAX - 1) == -EBADMSG);
	CHECK(decode(head + NH_ARGS_MAX) == 0);
}

static void test_open_bounds(void)
{
	const size_t size = sizeof(struct nh_open_event);

	fabricate(NH_KIND_OPEN);
	rec.open.path_len = NH_PATH_MAX - 1;
	CHECK(decode(size) == 0);
	rec.open.path_len = NH_PATH_MAX;
	CHECK(decode(size) == -EBADMSG);
	rec.open.path_len = 0xffff;
	CHECK(decode(size) == -EBADMSG);

	fabricate(NH_KIND_OPEN);
	rec.open.syscall = NH_SYS_MAX - 1;
	CHECK(decode(size) == 0);
	rec.open.syscall = NH_SYS_MAX;
	CHECK(decode(size) == -EBADMSG);
	rec.open.syscall = 0xffff;
	CHECK(decode(size) == -EBADMSG);
}

static void test_bad_syscalls(void)
{
	static const uint32_t cred_kinds[] = {NH_KIND_SETUID, NH_KIND_SETGID};

	for (size_t i = 0; i < 2; i++) {
		fabricate(cred_kinds[i]);
		rec.cred.syscall = NH_SYS_MAX;
		CHECK(decode(sizeof(struct nh_cred_event)) == -EBADMSG);
		rec.cred.syscall = 0xffffffff;
		CHECK(decode(sizeof(struct nh_cred_event)) == -EBADMSG);
		rec.cred.syscall = NH_SYS_NONE;
		CHECK(decode(sizeof(struct nh_cred_event)) == 0);
	}
	fabricate(NH_KIND_ACCEPT);
	rec.accept.syscall = NH_SYS_MAX;
	CHECK(decode(sizeof(struct nh_accept_event)) == -EBADMSG);
	rec.accept.syscall = 0xffff;
	CHECK(decode(sizeof(struct nh_accept_event)) == -EBADMSG);
	rec.accept.syscall = NH_SYS_ACCEPT;
	CHECK(decode(sizeof(struct nh_accept_event)) == 0);
}

static void test_summary_inner_kind(void)
{
	const size_t size = sizeof(struct nh_summary_event);
	static const uint32_t bad[] = {NH_KIND_NONE, NH_KIND_MAX, 0xffffffff, 19, 39};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fabricate(NH_KIND_SUMMARY);
		rec.summary.key.kind = bad[i];
		CHECK(decode(size) == -EBADMSG);
	}
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		if (!kernel_kind(k))
			continue;
		fabricate(NH_KIND_SUMMARY);
		rec.summary.key.kind = k;
		CHECK(decode(size) == 0);
	}
}

static void test_kind_names(void)
{
	static const char *const expect[NH_KIND_MAX] = {
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
	    [NH_KIND_COMPAT] = "compat_syscall",
	    [NH_KIND_FLOOD] = "flood",
	    [NH_KIND_MONITORING_GAP] = "monitoring_gap",
	};

	/* unnamed kinds (gaps in the enum) are "unknown" and parse to nothing */
	for (uint32_t k = 0; k < NH_KIND_MAX; k++)
		CHECK_STR(nh_kind_name(k), expect[k] ? expect[k] : "unknown");
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++)
		if (expect[k])
			CHECK(nh_kind_parse(nh_kind_name(k)) == (int)k);
	CHECK(nh_kind_parse("unknown") == -EINVAL);
	/* names are distinct */
	for (uint32_t a = 0; a < NH_KIND_ALL; a++)
		for (uint32_t b = a + 1; b < NH_KIND_ALL; b++)
			if (nh_kind_named(a) && nh_kind_named(b))
				CHECK(strcmp(nh_kind_name(a), nh_kind_name(b)) != 0);
	/* the agent's own kinds come after the kernel's, and are listed */
	for (uint32_t k = NH_KIND_MAX; k < NH_KIND_ALL; k++) {
		CHECK(nh_kind_parse(nh_kind_name(k)) == (int)k);
		CHECK(strstr(nh_kind_list(), nh_kind_name(k)) != NULL);
	}
	CHECK_STR(nh_kind_name(NH_KIND_LOSS), "loss");
	CHECK_STR(nh_kind_name(NH_KIND_CREDENTIAL_USE), "credential_use");
	CHECK_STR(nh_kind_name(NH_KIND_ALL), "unknown");
	CHECK_STR(nh_kind_name(0xffffffff), "unknown");

	/* "none" names no event, so it cannot be asked for */
	CHECK(nh_kind_parse("none") == -EINVAL);
	CHECK(nh_kind_parse("unknown") == -EINVAL);
	CHECK(nh_kind_parse("") == -EINVAL);
	CHECK(nh_kind_parse("EXEC") == -EINVAL);
	CHECK(nh_kind_parse("exec ") == -EINVAL);
	CHECK(nh_kind_parse("exe") == -EINVAL);
	CHECK(nh_kind_parse("execve") == -EINVAL);
	CHECK(nh_kind_parse("loss") == NH_KIND_LOSS);
	CHECK(nh_kind_parse("credential-use") == -EINVAL);
	CHECK(nh_kind_parse("cgroup-rmdir") == -EINVAL);
}

static void test_syscall_names(void)
{
	static const char *const expect[NH_SYS_MAX] = {
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

	for (uint32_t s = 0; s < NH_SYS_MAX; s++)
		CHECK_STR(nh_syscall_name(s), expect[s] ? expect[s] : "unknown");
	CHECK_STR(nh_syscall_name(NH_SYS_MAX), "unknown");
	CHECK_STR(nh_syscall_name(0xffff), "unknown");
	CHECK_STR(nh_syscall_name(0xffffffff), "unknown");
}

int main(void)
{
	test_every_kind_decodes();
	test_too_short();
	test_unknown_kind();
	test_wrong_size();
	test_exec_bounds();
	test_exec_variable_size();
	test_open_bounds();
	test_bad_syscalls();
	test_summary_inner_kind();
	test_kind_names();
	test_syscall_names();
	return nh_check_report("decode");
}
