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

/* After attaching: reading other users' /proc/<pid>/{exe,root,...}
 * (service-account tokens through the pod's root) needs CAP_SYS_PTRACE;
 * open_by_handle_at on cgroup ids and reading files whatever their mode
 * need CAP_DAC_READ_SEARCH. The BPF maps and programs are used through
 * file descriptors already held, which needs no capability. */
#define NH_PRIVILEGES_KEEP ((1ULL << 19) | (1ULL << 2)) /* SYS_PTRACE, DAC_READ_SEARCH */

/* Keep only the capabilities in keep (a mask of CAP_* bits) that the
 * process has. 0 or -errno; *kept is what remains effective. */
int nh_privileges_drop(uint64_t keep, uint64_t *kept);

/* "cap_sys_ptrace,cap_dac_read_search" for a mask. */
void nh_privileges_names(uint64_t mask, char *buf, size_t len);

#endif
