/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/jwks.c and agent/tokenverify.c. Keys are made here
 * with OpenSSL (RSA-2048, P-256), published as a JWKS, and tokens are
 * signed with them: genuine ones verify, every forgery is told apart.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "check.h"
#include "jwks.h"
#include "jwt.h"
#include "tokenverify.h"

#define NS  "payments"
#define SA  "api"
#define POD "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a"

static void b64url(const unsigned char *in, size_t n, char *out, size_t cap)
{
	unsigned char buf[4096];
	int len;

	if (n * 4 / 3 + 4 > sizeof(buf) || n * 4 / 3 + 4 > cap) {
		out[0] = '\0';
		return;
	}
	len = EVP_EncodeBlock(buf, in, (int)n);
	while (len > 0 && buf[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		out[i] = buf[i] == '+' ? '-' : buf[i] == '/' ? '_' : (char)buf[i];
	out[len] = '\0';
}

static void b64url_str(const char *s, char *out, size_t cap)
{
	b64url((const unsigned char *)s, strlen(s), out, cap);
}

static void bn_b64(EVP_PKEY *k, const char *param, char *out, size_t cap)
{
	unsigned char buf[1024];
	BIGNUM *bn = NULL;
	int n;

	EVP_PKEY_get_bn_param(k, param, &bn);
	n = BN_bn2bin(bn, buf);
	b64url(buf, (size_t)n, out, cap);
	BN_free(bn);
}

/* {"kty":...} of the public half of k. */
static void jwk(EVP_PKEY *k, const char *kid, const char *extra, char *out, size_t cap)
{
	if (EVP_PKEY_is_a(k, "RSA")) {
		char n[1024], e[16];

		bn_b64(k, OSSL_PKEY_PARAM_RSA_N, n, sizeof(n));
		bn_b64(k, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e));
		snprintf(out, cap, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}",
			 kid, n, e, extra);
	} else {
		unsigned char pt[65];
		char x[64], y[64];
		size_t len = 0;

		EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len);
		b64url(pt + 1, 32, x, sizeof(x));
		b64url(pt + 33, 32, y, sizeof(y));
		snprintf(
		    out, cap,
		    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}",
		    kid, x, y, extra);
	}
}

/* header.payload.signature, signed by k (RS256 or ES256 by its type). */
static void sign(EVP_PKEY *k, const char *header, const char *payload, char *out, size_t cap)
{
	char h[512], p[2048], sig64[1024];
	unsigned char sig[1024], rs[64];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t slen = sizeof(sig);
	int n;

	b64url_str(header, h, sizeof(h));
	b64url_str(payload, p, sizeof(p));
	n = snprintf(out, cap, "%s.%s", h, p);
	EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(md, sig, &slen, (unsigned char *)out, (size_t)n);
	EVP_MD_CTX_free(md);
	if (EVP_PKEY_is_a(k, "EC")) {
		const unsigned char *d = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)slen);

		BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
		ECDSA_SIG_free(es);
		b64url(rs, 64, sig64, sizeof(sig64));
	} else {
		b64url(sig, slen, sig64, sizeof(sig64));
	}
	snprintf(out + n, cap - (size_t)n, ".%s", sig64);
}

static void payload(char *out, size_t cap, int64_t exp, int64_t nbf, const char *iss)
{
	snprintf(
	    out, cap,
	    "{\"aud\":[\"https://kubernetes.default.svc\",\"vault\"],\"exp\":%lld,\"iat\":%lld,"
	    "\"nbf\":%lld,\"iss\":\"%s\",\"sub\":\"system:serviceaccount:" NS ":" SA "\","
	    "\"kubernetes.io\":{\"namespace\":\"" NS "\",\"pod\":{\"name\":\"api-0\",\"uid\":"
	    "\"" POD "\"},\"serviceaccount\":{\"name\":\"" SA "\",\"uid\":"
	    "\"c0ffee00-1111-2222-3333-444455556666\"}}}",
	    (long long)exp, (long long)nbf, (long long)nbf, iss);
}

static EVP_PKEY *rsa, *ec, *other;
static struct nh_jwks keys;

static int verify(const char *token, const struct nh_verify_conf *conf, int64_t now,
		  const char **why)
{
	struct nh_sa_claims c;
	const char *w = NULL;

	if (nh_jwt_decode_sa(token, strlen(token), &c, &w) != 0) {
		*why = w;
		return -1000;
	}
	return nh_token_verify(token, strlen(token), &c, &keys, conf, now, why);
}

static void test_signatures(void)
{
	struct nh_verify_conf conf = {.leeway_s = 60};
	int64_t now = (int64_t)time(NULL);
	char tok[4096], pl[2048];
	const char *why;

	payload(pl, sizeof(pl), now + 3600, now - 10, "https://kubernetes.default.svc");
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == 0);
	sign(ec, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == 0);
	/* no kid: any key of the alg's type */
	sign(ec, "{\"alg\":\"ES256\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == 0);
	/* a key the set does not have, under a kid it does not know */
	sign(other, "{\"alg\":\"RS256\",\"kid\":\"r9\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -ENOKEY);
	CHECK(why && strstr(why, "unknown kid"));
	/* ... under the cluster key's kid */
	sign(other, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -EKEYREJECTED);
	CHECK_STR(why, "signature does not verify with the cluster's keys");
	/* a payload changed after signing */
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	{
		char forged[4096], p2[2048], p64[2048];
		const char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');

		payload(p2, sizeof(p2), now + 36000, now - 10, "https://kubernetes.default.svc");
		b64url_str(p2, p64, sizeof(p64));
		snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - tok), tok, p64, dot2);
		CHECK(verify(forged, &conf, now, &why) == -EKEYREJECTED);
	}
	/* alg confusion: the RSA key's kid, ES256 */
	sign(ec, "{\"alg\":\"ES256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -EKEYREJECTED);
	/* none and HMAC are never accepted */
	sign(rsa, "{\"alg\":\"none\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -EINVAL);
	CHECK_STR(why, "token alg is neither RS256 nor ES256");
	sign(rsa, "{\"alg\":\"HS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -EINVAL);
	/* an ES256 signature of the wrong length */
	sign(ec, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", pl, tok, sizeof(tok));
	strcat(tok, "AAAA");
	CHECK(verify(tok, &conf, now, &why) == -EKEYREJECTED);
	/* trailing newline of a token file is fine */
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	strcat(tok, "\n");
	CHECK(verify(tok, &conf, now, &why) == 0);
	/* no keys at all: nothing verifies */
	{
		struct nh_jwks none = {0};
		struct nh_sa_claims c;
		const char *w;

		CHECK(nh_jwt_decode_sa(tok, strlen(tok), &c, &w) == 0);
		CHECK(nh_token_verify(tok, strlen(tok), &c, &none, &conf, now, &w) == -ENOKEY);
	}
}

static void test_claims(void)
{
	struct nh_verify_conf conf = {.leeway_s = 60};
	int64_t now = (int64_t)time(NULL);
	char tok[4096], pl[2048];
	const char *why;

	payload(pl, sizeof(pl), now - 120, now - 3600, "https://kubernetes.default.svc");
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -EKEYEXPIRED);
	CHECK_STR(why, "token has expired");
	/* within the leeway */
	CHECK(verify(tok, &conf, now - 90, &why) == 0);
	payload(pl, sizeof(pl), now + 3600, now + 600, "https://kubernetes.default.svc");
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == -EKEYEXPIRED);
	CHECK_STR(why, "token is not valid yet (nbf)");

	payload(pl, sizeof(pl), now + 3600, now, "https://evil.example");
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == 0);
	conf.issuer = "https://kubernetes.default.svc";
	CHECK(verify(tok, &conf, now, &why) == -EACCES);
	CHECK_STR(why, "token issuer is not the configured one");
	payload(pl, sizeof(pl), now + 3600, now, "https://kubernetes.default.svc");
	sign(rsa, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", pl, tok, sizeof(tok));
	CHECK(verify(tok, &conf, now, &why) == 0);
	conf.audience = "vault";
	CHECK(verify(tok, &conf, now, &why) == 0);
	conf.audience = "vaul";
	CHECK(verify(tok, &conf, now, &why) == -EACCES);
	conf.audience = "https://kubernetes.default.svc,vault";
	CHECK(verify(tok, &conf, now, &why) == -EACCES);
}

static void test_jwks(void)
{
	struct nh_jwks j = {0};
	char doc[8192], k1[2048], k2[2048];
	const char *why;

	CHECK(nh_jwks_parse("nope", 4, &j, &why) == -EINVAL);
	CHECK_STR(why, "not a JSON object with a keys array");
	CHECK(nh_jwks_parse("{\"keys\":{}}", 11, &j, &why) == -EINVAL);
	CHECK(nh_jwks_parse("{\"keys\":[]}", 11, &j, &why) == -EINVAL);
	CHECK_STR(why, "no usable RS256 or ES256 signing key");
	/* other uses and types are skipped, counted */
	jwk(rsa, "r1", ",\"use\":\"enc\"", k1, sizeof(k1));
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", k1);
	CHECK(nh_jwks_parse(doc, strlen(doc), &j, &why) == -EINVAL);
	jwk(rsa, "r1", ",\"use\":\"sig\",\"alg\":\"RS256\"", k1, sizeof(k1));
	jwk(ec, "e1", "", k2, sizeof(k2));
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,{\"kty\":\"OKP\",\"crv\":\"Ed25519\"},%s]}", k1,
		 k2);
	CHECK(nh_jwks_parse(doc, strlen(doc), &j, &why) == 0);
	CHECK(j.n == 2 && j.skipped == 1);
	CHECK_STR(j.keys[0].kid, "r1");
	CHECK(j.keys[1].type == NH_JWK_EC_P256);
	/* an RSA key too short to trust */
	{
		EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);

		jwk(small, "s", "", k1, sizeof(k1));
		snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", k1);
		CHECK(nh_jwks_parse(doc, strlen(doc), &j, &why) == -EINVAL);
		CHECK_STR(why, "RSA key shorter than 2048 bits");
		CHECK(j.n == 0);
		EVP_PKEY_free(small);
	}
	/* an EC point off the curve */
	snprintf(doc, sizeof(doc),
		 "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
		 "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	CHECK(nh_jwks_parse(doc, strlen(doc), &j, &why) == -EINVAL);
	CHECK_STR(why, "EC key is not a point on P-256");
	CHECK(nh_jwks_load("/nonexistent/jwks.json", &j, &why) != 0);
	nh_jwks_free(&j);
}

int main(void)
{
	char doc[8192], k1[2048], k2[2048];
	const char *why = NULL;

	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	jwk(rsa, "r1", "", k1, sizeof(k1));
	jwk(ec, "e1", "", k2, sizeof(k2));
	snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", k1, k2);
	CHECK(nh_jwks_parse(doc, strlen(doc), &keys, &why) == 0);
	CHECK(keys.n == 2);
	test_signatures();
	test_claims();
	test_jwks();
	nh_jwks_free(&keys);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
	return nh_check_report("tokenverify");
}
