#include "ctl_log.h"

#include "log.h"

int fy_ctl_set_log_level(void *arg, const Flowyard__Control__Request *req,
			 struct fy_ctl_reply *r)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__SetLogLevelReply lr =
		FLOWYARD__CONTROL__SET_LOG_LEVEL_REPLY__INIT;
	const char *want = req->set_log_level && req->set_log_level->level
				   ? req->set_log_level->level
				   : "";
	int level = fy_log_parse_level(want);

	(void)arg;
	if (level < 0)
		return fy_ctl_reply_error(r, FY_CTL_ERR_INVALID_ARGUMENT,
					  "log level '%s': expected err, "
					  "warning, notice, info or debug",
					  want);
	lr.previous = (char *)fy_log_level_name(fy_log_level);
	fy_log_level = level;
	lr.current = (char *)fy_log_level_name(fy_log_level);
	fy_notice("control: log level %s -> %s", lr.previous, lr.current);
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_SET_LOG_LEVEL;
	resp.set_log_level = &lr;
	return fy_ctl_reply_end(r, &resp);
}

void fy_ctl_log(void *arg, int level, const char *msg)
{
	(void)arg;
	fy_log(level, "%s", msg);
}
