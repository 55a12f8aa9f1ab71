/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the PodList parser. Besides memory safety (ASan/UBSan): every
 * field of every record is NUL-terminated inside its array and free of
 * control bytes, counts stay in bounds, every record is found by its own
 * UID, a failed parse leaves the previous table alone, and parsing the
 * same body twice gives the same table byte for byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kubelet.h"

#define FIELD_OK(f) field_ok((f), sizeof(f))

static int field_ok(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);
	const char *p;

	if (!end)
		return 0;
	for (p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static void check_table(const struct nh_kubelet *k)
{
	size_t i, j;

	if (k->npods > NH_KUBELET_MAX_PODS)
		abort();
	for (i = 0; i < k->npods; i++) {
		const struct nh_pod_record *r = &k->pods[i], *found;

		if (!FIELD_OK(r->uid) || !r->uid[0] || !FIELD_OK(r->name) ||
		    !FIELD_OK(r->namespace_) || !FIELD_OK(r->service_account) ||
		    !FIELD_OK(r->node) || !FIELD_OK(r->owner_kind) || !FIELD_OK(r->owner_name) ||
		    !FIELD_OK(r->workload_kind) || !FIELD_OK(r->workload_name))
			abort();
		if (r->ncontainers > NH_POD_MAX_CONTAINERS)
			abort();
		for (j = 0; j < r->ncontainers; j++) {
			const struct nh_pod_container *c = &r->containers[j];

			if (!FIELD_OK(c->name) || !FIELD_OK(c->image) || !FIELD_OK(c->runtime) ||
			    !FIELD_OK(c->id) || c->role > NH_CTR_EPHEMERAL)
				abort();
		}
		/* the first record with this uid answers */
		found = nh_kubelet_pod(k, r->uid);
		if (!found || found > r || strcmp(found->uid, r->uid) != 0)
			abort();
		/* the workload is the owner, or a Deployment inferred from the
		 * name of a ReplicaSet "<deployment>-<hash>" */
		if ((strcmp(r->workload_kind, r->owner_kind) != 0 ||
		     strcmp(r->workload_name, r->owner_name) != 0) &&
		    (strcmp(r->workload_kind, "Deployment") != 0 ||
		     strcmp(r->owner_kind, "ReplicaSet") != 0 || !r->workload_name[0] ||
		     strncmp(r->owner_name, r->workload_name, strlen(r->workload_name)) != 0 ||
		     r->owner_name[strlen(r->workload_name)] != '-'))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char seed[] =
	    "{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":\"seed-uid\"}}]}";
	struct nh_kubelet a = {0}, b = {0};
	const struct nh_pod_record *before;
	const char *why_a = NULL, *why_b = NULL;
	int ra, rb;

	/* a known table first, to see that a failure keeps it */
	if (nh_kubelet_parse(&a, seed, sizeof(seed) - 1, NULL) != 0 || a.npods != 1)
		abort();
	before = a.pods;
	ra = nh_kubelet_parse(&a, (const char *)data, size, &why_a);
	rb = nh_kubelet_parse(&b, (const char *)data, size, &why_b);
	if (ra != rb || why_a != why_b)
		abort();
	if (ra == 0) {
		if (why_a)
			abort();
		check_table(&a);
		if (a.npods != b.npods || a.skipped != b.skipped ||
		    (a.npods && memcmp(a.pods, b.pods, a.npods * sizeof(*a.pods)) != 0))
			abort();
	} else {
		if (ra != -EINVAL && ra != -E2BIG && ra != -ENOMEM)
			abort();
		if (!why_a || !memchr(a.error, '\0', sizeof(a.error)))
			abort();
		if (a.pods != before || a.npods != 1 || !nh_kubelet_pod(&a, "seed-uid"))
			abort();
	}
	nh_kubelet_free(&a);
	nh_kubelet_free(&b);
	return 0;
}
