/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event: the pipeline's types. A kernel record once the agent has
 * attributed it (process, cgroup, identity, pod context): what findings,
 * the baseline and the renderers all read. It borrows everything; it lives
 * for one turn of the pipeline (pipeline.c).
 */
#ifndef NH_EVENT_H
#define NH_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "credinodes.h"
#include "identity.h"
#include "kubelet.h"
#include "nhiscope.h"
#include "proctable.h"
#include "satoken.h"

struct nh_attributed {
	const struct nh_hdr *h;
	const struct nh_proc *proc;	/* NULL when unknown */
	const char *parent_exe;		/* exec: the parent's binary, NULL when unknown */
	const struct nh_cgroup_ctx *cg; /* NULL when unknown */
	const char *identity;
	enum nh_identity_source identity_source; /* how identity is known */
	bool identity_verified;			 /* rests on a verified token */
	const char *user;			 /* NULL when the uid has no name */
	const char *object;			 /* summaries: what was repeated; may be NULL */
	int64_t wall_offset_ns;			 /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	int64_t wall_now_s;			 /* for token age and remaining lifetime */
	/* Pods only, each may be NULL: the service account read from the
	 * token, the kubelet's record, and the workload owner (from the
	 * record, else inferred from the pod name). */
	const struct nh_sa *sa;
	const struct nh_pod_record *pod;
	const char *owner_kind, *owner_name;
	bool interactive; /* in a terminal or entered session (human_use) */
	/* open: the credential file the kernel recognised by its inode
	 * (NH_F_CRED_INODE), NULL otherwise; and what the agent knows of the
	 * service account of the pod whose token it is (may be NULL) */
	const struct nh_credinode *cred;
	const struct nh_sa *cred_sa;
};

#endif
