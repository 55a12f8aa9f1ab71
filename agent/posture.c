// SPDX-License-Identifier: Apache-2.0
#include "posture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The ia32 syscall table is in the kernel when IA32_EMULATION is built. */
static int ia32_built(const char *proc)
{
	char path[256], line[512];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/kallsyms", proc);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " ia32_sys_call\n") || strstr(line, " __ia32_sys_read\n")) {
			found = 1;
			break;
		}
	fclose(f);
	return found;
}

/* ia32_emulation=<bool> on the kernel command line (6.7+) overrides the
 * built-in default. */
static int ia32_cmdline(const char *proc)
{
	char path[256], line[4096], *p;
	FILE *f;
	int v = -1;

	snprintf(path, sizeof(path), "%s/cmdline", proc);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f) && (p = strstr(line, "ia32_emulation="))) {
		p += strlen("ia32_emulation=");
		v = (*p == '0' || *p == 'n' || *p == 'N' || strncmp(p, "off", 3) == 0 ||
		     strncmp(p, "false", 5) == 0)
			? 0
			: 1;
	}
	fclose(f);
	return v;
}

void nh_posture_read(struct nh_posture *p, const char *proc)
{
	char path[256], buf[16];
	FILE *f;
	int built = ia32_built(proc), cmd = ia32_cmdline(proc);

	p->ia32_emulation = built == 0 ? 0 : built < 0 ? -1 : cmd >= 0 ? cmd : 1;
	p->io_uring_disabled = -1;
	snprintf(path, sizeof(path), "%s/sys/kernel/io_uring_disabled", proc);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			p->io_uring_disabled = atoi(buf);
		fclose(f);
	}
}

const char *nh_posture_ia32_name(int v)
{
	return v > 0 ? "on" : v == 0 ? "off" : "unknown";
}
