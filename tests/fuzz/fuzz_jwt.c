/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the service-account JWT decoder. Besides memory safety (ASan/UBSan):
 * the result is deterministic (decoded twice into differently pre-filled
 * structs, the bytes match), every string field is NUL-terminated, an error
 * has a reason and leaves the struct zeroed, and a success satisfies the
 * invariants the callers build identity keys from.
 *
 * Each input is tried twice: as a token, and as the JSON payload of a
 * token minted here, since random mutations of base64 text seldom reach
 * the claims parser.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

#define FIELD_TERMINATED(s, f) (memchr((s)->f, '\0', sizeof((s)->f)) != NULL)

static bool terminated(const struct nh_sa_claims *c)
{
	return FIELD_TERMINATED(c, issuer) && FIELD_TERMINATED(c, subject) &&
	       FIELD_TERMINATED(c, namespace_) && FIELD_TERMINATED(c, service_account) &&
	       FIELD_TERMINATED(c, service_account_uid) && FIELD_TERMINATED(c, pod_name) &&
	       FIELD_TERMINATED(c, pod_uid) && FIELD_TERMINATED(c, node_name) &&
	       FIELD_TERMINATED(c, node_uid) && FIELD_TERMINATED(c, secret_name) &&
	       FIELD_TERMINATED(c, audience) && FIELD_TERMINATED(c, jti);
}

static bool is_time(int64_t t)
{
	return t >= 0 && t <= 253402300799LL;
}

static void check(const char *token, size_t len)
{
	static const struct nh_sa_claims zero;
	struct nh_sa_claims a, b;
	const char *wa = "junk", *wb = "junk";
	char sub[NH_SA_SUBJECT_MAX + 8];
	int ra, rb;

	memset(&a, 0x5a, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	ra = nh_jwt_decode_sa(token, len, &a, &wa);
	rb = nh_jwt_decode_sa(token, len, &b, &wb);
	if (ra != rb || wa != wb || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	if (!terminated(&a))
		abort();
	if (ra != 0) {
		if ((ra != -EINVAL && ra != -ENOMEM) || !wa || memcmp(&a, &zero, sizeof(a)) != 0)
			abort();
		return;
	}
	if (wa != NULL || !a.namespace_[0] || !a.service_account[0] || strlen(a.namespace_) > 63)
		abort();
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", a.namespace_, a.service_account);
	if (strcmp(sub, a.subject) != 0)
		abort();
	if (!is_time(a.exp) || !is_time(a.iat) || !is_time(a.nbf) || !is_time(a.warn_after))
		abort();
	if ((a.long_lived && a.exp != 0) || (unsigned char)a.legacy > 1 ||
	    (unsigned char)a.long_lived > 1 || (unsigned char)a.audience_truncated > 1)
		abort();
}

static size_t b64url(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = a[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "eyJhbGciOiJSUzI1NiJ9.";
	static const char tail[] = ".c2lnbmF0dXJl";
	static char tok[NH_JWT_MAX];
	size_t n;

	check((const char *)data, size);

	if (size > (NH_JWT_MAX - sizeof(head) - sizeof(tail)) / 4 * 3)
		return 0;
	n = strlen(head);
	memcpy(tok, head, n);
	n += b64url(data, size, tok + n);
	memcpy(tok + n, tail, strlen(tail));
	n += strlen(tail);
	check(tok, n);
	return 0;
}
