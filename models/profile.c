/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile: one identity's items (see profile.h for the layout).
 *
 * Matching. A raw value is looked up as it is first: most observations
 * are already canonical ("/usr/bin/curl", "/etc/hosts"), and stored items
 * are fixed points of normalisation, so a hit is exact. Only a miss pays
 * for normalising (and, for files, folding wide directories) and a
 * second lookup. Values longer than an item can be skip the raw lookup:
 * cutting could hide a ".." that normalisation would apply.
 *
 * Exec: the item is the binary; each item keeps up to
 * NH_EXEC_PARENTS_MAX parent binaries as context. Novelty is on the
 * binary alone: the kernel's dedup keys exec by binary, so a verdict that
 * depended on the parent could not be kept in the kernel.
 *
 * Files: when a directory already has max_children distinct children, a
 * new child is folded into "*" (so "/tmp/a1".."/tmp/a32" stay and
 * "/tmp/a33" becomes "/tmp/\*", which then covers every further new child
 * of /tmp; "*" stands for one segment: a new "/tmp/x/y" is stored as
 * "/tmp/" "*" "/y"). Existing children are kept, not merged: what was
 * learned stays known. Children are counted from the items alone, so a restored
 * snapshot folds exactly as the profile it came from.
 *
 * Bounds (cfg.max_items per category). Reaching one sets bounded[cat].
 *   egress: first every group of exact addresses in one /24 (IPv4) or /64
 *     (IPv6) with one port that has more than max_hosts members (the new
 *     destination included) becomes "10.0.0.0/24:443"; if that freed no
 *     room, the port with most items (exact or prefix, the new one
 *     included; lowest port on a tie) becomes "*:443". A destination
 *     covered by a prefix or port-only item is known.
 *   file: the directory with most items directly in it (the new one
 *     included) has them merged into "dir/\*", flagged wide: from then on
 *     the directory folds every new child, as if it had max_children.
 *   Merged items keep the earliest first, latest last and summed count.
 *   If nothing can be merged, or for the other categories, the new item
 *     is dropped (counted in p->dropped) and stays novel: models.c alerts
 *     for it once, remembered in the memo, but does not store it.
 */
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hash.h"

#define ARENA_MIN 256	     /* first arena allocation, bytes */
#define NEW_ITEM  UINT32_MAX /* member standing for the item being added */

/* Slots for n entries: load at most 0.8 (linear probing stays short). */
static uint32_t cap_for(uint64_t n)
{
	return n ? (uint32_t)(n + n / 4 + 2) : 0;
}

static uint64_t seed_of(unsigned kind, uint32_t owner)
{
	uint64_t s = nh_mhash_seed(kind);

	return kind == NH_REC_EDGE ? s ^ (((uint64_t)owner + 1) * 0x9e3779b97f4a7c15ull) : s;
}

static uint64_t dir_seed(void)
{
	return nh_mhash_seed(NH_REC_EDGE + 1);
}

/* A slot from 32 bits of hash, without a division. */
static inline uint32_t slot_of(uint32_t h, uint32_t cap)
{
	return (uint32_t)(((uint64_t)h * cap) >> 32);
}

uint64_t nh_profile_value_hash(enum nh_category cat, const char *value, size_t len)
{
	return nh_mhash(value, len, seed_of(cat, 0));
}

static uint64_t rec_hash(struct nh_rec *r)
{
	return nh_mhash(nh_rec_value(r), r->len, seed_of(r->kind, r->aux));
}

/* ---- index ---- */

static int64_t find(const struct nh_profile *p, unsigned kind, uint32_t owner, const char *v,
		    size_t len)
{
	uint64_t h;
	uint32_t tag, i, cap = p->index_cap;

	if (!cap || len > NH_VALUE_LEN_MAX)
		return -ENOENT;
	h = nh_mhash(v, len, seed_of(kind, owner));
	tag = (uint32_t)(h >> 32);
	for (i = slot_of((uint32_t)h, cap);;) {
		uint64_t s = p->index[i];

		if (!s)
			return -ENOENT;
		if ((uint32_t)(s >> 32) == tag) {
			uint32_t off = (uint32_t)s - 1;
			struct nh_rec *r = nh_rec_at(p, off);

			if (r->kind == kind && r->len == len &&
			    (kind != NH_REC_EDGE || r->aux == owner) &&
			    memcmp(nh_rec_value(r), v, len) == 0)
				return off;
		}
		if (++i == cap)
			i = 0;
	}
}

static void index_put(uint64_t *ix, uint32_t cap, uint64_t h, uint32_t off)
{
	uint32_t i = slot_of((uint32_t)h, cap);

	while (ix[i])
		if (++i == cap)
			i = 0;
	ix[i] = (h >> 32) << 32 | ((uint64_t)off + 1);
}

/* A new index over the live records of arena; *n gets their number. */
static uint64_t *index_build(const char *arena, uint32_t len, uint32_t cap, uint32_t *n)
{
	uint64_t *ix = calloc(cap ? cap : 1, sizeof(*ix));
	uint32_t off;

	*n = 0;
	if (!ix)
		return NULL;
	for (off = 0; off < len;) {
		struct nh_rec *r = (struct nh_rec *)(void *)(arena + off);

		if (!(r->flags & NH_REC_DEAD)) {
			index_put(ix, cap, rec_hash(r), off);
			(*n)++;
		}
		off += nh_rec_size(r);
	}
	return ix;
}

static int index_resize(struct nh_profile *p, uint32_t cap)
{
	uint32_t n;
	uint64_t *ix;

	if (cap == 0) {
		free(p->index);
		p->index = NULL;
		p->index_cap = p->index_n = 0;
		return 0;
	}
	ix = index_build(p->arena, p->arena_len, cap, &n);
	if (!ix)
		return -ENOMEM;
	free(p->index);
	p->index = ix;
	p->index_cap = cap;
	p->index_n = n;
	return 0;
}

static int index_reserve(struct nh_profile *p)
{
	uint64_t n = (uint64_t)p->index_n + 1;

	if (n * 5 <= (uint64_t)p->index_cap * 4 && n < p->index_cap)
		return 0;
	return index_resize(p, cap_for(p->state == NH_PROFILE_STABLE ? n + n / 8 + 8 : 2 * n + 8));
}

/* ---- arena ---- */

static int arena_reserve(struct nh_profile *p, size_t need)
{
	size_t want = (size_t)p->arena_len + need, cap;
	char *a;

	if (want <= p->arena_cap)
		return 0;
	if (want > UINT32_MAX / 2)
		return -ENOMEM;
	cap = (size_t)p->arena_cap +
	      (p->state == NH_PROFILE_STABLE ? p->arena_cap / 8 : p->arena_cap / 2);
	if (cap < ARENA_MIN)
		cap = ARENA_MIN;
	if (cap < want)
		cap = want;
	a = realloc(p->arena, cap);
	if (!a)
		return -ENOMEM;
	p->arena = a;
	p->arena_cap = (uint32_t)cap;
	return 0;
}

static int append(struct nh_profile *p, unsigned kind, uint32_t aux, const char *v, size_t len,
		  uint32_t *off)
{
	struct nh_rec h = {.aux = aux, .len = (uint16_t)len, .kind = (uint8_t)kind};
	uint32_t size = nh_rec_size(&h);
	struct nh_rec *r;
	int err;

	if (len == 0 || len > NH_VALUE_LEN_MAX)
		return -EINVAL;
	err = arena_reserve(p, size);
	if (!err)
		err = index_reserve(p);
	if (err)
		return err;
	*off = p->arena_len;
	r = nh_rec_at(p, *off);
	memset(r, 0, size);
	*r = h;
	memcpy(nh_rec_value(r), v, len);
	p->arena_len += size;
	index_put(p->index, p->index_cap, nh_mhash(v, len, seed_of(kind, aux)), *off);
	p->index_n++;
	return 0;
}

/* ---- directory prefixes ---- */

static uint64_t *dirs_find(const struct nh_dirs *d, uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32) | 1, i;

	if (!d->cap)
		return NULL;
	for (i = slot_of(tag, d->cap);;) {
		uint64_t e = d->e[i];

		if (!e)
			return NULL;
		if ((uint32_t)(e >> 32) == tag)
			return &d->e[i];
		if (++i == d->cap)
			i = 0;
	}
}

static uint64_t *dirs_put(struct nh_dirs *d, uint32_t tag, uint32_t children)
{
	uint32_t i = slot_of(tag, d->cap);

	while (d->e[i])
		if (++i == d->cap)
			i = 0;
	d->e[i] = (uint64_t)tag << 32 | children;
	return &d->e[i];
}

static int dirs_resize(struct nh_dirs *d, uint32_t cap)
{
	struct nh_dirs nd = {.cap = cap, .n = d->n, .full = d->full};

	if (cap) {
		nd.e = calloc(cap, sizeof(*nd.e));
		if (!nd.e)
			return -ENOMEM;
		for (uint32_t i = 0; i < d->cap; i++)
			if (d->e[i])
				dirs_put(&nd, (uint32_t)(d->e[i] >> 32), (uint32_t)d->e[i]);
	}
	free(d->e);
	*d = nd;
	return 0;
}

#define DIR_COLLAPSED 0x80000000u /* in an entry's low half: a merge made it "dir/\*" */
#define DIR_CHILDREN  0x7fffffffu

static bool dir_full(uint64_t e, const struct nh_model_config *cfg)
{
	return (e & DIR_COLLAPSED) || (e & DIR_CHILDREN) >= cfg->max_children;
}

/* Count path's prefixes ("" then each one ending before a '/', then the
 * whole path) as nodes, each new one a child of the one before. wide:
 * the path is a merged "dir/\*", its dir is collapsed. */
static int dirs_add(struct nh_dirs *d, const struct nh_model_config *cfg, const char *s, size_t len,
		    bool stable, bool wide)
{
	uint64_t *dir = NULL;
	uint64_t need = 2, *parent, *e, h;
	int err;

	for (size_t i = 0; i < len; i++)
		need += s[i] == '/';
	if ((d->n + need) * 5 > (uint64_t)d->cap * 4) {
		uint64_t n = d->n + need;

		err = dirs_resize(d, cap_for(stable ? n + n / 8 + 8 : 2 * n + 8));
		if (err)
			return err;
	}
	h = nh_mhash(s, 0, dir_seed());
	parent = dirs_find(d, h);
	if (!parent) {
		parent = dirs_put(d, (uint32_t)(h >> 32) | 1, 0);
		d->n++;
	}
	for (size_t i = 1; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		h = nh_mhash(s, i, dir_seed());
		e = dirs_find(d, h);
		if (!e) {
			e = dirs_put(d, (uint32_t)(h >> 32) | 1, 0);
			d->n++;
			if ((*parent & DIR_CHILDREN) < DIR_CHILDREN) {
				bool was = dir_full(*parent, cfg);

				(*parent)++;
				d->full += !was && dir_full(*parent, cfg);
			}
		}
		dir = parent;
		parent = e;
	}
	if (wide && dir && !(*dir & DIR_COLLAPSED)) {
		d->full += !dir_full(*dir, cfg);
		*dir |= DIR_COLLAPSED;
	}
	return 0;
}

/* The nodes of every live file item of arena, at the canonical size. */
static int dirs_build(struct nh_dirs *out, const struct nh_model_config *cfg, const char *arena,
		      uint32_t len)
{
	struct nh_dirs d = {0};
	int err = 0;

	for (uint32_t off = 0; off < len && !err;) {
		struct nh_rec *r = (struct nh_rec *)(void *)(arena + off);

		if (!(r->flags & NH_REC_DEAD) && r->kind == NH_CAT_FILE)
			err = dirs_add(&d, cfg, nh_rec_value(r), r->len, false,
				       r->flags & NH_REC_WIDE);
		off += nh_rec_size(r);
	}
	if (!err && d.cap != cap_for(d.n))
		err = dirs_resize(&d, cap_for(d.n));
	if (err) {
		free(d.e);
		return err;
	}
	*out = d;
	return 0;
}

/*
 * Fold a normalised path (in place, it only shrinks): walking down from
 * the root, a segment that is not a known child of a directory that
 * already has max_children children becomes "*".
 */
static size_t fold(const struct nh_profile *p, const struct nh_model_config *cfg, char *buf,
		   size_t len)
{
	size_t r = 0, w = 0;

	while (r < len) {
		size_t start = r, name, clen;
		const uint64_t *d;

		if (buf[r] == '/')
			r++;
		name = r;
		while (r < len && buf[r] != '/')
			r++;
		clen = r - start;
		d = dirs_find(&p->dirs, nh_mhash(buf, w, dir_seed()));
		memmove(buf + w, buf + start, clen);
		if (d && r > name && dir_full(*d, cfg) &&
		    !dirs_find(&p->dirs, nh_mhash(buf, w + clen, dir_seed()))) {
			buf[w + (name - start)] = '*';
			clen = name - start + 1;
		}
		w += clen;
	}
	buf[w] = '\0';
	return w;
}

/* ---- lifecycle ---- */

struct nh_profile *nh_profile_new(const char *identity, size_t len, uint64_t hash, uint64_t now_ns)
{
	struct nh_profile *p = calloc(1, sizeof(*p) + len + 1);

	if (!p)
		return NULL;
	p->hash = hash;
	p->idlen = (uint16_t)len;
	memcpy(p->identity, identity, len);
	nh_profile_clear(p, now_ns);
	return p;
}

void nh_profile_clear(struct nh_profile *p, uint64_t now_ns)
{
	free(p->arena);
	free(p->index);
	free(p->dirs.e);
	p->arena = NULL;
	p->index = NULL;
	p->arena_len = p->arena_cap = p->index_cap = p->index_n = 0;
	memset(&p->dirs, 0, sizeof(p->dirs));
	p->events = p->anomalies = p->dropped = 0;
	p->state = NH_PROFILE_LEARNING;
	p->egress_prefixes = p->egress_ports = 0;
	nh_rate_init(&p->rate, now_ns);
	memset(p->nitems, 0, sizeof(p->nitems));
	memset(p->bounded, 0, sizeof(p->bounded));
	p->created_ns = p->last_new_ns = now_ns;
	p->stable_ns = 0;
	memset(p->memo, 0, sizeof(p->memo));
	p->memo_next = 0;
}

void nh_profile_free(struct nh_profile *p)
{
	if (!p)
		return;
	free(p->arena);
	free(p->index);
	free(p->dirs.e);
	free(p);
}

size_t nh_profile_bytes(const struct nh_profile *p)
{
	return sizeof(*p) + p->idlen + 1 + p->arena_cap + p->index_cap * sizeof(*p->index) +
	       p->dirs.cap * sizeof(*p->dirs.e);
}

bool nh_profile_ready(const struct nh_profile *p, const struct nh_model_config *cfg,
		      uint64_t now_ns)
{
	return now_ns >= p->created_ns && now_ns - p->created_ns >= cfg->learn_ns &&
	       now_ns >= p->last_new_ns && now_ns - p->last_new_ns >= cfg->quiet_ns;
}

int nh_profile_trim(struct nh_profile *p)
{
	int err = 0;

	if (p->arena_cap != p->arena_len) {
		char *a = p->arena_len ? realloc(p->arena, p->arena_len) : NULL;

		if (!p->arena_len) {
			free(p->arena);
			p->arena = NULL;
			p->arena_cap = 0;
		} else if (a) {
			p->arena = a;
			p->arena_cap = p->arena_len;
		} else {
			err = -ENOMEM;
		}
	}
	if (p->index_cap != cap_for(p->index_n) && index_resize(p, cap_for(p->index_n)))
		err = -ENOMEM;
	if (p->dirs.cap != cap_for(p->dirs.n) && dirs_resize(&p->dirs, cap_for(p->dirs.n)))
		err = -ENOMEM;
	return err;
}

void nh_profile_stabilise(struct nh_profile *p, uint64_t now_ns)
{
	p->state = NH_PROFILE_STABLE;
	p->stable_ns = now_ns;
	/* Only memory is at stake if shrinking fails. */
	(void)nh_profile_trim(p);
}

bool nh_profile_memo(struct nh_profile *p, uint64_t h)
{
	h = h ? h : 1;
	for (int i = 0; i < NH_MEMO_SLOTS; i++)
		if (p->memo[i] == h)
			return true;
	p->memo[p->memo_next++ % NH_MEMO_SLOTS] = h;
	return false;
}

/* ---- matching ---- */

/* kind ":" v into out, cut like every other value when too long. */
static size_t join(char *out, const char *kind, size_t kn, const char *v, size_t vn)
{
	memcpy(out, kind, kn);
	out[kn] = ':';
	if (kn + 1 + vn > NH_VALUE_LEN_MAX) {
		memcpy(out + kn + 1, v, NH_VALUE_LEN_MAX - kn - 1);
		out[NH_VALUE_LEN_MAX - 1] = '*';
		out[NH_VALUE_LEN_MAX] = '\0';
		return NH_VALUE_LEN_MAX;
	}
	memcpy(out + kn + 1, v, vn);
	out[kn + 1 + vn] = '\0';
	return kn + 1 + vn;
}

static int64_t match_path(const struct nh_profile *p, const struct nh_model_config *cfg,
			  const struct nh_observation *o, char *buf, struct nh_key *k)
{
	size_t n;
	int len;
	int64_t off;

	if (!o->value || !*o->value)
		return -EINVAL;
	n = strlen(o->value);
	if (n <= NH_VALUE_LEN_MAX && (off = find(p, o->cat, 0, o->value, n)) >= 0)
		return off;
	len = nh_norm_path(o->value, buf);
	if (len < 0)
		return len;
	if (o->cat == NH_CAT_FILE && p->dirs.full)
		len = (int)fold(p, cfg, buf, (size_t)len);
	k->value = buf;
	k->len = (size_t)len;
	if ((size_t)len == n && memcmp(buf, o->value, n) == 0)
		return -ENOENT; /* already looked up */
	return find(p, o->cat, 0, buf, (size_t)len);
}

static int64_t match_credential(const struct nh_profile *p, const struct nh_observation *o,
				char *buf, struct nh_key *k)
{
	const char *kind =
	    o->credential_kind && *o->credential_kind ? o->credential_kind : "unknown";
	size_t kn = strnlen(kind, NH_CRED_KIND_MAX + 1), n;
	char path[NH_MODEL_VALUE_MAX];
	int64_t off;
	int len;

	if (kn > NH_CRED_KIND_MAX || memchr(kind, ':', kn) || !o->value || !*o->value)
		return -EINVAL;
	n = strlen(o->value);
	k->value = buf;
	k->len = join(buf, kind, kn, o->value, n);
	if (kn + 1 + n <= NH_VALUE_LEN_MAX && (off = find(p, o->cat, 0, buf, k->len)) >= 0)
		return off;
	if (o->value[0] != '/') {
		/* an endpoint: the value as given */
		return kn + 1 + n <= NH_VALUE_LEN_MAX ? -ENOENT : find(p, o->cat, 0, buf, k->len);
	}
	len = nh_norm_path(o->value, path);
	if (len < 0)
		return len;
	k->len = join(buf, kind, kn, path, (size_t)len);
	return find(p, o->cat, 0, buf, k->len);
}

static int64_t match_egress(const struct nh_profile *p, const struct nh_observation *o, char *buf,
			    struct nh_key *k)
{
	char wide[NH_MODEL_VALUE_MAX];
	struct nh_endpoint w;
	int64_t off;
	int len;

	if (nh_endpoint_from(o->family, o->addr, o->port, &k->ep))
		return -EINVAL;
	len = nh_endpoint_format(&k->ep, buf);
	k->value = buf;
	k->len = (size_t)len;
	off = find(p, NH_CAT_EGRESS, 0, buf, (size_t)len);
	if (off >= 0)
		return off;
	if (p->egress_prefixes) {
		nh_endpoint_widen(&k->ep, NH_EP_PREFIX, &w);
		len = nh_endpoint_format(&w, wide);
		if ((off = find(p, NH_CAT_EGRESS, 0, wide, (size_t)len)) >= 0)
			return off;
	}
	if (p->egress_ports) {
		nh_endpoint_widen(&k->ep, NH_EP_PORT, &w);
		len = nh_endpoint_format(&w, wide);
		if ((off = find(p, NH_CAT_EGRESS, 0, wide, (size_t)len)) >= 0)
			return off;
	}
	return -ENOENT;
}

int64_t nh_profile_match(const struct nh_profile *p, const struct nh_model_config *cfg,
			 const struct nh_observation *o, char buf[NH_MODEL_VALUE_MAX],
			 struct nh_key *k)
{
	int len;

	memset(k, 0, sizeof(*k));
	k->cat = o->cat;
	switch (o->cat) {
	case NH_CAT_EXEC:
	case NH_CAT_FILE:
		return match_path(p, cfg, o, buf, k);
	case NH_CAT_EGRESS:
		return match_egress(p, o, buf, k);
	case NH_CAT_INGRESS:
		len = nh_norm_port(o->port, buf);
		break;
	case NH_CAT_CREDENTIAL:
		return match_credential(p, o, buf, k);
	case NH_CAT_PRIVILEGE:
	case NH_CAT_ISOLATION:
		len = nh_norm_text(o->value, buf);
		if (len < 0)
			return len;
		break;
	default:
		return -EINVAL;
	}
	k->value = buf;
	k->len = (size_t)len;
	return find(p, o->cat, 0, buf, (size_t)len);
}

/* ---- learning ---- */

static void add_counts(struct nh_item *it, uint64_t first, uint64_t last, uint64_t count)
{
	if (first < it->first_ns)
		it->first_ns = first;
	if (last > it->last_ns)
		it->last_ns = last;
	it->count = it->count + count < it->count ? UINT64_MAX : it->count + count;
}

void nh_profile_touch(struct nh_profile *p, int64_t off, uint64_t ts_ns, uint64_t count)
{
	add_counts((struct nh_item *)nh_rec_at(p, (uint32_t)off), ts_ns, ts_ns, count);
}

static enum nh_ep_kind egress_kind(const char *v, size_t len)
{
	/* exact values have neither a '*' nor a '/' */
	if (v[0] == '*')
		return NH_EP_PORT;
	return memchr(v, '/', len) ? NH_EP_PREFIX : NH_EP_EXACT;
}

static void count_item(struct nh_profile *p, enum nh_category cat, const char *v, size_t len,
		       int by)
{
	p->nitems[cat] += (uint32_t)by;
	if (cat == NH_CAT_EGRESS) {
		enum nh_ep_kind k = egress_kind(v, len);

		if (k == NH_EP_PREFIX)
			p->egress_prefixes += (uint32_t)by;
		else if (k == NH_EP_PORT)
			p->egress_ports += (uint32_t)by;
	}
}

/* Append an item with its bookkeeping; no bound is checked. */
static int store(struct nh_profile *p, const struct nh_model_config *cfg, enum nh_category cat,
		 const char *v, size_t len, uint64_t first, uint64_t last, uint64_t count,
		 bool wide, uint32_t *off)
{
	struct nh_item *it;
	int err;

	if (cat == NH_CAT_FILE) {
		/* first, so that a failure leaves no item without its nodes */
		err = dirs_add(&p->dirs, cfg, v, len, p->state == NH_PROFILE_STABLE, wide);
		if (err)
			return err;
	}
	err = append(p, cat, 0, v, len, off);
	if (err)
		return err; /* at worst a few extra prefix nodes: they only count */
	it = (struct nh_item *)nh_rec_at(p, *off);
	it->first_ns = first;
	it->last_ns = last;
	it->count = count;
	if (wide)
		it->h.flags |= NH_REC_WIDE;
	count_item(p, cat, v, len, 1);
	return 0;
}

int nh_profile_insert(struct nh_profile *p, const struct nh_model_config *cfg, enum nh_category cat,
		      const char *value, size_t len, uint64_t first_ns, uint64_t last_ns,
		      uint64_t count, bool wide, int64_t *off)
{
	uint32_t o;
	int err;

	if ((unsigned)cat >= NH_CAT_MAX || len == 0 || len > NH_VALUE_LEN_MAX)
		return -EINVAL;
	if (find(p, cat, 0, value, len) >= 0)
		return -EEXIST;
	if (wide && (cat != NH_CAT_FILE || len < 2 || memcmp(value + len - 2, "/*", 2) != 0))
		return -EINVAL;
	err = store(p, cfg, cat, value, len, first_ns, last_ns, count, wide, &o);
	if (!err)
		*off = o;
	return err;
}

int nh_profile_insert_parent(struct nh_profile *p, int64_t owner, const char *value, size_t len)
{
	struct nh_rec *it = nh_rec_at(p, (uint32_t)owner);
	uint32_t off;
	int err;

	if (it->kind != NH_CAT_EXEC || NH_REC_NPARENTS(it) >= NH_EXEC_PARENTS_MAX)
		return -EINVAL;
	if (find(p, NH_REC_EDGE, (uint32_t)owner, value, len) >= 0)
		return -EEXIST;
	err = append(p, NH_REC_EDGE, (uint32_t)owner, value, len, &off);
	if (!err)
		nh_rec_at(p, (uint32_t)owner)->aux++; /* the arena may have moved */
	return err;
}

/* Whether parent (raw) is recorded for the exec item at off, or there is
 * no room for it. The item remembers a 24-bit tag of the last parent it
 * was checked against: a binary is nearly always started by the same
 * parent, and the tag spares that case the edge lookup. */
static bool parent_known(struct nh_profile *p, int64_t off, const char *parent, size_t n, char *buf)
{
	int len;

	if (n <= NH_VALUE_LEN_MAX && find(p, NH_REC_EDGE, (uint32_t)off, parent, n) >= 0)
		return true;
	if (NH_REC_NPARENTS(nh_rec_at(p, (uint32_t)off)) >= NH_EXEC_PARENTS_MAX)
		return true; /* full: later parents are not recorded */
	len = nh_norm_path(parent, buf);
	if (len < 0)
		return true;
	return ((size_t)len != n || memcmp(buf, parent, n) != 0) &&
	       find(p, NH_REC_EDGE, (uint32_t)off, buf, (size_t)len) >= 0;
}

int nh_profile_parent(struct nh_profile *p, int64_t off, const char *parent)
{
	char buf[NH_MODEL_VALUE_MAX];
	uint32_t tag;
	size_t n;
	int err = 0;

	if (!parent || !*parent)
		return 0;
	n = strlen(parent);
	tag = (uint32_t)(nh_mhash(parent, n, NH_HASH_SEED) >> 40) | 1;
	if (nh_rec_at(p, (uint32_t)off)->aux >> 8 == tag)
		return 0;
	if (!parent_known(p, off, parent, n, buf))
		err = nh_profile_insert_parent(p, off, buf, strlen(buf));
	if (err == -ENOMEM)
		return err;
	/* the arena may have moved */
	nh_rec_at(p, (uint32_t)off)->aux = NH_REC_NPARENTS(nh_rec_at(p, (uint32_t)off)) | tag << 8;
	return 0;
}

/* ---- bounds: merging items ---- */

struct member {
	uint64_t key;
	uint32_t off; /* NEW_ITEM for the item being added */
};

/* An item that several merge into, built before the arena is rewritten. */
struct target {
	char value[NH_MODEL_VALUE_MAX];
	size_t len;
	uint64_t first, last, count;
	bool has_new;
	bool wide; /* a file dir/\* */
};

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Fold members [i, j) into t, marking the stored ones dead. */
static void gather(struct nh_profile *p, const struct member *mb, size_t i, size_t j,
		   struct target *t, uint64_t ts, uint64_t count)
{
	t->first = UINT64_MAX;
	t->last = 0;
	t->count = 0;
	t->has_new = false;
	for (; i < j; i++) {
		struct nh_item *it;

		if (mb[i].off == NEW_ITEM) {
			struct nh_item tmp = {
			    .first_ns = t->first, .last_ns = t->last, .count = t->count};

			add_counts(&tmp, ts, ts, count);
			t->first = tmp.first_ns;
			t->last = tmp.last_ns;
			t->count = tmp.count;
			t->has_new = true;
			continue;
		}
		it = (struct nh_item *)nh_rec_at(p, mb[i].off);
		if (it->first_ns < t->first)
			t->first = it->first_ns;
		if (it->last_ns > t->last)
			t->last = it->last_ns;
		t->count = t->count + it->count < t->count ? UINT64_MAX : t->count + it->count;
		it->h.flags |= NH_REC_DEAD;
	}
}

static void undead(struct nh_profile *p)
{
	for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off)))
		nh_rec_at(p, off)->flags &= (uint8_t)~NH_REC_DEAD;
}

static uint32_t find_old(const uint32_t *old, uint32_t n, uint32_t off)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (old[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Rewrite the arena without the dead records, then the index and the
 * nodes; on -ENOMEM nothing changed (the dead are revived). */
static int compact(struct nh_profile *p, const struct nh_model_config *cfg)
{
	uint32_t live = 0, nrec = 0, w = 0, i = 0, n;
	uint32_t *old = NULL, *neu = NULL;
	char *a = NULL;
	uint64_t *ix = NULL;
	struct nh_dirs d = {0};
	int err = -ENOMEM;

	for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off)))
		if (!(nh_rec_at(p, off)->flags & NH_REC_DEAD)) {
			live += nh_rec_size(nh_rec_at(p, off));
			nrec++;
		}
	old = malloc((nrec + 1) * sizeof(*old));
	neu = malloc((nrec + 1) * sizeof(*neu));
	a = malloc(live ? live : 1);
	if (!old || !neu || !a)
		goto cleanup;
	for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off))) {
		struct nh_rec *r = nh_rec_at(p, off), *c;

		if (r->flags & NH_REC_DEAD)
			continue;
		c = (struct nh_rec *)(void *)(a + w);
		memcpy(c, r, nh_rec_size(r));
		/* an edge follows its item, which is never merged away */
		if (c->kind == NH_REC_EDGE) {
			uint32_t at = find_old(old, i, c->aux);

			c->aux = at < i && old[at] == c->aux ? neu[at] : 0;
		}
		old[i] = off;
		neu[i++] = w;
		w += nh_rec_size(r);
	}
	ix = index_build(a, live, cap_for(nrec), &n);
	if (!ix || dirs_build(&d, cfg, a, live))
		goto cleanup;
	free(p->arena);
	free(p->index);
	free(p->dirs.e);
	p->arena = a;
	p->arena_len = p->arena_cap = live;
	p->index = ix;
	p->index_cap = cap_for(nrec);
	p->index_n = n;
	p->dirs = d;
	a = NULL;
	ix = NULL;
	memset(p->nitems, 0, sizeof(p->nitems));
	p->egress_prefixes = p->egress_ports = 0;
	for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off))) {
		struct nh_rec *r = nh_rec_at(p, off);

		if (r->kind < NH_CAT_MAX)
			count_item(p, r->kind, nh_rec_value(r), r->len, 1);
	}
	err = 0;
cleanup:
	if (err)
		undead(p);
	free(old);
	free(neu);
	free(a);
	free(ix);
	return err;
}

/* Store or add to the merged item t; *off gets it. */
static int upsert(struct nh_profile *p, const struct nh_model_config *cfg, enum nh_category cat,
		  const struct target *t, int64_t *off)
{
	int64_t found = find(p, cat, 0, t->value, t->len);
	uint32_t o;
	int err;

	if (found >= 0) {
		struct nh_item *it = (struct nh_item *)nh_rec_at(p, (uint32_t)found);

		add_counts(it, t->first, t->last, t->count);
		*off = found;
		if (t->wide && !(it->h.flags & NH_REC_WIDE)) {
			it->h.flags |= NH_REC_WIDE;
			return dirs_add(&p->dirs, cfg, t->value, t->len,
					p->state == NH_PROFILE_STABLE, true);
		}
		return 0;
	}
	err = store(p, cfg, cat, t->value, t->len, t->first, t->last, t->count, t->wide, &o);
	if (!err)
		*off = o;
	return err;
}

/* Merge the marked members into targets[0..nt), then place k. */
static int finish(struct nh_profile *p, const struct nh_model_config *cfg, const struct nh_key *k,
		  struct target *tg, size_t nt, uint64_t ts, uint64_t count, int64_t *off)
{
	bool absorbed = false;
	uint32_t o;
	int err = compact(p, cfg);

	for (size_t i = 0; i < nt && !err; i++) {
		int64_t at;

		err = upsert(p, cfg, k->cat, &tg[i], &at);
		if (!err && tg[i].has_new) {
			absorbed = true;
			*off = at;
		}
	}
	if (err)
		return err;
	if (absorbed)
		return NH_ADD_ABSORBED;
	if (p->nitems[k->cat] >= cfg->max_items[k->cat])
		return NH_ADD_DROPPED;
	err = store(p, cfg, k->cat, k->value, k->len, ts, ts, count, false, &o);
	*off = o;
	return err ? err : NH_ADD_STORED;
}

static uint64_t endpoint_key(const struct nh_endpoint *e, enum nh_ep_kind kind)
{
	struct nh_endpoint w;
	uint8_t b[20];

	nh_endpoint_widen(e, kind, &w);
	b[0] = (uint8_t)w.family;
	b[1] = (uint8_t)(w.port >> 8);
	b[2] = (uint8_t)w.port;
	b[3] = w.kind;
	memcpy(b + 4, w.addr, 16);
	return nh_mhash(b, sizeof(b), NH_HASH_SEED);
}

/* The members of the group starting at i end at the returned index. */
static size_t group_end(const struct member *mb, size_t n, size_t i)
{
	size_t j = i + 1;

	while (j < n && mb[j].key == mb[i].key)
		j++;
	return j;
}

/* Sort the members by key and find the largest group: its size, and in
 * *best where it starts. */
static size_t largest_group(struct member *mb, size_t n, size_t *best)
{
	size_t bestn = 0;

	qsort(mb, n, sizeof(*mb), cmp_member);
	for (size_t i = 0, j; i < n; i = j)
		if ((j = group_end(mb, n, i)) - i > bestn) {
			*best = i;
			bestn = j - i;
		}
	return bestn;
}

static int widen_egress(struct nh_profile *p, const struct nh_model_config *cfg,
			const struct nh_key *k, uint64_t ts, uint64_t count, int64_t *off)
{
	size_t cap = p->nitems[NH_CAT_EGRESS] + 1, n = 0, nt = 0, i, j, best = 0, bestn = 0;
	struct member *mb = malloc(cap * sizeof(*mb));
	struct target *tg = NULL;
	struct nh_endpoint e, w;
	int err = -ENOMEM;

	if (!mb)
		return -ENOMEM;
	/* 1: crowded /24 or /64 with one port -> the prefix */
	for (uint32_t o = 0; o < p->arena_len; o += nh_rec_size(nh_rec_at(p, o))) {
		struct nh_rec *r = nh_rec_at(p, o);

		if (r->kind == NH_CAT_EGRESS && n + 1 < cap &&
		    !nh_endpoint_parse(nh_rec_value(r), &e) && e.kind == NH_EP_EXACT)
			mb[n++] = (struct member){endpoint_key(&e, NH_EP_PREFIX), o};
	}
	mb[n++] = (struct member){endpoint_key(&k->ep, NH_EP_PREFIX), NEW_ITEM};
	qsort(mb, n, sizeof(*mb), cmp_member);
	for (i = 0; i < n; i = j)
		if ((j = group_end(mb, n, i)) - i > cfg->max_hosts)
			nt++;
	if (nt) {
		tg = calloc(nt, sizeof(*tg));
		if (!tg)
			goto cleanup;
		nt = 0;
		for (i = 0; i < n; i = j) {
			if ((j = group_end(mb, n, i)) - i <= cfg->max_hosts)
				continue;
			if (mb[i].off == NEW_ITEM)
				e = k->ep;
			else
				nh_endpoint_parse(nh_rec_value(nh_rec_at(p, mb[i].off)), &e);
			nh_endpoint_widen(&e, NH_EP_PREFIX, &w);
			tg[nt].len = (size_t)nh_endpoint_format(&w, tg[nt].value);
			gather(p, mb, i, j, &tg[nt++], ts, count);
		}
		err = finish(p, cfg, k, tg, nt, ts, count, off);
		if (err != NH_ADD_DROPPED)
			goto cleanup;
		free(tg);
		tg = NULL;
	}
	/* 2: the busiest port -> port-only */
	n = 0;
	cap = p->nitems[NH_CAT_EGRESS] + 1;
	for (uint32_t o = 0; o < p->arena_len; o += nh_rec_size(nh_rec_at(p, o))) {
		struct nh_rec *r = nh_rec_at(p, o);

		if (r->kind == NH_CAT_EGRESS && n + 1 < cap &&
		    !nh_endpoint_parse(nh_rec_value(r), &e) && e.kind != NH_EP_PORT)
			mb[n++] = (struct member){e.port, o};
	}
	mb[n++] = (struct member){k->ep.port, NEW_ITEM};
	bestn = largest_group(mb, n, &best);
	if (bestn < 2) {
		p->dropped++;
		err = NH_ADD_DROPPED;
		goto cleanup;
	}
	tg = calloc(1, sizeof(*tg));
	if (!tg)
		goto cleanup;
	memset(&w, 0, sizeof(w));
	w.kind = NH_EP_PORT;
	w.port = (uint16_t)mb[best].key;
	tg->len = (size_t)nh_endpoint_format(&w, tg->value);
	gather(p, mb, best, best + bestn, tg, ts, count);
	err = finish(p, cfg, k, tg, 1, ts, count, off);
	if (err == NH_ADD_DROPPED)
		p->dropped++;
cleanup:
	free(mb);
	free(tg);
	return err;
}

static int widen_files(struct nh_profile *p, const struct nh_model_config *cfg,
		       const struct nh_key *k, uint64_t ts, uint64_t count, int64_t *off)
{
	size_t cap = p->nitems[NH_CAT_FILE] + 1, n = 0, best = 0, bestn;
	struct member *mb = malloc(cap * sizeof(*mb));
	struct target *tg = NULL;
	const char *slash, *v;
	size_t dl;
	int err = -ENOMEM;

	if (!mb)
		return -ENOMEM;
	for (uint32_t o = 0; o < p->arena_len; o += nh_rec_size(nh_rec_at(p, o))) {
		struct nh_rec *r = nh_rec_at(p, o);

		if (r->kind != NH_CAT_FILE || n + 1 >= cap)
			continue;
		v = nh_rec_value(r);
		slash = memrchr(v, '/', r->len);
		if (slash && (size_t)(slash - v) + 1 < r->len)
			mb[n++] =
			    (struct member){nh_mhash(v, (size_t)(slash - v), NH_HASH_SEED), o};
	}
	slash = memrchr(k->value, '/', k->len);
	if (slash && (size_t)(slash - k->value) + 1 < k->len)
		mb[n++] = (struct member){
		    nh_mhash(k->value, (size_t)(slash - k->value), NH_HASH_SEED), NEW_ITEM};
	bestn = largest_group(mb, n, &best);
	if (bestn < 2) {
		p->dropped++;
		err = NH_ADD_DROPPED;
		goto cleanup;
	}
	tg = calloc(1, sizeof(*tg));
	if (!tg)
		goto cleanup;
	if (mb[best].off == NEW_ITEM) {
		v = k->value;
		dl = (size_t)((const char *)memrchr(v, '/', k->len) - v);
	} else {
		struct nh_rec *r = nh_rec_at(p, mb[best].off);

		v = nh_rec_value(r);
		dl = (size_t)((const char *)memrchr(v, '/', r->len) - v);
	}
	memcpy(tg->value, v, dl);
	memcpy(tg->value + dl, "/*", 3);
	tg->len = dl + 2;
	tg->wide = true;
	gather(p, mb, best, best + bestn, tg, ts, count);
	err = finish(p, cfg, k, tg, 1, ts, count, off);
	if (err == NH_ADD_DROPPED)
		p->dropped++;
cleanup:
	free(mb);
	free(tg);
	return err;
}

int nh_profile_add(struct nh_profile *p, const struct nh_model_config *cfg, const struct nh_key *k,
		   uint64_t ts_ns, uint64_t count, int64_t *off)
{
	uint32_t o;
	int err;

	if (p->nitems[k->cat] < cfg->max_items[k->cat]) {
		err = store(p, cfg, k->cat, k->value, k->len, ts_ns, ts_ns, count, false, &o);
		if (err)
			return err;
		*off = o;
		return NH_ADD_STORED;
	}
	p->bounded[k->cat] = true;
	if (k->cat == NH_CAT_EGRESS)
		return widen_egress(p, cfg, k, ts_ns, count, off);
	if (k->cat == NH_CAT_FILE)
		return widen_files(p, cfg, k, ts_ns, count, off);
	p->dropped++;
	return NH_ADD_DROPPED;
}
