/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lifecycle: when this node was last monitored. A small file in the
 * agent's state directory says when the agent was last alive and whether
 * it stopped cleanly then; at the next start the time in between is a
 * monitoring gap (a restart, a crash, an upgrade: a window nothing saw).
 * Rewritten atomically (temporary file, rename) at start, every
 * NH_LIFECYCLE_BEAT_NS while running, and at a clean stop.
 */
#ifndef NH_LIFECYCLE_H
#define NH_LIFECYCLE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define NH_LIFECYCLE_FILE    "agent.state"
#define NH_LIFECYCLE_BEAT_NS (10ULL * 1000000000ULL)

struct nh_lifecycle {
	char path[PATH_MAX];
	bool on;
	uint64_t next_beat_ns; /* CLOCK_MONOTONIC */
	uint64_t write_errors;
};

/* What the previous run left. */
struct nh_lifecycle_gap {
	bool found;	   /* a previous run left a state file */
	uint64_t start_ns; /* unix ns: its stop, or its last sign of life */
	uint64_t end_ns;   /* unix ns: this start */
	bool clean_stop;   /* it stopped cleanly at start_ns */
};

/* Read what the previous run left in dir (none: gap->found false), then
 * record this run as alive at now_unix_ns. 0 or -errno (the state file
 * cannot be written; gap is still filled). */
int nh_lifecycle_start(struct nh_lifecycle *l, const char *dir, uint64_t now_unix_ns,
		       uint64_t now_mono_ns, struct nh_lifecycle_gap *gap);
/* Alive at now_unix_ns, once per NH_LIFECYCLE_BEAT_NS. */
void nh_lifecycle_beat(struct nh_lifecycle *l, uint64_t now_unix_ns, uint64_t now_mono_ns);
/* A clean stop at now_unix_ns. 0 or -errno. */
int nh_lifecycle_stop(struct nh_lifecycle *l, uint64_t now_unix_ns);

/* Parse a state file's text: 0, or -EINVAL when it is not one. */
int nh_lifecycle_parse(const char *text, uint64_t *alive_ns, bool *clean);

#endif
