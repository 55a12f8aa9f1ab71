// SPDX-License-Identifier: Apache-2.0
/* config.c over the agent's real option table: defaults, YAML, flags,
 * errors that name key and line, printing that reads back, reload. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "check.h"

static char dir[] = "/tmp/nh-test-config-XXXXXX";

/* Load argv (space-separated) with an optional file; errors and output
 * are captured. */
struct run {
	struct nh_config src;
	struct nh_agent_config cfg;
	char *out, *err;
	size_t outlen, errlen;
	int rc;
};

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return path;
}

static void run(struct run *r, const char *line)
{
	char buf[1024], *argv[64], *save = NULL;
	int argc = 0;
	FILE *out, *err;

	snprintf(buf, sizeof(buf), "nhiscope-agent %s", line);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(t, "''") ? t : "";
	argv[argc] = NULL;
	out = open_memstream(&r->out, &r->outlen);
	err = open_memstream(&r->err, &r->errlen);
	r->rc = nh_config_load(&r->src, &nh_agent_spec, &r->cfg, argc, argv, out, err);
	fclose(out);
	fclose(err);
	/* The saved argv points into buf: reload is tested separately. */
	r->src.argc = 0;
}

static void done(struct run *r)
{
	nh_config_free(&r->src);
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static bool has(const char *text, const char *needle)
{
	bool ok = text && strstr(text, needle);

	if (!ok)
		fprintf(stderr, "  expected \"%s\" in:\n%s\n", needle, text ? text : "(null)");
	return ok;
}

static void test_table(void)
{
	char *err = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&err, &len);

	CHECK(nh_config_check_spec(&nh_agent_spec, f) == 0);
	fclose(f);
	CHECK(len == 0);
	if (len)
		fprintf(stderr, "%s", err);
	free(err);
}

static void test_defaults(void)
{
	struct run r = {0};

	run(&r, "");
	CHECK(r.rc == 0);
	CHECK_STR(r.cfg.socket_path, NH_DEFAULT_SOCKET);
	CHECK(r.cfg.socket_mode == 0600);
	CHECK(r.cfg.ringbuf_bytes == 8u << 20);
	CHECK(r.cfg.dedup_window_ms == 10000);
	CHECK(r.cfg.batch_ms == 20);
	CHECK(r.cfg.learn_window_ms == 86400000);
	CHECK(r.cfg.kafka.spool_sync == NH_SPOOL_SYNC_FLUSH);
	CHECK(r.cfg.kafka.spool_bytes == 256u << 20);
	CHECK(r.cfg.log_level == NH_LOG_INFO && r.cfg.log_format == NH_LOG_TEXT);
	CHECK(r.cfg.kafka.brokers == NULL && r.cfg.apiserver == NULL);
	CHECK(r.cfg.ncredential_rules == 0 && r.cfg.kafka.nprops == 0);
	CHECK_STR(r.cfg.kafka.topic_anomalies, "nhiscope.anomalies");
	done(&r);
}

static const char full[] = "# every kind of value\n"
			   "socket:\n"
			   "  path: /run/x.sock\n"
			   "  mode: \"0660\"\n"
			   "kernel:\n"
			   "  ringbufSize: 16Mi\n"
			   "  dedupWindow: 30m90s\n"
			   "  batchDelay: 0\n"
			   "  scopeCgroup: kubepods.slice\n"
			   "kubernetes:\n"
			   "  kubelet:\n"
			   "    insecure: true\n"
			   "    refresh: 2m\n"
			   "credentials:\n"
			   "  rules:\n"
			   "    - \"vault:/etc/vault/*\"\n"
			   "    - '!ssh_key:*.pub'\n"
			   "kafka:\n"
			   "  brokers: k1:9092,k2:9092\n"
			   "  properties:\n"
			   "    security.protocol: SASL_SSL\n"
			   "    sasl.password: hunter2-secret\n"
			   "    queue.buffering.max.ms: 5\n"
			   "  propertyFiles: {ssl.key.password: /etc/nhiscope/kafka/keypass}\n"
			   "spool:\n"
			   "  sync: always\n"
			   "  size: 1G\n"
			   "log:\n"
			   "  level: debug\n"
			   "  format: json\n"
			   "baseline:\n"
			   "  profileDir: \"\"\n";

static void test_file(void)
{
	struct run r = {0};
	char line[512];

	snprintf(line, sizeof(line), "--config %s", write_file("full.yaml", full));
	run(&r, line);
	CHECK(r.rc == 0);
	if (r.rc)
		fprintf(stderr, "%s", r.err);
	CHECK_STR(r.cfg.socket_path, "/run/x.sock");
	CHECK(r.cfg.socket_mode == 0660);
	CHECK(r.cfg.ringbuf_bytes == 16u << 20);
	CHECK(r.cfg.dedup_window_ms == 1890000);
	CHECK(r.cfg.batch_ms == 0);
	CHECK_STR(r.cfg.scope_cgroup, "kubepods.slice");
	CHECK(r.cfg.kubelet_insecure && r.cfg.kubelet_refresh_ms == 120000);
	CHECK(r.cfg.ncredential_rules == 2);
	CHECK_STR(r.cfg.credential_rules[1], "!ssh_key:*.pub");
	CHECK_STR(r.cfg.kafka.brokers, "k1:9092,k2:9092");
	CHECK(r.cfg.kafka.nprops == 3);
	CHECK_STR(r.cfg.kafka.props[2], "queue.buffering.max.ms=5");
	CHECK(r.cfg.kafka.nprop_files == 1);
	CHECK(r.cfg.kafka.spool_sync == NH_SPOOL_SYNC_ALWAYS);
	CHECK(r.cfg.kafka.spool_bytes == 1ULL << 30);
	CHECK(r.cfg.log_level == NH_LOG_DEBUG && r.cfg.log_format == NH_LOG_JSON);
	CHECK(r.cfg.profile_dir == NULL);    /* "": keep no snapshots */
	CHECK(r.cfg.dedup_entries == 65536); /* untouched keys keep defaults */
	done(&r);

	/* Flags override the file: a scalar, a list (replaced), a map
	 * (merged key by key). */
	snprintf(line, sizeof(line),
		 "--config %s/full.yaml --dedup-window 2s --credential a:b -X "
		 "security.protocol=SSL -X linger.ms=1",
		 dir);
	run(&r, line);
	CHECK(r.rc == 0);
	CHECK(r.cfg.dedup_window_ms == 2000);
	CHECK(r.cfg.ncredential_rules == 1);
	CHECK_STR(r.cfg.credential_rules[0], "a:b");
	CHECK(r.cfg.kafka.nprops == 4);
	CHECK_STR(r.cfg.kafka.props[0], "security.protocol=SSL");
	CHECK_STR(r.cfg.kafka.props[3], "linger.ms=1");
	done(&r);

	/* Helm renders unset values as null: the default stays. */
	snprintf(line, sizeof(line), "--config %s",
		 write_file("null.yaml", "kernel:\n  dedupWindow: ~\n  ringbufSize:\nkafka:\n"
					 "  properties:\nlog: null\n"));
	run(&r, line);
	CHECK(r.rc == 0 && r.cfg.dedup_window_ms == 10000 && r.cfg.ringbuf_bytes == 8u << 20);
	done(&r);

	/* An empty file is all defaults. */
	snprintf(line, sizeof(line), "--config %s", write_file("empty.yaml", ""));
	run(&r, line);
	CHECK(r.rc == 0 && r.cfg.dedup_window_ms == 10000);
	done(&r);
}

/* Each bad file: the error names file:line and the key. */
static void bad_file(const char *text, const char *expect)
{
	struct run r = {0};
	char line[512];

	snprintf(line, sizeof(line), "--config %s", write_file("bad.yaml", text));
	run(&r, line);
	CHECK(r.rc == -EINVAL);
	CHECK(has(r.err, expect));
	done(&r);
}

static void test_errors(void)
{
	bad_file("socket:\n  mode: \"0600\"\nkernel:\n  dedupWindw: 5s\n",
		 "bad.yaml:4: kernel.dedupWindw: unknown key (did you mean kernel.dedupWindow?)");
	bad_file("kernel:\n  dedup_window: 5s\n", "did you mean kernel.dedupWindow?");
	bad_file("nonsense: 1\n", "bad.yaml:1: nonsense: unknown key\n");
	bad_file("kernel:\n  dedupWindow: [1, 2]\n",
		 "bad.yaml:2: kernel.dedupWindow: expected a duration such as 500ms, 10s, 5m or "
		 "24h, found a list");
	bad_file("kernel:\n  dedupEntries: 8\n",
		 "bad.yaml:2: kernel.dedupEntries: \"8\" is out of range: 16 to 16777216");
	bad_file("kernel:\n  dedupEntries: lots\n",
		 "kernel.dedupEntries: \"lots\" is not a whole number");
	bad_file("kernel:\n  ringbufSize: 5000\n", "\"5000\" is not a power of two");
	bad_file("kernel:\n  ringbufSize: 8Q\n", "\"8Q\" is not a size");
	bad_file("kernel:\n  dedupWindow: 2h\n", "\"2h\" is out of range: 0s to 1h");
	bad_file("spool:\n  sync: sometimes\n",
		 "bad.yaml:2: spool.sync: \"sometimes\" is not one of none, flush, always");
	bad_file("kubernetes:\n  kubelet:\n    insecure: yes please\n",
		 "bad.yaml:3: kubernetes.kubelet.insecure: \"yes please\" is not true or false");
	bad_file("baseline:\n  profileDir: relative/dir\n",
		 "baseline.profileDir: not an absolute path");
	bad_file("credentials:\n  rules: vault:/x\n",
		 "bad.yaml:2: credentials.rules: expected a list, found a scalar");
	bad_file("kafka:\n  properties: [a]\n", "kafka.properties: expected a mapping");
	bad_file("kafka:\n  properties:\n    \"x=sasl.password\": v\n",
		 "kafka.properties: entries must be names without '='");
	bad_file("log:\n  level: debug\n---\nkernel: [unclosed\n", "bad.yaml:");
	bad_file("baseline:\n  profileDir: SECRET-TOKEN-VALUE\n",
		 "baseline.profileDir: not an absolute path");
	bad_file("kernel: 5\n", "bad.yaml:1: kernel: is a section: expected a mapping");
	bad_file("log:\n  level: info\n  level: debug\n", "bad.yaml:3: log.level: given twice");
	bad_file("log: [\n", "bad.yaml:");
	bad_file("- a\n- b\n", "bad.yaml:1: expected a mapping of settings, found a list");
	bad_file("log: {}\n---\nlog: {}\n", "more than one YAML document");
	bad_file("kafka:\n  brokers: b:1\n  topics:\n    anomalies: \"\"\n",
		 "kafka.topics: every topic needs a name");
	/* Every error at once, not just the first. */
	bad_file("kernel:\n  dedupEntries: 1\n  bogus: 2\nlog:\n  level: loud\n",
		 "bad.yaml:5: log.level");
	bad_file("kernel:\n  dedupEntries: 1\n  bogus: 2\nlog:\n  level: loud\n",
		 "bad.yaml:3: kernel.bogus");
}

/* Values that may be secrets are never echoed; a file that is mostly
 * wrong stops being read after 20 errors. */
static void test_error_hygiene(void)
{
	struct run r = {0};
	char line[512], text[4096];
	size_t n = 0, lines = 0;

	snprintf(line, sizeof(line), "--config %s",
		 write_file("bad.yaml",
			    "baseline:\n  profileDir: SECRET-TOKEN-VALUE\n"
			    "kafka:\n  properties:\n    \"sasl.password=x\": hunter2\n"));
	run(&r, line);
	CHECK(r.rc == -EINVAL);
	CHECK(!strstr(r.err, "SECRET-TOKEN-VALUE") && !strstr(r.err, "hunter2"));
	done(&r);

	for (int i = 0; i < 60; i++)
		n += snprintf(text + n, sizeof(text) - n, "unknown%d: 1\n", i);
	snprintf(line, sizeof(line), "--config %s", write_file("bad.yaml", text));
	run(&r, line);
	CHECK(r.rc == -EINVAL && has(r.err, "too many errors"));
	for (const char *p = r.err; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		lines++;
	CHECK(lines <= 21);
	done(&r);
}

static void test_flags(void)
{
	struct run r = {0};

	run(&r, "--dedup-window 1h1s");
	CHECK(r.rc == -EINVAL && has(r.err, "--dedup-window: \"1h1s\" is out of range"));
	done(&r);
	run(&r, "--bogus --ringbuf-size 3 -X novalue");
	CHECK(r.rc == -EINVAL);
	CHECK(has(r.err, "--bogus: unknown option"));
	CHECK(has(r.err, "--ringbuf-size: \"3\" is out of range"));
	CHECK(has(r.err, "-X/--kafka-property: an entry is not KEY=VALUE"));
	CHECK(!strstr(r.err, "novalue")); /* an entry is never echoed */
	done(&r);
	run(&r, "--socket");
	CHECK(r.rc == -EINVAL && has(r.err, "--socket: needs a value"));
	done(&r);
	run(&r, "stray");
	CHECK(r.rc == -EINVAL && has(r.err, "unexpected argument \"stray\""));
	done(&r);
	run(&r, "--config /nonexistent/agent.yaml");
	CHECK(r.rc == -EINVAL && has(r.err, "/nonexistent/agent.yaml: No such file"));
	done(&r);
	/* Bare numbers are milliseconds, as the flags always took them. */
	run(&r, "-v --batch-ms 5 --learn-window 0 --tail -o json --profile-dir ''");
	CHECK(r.rc == 0);
	CHECK(r.cfg.batch_ms == 5 && r.cfg.learn_window_ms == 0 && r.cfg.tail);
	CHECK(r.cfg.tail_format == NH_TAIL_JSON && r.cfg.log_level == NH_LOG_DEBUG);
	CHECK(r.cfg.profile_dir == NULL);
	done(&r);
	run(&r, "--version");
	CHECK(r.rc == 1 && has(r.out, "nhiscope-agent " NH_VERSION));
	done(&r);
	run(&r, "--help");
	CHECK(r.rc == 1 && has(r.out, "--dedup-window DURATION") && has(r.out, "--check-config"));
	done(&r);
	run(&r, "--check-config --dedup-window 1s");
	CHECK(r.rc == 1 && has(r.out, "is valid"));
	done(&r);
	run(&r, "--check-config --dedup-window x");
	CHECK(r.rc == -EINVAL);
	done(&r);
}

/* What --print-config writes, --config reads back to the same values;
 * secret-looking properties are not printed. */
static void test_print(void)
{
	struct run a = {0}, b = {0};
	char line[512];

	snprintf(line, sizeof(line), "--config %s/full.yaml --print-config", dir);
	write_file("full.yaml", full);
	run(&a, line);
	CHECK(a.rc == 1);
	CHECK(!strstr(a.out, "hunter2"));
	CHECK(has(a.out, "\"sasl.password\": \"<redacted>\""));
	CHECK(has(a.out, "  dedupWindow: 1890s\n"));
	CHECK(has(a.out, "\"security.protocol\": \"SASL_SSL\""));
	/* A redacted value read back is refused, naming only the key. */
	snprintf(line, sizeof(line), "--config %s", write_file("printed.yaml", a.out));
	run(&b, line);
	CHECK(b.rc == -EINVAL && has(b.err, "sasl.password: a redacted value"));
	done(&b);
	/* With the secret filled in, it reads back to the same values. */
	{
		char *r = strstr(a.out, "\"<redacted>\"");

		CHECK(r != NULL);
		if (r) {
			char *fixed = NULL;

			CHECK(asprintf(&fixed, "%.*s\"hunter2-secret\"%s", (int)(r - a.out), a.out,
				       r + strlen("\"<redacted>\"")) > 0);
			snprintf(line, sizeof(line), "--config %s",
				 write_file("printed.yaml", fixed));
			free(fixed);
		}
	}
	run(&b, line);
	CHECK(b.rc == 0);
	if (b.rc)
		fprintf(stderr, "%s", b.err);
	for (size_t i = 0; i < nh_agent_spec.nopts; i++) {
		const struct nh_opt *o = &nh_agent_spec.opts[i];

		if (!o->key)
			continue;
		if (!nh_config_same(o, &a.cfg, &b.cfg))
			fprintf(stderr, "  %s differs after print and read\n", o->key);
		CHECK(nh_config_same(o, &a.cfg, &b.cfg));
	}
	done(&a);
	done(&b);

	run(&a, "--print-config-reference");
	CHECK(a.rc == 1);
	CHECK(
	    has(a.out, "| `kernel.dedupWindow` | `--dedup-window` | duration, 0s to 1h | `10s` |"));
	CHECK(has(a.out, "| `-o`, `--output FORMAT` |"));
	done(&a);
}

/* SIGHUP: the file read again, the command line still on top. */
static void test_reload(void)
{
	struct nh_agent_config live, next;
	struct nh_config src;
	char path[256], *argv[6];
	FILE *null = fopen("/dev/null", "w");

	snprintf(path, sizeof(path), "%s", write_file("hup.yaml", "log:\n  level: warn\n"));
	argv[0] = "nhiscope-agent";
	argv[1] = "--config";
	argv[2] = path;
	argv[3] = "--learn-window";
	argv[4] = "5m";
	argv[5] = NULL;
	CHECK(nh_config_load(&src, &nh_agent_spec, &live, 5, argv, null, null) == 0);
	CHECK(live.log_level == NH_LOG_WARN && live.learn_window_ms == 300000);
	write_file("hup.yaml", "log:\n  level: debug\nbaseline:\n  learnWindow: 1h\n"
			       "kafka:\n  topics:\n    activity: other\n");
	CHECK(nh_config_reload(&src, &next, null) == 0);
	CHECK(next.log_level == NH_LOG_DEBUG);
	CHECK(next.learn_window_ms == 300000); /* the flag still wins */
	CHECK_STR(next.kafka.topic_activity, "other");
	for (size_t i = 0; i < nh_agent_spec.nopts; i++) {
		const struct nh_opt *o = &nh_agent_spec.opts[i];

		if (o->key && !strcmp(o->key, "kafka.topics.activity")) {
			CHECK(!nh_config_same(o, &live, &next));
			nh_config_copy(o, &live, &next);
			CHECK(nh_config_same(o, &live, &next));
		}
	}
	nh_config_settle(&src, true);
	CHECK_STR(live.kafka.topic_activity, "other"); /* kept alive by settle */
	/* A bad file on reload: an error, and nothing changes. */
	write_file("hup.yaml", "log:\n  level: shouty\n");
	CHECK(nh_config_reload(&src, &next, null) == -EINVAL);
	nh_config_settle(&src, false);
	nh_config_free(&src);
	fclose(null);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_table();
	test_defaults();
	test_file();
	test_errors();
	test_error_hygiene();
	test_flags();
	test_print();
	test_reload();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			return 1;
	}
	return nh_check_report("test_config");
}
