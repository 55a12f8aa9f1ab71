/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the configuration reader over the agent's real option table: any
 * bytes as a YAML file. Besides memory safety: a file that reads without
 * error prints (--print-config) to a file that reads back to the same
 * values, unless it holds secret-looking properties, which print redacted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* Properties --print-config redacts cannot read back the same. */
static bool has_secret(const struct nh_agent_config *c)
{
	for (size_t i = 0; i < c->kafka.nprops; i++) {
		const char *eq = strchr(c->kafka.props[i], '=');

		if (nh_config_secret_property(c->kafka.props[i], (size_t)(eq - c->kafka.props[i])))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *argv[] = {"nhiscope-agent", NULL};
	struct nh_config a = {0}, b = {0};
	struct nh_agent_config ca, cb;
	FILE *null = fopen("/dev/null", "w");
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	if (!null)
		abort();
	/* Defaults first, as nh_config_load does. */
	if (nh_config_load(&a, &nh_agent_spec, &ca, 1, argv, null, null))
		abort();
	if (nh_config_parse_yaml(&a, &ca, "fuzz.yaml", (const char *)data, size, null) == 0 &&
	    !has_secret(&ca)) {
		out = open_memstream(&text, &len);
		if (!out || nh_config_print(&nh_agent_spec, &ca, out))
			abort();
		fclose(out);
		if (nh_config_load(&b, &nh_agent_spec, &cb, 1, argv, null, null))
			abort();
		if (nh_config_parse_yaml(&b, &cb, "printed.yaml", text, len, null))
			abort();
		for (size_t i = 0; i < nh_agent_spec.nopts; i++)
			if (nh_agent_spec.opts[i].key &&
			    !nh_config_same(&nh_agent_spec.opts[i], &ca, &cb))
				abort();
		free(text);
	}
	nh_config_free(&a);
	nh_config_free(&b);
	fclose(null);
	return 0;
}
