/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/jwt.c. Tokens are minted here: JSON written in the
 * test, base64url-encoded, with an arbitrary base64url "signature".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jwt.h"

#define HDR "{\"alg\":\"RS256\",\"kid\":\"Zx8Lw3k\"}"
/* base64url text that must never be found in the decoded claims */
#define SIG "U2lnbmF0dXJlVGV4dFRoYXRNdXN0TmV2ZXJMZWFrXzAxMjM0NTY3ODk-ZmluYWw"

#define SUB "system:serviceaccount:payments:api"
#define BOUND                                                                                      \
	"{\"aud\":[\"https://kubernetes.default.svc.cluster.local\",\"k3s\"],\"exp\":1767225600,"  \
	"\"iat\":1735689600,\"iss\":\"https://kubernetes.default.svc.cluster.local\","             \
	"\"jti\":\"4b1c6a8e-2f0d-4c3b-9e7a-1d2c3b4a5f60\",\"kubernetes.io\":{\"namespace\":"       \
	"\"payments\",\"node\":{\"name\":\"worker-1.eu-west.compute.internal\",\"uid\":"           \
	"\"0e8f9c1a-aaaa-bbbb-cccc-222233334444\"},\"pod\":{\"name\":\"api-7d9f8c6b5-x2k4q\","     \
	"\"uid\":\"7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a\"},\"serviceaccount\":{\"name\":\"api\","  \
	"\"uid\":\"c0ffee00-1111-2222-3333-444455556666\"},\"warnafter\":1735693207},\"nbf\":"     \
	"1735689600,\"sub\":\"" SUB "\"}"
#define LEGACY                                                                                     \
	"{\"iss\":\"kubernetes/serviceaccount\",\"kubernetes.io/serviceaccount/namespace\":"       \
	"\"kube-system\",\"kubernetes.io/serviceaccount/secret.name\":\"deployer-token-x7b2q\","   \
	"\"kubernetes.io/serviceaccount/service-account.name\":\"deployer\","                      \
	"\"kubernetes.io/serviceaccount/service-account.uid\":"                                    \
	"\"a1b2c3d4-0000-1111-2222-333344445555\",\"sub\":"                                        \
	"\"system:serviceaccount:kube-system:deployer\"}"

static char tok[4 * NH_JWT_MAX];
static struct nh_sa_claims c;
static const char *why;

static size_t b64url(const void *in, size_t n, char *out, bool pad)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = a[p[i] >> 2];
		out[o++] = a[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = a[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		out[o++] = a[p[i + 2] & 63];
	}
	if (n - i == 1) {
		out[o++] = a[p[i] >> 2];
		out[o++] = a[(p[i] & 3) << 4];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		out[o++] = a[p[i] >> 2];
		out[o++] = a[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = a[(p[i + 1] & 15) << 2];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* header.payload.signature into tok; returns its length. */
static size_t mint_ex(const char *hdr, const char *payload, size_t plen, const char *sig, bool pad)
{
	size_t n = b64url(hdr, strlen(hdr), tok, pad);

	tok[n++] = '.';
	n += b64url(payload, plen, tok + n, pad);
	n += (size_t)snprintf(tok + n, sizeof(tok) - n, ".%s", sig);
	return n;
}

static size_t mint(const char *payload)
{
	return mint_ex(HDR, payload, strlen(payload), SIG, false);
}

static int decode(size_t len)
{
	memset(&c, 0xa5, sizeof(c));
	why = "junk";
	return nh_jwt_decode_sa(tok, len, &c, &why);
}

static bool zeroed(const struct nh_sa_claims *x)
{
	static const struct nh_sa_claims zero;

	return memcmp(x, &zero, sizeof(zero)) == 0;
}

/* The decoder leaves no piece of the token text in its result. */
static bool no_token_text(size_t len)
{
	const char *dot1 = memchr(tok, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok)) : NULL;
	size_t plen;

	if (memmem(&c, sizeof(c), SIG, strlen(SIG)) || memmem(&c, sizeof(c), SIG, 12))
		return false;
	if (!dot2)
		return true;
	plen = (size_t)(dot2 - dot1 - 1);
	/* any 12 characters of the encoded payload */
	for (size_t i = 0; i + 12 <= plen; i += 6) {
		if (memmem(&c, sizeof(c), dot1 + 1 + i, 12))
			return false;
	}
	return true;
}

static void expect_einval(int line, size_t len, const char *want_why)
{
	int rc = decode(len);

	if (rc != -EINVAL || !why || (want_why && strcmp(why, want_why) != 0))
		fprintf(stderr, "  (line %d: rc %d why \"%s\", wanted \"%s\")\n", line, rc,
			why ? why : "(null)", want_why ? want_why : "any");
	CHECK(rc == -EINVAL);
	CHECK(why != NULL);
	if (want_why)
		CHECK_STR(why, want_why);
	CHECK(zeroed(&c));
}

/* A payload that must be refused, with the reason when given. */
#define BAD_PAYLOAD(json, w) expect_einval(__LINE__, mint(json), w)
#define BAD_TOKEN(text, w)                                                                         \
	do {                                                                                       \
		snprintf(tok, sizeof(tok), "%s", text);                                            \
		expect_einval(__LINE__, strlen(tok), w);                                           \
	} while (0)

static void test_bound(void)
{
	size_t len = mint(BOUND);

	CHECK(decode(len) == 0);
	CHECK(why == NULL);
	CHECK_STR(c.issuer, "https://kubernetes.default.svc.cluster.local");
	CHECK_STR(c.subject, SUB);
	CHECK_STR(c.namespace_, "payments");
	CHECK_STR(c.service_account, "api");
	CHECK_STR(c.service_account_uid, "c0ffee00-1111-2222-3333-444455556666");
	CHECK_STR(c.pod_name, "api-7d9f8c6b5-x2k4q");
	CHECK_STR(c.pod_uid, "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a");
	CHECK_STR(c.node_name, "worker-1.eu-west.compute.internal");
	CHECK_STR(c.node_uid, "0e8f9c1a-aaaa-bbbb-cccc-222233334444");
	CHECK_STR(c.secret_name, "");
	CHECK_STR(c.audience, "https://kubernetes.default.svc.cluster.local,k3s");
	CHECK(!c.audience_truncated);
	CHECK_STR(c.jti, "4b1c6a8e-2f0d-4c3b-9e7a-1d2c3b4a5f60");
	CHECK(c.exp == 1767225600 && c.iat == 1735689600 && c.nbf == 1735689600);
	CHECK(c.warn_after == 1735693207);
	CHECK(!c.legacy && !c.long_lived);
	CHECK(no_token_text(len));
	CHECK(nh_sa_claims_remaining(&c, 1767225000) == 600);
	CHECK(nh_sa_claims_remaining(&c, 1767225601) == -1);
	CHECK(nh_sa_claims_remaining(&c, INT64_MIN) == INT64_MAX);

	/* a NULL why is allowed */
	CHECK(nh_jwt_decode_sa(tok, len, &c, NULL) == 0);
	CHECK_STR(c.pod_name, "api-7d9f8c6b5-x2k4q");

	/* padded segments are accepted too */
	len = mint_ex(HDR, BOUND, strlen(BOUND), "c2ln", true);
	CHECK(strchr(tok, '=') != NULL);
	CHECK(decode(len) == 0);
	CHECK_STR(c.pod_name, "api-7d9f8c6b5-x2k4q");

	/* a bound token tied to a Secret object */
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"exp\":5,\"kubernetes.io\":{\"namespace\":"
			  "\"payments\",\"secret\":{\"name\":\"api-token\",\"uid\":\"x\"}}}")) ==
	      0);
	CHECK_STR(c.secret_name, "api-token");
	CHECK(!c.legacy && c.exp == 5 && c.pod_name[0] == '\0');
}

static void test_audience(void)
{
	char json[2048], aud[400];

	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"aud\":\"vault\"}")) == 0);
	CHECK_STR(c.audience, "vault");
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"aud\":[\"vault\"]}")) == 0);
	CHECK_STR(c.audience, "vault");
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"aud\":[]}")) == 0);
	CHECK_STR(c.audience, "");
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"aud\":[\"a\",\"b\",\"c\"]}")) == 0);
	CHECK_STR(c.audience, "a,b,c");
	CHECK(!c.audience_truncated);

	/* 255 bytes exactly fit */
	memset(aud, 'x', 255);
	aud[255] = '\0';
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"aud\":\"%s\"}", aud);
	CHECK(decode(mint(json)) == 0);
	CHECK(strlen(c.audience) == 255 && !c.audience_truncated);
	/* 256 are cut and flagged */
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"aud\":\"%sy\"}", aud);
	CHECK(decode(mint(json)) == 0);
	CHECK(strlen(c.audience) == 255 && c.audience_truncated);
	/* an array past the bound: cut, flagged, and later elements still checked */
	memset(aud, 'x', 200);
	aud[200] = '\0';
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"aud\":[\"%s\",\"%s\",\"z\"]}", aud,
		 aud);
	CHECK(decode(mint(json)) == 0);
	CHECK(strlen(c.audience) == 255 && c.audience_truncated);
	CHECK(strncmp(c.audience, aud, 200) == 0 && c.audience[200] == ',');
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"aud\":[\"%s\",\"%s\",7]}", aud, aud);
	BAD_PAYLOAD(json, "aud is not a string or an array of strings");
	/* truncation never splits a UTF-8 character: 254 x then a 2-byte é */
	memset(aud, 'x', 254);
	strcpy(aud + 254, "\xc3\xa9");
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"aud\":\"%s\"}", aud);
	CHECK(decode(mint(json)) == 0);
	CHECK(strlen(c.audience) == 254 && c.audience_truncated);
}

static void test_legacy(void)
{
	size_t len = mint(LEGACY);

	CHECK(decode(len) == 0);
	CHECK(why == NULL);
	CHECK_STR(c.issuer, "kubernetes/serviceaccount");
	CHECK_STR(c.namespace_, "kube-system");
	CHECK_STR(c.service_account, "deployer");
	CHECK_STR(c.secret_name, "deployer-token-x7b2q");
	CHECK_STR(c.service_account_uid, "a1b2c3d4-0000-1111-2222-333344445555");
	CHECK_STR(c.pod_name, "");
	CHECK(c.legacy && c.long_lived);
	CHECK(c.exp == 0 && c.iat == 0 && c.nbf == 0);
	CHECK(nh_sa_claims_remaining(&c, 1767225000) == INT64_MAX);
	CHECK(no_token_text(len));

	/* the flat claims alone make it legacy, whatever the issuer */
	CHECK(decode(mint("{\"iss\":\"https://x\",\"sub\":\"" SUB
			  "\",\"kubernetes.io/serviceaccount/secret.name\":\"api-token-1\"}")) ==
	      0);
	CHECK(c.legacy && c.long_lived);
	/* as does the legacy issuer alone */
	CHECK(decode(mint("{\"iss\":\"kubernetes/serviceaccount\",\"sub\":\"" SUB "\"}")) == 0);
	CHECK(c.legacy);
	/* both forms, agreeing uids */
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"serviceaccount\":{\"name\":"
			  "\"api\",\"uid\":\"u1\"}},\"kubernetes.io/serviceaccount/"
			  "service-account.uid\":\"u1\"}")) == 0);
	CHECK_STR(c.service_account_uid, "u1");
	CHECK(c.legacy);
}

static void test_lifetime(void)
{
	/* no exp: long-lived whatever the issuer */
	CHECK(decode(mint(
		  "{\"iss\":\"https://oidc.example\",\"sub\":\"" SUB
		  "\",\"iat\":1735689600,\"kubernetes.io\":{\"namespace\":\"payments\"}}")) == 0);
	CHECK(c.long_lived && !c.legacy && c.exp == 0 && c.iat == 1735689600);
	/* an explicit exp of 0 is an expiry (in 1970), not "absent" */
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"exp\":0}")) == 0);
	CHECK(!c.long_lived && c.exp == 0);
	CHECK(nh_sa_claims_remaining(&c, 100) == -100);
	/* doubles are NumericDates too; fractions are dropped */
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"exp\":1767225600.9,\"iat\":1.7356896e9,"
			  "\"nbf\":1735689600.0}")) == 0);
	CHECK(c.exp == 1767225600 && c.iat == 1735689600 && c.nbf == 1735689600);
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"exp\":253402300799}")) == 0);
	CHECK(c.exp == 253402300799LL);
	/* JSON null is absent, as for the API server */
	CHECK(decode(mint("{\"sub\":\"" SUB "\",\"exp\":null,\"aud\":null,\"pod\":null}")) == 0);
	CHECK(c.long_lived);
}

static void test_whitespace(void)
{
	size_t len = mint(BOUND);

	strcpy(tok + len, "\n");
	CHECK(decode(len + 1) == 0);
	CHECK_STR(c.service_account, "api");
	strcpy(tok + len, "\r\n \t\n");
	CHECK(decode(len + 5) == 0);
	CHECK_STR(c.service_account, "api");
	/* a token file padded with newlines up to exactly the cap */
	memset(tok + len, '\n', NH_JWT_MAX - len);
	CHECK(decode(NH_JWT_MAX) == 0);
	tok[NH_JWT_MAX] = '\n';
	expect_einval(__LINE__, NH_JWT_MAX + 1, "token is longer than 64 KiB");
	/* only trailing whitespace is tolerated */
	len = mint(BOUND);
	memmove(tok + 1, tok, len + 1);
	tok[0] = ' ';
	expect_einval(__LINE__, len + 1, "header is not base64url");
	len = mint(BOUND);
	memmove(tok + 1, tok, len + 1);
	tok[0] = '\n';
	expect_einval(__LINE__, len + 1, NULL);
	/* the length given is honoured: no NUL terminator needed or used */
	len = mint(BOUND);
	tok[len] = '!';
	CHECK(decode(len) == 0);
	expect_einval(__LINE__, len + 1, "signature is not base64url");
}

static void test_big_payload(void)
{
	static char json[NH_JWT_MAX];
	size_t n;

	/* a large unknown claim is fine under the cap */
	n = (size_t)snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"filler\":\"");
	memset(json + n, 'f', 40000);
	strcpy(json + n + 40000, "\"}");
	CHECK(decode(mint(json)) == 0);
	CHECK_STR(c.service_account, "api");
	/* over the cap, refused however well-formed */
	memset(json + n, 'f', 60000);
	strcpy(json + n + 60000, "\"}");
	expect_einval(__LINE__, mint(json), "token is longer than 64 KiB");
	/* a huge input of junk */
	memset(tok, 'A', sizeof(tok));
	expect_einval(__LINE__, sizeof(tok), "token is longer than 64 KiB");
	expect_einval(__LINE__, (size_t)-1, "token is longer than 64 KiB");
}

static void test_structure(void)
{
	size_t n;

	CHECK(nh_jwt_decode_sa("", 0, &c, &why) == -EINVAL && why);
	CHECK(nh_jwt_decode_sa(NULL, 10, &c, &why) == -EINVAL && why);
	CHECK(nh_jwt_decode_sa("a.b.c", 5, NULL, &why) == -EINVAL && why);
	BAD_TOKEN("", "token is empty");
	BAD_TOKEN("\n", "not three dot-separated segments");
	BAD_TOKEN("abc", "not three dot-separated segments");
	BAD_TOKEN("e30.e30", "not three dot-separated segments");
	BAD_TOKEN("e30.e30.c2ln.c2ln", "not three dot-separated segments");
	BAD_TOKEN("e30.e30.c2ln.", "not three dot-separated segments");
	BAD_TOKEN("..", "empty segment");
	BAD_TOKEN(".e30.c2ln", "empty segment");
	BAD_TOKEN("e30..c2ln", "empty segment");
	BAD_TOKEN("e30.e30.", "empty segment");
	/* a signature must look like one even though it is not checked */
	mint_ex(HDR, BOUND, strlen(BOUND), "c2ln+/==", false);
	expect_einval(__LINE__, strlen(tok), "signature is not base64url");
	mint_ex(HDR, BOUND, strlen(BOUND), "c2l n", false);
	expect_einval(__LINE__, strlen(tok), "signature is not base64url");

	/* the header must be base64url of a JSON object */
	mint_ex("[1]", BOUND, strlen(BOUND), SIG, false);
	expect_einval(__LINE__, strlen(tok), "header is not a JSON object");
	mint_ex("not json", BOUND, strlen(BOUND), SIG, false);
	expect_einval(__LINE__, strlen(tok), "header is not a JSON object");
	n = mint(BOUND);
	tok[3] = '*';
	expect_einval(__LINE__, n, "header is not base64url");

	/* payload encoding */
	n = mint(BOUND);
	{
		char *p = strchr(tok, '.') + 1;

		p[5] = '+';
		expect_einval(__LINE__, n, "payload is not base64url");
		mint(BOUND);
		p[5] = '/';
		expect_einval(__LINE__, n, "payload is not base64url");
		mint(BOUND);
		p[5] = '\0';
		expect_einval(__LINE__, n, "payload is not base64url");
		mint(BOUND);
		p[5] = '=';
		expect_einval(__LINE__, n, "payload is not base64url");
	}
	/* padding: wrong amounts, or where none is due */
	BAD_TOKEN("e30.eyJ9=.c2ln", "payload is not base64url");
	BAD_TOKEN("e30.e30==.c2ln", "payload is not base64url");
	BAD_TOKEN("e30.e30.c2ln=", "signature is not base64url");
	/* correct padding is fine ("e30=" is "{}") */
	BAD_TOKEN("e30=.e30=.c2ln", "sub is missing");
	BAD_TOKEN("e30.eyJhIjoxfQ===.c2ln", "payload is not base64url");
	BAD_TOKEN("e30.=.c2ln", "payload is not base64url");
	BAD_TOKEN("e30.====.c2ln", "payload is not base64url");
	/* a length no encoder produces (1 mod 4) */
	BAD_TOKEN("e30.e30xx.c2ln", "payload is not base64url");
	/* non-canonical: stray low bits in the last character ("{}" is e30) */
	BAD_TOKEN("e30.e31.c2ln", "payload is not base64url");
	BAD_TOKEN("e31.e30.c2ln", "header is not base64url");
}

static void test_payload_json(void)
{
	char json[64];

	BAD_PAYLOAD("[1,2]", "payload is not a JSON object");
	BAD_PAYLOAD("\"sub\"", "payload is not a JSON object");
	BAD_PAYLOAD("42", "payload is not a JSON object");
	BAD_PAYLOAD("null", "payload is not a JSON object");
	BAD_PAYLOAD("not json at all", "payload is not a JSON object");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\"", "payload is not a JSON object");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\"} {}", "payload is not a JSON object");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",}", "payload is not a JSON object");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"x\":\"\xff\"}", "payload is not a JSON object");
	BAD_PAYLOAD("", "empty segment");
	/* a raw NUL would end the document early for json-c */
	memcpy(json, "{\"sub\":\"" SUB "\"}\0{", 46);
	expect_einval(__LINE__, mint_ex(HDR, json, 46, SIG, false), "payload is not a JSON object");
	/* nesting past the parser's depth limit */
	BAD_PAYLOAD("{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
		    "payload is not a JSON object");
	/* an empty object has no sub */
	BAD_PAYLOAD("{}", "sub is missing");
}

static void test_subject(void)
{
	const char *bad = "sub is not system:serviceaccount:<namespace>:<name>";

	BAD_PAYLOAD("{\"iss\":\"x\"}", "sub is missing");
	BAD_PAYLOAD("{\"sub\":null}", "sub is missing");
	BAD_PAYLOAD("{\"sub\":42}", bad);
	BAD_PAYLOAD("{\"sub\":[\"" SUB "\"]}", bad);
	BAD_PAYLOAD("{\"sub\":\"system:node:worker-1\"}", bad);
	BAD_PAYLOAD("{\"sub\":\"alice@example.com\"}", bad);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments\"}", bad);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccounts:payments:api\"}", bad);
	BAD_PAYLOAD("{\"sub\":\"System:serviceaccount:payments:api\"}", bad);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount::api\"}",
		    "sub namespace is not a valid Kubernetes namespace");
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:Payments:api\"}",
		    "sub namespace is not a valid Kubernetes namespace");
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:pay.ments:api\"}",
		    "sub namespace is not a valid Kubernetes namespace");
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:-payments:api\"}",
		    "sub namespace is not a valid Kubernetes namespace");
	const char *badname = "sub service account is not a valid Kubernetes name";
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:api:x\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:a..b\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:a.-b\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:api-\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:API\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:a_b\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:a/b\"}", badname);
	BAD_PAYLOAD("{\"sub\":\"system:serviceaccount:payments:api\\u0000x\"}", bad);
	/* names Kubernetes allows */
	CHECK(decode(mint("{\"sub\":\"system:serviceaccount:a:b--c.d-e.0\"}")) == 0);
	CHECK_STR(c.namespace_, "a");
	CHECK_STR(c.service_account, "b--c.d-e.0");
	CHECK(decode(mint("{\"sub\":\"system:serviceaccount:0:9\"}")) == 0);
}

static void test_disagreement(void)
{
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"namespace\":\"default\"}}",
		    "namespace claim disagrees with sub");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"namespace\":\"payments2\"}}",
		    "namespace claim disagrees with sub");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"serviceaccount\":{\"name\":"
		    "\"default\"}}}",
		    "service account claim disagrees with sub");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io/serviceaccount/namespace\":\"default\"}",
		    "namespace claim disagrees with sub");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io/serviceaccount/service-account.name\":"
		    "\"apix\"}",
		    "service account claim disagrees with sub");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"serviceaccount\":{\"name\":\"api\","
		    "\"uid\":\"u1\"}},\"kubernetes.io/serviceaccount/service-account.uid\":\"u2\"}",
		    "service account uid claims disagree or are malformed");
}

/* {"sub":SUB,"kubernetes.io":{"pod":{"name":"<n x 'p'>"}}} */
static size_t mint_pod_name(size_t n)
{
	static char json[1024];
	size_t k = (size_t)snprintf(json, sizeof(json),
				    "{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"pod\":{\"name\":\"");

	memset(json + k, 'p', n);
	strcpy(json + k + n, "\"}}}");
	return mint(json);
}

static void test_lengths(void)
{
	char json[1024], name[300];

	/* a 253-byte name is valid; 254 is not a Kubernetes name at all */
	CHECK(decode(mint_pod_name(253)) == 0);
	CHECK(strlen(c.pod_name) == 253);
	expect_einval(__LINE__, mint_pod_name(254), "kubernetes.io pod is malformed");
	expect_einval(__LINE__, mint_pod_name(600), "kubernetes.io pod is malformed");

	memset(name, 'a', 253);
	name[253] = '\0';
	snprintf(json, sizeof(json), "{\"sub\":\"system:serviceaccount:%.63s:%s\"}", name, name);
	CHECK(decode(mint(json)) == 0);
	CHECK(strlen(c.namespace_) == 63 && strlen(c.service_account) == 253);
	CHECK(strlen(c.subject) == NH_SA_SUBJECT_MAX - 1);
	snprintf(json, sizeof(json), "{\"sub\":\"system:serviceaccount:%.64s:api\"}", name);
	BAD_PAYLOAD(json, "sub namespace is not a valid Kubernetes namespace");
	snprintf(json, sizeof(json), "{\"sub\":\"system:serviceaccount:ns:%sa\"}", name);
	BAD_PAYLOAD(json, "sub service account is not a valid Kubernetes name");

	/* other strings: refused when over-long, not cut */
	memset(name, 'i', 256);
	name[256] = '\0';
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"iss\":\"%.255s\"}", name);
	CHECK(decode(mint(json)) == 0);
	CHECK(strlen(c.issuer) == 255);
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"iss\":\"%s\"}", name);
	BAD_PAYLOAD(json, "iss is not a string of at most 255 bytes");
	snprintf(json, sizeof(json), "{\"sub\":\"" SUB "\",\"jti\":\"%.128s\"}", name);
	BAD_PAYLOAD(json, "jti is not a string of at most 127 bytes");
	snprintf(json, sizeof(json),
		 "{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"pod\":{\"name\":\"p\",\"uid\":"
		 "\"%.64s\"}}}",
		 name);
	BAD_PAYLOAD(json, "kubernetes.io pod is malformed");
	snprintf(json, sizeof(json),
		 "{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"serviceaccount\":{\"uid\":\"%.64s\"}}}",
		 name);
	BAD_PAYLOAD(json, "kubernetes.io serviceaccount uid is malformed");
}

static void test_claim_types(void)
{
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"iss\":7}", "iss is not a string of at most 255 bytes");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"aud\":7}",
		    "aud is not a string or an array of strings");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"aud\":{\"a\":1}}",
		    "aud is not a string or an array of strings");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"aud\":[\"a\",null]}",
		    "aud is not a string or an array of strings");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"jti\":[]}", "jti is not a string of at most 127 bytes");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":\"1767225600\"}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":true}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":-1}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":-0.5}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":253402300800}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":99999999999999999999}",
		    "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":1e400}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"exp\":NaN}", "exp is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"iat\":{}}", "iat is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"nbf\":[1]}", "nbf is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":\"payments\"}",
		    "kubernetes.io is not an object");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"namespace\":1}}",
		    "kubernetes.io namespace is not a string");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"serviceaccount\":\"api\"}}",
		    "kubernetes.io serviceaccount is not an object");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"pod\":\"p\"}}",
		    "kubernetes.io pod is malformed");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"pod\":{\"name\":\"P\"}}}",
		    "kubernetes.io pod is malformed");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"node\":{\"uid\":5}}}",
		    "kubernetes.io node is malformed");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io\":{\"warnafter\":\"soon\"}}",
		    "kubernetes.io warnafter is not a valid time");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"kubernetes.io/serviceaccount/secret.name\":\"A\"}",
		    "secret.name is not a valid Kubernetes name");
	/* control bytes, escaped or not, in any string claim */
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"iss\":\"a\\u0001b\"}",
		    "iss is not a string of at most 255 bytes");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"jti\":\"a\\u0000b\"}",
		    "jti is not a string of at most 127 bytes");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"aud\":[\"a\\nb\"]}",
		    "aud is not a string or an array of strings");
	BAD_PAYLOAD("{\"sub\":\"" SUB "\",\"aud\":\"a\\u007fb\"}",
		    "aud is not a string or an array of strings");
	/* unknown claims of any type are ignored */
	CHECK(decode(mint("{\"sub\":\"" SUB
			  "\",\"x\":[1,{\"y\":null}],\"z\":1.5,\"w\":\"\\u0001\"}")) == 0);
}

/* A failed decode zeroes what an earlier success left; a success replaces everything. */
static void test_reuse(void)
{
	CHECK(decode(mint(BOUND)) == 0);
	CHECK(nh_jwt_decode_sa("a.b", 3, &c, &why) == -EINVAL);
	CHECK(zeroed(&c));
	memset(&c, 0x5a, sizeof(c));
	CHECK(nh_jwt_decode_sa(tok, mint(LEGACY), &c, &why) == 0);
	CHECK(c.pod_name[0] == '\0' && c.node_uid[0] == '\0' && c.audience[0] == '\0' &&
	      !c.audience_truncated && c.warn_after == 0);
}

int main(void)
{
	test_bound();
	test_audience();
	test_legacy();
	test_lifetime();
	test_whitespace();
	test_big_payload();
	test_structure();
	test_payload_json();
	test_subject();
	test_disagreement();
	test_lengths();
	test_claim_types();
	test_reuse();
	return nh_check_report("jwt");
}
