// SPDX-License-Identifier: Apache-2.0
#include "privileges.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

static const char *const names[] = {
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
};

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};

	return syscall(SYS_capget, &h, d) ? -errno : 0;
}

/* The running kernel's, which may know more than the headers. */
static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1 || n < 0 || n > 63)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

int nh_privileges_effective(uint64_t mask, uint64_t *permitted)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	uint64_t eff;
	int rc;

	rc = caps_get(d);
	if (rc)
		return rc;
	*permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	eff = *permitted & mask;
	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

int nh_privileges_check_threads(uint64_t allowed)
{
	char path[300], line[128];
	struct dirent *de;
	int rc = 0;
	DIR *dir;

	dir = opendir("/proc/self/task");
	if (!dir)
		return -errno;
	while (!rc && (de = readdir(dir))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* the thread ended */
		while (fgets(line, sizeof(line), f)) {
			unsigned long long v;

			if ((sscanf(line, "CapEff: %llx", &v) == 1 ||
			     sscanf(line, "CapPrm: %llx", &v) == 1) &&
			    (v & ~allowed))
				rc = -EPERM;
		}
		fclose(f);
	}
	closedir(dir);
	return rc;
}

int nh_privileges_drop(uint64_t keep, uint64_t *kept)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	uint64_t have, want;
	int rc;

	rc = caps_get(d);
	if (rc)
		return rc;
	have = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	want = have & keep;
	/* The bounding set only with CAP_SETPCAP; a container runtime has
	 * already bounded an agent started without it. */
	if (have & (1ULL << CAP_SETPCAP))
		for (int cap = 0; cap <= last_cap(); cap++)
			if (!(want & (1ULL << cap)) && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
			    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
				return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	/* Nothing it execs may gain privileges either. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	d[0].permitted = d[0].effective = (uint32_t)want;
	d[1].permitted = d[1].effective = (uint32_t)(want >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d))
		return -errno;
	rc = caps_get(d);
	if (rc)
		return rc;
	*kept = (uint64_t)d[1].effective << 32 | d[0].effective;
	return 0;
}

void nh_privileges_names(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t cap = 0; cap < 64 && n < len; cap++) {
		if (!(mask & (1ULL << cap)))
			continue;
		if (cap < sizeof(names) / sizeof(names[0]))
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[cap]);
		else
			n += snprintf(buf + n, len - n, "%scap_%zu", n ? "," : "", cap);
	}
	if (!n)
		snprintf(buf, len, "none");
}
