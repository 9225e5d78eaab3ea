/*
 * log.h - one logging path for the daemons and tools.
 *
 * Messages go to stderr (with a time stamp) in the foreground, to syslog
 * once a daemon detaches. The level is checked before anything is
 * formatted, so a debug line on a hot path costs one comparison.
 */
#ifndef FY_LOG_H
#define FY_LOG_H

#include <stdbool.h>

enum fy_log_level {
	FY_LOG_ERR = 3,
	FY_LOG_WARNING = 4,
	FY_LOG_NOTICE = 5,
	FY_LOG_INFO = 6,
	FY_LOG_DEBUG = 7,
};

extern int fy_log_level;

/* `ident` names the program in every line; syslog after fy_log_syslog. */
void fy_log_init(const char *ident);
void fy_log_syslog(bool on);

/* Parses "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int fy_log_parse_level(const char *s);
const char *fy_log_level_name(int level);

void fy_log_write(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define fy_log(level, ...)                                  \
	do {                                                \
		if ((level) <= fy_log_level)                \
			fy_log_write((level), __VA_ARGS__); \
	} while (0)

#define fy_err(...) fy_log(FY_LOG_ERR, __VA_ARGS__)
#define fy_warn(...) fy_log(FY_LOG_WARNING, __VA_ARGS__)
#define fy_notice(...) fy_log(FY_LOG_NOTICE, __VA_ARGS__)
#define fy_info(...) fy_log(FY_LOG_INFO, __VA_ARGS__)
#define fy_debug(...) fy_log(FY_LOG_DEBUG, __VA_ARGS__)

#endif
