/*
 * ctl.h - the control socket: framing, server and client of the protobuf
 * control API (proto/control.proto, docs/control-api.md).
 *
 * On the wire every message is a 4-byte big-endian length followed by that
 * many bytes of one protobuf message: a Request from the client, one or
 * more Response parts from the daemon, the last with more = false.
 *
 * Three parts, usable separately:
 *   - framing (ctl_frame.c): an incremental frame decoder with a bounded
 *     buffer, frame packing, Request/Response unpacking with a memory
 *     budget, request validation. No I/O; what the fuzz target exercises.
 *   - server (ctl_server.c): a non-blocking Unix socket server inside the
 *     daemon's libev loop, with peer credential checks, a client cap,
 *     bounded per-client buffers, timeouts and a command handler table.
 *   - client (ctl_client.c): blocking request/reply for nfq, with a timeout
 *     and error messages that name the socket.
 *
 * Errors are negative errno values. Nothing here prints, exits or aborts:
 * the server reports through a log callback, the client through a message
 * buffer the caller prints.
 */
#ifndef FY_CTL_H
#define FY_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.pb-c.h"

struct ev_loop; /* libev; only the server needs <ev.h> */

/* Version spoken by this build, carried in Request and Response. */
#define FY_CTL_API_VERSION 1

#define FY_CTL_HDR_LEN 4		 /* the length prefix */
#define FY_CTL_MAX_MSG (1u << 20)	 /* default message size limit */
#define FY_CTL_MAX_MSG_LIMIT (16u << 20) /* no configuration may exceed */
/* Default socket paths; the parent directory is created at start. */
#define FY_CTL_DEFAULT_DIR "/run/flowyard"
#define FY_CTL_COLLECTORD_SOCK FY_CTL_DEFAULT_DIR "/collectord.sock"
#define FY_CTL_EXPORTERD_SOCK FY_CTL_DEFAULT_DIR "/exporterd.sock"

/* Command numbers: the oneof case of Request.cmd (and of Response.result,
 * which uses the same numbers). Handler tables are indexed by these. */
enum fy_ctl_cmd {
	FY_CTL_CMD_NONE = FLOWYARD__CONTROL__REQUEST__CMD__NOT_SET,
	FY_CTL_CMD_STATUS = FLOWYARD__CONTROL__REQUEST__CMD_STATUS,
	FY_CTL_CMD_EXPORTERS = FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS,
	FY_CTL_CMD_TEMPLATES = FLOWYARD__CONTROL__REQUEST__CMD_TEMPLATES,
	FY_CTL_CMD_ROTATE = FLOWYARD__CONTROL__REQUEST__CMD_ROTATE,
	FY_CTL_CMD_RELOAD = FLOWYARD__CONTROL__REQUEST__CMD_RELOAD,
	FY_CTL_CMD_SET_LOG_LEVEL =
		FLOWYARD__CONTROL__REQUEST__CMD_SET_LOG_LEVEL,
	FY_CTL_CMD_DUMP_FLOWS = FLOWYARD__CONTROL__REQUEST__CMD_DUMP_FLOWS,
	FY_CTL_CMD_EXPIRE_ALL = FLOWYARD__CONTROL__REQUEST__CMD_EXPIRE_ALL,
	FY_CTL_CMD_SEND_TEMPLATES =
		FLOWYARD__CONTROL__REQUEST__CMD_SEND_TEMPLATES,
	/* One past the highest command: the size of handler tables. A unit
	 * test fails if a command is added to the .proto beyond it. */
	FY_CTL_NCMD = 19,
};

/* Error codes of Response.error (ErrorCode in the .proto). */
enum fy_ctl_err {
	FY_CTL_ERR_BAD_REQUEST =
		FLOWYARD__CONTROL__ERROR_CODE__ERROR_BAD_REQUEST,
	FY_CTL_ERR_TOO_LARGE = FLOWYARD__CONTROL__ERROR_CODE__ERROR_TOO_LARGE,
	FY_CTL_ERR_UNKNOWN_COMMAND =
		FLOWYARD__CONTROL__ERROR_CODE__ERROR_UNKNOWN_COMMAND,
	FY_CTL_ERR_NOT_SUPPORTED =
		FLOWYARD__CONTROL__ERROR_CODE__ERROR_NOT_SUPPORTED,
	FY_CTL_ERR_UNSUPPORTED_VERSION =
		FLOWYARD__CONTROL__ERROR_CODE__ERROR_UNSUPPORTED_VERSION,
	FY_CTL_ERR_PERMISSION_DENIED =
		FLOWYARD__CONTROL__ERROR_CODE__ERROR_PERMISSION_DENIED,
	FY_CTL_ERR_BUSY = FLOWYARD__CONTROL__ERROR_CODE__ERROR_BUSY,
	FY_CTL_ERR_INVALID_ARGUMENT =
		FLOWYARD__CONTROL__ERROR_CODE__ERROR_INVALID_ARGUMENT,
	FY_CTL_ERR_FAILED = FLOWYARD__CONTROL__ERROR_CODE__ERROR_FAILED,
	FY_CTL_ERR_INTERNAL = FLOWYARD__CONTROL__ERROR_CODE__ERROR_INTERNAL,
};

/* "status", "dump_flows", ... (the oneof field name); NULL if unknown. */
const char *fy_ctl_cmd_name(int cmd);
/* "bad request", "permission denied", ...; "error" if unknown, never NULL. */
const char *fy_ctl_err_name(int code);

/*
 * Log callback: `level` is a syslog level (FY_LOG_ERR ... FY_LOG_DEBUG of
 * log.h), `msg` one line without a newline, valid during the call only.
 */
typedef void (*fy_ctl_log_fn)(void *arg, int level, const char *msg);

/* ------------------------------------------------------------------------
 * Framing
 */

/*
 * Incremental frame decoder over a byte stream. It never holds more than
 * FY_CTL_HDR_LEN + max_msg bytes: a peer that pipelines faster than it is
 * served is held back by its own socket, not by our memory.
 */
struct fy_ctl_dec;

/* Returns NULL if out of memory. max_msg is capped at FY_CTL_MAX_MSG_LIMIT;
 * 0 means FY_CTL_MAX_MSG. The buffer grows on demand from 4 KiB. */
struct fy_ctl_dec *fy_ctl_dec_new(uint32_t max_msg);
void fy_ctl_dec_free(struct fy_ctl_dec *d);

/*
 * Zero-copy input: returns where up to *room bytes may be written (e.g. by
 * read(2)), then fy_ctl_dec_commit() says how many were. *room is 0 when
 * the buffer is full of complete frames that fy_ctl_dec_next() must take
 * first, or after an error; the pointer is then NULL. -ENOMEM is reported
 * as *room == 0 with fy_ctl_dec_next() returning -ENOMEM.
 */
uint8_t *fy_ctl_dec_space(struct fy_ctl_dec *d, size_t *room);
void fy_ctl_dec_commit(struct fy_ctl_dec *d, size_t n);

/* Copying input: takes as many of the n bytes as fit; returns how many. */
size_t fy_ctl_dec_feed(struct fy_ctl_dec *d, const void *data, size_t n);

/*
 * Takes the next complete message. Returns 1 and sets *msg / *len (the
 * protobuf bytes without the prefix; valid until the next call on `d`),
 * 0 if more bytes are needed, -EMSGSIZE if a frame announces more than
 * max_msg bytes (*len is set to the announced length), -ENOMEM. Errors are
 * sticky: the stream is out of sync and can only be closed.
 */
int fy_ctl_dec_next(struct fy_ctl_dec *d, const uint8_t **msg, size_t *len);

/* True if fy_ctl_dec_next() would return non-zero. */
bool fy_ctl_dec_ready(const struct fy_ctl_dec *d);

/* Bytes buffered and not yet taken (a partial frame, or frames waiting). */
size_t fy_ctl_dec_pending(const struct fy_ctl_dec *d);

/*
 * Frames `m`: returns FY_CTL_HDR_LEN + the packed size, or 0 if the packed
 * size exceeds `max_msg` (nothing is written). fy_ctl_frame_write() writes
 * exactly that many bytes to `dst` (which must hold them).
 */
size_t fy_ctl_frame_size(const ProtobufCMessage *m, uint32_t max_msg);
void fy_ctl_frame_write(const ProtobufCMessage *m, size_t frame_len,
			uint8_t *dst);

/*
 * Same, into a new buffer: *out (free() it) and *len. Returns 0, -EMSGSIZE
 * if over max_msg, -ENOMEM.
 */
int fy_ctl_frame_pack(const ProtobufCMessage *m, uint32_t max_msg,
		      uint8_t **out, size_t *len);

/*
 * Unpacks one message. Unpacking is held to a memory budget proportional
 * to the input, so a small hostile frame cannot make the daemon allocate
 * gigabytes. Returns 0 and sets *out (release with the matching _free),
 * or -EBADMSG if the bytes do not parse (or would need more memory than
 * the budget).
 */
int fy_ctl_request_unpack(const uint8_t *msg, size_t len,
			  Flowyard__Control__Request **out);
void fy_ctl_request_free(Flowyard__Control__Request *req);
int fy_ctl_response_unpack(const uint8_t *msg, size_t len,
			   Flowyard__Control__Response **out);
void fy_ctl_response_free(Flowyard__Control__Response *resp);

/*
 * Checks a parsed request against what this build speaks: returns 0, or a
 * FY_CTL_ERR_* (unsupported version, unknown command) with a message for
 * the client in `msg`.
 */
int fy_ctl_request_check(const Flowyard__Control__Request *req, char *msg,
			 size_t len);

/* ------------------------------------------------------------------------
 * Server
 */

struct fy_ctl_server;
/* One request being answered; owned by the server, passed to handlers. */
struct fy_ctl_reply;

/*
 * A command handler. It answers with fy_ctl_reply_part() (zero or more
 * times) and then fy_ctl_reply_end() or fy_ctl_reply_error(), and returns:
 *   0             done (the server sends an INTERNAL error if the handler
 *                 ended nothing: a bug, and logged as one);
 *   FY_CTL_AGAIN  more to send: the server calls it again, with the same
 *                 request and reply, once the client has taken what was
 *                 sent. It keeps its position in *fy_ctl_reply_cursor().
 *                 This is how a long reply is streamed without blocking
 *                 the loop or buffering it all: send what fits (a part
 *                 that does not fit returns -ENOBUFS), return
 *                 FY_CTL_AGAIN, continue from the cursor next time;
 *   < 0           -errno: failed; the client gets an INTERNAL error
 *                 naming it unless the handler already sent an error.
 * The handler runs in the event loop: it must not block. It may keep no
 * resource across calls other than the cursor, since the client may
 * disconnect between two calls (the request is then simply dropped).
 */
#define FY_CTL_AGAIN 1
typedef int (*fy_ctl_handler_fn)(void *arg,
				 const Flowyard__Control__Request *req,
				 struct fy_ctl_reply *reply);

struct fy_ctl_handler {
	fy_ctl_handler_fn fn; /* NULL: NOT_SUPPORTED by this daemon */
};

struct fy_ctl_server_cfg {
	const char *path;   /* socket path; its directories are created 0755 */
	const char *daemon; /* "collectord": names the daemon in messages */
	/* Group allowed besides root and the daemon's user, by name or
	 * number; the socket file gets it. NULL: no group. */
	const char *group;
	/* FY_CTL_NCMD entries indexed by enum fy_ctl_cmd, e.g.
	 *   static const struct fy_ctl_handler h[FY_CTL_NCMD] = {
	 *           [FY_CTL_CMD_STATUS] = {collector_status},
	 *   };
	 */
	const struct fy_ctl_handler *handlers;
	void *handler_arg;
	fy_ctl_log_fn log; /* may be NULL */
	void *log_arg;
	/* Limits; zero means the default. */
	uint32_t max_clients; /* 64 connected at once */
	uint32_t max_msg;     /* FY_CTL_MAX_MSG, either direction */
	uint32_t max_out;     /* bytes queued per client, and so produced
				 by one handler call: one maximal frame
				 (max_msg + 4), which is also the minimum */
	uint32_t timeout_ms;  /* 10000: a partial request, an unread reply
				 or an idle connection older than this is
				 dropped */
};

/* Counters of the server since it started. */
struct fy_ctl_stats {
	uint64_t connections;	      /* accepted and allowed */
	uint64_t refused_permission;  /* SO_PEERCRED check failed */
	uint64_t refused_busy;	      /* over max_clients */
	uint64_t bad_frames;	      /* oversized, unparsable, truncated */
	uint64_t timeouts;	      /* clients dropped for stalling */
	uint64_t write_errors;	      /* clients gone while being answered */
	uint64_t requests;	      /* valid requests dispatched */
	uint64_t by_cmd[FY_CTL_NCMD]; /* the same, per command */
	uint64_t errors;	      /* error replies sent, all causes */
	uint32_t clients;	      /* connected now */
	uint32_t clients_peak;
};

/*
 * Creates the socket at cfg->path and starts serving it in `loop`, from
 * which every later call on the server must be made. The parent directory is created if missing
 * (0755); a stale socket file is removed, but if a live daemon answers on
 * it the call fails with -EADDRINUSE; a path that exists and is not a
 * socket gives -EEXIST. The socket file gets mode 0660 and cfg->group
 * before it listens. Returns 0 and *out, or -errno (each failure is also
 * logged naming the path).
 */
int fy_ctl_server_new(struct ev_loop *loop, const struct fy_ctl_server_cfg *cfg,
		      struct fy_ctl_server **out);

/* Closes every client and the socket, and removes the socket file if it is
 * still the one this server created. NULL is fine. Not from a handler. */
void fy_ctl_server_free(struct fy_ctl_server *s);

void fy_ctl_server_stats(const struct fy_ctl_server *s,
			 struct fy_ctl_stats *st);

/* Fills the Status reply's ControlCounters from the stats. */
void fy_ctl_stats_to_proto(const struct fy_ctl_stats *st,
			   Flowyard__Control__ControlCounters *out);

/* Who asked: the peer's credentials when it connected. */
struct fy_ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

const struct fy_ctl_peer *fy_ctl_reply_peer(const struct fy_ctl_reply *r);

/* The handler's position in a streamed reply: 0 at the first call, then
 * whatever the handler stored. */
uint64_t *fy_ctl_reply_cursor(struct fy_ctl_reply *r);

/* Bytes a part may take now (its packed size) without -ENOBUFS. */
size_t fy_ctl_reply_room(const struct fy_ctl_reply *r);

/*
 * Queue one part of the reply. `resp` must carry the result of the
 * request's command (result_case equal to the request's cmd_case); the
 * server sets api_version and more. Returns 0; -ENOBUFS if it does not fit
 * in the client's output buffer now (nothing queued: return FY_CTL_AGAIN
 * and send it next time); -EMSGSIZE if it alone exceeds the message size
 * limit (send fewer items per part); -EINVAL if the result kind is wrong
 * or the reply has ended; -ENOMEM.
 */
int fy_ctl_reply_part(struct fy_ctl_reply *r,
		      Flowyard__Control__Response *resp);

/* The last part (more = false); same returns. */
int fy_ctl_reply_end(struct fy_ctl_reply *r, Flowyard__Control__Response *resp);

/* Ends the reply with an error (code: enum fy_ctl_err). The message is
 * truncated to fit; returns as fy_ctl_reply_end(). */
int fy_ctl_reply_error(struct fy_ctl_reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------
 * Client (blocking, for nfq)
 */

struct fy_ctl_client;

/* Called for every part of a reply, in order; `part` is valid during the
 * call only. A non-zero return stops the call, which returns it (the
 * connection is then unusable and must be closed). */
typedef int (*fy_ctl_part_fn)(void *arg,
			      const Flowyard__Control__Response *part);

/*
 * Connects to the daemon at `path`. `timeout_ms` (0: 5000) bounds the
 * connect and every later wait for the daemon. Returns 0 and *out, or
 * -errno with a message in `err` naming the path, e.g.
 * "cannot connect to /run/flowyard/collectord.sock: No such file or
 * directory (is collectord running?)".
 */
int fy_ctl_client_open(const char *path, int timeout_ms,
		       struct fy_ctl_client **out, char *err, size_t errlen);

/*
 * Sends `req` (api_version is set here) and passes every part of the reply
 * to `fn` until the one with more = false. Returns 0; -EREMOTEIO if the
 * daemon replied with an Error (its code from fy_ctl_client_remote_error,
 * its message in `err`); -ETIMEDOUT if the daemon stayed silent for the
 * timeout; -EPROTO for a reply that does not parse or does not match;
 * another -errno for a socket error; or what `fn` returned.
 */
int fy_ctl_client_call(struct fy_ctl_client *c, Flowyard__Control__Request *req,
		       fy_ctl_part_fn fn, void *arg, char *err, size_t errlen);

/* The code of the last Error reply (enum fy_ctl_err), 0 if none, -1 for
 * an Error without a code. */
int fy_ctl_client_remote_error(const struct fy_ctl_client *c);

void fy_ctl_client_close(struct fy_ctl_client *c);

/* open + call + close, for a one-shot command. *remote_error (may be NULL)
 * gets the daemon's error code, 0 if none. */
int fy_ctl_call(const char *path, int timeout_ms,
		Flowyard__Control__Request *req, fy_ctl_part_fn fn, void *arg,
		int *remote_error, char *err, size_t errlen);

#endif
