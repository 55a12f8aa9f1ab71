/* SPDX-License-Identifier: Apache-2.0 */
/*
 * procroot: files as a process sees them, through /proc/<pid>/root. The
 * path is resolved inside that root (RESOLVE_IN_ROOT): a container owns
 * every component of it, and an absolute symlink there must not lead the
 * agent to a host file.
 */
#ifndef NH_PROCROOT_H
#define NH_PROCROOT_H

#include <stdint.h>

/* An O_PATH descriptor of pid's root directory, or -errno. */
int nh_procroot_open(const char *proc, uint32_t pid);
/* Open path (absolute or not, it is taken inside the root) with flags
 * under root; a descriptor or -errno. */
int nh_procroot_openat(int root, const char *path, int flags);

#endif
