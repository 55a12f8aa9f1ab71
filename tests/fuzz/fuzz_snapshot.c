/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz profile snapshots (nh_models_decode). The first byte picks what
 * the rest is: even, a snapshot as it would be read from disk; odd, a
 * body that the harness wraps in a valid header, zlib stream and CRC, so
 * the fuzzer reaches protobuf parsing and field checks instead of
 * spending itself on the checksum.
 *
 * Besides memory safety: a decoded profile encodes, decodes again (into
 * fresh models) to the same info and to the same bytes, and answers
 * observations without trouble.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

#include "models.h"

static uint8_t *wrap(const uint8_t *raw, size_t rlen, size_t *len)
{
	uLongf clen = compressBound((uLong)rlen);
	uint8_t *out = malloc(20 + clen);
	uint32_t crc;

	if (!out || compress(out + 20, &clen, raw, (uLong)rlen) != Z_OK) {
		free(out);
		return NULL;
	}
	memcpy(out, "NHPF\x01\x00\x00\x00", 8);
	crc = (uint32_t)crc32(0L, out + 20, (uInt)clen);
	for (int i = 0; i < 4; i++) {
		out[8 + i] = (uint8_t)(clen >> (8 * i));
		out[12 + i] = (uint8_t)(crc >> (8 * i));
		out[16 + i] = (uint8_t)(rlen >> (8 * i));
	}
	*len = 20 + clen;
	return out;
}

static int same(const struct nh_profile_info *a, const struct nh_profile_info *b)
{
	return strcmp(a->identity, b->identity) == 0 && a->state == b->state &&
	       a->created_ns == b->created_ns && a->stable_ns == b->stable_ns &&
	       a->last_new_ns == b->last_new_ns &&
	       memcmp(a->items, b->items, sizeof(a->items)) == 0 &&
	       memcmp(a->bounded, b->bounded, sizeof(a->bounded)) == 0 && a->events == b->events &&
	       a->anomalies == b->anomalies && a->dropped == b->dropped && a->bytes == b->bytes;
}

static void count_items(void *ctx, enum nh_category cat, const char *value, uint64_t count,
			uint64_t first, uint64_t last)
{
	size_t *n = ctx;

	if ((unsigned)cat >= NH_CAT_MAX || !*value || count == 0 || first > last)
		abort();
	(*n)++;
}

/* Use the restored profile: every lookup path must hold up. */
static void exercise(struct nh_models *m, const char *id)
{
	static const char *const values[] = {"/bin/sh", "/etc/hosts", "/proc/1/status", "/a/b/c/d"};
	struct nh_anomaly out[4];
	struct nh_observation o = {.ts_ns = 1, .count = 1};

	for (int c = 0; c < NH_CAT_MAX; c++) {
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			o.cat = (enum nh_category)c;
			o.value = values[v];
			o.parent = "/bin/init";
			o.credential_kind = "sa_token";
			o.family = AF_INET;
			o.addr[0] = 10;
			o.addr[3] = (uint8_t)v;
			o.port = 443;
			nh_models_known(m, id, &o);
			if (nh_models_observe(m, id, &o, out, 4) < 0)
				abort();
		}
	}
	if (nh_models_tick(m, 10ull * 60 * 1000000000ull, out, 4) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nh_models a, b;
	struct nh_model_config cfg;
	struct nh_profile_info ia, ib;
	uint8_t *snap = NULL, *enc = NULL, *enc2 = NULL;
	size_t len, elen = 0, elen2 = 0, it = 0, items = 0;
	const char *why = NULL;
	char id[NH_MODEL_IDENTITY_MAX];
	int rc;

	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] & 1) {
		snap = wrap(data + 1, size - 1, &len);
		if (!snap)
			return 0;
	} else {
		len = size - 1;
		snap = malloc(len ? len : 1);
		memcpy(snap, data + 1, len);
	}
	nh_model_config_defaults(&cfg);
	cfg.learn_ns = cfg.quiet_ns = 1000;
	if (nh_models_init(&a, &cfg, 4) || nh_models_init(&b, &cfg, 4))
		abort();
	rc = nh_models_decode(&a, snap, len, &why);
	if (rc != 0) {
		if (!why || (rc != -EINVAL && rc != -EBADMSG && rc != -ENOMEM) || a.len != 0)
			abort();
		goto done;
	}
	if (why || a.len != 1 || !nh_models_next(&a, &it, &ia))
		abort();
	snprintf(id, sizeof(id), "%s", ia.identity);
	if (nh_models_items(&a, id, count_items, &items) != 0)
		abort();
	for (int c = 0; c < NH_CAT_MAX; c++)
		items -= ia.items[c];
	if (items != 0)
		abort();
	if (nh_models_encode(&a, id, &enc, &elen) != 0)
		abort();
	if (nh_models_decode(&b, enc, elen, &why) != 0)
		abort();
	if (nh_models_info(&b, id, &ib) != 0 || !same(&ia, &ib))
		abort();
	if (nh_models_encode(&b, id, &enc2, &elen2) != 0 || elen2 != elen ||
	    memcmp(enc, enc2, elen) != 0)
		abort();
	exercise(&a, id);
done:
	nh_models_free(&a);
	nh_models_free(&b);
	free(snap);
	free(enc);
	free(enc2);
	return 0;
}
