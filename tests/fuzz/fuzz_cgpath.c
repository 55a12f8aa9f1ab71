/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for nh_cgpath_parse: no input may crash it, and every
 * result must keep the output contract the rest of the agent relies on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgpath.h"

#define FUZZ_MAX 8192 /* past the parser's 4096-byte limit, so it is exercised */

#define ASSERT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A pod UID: 8-4-4-4-12 lowercase UUID, or a static pod's 32 hex. */
static int is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) == 32) {
		for (i = 0; i < 32; i++)
			if (!is_lhex(s[i]))
				return 0;
		return 1;
	}
	if (strlen(s) != NH_POD_UID_LEN)
		return 0;
	for (i = 0; i < NH_POD_UID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

static int is_cid(const char *s)
{
	size_t i;

	if (strlen(s) != NH_CONTAINER_ID_LEN)
		return 0;
	for (i = 0; i < NH_CONTAINER_ID_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static void check_info(const char *path, size_t len, int rc, const struct nh_cgroup_info *ci)
{
	ASSERT(rc == 0 || rc == -EINVAL);
	ASSERT(terminated(ci->pod_uid, sizeof(ci->pod_uid)));
	ASSERT(terminated(ci->container_id, sizeof(ci->container_id)));
	ASSERT(terminated(ci->unit, sizeof(ci->unit)));
	ASSERT(!ci->pod_uid[0] || is_uuid(ci->pod_uid));
	ASSERT(!ci->container_id[0] || is_cid(ci->container_id));
	ASSERT(nh_runtime_name(ci->runtime)[0]);
	ASSERT(nh_cg_kind_name(ci->kind)[0]);

	if (rc) {
		ASSERT(ci->kind == NH_CG_NONE);
	} else {
		/* only well-formed absolute paths are accepted */
		ASSERT(len > 0 && len <= 4096 && path[0] == '/');
		ASSERT(!strstr(path, "//") && !strstr(path, "/../") && !strstr(path, "/./"));
	}

	switch (ci->kind) {
	case NH_CG_NONE:
		ASSERT(ci->runtime == NH_RT_UNKNOWN && ci->qos == NH_QOS_NONE && !ci->user_unit);
		ASSERT(!ci->pod_uid[0] && !ci->container_id[0] && !ci->unit[0]);
		break;
	case NH_CG_K8S_POD:
		ASSERT(is_uuid(ci->pod_uid));
		ASSERT(ci->qos != NH_QOS_NONE && nh_qos_name(ci->qos)[0]);
		ASSERT(!ci->unit[0] && !ci->user_unit);
		/* a runtime is only known through a container */
		ASSERT(ci->container_id[0] || ci->runtime == NH_RT_UNKNOWN);
		break;
	case NH_CG_CONTAINER:
		ASSERT(is_cid(ci->container_id));
		ASSERT(ci->runtime != NH_RT_UNKNOWN);
		ASSERT(!ci->pod_uid[0] && !ci->unit[0] && ci->qos == NH_QOS_NONE && !ci->user_unit);
		/* the id was read from the path */
		ASSERT(strstr(path, ci->container_id));
		break;
	case NH_CG_UNIT:
		ASSERT(ci->unit[0] && strlen(ci->unit) > strlen(".service"));
		ASSERT(!strcmp(ci->unit + strlen(ci->unit) - strlen(".service"), ".service"));
		ASSERT(strstr(path, ci->unit));
		ASSERT(!ci->pod_uid[0] && !ci->container_id[0]);
		ASSERT(ci->runtime == NH_RT_UNKNOWN && ci->qos == NH_QOS_NONE);
		break;
	default:
		ASSERT(0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[FUZZ_MAX + 1];
	struct nh_cgroup_info a, b;
	size_t len;
	int rc;

	if (size > FUZZ_MAX)
		size = FUZZ_MAX;
	memcpy(buf, data, size);
	buf[size] = '\0';
	len = strlen(buf);

	memset(&a, 0xff, sizeof(a));
	rc = nh_cgpath_parse(buf, &a);
	check_info(buf, len, rc, &a);

	/* no stale output: a parse over different junk gives the same result */
	memset(&b, 0x00, sizeof(b));
	ASSERT(nh_cgpath_parse(buf, &b) == rc);
	ASSERT(a.kind == b.kind && a.runtime == b.runtime && a.qos == b.qos);
	ASSERT(a.user_unit == b.user_unit && !strcmp(a.pod_uid, b.pod_uid));
	ASSERT(!strcmp(a.container_id, b.container_id) && !strcmp(a.unit, b.unit));
	return 0;
}
