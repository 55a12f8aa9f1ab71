// SPDX-License-Identifier: Apache-2.0
#include "opname.h"

#include <stdio.h>
#include <string.h>

#include "nhiscope.h"

struct bit {
	uint64_t bit;
	const char *name;
};

/* The namespace bits of clone flags (linux/sched.h), which unshare and
 * setns take; numbers so that the kernel headers need not be included. */
static const struct bit ns_bits[] = {
    {0x00020000, "newns"},  {0x02000000, "newcgroup"}, {0x04000000, "newuts"},
    {0x08000000, "newipc"}, {0x10000000, "newuser"},   {0x20000000, "newpid"},
    {0x40000000, "newnet"}, {0x00000080, "newtime"},   {0x00000200, "files"},
    {0x00000400, "fs"},	    {0x00002000, "sysvsem"},
};

/* mount(2) flags worth naming (linux/mount.h). */
static const struct bit mount_bits[] = {
    {1, "rdonly"},	     {2, "nosuid"},	   {4, "nodev"},       {8, "noexec"},
    {32, "remount"},	     {4096, "bind"},	   {8192, "move"},     {16384, "rec"},
    {1 << 17, "unbindable"}, {1 << 18, "private"}, {1 << 19, "slave"}, {1 << 20, "shared"},
};

/* io_uring_setup(2) flags (linux/io_uring.h, IORING_SETUP_*). */
static const struct bit uring_setup_bits[] = {
    {1 << 0, "iopoll"},		{1 << 1, "sqpoll"},
    {1 << 2, "sq_aff"},		{1 << 3, "cqsize"},
    {1 << 4, "clamp"},		{1 << 5, "attach_wq"},
    {1 << 6, "r_disabled"},	{1 << 7, "submit_all"},
    {1 << 8, "coop_taskrun"},	{1 << 9, "taskrun_flag"},
    {1 << 10, "sqe128"},	{1 << 11, "cqe32"},
    {1 << 12, "single_issuer"}, {1 << 13, "defer_taskrun"},
    {1 << 14, "no_mmap"},	{1 << 15, "registered_fd_only"},
    {1 << 16, "no_sqarray"},	{1 << 17, "hybrid_iopoll"},
};

static const char *const ptrace_requests[] = {
    [0] = "traceme",  [1] = "peektext", [2] = "peekdata", [3] = "peekuser", [4] = "poketext",
    [5] = "pokedata", [6] = "pokeuser", [7] = "cont",	  [8] = "kill",	    [9] = "singlestep",
    [12] = "getregs", [13] = "setregs", [16] = "attach",  [17] = "detach",  [24] = "syscall",
};

static const char *const bpf_cmds[] = {
    "map_create",	 "map_lookup_elem",
    "map_update_elem",	 "map_delete_elem",
    "map_get_next_key",	 "prog_load",
    "obj_pin",		 "obj_get",
    "prog_attach",	 "prog_detach",
    "prog_test_run",	 "prog_get_next_id",
    "map_get_next_id",	 "prog_get_fd_by_id",
    "map_get_fd_by_id",	 "obj_get_info_by_fd",
    "prog_query",	 "raw_tracepoint_open",
    "btf_load",		 "btf_get_fd_by_id",
    "task_fd_query",	 "map_lookup_and_delete_elem",
    "map_freeze",	 "btf_get_next_id",
    "map_lookup_batch",	 "map_lookup_and_delete_batch",
    "map_update_batch",	 "map_delete_batch",
    "link_create",	 "link_update",
    "link_get_fd_by_id", "link_get_next_id",
    "enable_stats",	 "iter_create",
    "link_detach",	 "prog_bind_map",
    "token_create",
};

static void bits(const struct bit *b, size_t n, uint64_t v, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		if (!(v & b[i].bit))
			continue;
		used +=
		    (size_t)snprintf(buf + used, len - used, "%s%s", used ? "|" : "", b[i].name);
		v &= ~b[i].bit;
	}
	if (v && used < len)
		snprintf(buf + used, len - used, "%s0x%llx", used ? "|" : "",
			 (unsigned long long)v);
}

static void named(const char *const *names, size_t n, uint64_t v, char *buf, size_t len)
{
	if (v < n && names[v])
		snprintf(buf, len, "%s", names[v]);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

const char *nh_opname(uint32_t syscall, uint64_t op, char *buf, size_t len)
{
	if (!len)
		return buf;
	buf[0] = '\0';
	switch (syscall) {
	case NH_SYS_UNSHARE:
	case NH_SYS_SETNS:
		if (syscall == NH_SYS_SETNS && op == 0)
			snprintf(buf, len, "any");
		else
			bits(ns_bits, sizeof(ns_bits) / sizeof(ns_bits[0]), op, buf, len);
		break;
	case NH_SYS_MOUNT:
		bits(mount_bits, sizeof(mount_bits) / sizeof(mount_bits[0]), op & 0xffffffffu, buf,
		     len);
		break;
	case NH_SYS_PTRACE:
		if (op == 0x4206)
			snprintf(buf, len, "seize");
		else
			named(ptrace_requests, sizeof(ptrace_requests) / sizeof(ptrace_requests[0]),
			      op, buf, len);
		break;
	case NH_SYS_PROCESS_VM_WRITEV:
		snprintf(buf, len, "write");
		break;
	case NH_SYS_BPF:
		named(bpf_cmds, sizeof(bpf_cmds) / sizeof(bpf_cmds[0]), op, buf, len);
		break;
	case NH_SYS_INIT_MODULE:
	case NH_SYS_FINIT_MODULE:
		snprintf(buf, len, "load");
		break;
	case NH_SYS_IO_URING_SETUP:
		bits(uring_setup_bits, sizeof(uring_setup_bits) / sizeof(uring_setup_bits[0]), op,
		     buf, len);
		break;
	default:
		break;
	}
	return buf;
}
