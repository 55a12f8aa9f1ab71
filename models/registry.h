/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry: the profiles of a struct nh_models, by identity. Open
 * addressing (linear probing) over m->slots keyed by a 64-bit hash of the
 * identity; the table doubles at 3/4 load and holds at most max_profiles.
 * Profiles are never removed one by one, so no tombstones are needed.
 */
#ifndef NH_MODELS_REGISTRY_H
#define NH_MODELS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "models.h"
#include "profile.h"

uint64_t nh_registry_hash(const char *identity, size_t len);

/* Length of a valid identity (1..NH_MODEL_IDENTITY_MAX - 1 bytes), or 0. */
size_t nh_registry_idlen(const char *identity);

struct nh_profile *nh_registry_find(const struct nh_models *m, const char *identity, size_t len,
				    uint64_t hash);

/* Add p, or replace (and free) the profile with p's identity. -ENOSPC
 * when a new identity would pass max_profiles, -ENOMEM; p is not owned
 * by the registry on error. */
int nh_registry_put(struct nh_models *m, struct nh_profile *p);

void nh_registry_free(struct nh_models *m);

#endif
