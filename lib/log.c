#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

int fy_log_level = FY_LOG_NOTICE;

static const char *log_ident = "flowyard";
static bool use_syslog;
/* Lines from the receive and writer threads must not interleave. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = {
	[FY_LOG_ERR] = "err",	    [FY_LOG_WARNING] = "warning",
	[FY_LOG_NOTICE] = "notice", [FY_LOG_INFO] = "info",
	[FY_LOG_DEBUG] = "debug",
};

void fy_log_init(const char *ident)
{
	log_ident = ident;
}

void fy_log_syslog(bool on)
{
	if (on && !use_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && use_syslog)
		closelog();
	use_syslog = on;
}

int fy_log_parse_level(const char *s)
{
	int i;

	for (i = FY_LOG_ERR; i <= FY_LOG_DEBUG; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (strcmp(s, "error") == 0)
		return FY_LOG_ERR;
	return -1;
}

const char *fy_log_level_name(int level)
{
	if (level < FY_LOG_ERR || level > FY_LOG_DEBUG)
		return "?";
	return names[level];
}

void fy_log_write(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		char stamp[32];
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s.%03ldZ %s[%s]: ", stamp,
			ts.tv_nsec / 1000000, log_ident, names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	}
	va_end(ap);
}
