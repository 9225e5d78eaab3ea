/*
 * Unit tests of the control socket: framing (round trips, byte-by-byte
 * input, oversized and garbage frames, the bounded buffer, the unpack
 * budget), and a real server in a libev loop on its own thread, on a real
 * Unix socket under a temporary directory: replies, streamed replies with
 * back-pressure, 50 concurrent clients, stalled clients that must not
 * delay others, garbage on the wire, the client cap, the socket file (mode,
 * group, stale and live sockets) and the peer credential check, with
 * clients forked to run as `nobody`.
 *
 * cmocka asserts only on the main thread: the server thread and client
 * threads record what they saw and the main thread checks it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ctl.h"
#include "log.h"

#define TEST_GID 4242 /* socket group in the permission test */
#define NOBODY 65534

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	poll(NULL, 0, ms);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* ------------------------------------------------------------------------
 * Requests
 */

struct req_buf {
	Flowyard__Control__Request req;
	Flowyard__Control__StatusRequest status;
	Flowyard__Control__DumpFlowsRequest dump;
	Flowyard__Control__TemplatesRequest templates;
	Flowyard__Control__RotateRequest rotate;
	Flowyard__Control__ReloadRequest reload;
	Flowyard__Control__SetLogLevelRequest loglevel;
	Flowyard__Control__ExportersRequest exporters;
	Flowyard__Control__ExpireAllRequest expire;
	Flowyard__Control__SendTemplatesRequest sendt;
};

/* A request for `cmd`; dump_flows asks for `n` flows. */
static Flowyard__Control__Request *mkreq(struct req_buf *b, int cmd, uint64_t n)
{
	static const Flowyard__Control__Request ri =
		FLOWYARD__CONTROL__REQUEST__INIT;
	static const Flowyard__Control__StatusRequest si =
		FLOWYARD__CONTROL__STATUS_REQUEST__INIT;
	static const Flowyard__Control__DumpFlowsRequest di =
		FLOWYARD__CONTROL__DUMP_FLOWS_REQUEST__INIT;
	static const Flowyard__Control__TemplatesRequest ti =
		FLOWYARD__CONTROL__TEMPLATES_REQUEST__INIT;
	static const Flowyard__Control__RotateRequest roi =
		FLOWYARD__CONTROL__ROTATE_REQUEST__INIT;
	static const Flowyard__Control__ReloadRequest rei =
		FLOWYARD__CONTROL__RELOAD_REQUEST__INIT;
	static const Flowyard__Control__SetLogLevelRequest li =
		FLOWYARD__CONTROL__SET_LOG_LEVEL_REQUEST__INIT;
	static const Flowyard__Control__ExportersRequest ei =
		FLOWYARD__CONTROL__EXPORTERS_REQUEST__INIT;
	static const Flowyard__Control__ExpireAllRequest xi =
		FLOWYARD__CONTROL__EXPIRE_ALL_REQUEST__INIT;
	static const Flowyard__Control__SendTemplatesRequest sti =
		FLOWYARD__CONTROL__SEND_TEMPLATES_REQUEST__INIT;

	b->req = ri;
	b->req.api_version = FY_CTL_API_VERSION;
	b->req.cmd_case = (Flowyard__Control__Request__CmdCase)cmd;
	switch (cmd) {
	case FY_CTL_CMD_STATUS:
		b->status = si;
		b->req.status = &b->status;
		break;
	case FY_CTL_CMD_DUMP_FLOWS:
		b->dump = di;
		b->dump.max_flows = n;
		b->req.dump_flows = &b->dump;
		break;
	case FY_CTL_CMD_TEMPLATES:
		b->templates = ti;
		b->req.templates = &b->templates;
		break;
	case FY_CTL_CMD_ROTATE:
		b->rotate = roi;
		b->req.rotate = &b->rotate;
		break;
	case FY_CTL_CMD_RELOAD:
		b->reload = rei;
		b->req.reload = &b->reload;
		break;
	case FY_CTL_CMD_SET_LOG_LEVEL:
		b->loglevel = li;
		b->loglevel.level = "debug";
		b->req.set_log_level = &b->loglevel;
		break;
	case FY_CTL_CMD_EXPORTERS:
		b->exporters = ei;
		b->req.exporters = &b->exporters;
		break;
	case FY_CTL_CMD_EXPIRE_ALL:
		b->expire = xi;
		b->req.expire_all = &b->expire;
		break;
	case FY_CTL_CMD_SEND_TEMPLATES:
		b->sendt = sti;
		b->req.send_templates = &b->sendt;
		break;
	}
	return &b->req;
}

/* ------------------------------------------------------------------------
 * Framing
 */

static void test_frame_roundtrip(void **state)
{
	struct req_buf b;
	Flowyard__Control__Request *req = mkreq(&b, FY_CTL_CMD_DUMP_FLOWS, 0);
	Flowyard__Control__Request *got = NULL;
	struct fy_ctl_dec *d = fy_ctl_dec_new(0);
	const uint8_t *msg;
	uint8_t *buf = NULL;
	size_t len, n, packed;
	char why[128];

	(void)state;
	b.dump.filter = "proto tcp and port 443";
	b.dump.max_flows = 12345;
	packed = protobuf_c_message_get_packed_size(&req->base);
	assert_int_equal(fy_ctl_frame_pack(&req->base, 0, &buf, &len), 0);
	assert_int_equal(len, packed + FY_CTL_HDR_LEN);
	assert_int_equal(be32(buf), packed);
	assert_int_equal(fy_ctl_frame_size(&req->base, 0), len);

	assert_non_null(d);
	assert_int_equal(fy_ctl_dec_feed(d, buf, len), len);
	assert_true(fy_ctl_dec_ready(d));
	assert_int_equal(fy_ctl_dec_next(d, &msg, &n), 1);
	assert_int_equal(n, packed);
	assert_memory_equal(msg, buf + FY_CTL_HDR_LEN, n);
	assert_int_equal(fy_ctl_request_unpack(msg, n, &got), 0);
	assert_int_equal(got->api_version, FY_CTL_API_VERSION);
	assert_int_equal(got->cmd_case, FY_CTL_CMD_DUMP_FLOWS);
	assert_string_equal(got->dump_flows->filter, "proto tcp and port 443");
	assert_int_equal(got->dump_flows->max_flows, 12345);
	assert_int_equal(fy_ctl_request_check(got, why, sizeof(why)), 0);
	assert_false(fy_ctl_dec_ready(d));
	assert_int_equal(fy_ctl_dec_next(d, &msg, &n), 0);
	assert_int_equal(fy_ctl_dec_pending(d), 0);

	fy_ctl_request_free(got);
	fy_ctl_dec_free(d);
	free(buf);
}

/* Three frames (one empty, one past the decoder's first 4 KiB buffer)
 * fed one byte at a time: each comes out exactly at its last byte. */
static void test_frame_byte_by_byte(void **state)
{
	struct req_buf b1, b2;
	char *filter = malloc(5001);
	uint8_t *f1, *f3, stream[8192];
	size_t l1, l3, total, i, ends[3], lens[3], nfound = 0;
	struct fy_ctl_dec *d = fy_ctl_dec_new(0);

	(void)state;
	assert_non_null(filter);
	memset(filter, 'x', 5000);
	filter[5000] = '\0';
	mkreq(&b1, FY_CTL_CMD_STATUS, 0);
	mkreq(&b2, FY_CTL_CMD_DUMP_FLOWS, 7);
	b2.dump.filter = filter;
	assert_int_equal(fy_ctl_frame_pack(&b1.req.base, 0, &f1, &l1), 0);
	assert_int_equal(fy_ctl_frame_pack(&b2.req.base, 0, &f3, &l3), 0);
	assert_true(l3 > 5000);
	total = l1 + 4 + l3;
	assert_true(total <= sizeof(stream));
	memcpy(stream, f1, l1);
	memset(stream + l1, 0, 4); /* a zero-length frame */
	memcpy(stream + l1 + 4, f3, l3);
	ends[0] = l1;
	ends[1] = l1 + 4;
	ends[2] = total;
	lens[0] = l1 - 4;
	lens[1] = 0;
	lens[2] = l3 - 4;

	for (i = 0; i < total; i++) {
		const uint8_t *msg;
		size_t n;
		int r;

		assert_int_equal(fy_ctl_dec_feed(d, stream + i, 1), 1);
		r = fy_ctl_dec_next(d, &msg, &n);
		if (r == 0)
			continue;
		assert_int_equal(r, 1);
		assert_true(nfound < 3);
		assert_int_equal(i + 1, ends[nfound]);
		assert_int_equal(n, lens[nfound]);
		assert_memory_equal(msg, stream + ends[nfound] - n, n);
		nfound++;
		assert_int_equal(fy_ctl_dec_next(d, &msg, &n), 0);
	}
	assert_int_equal(nfound, 3);
	assert_int_equal(fy_ctl_dec_pending(d), 0);
	fy_ctl_dec_free(d);
	free(f1);
	free(f3);
	free(filter);
}

static void test_frame_oversized(void **state)
{
	uint8_t hdr[4] = {0, 0, 0, 101}, ok[104] = {0, 0, 0, 100};
	struct fy_ctl_dec *d = fy_ctl_dec_new(100);
	struct fy_ctl_dec *d2 = fy_ctl_dec_new(100);
	struct req_buf b;
	const uint8_t *msg;
	uint8_t *buf;
	size_t n, room;

	(void)state;
	assert_int_equal(fy_ctl_dec_feed(d, hdr, 4), 4);
	assert_true(fy_ctl_dec_ready(d));
	assert_int_equal(fy_ctl_dec_next(d, &msg, &n), -EMSGSIZE);
	assert_int_equal(n, 101);
	/* sticky: the stream is out of sync for good */
	assert_int_equal(fy_ctl_dec_next(d, &msg, &n), -EMSGSIZE);
	assert_null(fy_ctl_dec_space(d, &room));
	assert_int_equal(room, 0);
	assert_int_equal(fy_ctl_dec_feed(d, ok, sizeof(ok)), 0);

	/* exactly the limit is fine */
	assert_int_equal(fy_ctl_dec_feed(d2, ok, sizeof(ok)), sizeof(ok));
	assert_int_equal(fy_ctl_dec_next(d2, &msg, &n), 1);
	assert_int_equal(n, 100);

	/* and the packer refuses what the decoder would */
	mkreq(&b, FY_CTL_CMD_DUMP_FLOWS, 0);
	b.dump.filter = "a filter longer than ten bytes";
	assert_int_equal(fy_ctl_frame_size(&b.req.base, 10), 0);
	assert_int_equal(fy_ctl_frame_pack(&b.req.base, 10, &buf, &n),
			 -EMSGSIZE);
	assert_null(buf);
	fy_ctl_dec_free(d);
	fy_ctl_dec_free(d2);
}

/* A peer pipelining faster than it is served: the decoder never holds
 * more than one maximal frame, and nothing is lost. */
static void test_frame_bounded(void **state)
{
	struct fy_ctl_dec *d = fy_ctl_dec_new(16);
	uint8_t stream[200 * 10];
	size_t i, fed = 0, frames = 0, max_pending = 0, first_take;

	(void)state;
	for (i = 0; i < 200; i++) {
		uint8_t *f = stream + i * 10;

		f[0] = f[1] = f[2] = 0;
		f[3] = 6;
		memset(f + 4, (int)i, 6);
	}
	first_take = fy_ctl_dec_feed(d, stream, sizeof(stream));
	fed = first_take;
	assert_true(first_take <= 20);
	for (;;) {
		const uint8_t *msg;
		size_t n;

		if (fy_ctl_dec_pending(d) > max_pending)
			max_pending = fy_ctl_dec_pending(d);
		while (fy_ctl_dec_next(d, &msg, &n) == 1) {
			assert_int_equal(n, 6);
			assert_int_equal(msg[0], (uint8_t)frames);
			frames++;
		}
		if (fed == sizeof(stream))
			break;
		fed += fy_ctl_dec_feed(d, stream + fed, sizeof(stream) - fed);
	}
	assert_int_equal(frames, 200);
	assert_true(max_pending <= 20);
	fy_ctl_dec_free(d);
}

static void test_unpack_garbage(void **state)
{
	static const uint8_t bad_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t short_len[] = {0x52, 0x05, 0x01};
	static const uint8_t bad_wire[] = {0x0f, 0x00};
	static const uint8_t unknown[] = {0x08, 0x01, 0xf8, 0x06, 0x01};
	static const uint8_t v2[] = {0x08, 0x02, 0x52, 0x00};
	static const uint8_t v1[] = {0x08, 0x01, 0x52, 0x00};
	Flowyard__Control__Request *req = NULL;
	Flowyard__Control__Response *resp = NULL;
	char why[256];
	unsigned i, failed = 0;

	(void)state;
	assert_int_equal(fy_ctl_request_unpack(bad_varint, sizeof(bad_varint),
					       &req),
			 -EBADMSG);
	assert_null(req);
	assert_int_equal(fy_ctl_request_unpack(short_len, sizeof(short_len),
					       &req),
			 -EBADMSG);
	assert_int_equal(fy_ctl_request_unpack(bad_wire, sizeof(bad_wire),
					       &req),
			 -EBADMSG);
	assert_int_equal(fy_ctl_response_unpack(short_len, sizeof(short_len),
						&resp),
			 -EBADMSG);

	/* A command this build does not know parses, and is refused. */
	assert_int_equal(fy_ctl_request_unpack(unknown, sizeof(unknown), &req),
			 0);
	assert_int_equal(req->cmd_case, FY_CTL_CMD_NONE);
	assert_int_equal(fy_ctl_request_check(req, why, sizeof(why)),
			 FY_CTL_ERR_UNKNOWN_COMMAND);
	fy_ctl_request_free(req);

	assert_int_equal(fy_ctl_request_unpack(v2, sizeof(v2), &req), 0);
	assert_int_equal(fy_ctl_request_check(req, why, sizeof(why)),
			 FY_CTL_ERR_UNSUPPORTED_VERSION);
	assert_non_null(strstr(why, "version 2"));
	fy_ctl_request_free(req);
	assert_int_equal(fy_ctl_request_unpack(v1, sizeof(v1), &req), 0);
	assert_int_equal(req->cmd_case, FY_CTL_CMD_STATUS);
	assert_int_equal(fy_ctl_request_check(req, why, sizeof(why)), 0);
	fy_ctl_request_free(req);

	/* Random bytes: never a crash (ASan watches), mostly refused. */
	srand(7);
	for (i = 0; i < 5000; i++) {
		uint8_t buf[64];
		size_t n = (size_t)rand() % sizeof(buf), k;

		for (k = 0; k < n; k++)
			buf[k] = (uint8_t)rand();
		if (fy_ctl_request_unpack(buf, n, &req) < 0) {
			failed++;
			continue;
		}
		fy_ctl_request_check(req, why, sizeof(why));
		fy_ctl_request_free(req);
	}
	assert_true(failed > 2500);
}

/* 256 KiB of 3-byte unknown fields unpack to ~13x their size; a request
 * must not make the daemon allocate that. A few unknown fields are fine. */
static void test_unpack_budget(void **state)
{
	size_t n = 256 * 1024, i;
	uint8_t *buf = malloc(n);
	Flowyard__Control__Request *req = NULL;

	(void)state;
	assert_non_null(buf);
	buf[0] = 0x08;
	buf[1] = 0x01;
	for (i = 2; i + 3 <= n; i += 3) {
		buf[i] = 0xf8;
		buf[i + 1] = 0x06;
		buf[i + 2] = 0x01;
	}
	assert_int_equal(fy_ctl_request_unpack(buf, i, &req), -EBADMSG);
	assert_null(req);
	assert_int_equal(fy_ctl_request_unpack(buf, 2 + 3 * 100, &req), 0);
	assert_int_equal(req->api_version, 1);
	assert_int_equal(req->base.n_unknown_fields, 100);
	fy_ctl_request_free(req);
	free(buf);
}

/* Every command of the .proto has a name, fits the handler tables and has
 * the same number and name in Request.cmd and Response.result. */
static void test_command_table(void **state)
{
	const ProtobufCMessageDescriptor *rq =
		&flowyard__control__request__descriptor;
	const ProtobufCMessageDescriptor *rs =
		&flowyard__control__response__descriptor;
	unsigned i, commands = 0;

	(void)state;
	for (i = 0; i < rq->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &rq->fields[i];
		const ProtobufCFieldDescriptor *g;

		if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			continue;
		commands++;
		assert_true(f->id < FY_CTL_NCMD);
		assert_non_null(fy_ctl_cmd_name((int)f->id));
		assert_string_equal(fy_ctl_cmd_name((int)f->id), f->name);
		g = protobuf_c_message_descriptor_get_field(rs, f->id);
		assert_non_null(g);
		assert_string_equal(g->name, f->name);
	}
	assert_int_equal(commands, 9);
	assert_null(fy_ctl_cmd_name(0));
	assert_null(fy_ctl_cmd_name(FY_CTL_NCMD));
	assert_string_equal(fy_ctl_err_name(FY_CTL_ERR_PERMISSION_DENIED),
			    "permission denied");
}

/* ------------------------------------------------------------------------
 * Server harness: a libev loop on a thread
 */

struct harness {
	char dir[64];
	char path[160];
	struct ev_loop *loop;
	ev_async stop;
	pthread_t th;
	struct fy_ctl_server *srv;
	struct fy_ctl_stats st; /* taken after the loop stopped */
	pthread_mutex_t mu;
	char log[32768];
	size_t loglen;
};

static void test_log(void *arg, int level, const char *msg)
{
	struct harness *h = arg;
	int n;

	pthread_mutex_lock(&h->mu);
	n = snprintf(h->log + h->loglen, sizeof(h->log) - h->loglen, "%d %s\n",
		     level, msg);
	if (n > 0 && (size_t)n < sizeof(h->log) - h->loglen)
		h->loglen += (size_t)n;
	pthread_mutex_unlock(&h->mu);
}

static bool log_has(struct harness *h, const char *s)
{
	bool r;

	pthread_mutex_lock(&h->mu);
	r = strstr(h->log, s) != NULL;
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* What handlers observed, checked by the main thread afterwards. */
static atomic_uint again_returns;
static atomic_int wrong_case_rc;
static atomic_int oversized_part_rc;

#define FLOWS_PER_PART 100

static int h_status(void *arg, const Flowyard__Control__Request *req,
		    struct fy_ctl_reply *r)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__StatusReply st =
		FLOWYARD__CONTROL__STATUS_REPLY__INIT;
	Flowyard__Control__CollectorStatus cs =
		FLOWYARD__CONTROL__COLLECTOR_STATUS__INIT;
	Flowyard__Control__CollectorTotals tot =
		FLOWYARD__CONTROL__COLLECTOR_TOTALS__INIT;
	Flowyard__Control__Listener l1 = FLOWYARD__CONTROL__LISTENER__INIT;
	Flowyard__Control__Listener l2 = FLOWYARD__CONTROL__LISTENER__INIT;
	Flowyard__Control__Listener *ls[2] = {&l1, &l2};

	(void)arg;
	(void)req;
	st.daemon = FLOWYARD__CONTROL__DAEMON__DAEMON_COLLECTORD;
	st.version = "flowyard-test 1";
	st.pid = (uint32_t)getpid();
	st.uptime_ms = 4242;
	l1.port = 9995;
	l1.bind = "0.0.0.0";
	l1.identifier = "edge1";
	l1.tree = "/srv/flows/edge1";
	l2.port = 2055;
	l2.identifier = "core";
	l2.tree = "/srv/flows/core";
	tot.packets = 1000;
	tot.flows = 30000;
	cs.n_listeners = 2;
	cs.listeners = ls;
	cs.totals = &tot;
	cs.kernel_drops = 7;
	st.detail_case = FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_COLLECTOR;
	st.collector = &cs;
	st.log_level = fy_ctl_reply_peer(r)->uid == 0 ? "root" : "other";
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS;
	resp.status = &st;
	return fy_ctl_reply_end(r, &resp);
}

/* Streams max_flows flows, FLOWS_PER_PART per part, as many parts per
 * call as the output buffer takes; flow i has packets = i. */
static int h_dump(void *arg, const Flowyard__Control__Request *req,
		  struct fy_ctl_reply *r)
{
	uint64_t total = req->dump_flows->max_flows;
	uint64_t *cur = fy_ctl_reply_cursor(r);
	Flowyard__Control__Flow flows[FLOWS_PER_PART], *fp[FLOWS_PER_PART];
	uint8_t addr[FLOWS_PER_PART][4];

	(void)arg;
	do {
		Flowyard__Control__Response resp =
			FLOWYARD__CONTROL__RESPONSE__INIT;
		Flowyard__Control__DumpFlowsReply d =
			FLOWYARD__CONTROL__DUMP_FLOWS_REPLY__INIT;
		uint64_t n = total - *cur, i;
		bool last;
		int rc;

		if (n > FLOWS_PER_PART)
			n = FLOWS_PER_PART;
		last = *cur + n == total;
		for (i = 0; i < n; i++) {
			uint64_t k = *cur + i;
			Flowyard__Control__Flow f =
				FLOWYARD__CONTROL__FLOW__INIT;

			f.packets = k;
			f.bytes = k * 100;
			f.first_ms = 1700000000000ull + k;
			f.proto = 6;
			addr[i][0] = 10;
			addr[i][1] = (uint8_t)(k >> 16);
			addr[i][2] = (uint8_t)(k >> 8);
			addr[i][3] = (uint8_t)k;
			f.src_addr.data = addr[i];
			f.src_addr.len = 4;
			flows[i] = f;
			fp[i] = &flows[i];
		}
		d.n_flows = n;
		d.flows = fp;
		if (last)
			d.matched = total;
		resp.result_case =
			FLOWYARD__CONTROL__RESPONSE__RESULT_DUMP_FLOWS;
		resp.dump_flows = &d;
		rc = last ? fy_ctl_reply_end(r, &resp)
			  : fy_ctl_reply_part(r, &resp);
		if (rc == -ENOBUFS) {
			atomic_fetch_add(&again_returns, 1);
			return FY_CTL_AGAIN;
		}
		if (rc < 0)
			return rc;
		*cur += n;
	} while (*cur < total);
	return 0;
}

/* Sends a part of the wrong kind first (refused), then the right one. */
static int h_exporters(void *arg, const Flowyard__Control__Request *req,
		       struct fy_ctl_reply *r)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__ExportersReply e =
		FLOWYARD__CONTROL__EXPORTERS_REPLY__INIT;
	Flowyard__Control__ExpireAllReply x =
		FLOWYARD__CONTROL__EXPIRE_ALL_REPLY__INIT;

	(void)arg;
	(void)req;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_EXPIRE_ALL;
	resp.expire_all = &x;
	atomic_store(&wrong_case_rc, fy_ctl_reply_end(r, &resp));
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_EXPORTERS;
	resp.exporters = &e;
	return fy_ctl_reply_end(r, &resp);
}

/* A part over max_msg (refused), then a small one. */
static int h_send_templates(void *arg, const Flowyard__Control__Request *req,
			    struct fy_ctl_reply *r)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__SendTemplatesReply s =
		FLOWYARD__CONTROL__SEND_TEMPLATES_REPLY__INIT;
	Flowyard__Control__SendTemplatesReply pad;
	ProtobufCMessageUnknownField uf;

	(void)arg;
	(void)req;
	s.destinations = 2;
	s.templates = 3;
	/* the right kind, made 2 MiB large by an unknown field */
	memset(&uf, 0, sizeof(uf));
	uf.tag = 100;
	uf.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
	uf.len = 2u << 20;
	uf.data = calloc(1, uf.len);
	if (uf.data == NULL)
		return -ENOMEM;
	pad = s;
	pad.base.n_unknown_fields = 1;
	pad.base.unknown_fields = &uf;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_SEND_TEMPLATES;
	resp.send_templates = &pad;
	atomic_store(&oversized_part_rc, fy_ctl_reply_part(r, &resp));
	free(uf.data);
	resp.send_templates = &s;
	return fy_ctl_reply_end(r, &resp);
}

static int h_rotate(void *arg, const Flowyard__Control__Request *req,
		    struct fy_ctl_reply *r)
{
	(void)arg;
	(void)req;
	fy_ctl_reply_error(r, FY_CTL_ERR_FAILED, "cannot rename %s: %s",
			   "/srv/flows/edge1/nfcapd.current",
			   "Read-only file system");
	return 0;
}

static int h_no_reply(void *arg, const Flowyard__Control__Request *req,
		      struct fy_ctl_reply *r)
{
	(void)arg;
	(void)req;
	(void)r;
	return 0;
}

static int h_eio(void *arg, const Flowyard__Control__Request *req,
		 struct fy_ctl_reply *r)
{
	(void)arg;
	(void)req;
	(void)r;
	return -EIO;
}

static int h_no_progress(void *arg, const Flowyard__Control__Request *req,
			 struct fy_ctl_reply *r)
{
	(void)arg;
	(void)req;
	(void)r;
	return FY_CTL_AGAIN;
}

static const struct fy_ctl_handler handlers[FY_CTL_NCMD] = {
	[FY_CTL_CMD_STATUS] = {h_status},
	[FY_CTL_CMD_DUMP_FLOWS] = {h_dump},
	[FY_CTL_CMD_EXPORTERS] = {h_exporters},
	[FY_CTL_CMD_SEND_TEMPLATES] = {h_send_templates},
	[FY_CTL_CMD_ROTATE] = {h_rotate},
	[FY_CTL_CMD_SET_LOG_LEVEL] = {h_no_reply},
	[FY_CTL_CMD_RELOAD] = {h_eio},
	[FY_CTL_CMD_EXPIRE_ALL] = {h_no_progress},
	/* templates: not served, on purpose */
};

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *loop_thread(void *arg)
{
	struct harness *h = arg;

	ev_run(h->loop, 0);
	return NULL;
}

static void h_init(struct harness *h, const char *sockname)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	strcpy(h->dir, "/tmp/fyctl.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	/* nobody must be able to reach the socket in the permission test */
	assert_int_equal(chmod(h->dir, 0755), 0);
	snprintf(h->path, sizeof(h->path), "%s/%s", h->dir, sockname);
	h->loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(h->loop);
}

/* Creates the server with `cfg` (path, log, handlers filled in here). */
static int h_server(struct harness *h, struct fy_ctl_server_cfg *cfg)
{
	cfg->path = h->path;
	cfg->daemon = "collectord";
	cfg->log = test_log;
	cfg->log_arg = h;
	if (cfg->handlers == NULL)
		cfg->handlers = handlers;
	return fy_ctl_server_new(h->loop, cfg, &h->srv);
}

static void h_start(struct harness *h, struct fy_ctl_server_cfg *cfg)
{
	assert_int_equal(h_server(h, cfg), 0);
	ev_async_init(&h->stop, on_stop);
	ev_async_start(h->loop, &h->stop);
	assert_int_equal(pthread_create(&h->th, NULL, loop_thread, h), 0);
}

/* Stops the loop, takes the stats, frees everything. */
static void h_stop(struct harness *h)
{
	ev_async_send(h->loop, &h->stop);
	pthread_join(h->th, NULL);
	fy_ctl_server_stats(h->srv, &h->st);
	fy_ctl_server_free(h->srv);
	h->srv = NULL;
	ev_loop_destroy(h->loop);
	h->loop = NULL;
}

static void h_cleanup(struct harness *h)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", h->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", h->dir);
	pthread_mutex_destroy(&h->mu);
}

/* ------------------------------------------------------------------------
 * Client side helpers
 */

struct collected {
	uint64_t parts, more_parts, flows, sum_packets, matched;
	bool in_order;
	uint64_t next;
	uint32_t pid, n_listeners, port0;
	uint64_t kernel_drops;
	char version[64], tree1[64], who[16];
};

static int collect(void *arg, const Flowyard__Control__Response *p)
{
	struct collected *c = arg;
	size_t i;

	c->parts++;
	if (p->more)
		c->more_parts++;
	if (p->result_case == FLOWYARD__CONTROL__RESPONSE__RESULT_DUMP_FLOWS) {
		const Flowyard__Control__DumpFlowsReply *d = p->dump_flows;

		for (i = 0; i < d->n_flows; i++) {
			if (d->flows[i]->packets != c->next ||
			    d->flows[i]->src_addr.len != 4 ||
			    d->flows[i]->src_addr.data[3] != (uint8_t)c->next)
				c->in_order = false;
			c->next++;
			c->flows++;
			c->sum_packets += d->flows[i]->packets;
		}
		c->matched = d->matched;
	}
	if (p->result_case == FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS) {
		const Flowyard__Control__StatusReply *s = p->status;

		snprintf(c->version, sizeof(c->version), "%s", s->version);
		snprintf(c->who, sizeof(c->who), "%s", s->log_level);
		c->pid = s->pid;
		if (s->detail_case ==
		    FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_COLLECTOR) {
			c->n_listeners = (uint32_t)s->collector->n_listeners;
			if (c->n_listeners == 2) {
				c->port0 = s->collector->listeners[0]->port;
				snprintf(c->tree1, sizeof(c->tree1), "%s",
					 s->collector->listeners[1]->tree);
			}
			c->kernel_drops = s->collector->kernel_drops;
		}
	}
	return 0;
}

static int call(const char *path, int cmd, uint64_t n, struct collected *out,
		int *remote, char *err, size_t errlen)
{
	struct req_buf b;

	memset(out, 0, sizeof(*out));
	out->in_order = true;
	return fy_ctl_call(path, 3000, mkreq(&b, cmd, n), collect, out, remote,
			   err, errlen);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int raw_send(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int raw_send_req(int fd, Flowyard__Control__Request *req)
{
	uint8_t *buf;
	size_t len;
	int r;

	if (fy_ctl_frame_pack(&req->base, 0, &buf, &len) < 0)
		return -1;
	r = raw_send(fd, buf, len);
	free(buf);
	return r;
}

/* 1: all n bytes; 0: end of stream before the first; -2: end of stream
 * after some; -1 on a timeout or error. */
static int read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t m;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -1;
		m = recv(fd, (uint8_t *)buf + got, n - got, 0);
		if (m < 0 && errno == EINTR)
			continue;
		if (m == 0 || (m < 0 && errno == ECONNRESET))
			return got == 0 ? 0 : -2;
		if (m < 0)
			return -1;
		got += (size_t)m;
	}
	return 1;
}

/* One Response: 1 and *out; 0 at end of stream; -2 at end of stream
 * inside a frame; -1 on a timeout or error. */
static int raw_read(int fd, int timeout_ms, Flowyard__Control__Response **out)
{
	uint8_t hdr[4], *buf;
	uint32_t len;
	int r;

	*out = NULL;
	r = read_full(fd, hdr, 4, timeout_ms);
	if (r <= 0)
		return r;
	len = be32(hdr);
	if (len > FY_CTL_MAX_MSG_LIMIT)
		return -1;
	buf = malloc(len + 1);
	if (buf == NULL)
		return -1;
	if (len > 0 && (r = read_full(fd, buf, len, timeout_ms)) != 1) {
		free(buf);
		return r == 0 ? -2 : r;
	}
	r = fy_ctl_response_unpack(buf, len, out) == 0 ? 1 : -1;
	free(buf);
	return r;
}

/* Reads one reply expected to be an Error: returns its code, -1 if not. */
static int raw_error(int fd, char *msg, size_t len)
{
	Flowyard__Control__Response *resp;
	int code = -1;

	if (raw_read(fd, 2000, &resp) != 1)
		return -1;
	if (resp->result_case == FLOWYARD__CONTROL__RESPONSE__RESULT_ERROR &&
	    !resp->more) {
		code = (int)resp->error->code;
		snprintf(msg, len, "%s", resp->error->message);
	}
	fy_ctl_response_free(resp);
	return code;
}

/* ------------------------------------------------------------------------
 * Server tests
 */

static void test_srv_status(void **state)
{
	struct fy_ctl_server_cfg cfg = {0};
	struct harness h;
	struct collected c;
	char err[512];
	int remote = -1;

	(void)state;
	h_init(&h, "collectord.sock");
	h_start(&h, &cfg);
	assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, &remote, err,
			      sizeof(err)),
			 0);
	assert_int_equal(remote, 0);
	assert_int_equal(c.parts, 1);
	assert_int_equal(c.more_parts, 0);
	assert_string_equal(c.version, "flowyard-test 1");
	assert_int_equal(c.pid, (uint32_t)getpid());
	assert_int_equal(c.n_listeners, 2);
	assert_int_equal(c.port0, 9995);
	assert_string_equal(c.tree1, "/srv/flows/core");
	assert_int_equal(c.kernel_drops, 7);
	h_stop(&h);
	assert_int_equal(h.st.connections, 1);
	assert_int_equal(h.st.requests, 1);
	assert_int_equal(h.st.by_cmd[FY_CTL_CMD_STATUS], 1);
	assert_int_equal(h.st.clients, 0);
	assert_int_equal(h.st.bad_frames, 0);
	assert_true(log_has(&h, "listening on"));
	h_cleanup(&h);
}

static void test_srv_stream(void **state)
{
	struct fy_ctl_server_cfg cfg = {0};
	struct harness h;
	struct collected c;
	char err[512];

	(void)state;
	h_init(&h, "exporterd.sock");
	h_start(&h, &cfg);
	assert_int_equal(call(h.path, FY_CTL_CMD_DUMP_FLOWS, 1000, &c, NULL,
			      err, sizeof(err)),
			 0);
	assert_int_equal(c.parts, 10);
	assert_int_equal(c.more_parts, 9);
	assert_int_equal(c.flows, 1000);
	assert_true(c.in_order);
	assert_int_equal(c.sum_packets, 999 * 1000 / 2);
	assert_int_equal(c.matched, 1000);

	/* nothing to stream: one empty last part */
	assert_int_equal(call(h.path, FY_CTL_CMD_DUMP_FLOWS, 0, &c, NULL, err,
			      sizeof(err)),
			 0);
	assert_int_equal(c.parts, 1);
	assert_int_equal(c.more_parts, 0);
	assert_int_equal(c.flows, 0);
	h_stop(&h);
	assert_int_equal(h.st.by_cmd[FY_CTL_CMD_DUMP_FLOWS], 2);
	h_cleanup(&h);
}

/* Small buffers: the handler must stop on -ENOBUFS and be resumed, and
 * every flow still arrives once, in order. */
static void test_srv_backpressure(void **state)
{
	struct fy_ctl_server_cfg cfg = {.max_msg = 8192, .max_out = 12288};
	struct harness h;
	struct collected c;
	char err[512];

	(void)state;
	atomic_store(&again_returns, 0);
	h_init(&h, "exporterd.sock");
	h_start(&h, &cfg);
	assert_int_equal(call(h.path, FY_CTL_CMD_DUMP_FLOWS, 50000, &c, NULL,
			      err, sizeof(err)),
			 0);
	assert_int_equal(c.flows, 50000);
	assert_int_equal(c.parts, 500);
	assert_true(c.in_order);
	assert_int_equal(c.matched, 50000);
	h_stop(&h);
	assert_true(atomic_load(&again_returns) > 0);
	h_cleanup(&h);
}

#define NCONC 50

struct conc {
	const char *path;
	pthread_barrier_t *bar;
	int open_r, status_r, dump_r;
	uint64_t flows;
	bool in_order;
	char err[256];
};

static void *conc_client(void *arg)
{
	struct conc *k = arg;
	struct fy_ctl_client *cl = NULL;
	struct collected c;
	struct req_buf b;

	k->open_r =
		fy_ctl_client_open(k->path, 5000, &cl, k->err, sizeof(k->err));
	pthread_barrier_wait(k->bar);
	if (k->open_r < 0) {
		pthread_barrier_wait(k->bar);
		return NULL;
	}
	memset(&c, 0, sizeof(c));
	k->status_r = fy_ctl_client_call(cl, mkreq(&b, FY_CTL_CMD_STATUS, 0),
					 collect, &c, k->err, sizeof(k->err));
	/* every client holds its connection until all have been answered */
	pthread_barrier_wait(k->bar);
	memset(&c, 0, sizeof(c));
	c.in_order = true;
	k->dump_r = fy_ctl_client_call(cl,
				       mkreq(&b, FY_CTL_CMD_DUMP_FLOWS, 500),
				       collect, &c, k->err, sizeof(k->err));
	k->flows = c.flows;
	k->in_order = c.in_order;
	fy_ctl_client_close(cl);
	return NULL;
}

static void test_srv_concurrent(void **state)
{
	struct fy_ctl_server_cfg cfg = {0};
	struct harness h;
	pthread_barrier_t bar;
	pthread_t th[NCONC];
	struct conc k[NCONC];
	int i;

	(void)state;
	h_init(&h, "collectord.sock");
	h_start(&h, &cfg);
	pthread_barrier_init(&bar, NULL, NCONC);
	for (i = 0; i < NCONC; i++) {
		memset(&k[i], 0, sizeof(k[i]));
		k[i].path = h.path;
		k[i].bar = &bar;
		k[i].status_r = k[i].dump_r = -1;
		assert_int_equal(
			pthread_create(&th[i], NULL, conc_client, &k[i]), 0);
	}
	for (i = 0; i < NCONC; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	h_stop(&h);
	for (i = 0; i < NCONC; i++) {
		if (k[i].open_r || k[i].status_r || k[i].dump_r)
			fprintf(stderr, "client %d: %s\n", i, k[i].err);
		assert_int_equal(k[i].open_r, 0);
		assert_int_equal(k[i].status_r, 0);
		assert_int_equal(k[i].dump_r, 0);
		assert_int_equal(k[i].flows, 500);
		assert_true(k[i].in_order);
	}
	assert_int_equal(h.st.connections, NCONC);
	assert_int_equal(h.st.clients_peak, NCONC);
	assert_int_equal(h.st.requests, 2 * NCONC);
	assert_int_equal(h.st.refused_busy, 0);
	h_cleanup(&h);
}

/* Waits until the peer closed `fd` (without reading what it holds).
 * Returns the ms waited, or -1 if it did not within `limit_ms`. */
static int64_t wait_hangup(int fd, int limit_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	int64_t t = now_ms();

	if (poll(&p, 1, limit_ms) != 1 || !(p.revents & (POLLRDHUP | POLLHUP)))
		return -1;
	return now_ms() - t;
}

/*
 * One client sends half a frame and goes quiet; another asks for a huge
 * reply and never reads it. Others are still answered at once (in far
 * less than the 3 s a server waiting on the stalled ones would take),
 * and both stalled clients are dropped after the timeout, not before.
 */
static void test_srv_stalled(void **state)
{
	/* small buffers: the reply also stalls with nothing left queued in
	 * the server, all of it sitting in the socket */
	struct fy_ctl_server_cfg cfg = {.timeout_ms = 3000, .max_msg = 8192};
	Flowyard__Control__Response *resp;
	struct harness h;
	struct collected c;
	struct req_buf b;
	char err[512];
	int half, mute, i, r;
	int64_t t0, t, worst = 0;
	bool saw_last = false;
	uint64_t parts = 0;

	(void)state;
	h_init(&h, "collectord.sock");
	h_start(&h, &cfg);
	half = raw_connect(h.path);
	mute = raw_connect(h.path);
	assert_true(half >= 0);
	assert_true(mute >= 0);
	t0 = now_ms();
	assert_int_equal(raw_send(half, "\0\0", 2), 0);
	assert_int_equal(
		raw_send_req(mute, mkreq(&b, FY_CTL_CMD_DUMP_FLOWS, 2000000)),
		0);
	sleep_ms(100); /* let the mute one fill every buffer */
	for (i = 0; i < 5; i++) {
		t = now_ms();
		assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, NULL,
				      err, sizeof(err)),
				 0);
		assert_int_equal(c.port0, 9995);
		t = now_ms() - t;
		if (t > worst)
			worst = t;
	}
	assert_true(worst < 1500);

	/* the half frame: dropped after ~3 s, not before */
	assert_true(wait_hangup(half, 7000) >= 0);
	t = now_ms() - t0;
	assert_true(t >= 2900);
	assert_true(t < 7000);
	assert_int_equal(read_full(half, err, 1, 1000), 0);

	/* the mute reader: dropped too; then what was buffered, the end of
	 * the stream (likely inside a part), never the last part */
	assert_true(wait_hangup(mute, 7000) >= 0);
	assert_true(now_ms() - t0 >= 2900);
	while ((r = raw_read(mute, 2000, &resp)) == 1) {
		parts++;
		if (!resp->more)
			saw_last = true;
		fy_ctl_response_free(resp);
	}
	assert_true(r == 0 || r == -2);
	assert_true(parts > 0);
	assert_false(saw_last);
	close(half);
	close(mute);
	h_stop(&h);
	assert_int_equal(h.st.timeouts, 2);
	assert_int_equal(h.st.requests, 6);
	assert_true(log_has(&h, "incomplete request"));
	assert_true(log_has(&h, "does not read its replies"));
	h_cleanup(&h);
}

static void test_srv_garbage(void **state)
{
	struct fy_ctl_server_cfg cfg = {0};
	static const uint8_t bad[] = {0, 0, 0, 3, 0xff, 0xff, 0xff};
	static const uint8_t huge[] = {0x00, 0x10, 0x00, 0x01};
	static const uint8_t trunc[] = {0, 0, 0, 10, 0x08, 0x01, 0x52};
	static const uint8_t unknown[] = {0,	0,    0,    5,	 0x08,
					  0x01, 0xf8, 0x06, 0x01};
	static const uint8_t empty[] = {0, 0, 0, 0};
	Flowyard__Control__Response *resp;
	struct harness h;
	struct collected c;
	struct req_buf b;
	char msg[512];
	int fd, remote, i;
	uint8_t *f;
	size_t flen;

	(void)state;
	h_init(&h, "collectord.sock");
	h_start(&h, &cfg);

	/* not protobuf: error, then closed */
	fd = raw_connect(h.path);
	assert_true(fd >= 0);
	assert_int_equal(raw_send(fd, bad, sizeof(bad)), 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)),
			 FY_CTL_ERR_BAD_REQUEST);
	assert_non_null(strstr(msg, "does not parse"));
	assert_int_equal(raw_read(fd, 2000, &resp), 0);
	close(fd);

	/* over the limit, refused on the header alone */
	fd = raw_connect(h.path);
	assert_int_equal(raw_send(fd, huge, sizeof(huge)), 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)), FY_CTL_ERR_TOO_LARGE);
	assert_non_null(strstr(msg, "1048577"));
	assert_int_equal(raw_read(fd, 2000, &resp), 0);
	close(fd);

	/* truncated by a shutdown */
	fd = raw_connect(h.path);
	assert_int_equal(raw_send(fd, trunc, sizeof(trunc)), 0);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)),
			 FY_CTL_ERR_BAD_REQUEST);
	assert_non_null(strstr(msg, "truncated"));
	assert_int_equal(raw_read(fd, 2000, &resp), 0);
	close(fd);

	/* sound frames with bad content: answered, connection kept */
	fd = raw_connect(h.path);
	assert_int_equal(raw_send(fd, unknown, sizeof(unknown)), 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)),
			 FY_CTL_ERR_UNKNOWN_COMMAND);
	assert_int_equal(raw_send(fd, empty, sizeof(empty)), 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)),
			 FY_CTL_ERR_UNSUPPORTED_VERSION);
	mkreq(&b, FY_CTL_CMD_STATUS, 0);
	b.req.api_version = 2;
	assert_int_equal(raw_send_req(fd, &b.req), 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)),
			 FY_CTL_ERR_UNSUPPORTED_VERSION);
	assert_int_equal(raw_send_req(fd, mkreq(&b, FY_CTL_CMD_TEMPLATES, 0)),
			 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)),
			 FY_CTL_ERR_NOT_SUPPORTED);
	assert_string_equal(msg,
			    "collectord does not serve the templates command");

	/* three requests in one write: three replies, in order */
	assert_int_equal(
		fy_ctl_frame_pack(&mkreq(&b, FY_CTL_CMD_STATUS, 0)->base, 0, &f,
				  &flen),
		0);
	{
		uint8_t three[3 * 64];

		assert_true(flen <= 64);
		for (i = 0; i < 3; i++)
			memcpy(three + i * flen, f, flen);
		assert_int_equal(raw_send(fd, three, 3 * flen), 0);
	}
	free(f);
	for (i = 0; i < 3; i++) {
		assert_int_equal(raw_read(fd, 2000, &resp), 1);
		assert_int_equal(resp->result_case,
				 FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS);
		assert_false(resp->more);
		assert_int_equal(resp->api_version, FY_CTL_API_VERSION);
		fy_ctl_response_free(resp);
	}
	close(fd);

	/* handlers that misbehave become errors, not hangs or crashes */
	assert_int_equal(call(h.path, FY_CTL_CMD_ROTATE, 0, &c, &remote, msg,
			      sizeof(msg)),
			 -EREMOTEIO);
	assert_int_equal(remote, FY_CTL_ERR_FAILED);
	assert_non_null(strstr(msg, "cannot rename /srv/flows/edge1/"));
	assert_int_equal(call(h.path, FY_CTL_CMD_SET_LOG_LEVEL, 0, &c, &remote,
			      msg, sizeof(msg)),
			 -EREMOTEIO);
	assert_int_equal(remote, FY_CTL_ERR_INTERNAL);
	assert_non_null(strstr(msg, "no reply"));
	assert_int_equal(call(h.path, FY_CTL_CMD_RELOAD, 0, &c, &remote, msg,
			      sizeof(msg)),
			 -EREMOTEIO);
	assert_int_equal(remote, FY_CTL_ERR_INTERNAL);
	assert_non_null(strstr(msg, "reload failed: Input/output error"));
	assert_int_equal(call(h.path, FY_CTL_CMD_EXPIRE_ALL, 0, &c, &remote,
			      msg, sizeof(msg)),
			 -EREMOTEIO);
	assert_non_null(strstr(msg, "no progress"));
	assert_int_equal(call(h.path, FY_CTL_CMD_EXPORTERS, 0, &c, &remote, msg,
			      sizeof(msg)),
			 0);
	assert_int_equal(atomic_load(&wrong_case_rc), -EINVAL);
	assert_int_equal(call(h.path, FY_CTL_CMD_SEND_TEMPLATES, 0, &c, &remote,
			      msg, sizeof(msg)),
			 0);
	assert_int_equal(c.parts, 1);
	assert_int_equal(atomic_load(&oversized_part_rc), -EMSGSIZE);

	/* and the server is as good as new */
	assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, NULL, msg,
			      sizeof(msg)),
			 0);
	h_stop(&h);
	assert_int_equal(h.st.bad_frames, 3);
	assert_int_equal(h.st.clients, 0);
	assert_true(h.st.errors >= 11);
	assert_true(log_has(&h, "does not parse"));
	assert_true(log_has(&h, "set_log_level handler sent no reply"));
	h_cleanup(&h);
}

static void test_srv_busy(void **state)
{
	struct fy_ctl_server_cfg cfg = {.max_clients = 3};
	struct fy_ctl_client *cl[3];
	struct harness h;
	struct collected c;
	struct req_buf b;
	char msg[512];
	int i, fd, remote, r = -1;

	(void)state;
	h_init(&h, "collectord.sock");
	h_start(&h, &cfg);
	for (i = 0; i < 3; i++) {
		assert_int_equal(fy_ctl_client_open(h.path, 2000, &cl[i], msg,
						    sizeof(msg)),
				 0);
		/* answered, so certainly accepted */
		assert_int_equal(fy_ctl_client_call(
					 cl[i], mkreq(&b, FY_CTL_CMD_STATUS, 0),
					 NULL, NULL, msg, sizeof(msg)),
				 0);
	}
	fd = raw_connect(h.path);
	assert_true(fd >= 0);
	assert_int_equal(raw_error(fd, msg, sizeof(msg)), FY_CTL_ERR_BUSY);
	assert_non_null(strstr(msg, "3 control clients"));
	assert_int_equal(read_full(fd, msg, 1, 2000), 0);
	close(fd);
	assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, &remote, msg,
			      sizeof(msg)),
			 -EREMOTEIO);
	assert_int_equal(remote, FY_CTL_ERR_BUSY);

	/* a slot freed is a slot taken */
	fy_ctl_client_close(cl[0]);
	for (i = 0; i < 100 && r != 0; i++) {
		r = call(h.path, FY_CTL_CMD_STATUS, 0, &c, &remote, msg,
			 sizeof(msg));
		if (r != 0)
			sleep_ms(10);
	}
	assert_int_equal(r, 0);
	fy_ctl_client_close(cl[1]);
	fy_ctl_client_close(cl[2]);
	h_stop(&h);
	assert_true(h.st.refused_busy >= 2);
	assert_int_equal(h.st.clients_peak, 3);
	assert_true(log_has(&h, "clients connected already"));
	h_cleanup(&h);
}

/* ------------------------------------------------------------------------
 * The socket file and the peer check
 */

/* A socket file with nobody behind it: what a crashed daemon leaves. */
static void make_stale(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static void test_socket_file(void **state)
{
	struct fy_ctl_server_cfg cfg = {0}, cfg2 = {0};
	struct fy_ctl_server *second = NULL;
	struct harness h;
	char path[200], sub[200];
	struct stat st;
	FILE *f;
	int fd;

	(void)state;
	h_init(&h, "a/b/collectord.sock");
	/* missing directories are made, 0755; the socket is 0660 */
	assert_int_equal(h_server(&h, &cfg), 0);
	snprintf(sub, sizeof(sub), "%s/a", h.dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(stat(h.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);

	/* a live daemon's socket is not taken over */
	cfg2.path = h.path;
	cfg2.handlers = handlers;
	cfg2.log = test_log;
	cfg2.log_arg = &h;
	assert_int_equal(fy_ctl_server_new(h.loop, &cfg2, &second),
			 -EADDRINUSE);
	assert_null(second);
	fd = raw_connect(h.path);
	assert_true(fd >= 0); /* the first one still listens there */
	close(fd);
	assert_true(log_has(&h, "another daemon answers"));

	/* the socket file goes with the server */
	fy_ctl_server_free(h.srv);
	h.srv = NULL;
	assert_int_equal(stat(h.path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* a stale one is replaced */
	make_stale(h.path);
	assert_int_equal(raw_connect(h.path), -ECONNREFUSED);
	assert_int_equal(h_server(&h, &cfg), 0);
	assert_true(log_has(&h, "removing stale socket"));
	fd = raw_connect(h.path);
	assert_true(fd >= 0);
	close(fd);

	/* a file that replaced ours is not removed by us */
	assert_int_equal(unlink(h.path), 0);
	f = fopen(h.path, "w");
	assert_non_null(f);
	fputs("not ours\n", f);
	fclose(f);
	fy_ctl_server_free(h.srv);
	h.srv = NULL;
	assert_int_equal(stat(h.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* and a path that is not a socket is refused, untouched */
	assert_int_equal(h_server(&h, &cfg), -EEXIST);
	assert_int_equal(stat(h.path, &st), 0);
	assert_int_equal(st.st_size, 9);

	/* a group that does not exist is an error, not a silent 0660 */
	snprintf(path, sizeof(path), "%s/g.sock", h.dir);
	cfg2.path = path;
	cfg2.group = "no-such-group-fyctl";
	assert_int_equal(fy_ctl_server_new(h.loop, &cfg2, &second), -ENOENT);
	assert_int_equal(stat(path, &st), -1);
	ev_loop_destroy(h.loop);
	h_cleanup(&h);
}

struct child_result {
	int r;
	int remote;
	char who[16];
	char err[256];
};

/*
 * Runs one status call in a child as uid `uid`, primary gid `gid`, with
 * the `ngroups` supplementary groups, and returns what it got.
 */
static struct child_result call_as(const char *path, uid_t uid, gid_t gid,
				   const gid_t *groups, size_t ngroups)
{
	struct child_result res;
	int p[2];
	pid_t pid;
	ssize_t n;

	memset(&res, 0, sizeof(res));
	res.r = 1000;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct collected c;

		close(p[0]);
		if (setgroups(ngroups, groups) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0) {
			res.r = 2000;
		} else {
			res.r = call(path, FY_CTL_CMD_STATUS, 0, &c,
				     &res.remote, res.err, sizeof(res.err));
			snprintf(res.who, sizeof(res.who), "%s", c.who);
		}
		n = write(p[1], &res, sizeof(res));
		_exit(n == (ssize_t)sizeof(res) ? 0 : 1);
	}
	close(p[1]);
	n = read(p[0], &res, sizeof(res));
	close(p[0]);
	waitpid(pid, NULL, 0);
	assert_int_equal(n, sizeof(res));
	return res;
}

static void test_srv_permission(void **state)
{
	struct fy_ctl_server_cfg cfg = {.group = "4242"};
	const gid_t member[1] = {TEST_GID};
	struct child_result res;
	struct harness h;
	struct collected c;
	struct stat st;
	char msg[512];

	(void)state;
	if (geteuid() != 0) {
		/* setuid needs root; say so rather than pass quietly */
		fprintf(stderr, "test_srv_permission: skipped, not root\n");
		skip();
	}
	h_init(&h, "collectord.sock");
	h_start(&h, &cfg);
	assert_int_equal(stat(h.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, TEST_GID);

	/* nobody, no group: the file mode stops it at connect() */
	res = call_as(h.path, NOBODY, NOBODY, NULL, 0);
	assert_int_equal(res.r, -EACCES);
	snprintf(msg, sizeof(msg), "cannot connect to %s: Permission denied",
		 h.path);
	assert_non_null(strstr(res.err, msg));
	assert_non_null(strstr(res.err, "group 4242"));

	/* with the file opened to all by mistake, SO_PEERCRED stops it */
	assert_int_equal(chmod(h.path, 0666), 0);
	res = call_as(h.path, NOBODY, NOBODY, NULL, 0);
	assert_int_equal(res.r, -EREMOTEIO);
	assert_int_equal(res.remote, FY_CTL_ERR_PERMISSION_DENIED);
	assert_non_null(strstr(res.err, "permission denied: uid 65534"));
	assert_non_null(strstr(res.err, "group 4242"));
	assert_int_equal(chmod(h.path, 0660), 0);

	/* members of the group get in: supplementary, then primary */
	res = call_as(h.path, NOBODY, NOBODY, member, 1);
	assert_int_equal(res.r, 0);
	assert_string_equal(res.who, "other");
	res = call_as(h.path, NOBODY, TEST_GID, NULL, 0);
	assert_int_equal(res.r, 0);
	assert_string_equal(res.who, "other");

	/* and root */
	assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, NULL, msg,
			      sizeof(msg)),
			 0);
	assert_string_equal(c.who, "root");
	h_stop(&h);
	assert_int_equal(h.st.refused_permission, 1);
	assert_int_equal(h.st.connections, 3);
	assert_true(log_has(&h, "refused uid 65534"));
	h_cleanup(&h);
}

/* ------------------------------------------------------------------------
 * Client errors
 */

struct fake {
	int lfd;
	const uint8_t *reply;
	size_t len;
};

/* A fake daemon: accepts one client, reads its request, sends `reply`
 * verbatim, closes. */
static void *fake_daemon(void *arg)
{
	struct fake *f = arg;
	uint8_t buf[256];
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	if (recv(fd, buf, sizeof(buf), 0) > 0)
		raw_send(fd, f->reply, f->len);
	close(fd);
	return NULL;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* The client against a fake daemon replying `reply`; returns its result. */
static int against_fake(const char *path, const uint8_t *reply, size_t len,
			char *err, size_t errlen)
{
	struct fake f = {.reply = reply, .len = len};
	struct collected c;
	pthread_t th;
	int r;

	unlink(path);
	f.lfd = listen_on(path);
	assert_int_equal(pthread_create(&th, NULL, fake_daemon, &f), 0);
	r = call(path, FY_CTL_CMD_STATUS, 0, &c, NULL, err, errlen);
	pthread_join(th, NULL);
	close(f.lfd);
	return r;
}

static void test_client_errors(void **state)
{
	/* Response{api_version=1, more=true, status{}} then the end */
	static const uint8_t cut[] = {0,    0,	  0,	6,    0x08,
				      0x01, 0x10, 0x01, 0x52, 0x00};
	static const uint8_t v9[] = {0, 0, 0, 4, 0x08, 0x09, 0x52, 0x00};
	/* a dump_flows result (16) to a status request */
	static const uint8_t other[] = {0,    0,    0,	  5,   0x08,
					0x01, 0x82, 0x01, 0x00};
	static const uint8_t junk[] = {0, 0, 0, 2, 0xff, 0xff};
	struct harness h;
	struct collected c;
	char err[512], want[512], path[200];
	int64_t t;
	int lfd, r;

	(void)state;
	h_init(&h, "collectord.sock");

	/* no daemon */
	assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, NULL, err,
			      sizeof(err)),
			 -ENOENT);
	snprintf(want, sizeof(want),
		 "cannot connect to %s: No such file or directory (is "
		 "collectord running?)",
		 h.path);
	assert_string_equal(err, want);

	/* a dead daemon's socket */
	make_stale(h.path);
	assert_int_equal(call(h.path, FY_CTL_CMD_STATUS, 0, &c, NULL, err,
			      sizeof(err)),
			 -ECONNREFUSED);
	snprintf(want, sizeof(want),
		 "cannot connect to %s: Connection refused (is collectord "
		 "running?)",
		 h.path);
	assert_string_equal(err, want);

	/* not named after a daemon */
	snprintf(path, sizeof(path), "%s/ctl", h.dir);
	assert_int_equal(call(path, FY_CTL_CMD_STATUS, 0, &c, NULL, err,
			      sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "(is the daemon running?)"));

	/* too long for sun_path */
	memset(path, 'p', 150);
	path[0] = '/';
	path[150] = '\0';
	assert_int_equal(call(path, FY_CTL_CMD_STATUS, 0, &c, NULL, err,
			      sizeof(err)),
			 -ENAMETOOLONG);

	/* a daemon that never answers: the timeout, naming the socket */
	snprintf(path, sizeof(path), "%s/silent.sock", h.dir);
	lfd = listen_on(path);
	{
		struct req_buf b;

		t = now_ms();
		r = fy_ctl_call(path, 300, mkreq(&b, FY_CTL_CMD_STATUS, 0),
				NULL, NULL, NULL, err, sizeof(err));
		t = now_ms() - t;
	}
	close(lfd);
	assert_int_equal(r, -ETIMEDOUT);
	snprintf(want, sizeof(want), "%s: no reply within 300 ms", path);
	assert_string_equal(err, want);
	assert_true(t >= 250);
	assert_true(t < 3000);

	/* replies that are wrong in every way a broken peer can be */
	snprintf(path, sizeof(path), "%s/fake.sock", h.dir);
	assert_int_equal(against_fake(path, cut, sizeof(cut), err, sizeof(err)),
			 -ECONNRESET);
	assert_non_null(strstr(err, "closed before the reply ended"));
	assert_int_equal(against_fake(path, v9, sizeof(v9), err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "control API version 9"));
	assert_int_equal(against_fake(path, other, sizeof(other), err,
				      sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "the reply to status carries result 16"));
	assert_int_equal(against_fake(path, junk, sizeof(junk), err,
				      sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "does not parse"));
	ev_loop_destroy(h.loop);
	h_cleanup(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_frame_byte_by_byte),
		cmocka_unit_test(test_frame_oversized),
		cmocka_unit_test(test_frame_bounded),
		cmocka_unit_test(test_unpack_garbage),
		cmocka_unit_test(test_unpack_budget),
		cmocka_unit_test(test_command_table),
		cmocka_unit_test(test_srv_status),
		cmocka_unit_test(test_srv_stream),
		cmocka_unit_test(test_srv_backpressure),
		cmocka_unit_test(test_srv_concurrent),
		cmocka_unit_test(test_srv_stalled),
		cmocka_unit_test(test_srv_garbage),
		cmocka_unit_test(test_srv_busy),
		cmocka_unit_test(test_socket_file),
		cmocka_unit_test(test_srv_permission),
		cmocka_unit_test(test_client_errors),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
