/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models: the public face of the behaviour models (see models.h): config,
 * lifecycle, novelty and rate anomalies over the registry's profiles.
 *
 * Lifecycle. A profile is created learning at its first observation
 * (created = that observation's time). It turns stable once now - created
 * >= learn_ns and now - last_new >= quiet_ns, checked by every tick (now)
 * and every observation (its timestamp). nh_models_reset empties it and
 * starts learning again.
 *
 * Novelty. An observation the profile does not cover is added to it; in
 * stable it is also one anomaly, and being stored it never alerts again.
 * A novel item that a full bound drops (profile.c) still alerts in stable,
 * once while the per-profile memo of the last 16 such values remembers it.
 * While learning a dropped item does not count as new for the quiet
 * period: a profile that has hit its bound would otherwise never settle.
 * With no room in out, an anomaly is counted but not returned.
 *
 * Rates. Every observation adds its count (a summary's repeats included)
 * to its category's open minute; only nh_models_tick closes minutes
 * (event timestamps are not trusted to move the clock), so an event
 * belongs to the minute the next tick closes. Rate anomalies are handed
 * out by tick; reports that did not fit in out wait for the next call.
 */
#include "models.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "profile.h"
#include "registry.h"
#include "technique.h"

#define NH_ITEMS_LIMIT 65535 /* largest accepted max_items */

static const char *const cat_names[NH_CAT_MAX] = {
    "exec", "egress", "ingress", "file", "credential", "privilege", "isolation"};

/* Bounds for a typical workload with room to spare: a stable profile of
 * 20 binaries, 30 destinations, 5 ports, 80 files, 5 credentials and 2
 * privilege changes uses about a tenth of them. */
static const uint32_t default_max_items[NH_CAT_MAX] = {128, 128, 64, 256, 64, 32, 32};

void nh_model_config_defaults(struct nh_model_config *c)
{
	memset(c, 0, sizeof(*c));
	c->learn_ns = 24ull * 3600 * 1000000000ull;
	c->quiet_ns = 3600ull * 1000000000ull;
	memcpy(c->max_items, default_max_items, sizeof(c->max_items));
	c->max_children = 32;
	c->max_hosts = 8;
	c->ewma_alpha = 0.1;
	c->rate_sigmas = 6;
	c->rate_min = 100;
	c->rate_warmup = 10;
}

static bool config_ok(const struct nh_model_config *c)
{
	for (int i = 0; i < NH_CAT_MAX; i++)
		if (c->max_items[i] == 0 || c->max_items[i] > NH_ITEMS_LIMIT)
			return false;
	return c->max_children >= 1 && c->max_children <= NH_ITEMS_LIMIT && c->max_hosts >= 1 &&
	       c->ewma_alpha > 0 && c->ewma_alpha <= 1 && isfinite(c->rate_sigmas) &&
	       c->rate_sigmas >= 0 && isfinite(c->rate_min) && c->rate_min >= 0;
}

int nh_models_init(struct nh_models *m, const struct nh_model_config *cfg, size_t max_profiles)
{
	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (cfg)
		m->cfg = *cfg;
	else
		nh_model_config_defaults(&m->cfg);
	if (!config_ok(&m->cfg) || max_profiles == 0)
		return -EINVAL;
	m->max_profiles = max_profiles;
	return 0;
}

void nh_models_free(struct nh_models *m)
{
	if (!m)
		return;
	nh_registry_free(m);
	memset(m, 0, sizeof(*m));
}

static struct nh_profile *lookup(const struct nh_models *m, const char *identity)
{
	size_t n = nh_registry_idlen(identity);

	return n ? nh_registry_find(m, identity, n, nh_registry_hash(identity, n)) : NULL;
}

/* The checks that do not need a profile, so a bad observation of a new
 * identity creates nothing. */
static bool observation_ok(const struct nh_observation *o)
{
	switch (o->cat) {
	case NH_CAT_EXEC:
	case NH_CAT_FILE:
	case NH_CAT_CREDENTIAL:
	case NH_CAT_PRIVILEGE:
	case NH_CAT_ISOLATION:
		return o->value && *o->value;
	case NH_CAT_EGRESS:
		return o->family == AF_INET || o->family == AF_INET6;
	case NH_CAT_INGRESS:
		return true;
	default:
		return false;
	}
}

static void stabilise_if_ready(const struct nh_models *m, struct nh_profile *p, uint64_t now)
{
	if (p->state == NH_PROFILE_LEARNING && nh_profile_ready(p, &m->cfg, now))
		nh_profile_stabilise(p, now);
}

static uint64_t age(const struct nh_profile *p, uint64_t now)
{
	return now > p->created_ns ? now - p->created_ns : 0;
}

static void novel_anomaly(struct nh_anomaly *a, const struct nh_profile *p, const struct nh_key *k,
			  uint64_t ts, uint32_t items)
{
	struct nh_verdict v;

	memset(a, 0, sizeof(*a));
	nh_technique_novel(k->cat, k->value, &v);
	a->identity = p->identity;
	a->cat = k->cat;
	a->severity = v.severity;
	a->technique = v.technique;
	a->technique_name = v.technique_name;
	memcpy(a->value, k->value, k->len);
	a->value[k->len] = '\0';
	a->baseline_age_ns = age(p, ts);
	a->baseline_items = items;
}

int nh_models_observe(struct nh_models *m, const char *identity, const struct nh_observation *o,
		      struct nh_anomaly *out, size_t max)
{
	return nh_models_observe_known(m, identity, o, out, max, NULL);
}

int nh_models_observe_known(struct nh_models *m, const char *identity,
			    const struct nh_observation *o, struct nh_anomaly *out, size_t max,
			    bool *known)
{
	size_t n = nh_registry_idlen(identity);
	uint64_t h, count, ts;
	struct nh_profile *p;
	struct nh_key k;
	uint32_t before;
	int64_t off;
	int rc;

	if (!m || !n || !o || !observation_ok(o))
		return -EINVAL;
	h = nh_registry_hash(identity, n);
	ts = o->ts_ns;
	p = nh_registry_find(m, identity, n, h);
	if (!p) {
		if (m->len >= m->max_profiles) {
			m->dropped++;
			return -ENOSPC;
		}
		p = nh_profile_new(identity, n, h, ts);
		if (!p)
			return -ENOMEM;
		rc = nh_registry_put(m, p);
		if (rc) {
			nh_profile_free(p);
			if (rc == -ENOSPC)
				m->dropped++;
			return rc;
		}
	}
	stabilise_if_ready(m, p, ts);
	off = nh_profile_match(p, &m->cfg, o, m->scratch, &k);
	if (off < 0 && off != -ENOENT)
		return (int)off;
	if (known)
		*known = off >= 0 && p->state == NH_PROFILE_STABLE;
	count = o->count ? o->count : 1;
	p->events = p->events + count < p->events ? UINT64_MAX : p->events + count;
	nh_rate_count(&p->rate, o->cat, count);
	if (off >= 0) {
		nh_profile_touch(p, off, ts, count);
		if (o->cat == NH_CAT_EXEC && o->parent)
			(void)nh_profile_parent(p, off, o->parent); /* context only */
		return 0;
	}
	before = p->nitems[k.cat];
	rc = nh_profile_add(p, &m->cfg, &k, ts, count, &off);
	if (rc < 0)
		return rc;
	if (rc != NH_ADD_DROPPED) {
		if (ts > p->last_new_ns)
			p->last_new_ns = ts;
		if (o->cat == NH_CAT_EXEC && o->parent && rc == NH_ADD_STORED)
			(void)nh_profile_parent(p, off, o->parent);
	}
	if (p->state != NH_PROFILE_STABLE)
		return 0;
	if (rc == NH_ADD_DROPPED &&
	    nh_profile_memo(p, nh_profile_value_hash(k.cat, k.value, k.len)))
		return 0;
	p->anomalies++;
	if (!out || max == 0)
		return 0;
	novel_anomaly(out, p, &k, ts, before);
	return 1;
}

bool nh_models_known(struct nh_models *m, const char *identity, const struct nh_observation *o)
{
	struct nh_profile *p;
	struct nh_key k;

	if (!m || !o || !observation_ok(o))
		return false;
	p = lookup(m, identity);
	if (!p || p->state != NH_PROFILE_STABLE)
		return false;
	return nh_profile_match(p, &m->cfg, o, m->scratch, &k) >= 0;
}

int nh_models_tick(struct nh_models *m, uint64_t now_ns, struct nh_anomaly *out, size_t max)
{
	size_t n = 0;

	if (!m)
		return -EINVAL;
	if (!out)
		max = 0;
	for (size_t i = 0; i < m->cap; i++) {
		struct nh_profile *p = m->slots[i];

		if (!p)
			continue;
		stabilise_if_ready(m, p, now_ns);
		nh_rate_advance(&p->rate, now_ns, &m->cfg, p->state == NH_PROFILE_STABLE);
		while (p->rate.pending && n < max) {
			int c = __builtin_ctz(p->rate.pending);
			struct nh_anomaly *a = &out[n++];
			struct nh_verdict v;

			nh_technique_rate((enum nh_category)c, &v);
			memset(a, 0, sizeof(*a));
			a->identity = p->identity;
			a->cat = (enum nh_category)c;
			a->severity = v.severity;
			a->rate = true;
			a->technique = v.technique;
			a->technique_name = v.technique_name;
			strcpy(a->value, cat_names[c]);
			a->baseline_age_ns = age(p, now_ns);
			a->baseline_items = p->nitems[c];
			a->per_min = p->rate.report[c].rate;
			a->mean = p->rate.report[c].mean;
			a->stddev = p->rate.report[c].stddev;
			p->rate.pending &= (uint8_t) ~(1u << c);
			p->anomalies++;
		}
	}
	return (int)n;
}

static void fill_info(const struct nh_profile *p, struct nh_profile_info *out)
{
	memset(out, 0, sizeof(*out));
	out->identity = p->identity;
	out->state = (enum nh_profile_state)p->state;
	out->created_ns = p->created_ns;
	out->stable_ns = p->stable_ns;
	out->last_new_ns = p->last_new_ns;
	memcpy(out->items, p->nitems, sizeof(out->items));
	memcpy(out->bounded, p->bounded, sizeof(out->bounded));
	out->events = p->events;
	out->anomalies = p->anomalies;
	out->bytes = nh_profile_bytes(p);
	out->dropped = p->dropped;
}

int nh_models_info(const struct nh_models *m, const char *identity, struct nh_profile_info *out)
{
	const struct nh_profile *p;

	if (!m || !out || !nh_registry_idlen(identity))
		return -EINVAL;
	p = lookup(m, identity);
	if (!p)
		return -ENOENT;
	fill_info(p, out);
	return 0;
}

bool nh_models_next(const struct nh_models *m, size_t *iter, struct nh_profile_info *out)
{
	if (!m || !iter || !out)
		return false;
	for (size_t i = *iter; i < m->cap; i++) {
		if (m->slots[i]) {
			fill_info(m->slots[i], out);
			*iter = i + 1;
			return true;
		}
	}
	*iter = m->cap;
	return false;
}

/* By category, each in the order items were learned. fn must not call
 * into the models (the items live in the profile's arena). */
int nh_models_items(const struct nh_models *m, const char *identity, nh_item_fn fn, void *ctx)
{
	const struct nh_profile *p;

	if (!m || !fn || !nh_registry_idlen(identity))
		return -EINVAL;
	p = lookup(m, identity);
	if (!p)
		return -ENOENT;
	for (int c = 0; c < NH_CAT_MAX; c++) {
		for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off))) {
			struct nh_item *it = (struct nh_item *)nh_rec_at(p, off);

			if (it->h.kind == c)
				fn(ctx, (enum nh_category)c, it->value, it->count, it->first_ns,
				   it->last_ns);
		}
	}
	return 0;
}

int nh_models_reset(struct nh_models *m, const char *identity, uint64_t now_ns)
{
	struct nh_profile *p;

	if (!m || !nh_registry_idlen(identity))
		return -EINVAL;
	p = lookup(m, identity);
	if (!p)
		return -ENOENT;
	nh_profile_clear(p, now_ns);
	return 0;
}

const char *nh_category_name(enum nh_category cat)
{
	return (unsigned)cat < NH_CAT_MAX ? cat_names[cat] : "unknown";
}

int nh_category_parse(const char *name)
{
	for (int c = 0; name && c < NH_CAT_MAX; c++)
		if (strcmp(name, cat_names[c]) == 0)
			return c;
	return -EINVAL;
}

const char *nh_severity_name(enum nh_severity sev)
{
	static const char *const names[] = {"low", "medium", "high", "critical"};

	return sev >= NH_SEV_LOW && sev <= NH_SEV_CRITICAL ? names[sev - NH_SEV_LOW] : "unknown";
}

const char *nh_profile_state_name(enum nh_profile_state st)
{
	return st == NH_PROFILE_LEARNING ? "learning"
	       : st == NH_PROFILE_STABLE ? "stable"
					 : "unknown";
}
