/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokenverify: is a service-account token genuine? Its JWS signature
 * (RS256 or ES256, OpenSSL libcrypto) is checked against the cluster's
 * key set (jwks.h), then its validity window and, where configured, its
 * issuer and audience. Pure: no I/O, the clock is a parameter.
 */
#ifndef NH_TOKENVERIFY_H
#define NH_TOKENVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "jwks.h"
#include "jwt.h"

/* kubernetes.verifyTokens */
enum nh_verify_mode {
	NH_VERIFY_AUTO = 0, /* verify when keys are known; a failure is not believed */
	NH_VERIFY_REQUIRED, /* no keys, no belief */
	NH_VERIFY_OFF,	    /* claims are believed as read */
};

struct nh_verify_conf {
	const char *issuer;   /* NULL: any */
	const char *audience; /* NULL: any; else one of the token's aud */
	int64_t leeway_s;     /* clock skew allowed on exp and nbf */
};

/*
 * Verify the @len bytes of @token (trailing whitespace tolerated), whose
 * payload decoded to @claims, at wall time @now. Returns 0 when genuine;
 * otherwise *why names the reason and the result says which kind:
 * -ENOKEY (no key with the token's kid: refresh the set and retry),
 * -EKEYREJECTED (signature does not verify, or the key type does not match
 * alg), -EINVAL (header malformed, alg not RS256/ES256), -EKEYEXPIRED
 * (expired or not yet valid), -EACCES (issuer or audience not the
 * configured one), -ENOMEM.
 */
int nh_token_verify(const char *token, size_t len, const struct nh_sa_claims *claims,
		    const struct nh_jwks *keys, const struct nh_verify_conf *conf, int64_t now,
		    const char **why);

const char *nh_verify_mode_name(enum nh_verify_mode m);

#endif
