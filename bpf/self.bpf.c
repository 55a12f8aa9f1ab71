// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/*
 * The agent's own cgroup id. Not attached to any hook: the agent runs it
 * once with BPF_PROG_TEST_RUN, in its own context. In a container with a
 * private cgroup namespace (every unprivileged container on cgroup v2)
 * /proc/<pid>/cgroup names cgroups relative to the agent's own; the id is
 * how the agent finds where that is on the host.
 */
#include "maps.bpf.h"

__u64 nh_self_cgroup_id;

SEC("raw_tp")
int nh_self(void *ctx)
{
	nh_self_cgroup_id = bpf_get_current_cgroup_id();
	return 0;
}
