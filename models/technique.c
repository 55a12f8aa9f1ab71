/* SPDX-License-Identifier: Apache-2.0 */
/*
 * technique: severity and ATT&CK mapping of anomalies (see technique.h).
 *
 * The choices, by category of the novel item:
 *   exec        a shell (sh, bash, dash, zsh, ash, ksh, mksh, csh, tcsh,
 *               fish, busybox): high, T1059.004 Unix Shell; Python: high,
 *               T1059.006; node: high, T1059.007 JavaScript; perl, ruby,
 *               php, lua: high, T1059; a binary run from /tmp, /var/tmp or
 *               /dev/shm: high, T1105 Ingress Tool Transfer (something
 *               wrote it there first); a memfd: high, T1620 Reflective
 *               Code Loading; any other new binary: medium, no technique
 *               (a new binary is often an upgrade, and T1204 User
 *               Execution needs a user).
 *   egress      medium, T1071 Application Layer Protocol.
 *   ingress     medium, no technique: a new listening port fits none well.
 *   file        /etc/shadow or /etc/gshadow: high, T1003.008; below /etc
 *               or /root: medium; anything else: low.
 *   credential  sa_token: critical, T1528 Steal Application Access Token;
 *               cloud_metadata: critical, T1552.005; other *_token kinds
 *               (vault_token): critical, T1552.001; *private_key kinds:
 *               high, T1552.004 Private Keys; kube_apiserver: high, T1613
 *               Container and Resource Discovery; any other kind (cloud
 *               credential files, kubeconfig, netrc, ...): high, T1552.001
 *               Credentials In Files.
 *   privilege   high; set*uid/set*gid: T1548.001 Setuid and Setgid, other
 *               changes (capabilities): T1548 Abuse Elevation Control
 *               Mechanism.
 * Rate anomalies are medium (credential: high), without a technique: a
 * burst says "more", not "what".
 */
#include "technique.h"

#include <stdbool.h>
#include <string.h>

static void set(struct nh_verdict *v, enum nh_severity sev, const char *id, const char *name)
{
	v->severity = sev;
	v->technique = id;
	v->technique_name = id ? name : NULL;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* name is exactly word, or word followed by a version ("python3.11"). */
static bool versioned(const char *name, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(name, word, n) != 0)
		return false;
	for (name += n; *name; name++)
		if ((*name < '0' || *name > '9') && *name != '.')
			return false;
	return true;
}

static void exec_verdict(const char *path, struct nh_verdict *v)
{
	static const char *const shells[] = {"sh",   "bash", "dash", "zsh",  "ash",    "ksh",
					     "mksh", "csh",  "tcsh", "fish", "busybox"};
	static const char *const others[] = {"perl", "ruby", "php", "lua"};
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++)
		if (strcmp(base, shells[i]) == 0) {
			set(v, NH_SEV_HIGH, "T1059.004", "Unix Shell");
			return;
		}
	if (versioned(base, "python")) {
		set(v, NH_SEV_HIGH, "T1059.006", "Python");
		return;
	}
	if (strcmp(base, "node") == 0 || strcmp(base, "nodejs") == 0) {
		set(v, NH_SEV_HIGH, "T1059.007", "JavaScript");
		return;
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (versioned(base, others[i])) {
			set(v, NH_SEV_HIGH, "T1059", "Command and Scripting Interpreter");
			return;
		}
	if (starts(path, "/memfd:") || starts(path, "memfd:")) {
		set(v, NH_SEV_HIGH, "T1620", "Reflective Code Loading");
		return;
	}
	if (starts(path, "/tmp/") || starts(path, "/var/tmp/") || starts(path, "/dev/shm/")) {
		set(v, NH_SEV_HIGH, "T1105", "Ingress Tool Transfer");
		return;
	}
	set(v, NH_SEV_MEDIUM, NULL, NULL);
}

static void file_verdict(const char *path, struct nh_verdict *v)
{
	if (strcmp(path, "/etc/shadow") == 0 || strcmp(path, "/etc/gshadow") == 0) {
		set(v, NH_SEV_HIGH, "T1003.008", "/etc/passwd and /etc/shadow");
		return;
	}
	if (starts(path, "/etc/") || strcmp(path, "/root") == 0 || starts(path, "/root/")) {
		set(v, NH_SEV_MEDIUM, NULL, NULL);
		return;
	}
	set(v, NH_SEV_LOW, NULL, NULL);
}

static void credential_verdict(const char *value, struct nh_verdict *v)
{
	const char *colon = strchr(value, ':');
	size_t n = colon ? (size_t)(colon - value) : strlen(value);

	if (n == 8 && memcmp(value, "sa_token", 8) == 0) {
		set(v, NH_SEV_CRITICAL, "T1528", "Steal Application Access Token");
		return;
	}
	if (n == 14 && memcmp(value, "cloud_metadata", 14) == 0) {
		set(v, NH_SEV_CRITICAL, "T1552.005", "Cloud Instance Metadata API");
		return;
	}
	if (n == 14 && memcmp(value, "kube_apiserver", 14) == 0) {
		set(v, NH_SEV_HIGH, "T1613", "Container and Resource Discovery");
		return;
	}
	if (ends(value, n, "private_key")) {
		set(v, NH_SEV_HIGH, "T1552.004", "Private Keys");
		return;
	}
	if (ends(value, n, "_token")) {
		set(v, NH_SEV_CRITICAL, "T1552.001", "Credentials In Files");
		return;
	}
	set(v, NH_SEV_HIGH, "T1552.001", "Credentials In Files");
}

/* value starts with the operation's syscall name (baseline.c). */
static void isolation_verdict(const char *value, struct nh_verdict *v)
{
	if (starts(value, "ptrace") || starts(value, "process_vm_writev")) {
		set(v, NH_SEV_CRITICAL, "T1055.008", "Ptrace System Calls");
		return;
	}
	if (starts(value, "init_module") || starts(value, "finit_module")) {
		set(v, NH_SEV_CRITICAL, "T1547.006", "Kernel Modules and Extensions");
		return;
	}
	if (starts(value, "bpf")) {
		set(v, NH_SEV_HIGH, "T1014", "Rootkit");
		return;
	}
	/* unshare, setns, mount, pivot_root */
	set(v, NH_SEV_HIGH, "T1611", "Escape to Host");
}

void nh_technique_novel(enum nh_category cat, const char *value, struct nh_verdict *v)
{
	switch (cat) {
	case NH_CAT_EXEC:
		exec_verdict(value, v);
		return;
	case NH_CAT_EGRESS: {
		set(v, NH_SEV_MEDIUM, "T1071", "Application Layer Protocol");
		return;
	}
	case NH_CAT_FILE:
		file_verdict(value, v);
		return;
	case NH_CAT_CREDENTIAL:
		credential_verdict(value, v);
		return;
	case NH_CAT_PRIVILEGE:
		if (starts(value, "set") && (strstr(value, "uid") || strstr(value, "gid"))) {
			set(v, NH_SEV_HIGH, "T1548.001", "Setuid and Setgid");
			return;
		}
		{
			set(v, NH_SEV_HIGH, "T1548", "Abuse Elevation Control Mechanism");
			return;
		}
	case NH_CAT_ISOLATION:
		isolation_verdict(value, v);
		return;
	case NH_CAT_INGRESS:
	default: {
		set(v, NH_SEV_MEDIUM, NULL, NULL);
		return;
	}
	}
}

void nh_technique_rate(enum nh_category cat, struct nh_verdict *v)
{
	set(v, cat == NH_CAT_CREDENTIAL ? NH_SEV_HIGH : NH_SEV_MEDIUM, NULL, NULL);
}
