/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fingerprint: the keyed fingerprint under which a secret found on a node
 * is reported, HMAC-SHA-256 (OpenSSL libcrypto, EVP_MAC) under a cluster
 * key. Two findings of one secret match on every node sharing the key;
 * without the key nobody can confirm a guess of a weak password from the
 * fingerprint, and equal secrets of two clusters do not match.
 *
 * Written "<prefix>*:hmac-sha256:<key id>:<24 hex>", e.g.
 * "AKIA*:hmac-sha256:3f9a0c1e:0d4c...". The key id (8 hex) is the HMAC of
 * a fixed label under the key: it tells which key made a fingerprint
 * without revealing anything about it. A second, previous key may be
 * loaded for a rotation; while both are set a finding carries both.
 */
#ifndef NH_FINGERPRINT_H
#define NH_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>

#define NH_FP_KEY_MIN		  16   /* bytes: shorter keys are refused */
#define NH_FP_KEY_MAX		  4096 /* bytes of a key file */
#define NH_FP_KEY_RANDOM	  32   /* bytes of a node-local key */
#define NH_FP_ID_HEX		  8    /* hex digits of a key id */
#define NH_FINGERPRINT_HEX	  24   /* hex digits of the MAC shown (96 bits) */
#define NH_FINGERPRINT_PREFIX_MAX 18
/* prefix + "*:hmac-sha256:" + key id + ':' + MAC + NUL */
#define NH_FINGERPRINT_MAX                                                                         \
	(NH_FINGERPRINT_PREFIX_MAX + 14 + NH_FP_ID_HEX + 1 + NH_FINGERPRINT_HEX + 1)

struct evp_mac_ctx_st;

/* One key, ready to MAC with. */
struct nh_fp_key {
	struct evp_mac_ctx_st *ctx; /* initialised with the key; NULL: no key */
	char id[NH_FP_ID_HEX + 1];
};

struct nh_fingerprinter {
	struct nh_fp_key cur, prev; /* prev.ctx is NULL without a rotation */
	bool node_local;	    /* cur is a random key of this process */
};

/*
 * Load the current key from a file (a mounted Secret: its bytes, blanks
 * around them dropped), or make a random node-local one when key_file is
 * NULL or "". prev_file, when set, is the previous key of a rotation.
 * 0, or -errno with *why (static) naming the problem: a missing or
 * unreadable file, a key shorter than NH_FP_KEY_MIN, libcrypto failing.
 */
int nh_fingerprinter_init(struct nh_fingerprinter *f, const char *key_file, const char *prev_file,
			  const char **why);

/* The same from key bytes (tests and benchmarks). */
int nh_fingerprinter_init_keys(struct nh_fingerprinter *f, const void *key, size_t len,
			       const void *prev, size_t prev_len, const char **why);

void nh_fingerprinter_free(struct nh_fingerprinter *f);

/*
 * The fingerprint of a secret under the current key (previous = false)
 * or the previous one: a short printable prefix (at most @prefix bytes,
 * never more than len/4, ending before any byte that is not printable
 * ASCII or is a space, ':' or '*'), then "*:hmac-sha256:<id>:<hex>".
 * Returns 0; -EINVAL for a NULL @out or @secret, an empty secret or a
 * missing key (f NULL, or previous without one); -ENOSPC when @outlen is
 * too small; -EIO when libcrypto fails. On error @out (when non-NULL and
 * @outlen > 0) is "".
 */
int nh_fingerprint(const struct nh_fingerprinter *f, bool previous, const void *secret, size_t len,
		   size_t prefix, char *out, size_t outlen);

#endif
