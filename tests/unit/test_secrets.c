/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "secrets.h"

/* Redact one argument; the secret must be gone and the marker present. */
static void expect_redacted(const char *arg, const char *secret, enum nh_secret_kind want,
			    const char *want_out)
{
	enum nh_secret_kind kind = NH_SECRET_NONE;
	char out[4096];
	int n = nh_secrets_redact(arg, strlen(arg), false, out, sizeof(out), &kind);

	if (n < 1 || strstr(out, secret))
		fprintf(stderr, "  (%s -> %s)\n", arg, out);
	CHECK(n >= 1);
	CHECK(kind == want);
	CHECK(strstr(out, secret) == NULL);
	CHECK(strstr(out, "[REDACTED:") != NULL);
	if (want_out)
		CHECK_STR(out, want_out);
}

static void expect_clean(const char *arg)
{
	char out[4096];
	int n = nh_secrets_redact(arg, strlen(arg), false, out, sizeof(out), NULL);

	if (n != 0)
		fprintf(stderr, "  (false positive: %s -> %s)\n", arg, out);
	CHECK(n == 0);
	CHECK_STR(out, arg);
}

static void test_token_shapes(void)
{
	expect_redacted("AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE", NH_SECRET_AWS_KEY,
			"[REDACTED:aws-access-key]");
	expect_redacted("key=ASIAY34FZKBOKMUTVV7A,x", "Y34FZKBOKMUTVV7A", NH_SECRET_AWS_KEY,
			"key=[REDACTED:aws-access-key],x");
	expect_redacted("id:AKIAIOSFODNN7EXAMPLE.", "IOSFODNN7EXAMPLE", NH_SECRET_AWS_KEY,
			"id:[REDACTED:aws-access-key].");
	expect_redacted("ghp_0123456789abcdefghijABCDEFGHIJ012345", "0123456789abcdefghij",
			NH_SECRET_GITHUB_TOKEN, "[REDACTED:github-token]");
	expect_redacted("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
			"11ABCDEFG0123456789", NH_SECRET_GITHUB_TOKEN, NULL);
	expect_redacted("glpat-xxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxxxxx",
			NH_SECRET_GITLAB_TOKEN, NULL);
	expect_redacted("xoxb-1234567890-abcdefghij", "1234567890-abcdefghij",
			NH_SECRET_SLACK_TOKEN, NULL);
	expect_redacted("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl",
			"eyJzdWIiOiJzeXN0ZW06c2EifQ", NH_SECRET_JWT, "[REDACTED:jwt]");
	/* two in one argument, text between kept */
	expect_redacted("a=1 AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345 end",
			"ghp_0123", NH_SECRET_AWS_KEY,
			"a=1 [REDACTED:aws-access-key] and [REDACTED:github-token] end");
}

static void test_contexts(void)
{
	expect_redacted("https://deploy:hunter2@git.example.com/repo.git", "hunter2",
			NH_SECRET_URL_PASSWORD,
			"https://deploy:[REDACTED:url-password]@git.example.com/repo.git");
	expect_redacted("postgres://app:s3cr3t!@db:5432/x", "s3cr3t!", NH_SECRET_URL_PASSWORD,
			NULL);
	expect_redacted("--password=hunter2", "hunter2", NH_SECRET_NAMED_VALUE,
			"--password=[REDACTED:named-value]");
	expect_redacted("DB_PASSWORD=hunter2", "hunter2", NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("--api-key=abc123", "abc123", NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI",
			NH_SECRET_NAMED_VALUE, NULL);
	expect_redacted("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678",
			NH_SECRET_NAMED_VALUE, "Authorization: Bearer [REDACTED:named-value]");
	expect_redacted("-----BEGIN RSA PRIVATE KEY-----\nMIIEow", "MIIEow", NH_SECRET_PRIVATE_KEY,
			"[REDACTED:private-key]");
}

static void test_named_option(void)
{
	char out[256];
	int n;

	CHECK(nh_secrets_named_option("--password", 10));
	CHECK(nh_secrets_named_option("--token", 7));
	CHECK(nh_secrets_named_option("--client-secret", 15));
	CHECK(!nh_secrets_named_option("--password=x", 12)); /* value inline */
	CHECK(!nh_secrets_named_option("-p", 2));	     /* a port as often as not */
	CHECK(!nh_secrets_named_option("--verbose", 9));
	CHECK(!nh_secrets_named_option("password", 8));
	n = nh_secrets_redact("hunter2", 7, true, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK_STR(out, "[REDACTED:named-value]");
}

static void test_no_false_positives(void)
{
	expect_clean("/usr/bin/curl");
	expect_clean("-sSL");
	expect_clean("https://example.com/path?q=1");
	expect_clean("user@host");
	expect_clean("http://host:8080/x"); /* a port is not a password */
	expect_clean("--passive=true");
	expect_clean("AKIA");
	expect_clean("AKIAIOSFODNN7EXAMPLEX"); /* 17 chars: not an access key id */
	expect_clean("xAKIAIOSFODNN7EXAMPLE"); /* inside a word */
	expect_clean("ghp_short");
	expect_clean("eyJhbGciOiJIUzI1NiJ9"); /* one part only */
	expect_clean("--port=8080");
	/* a marker's own colon is not a user:password separator */
	expect_clean("://appx*[REDACTED:slack-token]@host");
	expect_clean("Bearer x");
	expect_clean("");
}

static void test_bounds(void)
{
	char out[8], big[300];
	int n;

	/* output is truncated, never overrun, and never holds secret bytes */
	n = nh_secrets_redact("--password=hunter2", 18, false, out, sizeof(out), NULL);
	CHECK(n == 1);
	CHECK(strlen(out) == sizeof(out) - 1);
	CHECK(strstr(out, "hunter") == NULL);
	CHECK(nh_secrets_redact("abc", 3, false, out, 0, NULL) == 0);
	/* len is honoured: bytes past it are not read as part of the argument */
	n = nh_secrets_redact("AKIAIOSFODNN7EXAMPLE", 10, false, big, sizeof(big), NULL);
	CHECK(n == 0);
	CHECK_STR(big, "AKIAIOSFOD");
	CHECK_STR(nh_secret_kind_name(NH_SECRET_JWT), "jwt");
	CHECK_STR(nh_secret_kind_name((enum nh_secret_kind)99), "unknown");
}

int main(void)
{
	test_token_shapes();
	test_contexts();
	test_named_option();
	test_no_false_positives();
	test_bounds();
	return nh_check_report("secrets");
}
