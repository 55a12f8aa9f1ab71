/* SPDX-License-Identifier: Apache-2.0 */
/*
 * models: what each identity normally does, and what is new. Pure C: no
 * I/O, no BPF, no Kafka; the agent feeds observations and gets anomalies.
 *
 * Per identity, a bounded profile of executed binaries (with the parent
 * binary), egress destinations (address:port, generalised to a prefix and
 * then to port-only when the bound is hit), accepted ports, files opened
 * (normalised paths), credentials used and privilege changes, plus a
 * per-category EWMA of events per minute. A profile learns for a while,
 * then turns stable; in stable, each novel item is one anomaly (never
 * again for the same item) and a rate far above the baseline is a rate
 * anomaly.
 *
 * Times are wall-clock nanoseconds (CLOCK_REALTIME): profiles outlive
 * reboots in their snapshots.
 */
#ifndef NH_MODELS_H
#define NH_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NH_MODEL_VALUE_MAX    320 /* longest normalised item, bytes with NUL */
#define NH_MODEL_IDENTITY_MAX 336

enum nh_category {
	NH_CAT_EXEC = 0,   /* binary, with its parent binary */
	NH_CAT_EGRESS,	   /* destination address and port */
	NH_CAT_INGRESS,	   /* accepted local port */
	NH_CAT_FILE,	   /* path opened */
	NH_CAT_CREDENTIAL, /* credential used */
	NH_CAT_PRIVILEGE,  /* uid, gid or capability change */
	/* namespace, ptrace, bpf and module operations: "unshare newns",
	 * "ptrace attach", "bpf prog_load", "finit_module x.ko" */
	NH_CAT_ISOLATION,
	NH_CAT_MAX,
};

enum nh_profile_state { NH_PROFILE_LEARNING = 0, NH_PROFILE_STABLE };

enum nh_severity { NH_SEV_LOW = 1, NH_SEV_MEDIUM, NH_SEV_HIGH, NH_SEV_CRITICAL };

struct nh_model_config {
	uint64_t learn_ns;		/* learn at least this long (default 24 h) */
	uint64_t quiet_ns;		/* and until no new item for this long (default 1 h) */
	uint32_t max_items[NH_CAT_MAX]; /* per-category bound (defaults in models.c) */
	uint32_t max_children;		/* distinct children before a directory collapses (32) */
	uint32_t max_hosts;   /* egress addresses in one /24 or /64 before the prefix (8) */
	double ewma_alpha;    /* weight of the newest minute (0.1) */
	double rate_sigmas;   /* rate anomaly above mean + sigmas * stddev (6) */
	double rate_min;      /* and at least this many events in the minute (100) */
	uint32_t rate_warmup; /* minutes of history before rates are judged (10) */
};

void nh_model_config_defaults(struct nh_model_config *c);

/* One thing the agent saw, attributed to an identity. Values need not
 * be normalised: the model does that. */
struct nh_observation {
	enum nh_category cat;
	uint64_t ts_ns;
	uint64_t count; /* 1, or the repeats a summary reports (0 counts as 1) */
	/* exec: binary path; file: path; credential: the credential (path or
	 * address:port); privilege: e.g. "setuid 1000->0", "capset +cap_sys_admin" */
	const char *value;
	const char *parent;	     /* exec: parent's binary; may be NULL */
	const char *credential_kind; /* credential: "sa_token", "cloud_metadata", ... */
	int family;		     /* egress, ingress: AF_INET or AF_INET6 */
	uint8_t addr[16];	     /* egress: destination (IPv4 in the first 4 bytes) */
	uint16_t port;		     /* egress: destination port; ingress: local port */
};

struct nh_anomaly {
	const char *identity; /* valid until the next call into the models */
	enum nh_category cat;
	enum nh_severity severity;
	bool rate;			/* a rate anomaly, not a novel item */
	char value[NH_MODEL_VALUE_MAX]; /* the novel item, normalised; rate: the category */
	const char *technique;		/* MITRE ATT&CK id ("T1552.001") or NULL */
	const char *technique_name;
	uint64_t baseline_age_ns;     /* since the profile was created */
	uint32_t baseline_items;      /* items known in this category */
	double per_min, mean, stddev; /* rate anomalies: events in the minute, and the baseline */
};

struct nh_profile_info {
	const char *identity;
	enum nh_profile_state state;
	uint64_t created_ns, stable_ns, last_new_ns; /* stable_ns 0 while learning */
	uint32_t items[NH_CAT_MAX];
	bool bounded[NH_CAT_MAX]; /* the bound was hit: items were generalised or dropped */
	uint64_t events, anomalies;
	size_t bytes;	  /* memory the profile holds */
	uint64_t dropped; /* novel items not kept: a bound was full (added field) */
};

struct nh_profile;

struct nh_models {
	struct nh_model_config cfg;
	struct nh_profile **slots; /* open addressing by hash of the identity */
	size_t cap, len, max_profiles;
	uint64_t dropped; /* observations for new identities beyond max_profiles */
	char scratch[NH_MODEL_VALUE_MAX];
};

int nh_models_init(struct nh_models *m, const struct nh_model_config *cfg, size_t max_profiles);
void nh_models_free(struct nh_models *m);

/*
 * Update identity's profile (created on first sight) with o. Writes at
 * most max anomalies to out and returns how many (0 while learning or
 * when the item is known), or -errno (-ENOSPC: no room for a new
 * identity; -EINVAL: a bad observation).
 */
int nh_models_observe(struct nh_models *m, const char *identity, const struct nh_observation *o,
		      struct nh_anomaly *out, size_t max);

/* nh_models_observe that also says whether o was already part of the
 * stable profile (one lookup instead of nh_models_known's second). */
int nh_models_observe_known(struct nh_models *m, const char *identity,
			    const struct nh_observation *o, struct nh_anomaly *out, size_t max,
			    bool *known);

/* Whether o is already part of identity's stable profile: the agent
 * keeps such behaviour in the kernel instead of sending it up. */
bool nh_models_known(struct nh_models *m, const char *identity, const struct nh_observation *o);

/*
 * Advance time to now_ns: close per-minute rate buckets (rate anomalies
 * go to out) and move learning profiles whose window and quiet period
 * have passed to stable. Returns anomalies written, resuming where it
 * stopped when out filled up.
 */
int nh_models_tick(struct nh_models *m, uint64_t now_ns, struct nh_anomaly *out, size_t max);

int nh_models_info(const struct nh_models *m, const char *identity, struct nh_profile_info *out);
/* for (size_t it = 0; nh_models_next(m, &it, &info);) */
bool nh_models_next(const struct nh_models *m, size_t *iter, struct nh_profile_info *out);

typedef void (*nh_item_fn)(void *ctx, enum nh_category cat, const char *value, uint64_t count,
			   uint64_t first_ns, uint64_t last_ns);
/* Every item of identity's profile; -ENOENT when there is no profile. */
int nh_models_items(const struct nh_models *m, const char *identity, nh_item_fn fn, void *ctx);

/* Forget what identity learned: it starts learning again. -ENOENT. */
int nh_models_reset(struct nh_models *m, const char *identity, uint64_t now_ns);

/*
 * Snapshots: one profile as bytes — a small header (magic, version,
 * length, CRC-32) then a zlib-compressed protobuf (models/profile.proto).
 * encode mallocs *buf. decode adds or replaces the profile it holds and
 * changes nothing on error: -EINVAL/-EBADMSG with *why naming the
 * problem ("bad magic", "checksum mismatch", "truncated", ...).
 */
int nh_models_encode(const struct nh_models *m, const char *identity, uint8_t **buf, size_t *len);
int nh_models_decode(struct nh_models *m, const uint8_t *buf, size_t len, const char **why);

const char *nh_category_name(enum nh_category cat);
int nh_category_parse(const char *name);
const char *nh_severity_name(enum nh_severity sev);
const char *nh_profile_state_name(enum nh_profile_state st);

#endif
