/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the key-set parser and the token verifier, the two parsers of
 * untrusted text on the verification path (a JWKS from the network, a
 * token from a pod). Besides memory safety: a parsed set has between 1 and
 * NH_JWKS_MAX_KEYS keys, each with an OpenSSL key; a failure leaves it
 * empty with a reason; no input verifies against a set the fuzzer cannot
 * sign for (a fixed key made at start), whatever its header says.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jwks.h"
#include "jwt.h"
#include "tokenverify.h"

static struct nh_jwks fixed;

static void init_fixed(void)
{
	/* P-256 generator point: a valid public key nobody here signs with. */
	static const char doc[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k\","
				  "\"x\":\"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY\","
				  "\"y\":\"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU\"}]}";
	const char *why;

	if (!fixed.n && nh_jwks_parse(doc, sizeof(doc) - 1, &fixed, &why) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nh_verify_conf conf = {.issuer = "i", .audience = "a", .leeway_s = 60};
	struct nh_sa_claims claims = {0};
	struct nh_jwks j = {0};
	const char *why = NULL;
	int err;

	init_fixed();
	err = nh_jwks_parse((const char *)data, size, &j, &why);
	if (err) {
		if (j.n != 0 || !why)
			abort();
	} else {
		if (j.n == 0 || j.n > NH_JWKS_MAX_KEYS)
			abort();
		for (size_t i = 0; i < j.n; i++)
			if (!j.keys[i].pkey || !memchr(j.keys[i].kid, '\0', sizeof(j.keys[i].kid)))
				abort();
	}
	nh_jwks_free(&j);

	why = NULL;
	err = nh_token_verify((const char *)data, size, &claims, &fixed, &conf, 0, &why);
	if (err == 0 || !why)
		abort();
	return 0;
}
