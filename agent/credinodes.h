/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credinodes: the credential files the kernel recognises by (device,
 * inode) at every successful open (nhiscope.h, the inode map), so that
 * '..', /proc/<pid>/root, relative and dirfd paths, symlinks, hard links
 * and paths too long for the BPF buffer all lead to the credential:
 *   - host files the catalogue names: its absolute rules expanded with
 *     glob(3), its relative ones under every user's home directory
 *     ("DIR/" subtree rules are not walked; they match by path only);
 *   - pod tokens in the kubelet's projected volumes (<kubelet root>/pods/
 *     <uid>/volumes/kubernetes.io~projected/<vol>/token): the current
 *     token file, and the volume directory itself, so a token the kubelet
 *     rotates in (a new file in a new directory) is matched from its first
 *     open (maps.bpf.h, nh_cred_of).
 * Rescanned periodically; an entry that disappears leaves the kernel map
 * at once and this table a while later, so events already in the ring
 * still find it. Files created between two scans, and failed opens, are
 * matched by path (catalogue.h).
 *
 * Keys are learned through the kernel (learn below, nh_probes_inode_learn)
 * from a descriptor of the agent's own, never from stat(2): see nhiscope.h.
 * Only probes.c knows BPF: this module calls it through the ops.
 */
#ifndef NH_CREDINODES_H
#define NH_CREDINODES_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "catalogue.h"
#include "nhiscope.h"
#include "u64map.h"
#include "worker.h"

#define NH_CREDINODES_MAX     8192 /* entries; more files are counted, not matched */
#define NH_CREDINODE_NAME_MAX 512
#define NH_CREDINODES_KEEP_NS (60ULL * 1000000000ULL) /* a gone entry, for late events */
/* A pod token the kubelet rotated out is still a valid token until its exp
 * claim: its old inode (kept alive by a hard link, or an open descriptor
 * passed on) stays in the kernel map that long while the pod's volume
 * exists, at most ROTATED_MAX; a token whose exp cannot be read, for
 * ROTATED_DEFAULT (a projected token's usual lifetime). */
#define NH_CREDINODES_ROTATED_MAX_NS	 (24ULL * 3600 * 1000000000ULL)
#define NH_CREDINODES_ROTATED_DEFAULT_NS (3600ULL * 1000000000ULL)

struct nh_credinode {
	uint32_t id;
	uint32_t kind; /* enum nh_inode_kind */
	struct nh_inode_key key;
	char cred_kind[NH_CAT_KIND_MAX + 1];
	/* The canonical name: the host path, or for a pod's service-account
	 * volume the token path inside pods */
	char name[NH_CREDINODE_NAME_MAX];
	char pod_uid[64]; /* volumes and their tokens */
	/* volumes and their tokens: the kubelet's path of the token, which
	 * names the pod, for an open from anywhere but that pod */
	char host[NH_CREDINODE_NAME_MAX];
	uint64_t seen;	  /* the last scan that found it */
	uint64_t gone_ns; /* left the kernel map; 0 while in it */
	/* pod tokens: until when the token is valid (scan clock), and since
	 * when it is a rotated-out token kept for that (0: current) */
	uint64_t valid_until_ns;
	uint64_t rotated_ns;
};

struct nh_credinodes_ops {
	int (*learn)(void *ctx, int fd, struct nh_inode_key *key);
	int (*put)(void *ctx, const struct nh_inode_key *key, const struct nh_inode_val *val);
	int (*del)(void *ctx, const struct nh_inode_key *key);
	void *ctx;
	/* optional: the filter bits of every key in the map after a scan
	 * (NH_CRED_FILTER_WORDS words), so deleted keys' bits clear */
	void (*filter)(void *ctx, const uint64_t *bits);
};

struct nh_credinodes {
	struct nh_u64map by_id;	 /* id -> struct nh_credinode (live and gone) */
	struct nh_u64map by_key; /* hash of the key -> the live entry */
	struct nh_credinodes_ops ops;
	uint32_t next_id;
	uint64_t scans;
	char kubelet_root[PATH_MAX]; /* "" when none */
	const char *sa_token_path;   /* canonical name of service-account tokens */
	/* of the last scan */
	uint64_t files, volumes;
	uint64_t rotated; /* rotated-out tokens kept until they expire */
	uint64_t now_ns;  /* the scan in progress */
	/* since the start */
	uint64_t errors;    /* a found file that could not be learned or put */
	uint64_t overflows; /* files beyond NH_CREDINODES_MAX */
	/* When set, the walk runs there (a file system that never answers
	 * holds a worker, not the loop) and is applied on the loop when it
	 * is back; one walk at a time. */
	struct nh_worker *worker;
	uint64_t scans_skipped; /* the last walk was still out */
	/* set by free: a walk that comes unstuck later learns no more keys
	 * (the BPF side may be gone) */
	atomic_bool closed;
};

int nh_credinodes_init(struct nh_credinodes *c, const struct nh_credinodes_ops *ops,
		       const char *kubelet_root, const char *sa_token_path);
/* Removes every entry from the kernel map too. */
void nh_credinodes_free(struct nh_credinodes *c);

/* Find the catalogue's files and the kubelet's volumes and bring the
 * kernel map in line: new files in, gone ones out (a rotated-out token
 * of a volume still there stays until it expires). With a worker, the
 * walk is handed out (key: c) and applied when it is back; the catalogue
 * must outlive it. now_ns is a monotonic clock, wall_s the same instant
 * in seconds since the epoch (for exp claims). 0 or -ENOMEM. */
int nh_credinodes_scan(struct nh_credinodes *c, const struct nh_catalogue *cat, uint64_t now_ns,
		       int64_t wall_s);

/* The canonical name for an open from pod_uid (NULL: not a pod): a pod's
 * token as the pod knows it when it reads its own, from anywhere else by
 * the kubelet's path, which says whose it is. */
static inline const char *nh_credinode_name(const struct nh_credinode *c, const char *pod_uid)
{
	return !c->pod_uid[0] || (pod_uid && strcmp(pod_uid, c->pod_uid) == 0) ? c->name : c->host;
}

/* The entry an event's cred_id names; NULL when unknown. */
const struct nh_credinode *nh_credinodes_get(const struct nh_credinodes *c, uint32_t id);

#endif
