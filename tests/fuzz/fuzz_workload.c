/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the pod-name reader: input is "POD" or "POD\nNODE". Besides memory
 * safety: only documented results, and a named owner is always what the
 * name really starts with (or the node it ends with).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = {"Deployment", "StatefulSet", "CronJob", "DaemonSet/Job",
					    "Node"};
	char buf[600];
	const char *node = NULL;
	struct nh_workload w, again;
	size_t i, n;
	char *nl;
	int rc;

	if (size >= sizeof(buf) || memchr(data, '\0', size))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
		node = nl + 1;
	}
	rc = nh_workload_from_pod(buf, node, &w);
	if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
		abort();
	if (nh_workload_from_pod(buf, node, &again) != rc || memcmp(&w, &again, sizeof(w)) != 0)
		abort();
	if (rc) {
		if (w.kind[0] || w.name[0])
			abort();
		return 0;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(w.kind, kinds[i]) == 0)
			break;
	}
	n = strlen(w.name);
	if (i == sizeof(kinds) / sizeof(kinds[0]) || n == 0 || n >= strlen(buf))
		abort();
	if (strcmp(w.kind, "Node") == 0) {
		if (!node || strcmp(w.name, node) != 0)
			abort();
	} else if (strncmp(w.name, buf, n) != 0 || buf[n] != '-') {
		abort();
	}
	return 0;
}
