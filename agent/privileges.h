/* SPDX-License-Identifier: Apache-2.0 */
/*
 * privileges: once the probes are attached the agent needs few of the
 * capabilities it started with, so it gives the rest up for good
 * (permitted, effective, inheritable, ambient, and the bounding set when
 * it may change it). A later bug then cannot load programs, mount, or
 * write where root could.
 */
#ifndef NH_PRIVILEGES_H
#define NH_PRIVILEGES_H

#include <stddef.h>
#include <stdint.h>

#include <linux/capability.h>

/* After attaching: reading other users' /proc/<pid>/{exe,root,...}
 * (service-account tokens through the pod's root) needs CAP_SYS_PTRACE;
 * open_by_handle_at on cgroup ids and reading files whatever their mode
 * need CAP_DAC_READ_SEARCH. From 6.5 the BPF maps and programs the agent
 * holds need no capability; before, see NH_PRIVILEGES_BPF. */
#define NH_PRIVILEGES_KEEP	((1ULL << CAP_SYS_PTRACE) | (1ULL << CAP_DAC_READ_SEARCH))
#define NH_PRIVILEGES_BPF	(1ULL << CAP_BPF)
#define NH_PRIVILEGES_SYS_ADMIN (1ULL << CAP_SYS_ADMIN)

/* Keep only the capabilities in keep (a mask of CAP_* bits) that the
 * process has. 0 or -errno; *kept is what remains effective. */
int nh_privileges_drop(uint64_t keep, uint64_t *kept);

/* Effective capabilities = permitted & mask (for a trial without some);
 * *permitted gets the permitted set. 0 or -errno. */
int nh_privileges_effective(uint64_t mask, uint64_t *permitted);

/* -EPERM when any thread of the process has an effective or permitted
 * capability outside allowed: they are per thread. 0 or -errno. */
int nh_privileges_check_threads(uint64_t allowed);

/* "cap_sys_ptrace,cap_dac_read_search" for a mask. */
void nh_privileges_names(uint64_t mask, char *buf, size_t len);

#endif
