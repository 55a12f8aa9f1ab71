/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the collector's pure modules: the dedup window, the ECS
 * document, syslog framing and CEF escaping, and the command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "dedup.h"
#include "ecs.h"
#include "options.h"
#include "syslogfmt.h"
#include "wire.h"

static void test_dedup(void)
{
	struct nh_dedup d;
	char id[32];
	int missing = 0, wrong = 0;

	CHECK(nh_dedup_init(&d, 0) == -EINVAL);
	CHECK(nh_dedup_init(&d, 3) == 0);
	CHECK(!nh_dedup_seen(&d, "a"));
	CHECK(nh_dedup_add(&d, "a") == 0);
	CHECK(nh_dedup_add(&d, "b") == 0);
	CHECK(nh_dedup_add(&d, "a") == 0); /* already there: no new slot */
	CHECK(d.len == 2);
	CHECK(nh_dedup_add(&d, "c") == 0);
	CHECK(nh_dedup_seen(&d, "a") && nh_dedup_seen(&d, "b") && nh_dedup_seen(&d, "c"));
	CHECK(nh_dedup_add(&d, "d") == 0); /* "a" leaves the window */
	CHECK(!nh_dedup_seen(&d, "a"));
	CHECK(nh_dedup_seen(&d, "b") && nh_dedup_seen(&d, "d"));
	nh_dedup_free(&d);

	/* churn: the window is exactly the last N ids, whatever the probe runs */
	CHECK(nh_dedup_init(&d, 1000) == 0);
	for (int i = 0; i < 50000; i++) {
		snprintf(id, sizeof(id), "node/boot/%d", i);
		nh_dedup_add(&d, id);
		if (i % 97 == 0) {
			for (int j = i - 1200; j <= i; j++) {
				bool in = j >= 0 && j > i - 1000;

				snprintf(id, sizeof(id), "node/boot/%d", j);
				if (j < 0 || nh_dedup_seen(&d, id) == in)
					continue;
				if (in)
					missing++;
				else
					wrong++;
			}
		}
	}
	CHECK(missing == 0);
	CHECK(wrong == 0);
	CHECK(d.len == 1000);
	nh_dedup_free(&d);
}

static void pod_record(struct nh_wire_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id.node = "node-a";
	/* as the agent makes it: the kernel's boot id, then its run */
	r->id.boot_id = "0f6a3c1e-5b2d-4c7e-9a81-3d2f6e7b8c90-6571f0a2000001c8-1f4";
	r->id.seq = 7;
	r->time_ns = 1700000000123456789ull;
	r->identity.key = "k8s:sa/payments/api";
	r->identity.pod_uid = "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a";
	r->identity.pod_name = "api-1";
	r->identity.namespace = "payments";
	r->identity.service_account = "api";
	r->identity.container_id = "c0ffee";
	r->identity.workload_kind = "Deployment";
	r->identity.workload_name = "api";
	r->process.pid = 42;
	r->process.ppid = 1;
	r->process.uid = 1000;
	r->process.user = "app";
	r->process.comm = "curl";
	r->process.exe = "/usr/bin/curl";
}

static const char *get(json_object *doc, const char *path)
{
	char buf[256], *save = NULL, *part;
	json_object *o = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, part, &o))
			return NULL;
	return json_object_get_string(o);
}

static void test_ecs(void)
{
	struct nh_wire_record r;
	json_object *doc;
	char msg[256];

	pod_record(&r);
	r.kind = NH_WIRE_ANOMALY;
	r.anomaly.category = NH_WIRE_CAT_EGRESS;
	r.anomaly.severity = NH_WIRE_SEV_HIGH;
	r.anomaly.value = "169.254.169.254:80";
	r.anomaly.technique_id = "T1552.005";
	r.anomaly.technique_name = "Cloud Instance Metadata API";
	r.anomaly.explanation = "new destination";
	doc = nh_ecs_record(&r, "node-a/boot-1/7");
	CHECK(doc != NULL);
	CHECK_STR(get(doc, "@timestamp"), "2023-11-14T22:13:20.123456789Z");
	CHECK_STR(get(doc, "event.kind"), "alert");
	CHECK_STR(get(doc, "event.id"), "node-a/boot-1/7");
	CHECK_STR(get(doc, "event.severity"), "73");
	CHECK_STR(get(doc, "event.dataset"), "nhiscope.anomaly");
	CHECK_STR(get(doc, "host.name"), "node-a");
	/* the kernel's boot id alone (nhiscope.record.boot_id keeps the run) */
	CHECK_STR(get(doc, "host.boot.id"), "0f6a3c1e-5b2d-4c7e-9a81-3d2f6e7b8c90");
	CHECK_STR(get(doc, "process.pid"), "42");
	CHECK_STR(get(doc, "process.parent.pid"), "1");
	CHECK_STR(get(doc, "process.executable"), "/usr/bin/curl");
	CHECK_STR(get(doc, "process.name"), "curl");
	CHECK_STR(get(doc, "user.id"), "1000");
	CHECK_STR(get(doc, "user.name"), "app");
	CHECK_STR(get(doc, "orchestrator.namespace"), "payments");
	CHECK_STR(get(doc, "orchestrator.resource.name"), "api-1");
	CHECK_STR(get(doc, "orchestrator.resource.type"), "pod");
	CHECK_STR(get(doc, "container.id"), "c0ffee");
	CHECK(get(doc, "service.name") == NULL);
	/* ATT&CK as ECS has it: technique, sub-technique and tactic */
	CHECK_STR(get(doc, "threat.technique.id"), "T1552");
	CHECK_STR(get(doc, "threat.technique.name"), "Unsecured Credentials");
	CHECK_STR(get(doc, "threat.technique.subtechnique.id"), "T1552.005");
	CHECK_STR(get(doc, "threat.technique.subtechnique.name"), "Cloud Instance Metadata API");
	CHECK_STR(get(doc, "threat.tactic.id"), "TA0006");
	CHECK_STR(get(doc, "threat.tactic.name"), "Credential Access");
	CHECK_STR(get(doc, "rule.name"), "nhiscope novel egress");
	CHECK_STR(get(doc, "destination.ip"), "169.254.169.254");
	CHECK_STR(get(doc, "destination.port"), "80");
	CHECK_STR(get(doc, "orchestrator.resource.parent.type"), "Deployment");
	CHECK_STR(get(doc, "labels.nhiscope_identity"), "k8s:sa/payments/api");
	CHECK_STR(get(doc, "nhiscope.identity.key"), "k8s:sa/payments/api");
	CHECK_STR(get(doc, "nhiscope.identity.workload.kind"), "Deployment");
	CHECK_STR(get(doc, "nhiscope.anomaly.value"), "169.254.169.254:80");
	CHECK_STR(get(doc, "nhiscope.record.seq"), "7");
	CHECK(strstr(get(doc, "message"), "169.254.169.254:80") != NULL);
	json_object_put(doc);

	/* a unit: service.name, no orchestrator, no process */
	memset(&r.identity, 0, sizeof(r.identity));
	memset(&r.process, 0, sizeof(r.process));
	r.identity.key = "unit:backup.service";
	r.identity.unit = "backup.service";
	r.kind = NH_WIRE_CREDENTIAL_USE;
	memset(&r.credential_use, 0, sizeof(r.credential_use));
	r.credential_use.credential_kind = "ssh_key";
	r.credential_use.credential = "/root/.ssh/id_ed25519";
	r.credential_use.via = "open";
	r.credential_use.result = -13;
	r.credential_use.count = 3;
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "service.name"), "backup.service");
	CHECK(get(doc, "orchestrator") == NULL);
	CHECK(get(doc, "process") == NULL);
	CHECK_STR(get(doc, "event.kind"), "event");
	CHECK_STR(get(doc, "event.outcome"), "failure");
	CHECK_STR(get(doc, "file.path"), "/root/.ssh/id_ed25519");
	CHECK_STR(get(doc, "nhiscope.credential.count"), "3");
	json_object_put(doc);
	nh_ecs_message(&r, msg, sizeof(msg));
	CHECK_STR(msg, "credential use: ssh_key /root/.ssh/id_ed25519 by unit:backup.service via "
		       "open x3 failed (-13)");
	CHECK(nh_ecs_message(&r, msg, 8) == 7);

	/* activity: the event rendered from its typed fields */
	r.kind = NH_WIRE_ACTIVITY;
	memset(&r.activity, 0, sizeof(r.activity));
	r.activity.event = NH_WIRE_EV_EXEC;
	r.activity.path = "/bin/true";
	r.activity.args[0] = "true";
	r.activity.n_args = 1;
	r.process = (struct nh_wire_process){
	    .pid = 42, .ppid = 1, .uid = 1000, .comm = "curl", .exe = "/usr/bin/curl"};
	r.process.gid = 1001;
	r.process.mntns = 4026531840u;
	r.process.cgroup_id = 77;
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "nhiscope.activity.kind"), "exec");
	CHECK_STR(get(doc, "event.category"), "[ \"process\" ]");
	/* nothing twice: the event keeps only what no ECS field says */
	CHECK_STR(get(doc, "process.executable"), "/bin/true");
	CHECK_STR(get(doc, "process.args"), "[ \"true\" ]");
	CHECK(get(doc, "nhiscope.activity.event.path") == NULL);
	CHECK(get(doc, "nhiscope.activity.event.args") == NULL);
	CHECK(get(doc, "nhiscope.activity.event.kind") == NULL);
	CHECK(get(doc, "nhiscope.activity.event.pid") == NULL);
	CHECK(get(doc, "nhiscope.activity.event.comm") == NULL);
	CHECK(get(doc, "nhiscope.activity.event.identity") == NULL);
	CHECK(get(doc, "nhiscope.activity.event.time") == NULL);
	CHECK_STR(get(doc, "nhiscope.activity.event.exe"), "/usr/bin/curl"); /* the old image */
	CHECK_STR(get(doc, "nhiscope.activity.event.gid"), "1001");
	CHECK_STR(get(doc, "nhiscope.activity.event.mntns"), "4026531840");
	CHECK_STR(get(doc, "nhiscope.activity.event.cgroup_id"), "77");
	json_object_put(doc);
	/* entity_id: one process instance; a pid reused (another start)
	 * has another, the same process the same in every record */
	r.process.start_ms = 5000;
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "process.entity_id"),
		  "0f6a3c1e-5b2d-4c7e-9a81-3d2f6e7b8c90-6571f0a2000001c8-1f4/42/5000");
	json_object_put(doc);
	r.process.start_ms = 0; /* an agent that does not say */
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "process.entity_id"),
		  "0f6a3c1e-5b2d-4c7e-9a81-3d2f6e7b8c90-6571f0a2000001c8-1f4/42");
	json_object_put(doc);
	/* an open: an absolute path is file.path; a relative one stays */
	r.activity.event = NH_WIRE_EV_OPEN;
	r.activity.path = "/etc/shadow";
	r.activity.flags = 0;
	r.activity.result = 3;
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "file.path"), "/etc/shadow");
	CHECK(get(doc, "nhiscope.activity.event.path") == NULL);
	CHECK_STR(get(doc, "nhiscope.activity.event.flags_str"), "O_RDONLY");
	json_object_put(doc);
	r.activity.path = "shadow";
	r.activity.dirfd = 5;
	doc = nh_ecs_record(&r, "x");
	CHECK(get(doc, "file.path") == NULL);
	CHECK_STR(get(doc, "nhiscope.activity.event.path"), "shadow");
	json_object_put(doc);
	/* a connect: the peer is destination.*; without a port it stays */
	r.activity.event = NH_WIRE_EV_CONNECT;
	r.activity.address = "10.0.0.1";
	r.activity.port = 443;
	r.activity.result = 0;
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "destination.ip"), "10.0.0.1");
	CHECK_STR(get(doc, "destination.port"), "443");
	CHECK(get(doc, "nhiscope.activity.event.address") == NULL);
	CHECK_STR(get(doc, "nhiscope.activity.event.family"), "ipv4");
	json_object_put(doc);
	r.activity.port = 0;
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "nhiscope.activity.event.address"), "10.0.0.1");
	CHECK_STR(get(doc, "nhiscope.activity.event.port"), "0");
	json_object_put(doc);
	r.activity.event = NH_WIRE_EV_EXEC;
	r.activity.path = "/bin/true";
	r.activity.address = NULL;
	/* format 1's JSON text (read as it was sent): an object, or a string */
	r.activity.legacy_json = "{\"path\":\"/bin/false\"}";
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "nhiscope.activity.event.path"), "/bin/false");
	json_object_put(doc);
	r.activity.legacy_json = "not json";
	doc = nh_ecs_record(&r, "x");
	CHECK_STR(get(doc, "nhiscope.activity.raw"), "not json");
	json_object_put(doc);
}

static void test_cef(void)
{
	struct nh_wire_record r;
	char *line, *frame = NULL;
	size_t len = 0;
	size_t n;

	pod_record(&r);
	r.kind = NH_WIRE_ANOMALY;
	r.anomaly.category = NH_WIRE_CAT_EXEC;
	r.anomaly.severity = NH_WIRE_SEV_CRITICAL;
	r.anomaly.value = "/tmp/a=b\\c|d\ne";
	r.anomaly.technique_id = "T1059";
	r.anomaly.technique_name = "";
	line = nh_cef_line(&r, "node-a/boot-1/7", "0.1|x");
	CHECK(line != NULL);
	/* header: pipes and backslashes escaped, no line break */
	CHECK(strncmp(
		  line,
		  "CEF:0|nhiscope|nhiscope|0.1\\|x|anomaly:exec|critical anomaly: new exec "
		  "/tmp/a=b\\\\c\\|d e by k8s:sa/payments/api (T1059)|10|",
		  strlen("CEF:0|nhiscope|nhiscope|0.1\\|x|anomaly:exec|critical anomaly: new exec "
			 "/tmp/a=b\\\\c\\|d e by k8s:sa/payments/api (T1059)|10|")) == 0);
	/* extension: '=' and backslash escaped, the line break as \n, pipes bare */
	CHECK(strstr(line, " cs6Label=value cs6=/tmp/a\\=b\\\\c|d\\ne") != NULL);
	CHECK(strstr(line, " cs1Label=identity cs1=k8s:sa/payments/api") != NULL);
	CHECK(strstr(line, " externalId=node-a/boot-1/7") != NULL);
	CHECK(strstr(line, " rt=1700000000123") != NULL);
	CHECK(strstr(line, " spid=42") != NULL);
	CHECK(strchr(line, '\n') == NULL);
	free(line);
	/* labels: one extension "k=v,k=v"; a ',' '=' or '\\' inside a value
	 * is escaped for the list, then CEF escapes the whole (a value
	 * "a,b" must not read as a second label "b") */
	r.site.cluster = "prod=eu";
	r.site.n_labels = 2;
	r.site.labels[0].key = "team";
	r.site.labels[0].value = "a,b=c\\d";
	r.site.labels[1].key = "env";
	r.site.labels[1].value = "x";
	line = nh_cef_line(&r, "id", "1");
	CHECK(line != NULL);
	CHECK(strstr(line, " deviceExternalId=prod\\=eu ") != NULL);
	CHECK(strstr(line, " nhiscopeLabels=team\\=a\\\\,b\\\\\\=c\\\\\\\\d,env\\=x ") != NULL);
	free(line);
	memset(&r.site, 0, sizeof(r.site));

	CHECK(nh_syslog_frame(&r, "id", "{\"a\":1}", NH_SYSLOG_RFC5424, "v", &frame, &len) == 0);
	/* "LEN SP MSG", LEN counting MSG exactly */
	n = strtoul(frame, NULL, 10);
	CHECK(strchr(frame, ' ') != NULL && n == len - (size_t)(strchr(frame, ' ') - frame) - 1);
	CHECK(strstr(frame, " <130>1 2023-11-14T22:13:20.123456Z node-a nhiscope - anomaly - "
			    "{\"a\":1}") != NULL);
	free(frame);

	CHECK(nh_syslog_frame(&r, "id", "{}", NH_SYSLOG_CEF, "v", &frame, &len) == 0);
	CHECK(memmem(frame, len, "anomaly - CEF:0|nhiscope|", 25) != NULL);
	free(frame);
	r.identity.node = "bad host\x01name";
	CHECK(nh_syslog_frame(&r, "id", "{}", NH_SYSLOG_RFC5424, "v", &frame, &len) == 0);
	CHECK(memmem(frame, len, " bad_host_name nhiscope ", 24) != NULL);
	free(frame);
}

static struct nh_config src; /* keeps the strings of the last parse */

static int parse(struct nh_copts *o, const char *line)
{
	char buf[512], *argv[32], *save = NULL;
	int argc = 0;
	FILE *saved = stderr;
	int rc;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok_r(buf, " ", &save); t && argc < 31; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	stderr = fopen("/dev/null", "w"); /* the errors are expected */
	nh_config_free(&src);
	rc = nh_copts_parse(o, &src, argc, argv);
	fclose(stderr);
	stderr = saved;
	return rc;
}

static void test_options(void)
{
	struct nh_copts o;

	CHECK(parse(&o, "c --brokers b:1 --ecs-file -") == 0);
	CHECK(o.ntopics == 1);
	CHECK_STR(o.topics[0], "nhiscope.anomalies");
	CHECK_STR(o.dead_letter_topic, "nhiscope.deadletter");
	CHECK_STR(o.group, "nhiscope-collector");
	CHECK(o.dedup_window == 100000);
	CHECK(parse(&o, "c --brokers b:1 --syslog h:514 --syslog-format cef --topic a --topic b "
			"-X security.protocol=SSL --dedup-window 10 --group g") == 0);
	CHECK(o.ntopics == 2 && o.syslog_format == NH_SYSLOG_CEF && o.nkafka == 1);
	CHECK(o.dedup_window == 10);
	CHECK(parse(&o, "c --ecs-file -") == -EINVAL);	/* no brokers */
	CHECK(parse(&o, "c --brokers b:1") == -EINVAL); /* no sink */
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - --syslog-format x") == -EINVAL);
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - --dedup-window 0") == -EINVAL);
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - --dedup-window 1x") == -EINVAL);
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - -X novalue") == -EINVAL);
	CHECK(parse(&o, "c --brokers b:1 --splunk-hec http://x") == -EINVAL); /* no token */
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - --topic t --dead-letter-topic t") == -EINVAL);
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - extra") == -EINVAL);
	CHECK(parse(&o, "c --brokers b:1 --ecs-file - --commit-interval 5s") == 0);
	CHECK(nh_config_check_spec(&nh_collector_spec, stderr) == 0);
	CHECK(o.commit_interval_ms == 5000);
	nh_config_free(&src);
}

int main(void)
{
	test_dedup();
	test_ecs();
	test_cef();
	test_options();
	return nh_check_report("test_collector");
}
