// SPDX-License-Identifier: Apache-2.0
/* The Prometheus exposition of the agent's snapshot: the text format
 * (HELP and TYPE before every family, valid names, escaped label values,
 * counters named _total, no series twice), every value where it belongs,
 * the optional families only when their feature is on. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

#define MAX_FAMILIES 128
#define MAX_SERIES   1024

struct family {
	char name[128];
	char type[16];
	bool help, typed, closed;
};

struct parsed {
	struct family fam[MAX_FAMILIES];
	int nfam;
	char *series[MAX_SERIES]; /* "name{labels}" as written */
	double value[MAX_SERIES];
	int nseries;
	int errors; /* format violations found */
};

static bool quiet; /* while feeding the parser bad text on purpose */

static void violation(struct parsed *p, const char *what, const char *line)
{
	p->errors++;
	if (!quiet)
		fprintf(stderr, "  format: %s: %.160s\n", what, line);
}

static bool valid_name(const char *s, size_t n, bool metric)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || (metric && s[0] == ':')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (metric && s[i] == ':')))
			return false;
	return true;
}

static struct family *find(struct parsed *p, const char *name, size_t n)
{
	for (int i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == n && !strncmp(p->fam[i].name, name, n))
			return &p->fam[i];
	return NULL;
}

/* The family a sample belongs to: a counter's samples carry its name. */
static struct family *current(struct parsed *p)
{
	return p->nfam ? &p->fam[p->nfam - 1] : NULL;
}

static const char *const allowed_labels[] = {
    "kind", "probe", "tracepoint", "version", "state", "category", "severity", "class", "cause"};

static bool allowed_label(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(allowed_labels) / sizeof(allowed_labels[0]); i++)
		if (strlen(allowed_labels[i]) == n && !strncmp(allowed_labels[i], s, n))
			return true;
	return false;
}

static void comment(struct parsed *p, char *line)
{
	char *kw = line + 2, *name, *rest;
	struct family *f;

	if (strncmp(kw, "HELP ", 5) && strncmp(kw, "TYPE ", 5)) {
		violation(p, "a comment that is neither HELP nor TYPE", line);
		return;
	}
	name = kw + 5;
	rest = strchr(name, ' ');
	if (!rest || !valid_name(name, (size_t)(rest - name), true)) {
		violation(p, "bad metric name", line);
		return;
	}
	f = find(p, name, (size_t)(rest - name));
	if (f && f != current(p)) {
		violation(p, "a family described twice", line);
		return;
	}
	if (!f) {
		if (p->nfam == MAX_FAMILIES || kw[0] != 'H') {
			violation(p, "TYPE before HELP, or too many families", line);
			return;
		}
		f = &p->fam[p->nfam++];
		snprintf(f->name, sizeof(f->name), "%.*s", (int)(rest - name), name);
	}
	if (f->closed) {
		violation(p, "HELP or TYPE after the family's samples", line);
		return;
	}
	if (kw[0] == 'H') {
		/* Only \\ and \n escapes in HELP, and no raw newline (the line
		 * split guarantees that). */
		for (char *c = rest + 1; *c; c++)
			if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
				violation(p, "bad escape in HELP", line);
			else if (*c == '\\')
				c++;
		if (f->help)
			violation(p, "HELP twice", line);
		f->help = true;
		return;
	}
	if (f->typed || !f->help)
		violation(p, "TYPE twice or without HELP", line);
	snprintf(f->type, sizeof(f->type), "%s", rest + 1);
	if (strcmp(f->type, "counter") && strcmp(f->type, "gauge"))
		violation(p, "a type this agent does not use", line);
	f->typed = true;
}

/* name{label="value",...} value */
static void sample(struct parsed *p, char *line)
{
	struct family *f = current(p);
	char *c = line, *end;
	size_t n;

	while (*c && *c != '{' && *c != ' ')
		c++;
	n = (size_t)(c - line);
	if (!valid_name(line, n, true)) {
		violation(p, "bad metric name", line);
		return;
	}
	if (!f || strlen(f->name) != n || strncmp(f->name, line, n) || !f->help || !f->typed) {
		violation(p, "a sample without its HELP and TYPE just before", line);
		return;
	}
	f->closed = true;
	if (*c == '{') {
		c++;
		while (*c != '}') {
			char *ln = c;

			while (*c && *c != '=')
				c++;
			if (!valid_name(ln, (size_t)(c - ln), false) || !strncmp(ln, "__", 2) ||
			    !allowed_label(ln, (size_t)(c - ln))) {
				violation(p, "bad or unexpected label name", line);
				return;
			}
			if (c[0] != '=' || c[1] != '"') {
				violation(p, "label without a quoted value", line);
				return;
			}
			for (c += 2; *c && *c != '"'; c++)
				if (*c == '\\') {
					if (c[1] != '\\' && c[1] != '"' && c[1] != 'n') {
						violation(p, "bad escape in a label value", line);
						return;
					}
					c++;
				}
			if (*c != '"') {
				violation(p, "unterminated label value", line);
				return;
			}
			c++;
			if (*c == ',')
				c++;
			else if (*c != '}') {
				violation(p, "labels not separated by commas", line);
				return;
			}
		}
		c++;
	}
	if (*c != ' ') {
		violation(p, "no space before the value", line);
		return;
	}
	*c = '\0';
	for (int i = 0; i < p->nseries; i++)
		if (!strcmp(p->series[i], line)) {
			violation(p, "a series twice", line);
			return;
		}
	if (p->nseries == MAX_SERIES) {
		violation(p, "too many series", line);
		return;
	}
	p->value[p->nseries] = strtod(c + 1, &end);
	if (end == c + 1 || *end) {
		violation(p, "a value that is not a number", c + 1);
		return;
	}
	p->series[p->nseries++] = strdup(line);
}

static void parse(struct parsed *p, char *text, size_t len)
{
	char *line = text, *nl;

	memset(p, 0, sizeof(*p));
	if (strlen(text) != len)
		violation(p, "length does not match the text", "");
	if (!len || text[len - 1] != '\n')
		violation(p, "the text does not end with a newline", "");
	for (; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		if (!line[0])
			violation(p, "an empty line", line);
		else if (line[0] == '#')
			comment(p, line);
		else
			sample(p, line);
	}
	for (int i = 0; i < p->nfam; i++) {
		struct family *f = &p->fam[i];
		size_t n = strlen(f->name);
		bool total = n > 6 && !strcmp(f->name + n - 6, "_total");

		if (!f->typed || !f->closed)
			violation(p, "a family without TYPE or samples", f->name);
		if (strncmp(f->name, "nhiscope_", 9))
			violation(p, "not prefixed nhiscope_", f->name);
		if (!strcmp(f->type, "counter") != total)
			violation(p, "counters, and only counters, end in _total", f->name);
	}
}

static void release(struct parsed *p)
{
	for (int i = 0; i < p->nseries; i++)
		free(p->series[i]);
}

/* The value of one series, or -1 when it is absent. */
static double value(const struct parsed *p, const char *series)
{
	for (int i = 0; i < p->nseries; i++)
		if (!strcmp(p->series[i], series))
			return p->value[i];
	return -1;
}

static bool has_family(const struct parsed *p, const char *name)
{
	for (int i = 0; i < p->nfam; i++)
		if (!strcmp(p->fam[i].name, name))
			return true;
	return false;
}

static int render_parse(const struct nh_metrics *m, struct parsed *p, char **text)
{
	size_t len = 0;
	char *copy;
	int err = nh_metrics_render(m, text, &len);

	if (err)
		return err;
	copy = strdup(*text);
	parse(p, copy, len);
	free(copy);
	return 0;
}

static const char *const probe_names[] = {"nh_exec", "nh_exit_openat", "nh_enter_connect"};

/* Distinct values everywhere, so a value in the wrong place shows. */
static void fill(struct nh_metrics *m)
{
	uint64_t v = 1000;

	memset(m, 0, sizeof(*m));
	m->version = "9.8.7";
	m->start_time_s = 1700000000.25;
	for (size_t i = 0; i < 3; i++)
		m->probes[m->nprobes++] =
		    (struct nh_metrics_probe){probe_names[i], "syscalls:x", i != 1};
	for (int k = 1; k < NH_KIND_MAX; k++, v += 5)
		m->kinds[k] = (struct nh_metrics_kind){v, v + 1, v + 2, v + 3, v + 4, 0};
	m->decode_errors = 7;
	m->flush_errors = 8;
	m->dedup_window_ms = 2500;
	m->dedup_entries = 321;
	m->dedup_max_entries = 65536;
	m->ringbuf_bytes = 8u << 20;
	m->processes = 99;
	m->cgroups_cached = 12;
	m->identities = 5;
	m->credentials = 4;
	m->credentials_reused = 1;
	m->sa_token_reads = 30;
	m->sa_token_rotations = 31;
	m->sa_token_failures = 32;
	for (int k = NH_KIND_MAX; k < NH_KIND_ALL; k++)
		m->findings[k - NH_KIND_MAX] = 200 + (uint64_t)k;
	m->profiles[NH_PROFILE_LEARNING] = 3;
	m->profiles[NH_PROFILE_STABLE] = 2;
	m->profile_bytes = 4096;
	for (int c = 0; c < NH_CAT_MAX; c++)
		for (int s = NH_SEV_LOW; s <= NH_SEV_CRITICAL; s++)
			m->anomalies_by[c][s] = 10 * (uint64_t)c + (uint64_t)s;
	m->pinned = 41;
	m->pin_errors = 42;
	m->subscribers = 2;
	m->subscriber_drops = 17;
}

static void test_format_and_values(void)
{
	struct nh_metrics m;
	struct parsed p;
	char *text = NULL, want[160];

	fill(&m);
	CHECK(render_parse(&m, &p, &text) == 0);
	CHECK(p.errors == 0);
	CHECK(p.nfam > 30);
	CHECK(value(&p, "nhiscope_build_info{version=\"9.8.7\"}") == 1);
	CHECK(value(&p, "nhiscope_start_time_seconds") == 1700000000.25);
	CHECK(value(&p, "nhiscope_probe_attached{probe=\"nh_exec\",tracepoint=\"syscalls:x\"}") ==
	      1);
	CHECK(value(&p, "nhiscope_probe_attached{probe=\"nh_exit_openat\",tracepoint=\"syscalls:"
			"x\"}") == 0);
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		const struct nh_metrics_kind *mk = &m.kinds[k];
		const char *name = nh_kind_name(k);

		if (!nh_kind_named(k))
			continue; /* a reserved number: no series */
		snprintf(want, sizeof(want), "nhiscope_events_received_total{kind=\"%s\"}", name);
		CHECK(value(&p, want) == (double)mk->received);
		snprintf(want, sizeof(want), "nhiscope_events_observed_total{kind=\"%s\"}", name);
		CHECK(value(&p, want) == (double)mk->observed);
		snprintf(want, sizeof(want), "nhiscope_kernel_events_emitted_total{kind=\"%s\"}",
			 name);
		CHECK(value(&p, want) == (double)mk->emitted);
		snprintf(want, sizeof(want),
			 "nhiscope_kernel_events_deduplicated_total{kind=\"%s\"}", name);
		CHECK(value(&p, want) == (double)mk->deduplicated);
		snprintf(want, sizeof(want), "nhiscope_kernel_events_lost_total{kind=\"%s\"}",
			 name);
		CHECK(value(&p, want) == (double)mk->lost);
	}
	CHECK(value(&p, "nhiscope_decode_errors_total") == 7);
	CHECK(value(&p, "nhiscope_dedup_flush_errors_total") == 8);
	CHECK(value(&p, "nhiscope_dedup_window_seconds") == 2.5);
	CHECK(value(&p, "nhiscope_dedup_entries") == 321);
	CHECK(value(&p, "nhiscope_dedup_entries_max") == 65536);
	CHECK(value(&p, "nhiscope_ringbuf_bytes") == 8 << 20);
	CHECK(value(&p, "nhiscope_processes") == 99);
	CHECK(value(&p, "nhiscope_cgroups_cached") == 12);
	CHECK(value(&p, "nhiscope_identities") == 5);
	CHECK(value(&p, "nhiscope_credentials") == 4);
	CHECK(value(&p, "nhiscope_credentials_reused") == 1);
	CHECK(value(&p, "nhiscope_sa_token_reads_total") == 30);
	CHECK(value(&p, "nhiscope_sa_token_rotations_total") == 31);
	CHECK(value(&p, "nhiscope_sa_token_failures_total") == 32);
	for (uint32_t k = NH_KIND_CREDENTIAL_USE; k <= NH_KIND_HUMAN_USE; k++) {
		snprintf(want, sizeof(want), "nhiscope_findings_total{kind=\"%s\"}",
			 nh_kind_name(k));
		CHECK(value(&p, want) == 200 + k);
	}
	/* anomalies have their own family, with categories */
	CHECK(value(&p, "nhiscope_findings_total{kind=\"anomaly\"}") == -1);
	CHECK(value(&p, "nhiscope_findings_total{kind=\"loss\"}") == -1);
	CHECK(value(&p, "nhiscope_profiles{state=\"learning\"}") == 3);
	CHECK(value(&p, "nhiscope_profiles{state=\"stable\"}") == 2);
	CHECK(value(&p, "nhiscope_profile_bytes") == 4096);
	for (int c = 0; c < NH_CAT_MAX; c++)
		for (int s = NH_SEV_LOW; s <= NH_SEV_CRITICAL; s++) {
			snprintf(want, sizeof(want),
				 "nhiscope_anomalies_total{category=\"%s\",severity=\"%s\"}",
				 nh_category_name(c), nh_severity_name(s));
			CHECK(value(&p, want) == 10 * c + s);
		}
	CHECK(value(&p, "nhiscope_pinned_total") == 41);
	CHECK(value(&p, "nhiscope_pin_errors_total") == 42);
	CHECK(value(&p, "nhiscope_subscribers") == 2);
	CHECK(value(&p, "nhiscope_subscriber_dropped_total") == 17);
	/* off: no Kafka, kubelet or snapshot families at all */
	CHECK(!has_family(&p, "nhiscope_kafka_delivered_total"));
	CHECK(!has_family(&p, "nhiscope_spool_records"));
	CHECK(!has_family(&p, "nhiscope_pod_records"));
	CHECK(!has_family(&p, "nhiscope_snapshots_saved_total"));
	release(&p);
	free(text);
}

static void test_optional_families(void)
{
	struct nh_metrics m;
	struct parsed p;
	char *text = NULL;

	fill(&m);
	m.kafka = true;
	m.kafka_broker_up = true;
	m.kafka_produced = 50;
	m.kafka_delivered = 48;
	m.kafka_failed = 2;
	m.kafka_queue_full = 3;
	m.kafka_queued = 4;
	m.kafka_send_errors = 5;
	m.kafka_dropped[0] = 6;
	m.kafka_dropped[1] = 7;
	m.spool_records[0] = 8;
	m.spool_records[1] = 9;
	m.spool_bytes[0] = 800;
	m.spool_bytes[1] = 900;
	m.spool_shed[0] = 10;
	m.spool_shed[1] = 11;
	m.spool_corrupt = 12;
	m.spool_max_bytes = 1 << 20;
	m.kubelet = true;
	m.pod_records = 13;
	m.pod_list_failures = 14;
	m.persist = true;
	m.snapshots_loaded = 15;
	m.snapshots_corrupt = 16;
	m.snapshots_saved = 17;
	m.dedup_entries = -1; /* unreadable: left out, not a made-up 0 */
	CHECK(render_parse(&m, &p, &text) == 0);
	CHECK(p.errors == 0);
	CHECK(value(&p, "nhiscope_kafka_broker_up") == 1);
	CHECK(value(&p, "nhiscope_kafka_produced_total") == 50);
	CHECK(value(&p, "nhiscope_kafka_delivered_total") == 48);
	CHECK(value(&p, "nhiscope_kafka_delivery_failures_total") == 2);
	CHECK(value(&p, "nhiscope_kafka_queue_full_total") == 3);
	CHECK(value(&p, "nhiscope_kafka_queued") == 4);
	CHECK(value(&p, "nhiscope_kafka_send_errors_total") == 5);
	CHECK(value(&p, "nhiscope_kafka_dropped_total{class=\"anomaly\"}") == 6);
	CHECK(value(&p, "nhiscope_kafka_dropped_total{class=\"activity\"}") == 7);
	CHECK(value(&p, "nhiscope_spool_records{class=\"anomaly\"}") == 8);
	CHECK(value(&p, "nhiscope_spool_records{class=\"activity\"}") == 9);
	CHECK(value(&p, "nhiscope_spool_bytes{class=\"anomaly\"}") == 800);
	CHECK(value(&p, "nhiscope_spool_bytes{class=\"activity\"}") == 900);
	CHECK(value(&p, "nhiscope_spool_shed_total{class=\"anomaly\"}") == 10);
	CHECK(value(&p, "nhiscope_spool_shed_total{class=\"activity\"}") == 11);
	CHECK(value(&p, "nhiscope_spool_corrupt_total") == 12);
	CHECK(value(&p, "nhiscope_spool_bytes_max") == 1 << 20);
	CHECK(value(&p, "nhiscope_pod_records") == 13);
	CHECK(value(&p, "nhiscope_pod_list_failures") == 14);
	CHECK(value(&p, "nhiscope_snapshots_loaded_total") == 15);
	CHECK(value(&p, "nhiscope_snapshots_corrupt_total") == 16);
	CHECK(value(&p, "nhiscope_snapshots_saved_total") == 17);
	CHECK(!has_family(&p, "nhiscope_dedup_entries"));
	CHECK(has_family(&p, "nhiscope_dedup_entries_max"));
	release(&p);
	free(text);
}

/* Label values are escaped: a quote, a backslash or a newline cannot
 * end the value or the line early. */
static void test_escaping(void)
{
	struct nh_metrics m;
	struct parsed p;
	char *text = NULL;

	fill(&m);
	m.version = "1.0\"} 2\nnhiscope_fake 3";
	m.probes[0].program = "a\\b\"c\nd";
	CHECK(render_parse(&m, &p, &text) == 0);
	CHECK(p.errors == 0);
	CHECK(value(&p, "nhiscope_build_info{version=\"1.0\\\"} 2\\nnhiscope_fake 3\"}") == 1);
	CHECK(value(&p, "nhiscope_fake") == -1);
	CHECK(value(&p, "nhiscope_probe_attached{probe=\"a\\\\b\\\"c\\nd\",tracepoint=\"syscalls:"
			"x\"}") == 1);
	CHECK(strstr(text, "\nnhiscope_fake") == NULL);
	release(&p);
	free(text);
}

/* The parser above finds what it must: a test of the test. */
static void test_parser_rejects(void)
{
	static const char *const bad[] = {
	    "nhiscope_x_total 1\n",					      /* no HELP/TYPE */
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x counter\nnhiscope_x 1\n", /* counter w/o _total
									       */
	    "# HELP nhiscope_x_total x\n# TYPE nhiscope_x_total gauge\nnhiscope_x_total 1\n",
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x gauge\nnhiscope_x{kind=\"a\"b\"} 1\n",
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x gauge\nnhiscope_x{identity=\"k8s:sa/a/b\"} 1\n",
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x gauge\nnhiscope_x 1\nnhiscope_x 2\n",
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x gauge\nnhiscope_x one\n",
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x gauge\nnhiscope_x 1\n"
	    "# HELP nhiscope_y y\n# TYPE nhiscope_y gauge\nnhiscope_y 1\nnhiscope_x 1\n",
	    "# HELP 1bad x\n# TYPE 1bad gauge\n1bad 1\n",
	    "# HELP x x\n# TYPE x gauge\nx 1\n",
	    "# HELP nhiscope_x x\n# TYPE nhiscope_x gauge\nnhiscope_x 1",
	};
	struct parsed p;

	quiet = true;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *copy = strdup(bad[i]);

		parse(&p, copy, strlen(bad[i]));
		CHECK(p.errors > 0);
		release(&p);
		free(copy);
	}
	quiet = false;
}

/* More than the first buffer holds: the text grows, whole. */
static void test_large(void)
{
	static char names[NH_METRICS_PROBES_MAX][64];
	struct nh_metrics m;
	struct parsed p;
	char *text = NULL;
	int found = 0;

	fill(&m);
	m.nprobes = 0;
	for (int i = 0; i < NH_METRICS_PROBES_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "nh_probe_%02d_%040d", i, i);
		m.probes[m.nprobes++] = (struct nh_metrics_probe){names[i], names[i], i % 2};
	}
	CHECK(render_parse(&m, &p, &text) == 0);
	CHECK(p.errors == 0);
	CHECK(strlen(text) > 16384);
	for (int i = 0; i < p.nseries; i++)
		found += !strncmp(p.series[i], "nhiscope_probe_attached{", 24);
	CHECK(found == NH_METRICS_PROBES_MAX);
	release(&p);
	free(text);
}

int main(void)
{
	test_format_and_values();
	test_optional_families();
	test_escaping();
	test_parser_rejects();
	test_large();
	return nh_check_report("test_metrics");
}
