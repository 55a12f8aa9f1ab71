/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/record.c and the records findings and the baseline
 * make: a pod's attribution (cgroup, token, kubelet record, owner) lands
 * in the typed fields, survives the wire, and the tail JSON is made from
 * it; an anomaly keeps its baseline age to the nanosecond all the way.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "baseline.h"
#include "check.h"
#include "decode.h"
#include "record.h"
#include "recordjson.h"
#include "wire.h"

#define EPOCH_S	  1795334400LL /* 2026-11-22T08:00:00Z */
#define MONO_NS	  5123456789ULL
#define OFFSET_NS (EPOCH_S * 1000000000LL - 4000000000LL)

static uint8_t buf[NH_WIRE_MAX];

static const char *get(json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path = dot + 1;
	}
	return o && json_object_object_get_ex(o, path, &o) ? json_object_get_string(o) : NULL;
}

static void test_pod_attribution(void)
{
	static struct nh_record_buf rb;
	static struct nh_wire_record r, back;
	struct nh_open_event e = {0};
	struct nh_cgroup_ctx cg = {.id = 77, .found = true};
	struct nh_sa sa = {.state = NH_SA_OK, .have_claims = true};
	struct nh_pod_record pod = {0};
	struct nh_attributed a = {0};
	const char *why = NULL;
	json_object *o;
	size_t len;

	e.h.kind = NH_KIND_OPEN;
	e.h.ts_ns = MONO_NS;
	e.h.tgid = 10;
	e.h.pid = 11;
	e.h.ppid = 1;
	e.h.uid = 1000;
	e.h.gid = 1001;
	e.h.cgroup_id = 77;
	e.h.mntns = 4026532000u;
	memcpy(e.h.comm, "cat", 4);
	e.dirfd = -100;
	e.result = 3;
	e.syscall = NH_SYS_OPENAT;
	strcpy(e.path, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	e.path_len = (uint16_t)strlen(e.path);

	snprintf(cg.path, sizeof(cg.path), "/kubepods/burstable/podabc/0123");
	cg.info.kind = NH_CG_K8S_POD;
	cg.info.qos = NH_QOS_BURSTABLE;
	cg.info.runtime = NH_RT_CONTAINERD;
	snprintf(cg.info.pod_uid, sizeof(cg.info.pod_uid), "abc-def");
	snprintf(cg.info.container_id, sizeof(cg.info.container_id), "0123456789ab");
	snprintf(sa.claims.namespace_, sizeof(sa.claims.namespace_), "shop");
	snprintf(sa.claims.service_account, sizeof(sa.claims.service_account), "checkout");
	snprintf(sa.claims.node_name, sizeof(sa.claims.node_name), "node-a");
	sa.claims.iat = EPOCH_S - 100;
	sa.claims.exp = EPOCH_S + 3500;
	snprintf(sa.fingerprint, sizeof(sa.fingerprint), "eyJ*:sha256:0123456789ab");
	snprintf(pod.name, sizeof(pod.name), "checkout-7f9c8d6b5-x2x9q");
	snprintf(pod.namespace_, sizeof(pod.namespace_), "shop");

	a.h = &e.h;
	a.cg = &cg;
	a.sa = &sa;
	a.pod = &pod;
	a.owner_kind = "Deployment";
	a.owner_name = "checkout";
	a.identity = "k8s:sa/shop/checkout";
	a.user = "app";
	a.interactive = true;
	a.wall_offset_ns = OFFSET_NS;
	nh_record_activity(&a, &rb, &r);

	CHECK(r.kind == NH_WIRE_ACTIVITY && r.activity.event == NH_WIRE_EV_OPEN);
	CHECK(r.time_ns == (uint64_t)EPOCH_S * 1000000000ULL + 1123456789ULL);
	CHECK_STR(r.identity.namespace, "shop");
	CHECK_STR(r.identity.service_account, "checkout");
	CHECK_STR(r.identity.pod_name, "checkout-7f9c8d6b5-x2x9q"); /* the kubelet's */
	CHECK_STR(r.identity.node, "node-a");
	CHECK_STR(r.identity.workload_kind, "Deployment");
	CHECK_STR(r.identity.pod_uid, "abc-def");
	CHECK_STR(r.identity.container_id, "0123456789ab");
	CHECK_STR(r.identity.context.cgroup_kind, "pod");
	CHECK_STR(r.identity.context.qos, "burstable");
	CHECK_STR(r.identity.context.token_state, "ok");
	CHECK(r.identity.context.has_token && r.identity.context.token.issued_at == EPOCH_S - 100);
	CHECK(r.process.pid == 10 && r.process.tid == 11 && r.process.gid == 1001);
	CHECK(r.process.interactive && !r.process.repeat);
	CHECK_STR(r.process.comm, "cat");
	CHECK_STR(r.activity.syscall, "openat");
	CHECK(r.activity.result == 3 && r.activity.dirfd == -100);

	/* the tail's JSON is the record's */
	o = nh_recordjson(&r);
	CHECK(o != NULL);
	CHECK_STR(get(o, "kind"), "open");
	CHECK_STR(get(o, "time"), "2026-11-22T08:00:01.123456Z");
	CHECK_STR(get(o, "context.token.age_s"), "101");
	CHECK_STR(get(o, "context.token.remaining_s"), "3499");
	CHECK_STR(get(o, "context.token.fingerprint"), "eyJ*:sha256:0123456789ab");
	CHECK_STR(get(o, "context.workload"), "checkout");
	CHECK_STR(get(o, "context.pod"), "checkout-7f9c8d6b5-x2x9q");
	CHECK_STR(get(o, "interactive"), "true");
	CHECK(get(o, "dirfd") == NULL); /* an absolute path: the dirfd says nothing */
	json_object_put(o);

	/* and the same record through the wire */
	r.id = (struct nh_wire_id){"node-a", "boot", 1};
	CHECK(nh_wire_pack(&r, buf, sizeof(buf), &len) == 0);
	CHECK(nh_wire_unpack(buf, len, &back, &why) == 0);
	o = nh_recordjson(&back);
	CHECK_STR(get(o, "context.token.remaining_s"), "3499");
	CHECK_STR(get(o, "context.runtime"), "containerd");
	CHECK_STR(get(o, "path"), "/var/run/secrets/kubernetes.io/serviceaccount/token");
	json_object_put(o);
	nh_wire_free(&back);

	/* a summary's record: the last repeat's pid, no stale ppid or comm */
	{
		struct nh_summary_event s = {0};

		s.h.kind = NH_KIND_SUMMARY;
		s.h.ts_ns = MONO_NS;
		s.h.tgid = 10;
		s.h.ppid = 99;
		memcpy(s.h.comm, "zz", 3);
		s.key.kind = NH_KIND_OPEN;
		s.count = 41;
		s.window_start = MONO_NS - 1000000000ULL;
		a.h = &s.h;
		a.object = "/etc/hosts";
		nh_record_activity(&a, &rb, &r);
		CHECK(r.process.repeat && r.process.ppid == 0 && r.process.comm == NULL);
		CHECK(r.activity.of == NH_WIRE_EV_OPEN && r.activity.count == 41);
		CHECK(r.activity.window_start_ns == r.time_ns - 1000000000ULL);
		o = nh_recordjson(&r);
		CHECK(get(o, "ppid") == NULL && get(o, "comm") == NULL);
		CHECK_STR(get(o, "of"), "open");
		CHECK_STR(get(o, "object"), "/etc/hosts");
		CHECK_STR(get(o, "window_start"), "2026-11-22T08:00:00.123456Z");
		json_object_put(o);
	}
}

struct got {
	int n;
	uint64_t age_ns;
	struct nh_wire_record rec;
};

static void collect(void *ctx, struct nh_wire_record *r)
{
	struct got *g = ctx;

	g->n++;
	g->age_ns = r->anomaly.baseline_age_ns;
	/* what a receiver may do: number it and pack it */
	r->id = (struct nh_wire_id){"node-a", "boot", (uint64_t)g->n};
	g->rec = *r;
}

/* An anomaly's baseline age is the model's, to the nanosecond, on the
 * record, on the wire and in the tail's JSON (release 1 cut it to seconds). */
static void test_anomaly_precision(void)
{
	static struct nh_baseline b;
	static struct got g;
	struct nh_model_config cfg;
	struct nh_exec_event x = {0};
	struct nh_attributed a = {0};
	struct nh_wire_record back;
	const char *why = NULL;
	bool known = false;
	json_object *o;
	size_t len;
	uint64_t t0;

	nh_model_config_defaults(&cfg);
	cfg.learn_ns = 1000000000ULL;
	cfg.quiet_ns = 1000000000ULL;
	CHECK(nh_baseline_init(&b, &cfg, 16) == 0);
	x.h.kind = NH_KIND_EXEC;
	x.h.tgid = x.h.pid = 10;
	strcpy(x.path, "/usr/bin/curl");
	x.path_len = (uint16_t)strlen(x.path);
	a.h = &x.h;
	a.identity = "unit:x.service";
	a.wall_offset_ns = OFFSET_NS;
	x.h.ts_ns = MONO_NS;
	t0 = (uint64_t)((int64_t)MONO_NS + OFFSET_NS);
	nh_baseline_event(&b, &a, collect, &g, &known);
	nh_baseline_tick(&b, t0 + 5000000000ULL, collect, &g);
	CHECK(g.n == 0);
	/* a new binary 7.123456789 s after the profile was made */
	strcpy(x.path, "/usr/bin/nc");
	x.path_len = (uint16_t)strlen(x.path);
	x.h.ts_ns = MONO_NS + 7123456789ULL;
	nh_baseline_event(&b, &a, collect, &g, &known);
	CHECK(g.n == 1);
	CHECK(g.age_ns == 7123456789ULL);
	CHECK(g.rec.kind == NH_WIRE_ANOMALY && g.rec.anomaly.category == NH_WIRE_CAT_EXEC);
	CHECK_STR(g.rec.anomaly.value, "/usr/bin/nc");
	CHECK(nh_wire_pack(&g.rec, buf, sizeof(buf), &len) == 0);
	CHECK(nh_wire_unpack(buf, len, &back, &why) == 0);
	CHECK(back.anomaly.baseline_age_ns == 7123456789ULL);
	o = nh_recordjson(&back);
	CHECK_STR(get(o, "baseline_age_s"), "7");
	CHECK_STR(get(o, "baseline_age_ns"), "7123456789");
	CHECK_STR(get(o, "kind"), "anomaly");
	CHECK_STR(get(o, "identity"), "unit:x.service");
	json_object_put(o);
	nh_wire_free(&back);
	nh_baseline_free(&b);
}

int main(void)
{
	test_pod_attribution();
	test_anomaly_precision();
	return nh_check_report("record");
}
