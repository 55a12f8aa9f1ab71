/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plant secrets in command lines and check that none survives the argv
 * reader. The input picks up to three forms (mysql -pV, sshpass -p V,
 * headers, JSON bodies, URLs, sh -c strings, ...), a secret for each from
 * the characters that form allows, and random words around them; every
 * argument is redacted as the agent does it. A planted secret left in any
 * output, or not covered by a reported redaction, aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define GEN   ALNUM "!#$%*+-./:=?@^_~"
#define SH    ALNUM "!#%*+-./:=?@^_~"
#define URL   ALNUM "!$%*+-.:=_~/"

struct form {
	const char *words[6]; /* "%s" marks where the secret goes */
	const char *charset;
};

static const struct form forms[] = {
    {{"mysql", "-uroot", "-p%s"}, GEN},
    {{"sshpass", "-p", "%s", "ssh", "h"}, GEN},
    {{"sshpass", "-p%s", "scp"}, GEN},
    {{"docker", "login", "-u", "bot", "-p", "%s"}, GEN},
    {{"redis-cli", "-a", "%s", "ping"}, GEN},
    {{"openssl", "pkcs12", "-passin", "pass:%s"}, GEN},
    {{"openssl", "enc", "-k", "%s"}, GEN},
    {{"htpasswd", "-b", "f", "bob", "%s"}, GEN},
    {{"htpasswd", "-nb", "bob", "%s"}, GEN},
    {{"env", "DB_PASS=%s", "app"}, GEN},
    {{"env", "X_PASSWD=%s"}, GEN},
    {{"env", "X_PWD=%s"}, GEN},
    {{"curl", "-H", "X-API-Key: %s"}, GEN},
    {{"curl", "-H", "Cookie: session=%s"}, GEN},
    {{"curl", "-H", "Authorization:Bearer %s"}, GEN},
    {{"curl", "-HAuthorization:Bearer %s"}, GEN},
    {{"curl", "--header=X-API-Key: %s"}, GEN},
    {{"curl", "-d", "{\"password\":\"%s\"}"}, GEN},
    {{"curl", "-d", "{'client_secret': '%s', 'a': 1}"}, GEN},
    {{"git", "clone", "https://u:%s@h/r.git"}, URL},
    {{"app", "-----BEGIN PRIVATE KEY-----", "%s", "-----END PRIVATE KEY-----"}, GEN},
    {{"app", "--password", "%s"}, GEN},
    {{"app", "--token=%s"}, GEN},
    {{"curl", "-u", "bob:%s"}, GEN},
    {{"curl", "https://h/x?api_key=%s&y=1"}, ALNUM "!$%*+-.:=_~/"},
    {{"sh", "-c", "mysql -uroot -p%s -e x"}, SH},
    {{"sh", "-c", "sshpass -p %s ssh h"}, SH},
    {{"sh", "-c", "app --password %s"}, SH},
    {{"sh", "-c", "DB_PASS=%s ./run"}, SH},
    {{"sh", "-c", "curl -H 'X-API-Key: %s' x"}, SH},
    {{"sh", "-c", "redis-cli -a %s ping && true"}, SH},
};

#define NFORMS	 (sizeof(forms) / sizeof(forms[0]))
#define MAX_ARGS 32
#define ARG_MAX	 256

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t next(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

struct plant {
	char secret[32];
	size_t arg; /* index of the argument holding it */
};

struct cmd {
	char args[MAX_ARGS][ARG_MAX];
	size_t nargs;
	struct plant plants[3];
	size_t nplants;
};

static void add_word(struct cmd *c, const char *w, const char *secret)
{
	const char *mark = strstr(w, "%s");

	if (c->nargs >= MAX_ARGS)
		return;
	if (mark && secret) {
		snprintf(c->args[c->nargs], ARG_MAX, "%.*s%s%s", (int)(mark - w), w, secret,
			 mark + 2);
		c->plants[c->nplants - 1].arg = c->nargs;
	} else {
		snprintf(c->args[c->nargs], ARG_MAX, "%s", w);
	}
	c->nargs++;
}

/* A random word of printable ASCII, spaces included. */
static void filler(struct cmd *c, struct input *in)
{
	char w[24];
	size_t n = next(in) % sizeof(w);

	for (size_t i = 0; i < n; i++)
		w[i] = (char)(0x20 + next(in) % 95);
	w[n] = '\0';
	add_word(c, w, NULL);
}

static bool build(struct cmd *c, struct input *in)
{
	size_t nforms = 1 + next(in) % 3;

	memset(c, 0, sizeof(*c));
	for (size_t f = 0; f < nforms; f++) {
		const struct form *fm = &forms[next(in) % NFORMS];
		size_t cs = strlen(fm->charset), len = 8 + next(in) % 16;
		struct plant *p = &c->plants[c->nplants++];
		bool digit = false;

		for (size_t k = next(in) % 3; k > 0; k--)
			filler(c, in);
		/* a letter first, a digit somewhere: never a marker's text */
		p->secret[0] = ALNUM[next(in) % 52];
		for (size_t i = 1; i < len; i++) {
			p->secret[i] = fm->charset[next(in) % cs];
			digit |= p->secret[i] >= '0' && p->secret[i] <= '9';
		}
		if (!digit)
			p->secret[len - 1] = '7';
		for (size_t w = 0; w < 6 && fm->words[w]; w++)
			add_word(c, fm->words[w], p->secret);
	}
	for (size_t k = next(in) % 3; k > 0; k--)
		filler(c, in);
	/* a secret that the surrounding text holds anyway proves nothing */
	for (size_t p = 0; p < c->nplants; p++)
		for (size_t a = 0; a < c->nargs; a++) {
			const char *at = strstr(c->args[a], c->plants[p].secret);

			if (at &&
			    (a != c->plants[p].arg || strstr(at + 1, c->plants[p].secret) != NULL))
				return false;
		}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	static struct cmd c;
	struct nh_secrets_argv st;

	if (!build(&c, &in))
		return 0;
	nh_secrets_argv_init(&st);
	for (size_t a = 0; a < c.nargs; a++) {
		struct nh_secret_span sp[16];
		char out[4096];
		size_t n = 0, len = strlen(c.args[a]);

		nh_secrets_argv_next(&st, c.args[a], len, false, out, sizeof(out), sp, 16, &n);
		for (size_t p = 0; p < c.nplants; p++) {
			const char *s = c.plants[p].secret, *at = strstr(c.args[a], s);
			bool covered = false;

			if (strstr(out, s))
				abort(); /* a planted secret survived */
			if (!at)
				continue;
			for (size_t k = 0; k < n; k++)
				covered |=
				    sp[k].kind != NH_SECRET_CUT &&
				    sp[k].start <= (size_t)(at - c.args[a]) &&
				    (size_t)(at - c.args[a]) + strlen(s) <= sp[k].start + sp[k].len;
			/* a span list full of earlier hits may not reach it */
			if (!covered && n < 16)
				abort(); /* redacted, but not reported as a finding */
		}
	}
	return 0;
}
