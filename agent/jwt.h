/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt: the claims of a Kubernetes service-account token, read from the
 * payload of the JWT. Pure parsing, no I/O, unit-tested and fuzzed.
 *
 * No signature check here: the claims say what the token claims, not who
 * the holder is. tokenverify.h checks the signature against the cluster's
 * key set; satoken.h decides which copy of a token is believed.
 *
 * Only the payload is decoded; the header is checked to be a JSON object
 * and the signature only to be base64url text. The token is never copied
 * into the result: transient decode buffers are cleared before return.
 * Payload claims do pass through json-c's own allocations, which are freed
 * but not cleared; without the signature they are not a credential.
 */
#ifndef NH_JWT_H
#define NH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NH_JWT_MAX	65536 /* longest accepted token, in bytes */
#define NH_K8S_NAME_MAX 254   /* DNS subdomain: 253 + NUL */
/* "system:serviceaccount:" + 63-byte namespace + ':' + 253-byte name + NUL */
#define NH_SA_SUBJECT_MAX 340

struct nh_sa_claims {
	char issuer[256];
	char subject[NH_SA_SUBJECT_MAX];  /* "system:serviceaccount:<ns>:<name>" */
	char namespace_[NH_K8S_NAME_MAX]; /* a DNS label: at most 63 bytes */
	char service_account[NH_K8S_NAME_MAX];
	char service_account_uid[64];
	char pod_name[NH_K8S_NAME_MAX]; /* empty when absent (all below too) */
	char pod_uid[64];
	char node_name[NH_K8S_NAME_MAX];
	char node_uid[64];
	char secret_name[NH_K8S_NAME_MAX]; /* legacy tokens */
	char audience[256];		   /* aud: a string, or an array joined with ',' */
	bool audience_truncated;
	char jti[128];
	int64_t iat, exp, nbf; /* seconds since the epoch; 0 when absent */
	int64_t warn_after;    /* kubernetes.io warnafter: when the API server
				* starts warning that the token is stale; 0 when absent */
	bool legacy;	       /* secret-based token (kubernetes/serviceaccount issuer
				* or flat kubernetes.io/serviceaccount/... claims) */
	bool long_lived;       /* no exp: valid until revoked, whatever the issuer */
};

/*
 * Decode the payload claims of the JWT in the @len bytes at @token
 * (header.payload.signature; trailing spaces, tabs and newlines are
 * tolerated, as in a token file). Returns 0 with *out filled, or -EINVAL
 * with *out zeroed and *why (may be NULL) pointing at a static string
 * naming the problem, e.g. "not three dot-separated segments", "payload is
 * not base64url", "payload is not a JSON object", "sub is not
 * system:serviceaccount:<namespace>:<name>", "namespace claim disagrees
 * with sub". *why is NULL on success. -ENOMEM (why "out of memory") when
 * the decode buffer or the JSON parser cannot be allocated.
 *
 * Rules: at most NH_JWT_MAX bytes; base64url with or without correct
 * padding; sub is required and its namespace must be a DNS label and its
 * name a DNS subdomain, as Kubernetes requires; pod, node and secret
 * names, when present, must be DNS subdomains; the kubernetes.io claims,
 * bound or legacy, must agree with sub; a known claim of the wrong type
 * is an error (JSON null counts as absent); iat/exp/nbf/warnafter are integers or doubles between 0
 * and the end of year 9999; no string claim may hold a control byte; an
 * over-long value is an error, except aud, which is truncated (at a
 * UTF-8 boundary) and flagged.
 */
int nh_jwt_decode_sa(const char *token, size_t len, struct nh_sa_claims *out, const char **why);

/*
 * Seconds the token remains valid at @now (negative once expired), or
 * INT64_MAX for a long-lived token.
 */
int64_t nh_sa_claims_remaining(const struct nh_sa_claims *c, int64_t now);

/*
 * base64url (unpadded or correctly padded) of the @n bytes at @p into
 * @out, which holds at least n * 3 / 4 bytes (NULL just validates).
 * Returns the decoded length or -EINVAL. Used by tokenverify and jwks.
 */
ssize_t nh_b64url_decode(const char *p, size_t n, unsigned char *out);

#endif
