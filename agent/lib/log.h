/* SPDX-License-Identifier: Apache-2.0 */
/* log: one line per message on stderr, text or JSON, with levels. The
 * configuration lives in the binary's context struct and is passed in. */
#ifndef NH_LOG_H
#define NH_LOG_H

#include <stdbool.h>

enum nh_log_level { NH_LOG_ERROR = 0, NH_LOG_WARN, NH_LOG_INFO, NH_LOG_DEBUG };

enum nh_log_format { NH_LOG_TEXT = 0, NH_LOG_JSON };

struct nh_log {
	enum nh_log_level level;
	enum nh_log_format format;
};

void nh_log(const struct nh_log *lg, enum nh_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nh_logv(const struct nh_log *lg, enum nh_log_level lvl, const char *fmt, __builtin_va_list ap)
    __attribute__((format(printf, 3, 0)));

#define nh_err(lg, ...)	  nh_log((lg), NH_LOG_ERROR, __VA_ARGS__)
#define nh_warn(lg, ...)  nh_log((lg), NH_LOG_WARN, __VA_ARGS__)
#define nh_info(lg, ...)  nh_log((lg), NH_LOG_INFO, __VA_ARGS__)
#define nh_debug(lg, ...) nh_log((lg), NH_LOG_DEBUG, __VA_ARGS__)

#endif
