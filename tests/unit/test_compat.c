/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rolling upgrade: what release 1 wrote (tests/fixtures/v1, see its
 * README) read by this release. Its Kafka records decode, their typed
 * fields intact, and the collector makes the same ECS documents of them
 * as release 1's collector did; its spool drains; its profile snapshots
 * restore into working profiles.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "check.h"
#include "ecs.h"
#include "log.h"
#include "models.h"
#include "profilestore.h"
#include "spool.h"
#include "wire.h"

static const char *fixtures = "tests/fixtures/v1";
static uint8_t buf[NH_WIRE_MAX];

static size_t slurp(const char *path, uint8_t *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(out, 1, cap, f) : 0;

	CHECK(f != NULL);
	if (f)
		fclose(f);
	return n;
}

/* Decode NAME.bin; 0 and *r filled (the caller nh_wire_free()s it). */
static int load(const char *name, struct nh_wire_record *r)
{
	char path[PATH_MAX];
	const char *why = NULL;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/wire/%s.bin", fixtures, name);
	len = slurp(path, buf, sizeof(buf));
	rc = nh_wire_unpack(buf, len, r, &why);
	if (rc)
		fprintf(stderr, "  %s: %s\n", name, why ? why : "?");
	CHECK(rc == 0);
	CHECK(rc || r->format == 1);
	return rc;
}

/* Fields issue 13 changed on purpose (docs/events.md, "Changes"): ECS
 * categorisation per record, ATT&CK as technique plus sub-technique,
 * host.boot.id as the kernel's boot id alone. */
static const char *const changed[] = {
    "event.category",	     "event.type",   "threat.technique.id",
    "threat.technique.name", "host.boot.id", "host.boot",
};

/* Every leaf of want at path is in got with the same value. */
static bool keeps(json_object *want, json_object *got, const char *path)
{
	bool ok = true;

	for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
		if (strcmp(path, changed[i]) == 0)
			return true;
	if (!json_object_is_type(want, json_type_object) ||
	    !json_object_is_type(got, json_type_object)) {
		if (!json_object_equal(want, got)) {
			fprintf(stderr, "  %s: %s became %s\n", path,
				json_object_to_json_string(want),
				got ? json_object_to_json_string(got) : "(absent)");
			return false;
		}
		return true;
	}
	json_object_object_foreach (want, k, v) {
		char sub[256];
		json_object *g = NULL;

		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
		json_object_object_get_ex(got, k, &g);
		if (!keeps(v, g, sub))
			ok = false;
	}
	return ok;
}

/* Release 1's collector's document for NAME is still there in ours, field
 * for field (new fields added; the changes above apart). */
static void same_ecs(const char *name, const struct nh_wire_record *r)
{
	char path[PATH_MAX], id[NH_WIRE_ID_STR_MAX];
	json_object *want, *got;

	snprintf(path, sizeof(path), "%s/ecs/%s.json", fixtures, name);
	want = json_object_from_file(path);
	CHECK(want != NULL);
	nh_wire_id_str(&r->id, id, sizeof(id));
	got = nh_ecs_record(r, id);
	CHECK(got != NULL);
	if (want && got && !keeps(want, got, ""))
		fprintf(stderr, "  %s: ECS differs:\n  want %s\n  got  %s\n", name,
			json_object_to_json_string(want), json_object_to_json_string(got));
	CHECK(want && got && keeps(want, got, ""));
	json_object_put(want);
	json_object_put(got);
}

static void test_records(void)
{
	static const char *const all[] = {
	    "anomaly",	       "anomaly_rate",	"credential_use",   "credential_use_refused",
	    "secret_exposure", "human_use",	"credential_reuse", "loss",
	    "heartbeat",       "activity_open", "activity_connect", "activity_exec",
	};
	struct nh_wire_record r;

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (load(all[i], &r))
			continue;
		same_ecs(all[i], &r);
		nh_wire_free(&r);
	}

	/* typed fields as release 1 sent them */
	if (!load("anomaly", &r)) {
		CHECK(r.kind == NH_WIRE_ANOMALY);
		CHECK(r.anomaly.category == NH_WIRE_CAT_EGRESS);
		CHECK(r.anomaly.severity == NH_WIRE_SEV_HIGH);
		CHECK_STR(r.anomaly.value, "169.254.169.254:80");
		CHECK_STR(r.anomaly.technique_id, "T1552.005");
		CHECK(r.anomaly.baseline_age_ns == 90061ULL * 1000000000ULL);
		CHECK_STR(r.identity.key, "k8s:sa/shop/checkout");
		CHECK_STR(r.identity.workload_kind, "Deployment");
		CHECK(r.process.pid == 4242);
		/* release 1 had no context: empty, never NULL */
		CHECK_STR(r.identity.context.cgroup_kind, "");
		nh_wire_free(&r);
	}
	if (!load("credential_use", &r)) {
		CHECK(r.kind == NH_WIRE_CREDENTIAL_USE);
		CHECK_STR(r.credential_use.credential_kind, "sa_token");
		CHECK(r.credential_use.count == 12 && r.credential_use.result == 3);
		CHECK(!r.credential_use.repeats);
		nh_wire_free(&r);
	}
	if (!load("credential_reuse", &r)) {
		CHECK(r.finding.type == NH_WIRE_FINDING_CREDENTIAL_REUSE);
		CHECK(r.finding.n_identities == 2);
		CHECK_STR(r.finding.identities[1], "unit:backup.service");
		nh_wire_free(&r);
	}
	if (!load("loss", &r)) {
		CHECK(r.kind == NH_WIRE_LOSS && r.loss.n_counts == 1 && r.loss.n_totals == 0);
		CHECK_STR(r.loss.counts[0].name, "open");
		CHECK_STR(r.loss.source, "");
		nh_wire_free(&r);
	}
	/* activity: the event kind from its name, the JSON handed over */
	if (!load("activity_connect", &r)) {
		CHECK(r.kind == NH_WIRE_ACTIVITY && r.activity.event == NH_WIRE_EV_CONNECT);
		CHECK(r.activity.legacy_json && strstr(r.activity.legacy_json, "\"10.96.0.1\""));
		{
			/* read, never written again: as format 2 its fields would be lost */
			const char *why = NULL;
			size_t len;

			CHECK(nh_wire_check(&r, &why) == -EINVAL);
			CHECK_STR(why, "activity: format 1 JSON is read, never written");
			CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == -EINVAL);
		}
		nh_wire_free(&r);
	}
}

static void copy_tree(const char *from, const char *to)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cp -r '%s/.' '%s/'", from, to);
	CHECK(system(cmd) == 0);
}

static void rmrf(const char *d)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	CHECK(system(cmd) == 0);
}

/* The spool a release-1 agent left: every record comes out in order, the
 * anomaly class first, each a release-1 wire record, none timed (another
 * run's clock); acknowledged, nothing is left. */
static void test_spool(void)
{
	static struct nh_spool sp;
	static struct nh_spool_record rec;
	static const char *const want[] = {
	    "anomaly", "credential_use", "secret_exposure", "loss", "activity", "activity",
	};
	char dir[] = "/tmp/nh-compat-XXXXXX", from[PATH_MAX];
	struct nh_spool_pos pos[6];
	enum nh_spool_class cls[6];
	size_t n = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(from, sizeof(from), "%s/spool", fixtures);
	copy_tree(from, dir);
	CHECK(nh_spool_open(&sp, dir, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_pending(&sp) == 6);
	while (n < 6 && nh_spool_next(&sp, &rec) == 0) {
		struct nh_wire_record r;
		const char *why = NULL;
		const char *kind;

		CHECK(rec.format == 1);
		CHECK(rec.event_ns == 0);
		CHECK_STR(rec.topic,
			  rec.cls == NH_SPOOL_ANOMALY ? "nhiscope.anomalies" : "nhiscope.activity");
		CHECK(nh_wire_unpack(rec.data, rec.len, &r, &why) == 0);
		kind = r.kind == NH_WIRE_FINDING ? nh_wire_finding_name(r.finding.type)
						 : nh_wire_kind_name(r.kind);
		CHECK_STR(kind, want[n]);
		CHECK(r.format == 1);
		nh_wire_free(&r);
		pos[n] = rec.pos;
		cls[n++] = rec.cls;
	}
	CHECK(n == 6);
	CHECK(nh_spool_next(&sp, &rec) == -ENOENT);
	for (size_t i = 0; i < n; i++)
		CHECK(nh_spool_ack(&sp, cls[i], pos[i]) == 0);
	CHECK(nh_spool_pending(&sp) == 0);
	CHECK(sp.corrupt == 0);
	nh_spool_flush(&sp);
	nh_spool_close(&sp);
	/* and after a restart it stays drained */
	CHECK(nh_spool_open(&sp, dir, 1 << 20, NH_SPOOL_SYNC_FLUSH) == 0);
	CHECK(nh_spool_pending(&sp) == 0);
	nh_spool_close(&sp);
	rmrf(dir);
}

/* Release 1's snapshots restore into profiles that behave: what was
 * learned is known, something new is an anomaly. */
static void test_profiles(void)
{
	struct nh_log lg = {NH_LOG_ERROR, NH_LOG_TEXT};
	struct nh_profilestore store;
	struct nh_model_config cfg;
	struct nh_profile_info info;
	struct nh_models m;
	struct nh_anomaly out[4];
	char dir[] = "/tmp/nh-compat-XXXXXX", from[PATH_MAX];
	const uint64_t t = 1000ULL * 1000000000ULL;
	struct nh_observation known = {
	    .cat = NH_CAT_FILE, .ts_ns = t, .count = 1, .value = "/etc/app/config.yaml"};
	struct nh_observation novel = {
	    .cat = NH_CAT_FILE, .ts_ns = t, .count = 1, .value = "/etc/shadow"};

	CHECK(mkdtemp(dir) != NULL);
	snprintf(from, sizeof(from), "%s/profiles", fixtures);
	copy_tree(from, dir);
	nh_model_config_defaults(&cfg);
	CHECK(nh_models_init(&m, &cfg, 16) == 0);
	CHECK(nh_profilestore_open(&store, dir, &lg) == 0);
	CHECK(nh_profilestore_load(&store, &m) == 2);
	CHECK(store.corrupt == 0);
	CHECK(nh_models_info(&m, "k8s:sa/shop/checkout", &info) == 0);
	CHECK(info.state == NH_PROFILE_STABLE);
	CHECK(info.items[NH_CAT_EXEC] == 2 && info.items[NH_CAT_FILE] == 1);
	CHECK(info.items[NH_CAT_EGRESS] == 1 && info.items[NH_CAT_CREDENTIAL] == 1);
	CHECK(nh_models_info(&m, "unit:backup.service", &info) == 0);
	CHECK(info.items[NH_CAT_EXEC] == 2);
	CHECK(nh_models_observe(&m, "k8s:sa/shop/checkout", &known, out, 4) == 0);
	CHECK(nh_models_observe(&m, "k8s:sa/shop/checkout", &novel, out, 4) == 1);
	/* and they are written back in this release's format, and read again */
	CHECK(nh_profilestore_save(&store, &m) == 2);
	nh_models_free(&m);
	CHECK(nh_models_init(&m, &cfg, 16) == 0);
	CHECK(nh_profilestore_load(&store, &m) == 2);
	CHECK(nh_models_info(&m, "k8s:sa/shop/checkout", &info) == 0);
	CHECK(info.items[NH_CAT_FILE] == 2);
	nh_models_free(&m);
	rmrf(dir);
}

int main(void)
{
	const char *env = getenv("NH_FIXTURES");

	if (env && *env)
		fixtures = env;
	test_records();
	test_spool();
	test_profiles();
	return nh_check_report("compat");
}
