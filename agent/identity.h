/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity: turns (cgroup id, uid) into the principal an event belongs to.
 * Cgroup context is cached by cgroup id and dropped when the cgroup is
 * removed; a process that cannot be placed still gets an identity from
 * its uid, it is never dropped.
 */
#ifndef NH_IDENTITY_H
#define NH_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgpath.h"
#include "cgroupfs.h"
#include "u64map.h"

#define NH_CGROUP_PATH_MAX  512
#define NH_IDENTITY_KEY_MAX 336 /* k8s:sa/<63>/<253> fits */

/* How an event's identity is known (identity_source), weakest first. */
enum nh_identity_source {
	NH_IDSRC_UID = 0,	 /* user:<name>: the kernel's uid */
	NH_IDSRC_CGROUP,	 /* unit:, container:, k8s:pod/: the cgroup path */
	NH_IDSRC_POD_RECORD,	 /* k8s:sa/: the kubelet's pod record, no token */
	NH_IDSRC_CONTAINER_ROOT, /* k8s:sa/: the token as the pod's own root shows it */
	NH_IDSRC_KUBELET_VOLUME, /* k8s:sa/: the kubelet's copy of the token on the host */
};

const char *nh_identity_source_name(enum nh_identity_source s);

/* What one cgroup says about its members. */
struct nh_cgroup_ctx {
	uint64_t id;
	bool found;	/* the path was resolved */
	bool delegated; /* below a non-root-owned directory: pod/container
			 * names there are the owner's choice, not trusted */
	char path[NH_CGROUP_PATH_MAX];
	struct nh_cgroup_info info;
	/* The cgroup the kernel's flood budget is kept for: the pod, the
	 * container, the unit (a user's units: their user@UID.service), the
	 * last root-owned directory above a delegated subtree, or this cgroup
	 * when it says nothing. Never below what the kubelet, the runtime or
	 * systemd owns, so a workload cannot multiply its budget by making
	 * cgroups. */
	uint64_t identity_cgroup;
	bool budget_set; /* the kernel knows identity_cgroup */
};

/* An identity as seen on this node, for `nhiscope status`. */
struct nh_identity_seen {
	char key[NH_IDENTITY_KEY_MAX];
	uint64_t events;
	uint64_t first_ns;
	uint64_t last_ns;
	uint64_t flooded; /* events beyond its kernel budget (flood records) */
	uint64_t lost;	  /* its events the full ring buffer lost */
};

struct nh_identities {
	const struct nh_cgroupfs *fs;
	struct nh_u64map cgroups; /* cgroup id -> struct nh_cgroup_ctx */
	struct nh_u64map users;	  /* uid + 1 -> char * name */
	struct nh_u64map seen;	  /* hash(key) -> struct nh_identity_seen */
	uint64_t resolved;	  /* cache misses resolved from /proc */
	uint64_t walked;	  /* cache misses resolved by file handle or tree walk */
	uint64_t unresolved;
	uint64_t evicted;
};

int nh_identities_init(struct nh_identities *ids, const struct nh_cgroupfs *fs, size_t max_cgroups);
void nh_identities_free(struct nh_identities *ids);

/* The cgroup context for an event; tgid helps the first lookup (its
 * /proc entry names the path). Never NULL unless out of memory. */
const struct nh_cgroup_ctx *nh_identity_cgroup(struct nh_identities *ids, uint64_t cgroup_id,
					       pid_t tgid);
/* The kernel was told cg's identity cgroup (the pipeline, via probes). */
void nh_identity_budget_set(struct nh_identities *ids, uint64_t cgroup_id);
/* Forget a removed cgroup. Returns true when it was cached. */
bool nh_identity_forget(struct nh_identities *ids, uint64_t cgroup_id);

/* Render the identity key: k8s:pod/<uid>, container:<id12>,
 * unit:<name>, unit:user@<uid>/<name>, user:<name> (or user:<uid>). */
int nh_identity_key(struct nh_identities *ids, const struct nh_cgroup_ctx *cg, uint32_t uid,
		    char *buf, size_t len);

/* User name for a uid, cached; NULL when the uid has no passwd entry. */
const char *nh_identity_user(struct nh_identities *ids, uint32_t uid);

/* Count one event for an identity key. */
void nh_identity_note(struct nh_identities *ids, const char *key, uint64_t ts_ns);
/* Count an identity's flooded and lost events (not events it sent). */
void nh_identity_note_flood(struct nh_identities *ids, const char *key, uint64_t ts_ns,
			    uint64_t flooded, uint64_t lost);

#endif
