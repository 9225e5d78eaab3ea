/*
 * ctl_client.c - blocking control client for nfq: connect, send one
 * request, read every part of the reply, each wait bounded by a timeout.
 *
 * Every error message names the socket, and where the cause is usually on
 * the operator's side (daemon not running, not in the group), says so.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define DEFAULT_TIMEOUT_MS 5000
#define CONNECT_RETRY_MS 10 /* while the daemon's backlog is full */

struct fy_ctl_client {
	int fd;
	int timeout_ms;
	char *path;
	struct fy_ctl_dec *dec;
	int remote_error;
	bool broken; /* out of sync with the daemon: only close is left */
};

static void set_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "collectord" from ".../collectord.sock"; "the daemon" otherwise. */
static void daemon_name(const char *path, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".sock") == 0 && n - 5 < len)
		snprintf(buf, len, "%.*s", (int)(n - 5), base);
	else
		snprintf(buf, len, "the daemon");
}

/* Why a connect failed, with the likely remedy. */
static void connect_error(const char *path, int e, int timeout_ms, char *err,
			  size_t len)
{
	char name[64], gbuf[4096], grp_name[128];
	struct group gr, *grp = NULL;
	struct stat st;

	daemon_name(path, name, sizeof(name));
	switch (e) {
	case ENOENT:
	case ECONNREFUSED:
		set_err(err, len, "cannot connect to %s: %s (is %s running?)",
			path, strerror(e), name);
		break;
	case EACCES:
	case EPERM:
		if (stat(path, &st) < 0) {
			set_err(err, len, "cannot connect to %s: %s", path,
				strerror(e));
			break;
		}
		if (getgrgid_r(st.st_gid, &gr, gbuf, sizeof(gbuf), &grp) == 0 &&
		    grp != NULL)
			snprintf(grp_name, sizeof(grp_name), "%s", gr.gr_name);
		else
			snprintf(grp_name, sizeof(grp_name), "%u",
				 (unsigned)st.st_gid);
		set_err(err, len,
			"cannot connect to %s: %s (only root, the user of %s "
			"and members of group %s may connect)",
			path, strerror(e), name, grp_name);
		break;
	case EAGAIN:
		set_err(err, len,
			"cannot connect to %s: %s accepts no connection "
			"(waited %d ms)",
			path, name, timeout_ms);
		break;
	default:
		set_err(err, len, "cannot connect to %s: %s", path,
			strerror(e));
	}
}

static int do_connect(struct fy_ctl_client *c, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int64_t deadline = now_ms() + c->timeout_ms;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		int e = errno;

		set_err(err, errlen, "cannot connect to %s: socket: %s",
			c->path, strerror(e));
		return -e;
	}
	for (;;) {
		int e;

		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		e = errno;
		if (e == EINTR)
			continue;
		/* A Unix socket whose backlog is full says EAGAIN instead of
		 * queueing a non-blocking connect: retry until the deadline. */
		if (e == EAGAIN && now_ms() < deadline) {
			poll(NULL, 0, CONNECT_RETRY_MS);
			continue;
		}
		connect_error(c->path, e, c->timeout_ms, err, errlen);
		return e == EAGAIN ? -ETIMEDOUT : -e;
	}
}

int fy_ctl_client_open(const char *path, int timeout_ms,
		       struct fy_ctl_client **out, char *err, size_t errlen)
{
	struct fy_ctl_client *c = NULL;
	struct sockaddr_un sa;
	int r;

	*out = NULL;
	if (path == NULL || path[0] == '\0') {
		set_err(err, errlen, "no control socket path given");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		set_err(err, errlen,
			"control socket path too long (at most %zu bytes): %s",
			sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto nomem;
	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
	c->path = strdup(path);
	/* Any limit a daemon may be configured with. The buffer grows only
	 * as large as the replies that come. */
	c->dec = fy_ctl_dec_new(FY_CTL_MAX_MSG_LIMIT);
	if (c->path == NULL || c->dec == NULL)
		goto nomem;
	if ((r = do_connect(c, err, errlen)) < 0)
		goto out;
	*out = c;
	c = NULL; /* transferred */
	r = 0;
	goto out;
nomem:
	set_err(err, errlen, "cannot connect to %s: out of memory", path);
	r = -ENOMEM;
out:
	fy_ctl_client_close(c);
	return r;
}

void fy_ctl_client_close(struct fy_ctl_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	fy_ctl_dec_free(c->dec);
	free(c->path);
	free(c);
}

int fy_ctl_client_remote_error(const struct fy_ctl_client *c)
{
	return c->remote_error;
}

/* Waits up to the timeout for `events`. Returns 0 or -ETIMEDOUT/-errno. */
static int wait_fd(struct fy_ctl_client *c, short events)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};
	int n;

	do {
		n = poll(&pfd, 1, c->timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int send_all(struct fy_ctl_client *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((r = wait_fd(c, POLLOUT)) < 0)
			return r;
	}
	return 0;
}

/* Reads more bytes into the decoder. Returns >0, 0 at end of stream, or
 * -errno (-ETIMEDOUT after the timeout without a byte). */
static int fill(struct fy_ctl_client *c)
{
	for (;;) {
		size_t room;
		uint8_t *p = fy_ctl_dec_space(c->dec, &room);
		ssize_t n;
		int r;

		if (p == NULL)
			return -ENOMEM;
		n = recv(c->fd, p, room, 0);
		if (n > 0) {
			fy_ctl_dec_commit(c->dec, (size_t)n);
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((r = wait_fd(c, POLLIN)) < 0)
			return r;
	}
}

/* The next Response part: 0 and *out, or -errno with the message set. */
static int next_part(struct fy_ctl_client *c, Flowyard__Control__Response **out,
		     char *err, size_t errlen)
{
	const uint8_t *msg;
	size_t len;
	int r;

	for (;;) {
		r = fy_ctl_dec_next(c->dec, &msg, &len);
		if (r > 0)
			break;
		if (r == -EMSGSIZE) {
			set_err(err, errlen,
				"%s: a reply of %zu bytes exceeds the limit "
				"of %u bytes",
				c->path, len, FY_CTL_MAX_MSG_LIMIT);
			return -EPROTO;
		}
		if (r < 0) {
			set_err(err, errlen, "%s: %s", c->path, strerror(-r));
			return r;
		}
		r = fill(c);
		if (r == 0) {
			set_err(err, errlen,
				"%s: connection closed before the reply "
				"ended",
				c->path);
			return -ECONNRESET;
		}
		if (r == -ETIMEDOUT) {
			set_err(err, errlen, "%s: no reply within %d ms",
				c->path, c->timeout_ms);
			return r;
		}
		if (r < 0) {
			set_err(err, errlen, "%s: cannot read the reply: %s",
				c->path, strerror(-r));
			return r;
		}
	}
	if (fy_ctl_response_unpack(msg, len, out) < 0) {
		set_err(err, errlen,
			"%s: a reply of %zu bytes does not parse as a "
			"flowyard.control.Response",
			c->path, len);
		return -EPROTO;
	}
	return 0;
}

/* Reads parts until the one with more = false, passing them to fn. */
static int read_reply(struct fy_ctl_client *c, int cmd, fy_ctl_part_fn fn,
		      void *arg, char *err, size_t errlen)
{
	Flowyard__Control__Response *resp = NULL;
	bool more = true;
	int r = 0;

	while (more) {
		if ((r = next_part(c, &resp, err, errlen)) < 0)
			return r;
		if (resp->api_version != FY_CTL_API_VERSION) {
			set_err(err, errlen,
				"%s: the daemon speaks control API version "
				"%u, this program %d",
				c->path, resp->api_version, FY_CTL_API_VERSION);
			r = -EPROTO;
			break;
		}
		if (resp->result_case ==
		    FLOWYARD__CONTROL__RESPONSE__RESULT_ERROR) {
			const Flowyard__Control__Error *e = resp->error;

			c->remote_error = e->code ? (int)e->code : -1;
			set_err(err, errlen, "%s: %s", c->path,
				e->message[0] ? e->message
					      : fy_ctl_err_name(e->code));
			r = -EREMOTEIO;
			break;
		}
		if ((int)resp->result_case != cmd) {
			set_err(err, errlen,
				"%s: the reply to %s carries result %d",
				c->path, fy_ctl_cmd_name(cmd),
				(int)resp->result_case);
			r = -EPROTO;
			break;
		}
		more = resp->more;
		if (fn != NULL && (r = fn(arg, resp)) != 0)
			break;
		fy_ctl_response_free(resp);
		resp = NULL;
	}
	fy_ctl_response_free(resp);
	return r;
}

int fy_ctl_client_call(struct fy_ctl_client *c, Flowyard__Control__Request *req,
		       fy_ctl_part_fn fn, void *arg, char *err, size_t errlen)
{
	uint8_t *frame = NULL;
	size_t len;
	int r, cmd = req->cmd_case;

	c->remote_error = 0;
	if (c->broken) {
		set_err(err, errlen, "%s: connection unusable after an error",
			c->path);
		return -EPIPE;
	}
	req->api_version = FY_CTL_API_VERSION;
	r = fy_ctl_frame_pack(&req->base, FY_CTL_MAX_MSG, &frame, &len);
	if (r < 0) {
		set_err(err, errlen, "%s: request too large", c->path);
		goto out;
	}
	r = send_all(c, frame, len);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* The daemon may have refused us (permission, too many
		 * clients) before reading; its reason is waiting to be read. */
		int sent_r = r;

		r = read_reply(c, cmd, fn, arg, err, errlen);
		if (r != -EREMOTEIO) {
			set_err(err, errlen, "cannot send to %s: %s", c->path,
				strerror(-sent_r));
			r = sent_r;
		}
		goto out;
	}
	if (r < 0) {
		set_err(err, errlen, "cannot send to %s: %s", c->path,
			r == -ETIMEDOUT ? "timed out" : strerror(-r));
		goto out;
	}
	r = read_reply(c, cmd, fn, arg, err, errlen);
out:
	/* A reply cut short leaves unread parts: nothing more can be asked
	 * on this connection. An Error ends its reply cleanly. */
	if (r != 0 && r != -EREMOTEIO)
		c->broken = true;
	free(frame);
	return r;
}

int fy_ctl_call(const char *path, int timeout_ms,
		Flowyard__Control__Request *req, fy_ctl_part_fn fn, void *arg,
		int *remote_error, char *err, size_t errlen)
{
	struct fy_ctl_client *c = NULL;
	int r;

	if (remote_error != NULL)
		*remote_error = 0;
	r = fy_ctl_client_open(path, timeout_ms, &c, err, errlen);
	if (r < 0)
		return r;
	r = fy_ctl_client_call(c, req, fn, arg, err, errlen);
	if (remote_error != NULL)
		*remote_error = c->remote_error;
	fy_ctl_client_close(c);
	return r;
}
