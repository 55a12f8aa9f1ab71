// SPDX-License-Identifier: Apache-2.0
#include "record.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "decode.h"
#include "opname.h"
#include "render.h"
#include "secrets.h"

_Static_assert((int)NH_WIRE_EV_EXEC == (int)NH_KIND_EXEC &&
		   (int)NH_WIRE_EV_FORK == (int)NH_KIND_FORK &&
		   (int)NH_WIRE_EV_EXIT == (int)NH_KIND_EXIT &&
		   (int)NH_WIRE_EV_CONNECT == (int)NH_KIND_CONNECT &&
		   (int)NH_WIRE_EV_ACCEPT == (int)NH_KIND_ACCEPT &&
		   (int)NH_WIRE_EV_OPEN == (int)NH_KIND_OPEN &&
		   (int)NH_WIRE_EV_SETUID == (int)NH_KIND_SETUID &&
		   (int)NH_WIRE_EV_SETGID == (int)NH_KIND_SETGID &&
		   (int)NH_WIRE_EV_CAPSET == (int)NH_KIND_CAPSET &&
		   (int)NH_WIRE_EV_SUMMARY == (int)NH_KIND_SUMMARY &&
		   (int)NH_WIRE_EV_IO_URING_CREATE == (int)NH_KIND_IO_URING_CREATE,
	       "wire event kinds are the kernel's");

#define NSEC 1000000000ULL

static uint64_t unix_ns(const struct nh_attributed *ev, uint64_t mono_ns)
{
	return (uint64_t)((int64_t)mono_ns + ev->wall_offset_ns);
}

/* A pod's facts: the service account from its token's claims first, then
 * the kubelet's record, then the workload owner. */
static void pod(const struct nh_attributed *ev, struct nh_wire_identity *id)
{
	const struct nh_sa *sa = ev->sa;
	struct nh_wire_context *c = &id->context;

	if (sa && sa->have_claims) {
		const struct nh_sa_claims *cl = &sa->claims;

		id->namespace = cl->namespace_;
		id->service_account = cl->service_account;
		if (cl->pod_name[0])
			id->pod_name = cl->pod_name;
		if (cl->node_name[0])
			id->node = cl->node_name;
		c->has_token = true;
		c->token = (struct nh_wire_token){
		    .fingerprint = sa->fingerprint,
		    .issued_at = cl->iat,
		    .expires_at = cl->long_lived ? 0 : cl->exp,
		    .long_lived = cl->long_lived,
		    .legacy = cl->legacy,
		};
	}
	if (sa)
		c->token_state = nh_sa_state_name(sa->state);
	if (ev->pod) {
		if (!id->pod_name && ev->pod->name[0])
			id->pod_name = ev->pod->name;
		if (!id->namespace && ev->pod->namespace_[0])
			id->namespace = ev->pod->namespace_;
	}
	if (ev->owner_kind && ev->owner_name) {
		id->workload_kind = ev->owner_kind;
		id->workload_name = ev->owner_name;
	}
}

void nh_record_attribution(const struct nh_attributed *ev, struct nh_record_buf *buf,
			   struct nh_wire_record *r)
{
	const struct nh_hdr *h = ev->h;
	const struct nh_cgroup_ctx *cg = ev->cg;
	struct nh_wire_process *p = &r->process;
	size_t n = strnlen(h->comm, NH_COMM_LEN);

	memset(r, 0, offsetof(struct nh_wire_record, anomaly));
	r->priv = NULL;
	r->legacy = NULL;
	r->time_ns = unix_ns(ev, h->ts_ns);
	r->identity.key = ev->identity;
	r->identity.source = nh_identity_source_name(ev->identity_source);
	r->identity.verified = ev->identity_verified;

	memcpy(buf->comm, h->comm, n);
	buf->comm[n] = '\0';
	p->pid = h->tgid;
	p->tid = h->pid;
	p->uid = h->uid;
	p->user = ev->user;
	p->exe = ev->proc && ev->proc->exe[0] ? ev->proc->exe : NULL;
	p->start_ms = ev->proc ? ev->proc->start_ms : 0;
	p->cgroup_id = h->cgroup_id;
	p->interactive = ev->interactive;
	p->repeat = h->kind == NH_KIND_SUMMARY;
	if (!p->repeat) {
		p->ppid = h->ppid;
		p->gid = h->gid;
		p->mntns = h->mntns;
		p->comm = buf->comm;
	}
	if (!cg)
		return;
	r->identity.context.cgroup = cg->path;
	r->identity.context.cgroup_kind = nh_cg_kind_name(cg->info.kind);
	r->identity.context.delegated = cg->delegated;
	if (cg->info.pod_uid[0])
		r->identity.pod_uid = cg->info.pod_uid;
	if (cg->info.qos != NH_QOS_NONE)
		r->identity.context.qos = nh_qos_name(cg->info.qos);
	if (cg->info.container_id[0]) {
		r->identity.container_id = cg->info.container_id;
		r->identity.context.runtime = nh_runtime_name(cg->info.runtime);
	}
	if (cg->info.unit[0]) {
		r->identity.unit = cg->info.unit;
		r->identity.context.user_unit = cg->info.user_unit;
	}
	pod(ev, &r->identity);
}

/*
 * argv with every secret redacted: the value never leaves the agent. An
 * argument cut by the copy limit (no NUL before the end of a truncated
 * copy) has its last word redacted too: it may be a secret's head. Every
 * argument is read, so that what an early one says of a later one holds,
 * but only the first NH_ARGS_SHOW bytes are shown; returns whether that
 * was all of them.
 */
static bool args(struct nh_wire_activity *a, const char *argv, size_t len, bool truncated,
		 char *buf, size_t cap)
{
	char clean[NH_ARGS_SHOW * 2 + 64];
	struct nh_secrets_argv st;
	bool shown_all = true;
	size_t i = 0, used = 0;

	nh_secrets_argv_init(&st);
	while (i < len) {
		size_t n = strnlen(argv + i, len - i), m;
		bool cut = truncated && i + n == len;

		a->secrets_redacted += (uint32_t)nh_secrets_argv_next(&st, argv + i, n, cut, clean,
								      sizeof(clean), NULL, 0, NULL);
		if (i >= NH_ARGS_SHOW || a->n_args >= NH_WIRE_ARGS_MAX || used >= cap) {
			shown_all = false;
		} else {
			/* the redacted text is cut, never the argument before it */
			size_t room = NH_ARGS_SHOW - i;

			m = strlen(clean);
			if (i + n > NH_ARGS_SHOW) {
				m = m > room ? room : m;
				shown_all = false;
			}
			if (m > cap - used - 1) {
				m = cap - used - 1;
				shown_all = false;
			}
			memcpy(buf + used, clean, m);
			buf[used + m] = '\0';
			a->args[a->n_args++] = buf + used;
			used += m + 1;
		}
		i += n + 1;
	}
	return shown_all;
}

static void address(const struct nh_sockaddr *sa, struct nh_record_buf *buf,
		    struct nh_wire_activity *a)
{
	nh_render_addr(sa, buf->address, sizeof(buf->address));
	a->address = buf->address;
	a->ipv6 = sa->family == AF_INET6;
	a->port = sa->port;
}

void nh_record_activity(const struct nh_attributed *ev, struct nh_record_buf *buf,
			struct nh_wire_record *r)
{
	const struct nh_hdr *h = ev->h;
	struct nh_wire_activity *a = &r->activity;

	nh_record_attribution(ev, buf, r);
	/* args last: n_args says how many of them are set */
	memset(a, 0, offsetof(struct nh_wire_activity, args));
	r->kind = NH_WIRE_ACTIVITY;
	a->event = (enum nh_wire_event)h->kind;
	a->kind = nh_kind_name(h->kind);
	/* an io_uring request, not a syscall (bpf/iouring.bpf.c) */
	if (h->flags & NH_F_IO_URING)
		a->via = "io_uring";
	a->result_unknown = h->flags & NH_F_URING_NO_CQE;
	switch (h->kind) {
	case NH_KIND_EXEC: {
		const struct nh_exec_event *e = (const void *)h;
		bool shown_all;

		snprintf(buf->path, sizeof(buf->path), "%.*s", (int)e->path_len, e->path);
		a->path = buf->path;
		shown_all = args(a, e->args, e->args_len, h->flags & NH_F_ARGS_TRUNC, buf->args,
				 sizeof(buf->args));
		/* shown in part: how much there was (args_truncated also says
		 * the kernel's copy itself was cut) */
		if (!shown_all || (h->flags & NH_F_ARGS_TRUNC)) {
			a->args_bytes = e->args_size ? e->args_size : e->args_len;
			a->args_truncated = true;
		}
		a->ns_pid = e->ns_pid;
		a->tty = h->flags & NH_F_TTY;
		a->entered_namespace = h->flags & NH_F_NS_ENTERED;
		a->euid = e->euid;
		a->egid = e->egid;
		a->cap_effective = e->cap_effective;
		a->cap_permitted = e->cap_permitted;
		a->privileged_exec = h->flags & NH_F_PRIV_EXEC;
		a->compat32 = h->flags & NH_F_COMPAT32;
		break;
	}
	case NH_KIND_SEND: {
		const struct nh_send_event *e = (const void *)h;

		a->syscall = nh_syscall_name(e->syscall);
		address(&e->dst, buf, a);
		a->fd = e->fd;
		a->result = e->result;
		a->msg_index = e->msg_index;
		a->user_address = h->flags & NH_F_USER_ADDR;
		break;
	}
	case NH_KIND_UNIX_CONNECT: {
		const struct nh_unix_event *e = (const void *)h;

		a->syscall = "connect";
		nh_render_unix_path(e, buf->path, sizeof(buf->path));
		a->path = buf->path;
		a->device = e->dev;
		a->inode = e->ino;
		a->fd = e->fd;
		a->result = e->result;
		a->sock_type = nh_render_sock_type(e->sock_type);
		a->user_address = h->flags & NH_F_USER_ADDR;
		break;
	}
	case NH_KIND_NAMESPACE:
	case NH_KIND_PTRACE:
	case NH_KIND_BPF:
	case NH_KIND_MODULE: {
		const struct nh_op_event *e = (const void *)h;

		a->syscall = nh_syscall_name(e->syscall);
		if (e->path_len) {
			snprintf(buf->path, sizeof(buf->path), "%.*s", (int)e->path_len, e->path);
			a->path = buf->path;
		}
		a->op = e->op;
		a->op_name = nh_opname(e->syscall, e->op, buf->op_name, sizeof(buf->op_name));
		a->target_pid = e->target_pid;
		if (e->syscall == NH_SYS_SETNS || e->syscall == NH_SYS_FINIT_MODULE)
			a->fd = (int32_t)e->arg;
		a->result = e->result;
		break;
	}
	case NH_KIND_IO_URING_CREATE: {
		const struct nh_ring_event *e = (const void *)h;

		a->syscall = nh_syscall_name(NH_SYS_IO_URING_SETUP);
		a->op = e->setup_flags;
		a->op_name = nh_opname(NH_SYS_IO_URING_SETUP, e->setup_flags, buf->op_name,
				       sizeof(buf->op_name));
		a->fd = e->fd;
		break;
	}
	case NH_KIND_COMPAT_SYSCALL: {
		const struct nh_compat_event *e = (const void *)h;

		a->syscall = nh_syscall_name(e->syscall);
		if (e->path_len) {
			snprintf(buf->path, sizeof(buf->path), "%.*s", (int)e->path_len, e->path);
			a->path = buf->path;
		}
		if (e->dst.family == AF_INET || e->dst.family == AF_INET6)
			address(&e->dst, buf, a);
		a->op = e->nr;
		snprintf(buf->op_name, sizeof(buf->op_name), "ia32:%u", e->nr);
		a->op_name = buf->op_name;
		a->compat32 = true;
		a->user_address = h->flags & NH_F_USER_ADDR;
		break;
	}
	case NH_KIND_FORK:
		a->child_pid = ((const struct nh_fork_event *)h)->child_tgid;
		break;
	case NH_KIND_EXIT: {
		const struct nh_exit_event *e = (const void *)h;

		a->exit_code = (e->exit_code >> 8) & 0xff;
		a->signal = e->exit_code & 0x7f;
		break;
	}
	case NH_KIND_CONNECT: {
		const struct nh_connect_event *e = (const void *)h;

		address(&e->dst, buf, a);
		a->fd = e->fd;
		a->result = e->result;
		a->user_address = h->flags & NH_F_USER_ADDR;
		break;
	}
	case NH_KIND_ACCEPT: {
		const struct nh_accept_event *e = (const void *)h;

		a->syscall = nh_syscall_name(e->syscall);
		address(&e->peer, buf, a);
		a->local_port = e->local_port;
		a->fd = e->fd;
		a->result = e->result;
		break;
	}
	case NH_KIND_OPEN: {
		const struct nh_open_event *e = (const void *)h;

		a->syscall = nh_syscall_name(e->syscall);
		nh_render_bytes(buf->path, sizeof(buf->path), e->path, e->path_len);
		a->path = buf->path;
		a->flags = e->open_flags;
		a->mode = e->mode;
		a->dirfd = e->dirfd;
		a->result = e->result;
		if (ev->cred && ev->cred->cred_kind[0]) {
			a->credential =
			    nh_credinode_name(ev->cred, ev->cg && ev->cg->info.kind == NH_CG_K8S_POD
							    ? ev->cg->info.pod_uid
							    : NULL);
			a->credential_kind = ev->cred->cred_kind;
		}
		break;
	}
	case NH_KIND_SETUID:
	case NH_KIND_SETGID: {
		const struct nh_cred_event *e = (const void *)h;

		a->syscall = nh_syscall_name(e->syscall);
		a->old_ids = (struct nh_wire_ids){e->old_ids[0], e->old_ids[1], e->old_ids[2]};
		a->new_ids = (struct nh_wire_ids){e->new_ids[0], e->new_ids[1], e->new_ids[2]};
		a->result = e->result;
		break;
	}
	case NH_KIND_CAPSET: {
		const struct nh_capset_event *e = (const void *)h;

		a->old_caps =
		    (struct nh_wire_caps){e->old_effective, e->old_permitted, e->old_inheritable};
		a->new_caps =
		    (struct nh_wire_caps){e->new_effective, e->new_permitted, e->new_inheritable};
		a->result = e->result;
		break;
	}
	case NH_KIND_SUMMARY: {
		const struct nh_summary_event *e = (const void *)h;

		a->of = (enum nh_wire_event)e->key.kind;
		a->count = e->count;
		a->object = ev->object;
		a->window_start_ns = unix_ns(ev, e->window_start);
		break;
	}
	default:
		break;
	}
	a->path_truncated = h->flags & NH_F_PATH_TRUNC;
	a->args_truncated = a->args_truncated || (h->flags & NH_F_ARGS_TRUNC);
	a->deduplicated = h->flags & NH_F_DEDUP;
}

uint32_t nh_record_agent_kind(const struct nh_wire_record *r)
{
	switch (r->kind) {
	case NH_WIRE_ACTIVITY:
		return r->activity.event < NH_WIRE_EV_MAX ? (uint32_t)r->activity.event : 0;
	case NH_WIRE_ANOMALY:
		return NH_KIND_ANOMALY;
	case NH_WIRE_CREDENTIAL_USE:
		return NH_KIND_CREDENTIAL_USE;
	case NH_WIRE_FINDING:
		return r->finding.type == NH_WIRE_FINDING_SECRET_EXPOSURE ? NH_KIND_SECRET_EXPOSURE
		       : r->finding.type == NH_WIRE_FINDING_HUMAN_USE	  ? NH_KIND_HUMAN_USE
		       : r->finding.type == NH_WIRE_FINDING_CREDENTIAL_REUSE
			   ? NH_KIND_CREDENTIAL_REUSE
		       : r->finding.type == NH_WIRE_FINDING_IDENTITY_CONFLICT
			   ? NH_KIND_IDENTITY_CONFLICT
		       : r->finding.type == NH_WIRE_FINDING_MONITORING_TAMPERED
			   ? NH_KIND_MONITORING_TAMPERED
			   : 0;
	case NH_WIRE_LOSS:
		return NH_KIND_LOSS;
	case NH_WIRE_FLOOD:
		return NH_KIND_FLOOD;
	case NH_WIRE_MONITORING_GAP:
		return NH_KIND_MONITORING_GAP;
	default:
		return 0;
	}
}
