/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for agent/decode.c: every record kind at its exact size, and
 * every way a record can be short, long, of an unknown kind or carry an
 * out-of-range length or enum.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "decode.h"
#include "nhiscope.h"

/* Large enough for the biggest record plus slack, aligned like a ring buffer record. */
static union {
	struct nh_hdr h;
	struct nh_exec_event exec;
	struct nh_fork_event fork;
	struct nh_exit_event exit;
	struct nh_connect_event connect;
	struct nh_accept_event accept;
	struct nh_open_event open;
	struct nh_cred_event cred;
	struct nh_capset_event capset;
	struct nh_summary_event summary;
	struct nh_cgroup_event cgroup;
	struct nh_flood_event flood;
	unsigned char bytes[sizeof(struct nh_exec_event) + 64];
} rec;

static const struct nh_hdr sentinel;

/* A zeroed record of @kind that is valid as far as its payload goes. */
static void fabricate(uint32_t kind)
{
	memset(&rec, 0, sizeof(rec));
	rec.h.kind = kind;
	rec.h.ts_ns = 123456789;
	rec.h.cgroup_id = 4242;
	rec.h.tgid = 100;
	rec.h.pid = 101;
	memcpy(rec.h.comm, "worker", 7);
	switch (kind) {
	case NH_KIND_EXEC:
		memcpy(rec.exec.path, "/bin/true", 9);
		rec.exec.path_len = 9;
		memcpy(rec.exec.args, "true\0-x", 8);
		rec.exec.args_len = 8;
		break;
	case NH_KIND_OPEN:
		memcpy(rec.open.path, "/etc/hosts", 10);
		rec.open.path_len = 10;
		rec.open.syscall = NH_SYS_OPENAT;
		break;
	case NH_KIND_ACCEPT:
		rec.accept.syscall = NH_SYS_ACCEPT4;
		break;
	case NH_KIND_SETUID:
		rec.cred.syscall = NH_SYS_SETRESUID;
		break;
	case NH_KIND_SETGID:
		rec.cred.syscall = NH_SYS_SETGID;
		break;
	case NH_KIND_SUMMARY:
		rec.summary.key.kind = NH_KIND_OPEN;
		rec.summary.count = 7;
		break;
	default:
		break;
	}
}

/* The record sizes bpf/nhiscope.h defines: a kernel kind's record is one
 * of them. Which one is the decoder's table; it is not restated here. */
static const size_t header_sizes[] = {
    sizeof(struct nh_exec_event),    sizeof(struct nh_fork_event),
    sizeof(struct nh_exit_event),    sizeof(struct nh_connect_event),
    sizeof(struct nh_accept_event),  sizeof(struct nh_open_event),
    sizeof(struct nh_cred_event),    sizeof(struct nh_capset_event),
    sizeof(struct nh_summary_event), sizeof(struct nh_cgroup_event),
    sizeof(struct nh_send_event),    sizeof(struct nh_unix_event),
    sizeof(struct nh_op_event),	     sizeof(struct nh_flood_event),
    sizeof(struct nh_ring_event),    sizeof(struct nh_compat_event),
};

/* The one size the decoder takes a full record of each kind at (0: it
 * takes none: a gap in the enum, or a kind only the agent makes). */
static size_t kind_sizes[NH_KIND_MAX];

static void probe_sizes(void)
{
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		const struct nh_hdr *out;

		fabricate(k);
		if (k == NH_KIND_EXEC) /* a full one: its argv fills the record */
			rec.exec.args_len = NH_ARGS_MAX;
		for (size_t n = sizeof(struct nh_hdr); n <= sizeof(rec) && !kind_sizes[k]; n++)
			if (nh_decode(&rec, n, &out) == 0)
				kind_sizes[k] = n;
	}
}

static size_t size_of_kind(uint32_t k)
{
	return k < NH_KIND_MAX ? kind_sizes[k] : 0;
}

/* Kinds the kernel sends: the enum has gaps (ranges reserved per change)
 * and kinds only the agent makes. */
static int kernel_kind(uint32_t k)
{
	return size_of_kind(k) != 0;
}

/* Names bpf/nhiscope.h gives: for each enumerator PREFIX_NAME [= N], the
 * lower-case NAME at N. The decoder's names must be these (no second
 * table of them here). */
static void header_enum(const char *prefix, char names[][32], size_t max)
{
	FILE *f = fopen("bpf/nhiscope.h", "re");
	size_t plen = strlen(prefix);
	char line[512];
	long next = 0;

	CHECK(f != NULL); /* run from the source tree, as tests/run does */
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), id[64];
		long v;
		int n = 0;

		if (strncmp(p, prefix, plen) != 0 || sscanf(p, "%63[A-Z0-9_]%n", id, &n) != 1)
			continue;
		p += n + strspn(p + n, " \t");
		if (*p == '=') {
			if (sscanf(p + 1, " %li", &v) != 1)
				continue;
		} else if (*p == ',') {
			v = next;
		} else {
			continue;
		}
		next = v + 1;
		if (strcmp(id + plen, "MAX") == 0 || v < 0 || (size_t)v >= max)
			continue;
		for (char *c = id + plen; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		snprintf(names[v], 32, "%s", id + plen);
	}
	fclose(f);
}

/* Kinds bpf/nhiscope.h numbers that only the agent makes (its comment
 * says so): named, but never decoded. */
static bool agent_made(uint32_t k)
{
	return k == NH_KIND_MONITORING_GAP;
}

static void test_sizes_from_header(void)
{
	static char names[NH_KIND_MAX][32];

	header_enum("NH_KIND_", names, NH_KIND_MAX);
	CHECK_STR(names[NH_KIND_OPEN], "open"); /* the parse itself */
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		bool known = false;

		for (size_t i = 0; i < sizeof(header_sizes) / sizeof(header_sizes[0]); i++)
			known |= kind_sizes[k] == header_sizes[i];
		if (names[k][0] && !agent_made(k)) {
			if (!known)
				fprintf(stderr,
					"  (kind %u: size %zu is no record of nhiscope.h)\n", k,
					kind_sizes[k]);
			CHECK(known);
		} else {
			CHECK(kind_sizes[k] == 0);
		}
	}
}

/* Decode the current record; on failure *out must be left untouched. */
static int decode(size_t size)
{
	const struct nh_hdr *out = &sentinel;
	int rc = nh_decode(&rec, size, &out);

	if (rc == 0)
		CHECK(out == &rec.h);
	else
		CHECK(out == &sentinel);
	return rc;
}

static void test_every_kind_decodes(void)
{
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		size_t size = size_of_kind(k);

		if (!kernel_kind(k)) { /* unknown to the decoder too */
			fabricate(NH_KIND_FORK);
			rec.h.kind = k;
			CHECK(decode(sizeof(struct nh_fork_event)) == -EINVAL);
			continue;
		}
		CHECK(size >= sizeof(struct nh_hdr));
		fabricate(k);
		if (decode(size) != 0) {
			fprintf(stderr, "  (kind %u of size %zu rejected)\n", k, size);
			CHECK(0);
		}
	}
}

static void test_too_short(void)
{
	const struct nh_hdr *out = &sentinel;

	fabricate(NH_KIND_FORK);
	CHECK(decode(0) == -EINVAL);
	CHECK(decode(1) == -EINVAL);
	CHECK(decode(sizeof(struct nh_hdr) - 1) == -EINVAL);
	CHECK(nh_decode(NULL, sizeof(struct nh_fork_event), &out) == -EINVAL);
	CHECK(out == &sentinel);
	/* a bare header is long enough to read the kind, but not a record */
	CHECK(decode(sizeof(struct nh_hdr)) == -EBADMSG);
}

static void test_unknown_kind(void)
{
	static const uint32_t bad[] = {NH_KIND_NONE, NH_KIND_MAX, NH_KIND_MAX + 1, 0x7fffffff,
				       0xffffffff};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fabricate(NH_KIND_FORK);
		rec.h.kind = bad[i];
		CHECK(decode(sizeof(struct nh_fork_event)) == -EINVAL);
		CHECK(decode(sizeof(struct nh_hdr)) == -EINVAL);
		CHECK(decode(sizeof(struct nh_exec_event)) == -EINVAL);
	}
}

static void test_wrong_size(void)
{
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		size_t size = size_of_kind(k);

		if (!kernel_kind(k))
			continue;
		fabricate(k);
		if (k == NH_KIND_EXEC) /* a full one: its argv fills the record */
			rec.exec.args_len = NH_ARGS_MAX;
		CHECK(decode(size - 1) == -EBADMSG);
		CHECK(decode(size + 1) == -EBADMSG);
		CHECK(decode(size + 8) == -EBADMSG);
		CHECK(decode(size) == 0);
	}
	/* the size of another kind is not good enough */
	fabricate(NH_KIND_EXEC);
	rec.exec.args_len = 100;
	CHECK(decode(sizeof(struct nh_open_event)) == -EBADMSG);
	fabricate(NH_KIND_OPEN);
	CHECK(decode(sizeof(struct nh_exec_event)) == -EBADMSG);
	fabricate(NH_KIND_CONNECT);
	CHECK(decode(sizeof(struct nh_capset_event)) == -EBADMSG);
}

static void test_exec_bounds(void)
{
	const size_t size = sizeof(struct nh_exec_event);

	fabricate(NH_KIND_EXEC);
	rec.exec.path_len = NH_PATH_MAX - 1;
	CHECK(decode(size) == 0);
	rec.exec.path_len = NH_PATH_MAX;
	CHECK(decode(size) == -EBADMSG);
	rec.exec.path_len = 0xffff;
	CHECK(decode(size) == -EBADMSG);

	fabricate(NH_KIND_EXEC);
	rec.exec.args_len = 0;
	CHECK(decode(size) == 0);
	rec.exec.args_len = NH_ARGS_MAX;
	CHECK(decode(size) == 0);
	rec.exec.args_len = NH_ARGS_MAX + 1;
	CHECK(decode(size) == -EBADMSG);
	rec.exec.args_len = 0xffff;
	CHECK(decode(size) == -EBADMSG);
}

/* An exec record is as long as its argv: header and path, then exactly
 * args_len bytes or more, up to the largest record. */
static void test_exec_variable_size(void)
{
	const size_t head = offsetof(struct nh_exec_event, args);

	fabricate(NH_KIND_EXEC);
	rec.exec.args_len = 5;
	CHECK(decode(head + 5) == 0);
	CHECK(decode(head + 8) == 0); /* slack after the argv */
	CHECK(decode(head + 4) == -EBADMSG);
	CHECK(decode(head - 1) == -EBADMSG);
	CHECK(decode(sizeof(struct nh_exec_event) + 1) == -EBADMSG);
	rec.exec.args_len = 0;
	CHECK(decode(head) == 0);
	rec.exec.args_len = NH_ARGS_MAX;
	CHECK(decode(head + NH_ARGS_MAX - 1) == -EBADMSG);
	CHECK(decode(head + NH_ARGS_MAX) == 0);
}

static void test_open_bounds(void)
{
	const size_t size = sizeof(struct nh_open_event);

	fabricate(NH_KIND_OPEN);
	rec.open.path_len = NH_PATH_MAX - 1;
	CHECK(decode(size) == 0);
	rec.open.path_len = NH_PATH_MAX;
	CHECK(decode(size) == -EBADMSG);
	rec.open.path_len = 0xffff;
	CHECK(decode(size) == -EBADMSG);

	fabricate(NH_KIND_OPEN);
	rec.open.syscall = NH_SYS_MAX - 1;
	CHECK(decode(size) == 0);
	rec.open.syscall = NH_SYS_MAX;
	CHECK(decode(size) == -EBADMSG);
	rec.open.syscall = 0xffff;
	CHECK(decode(size) == -EBADMSG);
}

static void test_bad_syscalls(void)
{
	static const uint32_t cred_kinds[] = {NH_KIND_SETUID, NH_KIND_SETGID};

	for (size_t i = 0; i < 2; i++) {
		fabricate(cred_kinds[i]);
		rec.cred.syscall = NH_SYS_MAX;
		CHECK(decode(sizeof(struct nh_cred_event)) == -EBADMSG);
		rec.cred.syscall = 0xffffffff;
		CHECK(decode(sizeof(struct nh_cred_event)) == -EBADMSG);
		rec.cred.syscall = NH_SYS_NONE;
		CHECK(decode(sizeof(struct nh_cred_event)) == 0);
	}
	fabricate(NH_KIND_ACCEPT);
	rec.accept.syscall = NH_SYS_MAX;
	CHECK(decode(sizeof(struct nh_accept_event)) == -EBADMSG);
	rec.accept.syscall = 0xffff;
	CHECK(decode(sizeof(struct nh_accept_event)) == -EBADMSG);
	rec.accept.syscall = NH_SYS_ACCEPT;
	CHECK(decode(sizeof(struct nh_accept_event)) == 0);
}

static void test_summary_inner_kind(void)
{
	const size_t size = sizeof(struct nh_summary_event);
	static const uint32_t bad[] = {NH_KIND_NONE, NH_KIND_MAX, 0xffffffff, 19, 39};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fabricate(NH_KIND_SUMMARY);
		rec.summary.key.kind = bad[i];
		CHECK(decode(size) == -EBADMSG);
	}
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++) {
		if (!kernel_kind(k))
			continue;
		fabricate(NH_KIND_SUMMARY);
		rec.summary.key.kind = k;
		CHECK(decode(size) == 0);
	}
}

static void test_kind_names(void)
{
	static char names[NH_KIND_MAX][32];
	const char *expect[NH_KIND_MAX] = {0};

	header_enum("NH_KIND_", names, NH_KIND_MAX);
	for (uint32_t k = 0; k < NH_KIND_MAX; k++)
		expect[k] = names[k][0] ? names[k] : NULL;
	CHECK_STR(expect[NH_KIND_CGROUP_RMDIR], "cgroup_rmdir"); /* the parse itself */
	/* unnamed kinds (gaps in the enum) are "unknown" and parse to nothing */
	for (uint32_t k = 0; k < NH_KIND_MAX; k++)
		CHECK_STR(nh_kind_name(k), expect[k] ? expect[k] : "unknown");
	for (uint32_t k = NH_KIND_NONE + 1; k < NH_KIND_MAX; k++)
		if (expect[k])
			CHECK(nh_kind_parse(nh_kind_name(k)) == (int)k);
	CHECK(nh_kind_parse("unknown") == -EINVAL);
	/* names are distinct */
	for (uint32_t a = 0; a < NH_KIND_ALL; a++)
		for (uint32_t b = a + 1; b < NH_KIND_ALL; b++)
			if (nh_kind_named(a) && nh_kind_named(b))
				CHECK(strcmp(nh_kind_name(a), nh_kind_name(b)) != 0);
	/* the agent's own kinds come after the kernel's, and are listed */
	for (uint32_t k = NH_KIND_MAX; k < NH_KIND_ALL; k++) {
		CHECK(nh_kind_parse(nh_kind_name(k)) == (int)k);
		CHECK(strstr(nh_kind_list(), nh_kind_name(k)) != NULL);
	}
	CHECK_STR(nh_kind_name(NH_KIND_LOSS), "loss");
	CHECK_STR(nh_kind_name(NH_KIND_CREDENTIAL_USE), "credential_use");
	CHECK_STR(nh_kind_name(NH_KIND_ALL), "unknown");
	CHECK_STR(nh_kind_name(0xffffffff), "unknown");

	/* "none" names no event, so it cannot be asked for */
	CHECK(nh_kind_parse("none") == -EINVAL);
	CHECK(nh_kind_parse("unknown") == -EINVAL);
	CHECK(nh_kind_parse("") == -EINVAL);
	CHECK(nh_kind_parse("EXEC") == -EINVAL);
	CHECK(nh_kind_parse("exec ") == -EINVAL);
	CHECK(nh_kind_parse("exe") == -EINVAL);
	CHECK(nh_kind_parse("execve") == -EINVAL);
	CHECK(nh_kind_parse("loss") == NH_KIND_LOSS);
	CHECK(nh_kind_parse("credential-use") == -EINVAL);
	CHECK(nh_kind_parse("cgroup-rmdir") == -EINVAL);
}

static void test_syscall_names(void)
{
	static char names[NH_SYS_MAX][32];
	const char *expect[NH_SYS_MAX] = {0};

	header_enum("NH_SYS_", names, NH_SYS_MAX);
	for (uint32_t s = 0; s < NH_SYS_MAX; s++)
		expect[s] = names[s][0] ? names[s] : NULL;
	CHECK_STR(expect[NH_SYS_OPEN_BY_HANDLE_AT], "open_by_handle_at"); /* the parse itself */
	expect[NH_SYS_NONE] = ""; /* no syscall: an empty name */
	for (uint32_t s = 0; s < NH_SYS_MAX; s++)
		CHECK_STR(nh_syscall_name(s), expect[s] ? expect[s] : "unknown");
	CHECK_STR(nh_syscall_name(NH_SYS_MAX), "unknown");
	CHECK_STR(nh_syscall_name(0xffff), "unknown");
	CHECK_STR(nh_syscall_name(0xffffffff), "unknown");
}

int main(void)
{
	probe_sizes();
	test_sizes_from_header();
	test_every_kind_decodes();
	test_too_short();
	test_unknown_kind();
	test_wrong_size();
	test_exec_bounds();
	test_exec_variable_size();
	test_open_bounds();
	test_bad_syscalls();
	test_summary_inner_kind();
	test_kind_names();
	test_syscall_names();
	return nh_check_report("decode");
}
