/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models_bench: throughput and memory of models/ on one core.
 *
 * Builds 10,000 identities, each with a typical profile (20 binaries, 30
 * destinations, 5 ports, 80 files, 5 credentials, 2 privilege changes)
 * learned in a short window, then replays N pre-built observations
 * through nh_models_observe (and a tick every 65,536 events): ~99.9% of
 * known items, a few novel ones, categories mixed like a busy node (files
 * half of it, some /proc/PID paths that need normalising). Identities come
 * in runs, as a process's events do (mean run length 4; --run 1 makes
 * every event pick a random identity). Prints one line:
 *
 *   models_bench events=N seconds=S events_per_sec=R identities=10000
 *     bytes_per_profile=B rss_kb=K
 *
 * Usage: models_bench [--events N] [--run L]
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "models.h"

#define IDS	    10000
#define POOL	    (1u << 21) /* pre-built events, replayed in a loop */
#define SEC	    1000000000ull
#define T0	    (1700000000ull * SEC)
#define N_EXEC	    20
#define N_EGRESS    30
#define N_INGRESS   5
#define N_FILE	    80
#define N_PROC	    4 /* of the files: /proc/PID/... */
#define N_CRED	    5
#define N_PRIV	    2
#define NOVEL_EVERY 1000 /* one novel observation per this many */

static const char *const cred_kinds[N_CRED] = {"sa_token", "aws_credentials", "kubeconfig",
					       "cloud_metadata", "kube_apiserver"};
static const char *const proc_files[N_PROC] = {"status", "stat", "cgroup", "mountinfo"};

struct ident {
	char name[48];
	uint16_t exec[N_EXEC], file[N_FILE], cred[N_CRED];
	uint32_t egress[N_EGRESS];
	uint16_t ingress[N_INGRESS], egress_port[N_EGRESS];
};

struct ev {
	uint32_t id;
	uint8_t cat;
	uint8_t novel;
	uint16_t item;
	uint32_t arg; /* a pid for /proc paths */
};

static char *binaries[400], *files[4000], *creds[400];

static uint32_t rng_state = 0x12345678;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static char *dup_printf(const char *fmt, unsigned a, unsigned b)
{
	char buf[256];

	snprintf(buf, sizeof(buf), fmt, a, b);
	return strdup(buf);
}

static void build_pools(void)
{
	static const char *const bindirs[] = {"/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"};
	static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu",
					   "/etc",
					   "/etc/ssl/certs",
					   "/app/config",
					   "/var/lib/app/data",
					   "/usr/share/zoneinfo",
					   "/opt/app/lib",
					   "/srv/www/static",
					   "/usr/lib/python3/dist-packages/pkg%u",
					   "/var/cache/app/shard%u"};

	for (unsigned i = 0; i < 400; i++) {
		char buf[128];

		snprintf(buf, sizeof(buf), "%s/tool-%u", bindirs[i % 4], i);
		binaries[i] = strdup(buf);
		creds[i] = dup_printf("/var/run/secrets/app/%u/cred-%u", i / 5, i);
	}
	for (unsigned i = 0; i < 4000; i++) {
		char d[128], buf[256];

		snprintf(d, sizeof(d), dirs[i % 10], i % 50);
		snprintf(buf, sizeof(buf), "%s/file-%u.conf", d, i);
		files[i] = strdup(buf);
	}
}

static void make_ident(struct ident *id, unsigned n)
{
	snprintf(id->name, sizeof(id->name), "k8s:sa/ns-%u/workload-%u", n % 97, n);
	for (int i = 0; i < N_EXEC; i++)
		id->exec[i] = (uint16_t)((n * 7 + (unsigned)i * 13) % 400);
	for (int i = 0; i < N_FILE; i++)
		id->file[i] = (uint16_t)((n * 31 + (unsigned)i * 47) % 4000);
	for (int i = 0; i < N_CRED; i++)
		id->cred[i] = (uint16_t)((n + (unsigned)i) % 400);
	for (int i = 0; i < N_EGRESS; i++) {
		id->egress[i] = (10u << 24) | ((n % 200) << 16) | ((unsigned)i * 37 % 256) << 8 |
				((n + (unsigned)i) % 250 + 1);
		id->egress_port[i] = i % 5 ? 443 : (uint16_t)(5432 + i % 3);
	}
	for (int i = 0; i < N_INGRESS; i++)
		id->ingress[i] = (uint16_t)(8080 + i);
}

/* Fill o for event e; buf holds a generated value. */
static void fill(struct nh_observation *o, const struct ident *id, const struct ev *e, uint64_t ts,
		 char *buf, size_t cap, unsigned cycle)
{
	uint32_t a;

	memset(o, 0, sizeof(*o));
	o->cat = (enum nh_category)e->cat;
	o->ts_ns = ts;
	o->count = 1;
	switch (o->cat) {
	case NH_CAT_EXEC:
		if (e->novel) {
			snprintf(buf, cap, "/opt/new/bin-%u-%u", cycle, e->arg);
			o->value = buf;
		} else {
			o->value = binaries[id->exec[e->item]];
		}
		o->parent = binaries[id->exec[0]];
		break;
	case NH_CAT_EGRESS:
		a = e->novel ? (172u << 24) | (cycle << 20) | (e->arg & 0xfffff)
			     : id->egress[e->item];
		o->family = AF_INET;
		o->addr[0] = (uint8_t)(a >> 24);
		o->addr[1] = (uint8_t)(a >> 16);
		o->addr[2] = (uint8_t)(a >> 8);
		o->addr[3] = (uint8_t)a;
		o->port = e->novel ? 443 : id->egress_port[e->item];
		break;
	case NH_CAT_INGRESS:
		o->family = AF_INET;
		o->port = id->ingress[e->item];
		break;
	case NH_CAT_FILE:
		if (e->novel) {
			snprintf(buf, cap, "/tmp/novel/c%u/f-%u", cycle, e->arg);
			o->value = buf;
		} else if (e->item < N_PROC) {
			snprintf(buf, cap, "/proc/%u/%s", e->arg, proc_files[e->item]);
			o->value = buf;
		} else {
			o->value = files[id->file[e->item]];
		}
		break;
	case NH_CAT_CREDENTIAL:
		o->credential_kind = cred_kinds[e->item];
		o->value = creds[id->cred[e->item]];
		break;
	default:
		o->value = e->item ? "setgid 0->1000" : "setuid 0->1000";
		break;
	}
}

/* Event mix: files 50%, egress 20%, exec 10%, credentials 10%, ingress
 * 8%, privilege 2%; of the files, 1 in 10 a /proc/PID path. */
static void make_event(struct ev *e, uint32_t id, uint32_t i)
{
	unsigned r = rnd() % 100;

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->arg = i;
	if (r < 50) {
		e->cat = NH_CAT_FILE;
		e->item = rnd() % 10 ? (uint16_t)(N_PROC + rnd() % (N_FILE - N_PROC))
				     : (uint16_t)(rnd() % N_PROC);
		if (e->item < N_PROC)
			e->arg = 100 + rnd() % 30000;
	} else if (r < 70) {
		e->cat = NH_CAT_EGRESS;
		e->item = (uint16_t)(rnd() % N_EGRESS);
	} else if (r < 80) {
		e->cat = NH_CAT_EXEC;
		e->item = (uint16_t)(rnd() % N_EXEC);
	} else if (r < 90) {
		e->cat = NH_CAT_CREDENTIAL;
		e->item = (uint16_t)(rnd() % N_CRED);
	} else if (r < 98) {
		e->cat = NH_CAT_INGRESS;
		e->item = (uint16_t)(rnd() % N_INGRESS);
	} else {
		e->cat = NH_CAT_PRIVILEGE;
		e->item = (uint16_t)(rnd() % N_PRIV);
	}
	if (rnd() % NOVEL_EVERY == 0) {
		static const uint8_t novel_cats[] = {NH_CAT_FILE, NH_CAT_FILE, NH_CAT_EGRESS,
						     NH_CAT_EXEC};

		e->novel = 1;
		e->cat = novel_cats[rnd() % 4];
	}
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t events = 20000000, anomalies = 0;
	unsigned run = 4;
	struct nh_model_config cfg;
	struct nh_models m;
	struct nh_anomaly out[16];
	struct nh_observation o;
	struct ident *ids;
	struct ev *pool;
	struct nh_profile_info info;
	struct rusage ru;
	char buf[NH_MODEL_VALUE_MAX];
	double t0, secs;
	size_t bytes = 0, it = 0, nprof = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--events") == 0)
			events = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--run") == 0)
			run = (unsigned)strtoul(argv[i + 1], NULL, 10);
	}
	if (run == 0)
		run = 1;
	build_pools();
	ids = calloc(IDS, sizeof(*ids));
	pool = calloc(POOL, sizeof(*pool));
	if (!ids || !pool)
		return 1;
	nh_model_config_defaults(&cfg);
	cfg.learn_ns = SEC;
	cfg.quiet_ns = SEC;
	if (nh_models_init(&m, &cfg, 2 * IDS))
		return 1;

	/* learn every identity's typical profile, then let them turn stable */
	for (unsigned n = 0; n < IDS; n++) {
		struct ident *id = &ids[n];
		struct ev e = {0};

		make_ident(id, n);
		for (int c = 0; c < NH_CAT_MAX; c++) {
			static const int counts[NH_CAT_MAX] = {N_EXEC, N_EGRESS, N_INGRESS,
							       N_FILE, N_CRED,	 N_PRIV};

			for (int i = 0; i < counts[c]; i++) {
				e.cat = (uint8_t)c;
				e.item = (uint16_t)i;
				e.arg = 1;
				fill(&o, id, &e, T0, buf, sizeof(buf), 0);
				if (nh_models_observe(&m, id->name, &o, out, 16) < 0)
					return 1;
			}
		}
	}
	nh_models_tick(&m, T0 + 2 * SEC, out, 16);
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "learned: rss_kb=%ld\n", ru.ru_maxrss);

	for (uint32_t i = 0; i < POOL;) {
		uint32_t id = rnd() % IDS, len = run == 1 ? 1 : 1 + rnd() % (2 * run - 1);

		for (uint32_t k = 0; k < len && i < POOL; k++, i++)
			make_event(&pool[i], id, i);
	}

	t0 = now_s();
	for (uint64_t i = 0; i < events; i++) {
		const struct ev *e = &pool[i & (POOL - 1)];
		const struct ident *id = &ids[e->id];
		uint64_t ts = T0 + 3 * SEC + i * 30000; /* 20 M events: 10 minutes */
		int n;

		fill(&o, id, e, ts, buf, sizeof(buf), (unsigned)(i / POOL));
		n = nh_models_observe(&m, id->name, &o, out, 16);
		if (n < 0) {
			fprintf(stderr, "observe: %d\n", n);
			return 1;
		}
		anomalies += (uint64_t)n;
		if ((i & 0xffff) == 0xffff)
			anomalies += (uint64_t)nh_models_tick(&m, ts, out, 16);
	}
	secs = now_s() - t0;

	while (nh_models_next(&m, &it, &info)) {
		bytes += info.bytes;
		nprof++;
		if (info.state != NH_PROFILE_STABLE)
			fprintf(stderr, "%s is not stable\n", info.identity);
	}
	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "anomalies=%llu run=%u\n", (unsigned long long)anomalies, run);
	printf("models_bench events=%llu seconds=%.3f events_per_sec=%.0f identities=%zu "
	       "bytes_per_profile=%zu rss_kb=%ld\n",
	       (unsigned long long)events, secs, (double)events / secs, nprof,
	       nprof ? bytes / nprof : 0, ru.ru_maxrss);
	nh_models_free(&m);
	free(ids);
	free(pool);
	return 0;
}
