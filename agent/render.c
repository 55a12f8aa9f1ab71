// SPDX-License-Identifier: Apache-2.0
#include "render.h"
#include "clock.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "secrets.h"

void nh_render_time(uint64_t mono_ns, int64_t wall_offset_ns, char *buf, size_t len)
{
	nh_clock_format((uint64_t)((int64_t)mono_ns + wall_offset_ns), 6, buf, len);
}

void nh_render_addr(const struct nh_sockaddr *sa, char *buf, size_t len)
{
	if (sa->family == AF_INET6)
		inet_ntop(AF_INET6, sa->addr, buf, len);
	else if (sa->family == AF_INET)
		inet_ntop(AF_INET, sa->addr, buf, len);
	else
		snprintf(buf, len, "family-%u", sa->family);
}

void nh_render_open_flags(uint32_t flags, char *buf, size_t len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
	    {O_CREAT, "O_CREAT"},	{O_EXCL, "O_EXCL"},	  {O_NOCTTY, "O_NOCTTY"},
	    {O_TRUNC, "O_TRUNC"},	{O_APPEND, "O_APPEND"},	  {O_NONBLOCK, "O_NONBLOCK"},
	    {O_DSYNC, "O_DSYNC"},	{O_DIRECT, "O_DIRECT"},	  {O_DIRECTORY, "O_DIRECTORY"},
	    {O_NOFOLLOW, "O_NOFOLLOW"}, {O_NOATIME, "O_NOATIME"}, {O_CLOEXEC, "O_CLOEXEC"},
	    {O_PATH, "O_PATH"},
	};
	static const char *const acc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
	size_t n = snprintf(buf, len, "%s", acc[flags & O_ACCMODE]);

	/* O_TMPFILE and O_SYNC contain O_DIRECTORY and O_DSYNC: name the
	 * composite and clear its bits so the part is not named again. */
	if ((flags & O_TMPFILE) == O_TMPFILE && n < len) {
		n += snprintf(buf + n, len - n, "|O_TMPFILE");
		flags &= ~O_TMPFILE;
	}
	if ((flags & O_SYNC) == O_SYNC && n < len) {
		n += snprintf(buf + n, len - n, "|O_SYNC");
		flags &= ~O_SYNC;
	}
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && n < len; i++)
		if ((flags & bits[i].bit) == bits[i].bit)
			n += snprintf(buf + n, len - n, "|%s", bits[i].name);
}

void nh_render_object(const struct nh_hdr *h, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	if (h->kind == NH_KIND_OPEN) {
		const struct nh_open_event *e = (const void *)h;

		snprintf(buf, len, "%.*s", (int)e->path_len, e->path);
	} else if (h->kind == NH_KIND_CONNECT) {
		const struct nh_connect_event *e = (const void *)h;

		nh_render_addr(&e->dst, addr, sizeof(addr));
		snprintf(buf, len, e->dst.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
			 e->dst.port);
	} else if (h->kind == NH_KIND_ACCEPT) {
		const struct nh_accept_event *e = (const void *)h;

		nh_render_addr(&e->peer, addr, sizeof(addr));
		snprintf(buf, len, "%s -> :%u", addr, e->local_port);
	}
}

static void add_bool(json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

/* The token's timing, never the token: when it was issued, when it
 * expires, how old it is and how long it has left. */
static json_object *token_object(const struct nh_sa *sa, int64_t now)
{
	const struct nh_sa_claims *cl = &sa->claims;
	json_object *t = json_object_new_object();

	nh_json_str(t, "state", nh_sa_state_name(sa->state));
	nh_json_str(t, "fingerprint", sa->fingerprint);
	if (cl->iat) {
		nh_json_int(t, "issued_at", cl->iat);
		nh_json_int(t, "age_s", now - cl->iat);
	}
	if (cl->long_lived) {
		add_bool(t, "long_lived", true);
	} else {
		nh_json_int(t, "expires_at", cl->exp);
		nh_json_int(t, "remaining_s", nh_sa_claims_remaining(cl, now));
	}
	if (cl->legacy)
		add_bool(t, "legacy", true);
	return t;
}

static void add_pod(json_object *c, const struct nh_attributed *ev)
{
	const struct nh_sa *sa = ev->sa;

	if (sa && sa->have_claims) {
		nh_json_str(c, "namespace", sa->claims.namespace_);
		nh_json_str(c, "service_account", sa->claims.service_account);
		if (sa->claims.pod_name[0])
			nh_json_str(c, "pod", sa->claims.pod_name);
		if (sa->claims.node_name[0])
			nh_json_str(c, "node", sa->claims.node_name);
		json_object_object_add(c, "token", token_object(sa, ev->wall_now_s));
	} else if (sa) {
		nh_json_str(c, "token_state", nh_sa_state_name(sa->state));
	}
	if (ev->pod) {
		if (!json_object_object_get_ex(c, "pod", NULL) && ev->pod->name[0])
			nh_json_str(c, "pod", ev->pod->name);
		if (!json_object_object_get_ex(c, "namespace", NULL) && ev->pod->namespace_[0])
			nh_json_str(c, "namespace", ev->pod->namespace_);
	}
	if (ev->owner_kind && ev->owner_name) {
		nh_json_str(c, "workload_kind", ev->owner_kind);
		nh_json_str(c, "workload", ev->owner_name);
	}
}

static void add_context(json_object *o, const struct nh_attributed *ev)
{
	const struct nh_cgroup_ctx *cg = ev->cg;
	json_object *c;

	if (!cg)
		return;
	c = json_object_new_object();
	nh_json_str(c, "cgroup", cg->path);
	nh_json_str(c, "kind", nh_cg_kind_name(cg->info.kind));
	if (cg->delegated)
		add_bool(c, "delegated", true);
	if (cg->info.pod_uid[0])
		nh_json_str(c, "pod_uid", cg->info.pod_uid);
	if (cg->info.qos != NH_QOS_NONE)
		nh_json_str(c, "qos", nh_qos_name(cg->info.qos));
	if (cg->info.container_id[0]) {
		nh_json_str(c, "container_id", cg->info.container_id);
		nh_json_str(c, "runtime", nh_runtime_name(cg->info.runtime));
	}
	if (cg->info.unit[0]) {
		nh_json_str(c, "unit", cg->info.unit);
		if (cg->info.user_unit)
			add_bool(c, "user_unit", true);
	}
	add_pod(c, ev);
	json_object_object_add(o, "context", c);
}

/* argv as an array, every secret in it redacted: the value never leaves
 * the agent. *redacted counts the secrets taken out. */
static json_object *args_array(const char *args, size_t len, int *redacted)
{
	json_object *a = json_object_new_array();
	char clean[NH_ARGS_MAX * 2];
	enum nh_secret_next prev_named = NH_NEXT_PLAIN;
	size_t i = 0;

	*redacted = 0;
	while (i < len) {
		size_t n = strnlen(args + i, len - i);

		*redacted += nh_secrets_redact(args + i, n, prev_named, clean, sizeof(clean), NULL);
		json_object_array_add(a, json_object_new_string(clean));
		prev_named = nh_secrets_named_option(args + i, n);
		i += n + 1;
	}
	return a;
}

static json_object *ids_object(const uint32_t ids[3])
{
	json_object *o = json_object_new_object();

	nh_json_int(o, "real", ids[0]);
	nh_json_int(o, "effective", ids[1]);
	nh_json_int(o, "saved", ids[2]);
	return o;
}

static void add_caps(json_object *o, const char *k, uint64_t eff, uint64_t prm, uint64_t inh)
{
	json_object *c = json_object_new_object();
	char hex[24];

	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)eff);
	nh_json_str(c, "effective", hex);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)prm);
	nh_json_str(c, "permitted", hex);
	snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)inh);
	nh_json_str(c, "inheritable", hex);
	json_object_object_add(o, k, c);
}

static void add_kind_fields(json_object *o, const struct nh_attributed *ev)
{
	const struct nh_hdr *h = ev->h;
	char buf[INET6_ADDRSTRLEN + 256];

	switch (h->kind) {
	case NH_KIND_EXEC: {
		const struct nh_exec_event *e = (const void *)h;
		int redacted;

		json_object_object_add(o, "path", json_object_new_string_len(e->path, e->path_len));
		json_object_object_add(o, "args", args_array(e->args, e->args_len, &redacted));
		if (redacted)
			nh_json_int(o, "secrets_redacted", redacted);
		if (e->ns_pid && e->ns_pid != h->tgid)
			nh_json_int(o, "ns_pid", e->ns_pid);
		if (h->flags & NH_F_TTY)
			add_bool(o, "tty", true);
		if (h->flags & NH_F_NS_ENTERED)
			add_bool(o, "entered_namespace", true);
		break;
	}
	case NH_KIND_FORK: {
		const struct nh_fork_event *e = (const void *)h;

		nh_json_int(o, "child_pid", e->child_tgid);
		break;
	}
	case NH_KIND_EXIT: {
		const struct nh_exit_event *e = (const void *)h;

		nh_json_int(o, "exit_code", (e->exit_code >> 8) & 0xff);
		if (e->exit_code & 0x7f)
			nh_json_int(o, "signal", e->exit_code & 0x7f);
		break;
	}
	case NH_KIND_CONNECT: {
		const struct nh_connect_event *e = (const void *)h;

		nh_render_addr(&e->dst, buf, sizeof(buf));
		nh_json_str(o, "family", e->dst.family == AF_INET6 ? "ipv6" : "ipv4");
		nh_json_str(o, "address", buf);
		nh_json_int(o, "port", e->dst.port);
		nh_json_int(o, "fd", e->fd);
		nh_json_result(o, e->result);
		break;
	}
	case NH_KIND_ACCEPT: {
		const struct nh_accept_event *e = (const void *)h;

		nh_json_str(o, "syscall", nh_syscall_name(e->syscall));
		if (e->result >= 0) {
			nh_render_addr(&e->peer, buf, sizeof(buf));
			nh_json_str(o, "family", e->peer.family == AF_INET6 ? "ipv6" : "ipv4");
			nh_json_str(o, "address", buf);
			nh_json_int(o, "port", e->peer.port);
			nh_json_int(o, "local_port", e->local_port);
		}
		nh_json_int(o, "fd", e->fd);
		nh_json_result(o, e->result);
		break;
	}
	case NH_KIND_OPEN: {
		const struct nh_open_event *e = (const void *)h;

		nh_json_str(o, "syscall", nh_syscall_name(e->syscall));
		json_object_object_add(o, "path", json_object_new_string_len(e->path, e->path_len));
		nh_json_int(o, "flags", e->open_flags);
		nh_render_open_flags(e->open_flags, buf, sizeof(buf));
		nh_json_str(o, "flags_str", buf);
		if (e->open_flags & (O_CREAT | __O_TMPFILE))
			nh_json_int(o, "mode", e->mode);
		if (e->dirfd != AT_FDCWD && e->path_len && e->path[0] != '/')
			nh_json_int(o, "dirfd", e->dirfd);
		nh_json_result(o, e->result);
		break;
	}
	case NH_KIND_SETUID:
	case NH_KIND_SETGID: {
		const struct nh_cred_event *e = (const void *)h;

		nh_json_str(o, "syscall", nh_syscall_name(e->syscall));
		json_object_object_add(o, "old", ids_object(e->old_ids));
		json_object_object_add(o, "new", ids_object(e->new_ids));
		nh_json_result(o, e->result);
		break;
	}
	case NH_KIND_CAPSET: {
		const struct nh_capset_event *e = (const void *)h;

		add_caps(o, "old", e->old_effective, e->old_permitted, e->old_inheritable);
		add_caps(o, "new", e->new_effective, e->new_permitted, e->new_inheritable);
		nh_json_result(o, e->result);
		break;
	}
	case NH_KIND_SUMMARY: {
		const struct nh_summary_event *e = (const void *)h;

		nh_json_str(o, "of", nh_kind_name(e->key.kind));
		nh_json_int(o, "count", (int64_t)e->count);
		if (ev->object)
			nh_json_str(o, "object", ev->object);
		nh_render_time(e->window_start, ev->wall_offset_ns, buf, sizeof(buf));
		nh_json_str(o, "window_start", buf);
		break;
	}
	default:
		break;
	}
	if (h->flags & NH_F_PATH_TRUNC)
		add_bool(o, "path_truncated", true);
	if (h->flags & NH_F_ARGS_TRUNC)
		add_bool(o, "args_truncated", true);
	if (h->flags & NH_F_DEDUP)
		add_bool(o, "deduplicated", true);
}

json_object *nh_render_as(const struct nh_attributed *ev, uint32_t kind)
{
	const struct nh_hdr *h = ev->h;
	json_object *o = json_object_new_object();
	char buf[64];

	if (!o)
		return NULL;
	nh_render_time(h->ts_ns, ev->wall_offset_ns, buf, sizeof(buf));
	nh_json_str(o, "time", buf);
	nh_json_str(o, "kind", nh_kind_name(kind));
	nh_json_int(o, "pid", h->tgid);
	nh_json_int(o, "tid", h->pid);
	if (h->kind != NH_KIND_SUMMARY) {
		nh_json_int(o, "ppid", h->ppid);
		nh_json_int(o, "gid", h->gid);
		nh_json_int(o, "mntns", h->mntns);
		json_object_object_add(
		    o, "comm", json_object_new_string_len(h->comm, strnlen(h->comm, NH_COMM_LEN)));
	}
	nh_json_int(o, "uid", h->uid);
	if (ev->user)
		nh_json_str(o, "user", ev->user);
	if (ev->proc && ev->proc->exe[0])
		nh_json_str(o, "exe", ev->proc->exe);
	nh_json_str(o, "identity", ev->identity);
	nh_json_int(o, "cgroup_id", (int64_t)h->cgroup_id);
	if (ev->interactive)
		add_bool(o, "interactive", true);
	add_context(o, ev);
	return o;
}

json_object *nh_render(const struct nh_attributed *ev)
{
	json_object *o = nh_render_as(ev, ev->h->kind);

	if (o)
		add_kind_fields(o, ev);
	return o;
}
