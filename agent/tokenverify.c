// SPDX-License-Identifier: Apache-2.0
#include "tokenverify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#define HEADER_MAX 1024 /* decoded header bytes: {"alg":..,"kid":..} */
#define SIG_MAX	   1024 /* an 8192-bit RSA signature is 1024 bytes */

const char *nh_verify_mode_name(enum nh_verify_mode m)
{
	switch (m) {
	case NH_VERIFY_REQUIRED:
		return "required";
	case NH_VERIFY_OFF:
		return "off";
	case NH_VERIFY_AUTO:
	default:
		return "auto";
	}
}

/* alg and kid of the header segment; -EINVAL when malformed. */
static int parse_header(const char *p, size_t n, enum nh_jwk_type *type, char *kid, size_t kcap,
			bool *has_kid, const char **why)
{
	unsigned char buf[HEADER_MAX];
	struct json_tokener *tok;
	json_object *o = NULL, *v;
	const char *alg;
	ssize_t len;
	int err = -EINVAL;

	if (n > (HEADER_MAX - 3) / 3 * 4 || (len = nh_b64url_decode(p, n, buf)) <= 0) {
		*why = "token header is not base64url";
		return -EINVAL;
	}
	tok = json_tokener_new_ex(4);
	if (!tok) {
		*why = "out of memory";
		return -ENOMEM;
	}
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object)) {
		*why = "token header is not a JSON object";
		goto cleanup;
	}
	if (!json_object_object_get_ex(o, "alg", &v) || !json_object_is_type(v, json_type_string)) {
		*why = "token header has no alg";
		goto cleanup;
	}
	alg = json_object_get_string(v);
	if (strcmp(alg, "RS256") == 0) {
		*type = NH_JWK_RSA;
	} else if (strcmp(alg, "ES256") == 0) {
		*type = NH_JWK_EC_P256;
	} else {
		*why = "token alg is neither RS256 nor ES256";
		goto cleanup;
	}
	*has_kid = json_object_object_get_ex(o, "kid", &v);
	if (*has_kid) {
		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) >= kcap) {
			*why = "token kid is not a short string";
			goto cleanup;
		}
		strcpy(kid, json_object_get_string(v));
	}
	err = 0;
cleanup:
	json_object_put(o);
	return err;
}

/* JWS ES256 signatures are r || s; OpenSSL wants DER. */
static int es256_der(const unsigned char *sig, size_t len, unsigned char **der, size_t *dlen)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	int n, err = -EKEYREJECTED;

	*der = NULL;
	if (len != 64)
		return -EKEYREJECTED;
	s = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	ss = BN_bin2bn(sig + 32, 32, NULL);
	if (!s || !r || !ss || !ECDSA_SIG_set0(s, r, ss))
		goto cleanup;
	r = ss = NULL; /* owned by s now */
	n = i2d_ECDSA_SIG(s, der);
	if (n <= 0)
		goto cleanup;
	*dlen = (size_t)n;
	err = 0;
cleanup:
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	return err;
}

static bool signature_ok(const struct nh_jwk *k, const char *input, size_t ilen,
			 const unsigned char *sig, size_t slen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	size_t dlen = slen;
	const unsigned char *s = sig;
	bool ok = false;

	if (!md)
		return false;
	if (k->type == NH_JWK_EC_P256) {
		if (es256_der(sig, slen, &der, &dlen) != 0)
			goto cleanup;
		s = der;
	}
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
	     EVP_DigestVerify(md, s, dlen, (const unsigned char *)input, ilen) == 1;
cleanup:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

static bool has_audience(const char *list, const char *want)
{
	size_t n = strlen(want);
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, want, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

int nh_token_verify(const char *token, size_t len, const struct nh_sa_claims *claims,
		    const struct nh_jwks *keys, const struct nh_verify_conf *conf, int64_t now,
		    const char **why)
{
	const char *dot1, *dot2, *sigp;
	unsigned char sig[SIG_MAX];
	enum nh_jwk_type type = 0;
	char kid[128] = "";
	bool has_kid = false, tried = false;
	size_t slen_b64;
	ssize_t slen;
	int err;

	*why = NULL;
	while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' ' ||
		       token[len - 1] == '\t'))
		len--;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2) {
		*why = "not three dot-separated segments";
		return -EINVAL;
	}
	err = parse_header(token, (size_t)(dot1 - token), &type, kid, sizeof(kid), &has_kid, why);
	if (err)
		return err;
	sigp = dot2 + 1;
	slen_b64 = len - (size_t)(sigp - token);
	if (slen_b64 > SIG_MAX / 3 * 4 || (slen = nh_b64url_decode(sigp, slen_b64, sig)) <= 0) {
		*why = "signature is not base64url";
		return -EKEYREJECTED;
	}
	for (size_t i = 0; keys && i < keys->n; i++) {
		const struct nh_jwk *k = &keys->keys[i];

		if (has_kid ? strcmp(k->kid, kid) != 0 : k->type != type)
			continue;
		if (k->type != type) {
			*why = "the key named by kid is not of the token's alg";
			return -EKEYREJECTED;
		}
		tried = true;
		if (signature_ok(k, token, (size_t)(dot2 - token), sig, (size_t)slen))
			goto signed_ok;
	}
	*why = tried ? "signature does not verify with the cluster's keys"
		     : "signed by a key the cluster does not have (unknown kid)";
	return tried ? -EKEYREJECTED : -ENOKEY;
signed_ok:
	if (claims->exp && now > claims->exp + conf->leeway_s) {
		*why = "token has expired";
		return -EKEYEXPIRED;
	}
	if (claims->nbf && now + conf->leeway_s < claims->nbf) {
		*why = "token is not valid yet (nbf)";
		return -EKEYEXPIRED;
	}
	if (conf->issuer && conf->issuer[0] && strcmp(claims->issuer, conf->issuer) != 0) {
		*why = "token issuer is not the configured one";
		return -EACCES;
	}
	if (conf->audience && conf->audience[0] &&
	    !has_audience(claims->audience, conf->audience)) {
		*why = "token audience does not include the configured one";
		return -EACCES;
	}
	return 0;
}
