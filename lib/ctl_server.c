/*
 * ctl_server.c - the control socket server, inside the daemon's libev loop.
 *
 * Nothing here blocks the loop: the sockets are non-blocking, a client's
 * input and output are bounded buffers, and one client gets at most one
 * unit of work (one request dispatched, or one call of a streaming
 * handler) per loop iteration, so reception of export packets keeps its
 * turn however many clients ask and however slowly they read. A client
 * that sends half a request, or stops reading its replies, or sits idle,
 * is dropped after the timeout.
 *
 * Connection life: accept -> credentials check -> read frames -> one
 * request at a time: unpack, check, handler -> replies queued in the
 * output buffer -> written as the socket takes them. The next request is
 * read only once the previous reply is fully written: that is the
 * back-pressure that keeps a pipelining client within its buffers.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ev.h>

#include "ctl.h"
#include "log.h"

#define DEFAULT_MAX_CLIENTS 64
#define DEFAULT_TIMEOUT_MS 10000
#define ACCEPT_BATCH 16	 /* accepts per loop iteration */
#define OUT_KEEP 65536	 /* an idle client keeps this much buffer */
#define ERR_MSG_MAX 256	 /* bytes of an error message */
#define EMFILE_PAUSE 1.0 /* s without accepting when out of fds */
#define LOG_INTERVAL 1.0 /* s: a window of client-caused lines */
#define LOG_BURST 10	 /* lines per window */

struct out_buf {
	uint8_t *p;
	size_t off; /* first byte not yet written */
	size_t len;
	size_t cap;
};

struct fy_ctl_reply {
	struct ctl_conn *conn;
	int cmd;
	uint64_t cursor;
	bool ended; /* the last part or an error is queued */
	bool sent;  /* something was queued during the current call */
};

struct ctl_conn {
	struct fy_ctl_server *srv;
	struct ctl_conn *prev, *next;
	int fd;
	ev_io rio, wio;
	struct fy_ctl_peer peer;
	struct fy_ctl_dec *dec;
	struct out_buf out;
	Flowyard__Control__Request *req; /* being answered, or NULL */
	struct fy_ctl_reply reply;
	ev_tstamp in_since;  /* a partial request started; 0: none */
	ev_tstamp out_since; /* last write progress with output queued */
	ev_tstamp active;    /* last activity of any kind */
	bool eof;	     /* the client will send nothing more */
	bool closing;	     /* close once the output is written */
};

struct fy_ctl_server {
	struct ev_loop *loop;
	int fd;
	ev_io lio;
	ev_timer sweep;	 /* timeouts; runs while there are clients */
	ev_timer resume; /* accepting again after running out of fds */
	char *path;
	char *daemon;
	char *group_name;
	bool has_group;
	gid_t gid;
	dev_t dev; /* the socket file we made, to remove only that one */
	ino_t ino;
	const struct fy_ctl_handler *handlers;
	void *harg;
	fy_ctl_log_fn log;
	void *log_arg;
	uint32_t max_clients;
	uint32_t max_msg;
	size_t max_out;
	double timeout;
	struct ctl_conn *conns;
	struct fy_ctl_stats st;
	ev_tstamp log_window; /* rate limit of client-caused lines */
	unsigned log_lines;
	uint64_t log_suppressed;
};

/* ------------------------------------------------------------------------
 * Logging
 */

static void vslog(struct fy_ctl_server *s, int level, const char *fmt,
		  va_list ap)
{
	char line[512];

	if (s->log == NULL)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	s->log(s->log_arg, level, line);
}

static void slog(struct fy_ctl_server *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void slog_limited(struct fy_ctl_server *s, int level, const char *fmt,
			 ...) __attribute__((format(printf, 3, 4)));
static int conn_error(struct ctl_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conn_bad_frame(struct ctl_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct fy_ctl_server *s, int fd, int code, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static void slog(struct fy_ctl_server *s, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vslog(s, level, fmt, ap);
	va_end(ap);
}

/*
 * For lines a client can cause at will (refusals, bad frames, timeouts):
 * at most LOG_BURST per LOG_INTERVAL, so that a misbehaving local tool
 * cannot flood the daemon's log. The counters still count every event.
 */
static void slog_limited(struct fy_ctl_server *s, int level, const char *fmt,
			 ...)
{
	ev_tstamp now = ev_now(s->loop);
	va_list ap;

	if (now - s->log_window >= LOG_INTERVAL) {
		if (s->log_suppressed > 0)
			slog(s, FY_LOG_NOTICE,
			     "control: %llu similar messages suppressed",
			     (unsigned long long)s->log_suppressed);
		s->log_window = now;
		s->log_lines = 0;
		s->log_suppressed = 0;
	}
	if (s->log_lines >= LOG_BURST) {
		s->log_suppressed++;
		return;
	}
	s->log_lines++;
	va_start(ap, fmt);
	vslog(s, level, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------
 * Output
 */

static bool out_pending(const struct ctl_conn *c)
{
	return c->out.off < c->out.len;
}

/*
 * Frames `resp` into the client's output buffer. `force` lets an error
 * frame (a few hundred bytes) past max_out: an error must always be
 * deliverable, even after a handler filled the buffer.
 */
static int conn_queue(struct ctl_conn *c, Flowyard__Control__Response *resp,
		      bool force)
{
	struct fy_ctl_server *s = c->srv;
	struct out_buf *o = &c->out;
	size_t n = fy_ctl_frame_size(&resp->base, s->max_msg);
	size_t held = o->len - o->off;

	if (n == 0)
		return -EMSGSIZE;
	if (!force && held + n > s->max_out)
		return -ENOBUFS;
	if (o->off > 0) {
		memmove(o->p, o->p + o->off, held);
		o->off = 0;
		o->len = held;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *p;

		while (cap < o->len + n)
			cap *= 2;
		p = realloc(o->p, cap);
		if (p == NULL)
			return -ENOMEM;
		o->p = p;
		o->cap = cap;
	}
	fy_ctl_frame_write(&resp->base, n, o->p + o->len);
	if (held == 0)
		c->out_since = ev_now(s->loop);
	o->len += n;
	return 0;
}

static int conn_verror(struct ctl_conn *c, int code, const char *fmt,
		       va_list ap)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__Error e = FLOWYARD__CONTROL__ERROR__INIT;
	char msg[ERR_MSG_MAX];
	int r;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	e.code = (Flowyard__Control__ErrorCode)code;
	e.message = msg;
	resp.api_version = FY_CTL_API_VERSION;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_ERROR;
	resp.error = &e;
	c->srv->st.errors++;
	r = conn_queue(c, &resp, true);
	/* Out of memory: the client would wait for a reply that never
	 * comes; closing tells it at once. */
	if (r < 0)
		c->closing = true;
	return r;
}

static int conn_error(struct ctl_conn *c, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = conn_verror(c, code, fmt, ap);
	va_end(ap);
	return r;
}

/* Writes what the socket takes. Returns 0, or -1 if the client is gone. */
static int conn_flush(struct ctl_conn *c)
{
	struct out_buf *o = &c->out;

	while (o->off < o->len) {
		ssize_t n = send(c->fd, o->p + o->off, o->len - o->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			c->srv->st.write_errors++;
			slog(c->srv, FY_LOG_DEBUG,
			     "control: client pid %d gone: %s",
			     (int)c->peer.pid, strerror(errno));
			return -1;
		}
		o->off += (size_t)n;
		c->out_since = c->active = ev_now(c->srv->loop);
	}
	o->off = o->len = 0;
	/* A long reply grew the buffer; an idle client should not keep it. */
	if (o->cap > OUT_KEEP) {
		free(o->p);
		o->p = NULL;
		o->cap = 0;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The reply builder handed to handlers
 */

const struct fy_ctl_peer *fy_ctl_reply_peer(const struct fy_ctl_reply *r)
{
	return &r->conn->peer;
}

uint64_t *fy_ctl_reply_cursor(struct fy_ctl_reply *r)
{
	return &r->cursor;
}

size_t fy_ctl_reply_room(const struct fy_ctl_reply *r)
{
	const struct ctl_conn *c = r->conn;
	size_t held = c->out.len - c->out.off;
	size_t room;

	if (r->ended || held + FY_CTL_HDR_LEN >= c->srv->max_out)
		return 0;
	room = c->srv->max_out - held - FY_CTL_HDR_LEN;
	return room < c->srv->max_msg ? room : c->srv->max_msg;
}

static int reply_send(struct fy_ctl_reply *r, Flowyard__Control__Response *resp,
		      bool more)
{
	int ret;

	if (r->ended || resp == NULL || (int)resp->result_case != r->cmd)
		return -EINVAL;
	resp->api_version = FY_CTL_API_VERSION;
	resp->more = more;
	ret = conn_queue(r->conn, resp, false);
	if (ret < 0)
		return ret;
	r->sent = true;
	r->ended = !more;
	return 0;
}

int fy_ctl_reply_part(struct fy_ctl_reply *r, Flowyard__Control__Response *resp)
{
	return reply_send(r, resp, true);
}

int fy_ctl_reply_end(struct fy_ctl_reply *r, Flowyard__Control__Response *resp)
{
	return reply_send(r, resp, false);
}

int fy_ctl_reply_error(struct fy_ctl_reply *r, int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (r->ended)
		return -EINVAL;
	va_start(ap, fmt);
	ret = conn_verror(r->conn, code, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return ret;
	r->sent = true;
	r->ended = true;
	return 0;
}

/* ------------------------------------------------------------------------
 * Requests
 */

static void conn_finish(struct ctl_conn *c)
{
	fy_ctl_request_free(c->req);
	c->req = NULL;
}

/* Calls the handler once and turns a handler's mistakes into errors. */
static void conn_call(struct ctl_conn *c)
{
	struct fy_ctl_server *s = c->srv;
	struct fy_ctl_reply *rp = &c->reply;
	const char *name = fy_ctl_cmd_name(rp->cmd);
	int r;

	rp->sent = false;
	r = s->handlers[rp->cmd].fn(s->harg, c->req, rp);
	if (rp->ended)
		goto done;
	if (r == FY_CTL_AGAIN && rp->sent)
		return; /* resumed when the output has drained */
	if (r == FY_CTL_AGAIN) {
		/* Called with an empty buffer, where any part fits: a
		 * handler that sends nothing would be called forever. */
		slog(s, FY_LOG_ERR, "control: %s handler made no progress",
		     name);
		conn_error(c, FY_CTL_ERR_INTERNAL,
			   "%s: no progress in the daemon (a bug)", name);
	} else if (r < 0) {
		slog(s, FY_LOG_WARNING, "control: %s failed: %s", name,
		     strerror(-r));
		conn_error(c, FY_CTL_ERR_INTERNAL, "%s failed: %s", name,
			   strerror(-r));
	} else {
		slog(s, FY_LOG_ERR, "control: %s handler sent no reply", name);
		conn_error(c, FY_CTL_ERR_INTERNAL,
			   "%s: no reply from the daemon (a bug)", name);
	}
done:
	conn_finish(c);
}

/* A frame that cannot be answered in sync: error reply, then close. */
static void conn_bad_frame(struct ctl_conn *c, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->srv->st.bad_frames++;
	slog_limited(c->srv, FY_LOG_NOTICE,
		     "control: client uid %u pid %d: %s; closing",
		     (unsigned)c->peer.uid, (int)c->peer.pid, msg);
	conn_error(c, code, "%s", msg);
	c->closing = true;
}

/* Starts answering the next buffered request. Returns 1 if it took a
 * frame (or ended the connection), 0 if there is none yet. */
static int conn_dispatch(struct ctl_conn *c)
{
	struct fy_ctl_server *s = c->srv;
	Flowyard__Control__Request *req = NULL;
	char why[ERR_MSG_MAX];
	const uint8_t *msg;
	size_t len;
	int r, code;

	r = fy_ctl_dec_next(c->dec, &msg, &len);
	if (r == 0 && c->eof && fy_ctl_dec_pending(c->dec) > 0) {
		conn_bad_frame(c, FY_CTL_ERR_BAD_REQUEST,
			       "request truncated: the connection was shut "
			       "down after %zu bytes of it",
			       fy_ctl_dec_pending(c->dec));
		return 1;
	}
	if (r == 0)
		return 0;
	if (r == -EMSGSIZE) {
		conn_bad_frame(c, FY_CTL_ERR_TOO_LARGE,
			       "request of %zu bytes exceeds the limit of %u "
			       "bytes",
			       len, s->max_msg);
		return 1;
	}
	if (r < 0) {
		conn_error(c, FY_CTL_ERR_INTERNAL, "out of memory");
		c->closing = true;
		return 1;
	}
	c->active = ev_now(s->loop);
	c->in_since = fy_ctl_dec_pending(c->dec) ? c->active : 0;
	if (fy_ctl_request_unpack(msg, len, &req) < 0) {
		conn_bad_frame(c, FY_CTL_ERR_BAD_REQUEST,
			       "a message of %zu bytes does not parse as a "
			       "flowyard.control.Request",
			       len);
		return 1;
	}
	code = fy_ctl_request_check(req, why, sizeof(why));
	if (code == 0 && s->handlers[req->cmd_case].fn == NULL) {
		code = FY_CTL_ERR_NOT_SUPPORTED;
		snprintf(why, sizeof(why), "%s does not serve the %s command",
			 s->daemon, fy_ctl_cmd_name(req->cmd_case));
	}
	if (code != 0) {
		/* The frame was sound: answer and keep the connection. */
		conn_error(c, code, "%s", why);
		fy_ctl_request_free(req);
		return 1;
	}
	s->st.requests++;
	s->st.by_cmd[req->cmd_case]++;
	slog(s, FY_LOG_DEBUG, "control: uid %u pid %d: %s",
	     (unsigned)c->peer.uid, (int)c->peer.pid,
	     fy_ctl_cmd_name(req->cmd_case));
	c->req = req;
	memset(&c->reply, 0, sizeof(c->reply));
	c->reply.conn = c;
	c->reply.cmd = req->cmd_case;
	conn_call(c);
	return 1;
}

/* ------------------------------------------------------------------------
 * Connections
 */

static void conn_close(struct ctl_conn *c)
{
	struct fy_ctl_server *s = c->srv;

	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->st.clients--;
	if (s->conns == NULL)
		ev_timer_stop(s->loop, &s->sweep);
	fy_ctl_request_free(c->req);
	fy_ctl_dec_free(c->dec);
	free(c->out.p);
	free(c);
}

/*
 * Moves the connection one step: write what is queued; if nothing is,
 * do one unit of work (dispatch one request, or call a streaming handler
 * once). If more work remains, wait for writability, which an empty
 * socket buffer gives at once: the next step happens on the next loop
 * iteration, after packet reception had its turn. May free `c`.
 */
static void conn_run(struct ctl_conn *c)
{
	struct ev_loop *loop = c->srv->loop;
	int r;

	if (conn_flush(c) < 0)
		goto drop;
	if (out_pending(c))
		goto wait_write;
	if (c->closing)
		goto drop;
	if (c->req != NULL) {
		conn_call(c);
		r = 1;
	} else {
		r = conn_dispatch(c);
	}
	if (conn_flush(c) < 0)
		goto drop;
	if (out_pending(c))
		goto wait_write;
	if (c->closing)
		goto drop;
	if (r > 0 && (c->req != NULL || fy_ctl_dec_ready(c->dec)))
		goto wait_write;
	if (c->eof)
		goto drop;
	ev_io_stop(loop, &c->wio);
	ev_io_start(loop, &c->rio);
	return;
wait_write:
	/* No reading meanwhile: the client's next request waits in its
	 * socket, which bounds what it can make us hold. */
	ev_io_stop(loop, &c->rio);
	ev_io_start(loop, &c->wio);
	return;
drop:
	conn_close(c);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_conn *c = w->data;
	size_t room;
	uint8_t *p;
	ssize_t n;

	(void)revents;
	p = fy_ctl_dec_space(c->dec, &room);
	if (p == NULL) {
		/* Full of frames, or out of memory: let conn_run decide. */
		conn_run(c);
		return;
	}
	n = recv(c->fd, p, room, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		slog(c->srv, FY_LOG_DEBUG, "control: client pid %d: %s",
		     (int)c->peer.pid, strerror(errno));
		conn_close(c);
		return;
	}
	if (n == 0) {
		c->eof = true;
	} else {
		fy_ctl_dec_commit(c->dec, (size_t)n);
		c->active = ev_now(loop);
		if (c->in_since == 0)
			c->in_since = c->active;
	}
	conn_run(c);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	conn_run(w->data);
}

/* Why a connection should be dropped now, or NULL. */
static const char *conn_stalled(const struct ctl_conn *c, ev_tstamp now)
{
	double t = c->srv->timeout;

	/* A reply in progress with an empty buffer is waiting for room in
	 * the socket: a stall as well, if the client does not read. */
	if (out_pending(c) || c->req != NULL)
		return now - c->out_since >= t ? "does not read its replies"
					       : NULL;
	if (fy_ctl_dec_pending(c->dec) > 0 && c->in_since > 0)
		return now - c->in_since >= t ? "sent an incomplete request"
					      : NULL;
	return now - c->active >= t ? "idle" : NULL;
}

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fy_ctl_server *s = w->data;
	ev_tstamp now = ev_now(loop);
	struct ctl_conn *c, *next;

	(void)revents;
	for (c = s->conns; c != NULL; c = next) {
		const char *why = conn_stalled(c, now);

		next = c->next;
		if (why == NULL)
			continue;
		s->st.timeouts++;
		slog_limited(s, FY_LOG_NOTICE,
			     "control: client uid %u pid %d dropped: %s for "
			     "%.1f s",
			     (unsigned)c->peer.uid, (int)c->peer.pid, why,
			     s->timeout);
		conn_close(c);
	}
}

/* ------------------------------------------------------------------------
 * Accepting
 */

/* Supplementary groups of the peer as the kernel recorded them at
 * connect(): no NSS lookup, so nothing that could block the loop. */
static int peer_groups_kernel(int fd, gid_t gid, bool *member)
{
#ifdef SO_PEERGROUPS
	gid_t small[64], *g = small;
	socklen_t len = sizeof(small);
	size_t i;
	int r = 0;

	*member = false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
		if (errno != ERANGE)
			return -errno;
		g = malloc(len);
		if (g == NULL)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) < 0) {
			r = -errno;
			goto out;
		}
	}
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (g[i] == gid)
			*member = true;
out:
	if (g != small)
		free(g);
	return r;
#else
	(void)fd;
	(void)gid;
	*member = false;
	return -ENOPROTOOPT;
#endif
}

/* Fallback for kernels without SO_PEERGROUPS (before 4.13): the group
 * database, which may consult NSS. */
static bool peer_groups_db(uid_t uid, gid_t pgid, gid_t gid)
{
	struct passwd pw, *pwp = NULL;
	gid_t groups[256];
	int n = 256, i;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pgid, groups, &n) < 0)
		return false;
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static bool peer_allowed(struct fy_ctl_server *s, int fd,
			 const struct fy_ctl_peer *p)
{
	bool member;
	int r;

	/* geteuid() now, not at start: the daemon drops to its user after
	 * creating the socket, and that user must keep access. */
	if (p->uid == 0 || p->uid == geteuid())
		return true;
	if (!s->has_group)
		return false;
	if (p->gid == s->gid)
		return true;
	r = peer_groups_kernel(fd, s->gid, &member);
	if (r == -ENOPROTOOPT)
		return peer_groups_db(p->uid, p->gid, s->gid);
	if (r < 0)
		slog(s, FY_LOG_WARNING, "control: SO_PEERGROUPS: %s",
		     strerror(-r));
	return r == 0 && member;
}

/* Tells a refused peer why, in a frame, and closes: a fresh socket buffer
 * always has room for one small frame, so the send does not block. */
static void refuse(struct fy_ctl_server *s, int fd, int code, const char *fmt,
		   ...)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__Error e = FLOWYARD__CONTROL__ERROR__INIT;
	uint8_t frame[FY_CTL_HDR_LEN + ERR_MSG_MAX + 32];
	char msg[ERR_MSG_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e.code = (Flowyard__Control__ErrorCode)code;
	e.message = msg;
	resp.api_version = FY_CTL_API_VERSION;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_ERROR;
	resp.error = &e;
	n = fy_ctl_frame_size(&resp.base, sizeof(frame) - FY_CTL_HDR_LEN);
	if (n > 0) {
		fy_ctl_frame_write(&resp.base, n, frame);
		/* If it fails, the peer left already: nothing to tell. */
		(void)send(fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	s->st.errors++;
	close(fd);
}

static void conn_new(struct fy_ctl_server *s, int fd,
		     const struct fy_ctl_peer *peer)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->dec = fy_ctl_dec_new(s->max_msg)) == NULL) {
		slog(s, FY_LOG_WARNING, "control: out of memory for a client");
		free(c);
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->peer = *peer;
	c->active = ev_now(s->loop);
	ev_io_init(&c->rio, on_read, fd, EV_READ);
	ev_io_init(&c->wio, on_write, fd, EV_WRITE);
	c->rio.data = c;
	c->wio.data = c;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	if (++s->st.clients > s->st.clients_peak)
		s->st.clients_peak = s->st.clients;
	s->st.connections++;
	if (c->next == NULL)
		ev_timer_again(s->loop, &s->sweep);
	ev_io_start(s->loop, &c->rio);
	slog(s, FY_LOG_DEBUG, "control: client uid %u pid %d connected",
	     (unsigned)peer->uid, (int)peer->pid);
}

static void refuse_permission(struct fy_ctl_server *s, int fd,
			      const struct fy_ctl_peer *p)
{
	char why[200];

	if (s->has_group)
		snprintf(why, sizeof(why),
			 "neither root, the user of %s (uid %u) nor in group "
			 "%s",
			 s->daemon, (unsigned)geteuid(), s->group_name);
	else
		snprintf(why, sizeof(why),
			 "neither root nor the user of %s (uid %u)", s->daemon,
			 (unsigned)geteuid());
	s->st.refused_permission++;
	slog_limited(s, FY_LOG_WARNING,
		     "control: refused uid %u gid %u pid %d on %s: %s",
		     (unsigned)p->uid, (unsigned)p->gid, (int)p->pid, s->path,
		     why);
	refuse(s, fd, FY_CTL_ERR_PERMISSION_DENIED,
	       "permission denied: uid %u is %s", (unsigned)p->uid, why);
}

static void admit(struct fy_ctl_server *s, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct fy_ctl_peer p;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		slog(s, FY_LOG_WARNING, "control: SO_PEERCRED: %s",
		     strerror(errno));
		close(fd);
		return;
	}
	p.pid = cr.pid;
	p.uid = cr.uid;
	p.gid = cr.gid;
	/* Permission first: a refused peer learns nothing about load. */
	if (!peer_allowed(s, fd, &p)) {
		refuse_permission(s, fd, &p);
		return;
	}
	if (s->st.clients >= s->max_clients) {
		s->st.refused_busy++;
		slog_limited(s, FY_LOG_WARNING,
			     "control: refused uid %u pid %d: %u clients "
			     "connected already",
			     (unsigned)p.uid, (int)p.pid, s->st.clients);
		refuse(s, fd, FY_CTL_ERR_BUSY,
		       "%s has %u control clients already; try again",
		       s->daemon, s->st.clients);
		return;
	}
	conn_new(s, fd, &p);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fy_ctl_server *s = w->data;
	int i, fd;

	(void)revents;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		slog_limited(s, FY_LOG_WARNING, "control: accept on %s: %s",
			     s->path, strerror(errno));
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Level-triggered: retrying now would spin. */
			ev_io_stop(loop, &s->lio);
			ev_timer_start(loop, &s->resume);
		}
		return;
	}
}

static void on_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fy_ctl_server *s = w->data;

	(void)revents;
	ev_io_start(loop, &s->lio);
}

/* ------------------------------------------------------------------------
 * The socket file
 */

/* mkdir -p of the directories above `path`, 0755 whatever the umask. */
static int make_parents(struct fy_ctl_server *s, const char *path)
{
	char *dir = strdup(path);
	char *slash, *p;
	int r = 0;

	if (dir == NULL)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		goto out;
	*slash = '\0';
	for (p = dir + 1;; p++) {
		char ch = *p;

		if (ch != '/' && ch != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) == 0) {
			if (chmod(dir, 0755) < 0) {
				r = -errno;
				slog(s, FY_LOG_ERR, "control: chmod %s: %s",
				     dir, strerror(errno));
				goto out;
			}
		} else if (errno != EEXIST) {
			r = -errno;
			slog(s, FY_LOG_ERR,
			     "control: cannot create directory %s: %s", dir,
			     strerror(errno));
			goto out;
		}
		*p = ch;
		if (ch == '\0')
			break;
	}
out:
	free(dir);
	return r;
}

/*
 * A socket file left by a daemon that died is removed; one a live daemon
 * still answers on is not (two daemons on one socket would each lose half
 * the clients), and neither is a file that is not a socket.
 */
static int clear_stale(struct fy_ctl_server *s, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		slog(s, FY_LOG_ERR, "control: %s: %s", sa->sun_path,
		     strerror(errno));
		return r;
	}
	if (!S_ISSOCK(st.st_mode)) {
		slog(s, FY_LOG_ERR,
		     "control: %s exists and is not a socket; not touching it",
		     sa->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS) {
		slog(s, FY_LOG_ERR,
		     "control: another daemon answers on %s; not replacing "
		     "its socket",
		     sa->sun_path);
		r = -EADDRINUSE;
	} else if (errno == ECONNREFUSED) {
		r = unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
		slog(s, r ? FY_LOG_ERR : FY_LOG_NOTICE,
		     "control: removing stale socket %s%s%s", sa->sun_path,
		     r ? ": " : "", r ? strerror(-r) : "");
	} else {
		r = -errno;
		slog(s, FY_LOG_ERR, "control: cannot check %s: %s",
		     sa->sun_path, strerror(errno));
	}
	close(fd);
	return r;
}

static int resolve_group(struct fy_ctl_server *s, const char *name)
{
	struct group gr, *grp = NULL;
	char *end, *buf = NULL;
	size_t len = 4096;
	unsigned long v;
	int r;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name != '\0' && *end == '\0' && errno == 0 &&
	    v < (unsigned long)(gid_t)-1) {
		s->gid = (gid_t)v;
		goto found;
	}
	for (;;) {
		char *nb = realloc(buf, len);

		if (nb == NULL) {
			r = -ENOMEM;
			goto out;
		}
		buf = nb;
		r = getgrnam_r(name, &gr, buf, len, &grp);
		if (r != ERANGE || len >= (1u << 20))
			break;
		len *= 2;
	}
	if (grp == NULL) {
		r = r ? -r : -ENOENT;
		slog(s, FY_LOG_ERR, "control: socket group %s: %s", name,
		     r == -ENOENT ? "no such group" : strerror(-r));
		goto out;
	}
	s->gid = grp->gr_gid;
found:
	s->has_group = true;
	r = 0;
out:
	free(buf);
	return r;
}

/* bind, then mode and group, then listen: no one can connect before the
 * file has its final permissions. */
static int open_socket(struct fy_ctl_server *s, const struct sockaddr_un *sa)
{
	const char *path = sa->sun_path;
	struct stat st;
	int r;

	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		r = -errno;
		slog(s, FY_LOG_ERR, "control: socket: %s", strerror(errno));
		return r;
	}
	if (bind(s->fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		r = -errno;
		slog(s, FY_LOG_ERR, "control: cannot bind %s: %s", path,
		     strerror(errno));
		return r;
	}
	if (chmod(path, 0660) < 0 ||
	    (s->has_group && chown(path, (uid_t)-1, s->gid) < 0) ||
	    stat(path, &st) < 0) {
		r = -errno;
		slog(s, FY_LOG_ERR,
		     "control: cannot set mode or group of %s: %s", path,
		     strerror(errno));
		unlink(path);
		return r;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (listen(s->fd, SOMAXCONN) < 0) {
		r = -errno;
		slog(s, FY_LOG_ERR, "control: listen on %s: %s", path,
		     strerror(errno));
		unlink(path);
		return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Life cycle
 */

static int server_config(struct fy_ctl_server *s,
			 const struct fy_ctl_server_cfg *cfg)
{
	double iv;

	s->path = strdup(cfg->path);
	s->daemon = strdup(cfg->daemon ? cfg->daemon : "the daemon");
	s->group_name = strdup(cfg->group ? cfg->group : "");
	if (s->path == NULL || s->daemon == NULL || s->group_name == NULL)
		return -ENOMEM;
	s->handlers = cfg->handlers;
	s->harg = cfg->handler_arg;
	s->max_clients = cfg->max_clients ? cfg->max_clients
					  : DEFAULT_MAX_CLIENTS;
	s->max_msg = cfg->max_msg ? cfg->max_msg : FY_CTL_MAX_MSG;
	if (s->max_msg > FY_CTL_MAX_MSG_LIMIT)
		s->max_msg = FY_CTL_MAX_MSG_LIMIT;
	/* A maximal part must fit in an empty buffer, or a handler could
	 * never make progress. More is not needed: the buffer also bounds
	 * what one handler call produces in one loop iteration. */
	s->max_out = cfg->max_out;
	if (s->max_out < (size_t)s->max_msg + FY_CTL_HDR_LEN)
		s->max_out = (size_t)s->max_msg + FY_CTL_HDR_LEN;
	s->timeout = (cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS) /
		     1000.0;
	/* Drops happen within a tenth of the timeout after it passed. */
	iv = s->timeout / 10;
	if (iv < 0.01)
		iv = 0.01;
	if (iv > 1.0)
		iv = 1.0;
	ev_init(&s->sweep, on_sweep);
	s->sweep.repeat = iv;
	s->sweep.data = s;
	ev_timer_init(&s->resume, on_resume, EMFILE_PAUSE, 0.);
	s->resume.data = s;
	return 0;
}

int fy_ctl_server_new(struct ev_loop *loop, const struct fy_ctl_server_cfg *cfg,
		      struct fy_ctl_server **out)
{
	struct fy_ctl_server *s = NULL;
	struct sockaddr_un sa;
	int r;

	*out = NULL;
	if (loop == NULL || cfg == NULL || cfg->path == NULL ||
	    cfg->handlers == NULL)
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (cfg->path[0] == '\0' || strlen(cfg->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, cfg->path);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->loop = loop;
	s->fd = -1;
	s->log = cfg->log;
	s->log_arg = cfg->log_arg;
	if ((r = server_config(s, cfg)) < 0)
		goto out;
	if (cfg->group != NULL && (r = resolve_group(s, cfg->group)) < 0)
		goto out;
	if ((r = make_parents(s, cfg->path)) < 0)
		goto out;
	if ((r = clear_stale(s, &sa)) < 0)
		goto out;
	if ((r = open_socket(s, &sa)) < 0)
		goto out;
	ev_io_init(&s->lio, on_accept, s->fd, EV_READ);
	s->lio.data = s;
	ev_io_start(loop, &s->lio);
	slog(s, FY_LOG_INFO, "control: listening on %s", s->path);
	*out = s;
	s = NULL; /* transferred */
	r = 0;
out:
	if (s != NULL) {
		if (s->fd >= 0)
			close(s->fd);
		free(s->path);
		free(s->daemon);
		free(s->group_name);
		free(s);
	}
	return r;
}

void fy_ctl_server_free(struct fy_ctl_server *s)
{
	struct stat st;

	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_close(s->conns);
	ev_io_stop(s->loop, &s->lio);
	ev_timer_stop(s->loop, &s->sweep);
	ev_timer_stop(s->loop, &s->resume);
	close(s->fd);
	/* A successor may have replaced the file already: leave its one. */
	if (stat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	free(s->path);
	free(s->daemon);
	free(s->group_name);
	free(s);
}

void fy_ctl_server_stats(const struct fy_ctl_server *s, struct fy_ctl_stats *st)
{
	*st = s->st;
}

void fy_ctl_stats_to_proto(const struct fy_ctl_stats *st,
			   Flowyard__Control__ControlCounters *out)
{
	out->connections = st->connections;
	out->refused_permission = st->refused_permission;
	out->refused_busy = st->refused_busy;
	out->bad_frames = st->bad_frames;
	out->timeouts = st->timeouts;
	out->requests = st->requests;
	out->clients = st->clients;
}
