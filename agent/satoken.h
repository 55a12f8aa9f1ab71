/* SPDX-License-Identifier: Apache-2.0 */
/*
 * satoken: the Kubernetes service account of each pod, read from the
 * projected token in its containers' mount namespace and cached by pod
 * UID. Only the JWT payload claims are kept (jwt.h); the signature is not
 * checked, and the token itself lives only in a buffer that is wiped
 * after decoding: it never reaches an event, a log line or a record.
 *
 * Rotation: the kubelet swaps the token file atomically; a cached entry
 * re-stats it at most every recheck interval and re-reads it when its
 * (device, inode, mtime, size) changed.
 */
#ifndef NH_SATOKEN_H
#define NH_SATOKEN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgpath.h"
#include "cgroupfs.h"
#include "fingerprint.h"
#include "jwt.h"
#include "log.h"
#include "u64map.h"

#define NH_SA_DEFAULT_PATH "/var/run/secrets/kubernetes.io/serviceaccount/token"
/* "k8s:sa/" + namespace (a DNS label, <= 63) + '/' + name (<= 253) + NUL */
#define NH_SA_KEY_MAX 326

enum nh_sa_state {
	NH_SA_UNKNOWN = 0, /* never read: no live process of the pod yet */
	NH_SA_OK,
	NH_SA_MISSING,	  /* no token file (automount disabled) */
	NH_SA_UNREADABLE, /* not a regular file, too large, permission */
	NH_SA_MALFORMED,  /* not a service-account JWT */
};

struct nh_sa {
	char pod_uid[40];
	enum nh_sa_state state;
	const char *why;	    /* static reason when not OK */
	struct nh_sa_claims claims; /* the last good read; kept across a failed re-read */
	bool have_claims;
	char key[NH_SA_KEY_MAX];	      /* "k8s:sa/<ns>/<name>" when have_claims */
	char fingerprint[NH_FINGERPRINT_MAX]; /* of the token, never the token */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	uint64_t checked_ns; /* last stat or read attempt */
	uint32_t last_pid;   /* the last process the token was read through */
	uint32_t reads;	     /* successful reads: 1 + rotations seen */
};

struct nh_satokens {
	struct nh_u64map pods; /* hash(pod uid) -> struct nh_sa */
	const struct nh_cgroupfs *fs;
	const struct nh_log *log;
	const struct nh_fingerprinter *fp; /* set by the owner; NULL: no fingerprints */
	char rel_path[256];		   /* token path relative to the container root */
	uint64_t recheck_ns;
	uint64_t reads, rotations, failures;
};

/* path: absolute path of the token inside the container (NULL: default). */
int nh_satokens_init(struct nh_satokens *t, const struct nh_cgroupfs *fs, const struct nh_log *log,
		     const char *path, uint64_t recheck_ns, size_t max_pods);
void nh_satokens_free(struct nh_satokens *t);

/*
 * The service account of pod_uid for an event of tgid in cgroup_path
 * (below the mount; may be NULL). The token is read through the first
 * live process of: tgid, the last one that served, the cgroup's members;
 * each is checked to be in that pod before its /proc/<pid>/root is
 * trusted, since a pid may have been reused. Reads on first sight,
 * re-checks for rotation at most every recheck interval. NULL only when
 * out of memory; otherwise see state and have_claims.
 */
const struct nh_sa *nh_satokens_get(struct nh_satokens *t, const char *pod_uid, uint32_t tgid,
				    const char *cgroup_path, uint64_t now_ns);
void nh_satokens_forget(struct nh_satokens *t, const char *pod_uid);

const char *nh_sa_state_name(enum nh_sa_state s);

#endif
