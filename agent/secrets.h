/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secrets: finds secret values in command-line arguments and redacts them,
 * so that no event, log or record the agent produces carries one. Pure
 * string code with fixed matchers (no regex engine, no allocation), unit
 * tested and fuzzed.
 *
 * Recognised: AWS access key ids, GitHub, GitLab and Slack tokens, JWTs,
 * private-key blocks, passwords in URLs (scheme://user:PASS@host), values
 * of secret-named options and variables (--password=V, TOKEN=V, and
 * NAME=V after '=', ',', ';', ' ', '&' or '?' as in --env=DB_PASSWORD=V
 * or ?token=V&x), the argument after a secret-named option or word
 * (--password V, -token V, aws_secret_access_key V) and the password of
 * curl's user:password (-u, --user, -U, --proxy-user).
 */
#ifndef NH_SECRETS_H
#define NH_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

enum nh_secret_kind {
	NH_SECRET_NONE = 0,
	NH_SECRET_AWS_KEY,
	NH_SECRET_GITHUB_TOKEN,
	NH_SECRET_GITLAB_TOKEN,
	NH_SECRET_SLACK_TOKEN,
	NH_SECRET_JWT,
	NH_SECRET_PRIVATE_KEY,
	NH_SECRET_URL_PASSWORD,
	NH_SECRET_NAMED_VALUE,	 /* --password=V, API_KEY=V, or the arg after --token */
	NH_SECRET_USER_PASSWORD, /* the password of user:password after -u */
	NH_SECRET_PASSWORD,	 /* a tool's password option: mysql -pV, sshpass -p V */
	NH_SECRET_HEADER,	 /* an HTTP header's credential: Cookie:, X-API-Key: */
	NH_SECRET_CUT,		 /* the tail of an argument cut by a copy limit */
	NH_SECRET_KIND_MAX,
};

/*
 * What an argument says about the next one. The values are ordered so
 * that a caller keeping only a bool still redacts: any non-zero value
 * passed back as true means "the whole argument is secret".
 */
enum nh_secret_next {
	NH_NEXT_PLAIN = 0,	   /* nothing */
	NH_NEXT_SECRET = 1,	   /* the whole argument is a secret value */
	NH_NEXT_USER_PASSWORD = 2, /* user[:password]: what follows the first ':' */
};

const char *nh_secret_kind_name(enum nh_secret_kind kind);

/*
 * Copy one argument into out (always NUL-terminated, truncated to outlen)
 * with every secret replaced by "[REDACTED:<kind>]". prev_named is what
 * nh_secrets_named_option said of the previous argument; any value other
 * than NH_NEXT_PLAIN and NH_NEXT_USER_PASSWORD (true included) redacts
 * the whole argument. Returns the number of secrets redacted; *kind (may
 * be NULL) receives the kind of the first.
 */
int nh_secrets_redact(const char *in, size_t len, enum nh_secret_next prev_named, char *out,
		      size_t outlen, enum nh_secret_kind *kind);

/* Where a secret sits in an argument, for fingerprinting it. */
struct nh_secret_span {
	size_t start, len;
	enum nh_secret_kind kind;
};

/* As nh_secrets_redact, also recording where the first max_spans secrets
 * are (in order) so the caller can fingerprint them. */
int nh_secrets_find(const char *in, size_t len, enum nh_secret_next prev_named, char *out,
		    size_t outlen, struct nh_secret_span *spans, size_t max_spans, size_t *nspans);

/* Whether an argument names the next one as a secret: a secret-named
 * option or word ("--password", "-token", "aws_secret_access_key") gives
 * NH_NEXT_SECRET, curl's "-u"/"--user"/"-U"/"--proxy-user" gives
 * NH_NEXT_USER_PASSWORD. */
enum nh_secret_next nh_secrets_named_option(const char *arg, size_t len);

/*
 * A whole argv, one argument at a time, with what earlier arguments say
 * about later ones: the tool (argv[0] or any word naming one, as in sudo
 * mysql -pV), its password options (mysql -pV, sshpass -p V, docker login
 * -p V, redis-cli -a V, openssl -k V / pass:V, htpasswd -b FILE USER V),
 * secret-named options (--password V) and a PEM private key spread over
 * several arguments. An argument holding spaces (sh -c "...") is split
 * into words and read the same way. argv[0] never names the next argument
 * (htpasswd, passwd). Zero-initialise, or call nh_secrets_argv_init.
 */
struct nh_secrets_argv {
	enum nh_secret_next prev;
	unsigned index;	 /* arguments seen */
	int tool;	 /* enum in secrets.c */
	bool login;	 /* docker/podman login seen */
	bool in_key;	 /* inside a PEM private key block */
	bool ht_batch;	 /* htpasswd -b: the password is an argument */
	bool ht_stdout;	 /* htpasswd -n: no file argument */
	unsigned ht_pos; /* htpasswd positional arguments seen */
	bool ht_value;	 /* htpasswd: the next word is an option's value */
};

void nh_secrets_argv_init(struct nh_secrets_argv *st);

/*
 * Redact the next argument of an argv, as nh_secrets_find. cut says the
 * argument was cut short by a copy limit: its last word, which may be the
 * head of a secret too short to recognise, is redacted as NH_SECRET_CUT
 * (not a finding: nobody knows what it was).
 */
int nh_secrets_argv_next(struct nh_secrets_argv *st, const char *arg, size_t len, bool cut,
			 char *out, size_t outlen, struct nh_secret_span *spans, size_t max_spans,
			 size_t *nspans);

#endif
