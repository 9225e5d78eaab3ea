/*
 * ctl_log.h - what both daemons' control sockets share with the logging
 * module: the SetLogLevel command and the server's log callback.
 */
#ifndef FY_CTL_LOG_H
#define FY_CTL_LOG_H

#include "ctl.h"

/* Handler of SetLogLevel: sets fy_log_level, replies previous/current. */
int fy_ctl_set_log_level(void *arg, const Flowyard__Control__Request *req,
			 struct fy_ctl_reply *r);

/* A fy_ctl_log_fn writing to the daemon's log (lines name "control:"). */
void fy_ctl_log(void *arg, int level, const char *msg);

#endif
