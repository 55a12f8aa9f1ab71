// SPDX-License-Identifier: Apache-2.0
#include "credentials.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nh_credentials_init(struct nh_credentials *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	return nh_quotamap_init(&r->map, max, 0, free);
}

void nh_credentials_free(struct nh_credentials *r)
{
	nh_quotamap_free(&r->map);
}

#define NH_CRED_PROBES 4

/* The try-th slot key of id: ids are partly chosen by workloads (an
 * endpoint), so a colliding id takes another slot rather than the one of
 * the credential it collides with. */
static uint64_t id_key(const char *id, int try)
{
	uint64_t k = nh_hash_str(id);

	for (int i = 0; i < try; i++)
		k = nh_hash64(k + 0x9e3779b97f4a7c15ULL);
	return k ? k : 1;
}

static bool has_user(const struct nh_credential *c, const char *identity)
{
	for (size_t i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i], identity) == 0)
			return true;
	return false;
}

int nh_credentials_use(struct nh_credentials *r, const char *id, const char *kind, const char *name,
		       const char *identity, uint64_t ts_ns, uint64_t count,
		       const struct nh_credential **out)
{
	struct nh_credential *c = NULL;
	uint64_t k = 0;
	int ret = NH_CRED_KNOWN, code;

	for (int try = 0; try < NH_CRED_PROBES; try++) {
		k = id_key(id, try);
		c = nh_quotamap_get(&r->map, k);
		if (!c || strcmp(c->id, id) == 0)
			break;
		c = NULL;
		k = 0; /* another id holds this slot */
	}
	if (!k) {
		r->collisions++;
		return -ENOSPC;
	}
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		snprintf(c->id, sizeof(c->id), "%s", id);
		snprintf(c->kind, sizeof(c->kind), "%s", kind);
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->first_ns = ts_ns;
		code = nh_quotamap_put(&r->map, nh_hash_str(identity), k, c);
		r->evicted = r->map.evicted;
		if (code)
			return code;
	}
	c->uses += count;
	c->last_ns = ts_ns;
	if (!has_user(c, identity)) {
		/* Past the list bound a returning identity cannot be told from
		 * a new one: it is counted, and reuse is already flagged. */
		ret = c->nusers + c->users_unlisted > 0 ? NH_CRED_REUSE : NH_CRED_FIRST;
		if (c->nusers < NH_CRED_USERS_MAX)
			snprintf(c->users[c->nusers++], NH_CRED_IDENTITY_MAX, "%s", identity);
		else
			c->users_unlisted++;
	}
	if (out)
		*out = c;
	return ret;
}

const struct nh_credential *nh_credentials_next(const struct nh_credentials *r, size_t *iter)
{
	return nh_quotamap_next(&r->map, iter);
}
