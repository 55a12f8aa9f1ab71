// SPDX-License-Identifier: Apache-2.0
#include "jwks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "jwt.h"

#define RSA_MIN_BITS 2048
#define B64_MAX	     2048 /* a 8192-bit modulus is 1366 characters */

void nh_jwks_free(struct nh_jwks *j)
{
	for (size_t i = 0; i < j->n; i++)
		EVP_PKEY_free(j->keys[i].pkey);
	memset(j, 0, sizeof(*j));
}

static const char *member_str(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* base64url member k into a new BIGNUM (or raw bytes when out). */
static int member_bytes(json_object *o, const char *k, unsigned char *buf, size_t cap, size_t *len)
{
	const char *s = member_str(o, k);
	size_t n;
	ssize_t got;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n > B64_MAX || n * 3 / 4 + 3 > cap)
		return -EINVAL;
	got = nh_b64url_decode(s, n, buf);
	if (got <= 0)
		return -EINVAL;
	*len = (size_t)got;
	return 0;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY_CTX *check = NULL;
	EVP_PKEY *pkey = NULL;

	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto cleanup;
	/* An EC point off the curve would be accepted by fromdata. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) <= 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
cleanup:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static int rsa_key(json_object *k, EVP_PKEY **out, const char **why)
{
	unsigned char buf[B64_MAX];
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *n = NULL, *e = NULL;
	size_t len;
	int err = -EINVAL;

	if (!bld) {
		*why = "out of memory";
		return -ENOMEM;
	}
	if (member_bytes(k, "n", buf, sizeof(buf), &len) != 0) {
		*why = "RSA key modulus (n) is not base64url";
		goto cleanup;
	}
	n = BN_bin2bn(buf, (int)len, NULL);
	if (member_bytes(k, "e", buf, sizeof(buf), &len) != 0) {
		*why = "RSA key exponent (e) is not base64url";
		goto cleanup;
	}
	e = BN_bin2bn(buf, (int)len, NULL);
	if (!n || !e || BN_num_bits(n) < RSA_MIN_BITS) {
		*why = "RSA key shorter than 2048 bits";
		goto cleanup;
	}
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
		*why = "out of memory";
		goto cleanup;
	}
	*out = from_params("RSA", bld);
	if (!*out) {
		*why = "RSA key rejected by OpenSSL";
		goto cleanup;
	}
	err = 0;
cleanup:
	BN_free(n);
	BN_free(e);
	OSSL_PARAM_BLD_free(bld);
	return err;
}

static int ec_key(json_object *k, EVP_PKEY **out, const char **why)
{
	unsigned char pt[65], buf[64];
	OSSL_PARAM_BLD *bld = NULL;
	size_t len;
	int err = -EINVAL;

	if (member_bytes(k, "x", buf, sizeof(buf), &len) != 0 || len != 32) {
		*why = "EC key x is not 32 base64url bytes";
		goto cleanup;
	}
	pt[0] = 0x04; /* uncompressed point */
	memcpy(pt + 1, buf, 32);
	if (member_bytes(k, "y", buf, sizeof(buf), &len) != 0 || len != 32) {
		*why = "EC key y is not 32 base64url bytes";
		goto cleanup;
	}
	memcpy(pt + 33, buf, 32);
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt))) {
		*why = "out of memory";
		err = -ENOMEM;
		goto cleanup;
	}
	*out = from_params("EC", bld);
	if (!*out) {
		*why = "EC key is not a point on P-256";
		goto cleanup;
	}
	err = 0;
cleanup:
	OSSL_PARAM_BLD_free(bld);
	return err;
}

/* 1 added, 0 skipped (another type or use), -errno. */
static int add_key(struct nh_jwks *j, json_object *k, const char **why)
{
	const char *kty = member_str(k, "kty"), *use = member_str(k, "use");
	const char *alg = member_str(k, "alg"), *crv = member_str(k, "crv");
	const char *kid = member_str(k, "kid");
	struct nh_jwk *key = &j->keys[j->n];
	int err;

	if (!json_object_is_type(k, json_type_object)) {
		*why = "a key is not a JSON object";
		return -EINVAL;
	}
	if (!kty) {
		*why = "a key has no kty";
		return -EINVAL;
	}
	if (use && strcmp(use, "sig") != 0)
		return 0;
	if (kid && strlen(kid) >= sizeof(key->kid)) {
		*why = "a key's kid is longer than 127 bytes";
		return -EINVAL;
	}
	if (strcmp(kty, "RSA") == 0 && (!alg || strcmp(alg, "RS256") == 0)) {
		err = rsa_key(k, &key->pkey, why);
		key->type = NH_JWK_RSA;
	} else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0 &&
		   (!alg || strcmp(alg, "ES256") == 0)) {
		err = ec_key(k, &key->pkey, why);
		key->type = NH_JWK_EC_P256;
	} else {
		return 0;
	}
	if (err)
		return err;
	if (j->n + 1 >= NH_JWKS_MAX_KEYS) {
		EVP_PKEY_free(key->pkey);
		*why = "more than 63 keys";
		return -E2BIG;
	}
	snprintf(key->kid, sizeof(key->kid), "%s", kid ? kid : "");
	j->n++;
	return 1;
}

int nh_jwks_parse(const char *json, size_t len, struct nh_jwks *out, const char **why)
{
	struct json_tokener *tok = NULL;
	json_object *o = NULL, *keys;
	const char *dummy;
	int err = -EINVAL, r;

	if (!why)
		why = &dummy;
	*why = NULL;
	nh_jwks_free(out);
	if (len > NH_JWKS_MAX_BYTES) {
		*why = "key set larger than 1 MiB";
		goto cleanup;
	}
	tok = json_tokener_new_ex(8);
	if (!tok) {
		*why = "out of memory";
		err = -ENOMEM;
		goto cleanup;
	}
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_object_get_ex(o, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		*why = "not a JSON object with a keys array";
		goto cleanup;
	}
	for (size_t i = 0; i < json_object_array_length(keys); i++) {
		r = add_key(out, json_object_array_get_idx(keys, i), why);
		if (r < 0) {
			err = r;
			goto cleanup;
		}
		if (r == 0)
			out->skipped++;
	}
	if (out->n == 0) {
		*why = "no usable RS256 or ES256 signing key";
		goto cleanup;
	}
	err = 0;
cleanup:
	if (err)
		nh_jwks_free(out);
	json_object_put(o);
	json_tokener_free(tok);
	return err;
}

int nh_jwks_load(const char *path, struct nh_jwks *out, const char **why)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, err;

	nh_jwks_free(out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		*why = "cannot open the key set file";
		goto cleanup;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > NH_JWKS_MAX_BYTES) {
		err = -EINVAL;
		*why = "key set file is not a regular file of at most 1 MiB";
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		*why = "out of memory";
		goto cleanup;
	}
	while (len < (size_t)st.st_size && (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	err = nh_jwks_parse(buf, len, out, why);
cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	return err;
}
