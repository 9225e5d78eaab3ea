/*
 * control.c - collectord's side of the control socket: the handlers of
 * Status, Exporters, Templates, Rotate, Reload and SetLogLevel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectord.h"
#include "ctl.h"
#include "ctl_log.h"
#include "log.h"

#define VERSION "flowyard 0.1.0"
#define PART_ITEMS 128 /* exporters or templates per reply part */

/*
 * The handlers read the receive side's state (decoders, routes, trees):
 * with receive threads they hold them all (co_pause) while they do.
 */

/* Totals of a listener's decoders, one per receive thread. */
static void listener_totals(const struct listener *l,
			    struct fy_nfdec_totals *out)
{
	/* every field is a uint64_t counter: summed as an array, so that
	 * a counter added to the decoder is summed too */
	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0,
		       "fy_nfdec_totals holds uint64_t counters only");
	uint64_t *o = (uint64_t *)out;
	unsigned k;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < l->co->nlanes; k++) {
		const uint64_t *t =
			(const uint64_t *)fy_nfdec_totals(l->rx[k].dec);
		for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
			o[i] += t[i];
	}
}

/* Where a session's packets go, without making a -M tree for it. */
static struct tree *tree_of(const struct listener *l, const struct fy_addr *a)
{
	size_t j;

	for (j = 0; j < l->nsrc; j++)
		if (memcmp(&l->src[j].addr, a, sizeof(*a)) == 0)
			return l->src[j].tree;
	for (j = 0; j < l->ndyn; j++)
		if (memcmp(&l->dyn[j].addr, a, sizeof(*a)) == 0)
			return l->dyn[j].tree;
	return l->deftree;
}

static void addr_bytes(const struct fy_addr *a, ProtobufCBinaryData *out)
{
	/* 4 bytes for IPv4, as the proto says; points into `a` */
	if (fy_addr_is_v4(a)) {
		out->len = 4;
		out->data = (uint8_t *)a->b + 12;
	} else {
		out->len = 16;
		out->data = (uint8_t *)a->b;
	}
}

/* ---- Limits: the caps of each listener and their hits ---- */

#define LIMITS_PER_LISTENER 7

struct limits {
	Flowyard__Control__LimitInfo *v;
	Flowyard__Control__LimitInfo **p;
	size_t n;
	uint64_t hits;
};

static int max_session_templates(void *arg,
				 const struct fy_nfdec_session_info *s)
{
	uint64_t *max = arg;

	if (s->templates > *max)
		*max = s->templates;
	return 0;
}

/* `hits` are refusals, summed in limit_hits; session-idle's are not. */
static void limit_add(struct limits *lm, const char *name, uint32_t port,
		      uint64_t limit, uint64_t used, uint64_t hits)
{
	Flowyard__Control__LimitInfo init = FLOWYARD__CONTROL__LIMIT_INFO__INIT;
	Flowyard__Control__LimitInfo *li = &lm->v[lm->n];

	*li = init;
	li->name = (char *)name;
	li->port = port;
	li->limit = limit;
	li->used = used;
	li->hits = hits;
	lm->p[lm->n++] = li;
	if (strcmp(name, "session-idle") != 0)
		lm->hits += hits;
}

static void limits_free(struct limits *lm)
{
	free(lm->v);
	free(lm->p);
	lm->v = NULL;
	lm->p = NULL;
}

/* Fills `lm` (free with limits_free); -ENOMEM or 0. */
static int limits_collect(struct collector *co, struct limits *lm)
{
	uint64_t now = co_now_ms();
	size_t i;

	memset(lm, 0, sizeof(*lm));
	lm->v = calloc(co->nlisteners * LIMITS_PER_LISTENER + 1,
		       sizeof(*lm->v));
	lm->p = calloc(co->nlisteners * LIMITS_PER_LISTENER + 1,
		       sizeof(*lm->p));
	if (lm->v == NULL || lm->p == NULL) {
		limits_free(lm);
		return -ENOMEM;
	}
	for (i = 0; i < co->nlisteners; i++) {
		const struct listener *l = &co->listeners[i];
		/* every thread's decoder has the same caps; used and hits
		 * are their sums (the caps hold per decoder) */
		const struct fy_nfdec_cfg *c = fy_nfdec_config(l->rx[0].dec);
		struct fy_nfdec_totals tot, *t = &tot;
		uint32_t port = l->cfg->port;
		struct fy_nfdec_usage u = {0};
		uint64_t most = 0;
		unsigned k;

		listener_totals(l, &tot);
		for (k = 0; k < co->nlanes; k++) {
			struct fy_nfdec_usage uk;
			fy_nfdec_get_usage(l->rx[k].dec, &uk);
			u.sessions += uk.sessions;
			u.templates += uk.templates;
			u.pending_bytes += uk.pending_bytes;
			if (uk.oldest_seen_ms &&
			    (!u.oldest_seen_ms ||
			     uk.oldest_seen_ms < u.oldest_seen_ms))
				u.oldest_seen_ms = uk.oldest_seen_ms;
			fy_nfdec_foreach_session(l->rx[k].dec,
						 max_session_templates, &most);
		}
		limit_add(lm, "max-sessions", port, c->max_sessions, u.sessions,
			  t->sessions_rejected);
		limit_add(lm, "max-templates", port, c->max_templates,
			  u.templates, t->templates_over_max);
		/* used: the fullest session */
		limit_add(lm, "max-templates-per-session", port,
			  c->max_templates_per_session, most,
			  t->templates_over_session);
		limit_add(lm, "max-template-fields", port,
			  c->max_template_fields, 0, t->templates_too_long);
		limit_add(lm, "pending-max", port, c->pending_max_bytes,
			  u.pending_bytes, t->pending_dropped);
		/* used: seconds the least recently active session has been
		 * quiet; hits: sessions evicted, which are not refusals */
		limit_add(lm, "session-idle", port, c->session_idle_s,
			  u.oldest_seen_ms && now > u.oldest_seen_ms
				  ? (now - u.oldest_seen_ms) / 1000
				  : 0,
			  t->sessions_evicted);
		if (l->cfg->dynamic_dir[0])
			limit_add(lm, "max-exporters", port,
				  l->cfg->dynamic_max, l->ndyn,
				  l->dynamic_refused);
	}
	return 0;
}

void co_log_limits(struct collector *co, uint64_t now_ms)
{
	static const char *const names[5] = {"max-sessions", "max-templates",
					     "max-templates-per-session",
					     "max-template-fields",
					     "pending-max"};
	static const char *const what[5] = {
		"packets of new sessions dropped", "templates refused",
		"templates refused", "templates refused",
		"data sets waiting for a template dropped"};
	size_t i, k;

	for (i = 0; i < co->nlisteners; i++) {
		struct listener *l = &co->listeners[i];
		struct fy_nfdec_totals tot, *t = &tot;
		const struct fy_nfdec_cfg *c = fy_nfdec_config(l->rx[0].dec);
		uint64_t hits[5];
		const uint32_t lim[5] = {c->max_sessions, c->max_templates,
					 c->max_templates_per_session,
					 c->max_template_fields,
					 c->pending_max_bytes};
		bool logged = false;

		listener_totals(l, &tot);
		hits[0] = t->sessions_rejected;
		hits[1] = t->templates_over_max;
		hits[2] = t->templates_over_session;
		hits[3] = t->templates_too_long;
		hits[4] = t->pending_dropped;
		/* the first hit of a cap at once, then a minute apart */
		for (k = 0; k < 5; k++) {
			if (hits[k] == l->caps_logged[k] ||
			    (l->caps_logged[k] &&
			     now_ms < l->caps_log_ms + 60000))
				continue;
			fy_warn("listener port %u: --%s %u reached: %llu %s so "
				"far (nfq exporters)",
				l->cfg->port, names[k], lim[k],
				(unsigned long long)hits[k], what[k]);
			l->caps_logged[k] = hits[k];
			logged = true;
		}
		/* evictions free room and refuse nothing: a notice */
		if (t->sessions_evicted != l->caps_logged[5] &&
		    (!l->caps_logged[5] || now_ms >= l->caps_log_ms + 60000)) {
			fy_notice("listener port %u: %llu session(s) quiet for "
				  "over --session-idle %u s evicted so far "
				  "(nfq exporters)",
				  l->cfg->port,
				  (unsigned long long)t->sessions_evicted,
				  c->session_idle_s);
			l->caps_logged[5] = t->sessions_evicted;
			logged = true;
		}
		if (logged)
			l->caps_log_ms = now_ms;
	}
}

/* ---- Status ---- */

static int status_reply(struct collector *co, struct fy_ctl_reply *r);

static int h_status(void *arg, const Flowyard__Control__Request *req,
		    struct fy_ctl_reply *r)
{
	struct collector *co = arg;
	int rc;

	(void)req;
	co_pause(co);
	rc = status_reply(co, r);
	co_resume(co);
	return rc;
}

static int status_reply(struct collector *co, struct fy_ctl_reply *r)
{
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__StatusReply st =
		FLOWYARD__CONTROL__STATUS_REPLY__INIT;
	Flowyard__Control__CollectorStatus cs =
		FLOWYARD__CONTROL__COLLECTOR_STATUS__INIT;
	Flowyard__Control__CollectorTotals tot =
		FLOWYARD__CONTROL__COLLECTOR_TOTALS__INIT;
	Flowyard__Control__ControlCounters cc =
		FLOWYARD__CONTROL__CONTROL_COUNTERS__INIT;
	Flowyard__Control__Listener *lv, **lp;
	struct fy_ctl_stats cst;
	struct trees_wstats ws;
	struct limits lm;
	char(*trees)[CFG_PATH_MAX];
	size_t i;
	int rc;

	if (limits_collect(co, &lm))
		return -ENOMEM;
	lv = calloc(co->nlisteners + 1, sizeof(*lv));
	lp = calloc(co->nlisteners + 1, sizeof(*lp));
	trees = calloc(co->nlisteners + 1, sizeof(*trees));
	if (lv == NULL || lp == NULL || trees == NULL) {
		free(lv);
		free(lp);
		free(trees);
		limits_free(&lm);
		return -ENOMEM;
	}
	for (i = 0; i < co->nlisteners; i++) {
		const struct listener *l = &co->listeners[i];
		const struct cfg_listener *c = l->cfg;
		Flowyard__Control__Listener init =
			FLOWYARD__CONTROL__LISTENER__INIT;

		lv[i] = init;
		lv[i].port = c->port;
		lv[i].bind = (char *)(c->bind[0] ? c->bind : "*");
		lv[i].identifier = (char *)(c->ident[0]		? c->ident
					    : c->dynamic_dir[0] ? "(dynamic)"
								: "(sources)");
		snprintf(trees[i], sizeof(trees[i]), "%s",
			 c->ident[0] ? c->dir : c->dynamic_dir);
		lv[i].tree = trees[i];
		lv[i].packets = listener_packets(l);
		lv[i].kernel_drops = listener_kernel_drops(l);
		cs.kernel_drops += lv[i].kernel_drops;
		lp[i] = &lv[i];
	}
	cs.n_listeners = co->nlisteners;
	cs.listeners = lp;
	for (i = 0; i < trees_count(co->trees); i++) {
		struct tree_stats tsv, *ts = &tsv;

		tree_stats(co->trees, trees_at(co->trees, i), &tsv);
		tot.packets += ts->packets;
		tot.flows += ts->flows;
		tot.bytes += ts->bytes;
		tot.sequence_failures += ts->seq_failures;
		tot.lost_flows += ts->lost_flows;
	}
	for (i = 0; i < co->nlisteners; i++) {
		struct fy_nfdec_totals dtv, *dt = &dtv;

		listener_totals(&co->listeners[i], &dtv);
		tot.malformed += dt->malformed;
		tot.bad_version += dt->bad_version;
		tot.sessions_rejected += dt->sessions_rejected;
		tot.sessions_evicted += dt->sessions_evicted;
	}
	trees_writer_stats(co->trees, &ws);
	tot.files_written = ws.files_closed;
	tot.write_errors = ws.write_errors;
	tot.flows_not_written = ws.flows_lost;
	tot.files_recovered = ws.recovered;
	tot.files_unfinished = ws.unfinished;
	tot.limit_hits = lm.hits;
	cs.n_limits = lm.n;
	cs.limits = lm.p;
	cs.totals = &tot;
	co_session_counts(co, &cs.exporters, &cs.templates, &tot.no_template);

	fy_ctl_server_stats(co->ctl, &cst);
	fy_ctl_stats_to_proto(&cst, &cc);
	st.daemon = FLOWYARD__CONTROL__DAEMON__DAEMON_COLLECTORD;
	st.version = (char *)VERSION;
	st.pid = (uint32_t)getpid();
	st.start_time_ms = co->start_ms;
	st.uptime_ms = co_now_ms() - co->start_ms;
	st.control = &cc;
	st.log_level = (char *)fy_log_level_name(fy_log_level);
	st.detail_case = FLOWYARD__CONTROL__STATUS_REPLY__DETAIL_COLLECTOR;
	st.collector = &cs;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_STATUS;
	resp.status = &st;
	rc = fy_ctl_reply_end(r, &resp);
	free(lv);
	free(lp);
	free(trees);
	limits_free(&lm);
	return rc;
}

/* ---- Exporters ---- */

struct sess {
	struct fy_nfdec_session_info info;
	const struct listener *l;
};

struct sess_vec {
	struct sess *v;
	size_t n, cap;
	const struct listener *l; /* being collected */
};

static int collect_session(void *arg, const struct fy_nfdec_session_info *s)
{
	struct sess_vec *sv = arg;

	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 64;
		struct sess *v = realloc(sv->v, nc * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		sv->v = v;
		sv->cap = nc;
	}
	sv->v[sv->n].info = *s;
	sv->v[sv->n].l = sv->l;
	sv->n++;
	return 0;
}

static int collect_sessions(struct collector *co, struct sess_vec *sv)
{
	size_t i;

	unsigned k;

	/* the kernel keeps an exporter on one socket: each session is in
	 * one thread's decoder */
	for (i = 0; i < co->nlisteners; i++) {
		sv->l = &co->listeners[i];
		for (k = 0; k < co->nlanes; k++)
			if (fy_nfdec_foreach_session(sv->l->rx[k].dec,
						     collect_session, sv))
				return -ENOMEM;
	}
	return 0;
}

void co_session_counts(struct collector *co, uint32_t *sessions,
		       uint32_t *templates, uint64_t *no_template)
{
	struct sess_vec sv = {0};
	size_t i;

	*sessions = 0;
	*templates = 0;
	*no_template = 0;
	if (collect_sessions(co, &sv) == 0) {
		*sessions = (uint32_t)sv.n;
		for (i = 0; i < sv.n; i++) {
			*templates += sv.v[i].info.templates;
			*no_template += sv.v[i].info.stats->no_template;
		}
	}
	/* with what evicted sessions had counted: it never goes down */
	for (i = 0; i < co->nlisteners; i++) {
		struct fy_nfdec_totals t;

		listener_totals(&co->listeners[i], &t);
		*no_template += t.evicted_no_template;
	}
	free(sv.v);
}

static int exporters_reply(struct collector *co, struct fy_ctl_reply *r);

static int h_exporters(void *arg, const Flowyard__Control__Request *req,
		       struct fy_ctl_reply *r)
{
	struct collector *co = arg;
	int rc;

	(void)req;
	co_pause(co);
	rc = exporters_reply(co, r);
	co_resume(co);
	return rc;
}

static int exporters_reply(struct collector *co, struct fy_ctl_reply *r)
{
	uint64_t *cursor = fy_ctl_reply_cursor(r);
	struct sess_vec sv = {0};
	Flowyard__Control__ExporterInfo *ev = NULL, **ep = NULL;
	char(*files)[256] = NULL;
	struct limits lm = {0};
	int rc = 0;

	if (collect_sessions(co, &sv) || limits_collect(co, &lm)) {
		rc = -ENOMEM;
		goto out;
	}
	ev = calloc(PART_ITEMS, sizeof(*ev));
	ep = calloc(PART_ITEMS, sizeof(*ep));
	files = calloc(PART_ITEMS, sizeof(*files));
	if (ev == NULL || ep == NULL || files == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		Flowyard__Control__Response resp =
			FLOWYARD__CONTROL__RESPONSE__INIT;
		Flowyard__Control__ExportersReply er =
			FLOWYARD__CONTROL__EXPORTERS_REPLY__INIT;
		size_t k = 0;
		bool last;

		while (*cursor + k < sv.n && k < PART_ITEMS) {
			const struct fy_nfdec_session_info *s =
				&sv.v[*cursor + k].info;
			Flowyard__Control__ExporterInfo init =
				FLOWYARD__CONTROL__EXPORTER_INFO__INIT;
			struct tree *t =
				tree_of(sv.v[*cursor + k].l, &s->src.addr);

			ev[k] = init;
			addr_bytes(&sv.v[*cursor + k].info.src.addr,
				   &ev[k].address);
			ev[k].port = s->src.port;
			ev[k].domain = s->domain;
			ev[k].version = s->version;
			ev[k].identifier = (char *)(t ? tree_ident(t) : "");
			ev[k].packets = s->stats->packets;
			ev[k].flows = s->stats->flows;
			ev[k].bytes = s->stats->bytes;
			ev[k].sequence_failures = s->stats->seq_failures;
			ev[k].lost_flows = s->stats->lost_flows;
			ev[k].malformed = s->stats->malformed;
			ev[k].no_template = s->stats->no_template;
			ev[k].templates = s->templates;
			ev[k].first_seen_ms = s->stats->first_seen_ms;
			ev[k].last_seen_ms = s->stats->last_seen_ms;
			ev[k].options_records = s->stats->options_records;
			ev[k].templates_rejected = s->stats->templates_rejected;
			files[k][0] = '\0';
			if (t)
				tree_current_file(t, files[k],
						  sizeof(files[k]));
			ev[k].current_file = files[k];
			ep[k] = &ev[k];
			k++;
		}
		er.n_exporters = k;
		er.exporters = ep;
		resp.result_case =
			FLOWYARD__CONTROL__RESPONSE__RESULT_EXPORTERS;
		resp.exporters = &er;
		last = *cursor + k >= sv.n;
		if (last) {
			er.n_limits = lm.n;
			er.limits = lm.p;
		}
		rc = last ? fy_ctl_reply_end(r, &resp)
			  : fy_ctl_reply_part(r, &resp);
		if (rc == -ENOBUFS) {
			rc = FY_CTL_AGAIN;
			break;
		}
		if (rc)
			break;
		*cursor += k;
		if (last)
			break;
	}
out:
	free(sv.v);
	free(ev);
	free(ep);
	free(files);
	limits_free(&lm);
	return rc;
}

/* ---- Templates ---- */

struct tmpl_vec {
	const Flowyard__Control__TemplatesRequest *rq;
	struct fy_addr want;
	bool has_want;
	uint64_t skip; /* templates already sent */
	uint64_t seen;
	size_t n;
	Flowyard__Control__TemplateInfo ti[PART_ITEMS];
	Flowyard__Control__TemplateInfo *tp[PART_ITEMS];
	struct fy_addr addr[PART_ITEMS];
	Flowyard__Control__TemplateField *fields[PART_ITEMS];
	Flowyard__Control__TemplateField **fptr[PART_ITEMS];
	bool full;
};

static bool domain_wanted(const Flowyard__Control__TemplatesRequest *rq,
			  uint32_t d)
{
	size_t i;

	if (rq == NULL || rq->n_domains == 0)
		return true;
	for (i = 0; i < rq->n_domains; i++)
		if (rq->domains[i] == d)
			return true;
	return false;
}

static int collect_template(void *arg, const struct fy_nfdec_template_info *t)
{
	struct tmpl_vec *tv = arg;
	Flowyard__Control__TemplateInfo init =
		FLOWYARD__CONTROL__TEMPLATE_INFO__INIT;
	Flowyard__Control__TemplateInfo *o;
	size_t k = tv->n, i;

	if (tv->has_want &&
	    memcmp(&tv->want, &t->src.addr, sizeof(tv->want)) != 0)
		return 0;
	if (!domain_wanted(tv->rq, t->domain))
		return 0;
	if (tv->seen++ < tv->skip)
		return 0;
	if (k == PART_ITEMS) {
		tv->full = true;
		return 1;
	}
	o = &tv->ti[k];
	*o = init;
	tv->addr[k] = t->src.addr;
	addr_bytes(&tv->addr[k], &o->exporter);
	o->port = t->src.port;
	o->domain = t->domain;
	o->template_id = t->id;
	o->is_options = t->is_options;
	o->version = t->version;
	tv->fields[k] =
		calloc(t->nfields ? t->nfields : 1, sizeof(**tv->fields));
	tv->fptr[k] = calloc(t->nfields ? t->nfields : 1, sizeof(**tv->fptr));
	if (tv->fields[k] == NULL || tv->fptr[k] == NULL)
		return -ENOMEM;
	for (i = 0; i < t->nfields; i++) {
		Flowyard__Control__TemplateField fi =
			FLOWYARD__CONTROL__TEMPLATE_FIELD__INIT;
		fi.pen = t->fields[i].pen;
		fi.id = t->fields[i].id;
		fi.len = t->fields[i].len;
		tv->fields[k][i] = fi;
		tv->fptr[k][i] = &tv->fields[k][i];
	}
	o->n_fields = t->nfields;
	o->fields = tv->fptr[k];
	tv->tp[k] = o;
	tv->n++;
	return 0;
}

static int h_templates(void *arg, const Flowyard__Control__Request *req,
		       struct fy_ctl_reply *r)
{
	struct collector *co = arg;
	const Flowyard__Control__TemplatesRequest *rq = req->templates;
	uint64_t *cursor = fy_ctl_reply_cursor(r);
	struct tmpl_vec *tv = calloc(1, sizeof(*tv));
	int rc;

	if (tv == NULL)
		return -ENOMEM;
	tv->rq = rq;
	if (rq && rq->exporter && rq->exporter[0]) {
		if (fy_addr_parse(rq->exporter, &tv->want, NULL)) {
			free(tv);
			return fy_ctl_reply_error(r,
						  FY_CTL_ERR_INVALID_ARGUMENT,
						  "exporter '%s' is not an IP "
						  "address",
						  rq->exporter);
		}
		tv->has_want = true;
	}
	tv->skip = *cursor;
	rc = 0;
	co_pause(co);
	for (size_t i = 0; i < co->nlisteners && rc == 0; i++)
		for (unsigned k = 0; k < co->nlanes && rc == 0; k++)
			rc = fy_nfdec_foreach_template(
				co->listeners[i].rx[k].dec, collect_template,
				tv);
	co_resume(co);
	if (rc >= 0) {
		Flowyard__Control__Response resp =
			FLOWYARD__CONTROL__RESPONSE__INIT;
		Flowyard__Control__TemplatesReply tr =
			FLOWYARD__CONTROL__TEMPLATES_REPLY__INIT;

		tr.n_templates = tv->n;
		tr.templates = tv->tp;
		resp.result_case =
			FLOWYARD__CONTROL__RESPONSE__RESULT_TEMPLATES;
		resp.templates = &tr;
		rc = tv->full ? fy_ctl_reply_part(r, &resp)
			      : fy_ctl_reply_end(r, &resp);
		if (rc == 0 && tv->full) {
			*cursor += tv->n;
			rc = FY_CTL_AGAIN;
		} else if (rc == -ENOBUFS) {
			rc = FY_CTL_AGAIN;
		}
	}
	for (size_t k = 0; k < PART_ITEMS; k++) {
		free(tv->fields[k]);
		free(tv->fptr[k]);
	}
	free(tv);
	return rc;
}

/* ---- Rotate, Reload, SetLogLevel ---- */

static int h_rotate(void *arg, const Flowyard__Control__Request *req,
		    struct fy_ctl_reply *r)
{
	struct collector *co = arg;
	const char *ident = req->rotate && req->rotate->identifier &&
					    req->rotate->identifier[0]
				    ? req->rotate->identifier
				    : NULL;
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__RotateReply rr =
		FLOWYARD__CONTROL__ROTATE_REPLY__INIT;
	char **files = NULL;
	size_t n = 0, i;
	int rc;

	if (ident) {
		size_t ntrees;

		co_pause(co); /* receive threads add -M trees */
		ntrees = trees_count(co->trees);
		for (i = 0; i < ntrees; i++)
			if (strcmp(tree_ident(trees_at(co->trees, i)), ident) ==
			    0)
				break;
		co_resume(co);
		if (i == ntrees)
			return fy_ctl_reply_error(r,
						  FY_CTL_ERR_INVALID_ARGUMENT,
						  "no tree with identifier "
						  "'%s'",
						  ident);
	}
	trees_flush(co->trees);
	/* The writer closes the files; a single receive loop waits for
	 * that, receive threads only while the batches are handed over. */
	trees_rotate_some(co->trees, (time_t)(co_now_ms() / 1000), false, true,
			  ident, &files, &n);
	fy_notice("control: rotated %zu file(s) at the request of uid %ld", n,
		  (long)fy_ctl_reply_peer(r)->uid);
	rr.n_files_closed = n;
	rr.files_closed = files;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_ROTATE;
	resp.rotate = &rr;
	rc = fy_ctl_reply_end(r, &resp);
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return rc;
}

static int h_reload(void *arg, const Flowyard__Control__Request *req,
		    struct fy_ctl_reply *r)
{
	struct collector *co = arg;
	Flowyard__Control__Response resp = FLOWYARD__CONTROL__RESPONSE__INIT;
	Flowyard__Control__ReloadReply rr =
		FLOWYARD__CONTROL__RELOAD_REPLY__INIT;
	char **changes = NULL, err[512];
	size_t n = 0, i;
	int rc;

	(void)req;
	if (collector_reload(co, &changes, &n, err, sizeof(err)))
		return fy_ctl_reply_error(r, FY_CTL_ERR_FAILED, "%s", err);
	rr.n_changes = n;
	rr.changes = changes;
	resp.result_case = FLOWYARD__CONTROL__RESPONSE__RESULT_RELOAD;
	resp.reload = &rr;
	rc = fy_ctl_reply_end(r, &resp);
	for (i = 0; i < n; i++)
		free(changes[i]);
	free(changes);
	return rc;
}

static const struct fy_ctl_handler handlers[FY_CTL_NCMD] = {
	[FY_CTL_CMD_STATUS] = {h_status},
	[FY_CTL_CMD_EXPORTERS] = {h_exporters},
	[FY_CTL_CMD_TEMPLATES] = {h_templates},
	[FY_CTL_CMD_ROTATE] = {h_rotate},
	[FY_CTL_CMD_RELOAD] = {h_reload},
	[FY_CTL_CMD_SET_LOG_LEVEL] = {fy_ctl_set_log_level},
};

int ctl_start(struct collector *co, struct ev_loop *loop)
{
	struct fy_ctl_server_cfg c = {
		.path = co->cfg->socket_path,
		.daemon = "collectord",
		.group = co->cfg->socket_group[0] ? co->cfg->socket_group
						  : NULL,
		.handlers = handlers,
		.handler_arg = co,
		.log = fy_ctl_log,
	};

	if (fy_ctl_server_new(loop, &c, &co->ctl)) {
		co->ctl = NULL;
		return -1;
	}
	fy_notice("control socket %s", co->cfg->socket_path);
	return 0;
}

void ctl_stop(struct collector *co)
{
	fy_ctl_server_free(co->ctl);
	co->ctl = NULL;
}
