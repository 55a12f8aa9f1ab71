/* SPDX-License-Identifier: Apache-2.0 */
/*
 * findings: what the agent concludes from a kernel event beyond the event
 * itself.
 *   credential_use    an open of a catalogued file or a connect to a
 *                     catalogued endpoint (catalogue.h)
 *   credential_reuse  a credential used by a second identity (credentials.h)
 *   secret_exposure   a secret in an exec's argv: kind and redacted
 *                     fingerprint, never the value (secrets.h, fingerprint.h)
 *   human_use         an interactive session under a workload identity:
 *                     a controlling terminal, or a process that entered the
 *                     container's pid namespace from outside (kubectl or
 *                     docker exec, nsenter) instead of descending from its
 *                     init; one finding per session
 */
#ifndef NH_FINDINGS_H
#define NH_FINDINGS_H

#include <json-c/json.h>

#include "catalogue.h"
#include "cgroupfs.h"
#include "credentials.h"
#include "jsonw.h"
#include "record.h"
#include "event.h"
#include "quotamap.h"
#include "sockets.h"
#include "u64map.h"
#include "worker.h"

/* Receives each finding as its typed record, valid for the call; the
 * receiver may number it (r->id) but not keep it. */
typedef void (*nh_finding_fn)(void *ctx, struct nh_wire_record *r);

struct nh_findings {
	struct nh_catalogue cat;
	struct nh_credentials creds;
	/* dedup object digest -> credential of its first event; quota per identity */
	struct nh_quotamap series;
	const struct nh_cgroupfs *fs;
	const char *sa_token_path;	   /* absolute, inside pods */
	const struct nh_fingerprinter *fp; /* set by the owner; NULL: no fingerprints */
	uint64_t own_mntns;		   /* the agent's: host paths can be examined directly */
	uint64_t credential_uses, reuses, exposures, human_uses;
	/* The last event given to nh_findings_event touched a credential: the
	 * baseline then learns it as a credential, not also as a file or a
	 * destination. */
	bool was_credential;
	struct nh_sockets sockets; /* runtime and kubelet sockets by inode */
	/* When set, a credential file's inode is looked up there: a path
	 * under a FUSE or NFS mount that never answers holds a worker, not
	 * the loop. wait_ns: how long the first ask waits for the answer. */
	struct nh_worker *worker;
	uint64_t wait_ns;
	struct nh_u64map lookups;  /* (mount namespace, path) -> recent answer */
	uint64_t lookups_late;	   /* answered by path: the lookup was not back in time */
	struct nh_wire_record rec; /* the finding being made */
	struct nh_record_buf buf;
};

int nh_findings_init(struct nh_findings *f, const struct nh_cgroupfs *fs, const char *sa_token_path,
		     size_t max_credentials);
void nh_findings_free(struct nh_findings *f);
/* Where the kubelet keeps its sockets (its root directory); NULL: none. */
void nh_findings_set_kubelet_root(struct nh_findings *f, const char *kubelet_root);

/* Findings from one attributed event; digest names its dedup series (0
 * when none) so that a later summary counts as more uses. */
void nh_findings_event(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
		       nh_finding_fn emit, void *ctx);

/* The registry as JSON, for `nhiscope credentials`. */
json_object *nh_findings_credentials_json(const struct nh_findings *f, int64_t wall_offset_ns);

#endif
