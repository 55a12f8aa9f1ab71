/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot: one profile as bytes, and back (nh_models_encode/decode).
 *
 * Layout, little-endian:
 *   0  "NHPF"            magic
 *   4  u16 version       1
 *   6  u16 flags         0
 *   8  u32 body length   compressed bytes that follow the header, exactly
 *  12  u32 CRC-32        zlib crc32 of those bytes
 *  16  u32 raw length    the body uncompressed, 1..4 MiB
 *  20  body              zlib stream of a nhiscope.Profile (profile.proto)
 *
 * decode trusts nothing: the header, lengths, checksum, the zlib stream
 * (which must end exactly at the body's end and yield exactly raw length
 * bytes), protobuf framing, then every field (lengths, NULs, item counts
 * against this configuration's bounds, category ids, states, timestamp
 * order, item shapes, duplicates). The profile is built aside and only
 * then swapped in, so on error the models are unchanged. Framing errors
 * are -EBADMSG, a well-framed but unacceptable profile -EINVAL.
 *
 * Not saved: the open minute's pending rate reports and the memo of
 * dropped items (profile.h), so a restored profile may alert once more
 * for a novel item that its full bound could not store.
 */
#include "models.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "normalise.h"
#include "profile.h"
#include "profile.pb-c.h"
#include "rate.h"
#include "registry.h"

#define HDR_LEN 20
#define MAGIC	"NHPF"
#define VERSION 1
#define RAW_MAX (4u << 20) /* largest body, uncompressed */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- encode ---- */

struct owner {
	uint32_t off; /* the exec item's arena offset */
	uint32_t at;  /* its index in items[] */
};

static int cmp_owner(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

int nh_models_encode(const struct nh_models *m, const char *identity, uint8_t **buf, size_t *len)
{
	Nhiscope__Profile pm = NHISCOPE__PROFILE__INIT;
	Nhiscope__ProfileCategory cats[NH_CAT_MAX], *catp[NH_CAT_MAX];
	Nhiscope__ProfileItem *items = NULL, **itemp = NULL;
	ProtobufCBinaryData *parents = NULL;
	struct owner *owners = NULL;
	size_t nitems = 0, nparents = 0, nowners = 0, at = 0, pat = 0, raw_len;
	uint8_t *raw = NULL, *out = NULL;
	uLongf clen;
	const struct nh_profile *p;
	size_t idlen = nh_registry_idlen(identity);
	int err = -ENOMEM;

	if (!m || !idlen || !buf || !len)
		return -EINVAL;
	p = nh_registry_find(m, identity, idlen, nh_registry_hash(identity, idlen));
	if (!p)
		return -ENOENT;
	for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off))) {
		struct nh_rec *r = nh_rec_at(p, off);

		if (r->kind < NH_CAT_MAX)
			nitems++;
		else
			nparents++;
		nowners += r->kind == NH_CAT_EXEC;
	}
	items = calloc(nitems + 1, sizeof(*items));
	itemp = calloc(nitems + 1, sizeof(*itemp));
	parents = calloc(nparents + 1, sizeof(*parents));
	owners = calloc(nowners + 1, sizeof(*owners));
	if (!items || !itemp || !parents || !owners)
		goto cleanup;

	/* items by category, in arena order; each exec item gets a slice of
	 * parents[] as long as its recorded parent count */
	nowners = 0;
	for (int c = 0; c < NH_CAT_MAX; c++) {
		nhiscope__profile_category__init(&cats[c]);
		cats[c].category = (uint32_t)c;
		cats[c].bounded = p->bounded[c];
		cats[c].rate_mean = p->rate.mean[c];
		cats[c].rate_var = p->rate.var[c];
		cats[c].rate_open = p->rate.open[c];
		cats[c].items = &itemp[at];
		for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off))) {
			struct nh_item *it = (struct nh_item *)nh_rec_at(p, off);

			if (it->h.kind != c)
				continue;
			nhiscope__profile_item__init(&items[at]);
			items[at].value.data = (uint8_t *)it->value;
			items[at].value.len = it->h.len;
			items[at].first_ns = it->first_ns;
			items[at].last_ns = it->last_ns;
			items[at].count = it->count;
			items[at].wide = (it->h.flags & NH_REC_WIDE) != 0;
			if (c == NH_CAT_EXEC) {
				items[at].parents = &parents[pat];
				pat += NH_REC_NPARENTS(&it->h);
				owners[nowners++] = (struct owner){off, (uint32_t)at};
			}
			itemp[at] = &items[at];
			at++;
			cats[c].n_items++;
		}
		catp[c] = &cats[c];
	}
	qsort(owners, nowners, sizeof(*owners), cmp_owner);
	for (uint32_t off = 0; off < p->arena_len; off += nh_rec_size(nh_rec_at(p, off))) {
		struct nh_rec *r = nh_rec_at(p, off);
		struct owner key = {r->aux, 0}, *o;
		Nhiscope__ProfileItem *it;

		if (r->kind != NH_REC_EDGE)
			continue;
		o = bsearch(&key, owners, nowners, sizeof(*owners), cmp_owner);
		if (!o)
			continue;
		it = &items[o->at];
		if (it->n_parents >= NH_REC_NPARENTS(nh_rec_at(p, o->off)))
			continue;
		it->parents[it->n_parents].data = (uint8_t *)nh_rec_value(r);
		it->parents[it->n_parents++].len = r->len;
	}

	pm.identity.data = (uint8_t *)p->identity;
	pm.identity.len = p->idlen;
	pm.state = p->state;
	pm.created_ns = p->created_ns;
	pm.stable_ns = p->stable_ns;
	pm.last_new_ns = p->last_new_ns;
	pm.events = p->events;
	pm.anomalies = p->anomalies;
	pm.dropped = p->dropped;
	pm.rate_minute = p->rate.minute;
	pm.rate_minutes = p->rate.minutes;
	pm.n_categories = NH_CAT_MAX;
	pm.categories = catp;

	raw_len = nhiscope__profile__get_packed_size(&pm);
	if (raw_len == 0 || raw_len > RAW_MAX) {
		err = -E2BIG; /* decode would refuse it */
		goto cleanup;
	}
	raw = malloc(raw_len);
	clen = compressBound((uLong)raw_len);
	out = malloc(HDR_LEN + clen);
	if (!raw || !out)
		goto cleanup;
	nhiscope__profile__pack(&pm, raw);
	if (compress2(out + HDR_LEN, &clen, raw, (uLong)raw_len, Z_DEFAULT_COMPRESSION) != Z_OK)
		goto cleanup;
	memcpy(out, MAGIC, 4);
	put16(out + 4, VERSION);
	put16(out + 6, 0);
	put32(out + 8, (uint32_t)clen);
	put32(out + 12, (uint32_t)crc32(0L, out + HDR_LEN, (uInt)clen));
	put32(out + 16, (uint32_t)raw_len);
	*buf = out;
	*len = HDR_LEN + clen;
	out = NULL;
	err = 0;
cleanup:
	free(items);
	free(itemp);
	free(parents);
	free(owners);
	free(raw);
	free(out);
	return err;
}

/* ---- decode ---- */

static bool bytes_ok(const ProtobufCBinaryData *b, size_t max)
{
	return b->len >= 1 && b->len <= max && !memchr(b->data, '\0', b->len);
}

static bool value_ok(enum nh_category cat, const ProtobufCBinaryData *b)
{
	char s[NH_MODEL_VALUE_MAX];
	struct nh_endpoint e;
	const char *colon;

	if (!bytes_ok(b, NH_VALUE_LEN_MAX))
		return false;
	memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	switch (cat) {
	case NH_CAT_EGRESS:
		return nh_endpoint_parse(s, &e) == 0;
	case NH_CAT_INGRESS: {
		char again[NH_MODEL_VALUE_MAX];
		unsigned long port = 0;

		if (b->len > 5)
			return false;
		for (size_t i = 0; i < b->len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			port = port * 10 + (unsigned long)(s[i] - '0');
		}
		return port <= 65535 && nh_norm_port((uint16_t)port, again) >= 0 &&
		       strcmp(again, s) == 0;
	}
	case NH_CAT_CREDENTIAL:
		colon = strchr(s, ':');
		return colon && colon > s && colon - s <= NH_CRED_KIND_MAX && colon[1];
	default:
		return true;
	}
}

static bool rate_ok(double v)
{
	return isfinite(v) && v >= 0;
}

/* Check msg and build the profile it describes into *out. */
static int build(const struct nh_models *m, const Nhiscope__Profile *msg, struct nh_profile **out,
		 const char **why)
{
	bool seen[NH_CAT_MAX] = {false};
	struct nh_profile *p;
	size_t idlen;
	int err;

	if (!bytes_ok(&msg->identity, NH_MODEL_IDENTITY_MAX - 1)) {
		*why = "bad identity";
		return -EINVAL;
	}
	if (msg->state != NH_PROFILE_LEARNING && msg->state != NH_PROFILE_STABLE) {
		*why = "bad state";
		return -EINVAL;
	}
	if (msg->last_new_ns < msg->created_ns ||
	    msg->rate_minute < msg->created_ns / NH_NS_PER_MIN ||
	    (msg->state == NH_PROFILE_LEARNING && msg->stable_ns != 0) ||
	    (msg->state == NH_PROFILE_STABLE && msg->stable_ns < msg->created_ns)) {
		*why = "bad timestamps";
		return -EINVAL;
	}
	for (size_t i = 0; i < msg->n_categories; i++) {
		const Nhiscope__ProfileCategory *c = msg->categories[i];

		if (c->category >= NH_CAT_MAX || seen[c->category]) {
			*why = c->category >= NH_CAT_MAX ? "bad category" : "duplicate category";
			return -EINVAL;
		}
		seen[c->category] = true;
		if (c->n_items > m->cfg.max_items[c->category]) {
			*why = "too many items";
			return -EINVAL;
		}
		if (!rate_ok(c->rate_mean) || !rate_ok(c->rate_var)) {
			*why = "bad rate state";
			return -EINVAL;
		}
		for (size_t j = 0; j < c->n_items; j++) {
			const Nhiscope__ProfileItem *it = c->items[j];

			if (!value_ok((enum nh_category)c->category, &it->value)) {
				*why = "bad item value";
				return -EINVAL;
			}
			if (it->wide &&
			    (c->category != NH_CAT_FILE || it->value.len < 2 ||
			     memcmp(it->value.data + it->value.len - 2, "/*", 2) != 0)) {
				*why = "bad item value";
				return -EINVAL;
			}
			if (it->first_ns > it->last_ns || it->count == 0) {
				*why = "bad item counters";
				return -EINVAL;
			}
			if (it->n_parents && c->category != NH_CAT_EXEC) {
				*why = "parents on a non-exec item";
				return -EINVAL;
			}
			if (it->n_parents > NH_EXEC_PARENTS_MAX) {
				*why = "too many parents";
				return -EINVAL;
			}
			for (size_t k = 0; k < it->n_parents; k++) {
				if (!bytes_ok(&it->parents[k], NH_VALUE_LEN_MAX)) {
					*why = "bad parent";
					return -EINVAL;
				}
			}
		}
	}

	idlen = msg->identity.len;
	p = nh_profile_new((const char *)msg->identity.data, idlen,
			   nh_registry_hash((const char *)msg->identity.data, idlen),
			   msg->created_ns);
	if (!p) {
		*why = "out of memory";
		return -ENOMEM;
	}
	for (size_t i = 0; i < msg->n_categories; i++) {
		const Nhiscope__ProfileCategory *c = msg->categories[i];
		enum nh_category cat = (enum nh_category)c->category;

		for (size_t j = 0; j < c->n_items; j++) {
			const Nhiscope__ProfileItem *it = c->items[j];
			int64_t off;

			err = nh_profile_insert(p, &m->cfg, cat, (const char *)it->value.data,
						it->value.len, it->first_ns, it->last_ns, it->count,
						it->wide, &off);
			if (err) {
				*why = err == -EEXIST ? "duplicate item" : "out of memory";
				goto fail;
			}
			for (size_t k = 0; k < it->n_parents; k++) {
				err = nh_profile_insert_parent(
				    p, off, (const char *)it->parents[k].data, it->parents[k].len);
				if (err) {
					*why =
					    err == -EEXIST ? "duplicate parent" : "out of memory";
					goto fail;
				}
			}
		}
		p->bounded[cat] = c->bounded;
		p->rate.mean[cat] = c->rate_mean;
		p->rate.var[cat] = c->rate_var;
		p->rate.open[cat] = c->rate_open;
	}
	p->state = (uint8_t)msg->state;
	p->stable_ns = msg->stable_ns;
	p->last_new_ns = msg->last_new_ns;
	p->events = msg->events;
	p->anomalies = msg->anomalies;
	p->dropped = msg->dropped;
	p->rate.minute = msg->rate_minute;
	p->rate.minutes = msg->rate_minutes;
	/* the same sizes whatever order the items were learned in */
	if (nh_profile_trim(p)) {
		*why = "out of memory";
		err = -ENOMEM;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	nh_profile_free(p);
	return err == -EEXIST ? -EINVAL : err;
}

int nh_models_decode(struct nh_models *m, const uint8_t *buf, size_t len, const char **why)
{
	const char *ignored;
	uint32_t clen, rlen;
	uint8_t *raw = NULL;
	uLongf dlen;
	uLong slen;
	Nhiscope__Profile *msg = NULL;
	struct nh_profile *p = NULL;
	int err = -EBADMSG, zrc;

	if (!why)
		why = &ignored;
	*why = NULL;
	if (!m || (!buf && len)) {
		*why = "bad arguments";
		return -EINVAL;
	}
	if (len < HDR_LEN) {
		*why = "truncated";
		return -EBADMSG;
	}
	if (memcmp(buf, MAGIC, 4) != 0) {
		*why = "bad magic";
		return -EBADMSG;
	}
	if (get16(buf + 4) != VERSION) {
		*why = "unsupported version";
		return -EBADMSG;
	}
	if (get16(buf + 6) != 0) {
		*why = "unknown flags";
		return -EBADMSG;
	}
	clen = get32(buf + 8);
	rlen = get32(buf + 16);
	if (clen > len - HDR_LEN) {
		*why = "truncated";
		return -EBADMSG;
	}
	if (clen < len - HDR_LEN) {
		*why = "trailing bytes";
		return -EBADMSG;
	}
	if (clen == 0 || rlen == 0) {
		*why = "empty body";
		return -EBADMSG;
	}
	if (rlen > RAW_MAX) {
		*why = "body too large";
		return -EBADMSG;
	}
	if ((uint32_t)crc32(0L, buf + HDR_LEN, (uInt)clen) != get32(buf + 12)) {
		*why = "checksum mismatch";
		return -EBADMSG;
	}
	raw = malloc(rlen);
	if (!raw) {
		*why = "out of memory";
		return -ENOMEM;
	}
	dlen = rlen;
	slen = clen;
	zrc = uncompress2(raw, &dlen, buf + HDR_LEN, &slen);
	if (zrc == Z_BUF_ERROR && dlen == rlen) {
		*why = "length mismatch"; /* more data than the header says */
		goto cleanup;
	}
	if (zrc != Z_OK) {
		*why = "corrupt body";
		goto cleanup;
	}
	if (dlen != rlen) {
		*why = "length mismatch";
		goto cleanup;
	}
	if (slen != clen) {
		*why = "trailing bytes in body";
		goto cleanup;
	}
	msg = nhiscope__profile__unpack(NULL, rlen, raw);
	if (!msg) {
		*why = "bad protobuf";
		goto cleanup;
	}
	err = build(m, msg, &p, why);
	if (err)
		goto cleanup;
	err = nh_registry_put(m, p);
	if (err) {
		*why = err == -ENOSPC ? "no room for another profile" : "out of memory";
		nh_profile_free(p);
	}
cleanup:
	if (msg)
		nhiscope__profile__free_unpacked(msg, NULL);
	free(raw);
	return err;
}
