// SPDX-License-Identifier: Apache-2.0
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* A configuration file is small; a larger one is a mistake, not a config. */
#define NH_CONFIG_FILE_MAX   (1u << 20)
#define NH_KEY_MAX	     256
#define NH_CONFIG_MAX_ERRORS 20
#define NH_CONFIG_REDACTED   "<redacted>"

struct nh_config_strings {
	struct nh_config_strings *next;
	size_t used, cap;
	char data[];
};

/* One load or reload: where its strings go and what the flags said. */
struct load {
	struct nh_config *c;
	void *cfg;
	struct nh_config_strings **strings;
	FILE *err;
	int errors;
	bool *flag_seen; /* per option: a LIST flag replaces the file's list once */
};

static char *save(struct nh_config_strings **head, const char *s, size_t n)
{
	struct nh_config_strings *b = *head;
	char *p;

	if (!b || b->cap - b->used < n + 1) {
		size_t cap = n + 1 > 4096 ? n + 1 : 4096;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = *head;
		b->used = 0;
		b->cap = cap;
		*head = b;
	}
	p = b->data + b->used;
	memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

static void strings_free(struct nh_config_strings *b)
{
	while (b) {
		struct nh_config_strings *next = b->next;

		free(b);
		b = next;
	}
}

static void *field(const struct nh_opt *o, const void *cfg)
{
	return (char *)cfg + o->off;
}

static size_t *count_of(const struct nh_opt *o, const void *cfg)
{
	return (size_t *)((char *)cfg + o->count_off);
}

/* ---- values -------------------------------------------------------- */

static const char *type_name(const struct nh_opt *o)
{
	switch (o->type) {
	case NH_OPT_BOOL:
		return "true or false";
	case NH_OPT_STRING:
		return "a string";
	case NH_OPT_PATH:
		return "an absolute path";
	case NH_OPT_UINT:
		return "a whole number";
	case NH_OPT_SIZE:
		return "a size such as 4096, 64k or 8Mi";
	case NH_OPT_DURATION:
		return "a duration such as 500ms, 10s, 5m or 24h";
	case NH_OPT_MODE:
		return "an octal mode such as \"0600\"";
	case NH_OPT_ENUM:
		return "one of the listed values";
	case NH_OPT_LIST:
		return "a list";
	case NH_OPT_MAP:
		return "a mapping";
	}
	return "?";
}

static int digits(const char **s, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*out = v;
	return 0;
}

static int mul(uint64_t *v, uint64_t m)
{
	if (m && *v > UINT64_MAX / m)
		return -ERANGE;
	*v *= m;
	return 0;
}

/* k, M, G, T are binary multiples, as the agent's flags have always had
 * them; Ki, Mi, Gi, Ti say the same thing the Kubernetes way. */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	uint64_t v;
	const char *u;
	int rc;

	rc = digits(&s, &v);
	if (rc)
		return rc;
	if (*s) {
		u = strchr(units, tolower((unsigned char)*s));
		if (!u)
			return -EINVAL;
		s++;
		if (*s == 'i')
			s++;
		if (*s == 'B')
			s++;
		if (*s)
			return -EINVAL;
		rc = mul(&v, 1ULL << (10 * (u - units + 1)));
		if (rc)
			return rc;
	}
	*out = v;
	return 0;
}

/* "1h30m", "500ms", "10s"; a bare number is milliseconds, which is what
 * the flags took before they took units. */
static int parse_duration(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
	uint64_t total = 0, v;
	int rc;

	rc = digits(&s, &v);
	if (rc)
		return rc;
	if (!*s) {
		*out = v;
		return 0;
	}
	for (;;) {
		size_t i, n = 0;

		while (isalpha((unsigned char)s[n]))
			n++;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == n && !strncmp(s, units[i].unit, n))
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		rc = mul(&v, units[i].ms);
		if (rc || total > UINT64_MAX - v)
			return -ERANGE;
		total += v;
		s += n;
		if (!*s)
			break;
		rc = digits(&s, &v);
		if (rc)
			return rc;
	}
	*out = total;
	return 0;
}

static void format_size(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = {"Ti", "Gi", "Mi", "Ki"};

	for (int i = 0; i < 4; i++) {
		uint64_t m = 1ULL << (10 * (4 - i));

		if (v && v % m == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(v / m), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms && ms % units[i].ms == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	snprintf(buf, len, ms ? "%llums" : "0s", (unsigned long long)ms);
}

static void format_number(const struct nh_opt *o, uint64_t v, char *buf, size_t len)
{
	if (o->type == NH_OPT_SIZE)
		format_size(v, buf, len);
	else if (o->type == NH_OPT_DURATION)
		format_duration(v, buf, len);
	else if (o->type == NH_OPT_MODE)
		snprintf(buf, len, "%04llo", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Parse s as o's type into *v (numbers) or *idx (enums); why names the
 * problem for the caller to place. */
static int parse_number(const struct nh_opt *o, const char *text, uint64_t *v, char *why,
			size_t whylen)
{
	const char *s = text;
	char lo[32], hi[32];
	char *end;
	int rc;

	switch (o->type) {
	case NH_OPT_SIZE:
		rc = parse_size(s, v);
		break;
	case NH_OPT_DURATION:
		rc = parse_duration(s, v);
		break;
	case NH_OPT_MODE:
		errno = 0;
		*v = strtoull(s, &end, 8);
		rc = errno || end == s || *end || !isdigit((unsigned char)*s) ? -EINVAL : 0;
		break;
	default:
		rc = digits(&s, v);
		if (!rc && *s)
			rc = -EINVAL;
		break;
	}
	format_number(o, o->min, lo, sizeof(lo));
	format_number(o, o->max, hi, sizeof(hi));
	if (rc) {
		snprintf(why, whylen, "\"%s\" is not %s", text, type_name(o));
		return -EINVAL;
	}
	if (*v < o->min || *v > o->max) {
		snprintf(why, whylen, "\"%s\" is out of range: %s to %s", text, lo, hi);
		return -ERANGE;
	}
	if ((o->flags & NH_OPT_POW2) && (*v & (*v - 1))) {
		snprintf(why, whylen, "\"%s\" is not a power of two", text);
		return -EINVAL;
	}
	return 0;
}

static void choices_text(const struct nh_opt *o, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; o->choices[i]; i++)
		n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", i ? ", " : "", o->choices[i]);
}

/* Set a scalar option from text. */
static int set_scalar(struct load *l, const struct nh_opt *o, const char *s, char *why,
		      size_t whylen)
{
	void *f = field(o, l->cfg);
	char list[256];
	uint64_t v;
	int rc;

	switch (o->type) {
	case NH_OPT_BOOL:
		if (!strcasecmp(s, "true"))
			*(bool *)f = true;
		else if (!strcasecmp(s, "false"))
			*(bool *)f = false;
		else {
			snprintf(why, whylen, "\"%s\" is not true or false", s);
			return -EINVAL;
		}
		return 0;
	case NH_OPT_PATH:
		if (*s && *s != '/') {
			/* Not echoed: a token pasted for its file would be. */
			snprintf(why, whylen, "not an absolute path");
			return -EINVAL;
		}
		/* fall through */
	case NH_OPT_STRING:
		/* Empty is unset: NULL, so "is it configured" is one test. */
		if (!*s) {
			*(const char **)f = NULL;
			return 0;
		}
		*(const char **)f = save(l->strings, s, strlen(s));
		return *(const char **)f ? 0 : -ENOMEM;
	case NH_OPT_ENUM:
		for (int i = 0; o->choices[i]; i++)
			if (!strcmp(s, o->choices[i])) {
				*(int *)f = i;
				return 0;
			}
		choices_text(o, list, sizeof(list));
		snprintf(why, whylen, "\"%s\" is not one of %s", s, list);
		return -EINVAL;
	case NH_OPT_UINT:
	case NH_OPT_SIZE:
	case NH_OPT_DURATION:
	case NH_OPT_MODE:
		rc = parse_number(o, s, &v, why, whylen);
		if (!rc)
			*(uint64_t *)f = v;
		return rc;
	case NH_OPT_LIST:
	case NH_OPT_MAP:
		break;
	}
	snprintf(why, whylen, "expected %s", type_name(o));
	return -EINVAL;
}

static int list_add(struct load *l, const struct nh_opt *o, const char *s, char *why, size_t whylen)
{
	const char **arr = field(o, l->cfg);
	size_t *n = count_of(o, l->cfg);
	const char *eq = strchr(s, '=');
	size_t i = *n;

	if (o->type == NH_OPT_MAP) {
		/* Never the entry itself: it may be a secret. */
		if (!eq || eq == s) {
			snprintf(why, whylen, "an entry is not KEY=VALUE");
			return -EINVAL;
		}
		if (!strcmp(eq + 1, NH_CONFIG_REDACTED)) {
			snprintf(why, whylen, "%.*s: a redacted value; give the secret in a file",
				 (int)(eq - s), s);
			return -EINVAL;
		}
		/* A map: a later value for a key replaces the earlier one. */
		for (i = 0; i < *n; i++)
			if (!strncmp(arr[i], s, (size_t)(eq - s) + 1))
				break;
	} else if (!*s) {
		snprintf(why, whylen, "an empty entry");
		return -EINVAL;
	}
	if (i == *n && *n == o->max) {
		snprintf(why, whylen, "more than %llu entries", (unsigned long long)o->max);
		return -E2BIG;
	}
	arr[i] = save(l->strings, s, strlen(s));
	if (!arr[i])
		return -ENOMEM;
	if (i == *n)
		(*n)++;
	return 0;
}

static int set_default(struct load *l, const struct nh_opt *o)
{
	char why[256];

	if (o->type == NH_OPT_LIST || o->type == NH_OPT_MAP) {
		const char *p = o->def;

		/* A list's default: its entries, comma-separated. */
		*count_of(o, l->cfg) = 0;
		while (p && *p) {
			size_t n = strcspn(p, ",");
			char entry[256];

			snprintf(entry, sizeof(entry), "%.*s", (int)n, p);
			if (list_add(l, o, entry, why, sizeof(why)))
				goto bad;
			p += n + (p[n] == ',');
		}
		return 0;
	}
	if (!o->def && o->type != NH_OPT_STRING && o->type != NH_OPT_PATH)
		goto bad;
	if (set_scalar(l, o, o->def ? o->def : "", why, sizeof(why)))
		goto bad;
	return 0;
bad:
	/* A table bug, found by the unit tests before anyone runs it. */
	fprintf(l->err, "%s: %s: bad default: %s\n", l->c->spec->prog, o->key ? o->key : o->flag,
		o->def ? o->def : "(none)");
	return -EINVAL;
}

/* ---- the YAML file -------------------------------------------------- */

static const struct nh_opt *find_key(const struct nh_config_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->nopts; i++)
		if (spec->opts[i].key && !strcmp(spec->opts[i].key, key))
			return &spec->opts[i];
	return NULL;
}

static bool is_section(const struct nh_config_spec *spec, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < spec->nopts; i++) {
		const char *k = spec->opts[i].key;

		if (k && !strncmp(k, key, n) && k[n] == '.')
			return true;
	}
	return false;
}

/* Lower case without separators, so dedup_window and dedup-window are
 * recognised as attempts at dedupWindow. */
static void fold(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s && n + 1 < len; s++)
		if (*s != '_' && *s != '-')
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[NH_KEY_MAX + 1], cur[NH_KEY_MAX + 1];

	if (la > NH_KEY_MAX || lb > NH_KEY_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t d = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

static const char *suggest(const struct nh_config_spec *spec, const char *key)
{
	char want[NH_KEY_MAX], have[NH_KEY_MAX];
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	fold(key, want, sizeof(want));
	for (size_t i = 0; i < spec->nopts; i++) {
		size_t d;

		if (!spec->opts[i].key || (spec->opts[i].flags & NH_OPT_HIDDEN))
			continue;
		fold(spec->opts[i].key, have, sizeof(have));
		d = distance(want, have);
		if (d < best_d)
			best_d = d, best = spec->opts[i].key;
	}
	return best_d <= 2 + strlen(want) / 8 ? best : NULL;
}

static void file_error(struct load *l, const char *name, const yaml_node_t *n, const char *key,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void file_error(struct load *l, const char *name, const yaml_node_t *n, const char *key,
		       const char *fmt, ...)
{
	va_list ap;

	/* A file that is mostly wrong is not worth reading to the end, and
	 * on SIGHUP the agent's loop waits meanwhile. */
	if (l->errors >= NH_CONFIG_MAX_ERRORS)
		return;
	if (++l->errors == NH_CONFIG_MAX_ERRORS) {
		fprintf(l->err, "%s:%zu: too many errors; the rest of the file was not read\n",
			name, n->start_mark.line + 1);
		return;
	}
	fprintf(l->err, "%s:%zu: %s%s", name, n->start_mark.line + 1, key ? key : "",
		key ? ": " : "");
	va_start(ap, fmt);
	vfprintf(l->err, fmt, ap);
	va_end(ap);
	fputc('\n', l->err);
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static const char *node_kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE    ? "a mapping"
	       : n->type == YAML_SEQUENCE_NODE ? "a list"
					       : "a scalar";
}

static void set_node(struct load *l, const char *name, yaml_document_t *doc, const struct nh_opt *o,
		     yaml_node_t *v)
{
	char why[512];
	size_t *n;

	if (is_null(v)) {
		/* Helm renders an unset value as null: keep the default. */
		if (set_default(l, o))
			l->errors++;
		return;
	}
	if (o->type == NH_OPT_LIST) {
		if (v->type != YAML_SEQUENCE_NODE) {
			file_error(l, name, v, o->key, "expected a list, found %s", node_kind(v));
			return;
		}
		*count_of(o, l->cfg) = 0;
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(doc, *it);

			if (e->type != YAML_SCALAR_NODE) {
				file_error(l, name, e, o->key, "list entries must be strings");
				continue;
			}
			if (list_add(l, o, (const char *)e->data.scalar.value, why, sizeof(why)))
				file_error(l, name, e, o->key, "%s", why);
		}
		return;
	}
	if (o->type == NH_OPT_MAP) {
		if (v->type != YAML_MAPPING_NODE) {
			file_error(l, name, v, o->key, "expected a mapping, found %s",
				   node_kind(v));
			return;
		}
		n = count_of(o, l->cfg);
		*n = 0;
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			yaml_node_t *e = yaml_document_get_node(doc, p->value);
			char kv[8192];

			if (k->type != YAML_SCALAR_NODE || e->type != YAML_SCALAR_NODE ||
			    !*(const char *)k->data.scalar.value ||
			    strchr((const char *)k->data.scalar.value, '=')) {
				file_error(l, name, k, o->key,
					   "entries must be names without '=' with string values");
				continue;
			}
			if ((size_t)snprintf(kv, sizeof(kv), "%s=%s",
					     (const char *)k->data.scalar.value,
					     (const char *)e->data.scalar.value) >= sizeof(kv)) {
				file_error(l, name, k, o->key, "entry %s is too long",
					   (const char *)k->data.scalar.value);
				continue;
			}
			if (list_add(l, o, kv, why, sizeof(why)))
				file_error(l, name, k, o->key, "%s", why);
		}
		return;
	}
	if (v->type != YAML_SCALAR_NODE) {
		file_error(l, name, v, o->key, "expected %s, found %s", type_name(o), node_kind(v));
		return;
	}
	if (set_scalar(l, o, (const char *)v->data.scalar.value, why, sizeof(why)))
		file_error(l, name, v, o->key, "%s", why);
}

static void walk(struct load *l, const char *name, yaml_document_t *doc, yaml_node_t *map,
		 const char *prefix)
{
	const struct nh_config_spec *spec = l->c->spec;

	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && l->errors < NH_CONFIG_MAX_ERRORS; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		const struct nh_opt *o;
		const char *hint;
		char key[NH_KEY_MAX];
		bool dup = false;

		if (k->type != YAML_SCALAR_NODE) {
			file_error(l, name, k, prefix, "a key must be a plain name");
			continue;
		}
		if ((size_t)snprintf(key, sizeof(key), "%s%s%s", prefix ? prefix : "",
				     prefix ? "." : "",
				     (const char *)k->data.scalar.value) >= sizeof(key)) {
			file_error(l, name, k, NULL, "a key is too long");
			continue;
		}
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *qk = yaml_document_get_node(doc, q->key);

			if (qk->type == YAML_SCALAR_NODE &&
			    !strcmp((const char *)qk->data.scalar.value,
				    (const char *)k->data.scalar.value))
				dup = true;
		}
		if (dup) {
			file_error(l, name, k, key, "given twice");
			continue;
		}
		o = find_key(spec, key);
		if (o && !(o->flags & NH_OPT_HIDDEN)) {
			set_node(l, name, doc, o, v);
		} else if (is_section(spec, key)) {
			if (v->type == YAML_MAPPING_NODE)
				walk(l, name, doc, v, key);
			else if (!is_null(v))
				file_error(l, name, v, key,
					   "is a section: expected a mapping, "
					   "found %s",
					   node_kind(v));
		} else {
			hint = suggest(spec, key);
			if (hint)
				file_error(l, name, k, key, "unknown key (did you mean %s?)", hint);
			else
				file_error(l, name, k, key, "unknown key");
		}
	}
}

static void yaml_error(struct load *l, const char *name, const yaml_parser_t *p)
{
	fprintf(l->err, "%s:%zu: %s%s%s\n", name, p->problem_mark.line + 1,
		p->problem ? p->problem : "not YAML", p->context ? " " : "",
		p->context ? p->context : "");
	l->errors++;
}

/* The documents of text, one at a time: the first holds the settings, a
 * second is an error (and must parse to be told apart from garbage). */
static int parse_yaml(struct load *l, const char *name, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	bool loaded = false;
	int rc = 0;

	if (!yaml_parser_initialize(&parser)) {
		fprintf(l->err, "%s: out of memory\n", name);
		l->errors++;
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (int n = 0; n < 2; n++) {
		if (!yaml_parser_load(&parser, &doc)) {
			yaml_error(l, name, &parser);
			rc = -EINVAL;
			goto cleanup;
		}
		loaded = true;
		root = yaml_document_get_root_node(&doc);
		if (n == 1 && root) {
			fprintf(l->err, "%s:%zu: more than one YAML document\n", name,
				root->start_mark.line + 1);
			l->errors++;
			rc = -EINVAL;
		} else if (n == 0 && root && !is_null(root) && root->type != YAML_MAPPING_NODE) {
			fprintf(l->err, "%s:%zu: expected a mapping of settings, found %s\n", name,
				root->start_mark.line + 1, node_kind(root));
			l->errors++;
			rc = -EINVAL;
		} else if (n == 0 && root && !is_null(root)) {
			walk(l, name, &doc, root, NULL);
		}
		yaml_document_delete(&doc);
		loaded = false;
		if (rc || !root)
			break; /* an error, or the end of the stream */
	}
cleanup:
	if (loaded)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc ? rc : l->errors ? -EINVAL : 0;
}

static int read_file(struct load *l, const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len;
	int rc = 0;

	if (!f) {
		rc = -errno;
		fprintf(l->err, "%s: --config %s: %s\n", l->c->spec->prog, path, strerror(-rc));
		l->errors++;
		return rc;
	}
	buf = malloc(NH_CONFIG_FILE_MAX + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto cleanup;
	}
	len = fread(buf, 1, NH_CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		fprintf(l->err, "%s: --config %s: read error\n", l->c->spec->prog, path);
		l->errors++;
		goto cleanup;
	}
	if (len > NH_CONFIG_FILE_MAX) {
		rc = -EFBIG;
		fprintf(l->err, "%s: --config %s: larger than %u bytes\n", l->c->spec->prog, path,
			NH_CONFIG_FILE_MAX);
		l->errors++;
		goto cleanup;
	}
	rc = parse_yaml(l, path, buf, len);
cleanup:
	free(buf);
	fclose(f);
	return rc;
}

/* ---- the command line ----------------------------------------------- */

/* getopt values of the built-in flags; a table option i is 1000 + i. */
enum {
	ARG_CONFIG = 900,
	ARG_CHECK,
	ARG_PRINT,
	ARG_REFERENCE,
	ARG_HELP,
	ARG_VERSION,
};

struct given {
	int opt; /* index into spec->opts, or an ARG_ */
	const char *value;
};

/* text in lines of at most width characters, broken at spaces: the
 * first line after pad0 spaces, the others after pad, each after lead. */
static void wrapped(FILE *out, int pad0, int pad, const char *lead, size_t width, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strlen(p);

		if (n > width) {
			n = width;
			while (n > 0 && p[n] != ' ')
				n--;
			if (!n)
				n = width;
		}
		fprintf(out, "%*s%s%.*s\n", pad0, "", lead, (int)n, p);
		pad0 = pad;
		p += n;
		while (*p == ' ')
			p++;
	}
}

static void usage(const struct nh_config_spec *spec, FILE *out)
{
	const char *section = NULL;
	size_t slen = 0;

	fprintf(out, "usage: %s [--config FILE] [OPTION]...\n%s\n\n", spec->prog, spec->summary);
	fprintf(out, "  -c, --config FILE          read settings from this YAML file; the options\n"
		     "                             below override it\n"
		     "      --check-config         validate the settings and exit\n"
		     "      --print-config         print the effective settings as YAML and exit\n"
		     "      --print-config-reference  the settings as a Markdown reference\n"
		     "  -h, --help                 this text\n"
		     "      --version              print the version\n");
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];
		const char *dot = o->key ? strchr(o->key, '.') : NULL;
		size_t n = dot ? (size_t)(dot - o->key) : o->key ? strlen(o->key) : 0;
		char left[64], def[64] = "";
		int w;

		if (!o->flag || (o->flags & NH_OPT_HIDDEN))
			continue;
		if (o->key && (!section || n != slen || strncmp(section, o->key, n))) {
			fprintf(out, "%.*s (file: %.*s.*):\n", (int)n, o->key, (int)n, o->key);
			section = o->key, slen = n;
		}
		if (o->short_flag)
			w = snprintf(left, sizeof(left), "  -%c, --%s", o->short_flag, o->flag);
		else
			w = snprintf(left, sizeof(left), "      --%s", o->flag);
		if (!o->flag_value && w >= 0 && (size_t)w < sizeof(left))
			snprintf(left + w, sizeof(left) - (size_t)w, " %s",
				 o->arg ? o->arg : "VALUE");
		if (o->def && *o->def && !o->flag_value)
			snprintf(def, sizeof(def), " (default %s)", o->def);
		if (strlen(left) > 28)
			fprintf(out, "%s\n", left);
		else
			fprintf(out, "%-29s", left);
		{
			char text[1024];

			/* the right column of an 80-column terminal */
			snprintf(text, sizeof(text), "%s%s", o->help, def);
			wrapped(out, strlen(left) > 28 ? 29 : 0, 29, "", 80 - 29, text);
		}
	}
}

static const struct nh_opt *find_short(const struct nh_config_spec *spec, int c, size_t *idx)
{
	for (size_t i = 0; i < spec->nopts; i++)
		if (spec->opts[i].short_flag == c && spec->opts[i].flag) {
			*idx = i;
			return &spec->opts[i];
		}
	return NULL;
}

/* Collect the command line; nothing is applied yet, because the file it
 * names must be read first. */
static int scan_args(struct nh_config *c, struct given *given, size_t *ngiven, FILE *err)
{
	const struct nh_config_spec *spec = c->spec;
	struct option *lo;
	char shorts[128] = ":c:h";
	size_t ns = strlen(shorts), n = 0, nl = 0;
	int ch, errors = 0, li;

	lo = calloc(spec->nopts + 7, sizeof(*lo));
	if (!lo)
		return -ENOMEM;
	lo[nl++] = (struct option){"config", required_argument, NULL, ARG_CONFIG};
	lo[nl++] = (struct option){"check-config", no_argument, NULL, ARG_CHECK};
	lo[nl++] = (struct option){"print-config", no_argument, NULL, ARG_PRINT};
	lo[nl++] = (struct option){"print-config-reference", no_argument, NULL, ARG_REFERENCE};
	lo[nl++] = (struct option){"help", no_argument, NULL, ARG_HELP};
	lo[nl++] = (struct option){"version", no_argument, NULL, ARG_VERSION};
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (!o->flag)
			continue;
		lo[nl++] = (struct option){o->flag, o->flag_value ? no_argument : required_argument,
					   NULL, 1000 + (int)i};
		if (o->short_flag && ns + 3 < sizeof(shorts)) {
			shorts[ns++] = o->short_flag;
			if (!o->flag_value)
				shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	optind = 0; /* glibc: start over, also after a reload */
	opterr = 0;
	while ((ch = getopt_long(c->argc, c->argv, shorts, lo, &li)) != -1) {
		size_t idx;

		if (ch == '?' || ch == ':') {
			/* optopt is the character of a bad short option, 0 or
			 * the value of a bad long one, which argv names. */
			if (optopt > 0 && optopt < 256)
				fprintf(err, "%s: -%c: %s (see --help)\n", spec->prog, optopt,
					ch == ':' ? "needs a value" : "unknown option");
			else
				fprintf(err, "%s: %s: %s (see --help)\n", spec->prog,
					c->argv[optind - 1],
					ch == ':' ? "needs a value" : "unknown option");
			errors++;
			continue;
		}
		if (ch == 'c')
			ch = ARG_CONFIG;
		else if (ch == 'h')
			ch = ARG_HELP;
		if (ch >= ARG_CONFIG && ch < 1000) {
			given[n++] = (struct given){ch, optarg};
		} else if (ch >= 1000) {
			given[n++] = (struct given){ch - 1000, optarg};
		} else if (find_short(spec, ch, &idx)) {
			given[n++] = (struct given){(int)idx, optarg};
		}
	}
	if (optind < c->argc) {
		fprintf(err, "%s: unexpected argument \"%s\" (see --help)\n", spec->prog,
			c->argv[optind]);
		errors++;
	}
	free(lo);
	*ngiven = n;
	return errors ? -EINVAL : 0;
}

static void apply_flag(struct load *l, const struct given *g)
{
	const struct nh_opt *o = &l->c->spec->opts[g->opt];
	const char *v = o->flag_value ? o->flag_value : g->value;
	char why[512];
	int rc;

	if (o->type == NH_OPT_LIST || o->type == NH_OPT_MAP) {
		/* A list on the command line replaces the file's; a map adds
		 * to it key by key. */
		if (o->type == NH_OPT_LIST && !l->flag_seen[g->opt])
			*count_of(o, l->cfg) = 0;
		l->flag_seen[g->opt] = true;
		rc = list_add(l, o, v, why, sizeof(why));
	} else {
		rc = set_scalar(l, o, v, why, sizeof(why));
	}
	if (rc) {
		if (o->short_flag)
			fprintf(l->err, "%s: -%c/--%s: %s\n", l->c->spec->prog, o->short_flag,
				o->flag, why);
		else
			fprintf(l->err, "%s: --%s: %s\n", l->c->spec->prog, o->flag, why);
		l->errors++;
	}
}

/* Defaults, the file, the flags: into l->cfg. */
static int fill(struct load *l, const struct given *given, size_t ngiven, bool validate)
{
	const struct nh_config_spec *spec = l->c->spec;

	memset(l->cfg, 0, spec->size);
	for (size_t i = 0; i < spec->nopts; i++)
		if (set_default(l, &spec->opts[i]))
			return -EINVAL;
	if (l->c->path) {
		int rc = read_file(l, l->c->path);

		/* read_file tells what it can name; anything else too. */
		if (rc && !l->errors) {
			fprintf(l->err, "%s: --config %s: %s\n", spec->prog, l->c->path,
				strerror(-rc));
			l->errors++;
		}
	}
	for (size_t i = 0; i < ngiven; i++)
		if (given[i].opt < ARG_CONFIG)
			apply_flag(l, &given[i]);
	if (!l->errors && validate && spec->validate && spec->validate(l->cfg, l->err))
		l->errors++;
	return l->errors ? -EINVAL : 0;
}

int nh_config_load(struct nh_config *c, const struct nh_config_spec *spec, void *cfg, int argc,
		   char **argv, FILE *out, FILE *err)
{
	struct load l = {.c = c, .cfg = cfg, .strings = &c->strings, .err = err};
	struct given *given = NULL;
	size_t ngiven = 0;
	int rc, action = 0;

	memset(c, 0, sizeof(*c));
	c->spec = spec;
	c->argc = argc;
	c->argv = argv;
	given = calloc((size_t)argc + 1, sizeof(*given));
	l.flag_seen = calloc(spec->nopts, sizeof(bool));
	if (!given || !l.flag_seen) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = scan_args(c, given, &ngiven, err);
	for (size_t i = 0; i < ngiven; i++) {
		if (given[i].opt == ARG_CONFIG)
			c->path = given[i].value;
		else if (given[i].opt >= ARG_CONFIG && !action)
			action = given[i].opt;
	}
	if (action == ARG_HELP) {
		usage(spec, out);
		rc = 1;
		goto cleanup;
	}
	if (action == ARG_VERSION) {
		fprintf(out, "%s %s\n", spec->prog, spec->version);
		rc = 1;
		goto cleanup;
	}
	if (action == ARG_REFERENCE) {
		rc = nh_config_reference(spec, out) ? -EIO : 1;
		goto cleanup;
	}
	/* Read on after a bad flag, so that every error is told at once. */
	/* --print-config shows a configuration still being written. */
	if (fill(&l, given, ngiven, action != ARG_PRINT) || rc) {
		rc = -EINVAL;
		goto cleanup;
	}
	if (action == ARG_CHECK) {
		fprintf(out, "%s: configuration %s is valid\n", spec->prog,
			c->path ? c->path : "(defaults and flags)");
		rc = 1;
	} else if (action == ARG_PRINT) {
		rc = nh_config_print(spec, cfg, out) ? -EIO : 1;
	}
cleanup:
	free(l.flag_seen);
	free(given);
	return rc;
}

int nh_config_reload(struct nh_config *c, void *next, FILE *err)
{
	struct load l = {.c = c, .cfg = next, .strings = &c->pending, .err = err};
	struct given *given = NULL;
	size_t ngiven = 0;
	int rc;

	strings_free(c->pending);
	c->pending = NULL;
	given = calloc((size_t)c->argc + 1, sizeof(*given));
	l.flag_seen = calloc(c->spec->nopts, sizeof(bool));
	if (!given || !l.flag_seen) {
		rc = -ENOMEM;
		goto cleanup;
	}
	rc = scan_args(c, given, &ngiven, err);
	if (!rc)
		rc = fill(&l, given, ngiven, true);
	if (rc) {
		strings_free(c->pending);
		c->pending = NULL;
	}
cleanup:
	free(l.flag_seen);
	free(given);
	return rc;
}

void nh_config_settle(struct nh_config *c, bool keep)
{
	struct nh_config_strings *tail = c->pending;

	if (!keep || !tail) {
		strings_free(c->pending);
		c->pending = NULL;
		return;
	}
	while (tail->next)
		tail = tail->next;
	tail->next = c->strings;
	c->strings = c->pending;
	c->pending = NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool nh_config_same(const struct nh_opt *o, const void *a, const void *b)
{
	const void *fa = field(o, a), *fb = field(o, b);

	switch (o->type) {
	case NH_OPT_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case NH_OPT_STRING:
	case NH_OPT_PATH:
		return str_eq(*(const char *const *)fa, *(const char *const *)fb);
	case NH_OPT_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case NH_OPT_LIST:
	case NH_OPT_MAP:
		if (*count_of(o, a) != *count_of(o, b))
			return false;
		for (size_t i = 0; i < *count_of(o, a); i++)
			if (!str_eq(((const char *const *)fa)[i], ((const char *const *)fb)[i]))
				return false;
		return true;
	default:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	}
}

void nh_config_copy(const struct nh_opt *o, void *dst, const void *src)
{
	switch (o->type) {
	case NH_OPT_BOOL:
		*(bool *)field(o, dst) = *(const bool *)field(o, src);
		break;
	case NH_OPT_STRING:
	case NH_OPT_PATH:
		*(const char **)field(o, dst) = *(const char *const *)field(o, src);
		break;
	case NH_OPT_ENUM:
		*(int *)field(o, dst) = *(const int *)field(o, src);
		break;
	case NH_OPT_LIST:
	case NH_OPT_MAP:
		memcpy(field(o, dst), field(o, src), *count_of(o, src) * sizeof(char *));
		*count_of(o, dst) = *count_of(o, src);
		break;
	default:
		*(uint64_t *)field(o, dst) = *(const uint64_t *)field(o, src);
		break;
	}
}

/* ---- printing ------------------------------------------------------- */

static void quoted(FILE *out, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = u[i];

		if (ch == '"' || ch == '\\') {
			fprintf(out, "\\%c", ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(out, "\\x%02x", ch);
		} else if (ch == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f) {
			/* C1 controls, NEL among them: a reader would fold them */
			fprintf(out, "\\u%04x", u[i + 1]);
			i += 1;
		} else if (ch == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
			   (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)) {
			/* the line and paragraph separators, likewise */
			fprintf(out, "\\u%04x", u[i + 2] == 0xa8 ? 0x2028 : 0x2029);
			i += 2;
		} else {
			fputc(ch, out);
		}
	}
	fputc('"', out);
}

/* Whether a librdkafka property's value may be printed: only of the
 * properties known to hold no secret (names, sizes, timeouts, file
 * locations); any other, sasl.oauthbearer.config too, is redacted. */
bool nh_config_secret_property(const char *k, size_t n)
{
	static const char *const safe[] = {"security.protocol",
					   "sasl.mechanism",
					   "sasl.mechanisms",
					   "sasl.username",
					   "sasl.kerberos.service.name",
					   "sasl.kerberos.principal",
					   "compression.type",
					   "compression.codec",
					   "client.id",
					   "client.rack",
					   "acks",
					   "debug",
					   "ssl.endpoint.identification.algorithm",
					   "enable.ssl.certificate.verification",
					   "api.version.request",
					   "broker.address.family",
					   "ssl.cipher.suites",
					   "ssl.curves.list",
					   "ssl.sigalgs.list",
					   "partitioner",
					   "enable.idempotence",
					   "auto.offset.reset",
					   "group.instance.id",
					   "isolation.level",
					   "statistics.interval.ms"};
	static const char *const safe_suffix[] = {".ms",       ".bytes", ".kbytes", ".messages",
						  ".location", ".count", ".max",    ".min"};

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strlen(safe[i]) == n && !strncmp(k, safe[i], n))
			return false;
	for (size_t i = 0; i < sizeof(safe_suffix) / sizeof(safe_suffix[0]); i++) {
		size_t sl = strlen(safe_suffix[i]);

		/* not ".pem" data behind a harmless-looking suffix */
		if (n > sl && !strncmp(k + n - sl, safe_suffix[i], sl) && !memmem(k, n, "pem", 3) &&
		    !memmem(k, n, "secret", 6))
			return false;
	}
	return true;
}

static void print_value(const struct nh_opt *o, const void *cfg, FILE *out, int indent)
{
	const void *f = field(o, cfg);
	char buf[64];

	switch (o->type) {
	case NH_OPT_BOOL:
		fprintf(out, " %s\n", *(const bool *)f ? "true" : "false");
		return;
	case NH_OPT_STRING:
	case NH_OPT_PATH: {
		const char *s = *(const char *const *)f;

		fputc(' ', out);
		quoted(out, s ? s : "", s ? strlen(s) : 0);
		fputc('\n', out);
		return;
	}
	case NH_OPT_ENUM:
		fprintf(out, " %s\n", o->choices[*(const int *)f]);
		return;
	case NH_OPT_MODE:
		format_number(o, *(const uint64_t *)f, buf, sizeof(buf));
		fprintf(out, " \"%s\"\n", buf);
		return;
	case NH_OPT_LIST:
	case NH_OPT_MAP: {
		const char *const *arr = f;
		size_t n = *count_of(o, cfg);

		if (!n) {
			fprintf(out, " %s\n", o->type == NH_OPT_LIST ? "[]" : "{}");
			return;
		}
		fputc('\n', out);
		for (size_t i = 0; i < n; i++) {
			const char *eq = strchr(arr[i], '=');

			fprintf(out, "%*s", indent + 2, "");
			if (o->type == NH_OPT_LIST) {
				fputs("- ", out);
				quoted(out, arr[i], strlen(arr[i]));
			} else {
				quoted(out, arr[i], (size_t)(eq - arr[i]));
				fputs(": ", out);
				if ((o->flags & NH_OPT_SECRET) &&
				    nh_config_secret_property(arr[i], (size_t)(eq - arr[i])))
					fputs("\"" NH_CONFIG_REDACTED "\"", out);
				else
					quoted(out, eq + 1, strlen(eq + 1));
			}
			fputc('\n', out);
		}
		return;
	}
	default:
		format_number(o, *(const uint64_t *)f, buf, sizeof(buf));
		fprintf(out, " %s\n", buf);
		return;
	}
}

/* Segments of key shared with prev's sections (not its leaf). */
static size_t common_sections(const char *prev, const char *key)
{
	size_t depth = 0, i = 0;

	if (!prev)
		return 0;
	for (;;) {
		const char *pd = strchr(prev + i, '.'), *kd = strchr(key + i, '.');

		if (!pd || !kd || pd - prev != kd - key ||
		    strncmp(prev + i, key + i, (size_t)(pd - prev) - i))
			return depth;
		depth++;
		i = (size_t)(pd - prev) + 1;
	}
}

int nh_config_print(const struct nh_config_spec *spec, const void *cfg, FILE *out)
{
	const char *prev = NULL;

	fprintf(out, "# %s configuration (--config FILE; command-line options override it)\n",
		spec->prog);
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];
		size_t keep, depth = 0;
		const char *seg, *dot;
		char help[1024];

		if (!o->key || (o->flags & NH_OPT_HIDDEN))
			continue;
		keep = common_sections(prev, o->key);
		for (seg = o->key; (dot = strchr(seg, '.')); seg = dot + 1, depth++)
			if (depth >= keep)
				fprintf(out, "%s%*s%.*s:\n", depth ? "" : "\n", (int)depth * 2, "",
					(int)(dot - seg), seg);
		snprintf(help, sizeof(help), "%s%s%s%s%s", o->help, o->flag ? " (--" : "",
			 o->flag ? o->flag : "", o->flag ? ")" : "",
			 o->flags & NH_OPT_RELOAD ? " Reloaded on SIGHUP." : "");
		wrapped(out, (int)depth * 2, (int)depth * 2, "# ", 88 - depth * 2, help);
		fprintf(out, "%*s%s:", (int)depth * 2, "", seg);
		print_value(o, cfg, out, (int)depth * 2);
		prev = o->key;
	}
	return ferror(out) ? -EIO : 0;
}

static const char *md_type(const struct nh_opt *o, char *buf, size_t len)
{
	static const char *const names[] = {
	    [NH_OPT_BOOL] = "boolean",	  [NH_OPT_STRING] = "string",
	    [NH_OPT_PATH] = "path",	  [NH_OPT_UINT] = "integer",
	    [NH_OPT_SIZE] = "size",	  [NH_OPT_DURATION] = "duration",
	    [NH_OPT_MODE] = "octal mode", [NH_OPT_ENUM] = "enum",
	    [NH_OPT_LIST] = "list",	  [NH_OPT_MAP] = "map",
	};
	char lo[32], hi[32];

	if (o->type == NH_OPT_ENUM) {
		size_t n = 0;

		for (size_t i = 0; o->choices[i]; i++)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s`%s`", i ? ", " : "",
				      o->choices[i]);
		return buf;
	}
	if (o->type == NH_OPT_UINT || o->type == NH_OPT_SIZE || o->type == NH_OPT_DURATION ||
	    o->type == NH_OPT_MODE) {
		format_number(o, o->min, lo, sizeof(lo));
		format_number(o, o->max, hi, sizeof(hi));
		snprintf(buf, len, "%s, %s to %s%s", names[o->type], lo, hi,
			 o->flags & NH_OPT_POW2 ? ", a power of two" : "");
		return buf;
	}
	if (o->type == NH_OPT_LIST || o->type == NH_OPT_MAP) {
		snprintf(buf, len, "%s, at most %llu", names[o->type], (unsigned long long)o->max);
		return buf;
	}
	return names[o->type];
}

int nh_config_reference(const struct nh_config_spec *spec, FILE *out)
{
	const char *section = NULL;
	size_t slen = 0;
	char type[256];

	fprintf(out, "## `%s`\n\n%s\n", spec->prog, spec->summary);
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];
		const char *dot;
		size_t n;

		if (!o->key || (o->flags & NH_OPT_HIDDEN))
			continue;
		dot = strchr(o->key, '.');
		n = dot ? (size_t)(dot - o->key) : strlen(o->key);
		if (!section || n != slen || strncmp(section, o->key, n)) {
			fprintf(out, "\n### `%.*s`\n\n", (int)n, o->key);
			fprintf(out, "| Key | Flag | Type | Default | SIGHUP | Description |\n"
				     "|---|---|---|---|---|---|\n");
			section = o->key, slen = n;
		}
		fprintf(out, "| `%s` | ", o->key);
		if (o->flag && o->short_flag)
			fprintf(out, "`-%c`, ", o->short_flag);
		if (o->flag)
			fprintf(out, "`--%s`", o->flag);
		fprintf(out, " | %s | ", md_type(o, type, sizeof(type)));
		if (o->type == NH_OPT_LIST)
			fprintf(out, "`[%s]`", o->def ? o->def : "");
		else if (o->type == NH_OPT_MAP)
			fputs("`{}`", out);
		else
			fprintf(out, "`%s`", o->def && *o->def ? o->def : "\"\"");
		fprintf(out, " | %s | %s |\n", o->flags & NH_OPT_RELOAD ? "yes" : "no", o->help);
	}
	fprintf(out, "\nCommand line only:\n\n| Flag | Description |\n|---|---|\n");
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (o->key || !o->flag || (o->flags & NH_OPT_HIDDEN))
			continue;
		fputs("| ", out);
		if (o->short_flag)
			fprintf(out, "`-%c`, ", o->short_flag);
		fprintf(out, "`--%s%s%s` | %s |\n", o->flag, o->flag_value ? "" : " ",
			o->flag_value ? "" : (o->arg ? o->arg : "VALUE"), o->help);
	}
	return ferror(out) ? -EIO : 0;
}

int nh_config_parse_yaml(struct nh_config *c, void *cfg, const char *name, const char *text,
			 size_t len, FILE *err)
{
	struct load l = {.c = c, .cfg = cfg, .strings = &c->strings, .err = err};

	return parse_yaml(&l, name, text, len);
}

static bool in_section(const char *key, const char *sec, size_t n)
{
	return key && !strncmp(key, sec, n) && key[n] == '.';
}

/* Sections must be contiguous for nh_config_print to nest them: between
 * the first key of each section of opts[i] and opts[i], every key is in
 * that section too. */
static bool section_reopened(const struct nh_config_spec *spec, size_t i)
{
	const char *key = spec->opts[i].key;

	for (const char *dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
		size_t n = (size_t)(dot - key), first = i;

		for (size_t j = 0; j < i; j++)
			if (in_section(spec->opts[j].key, key, n)) {
				first = j;
				break;
			}
		for (size_t j = first; j < i; j++)
			if (spec->opts[j].key && !(spec->opts[j].flags & NH_OPT_HIDDEN) &&
			    !in_section(spec->opts[j].key, key, n))
				return true;
	}
	return false;
}

int nh_config_check_spec(const struct nh_config_spec *spec, FILE *err)
{
	struct nh_config c = {.spec = spec};
	void *cfg = calloc(1, spec->size);
	struct load l = {.c = &c, .cfg = cfg, .strings = &c.strings, .err = err};
	int bad = 0;

	if (!cfg)
		return -ENOMEM;
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (!o->key && !o->flag)
			bad++, fprintf(err, "option %zu: neither key nor flag\n", i);
		if (!o->help || !*o->help)
			bad++, fprintf(err, "%s: no help\n", o->key ? o->key : o->flag);
		if (o->type == NH_OPT_ENUM && !o->choices)
			bad++,
			    fprintf(err, "%s: enum without choices\n", o->key ? o->key : o->flag);
		for (const char *p = o->key; p && *p; p++)
			if (!(isalnum((unsigned char)*p) ||
			      (*p == '.' && p[1] && p[1] != '.' && islower((unsigned char)p[1]))) ||
			    (p == o->key && !islower((unsigned char)*p)))
				bad++, fprintf(err, "%s: keys are camelCase segments\n", o->key),
				    p = " ";
		for (size_t j = 0; j < i; j++) {
			const struct nh_opt *q = &spec->opts[j];

			if (o->key && q->key && !strcmp(o->key, q->key))
				bad++, fprintf(err, "%s: key given twice\n", o->key);
			if (o->flag && q->flag && !strcmp(o->flag, q->flag))
				bad++, fprintf(err, "--%s: flag given twice\n", o->flag);
			if (o->short_flag && o->short_flag == q->short_flag)
				bad++, fprintf(err, "-%c: flag given twice\n", o->short_flag);
		}
		if (o->key && is_section(spec, o->key))
			bad++, fprintf(err, "%s: both a key and a section\n", o->key);
		if (o->key && !(o->flags & NH_OPT_HIDDEN) && section_reopened(spec, i))
			bad++, fprintf(err, "%s: its section is split in the table\n", o->key);
		if (set_default(&l, o))
			bad++;
	}
	strings_free(c.strings);
	free(cfg);
	return bad ? -EINVAL : 0;
}

void nh_config_free(struct nh_config *c)
{
	strings_free(c->strings);
	strings_free(c->pending);
	c->strings = c->pending = NULL;
}
