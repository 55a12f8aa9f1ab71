/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the kinds of issue 17: operation names (opname.c), the
 * runtime and kubelet sockets by inode (sockets.c), and a send, a Unix
 * connect, a ptrace and a privileged exec through the record, the wire
 * and the tail JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "baseline.h"
#include "check.h"
#include "decode.h"
#include "opname.h"
#include "record.h"
#include "recordjson.h"
#include "render.h"
#include "sockets.h"
#include "wire.h"

static uint8_t buf[NH_WIRE_MAX];

static void test_opname(void)
{
	char b[128];

	CHECK_STR(nh_opname(NH_SYS_UNSHARE, 0x00020000 | 0x20000000, b, sizeof(b)), "newns|newpid");
	CHECK_STR(nh_opname(NH_SYS_UNSHARE, 0x00020000 | 0x1, b, sizeof(b)), "newns|0x1");
	CHECK_STR(nh_opname(NH_SYS_SETNS, 0, b, sizeof(b)), "any");
	CHECK_STR(nh_opname(NH_SYS_PTRACE, 16, b, sizeof(b)), "attach");
	CHECK_STR(nh_opname(NH_SYS_PTRACE, 0x4206, b, sizeof(b)), "seize");
	CHECK_STR(nh_opname(NH_SYS_PTRACE, 12345, b, sizeof(b)), "12345");
	CHECK_STR(nh_opname(NH_SYS_BPF, 5, b, sizeof(b)), "prog_load");
	CHECK_STR(nh_opname(NH_SYS_BPF, 9999, b, sizeof(b)), "9999");
	CHECK_STR(nh_opname(NH_SYS_MOUNT, 4096 | 16384, b, sizeof(b)), "bind|rec");
	CHECK_STR(nh_opname(NH_SYS_OPENAT, 1, b, sizeof(b)), "");
	/* a short buffer is cut, never overrun */
	CHECK(strlen(nh_opname(NH_SYS_UNSHARE, 0x7e020000, b, 8)) < 8);
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	return fd;
}

static void test_sockets(void)
{
	static struct nh_sockets s;
	char root[] = "/tmp/nh-sockets-XXXXXX", dir[256], sock[300], fake[300];
	const struct nh_socket_entry *e;
	struct stat st;
	uint64_t dev;
	int fd, f;

	CHECK(mkdtemp(root) != NULL);
	snprintf(dir, sizeof(dir), "%s/pod-resources", root);
	CHECK(mkdir(dir, 0700) == 0);
	snprintf(sock, sizeof(sock), "%s/kubelet.sock", dir);
	fd = bind_unix(sock);
	CHECK(fd >= 0);
	CHECK(stat(sock, &st) == 0);
	dev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);

	nh_sockets_init(&s, root);
	nh_sockets_refresh(&s, 1000, 5);
	e = nh_sockets_match(&s, dev, st.st_ino);
	CHECK(e != NULL);
	if (e) {
		CHECK_STR(e->kind, "kubelet_socket");
		CHECK_STR(e->path, sock);
	}
	CHECK(nh_sockets_match(&s, dev, st.st_ino + 1) == NULL);
	CHECK(nh_sockets_match(&s, dev + 1, st.st_ino) == NULL);
	CHECK(nh_sockets_match(&s, dev, 0) == NULL);

	/* a plain file or a symlink at the path is not the kubelet's socket */
	unlink(sock);
	close(fd);
	snprintf(fake, sizeof(fake), "%s/elsewhere", root);
	f = open(fake, O_CREAT | O_WRONLY, 0600);
	CHECK(f >= 0);
	close(f);
	CHECK(symlink(fake, sock) == 0);
	nh_sockets_refresh(&s, 1002, 5); /* not yet: the table is kept */
	CHECK(s.n == 1);
	nh_sockets_refresh(&s, 2000, 5);
	CHECK(s.n == 0);
	unlink(sock);
	unlink(fake);
	rmdir(dir);
	rmdir(root);
}

static void attributed(struct nh_attributed *a, struct nh_hdr *h, uint32_t kind)
{
	memset(a, 0, sizeof(*a));
	h->kind = kind;
	h->ts_ns = 5000000000ULL;
	h->tgid = 42;
	h->pid = 42;
	h->uid = 65534;
	memcpy(h->comm, "evil", 5);
	a->h = h;
	a->identity = "k8s:pod/abc";
}

/* pack, unpack, JSON of the unpacked record */
static json_object *round_trip(const struct nh_wire_record *r, struct nh_wire_record *back)
{
	struct nh_wire_record *w = (struct nh_wire_record *)r;
	const char *why = NULL;
	size_t len = 0;

	w->id = (struct nh_wire_id){.node = "node-1", .boot_id = "b", .seq = 1};
	if (nh_wire_check(r, &why))
		fprintf(stderr, "  (wire: %s)\n", why);
	CHECK(nh_wire_pack(r, buf, sizeof(buf), &len) == 0);
	CHECK(nh_wire_unpack(buf, len, back, &why) == 0);
	return nh_recordjson(back);
}

static const char *get(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_send_record(void)
{
	static struct nh_record_buf rb;
	static struct nh_wire_record r, back;
	struct nh_send_event e = {0};
	struct nh_attributed a;
	json_object *o;

	attributed(&a, &e.h, NH_KIND_SEND);
	e.h.flags = NH_F_USER_ADDR;
	e.dst.family = AF_INET;
	e.dst.port = 53;
	memcpy(e.dst.addr, "\x0a\x00\x00\x01", 4);
	e.fd = 3;
	e.result = 1;
	e.syscall = NH_SYS_SENDMMSG;
	e.msg_index = 7;
	nh_record_activity(&a, &rb, &r);
	CHECK(r.activity.event == NH_WIRE_EV_SEND);
	o = round_trip(&r, &back);
	CHECK(back.activity.msg_index == 7 && back.activity.user_address);
	CHECK_STR(get(o, "kind"), "send");
	CHECK_STR(get(o, "syscall"), "sendmmsg");
	CHECK_STR(get(o, "address"), "10.0.0.1");
	CHECK_STR(get(o, "port"), "53");
	CHECK_STR(get(o, "msg_index"), "7");
	CHECK_STR(get(o, "user_address"), "true");
	json_object_put(o);
	nh_wire_free(&back);
}

/* io_uring (bpf/iouring.bpf.c): an open through a ring says so in the
 * record, the wire and the JSON; a request without completion says its
 * result is unknown; a ring's setup is its own kind with its flags. */
static void test_uring_records(void)
{
	static struct nh_record_buf rb;
	static struct nh_wire_record r, back;
	struct nh_open_event e = {0};
	struct nh_ring_event g = {0};
	struct nh_attributed a;
	json_object *o;
	char b[128], obj[256];

	attributed(&a, &e.h, NH_KIND_OPEN);
	e.h.flags = NH_F_IO_URING | NH_F_URING_NO_CQE;
	e.syscall = NH_SYS_OPENAT2;
	memcpy(e.path, "/etc/shadow", 11);
	e.path_len = 11;
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	CHECK_STR(back.activity.via, "io_uring");
	CHECK(back.activity.result_unknown);
	CHECK_STR(get(o, "via"), "io_uring");
	CHECK_STR(get(o, "syscall"), "openat2");
	CHECK_STR(get(o, "result_unknown"), "true");
	json_object_put(o);
	nh_wire_free(&back);

	/* a syscall's open has neither */
	e.h.flags = 0;
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	CHECK(back.activity.via == NULL || !*back.activity.via);
	CHECK(get(o, "via") == NULL && get(o, "result_unknown") == NULL);
	json_object_put(o);
	nh_wire_free(&back);

	attributed(&a, &g.h, NH_KIND_IO_URING_CREATE);
	g.h.flags = NH_F_IO_URING;
	g.fd = 5;
	g.setup_flags = 2 | (1 << 12);
	nh_record_activity(&a, &rb, &r);
	CHECK(r.activity.event == NH_WIRE_EV_IO_URING_CREATE);
	o = round_trip(&r, &back);
	CHECK_STR(get(o, "kind"), "io_uring_create");
	CHECK_STR(get(o, "syscall"), "io_uring_setup");
	CHECK_STR(get(o, "op"), "sqpoll|single_issuer");
	CHECK_STR(get(o, "fd"), "5");
	json_object_put(o);
	nh_wire_free(&back);
	nh_render_object(&g.h, obj, sizeof(obj));
	CHECK_STR(obj, "io_uring_setup sqpoll");
	CHECK_STR(nh_opname(NH_SYS_IO_URING_SETUP, 1 | (1 << 30), b, sizeof(b)),
		  "iopoll|0x40000000");
}

static void test_unix_record(void)
{
	static struct nh_record_buf rb;
	static struct nh_wire_record r, back;
	struct nh_unix_event e = {0};
	struct nh_attributed a;
	json_object *o;
	char obj[256];

	attributed(&a, &e.h, NH_KIND_UNIX_CONNECT);
	e.dev = 259 << 20 | 1;
	e.ino = 4242;
	e.sock_type = 1;
	memcpy(e.path, "\0abstract\0tail", 14);
	e.path_len = 14;
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	/* an abstract name is shown with '@', up to its first NUL */
	CHECK_STR(get(o, "path"), "@abstract");
	CHECK_STR(get(o, "sock_type"), "stream");
	CHECK_STR(get(o, "inode"), "4242");
	CHECK(back.activity.device == e.dev);
	nh_render_object(&e.h, obj, sizeof(obj));
	CHECK_STR(obj, "@abstract");
	json_object_put(o);
	nh_wire_free(&back);
}

static void test_op_and_exec_records(void)
{
	static struct nh_record_buf rb;
	static struct nh_wire_record r, back;
	static struct nh_exec_event x;
	struct nh_op_event e = {0};
	struct nh_attributed a;
	json_object *o;

	attributed(&a, &e.h, NH_KIND_PTRACE);
	e.syscall = NH_SYS_PTRACE;
	e.op = 16;
	e.target_pid = 1;
	e.result = -1;
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	CHECK_STR(get(o, "kind"), "ptrace");
	CHECK_STR(get(o, "op"), "attach");
	CHECK_STR(get(o, "target_pid"), "1");
	CHECK_STR(get(o, "error"), "EPERM");
	json_object_put(o);
	nh_wire_free(&back);

	attributed(&a, &x.h, NH_KIND_EXEC);
	x.h.flags = NH_F_PRIV_EXEC | NH_F_COMPAT32;
	memcpy(x.path, "/usr/bin/su", 11);
	x.path_len = 11;
	x.euid = 0;
	x.egid = 0;
	x.cap_permitted = 1ull << 21;
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	CHECK_STR(get(o, "privileged_exec"), "true");
	CHECK_STR(get(o, "euid"), "0");
	CHECK_STR(get(o, "cap_permitted"), "0x0000000000200000");
	CHECK_STR(get(o, "compat32"), "true");
	json_object_put(o);
	nh_wire_free(&back);
}

/* The compat monitor's event: what it asked for, flagged 32-bit and read
 * from the caller's memory, through the record, the wire and the JSON. */
static void test_compat_record(void)
{
	static struct nh_record_buf rb;
	static struct nh_wire_record r, back;
	static struct nh_compat_event e;
	struct nh_attributed a;
	char line[512];
	json_object *o;

	attributed(&a, &e.h, NH_KIND_COMPAT_SYSCALL);
	e.h.flags = NH_F_COMPAT32 | NH_F_USER_ADDR;
	e.syscall = NH_SYS_OPEN;
	e.nr = 5;
	memcpy(e.path, "/run/secrets/token", 18);
	e.path_len = 18;
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	CHECK_STR(get(o, "kind"), "compat_syscall");
	CHECK_STR(get(o, "syscall"), "open");
	CHECK_STR(get(o, "op"), "ia32:5");
	CHECK_STR(get(o, "path"), "/run/secrets/token");
	CHECK_STR(get(o, "compat32"), "true");
	CHECK_STR(get(o, "user_address"), "true");
	json_object_put(o);
	nh_wire_free(&back);

	memset(&e, 0, sizeof(e));
	attributed(&a, &e.h, NH_KIND_COMPAT_SYSCALL);
	e.h.flags = NH_F_COMPAT32 | NH_F_USER_ADDR;
	e.syscall = NH_SYS_SOCKETCALL;
	e.nr = 102;
	e.dst.family = AF_INET;
	e.dst.port = 8443;
	memcpy(e.dst.addr, "\x7f\0\0\x01", 4);
	nh_record_activity(&a, &rb, &r);
	o = round_trip(&r, &back);
	CHECK_STR(get(o, "syscall"), "socketcall");
	CHECK_STR(get(o, "address"), "127.0.0.1");
	CHECK_STR(get(o, "port"), "8443");
	json_object_put(o);
	nh_wire_free(&back);
	nh_render_object(&e.h, line, sizeof(line));
	CHECK(strstr(line, "ia32 102 socketcall") != NULL);
	CHECK(strstr(line, "127.0.0.1") != NULL);
}

/* A record of a number no kind has is refused by the wire. */
static void test_unnamed_event_refused(void)
{
	static struct nh_wire_record r;
	const char *why = NULL;

	r.kind = NH_WIRE_ACTIVITY;
	r.id = (struct nh_wire_id){.node = "node-1", .boot_id = "b", .seq = 1};
	r.identity.key = "user:root";
	r.time_ns = 1;
	r.activity.event = (enum nh_wire_event)20;
	CHECK(nh_wire_check(&r, &why) == -EINVAL);
	r.activity.event = NH_WIRE_EV_SUMMARY;
	r.activity.of = (enum nh_wire_event)20;
	CHECK(nh_wire_check(&r, &why) == -EINVAL);
	r.activity.of = NH_WIRE_EV_SEND;
	if (nh_wire_check(&r, &why))
		fprintf(stderr, "  (wire: %s)\n", why);
	CHECK(nh_wire_check(&r, &why) == 0);
	CHECK_STR(nh_wire_event_name((enum nh_wire_event)20), "unknown");
	CHECK(nh_wire_event_parse("unix_connect") == NH_WIRE_EV_UNIX_CONNECT);
}

struct got {
	int n;
	enum nh_wire_category cat[8];
	char value[8][160];
	const char *technique[8];
};

static void collect(void *ctx, struct nh_wire_record *r)
{
	struct got *g = ctx;

	if (r->kind != NH_WIRE_ANOMALY || g->n >= 8)
		return;
	g->cat[g->n] = r->anomaly.category;
	snprintf(g->value[g->n], sizeof(g->value[0]), "%s", r->anomaly.value);
	g->technique[g->n] = r->anomaly.technique_id;
	g->n++;
}

/* Once a profile is stable: a new send destination is an egress anomaly,
 * a setuid-binary exec a privilege one (besides the exec), a ptrace an
 * isolation one; a setfsuid that changes nothing is not behaviour. */
static void test_baseline(void)
{
	static struct nh_baseline b;
	static struct got g;
	static struct nh_exec_event x;
	struct nh_model_config cfg;
	struct nh_send_event snd = {0};
	struct nh_op_event op = {0};
	struct nh_cred_event fs = {0};
	struct nh_attributed a;
	bool known;

	nh_model_config_defaults(&cfg);
	cfg.learn_ns = 1000000000ULL;
	cfg.quiet_ns = 1000000000ULL;
	CHECK(nh_baseline_init(&b, &cfg, 16) == 0);
	attributed(&a, &x.h, NH_KIND_EXEC);
	memcpy(x.path, "/app", 4);
	x.path_len = 4;
	nh_baseline_event(&b, &a, collect, &g, &known);
	nh_baseline_tick(&b, 10000000000ULL, collect, &g);
	CHECK(g.n == 0);

	attributed(&a, &snd.h, NH_KIND_SEND);
	snd.h.ts_ns = 11000000000ULL;
	snd.dst.family = AF_INET;
	snd.dst.port = 53;
	memcpy(snd.dst.addr, "\x0a\x00\x00\x02", 4);
	snd.result = 1;
	nh_baseline_event(&b, &a, collect, &g, &known);
	CHECK(g.n == 1 && g.cat[0] == NH_WIRE_CAT_EGRESS);

	attributed(&a, &x.h, NH_KIND_EXEC);
	x.h.ts_ns = 12000000000ULL;
	x.h.flags = NH_F_PRIV_EXEC;
	memcpy(x.path, "/usr/bin/su", 11);
	x.path_len = 11;
	nh_baseline_event(&b, &a, collect, &g, &known);
	CHECK(g.n == 3 && g.cat[1] == NH_WIRE_CAT_PRIVILEGE && g.cat[2] == NH_WIRE_CAT_EXEC);
	CHECK(strncmp(g.value[1], "exec /usr/bin/su euid=0", 23) == 0);

	attributed(&a, &op.h, NH_KIND_PTRACE);
	op.h.ts_ns = 13000000000ULL;
	op.syscall = NH_SYS_PTRACE;
	op.op = 16;
	op.target_pid = 1;
	op.result = -1;
	nh_baseline_event(&b, &a, collect, &g, &known);
	CHECK(g.n == 4 && g.cat[3] == NH_WIRE_CAT_ISOLATION);
	CHECK(g.technique[3] && strcmp(g.technique[3], "T1055.008") == 0);

	attributed(&a, &fs.h, NH_KIND_SETUID);
	fs.h.ts_ns = 14000000000ULL;
	fs.syscall = NH_SYS_SETFSUID;
	nh_baseline_event(&b, &a, collect, &g, &known); /* fs id 0 -> 0 */
	CHECK(g.n == 4);
	fs.new_ids[2] = 65534;
	nh_baseline_event(&b, &a, collect, &g, &known);
	CHECK(g.n == 5 && g.cat[4] == NH_WIRE_CAT_PRIVILEGE);
	CHECK(strcmp(g.value[4], "setfsuid 0->65534") == 0);
	nh_baseline_free(&b);
}

int main(void)
{
	test_opname();
	test_sockets();
	test_send_record();
	test_unix_record();
	test_uring_records();
	test_op_and_exec_records();
	test_compat_record();
	test_unnamed_event_refused();
	test_baseline();
	return nh_check_report("coverage");
}
