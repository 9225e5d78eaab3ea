/*
 * control.c - exporterd's control socket handlers, see control.h.
 *
 * DumpFlows is the one long reply. Its consistency: the flow cache is
 * walked by hash bucket (fc_walk), a slice of buckets per handler call,
 * and packets are accounted between two calls. A flow that stays in the
 * cache for the whole dump is sent exactly once; a flow created or
 * exported during the dump may or may not be; each flow's counters are
 * those of the moment its bucket was visited. The reply cursor holds the
 * next bucket (low 32 bits) and the flows matched so far (high 32 bits),
 * since a handler may keep nothing else across calls.
 */
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "ctl.h"
#include "ctl_log.h"
#include "export.h"
#include "filter.h"
#include "log.h"

#define VERSION "flowyard 0.1.0"

/* A dump part: at most about this many flows (whole buckets are sent,
 * so a part may exceed it by a chain), about 130 bytes each packed, far
 * below the message size limit... */
#define DUMP_PART_FLOWS 512
/* ...and at most this many buckets scanned per call, matches or not, so
 * that a sparse or filtered dump does not hold the loop either. */
#define DUMP_SCAN_BUCKETS 65536
#define CURSOR_POS_MASK 0xffffffffull

struct xctl {
	struct fy_ctl_server *srv;
	const struct xcfg *cfg;
	pcap_t *pc;
	struct probe *p;
	uint64_t start_ms;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 4 bytes for IPv4, 16 for IPv6, as the proto says; points into `a`. */
static void addr_bytes(const struct fy_addr *a, ProtobufCBinaryData *out)
{
	if (fy_addr_is_v4(a)) {
		out->len = 4;
		out->data = (uint8_t *)a->b + 12;
	} else {
		out->len = 16;
		out->data = (uint8_t *)a->b;
	}
}

/* ---- Status ---- */

static void capture_stats(const struct xctl *x,
			  Flowyard__Control__CaptureStats *cs)
{
	struct pcap_stat ps;

	cs->source = (char *)(x->cfg->iface ? x->cfg->iface : x->cfg->rfile);
	if (x->cfg->iface != NULL && pcap_stats(x->pc, &ps) == 0) {
		cs->recv = ps.ps_recv;
		cs->drop = ps.ps_drop;
		cs->ifdrop = ps.ps_ifdrop;
	} else {
		/* a file has no capture statistics: the packets read */
		cs->recv = probe_stats(x->p)->frames;
	}
}

static void expired_flows(const struct fc_stats *fs,
			  Flowyard__Control__ExpiredFlows *ef)
{
	ef->idle = fs->end_reason[FY_END_IDLE];
	ef->active = fs->end_reason[FY_END_ACTIVE];
	ef->end = fs->end_reason[FY_END_EOF];
	ef->forced = fs->end_reason[FY_END_FORCED];
	ef->lack_of_resources = fs->end_reason[FY_END_LACK_OF_RESOURCES];
}

/* Fills one Destination and adds it to the totals. */
static void destination(const struct xctl *x, size_t i,
			Flowyard__Control__Destination *d,
			Flowyard__Control__ExporterdStatus *es)
{
	const struct exp *ex = probe_exporter(x->p);
	const struct exp_dest_stats *ds = exp_dest_stats(ex, i);
	const struct fy_nfenc_stats *enc = exp_enc_stats(ex, i);

	d->address = (char *)exp_dest(ex, i)->name;
	d->version = x->cfg->version;
	d->packets = ds->messages;
	d->records = enc ? enc->records : 0;
	d->send_errors = ds->send_errors;
	es->packets_exported += d->packets;
	es->records_exported += d->records;
	es->send_errors += d->send_errors;
}

static int h_status(void *arg, const Flowyard__Control__Request *req,
		    struct fy_ctl_reply *r)
{
	struct xctl *x = arg;
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__StatusReply st =
		FLOWYARD__CONTROL__STATUS_REPLY__INIT;
	Flowyard__Control__ExporterdStatus es =
		FLOWYARD__CONTROL__EXPORTERD_STATUS__INIT;
	Flowyard__Control__CaptureStats cs =
		FLOWYARD__CONTROL__CAPTURE_STATS__INIT;
	Flowyard__Control__ExpiredFlows ef =
		FLOWYARD__CONTROL__EXPIRED_FLOWS__INIT;
	Flowyard__Control__ControlCounters cc =
		FLOWYARD__CONTROL__CONTROL_COUNTERS__INIT;
	Flowyard__Control__Destination *dv, **dp;
	const struct fc_stats *fs = fc_stats(probe_cache(x->p));
	size_t n = exp_count(probe_exporter(x->p)), i;
	struct fy_ctl_stats cst;
	uint64_t now = wall_ms();
	int rc;

	(void)req;
	dv = calloc(n ? n : 1, sizeof(*dv));
	dp = calloc(n ? n : 1, sizeof(*dp));
	if (dv == NULL || dp == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		Flowyard__Control__Destination init =
			FLOWYARD__CONTROL__DESTINATION__INIT;

		dv[i] = init;
		destination(x, i, &dv[i], &es);
		dp[i] = &dv[i];
	}
	es.n_destinations = n;
	es.destinations = dp;
	capture_stats(x, &cs);
	es.capture = &cs;
	es.active_flows = fs->flows_active;
	expired_flows(fs, &ef);
	es.expired = &ef;

	fy_ctl_server_stats(x->srv, &cst);
	fy_ctl_stats_to_proto(&cst, &cc);
	st.daemon = FLOWYARD__CONTROL__DAEMON__DAEMON_EXPORTERD;
	st.version = (char *)VERSION;
	st.pid = (uint32_t)getpid();
	st.start_time_ms = x->start_ms;
	st.uptime_ms = now > x->start_ms ? now - x->start_ms : 0;
	st.control = &cc;
	st.log_level = (char *)fy_log_level_name(fy_log_level);
	st.detail_case = FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_EXPORTERD;
	st.exporterd = &es;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS;
	resp.status = &st;
	rc = fy_ctl_reply_end(r, &resp);
out:
	free(dv);
	free(dp);
	return rc;
}

/* ---- DumpFlows ---- */

struct dump {
	const struct fy_filter *filter;
	uint64_t max;	   /* flows to send in all; 0: no limit */
	uint64_t matched;  /* so far, earlier parts included */
	struct fy_flow *v; /* the flows of this part */
	size_t n, cap;
	int err;
};

/* fc_walk's callback: keeps a matching flow for this part. */
static int dump_one(void *arg, const struct fy_flow *f)
{
	struct dump *d = arg;

	if (!fy_filter_match(d->filter, f))
		return 0;
	d->matched++;
	if (d->max != 0 && d->matched > d->max)
		return 0; /* counted in `matched`, not sent */
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64;
		struct fy_flow *v = realloc(d->v, nc * sizeof(*v));

		if (v == NULL) {
			d->err = -ENOMEM;
			return 1;
		}
		d->v = v;
		d->cap = nc;
	}
	d->v[d->n++] = *f;
	return d->n >= DUMP_PART_FLOWS;
}

static void flow_to_proto(const struct fy_flow *f, Flowyard__Control__Flow *o)
{
	static const uint8_t no_mac[6];

	o->first_ms = f->first_ms;
	o->last_ms = f->last_ms;
	o->packets = f->packets;
	o->bytes = f->bytes;
	addr_bytes(&f->src, &o->src_addr);
	addr_bytes(&f->dst, &o->dst_addr);
	o->src_port = f->src_port;
	o->dst_port = f->dst_port;
	o->proto = f->proto;
	o->tcp_flags = f->tcp_flags;
	o->tos = f->tos;
	o->input_if = f->input_if;
	o->output_if = f->output_if;
	o->src_as = f->src_as;
	o->dst_as = f->dst_as;
	o->src_mask = f->src_mask;
	o->dst_mask = f->dst_mask;
	if (!fy_addr_is_zero(&f->nexthop))
		addr_bytes(&f->nexthop, &o->nexthop);
	o->vlan = f->vlan;
	if (memcmp(f->src_mac, no_mac, 6) != 0 ||
	    memcmp(f->dst_mac, no_mac, 6) != 0) {
		o->src_mac.len = o->dst_mac.len = 6;
		o->src_mac.data = (uint8_t *)f->src_mac;
		o->dst_mac.data = (uint8_t *)f->dst_mac;
	}
	o->icmp_type = f->icmp_type;
	o->icmp_code = f->icmp_code;
	o->end_reason = f->end_reason;
	o->sampling_interval = f->sampling_interval;
	o->out_packets = f->out_packets;
	o->out_bytes = f->out_bytes;
	o->direction = f->direction;
}

/* Sends the flows kept in `d` as one part, or as the last one. */
static int dump_send(struct fy_ctl_reply *r, const struct dump *d, bool last)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__DumpFlowsReply dr =
		FLOWYARD__CONTROL__DUMP_FLOWS_REPLY__INIT;
	Flowyard__Control__Flow *fv, **fp;
	size_t i;
	int rc;

	fv = calloc(d->n ? d->n : 1, sizeof(*fv));
	fp = calloc(d->n ? d->n : 1, sizeof(*fp));
	if (fv == NULL || fp == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < d->n; i++) {
		Flowyard__Control__Flow init = FLOWYARD__CONTROL__FLOW__INIT;

		fv[i] = init;
		flow_to_proto(&d->v[i], &fv[i]);
		fp[i] = &fv[i];
	}
	dr.n_flows = d->n;
	dr.flows = fp;
	if (last)
		dr.matched = d->matched;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_DUMP_FLOWS;
	resp.dump_flows = &dr;
	rc = last ? fy_ctl_reply_end(r, &resp) : fy_ctl_reply_part(r, &resp);
out:
	free(fv);
	free(fp);
	return rc;
}

/*
 * One slice of the cache per call. The filter is compiled again at each
 * call (microseconds), since nothing but the cursor survives between two.
 */
static int h_dump_flows(void *arg, const Flowyard__Control__Request *req,
			struct fy_ctl_reply *r)
{
	struct xctl *x = arg;
	const Flowyard__Control__DumpFlowsRequest *rq = req->dump_flows;
	const char *expr = rq && rq->filter ? rq->filter : "";
	uint64_t *cursor = fy_ctl_reply_cursor(r);
	const struct fc_cache *c = probe_cache(x->p);
	struct fy_filter *flt = NULL;
	struct dump d = {0};
	uint64_t pos;
	char err[256];
	bool last;
	int rc;

	if (fy_filter_compile(expr, &flt, err, sizeof(err)) != 0)
		return fy_ctl_reply_error(r, FY_CTL_ERR_INVALID_ARGUMENT,
					  "filter '%.100s%s': %s", expr,
					  strlen(expr) > 100 ? "..." : "", err);
	d.filter = flt;
	d.max = rq ? rq->max_flows : 0;
	d.matched = *cursor >> 32;
	pos = fc_walk(c, *cursor & CURSOR_POS_MASK, DUMP_SCAN_BUCKETS, dump_one,
		      &d);
	if (d.err != 0) {
		rc = d.err;
		goto out;
	}
	last = pos >= fc_buckets(c);
	rc = dump_send(r, &d, last);
	if (rc == 0 && !last) {
		/* pos < 2^32: fc_new() never makes more buckets than that */
		if (d.matched > UINT32_MAX)
			d.matched = UINT32_MAX;
		*cursor = d.matched << 32 | (pos & CURSOR_POS_MASK);
		rc = FY_CTL_AGAIN;
	}
out:
	free(d.v);
	fy_filter_free(flt);
	return rc;
}

/* ---- ExpireAll, SendTemplates, SetLogLevel ---- */

static int h_expire_all(void *arg, const Flowyard__Control__Request *req,
			struct fy_ctl_reply *r)
{
	struct xctl *x = arg;
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__ExpireAllReply er =
		FLOWYARD__CONTROL__EXPIRE_ALL_REPLY__INIT;
	const struct fc_stats *fs = fc_stats(probe_cache(x->p));
	uint64_t before = fs->flows_exported;

	(void)req;
	probe_expire_all(x->p);
	er.flows_expired = fs->flows_exported - before;
	fy_notice("control: %" PRIu64 " flow(s) expired at the request of "
		  "uid %ld",
		  er.flows_expired, (long)fy_ctl_reply_peer(r)->uid);
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_EXPIRE_ALL;
	resp.expire_all = &er;
	return fy_ctl_reply_end(r, &resp);
}

/* Template records sent to the first collector so far (all get the same). */
static uint64_t templates_sent(const struct exp *ex)
{
	const struct fy_nfenc_stats *enc = exp_count(ex) ? exp_enc_stats(ex, 0)
							 : NULL;

	return enc ? enc->template_records : 0;
}

static int h_send_templates(void *arg, const Flowyard__Control__Request *req,
			    struct fy_ctl_reply *r)
{
	struct xctl *x = arg;
	const struct exp *ex = probe_exporter(x->p);
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__SendTemplatesReply sr =
		FLOWYARD__CONTROL__SEND_TEMPLATES_REPLY__INIT;
	uint64_t before = templates_sent(ex);

	(void)req;
	/* Before the first packet of a file nothing was sent yet: the first
	 * message carries the templates anyway. */
	if (exp_started(ex)) {
		probe_send_templates(x->p);
		sr.destinations = (uint32_t)exp_count(ex);
		sr.templates = (uint32_t)(templates_sent(ex) - before);
	}
	fy_info("control: templates sent to %" PRIu32 " collector(s)",
		sr.destinations);
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_SEND_TEMPLATES;
	resp.send_templates = &sr;
	return fy_ctl_reply_end(r, &resp);
}

/* The collectord commands stay NULL: ERROR_NOT_SUPPORTED. */
static const struct fy_ctl_handler handlers[FY_CTL_NCMD] = {
	[FY_CTL_CMD_STATUS] = {h_status},
	[FY_CTL_CMD_SET_LOG_LEVEL] = {fy_ctl_set_log_level},
	[FY_CTL_CMD_DUMP_FLOWS] = {h_dump_flows},
	[FY_CTL_CMD_EXPIRE_ALL] = {h_expire_all},
	[FY_CTL_CMD_SEND_TEMPLATES] = {h_send_templates},
};

struct xctl *xctl_start(struct ev_loop *loop, const struct xcfg *cfg,
			pcap_t *pc, struct probe *p)
{
	struct xctl *x = calloc(1, sizeof(*x));
	struct fy_ctl_server_cfg sc = {
		.path = cfg->socket_path,
		.daemon = "exporterd",
		.group = cfg->socket_group,
		.handlers = handlers,
		.log = fy_ctl_log,
	};

	if (x == NULL) {
		fy_err("control socket %s: out of memory", cfg->socket_path);
		return NULL;
	}
	x->cfg = cfg;
	x->pc = pc;
	x->p = p;
	x->start_ms = wall_ms();
	sc.handler_arg = x;
	if (fy_ctl_server_new(loop, &sc, &x->srv) != 0) {
		free(x);
		return NULL;
	}
	fy_notice("control socket %s", cfg->socket_path);
	return x;
}

void xctl_stop(struct xctl *x)
{
	if (x == NULL)
		return;
	fy_ctl_server_free(x->srv);
	free(x);
}
