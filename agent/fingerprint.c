// SPDX-License-Identifier: Apache-2.0
/* fingerprint: HMAC-SHA-256 through OpenSSL's EVP_MAC (fingerprint.h). */
#include "fingerprint.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "secretfile.h"

/* What a key id is the MAC of: no secret, only the key, goes in. */
static const char key_id_label[] = "nhiscope fingerprint key id v1";

static void hex(const unsigned char *b, size_t digits, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < digits; i++)
		out[i] = h[(b[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[digits] = '\0';
}

/* HMAC of data under an initialised key; a copy of its context, so that
 * the key's own context stays as it was. */
static int mac(const struct nh_fp_key *k, const void *data, size_t len,
	       unsigned char out[EVP_MAX_MD_SIZE], size_t *outlen)
{
	EVP_MAC_CTX *c = EVP_MAC_CTX_dup(k->ctx);
	int err = -EIO;

	if (!c)
		return -ENOMEM;
	if (EVP_MAC_update(c, data, len) == 1 &&
	    EVP_MAC_final(c, out, outlen, EVP_MAX_MD_SIZE) == 1)
		err = 0;
	EVP_MAC_CTX_free(c);
	return err;
}

static int key_init(struct nh_fp_key *k, const void *key, size_t len, const char **why)
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	unsigned char id[EVP_MAX_MD_SIZE];
	size_t idlen = 0;
	EVP_MAC *m = NULL;
	int err = -EIO;

	memset(k, 0, sizeof(*k));
	if (len < NH_FP_KEY_MIN) {
		*why = "the key is too short: at least 16 bytes are needed";
		return -EINVAL;
	}
	*why = "libcrypto has no HMAC-SHA-256";
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!m)
		goto cleanup;
	k->ctx = EVP_MAC_CTX_new(m);
	if (!k->ctx || EVP_MAC_init(k->ctx, key, len, params) != 1)
		goto cleanup;
	err = mac(k, key_id_label, sizeof(key_id_label) - 1, id, &idlen);
	if (err)
		goto cleanup;
	hex(id, NH_FP_ID_HEX, k->id);
	*why = NULL;
cleanup:
	if (err && k->ctx) {
		EVP_MAC_CTX_free(k->ctx);
		k->ctx = NULL;
	}
	EVP_MAC_free(m);
	return err;
}

int nh_fingerprinter_init_keys(struct nh_fingerprinter *f, const void *key, size_t len,
			       const void *prev, size_t prev_len, const char **why)
{
	int err;

	memset(f, 0, sizeof(*f));
	err = key_init(&f->cur, key, len, why);
	if (!err && prev)
		err = key_init(&f->prev, prev, prev_len, why);
	if (err)
		nh_fingerprinter_free(f);
	return err;
}

/* A key file's bytes; -errno with *why naming what is wrong. */
static int read_key(const char *path, bool previous, char *buf, size_t cap, size_t *len,
		    const char **why)
{
	int err = nh_secretfile_read(path, buf, cap);

	if (err == -ENODATA)
		*why = previous ? "the previous key file is empty" : "the key file is empty";
	else if (err == -EFBIG)
		*why = previous ? "the previous key file is larger than 4096 bytes"
				: "the key file is larger than 4096 bytes";
	else if (err)
		*why = previous ? "cannot read the previous key file" : "cannot read the key file";
	*len = err ? 0 : strlen(buf);
	return err;
}

int nh_fingerprinter_init(struct nh_fingerprinter *f, const char *key_file, const char *prev_file,
			  const char **why)
{
	char key[NH_FP_KEY_MAX + 1], prev[NH_FP_KEY_MAX + 1];
	size_t len = 0, prev_len = 0;
	bool node_local = !key_file || !key_file[0];
	int err;

	memset(f, 0, sizeof(*f));
	*why = NULL;
	if (node_local) {
		len = NH_FP_KEY_RANDOM;
		err = RAND_bytes((unsigned char *)key, (int)len) == 1 ? 0 : -EIO;
		if (err)
			*why = "no random bytes for a node-local key";
	} else {
		err = read_key(key_file, false, key, sizeof(key), &len, why);
	}
	if (!err && prev_file && prev_file[0])
		err = read_key(prev_file, true, prev, sizeof(prev), &prev_len, why);
	if (!err)
		err =
		    nh_fingerprinter_init_keys(f, key, len, prev_len ? prev : NULL, prev_len, why);
	f->node_local = !err && node_local;
	explicit_bzero(key, sizeof(key));
	explicit_bzero(prev, sizeof(prev));
	return err;
}

void nh_fingerprinter_free(struct nh_fingerprinter *f)
{
	EVP_MAC_CTX_free(f->cur.ctx);
	EVP_MAC_CTX_free(f->prev.ctx);
	memset(f, 0, sizeof(*f));
}

/* Bytes that may appear in a prefix: printable ASCII other than the
 * separators of the fingerprint itself. */
static bool prefix_byte(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != ':' && c != '*';
}

int nh_fingerprint(const struct nh_fingerprinter *f, bool previous, const void *secret, size_t len,
		   size_t prefix, char *out, size_t outlen)
{
	static const char tag[] = "*:hmac-sha256:";
	const unsigned char *s = secret;
	const struct nh_fp_key *k = f ? (previous ? &f->prev : &f->cur) : NULL;
	unsigned char digest[EVP_MAX_MD_SIZE];
	size_t n, need, dlen = 0;
	int err;

	if (!out)
		return -EINVAL;
	if (outlen)
		out[0] = '\0';
	if (!secret || len == 0 || !k || !k->ctx)
		return -EINVAL;
	if (prefix > len / 4)
		prefix = len / 4;
	for (n = 0; n < prefix && prefix_byte(s[n]); n++)
		;
	need = n + strlen(tag) + NH_FP_ID_HEX + 1 + NH_FINGERPRINT_HEX + 1;
	if (outlen < need)
		return -ENOSPC;
	err = mac(k, secret, len, digest, &dlen);
	if (err)
		goto cleanup;
	memcpy(out, s, n);
	memcpy(out + n, tag, strlen(tag));
	n += strlen(tag);
	memcpy(out + n, k->id, NH_FP_ID_HEX);
	n += NH_FP_ID_HEX;
	out[n++] = ':';
	hex(digest, NH_FINGERPRINT_HEX, out + n);
cleanup:
	explicit_bzero(digest, sizeof(digest));
	return err;
}
