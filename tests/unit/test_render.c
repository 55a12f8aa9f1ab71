/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/render.c and agent/compact.c: fabricated events of
 * each kind rendered to JSON and read back field by field, the small
 * formatters on their own, and the compact one-line form.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "check.h"
#include "compact.h"
#include "decode.h"
#include "nhiscope.h"
#include "record.h"
#include "recordjson.h"
#include "render.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "7d5e3e0c-3c1f-4f4b-9a8e-2b1c0d9e8f7a"

/* 2026-11-22T08:00:00Z, and an event 1.123456789 s after it. */
#define EPOCH_S	   1795334400LL
#define MONO_NS	   5123456789ULL
#define OFFSET_NS  (EPOCH_S * 1000000000LL - 4000000000LL)
#define EVENT_TIME "2026-11-22T08:00:01.123456Z"

static void fill_hdr(struct nh_hdr *h, uint32_t kind)
{
	h->kind = kind;
	h->ts_ns = MONO_NS;
	h->cgroup_id = 9876;
	h->tgid = 100;
	h->pid = 101;
	h->ppid = 1;
	h->uid = 0;
	h->gid = 0;
	h->mntns = 4026531840u;
	memcpy(h->comm, "bash", 5);
}

static struct nh_attributed attr(const struct nh_hdr *h)
{
	struct nh_attributed a = {
	    .h = h,
	    .identity = "user:root",
	    .user = "root",
	    .wall_offset_ns = OFFSET_NS,
	};
	return a;
}

static struct nh_record_buf rbuf;
static struct nh_wire_record rec;

/* The event's typed record, rendered, printed to a string and parsed
 * back, as a client would see it. */
static json_object *roundtrip(const struct nh_attributed *a)
{
	json_object *o, *back;

	nh_record_activity(a, &rbuf, &rec);
	o = nh_recordjson(&rec);

	CHECK(o != NULL);
	if (!o)
		return NULL;
	back = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	CHECK(back != NULL && json_object_is_type(back, json_type_object));
	return back;
}

static json_object *field(json_object *o, const char *path)
{
	char key[64];
	const char *dot;
	json_object *v = o;

	/* "a.b" walks into nested objects */
	while (v && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		if (!json_object_object_get_ex(v, key, &v))
			return NULL;
		path = dot + 1;
	}
	return v && json_object_object_get_ex(v, path, &v) ? v : NULL;
}

static const char *sfield(json_object *o, const char *path)
{
	json_object *v = field(o, path);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool ifield(json_object *o, const char *path, int64_t want)
{
	json_object *v = field(o, path);

	if (!v || !json_object_is_type(v, json_type_int)) {
		fprintf(stderr, "  (%s: missing or not an integer)\n", path);
		return false;
	}
	if (json_object_get_int64(v) != want) {
		fprintf(stderr, "  (%s: %lld, want %lld)\n", path,
			(long long)json_object_get_int64(v), (long long)want);
		return false;
	}
	return true;
}

static bool bfield(json_object *o, const char *path)
{
	json_object *v = field(o, path);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static bool has(json_object *o, const char *path)
{
	return field(o, path) != NULL;
}

static void test_time(void)
{
	char buf[64];

	nh_render_time(0, 0, buf, sizeof(buf));
	CHECK_STR(buf, "1970-01-01T00:00:00.000000Z");
	nh_render_time(1500000, 0, buf, sizeof(buf));
	CHECK_STR(buf, "1970-01-01T00:00:00.001500Z");
	/* microseconds are truncated, not rounded */
	nh_render_time(999999999, 0, buf, sizeof(buf));
	CHECK_STR(buf, "1970-01-01T00:00:00.999999Z");
	nh_render_time(MONO_NS, OFFSET_NS, buf, sizeof(buf));
	CHECK_STR(buf, EVENT_TIME);
	/* the offset alone can carry the date */
	nh_render_time(0, (EPOCH_S + 86399) * 1000000000LL, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-23T07:59:59.000000Z");
	nh_render_time(1000, 951782400LL * 1000000000LL, buf, sizeof(buf)); /* leap day */
	CHECK_STR(buf, "2000-02-29T00:00:00.000001Z");
}

static void test_addr(void)
{
	struct nh_sockaddr sa;
	char buf[64];

	memset(&sa, 0, sizeof(sa));
	sa.family = AF_INET;
	memcpy(sa.addr, (uint8_t[]){10, 0, 0, 1}, 4);
	memset(sa.addr + 4, 0xff, 12); /* only the first 4 bytes count */
	nh_render_addr(&sa, buf, sizeof(buf));
	CHECK_STR(buf, "10.0.0.1");

	memset(&sa, 0, sizeof(sa));
	sa.family = AF_INET6;
	sa.addr[15] = 1;
	nh_render_addr(&sa, buf, sizeof(buf));
	CHECK_STR(buf, "::1");
	memcpy(sa.addr,
	       (uint8_t[]){0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}, 16);
	nh_render_addr(&sa, buf, sizeof(buf));
	CHECK_STR(buf, "2001:db8::abcd");
	/* IPv4-mapped */
	memcpy(sa.addr, (uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2}, 16);
	nh_render_addr(&sa, buf, sizeof(buf));
	CHECK_STR(buf, "::ffff:192.168.1.2");

	sa.family = AF_UNIX;
	nh_render_addr(&sa, buf, sizeof(buf));
	CHECK_STR(buf, "family-1");
	sa.family = 0;
	nh_render_addr(&sa, buf, sizeof(buf));
	CHECK_STR(buf, "family-0");
}

static void test_open_flags(void)
{
	char buf[256], small[10];

	nh_recordjson_open_flags(O_RDONLY, buf, sizeof(buf));
	CHECK_STR(buf, "O_RDONLY");
	nh_recordjson_open_flags(O_WRONLY | O_CREAT | O_CLOEXEC, buf, sizeof(buf));
	CHECK_STR(buf, "O_WRONLY|O_CREAT|O_CLOEXEC");
	nh_recordjson_open_flags(O_RDWR | O_TRUNC | O_APPEND | O_NONBLOCK, buf, sizeof(buf));
	CHECK_STR(buf, "O_RDWR|O_TRUNC|O_APPEND|O_NONBLOCK");
	nh_recordjson_open_flags(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_PATH, buf, sizeof(buf));
	CHECK_STR(buf, "O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_PATH");
	nh_recordjson_open_flags(O_WRONLY | O_CREAT | O_EXCL | O_NOCTTY, buf, sizeof(buf));
	CHECK_STR(buf, "O_WRONLY|O_CREAT|O_EXCL|O_NOCTTY");
	nh_recordjson_open_flags(O_ACCMODE, buf, sizeof(buf));
	CHECK_STR(buf, "O_ACCMODE");
	/* composites are named as such, not as the flag they contain */
	nh_recordjson_open_flags(O_WRONLY | O_SYNC, buf, sizeof(buf));
	CHECK_STR(buf, "O_WRONLY|O_SYNC");
	nh_recordjson_open_flags(O_WRONLY | O_DSYNC, buf, sizeof(buf));
	CHECK_STR(buf, "O_WRONLY|O_DSYNC");
	nh_recordjson_open_flags(O_RDWR | O_TMPFILE | O_CLOEXEC, buf, sizeof(buf));
	CHECK_STR(buf, "O_RDWR|O_TMPFILE|O_CLOEXEC");
	nh_recordjson_open_flags(O_RDONLY | O_TMPFILE, small, 4);
	CHECK(strlen(small) == 3);
	/* unknown high bits are not invented into names */
	nh_recordjson_open_flags(O_RDONLY | 0x80000000u, buf, sizeof(buf));
	CHECK_STR(buf, "O_RDONLY");

	/* truncation keeps a terminated prefix */
	memset(small, 'z', sizeof(small));
	nh_recordjson_open_flags(O_WRONLY | O_CREAT | O_CLOEXEC, small, sizeof(small));
	CHECK(memchr(small, '\0', sizeof(small)) != NULL);
	CHECK(strncmp(small, "O_WRONLY|", strlen(small)) == 0);
	CHECK(strlen(small) == sizeof(small) - 1);
}

static void test_exec(void)
{
	struct nh_exec_event e;
	struct nh_proc proc;
	struct nh_attributed a;
	json_object *o, *args;

	memset(&e, 0, sizeof(e));
	fill_hdr(&e.h, NH_KIND_EXEC);
	e.h.flags = NH_F_ARGS_TRUNC;
	memcpy(e.path, "/usr/bin/ls", 11);
	e.path_len = 11;
	memcpy(e.args, "ls\0-la\0\0/tmp x\0", 15);
	e.args_len = 15;
	memset(&proc, 0, sizeof(proc));
	snprintf(proc.exe, sizeof(proc.exe), "/usr/bin/ls");

	a = attr(&e.h);
	a.proc = &proc;
	o = roundtrip(&a);
	if (!o)
		return;
	CHECK_STR(sfield(o, "time"), EVENT_TIME);
	CHECK_STR(sfield(o, "kind"), "exec");
	CHECK(ifield(o, "pid", 100));
	CHECK(ifield(o, "tid", 101));
	CHECK(ifield(o, "ppid", 1));
	CHECK(ifield(o, "uid", 0));
	CHECK(ifield(o, "gid", 0));
	CHECK(ifield(o, "mntns", 4026531840LL));
	CHECK(ifield(o, "cgroup_id", 9876));
	CHECK_STR(sfield(o, "comm"), "bash");
	CHECK_STR(sfield(o, "user"), "root");
	CHECK_STR(sfield(o, "exe"), "/usr/bin/ls");
	CHECK_STR(sfield(o, "identity"), "user:root");
	CHECK_STR(sfield(o, "path"), "/usr/bin/ls");
	CHECK(json_object_object_get_ex(o, "args", &args) &&
	      json_object_is_type(args, json_type_array));
	if (args && json_object_is_type(args, json_type_array)) {
		CHECK(json_object_array_length(args) == 4);
		CHECK_STR(json_object_get_string(json_object_array_get_idx(args, 0)), "ls");
		CHECK_STR(json_object_get_string(json_object_array_get_idx(args, 1)), "-la");
		CHECK_STR(json_object_get_string(json_object_array_get_idx(args, 2)), "");
		CHECK_STR(json_object_get_string(json_object_array_get_idx(args, 3)), "/tmp x");
	}
	CHECK(bfield(o, "args_truncated"));
	CHECK(!has(o, "path_truncated"));
	CHECK(!has(o, "deduplicated"));
	CHECK(!has(o, "context"));
	json_object_put(o);

	/* a full comm has no NUL; no user name, no process, last arg unterminated */
	memcpy(e.h.comm, "0123456789abcdef", NH_COMM_LEN);
	e.h.uid = 54321;
	e.h.flags = NH_F_PATH_TRUNC;
	memcpy(e.args, "sh\0-c", 5);
	e.args_len = 5;
	a = attr(&e.h);
	a.user = NULL;
	a.identity = "user:54321";
	o = roundtrip(&a);
	if (!o)
		return;
	CHECK_STR(sfield(o, "comm"), "0123456789abcdef");
	CHECK(!has(o, "user"));
	CHECK(!has(o, "exe"));
	CHECK(ifield(o, "uid", 54321));
	CHECK(bfield(o, "path_truncated"));
	CHECK(!has(o, "args_truncated"));
	CHECK(json_object_object_get_ex(o, "args", &args) && json_object_array_length(args) == 2);
	if (args)
		CHECK_STR(json_object_get_string(json_object_array_get_idx(args, 1)), "-c");
	json_object_put(o);
}

/* argv past what events show: all of it is scanned, the first
 * NH_ARGS_SHOW bytes are shown and the rest is flagged; a secret cut by
 * the kernel's copy bound is still redacted. */
static void test_exec_long(void)
{
	static struct nh_exec_event e;
	struct nh_attributed a;
	json_object *o;
	const char *tail = "--password=Pl4ntedPadSecret";
	size_t n = 0;

	memset(&e, 0, sizeof(e));
	fill_hdr(&e.h, NH_KIND_EXEC);
	memcpy(e.path, "/bin/true", 9);
	e.path_len = 9;
	memcpy(e.args, "/bin/true", 10);
	n = 10;
	memset(e.args + n, 'x', 3000);
	n += 3001;
	memcpy(e.args + n, tail, strlen(tail) + 1);
	n += strlen(tail) + 1;
	e.args_len = (uint16_t)n;
	e.args_size = (uint32_t)n;
	a = attr(&e.h);
	o = roundtrip(&a);
	if (!o)
		return;
	CHECK(strstr(json_object_to_json_string(o), "Pl4ntedPadSecret") == NULL);
	CHECK(ifield(o, "secrets_redacted", 1));
	CHECK(bfield(o, "args_truncated"));
	CHECK(ifield(o, "args_bytes", (int64_t)n));
	json_object_put(o);

	/* the kernel's copy ended inside a token: its head is redacted */
	memcpy(e.args, "/bin/true\0--token=x\0ghp_0123Cut", 31);
	e.args_len = 31;
	e.args_size = 40000;
	e.h.flags = NH_F_ARGS_TRUNC;
	a = attr(&e.h);
	o = roundtrip(&a);
	if (!o)
		return;
	CHECK(strstr(json_object_to_json_string(o), "0123Cut") == NULL);
	CHECK(strstr(json_object_to_json_string(o), "[REDACTED:cut]") != NULL);
	CHECK(bfield(o, "args_truncated"));
	CHECK(ifield(o, "args_bytes", 40000));
	json_object_put(o);
}

static void test_open(void)
{
	struct nh_cgroup_ctx cg;
	struct nh_open_event e;
	struct nh_attributed a;
	json_object *o;

	memset(&e, 0, sizeof(e));
	fill_hdr(&e.h, NH_KIND_OPEN);
	e.dirfd = 5;
	e.result = -ENOENT;
	e.open_flags = O_WRONLY | O_CREAT | O_CLOEXEC;
	e.mode = 0644;
	e.syscall = NH_SYS_OPENAT;
	memcpy(e.path, "data/x", 6);
	e.path_len = 6;

	memset(&cg, 0, sizeof(cg));
	cg.id = 9876;
	cg.found = true;
	snprintf(cg.path, sizeof(cg.path), "/kubepods/burstable/pod%s/%s", UID, CID);
	cg.info.kind = NH_CG_K8S_POD;
	cg.info.qos = NH_QOS_BURSTABLE;
	cg.info.runtime = NH_RT_CONTAINERD;
	snprintf(cg.info.pod_uid, sizeof(cg.info.pod_uid), "%s", UID);
	snprintf(cg.info.container_id, sizeof(cg.info.container_id), "%s", CID);

	a = attr(&e.h);
	a.cg = &cg;
	a.identity = "k8s:pod/" UID;
	o = roundtrip(&a);
	if (!o)
		return;
	CHECK_STR(sfield(o, "kind"), "open");
	CHECK_STR(sfield(o, "syscall"), "openat");
	CHECK_STR(sfield(o, "path"), "data/x");
	CHECK(ifield(o, "flags", O_WRONLY | O_CREAT | O_CLOEXEC));
	CHECK_STR(sfield(o, "flags_str"), "O_WRONLY|O_CREAT|O_CLOEXEC");
	CHECK(ifield(o, "mode", 0644));
	CHECK(ifield(o, "dirfd", 5));
	CHECK(ifield(o, "result", -ENOENT));
	CHECK_STR(sfield(o, "error"), "ENOENT");
	CHECK_STR(sfield(o, "identity"), "k8s:pod/" UID);
	CHECK_STR(sfield(o, "context.cgroup"), cg.path);
	CHECK_STR(sfield(o, "context.kind"), "pod");
	CHECK_STR(sfield(o, "context.pod_uid"), UID);
	CHECK_STR(sfield(o, "context.qos"), "burstable");
	CHECK_STR(sfield(o, "context.container_id"), CID);
	CHECK_STR(sfield(o, "context.runtime"), "containerd");
	CHECK(!has(o, "context.unit"));
	json_object_put(o);

	/* success, absolute, no O_CREAT: no error, mode or dirfd; a unit context */
	e.dirfd = AT_FDCWD;
	e.result = 3;
	e.open_flags = O_RDONLY;
	e.syscall = NH_SYS_OPEN;
	memcpy(e.path, "/etc/hosts", 10);
	e.path_len = 10;
	memset(&cg, 0, sizeof(cg));
	cg.found = true;
	snprintf(cg.path, sizeof(cg.path),
		 "/user.slice/user-1000.slice/user@1000.service/x.service");
	cg.info.kind = NH_CG_UNIT;
	cg.info.user_unit = true;
	snprintf(cg.info.unit, sizeof(cg.info.unit), "x.service");
	a = attr(&e.h);
	a.cg = &cg;
	o = roundtrip(&a);
	if (!o)
		return;
	CHECK_STR(sfield(o, "syscall"), "open");
	CHECK_STR(sfield(o, "path"), "/etc/hosts");
	CHECK_STR(sfield(o, "flags_str"), "O_RDONLY");
	CHECK(ifield(o, "result", 3));
	CHECK(!has(o, "error"));
	CHECK(!has(o, "mode"));
	CHECK(!has(o, "dirfd"));
	CHECK_STR(sfield(o, "context.kind"), "unit");
	CHECK_STR(sfield(o, "context.unit"), "x.service");
	CHECK(bfield(o, "context.user_unit"));
	CHECK(!has(o, "context.pod_uid"));
	CHECK(!has(o, "context.qos"));
	CHECK(!has(o, "context.runtime"));
	json_object_put(o);

	/* an absolute path ignores dirfd */
	e.dirfd = 7;
	o = roundtrip(&(struct nh_attributed){.h = &e.h, .identity = "user:root"});
	CHECK(o && !has(o, "dirfd"));
	json_object_put(o);
}

/* The path as written, truncation and how the credential was recognised,
 * in the tail's JSON; an open names the credential it is. */
static void test_credential_paths(void)
{
	struct nh_wire_record rec;
	json_object *o;

	memset(&rec, 0, sizeof(rec));
	rec.kind = NH_WIRE_CREDENTIAL_USE;
	rec.identity.key = "k8s:sa/shop/cart";
	rec.credential_use = (struct nh_wire_credential_use){
	    .credential_kind = "sa_token",
	    .credential = "/var/run/secrets/kubernetes.io/serviceaccount/token",
	    .via = "openat",
	    .result = 3,
	    .count = 1,
	    .path = "../serviceaccount/token",
	    .path_truncated = true,
	    .matched_by = "volume"};
	o = nh_recordjson(&rec);
	CHECK(o != NULL);
	if (!o)
		return;
	CHECK_STR(sfield(o, "credential"), "/var/run/secrets/kubernetes.io/serviceaccount/token");
	CHECK_STR(sfield(o, "path"), "../serviceaccount/token");
	CHECK(bfield(o, "path_truncated"));
	CHECK_STR(sfield(o, "matched_by"), "volume");
	json_object_put(o);

	/* a connect has none of them */
	rec.credential_use.path = NULL;
	rec.credential_use.path_truncated = false;
	rec.credential_use.matched_by = NULL;
	o = nh_recordjson(&rec);
	CHECK(o && !has(o, "path") && !has(o, "path_truncated") && !has(o, "matched_by"));
	json_object_put(o);

	memset(&rec, 0, sizeof(rec));
	rec.kind = NH_WIRE_ACTIVITY;
	rec.identity.key = "user:root";
	rec.activity.event = NH_WIRE_EV_OPEN;
	rec.activity.path = "hl";
	rec.activity.result = 3;
	rec.activity.credential = "/root/.ssh/id_ed25519";
	rec.activity.credential_kind = "ssh_private_key";
	o = nh_recordjson(&rec);
	CHECK(o != NULL);
	if (!o)
		return;
	CHECK_STR(sfield(o, "path"), "hl");
	CHECK_STR(sfield(o, "credential"), "/root/.ssh/id_ed25519");
	CHECK_STR(sfield(o, "credential_kind"), "ssh_private_key");
	json_object_put(o);
}

static void test_connect_accept(void)
{
	struct nh_connect_event c;
	struct nh_accept_event ac;
	struct nh_attributed a;
	json_object *o;

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.h, NH_KIND_CONNECT);
	c.dst.family = AF_INET;
	c.dst.port = 443;
	memcpy(c.dst.addr, (uint8_t[]){10, 1, 2, 3}, 4);
	c.fd = 4;
	c.result = -ECONNREFUSED;
	a = attr(&c.h);
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "kind"), "connect");
		CHECK_STR(sfield(o, "family"), "ipv4");
		CHECK_STR(sfield(o, "address"), "10.1.2.3");
		CHECK(ifield(o, "port", 443));
		CHECK(ifield(o, "fd", 4));
		CHECK(ifield(o, "result", -ECONNREFUSED));
		CHECK_STR(sfield(o, "error"), "ECONNREFUSED");
	}
	json_object_put(o);

	memset(&c.dst, 0, sizeof(c.dst));
	c.dst.family = AF_INET6;
	c.dst.port = 8080;
	c.dst.addr[15] = 1;
	c.result = -EINPROGRESS;
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "family"), "ipv6");
		CHECK_STR(sfield(o, "address"), "::1");
		CHECK(ifield(o, "port", 8080));
		CHECK_STR(sfield(o, "error"), "EINPROGRESS");
	}
	json_object_put(o);

	/* an errno with no name still says it failed */
	c.result = -4000;
	o = roundtrip(&a);
	CHECK(o && sfield(o, "error") && strcmp(sfield(o, "error"), "unknown") == 0);
	json_object_put(o);

	memset(&ac, 0, sizeof(ac));
	fill_hdr(&ac.h, NH_KIND_ACCEPT);
	ac.peer.family = AF_INET;
	ac.peer.port = 50000;
	memcpy(ac.peer.addr, (uint8_t[]){192, 168, 0, 7}, 4);
	ac.local_port = 22;
	ac.syscall = NH_SYS_ACCEPT4;
	ac.fd = 3;
	ac.result = 7;
	a = attr(&ac.h);
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "syscall"), "accept4");
		CHECK_STR(sfield(o, "address"), "192.168.0.7");
		CHECK(ifield(o, "port", 50000));
		CHECK(ifield(o, "local_port", 22));
		CHECK(ifield(o, "fd", 3));
		CHECK(ifield(o, "result", 7));
		CHECK(!has(o, "error"));
	}
	json_object_put(o);
	/* a failed accept has no peer */
	ac.result = -EAGAIN;
	o = roundtrip(&a);
	if (o) {
		CHECK(!has(o, "address") && !has(o, "port") && !has(o, "local_port"));
		CHECK_STR(sfield(o, "error"), "EAGAIN");
	}
	json_object_put(o);
}

static void test_creds(void)
{
	struct nh_cred_event e;
	struct nh_capset_event cap;
	struct nh_attributed a;
	json_object *o;

	memset(&e, 0, sizeof(e));
	fill_hdr(&e.h, NH_KIND_SETUID);
	e.h.uid = 1000;
	e.syscall = NH_SYS_SETRESUID;
	e.old_ids[0] = 1000;
	e.old_ids[1] = 1001;
	e.old_ids[2] = 1002;
	e.new_ids[0] = 0;
	e.new_ids[1] = 0;
	e.new_ids[2] = 1002;
	a = attr(&e.h);
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "kind"), "setuid");
		CHECK_STR(sfield(o, "syscall"), "setresuid");
		CHECK(ifield(o, "old.real", 1000));
		CHECK(ifield(o, "old.effective", 1001));
		CHECK(ifield(o, "old.saved", 1002));
		CHECK(ifield(o, "new.real", 0));
		CHECK(ifield(o, "new.effective", 0));
		CHECK(ifield(o, "new.saved", 1002));
		CHECK(ifield(o, "result", 0));
		CHECK(!has(o, "error"));
	}
	json_object_put(o);

	fill_hdr(&e.h, NH_KIND_SETGID);
	e.syscall = NH_SYS_SETGID;
	e.result = -EPERM;
	e.new_ids[0] = 4294967295u; /* ids are unsigned */
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "kind"), "setgid");
		CHECK(ifield(o, "new.real", 4294967295LL));
		CHECK_STR(sfield(o, "error"), "EPERM");
	}
	json_object_put(o);

	memset(&cap, 0, sizeof(cap));
	fill_hdr(&cap.h, NH_KIND_CAPSET);
	cap.old_effective = 0x1ffffffffffULL;
	cap.old_permitted = 0x1ffffffffffULL;
	cap.new_effective = 0x400;
	cap.new_permitted = 0x400;
	cap.new_inheritable = 0;
	a = attr(&cap.h);
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "old.effective"), "0x000001ffffffffff");
		CHECK_STR(sfield(o, "old.inheritable"), "0x0000000000000000");
		CHECK_STR(sfield(o, "new.effective"), "0x0000000000000400");
		CHECK_STR(sfield(o, "new.permitted"), "0x0000000000000400");
		CHECK(ifield(o, "result", 0));
	}
	json_object_put(o);
}

static void test_process(void)
{
	struct nh_fork_event f;
	struct nh_exit_event x;
	struct nh_attributed a;
	json_object *o;

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.h, NH_KIND_FORK);
	f.child_tgid = 200;
	f.child_pid = 200;
	a = attr(&f.h);
	o = roundtrip(&a);
	CHECK(o && ifield(o, "child_pid", 200));
	json_object_put(o);

	memset(&x, 0, sizeof(x));
	fill_hdr(&x.h, NH_KIND_EXIT);
	x.exit_code = 3 << 8; /* exit(3) */
	a = attr(&x.h);
	o = roundtrip(&a);
	if (o) {
		CHECK(ifield(o, "exit_code", 3));
		CHECK(!has(o, "signal"));
	}
	json_object_put(o);
	x.exit_code = 9; /* killed by SIGKILL */
	o = roundtrip(&a);
	if (o) {
		CHECK(ifield(o, "exit_code", 0));
		CHECK(ifield(o, "signal", 9));
	}
	json_object_put(o);
}

static void test_summary(void)
{
	struct nh_summary_event s;
	struct nh_attributed a;
	json_object *o;

	memset(&s, 0, sizeof(s));
	fill_hdr(&s.h, NH_KIND_SUMMARY);
	s.key.kind = NH_KIND_OPEN;
	s.count = 42;
	s.window_start = MONO_NS - 1000000000ULL;
	a = attr(&s.h);
	a.object = "/etc/passwd";
	o = roundtrip(&a);
	if (o) {
		CHECK_STR(sfield(o, "kind"), "summary");
		CHECK_STR(sfield(o, "of"), "open");
		CHECK(ifield(o, "count", 42));
		CHECK_STR(sfield(o, "object"), "/etc/passwd");
		CHECK_STR(sfield(o, "window_start"), "2026-11-22T08:00:00.123456Z");
		CHECK(!has(o, "last_seen"));
		CHECK_STR(sfield(o, "time"), EVENT_TIME);
		CHECK(ifield(o, "pid", 100));
		CHECK(ifield(o, "uid", 0));
		/* the header of a summary is only that of the last repeat */
		CHECK(!has(o, "ppid") && !has(o, "comm") && !has(o, "gid") && !has(o, "mntns"));
	}
	json_object_put(o);

	a.object = NULL;
	s.h.flags = NH_F_DEDUP;
	o = roundtrip(&a);
	CHECK(o && !has(o, "object"));
	CHECK(o && bfield(o, "deduplicated"));
	json_object_put(o);
}

static void test_object(void)
{
	struct nh_open_event op;
	struct nh_connect_event c;
	struct nh_accept_event ac;
	struct nh_fork_event f;
	char buf[128];

	memset(&op, 0, sizeof(op));
	op.h.kind = NH_KIND_OPEN;
	memcpy(op.path, "/etc/shadowXXXX", 15);
	op.path_len = 11;
	nh_render_object(&op.h, buf, sizeof(buf));
	CHECK_STR(buf, "/etc/shadow");

	memset(&c, 0, sizeof(c));
	c.h.kind = NH_KIND_CONNECT;
	c.dst.family = AF_INET;
	c.dst.port = 53;
	memcpy(c.dst.addr, (uint8_t[]){1, 1, 1, 1}, 4);
	nh_render_object(&c.h, buf, sizeof(buf));
	CHECK_STR(buf, "1.1.1.1:53");
	memset(&c.dst, 0, sizeof(c.dst));
	c.dst.family = AF_INET6;
	c.dst.port = 443;
	c.dst.addr[15] = 1;
	nh_render_object(&c.h, buf, sizeof(buf));
	CHECK_STR(buf, "[::1]:443");

	memset(&ac, 0, sizeof(ac));
	ac.h.kind = NH_KIND_ACCEPT;
	ac.peer.family = AF_INET;
	memcpy(ac.peer.addr, (uint8_t[]){10, 0, 0, 9}, 4);
	ac.local_port = 8443;
	nh_render_object(&ac.h, buf, sizeof(buf));
	CHECK_STR(buf, "10.0.0.9 -> :8443");

	memset(&f, 0, sizeof(f));
	f.h.kind = NH_KIND_FORK;
	memset(buf, 'z', sizeof(buf));
	nh_render_object(&f.h, buf, sizeof(buf));
	CHECK_STR(buf, "");
}

/* Copy @in without its ESC [ ... m sequences. */
static void strip_sgr(const char *in, char *out, size_t len)
{
	size_t n = 0;

	while (*in && n + 1 < len) {
		if (in[0] == '\033' && in[1] == '[') {
			in += 2;
			while (*in && *in != 'm')
				in++;
			if (*in)
				in++;
			continue;
		}
		out[n++] = *in++;
	}
	out[n] = '\0';
}

/* An event's typed record, formatted compactly. */
static void compact(const struct nh_attributed *a, bool color, char *buf, size_t len)
{
	nh_record_activity(a, &rbuf, &rec);
	nh_compact_format(&rec, color, buf, len);
}

static void test_compact(void)
{
	struct nh_open_event e;
	struct nh_connect_event c;
	struct nh_exec_event x;
	struct nh_attributed a;
	char buf[512], plain[512], small[24];
	const char *p;

	memset(&e, 0, sizeof(e));
	fill_hdr(&e.h, NH_KIND_OPEN);
	e.dirfd = AT_FDCWD;
	e.result = -ENOENT;
	e.open_flags = O_WRONLY | O_CREAT | O_CLOEXEC;
	e.syscall = NH_SYS_OPENAT;
	memcpy(e.path, "/data/x", 7);
	e.path_len = 7;
	a = attr(&e.h);

	compact(&a, false, buf, sizeof(buf));
	CHECK_STR(buf, "08:00:01.123 open     user:root pid=100 bash /data/x "
		       "O_WRONLY|O_CREAT|O_CLOEXEC ENOENT");
	CHECK(strchr(buf, '\033') == NULL);
	CHECK(strchr(buf, '\n') == NULL);

	compact(&a, true, buf, sizeof(buf));
	CHECK(strchr(buf, '\033') != NULL);
	CHECK(strstr(buf, "open") && strstr(buf, "user:root") && strstr(buf, "/data/x"));
	CHECK(strchr(buf, '\n') == NULL);
	/* the identity stands out on its own */
	p = strstr(buf, "user:root");
	CHECK(p && p > buf && p[-1] == 'm' && strncmp(p + 9, "\033[0m", 4) == 0);
	/* colour adds escapes and nothing else */
	strip_sgr(buf, plain, sizeof(plain));
	CHECK_STR(plain, "08:00:01.123 open     user:root pid=100 bash /data/x "
			 "O_WRONLY|O_CREAT|O_CLOEXEC ENOENT");

	/* a small buffer truncates, terminated */
	memset(small, 'z', sizeof(small));
	compact(&a, false, small, sizeof(small));
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(strncmp(small, "08:00:01.123 open     u", sizeof(small) - 1) == 0);

	memset(&c, 0, sizeof(c));
	fill_hdr(&c.h, NH_KIND_CONNECT);
	c.dst.family = AF_INET6;
	c.dst.port = 8080;
	c.dst.addr[15] = 1;
	c.result = -EINPROGRESS;
	a = attr(&c.h);
	a.identity = "container:0123456789ab";
	compact(&a, false, buf, sizeof(buf));
	CHECK_STR(buf, "08:00:01.123 connect  container:0123456789ab pid=100 bash -> [::1]:8080 "
		       "EINPROGRESS");
	c.dst.family = AF_INET;
	memset(c.dst.addr, 0, sizeof(c.dst.addr));
	memcpy(c.dst.addr, (uint8_t[]){10, 0, 0, 1}, 4);
	c.result = 0;
	compact(&a, false, buf, sizeof(buf));
	CHECK_STR(buf,
		  "08:00:01.123 connect  container:0123456789ab pid=100 bash -> 10.0.0.1:8080");

	memset(&x, 0, sizeof(x));
	fill_hdr(&x.h, NH_KIND_EXEC);
	x.h.flags = NH_F_ARGS_TRUNC;
	memcpy(x.path, "/bin/ls", 7);
	x.path_len = 7;
	memcpy(x.args, "ls\0-l\0/tmp\0", 11);
	x.args_len = 11;
	a = attr(&x.h);
	a.identity = "unit:nginx.service";
	compact(&a, false, buf, sizeof(buf));
	CHECK_STR(buf, "08:00:01.123 exec     unit:nginx.service pid=100 bash /bin/ls -l /tmp ...");

	/* a loss record */
	memset(&rec, 0, sizeof(rec));
	rec.kind = NH_WIRE_LOSS;
	rec.time_ns = (uint64_t)((int64_t)MONO_NS + OFFSET_NS);
	rec.loss.source = "kernel";
	rec.loss.counts[rec.loss.n_counts++] = (struct nh_wire_counter){"open", 3};
	nh_compact_format(&rec, false, buf, sizeof(buf));
	CHECK_STR(buf, "08:00:01.123 loss     3 open events lost (kernel)");
	nh_compact_format(&rec, true, buf, sizeof(buf));
	CHECK(strstr(buf, "\033[1;31m") != NULL);

	/* an identity_conflict finding: both claims, from the typed record */
	{
		json_object *o;

		a = attr(&e.h);
		a.identity = "k8s:sa/shop/web";
		a.identity_source = NH_IDSRC_KUBELET_VOLUME;
		a.identity_verified = true;
		nh_record_attribution(&a, &rbuf, &rec);
		rec.kind = NH_WIRE_FINDING;
		rec.finding = (struct nh_wire_finding){
		    .type = NH_WIRE_FINDING_IDENTITY_CONFLICT,
		    .claimed_identity = "k8s:sa/kube-system/admin",
		    .believed_identity = "k8s:sa/shop/web",
		    .reason = "the token in the pod's own root contradicts the kubelet's copy",
		};
		CHECK(nh_record_agent_kind(&rec) == NH_KIND_IDENTITY_CONFLICT);
		nh_compact_format(&rec, false, buf, sizeof(buf));
		CHECK(strstr(buf, "identity_conflict") != NULL);
		CHECK(strstr(buf, "claimed k8s:sa/kube-system/admin believed k8s:sa/shop/web") !=
		      NULL);
		nh_compact_format(&rec, true, buf, sizeof(buf));
		CHECK(strstr(buf, "\033[1;31m") != NULL);
		o = nh_recordjson(&rec);
		CHECK(o != NULL);
		if (o) {
			CHECK(sfield(o, "kind") &&
			      strcmp(sfield(o, "kind"), "identity_conflict") == 0);
			CHECK(sfield(o, "severity") && strcmp(sfield(o, "severity"), "high") == 0);
			CHECK(sfield(o, "claimed_identity") &&
			      strcmp(sfield(o, "claimed_identity"), "k8s:sa/kube-system/admin") ==
				  0);
			CHECK(sfield(o, "believed_identity") &&
			      strcmp(sfield(o, "believed_identity"), "k8s:sa/shop/web") == 0);
			CHECK(sfield(o, "identity_source") &&
			      strcmp(sfield(o, "identity_source"), "kubelet-volume") == 0);
			CHECK(bfield(o, "identity_verified"));
			json_object_put(o);
		}
	}
}

/*
 * Whether s holds nothing a terminal would act on: no C0 byte, DEL, C1
 * control (U+0080..U+009F as UTF-8) or byte that is never valid UTF-8.
 * With sgr, the formatter's own complete "ESC [ digits m" colours pass.
 */
static bool inert(const char *s, bool sgr)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (sgr && p[0] == 0x1b && p[1] == '[') {
			for (p += 2; (*p >= '0' && *p <= '9') || *p == ';'; p++)
				;
			if (*p != 'm')
				return false;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f || *p == 0xc0 || *p == 0xc1 || *p >= 0xf5)
			return false;
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return false;
	}
	return true;
}

/* Whether the first n bytes of a colourless line end between two of its
 * characters, not inside an escape or a UTF-8 sequence. */
static bool at_boundary(const char *full, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = full[i];

		if (c == '\\')
			i += full[i + 1] == 'x' ? 4 : 2;
		else
			i += c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	}
	return i == n;
}

static size_t count_esc(const char *s)
{
	size_t k = 0;

	while ((s = strchr(s, '\033'))) {
		k++;
		s++;
	}
	return k;
}

/* Event text is written with its control bytes made visible, so that a
 * file name or argv cannot erase or forge lines on the operator's screen. */
static void test_compact_escape(void)
{
	/* ESC CSI, CR, LF, BEL, TAB, DEL, C1 CSI, C1 end and NBSP, a
	 * backslash, invalid UTF-8 (0xff, a cut sequence) and valid UTF-8. */
	static const char evil[] = "/tmp/\x1b[2K\r\n\a\t\x7f\xc2\x9b\xc2\x9f\xc2\xa0\\x1b\xff "
				   "caf\xc3\xa9 \xe6\x97\xa5 \xe6\x97!";
	static const char want[] =
	    "08:00:01.123 open     user:root pid=100 bash /tmp/\\x1b[2K\\r\\n\\x07\\t\\x7f"
	    "\\xc2\\x9b\\xc2\\x9f\xc2\xa0\\\\x1b\\xff caf\xc3\xa9 \xe6\x97\xa5 \\xe6\\x97! "
	    "O_WRONLY|O_CREAT|O_CLOEXEC ENOENT";
	struct nh_open_event e;
	struct nh_exec_event x;
	struct nh_attributed a;
	char full[512], color[512], plain[512], buf[512];
	size_t flen, cut, bad = 0;
	const char *p;

	memset(&e, 0, sizeof(e));
	fill_hdr(&e.h, NH_KIND_OPEN);
	e.dirfd = AT_FDCWD;
	e.result = -ENOENT;
	e.open_flags = O_WRONLY | O_CREAT | O_CLOEXEC;
	e.syscall = NH_SYS_OPENAT;
	memcpy(e.path, evil, sizeof(evil) - 1);
	e.path_len = sizeof(evil) - 1;
	a = attr(&e.h);

	compact(&a, false, full, sizeof(full));
	CHECK_STR(full, want);
	CHECK(inert(full, false));
	CHECK(strchr(full, '\033') == NULL);
	CHECK(strstr(full, "\xc2\x9b") == NULL);
	CHECK(strstr(full, "caf\xc3\xa9 \xe6\x97\xa5") != NULL);
	/* a literal backslash cannot pass for an escape */
	CHECK(strstr(full, "\\x1b[2K") && strstr(full, "\\\\x1b\\xff"));

	/* with colour, the formatter's six codes are the only ESC bytes */
	compact(&a, true, color, sizeof(color));
	CHECK(inert(color, true));
	CHECK(count_esc(color) == 6);
	strip_sgr(color, plain, sizeof(plain));
	CHECK_STR(plain, want);

	/* cut at every length: terminated, a prefix, never inside an escape or
	 * a UTF-8 sequence, short of the buffer by less than the longest
	 * escape ("\xc2\x9b", 8 bytes); an exactly sized buffer takes it all */
	flen = strlen(full);
	for (size_t len = 1; len <= flen + 1; len++) {
		char *out = malloc(len);

		if (!out) {
			bad++;
			continue;
		}
		nh_record_activity(&a, &rbuf, &rec);
		nh_compact_format(&rec, false, out, len);
		cut = strnlen(out, len);
		if (cut >= len || !inert(out, false) || strncmp(out, full, cut) != 0 ||
		    !at_boundary(full, cut) || len - 1 - cut >= 8 ||
		    (len == flen + 1 && cut != flen)) {
			fprintf(stderr, "cut %zu: \"%.*s\"\n", len, (int)len, out);
			bad++;
		}
		/* with colour, also no colour left open when the line is cut */
		nh_compact_format(&rec, true, out, len);
		cut = strnlen(out, len);
		strip_sgr(out, plain, sizeof(plain));
		p = strrchr(out, '\033');
		if (cut >= len || !inert(out, true) || strncmp(plain, full, strlen(plain)) != 0 ||
		    (p && strcmp(p, "\033[0m") != 0 && len <= strlen(color))) {
			fprintf(stderr, "colour cut %zu: \"%.*s\"\n", len, (int)len, out);
			bad++;
		}
		free(out);
	}
	CHECK(bad == 0);

	/* the buffer ends where "\x1b" would be cut: it is left out whole */
	p = strstr(full, "\\x1b");
	cut = p ? (size_t)(p - full) : 0;
	compact(&a, false, buf, cut + 3);
	CHECK(p && strlen(buf) == cut && strncmp(buf, full, cut) == 0);
	/* and so is "é", two bytes */
	p = strstr(full, "\xc3\xa9");
	cut = p ? (size_t)(p - full) : 0;
	compact(&a, false, buf, cut + 2);
	CHECK(p && strlen(buf) == cut && buf[cut - 1] == 'f');
	/* a buffer of one byte holds the terminator alone */
	memset(buf, 'z', 4);
	compact(&a, true, buf, 1);
	CHECK(buf[0] == '\0' && buf[1] == 'z');

	/* argv and comm of an exec */
	memset(&x, 0, sizeof(x));
	fill_hdr(&x.h, NH_KIND_EXEC);
	memcpy(x.h.comm, "ba\x1b[2J\nsh", 10);
	memcpy(x.path, "/bin/ls", 7);
	x.path_len = 7;
	memcpy(x.args, "ls\0-l\x1b]0;pwned\a\0a\tb\r\0", 20);
	x.args_len = 20;
	a = attr(&x.h);
	compact(&a, false, buf, sizeof(buf));
	CHECK_STR(buf, "08:00:01.123 exec     user:root pid=100 ba\\x1b[2J\\nsh /bin/ls "
		       "-l\\x1b]0;pwned\\x07 a\\tb\\r");
	CHECK(inert(buf, false));
	compact(&a, true, buf, sizeof(buf));
	CHECK(inert(buf, true) && count_esc(buf) == 6);

	/* every string field the line shows, as a record may carry it */
	for (int i = 0; i < 14; i++) {
		const char *want = "";

		memset(&rec, 0, sizeof(rec));
		rec.kind = NH_WIRE_ACTIVITY;
		rec.time_ns = (uint64_t)((int64_t)MONO_NS + OFFSET_NS);
		rec.identity.key = "user:root";
		rec.activity.event = NH_WIRE_EV_OPEN;
		switch (i) {
		case 0:
			rec.activity.kind = "open\x1b[2J";
			rec.identity.key = NULL;
			want = " open\\x1b[2J -";
			break;
		case 1:
			rec.identity.key = "user:\x1b[2Kroot";
			want = " user:\\x1b[2Kroot ";
			break;
		case 2:
			rec.process.comm = "a\rb";
			want = " a\\rb ";
			break;
		case 3:
			rec.activity.path = "a\001b";
			rec.activity.result = -EPERM;
			want = " a\\x01b O_RDONLY EPERM";
			break;
		case 4:
			rec.activity.event = NH_WIRE_EV_EXEC;
			rec.activity.path = "/x\n";
			rec.activity.args[0] = "x";
			rec.activity.args[1] = "-\x1b";
			rec.activity.args[2] = "";
			rec.activity.args[3] = "5";
			rec.activity.n_args = 4;
			want = " /x\\n -\\x1b  5";
			break;
		case 5:
			rec.activity.event = NH_WIRE_EV_CONNECT;
			rec.activity.ipv6 = true;
			rec.activity.address = "::1\x1b";
			rec.activity.port = 1;
			rec.activity.result = -ECONNREFUSED;
			want = " -> [::1\\x1b]:1 ECONNREFUSED";
			break;
		case 6:
			rec.activity.event = NH_WIRE_EV_ACCEPT;
			rec.activity.address = "1.2.3.4\r";
			rec.activity.port = 1;
			rec.activity.local_port = 2;
			want = " <- 1.2.3.4\\r:1 on :2";
			break;
		case 7:
			rec.activity.event = NH_WIRE_EV_SETUID;
			rec.activity.syscall = "set\x1buid";
			want = " (set\\x1buid)";
			break;
		case 8:
			rec.activity.event = NH_WIRE_EV_SUMMARY;
			rec.activity.of = NH_WIRE_EV_OPEN;
			rec.activity.count = 2;
			rec.activity.object = "/p\x1b";
			want = " open x2 /p\\x1b";
			break;
		case 9:
			rec.kind = NH_WIRE_LOSS;
			rec.loss.counts[rec.loss.n_counts++] = (struct nh_wire_counter){"e\x1b", 3};
			rec.loss.source = "s\n";
			want = " 3 e\\x1b events lost (s\\n)";
			break;
		case 10:
			rec.kind = NH_WIRE_CREDENTIAL_USE;
			rec.credential_use =
			    (struct nh_wire_credential_use){.credential_kind = "k\a",
							    .credential = "/c\x1b",
							    .via = "v",
							    .count = 1};
			want = " k\\x07 /c\\x1b via v";
			break;
		case 11:
			rec.kind = NH_WIRE_ANOMALY;
			rec.anomaly.category = NH_WIRE_CAT_FILE;
			rec.anomaly.severity = NH_WIRE_SEV_HIGH;
			rec.anomaly.value = "v\r";
			want = " high file v\\r";
			break;
		case 12:
			rec.kind = NH_WIRE_CREDENTIAL_USE;
			rec.credential_use =
			    (struct nh_wire_credential_use){.credential_kind = "sa_token",
							    .credential = "/c",
							    .via = "openat",
							    .count = 1,
							    .path = "/proc/self/root/c\x1b",
							    .path_truncated = true,
							    .matched_by = "inode"};
			want = " /c via openat as /proc/self/root/c\\x1b...";
			break;
		case 13:
			rec.activity.event = NH_WIRE_EV_OPEN;
			rec.activity.path = "../t";
			rec.activity.credential = "/c\n";
			rec.activity.credential_kind = "sa_token";
			want = " ../t O_RDONLY = sa_token /c\\n";
			break;
		}
		nh_compact_format(&rec, false, buf, sizeof(buf));
		if (!inert(buf, false) || !strstr(buf, want))
			fprintf(stderr, "field %d: \"%s\"\n", i, buf);
		CHECK(inert(buf, false));
		CHECK(strstr(buf, want) != NULL);
		nh_compact_format(&rec, true, buf, sizeof(buf));
		CHECK(inert(buf, true));
	}
}

int main(void)
{
	test_time();
	test_addr();
	test_open_flags();
	test_exec();
	test_exec_long();
	test_open();
	test_credential_paths();
	test_connect_accept();
	test_creds();
	test_process();
	test_summary();
	test_object();
	test_compact();
	test_compact_escape();
	return nh_check_report("render");
}
