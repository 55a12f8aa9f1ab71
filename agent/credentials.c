// SPDX-License-Identifier: Apache-2.0
#include "credentials.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nh_credentials_init(struct nh_credentials *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	return nh_u64map_init(&r->map, max);
}

void nh_credentials_free(struct nh_credentials *r)
{
	size_t it = 0;
	uint64_t k;
	void *v;

	while (nh_u64map_next(&r->map, &it, &k, &v))
		free(v);
	nh_u64map_free(&r->map);
}

static uint64_t id_key(const char *id)
{
	uint64_t k = nh_hash_str(id);

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
	uint64_t k = id_key(id);
	struct nh_credential *c = nh_u64map_get(&r->map, k);
	void *victim = NULL, *old = NULL;
	int ret = NH_CRED_KNOWN;

	if (c && strcmp(c->id, id) != 0)
		c = NULL; /* a colliding hash: the newer credential takes the slot */
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		snprintf(c->id, sizeof(c->id), "%s", id);
		snprintf(c->kind, sizeof(c->kind), "%s", kind);
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->first_ns = ts_ns;
		if (nh_u64map_put_evict(&r->map, k, c, &old, &victim) != 0) {
			free(c);
			return -ENOMEM;
		}
		r->evicted += (victim != NULL) + (old != NULL);
		free(victim);
		free(old);
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
	uint64_t k;
	void *v;

	return nh_u64map_next(&r->map, iter, &k, &v) ? v : NULL;
}
