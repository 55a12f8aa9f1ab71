/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secrets: finds secret values in command-line arguments and redacts them,
 * so that no event, log or record the agent produces carries one. Pure
 * string code with fixed matchers (no regex engine, no allocation), unit
 * tested and fuzzed.
 *
 * Recognised: AWS access key ids, GitHub, GitLab and Slack tokens, JWTs,
 * private-key blocks, passwords in URLs (scheme://user:PASS@host), values
 * of secret-named options and variables (--password=V, TOKEN=V, ...), and
 * the argument after a secret-named option (--password V).
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
	NH_SECRET_NAMED_VALUE, /* --password=V, API_KEY=V, or the arg after --token */
	NH_SECRET_KIND_MAX,
};

const char *nh_secret_kind_name(enum nh_secret_kind kind);

/*
 * Copy one argument into out (always NUL-terminated, truncated to outlen)
 * with every secret replaced by "[REDACTED:<kind>]". prev_named says the
 * previous argument was a secret-named option, so this whole argument is
 * its value. Returns the number of secrets redacted; *kind (may be NULL)
 * receives the kind of the first.
 */
int nh_secrets_redact(const char *in, size_t len, bool prev_named, char *out, size_t outlen,
		      enum nh_secret_kind *kind);

/* Whether an argument is an option whose value is the next argument and
 * is secret ("--password", "--token", ...). */
bool nh_secrets_named_option(const char *arg, size_t len);

#endif
