/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the wire decoder: bytes from Kafka are untrusted. Besides memory
 * safety (ASan/UBSan): a record that decodes is valid, packs again, and
 * the re-encoding decodes to the same record id, kind and time; a record
 * that does not decode says why. A format-1 activity record (the previous
 * release's JSON text) decodes but is not packed again: this release
 * writes format 2 only, and says so.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[NH_WIRE_MAX];
	struct nh_wire_record r, s;
	const char *why = NULL;
	size_t len = 0;
	int rc;

	rc = nh_wire_unpack(data, size, &r, &why);
	if (rc) {
		if (!why || r.priv)
			abort();
		return 0;
	}
	if (r.kind == NH_WIRE_ACTIVITY && r.format < NH_WIRE_FORMAT) {
		if (!r.activity.legacy_json || nh_wire_check(&r, NULL) == 0)
			abort();
		nh_wire_free(&r);
		return 0;
	}
	if (nh_wire_check(&r, NULL))
		abort();
	if (nh_wire_pack(&r, again, sizeof(again), &len))
		abort();
	if (nh_wire_unpack(again, len, &s, &why))
		abort();
	if (s.kind != r.kind || s.time_ns != r.time_ns || s.id.seq != r.id.seq ||
	    strcmp(s.id.node, r.id.node) || strcmp(s.id.boot_id, r.id.boot_id) ||
	    strcmp(s.identity.key, r.identity.key))
		abort();
	nh_wire_free(&s);
	nh_wire_free(&r);
	return 0;
}
