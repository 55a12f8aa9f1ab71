/* SPDX-License-Identifier: Apache-2.0 */
/*
 * posture: the node's exposure to paths the syscall tracepoints do not
 * show (docs/coverage.md), read once at start: whether 32-bit (ia32)
 * syscalls can be made at all, and whether io_uring is allowed. Shown in
 * status, metrics and heartbeats, so a fleet view says which nodes have
 * those blind spots open.
 */
#ifndef NH_POSTURE_H
#define NH_POSTURE_H

struct nh_posture {
	int ia32_emulation;    /* 1 on, 0 off (not built or disabled at boot), -1 unknown */
	int io_uring_disabled; /* kernel.io_uring_disabled: 0, 1, 2; -1 when absent */
};

/* proc: "/proc" (tests point it elsewhere). Never fails: what cannot be
 * read is -1. */
void nh_posture_read(struct nh_posture *p, const char *proc);

/* "on", "off" or "unknown". */
const char *nh_posture_ia32_name(int v);

#endif
