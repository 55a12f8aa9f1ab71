// SPDX-License-Identifier: Apache-2.0
#include "probes.h"

#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "nhiscope.skel.h"

/* Write "<message>: <strerror>" into err and return code. */
static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t len, int code, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	n = strlen(err);
	snprintf(err + n, len - n, ": %s", strerror(code < 0 ? -code : code));
	return code;
}

/* tracefs is where the kernel lists tracepoints; some hosts leave it
 * unmounted, and attaching by name needs it. */
static int ensure_tracefs(char *err, size_t len)
{
	struct stat st;

	if (stat(NH_TRACEFS "/events", &st) == 0)
		return 0;
	if (mkdir(NH_TRACEFS, 0755) && errno != EEXIST)
		return fail(err, len, -errno, "cannot create %s", NH_TRACEFS);
	if (mount("tracefs", NH_TRACEFS, "tracefs", 0, NULL))
		return fail(err, len, -errno, "cannot mount tracefs at %s", NH_TRACEFS);
	return 0;
}

int nh_probes_preflight(char *err, size_t len)
{
	if (geteuid() != 0) {
		snprintf(err, len,
			 "must run as root (loading BPF needs CAP_BPF and CAP_PERFMON; mounting a "
			 "missing "
			 "tracefs, CAP_SYS_ADMIN)");
		return -EPERM;
	}
	if (access(NH_BTF_VMLINUX, R_OK) != 0)
		return fail(err, len, -errno,
			    "kernel BTF %s is not readable (a kernel with CONFIG_DEBUG_INFO_BTF=y "
			    "is required)",
			    NH_BTF_VMLINUX);
	return ensure_tracefs(err, len);
}

/* "tp/syscalls/sys_exit_openat" -> "syscalls:sys_exit_openat";
 * "raw_tp/sched_process_fork" -> "sched_process_fork". */
static void tracepoint_name(const char *sec, char *out, size_t len)
{
	const char *s = strchr(sec, '/');
	char *slash;

	snprintf(out, len, "%s", s ? s + 1 : sec);
	slash = strchr(out, '/');
	if (slash)
		*slash = ':';
}

/* Whether tracefs lists the tracepoint, to tell "missing" from "failed".
 * Raw tracepoints carry no category, so any category matches. */
static bool tracepoint_exists(const char *tp)
{
	const char *colon = strchr(tp, ':');
	char pattern[256];
	glob_t g;
	bool found;

	if (colon)
		snprintf(pattern, sizeof(pattern), NH_TRACEFS "/events/%.*s/%s", (int)(colon - tp),
			 tp, colon + 1);
	else
		snprintf(pattern, sizeof(pattern), NH_TRACEFS "/events/*/%s", tp);
	found = glob(pattern, GLOB_NOSORT, NULL, &g) == 0;
	if (found)
		globfree(&g);
	return found;
}

/* Probes of syscalls a kernel may be built without (CONFIG_MODULES,
 * CONFIG_FHANDLE): missing, they are listed as not attached
 * (docs/coverage.md), not a reason to refuse to start. */
static bool optional_probe(const char *prog)
{
	static const char *const optional[] = {"nh_exit_init_module", "nh_exit_finit_module",
					       "nh_exit_open_by_handle_at"};

	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		if (strcmp(prog, optional[i]) == 0)
			return true;
	return false;
}

/* The io_uring hooks (bpf/iouring.bpf.c): tp_btf programs, which need
 * the tracepoint's BTF to load, and read io_uring's internal structures. */
static bool uring_prog(const struct nh_probes *p, const struct bpf_program *prog)
{
	return prog == p->skel->progs.nh_uring_submit || prog == p->skel->progs.nh_uring_complete ||
	       prog == p->skel->progs.nh_uring_create || prog == p->skel->progs.nh_uring_overflow;
}

/* Before load: the kernel must have the four tracepoints with the
 * arguments the programs take (the btf_trace_<name> typedef's prototype,
 * context first), or the whole object would fail to load. Otherwise the
 * hooks are not loaded and are listed as absent with the reason. */
static void uring_check_btf(struct nh_probes *p)
{
	static const struct {
		const char *name;
		unsigned int nargs;
	} tps[] = {{"io_uring_submit_req", 2},
		   {"io_uring_complete", 4},
		   {"io_uring_create", 6},
		   {"io_uring_cqe_overflow", 6}};
	struct btf *btf = btf__load_vmlinux_btf();
	struct bpf_program *prog;

	p->uring_absent[0] = '\0';
	if (!btf) {
		snprintf(p->uring_absent, sizeof(p->uring_absent), "no kernel BTF");
		goto cleanup;
	}
	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]) && !p->uring_absent[0]; i++) {
		char name[64];
		int id;
		const struct btf_type *t;

		snprintf(name, sizeof(name), "btf_trace_%s", tps[i].name);
		id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
		t = id > 0 ? btf__type_by_id(btf, id) : NULL;
		if (t)
			t = btf__type_by_id(btf, t->type); /* pointer */
		if (t && btf_is_ptr(t))
			t = btf__type_by_id(btf, t->type);
		if (!t || !btf_is_func_proto(t))
			snprintf(p->uring_absent, sizeof(p->uring_absent),
				 "this kernel has no io_uring tracepoint %s", tps[i].name);
		else if (btf_vlen(t) != tps[i].nargs)
			snprintf(p->uring_absent, sizeof(p->uring_absent),
				 "io_uring tracepoint %s has other arguments on this kernel",
				 tps[i].name);
	}
cleanup:
	btf__free(btf);
	if (!p->uring_absent[0])
		return;
	bpf_object__for_each_program (prog, p->skel->obj)
		if (uring_prog(p, prog))
			bpf_program__set_autoload(prog, false);
}

/* After load: whether every io_uring structure field the hooks read
 * exists here (CO-RE says so in the kernel: nh_uring_layout). */
static void uring_check_layout(struct nh_probes *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (p->uring_absent[0])
		return;
	if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_uring_layout), &opts))
		snprintf(p->uring_absent, sizeof(p->uring_absent),
			 "cannot check the io_uring structures: %s", strerror(errno));
	else if (!p->skel->bss->nh_uring_layout_ok)
		snprintf(p->uring_absent, sizeof(p->uring_absent),
			 "io_uring's request structures differ on this kernel");
}

/* What a probe's program is, for the self-watch. */
static uint32_t prog_id_of(struct bpf_program *prog)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ? 0 : info.id;
}

static int attach_one(struct nh_probe *pr)
{
	int code;

	pr->link = bpf_program__attach(pr->bprog);
	if (!pr->link) {
		code = -errno;
		if (!tracepoint_exists(pr->tracepoint))
			snprintf(pr->error, sizeof(pr->error),
				 "tracepoint %s is missing on this kernel", pr->tracepoint);
		else
			snprintf(pr->error, sizeof(pr->error), "cannot attach: %s",
				 strerror(-code));
		return code ? code : -ENOENT;
	}
	pr->error[0] = '\0';
	pr->attached = true;
	return 0;
}

/* Every hook that can be attached is; one that cannot is recorded with
 * its reason (reduced coverage, reported, never silent). */
static int attach_all(struct nh_probes *p, char *err, size_t len)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int attached = 0, code = -ENOENT;

	bpf_object__for_each_program (prog, p->skel->obj) {
		struct nh_probe *pr;

		if (prog == p->skel->progs.nh_flush || prog == p->skel->progs.nh_pin ||
		    prog == p->skel->progs.nh_self || prog == p->skel->progs.nh_cgroup_ack ||
		    prog == p->skel->progs.nh_hash_selftest ||
		    prog == p->skel->progs.nh_inode_learn || prog == p->skel->progs.nh_uring_layout)
			continue; /* run on demand, never attached */
		if (!bpf_program__autoload(prog))
			continue; /* not asked for (the compat monitor) */
		if (p->nprobes >= NH_PROBES_MAX) {
			snprintf(err, len, "more than %d BPF programs", NH_PROBES_MAX);
			return -E2BIG;
		}
		pr = &p->probe[p->nprobes++];
		snprintf(pr->prog, sizeof(pr->prog), "%s", bpf_program__name(prog));
		tracepoint_name(bpf_program__section_name(prog), pr->tracepoint,
				sizeof(pr->tracepoint));
		pr->bprog = prog;
		if (uring_prog(p, prog) && p->uring_absent[0]) {
			/* a kernel whose io_uring the hooks cannot read: listed
			 * as absent, with the reason (docs/coverage.md) */
			pr->absent = true;
			snprintf(pr->error, sizeof(pr->error), "%s", p->uring_absent);
			continue;
		}
		pr->prog_id = prog_id_of(prog);
		code = attach_one(pr);
		if (code && optional_probe(pr->prog) && !tracepoint_exists(pr->tracepoint)) {
			/* a kernel without the feature: that path does not exist
			 * (listed as absent, not as reduced coverage) */
			pr->absent = true;
			pr->error[0] = '\0';
			continue;
		}
		if (code)
			snprintf(err, len, "%s: %s", pr->prog, pr->error);
		else
			attached++;
	}
	bpf_object__for_each_map(map, p->skel->obj)
	{
		struct bpf_map_info info = {0};
		uint32_t ilen = sizeof(info);

		if (p->nmaps < NH_PROBES_MAPS_MAX && bpf_map__fd(map) >= 0 &&
		    !bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &ilen))
			p->map_ids[p->nmaps++] = info.id;
	}
	return attached ? 0 : code;
}

static int set_scope(struct nh_probes *p, const char *dir, char *err, size_t len)
{
	int fd, key = 0, code = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, len, -errno, "cannot open scope cgroup %s", dir);
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.scope_cgroup), &key, &fd, BPF_ANY))
		code = fail(err, len, -errno, "cannot set scope cgroup %s", dir);
	close(fd);
	return code;
}

/* libcrypto's SipHash-1-3 (8-byte tag) of words || buf under the load's key. */
static int siphash_ref(const struct nh_probes *p, const uint64_t *words, const char *buf,
		       size_t len, uint64_t *out)
{
	unsigned char msg[NH_SIPHASH_WORDS * 8 + NH_PATH_MAX], tag[8];
	unsigned int crounds = 1, drounds = 3;
	size_t size = 8, taglen = 0;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
	    OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_C_ROUNDS, &crounds),
	    OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_D_ROUNDS, &drounds),
	    OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	int code = -EIO;

	if (!ctx)
		goto cleanup;
	for (int i = 0; i < NH_SIPHASH_WORDS; i++)
		for (int b = 0; b < 8; b++)
			msg[i * 8 + b] = (unsigned char)(words[i] >> (8 * b));
	memcpy(msg + NH_SIPHASH_WORDS * 8, buf, len);
	/* The key as the BPF side reads it: two little-endian words. */
	if (!EVP_MAC_init(ctx, (const unsigned char *)p->skel->rodata->nh_hash_key, 16, params) ||
	    !EVP_MAC_update(ctx, msg, NH_SIPHASH_WORDS * 8 + len) ||
	    !EVP_MAC_final(ctx, tag, &taglen, sizeof(tag)) || taglen != 8)
		goto cleanup;
	*out = 0;
	for (int b = 7; b >= 0; b--)
		*out = *out << 8 | tag[b];
	code = 0;
cleanup:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return code;
}

/* The kernel's object hash must be libcrypto's SipHash-1-3: hand-written
 * in BPF, so checked at every load on messages of every tail length. */
static int hash_selftest(struct nh_probes *p, char *err, size_t errlen)
{
	static const uint64_t words[NH_SIPHASH_WORDS] = {0x0123456789abcdefULL, 42,
							 0xffffffffffffffffULL};
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	uint64_t want = 0;
	size_t lens[] = {0, 1, 7, 8, 9, 15, 16, 17, 63, NH_PATH_MAX - 1, NH_PATH_MAX};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t b = 0; b < NH_PATH_MAX; b++)
			p->skel->bss->nh_selftest_buf[b] = (char)(b * 37 + i);
		memcpy(p->skel->bss->nh_selftest_words, words, sizeof(words));
		p->skel->bss->nh_selftest_len = lens[i];
		if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_hash_selftest),
					   &opts) ||
		    opts.retval)
			return fail(err, errlen, -EIO, "cannot run the dedup hash self-test");
		if (siphash_ref(p, words, p->skel->bss->nh_selftest_buf, lens[i], &want))
			return fail(err, errlen, -EIO, "libcrypto has no SipHash");
		if (want != p->skel->bss->nh_selftest_out)
			return fail(err, errlen, -EPROTO,
				    "the kernel's dedup hash differs from SipHash-1-3 (length %zu)",
				    lens[i]);
	}
	return 0;
}

int nh_probes_start(struct nh_probes *p, const struct nh_probes_config *cfg,
		    ring_buffer_sample_fn on_event, void *ctx, char *err, size_t errlen)
{
	int code;

	memset(p, 0, sizeof(*p));
	code = nh_probes_preflight(err, errlen);
	if (code)
		goto cleanup;
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		code = fail(err, errlen, p->ncpus ? p->ncpus : -EINVAL, "cannot count CPUs");
		goto cleanup;
	}
	p->percpu = calloc(p->ncpus, sizeof(*p->percpu));
	if (!p->percpu) {
		code = fail(err, errlen, -ENOMEM, "out of memory");
		goto cleanup;
	}
	{
		/* CO-RE against the running kernel's own BTF only: a type the
		 * kernel lacks (an older layout's flavour) otherwise sends
		 * libbpf through the module BTFs, which takes CAP_SYS_ADMIN
		 * the agent does not hold, and the load fails with EPERM. */
		LIBBPF_OPTS(bpf_object_open_opts, opts);

		if (access(NH_BTF_VMLINUX, R_OK) == 0)
			opts.btf_custom_path = NH_BTF_VMLINUX;
		p->skel = nhiscope__open_opts(&opts);
	}
	if (!p->skel) {
		code = fail(err, errlen, -errno, "cannot open BPF object");
		goto cleanup;
	}
	/* The dedup object hash key, fresh at each load (see maps.bpf.h). */
	if (getrandom((void *)p->skel->rodata->nh_hash_key, sizeof(p->skel->rodata->nh_hash_key),
		      0) != sizeof(p->skel->rodata->nh_hash_key)) {
		code = fail(err, errlen, -EIO, "cannot draw the dedup hash key");
		goto cleanup;
	}
	p->skel->rodata->nh_agent_tgid = cfg->agent_tgid;
	p->skel->rodata->nh_dedup_window_ns = cfg->dedup_window_ns;
	p->skel->rodata->nh_dedup_quota = cfg->dedup_quota;
	p->skel->rodata->nh_scoped = cfg->scope_cgroup != NULL;
	p->skel->rodata->nh_wakeup_bytes = cfg->wakeup_bytes;
	p->skel->rodata->nh_flood_budget = cfg->flood_budget;
	if (cfg->flood_window_ns)
		p->skel->rodata->nh_flood_window_ns = cfg->flood_window_ns;
	p->skel->rodata->nh_args_max =
	    cfg->args_max && cfg->args_max < NH_ARGS_MAX ? cfg->args_max : NH_ARGS_MAX;
	/* The compat monitor runs on every syscall of the node: only when
	 * asked for (not loaded, not listed as a probe otherwise). */
	bpf_program__set_autoload(p->skel->progs.nh_compat_enter, cfg->compat_monitor);
	code = bpf_map__set_max_entries(p->skel->maps.events, cfg->ringbuf_bytes);
	if (!code)
		code = bpf_map__set_max_entries(p->skel->maps.dedup, cfg->dedup_entries);
	if (!code)
		code = bpf_map__set_max_entries(p->skel->maps.exec_scratch, (uint32_t)p->ncpus);
	if (code) {
		code = fail(err, errlen, code, "cannot size BPF maps");
		goto cleanup;
	}
	uring_check_btf(p);
	code = nhiscope__load(p->skel);
	if (code) {
		code = fail(err, errlen, code,
			    "cannot load BPF programs (run with -v for the verifier log)");
		goto cleanup;
	}
	code = hash_selftest(p, err, errlen);
	if (code)
		goto cleanup;
	uring_check_layout(p);
	code = nh_shadow_init(&p->shadow_identities, "identities", sizeof(__u64), sizeof(__u64),
			      bpf_map__max_entries(p->skel->maps.identities), true);
	if (!code)
		code = nh_shadow_init(&p->shadow_inodes, "inodes", sizeof(struct nh_inode_key),
				      sizeof(struct nh_inode_val),
				      bpf_map__max_entries(p->skel->maps.inodes), false);
	if (code) {
		code = fail(err, errlen, code, "cannot record the agent's map entries");
		goto cleanup;
	}
	if (cfg->scope_cgroup) {
		code = set_scope(p, cfg->scope_cgroup, err, errlen);
		if (code)
			goto cleanup;
	}
	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.events), on_event, ctx, NULL);
	if (!p->rb) {
		code = fail(err, errlen, -errno, "cannot open the ring buffer");
		goto cleanup;
	}
	code = attach_all(p, err, errlen);
cleanup:
	if (code)
		nh_probes_stop(p);
	return code;
}

void nh_probes_stop(struct nh_probes *p)
{
	for (int i = 0; i < p->nprobes; i++) {
		bpf_link__destroy(p->probe[i].link);
		p->probe[i].link = NULL;
		p->probe[i].attached = false;
	}
	ring_buffer__free(p->rb);
	p->rb = NULL;
	nhiscope__destroy(p->skel);
	p->skel = NULL;
	free(p->percpu);
	p->percpu = NULL;
	nh_shadow_free(&p->shadow_identities);
	nh_shadow_free(&p->shadow_inodes);
}

static void tamper(struct nh_probes *p, struct nh_tamper *out, int max, int *n, const char *what,
		   bool repaired, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void tamper(struct nh_probes *p, struct nh_tamper *out, int max, int *n, const char *what,
		   bool repaired, const char *fmt, ...)
{
	char detail[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	p->tampered++;
	snprintf(p->last_tamper, sizeof(p->last_tamper), "%s: %s", what, detail);
	if (*n >= max)
		return;
	snprintf(out[*n].what, sizeof(out[*n].what), "%s", what);
	memcpy(out[*n].detail, detail, sizeof(detail));
	out[*n].repaired = repaired;
	(*n)++;
}

static bool our_map(const struct nh_probes *p, uint32_t id)
{
	for (int i = 0; i < p->nmaps; i++)
		if (p->map_ids[i] == id)
			return true;
	return false;
}

/* A link is ours while the kernel still knows it and it runs our
 * program; a link some link types let another process detach is also
 * seen by its target going (cgroup, ifindex): then it is not ours. */
static bool link_intact(const struct nh_probe *pr)
{
	struct bpf_link_info info = {0};
	uint32_t len = sizeof(info);
	int fd = bpf_link__fd(pr->link);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return false;
	if (info.prog_id != pr->prog_id)
		return false;
	if (info.type == BPF_LINK_TYPE_CGROUP && !info.cgroup.cgroup_id)
		return false;
	return true;
}

/* The maps only the agent writes: entries it did not write are removed,
 * changed or removed ones written back. */
static void verify_shadow(struct nh_probes *p, struct nh_shadow *s, struct bpf_map *map,
			  struct nh_tamper *out, int max, int *n)
{
	struct nh_shadow_diff d;
	int code = nh_shadow_check(s, bpf_map__fd(map), &d);

	if (code == 0 && (d.foreign || d.changed || d.removed))
		tamper(p, out, max, n, "map", true,
		       "%s (%llu added, %llu changed, %llu removed by another process)", d.detail,
		       (unsigned long long)d.foreign, (unsigned long long)d.changed,
		       (unsigned long long)d.removed);
}

/* Records of a kind are counted as emitted before they are submitted,
 * so the kernel's count is never below what the agent received: a
 * rewrite that lowered it shows however fast it grows back afterwards
 * (the once-a-second "went backwards" look misses a busy kind that
 * regrew past its old value). Slack: per-CPU increments are plain adds,
 * a nested program may rarely lose one. Summaries are not counted. */
static void verify_emitted(struct nh_probes *p, uint32_t k, const struct nh_counters *c,
			   uint64_t received, struct nh_tamper *out, int max, int *n)
{
	uint64_t have = c->emitted + p->emitted_missing[k];

	if (k == NH_KIND_SUMMARY || received <= have + (uint64_t)p->ncpus)
		return;
	p->emitted_missing[k] += received - have;
	tamper(p, out, max, n, "counters", false,
	       "kernel counter of kind %u shows %llu records emitted, the agent received %llu: "
	       "lowered by another process",
	       k, (unsigned long long)c->emitted, (unsigned long long)received);
}

int nh_probes_verify(struct nh_probes *p, const uint64_t *received, struct nh_tamper *out, int max)
{
	uint32_t map_ids[NH_PROBES_MAPS_MAX];
	int n = 0;

	/* Counters only grow: lower ones were reset or rewritten (hiding
	 * losses). Taken as the new floor, reported once. A kind that grows
	 * fast can pass its old value again before the next look: emitted
	 * is also held against the records received (verify_emitted). */
	for (uint32_t k = 1; k < NH_KIND_MAX; k++) {
		struct nh_counters c, *l = &p->last[k];

		if (nh_probes_counters(p, k, &c))
			continue;
		if (c.suppressed < l->suppressed || c.lost < l->lost)
			tamper(
			    p, out, max, &n, "counters", false,
			    "kernel counters of kind %u went backwards (suppressed %llu -> %llu, "
			    "lost %llu -> %llu): changed by another process",
			    k, (unsigned long long)l->suppressed, (unsigned long long)c.suppressed,
			    (unsigned long long)l->lost, (unsigned long long)c.lost);
		verify_emitted(p, k, &c, received[k], out, max, &n);
		*l = c;
	}
	verify_shadow(p, &p->shadow_identities, p->skel->maps.identities, out, max, &n);
	verify_shadow(p, &p->shadow_inodes, p->skel->maps.inodes, out, max, &n);
	for (int i = 0; i < p->nprobes; i++) {
		struct nh_probe *pr = &p->probe[i];
		struct bpf_prog_info info = {0};
		uint32_t len = sizeof(info);
		bool repaired;

		if (!pr->attached)
			continue;
		if (!link_intact(pr)) {
			bpf_link__destroy(pr->link);
			pr->link = NULL;
			pr->attached = false;
			repaired = attach_one(pr) == 0;
			p->reattached += repaired;
			tamper(p, out, max, &n, "link", repaired,
			       "%s on %s was detached by another process; %s", pr->prog,
			       pr->tracepoint, repaired ? "attached again" : pr->error);
			continue;
		}
		/* The maps the program uses: the ones we created. */
		info.nr_map_ids = NH_PROBES_MAPS_MAX;
		info.map_ids = (uint64_t)(uintptr_t)map_ids;
		if (bpf_obj_get_info_by_fd(bpf_program__fd(pr->bprog), &info, &len))
			continue;
		for (uint32_t m = 0;
		     !pr->map_reported && m < info.nr_map_ids && m < NH_PROBES_MAPS_MAX; m++)
			if (!our_map(p, map_ids[m])) {
				pr->map_reported = true; /* once: it cannot change back */
				tamper(p, out, max, &n, "map", false,
				       "%s uses map id %u, not one the agent created", pr->prog,
				       map_ids[m]);
				break;
			}
	}
	return n;
}

int nh_probes_attached(const struct nh_probes *p)
{
	int n = 0;

	for (int i = 0; i < p->nprobes; i++)
		n += p->probe[i].attached;
	return n;
}

int nh_probes_missing(const struct nh_probes *p)
{
	int n = 0;

	for (int i = 0; i < p->nprobes; i++)
		n += !p->probe[i].attached && !p->probe[i].absent;
	return n;
}

int nh_probes_epoll_fd(const struct nh_probes *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int nh_probes_consume(struct nh_probes *p)
{
	return ring_buffer__consume(p->rb);
}

int nh_probes_flush(struct nh_probes *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int fd = bpf_map__fd(p->skel->maps.dedup_reown);

	p->skel->bss->nh_dedup_reown_pending = p->nreown > 0;
	/* Also without dedup: the flush reports floods and attributed losses. */
	if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_flush), &opts))
		return -errno;
	/* A walk cut short by a full ring moves the rest on the next one. */
	if (p->nreown && opts.retval == 0) {
		for (int i = 0; i < p->nreown; i++)
			bpf_map_delete_elem(fd, &p->reown[i]);
		p->nreown = 0;
		p->skel->bss->nh_dedup_reown_pending = 0;
	}
	return 0;
}

int nh_probes_dedup_reown(struct nh_probes *p, uint64_t from, uint64_t to)
{
	__u64 k = from, v = to;

	if (!p->skel->rodata->nh_dedup_quota || from == to)
		return 0;
	if (p->nreown == NH_PROBES_REOWN_MAX)
		return -ENOSPC;
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.dedup_reown), &k, &v, BPF_NOEXIST))
		return errno == EEXIST ? 0 : -errno;
	p->reown[p->nreown++] = from;
	return 0;
}

int nh_probes_counters(struct nh_probes *p, uint32_t kind, struct nh_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.counters), &kind, p->percpu))
		return -errno;
	for (int cpu = 0; cpu < p->ncpus; cpu++) {
		out->emitted += p->percpu[cpu].emitted;
		out->suppressed += p->percpu[cpu].suppressed;
		out->lost += p->percpu[cpu].lost;
		out->flooded += p->percpu[cpu].flooded;
	}
	return 0;
}

int nh_probes_pin(struct nh_probes *p, const struct nh_dedup_key *key)
{
	/* In the kernel, with an atomic or on the flags: a user-space
	 * read-modify-write of the value would race with the hooks' count
	 * increments and lose repeats from a summary. */
	__u64 args[3] = {key->cgroup_id, key->obj_hash, (__u64)key->kind << 32 | key->uid};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (!p->skel->rodata->nh_dedup_window_ns)
		return -ENOENT;
	if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_pin), &opts))
		return -errno;
	return opts.retval ? -ENOENT : 0;
}

int nh_probes_identity_set(struct nh_probes *p, uint64_t cgroup_id, bool leaf_only)
{
	__u64 k = cgroup_id, v = cgroup_id | (leaf_only ? NH_IDENTITY_LEAF_ONLY : 0);

	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.identities), &k, &v,
				leaf_only ? BPF_NOEXIST : BPF_ANY)) {
		if (leaf_only && errno == EEXIST)
			return 0;
		return -errno;
	}
	nh_shadow_put(&p->shadow_identities, &k, &v);
	return 0;
}

void nh_probes_identity_gone(struct nh_probes *p, uint64_t cgroup_id)
{
	__u64 k = cgroup_id;

	/* Its budget stays until the flush reported its last counts; the
	 * LRU takes it after that. */
	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.identities), &k);
	nh_shadow_del(&p->shadow_identities, &k);
}

int nh_probes_self_cgroup(struct nh_probes *p, uint64_t *id)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_self), &opts))
		return -errno;
	*id = p->skel->bss->nh_self_cgroup_id;
	return *id ? 0 : -ENOENT;
}

long nh_probes_dedup_entries(struct nh_probes *p)
{
	/* As of the last window closed (at most a second ago): the flush
	 * counts them in the kernel. */
	return p->skel->rodata->nh_dedup_window_ns ? (long)p->skel->bss->nh_dedup_entries_seen : 0;
}

int nh_probes_cgroup_gone(struct nh_probes *p, uint64_t cgroup_id)
{
	__u64 args[1] = {cgroup_id};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_cgroup_ack), &opts))
		return -errno;
	return 0;
}

void nh_probes_dedup_stats(struct nh_probes *p, struct nh_dedup_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!p->skel || !p->skel->rodata->nh_dedup_window_ns)
		return;
	out->evicted = p->skel->bss->nh_dedup_evicted;
	out->purged = p->skel->bss->nh_dedup_purged;
	out->quota = p->skel->rodata->nh_dedup_quota;
	out->refused = p->skel->bss->nh_dedup_refused;
	{
		int fd = bpf_map__fd(p->skel->maps.dedup_owners);
		__u64 key, *prev = NULL;
		struct nh_dedup_owner o;

		while (out->quota && bpf_map_get_next_key(fd, prev, &key) == 0) {
			prev = &key;
			if (bpf_map_lookup_elem(fd, &key, &o) != 0)
				continue;
			out->identities_refused += o.refused != 0;
		}
	}
}

static int cmp_share(const void *x, const void *y)
{
	const struct nh_dedup_share *a = x, *b = y;

	if (a->o.refused != b->o.refused)
		return a->o.refused < b->o.refused ? 1 : -1;
	return a->o.live < b->o.live ? 1 : a->o.live > b->o.live ? -1 : 0;
}

int nh_probes_dedup_shares(struct nh_probes *p, struct nh_dedup_share *out, size_t max)
{
	int fd;
	__u64 key, *prev = NULL;
	size_t n = 0;

	if (!p->skel || !p->skel->rodata->nh_dedup_window_ns || !p->skel->rodata->nh_dedup_quota)
		return 0;
	fd = bpf_map__fd(p->skel->maps.dedup_owners);
	while (n < max && bpf_map_get_next_key(fd, prev, &key) == 0) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &out[n].o) != 0)
			continue;
		out[n++].identity_cgroup = key;
	}
	qsort(out, n, sizeof(*out), cmp_share);
	return (int)n;
}

int nh_probes_inode_learn(struct nh_probes *p, int fd, struct nh_inode_key *key)
{
	__u64 args[1] = {(__u64)fd};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	if (bpf_prog_test_run_opts(bpf_program__fd(p->skel->progs.nh_inode_learn), &opts))
		return -errno;
	if (opts.retval)
		return -EBADF;
	memset(key, 0, sizeof(*key));
	key->dev = (__u32)p->skel->bss->nh_learn_dev;
	key->ino = p->skel->bss->nh_learn_ino;
	return 0;
}

int nh_probes_inode_put(struct nh_probes *p, const struct nh_inode_key *key,
			const struct nh_inode_val *val)
{
	uint32_t bit = nh_cred_filter_bit(key->ino, key->dev);

	/* The bit first: the hook looks in the map only when it is set. */
	__atomic_fetch_or(&p->skel->bss->nh_cred_filter[bit >> 6], 1ULL << (bit & 63),
			  __ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.inodes), key, val, BPF_ANY))
		return -errno;
	nh_shadow_put(&p->shadow_inodes, key, val);
	return 0;
}

void nh_probes_inode_filter(struct nh_probes *p, const uint64_t *bits)
{
	/* Word by word: a bit of a live key is set in both the old and the
	 * new word, so no store can hide it. */
	for (int i = 0; i < NH_CRED_FILTER_WORDS; i++)
		if (p->skel->bss->nh_cred_filter[i] != bits[i])
			__atomic_store_n(&p->skel->bss->nh_cred_filter[i], bits[i],
					 __ATOMIC_SEQ_CST);
}

int nh_probes_inode_del(struct nh_probes *p, const struct nh_inode_key *key)
{
	int code = 0;

	if (bpf_map_delete_elem(bpf_map__fd(p->skel->maps.inodes), key) && errno != ENOENT)
		code = -errno;
	nh_shadow_del(&p->shadow_inodes, key);
	return code;
}
