// SPDX-License-Identifier: Apache-2.0
#include "log.h"
#include "jsonw.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void nh_logv(const struct nh_log *lg, enum nh_log_level lvl, const char *fmt, va_list ap)
{
	char msg[1024], ts[40];
	struct timespec now;
	struct tm tm;
	size_t n;

	if (lvl > lg->level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One message, one line: a newline inside would split it. */
	n = strcspn(msg, "\n");
	msg[n] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
	if (lg->format == NH_LOG_JSON) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "time", json_object_new_string(ts));
		json_object_object_add(o, "level", json_object_new_string(level_names[lvl]));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, NH_JSON_FLAGS));
		json_object_put(o);
	} else {
		fprintf(stderr, "%s %-5s %s\n", ts, level_names[lvl], msg);
	}
}

void nh_log(const struct nh_log *lg, enum nh_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nh_logv(lg, lvl, fmt, ap);
	va_end(ap);
}
