/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline_bench: the agent's user-space path for one kernel record, on one
 * core: decode -> identity (cgroup cache, key) -> baseline (observation,
 * profile, scoring). Replays pre-built raw records (the bytes the ring
 * buffer hands over) of 10,000 identities with stable profiles; ~99.9% of
 * them known behaviour. Prints one line:
 *
 *   pipeline_bench events=N seconds=S events_per_sec=R identities=10000 rss_kb=K
 *
 * Usage: pipeline_bench [--events N]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "baseline.h"
#include "cgroupfs.h"
#include "decode.h"
#include "identity.h"

#define IDS	 10000
#define POOL	 (1u << 16) /* 23 MiB of records, replayed in a loop */
#define N_FILES	 40
#define N_DESTS	 10
#define SEC	 1000000000ull
#define T0	 (1700000000ull * SEC)
#define UID_BASE 3000000u /* uids without a passwd entry: identities user:<uid> */

/* One raw record, as large as the largest kind replayed. */
union raw {
	struct nh_hdr h;
	struct nh_open_event open;
	struct nh_connect_event connect;
};

struct ctx {
	uint64_t anomalies;
};

static void count(void *c, struct nh_wire_record *r)
{
	(void)r;
	((struct ctx *)c)->anomalies++;
}

static void make(union raw *r, uint32_t id, uint32_t item, bool novel, uint64_t ts)
{
	memset(r, 0, sizeof(*r));
	r->h.ts_ns = ts;
	r->h.cgroup_id = 100000 + id;
	r->h.tgid = r->h.pid = 5000000 + id; /* no such process: the cache serves it */
	r->h.uid = UID_BASE + id;
	memcpy(r->h.comm, "app", 4);
	if (item % 4 == 3) {
		r->h.kind = NH_KIND_CONNECT;
		r->connect.dst.family = AF_INET;
		r->connect.dst.port = 443;
		r->connect.dst.addr[0] = 10;
		r->connect.dst.addr[1] = (uint8_t)(id >> 8);
		r->connect.dst.addr[2] = (uint8_t)id;
		r->connect.dst.addr[3] = (uint8_t)(novel ? 200 + item % 50 : item % N_DESTS);
		r->h.flags = NH_F_DEDUP;
	} else {
		r->h.kind = NH_KIND_OPEN;
		r->open.result = 3;
		r->open.syscall = NH_SYS_OPENAT;
		r->open.dirfd = -100;
		r->open.path_len = (uint16_t)snprintf(r->open.path, sizeof(r->open.path),
						      novel ? "/srv/app/new/%u.dat" : "/srv/app/data/f%u.db",
						      novel ? item : item % N_FILES);
		r->h.flags = NH_F_DEDUP;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* The agent's per-record path, as in agent.c handle_event. */
static void handle(struct nh_identities *ids, struct nh_baseline *b, const union raw *r,
		   struct ctx *c)
{
	struct nh_attributed ev = {0};
	char identity[NH_IDENTITY_KEY_MAX];
	const struct nh_hdr *h;
	bool known;

	if (nh_decode(r, r->h.kind == NH_KIND_OPEN ? sizeof(r->open) : sizeof(r->connect), &h))
		abort();
	ev.h = h;
	ev.cg = nh_identity_cgroup(ids, h->cgroup_id, h->tgid);
	if (!ev.cg || nh_identity_key(ids, ev.cg, h->uid, identity, sizeof(identity)) != 0)
		snprintf(identity, sizeof(identity), "user:%u", h->uid);
	ev.identity = identity;
	nh_identity_note(ids, identity, h->ts_ns);
	nh_baseline_event(b, &ev, count, c, &known);
}

int main(int argc, char **argv)
{
	uint64_t events = 20000000, t, t1;
	char dir[] = "/tmp/nh-pipeline-XXXXXX";
	struct nh_model_config cfg;
	struct nh_identities ids;
	struct nh_cgroupfs fs;
	struct nh_baseline b;
	struct ctx c = {0};
	struct rusage ru;
	union raw *pool, r;
	unsigned seed = 42;

	for (int i = 1; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "--events") == 0)
			events = strtoull(argv[i + 1], NULL, 10);
	if (!mkdtemp(dir) || nh_cgroupfs_init_at(&fs, dir, "/proc") ||
	    nh_identities_init(&ids, &fs, 2 * IDS))
		return 1;
	nh_model_config_defaults(&cfg);
	cfg.learn_ns = 1 * SEC;
	cfg.quiet_ns = 1 * SEC;
	if (nh_baseline_init(&b, &cfg, 2 * IDS))
		return 1;

	/* Learn every identity's files and destinations, then turn stable. */
	t = T0;
	for (uint32_t id = 0; id < IDS; id++)
		for (uint32_t item = 0; item < N_FILES + N_DESTS * 4; item++) {
			make(&r, id, item, false, t);
			handle(&ids, &b, &r, &c);
		}
	t += 10 * SEC;
	nh_baseline_tick(&b, t, count, &c);
	c.anomalies = 0;

	pool = malloc(sizeof(*pool) * POOL);
	if (!pool)
		return 1;
	/* Runs of events per identity, as a process's come. */
	for (uint32_t i = 0, id = 0; i < POOL; i++) {
		if (i % 4 == 0)
			id = (uint32_t)rand_r(&seed) % IDS;
		make(&pool[i], id, (uint32_t)rand_r(&seed), i % 1000 == 999, t);
	}
	t1 = now_ns();
	for (uint64_t i = 0; i < events; i++)
		handle(&ids, &b, &pool[i % POOL], &c);
	t1 = now_ns() - t1;
	getrusage(RUSAGE_SELF, &ru);
	printf("pipeline_bench events=%llu seconds=%.3f events_per_sec=%.0f identities=%u "
	       "anomalies=%llu rss_kb=%ld\n",
	       (unsigned long long)events, (double)t1 / SEC, (double)events * SEC / (double)t1, IDS,
	       (unsigned long long)c.anomalies, ru.ru_maxrss);
	free(pool);
	nh_baseline_free(&b);
	nh_identities_free(&ids);
	rmdir(dir);
	return 0;
}
