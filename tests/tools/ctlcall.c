/*
 * ctlcall - a generic control socket client for the integration tests:
 * sends one command to collectord or exporterd and prints the reply as
 * key=value lines (a list item is one line of space-separated pairs, its
 * first key naming the kind: "flow=0 proto=17 src=...").
 *
 * usage: ctlcall [-t MS] SOCKET COMMAND [ARGS]
 *   status                       both daemons
 *   loglevel LEVEL               both
 *   exporters                    collectord
 *   templates [EXPORTER]         collectord
 *   rotate [IDENTIFIER]          collectord; "file=PATH" per file closed
 *   reload                       collectord; "change=..." per change
 *   dump-flows [FILTER [MAX]]    exporterd; "flow=N ..." per flow, then
 *                                "flows=N" (received) and "matched=N"
 *   expire-all                   exporterd
 *   send-templates               exporterd
 *
 * Exit status: 0 on a reply; 1 on an error, printed as "error=CODE",
 * "error_name=NAME" and "message=TEXT" (CODE 0: no reply from the
 * daemon, e.g. it could not be reached); 2 on a usage error. Also
 * "parts=N": the reply parts received.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "flow.h"

struct out {
	uint64_t parts;
	uint64_t items; /* flows, exporters or templates printed */
};

static void print_bytes_addr(const char *key, ProtobufCBinaryData b)
{
	struct fy_addr a;
	char buf[FY_ADDR_STRLEN];

	memset(&a, 0, sizeof(a));
	if (b.len == 4)
		fy_addr_set_v4_bytes(&a, b.data);
	else if (b.len == 16)
		memcpy(a.b, b.data, 16);
	else {
		printf(" %s=", key);
		return;
	}
	printf(" %s=%s", key, fy_addr_str(&a, buf, sizeof(buf)));
}

static void print_mac(const char *key, ProtobufCBinaryData b)
{
	if (b.len != 6)
		return;
	printf(" %s=%02x:%02x:%02x:%02x:%02x:%02x", key, b.data[0], b.data[1],
	       b.data[2], b.data[3], b.data[4], b.data[5]);
}

/* ---- status ---- */

static void print_control(const Flowyard__Control__ControlCounters *c)
{
	if (c == NULL)
		return;
	printf("control.connections=%" PRIu64 "\n", c->connections);
	printf("control.refused_permission=%" PRIu64 "\n",
	       c->refused_permission);
	printf("control.refused_busy=%" PRIu64 "\n", c->refused_busy);
	printf("control.bad_frames=%" PRIu64 "\n", c->bad_frames);
	printf("control.timeouts=%" PRIu64 "\n", c->timeouts);
	printf("control.requests=%" PRIu64 "\n", c->requests);
	printf("control.clients=%" PRIu32 "\n", c->clients);
}

static void print_collector(const Flowyard__Control__CollectorStatus *cs)
{
	const Flowyard__Control__CollectorTotals *t = cs->totals;
	size_t i;

	for (i = 0; i < cs->n_listeners; i++) {
		const Flowyard__Control__Listener *l = cs->listeners[i];

		printf("listener=%zu port=%" PRIu32 " bind=%s identifier=%s "
		       "tree=%s packets=%" PRIu64 " kernel_drops=%" PRIu64 "\n",
		       i, l->port, l->bind, l->identifier, l->tree, l->packets,
		       l->kernel_drops);
	}
	printf("listeners=%zu\n", cs->n_listeners);
	printf("kernel_drops=%" PRIu64 "\n", cs->kernel_drops);
	printf("exporters=%" PRIu32 "\n", cs->exporters);
	printf("templates=%" PRIu32 "\n", cs->templates);
	if (t == NULL)
		return;
	printf("totals.packets=%" PRIu64 "\ntotals.flows=%" PRIu64
	       "\ntotals.bytes=%" PRIu64 "\ntotals.malformed=%" PRIu64
	       "\ntotals.bad_version=%" PRIu64
	       "\ntotals.sequence_failures=%" PRIu64
	       "\ntotals.lost_flows=%" PRIu64 "\ntotals.no_template=%" PRIu64
	       "\ntotals.sessions_rejected=%" PRIu64
	       "\ntotals.files_written=%" PRIu64 "\n",
	       t->packets, t->flows, t->bytes, t->malformed, t->bad_version,
	       t->sequence_failures, t->lost_flows, t->no_template,
	       t->sessions_rejected, t->files_written);
}

static void print_exporterd(const Flowyard__Control__ExporterdStatus *es)
{
	size_t i;

	if (es->capture != NULL)
		printf("capture.source=%s\ncapture.recv=%" PRIu64
		       "\ncapture.drop=%" PRIu64 "\ncapture.ifdrop=%" PRIu64
		       "\n",
		       es->capture->source, es->capture->recv,
		       es->capture->drop, es->capture->ifdrop);
	printf("active_flows=%" PRIu64 "\n", es->active_flows);
	if (es->expired != NULL)
		printf("expired.idle=%" PRIu64 "\nexpired.active=%" PRIu64
		       "\nexpired.end=%" PRIu64 "\nexpired.forced=%" PRIu64
		       "\nexpired.lack_of_resources=%" PRIu64 "\n",
		       es->expired->idle, es->expired->active, es->expired->end,
		       es->expired->forced, es->expired->lack_of_resources);
	printf("records_exported=%" PRIu64 "\npackets_exported=%" PRIu64
	       "\nsend_errors=%" PRIu64 "\n",
	       es->records_exported, es->packets_exported, es->send_errors);
	for (i = 0; i < es->n_destinations; i++) {
		const Flowyard__Control__Destination *d = es->destinations[i];

		printf("destination=%zu address=%s version=%" PRIu32
		       " packets=%" PRIu64 " records=%" PRIu64
		       " send_errors=%" PRIu64 "\n",
		       i, d->address, d->version, d->packets, d->records,
		       d->send_errors);
	}
	printf("destinations=%zu\n", es->n_destinations);
}

static void print_status(const Flowyard__Control__StatusReply *st)
{
	printf("daemon=%s\n",
	       st->daemon == FLOWYARD__CONTROL__DAEMON__DAEMON_COLLECTORD
		       ? "collectord"
	       : st->daemon == FLOWYARD__CONTROL__DAEMON__DAEMON_EXPORTERD
		       ? "exporterd"
		       : "unknown");
	printf("version=%s\npid=%" PRIu32 "\nstart_time_ms=%" PRIu64
	       "\nuptime_ms=%" PRIu64 "\nlog_level=%s\n",
	       st->version, st->pid, st->start_time_ms, st->uptime_ms,
	       st->log_level);
	print_control(st->control);
	if (st->detail_case ==
	    FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_COLLECTOR)
		print_collector(st->collector);
	else if (st->detail_case ==
		 FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_EXPORTERD)
		print_exporterd(st->exporterd);
}

/* ---- lists ---- */

static void print_exporter(uint64_t n, const Flowyard__Control__ExporterInfo *e)
{
	printf("exporter=%" PRIu64, n);
	print_bytes_addr("address", e->address);
	printf(" port=%" PRIu32 " domain=%" PRIu32 " version=%" PRIu32
	       " identifier=%s packets=%" PRIu64 " flows=%" PRIu64
	       " bytes=%" PRIu64 " sequence_failures=%" PRIu64
	       " lost_flows=%" PRIu64 " malformed=%" PRIu64
	       " no_template=%" PRIu64 " templates=%" PRIu32
	       " first_seen_ms=%" PRIu64 " last_seen_ms=%" PRIu64
	       " options_records=%" PRIu64 " current_file=%s\n",
	       e->port, e->domain, e->version, e->identifier, e->packets,
	       e->flows, e->bytes, e->sequence_failures, e->lost_flows,
	       e->malformed, e->no_template, e->templates, e->first_seen_ms,
	       e->last_seen_ms, e->options_records, e->current_file);
}

static void print_template(uint64_t n, const Flowyard__Control__TemplateInfo *t)
{
	size_t i;

	printf("template=%" PRIu64, n);
	print_bytes_addr("exporter", t->exporter);
	printf(" port=%" PRIu32 " domain=%" PRIu32 " id=%" PRIu32
	       " options=%d version=%" PRIu32 " nfields=%zu fields=",
	       t->port, t->domain, t->template_id, t->is_options ? 1 : 0,
	       t->version, t->n_fields);
	for (i = 0; i < t->n_fields; i++) {
		const Flowyard__Control__TemplateField *f = t->fields[i];

		if (f->pen)
			printf("%s%" PRIu32 ".%" PRIu32 "/%" PRIu32,
			       i ? "," : "", f->pen, f->id, f->len);
		else
			printf("%s%" PRIu32 "/%" PRIu32, i ? "," : "", f->id,
			       f->len);
	}
	printf("\n");
}

static void print_flow(uint64_t n, const Flowyard__Control__Flow *f)
{
	printf("flow=%" PRIu64 " proto=%" PRIu32, n, f->proto);
	print_bytes_addr("src", f->src_addr);
	printf(" sport=%" PRIu32, f->src_port);
	print_bytes_addr("dst", f->dst_addr);
	printf(" dport=%" PRIu32 " packets=%" PRIu64 " bytes=%" PRIu64
	       " first_ms=%" PRIu64 " last_ms=%" PRIu64 " tcp_flags=%" PRIu32
	       " tos=%" PRIu32 " icmp_type=%" PRIu32 " icmp_code=%" PRIu32
	       " vlan=%" PRIu32 " input_if=%" PRIu32 " end_reason=%" PRIu32
	       " out_packets=%" PRIu64 " out_bytes=%" PRIu64,
	       f->dst_port, f->packets, f->bytes, f->first_ms, f->last_ms,
	       f->tcp_flags, f->tos, f->icmp_type, f->icmp_code, f->vlan,
	       f->input_if, f->end_reason, f->out_packets, f->out_bytes);
	if (f->nexthop.len)
		print_bytes_addr("nexthop", f->nexthop);
	print_mac("src_mac", f->src_mac);
	print_mac("dst_mac", f->dst_mac);
	printf("\n");
}

/* Called for every part; lists are numbered across the parts. */
static int on_part(void *arg, const Flowyard__Control__Response *p)
{
	struct out *o = arg;
	size_t i;

	o->parts++;
	switch (p->result_case) {
	case FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS:
		print_status(p->status);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_EXPORTERS:
		for (i = 0; i < p->exporters->n_exporters; i++)
			print_exporter(o->items++, p->exporters->exporters[i]);
		if (!p->more)
			printf("exporters=%" PRIu64 "\n", o->items);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_TEMPLATES:
		for (i = 0; i < p->templates->n_templates; i++)
			print_template(o->items++, p->templates->templates[i]);
		if (!p->more)
			printf("templates=%" PRIu64 "\n", o->items);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_ROTATE:
		for (i = 0; i < p->rotate->n_files_closed; i++)
			printf("file=%s\n", p->rotate->files_closed[i]);
		for (i = 0; i < p->rotate->n_errors; i++)
			printf("rotate_error=%s\n", p->rotate->errors[i]);
		printf("files=%zu\n", p->rotate->n_files_closed);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_RELOAD:
		for (i = 0; i < p->reload->n_changes; i++)
			printf("change=%s\n", p->reload->changes[i]);
		printf("changes=%zu\n", p->reload->n_changes);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_SET_LOG_LEVEL:
		printf("previous=%s\ncurrent=%s\n", p->set_log_level->previous,
		       p->set_log_level->current);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_DUMP_FLOWS:
		for (i = 0; i < p->dump_flows->n_flows; i++)
			print_flow(o->items++, p->dump_flows->flows[i]);
		if (!p->more)
			printf("flows=%" PRIu64 "\nmatched=%" PRIu64 "\n",
			       o->items, p->dump_flows->matched);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_EXPIRE_ALL:
		printf("flows_expired=%" PRIu64 "\n",
		       p->expire_all->flows_expired);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_SEND_TEMPLATES:
		printf("destinations=%" PRIu32 "\ntemplates=%" PRIu32 "\n",
		       p->send_templates->destinations,
		       p->send_templates->templates);
		break;
	default:
		printf("result=%d\n", (int)p->result_case);
		break;
	}
	return 0;
}

/* The request's sub-messages live here, as the request points at them. */
struct req_buf {
	Flowyard__Control__Request req;
	Flowyard__Control__StatusRequest status;
	Flowyard__Control__ExportersRequest exporters;
	Flowyard__Control__TemplatesRequest templates;
	Flowyard__Control__RotateRequest rotate;
	Flowyard__Control__ReloadRequest reload;
	Flowyard__Control__SetLogLevelRequest loglevel;
	Flowyard__Control__DumpFlowsRequest dump;
	Flowyard__Control__ExpireAllRequest expire;
	Flowyard__Control__SendTemplatesRequest send_templates;
};

static void req_init(struct req_buf *b)
{
	Flowyard__Control__Request req = FLOWYARD__CONTROL__REQUEST__INIT;
	Flowyard__Control__StatusRequest st =
		FLOWYARD__CONTROL__STATUS_REQUEST__INIT;
	Flowyard__Control__ExportersRequest ex =
		FLOWYARD__CONTROL__EXPORTERS_REQUEST__INIT;
	Flowyard__Control__TemplatesRequest tp =
		FLOWYARD__CONTROL__TEMPLATES_REQUEST__INIT;
	Flowyard__Control__RotateRequest ro =
		FLOWYARD__CONTROL__ROTATE_REQUEST__INIT;
	Flowyard__Control__ReloadRequest re =
		FLOWYARD__CONTROL__RELOAD_REQUEST__INIT;
	Flowyard__Control__SetLogLevelRequest ll =
		FLOWYARD__CONTROL__SET_LOG_LEVEL_REQUEST__INIT;
	Flowyard__Control__DumpFlowsRequest df =
		FLOWYARD__CONTROL__DUMP_FLOWS_REQUEST__INIT;
	Flowyard__Control__ExpireAllRequest ea =
		FLOWYARD__CONTROL__EXPIRE_ALL_REQUEST__INIT;
	Flowyard__Control__SendTemplatesRequest sd =
		FLOWYARD__CONTROL__SEND_TEMPLATES_REQUEST__INIT;

	b->req = req;
	b->status = st;
	b->exporters = ex;
	b->templates = tp;
	b->rotate = ro;
	b->reload = re;
	b->loglevel = ll;
	b->dump = df;
	b->expire = ea;
	b->send_templates = sd;
}

/* Builds the request of argv[0] (the command) and its arguments. */
static int build(struct req_buf *b, int argc, char **argv)
{
	const char *cmd = argv[0];
	char *arg1 = argc > 1 ? argv[1] : NULL;
	Flowyard__Control__Request *r = &b->req;

	req_init(b);
	if (strcmp(cmd, "status") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_STATUS;
		r->status = &b->status;
	} else if (strcmp(cmd, "exporters") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS;
		r->exporters = &b->exporters;
	} else if (strcmp(cmd, "templates") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_TEMPLATES;
		if (arg1)
			b->templates.exporter = arg1;
		r->templates = &b->templates;
	} else if (strcmp(cmd, "rotate") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_ROTATE;
		if (arg1)
			b->rotate.identifier = arg1;
		r->rotate = &b->rotate;
	} else if (strcmp(cmd, "reload") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_RELOAD;
		r->reload = &b->reload;
	} else if (strcmp(cmd, "loglevel") == 0 && arg1) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_SET_LOG_LEVEL;
		b->loglevel.level = arg1;
		r->set_log_level = &b->loglevel;
	} else if (strcmp(cmd, "dump-flows") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_DUMP_FLOWS;
		if (arg1)
			b->dump.filter = arg1;
		if (argc > 2)
			b->dump.max_flows = strtoull(argv[2], NULL, 10);
		r->dump_flows = &b->dump;
	} else if (strcmp(cmd, "expire-all") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_EXPIRE_ALL;
		r->expire_all = &b->expire;
	} else if (strcmp(cmd, "send-templates") == 0) {
		r->cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_SEND_TEMPLATES;
		r->send_templates = &b->send_templates;
	} else {
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ctlcall [-t MS] SOCKET COMMAND [ARGS]\n"
		"commands: status, loglevel LEVEL, exporters, templates "
		"[EXPORTER],\n  rotate [IDENT], reload, dump-flows [FILTER "
		"[MAX]], expire-all, send-templates\n");
}

int main(int argc, char **argv)
{
	struct req_buf b;
	struct out o = {0};
	char err[1024] = "";
	int timeout_ms = 5000, remote = 0, r;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		timeout_ms = atoi(argv[2]);
		argc -= 2;
		argv += 2;
	}
	if (argc < 3 || build(&b, argc - 2, argv + 2) != 0) {
		usage();
		return 2;
	}
	r = fy_ctl_call(argv[1], timeout_ms, &b.req, on_part, &o, &remote, err,
			sizeof(err));
	printf("parts=%" PRIu64 "\n", o.parts);
	if (r == 0)
		return 0;
	printf("error=%d\nerror_name=%s\nmessage=%s\n", remote > 0 ? remote : 0,
	       remote > 0 ? fy_ctl_err_name(remote) : "none", err);
	fflush(stdout);
	fprintf(stderr, "ctlcall: %s\n", err);
	return 1;
}
