// SPDX-License-Identifier: Apache-2.0
#include "secrets.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const kind_names[NH_SECRET_KIND_MAX] = {
    [NH_SECRET_NONE] = "none",
    [NH_SECRET_AWS_KEY] = "aws-access-key",
    [NH_SECRET_GITHUB_TOKEN] = "github-token",
    [NH_SECRET_GITLAB_TOKEN] = "gitlab-token",
    [NH_SECRET_SLACK_TOKEN] = "slack-token",
    [NH_SECRET_JWT] = "jwt",
    [NH_SECRET_PRIVATE_KEY] = "private-key",
    [NH_SECRET_URL_PASSWORD] = "url-password",
    [NH_SECRET_NAMED_VALUE] = "named-value",
};

/* Words that make an option or variable name secret. Over-redacting a
 * harmless value is cheap; leaking a password is not. */
static const char *const secret_words[] = {
    "password",	  "passwd",	 "passphrase",	"pwd",	      "secret",	    "token",
    "apikey",	  "api_key",	 "api-key",	"accesskey",  "access_key", "access-key",
    "privatekey", "private_key", "private-key", "credential",
};

const char *nh_secret_kind_name(enum nh_secret_kind kind)
{
	return kind < NH_SECRET_KIND_MAX ? kind_names[kind] : "unknown";
}

/* A secret found: bytes [start, start + len) of the argument. */
struct match {
	size_t start, len;
	enum nh_secret_kind kind;
};

struct writer {
	char *out;
	size_t cap, n;
};

static void put(struct writer *w, const char *s, size_t len)
{
	size_t room = w->n + 1 < w->cap ? w->cap - 1 - w->n : 0;

	if (len > room)
		len = room;
	memcpy(w->out + w->n, s, len);
	w->n += len;
	w->out[w->n] = '\0';
}

static void put_marker(struct writer *w, enum nh_secret_kind kind)
{
	char m[48];
	int n = snprintf(m, sizeof(m), "[REDACTED:%s]", nh_secret_kind_name(kind));

	put(w, m, (size_t)n);
}

static bool is_upper_digit(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* base64url and the token alphabets of GitLab and Slack */
static bool is_token(char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static size_t run(const char *s, size_t len, size_t i, bool (*cls)(char))
{
	size_t j = i;

	while (j < len && cls(s[j]))
		j++;
	return j - i;
}

static bool has_prefix(const char *s, size_t len, size_t i, const char *p)
{
	size_t n = strlen(p);

	return len - i >= n && memcmp(s + i, p, n) == 0;
}

static bool has_prefix_nocase(const char *s, size_t len, size_t i, const char *p)
{
	size_t n = strlen(p);

	return len - i >= n && strncasecmp(s + i, p, n) == 0;
}

/* AKIA/ASIA + 16 upper-case letters or digits, as a whole word. */
static bool match_aws(const char *s, size_t len, size_t i, struct match *m)
{
	if (!has_prefix(s, len, i, "AKIA") && !has_prefix(s, len, i, "ASIA"))
		return false;
	if (run(s, len, i + 4, is_upper_digit) != 16 || (i + 20 < len && is_alnum(s[i + 20])))
		return false;
	*m = (struct match){i, 20, NH_SECRET_AWS_KEY};
	return true;
}

static bool match_prefixed(const char *s, size_t len, size_t i, struct match *m)
{
	static const struct {
		const char *prefix;
		size_t min;
		bool (*cls)(char);
		enum nh_secret_kind kind;
	} forms[] = {
	    {"ghp_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"gho_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"ghu_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"ghs_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"ghr_", 30, is_alnum, NH_SECRET_GITHUB_TOKEN},
	    {"github_pat_", 22, is_word, NH_SECRET_GITHUB_TOKEN},
	    {"glpat-", 20, is_token, NH_SECRET_GITLAB_TOKEN},
	    {"xoxb-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxp-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxa-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxr-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	    {"xoxs-", 10, is_token, NH_SECRET_SLACK_TOKEN},
	};

	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		size_t plen = strlen(forms[f].prefix), body;

		if (!has_prefix(s, len, i, forms[f].prefix))
			continue;
		body = run(s, len, i + plen, forms[f].cls);
		if (body < forms[f].min)
			continue;
		*m = (struct match){i, plen + body, forms[f].kind};
		return true;
	}
	return false;
}

/* header.payload.signature, both first parts base64url JSON ("eyJ"). */
static bool match_jwt(const char *s, size_t len, size_t i, struct match *m)
{
	size_t a, b, c;

	if (!has_prefix(s, len, i, "eyJ"))
		return false;
	a = run(s, len, i, is_token);
	if (a < 10 || i + a >= len || s[i + a] != '.')
		return false;
	b = run(s, len, i + a + 1, is_token);
	if (b < 10 || i + a + 1 + b >= len || s[i + a + 1 + b] != '.')
		return false;
	c = run(s, len, i + a + b + 2, is_token);
	*m = (struct match){i, a + b + 2 + c, NH_SECRET_JWT};
	return true;
}

/* "-----BEGIN ... PRIVATE KEY-----": everything from there on. */
static bool match_private_key(const char *s, size_t len, size_t i, struct match *m)
{
	const char *end;

	if (!has_prefix(s, len, i, "-----BEGIN "))
		return false;
	end = memmem(s + i, len - i < 64 ? len - i : 64, "PRIVATE KEY-----", 16);
	if (!end)
		return false;
	*m = (struct match){i, len - i, NH_SECRET_PRIVATE_KEY};
	return true;
}

/* scheme://user:PASSWORD@host: only the password goes. */
static bool match_url_password(const char *s, size_t len, size_t i, struct match *m)
{
	size_t u, p;

	if (!has_prefix(s, len, i, "://"))
		return false;
	/* userinfo never holds a raw '[' or ']' (RFC 3986), which also keeps
	 * a redaction marker from reading as "user:" */
	for (u = i + 3; u < len && !strchr(":@/ []", s[u]); u++)
		;
	if (u >= len || s[u] != ':')
		return false;
	for (p = u + 1; p < len && !strchr("@/ ", s[p]); p++)
		;
	if (p >= len || s[p] != '@' || p == u + 1)
		return false;
	*m = (struct match){u + 1, p - u - 1, NH_SECRET_URL_PASSWORD};
	return true;
}

/* "Authorization: Bearer TOKEN", "Basic CREDS": the credential goes. */
static bool match_auth_scheme(const char *s, size_t len, size_t i, struct match *m)
{
	static const char *const schemes[] = {"bearer ", "basic ", "token "};

	for (size_t k = 0; k < sizeof(schemes) / sizeof(schemes[0]); k++) {
		size_t n = strlen(schemes[k]), body;

		if ((i > 0 && is_alnum(s[i - 1])) || !has_prefix_nocase(s, len, i, schemes[k]))
			continue;
		body = 0;
		while (i + n + body < len && s[i + n + body] != ' ' && s[i + n + body] != '"')
			body++;
		if (body < 8)
			continue;
		*m = (struct match){i + n, body, NH_SECRET_NAMED_VALUE};
		return true;
	}
	return false;
}

static bool name_is_secret(const char *name, size_t len)
{
	char low[128];

	if (len == 0 || len >= sizeof(low))
		return false;
	for (size_t i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[len] = '\0';
	for (size_t w = 0; w < sizeof(secret_words) / sizeof(secret_words[0]); w++)
		if (strstr(low, secret_words[w]))
			return true;
	return strcmp(low, "pass") == 0;
}

/* [-[-]]NAME=VALUE at the start of an argument with a secret NAME. */
static bool match_named_value(const char *s, size_t len, struct match *m)
{
	size_t start = 0, eq;

	while (start < len && start < 2 && s[start] == '-')
		start++;
	for (eq = start; eq < len && (is_word(s[eq]) || s[eq] == '-' || s[eq] == '.'); eq++)
		;
	/* "-p=..." is too ambiguous; only long names count. */
	if (eq >= len || s[eq] != '=' || eq + 1 >= len || eq - start < 3)
		return false;
	if (!name_is_secret(s + start, eq - start))
		return false;
	*m = (struct match){eq + 1, len - eq - 1, NH_SECRET_NAMED_VALUE};
	return true;
}

bool nh_secrets_named_option(const char *arg, size_t len)
{
	size_t start = 0;

	if (len < 2 || arg[0] != '-')
		return false;
	while (start < len && start < 2 && arg[start] == '-')
		start++;
	/* Long options only: "-p" is a port as often as a password. */
	if (start != 2 || memchr(arg, '=', len))
		return false;
	return name_is_secret(arg + start, len - start);
}

static bool match_at(const char *s, size_t len, size_t i, struct match *m)
{
	/* Token shapes must start a word, not sit inside one. */
	bool word_start = i == 0 || !is_token(s[i - 1]);

	if (word_start &&
	    (match_aws(s, len, i, m) || match_prefixed(s, len, i, m) || match_jwt(s, len, i, m)))
		return true;
	return match_private_key(s, len, i, m) || match_url_password(s, len, i, m) ||
	       match_auth_scheme(s, len, i, m);
}

int nh_secrets_redact(const char *in, size_t len, bool prev_named, char *out, size_t outlen,
		      enum nh_secret_kind *kind)
{
	struct writer w = {out, outlen, 0};
	enum nh_secret_kind first = NH_SECRET_NONE;
	struct match m;
	size_t i = 0, copied = 0;
	int found = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	if (prev_named && len > 0) {
		put_marker(&w, NH_SECRET_NAMED_VALUE);
		first = NH_SECRET_NAMED_VALUE;
		found = 1;
		goto done;
	}
	if (match_named_value(in, len, &m)) {
		put(&w, in, m.start);
		put_marker(&w, m.kind);
		first = m.kind;
		found = 1;
		goto done;
	}
	while (i < len) {
		if (!match_at(in, len, i, &m) || m.len == 0) {
			i++;
			continue;
		}
		put(&w, in + copied, m.start - copied);
		put_marker(&w, m.kind);
		if (!found++)
			first = m.kind;
		i = copied = m.start + m.len;
	}
	put(&w, in + copied, len - copied);
done:
	if (kind)
		*kind = first;
	return found;
}
