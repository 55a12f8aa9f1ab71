/* SPDX-License-Identifier: Apache-2.0 */
/*
 * satoken: the Kubernetes service account of each pod, cached by pod UID.
 *
 * Two copies of a pod's token may be read: the kubelet's own, on the host
 * (<kubelet root>/pods/<uid>/volumes/kubernetes.io~projected/<vol>/token,
 * there before the pod's first process), and the one the pod's own root
 * shows at the token path. The kubelet's copy is believed when it exists;
 * the pod's view is then only compared with it. Without a host copy the
 * pod's view is the fallback. A copy is believed only when its signature
 * verifies against the cluster's keys (tokenverify.h), unless no keys are
 * known and verifyTokens is auto, or verification is off.
 *
 * A pod's view contradicting the kubelet's, or a service account that
 * changes during the pod's life, is a conflict: the claim is not adopted
 * and the caller reports it once (nh_sa.conflict).
 *
 * Only the JWT payload claims are kept (jwt.h); the token itself lives
 * only in a buffer that is wiped after decoding and verifying: it never
 * reaches an event, a log line or a record.
 *
 * The files are read off the event loop when a worker is set (a token
 * path on FUSE or NFS can hang forever): each pod has at most one read
 * out, waited for briefly (it is usually back at once); a read past the
 * worker's deadline marks the pod's own view unreadable, and is never
 * waited for again.
 *
 * Rotation: the kubelet swaps the token file atomically; a cached entry
 * re-stats it at most every recheck interval and re-reads it when its
 * (device, inode, mtime, size) changed.
 */
#ifndef NH_SATOKEN_H
#define NH_SATOKEN_H

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgpath.h"
#include "cgroupfs.h"
#include "fingerprint.h"
#include "identity.h"
#include "jwks.h"
#include "jwt.h"
#include "tokenverify.h"
#include "log.h"
#include "u64map.h"
#include "worker.h"

#define NH_SA_DEFAULT_PATH "/var/run/secrets/kubernetes.io/serviceaccount/token"
/* "k8s:sa/" + namespace (a DNS label, <= 63) + '/' + name (<= 253) + NUL */
#define NH_SA_KEY_MAX	    326
#define NH_SA_CONFLICTS_MAX 4 /* identity_conflict findings per pod */
/* Why a pod's own view is unreadable while its read hangs. */
#define NH_SA_STALLED "token read did not finish in time (a file system that does not answer?)"

enum nh_sa_state {
	NH_SA_UNKNOWN = 0, /* never read: no live process of the pod yet */
	NH_SA_OK,
	NH_SA_MISSING,	  /* no token file (automount disabled) */
	NH_SA_UNREADABLE, /* not a regular file, too large, permission */
	NH_SA_MALFORMED,  /* not a service-account JWT */
	NH_SA_REJECTED,	  /* a JWT that is not believed (signature, expiry, keys) */
};

/* One copy of a pod's token: the kubelet's or the pod's own view. */
struct nh_sa_copy {
	enum nh_sa_state state; /* of the last attempt */
	const char *why;
	bool have;	      /* claims hold the last good decode */
	bool verified;	      /* signature and validity checked */
	const char *distrust; /* static reason the claims are not believed, or NULL */
	struct nh_sa_claims claims;
	char key[NH_SA_KEY_MAX];
	char fingerprint[NH_FINGERPRINT_MAX];
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	uint64_t keys_gen; /* key set the verdict was reached with */
	uint32_t reads;
};

/* What the agent believes about a pod: the fields up to reads describe
 * the believed token (have_claims) or why there is none (state, why). */
struct nh_sa {
	char pod_uid[40];
	enum nh_sa_state state;
	const char *why;	    /* static reason when not OK */
	struct nh_sa_claims claims; /* the believed token's */
	bool have_claims;
	char key[NH_SA_KEY_MAX];	      /* "k8s:sa/<ns>/<name>" when have_claims */
	char fingerprint[NH_FINGERPRINT_MAX]; /* of the token, never the token */
	enum nh_identity_source source;	      /* KUBELET_VOLUME or CONTAINER_ROOT */
	bool verified;
	uint64_t checked_ns; /* last stat or read attempt */
	uint64_t judged_gen; /* key set of the last check */
	uint32_t last_pid;   /* the last process the token was read through */
	uint32_t reads;	     /* successful reads: 1 + rotations seen */
	struct nh_sa_copy host, own;
	/* A claim that contradicts the believed one, to be reported once:
	 * conflict is set until nh_satokens_conflict_done(). */
	bool conflict;
	char conflict_claim[NH_SA_KEY_MAX];
	char conflict_believed[NH_SA_KEY_MAX];
	const char *conflict_reason;
	/* Claims already reported: once each, and at most NH_SA_CONFLICTS_MAX
	 * per pod, so a pod cycling through names cannot flood findings. */
	char reported[NH_SA_CONFLICTS_MAX][NH_SA_KEY_MAX];
	uint32_t nreported;
};

struct nh_satoken_trust {
	const char *kubelet_root; /* NULL or "": no host copy */
	const char *jwks_file;	  /* NULL: no key file */
	enum nh_verify_mode mode;
	struct nh_verify_conf verify;
};

struct nh_satokens {
	struct nh_u64map pods; /* hash(pod uid) -> struct nh_sa */
	const struct nh_cgroupfs *fs;
	const struct nh_log *log;
	const struct nh_fingerprinter *fp; /* set by the owner; NULL: no fingerprints */
	char rel_path[256];		   /* token path relative to the container root */
	uint64_t recheck_ns;
	uint64_t reads, rotations, failures;
	uint64_t host_reads, verified, rejected, conflicts;
	char kubelet_root[PATH_MAX]; /* "" when off */
	char jwks_file[PATH_MAX];    /* "" when none */
	struct timespec jwks_mtime;
	struct nh_jwks keys;
	uint64_t keys_gen; /* bumped whenever the key set changes */
	bool want_keys;	   /* a token named a kid the set lacks: fetch again */
	enum nh_verify_mode mode;
	struct nh_verify_conf verify;
	char issuer[256], audience[256];
	/* Reads off the loop (worker.h) when set by the owner; NULL: inline. */
	struct nh_worker *worker;
	uint64_t wait_ns; /* a read just handed out is waited for at most this long */
	uint64_t stalled; /* reads past the worker's deadline */
	uint64_t busy;	  /* reads not handed out: the worker's queue was full */
};

/* path: absolute path of the token inside the container (NULL: default). */
int nh_satokens_init(struct nh_satokens *t, const struct nh_cgroupfs *fs, const struct nh_log *log,
		     const char *path, uint64_t recheck_ns, size_t max_pods);
void nh_satokens_free(struct nh_satokens *t);
/* Where the kubelet's copies are and how tokens are verified. Loads the
 * key file when one is named: -errno with *why when it cannot be used. */
int nh_satokens_set_trust(struct nh_satokens *t, const struct nh_satoken_trust *tr,
			  const char **why);
/* Replace the key set (a fetch from the API server); takes ownership. */
void nh_satokens_set_keys(struct nh_satokens *t, struct nh_jwks *keys);

/*
 * The service account of pod_uid for an event of tgid in cgroup_path
 * (below the mount; may be NULL). The token is read through the first
 * live process of: tgid, the last one that served, the cgroup's members;
 * each is checked to be in that pod before its /proc/<pid>/root is
 * trusted, since a pid may have been reused. Reads on first sight,
 * re-checks for rotation at most every recheck interval. NULL only when
 * out of memory; otherwise see state and have_claims.
 */
struct nh_sa *nh_satokens_get(struct nh_satokens *t, const char *pod_uid, uint32_t tgid,
			      const char *cgroup_path, uint64_t now_ns);
/* What is known of pod_uid now, without reading anything; NULL when
 * nothing is. */
const struct nh_sa *nh_satokens_peek(const struct nh_satokens *t, const char *pod_uid);
/* The pending conflict was reported. */
void nh_satokens_conflict_done(struct nh_satokens *t, struct nh_sa *sa);
void nh_satokens_forget(struct nh_satokens *t, const char *pod_uid);

const char *nh_sa_state_name(enum nh_sa_state s);

#endif
