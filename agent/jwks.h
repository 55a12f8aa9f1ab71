/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwks: the cluster's service-account signing keys, a JSON Web Key Set as
 * the API server serves it at /openid/v1/jwks (or a file holding one).
 * RSA (RS256, at least 2048 bits) and EC P-256 (ES256) signature keys are
 * kept as OpenSSL keys; anything else is skipped and counted. Public keys
 * only: nothing here is secret.
 */
#ifndef NH_JWKS_H
#define NH_JWKS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#define NH_JWKS_MAX_BYTES (1024 * 1024)
#define NH_JWKS_MAX_KEYS  64

enum nh_jwk_type {
	NH_JWK_RSA = 1, /* RS256 */
	NH_JWK_EC_P256, /* ES256 */
};

struct nh_jwk {
	char kid[128]; /* "" when the key has none */
	enum nh_jwk_type type;
	EVP_PKEY *pkey;
};

struct nh_jwks {
	struct nh_jwk keys[NH_JWKS_MAX_KEYS];
	size_t n;
	size_t skipped; /* keys of other types or uses */
};

/*
 * Parse a key set from the @len bytes at @json into *out (freed first).
 * Returns 0, or -EINVAL with *why naming the problem ("not a JSON object
 * with a keys array", "RSA key modulus is not base64url", "no usable
 * RS256 or ES256 key"...). On error *out is empty.
 */
int nh_jwks_parse(const char *json, size_t len, struct nh_jwks *out, const char **why);
/* Read and parse a file (regular, at most NH_JWKS_MAX_BYTES). */
int nh_jwks_load(const char *path, struct nh_jwks *out, const char **why);
void nh_jwks_free(struct nh_jwks *j);

#endif
