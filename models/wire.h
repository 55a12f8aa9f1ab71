/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire: the records that leave a node on Kafka (models/wire.proto), as a
 * plain C struct, and their encoding. Pure C: no I/O.
 *
 * Ownership. Strings are `const char *`:
 *   - for nh_wire_pack they are the caller's, borrowed for the call; NULL
 *     means absent (packed as "");
 *   - after nh_wire_unpack they point into memory owned by the record
 *     (never NULL: an absent string is ""), valid until nh_wire_free.
 * Lists are bounded arrays inside the struct (NH_WIRE_*_MAX).
 *
 * Rules enforced by nh_wire_check, nh_wire_pack and nh_wire_unpack alike:
 *   - every record: id.node and id.boot_id non-empty and at most
 *     NH_WIRE_NAME_MAX bytes, time_ns != 0, a body;
 *   - anomaly, credential use, finding, activity: identity.key non-empty;
 *   - anomaly: a category, severity 1..4, a value;
 *   - credential use: credential_kind and credential;
 *   - finding: a type; secret_exposure: secret_kind and fingerprint;
 *     human_use: reason; credential_reuse: credential;
 *     identity_conflict: claimed_identity and believed_identity;
 *   - activity: an event kind (format 1: kind and its JSON text); loss
 *     report: what, window_end >= start;
 *     heartbeat: agent_version; every counter has a name;
 *     flood: identity.key, window_end >= start, counts named;
 *     monitoring gap: end >= start;
 *   - each string at most NH_WIRE_STR_MAX bytes (format 1's activity
 *     JSON: bounded only by NH_WIRE_MAX), at most NH_WIRE_ARGS_MAX args.
 *
 * Formats (wire.proto): nh_wire_pack writes NH_WIRE_FORMAT; nh_wire_unpack
 * reads it and NH_WIRE_FORMAT_MIN (release 1's records: no format field,
 * activity as JSON text, which unpack hands over untouched in
 * activity.legacy_json with event and kind set from its kind) and says
 * which in r->format. Newer formats are refused with a reason.
 * What pack repairs and unpack rejects: strings are valid UTF-8 on the
 * wire (pack replaces each byte of an invalid sequence with '?': paths
 * are bytes, the wire is UTF-8), anomaly rates are finite (pack writes
 * NaN and infinities as 0) and a credential use's count is at least 1
 * (pack writes 0 as 1, the "no repeat" of a summary).
 */
#ifndef NH_WIRE_H
#define NH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NH_WIRE_MAX	       (256 * 1024)		   /* packed record, bytes */
#define NH_WIRE_STR_MAX	       16384			   /* one string field, bytes */
#define NH_WIRE_NAME_MAX       255			   /* id.node, id.boot_id, bytes */
#define NH_WIRE_IDENTITIES_MAX 32			   /* finding.identities */
#define NH_WIRE_COUNTERS_MAX   64			   /* loss counts, heartbeat counters */
#define NH_WIRE_ID_STR_MAX     (2 * NH_WIRE_NAME_MAX + 24) /* nh_wire_id_str, with NUL */
#define NH_WIRE_ARGS_MAX       512			   /* activity.args */
#define NH_WIRE_LABELS_MAX     16			   /* site.labels */
#define NH_WIRE_LABEL_KEY_MAX  63			   /* a label's key, bytes */
#define NH_WIRE_FORMAT	       2			   /* what this release writes */
#define NH_WIRE_FORMAT_MIN     1			   /* the oldest it reads */

enum nh_wire_kind {
	NH_WIRE_NONE = 0,
	NH_WIRE_ANOMALY,
	NH_WIRE_CREDENTIAL_USE,
	NH_WIRE_FINDING,
	NH_WIRE_ACTIVITY,
	NH_WIRE_LOSS,
	NH_WIRE_HEARTBEAT,
	NH_WIRE_FLOOD,
	NH_WIRE_MONITORING_GAP,
	NH_WIRE_KIND_MAX,
};

/* Same order as models.h enum nh_category, shifted by one (0 = none). */
enum nh_wire_category {
	NH_WIRE_CAT_NONE = 0,
	NH_WIRE_CAT_EXEC,
	NH_WIRE_CAT_EGRESS,
	NH_WIRE_CAT_INGRESS,
	NH_WIRE_CAT_FILE,
	NH_WIRE_CAT_CREDENTIAL,
	NH_WIRE_CAT_PRIVILEGE,
	NH_WIRE_CAT_ISOLATION,
	NH_WIRE_CAT_MAX,
};

/* Same numbers as models.h enum nh_severity. */
enum nh_wire_severity {
	NH_WIRE_SEV_NONE = 0,
	NH_WIRE_SEV_LOW,
	NH_WIRE_SEV_MEDIUM,
	NH_WIRE_SEV_HIGH,
	NH_WIRE_SEV_CRITICAL,
	NH_WIRE_SEV_MAX,
};

/* Kernel event kinds, as bpf/nhiscope.h numbers them (the agent checks). */
enum nh_wire_event {
	NH_WIRE_EV_NONE = 0,
	NH_WIRE_EV_EXEC,
	NH_WIRE_EV_FORK,
	NH_WIRE_EV_EXIT,
	NH_WIRE_EV_CONNECT,
	NH_WIRE_EV_ACCEPT,
	NH_WIRE_EV_OPEN,
	NH_WIRE_EV_SETUID,
	NH_WIRE_EV_SETGID,
	NH_WIRE_EV_CAPSET,
	NH_WIRE_EV_SUMMARY,
	/* issue 17: 12..39; numbers without a kind are refused */
	NH_WIRE_EV_SEND = 12,
	NH_WIRE_EV_UNIX_CONNECT = 13,
	NH_WIRE_EV_NAMESPACE = 14,
	NH_WIRE_EV_PTRACE = 15,
	NH_WIRE_EV_BPF = 16,
	NH_WIRE_EV_MODULE = 17,
	NH_WIRE_EV_IO_URING_CREATE = 18,
	NH_WIRE_EV_COMPAT = 22, /* issue 17b: 22..25 */
	NH_WIRE_EV_MAX = 48,
};

enum nh_wire_finding_type {
	NH_WIRE_FINDING_NONE = 0,
	NH_WIRE_FINDING_SECRET_EXPOSURE,
	NH_WIRE_FINDING_HUMAN_USE,
	NH_WIRE_FINDING_CREDENTIAL_REUSE,
	NH_WIRE_FINDING_IDENTITY_CONFLICT,
	NH_WIRE_FINDING_MONITORING_TAMPERED = 5, /* reason says what; no process */
	NH_WIRE_FINDING_MAX,
};

struct nh_wire_id {
	const char *node;
	const char *boot_id;
	uint64_t seq;
};

/* A pod's service-account token as the agent read it: its timing and
 * keyed fingerprint, never the token. */
struct nh_wire_token {
	const char *fingerprint;
	int64_t issued_at;  /* unix seconds, 0 unknown */
	int64_t expires_at; /* unix seconds; 0 with long_lived */
	bool long_lived, legacy;
};

/* Where the identity was read from; all empty when the cgroup is not
 * known (cgroup_kind is never empty otherwise). */
struct nh_wire_context {
	const char *cgroup; /* path below the cgroup v2 mount */
	const char *cgroup_kind;
	bool delegated;
	const char *qos, *runtime;
	bool user_unit;
	const char *token_state; /* pods: the token's state, NULL without one */
	bool has_token;		 /* token holds the claims' facts */
	struct nh_wire_token token;
};

struct nh_wire_identity {
	const char *key;
	const char *pod_uid;
	const char *pod_name;
	const char *namespace;
	const char *service_account;
	const char *container_id;
	const char *unit;
	const char *workload_kind;
	const char *workload_name;
	const char *node;
	const char *source; /* identity_source: "kubelet-volume", "cgroup", ... */
	bool verified;	    /* rests on a verified token */
	struct nh_wire_context context;
};

struct nh_wire_process {
	uint32_t pid; /* 0: no process context */
	uint32_t ppid;
	uint32_t uid;
	const char *user;
	const char *comm;
	const char *exe;
	uint32_t tid, gid;
	uint64_t mntns, cgroup_id;
	bool interactive;  /* in a terminal or an entered session */
	bool repeat;	   /* from a dedup summary: ppid, gid, mntns, comm unknown */
	uint64_t start_ms; /* its start, ms since boot (clock ticks); 0 unknown */
};

struct nh_wire_anomaly {
	enum nh_wire_category category;
	enum nh_wire_severity severity;
	bool rate;	   /* a rate spike, not a novel item */
	const char *value; /* the novel item; rate: the category */
	const char *technique_id;
	const char *technique_name;
	const char *explanation;
	uint64_t baseline_age_ns;
	uint64_t baseline_items;
	double rate_observed, rate_mean, rate_stddev;
};

struct nh_wire_credential_use {
	const char *credential_kind;
	const char *credential; /* path or address:port, never the secret */
	const char *via;	/* "open", "connect", ... */
	int64_t result;		/* >= 0 success, -errno failure */
	uint64_t count;
	bool repeats; /* stands for repeats folded in the kernel: count, no result */
	/* open: the path as the process wrote it (credential is the canonical
	 * name), whether the kernel's copy of it was cut, and what recognised
	 * the file: "inode", "volume" (a projected token's volume) or "path" */
	const char *path;
	bool path_truncated;
	const char *matched_by;
};

struct nh_wire_finding {
	enum nh_wire_finding_type type;
	const char *secret_kind;
	const char *fingerprint;
	const char *fingerprint_previous; /* during a key rotation; may be NULL */
	const char *reason;
	const char *argument;
	const char *credential_kind;
	const char *credential;
	const char *path;
	int32_t arg_index;
	const char *claimed_identity;  /* identity_conflict */
	const char *believed_identity; /* identity_conflict */
	size_t n_identities;
	const char *identities[NH_WIRE_IDENTITIES_MAX];
	uint64_t identities_unlisted; /* credential_reuse: beyond the list */
	uint32_t session_pid;	      /* human_use */
	bool tty, entered_namespace;  /* human_use */
};

struct nh_wire_ids {
	uint32_t real, effective, saved;
};

struct nh_wire_caps {
	uint64_t effective, permitted, inheritable;
};

/* One kernel event. Which fields a kind fills: docs/events.md. */
struct nh_wire_activity {
	enum nh_wire_event event;
	const char *kind;	 /* its name; pack writes nh_wire_event_name when NULL */
	const char *legacy_json; /* format 1 only: the event as JSON text */
	const char *syscall;
	const char *path;
	size_t n_args;
	uint32_t secrets_redacted, ns_pid;
	bool tty, entered_namespace;
	uint32_t child_pid;
	int32_t exit_code, signal;
	bool ipv6;
	const char *address;
	uint32_t port, local_port;
	int32_t fd, dirfd;
	uint32_t flags, mode;
	int64_t result;
	struct nh_wire_ids old_ids, new_ids;
	struct nh_wire_caps old_caps, new_caps;
	enum nh_wire_event of; /* summary */
	uint64_t count;
	const char *object;
	uint64_t window_start_ns;
	bool path_truncated, args_truncated, deduplicated;
	uint64_t args_bytes; /* exec: argv's size when not all of it is in args */
	/* open: the credential the kernel recognised the file as, by inode
	 * (canonical name and kind); NULL otherwise */
	const char *credential, *credential_kind;
	/* issue 17 (wire fields 40..59) */
	const char *via;		       /* "io_uring" when not a syscall; NULL: syscall */
	uint64_t device, inode;		       /* unix_connect: the peer's socket file */
	uint32_t euid, egid;		       /* exec: what the new image runs as */
	uint64_t cap_effective, cap_permitted; /* exec */
	bool privileged_exec;		       /* exec: setuid/setgid/file capabilities */
	bool compat32;			       /* exec: a 32-bit image */
	bool user_address;		       /* send, unix_connect: read from user memory */
	uint32_t target_pid;		       /* ptrace, process_vm_writev */
	uint64_t op;	       /* namespace/ptrace/bpf/module: flags, request, cmd */
	const char *op_name;   /* its name: "newns|newpid", "attach", ... */
	uint32_t msg_index;    /* send (sendmmsg): the message's index */
	const char *sock_type; /* unix_connect: "stream", "dgram", ... */
	/* io_uring (wire fields 62..66): reported at submission, the result
	 * not known (the request asked for no completion) */
	bool result_unknown;
	/* exec: argv, secrets redacted; last, so that a record can be cleared
	 * up to it (only n_args of it are read) */
	const char *args[NH_WIRE_ARGS_MAX];
};

struct nh_wire_counter {
	const char *name;
	uint64_t value;
};

struct nh_wire_loss {
	const char *what;
	const char *source; /* "kernel", "spool", ... */
	uint64_t window_start_ns, window_end_ns;
	size_t n_counts, n_totals;
	struct nh_wire_counter counts[NH_WIRE_COUNTERS_MAX];
	struct nh_wire_counter totals[NH_WIRE_COUNTERS_MAX]; /* since the start */
	uint64_t identity_cgroup_id; /* losses of one identity (the record's) */
};

/* An identity's events beyond its kernel budget, counted by kind. */
struct nh_wire_flood {
	uint64_t window_start_ns, window_end_ns;
	uint64_t budget, budget_window_ns;
	uint64_t identity_cgroup_id;
	size_t n_counts;
	struct nh_wire_counter counts[NH_WIRE_COUNTERS_MAX];
};

/* A time the node was not monitored. */
struct nh_wire_gap {
	uint64_t start_ns, end_ns;
	bool clean_stop;
	const char *reason;
};

struct nh_wire_heartbeat {
	const char *agent_version;
	uint32_t probes_attached;
	uint32_t probes_missing;      /* hooks that could not attach at start */
	uint64_t monitoring_tampered; /* monitoring_tampered findings so far */
	size_t n_counters;
	struct nh_wire_counter counters[NH_WIRE_COUNTERS_MAX];
};

/* One static label: key of [A-Za-z0-9_-], 1..NH_WIRE_LABEL_KEY_MAX bytes,
 * not starting with "nhiscope" (the project's own labels); value at most
 * NH_WIRE_NAME_MAX bytes. */
struct nh_wire_label {
	const char *key, *value;
};

/* Where the agent runs, as its operator configured it: the same on every
 * record of one agent (a struct copy stamps it). cluster at most
 * NH_WIRE_NAME_MAX bytes; label keys unique. */
struct nh_wire_site {
	const char *cluster;
	size_t n_labels;
	struct nh_wire_label labels[NH_WIRE_LABELS_MAX];
};

/* Whether a label key follows the rules above (wire and config alike). */
bool nh_wire_label_key_ok(const char *key);

struct nh_wire_record {
	uint32_t format; /* unpack: the record's format; pack ignores it */
	struct nh_wire_id id;
	enum nh_wire_kind kind; /* selects the member of the union */
	uint64_t time_ns;	/* unix nanoseconds */
	struct nh_wire_identity identity;
	struct nh_wire_process process;
	struct nh_wire_site site;
	union {
		struct nh_wire_anomaly anomaly;
		struct nh_wire_credential_use credential_use;
		struct nh_wire_finding finding;
		struct nh_wire_activity activity;
		struct nh_wire_loss loss;
		struct nh_wire_heartbeat heartbeat;
		struct nh_wire_flood flood;
		struct nh_wire_gap monitoring_gap;
	};
	void *priv;		     /* unpack: the decoded message the strings live in */
	char *legacy;		     /* unpack: format 1's activity JSON, NUL-terminated */
	struct nh_wire_arena *arena; /* unpack: where priv lives, NULL: the heap */
};

/* Whether nh_wire_pack accepts r: 0, or -EINVAL with *why (a static
 * string; why may be NULL) naming the broken rule. */
int nh_wire_check(const struct nh_wire_record *r, const char **why);

/*
 * Encode into buf. Returns 0 and *len, -EINVAL for a record that breaks a
 * rule (nh_wire_check says which), -EMSGSIZE when the encoding is larger
 * than cap or NH_WIRE_MAX, -ENOMEM.
 */
int nh_wire_pack(const struct nh_wire_record *r, uint8_t *buf, size_t cap, size_t *len);

/* The encoded size of a valid record, or 0 for an invalid one. */
size_t nh_wire_packed_size(const struct nh_wire_record *r);

/*
 * Decode len bytes into *out (overwritten, not read: nh_wire_free a
 * previous result first). Returns 0; -EMSGSIZE for more than NH_WIRE_MAX
 * bytes (checked before decoding), -EBADMSG for bytes that are not a
 * valid record (protobuf-c reports running out of memory the same way);
 * on error *why (may be NULL) is a static string saying what was wrong
 * and *out is zeroed.
 */
int nh_wire_unpack(const uint8_t *buf, size_t len, struct nh_wire_record *out, const char **why);

/*
 * An arena for nh_wire_unpack_in: a decoded record's memory comes from one
 * buffer reused record after record instead of a malloc per string and
 * message (a tenth of a collector's time). One record at a time: unpack
 * into it, use the record, nh_wire_free it, which empties the arena.
 */
struct nh_wire_arena;
struct nh_wire_arena *nh_wire_arena_new(void);
void nh_wire_arena_free(struct nh_wire_arena *a);
/* nh_wire_unpack with the record's memory in a (NULL: the heap). */
int nh_wire_unpack_in(const uint8_t *buf, size_t len, struct nh_wire_record *out, const char **why,
		      struct nh_wire_arena *a);

/* Release what nh_wire_unpack allocated and zero the record (idempotent). */
void nh_wire_free(struct nh_wire_record *r);

/* "<node>/<boot_id>/<seq>", the record id as one string (event.id, dedup).
 * Returns the length, or -ENOSPC (buf then holds a truncated string). */
int nh_wire_id_str(const struct nh_wire_id *id, char *buf, size_t cap);

/* Lower-case names ("anomaly", "credential_use", "exec", "high",
 * "secret_exposure", ...); "unknown" out of range. */
const char *nh_wire_kind_name(enum nh_wire_kind k);
const char *nh_wire_category_name(enum nh_wire_category c);
const char *nh_wire_severity_name(enum nh_wire_severity s);
const char *nh_wire_finding_name(enum nh_wire_finding_type t);
const char *nh_wire_event_name(enum nh_wire_event e); /* "exec", "open", ... */

/* Name back to value; -EINVAL for an unknown name. */
int nh_wire_kind_parse(const char *name);
int nh_wire_category_parse(const char *name);
int nh_wire_severity_parse(const char *name);
int nh_wire_finding_parse(const char *name);
int nh_wire_event_parse(const char *name);

#endif
