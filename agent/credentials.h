/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials: the registry of credentials seen on this node — which
 * identities used each one, when first and last, how often. A credential
 * used by more than one identity is flagged as reused. Pure bookkeeping,
 * bounded, no I/O.
 *
 * A credential is named by an id chosen by the caller so that the same
 * secret is one entry wherever it is reached from: a file by (device,
 * inode) when it can be examined, a service-account token by its
 * fingerprint, an endpoint by address and port.
 */
#ifndef NH_CREDENTIALS_H
#define NH_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quotamap.h"

#define NH_CRED_ID_MAX	     128
#define NH_CRED_KIND_MAX     32
#define NH_CRED_NAME_MAX     300
#define NH_CRED_IDENTITY_MAX 336 /* NH_IDENTITY_KEY_MAX: a key is never cut */
#define NH_CRED_USERS_MAX    8	 /* identities listed per credential; more are counted */

struct nh_credential {
	char id[NH_CRED_ID_MAX];
	char kind[NH_CRED_KIND_MAX];
	char name[NH_CRED_NAME_MAX]; /* path or endpoint, as first used */
	uint64_t first_ns, last_ns, uses;
	size_t nusers;		 /* identities listed below */
	uint64_t users_unlisted; /* identities beyond NH_CRED_USERS_MAX */
	char users[NH_CRED_USERS_MAX][NH_CRED_IDENTITY_MAX];
};

/* Each entry is owned by the identity that first used it, and one identity
 * owns at most an eighth of the registry: a workload passing thousands of
 * secrets in argv pushes out its own entries, never another identity's
 * (which would make a stolen credential's next user look like a first). */
struct nh_credentials {
	struct nh_quotamap map; /* hash(id) -> struct nh_credential */
	uint64_t evicted;	/* entries pushed out (map.evicted) */
	uint64_t collisions;	/* ids whose every slot another id held: not recorded */
};

int nh_credentials_init(struct nh_credentials *r, size_t max);
static inline size_t nh_credentials_len(const struct nh_credentials *r)
{
	return nh_quotamap_len(&r->map);
}
void nh_credentials_free(struct nh_credentials *r);

enum nh_cred_use {
	NH_CRED_KNOWN = 0, /* this identity had used it before */
	NH_CRED_FIRST = 1, /* the first identity to use it */
	NH_CRED_REUSE = 2, /* a new identity for a credential another one used */
};

/*
 * Record count uses. Returns enum nh_cred_use (reuse is reported once per
 * new identity) or -errno. *out (may be NULL) points at the entry until
 * the next call.
 */
int nh_credentials_use(struct nh_credentials *r, const char *id, const char *kind, const char *name,
		       const char *identity, uint64_t ts_ns, uint64_t count,
		       const struct nh_credential **out);

static inline bool nh_credential_reused(const struct nh_credential *c)
{
	return c->nusers + c->users_unlisted > 1;
}

/* Iteration as nh_u64map_next. */
const struct nh_credential *nh_credentials_next(const struct nh_credentials *r, size_t *iter);

#endif
