/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/fingerprint.c: the MAC is HMAC-SHA-256 (RFC 4231
 * test case 1, and values from `openssl dgst -sha256 -mac HMAC`), the key
 * id, key files, rotation, and the fingerprint format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fingerprint.h"

#define KEY  "0123456789abcdef-cluster-key"
#define KEY2 "another-cluster-key-0123456789"

static void expect_fp(const struct nh_fingerprinter *f, const char *secret, size_t prefix,
		      const char *want)
{
	char out[NH_FINGERPRINT_MAX];

	memset(out, 'x', sizeof(out));
	CHECK(nh_fingerprint(f, false, secret, strlen(secret), prefix, out, sizeof(out)) == 0);
	CHECK_STR(out, want);
}

static void test_rfc4231(void)
{
	struct nh_fingerprinter f;
	unsigned char key[20];
	const char *why = NULL;
	char out[NH_FINGERPRINT_MAX];

	memset(key, 0x0b, sizeof(key));
	CHECK(nh_fingerprinter_init_keys(&f, key, sizeof(key), NULL, 0, &why) == 0);
	/* HMAC-SHA-256(0x0b x 20, "Hi There") = b0344c61d8db38535ca8afce...;
	 * the key id is the HMAC of the label: 9d48bae2... */
	CHECK(nh_fingerprint(&f, false, "Hi There", 8, 0, out, sizeof(out)) == 0);
	CHECK_STR(out, "*:hmac-sha256:9d48bae2:b0344c61d8db38535ca8afce");
	CHECK_STR(f.cur.id, "9d48bae2");
	CHECK(f.prev.ctx == NULL);
	nh_fingerprinter_free(&f);
}

static void test_format(void)
{
	struct nh_fingerprinter f;
	const char *why = NULL;

	CHECK(nh_fingerprinter_init_keys(&f, KEY, strlen(KEY), NULL, 0, &why) == 0);
	/* openssl dgst -sha256 -mac HMAC -macopt key:KEY: 9ff476cc06a3... */
	expect_fp(&f, "AKIAIOSFODNN7EXAMPLE", 4,
		  "AKIA*:hmac-sha256:03461998:9ff476cc06a33b25cc731f44");
	expect_fp(&f, "AKIAIOSFODNN7EXAMPLE", 0, "*:hmac-sha256:03461998:9ff476cc06a33b25cc731f44");
	/* a short secret shows at most a quarter of itself */
	{
		char out[NH_FINGERPRINT_MAX];

		CHECK(nh_fingerprint(&f, false, "hunter2", 7, 4, out, sizeof(out)) == 0);
		CHECK(strncmp(out, "h*:hmac-sha256:03461998:", 24) == 0);
		CHECK(strlen(out) == 24 + NH_FINGERPRINT_HEX);
		/* the prefix stops at a separator of the fingerprint itself */
		CHECK(nh_fingerprint(&f, false, "ab:cdefghijklmnop", 17, 8, out, sizeof(out)) == 0);
		CHECK(strncmp(out, "ab*:hmac-sha256:", 16) == 0);
		CHECK(nh_fingerprint(&f, false, "ab cdefghijklmnop", 17, 8, out, sizeof(out)) == 0);
		CHECK(strncmp(out, "ab*:hmac-sha256:", 16) == 0);
		CHECK(nh_fingerprint(&f, false, "ab\0cdefghijklmnop", 17, 8, out, sizeof(out)) ==
		      0);
		CHECK(strncmp(out, "ab*:hmac-sha256:", 16) == 0);
		/* the longest prefix fits NH_FINGERPRINT_MAX exactly */
		CHECK(
		    nh_fingerprint(
			&f, false,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghij",
			72, NH_FINGERPRINT_PREFIX_MAX, out, sizeof(out)) == 0);
		CHECK(strlen(out) + 1 == NH_FINGERPRINT_MAX);
	}
	nh_fingerprinter_free(&f);
}

/* One key: one fingerprint, whoever computes it; two keys: two. */
static void test_keys(void)
{
	struct nh_fingerprinter a, b, c;
	const char *why = NULL;
	char fa[NH_FINGERPRINT_MAX], fb[NH_FINGERPRINT_MAX], fc[NH_FINGERPRINT_MAX];

	CHECK(nh_fingerprinter_init_keys(&a, KEY, strlen(KEY), NULL, 0, &why) == 0);
	CHECK(nh_fingerprinter_init_keys(&b, KEY, strlen(KEY), NULL, 0, &why) == 0);
	CHECK(nh_fingerprinter_init_keys(&c, KEY2, strlen(KEY2), NULL, 0, &why) == 0);
	CHECK(nh_fingerprint(&a, false, "S3cretPass", 10, 0, fa, sizeof(fa)) == 0);
	CHECK(nh_fingerprint(&b, false, "S3cretPass", 10, 0, fb, sizeof(fb)) == 0);
	CHECK(nh_fingerprint(&c, false, "S3cretPass", 10, 0, fc, sizeof(fc)) == 0);
	CHECK_STR(fa, fb);
	CHECK(strcmp(fa, fc) != 0);
	CHECK(strcmp(a.cur.id, c.cur.id) != 0);
	/* the MACs differ, not only the key ids */
	CHECK(strcmp(strrchr(fa, ':'), strrchr(fc, ':')) != 0);
	/* the old unkeyed digest of this password is gone */
	CHECK(strstr(fa, "5e19bb815951") == NULL);
	nh_fingerprinter_free(&a);
	nh_fingerprinter_free(&b);
	nh_fingerprinter_free(&c);
}

/* Rotation: the previous key's fingerprint is what it gave as current. */
static void test_rotation(void)
{
	struct nh_fingerprinter old, both;
	const char *why = NULL;
	char was[NH_FINGERPRINT_MAX], now[NH_FINGERPRINT_MAX], prev[NH_FINGERPRINT_MAX];

	CHECK(nh_fingerprinter_init_keys(&old, KEY, strlen(KEY), NULL, 0, &why) == 0);
	CHECK(nh_fingerprinter_init_keys(&both, KEY2, strlen(KEY2), KEY, strlen(KEY), &why) == 0);
	CHECK(nh_fingerprint(&old, false, "S3cretPass", 10, 0, was, sizeof(was)) == 0);
	CHECK(nh_fingerprint(&both, false, "S3cretPass", 10, 0, now, sizeof(now)) == 0);
	CHECK(nh_fingerprint(&both, true, "S3cretPass", 10, 0, prev, sizeof(prev)) == 0);
	CHECK_STR(prev, was);
	CHECK(strcmp(now, was) != 0);
	CHECK_STR(both.prev.id, old.cur.id);
	/* no previous key: refused */
	CHECK(nh_fingerprint(&old, true, "S3cretPass", 10, 0, prev, sizeof(prev)) == -EINVAL);
	CHECK(prev[0] == '\0');
	nh_fingerprinter_free(&old);
	nh_fingerprinter_free(&both);
}

static char *write_tmp(const char *content)
{
	char *path = strdup("/tmp/nh-fpkey-XXXXXX");
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_key_files(void)
{
	struct nh_fingerprinter f, g;
	const char *why = NULL;
	char *good = write_tmp(KEY "\n"), *prev = write_tmp(KEY2),
	     *shortk = write_tmp("tooshort\n"), *empty = write_tmp("  \n");
	char a[NH_FINGERPRINT_MAX], b[NH_FINGERPRINT_MAX];

	/* the file's bytes without the newline are the key */
	CHECK(nh_fingerprinter_init(&f, good, NULL, &why) == 0);
	CHECK(!f.node_local);
	CHECK_STR(f.cur.id, "03461998");
	nh_fingerprinter_free(&f);
	CHECK(nh_fingerprinter_init(&f, good, prev, &why) == 0);
	CHECK(nh_fingerprinter_init_keys(&g, KEY, strlen(KEY), KEY2, strlen(KEY2), &why) == 0);
	CHECK(nh_fingerprint(&f, true, "x-secret", 8, 0, a, sizeof(a)) == 0);
	CHECK(nh_fingerprint(&g, true, "x-secret", 8, 0, b, sizeof(b)) == 0);
	CHECK_STR(a, b);
	nh_fingerprinter_free(&f);
	nh_fingerprinter_free(&g);

	CHECK(nh_fingerprinter_init(&f, shortk, NULL, &why) == -EINVAL);
	CHECK(why && strstr(why, "at least 16 bytes"));
	CHECK(nh_fingerprinter_init(&f, empty, NULL, &why) == -ENODATA);
	CHECK(why && strstr(why, "empty"));
	CHECK(nh_fingerprinter_init(&f, "/nonexistent/key", NULL, &why) == -ENOENT);
	CHECK(why && strstr(why, "cannot read the key file"));
	CHECK(nh_fingerprinter_init(&f, good, "/nonexistent/key", &why) == -ENOENT);
	CHECK(why && strstr(why, "previous key"));
	CHECK(f.cur.ctx == NULL);

	/* no key file: a random node-local key, another each time */
	CHECK(nh_fingerprinter_init(&f, NULL, NULL, &why) == 0);
	CHECK(nh_fingerprinter_init(&g, "", NULL, &why) == 0);
	CHECK(f.node_local && g.node_local);
	CHECK(strcmp(f.cur.id, g.cur.id) != 0);
	CHECK(nh_fingerprint(&f, false, "x-secret", 8, 0, a, sizeof(a)) == 0);
	CHECK(nh_fingerprint(&g, false, "x-secret", 8, 0, b, sizeof(b)) == 0);
	CHECK(strcmp(a, b) != 0);
	nh_fingerprinter_free(&f);
	nh_fingerprinter_free(&g);
	for (char **p = (char *[]){good, prev, shortk, empty, NULL}; *p; p++) {
		unlink(*p);
		free(*p);
	}
}

static void test_errors(void)
{
	struct nh_fingerprinter f;
	const char *why = NULL;
	char out[NH_FINGERPRINT_MAX], small[60];
	size_t need = 4 + 14 + NH_FP_ID_HEX + 1 + NH_FINGERPRINT_HEX + 1;

	CHECK(nh_fingerprinter_init_keys(&f, KEY, strlen(KEY), NULL, 0, &why) == 0);
	memset(small, 'x', sizeof(small));
	CHECK(nh_fingerprint(&f, false, "AKIAIOSFODNN7EXAMPLE", 20, 4, small, need - 1) == -ENOSPC);
	CHECK(small[0] == '\0');
	CHECK(nh_fingerprint(&f, false, "AKIAIOSFODNN7EXAMPLE", 20, 4, small, need) == 0);
	CHECK(nh_fingerprint(&f, false, "abc", 3, 4, NULL, 40) == -EINVAL);
	CHECK(nh_fingerprint(&f, false, NULL, 3, 4, out, sizeof(out)) == -EINVAL);
	out[0] = 'x';
	CHECK(nh_fingerprint(&f, false, "", 0, 4, out, sizeof(out)) == -EINVAL);
	CHECK(out[0] == '\0');
	CHECK(nh_fingerprint(NULL, false, "abc", 3, 0, out, sizeof(out)) == -EINVAL);
	nh_fingerprinter_free(&f);
	CHECK(nh_fingerprinter_init_keys(&f, "short", 5, NULL, 0, &why) == -EINVAL);
	CHECK(f.cur.ctx == NULL);
}

int main(void)
{
	test_rfc4231();
	test_format();
	test_keys();
	test_rotation();
	test_key_files();
	test_errors();
	return nh_check_report("fingerprint");
}
