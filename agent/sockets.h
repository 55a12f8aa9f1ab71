/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sockets: the host's container-runtime and kubelet API sockets, known by
 * the (device, inode) of their socket files, so that a Unix connect to
 * one is a credential use however the workload reached it (a hostPath
 * mount under another name, a hard link, a renamed file). The kernel
 * event carries the connected peer's socket inode (bpf/net.bpf.c); this
 * table is what it is matched against. Refreshed by stat(2) of the
 * well-known host paths (runtime sockets, and the kubelet's pod-resources
 * and device-plugin sockets below its root), at most every few seconds.
 */
#ifndef NH_SOCKETS_H
#define NH_SOCKETS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define NH_SOCKETS_MAX 24

struct nh_socket_entry {
	uint64_t dev; /* kernel dev_t: MAJOR << 20 | MINOR, as BPF reads it */
	uint64_t ino;
	const char *kind; /* "container_runtime_socket", "kubelet_socket" */
	char path[PATH_MAX];
};

struct nh_sockets {
	char kubelet_root[PATH_MAX]; /* "" when none */
	uint64_t refreshed_ns;	     /* CLOCK_MONOTONIC of the last refresh */
	unsigned int n;
	struct nh_socket_entry e[NH_SOCKETS_MAX];
};

/* kubelet_root may be NULL. */
void nh_sockets_init(struct nh_sockets *s, const char *kubelet_root);

/* Re-read the socket files' inodes if the last look is older than
 * max_age_ns (0: now). */
void nh_sockets_refresh(struct nh_sockets *s, uint64_t now_ns, uint64_t max_age_ns);

/* The entry whose socket file is (dev, ino), NULL when none: the one
 * place a Unix connect's peer is matched, so a kernel-side map of
 * catalogue inodes can take its place. */
const struct nh_socket_entry *nh_sockets_match(const struct nh_sockets *s, uint64_t dev,
					       uint64_t ino);

#endif
