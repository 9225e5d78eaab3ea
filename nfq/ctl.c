/*
 * ctl.c - nfq's control-socket commands: what a running collectord or
 * exporterd says about itself, and what it can be told to do.
 *
 *   nfq status [--exporterd] [--socket PATH] [--json]
 *   nfq exporters [--socket PATH] [--json]
 *   nfq templates [EXPORTER] [--socket PATH] [--json]
 *   nfq rotate [IDENTIFIER] [--socket PATH]
 *   nfq reload [--socket PATH]
 *   nfq loglevel LEVEL [--exporterd] [--socket PATH]
 *   nfq dump-flows [FILTER] [--max N] [--socket PATH] [--json]
 *   nfq expire-all | send-templates [--socket PATH]
 *   nfq metrics [--socket PATH]   (Prometheus text format)
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "flow.h"
#include "ie.h"
#include "nfq.h"

#define COLLECTORD_SOCK "/run/flowyard/collectord.sock"
#define EXPORTERD_SOCK "/run/flowyard/exporterd.sock"

struct ctl_out {
	bool json;
	unsigned items; /* printed so far, for JSON commas and headers */
	/* nfq exporters: the caps come in the last part, printed after */
	Flowyard__Control__LimitInfo **limits;
	size_t nlimits;
};

static void addr_text(ProtobufCBinaryData b, char *buf, size_t len)
{
	struct fy_addr a;

	memset(&a, 0, sizeof(a));
	if (b.len == 4)
		fy_addr_set_v4_bytes(&a, b.data);
	else if (b.len == 16)
		memcpy(a.b, b.data, 16);
	else {
		snprintf(buf, len, "?");
		return;
	}
	fy_addr_str(&a, buf, len);
}

static void ms_text(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* JSON string: our strings are paths and identifiers; escape anyway. */
static void jstr(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* The caps of collectord's listeners: a table, or a JSON array. */
static void print_limits(Flowyard__Control__LimitInfo *const *v, size_t n,
			 bool json)
{
	size_t i;

	if (json)
		printf("[");
	else if (n)
		printf("Limits:\n  %5s %-26s %12s %12s %12s\n", "Port", "Limit",
		       "Value", "Used", "Hits");
	for (i = 0; i < n; i++) {
		const Flowyard__Control__LimitInfo *l = v[i];
		if (json) {
			printf("%s{\"name\":", i ? "," : "");
			jstr(l->name);
			printf(",\"port\":%u,\"limit\":%" PRIu64
			       ",\"used\":%" PRIu64 ",\"hits\":%" PRIu64 "}",
			       l->port, l->limit, l->used, l->hits);
		} else {
			printf("  %5u %-26s %12" PRIu64 " %12" PRIu64
			       " %12" PRIu64 "\n",
			       l->port, l->name, l->limit, l->used, l->hits);
		}
	}
	if (json)
		printf("]");
}

static void print_status(const Flowyard__Control__StatusReply *s, bool json)
{
	char start[32];

	ms_text(s->start_time_ms, start, sizeof(start));
	if (json) {
		printf("{\"version\":");
		jstr(s->version);
		printf(",\"pid\":%u,\"start\":\"%s\",\"uptime_ms\":%" PRIu64
		       ",\"log_level\":",
		       s->pid, start, s->uptime_ms);
		jstr(s->log_level);
	} else {
		printf("Version:        %s\nPid:            %u\n"
		       "Started:        %s\nUptime:         %" PRIu64 " s\n"
		       "Log level:      %s\n",
		       s->version, s->pid, start, s->uptime_ms / 1000,
		       s->log_level);
	}
	if (s->detail_case ==
	    FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_COLLECTOR) {
		const Flowyard__Control__CollectorStatus *c = s->collector;
		const Flowyard__Control__CollectorTotals *t = c->totals;
		size_t i;

		if (json) {
			printf(",\"exporters\":%u,\"templates\":%u,"
			       "\"kernel_drops\":%" PRIu64 ",\"totals\":{"
			       "\"packets\":%" PRIu64 ",\"flows\":%" PRIu64
			       ",\"bytes\":%" PRIu64 ",\"malformed\":%" PRIu64
			       ",\"sequence_failures\":%" PRIu64
			       ",\"lost_flows\":%" PRIu64
			       ",\"no_template\":%" PRIu64
			       ",\"files_written\":%" PRIu64
			       ",\"write_errors\":%" PRIu64
			       ",\"flows_not_written\":%" PRIu64
			       ",\"files_recovered\":%" PRIu64
			       ",\"files_unfinished\":%" PRIu64
			       ",\"limit_hits\":%" PRIu64
			       ",\"sessions_evicted\":%" PRIu64 "},\"limits\":",
			       c->exporters, c->templates, c->kernel_drops,
			       t->packets, t->flows, t->bytes, t->malformed,
			       t->sequence_failures, t->lost_flows,
			       t->no_template, t->files_written,
			       t->write_errors, t->flows_not_written,
			       t->files_recovered, t->files_unfinished,
			       t->limit_hits, t->sessions_evicted);
			print_limits(c->limits, c->n_limits, true);
			printf(",\"listeners\":[");
		} else {
			printf("Exporters:      %u (%u templates)\n"
			       "Packets:        %" PRIu64
			       "\nFlows:          %" PRIu64
			       "\nBytes:          %" PRIu64
			       "\nMalformed:      %" PRIu64
			       "\nSeq failures:   %" PRIu64 " (%" PRIu64
			       " flows lost)\nNo template:    %" PRIu64
			       "\nKernel drops:   %" PRIu64
			       "\nFiles written:  %" PRIu64
			       "\nWrite errors:   %" PRIu64 " (%" PRIu64
			       " flows not written)"
			       "\nUnfinished:     %" PRIu64 " files (%" PRIu64
			       " recovered)"
			       "\nLimit hits:     %" PRIu64
			       "\nEvicted:        %" PRIu64 " idle sessions\n",
			       c->exporters, c->templates, t->packets, t->flows,
			       t->bytes, t->malformed, t->sequence_failures,
			       t->lost_flows, t->no_template, c->kernel_drops,
			       t->files_written, t->write_errors,
			       t->flows_not_written, t->files_unfinished,
			       t->files_recovered, t->limit_hits,
			       t->sessions_evicted);
			print_limits(c->limits, c->n_limits, false);
			printf("Listeners:\n");
		}
		for (i = 0; i < c->n_listeners; i++) {
			const Flowyard__Control__Listener *l = c->listeners[i];
			if (json) {
				printf("%s{\"bind\":", i ? "," : "");
				jstr(l->bind);
				printf(",\"port\":%u,\"identifier\":", l->port);
				jstr(l->identifier);
				printf(",\"tree\":");
				jstr(l->tree);
				printf(",\"packets\":%" PRIu64
				       ",\"kernel_drops\":%" PRIu64 "}",
				       l->packets, l->kernel_drops);
			} else {
				printf("  %s port %u  %-16s %s  packets %" PRIu64
				       "  kernel drops %" PRIu64 "\n",
				       l->bind, l->port, l->identifier, l->tree,
				       l->packets, l->kernel_drops);
			}
		}
		if (json)
			printf("]");
	} else if (s->detail_case ==
		   FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_EXPORTERD) {
		const Flowyard__Control__ExporterdStatus *e = s->exporterd;
		const Flowyard__Control__ExpiredFlows *x = e->expired;
		const Flowyard__Control__CaptureStats *cs = e->capture;

		if (json) {
			printf(",\"active_flows\":%" PRIu64
			       ",\"records_exported\":%" PRIu64
			       ",\"packets_exported\":%" PRIu64
			       ",\"send_errors\":%" PRIu64,
			       e->active_flows, e->records_exported,
			       e->packets_exported, e->send_errors);
			if (cs)
				printf(",\"capture\":{\"recv\":%" PRIu64
				       ",\"drop\":%" PRIu64
				       ",\"ifdrop\":%" PRIu64 "}",
				       cs->recv, cs->drop, cs->ifdrop);
			if (x)
				printf(",\"expired\":{\"idle\":%" PRIu64
				       ",\"active\":%" PRIu64
				       ",\"end\":%" PRIu64
				       ",\"forced\":%" PRIu64
				       ",\"lack_of_resources\":%" PRIu64 "}",
				       x->idle, x->active, x->end, x->forced,
				       x->lack_of_resources);
		} else {
			if (cs)
				printf("Capture:        %s: %" PRIu64
				       " received, %" PRIu64
				       " dropped, %" PRIu64
				       " dropped by the interface\n",
				       cs->source, cs->recv, cs->drop,
				       cs->ifdrop);
			printf("Active flows:   %" PRIu64
			       "\nExported:       %" PRIu64
			       " records in %" PRIu64 " packets, %" PRIu64
			       " send errors\n",
			       e->active_flows, e->records_exported,
			       e->packets_exported, e->send_errors);
			if (x)
				printf("Expired:        idle %" PRIu64
				       ", active %" PRIu64 ", end %" PRIu64
				       ", forced %" PRIu64
				       ", lack of resources %" PRIu64 "\n",
				       x->idle, x->active, x->end, x->forced,
				       x->lack_of_resources);
		}
	}
	if (json)
		printf("}\n");
}

static void print_exporter(const Flowyard__Control__ExporterInfo *e,
			   struct ctl_out *o)
{
	char a[FY_ADDR_STRLEN], last[32];

	addr_text(e->address, a, sizeof(a));
	ms_text(e->last_seen_ms, last, sizeof(last));
	if (o->json) {
		printf("%s{\"address\":\"%s\",\"port\":%u,\"domain\":%u,"
		       "\"version\":%u,\"identifier\":",
		       o->items ? "," : "", a, e->port, e->domain, e->version);
		jstr(e->identifier);
		printf(",\"packets\":%" PRIu64 ",\"flows\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"sequence_failures\":%" PRIu64
		       ",\"lost_flows\":%" PRIu64 ",\"malformed\":%" PRIu64
		       ",\"no_template\":%" PRIu64 ",\"templates\":%u,"
		       "\"templates_rejected\":%" PRIu64 ","
		       "\"first_seen_ms\":%" PRIu64 ",\"last_seen_ms\":%" PRIu64
		       ",\"current_file\":",
		       e->packets, e->flows, e->bytes, e->sequence_failures,
		       e->lost_flows, e->malformed, e->no_template,
		       e->templates, e->templates_rejected, e->first_seen_ms,
		       e->last_seen_ms);
		jstr(e->current_file);
		printf("}");
	} else {
		if (o->items == 0)
			printf("%-28s %5s %10s %3s %-14s %10s %10s %14s %8s %8s "
			       "%6s %6s %5s %7s  %s\n",
			       "Exporter", "Port", "Domain", "Ver", "Ident",
			       "Packets", "Flows", "Bytes", "SeqFail", "Lost",
			       "Malf", "NoTmpl", "Tmpl", "TmplRej",
			       "Last seen");
		printf("%-28s %5u %10u %3u %-14s %10" PRIu64 " %10" PRIu64
		       " %14" PRIu64 " %8" PRIu64 " %8" PRIu64 " %6" PRIu64
		       " %6" PRIu64 " %5u %7" PRIu64 "  %s\n",
		       a, e->port, e->domain, e->version,
		       e->identifier[0] ? e->identifier : "-", e->packets,
		       e->flows, e->bytes, e->sequence_failures, e->lost_flows,
		       e->malformed, e->no_template, e->templates,
		       e->templates_rejected, last);
	}
	o->items++;
}

static void print_template(const Flowyard__Control__TemplateInfo *t,
			   struct ctl_out *o)
{
	char a[FY_ADDR_STRLEN];
	size_t i;

	addr_text(t->exporter, a, sizeof(a));
	if (o->json) {
		printf("%s{\"exporter\":\"%s\",\"port\":%u,\"domain\":%u,"
		       "\"template\":%u,\"options\":%s,\"version\":%u,"
		       "\"fields\":[",
		       o->items ? "," : "", a, t->port, t->domain,
		       t->template_id, t->is_options ? "true" : "false",
		       t->version);
	} else {
		printf("%s:%u domain %u v%u %s %u (%zu fields):\n", a, t->port,
		       t->domain, t->version,
		       t->is_options ? "options template" : "template",
		       t->template_id, t->n_fields);
	}
	for (i = 0; i < t->n_fields; i++) {
		const Flowyard__Control__TemplateField *f = t->fields[i];
		const struct fy_ie *ie = fy_ie_lookup(f->pen, (uint16_t)f->id);
		if (o->json)
			printf("%s{\"pen\":%u,\"id\":%u,\"length\":%u}",
			       i ? "," : "", f->pen, f->id, f->len);
		else if (f->pen)
			printf("  %u/%u%s len %u\n", f->pen, f->id,
			       ie ? "" : "", f->len);
		else
			printf("  %-5u %-32s len %u\n", f->id,
			       ie ? ie->name : "(unknown)", f->len);
	}
	if (o->json)
		printf("]}");
	o->items++;
}

static void print_flow(const Flowyard__Control__Flow *f, struct ctl_out *o)
{
	char s[FY_ADDR_STRLEN], d[FY_ADDR_STRLEN], t[32];

	addr_text(f->src_addr, s, sizeof(s));
	addr_text(f->dst_addr, d, sizeof(d));
	ms_text(f->first_ms, t, sizeof(t));
	if (o->json)
		printf("%s{\"first_ms\":%" PRIu64 ",\"last_ms\":%" PRIu64
		       ",\"src\":\"%s\",\"dst\":\"%s\",\"sport\":%u,"
		       "\"dport\":%u,\"proto\":%u,\"packets\":%" PRIu64
		       ",\"bytes\":%" PRIu64 "}",
		       o->items ? "," : "", f->first_ms, f->last_ms, s, d,
		       f->src_port, f->dst_port, f->proto, f->packets,
		       f->bytes);
	else
		printf("%s %5u %s:%u -> %s:%u %" PRIu64 " packets %" PRIu64
		       " bytes\n",
		       t, f->proto, s, f->src_port, d, f->dst_port, f->packets,
		       f->bytes);
	o->items++;
}

/* Prometheus text exposition: one family per counter. */
static void metric(const char *name, const char *help, const char *type,
		   uint64_t v)
{
	printf("# HELP flowyard_%s %s\n# TYPE flowyard_%s %s\n"
	       "flowyard_%s %" PRIu64 "\n",
	       name, help, name, type, name, v);
}

static void metrics_status(const Flowyard__Control__StatusReply *s)
{
	const Flowyard__Control__CollectorTotals *t;

	metric("uptime_seconds", "Seconds since the daemon started.", "gauge",
	       s->uptime_ms / 1000);
	if (s->detail_case != FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_COLLECTOR)
		return;
	t = s->collector->totals;
	metric("packets_total", "Export packets received.", "counter",
	       t->packets);
	metric("flows_total", "Flows stored.", "counter", t->flows);
	metric("bytes_total", "Bytes of the flows stored.", "counter",
	       t->bytes);
	metric("malformed_packets_total", "Packets dropped as malformed.",
	       "counter", t->malformed);
	metric("sequence_failures_total", "Sequence numbers out of order.",
	       "counter", t->sequence_failures);
	metric("lost_flows_total", "Flows lost, estimated from sequence gaps.",
	       "counter", t->lost_flows);
	metric("no_template_total", "Data sets whose template never came.",
	       "counter", t->no_template);
	metric("kernel_drops_total", "Datagrams the kernel dropped.", "counter",
	       s->collector->kernel_drops);
	metric("files_written_total", "Flow files closed.", "counter",
	       t->files_written);
	metric("write_errors_total", "Failed writes (a full disk...).",
	       "counter", t->write_errors);
	metric("flows_not_written_total", "Flows lost to write errors.",
	       "counter", t->flows_not_written);
	metric("unfinished_files", "Closed files still waiting for a footer.",
	       "gauge", t->files_unfinished);
	metric("limit_hits_total", "Refusals by a decoder or -M cap.",
	       "counter", t->limit_hits);
	metric("sessions_evicted_total",
	       "Exporter sessions forgotten after --session-idle.", "counter",
	       t->sessions_evicted);
	metric("exporters", "Exporter sessions known.", "gauge",
	       s->collector->exporters);
	metric("templates", "Templates held.", "gauge",
	       s->collector->templates);
}

/* One exporter's counters, kept so that each family prints as a group. */
struct mexp {
	char addr[FY_ADDR_STRLEN];
	char ident[64];
	uint32_t port, domain;
	uint64_t v[6];
};

static struct mexp *mexps;
static size_t nmexps;

static void metrics_exporter(const Flowyard__Control__ExporterInfo *e)
{
	struct mexp *m = realloc(mexps, (nmexps + 1) * sizeof(*m));

	if (m == NULL)
		return;
	mexps = m;
	m = &mexps[nmexps++];
	addr_text(e->address, m->addr, sizeof(m->addr));
	snprintf(m->ident, sizeof(m->ident), "%s", e->identifier);
	m->port = e->port;
	m->domain = e->domain;
	m->v[0] = e->packets;
	m->v[1] = e->flows;
	m->v[2] = e->bytes;
	m->v[3] = e->sequence_failures;
	m->v[4] = e->lost_flows;
	m->v[5] = e->malformed;
}

static void metrics_exporters_print(void)
{
	static const char *const names[] = {"packets",	  "flows",
					    "bytes",	  "sequence_failures",
					    "lost_flows", "malformed"};
	size_t i, k;

	for (i = 0; i < 6; i++) {
		printf("# TYPE flowyard_exporter_%s_total counter\n", names[i]);
		for (k = 0; k < nmexps; k++) {
			printf("flowyard_exporter_%s_total{exporter=\"%s\","
			       "port=\"%u\",domain=\"%u\",identifier=",
			       names[i], mexps[k].addr, mexps[k].port,
			       mexps[k].domain);
			jstr(mexps[k].ident);
			printf("} %" PRIu64 "\n", mexps[k].v[i]);
		}
	}
	free(mexps);
	mexps = NULL;
	nmexps = 0;
}

static int on_metrics(void *arg, const Flowyard__Control__Response *p)
{
	struct ctl_out *o = arg;
	size_t i;

	if (p->result_case == FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS)
		metrics_status(p->status);
	if (p->result_case == FLOWYARD__CONTROL__RESPONSE__RESULT_EXPORTERS)
		for (i = 0; i < p->exporters->n_exporters; i++)
			metrics_exporter(p->exporters->exporters[i]);
	(void)o;
	return 0;
}

/* Copies the caps of a reply part: printed once the reply is done. */
static void keep_limits(struct ctl_out *o, Flowyard__Control__LimitInfo **v,
			size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		Flowyard__Control__LimitInfo **nv, *c;

		nv = realloc(o->limits, (o->nlimits + 1) * sizeof(*nv));
		c = malloc(sizeof(*c));
		if (nv)
			o->limits = nv;
		if (nv == NULL || c == NULL ||
		    (*c = *v[i], c->name = strdup(v[i]->name)) == NULL) {
			free(c);
			return;
		}
		o->limits[o->nlimits++] = c;
	}
}

static void free_limits(struct ctl_out *o)
{
	while (o->nlimits) {
		free(o->limits[--o->nlimits]->name);
		free(o->limits[o->nlimits]);
	}
	free(o->limits);
	o->limits = NULL;
}

static int on_part(void *arg, const Flowyard__Control__Response *p)
{
	struct ctl_out *o = arg;
	size_t i;

	switch (p->result_case) {
	case FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS:
		print_status(p->status, o->json);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_EXPORTERS:
		for (i = 0; i < p->exporters->n_exporters; i++)
			print_exporter(p->exporters->exporters[i], o);
		if (p->exporters->n_limits)
			keep_limits(o, p->exporters->limits,
				    p->exporters->n_limits);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_TEMPLATES:
		for (i = 0; i < p->templates->n_templates; i++)
			print_template(p->templates->templates[i], o);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_ROTATE:
		for (i = 0; i < p->rotate->n_files_closed; i++)
			printf("closed %s\n", p->rotate->files_closed[i]);
		for (i = 0; i < p->rotate->n_errors; i++)
			printf("error %s\n", p->rotate->errors[i]);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_RELOAD:
		for (i = 0; i < p->reload->n_changes; i++)
			printf("%s\n", p->reload->changes[i]);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_SET_LOG_LEVEL:
		printf("log level %s (was %s)\n", p->set_log_level->current,
		       p->set_log_level->previous);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_DUMP_FLOWS:
		for (i = 0; i < p->dump_flows->n_flows; i++)
			print_flow(p->dump_flows->flows[i], o);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_EXPIRE_ALL:
		printf("%" PRIu64 " flows expired\n",
		       p->expire_all->flows_expired);
		break;
	case FLOWYARD__CONTROL__RESPONSE__RESULT_SEND_TEMPLATES:
		printf("templates will go with the next message\n");
		break;
	default:
		break;
	}
	return 0;
}

static void usage(void)
{
	fputs("usage: nfq status [--exporterd] [--socket PATH] [--json]\n"
	      "       nfq exporters [--socket PATH] [--json]\n"
	      "       nfq templates [EXPORTER] [--socket PATH] [--json]\n"
	      "       nfq rotate [IDENTIFIER] [--socket PATH]\n"
	      "       nfq reload [--socket PATH]\n"
	      "       nfq loglevel LEVEL [--exporterd] [--socket PATH]\n"
	      "       nfq dump-flows [FILTER] [--max N] [--socket PATH] "
	      "[--json]\n"
	      "       nfq expire-all | send-templates [--socket PATH]\n"
	      "       nfq metrics [--socket PATH]  (Prometheus text)\n"
	      "The collector's socket is " COLLECTORD_SOCK
	      ", the probe's " EXPORTERD_SOCK ".\n",
	      stderr);
}

int nfq_cmd_ctl(int argc, char **argv)
{
	static const struct option lo[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"exporterd", no_argument, NULL, 'e'},
		{"max", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	Flowyard__Control__Request rq = FLOWYARD__CONTROL__REQUEST__INIT;
	Flowyard__Control__StatusRequest st =
		FLOWYARD__CONTROL__STATUS_REQUEST__INIT;
	Flowyard__Control__ExportersRequest ex =
		FLOWYARD__CONTROL__EXPORTERS_REQUEST__INIT;
	Flowyard__Control__TemplatesRequest tq =
		FLOWYARD__CONTROL__TEMPLATES_REQUEST__INIT;
	Flowyard__Control__RotateRequest ro =
		FLOWYARD__CONTROL__ROTATE_REQUEST__INIT;
	Flowyard__Control__ReloadRequest rl =
		FLOWYARD__CONTROL__RELOAD_REQUEST__INIT;
	Flowyard__Control__SetLogLevelRequest ll =
		FLOWYARD__CONTROL__SET_LOG_LEVEL_REQUEST__INIT;
	Flowyard__Control__DumpFlowsRequest df =
		FLOWYARD__CONTROL__DUMP_FLOWS_REQUEST__INIT;
	Flowyard__Control__ExpireAllRequest ea =
		FLOWYARD__CONTROL__EXPIRE_ALL_REQUEST__INIT;
	Flowyard__Control__SendTemplatesRequest stq =
		FLOWYARD__CONTROL__SEND_TEMPLATES_REQUEST__INIT;
	struct ctl_out o = {0};
	const char *sock = NULL, *cmd = argv[0], *arg = NULL;
	bool probe = false;
	char err[512];
	int c, r, remote = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'e':
			probe = true;
			break;
		case 'm':
			df.max_flows = strtoull(optarg, NULL, 10);
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind < argc)
		arg = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "nfq %s: unexpected argument '%s'\n", cmd,
			argv[optind]);
		return 2;
	}
	if (strcmp(cmd, "metrics") == 0) {
		/* status, then the exporters: two calls, one output */
		Flowyard__Control__Request r2 =
			FLOWYARD__CONTROL__REQUEST__INIT;

		if (sock == NULL)
			sock = COLLECTORD_SOCK;
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_STATUS;
		rq.status = &st;
		r = fy_ctl_call(sock, 0, &rq, on_metrics, &o, &remote, err,
				sizeof(err));
		if (r == 0) {
			r2.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS;
			r2.exporters = &ex;
			r = fy_ctl_call(sock, 0, &r2, on_metrics, &o, &remote,
					err, sizeof(err));
			metrics_exporters_print();
		}
		if (r) {
			fflush(stdout);
			fprintf(stderr, "nfq metrics: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "status") == 0) {
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_STATUS;
		rq.status = &st;
	} else if (strcmp(cmd, "exporters") == 0) {
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS;
		rq.exporters = &ex;
	} else if (strcmp(cmd, "templates") == 0) {
		tq.exporter = (char *)(arg ? arg : "");
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_TEMPLATES;
		rq.templates = &tq;
	} else if (strcmp(cmd, "rotate") == 0) {
		ro.identifier = (char *)(arg ? arg : "");
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_ROTATE;
		rq.rotate = &ro;
	} else if (strcmp(cmd, "reload") == 0) {
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_RELOAD;
		rq.reload = &rl;
	} else if (strcmp(cmd, "loglevel") == 0) {
		if (arg == NULL) {
			fprintf(stderr, "nfq loglevel: which level? (err, "
					"warning, notice, info, debug)\n");
			return 2;
		}
		ll.level = (char *)arg;
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_SET_LOG_LEVEL;
		rq.set_log_level = &ll;
	} else if (strcmp(cmd, "dump-flows") == 0) {
		df.filter = (char *)(arg ? arg : "");
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_DUMP_FLOWS;
		rq.dump_flows = &df;
		probe = true;
	} else if (strcmp(cmd, "expire-all") == 0) {
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_EXPIRE_ALL;
		rq.expire_all = &ea;
		probe = true;
	} else if (strcmp(cmd, "send-templates") == 0) {
		rq.cmd_case = FLOWYARD__CONTROL__REQUEST__CMD_SEND_TEMPLATES;
		rq.send_templates = &stq;
		probe = true;
	} else {
		usage();
		return 2;
	}
	if (sock == NULL)
		sock = probe ? EXPORTERD_SOCK : COLLECTORD_SOCK;
	if (o.json &&
	    (rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS ||
	     rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_TEMPLATES ||
	     rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_DUMP_FLOWS))
		printf("[");
	/* the caps after the exporter table; with --json they are in
	 * `nfq status --json`, so that this stays one JSON array */
	r = fy_ctl_call(sock, 0, &rq, on_part, &o, &remote, err, sizeof(err));
	if (o.json &&
	    (rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS ||
	     rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_TEMPLATES ||
	     rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_DUMP_FLOWS))
		printf("]\n");
	if (r == 0 &&
	    rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS &&
	    !o.json && o.items == 0)
		printf("No exporter: nothing received yet, or every session "
		       "evicted.\n");
	if (r == 0 &&
	    rq.cmd_case == FLOWYARD__CONTROL__REQUEST__CMD_EXPORTERS &&
	    o.nlimits && !o.json) {
		printf("\n");
		print_limits(o.limits, o.nlimits, false);
	}
	free_limits(&o);
	if (r) {
		fflush(stdout);
		fprintf(stderr, "nfq %s: %s\n", cmd, err);
		return 1;
	}
	return 0;
}
