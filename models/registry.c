/* SPDX-License-Identifier: Apache-2.0 */
/* registry: profiles by identity (see registry.h). */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define SLOTS_MIN 16

uint64_t nh_registry_hash(const char *identity, size_t len)
{
	return nh_mhash(identity, len, NH_HASH_SEED);
}

size_t nh_registry_idlen(const char *identity)
{
	size_t n;

	if (!identity)
		return 0;
	n = strnlen(identity, NH_MODEL_IDENTITY_MAX);
	return n < NH_MODEL_IDENTITY_MAX ? n : 0;
}

/* The slot holding identity, or the empty one where it would go. */
static struct nh_profile **slot(const struct nh_models *m, const char *identity, size_t len,
				uint64_t hash)
{
	size_t i, mask = m->cap - 1;

	for (i = hash & mask;; i = (i + 1) & mask) {
		struct nh_profile *p = m->slots[i];

		if (!p ||
		    (p->hash == hash && p->idlen == len && memcmp(p->identity, identity, len) == 0))
			return &m->slots[i];
	}
}

struct nh_profile *nh_registry_find(const struct nh_models *m, const char *identity, size_t len,
				    uint64_t hash)
{
	return m->cap ? *slot(m, identity, len, hash) : NULL;
}

static int grow(struct nh_models *m)
{
	size_t cap = m->cap ? m->cap * 2 : SLOTS_MIN, old = m->cap;
	struct nh_profile **slots = calloc(cap, sizeof(*slots)), **prev = m->slots;

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->cap = cap;
	for (size_t i = 0; i < old; i++)
		if (prev[i])
			*slot(m, prev[i]->identity, prev[i]->idlen, prev[i]->hash) = prev[i];
	free(prev);
	return 0;
}

int nh_registry_put(struct nh_models *m, struct nh_profile *p)
{
	struct nh_profile **s = m->cap ? slot(m, p->identity, p->idlen, p->hash) : NULL;
	int err;

	if (s && *s) {
		nh_profile_free(*s);
		*s = p;
		return 0;
	}
	if (m->len >= m->max_profiles)
		return -ENOSPC;
	if ((m->len + 1) * 4 > m->cap * 3) {
		err = grow(m);
		if (err)
			return err;
	}
	*slot(m, p->identity, p->idlen, p->hash) = p;
	m->len++;
	return 0;
}

void nh_registry_free(struct nh_models *m)
{
	for (size_t i = 0; i < m->cap; i++)
		nh_profile_free(m->slots[i]);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->len = 0;
}
