// SPDX-License-Identifier: Apache-2.0
/* Start-up, SIGHUP reload and stop. */
#include "agent.h"
#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static int add_fd(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* The socket's directory: created root-only. An existing one must be a
 * real directory owned by root that nobody else can write, or sticky
 * (like /tmp), where others cannot remove or rename our socket; else
 * another user could swap in their own and capture subscribers. */
/* A group by name, or by number when no group has that name. */
static int group_id(const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);
	char *end;
	unsigned long n;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	errno = 0;
	n = strtoul(name, &end, 10);
	if (!name[0] || *end || errno || n >= (gid_t)-1)
		return -ENOENT;
	*gid = (gid_t)n;
	return 0;
}

static int make_socket_dir(const char *path, char *why, size_t len)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		snprintf(
		    why, len,
		    "%.400s must be a directory owned by root, writable only by root or sticky",
		    dir);
		return -EPERM;
	}
	return 0;
}

static int open_sources(struct nh_agent *a)
{
	struct itimerspec its = {0};
	sigset_t mask;
	int code;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	a->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->sigfd < 0 || a->timerfd < 0)
		return -errno;
	its.it_interval.tv_sec = a->flush_interval_ns / NH_NSEC;
	its.it_interval.tv_nsec = a->flush_interval_ns % NH_NSEC;
	its.it_value = its.it_interval;
	if (timerfd_settime(a->timerfd, 0, &its, NULL))
		return -errno;
	code = add_fd(a->epfd, a->sigfd, NH_SRC_SIGNAL);
	if (!code)
		code = add_fd(a->epfd, a->timerfd, NH_SRC_TIMER);
	if (!code)
		code = add_fd(a->epfd, nh_probes_epoll_fd(&a->probes), NH_SRC_RING);
	return code;
}

/* The built-in credential rules plus the configured ones; at start and
 * on SIGHUP, into a fresh catalogue so that a bad rule changes nothing. */
static int build_catalogue(struct nh_agent *a, const struct nh_agent_config *cfg,
			   struct nh_catalogue *cat)
{
	const char *why = NULL, *host, *port;
	char spec[300];
	int code;

	code = nh_catalogue_init(cat);
	if (code)
		return code;
	for (size_t i = 0; i < cfg->ncredential_rules; i++) {
		code = nh_catalogue_add_path(cat, cfg->credential_rules[i], &why);
		if (code) {
			nh_err(&a->log, "credentials.rules: \"%s\": %s", cfg->credential_rules[i],
			       why ? why : strerror(-code));
			return code;
		}
	}
	if (cfg->nmetadata_endpoints)
		nh_catalogue_clear_endpoints(cat, "cloud_metadata");
	for (size_t i = 0; i < cfg->nmetadata_endpoints; i++) {
		snprintf(spec, sizeof(spec), "cloud_metadata=%s", cfg->metadata_endpoints[i]);
		code = nh_catalogue_add_endpoint(cat, spec, &why);
		if (code) {
			nh_err(&a->log, "credentials.metadataEndpoints: \"%s\": %s",
			       cfg->metadata_endpoints[i], why ? why : strerror(-code));
			return code;
		}
	}
	/* In a pod the API server is the service the environment names. */
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	if (cfg->apiserver)
		snprintf(spec, sizeof(spec), "kube_apiserver=%s", cfg->apiserver);
	else if (host && port)
		snprintf(spec, sizeof(spec),
			 strchr(host, ':') ? "kube_apiserver=[%s]:%s" : "kube_apiserver=%s:%s",
			 host, port);
	else
		spec[0] = '\0';
	if (spec[0] && (code = nh_catalogue_add_endpoint(cat, spec, &why)) != 0) {
		nh_err(&a->log, "API server endpoint \"%s\": %s", spec + 15,
		       why ? why : strerror(-code));
		return code;
	}
	return 0;
}

/* The cluster's service-account keys from the API server, fetched on a
 * thread of their own: asked for now, taken by the tick. */
static int start_keys(struct nh_agent *a)
{
	static const char own_token[] = "/var/run/secrets/kubernetes.io/serviceaccount/token";
	static const char own_ca[] = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
	const char *url = a->cfg.jwks_url, *host, *port;
	char derived[512];
	struct nh_kubelet_conf kc = {0};
	int code;

	/* A key file is the one source when given. */
	if (a->cfg.verify_tokens == NH_VERIFY_OFF || a->cfg.jwks_file ||
	    (url && strcmp(url, "none") == 0))
		return 0;
	if (!url) {
		host = getenv("KUBERNETES_SERVICE_HOST");
		port = getenv("KUBERNETES_SERVICE_PORT");
		if (!host || !*host || !port || !*port)
			return 0;
		snprintf(derived, sizeof(derived),
			 strchr(host, ':') ? "https://[%s]:%s/openid/v1/jwks"
					   : "https://%s:%s/openid/v1/jwks",
			 host, port);
		url = derived;
	}
	kc.url = url;
	if (access(own_token, R_OK) == 0)
		kc.token_path = own_token;
	if (strncmp(url, "https:", 6) == 0 && access(own_ca, R_OK) == 0)
		kc.ca_path = own_ca;
	code = nh_kubelet_global_init();
	if (code) {
		nh_err(&a->log, "--jwks-url: cannot initialise libcurl");
		return code;
	}
	code = nh_jwksfetch_start(&a->keyfetch, &kc);
	if (code) {
		nh_err(&a->log, "--jwks-url: %s", a->keyfetch.error);
		nh_kubelet_global_cleanup();
		return code;
	}
	a->keyfetch_on = true;
	nh_jwksfetch_request(&a->keyfetch);
	a->keyfetch_next_ns = nh_clock_mono_ns() + NH_KEYFETCH_MIN_NS;
	return 0;
}

/* A new key set, or why the last fetch failed; another fetch when a token
 * named an unknown kid, at most every NH_KEYFETCH_MIN_NS. */
void nh_agent_tick_keys(struct nh_agent *a, uint64_t now)
{
	struct nh_jwks keys = {0};
	char why[NH_KUBELET_ERROR_MAX];
	int r;

	if (!a->keyfetch_on)
		return;
	r = nh_jwksfetch_take(&a->keyfetch, &keys, why, sizeof(why));
	/* Logged when fetches start failing and when they recover. */
	if (r > 0) {
		nh_info(&a->log, "service-account keys: %zu from %s%s", keys.n,
			a->keyfetch.http.url, a->keyfetch_errors ? " (recovered)" : "");
		nh_satokens_set_keys(&a->tokens, &keys);
		a->keyfetch_errors = 0;
	} else if (r < 0 && a->keyfetch_errors++ == 0) {
		nh_warn(&a->log, "service-account keys: %s (keeping %zu keys)", why,
			a->tokens.keys.n);
	}
	/* Without keys, retried with backoff (2 s doubling to 64 s) even when
	 * no token asks, so verification resumes when the API server does. */
	if ((a->tokens.want_keys || !a->tokens.keys.n) && now >= a->keyfetch_next_ns) {
		uint32_t shift = a->keyfetch_errors < 5 ? (uint32_t)a->keyfetch_errors : 5;

		a->tokens.want_keys = false;
		a->keyfetch_next_ns = now + (NH_KEYFETCH_MIN_NS << shift);
		nh_jwksfetch_request(&a->keyfetch);
	}
}

/* The pod's service-account token, the credential catalogue with the
 * configured rules and endpoints, and the optional kubelet client. */
static int start_credentials(struct nh_agent *a)
{
	const struct nh_agent_config *cfg = &a->cfg;
	const char *why = NULL;
	int code;

	code = nh_fingerprinter_init(&a->fp, cfg->fingerprint_key_file,
				     cfg->fingerprint_previous_key_file, &why);
	if (code) {
		nh_err(&a->log, "fingerprint.keyFile %s, previousKeyFile %s: %s (%s)",
		       cfg->fingerprint_key_file ? cfg->fingerprint_key_file : "(none)",
		       cfg->fingerprint_previous_key_file ? cfg->fingerprint_previous_key_file
							  : "(none)",
		       why ? why : strerror(-code), strerror(-code));
		return code;
	}
	if (a->fp.node_local)
		nh_warn(&a->log,
			"fingerprint.keyFile is not set: secrets are fingerprinted with a "
			"random key of this agent run (id %s); fingerprints will not match "
			"across nodes or restarts",
			a->fp.cur.id);
	else
		nh_info(&a->log, "fingerprint key %s%s%s", a->fp.cur.id,
			a->fp.prev.ctx ? ", previous key " : "",
			a->fp.prev.ctx ? a->fp.prev.id : "");
	code = nh_satokens_init(&a->tokens, &a->cgfs, &a->log, cfg->sa_token_path,
				cfg->token_recheck_ms * 1000000ULL, cfg->max_cgroups);
	if (code) {
		nh_err(&a->log, "--sa-token-path: \"%s\" is not an absolute file path",
		       cfg->sa_token_path ? cfg->sa_token_path : "");
		return code;
	}
	a->tokens.fp = &a->fp;
	{
		struct nh_satoken_trust tr = {.kubelet_root = cfg->kubelet_root,
					      .jwks_file = cfg->jwks_file,
					      .mode = (enum nh_verify_mode)cfg->verify_tokens,
					      .verify = {.issuer = cfg->token_issuer,
							 .audience = cfg->token_audience,
							 .leeway_s = 60}};

		why = NULL;
		code = nh_satokens_set_trust(&a->tokens, &tr, &why);
		if (code) {
			nh_err(&a->log, "--jwks-file %s: %s", cfg->jwks_file ? cfg->jwks_file : "",
			       why ? why : strerror(-code));
			return code;
		}
		if (tr.mode == NH_VERIFY_REQUIRED && !a->tokens.keys.n)
			nh_warn(&a->log, "verifyTokens: required and no keys yet: no pod's "
					 "service account is believed until they are known");
	}
	code = nh_findings_init(&a->findings, &a->cgfs, cfg->sa_token_path, cfg->max_credentials);
	if (!code)
		nh_findings_set_kubelet_root(&a->findings, cfg->kubelet_root);
	if (code) {
		nh_err(&a->log, "cannot allocate the credential registry: %s", strerror(-code));
		return code;
	}
	a->findings.fp = &a->fp;
	code = build_catalogue(a, cfg, &a->findings.cat);
	if (code)
		return code;
	if (!cfg->kubelet_url)
		return 0;
	{
		/* In a pod, the agent's own service account reads the pod list. */
		static const char own_token[] =
		    "/var/run/secrets/kubernetes.io/serviceaccount/token";
		static const char own_ca[] = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
		struct nh_kubelet_conf kc = {
		    .url = cfg->kubelet_url,
		    .token_path = cfg->kubelet_token,
		    .ca_path = cfg->kubelet_ca,
		    .insecure = cfg->kubelet_insecure,
		};

		if (!kc.token_path && access(own_token, R_OK) == 0)
			kc.token_path = own_token;
		if (!kc.ca_path && !kc.insecure && strncmp(kc.url, "https:", 6) == 0 &&
		    access(own_ca, R_OK) == 0)
			kc.ca_path = own_ca;

		code = nh_kubelet_global_init();
		if (!code)
			code = nh_kubelet_init(&a->kubelet, &kc);
		if (code) {
			nh_err(&a->log, "--kubelet-url: %s",
			       a->kubelet.error[0] ? a->kubelet.error : strerror(-code));
			return code;
		}
		a->kubelet_on = true;
		nh_pipeline_refresh_pods(a);
	}
	return 0;
}

/* The models, and the profiles a previous run saved. */
static int start_baseline(struct nh_agent *a)
{
	const char *dir = a->cfg.profile_dir;
	int code = nh_baseline_init(&a->baseline, &a->cfg.model, a->cfg.max_profiles);

	if (code) {
		nh_err(&a->log, "cannot allocate the profile table: %s", strerror(-code));
		return code;
	}
	if (!dir)
		return 0;
	code = nh_profilestore_open(&a->store, dir, &a->log);
	if (code)
		return code;
	a->persist = true;
	a->next_snapshot_ns = nh_clock_mono_ns() + a->cfg.snapshot_interval_ms * 1000000ULL;
	code = nh_profilestore_load(&a->store, &a->baseline.models);
	if (code < 0) {
		nh_err(&a->log, "cannot read profiles from %s: %s", dir, strerror(-code));
		return code;
	}
	nh_info(&a->log, "%d profiles loaded from %s", code, dir);
	return 0;
}

/* Last, once monitoring is on: the time since the previous run on this
 * node left off is a gap, reported; a start that failed was no run. */
static void start_lifecycle(struct nh_agent *a)
{
	uint64_t mono = nh_clock_mono_ns(), now = mono + (uint64_t)a->wall_offset_ns;
	int code;

	if (!a->persist)
		return;
	code = nh_lifecycle_start(&a->life, a->store.dir, now, mono, &a->gap);
	if (code)
		nh_warn(&a->log,
			"cannot record this run in %s: %s; the next start cannot report "
			"its gap",
			a->life.path, strerror(-code));
	if (a->gap.found)
		nh_pipeline_report_gap(a);
}

/* Keep only what reading /proc and cgroups needs. Kernels before 6.5
 * with kernel.unprivileged_bpf_disabled refuse every bpf() command, even
 * on a map the agent already holds, to a caller without CAP_BPF: try one
 * without it, and keep it when it is refused. */
static int drop_privileges(struct nh_agent *a)
{
	uint64_t keep = NH_PRIVILEGES_KEEP, have = 0;
	struct nh_counters c;
	char names[512];
	int code, probe;

	code = nh_privileges_effective(~NH_PRIVILEGES_BPF, &have);
	if (code) {
		nh_err(&a->log, "cannot read the agent's capabilities: %s", strerror(-code));
		return code;
	}
	probe = nh_probes_counters(&a->probes, 0, &c);
	code = nh_privileges_effective(~0ULL, &have);
	if (code) {
		nh_err(&a->log, "cannot restore the agent's capabilities: %s", strerror(-code));
		return code;
	}
	if (probe == -EPERM) {
		keep |= have & NH_PRIVILEGES_BPF ? NH_PRIVILEGES_BPF : NH_PRIVILEGES_SYS_ADMIN;
		nh_info(&a->log, "this kernel needs CAP_BPF (or CAP_SYS_ADMIN) for every bpf() "
				 "call: kept");
	}
	code = nh_privileges_drop(keep, &a->caps);
	if (code) {
		nh_err(&a->log, "cannot drop capabilities: %s", strerror(-code));
		return code;
	}
	nh_privileges_names(a->caps, names, sizeof(names));
	nh_info(&a->log, "capabilities kept: %s", names);
	if ((a->caps & NH_PRIVILEGES_KEEP) != NH_PRIVILEGES_KEEP) {
		/* Started with fewer: say what that costs instead of failing
		 * later, one process at a time. */
		nh_privileges_names(NH_PRIVILEGES_KEEP & ~a->caps, names, sizeof(names));
		nh_warn(&a->log,
			"capabilities missing: %s; without cap_sys_ptrace pods' tokens and "
			"other users' binaries cannot be read, without cap_dac_read_search "
			"cgroups are not resolved to pods",
			names);
	}
	return 0;
}

/* In a container with a private cgroup namespace every /proc/<pid>/cgroup
 * path is relative to the agent's own cgroup: find where that is on the
 * host from the id the kernel gives, and read /proc again with it. */
static int find_cgroup_namespace(struct nh_agent *a)
{
	uint64_t self_id = 0;
	int code, seeded;

	code = nh_probes_self_cgroup(&a->probes, &self_id);
	if (!code)
		code = nh_cgroupfs_set_self(&a->cgfs, getpid(), self_id);
	if (code) {
		/* The host's view is still right for an agent that is not in
		 * a cgroup namespace, the common case outside containers. */
		nh_warn(&a->log,
			"cannot place the agent's own cgroup (id %llu) in %s: %s; reading "
			"/proc/<pid>/cgroup as the host's paths",
			(unsigned long long)self_id, a->cgfs.mount, strerror(-code));
		return 0;
	}
	if (!a->cgfs.nsroot[0])
		return 0;
	nh_info(&a->log, "in a cgroup namespace rooted at %s on the host", a->cgfs.nsroot);
	/* Events are not read yet, so they still override what this finds. */
	seeded = nh_proctable_seed(&a->procs);
	if (seeded < 0)
		nh_warn(&a->log, "cannot read /proc: %s", strerror(-seeded));
	return 0;
}

/* The inode map's entries go through probes.c, the only BPF module. */
static int inode_learn(void *ctx, int fd, struct nh_inode_key *key)
{
	return nh_probes_inode_learn(ctx, fd, key);
}

static int inode_put(void *ctx, const struct nh_inode_key *key, const struct nh_inode_val *val)
{
	return nh_probes_inode_put(ctx, key, val);
}

static int inode_del(void *ctx, const struct nh_inode_key *key)
{
	return nh_probes_inode_del(ctx, key);
}

static void inode_filter(void *ctx, const uint64_t *bits)
{
	nh_probes_inode_filter(ctx, bits);
}

/* Credential files by inode (credinodes.h), found before the first event. */
static int start_credinodes(struct nh_agent *a)
{
	struct nh_credinodes_ops ops = {inode_learn, inode_put, inode_del, &a->probes,
					inode_filter};
	int code = nh_credinodes_init(&a->credinodes, &ops, a->cfg.kubelet_root,
				      a->findings.sa_token_path);

	if (code) {
		nh_err(&a->log, "cannot set up credential inodes: %s", strerror(-code));
		return code;
	}
	a->credinodes_on = true;
	return 0;
}

/* The first walk, on the I/O worker once it runs: waited for a while so
 * the files are known before the first event (a walk takes milliseconds),
 * but a file system that hangs (a FUSE mount in a home directory) never
 * holds the start. */
#define NH_CREDINODES_FIRST_NS (1000ULL * 1000000ULL)
static void first_credinodes_scan(struct nh_agent *a)
{
	if (!a->credinodes_on)
		return;
	a->credinodes.worker = &a->io;
	nh_pipeline_scan_credentials(a);
	if (!nh_worker_wait(&a->io, (uint64_t)(uintptr_t)&a->credinodes, NH_CREDINODES_FIRST_NS))
		nh_warn(&a->log,
			"credential files by inode: the first scan is not back after "
			"%llus (a file system that does not answer?); matched by path "
			"until it is",
			(unsigned long long)(NH_CREDINODES_FIRST_NS / 1000000000ULL));
	else
		nh_info(&a->log, "credential files by inode: %llu files, %llu token volumes",
			(unsigned long long)a->credinodes.files,
			(unsigned long long)a->credinodes.volumes);
}

int nh_agent_start(struct nh_agent *a)
{
	struct nh_probes_config pc = {0};
	char err[512], scope[PATH_MAX];
	mode_t mode = (mode_t)a->cfg.socket_mode;
	gid_t gid = 0;
	int code, seeded;

	a->epfd = a->sigfd = a->timerfd = -1;
	a->server.listen_fd = -1;
	a->start_ns = a->last_rate_ns = nh_clock_mono_ns();
	nh_posture_read(&a->posture, "/proc");
	a->wall_offset_ns = nh_clock_wall_offset_ns();
	/* Close windows promptly but never spin: a quarter window, 50ms..1s. */
	a->flush_interval_ns = a->cfg.dedup_window_ms * 1000000ULL / 4;
	if (a->flush_interval_ns < 50000000ULL)
		a->flush_interval_ns = 50000000ULL;
	if (a->flush_interval_ns > NH_NSEC)
		a->flush_interval_ns = NH_NSEC;

	code = nh_probes_preflight(err, sizeof(err));
	if (code) {
		nh_err(&a->log, "%s", err);
		goto cleanup;
	}
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0) {
		code = -errno;
		nh_err(&a->log, "cannot set up the event loop: %s", strerror(-code));
		goto cleanup;
	}
	/* Before the slow part, so a port in use fails at once. Requests
	 * wait in the listen backlog until the loop runs. */
	if (a->cfg.metrics_listen && a->cfg.metrics_listen[0]) {
		code = nh_httpd_open(&a->httpd, a->cfg.metrics_listen, a->epfd, &nh_status_http_ops,
				     a, &a->log);
		if (code)
			goto cleanup;
	}
	code = nh_cgroupfs_init(&a->cgfs, "/proc/self/mountinfo", "/proc");
	if (code) {
		nh_err(&a->log,
		       "no cgroup v2 hierarchy is mounted (%s): nhiscope needs cgroup v2, "
		       "alone or in hybrid mode",
		       strerror(-code));
		goto cleanup;
	}
	nh_info(&a->log, "cgroup v2 hierarchy at %s", a->cgfs.mount);
	if (a->cfg.scope_cgroup) {
		snprintf(scope, sizeof(scope), "%s/%s", a->cgfs.mount,
			 a->cfg.scope_cgroup + (a->cfg.scope_cgroup[0] == '/'));
		pc.scope_cgroup = scope;
	}
	code = nh_proctable_init(&a->procs, &a->cgfs, a->cfg.max_procs);
	if (!code)
		code = nh_identities_init(&a->ids, &a->cgfs, a->cfg.max_cgroups);
	if (!code)
		code = nh_quotamap_init(&a->objects, a->cfg.max_objects, 0, free);
	if (code) {
		nh_err(&a->log, "cannot allocate tables: %s", strerror(-code));
		goto cleanup;
	}
	code = start_credentials(a);
	if (!code)
		code = start_baseline(a);
	if (code)
		goto cleanup;
	/* Seed before attaching: events for processes that start meanwhile
	 * replace their seeded entries. */
	seeded = nh_proctable_seed(&a->procs);
	if (seeded < 0)
		nh_warn(&a->log, "cannot read /proc: %s", strerror(-seeded));
	else
		nh_info(&a->log, "process table seeded with %d processes", seeded);

	pc.agent_tgid = getpid();
	pc.dedup_window_ns = a->cfg.dedup_window_ms * 1000000ULL;
	pc.args_max = (uint32_t)a->cfg.argv_max;
	pc.dedup_entries = a->cfg.dedup_entries;
	pc.dedup_quota = a->cfg.dedup_quota ? a->cfg.dedup_quota : a->cfg.dedup_entries / 8;
	if (pc.dedup_quota > pc.dedup_entries)
		pc.dedup_quota = pc.dedup_entries;
	pc.flood_budget = a->cfg.flood_budget;
	pc.compat_monitor = a->cfg.compat_monitor;
	pc.flood_window_ns = a->cfg.flood_window_ms * 1000000ULL;
	pc.ringbuf_bytes = a->cfg.ringbuf_bytes;
	/* Wake early enough that a burst cannot fill the ring between two
	 * timed drains: an eighth of it unread. */
	pc.wakeup_bytes = a->cfg.batch_ms ? a->cfg.ringbuf_bytes / 8 : 0;
	code = nh_probes_start(&a->probes, &pc, nh_pipeline_on_event, a, err, sizeof(err));
	if (code) {
		nh_err(&a->log, "%s", err);
		goto cleanup;
	}
	{
		int attached = 0;

		/* Reduced coverage is said, hook by hook. */
		for (int i = 0; i < a->probes.nprobes; i++) {
			const struct nh_probe *p = &a->probes.probe[i];

			attached += p->attached || p->absent;
			if (p->absent && p->error[0])
				nh_info(&a->log, "probe %s (%s) absent: %s", p->prog, p->tracepoint,
					p->error);
			else if (p->absent)
				nh_info(
				    &a->log,
				    "probe %s: this kernel has no %s (the syscall does not exist "
				    "here: nothing to miss)",
				    p->prog, p->tracepoint);
			else if (!p->attached)
				nh_warn(&a->log, "probe %s (%s) not attached: %s", p->prog,
					p->tracepoint, p->error);
		}
		if (attached < a->probes.nprobes)
			nh_warn(&a->log, "reduced coverage: %d of %d probes attached", attached,
				a->probes.nprobes);
	}
	/* said once the agent is up: a start-up error stays one line */
	if (a->posture.ia32_emulation != 0 && a->cfg.compat_monitor)
		nh_info(&a->log, "32-bit (ia32) syscalls are watched by the compat monitor");
	else if (a->posture.ia32_emulation != 0)
		nh_info(&a->log,
			"32-bit (ia32) syscalls are possible on this node and are not traced "
			"(docs/coverage.md)");
	/* the io_uring hooks see a ring's operations; without them, none */
	if (a->posture.io_uring_disabled == 0 && a->probes.uring_absent[0])
		nh_info(&a->log,
			"io_uring is enabled for every process and its operations are not "
			"traced: %s (docs/coverage.md)",
			a->probes.uring_absent);
	nh_info(&a->log,
		"%d probes attached; dedup window %llums; ring buffer %llu bytes; batch %llums",
		nh_probes_attached(&a->probes), (unsigned long long)a->cfg.dedup_window_ms,
		(unsigned long long)a->cfg.ringbuf_bytes, (unsigned long long)a->cfg.batch_ms);
	code = start_credinodes(a);
	if (code)
		goto cleanup;
	code = find_cgroup_namespace(a);
	if (code)
		goto cleanup;

	code = open_sources(a);
	if (code) {
		nh_err(&a->log, "cannot set up the event loop: %s", strerror(-code));
		goto cleanup;
	}
	err[0] = '\0';
	code = make_socket_dir(a->cfg.socket_path, err, sizeof(err));
	if (code && err[0]) {
		nh_err(&a->log, "cannot listen on %s: %s", a->cfg.socket_path, err);
		goto cleanup;
	}
	/* The watch group must be able to connect: its bits are added. */
	if (!code && a->cfg.socket_group) {
		code = group_id(a->cfg.socket_group, &gid);
		if (code) {
			nh_err(&a->log, "socket.group %s: %s", a->cfg.socket_group,
			       code == -ENOENT ? "no such group" : strerror(-code));
			goto cleanup;
		}
		mode |= 0060;
	}
	if (!code)
		code = nh_server_open(&a->server, a->cfg.socket_path, mode, a->epfd,
				      a->cfg.subscriber_buffer, nh_status_query, a);
	if (code) {
		nh_err(&a->log, "cannot listen on %s: %s", a->cfg.socket_path,
		       code == -EADDRINUSE ? "another agent is already serving it"
		       : code == -ENOTSOCK ? "a file that is not a socket is in the way"
					   : strerror(-code));
		goto cleanup;
	}
	a->server.log = &a->log;
	if (a->cfg.socket_group) {
		code = nh_server_set_watch_group(&a->server, gid);
		if (code) {
			nh_err(&a->log, "socket.group %s: %s", a->cfg.socket_group,
			       strerror(-code));
			goto cleanup;
		}
	}
	nh_info(&a->log, "listening on %s", a->cfg.socket_path);
	code = drop_privileges(a);
	if (code)
		goto cleanup;
	/* After the drop, like every thread: the workers read workload files
	 * with the capabilities the loop keeps, no more. */
	code = nh_worker_init(&a->io, NH_IO_THREADS, NH_IO_DEADLINE_NS, NH_IO_QUEUE);
	if (!code)
		code = add_fd(a->epfd, a->io.efd, NH_SRC_WORKER);
	if (code) {
		nh_err(&a->log, "cannot start the I/O workers: %s", strerror(-code));
		goto cleanup;
	}
	a->io_on = true;
	a->tokens.worker = &a->io;
	a->tokens.wait_ns = NH_IO_FIRST_WAIT_NS;
	a->findings.worker = &a->io; /* credential files' inodes */
	a->findings.wait_ns = NH_IO_FIRST_WAIT_NS;
	first_credinodes_scan(a);
	a->store.worker = &a->io; /* snapshots: fsync off the loop */
	/* After the drop: librdkafka's threads inherit the capabilities of
	 * the thread that creates them, and they parse what the network
	 * sends. */
	if (a->cfg.kafka.brokers) {
		code = nh_kafka_open(&a->kafka, &a->cfg.kafka, &a->log);
		a->kafka_on = code == 0;
		if (code)
			goto cleanup;
		a->kafka.spool.worker = &a->io; /* cursor fsyncs off the loop */
	}
	/* The key fetcher parses what the network sends too. */
	code = start_keys(a);
	if (code)
		goto cleanup;
	code = nh_privileges_check_threads(a->caps);
	if (code) {
		nh_err(&a->log, "a thread kept capabilities the agent dropped: %s",
		       strerror(-code));
		goto cleanup;
	}
	start_lifecycle(a);
cleanup:
	if (code)
		nh_agent_stop(a);
	return code;
}

/* Apply the reloadable settings of next that differ from the live ones;
 * the others are reported as waiting for a restart. A setting that cannot
 * be applied leaves everything as it was. Returns whether a string of next
 * is now in use. */
static bool apply_reload(struct nh_agent *a, struct nh_agent_config *next)
{
	const struct nh_config_spec *spec = &nh_agent_spec;
	struct nh_catalogue *cat = NULL;
	bool keep = false, catalogue = false;
	int changed = 0;

	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (!o->key || nh_config_same(o, &a->cfg, next))
			continue;
		if (!(o->flags & NH_OPT_RELOAD)) {
			nh_warn(&a->log, "SIGHUP: %s changed; it applies at the next start",
				o->key);
			continue;
		}
		if (!strncmp(o->key, "credentials.", 12) || !strcmp(o->key, "kubernetes.apiserver"))
			catalogue = true;
	}
	if (catalogue) {
		/* About 100 KiB: on the heap, and built before anything
		 * changes. */
		cat = malloc(sizeof(*cat));
		if (!cat || build_catalogue(a, next, cat)) {
			nh_err(&a->log, "SIGHUP: configuration not changed");
			free(cat);
			return false;
		}
		nh_catalogue_free(&a->findings.cat);
		memcpy(&a->findings.cat, cat, sizeof(*cat));
		free(cat);
		a->credinodes_next_ns = 0; /* its files by inode at the next tick */
	}
	for (size_t i = 0; i < spec->nopts; i++) {
		const struct nh_opt *o = &spec->opts[i];

		if (!o->key || !(o->flags & NH_OPT_RELOAD) || nh_config_same(o, &a->cfg, next))
			continue;
		nh_config_copy(o, &a->cfg, next);
		keep |= o->type == NH_OPT_STRING || o->type == NH_OPT_PATH ||
			o->type == NH_OPT_LIST || o->type == NH_OPT_MAP;
		nh_info(&a->log, "SIGHUP: %s changed", o->key);
		changed++;
	}
	/* Records take the site by value when they are made, all on this
	 * thread, and the strings of every earlier load stay alive
	 * (nh_config_settle): re-deriving it here is safe. */
	nh_agent_derive_site(&a->cfg);
	a->log.level = a->cfg.log_level;
	a->log.format = a->cfg.log_format;
	a->baseline.models.cfg.learn_ns = a->cfg.learn_window_ms * 1000000ULL;
	a->baseline.models.cfg.quiet_ns = a->cfg.quiet_period_ms * 1000000ULL;
	a->server.max_out = a->cfg.subscriber_buffer;
	if (a->persist)
		a->next_snapshot_ns = nh_clock_mono_ns() + a->cfg.snapshot_interval_ms * 1000000ULL;
	nh_info(&a->log, "SIGHUP: configuration reloaded, %d setting%s changed", changed,
		changed == 1 ? "" : "s");
	return keep;
}

/* SIGHUP: the file and the command line read again, without touching the
 * probes. An invalid file changes nothing. */
void nh_agent_reload(struct nh_agent *a)
{
	struct nh_agent_config *next = calloc(1, sizeof(*next));
	char *errs = NULL, *line, *save = NULL;
	size_t len = 0;
	bool keep = false;
	FILE *err;

	err = open_memstream(&errs, &len);
	if (!next || !err) {
		nh_err(&a->log, "SIGHUP: out of memory; configuration not changed");
		goto cleanup;
	}
	if (nh_config_reload(&a->config, next, err)) {
		fclose(err);
		err = NULL;
		for (line = strtok_r(errs, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			nh_err(&a->log, "SIGHUP: %s", line);
		nh_err(&a->log, "SIGHUP: configuration not changed");
		goto cleanup;
	}
	nh_agent_derive(next);
	keep = apply_reload(a, next);
cleanup:
	nh_config_settle(&a->config, keep);
	if (err)
		fclose(err);
	free(errs);
	free(next);
}

void nh_agent_stop(struct nh_agent *a)
{
	nh_httpd_close(&a->httpd);
	nh_server_close(&a->server);
	if (a->credinodes_on) {
		nh_credinodes_free(&a->credinodes); /* its entries leave the kernel map */
		a->credinodes_on = false;
	}
	if (a->probes.skel)
		nh_probes_stop(&a->probes);
	/* Stopped by a signal: monitoring ends now, and the next start says
	 * so. Otherwise the state keeps the last time it was alive. */
	if (a->stopping && a->life.on &&
	    nh_lifecycle_stop(&a->life, nh_clock_mono_ns() + (uint64_t)a->wall_offset_ns))
		nh_warn(&a->log, "cannot record the stop in %s", a->life.path);
	nh_quotamap_free(&a->objects);
	if (a->persist) {
		int n;

		/* The last save is written here, before the workers stop. */
		a->store.worker = NULL;
		n = nh_profilestore_save(&a->store, &a->baseline.models);

		if (n >= 0)
			nh_info(&a->log, "%d profiles saved to %s", n, a->store.dir);
		a->persist = false;
	}
	nh_baseline_free(&a->baseline);
	if (a->kafka_on) {
		nh_spool_detach_worker(&a->kafka.spool);
		nh_kafka_close(&a->kafka, 5000);
		a->kafka_on = false;
	}
	nh_findings_free(&a->findings);
	nh_jw_free(&a->line_json);
	if (a->keyfetch_on) {
		nh_jwksfetch_stop(&a->keyfetch);
		nh_kubelet_global_cleanup();
		a->keyfetch_on = false;
	}
	/* Before what their jobs report to. */
	if (a->io_on) {
		a->findings.worker = NULL;
		nh_worker_free(&a->io);
		a->io_on = false;
		a->tokens.worker = NULL;
	}
	nh_satokens_free(&a->tokens);
	nh_fingerprinter_free(&a->fp);
	if (a->kubelet_on) {
		nh_kubelet_free(&a->kubelet);
		nh_kubelet_global_cleanup();
		a->kubelet_on = false;
	}
	nh_identities_free(&a->ids);
	nh_proctable_free(&a->procs);
	if (a->timerfd >= 0)
		close(a->timerfd);
	if (a->sigfd >= 0)
		close(a->sigfd);
	if (a->epfd >= 0)
		close(a->epfd);
	a->epfd = a->sigfd = a->timerfd = -1;
}
