// SPDX-License-Identifier: Apache-2.0
/* The event loop: one epoll set for the ring buffer, signals, the
 * timer, the socket and HTTP. */
#include "agent.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static bool handle_signal(struct nh_agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			nh_agent_reload(a);
			continue;
		}
		nh_info(&a->log, "%s: detaching", strsignal(si.ssi_signo));
		return true;
	}
	return false;
}

int nh_agent_run(struct nh_agent *a)
{
	struct epoll_event evs[32];

	while (!a->stopping) {
		int wait = nh_httpd_wait_ms(&a->httpd, a->cfg.batch_ms ? (int)a->cfg.batch_ms : -1);
		int n = epoll_wait(a->epfd, evs, 32, wait);
		bool http = false;

		/* Records below the wakeup threshold are drained on the timeout. */
		if (n == 0)
			nh_pipeline_drain(a);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			nh_err(&a->log, "epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && !a->stopping; i++) {
			uint64_t tag = evs[i].data.u64;
			uint64_t expirations;

			if (tag == NH_SRC_RING) {
				nh_pipeline_drain(a);
			} else if (tag == NH_SRC_TIMER) {
				if (read(a->timerfd, &expirations, sizeof(expirations)) > 0)
					nh_pipeline_tick(a);
			} else if (tag == NH_SRC_WORKER) {
				nh_worker_collect(&a->io);
			} else if (tag == NH_SRC_SIGNAL) {
				a->stopping = handle_signal(a);
			} else if (evs[i].data.ptr == &a->httpd) {
				http = true;
			} else if (evs[i].data.ptr == &a->server) {
				nh_server_accept(&a->server);
			} else if (nh_server_is_client(&a->server, evs[i].data.ptr)) {
				nh_server_client_io(&a->server, evs[i].data.ptr, evs[i].events);
			}
		}
		/* Between batches: scrapes and probes see the state as it is. */
		nh_httpd_run(&a->httpd, http);
		nh_server_flush(&a->server);
		if (a->kafka_on)
			nh_kafka_poll(&a->kafka, nh_clock_mono_ns());
		if (a->cfg.tail)
			fflush(stdout);
	}
	/* Deliver what is already in the ring before detaching. */
	nh_pipeline_drain(a);
	nh_server_flush(&a->server);
	return 0;
}
