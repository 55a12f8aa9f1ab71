// SPDX-License-Identifier: Apache-2.0
/* nhiscope-collector: Kafka -> SIEM sinks. See collector.h for the loop
 * and its delivery guarantees, options.c for the flags. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "collector.h"
#include "options.h"

int main(int argc, char **argv)
{
	struct nh_collector c;
	struct nh_config src;
	struct nh_copts o;
	sigset_t mask;
	int rc;

	rc = nh_copts_parse(&o, &src, argc, argv);
	if (rc) {
		nh_config_free(&src);
		return rc > 0 ? 0 : 2;
	}
	/* blocked before any thread starts (librdkafka, libmicrohttpd), so
	 * that only the signalfd sees them; a closed sink socket is an error
	 * return, not a signal */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	rc = nh_collector_open(&c, &o);
	if (!rc)
		rc = nh_collector_run(&c);
	nh_collector_close(&c);
	curl_global_cleanup();
	nh_config_free(&src);
	return rc ? 1 : 0;
}
