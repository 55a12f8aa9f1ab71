/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgpath: what a cgroup v2 path says about the workload inside it.
 * Pure string parsing, no I/O, so it is unit-tested and fuzzed on its own.
 */
#ifndef NH_CGPATH_H
#define NH_CGPATH_H

#include <stdbool.h>
#include <stddef.h>

enum nh_cg_kind {
	NH_CG_NONE = 0,	 /* nothing recognisable: identity falls back to the uid */
	NH_CG_K8S_POD,	 /* kubepods tree: pod UID, maybe a container */
	NH_CG_CONTAINER, /* a container outside Kubernetes */
	NH_CG_UNIT,	 /* a systemd service unit */
};

enum nh_runtime {
	NH_RT_UNKNOWN = 0,
	NH_RT_CONTAINERD,
	NH_RT_CRIO,
	NH_RT_DOCKER,
	NH_RT_PODMAN,
};

enum nh_qos {
	NH_QOS_NONE = 0,
	NH_QOS_GUARANTEED,
	NH_QOS_BURSTABLE,
	NH_QOS_BESTEFFORT,
};

#define NH_POD_UID_LEN	    36	/* canonical 8-4-4-4-12 form */
#define NH_CONTAINER_ID_LEN 64	/* full hex id */
#define NH_UNIT_LEN	    255 /* systemd's unit name limit */

struct nh_cgroup_info {
	enum nh_cg_kind kind;
	enum nh_runtime runtime;
	enum nh_qos qos;
	bool user_unit;			  /* unit runs under a user@UID.service manager */
	char pod_uid[NH_POD_UID_LEN + 1]; /* dashes restored for the systemd driver */
	char container_id[NH_CONTAINER_ID_LEN + 1];
	char unit[NH_UNIT_LEN + 1];
};

/*
 * Parse a cgroup v2 path as read from /proc/PID/cgroup (the part after
 * "0::", a trailing " (deleted)" is ignored) or relative to the cgroup2
 * mount. Always fills *out: NH_CG_NONE when the path is well-formed but
 * says nothing. Returns 0, or -EINVAL when the path is malformed (NULL,
 * empty, not absolute, longer than 4096 bytes, a control byte, an empty,
 * "." or ".." component, a component over 255 bytes, or a pod UID or
 * container ID that does not have the right shape where the name demands
 * one; cgpath.c lists those), in which case *out is zeroed (NH_CG_NONE).
 * Precedence: pod, then container, then the innermost *.service unit.
 */
int nh_cgpath_parse(const char *path, struct nh_cgroup_info *out);

const char *nh_runtime_name(enum nh_runtime rt);
const char *nh_qos_name(enum nh_qos qos);
const char *nh_cg_kind_name(enum nh_cg_kind kind);

#endif
