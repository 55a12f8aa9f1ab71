// SPDX-License-Identifier: Apache-2.0
/* nhiscope-agent: the configuration (options.c) over the agent module. */
#include <stdio.h>

#include "agent.h"

/* The binary's one context struct: libbpf's print callback has no user
 * pointer, so it reaches the log settings through here. */
static struct nh_agent agent;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum nh_log_level lvl = level == LIBBPF_WARN ? NH_LOG_WARN : NH_LOG_DEBUG;

	/* libbpf is chatty about probing features; its warnings matter only
	 * when something fails, and the agent reports that itself. */
	if (agent.log.level < NH_LOG_DEBUG)
		return 0;
	nh_logv(&agent.log, lvl, fmt, ap);
	return 0;
}

int main(int argc, char **argv)
{
	int code;

	code =
	    nh_config_load(&agent.config, &nh_agent_spec, &agent.cfg, argc, argv, stdout, stderr);
	if (code)
		return code > 0 ? 0 : 2;
	nh_agent_derive(&agent.cfg);
	agent.log.level = agent.cfg.log_level;
	agent.log.format = agent.cfg.log_format;
	libbpf_set_print(libbpf_print);
	code = nh_agent_start(&agent); /* stops what it started when it fails */
	if (!code) {
		code = nh_agent_run(&agent);
		nh_agent_stop(&agent);
		nh_info(&agent.log, "stopped");
	}
	nh_config_free(&agent.config);
	return code ? 1 : 0;
}
