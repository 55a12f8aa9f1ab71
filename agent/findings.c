// SPDX-License-Identifier: Apache-2.0
#include "findings.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clock.h"
#include "decode.h"
#include "procroot.h"
#include "safefile.h"
#include "render.h"
#include "fingerprint.h"
#include "satoken.h"
#include "secrets.h"

#define NH_SECRET_SPANS	   16
#define NH_SECRET_PREFIX   4 /* bytes of a secret shown before its hash */
#define NH_CRED_NAME_BUF   (PATH_MAX + 64)
#define NH_SERIES_PER_CRED 4

/* What a dedup series is about, so its summaries count as uses. */
struct series {
	char id[NH_CRED_ID_MAX];
	char kind[NH_CRED_KIND_MAX];
	char name[NH_CRED_NAME_MAX];
};

static uint64_t mntns_of(const struct nh_findings *f, uint32_t pid);

/* Recent lookups kept, and for how long an answer stands (a file
 * replaced under the same path is a new inode after that). */
#define NH_LOOKUPS_MAX	   4096
#define NH_LOOKUP_FRESH_NS (2ULL * 1000000000ULL)

int nh_findings_init(struct nh_findings *f, const struct nh_cgroupfs *fs, const char *sa_token_path,
		     size_t max_credentials)
{
	int err;

	memset(f, 0, sizeof(*f));
	f->fs = fs;
	f->sa_token_path = sa_token_path ? sa_token_path : NH_SA_DEFAULT_PATH;
	f->own_mntns = mntns_of(f, (uint32_t)getpid());
	nh_sockets_init(&f->sockets, NULL);
	err = nh_catalogue_init(&f->cat);
	if (err)
		return err;
	err = nh_credentials_init(&f->creds, max_credentials);
	if (!err)
		err = nh_quotamap_init(&f->series, max_credentials * NH_SERIES_PER_CRED, 0, free);
	if (!err)
		err = nh_u64map_init(&f->lookups, NH_LOOKUPS_MAX);
	if (err)
		nh_findings_free(f);
	return err;
}

void nh_findings_set_kubelet_root(struct nh_findings *f, const char *kubelet_root)
{
	nh_sockets_init(&f->sockets, kubelet_root);
}

void nh_findings_free(struct nh_findings *f)
{
	uint64_t k;
	void *v;

	/* lookups still out are dropped when they come back */
	f->worker = NULL;
	for (size_t i = 0; f->lookups.slots && nh_u64map_next(&f->lookups, &i, &k, &v);)
		free(v);
	nh_u64map_free(&f->lookups);
	nh_quotamap_free(&f->series);
	nh_credentials_free(&f->creds);
	nh_catalogue_free(&f->cat);
}

/* The record of a finding about ev: its attribution, then the body. */
static struct nh_wire_record *start(struct nh_findings *f, const struct nh_attributed *ev,
				    enum nh_wire_kind kind)
{
	nh_record_attribution(ev, &f->buf, &f->rec);
	f->rec.kind = kind;
	return &f->rec;
}

/* The path an open named, made absolute where the process's working
 * directory still says what a relative one meant. */
static void open_path(const struct nh_findings *f, const struct nh_open_event *e, char *buf,
		      size_t len)
{
	char link[96], cwd[PATH_MAX];
	ssize_t n;

	nh_render_bytes(buf, len, e->path, e->path_len);
	if (e->path[0] == '/' || e->dirfd != -100 /* AT_FDCWD */)
		return;
	snprintf(link, sizeof(link), "%s/%u/cwd", f->fs->proc, e->h.tgid);
	n = readlink(link, cwd, sizeof(cwd) - 1);
	if (n <= 0 || cwd[0] != '/')
		return;
	cwd[n] = '\0';
	snprintf(buf, len, "%s/%.*s", n == 1 ? "" : cwd, (int)e->path_len, e->path);
}

/* Inode of a process's mount namespace, 0 when it is gone. */
static uint64_t mntns_of(const struct nh_findings *f, uint32_t pid)
{
	char p[96];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%u/ns/mnt", f->fs->proc, pid);
	return stat(p, &st) == 0 ? st.st_ino : 0;
}

/* The (device, inode) of path as pid sees it (procroot.h: a container's
 * path names the container's file, and its symlinks cannot lead to the
 * host's). From the inode the lookup left (safefile.h): a FUSE or NFS
 * file is never asked for attributes, which could stall the loop. */
static int stat_in_root(const struct nh_findings *f, uint32_t pid, const char *path,
			struct stat *st)
{
	struct nh_safefile sf = {.pathfd = -1};
	int root = nh_procroot_open(f->fs->proc, pid), err;

	if (root < 0)
		return root;
	while (*path == '/')
		path++;
	err = nh_safefile_lookup(root, path, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, &sf);
	if (!err) {
		st->st_dev = sf.dev;
		st->st_ino = sf.ino;
	}
	nh_safefile_close(&sf);
	close(root);
	return err;
}

/* The same in the agent's own mount namespace. */
static int stat_here(const char *path, struct stat *st)
{
	struct nh_safefile sf = {.pathfd = -1};
	int err = nh_safefile_lookup(AT_FDCWD, path, RESOLVE_NO_MAGICLINKS, &sf);

	if (!err) {
		st->st_dev = sf.dev;
		st->st_ino = sf.ino;
	}
	nh_safefile_close(&sf);
	return err;
}

/* A lookup on the worker: inputs copied in, the answer copied out. */
struct lookup_job {
	struct nh_job job;
	char proc[PATH_MAX];
	uint32_t pid; /* 0: the agent's own namespace */
	char path[PATH_MAX];
	int err;
	struct stat st;
};

/* A recent answer, kept for the event that asked (when it came back in
 * time) and the next ones of the same file for a moment. */
struct lookup_answer {
	int err;
	dev_t dev;
	ino_t ino;
	uint64_t at_ns;
};

static void lookup_run(struct nh_job *job)
{
	struct lookup_job *j = (struct lookup_job *)job;
	struct nh_safefile sf = {.pathfd = -1};
	const char *path = j->path;
	int root = AT_FDCWD;

	if (j->pid) {
		root = nh_procroot_open(j->proc, j->pid);
		if (root < 0) {
			j->err = root;
			return;
		}
		while (*path == '/')
			path++;
	}
	j->err = nh_safefile_lookup(root, path,
				    RESOLVE_NO_MAGICLINKS | (j->pid ? RESOLVE_IN_ROOT : 0), &sf);
	if (!j->err) {
		j->st.st_dev = sf.dev;
		j->st.st_ino = sf.ino;
	}
	nh_safefile_close(&sf);
	if (root >= 0)
		close(root);
}

static uint64_t lookup_key(uint64_t mntns, const char *path)
{
	return nh_hash64(mntns ^ nh_hash_str(path)) | 1;
}

static void lookup_done(void *owner, struct nh_job *job)
{
	struct lookup_job *j = (struct lookup_job *)job;
	struct nh_findings *f = owner;
	struct lookup_answer *a, *old = NULL, *victim = NULL;

	if (!job->started_ns || !f->worker) {
		free(j);
		return;
	}
	a = malloc(sizeof(*a));
	if (a) {
		*a = (struct lookup_answer){j->err, j->st.st_dev, j->st.st_ino, nh_clock_mono_ns()};
		if (nh_u64map_put_evict(&f->lookups, job->key, a, (void **)&old, (void **)&victim))
			free(a);
		free(old);
		free(victim);
	}
	free(j);
}

/* The (device, inode) behind path in the mount namespace mntns (through
 * pid's root, or the agent's own when pid is 0), looked up on the worker:
 * a short wait for the answer, none while a lookup of the same file is
 * still out (a mount that never answers). -ETIMEDOUT: not known in time,
 * the caller names the file by path. */
static int stat_via_worker(struct nh_findings *f, uint64_t mntns, uint32_t pid, const char *path,
			   struct stat *st)
{
	uint64_t key = lookup_key(mntns, path), now = nh_clock_mono_ns();
	struct lookup_answer *a = nh_u64map_get(&f->lookups, key);
	struct lookup_job *j;

	if (a && now - a->at_ns < NH_LOOKUP_FRESH_NS)
		goto answer;
	if (nh_worker_state(f->worker, key) == NH_JOB_NONE) {
		j = calloc(1, sizeof(*j));
		if (!j)
			return -ENOMEM;
		j->job =
		    (struct nh_job){.key = key, .run = lookup_run, .done = lookup_done, .owner = f};
		snprintf(j->proc, sizeof(j->proc), "%s", f->fs->proc);
		snprintf(j->path, sizeof(j->path), "%s", path);
		j->pid = pid;
		if (nh_worker_submit(f->worker, &j->job) != 0) {
			free(j);
			f->lookups_late++;
			return -ETIMEDOUT;
		}
		/* With threads already stuck (a mount that never answers), a
		 * new path may well be under it too: a much shorter wait, so
		 * many such paths cannot add up to a stalled loop. */
		if (!nh_worker_wait(f->worker, key,
				    nh_worker_stuck(f->worker) ? f->wait_ns / 20 : f->wait_ns)) {
			f->lookups_late++;
			return -ETIMEDOUT;
		}
	} else {
		f->lookups_late++;
		return -ETIMEDOUT;
	}
	a = nh_u64map_get(&f->lookups, key);
	if (!a)
		return -ETIMEDOUT;
answer:
	if (a->err)
		return a->err;
	st->st_dev = a->dev;
	st->st_ino = a->ino;
	return 0;
}

struct holder_ctx {
	const struct nh_findings *f;
	uint64_t mntns;
	uint32_t pid;
};

static int same_mntns(void *ctx, uint32_t pid)
{
	struct holder_ctx *hc = ctx;

	if (mntns_of(hc->f, pid) != hc->mntns)
		return 0;
	hc->pid = pid;
	return 1;
}

/* A live process that shares the event's mount namespace: the process
 * itself, else another member of its cgroup (the container's other
 * processes usually outlive a short-lived reader). */
static uint32_t mntns_holder(const struct nh_findings *f, const struct nh_attributed *ev)
{
	struct holder_ctx hc = {f, ev->h->mntns, 0};

	if (mntns_of(f, ev->h->tgid) == ev->h->mntns)
		return ev->h->tgid;
	if (ev->cg && ev->cg->found)
		nh_cgroupfs_members(f->fs, ev->cg->path, same_mntns, &hc);
	return hc.pid;
}

/*
 * One credential wherever it is reached from: a file by (device, inode),
 * looked up in the mount namespace of the process that opened it; when
 * no process of that namespace is left, by namespace and path. A pod's
 * own service-account token by its fingerprint.
 */
static void file_id(struct nh_findings *f, const struct nh_attributed *ev, const char *kind,
		    const char *path, char *id, size_t len)
{
	struct stat st;
	uint32_t pid;

	if (strcmp(kind, "sa_token") == 0 && ev->sa && ev->sa->have_claims &&
	    strcmp(path, f->sa_token_path) == 0) {
		snprintf(id, len, "sa_token:%s", ev->sa->fingerprint);
		return;
	}
	snprintf(id, len, "file:mntns:%u:%s", ev->h->mntns, path);
	if (path[0] != '/')
		return;
	pid = mntns_holder(f, ev);
	if (f->worker) {
		if ((pid || ev->h->mntns == f->own_mntns) &&
		    stat_via_worker(f, ev->h->mntns, pid, path, &st) == 0)
			snprintf(id, len, "file:%llu:%llu", (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
		return;
	}
	if ((pid && stat_in_root(f, pid, path, &st) == 0) ||
	    (!pid && ev->h->mntns == f->own_mntns && stat_here(path, &st) == 0))
		snprintf(id, len, "file:%llu:%llu", (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino);
}

/* The registry id of a credential the kernel recognised by inode: a
 * pod's token by its fingerprint as the other paths name it, else the
 * file. The kernel's dev_t is split as the kernel does (MAJOR << 20 |
 * MINOR) so an ordinary file system gives stat(2)'s st_dev, the id
 * file_id finds for the same file by path. */
static void inode_id(const struct nh_attributed *ev, char *id, size_t len)
{
	const struct nh_credinode *c = ev->cred;

	if (c->pod_uid[0] && ev->cred_sa && ev->cred_sa->have_claims)
		snprintf(id, len, "sa_token:%s", ev->cred_sa->fingerprint);
	else if (c->pod_uid[0])
		snprintf(id, len, "sa_token:pod:%s", c->pod_uid);
	else
		snprintf(id, len, "file:%llu:%llu",
			 (unsigned long long)makedev(c->key.dev >> 20, c->key.dev & 0xfffff),
			 (unsigned long long)c->key.ino);
}

static json_object *identities_array(const struct nh_credential *c)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < c->nusers; i++)
		json_object_array_add(a, json_object_new_string(c->users[i]));
	return a;
}

/* Count a use in the registry; a second identity makes a reuse finding. */
static void register_use(struct nh_findings *f, const struct nh_attributed *ev, const char *id,
			 const char *kind, const char *name, uint64_t count, nh_finding_fn emit,
			 void *ctx)
{
	const struct nh_credential *c;
	struct nh_wire_record *rec;
	struct nh_wire_finding *fd;
	int r =
	    nh_credentials_use(&f->creds, id, kind, name, ev->identity, ev->h->ts_ns, count, &c);

	if (r != NH_CRED_REUSE)
		return;
	f->reuses++;
	rec = start(f, ev, NH_WIRE_FINDING);
	fd = &rec->finding;
	*fd = (struct nh_wire_finding){
	    .type = NH_WIRE_FINDING_CREDENTIAL_REUSE,
	    .credential_kind = c->kind,
	    .credential = c->name,
	    .identities_unlisted = c->users_unlisted,
	};
	for (size_t i = 0; i < c->nusers; i++)
		if (fd->n_identities < NH_WIRE_IDENTITIES_MAX)
			fd->identities[fd->n_identities++] = c->users[i];
		else
			fd->identities_unlisted++;
	emit(ctx, rec);
}

static void remember_series(struct nh_findings *f, const char *identity, uint64_t digest,
			    const char *id, const char *kind, const char *name)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s)
		return;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->kind, sizeof(s->kind), "%s", kind);
	snprintf(s->name, sizeof(s->name), "%s", name);
	nh_quotamap_put(&f->series, nh_hash_str(identity), digest, s); /* takes s */
}

/* How an open reached its credential: the path as the process wrote it
 * and what recognised the file. */
struct cred_path {
	const char *written;
	bool truncated;
	const char *matched_by; /* "inode", "volume", "path" */
};

static void credential_use(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
			   const char *kind, const char *name, const char *via, int64_t result,
			   bool used, const struct cred_path *cp, nh_finding_fn emit, void *ctx)
{
	char id[NH_CRED_ID_MAX];
	struct nh_wire_record *rec;

	f->credential_uses++;
	f->was_credential = true;
	rec = start(f, ev, NH_WIRE_CREDENTIAL_USE);
	rec->credential_use = (struct nh_wire_credential_use){
	    .credential_kind = kind, .credential = name, .via = via, .result = result, .count = 1};
	if (cp) {
		rec->credential_use.path = cp->written;
		rec->credential_use.path_truncated = cp->truncated;
		rec->credential_use.matched_by = cp->matched_by;
	}
	emit(ctx, rec);

	if (!used)
		return;
	if (ev->h->kind == NH_KIND_OPEN && ev->cred)
		inode_id(ev, id, sizeof(id));
	else if (ev->h->kind == NH_KIND_OPEN)
		file_id(f, ev, kind, name, id, sizeof(id));
	else if (ev->h->kind == NH_KIND_UNIX_CONNECT)
		snprintf(id, sizeof(id), "socket:%s", name);
	else
		snprintf(id, sizeof(id), "endpoint:%s", name);
	register_use(f, ev, id, kind, name, 1, emit, ctx);
	if (digest)
		remember_series(f, ev->identity, digest, id, kind, name);
}

/* What a credential was used through: the syscall, or "io_uring" for a
 * ring's request (bpf/iouring.bpf.c). */
static const char *via_of(const struct nh_hdr *h, uint32_t sys)
{
	return (h->flags & NH_F_IO_URING) ? "io_uring" : nh_syscall_name(sys);
}

static const char *opener_pod(const struct nh_attributed *ev)
{
	return ev->cg && ev->cg->info.kind == NH_CG_K8S_POD ? ev->cg->info.pod_uid : NULL;
}

static void on_open(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
		    nh_finding_fn emit, void *ctx)
{
	const struct nh_open_event *e = (const void *)ev->h;
	char path[NH_CRED_NAME_BUF], written[NH_PATH_MAX + 1];
	struct cred_path cp = {.written = written, .truncated = e->h.flags & NH_F_PATH_TRUNC};
	const char *kind;

	nh_render_bytes(written, sizeof(written), e->path, e->path_len);
	/* The kernel's word first: whatever path led there, this file is a
	 * credential, named canonically. */
	if (ev->cred &&
	    (ev->cred->kind == NH_INODE_CRED_FILE || ev->cred->kind == NH_INODE_CRED_VOLUME)) {
		const struct nh_credinode *c = ev->cred;

		cp.matched_by = c->kind == NH_INODE_CRED_VOLUME ? "volume" : "inode";
		credential_use(f, ev, digest, c->cred_kind, nh_credinode_name(c, opener_pod(ev)),
			       via_of(ev->h, e->syscall), e->result, e->result >= 0, &cp, emit,
			       ctx);
		return;
	}
	/* Failed opens, and files created since the last scan, by path. */
	open_path(f, e, path, sizeof(path));
	kind = nh_catalogue_match_path(&f->cat, path);
	cp.matched_by = "path";
	if (kind)
		credential_use(f, ev, digest, kind, path, via_of(ev->h, e->syscall), e->result,
			       e->result >= 0, &cp, emit, ctx);
}

static void on_connect(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
		       nh_finding_fn emit, void *ctx)
{
	const struct nh_connect_event *e = (const void *)ev->h;
	char name[NH_CRED_NAME_BUF];
	const char *kind;

	kind = nh_catalogue_match_endpoint(&f->cat, e->dst.family, e->dst.addr, e->dst.port);
	if (!kind)
		return;
	nh_render_object(ev->h, name, sizeof(name));
	credential_use(f, ev, digest, kind, name, via_of(ev->h, NH_SYS_CONNECT), e->result,
		       e->result == 0 || e->result == -EINPROGRESS, NULL, emit, ctx);
}

static void on_send(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
		    nh_finding_fn emit, void *ctx)
{
	const struct nh_send_event *e = (const void *)ev->h;
	char name[NH_CRED_NAME_BUF];
	const char *kind;

	kind = nh_catalogue_match_endpoint(&f->cat, e->dst.family, e->dst.addr, e->dst.port);
	if (!kind)
		return;
	nh_render_object(ev->h, name, sizeof(name));
	credential_use(f, ev, digest, kind, name, via_of(ev->h, e->syscall), e->result,
		       e->result >= 0, NULL, emit, ctx);
}

/* Refreshed at most this often: a runtime restarting makes a new socket. */
#define NH_SOCKETS_MAX_AGE_NS (5ull * 1000000000ull)

/* A Unix connect reaches a credential when its peer's socket file is a
 * runtime or kubelet socket (by inode: any name leads to it), else when
 * the address the server bound names one (the kernel's copy). A failed
 * connect only has the caller's path: matched by name, as an attempt. */
static void on_unix_connect(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
			    nh_finding_fn emit, void *ctx)
{
	const struct nh_unix_event *e = (const void *)ev->h;
	const struct nh_socket_entry *s;
	char path[NH_UNIX_PATH_MAX + 2];
	const char *kind;

	nh_sockets_refresh(&f->sockets, e->h.ts_ns, NH_SOCKETS_MAX_AGE_NS);
	s = nh_sockets_match(&f->sockets, e->dev, e->ino);
	nh_render_unix_path(e, path, sizeof(path));
	if (s) {
		/* the name the server bound, and the catalogue's name */
		struct cred_path cp = {.written = path, .matched_by = "inode"};

		credential_use(f, ev, digest, s->kind, s->path, via_of(ev->h, NH_SYS_CONNECT),
			       e->result, e->result == 0, &cp, emit, ctx);
		return;
	}
	if (path[0] != '/')
		return; /* abstract names are no files */
	kind = nh_catalogue_match_path(&f->cat, path);
	if (kind)
		credential_use(f, ev, digest, kind, path, via_of(ev->h, NH_SYS_CONNECT), e->result,
			       e->result == 0,
			       &(struct cred_path){.written = path, .matched_by = "path"}, emit,
			       ctx);
}

/* Repeats folded by the kernel are uses too: counted, and shown as one
 * credential_use carrying the count. */
static void on_summary(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
		       nh_finding_fn emit, void *ctx)
{
	const struct nh_summary_event *s = (const void *)ev->h;
	const struct series *se = nh_quotamap_get(&f->series, digest);
	struct nh_wire_record *rec;

	if (!se)
		return;
	f->was_credential = true;
	f->credential_uses += s->count;
	register_use(f, ev, se->id, se->kind, se->name, s->count, emit, ctx);
	rec = start(f, ev, NH_WIRE_CREDENTIAL_USE);
	rec->credential_use = (struct nh_wire_credential_use){
	    .credential_kind = se->kind,
	    .credential = se->name,
	    .via = nh_kind_name(s->key.kind),
	    .count = s->count ? s->count : 1,
	    .repeats = true,
	};
	emit(ctx, rec);
}

/* Each secret in argv once per identity: its kind and fingerprint, the
 * argument it sat in with the secret redacted, never the value. */
static void on_exec_secrets(struct nh_findings *f, const struct nh_attributed *ev,
			    nh_finding_fn emit, void *ctx)
{
	const struct nh_exec_event *e = (const void *)ev->h;
	struct nh_secret_span spans[NH_SECRET_SPANS];
	struct nh_secrets_argv st;
	char clean[NH_ARGS_SHOW * 2 + 64]; /* the argument as shown, cut to fit */
	size_t i = 0, nspans;
	int index = 0;

	nh_secrets_argv_init(&st);
	while (i < e->args_len) {
		const char *arg = e->args + i;
		size_t n = strnlen(arg, e->args_len - i);
		bool cut = (e->h.flags & NH_F_ARGS_TRUNC) && i + n == e->args_len;

		nh_secrets_argv_next(&st, arg, n, cut, clean, sizeof(clean), spans, NH_SECRET_SPANS,
				     &nspans);
		for (size_t s = 0; s < nspans; s++) {
			char fp[NH_FINGERPRINT_MAX], fp_prev[NH_FINGERPRINT_MAX] = "";
			char id[NH_CRED_ID_MAX];
			const char *kind = nh_secret_kind_name(spans[s].kind);
			struct nh_wire_record *rec;

			/* a cut word is not known to be a secret: redacted, not reported */
			if (spans[s].kind == NH_SECRET_CUT)
				continue;
			/* A typed token's prefix says its type (AKIA, ghp_); a
			 * password's prefix is part of the password. */
			bool typed = spans[s].kind != NH_SECRET_URL_PASSWORD &&
				     spans[s].kind != NH_SECRET_NAMED_VALUE &&
				     spans[s].kind != NH_SECRET_USER_PASSWORD &&
				     spans[s].kind != NH_SECRET_PASSWORD &&
				     spans[s].kind != NH_SECRET_HEADER &&
				     spans[s].kind != NH_SECRET_PRIVATE_KEY;

			if (nh_fingerprint(f->fp, false, arg + spans[s].start, spans[s].len,
					   typed ? NH_SECRET_PREFIX : 0, fp, sizeof(fp)) != 0)
				continue;
			/* a key rotation: the previous key's too, so that both
			 * sides of the overlap correlate */
			if (f->fp->prev.ctx &&
			    nh_fingerprint(f->fp, true, arg + spans[s].start, spans[s].len,
					   typed ? NH_SECRET_PREFIX : 0, fp_prev,
					   sizeof(fp_prev)) != 0)
				fp_prev[0] = '\0';
			snprintf(id, sizeof(id), "argv:%s", fp);
			/* The registry also tells when a second identity
			 * passes the same secret around. */
			if (nh_credentials_use(&f->creds, id, kind, fp, ev->identity, e->h.ts_ns, 1,
					       NULL) == NH_CRED_KNOWN)
				continue;
			f->exposures++;
			rec = start(f, ev, NH_WIRE_FINDING);
			rec->finding = (struct nh_wire_finding){
			    .type = NH_WIRE_FINDING_SECRET_EXPOSURE,
			    .secret_kind = kind,
			    .fingerprint = fp,
			    .fingerprint_previous = fp_prev[0] ? fp_prev : NULL,
			    .path = e->path,
			    .arg_index = index,
			    .argument = clean,
			};
			emit(ctx, rec);
		}
		i += n + 1;
		index++;
	}
}

/* A workload is a pod or a container; people have user: identities. */
static bool workload_identity(const struct nh_attributed *ev)
{
	return ev->cg &&
	       (ev->cg->info.kind == NH_CG_K8S_POD || ev->cg->info.kind == NH_CG_CONTAINER);
}

static void on_exec_session(struct nh_findings *f, const struct nh_attributed *ev,
			    nh_finding_fn emit, void *ctx)
{
	const struct nh_exec_event *e = (const void *)ev->h;
	struct nh_wire_record *rec;

	if (!ev->proc || !ev->proc->session_new || ev->proc->tgid != e->h.tgid ||
	    !workload_identity(ev))
		return;
	f->human_uses++;
	rec = start(f, ev, NH_WIRE_FINDING);
	rec->finding = (struct nh_wire_finding){
	    .type = NH_WIRE_FINDING_HUMAN_USE,
	    .reason = (e->h.flags & NH_F_NS_ENTERED) ? "entered_namespace" : "terminal",
	    .tty = e->h.flags & NH_F_TTY,
	    .entered_namespace = e->h.flags & NH_F_NS_ENTERED,
	    .path = e->path,
	    .session_pid = ev->proc->session,
	};
	emit(ctx, rec);
}

void nh_findings_event(struct nh_findings *f, const struct nh_attributed *ev, uint64_t digest,
		       nh_finding_fn emit, void *ctx)
{
	f->was_credential = false;
	switch (ev->h->kind) {
	case NH_KIND_OPEN:
		on_open(f, ev, digest, emit, ctx);
		break;
	case NH_KIND_CONNECT:
		on_connect(f, ev, digest, emit, ctx);
		break;
	case NH_KIND_SEND:
		on_send(f, ev, digest, emit, ctx);
		break;
	case NH_KIND_UNIX_CONNECT:
		on_unix_connect(f, ev, digest, emit, ctx);
		break;
	case NH_KIND_SUMMARY:
		on_summary(f, ev, digest, emit, ctx);
		break;
	case NH_KIND_EXEC:
		on_exec_session(f, ev, emit, ctx);
		on_exec_secrets(f, ev, emit, ctx);
		break;
	default:
		break;
	}
}

json_object *nh_findings_credentials_json(const struct nh_findings *f, int64_t wall_offset_ns)
{
	json_object *a = json_object_new_array();
	const struct nh_credential *c;
	size_t it = 0;
	char ts[64];

	while ((c = nh_credentials_next(&f->creds, &it))) {
		json_object *o = json_object_new_object();

		nh_json_str(o, "kind", c->kind);
		nh_json_str(o, "credential", c->name);
		nh_json_str(o, "id", c->id);
		nh_json_int(o, "uses", (int64_t)c->uses);
		nh_render_time(c->first_ns, wall_offset_ns, ts, sizeof(ts));
		nh_json_str(o, "first_use", ts);
		nh_render_time(c->last_ns, wall_offset_ns, ts, sizeof(ts));
		nh_json_str(o, "last_use", ts);
		json_object_object_add(o, "identities", identities_array(c));
		if (c->users_unlisted)
			nh_json_int(o, "identities_unlisted", (int64_t)c->users_unlisted);
		json_object_object_add(o, "reused",
				       json_object_new_boolean(nh_credential_reused(c)));
		json_object_array_add(a, o);
	}
	return a;
}
