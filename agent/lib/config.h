/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: a binary's settings described once, as a table of options, and
 * read from three places in order: the defaults written in the table, a
 * YAML file (--config, libyaml) whose keys are the Helm values, and the
 * command line. The same table prints --help, the effective configuration
 * as YAML and the reference in docs/configuration.md, so none of them can
 * drift from what the binary accepts.
 */
#ifndef NH_CONFIG_H
#define NH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum nh_opt_type {
	NH_OPT_BOOL,	 /* bool */
	NH_OPT_STRING,	 /* const char *; NULL when empty (unset) */
	NH_OPT_PATH,	 /* const char *: an absolute path; NULL when empty */
	NH_OPT_UINT,	 /* uint64_t in [min, max] */
	NH_OPT_SIZE,	 /* uint64_t bytes: 4096, 64k, 8Mi, 1G */
	NH_OPT_DURATION, /* uint64_t milliseconds: 500ms, 10s, 5m, 24h, 7d; bare: ms */
	NH_OPT_MODE,	 /* uint64_t permission bits, written in octal: "0600" */
	NH_OPT_ENUM,	 /* int: index into choices */
	NH_OPT_LIST,	 /* const char *[max] at off, its size_t count at count_off */
	NH_OPT_MAP,	 /* like LIST, entries "key=value"; YAML: a mapping */
};

/* nh_opt.flags */
#define NH_OPT_RELOAD 0x1u /* SIGHUP applies it without a restart */
#define NH_OPT_POW2   0x2u /* numbers: a power of two */
#define NH_OPT_HIDDEN 0x4u /* not in --help nor the reference (test hooks) */
#define NH_OPT_SECRET 0x8u /* maps: values of secret-looking keys never printed */

struct nh_opt {
	const char *key;  /* YAML path "kafka.brokers"; NULL: command line only */
	const char *flag; /* long option without "--"; NULL: file only */
	char short_flag;
	enum nh_opt_type type;
	size_t off;		    /* into the binary's config struct */
	size_t count_off;	    /* LIST and MAP */
	uint64_t min, max;	    /* numbers: the range; LIST and MAP: max entries */
	const char *const *choices; /* ENUM, NULL-terminated */
	/* A flag that takes no argument and sets this value: "--tail" is
	 * "true", "-v" is "debug". */
	const char *flag_value;
	unsigned flags;
	const char *arg; /* in --help: "PATH", "ADDR:PORT" */
	const char *def; /* the default, as written in YAML */
	const char *help;
};

struct nh_config_spec {
	const char *prog;
	const char *summary; /* one paragraph for --help */
	const char *version;
	const struct nh_opt *opts;
	size_t nopts;
	size_t size; /* sizeof the config struct */
	/* Checks that span options, after everything was read: each error
	 * printed to err naming the keys; 0 or -EINVAL. */
	int (*validate)(const void *cfg, FILE *err);
};

struct nh_config_strings; /* where values read from files and flags live */

/* One binary's configuration source, kept for SIGHUP. */
struct nh_config {
	const struct nh_config_spec *spec;
	const char *path; /* --config, or NULL */
	int argc;
	char **argv;
	struct nh_config_strings *strings, *pending;
};

/*
 * Fill cfg (spec->size bytes) from the defaults, the --config file and
 * the command line. Returns 0 to run; 1 when a flag that answers and exits
 * was given (--help, --version, --check-config, --print-config,
 * --print-config-reference), its answer written to out; or -EINVAL with
 * every error, each naming its key or flag (and file:line), written to err.
 */
int nh_config_load(struct nh_config *c, const struct nh_config_spec *spec, void *cfg, int argc,
		   char **argv, FILE *out, FILE *err);

/*
 * SIGHUP: read the file and the saved command line again into next. On
 * success the caller takes what it can apply, then calls
 * nh_config_settle(keep): keep is true when a string of next is now
 * referenced by the live configuration.
 */
int nh_config_reload(struct nh_config *c, void *next, FILE *err);
void nh_config_settle(struct nh_config *c, bool keep);

/* Whether option o has the same value in a and b. */
bool nh_config_same(const struct nh_opt *o, const void *a, const void *b);
/* Copy option o's value from src to dst (strings are shared, not copied). */
void nh_config_copy(const struct nh_opt *o, void *dst, const void *src);

/* The effective configuration as a YAML file that --config accepts, with
 * each key's help as a comment; secret map values are redacted. */
int nh_config_print(const struct nh_config_spec *spec, const void *cfg, FILE *out);
/* The reference as Markdown: one table per section. */
int nh_config_reference(const struct nh_config_spec *spec, FILE *out);

/* Parse a YAML document from memory into cfg (over what it holds), errors
 * as "name:line: key: why". For nh_config_load and the tests. */
int nh_config_parse_yaml(struct nh_config *c, void *cfg, const char *name, const char *text,
			 size_t len, FILE *err);

/* Whether --print-config redacts the value of a librdkafka property
 * named k (n bytes): every one not known to be harmless. */
bool nh_config_secret_property(const char *k, size_t n);

/* The table itself: unique keys and flags, camelCase keys, contiguous
 * sections, defaults that parse. For the unit tests. */
int nh_config_check_spec(const struct nh_config_spec *spec, FILE *err);

void nh_config_free(struct nh_config *c);

#endif
