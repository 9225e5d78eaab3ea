/*
 * ctl_frame.c - control API framing: the incremental frame decoder, frame
 * packing, budgeted unpacking and request validation. No I/O here, so that
 * the fuzz target reaches every line the server uses on client bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/*
 * A command has one number in Request.cmd and Response.result: the server
 * checks a handler's reply against the request by that number alone.
 */
#define SAME_NUMBER(x)                                                         \
	_Static_assert((int)FLOWYARD__CONTROL__REQUEST__CMD_##x ==             \
			       (int)FLOWYARD__CONTROL__RESPONSE__RESULT_##x,   \
		       #x " has different numbers in Request and Response");   \
	_Static_assert((int)FLOWYARD__CONTROL__REQUEST__CMD_##x < FY_CTL_NCMD, \
		       #x " is beyond FY_CTL_NCMD")
SAME_NUMBER(STATUS);
SAME_NUMBER(EXPORTERS);
SAME_NUMBER(TEMPLATES);
SAME_NUMBER(ROTATE);
SAME_NUMBER(RELOAD);
SAME_NUMBER(SET_LOG_LEVEL);
SAME_NUMBER(DUMP_FLOWS);
SAME_NUMBER(EXPIRE_ALL);
SAME_NUMBER(SEND_TEMPLATES);

static const char *const cmd_names[FY_CTL_NCMD] = {
	[FY_CTL_CMD_STATUS] = "status",
	[FY_CTL_CMD_EXPORTERS] = "exporters",
	[FY_CTL_CMD_TEMPLATES] = "templates",
	[FY_CTL_CMD_ROTATE] = "rotate",
	[FY_CTL_CMD_RELOAD] = "reload",
	[FY_CTL_CMD_SET_LOG_LEVEL] = "set_log_level",
	[FY_CTL_CMD_DUMP_FLOWS] = "dump_flows",
	[FY_CTL_CMD_EXPIRE_ALL] = "expire_all",
	[FY_CTL_CMD_SEND_TEMPLATES] = "send_templates",
};

static const char *const err_names[] = {
	[FY_CTL_ERR_BAD_REQUEST] = "bad request",
	[FY_CTL_ERR_TOO_LARGE] = "message too large",
	[FY_CTL_ERR_UNKNOWN_COMMAND] = "unknown command",
	[FY_CTL_ERR_NOT_SUPPORTED] = "not supported",
	[FY_CTL_ERR_UNSUPPORTED_VERSION] = "unsupported API version",
	[FY_CTL_ERR_PERMISSION_DENIED] = "permission denied",
	[FY_CTL_ERR_BUSY] = "busy",
	[FY_CTL_ERR_INVALID_ARGUMENT] = "invalid argument",
	[FY_CTL_ERR_FAILED] = "failed",
	[FY_CTL_ERR_INTERNAL] = "internal error",
};

const char *fy_ctl_cmd_name(int cmd)
{
	if (cmd <= 0 || cmd >= FY_CTL_NCMD)
		return NULL;
	return cmd_names[cmd];
}

const char *fy_ctl_err_name(int code)
{
	size_t n = sizeof(err_names) / sizeof(err_names[0]);

	if (code <= 0 || (size_t)code >= n || err_names[code] == NULL)
		return "error";
	return err_names[code];
}

/* ------------------------------------------------------------------------
 * Decoder
 */

#define DEC_INITIAL 4096

struct fy_ctl_dec {
	uint8_t *buf;
	size_t cap;
	size_t off;   /* first byte not yet taken */
	size_t len;   /* end of the bytes held */
	size_t bound; /* FY_CTL_HDR_LEN + max_msg: never hold more */
	uint32_t max_msg;
	int err;	/* sticky: -EMSGSIZE or -ENOMEM */
	size_t bad_len; /* the announced length behind -EMSGSIZE */
};

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

struct fy_ctl_dec *fy_ctl_dec_new(uint32_t max_msg)
{
	struct fy_ctl_dec *d;

	if (max_msg == 0)
		max_msg = FY_CTL_MAX_MSG;
	if (max_msg > FY_CTL_MAX_MSG_LIMIT)
		max_msg = FY_CTL_MAX_MSG_LIMIT;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	d->max_msg = max_msg;
	d->bound = FY_CTL_HDR_LEN + (size_t)max_msg;
	return d;
}

void fy_ctl_dec_free(struct fy_ctl_dec *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	free(d);
}

uint8_t *fy_ctl_dec_space(struct fy_ctl_dec *d, size_t *room)
{
	size_t held = d->len - d->off;

	*room = 0;
	if (d->err)
		return NULL;
	/* Taken frames are gone: move the rest (a partial frame, usually a
	 * few bytes) to the front so the bound counts only what is held. */
	if (d->off > 0) {
		memmove(d->buf, d->buf + d->off, held);
		d->off = 0;
		d->len = held;
	}
	if (d->len == d->cap && d->cap < d->bound) {
		size_t cap = d->cap ? d->cap * 2 : DEC_INITIAL;
		uint8_t *p;

		if (cap > d->bound)
			cap = d->bound;
		p = realloc(d->buf, cap);
		if (p == NULL) {
			d->err = -ENOMEM;
			return NULL;
		}
		d->buf = p;
		d->cap = cap;
	}
	*room = d->cap - d->len;
	return *room ? d->buf + d->len : NULL;
}

void fy_ctl_dec_commit(struct fy_ctl_dec *d, size_t n)
{
	/* A caller can only commit what fy_ctl_dec_space() offered. */
	if (n > d->cap - d->len)
		n = d->cap - d->len;
	d->len += n;
}

size_t fy_ctl_dec_feed(struct fy_ctl_dec *d, const void *data, size_t n)
{
	const uint8_t *src = data;
	size_t taken = 0;

	while (taken < n) {
		size_t room, k;
		uint8_t *p = fy_ctl_dec_space(d, &room);

		if (p == NULL)
			break;
		k = n - taken < room ? n - taken : room;
		memcpy(p, src + taken, k);
		fy_ctl_dec_commit(d, k);
		taken += k;
	}
	return taken;
}

int fy_ctl_dec_next(struct fy_ctl_dec *d, const uint8_t **msg, size_t *len)
{
	size_t held = d->len - d->off;
	uint32_t n;

	*msg = NULL;
	*len = 0;
	if (d->err) {
		if (d->err == -EMSGSIZE)
			*len = d->bad_len;
		return d->err;
	}
	if (held < FY_CTL_HDR_LEN)
		return 0;
	n = get_be32(d->buf + d->off);
	if (n > d->max_msg) {
		/* Checked on the header alone: an oversized frame is refused
		 * before a byte of it is buffered. */
		d->err = -EMSGSIZE;
		d->bad_len = n;
		*len = n;
		return d->err;
	}
	if (held - FY_CTL_HDR_LEN < n)
		return 0;
	*msg = d->buf + d->off + FY_CTL_HDR_LEN;
	*len = n;
	d->off += FY_CTL_HDR_LEN + n;
	return 1;
}

bool fy_ctl_dec_ready(const struct fy_ctl_dec *d)
{
	size_t held = d->len - d->off;
	uint32_t n;

	if (d->err)
		return true;
	if (held < FY_CTL_HDR_LEN)
		return false;
	n = get_be32(d->buf + d->off);
	return n > d->max_msg || held - FY_CTL_HDR_LEN >= n;
}

size_t fy_ctl_dec_pending(const struct fy_ctl_dec *d)
{
	return d->len - d->off;
}

/* ------------------------------------------------------------------------
 * Packing
 */

size_t fy_ctl_frame_size(const ProtobufCMessage *m, uint32_t max_msg)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	if (max_msg == 0)
		max_msg = FY_CTL_MAX_MSG;
	if (n > max_msg)
		return 0;
	return FY_CTL_HDR_LEN + n;
}

void fy_ctl_frame_write(const ProtobufCMessage *m, size_t frame_len,
			uint8_t *dst)
{
	put_be32(dst, (uint32_t)(frame_len - FY_CTL_HDR_LEN));
	protobuf_c_message_pack(m, dst + FY_CTL_HDR_LEN);
}

int fy_ctl_frame_pack(const ProtobufCMessage *m, uint32_t max_msg,
		      uint8_t **out, size_t *len)
{
	size_t n = fy_ctl_frame_size(m, max_msg);
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (n == 0)
		return -EMSGSIZE;
	buf = malloc(n);
	if (buf == NULL)
		return -ENOMEM;
	fy_ctl_frame_write(m, n, buf);
	*out = buf;
	*len = n;
	return 0;
}

/* ------------------------------------------------------------------------
 * Unpacking under a memory budget
 *
 * protobuf-c allocates a struct per submessage and per unknown field, so a
 * frame of tiny fields unpacks to many times its size. The budget caps the
 * total asked for during one unpack; past it the allocation fails and the
 * unpack fails cleanly. The memory is plain malloc, released later through
 * the default allocator.
 */

struct budget {
	size_t left;
};

static void *budget_alloc(void *data, size_t size)
{
	struct budget *b = data;

	if (size > b->left)
		return NULL;
	b->left -= size;
	return malloc(size);
}

static void budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

/* A request is a few small messages: 4x its size is plenty. Replies carry
 * repeated messages (flows) that legitimately unpack to ~8x. */
#define REQUEST_BUDGET(len) (4 * (len) + 65536)
#define RESPONSE_BUDGET(len) (32 * (len) + 65536)

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc,
				const uint8_t *msg, size_t len, size_t budget)
{
	struct budget b = {budget};
	ProtobufCAllocator a = {budget_alloc, budget_free, &b};

	return protobuf_c_message_unpack(desc, &a, len, msg);
}

int fy_ctl_request_unpack(const uint8_t *msg, size_t len,
			  Flowyard__Control__Request **out)
{
	ProtobufCMessage *m;

	*out = NULL;
	if (len > FY_CTL_MAX_MSG_LIMIT)
		return -EBADMSG;
	m = unpack(&flowyard__control__request__descriptor, msg, len,
		   REQUEST_BUDGET(len));
	if (m == NULL)
		return -EBADMSG;
	*out = (Flowyard__Control__Request *)m;
	return 0;
}

void fy_ctl_request_free(Flowyard__Control__Request *req)
{
	if (req != NULL)
		protobuf_c_message_free_unpacked(&req->base, NULL);
}

int fy_ctl_response_unpack(const uint8_t *msg, size_t len,
			   Flowyard__Control__Response **out)
{
	ProtobufCMessage *m;

	*out = NULL;
	if (len > FY_CTL_MAX_MSG_LIMIT)
		return -EBADMSG;
	m = unpack(&flowyard__control__response__descriptor, msg, len,
		   RESPONSE_BUDGET(len));
	if (m == NULL)
		return -EBADMSG;
	*out = (Flowyard__Control__Response *)m;
	return 0;
}

void fy_ctl_response_free(Flowyard__Control__Response *resp)
{
	if (resp != NULL)
		protobuf_c_message_free_unpacked(&resp->base, NULL);
}

int fy_ctl_request_check(const Flowyard__Control__Request *req, char *msg,
			 size_t len)
{
	if (req->api_version != FY_CTL_API_VERSION) {
		snprintf(msg, len,
			 "control API version %u is not spoken here (version "
			 "%d is; a request without api_version is version 0)",
			 req->api_version, FY_CTL_API_VERSION);
		return FY_CTL_ERR_UNSUPPORTED_VERSION;
	}
	if (fy_ctl_cmd_name(req->cmd_case) == NULL) {
		/* protobuf-c leaves the case unset for a command number it
		 * does not know: a newer client talking to an older daemon. */
		snprintf(msg, len,
			 "no command, or a command newer than this daemon's "
			 "control API");
		return FY_CTL_ERR_UNKNOWN_COMMAND;
	}
	return 0;
}
