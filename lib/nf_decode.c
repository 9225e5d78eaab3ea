/*
 * nf_decode.c - NetFlow v5, v9 and IPFIX decoder.
 *
 * State lives in sessions, one per (exporter address, port, domain,
 * version); each holds its templates, sampler table, sequence tracking and
 * counters. Data sets that precede their template wait in a FIFO bounded
 * in bytes and age. Sessions are also on a list by last activity, so that
 * the least recently active one, the first to evict when idle, is at hand.
 * A packet's flows are collected in one buffer and handed over only when
 * the whole packet parsed: a malformed packet emits nothing.
 */
#include "nf_decode.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ie.h"
#include "wire.h"

#define DEF_MAX_SESSIONS 4096
#define DEF_MAX_TEMPLATES 65536
#define DEF_MAX_TEMPLATES_PER_SESSION 1024
#define DEF_MAX_TEMPLATE_FIELDS 256
#define DEF_PENDING_MAX_BYTES (1u << 20)
#define DEF_PENDING_MAX_AGE_MS 30000
#define MAX_SAMPLERS 32
#define NTP_UNIX_OFFSET 2208988800ull

struct tmpl {
	struct tmpl *next; /* hash chain in its session */
	uint16_t id;
	uint8_t is_options;
	uint8_t has_varlen;
	uint8_t has_uptime; /* flowStart/EndSysUpTime: needs a boot time */
	uint16_t nfields;
	uint32_t min_len; /* fixed lengths plus one byte per varlen field */
	uint8_t *targets; /* enum fy_ie_target per field, after fields */
	struct fop *ops;  /* decode plan (no varlen field), after targets */
	uint16_t nops;
	struct fy_nfdec_field_info fields[];
};

/*
 * One step of a template's decode plan: a field at a fixed offset of the
 * record and what to do with it. Fields that only need their value stored
 * are stored directly; the rest go through apply_field. Fields nobody
 * reads have no step.
 */
enum fop_kind {
	FOP_FLOW1, /* the value into a 1, 2 or 4-byte field of the flow */
	FOP_FLOW2,
	FOP_FLOW4,
	FOP_REC8, /* the value into a u64 of struct rec, and a `have` bit */
	FOP_REC4,
	FOP_FIELD, /* apply_field */
};

struct fop {
	uint16_t off; /* in the record */
	uint16_t len;
	uint16_t dst; /* offset in struct fy_flow or struct rec */
	uint8_t kind;
	uint8_t target;
	uint32_t bit;
};

struct sampler {
	uint64_t id;
	uint32_t interval;
};

struct session {
	struct session *next; /* hash chain */
	/* activity list: prev is more recent, next less */
	struct session *lru_prev, *lru_next;
	struct fy_nf_src src;
	uint32_t domain;
	uint8_t version;
	bool seq_valid;
	bool evicting;	/* marked for session_evict_tail */
	uint32_t npend; /* its sets in the pending FIFO */
	uint32_t next_seq;
	bool has_sysinit;
	uint64_t sysinit_ms;
	bool has_boot_est;
	uint64_t boot_est_ms;	   /* IPFIX uptime base when IE 160 is absent */
	uint32_t default_sampling; /* from options without a sampler id */
	uint32_t nsamplers;
	struct sampler samplers[MAX_SAMPLERS];
	struct tmpl **tmpl_tab; /* chained hash on template id */
	uint32_t tmpl_buckets;
	uint32_t ntmpl;
	struct fy_nfdec_stats st;
};

struct pending {
	struct pending *next;
	struct session *s;
	uint64_t serial; /* packet it came in */
	uint64_t arrival_ms;
	uint64_t export_ms;
	uint32_t uptime_ms;
	uint16_t tid;
	uint32_t len;
	uint8_t data[];
};

/* What a waiting set costs against pending_max_bytes: many tiny sets
 * must not hold far more memory than the cap says. */
#define PEND_COST(len) ((uint64_t)(len) + sizeof(struct pending))

struct fy_nfdec {
	struct fy_nfdec_cfg cfg;
	struct fy_nfdec_totals totals;
	struct fy_nfdec_result last;
	struct session **sess_tab;
	uint32_t sess_buckets;
	uint32_t nsess;
	struct session *lru_head, *lru_tail; /* most, least recently active */
	uint32_t ntmpl;
	struct pending *pend_head, *pend_tail;
	uint64_t pend_bytes;
	uint64_t serial;
	struct fy_flow *out; /* where this packet's flows go: own or ext */
	size_t nout, outcap;
	size_t zeroed;	     /* out[nout..zeroed) are still all zero */
	struct fy_flow *own; /* the decoder's buffer */
	size_t own_cap;
	struct fy_flow *ext; /* the caller's, for the next packet only */
	size_t ext_cap;
};

/* What one packet's decoding needs besides the decoder. */
struct ctx {
	struct fy_nfdec *d;
	struct session *s;
	uint64_t export_ms;
	uint32_t uptime_ms; /* v9 only */
	uint64_t serial;
	uint64_t data_records; /* this packet's, for IPFIX sequencing */
	uint32_t waiting; /* this packet's sets still waiting for a template */
	uint64_t seq_failures; /* added by this packet */
	uint64_t lost_flows;
	fy_nfdec_emit_fn emit;
	void *arg;
};

/* Values of one record that need the whole record to be interpreted. */
enum rec_bit {
	R_BYTES = 1u << 0,
	R_PACKETS = 1u << 1,
	R_TOTAL_BYTES = 1u << 2,
	R_TOTAL_PACKETS = 1u << 3,
	R_INIT_BYTES = 1u << 4,
	R_INIT_PACKETS = 1u << 5,
	R_OUT_BYTES = 1u << 6,
	R_OUT_PACKETS = 1u << 7,
	R_V6 = 1u << 8,
	R_V4 = 1u << 9,
	R_FIRST_UP = 1u << 10,
	R_LAST_UP = 1u << 11,
	R_SYSINIT = 1u << 12,
	R_SAMPLER_ID = 1u << 13,
	R_SAMPLING = 1u << 14,
	R_PKT_INTERVAL = 1u << 15,
	R_PKT_SPACE = 1u << 16,
	R_ICMP_TC = 1u << 17,
	R_ICMP_T = 1u << 18,
	R_EXPORTER = 1u << 19,
	R_START_DELTA = 1u << 20,
	R_END_DELTA = 1u << 21,
	R_OBS = 1u << 22,
	R_ENGINE = 1u << 23,
	R_SAMPLE_SIZE = 1u << 24,
	R_POPULATION = 1u << 25,
};

/* Time candidates by precision: the most precise one present wins. */
enum { TP_SEC, TP_NS, TP_US, TP_MS, TP_N };

struct rec {
	struct fy_flow *f; /* where the flow is built: its output slot */
	uint32_t have;
	uint64_t bytes, packets, total_bytes, total_packets;
	uint64_t init_bytes, init_packets, out_bytes, out_packets;
	uint32_t first_up, last_up;
	uint64_t sysinit_ms;
	uint64_t sampler_id;
	uint32_t sampling, pkt_interval, pkt_space, sample_size, population;
	uint16_t icmp_tc;
	uint64_t start_delta_us, end_delta_us;
	uint64_t obs_ms;
	uint8_t start_have, end_have; /* bit per TP_* */
	uint64_t start[TP_N], end[TP_N];
};

/*
 * Starts a record that builds its flow in *f, which must be all zero.
 * Only the presence bits are cleared: a value of struct rec is read only
 * when its bit in `have` (or start_have / end_have) is set.
 */
static void rec_reset(struct rec *r, struct fy_flow *f)
{
	r->have = 0;
	r->start_have = 0;
	r->end_have = 0;
	r->f = f;
}

/* ---- sessions ---- */

static uint32_t hash_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t session_hash(const struct fy_nf_src *src, uint32_t domain,
			     uint8_t version)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < 16; i++)
		h = (h ^ src->addr.b[i]) * 1099511628211ull;
	h ^= (uint64_t)src->port << 40 | (uint64_t)version << 32 | domain;
	return hash_mix(h);
}

static bool session_grow(struct fy_nfdec *d)
{
	uint32_t nb = d->sess_buckets ? d->sess_buckets * 2 : 64;
	struct session **t = calloc(nb, sizeof(*t));
	uint32_t i;

	if (t == NULL)
		return false;
	for (i = 0; i < d->sess_buckets; i++) {
		struct session *s = d->sess_tab[i], *nx;
		for (; s; s = nx) {
			uint32_t h =
				session_hash(&s->src, s->domain, s->version) &
				(nb - 1);
			nx = s->next;
			s->next = t[h];
			t[h] = s;
		}
	}
	free(d->sess_tab);
	d->sess_tab = t;
	d->sess_buckets = nb;
	return true;
}

/* ---- activity list and eviction ---- */

static void lru_unlink(struct fy_nfdec *d, struct session *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		d->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		d->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void lru_push(struct fy_nfdec *d, struct session *s)
{
	s->lru_prev = NULL;
	s->lru_next = d->lru_head;
	if (d->lru_head)
		d->lru_head->lru_prev = s;
	else
		d->lru_tail = s;
	d->lru_head = s;
}

/* Quiet for longer than session_idle_s (a clock that went back: not). */
static bool session_idle(const struct fy_nfdec *d, const struct session *s,
			 uint64_t now_ms)
{
	uint64_t idle_ms = (uint64_t)d->cfg.session_idle_s * 1000;

	return idle_ms && now_ms > s->st.last_seen_ms &&
	       now_ms - s->st.last_seen_ms > idle_ms;
}

static void session_free_templates(struct session *s)
{
	uint32_t j;

	for (j = 0; j < s->tmpl_buckets; j++) {
		struct tmpl *t = s->tmpl_tab[j], *tn;
		for (; t; t = tn) {
			tn = t->next;
			free(t);
		}
	}
	free(s->tmpl_tab);
}

static void pending_forget_evicting(struct fy_nfdec *d);

/*
 * Evicts the n least recently active sessions, each marked `evicting`:
 * their waiting data (counted as no_template, in one pass over the FIFO
 * for all of them), templates and counters. Nothing outside the decoder
 * holds a session but fy_nfdec_result's stats, cleared here if it is one.
 */
static void session_evict_tail(struct fy_nfdec *d, uint32_t n)
{
	struct session *s;
	uint32_t i;
	bool pend = false;

	for (i = 0, s = d->lru_tail; i < n; i++, s = s->lru_prev)
		pend |= s->npend != 0;
	if (pend)
		pending_forget_evicting(d);
	while (n--) {
		struct session **pp;

		s = d->lru_tail;
		lru_unlink(d, s);
		pp = &d->sess_tab[session_hash(&s->src, s->domain, s->version) &
				  (d->sess_buckets - 1)];
		while (*pp != s)
			pp = &(*pp)->next;
		*pp = s->next;
		d->nsess--;
		d->ntmpl -= s->ntmpl;
		d->totals.sessions_evicted++;
		d->totals.evicted_no_template += s->st.no_template;
		if (d->last.stats == &s->st)
			memset(&d->last, 0, sizeof(d->last));
		session_free_templates(s);
		free(s);
	}
}

/* Evicts every session idle at now_ms: a run at the list's tail. */
static void sessions_evict_idle(struct fy_nfdec *d, uint64_t now_ms)
{
	struct session *s;
	uint32_t n = 0;

	for (s = d->lru_tail; s && session_idle(d, s, now_ms);
	     s = s->lru_prev) {
		s->evicting = true;
		n++;
	}
	if (n)
		session_evict_tail(d, n);
}

static struct session *session_get(struct fy_nfdec *d,
				   const struct fy_nf_src *src, uint32_t domain,
				   uint8_t version, uint64_t now_ms,
				   int *status)
{
	uint32_t h = session_hash(src, domain, version);
	struct session *s;

	if (d->sess_buckets) {
		for (s = d->sess_tab[h & (d->sess_buckets - 1)]; s; s = s->next)
			if (s->domain == domain && s->version == version &&
			    s->src.port == src->port &&
			    memcmp(&s->src.addr, &src->addr,
				   sizeof(src->addr)) == 0) {
				if (s != d->lru_head) {
					lru_unlink(d, s);
					lru_push(d, s);
				}
				return s;
			}
	}
	if (d->nsess >= d->cfg.max_sessions) {
		/* room from the least recently active session, if idle */
		if (d->lru_tail && session_idle(d, d->lru_tail, now_ms)) {
			d->lru_tail->evicting = true;
			session_evict_tail(d, 1);
		} else {
			d->totals.sessions_rejected++;
			*status = FY_NFDEC_NO_SESSION;
			return NULL;
		}
	}
	if (d->nsess >= d->sess_buckets && !session_grow(d)) {
		*status = FY_NFDEC_NOMEM;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*status = FY_NFDEC_NOMEM;
		return NULL;
	}
	s->src = *src;
	s->domain = domain;
	s->version = version;
	h &= d->sess_buckets - 1;
	s->next = d->sess_tab[h];
	d->sess_tab[h] = s;
	d->nsess++;
	lru_push(d, s);
	return s;
}

/* ---- templates ---- */

static struct tmpl *tmpl_find(const struct session *s, uint16_t id)
{
	struct tmpl *t;

	if (s->tmpl_buckets == 0)
		return NULL;
	for (t = s->tmpl_tab[id & (s->tmpl_buckets - 1)]; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static void tmpl_unlink(struct fy_nfdec *d, struct session *s, uint16_t id)
{
	struct tmpl **pp, *t;

	if (s->tmpl_buckets == 0)
		return;
	for (pp = &s->tmpl_tab[id & (s->tmpl_buckets - 1)]; (t = *pp);
	     pp = &t->next) {
		if (t->id == id) {
			*pp = t->next;
			free(t);
			s->ntmpl--;
			d->ntmpl--;
			return;
		}
	}
}

/* IPFIX withdrawal of every template of one kind (RFC 7011 8.1). */
static void tmpl_withdraw_all(struct fy_nfdec *d, struct session *s,
			      bool options)
{
	uint32_t i;

	for (i = 0; i < s->tmpl_buckets; i++) {
		struct tmpl **pp = &s->tmpl_tab[i], *t;
		while ((t = *pp)) {
			if (t->is_options == options) {
				*pp = t->next;
				free(t);
				s->ntmpl--;
				d->ntmpl--;
			} else {
				pp = &t->next;
			}
		}
	}
}

static bool tmpl_grow(struct session *s)
{
	uint32_t nb = s->tmpl_buckets ? s->tmpl_buckets * 2 : 16;
	struct tmpl **t = calloc(nb, sizeof(*t));
	uint32_t i;

	if (t == NULL)
		return false;
	for (i = 0; i < s->tmpl_buckets; i++) {
		struct tmpl *x = s->tmpl_tab[i], *nx;
		for (; x; x = nx) {
			nx = x->next;
			x->next = t[x->id & (nb - 1)];
			t[x->id & (nb - 1)] = x;
		}
	}
	free(s->tmpl_tab);
	s->tmpl_tab = t;
	s->tmpl_buckets = nb;
	return true;
}

/*
 * Installs `t` (owned by the session from now on, freed on failure),
 * replacing any template of the same id.
 */
static bool tmpl_install(struct fy_nfdec *d, struct session *s, struct tmpl *t)
{
	struct tmpl *old = tmpl_find(s, t->id);

	if (old == NULL && (s->ntmpl >= d->cfg.max_templates_per_session ||
			    d->ntmpl >= d->cfg.max_templates)) {
		if (s->ntmpl >= d->cfg.max_templates_per_session)
			d->totals.templates_over_session++;
		else
			d->totals.templates_over_max++;
		s->st.templates_rejected++;
		free(t);
		return false;
	}
	if (old)
		tmpl_unlink(d, s, t->id);
	if (s->ntmpl >= s->tmpl_buckets && !tmpl_grow(s)) {
		free(t);
		return false;
	}
	t->next = s->tmpl_tab[t->id & (s->tmpl_buckets - 1)];
	s->tmpl_tab[t->id & (s->tmpl_buckets - 1)] = t;
	s->ntmpl++;
	d->ntmpl++;
	return true;
}

static struct tmpl *tmpl_alloc(uint16_t id, uint16_t nfields, bool options)
{
	size_t ops_at = sizeof(struct tmpl) +
			nfields * (sizeof(struct fy_nfdec_field_info) + 1);
	struct tmpl *t;

	ops_at = (ops_at + _Alignof(struct fop) - 1) &
		 ~(_Alignof(struct fop) - 1);
	t = calloc(1, ops_at + nfields * sizeof(struct fop));
	if (t == NULL)
		return NULL;
	t->id = id;
	t->nfields = nfields;
	t->is_options = options;
	t->targets = (uint8_t *)&t->fields[nfields];
	t->ops = (struct fop *)(void *)((uint8_t *)t + ops_at);
	return t;
}

/* Sets field i; a scope field of v9 options is skipped by length only. */
static void tmpl_set_field(struct tmpl *t, uint16_t i, uint32_t pen,
			   uint16_t id, uint16_t len, bool v9_scope)
{
	const struct fy_ie *ie = v9_scope ? NULL : fy_ie_lookup(pen, id);

	t->fields[i].pen = pen;
	t->fields[i].id = id;
	t->fields[i].len = len;
	t->targets[i] = ie ? ie->target : FY_T_IGNORE;
	if (t->targets[i] == FY_T_FIRST_UPTIME ||
	    t->targets[i] == FY_T_LAST_UPTIME)
		t->has_uptime = 1;
	if (len == FY_IE_VARLEN) {
		t->has_varlen = 1;
		t->min_len += 1;
	} else {
		t->min_len += len;
	}
}

/* ---- pending data ---- */

static void pending_drop_head(struct fy_nfdec *d)
{
	struct pending *p = d->pend_head;

	d->pend_head = p->next;
	if (d->pend_head == NULL)
		d->pend_tail = NULL;
	d->pend_bytes -= PEND_COST(p->len);
	p->s->npend--;
	free(p);
}

static void pending_expire(struct fy_nfdec *d, uint64_t now_ms)
{
	while (d->pend_head &&
	       (now_ms == UINT64_MAX ||
		d->pend_head->arrival_ms + d->cfg.pending_max_age_ms <
			now_ms)) {
		d->pend_head->s->st.no_template++;
		pending_drop_head(d);
	}
}

void fy_nfdec_expire(struct fy_nfdec *d, uint64_t now_ms)
{
	pending_expire(d, now_ms);
	if (now_ms != UINT64_MAX)
		sessions_evict_idle(d, now_ms);
}

/* Drops the waiting data of the sessions being evicted. */
static void pending_forget_evicting(struct fy_nfdec *d)
{
	struct pending **pp = &d->pend_head, *p, *last = NULL;

	while ((p = *pp)) {
		if (p->s->evicting) {
			*pp = p->next;
			d->pend_bytes -= PEND_COST(p->len);
			p->s->st.no_template++;
			p->s->npend--;
			free(p);
		} else {
			last = p;
			pp = &p->next;
		}
	}
	d->pend_tail = last;
}

static void pending_add(struct ctx *c, uint16_t tid, const uint8_t *data,
			size_t len, uint64_t now_ms)
{
	struct fy_nfdec *d = c->d;
	struct pending *p;

	if (PEND_COST(len) > d->cfg.pending_max_bytes) {
		d->totals.pending_dropped++;
		c->s->st.no_template++;
		return;
	}
	while (d->pend_head &&
	       d->pend_bytes + PEND_COST(len) > d->cfg.pending_max_bytes) {
		d->totals.pending_dropped++;
		d->pend_head->s->st.no_template++;
		pending_drop_head(d);
	}
	p = malloc(sizeof(*p) + len);
	if (p == NULL) {
		c->s->st.no_template++;
		return;
	}
	p->next = NULL;
	p->s = c->s;
	p->serial = c->serial;
	p->arrival_ms = now_ms;
	p->export_ms = c->export_ms;
	p->uptime_ms = c->uptime_ms;
	p->tid = tid;
	p->len = (uint32_t)len;
	memcpy(p->data, data, len);
	if (d->pend_tail)
		d->pend_tail->next = p;
	else
		d->pend_head = p;
	d->pend_tail = p;
	d->pend_bytes += PEND_COST(len);
	c->s->st.pending++;
	c->s->npend++;
}

/* Drops what this packet queued: used when the packet proves malformed. */
static void pending_forget_serial(struct fy_nfdec *d, uint64_t serial)
{
	struct pending **pp = &d->pend_head, *p, *last = NULL;

	while ((p = *pp)) {
		if (p->serial == serial) {
			*pp = p->next;
			d->pend_bytes -= PEND_COST(p->len);
			p->s->st.pending--;
			p->s->npend--;
			free(p);
		} else {
			last = p;
			pp = &p->next;
		}
	}
	d->pend_tail = last;
}

/* ---- output buffer ---- */

/*
 * Makes the decoder's own buffer the output, with room for `need` flows,
 * keeping the flows already made. Returns false when out of memory.
 */
static bool out_own(struct fy_nfdec *d, size_t need)
{
	if (d->own_cap < need) {
		size_t nc = d->own_cap ? d->own_cap : 256;
		struct fy_flow *n;

		while (nc < need)
			nc *= 2;
		if ((n = realloc(d->own, nc * sizeof(*n))) == NULL)
			return false;
		if (d->out == d->own)
			d->out = n;
		d->own = n;
		d->own_cap = nc;
	}
	if (d->out != d->own) {
		if (d->nout)
			memcpy(d->own, d->out, d->nout * sizeof(*d->own));
		d->zeroed = d->nout;
		d->out = d->own;
	}
	d->outcap = d->own_cap;
	return true;
}

static struct fy_flow *out_slot(struct fy_nfdec *d)
{
	if (d->nout == d->outcap && !out_own(d, d->nout ? 2 * d->nout : 256))
		return NULL;
	/*
	 * Slots are handed out zeroed, in runs of up to 32: one memset of a
	 * few KB is far cheaper than one per record (what the compiler makes
	 * of a fixed 232-byte memset is slow to start).
	 */
	if (d->nout >= d->zeroed) {
		size_t k = d->outcap - d->nout < 32 ? d->outcap - d->nout : 32;

		memset(&d->out[d->nout], 0, k * sizeof(*d->out));
		d->zeroed = d->nout + k;
	}
	return &d->out[d->nout++];
}

/* Takes back slots n.. (written or not, they are no longer zero). */
static void out_truncate(struct fy_nfdec *d, size_t n)
{
	d->nout = n;
	if (d->zeroed > n)
		d->zeroed = n;
}

/* ---- record decoding ---- */

static void set_time(uint64_t *slot, uint8_t *have, int prec, uint64_t ms)
{
	slot[prec] = ms;
	*have |= (uint8_t)(1u << prec);
}

static uint64_t ntp_to_ms(uint64_t ntp)
{
	uint64_t sec = ntp >> 32, frac = ntp & 0xffffffffull;

	if (sec < NTP_UNIX_OFFSET)
		return 0;
	return (sec - NTP_UNIX_OFFSET) * 1000 + ((frac * 1000) >> 32);
}

/* A big-endian unsigned integer of len <= 8 bytes (RFC 7011 6.2). */
static inline uint64_t be_uint(const uint8_t *p, size_t len)
{
	uint64_t v = 0;
	size_t i;

	/* the common widths as single loads: this runs for every field */
	switch (len) {
	case 1:
		return p[0];
	case 2:
		return (uint64_t)p[0] << 8 | p[1];
	case 4:
		return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 |
		       (uint64_t)p[2] << 8 | p[3];
	case 8:
		return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 |
		       (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
		       (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
		       (uint64_t)p[6] << 8 | p[7];
	}
	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

/* Stores one field value into the record: its len bytes at p. */
static inline __attribute__((always_inline)) void
apply_field(struct rec *r, uint8_t target, const uint8_t *p, size_t len)
{
	struct fy_flow *f = r->f;
	/* Integers come in reduced-size encodings; wider ones are skipped. */
	uint64_t u = len <= 8 ? be_uint(p, len) : 0;

	switch ((enum fy_ie_target)target) {
	case FY_T_IGNORE:
	case FY_T_COUNT:
		break;
	case FY_T_BYTES:
		r->bytes = u;
		r->have |= R_BYTES;
		break;
	case FY_T_PACKETS:
		r->packets = u;
		r->have |= R_PACKETS;
		break;
	case FY_T_OUT_BYTES:
	case FY_T_RESP_BYTES:
		r->out_bytes = u;
		r->have |= R_OUT_BYTES;
		break;
	case FY_T_OUT_PACKETS:
	case FY_T_RESP_PACKETS:
		r->out_packets = u;
		r->have |= R_OUT_PACKETS;
		break;
	case FY_T_TOTAL_BYTES:
		r->total_bytes = u;
		r->have |= R_TOTAL_BYTES;
		break;
	case FY_T_TOTAL_PACKETS:
		r->total_packets = u;
		r->have |= R_TOTAL_PACKETS;
		break;
	case FY_T_INIT_BYTES:
		r->init_bytes = u;
		r->have |= R_INIT_BYTES;
		break;
	case FY_T_INIT_PACKETS:
		r->init_packets = u;
		r->have |= R_INIT_PACKETS;
		break;
	case FY_T_PROTO:
		f->proto = (uint8_t)u;
		break;
	case FY_T_TOS:
		f->tos = (uint8_t)u;
		break;
	case FY_T_TCP_FLAGS:
		/* The low byte holds the classic flags in every encoding. */
		f->tcp_flags = (uint8_t)u;
		break;
	case FY_T_SRC_PORT:
		f->src_port = (uint16_t)u;
		break;
	case FY_T_DST_PORT:
		f->dst_port = (uint16_t)u;
		break;
	case FY_T_SRC_V4:
	case FY_T_DST_V4:
	case FY_T_NEXTHOP_V4:
	case FY_T_BGP_NEXTHOP_V4:
	case FY_T_EXPORTER_V4:
	case FY_T_XLATE_SRC_V4:
	case FY_T_XLATE_DST_V4: {
		struct fy_addr *a;
		if (len != 4)
			break;
		a = target == FY_T_SRC_V4	    ? &f->src
		    : target == FY_T_DST_V4	    ? &f->dst
		    : target == FY_T_NEXTHOP_V4	    ? &f->nexthop
		    : target == FY_T_BGP_NEXTHOP_V4 ? &f->bgp_nexthop
		    : target == FY_T_EXPORTER_V4    ? &f->exporter
		    : target == FY_T_XLATE_SRC_V4   ? &f->xlate_src
						    : &f->xlate_dst;
		if (target == FY_T_SRC_V4 || target == FY_T_DST_V4) {
			r->have |= R_V4;
			/* templates with both families zero the unused one */
			if (u == 0 && !fy_addr_is_zero(a))
				break;
		}
		fy_addr_set_v4(a, (uint32_t)u);
		if (target == FY_T_EXPORTER_V4)
			r->have |= R_EXPORTER;
		break;
	}
	case FY_T_SRC_V6:
	case FY_T_DST_V6:
	case FY_T_NEXTHOP_V6:
	case FY_T_BGP_NEXTHOP_V6:
	case FY_T_EXPORTER_V6:
	case FY_T_XLATE_SRC_V6:
	case FY_T_XLATE_DST_V6: {
		struct fy_addr *a;
		if (len != 16)
			break;
		a = target == FY_T_SRC_V6	    ? &f->src
		    : target == FY_T_DST_V6	    ? &f->dst
		    : target == FY_T_NEXTHOP_V6	    ? &f->nexthop
		    : target == FY_T_BGP_NEXTHOP_V6 ? &f->bgp_nexthop
		    : target == FY_T_EXPORTER_V6    ? &f->exporter
		    : target == FY_T_XLATE_SRC_V6   ? &f->xlate_src
						    : &f->xlate_dst;
		if (target == FY_T_SRC_V6 || target == FY_T_DST_V6) {
			struct fy_addr tmp;
			r->have |= R_V6;
			memcpy(tmp.b, p, 16);
			if (fy_addr_is_zero(&tmp) && !fy_addr_is_zero(a))
				break;
			*a = tmp;
			break;
		}
		memcpy(a->b, p, 16);
		if (target == FY_T_EXPORTER_V6)
			r->have |= R_EXPORTER;
		break;
	}
	case FY_T_SRC_MASK:
		f->src_mask = (uint8_t)u;
		break;
	case FY_T_DST_MASK:
		f->dst_mask = (uint8_t)u;
		break;
	case FY_T_INPUT_IF:
		f->input_if = (uint32_t)u;
		break;
	case FY_T_OUTPUT_IF:
		f->output_if = (uint32_t)u;
		break;
	case FY_T_SRC_AS:
		f->src_as = (uint32_t)u;
		break;
	case FY_T_DST_AS:
		f->dst_as = (uint32_t)u;
		break;
	case FY_T_LAST_UPTIME:
		r->last_up = (uint32_t)u;
		r->have |= R_LAST_UP;
		break;
	case FY_T_FIRST_UPTIME:
		r->first_up = (uint32_t)u;
		r->have |= R_FIRST_UP;
		break;
	case FY_T_START_SEC:
		set_time(r->start, &r->start_have, TP_SEC, u * 1000);
		break;
	case FY_T_END_SEC:
		set_time(r->end, &r->end_have, TP_SEC, u * 1000);
		break;
	case FY_T_START_MS:
		set_time(r->start, &r->start_have, TP_MS, u);
		break;
	case FY_T_END_MS:
		set_time(r->end, &r->end_have, TP_MS, u);
		break;
	case FY_T_START_US:
		set_time(r->start, &r->start_have, TP_US, ntp_to_ms(u));
		break;
	case FY_T_END_US:
		set_time(r->end, &r->end_have, TP_US, ntp_to_ms(u));
		break;
	case FY_T_START_NS:
		set_time(r->start, &r->start_have, TP_NS, ntp_to_ms(u));
		break;
	case FY_T_END_NS:
		set_time(r->end, &r->end_have, TP_NS, ntp_to_ms(u));
		break;
	case FY_T_START_DELTA_US:
		r->start_delta_us = u;
		r->have |= R_START_DELTA;
		break;
	case FY_T_END_DELTA_US:
		r->end_delta_us = u;
		r->have |= R_END_DELTA;
		break;
	case FY_T_SYSINIT_MS:
		r->sysinit_ms = u;
		r->have |= R_SYSINIT;
		break;
	case FY_T_OBS_TIME_SEC:
		r->obs_ms = u * 1000;
		r->have |= R_OBS;
		break;
	case FY_T_OBS_TIME_MS:
		r->obs_ms = u;
		r->have |= R_OBS;
		break;
	case FY_T_OBS_TIME_US:
	case FY_T_OBS_TIME_NS:
		r->obs_ms = ntp_to_ms(u);
		r->have |= R_OBS;
		break;
	case FY_T_ICMP_TYPECODE:
		r->icmp_tc = (uint16_t)u;
		r->have |= R_ICMP_TC;
		break;
	case FY_T_ICMP_TYPE:
		f->icmp_type = (uint8_t)u;
		r->have |= R_ICMP_T;
		break;
	case FY_T_ICMP_CODE:
		f->icmp_code = (uint8_t)u;
		r->have |= R_ICMP_T;
		break;
	case FY_T_SAMPLING_INTERVAL:
	case FY_T_SAMPLER_RANDOM_INTERVAL:
		r->sampling = (uint32_t)u;
		r->have |= R_SAMPLING;
		break;
	case FY_T_SAMPLER_ID:
		r->sampler_id = u;
		r->have |= R_SAMPLER_ID;
		break;
	case FY_T_PKT_INTERVAL:
		r->pkt_interval = (uint32_t)u;
		r->have |= R_PKT_INTERVAL;
		break;
	case FY_T_PKT_SPACE:
		r->pkt_space = (uint32_t)u;
		r->have |= R_PKT_SPACE;
		break;
	case FY_T_SAMPLE_SIZE:
		r->sample_size = (uint32_t)u;
		r->have |= R_SAMPLE_SIZE;
		break;
	case FY_T_SAMPLE_POPULATION:
		r->population = (uint32_t)u;
		r->have |= R_POPULATION;
		break;
	case FY_T_SAMPLING_ALGO:
	case FY_T_SAMPLER_MODE:
		break;
	case FY_T_END_REASON:
		f->end_reason = (uint8_t)u;
		break;
	case FY_T_FORWARDING_STATUS:
		/* 4-byte form carries the status in its top byte (RFC 7270). */
		f->forwarding_status = (uint8_t)(len == 4 ? u >> 24 : u);
		break;
	case FY_T_DIRECTION:
		f->direction = (uint8_t)u;
		break;
	case FY_T_VLAN:
		f->vlan = (uint16_t)(u & 0x0fff);
		break;
	case FY_T_POST_VLAN:
		f->out_vlan = (uint16_t)(u & 0x0fff);
		break;
	case FY_T_SRC_MAC:
		if (len == 6)
			memcpy(f->src_mac, p, 6);
		break;
	case FY_T_DST_MAC:
		if (len == 6)
			memcpy(f->dst_mac, p, 6);
		break;
	case FY_T_MPLS_LABEL:
		/* label (20 bits), exp (3), bottom of stack (1) */
		f->mpls_label = len == 3 ? (uint32_t)(u >> 4) : (uint32_t)u;
		break;
	case FY_T_FW_EVENT:
		f->fw_event = (uint8_t)u;
		break;
	case FY_T_XLATE_SRC_PORT:
		f->xlate_src_port = (uint16_t)u;
		break;
	case FY_T_XLATE_DST_PORT:
		f->xlate_dst_port = (uint16_t)u;
		break;
	case FY_T_ENGINE_TYPE:
		f->engine_type = (uint8_t)u;
		r->have |= R_ENGINE;
		break;
	case FY_T_ENGINE_ID:
		f->engine_id = (uint8_t)u;
		r->have |= R_ENGINE;
		break;
	case FY_T_IP_VERSION:
		break;
	}
}

/*
 * Reads one record of template `t`. Returns false if the record runs past
 * the set: the caller decides whether that is padding.
 */
/* The plan step of a field, as apply_field would treat it. */
static bool plan_step(uint8_t target, uint16_t len, struct fop *o)
{
#define FLOW(field)                                                        \
	o->dst = (uint16_t)offsetof(struct fy_flow, field);                \
	o->kind = sizeof(((struct fy_flow *)0)->field) == 1   ? FOP_FLOW1  \
		  : sizeof(((struct fy_flow *)0)->field) == 2 ? FOP_FLOW2  \
							      : FOP_FLOW4; \
	break
#define REC(field, b)                                                          \
	o->dst = (uint16_t)offsetof(struct rec, field);                        \
	o->kind = sizeof(((struct rec *)0)->field) == 8 ? FOP_REC8 : FOP_REC4; \
	o->bit = (b);                                                          \
	break

	o->target = target;
	o->len = len;
	o->bit = 0;
	switch ((enum fy_ie_target)target) {
	case FY_T_IGNORE:
	case FY_T_COUNT:
	case FY_T_IP_VERSION:
	case FY_T_SAMPLING_ALGO:
	case FY_T_SAMPLER_MODE:
		return false; /* apply_field does nothing with them */
	case FY_T_PROTO:
		FLOW(proto);
	case FY_T_TOS:
		FLOW(tos);
	case FY_T_TCP_FLAGS:
		FLOW(tcp_flags);
	case FY_T_SRC_PORT:
		FLOW(src_port);
	case FY_T_DST_PORT:
		FLOW(dst_port);
	case FY_T_SRC_MASK:
		FLOW(src_mask);
	case FY_T_DST_MASK:
		FLOW(dst_mask);
	case FY_T_INPUT_IF:
		FLOW(input_if);
	case FY_T_OUTPUT_IF:
		FLOW(output_if);
	case FY_T_SRC_AS:
		FLOW(src_as);
	case FY_T_DST_AS:
		FLOW(dst_as);
	case FY_T_END_REASON:
		FLOW(end_reason);
	case FY_T_DIRECTION:
		FLOW(direction);
	case FY_T_FW_EVENT:
		FLOW(fw_event);
	case FY_T_XLATE_SRC_PORT:
		FLOW(xlate_src_port);
	case FY_T_XLATE_DST_PORT:
		FLOW(xlate_dst_port);
	case FY_T_BYTES:
		REC(bytes, R_BYTES);
	case FY_T_PACKETS:
		REC(packets, R_PACKETS);
	case FY_T_OUT_BYTES:
	case FY_T_RESP_BYTES:
		REC(out_bytes, R_OUT_BYTES);
	case FY_T_OUT_PACKETS:
	case FY_T_RESP_PACKETS:
		REC(out_packets, R_OUT_PACKETS);
	case FY_T_TOTAL_BYTES:
		REC(total_bytes, R_TOTAL_BYTES);
	case FY_T_TOTAL_PACKETS:
		REC(total_packets, R_TOTAL_PACKETS);
	case FY_T_INIT_BYTES:
		REC(init_bytes, R_INIT_BYTES);
	case FY_T_INIT_PACKETS:
		REC(init_packets, R_INIT_PACKETS);
	case FY_T_FIRST_UPTIME:
		REC(first_up, R_FIRST_UP);
	case FY_T_LAST_UPTIME:
		REC(last_up, R_LAST_UP);
	default:
		o->kind = FOP_FIELD;
		break;
	}
	return true;
#undef FLOW
#undef REC
}

/*
 * Compiles the decode plan of a template without variable-length fields:
 * per-field dispatch on the IE is then paid once per template, not once
 * per field of every record.
 */
static void plan_compile(struct tmpl *t)
{
	uint32_t off = 0;
	uint16_t i;

	t->nops = 0;
	if (t->has_varlen)
		return;
	for (i = 0; i < t->nfields; i++) {
		struct fop *o = &t->ops[t->nops];

		if (plan_step(t->targets[i], t->fields[i].len, o)) {
			o->off = (uint16_t)off;
			t->nops++;
		}
		off += t->fields[i].len;
	}
}

/* Stores v in the n-byte integer at p (a field of a struct). */
static inline void put_host(uint8_t *p, uint64_t v, unsigned n)
{
	uint32_t v32 = (uint32_t)v;
	uint16_t v16 = (uint16_t)v;

	if (n == 8)
		memcpy(p, &v, 8);
	else if (n == 4)
		memcpy(p, &v32, 4);
	else if (n == 2)
		memcpy(p, &v16, 2);
	else
		*p = (uint8_t)v;
}

static bool read_record(const struct tmpl *t, struct fy_rd *set, struct rec *r)
{
	uint16_t i;

	if (!t->has_varlen) {
		/* Fixed layout: one bounds check, then the plan's steps. */
		const uint8_t *rec = set->p;
		uint8_t *fb = (uint8_t *)r->f, *rb = (uint8_t *)r;

		if (fy_rd_left(set) < t->min_len) {
			set->err = true;
			return false;
		}
		for (i = 0; i < t->nops; i++) {
			const struct fop *o = &t->ops[i];
			const uint8_t *p = rec + o->off;
			uint64_t u;

			if (o->kind == FOP_FIELD) {
				apply_field(r, o->target, p, o->len);
				continue;
			}
			/* as apply_field: wider than 8 bytes reads as 0 */
			u = o->len <= 8 ? be_uint(p, o->len) : 0;
			switch (o->kind) {
			case FOP_FLOW1:
				put_host(fb + o->dst, u, 1);
				break;
			case FOP_FLOW2:
				put_host(fb + o->dst, u, 2);
				break;
			case FOP_FLOW4:
				put_host(fb + o->dst, u, 4);
				break;
			case FOP_REC8:
				put_host(rb + o->dst, u, 8);
				r->have |= o->bit;
				break;
			default:
				put_host(rb + o->dst, u, 4);
				r->have |= o->bit;
				break;
			}
		}
		fy_rd_skip(set, t->min_len);
		return true;
	}
	for (i = 0; i < t->nfields; i++) {
		size_t len = t->fields[i].len;
		struct fy_rd v;

		if (len == FY_IE_VARLEN) {
			len = fy_rd_u8(set);
			if (len == 255)
				len = fy_rd_u16(set);
		}
		v = fy_rd_sub(set, len);
		if (set->err)
			return false;
		apply_field(r, t->targets[i], v.p, len);
	}
	return true;
}

/* ms of an uptime-relative v9 time, with 32-bit wrap either side. */
static uint64_t uptime_to_ms(uint64_t export_ms, uint32_t uptime, uint32_t t)
{
	uint32_t behind = uptime - t;

	if (behind < 0x80000000u)
		return export_ms >= behind ? export_ms - behind : 0;
	return export_ms + (uint32_t)(t - uptime);
}

static uint64_t best_time(const uint64_t *slot, uint8_t have)
{
	static const int order[] = {TP_MS, TP_US, TP_NS, TP_SEC};
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (have & (1u << order[i]))
			return slot[order[i]];
	return 0;
}

/*
 * IPFIX flows in uptime (IE 21/22) need the exporter's boot time (IE 160).
 * Without it: no flow ends after its export, so boot <= export - end; the
 * tightest such bound seen is the estimate. Durations stay exact. A bound
 * 2^31 ms past the estimate means the 32-bit uptime wrapped: start over.
 */
static uint64_t boot_estimate(struct session *s, const struct ctx *c,
			      const struct rec *r)
{
	uint32_t up = (r->have & R_LAST_UP) ? r->last_up : r->first_up;
	uint64_t bound = c->export_ms >= up ? c->export_ms - up : 0;

	if (!s->has_boot_est || bound < s->boot_est_ms ||
	    bound > s->boot_est_ms + 0x80000000ull) {
		s->boot_est_ms = bound;
		s->has_boot_est = true;
	}
	return s->boot_est_ms;
}

static void resolve_times(const struct ctx *c, struct session *s, struct rec *r)
{
	struct fy_flow *f = r->f;
	bool v9 = s->version == FY_NF_V9;
	bool sysinit = (r->have & R_SYSINIT) || s->has_sysinit;
	uint64_t init = (r->have & R_SYSINIT) ? r->sysinit_ms : s->sysinit_ms;

	if (!v9 && !sysinit && (r->have & (R_FIRST_UP | R_LAST_UP))) {
		init = boot_estimate(s, c, r);
		sysinit = true;
	}

	if (r->start_have)
		f->first_ms = best_time(r->start, r->start_have);
	else if ((r->have & R_FIRST_UP) && v9)
		f->first_ms =
			uptime_to_ms(c->export_ms, c->uptime_ms, r->first_up);
	else if ((r->have & R_FIRST_UP) && sysinit)
		f->first_ms = init + r->first_up;
	else if (r->have & R_START_DELTA)
		f->first_ms = c->export_ms - r->start_delta_us / 1000;
	else if (r->have & R_OBS)
		f->first_ms = r->obs_ms;
	else
		f->first_ms = c->export_ms;

	if (r->end_have)
		f->last_ms = best_time(r->end, r->end_have);
	else if ((r->have & R_LAST_UP) && v9)
		f->last_ms =
			uptime_to_ms(c->export_ms, c->uptime_ms, r->last_up);
	else if ((r->have & R_LAST_UP) && sysinit)
		f->last_ms = init + r->last_up;
	else if (r->have & R_END_DELTA)
		f->last_ms = c->export_ms - r->end_delta_us / 1000;
	else if (r->have & R_OBS)
		f->last_ms = r->obs_ms;
	else
		f->last_ms = f->first_ms > c->export_ms ? f->first_ms
							: c->export_ms;
	if (f->last_ms < f->first_ms)
		f->last_ms = f->first_ms;
}

static uint32_t record_sampling(const struct rec *r)
{
	/* PSAMP forms first: n-out-of-N, then interval and space. */
	if ((r->have & (R_SAMPLE_SIZE | R_POPULATION)) ==
		    (R_SAMPLE_SIZE | R_POPULATION) &&
	    r->sample_size)
		return r->population / r->sample_size;
	if ((r->have & R_PKT_INTERVAL) && r->pkt_interval)
		return (uint32_t)(((uint64_t)r->pkt_interval +
				   ((r->have & R_PKT_SPACE) ? r->pkt_space
							    : 0)) /
				  r->pkt_interval);
	if (r->have & R_SAMPLING)
		return r->sampling;
	return 0;
}

static uint32_t sampler_lookup(const struct session *s, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < s->nsamplers; i++)
		if (s->samplers[i].id == id)
			return s->samplers[i].interval;
	return 0;
}

/* Options records update exporter state: sampling, system init time. */
static void apply_options(struct session *s, const struct rec *r)
{
	uint32_t interval = record_sampling(r);
	uint32_t i;

	if (r->have & R_SYSINIT) {
		s->sysinit_ms = r->sysinit_ms;
		s->has_sysinit = true;
	}
	if (!(r->have & (R_SAMPLING | R_PKT_INTERVAL | R_POPULATION)))
		return;
	if (!(r->have & R_SAMPLER_ID)) {
		s->default_sampling = interval;
		return;
	}
	for (i = 0; i < s->nsamplers; i++) {
		if (s->samplers[i].id == r->sampler_id) {
			s->samplers[i].interval = interval;
			return;
		}
	}
	/* A full table recycles its oldest slot: samplers get redefined. */
	if (s->nsamplers < MAX_SAMPLERS)
		i = s->nsamplers++;
	else
		i = (uint32_t)(r->sampler_id % MAX_SAMPLERS);
	s->samplers[i].id = r->sampler_id;
	s->samplers[i].interval = interval;
}

/* Completes the flow in r->f from what the record held. */
static void finish_flow(const struct ctx *c, struct session *s, struct rec *r)
{
	struct fy_flow *f = r->f;

	/* With both families in the template, the addresses kept decide. */
	if ((r->have & (R_V4 | R_V6)) == R_V4)
		f->family = FY_AF_INET;
	else if ((r->have & (R_V4 | R_V6)) == R_V6)
		f->family = FY_AF_INET6;
	else if (r->have & R_V4)
		f->family = fy_addr_is_v4(&f->src) ? FY_AF_INET : FY_AF_INET6;

	if (r->have & R_BYTES)
		f->bytes = r->bytes;
	else if (r->have & R_TOTAL_BYTES)
		f->bytes = r->total_bytes;
	else if (r->have & R_INIT_BYTES)
		f->bytes = r->init_bytes;
	if (r->have & R_PACKETS)
		f->packets = r->packets;
	else if (r->have & R_TOTAL_PACKETS)
		f->packets = r->total_packets;
	else if (r->have & R_INIT_PACKETS)
		f->packets = r->init_packets;
	if (r->have & R_OUT_BYTES)
		f->out_bytes = r->out_bytes;
	if (r->have & R_OUT_PACKETS)
		f->out_packets = r->out_packets;

	if (r->have & R_ICMP_TC) {
		f->icmp_type = (uint8_t)(r->icmp_tc >> 8);
		f->icmp_code = (uint8_t)r->icmp_tc;
	} else if (!(r->have & R_ICMP_T) && (f->proto == 1 || f->proto == 58)) {
		/* Legacy exporters put type * 256 + code in the dst port. */
		f->icmp_type = (uint8_t)(f->dst_port >> 8);
		f->icmp_code = (uint8_t)f->dst_port;
	}

	f->sampling_interval = record_sampling(r);
	if (f->sampling_interval == 0 && (r->have & R_SAMPLER_ID))
		f->sampling_interval = sampler_lookup(s, r->sampler_id);
	if (f->sampling_interval == 0)
		f->sampling_interval = s->default_sampling;

	resolve_times(c, s, r);
	if (!(r->have & R_EXPORTER))
		f->exporter = s->src.addr;
	f->exporter_family = fy_addr_is_v4(&f->exporter) ? FY_AF_INET
							 : FY_AF_INET6;
	f->exporter_port = s->src.port;
	f->domain = s->domain;
	f->nf_version = s->version;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Decodes the records of one data set. Trailing bytes shorter than a
 * record are padding; a variable-length record that runs past the end is
 * padding if the rest is zeros, else the set is malformed.
 */
/* Tightens the boot estimate with the whole set before any flow uses it. */
static void prescan_uptime(struct ctx *c, struct session *s,
			   const struct tmpl *t, struct fy_rd set)
{
	struct fy_flow scratch;
	struct rec r;

	while (fy_rd_left(&set) >= t->min_len) {
		memset(&scratch, 0, sizeof(scratch));
		rec_reset(&r, &scratch);
		if (!read_record(t, &set, &r))
			break;
		if (r.have & (R_FIRST_UP | R_LAST_UP))
			boot_estimate(s, c, &r);
	}
}

static int decode_data_set(struct ctx *c, struct session *s,
			   const struct tmpl *t, const uint8_t *data,
			   size_t len)
{
	struct fy_rd set = fy_rd_init(data, len);
	struct rec r;

	if (t->has_uptime && s->version == FY_NF_IPFIX && !s->has_sysinit)
		prescan_uptime(c, s, t, set);

	while (fy_rd_left(&set) >= t->min_len) {
		const uint8_t *start = set.p;
		size_t left = set.len;
		/* the flow is built in its output slot: no copy */
		struct fy_flow *slot = out_slot(c->d);

		if (slot == NULL)
			return FY_NFDEC_NOMEM;
		rec_reset(&r, slot);
		if (!read_record(t, &set, &r)) {
			out_truncate(c->d, c->d->nout - 1);
			if (all_zero(start, left))
				break;
			return FY_NFDEC_MALFORMED;
		}
		/* IPFIX sequence numbers count options records too. */
		c->data_records++;
		if (t->is_options) {
			out_truncate(c->d, c->d->nout - 1);
			apply_options(s, &r);
			s->st.options_records++;
			continue;
		}
		finish_flow(c, s, &r);
	}
	return FY_NFDEC_OK;
}

static uint64_t sum_bytes(const struct fy_flow *f, size_t n)
{
	uint64_t b = 0;
	size_t i;

	for (i = 0; i < n; i++)
		b += f[i].bytes;
	return b;
}

/* Emits and counts flows out[from..] now: used for earlier packets' data. */
static void emit_since(struct ctx *c, struct session *s, size_t from)
{
	struct fy_nfdec *d = c->d;
	size_t n = d->nout - from;

	if (n == 0)
		return;
	if (c->emit)
		c->emit(c->arg, d->out + from, n);
	s->st.flows += n;
	s->st.bytes += sum_bytes(d->out + from, n);
	out_truncate(d, from);
}

/* A template arrived: decode the data that waited for it. */
static int pending_resolve(struct ctx *c, const struct tmpl *t)
{
	struct fy_nfdec *d = c->d;
	struct pending **pp = &d->pend_head, *p, *last = NULL;
	int r = FY_NFDEC_OK;

	while ((p = *pp)) {
		if (p->s != c->s || p->tid != t->id) {
			last = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		d->pend_bytes -= PEND_COST(p->len);
		c->s->npend--;
		if (p->serial == c->serial) {
			/* Same packet: its flows share the packet's fate. */
			r = decode_data_set(c, c->s, t, p->data, p->len);
			c->waiting--;
		} else {
			struct ctx old = *c;
			size_t mark = d->nout;
			/* emitted now, ahead of this packet's flows: those must
			 * not sit where the caller takes the emitted ones */
			if (d->out != d->own && !out_own(d, d->nout + 1)) {
				free(p);
				r = FY_NFDEC_NOMEM;
				break;
			}
			old.export_ms = p->export_ms;
			old.uptime_ms = p->uptime_ms;
			old.data_records = 0;
			if (decode_data_set(&old, c->s, t, p->data, p->len) ==
			    FY_NFDEC_OK)
				emit_since(&old, c->s, mark);
			else
				out_truncate(d, mark);
		}
		free(p);
		if (r != FY_NFDEC_OK)
			break;
	}
	d->pend_tail = last;
	while (d->pend_tail && d->pend_tail->next)
		d->pend_tail = d->pend_tail->next;
	return r;
}

static int data_set(struct ctx *c, uint16_t tid, const uint8_t *data,
		    size_t len, uint64_t now_ms)
{
	const struct tmpl *t = tmpl_find(c->s, tid);

	if (t == NULL) {
		pending_add(c, tid, data, len, now_ms);
		c->waiting++;
		return FY_NFDEC_OK;
	}
	return decode_data_set(c, c->s, t, data, len);
}

/* ---- template sets ---- */

/*
 * Parses one template record (v9 or IPFIX, data or options). Returns a
 * status; on success *t is the new template or NULL if it was rejected.
 */
static int parse_template(struct ctx *c, struct fy_rd *set, bool ipfix,
			  bool options, struct tmpl **out)
{
	struct fy_nfdec *d = c->d;
	uint16_t id = fy_rd_u16(set), nfields, nscope = 0, i;
	struct tmpl *t = NULL;

	*out = NULL;
	if (!ipfix && options) {
		/* v9: scope and option lengths in bytes, 4 per field. */
		uint16_t scope_len = fy_rd_u16(set), opt_len = fy_rd_u16(set);
		if (scope_len % 4 || opt_len % 4)
			return FY_NFDEC_MALFORMED;
		nscope = scope_len / 4;
		nfields = (uint16_t)(nscope + opt_len / 4);
	} else {
		nfields = fy_rd_u16(set);
		if (ipfix && options && nfields)
			nscope = fy_rd_u16(set);
	}
	if (set->err)
		return FY_NFDEC_MALFORMED;
	if (nscope > nfields)
		return FY_NFDEC_MALFORMED;
	if (nfields == 0) {
		if (!ipfix)
			return FY_NFDEC_MALFORMED;
		/* IPFIX withdrawal: one id, or all of a kind (id 2 or 3). */
		if (id == 2 || id == 3)
			tmpl_withdraw_all(d, c->s, id == 3);
		else
			tmpl_unlink(d, c->s, id);
		return FY_NFDEC_OK;
	}
	if (nfields <= d->cfg.max_template_fields && id >= 256)
		t = tmpl_alloc(id, nfields, options);
	for (i = 0; i < nfields; i++) {
		uint16_t fid = fy_rd_u16(set), flen = fy_rd_u16(set);
		uint32_t pen = 0;
		if (ipfix && (fid & 0x8000)) {
			fid &= 0x7fff;
			pen = fy_rd_u32(set);
		}
		if (t)
			tmpl_set_field(t, i, pen, fid, flen,
				       !ipfix && i < nscope);
	}
	if (set->err) {
		free(t);
		return FY_NFDEC_MALFORMED;
	}
	/* A record of no bytes could never be read; such ids stay unknown. */
	if (t == NULL || t->min_len == 0) {
		if (nfields > d->cfg.max_template_fields)
			d->totals.templates_too_long++;
		c->s->st.templates_rejected++;
		free(t);
		return FY_NFDEC_OK;
	}
	plan_compile(t);
	if (!tmpl_install(d, c->s, t))
		return FY_NFDEC_OK;
	*out = t;
	return FY_NFDEC_OK;
}

static int template_set(struct ctx *c, const uint8_t *data, size_t len,
			bool ipfix, bool options)
{
	struct fy_rd set = fy_rd_init(data, len);
	/* Smallest record: id and count (IPFIX withdrawal) or a v9 header. */
	size_t min = ipfix ? 4 : (options ? 6 : 4);

	while (fy_rd_left(&set) >= min) {
		struct tmpl *t;
		int r;

		if (all_zero(set.p, set.len))
			break; /* padding */
		r = parse_template(c, &set, ipfix, options, &t);
		if (r != FY_NFDEC_OK)
			return r;
		if (t && c->d->pend_head) {
			r = pending_resolve(c, t);
			if (r != FY_NFDEC_OK)
				return r;
		}
	}
	return FY_NFDEC_OK;
}

/* ---- sequence accounting ---- */

/*
 * `seq` is what the packet says; `advance` what the next one should add.
 * A packet behind the expected number is late or repeated, not a loss.
 */
static void sequence_check(struct ctx *c, uint32_t seq, uint64_t advance,
			   uint64_t flows_per_unit, bool known)
{
	struct session *s = c->s;

	if (s->seq_valid && seq != s->next_seq) {
		uint32_t gap = seq - s->next_seq;
		s->st.seq_failures++;
		c->seq_failures++;
		if (gap >= 0x80000000u)
			return; /* late packet: keep expecting the same */
		s->st.lost_flows += (uint64_t)gap * flows_per_unit;
		c->lost_flows += (uint64_t)gap * flows_per_unit;
	}
	s->seq_valid = known;
	s->next_seq = (uint32_t)(seq + advance);
}

/* ---- versions ---- */

static int decode_v5(struct fy_nfdec *d, struct ctx *c, struct fy_rd *rd,
		     const struct fy_nf_src *src, uint64_t now_ms)
{
	uint16_t count = fy_rd_u16(rd), si;
	uint32_t uptime = fy_rd_u32(rd), secs = fy_rd_u32(rd);
	uint32_t nsecs = fy_rd_u32(rd), seq = fy_rd_u32(rd);
	uint8_t etype = fy_rd_u8(rd), eid = fy_rd_u8(rd);
	int status = FY_NFDEC_OK;
	uint16_t i;

	si = fy_rd_u16(rd);
	if (rd->err || count == 0 || count > 30 ||
	    fy_rd_left(rd) < (size_t)count * 48)
		return FY_NFDEC_MALFORMED;
	c->s = session_get(d, src, (uint32_t)etype << 8 | eid, FY_NF_V5, now_ms,
			   &status);
	if (c->s == NULL)
		return status;
	c->export_ms = (uint64_t)secs * 1000 + nsecs / 1000000;
	for (i = 0; i < count; i++) {
		struct fy_flow *f = out_slot(d);
		uint32_t first, last;
		if (f == NULL)
			return FY_NFDEC_NOMEM;
		memset(f, 0, sizeof(*f));
		fy_addr_set_v4(&f->src, fy_rd_u32(rd));
		fy_addr_set_v4(&f->dst, fy_rd_u32(rd));
		fy_addr_set_v4(&f->nexthop, fy_rd_u32(rd));
		f->input_if = fy_rd_u16(rd);
		f->output_if = fy_rd_u16(rd);
		f->packets = fy_rd_u32(rd);
		f->bytes = fy_rd_u32(rd);
		first = fy_rd_u32(rd);
		last = fy_rd_u32(rd);
		f->src_port = fy_rd_u16(rd);
		f->dst_port = fy_rd_u16(rd);
		fy_rd_skip(rd, 1);
		f->tcp_flags = fy_rd_u8(rd);
		f->proto = fy_rd_u8(rd);
		f->tos = fy_rd_u8(rd);
		f->src_as = fy_rd_u16(rd);
		f->dst_as = fy_rd_u16(rd);
		f->src_mask = fy_rd_u8(rd);
		f->dst_mask = fy_rd_u8(rd);
		fy_rd_skip(rd, 2);
		f->family = FY_AF_INET;
		f->first_ms = uptime_to_ms(c->export_ms, uptime, first);
		f->last_ms = uptime_to_ms(c->export_ms, uptime, last);
		if (f->last_ms < f->first_ms)
			f->last_ms = f->first_ms;
		if (f->proto == 1) {
			f->icmp_type = (uint8_t)(f->dst_port >> 8);
			f->icmp_code = (uint8_t)f->dst_port;
		}
		f->sampling_interval = si & 0x3fff;
		f->engine_type = etype;
		f->engine_id = eid;
		f->exporter = src->addr;
		f->exporter_family = fy_addr_is_v4(&src->addr) ? FY_AF_INET
							       : FY_AF_INET6;
		f->exporter_port = src->port;
		f->domain = c->s->domain;
		f->nf_version = FY_NF_V5;
	}
	sequence_check(c, seq, count, 1, true);
	return FY_NFDEC_OK;
}

/* Walks the sets of a v9 or IPFIX message after its header. */
static int walk_sets(struct ctx *c, struct fy_rd *rd, bool ipfix,
		     uint64_t now_ms)
{
	uint16_t tmpl_id = ipfix ? 2 : 0, opt_id = ipfix ? 3 : 1;

	while (fy_rd_left(rd) >= 4) {
		const uint8_t *start = rd->p;
		uint16_t id = fy_rd_u16(rd), len = fy_rd_u16(rd);
		int r = FY_NFDEC_OK;

		if (len < 4 || len - 4u > fy_rd_left(rd)) {
			/* Zeros after the last set are padding, not a set. */
			if (id == 0 && len == 0 && all_zero(start, rd->len + 4))
				return FY_NFDEC_OK;
			return FY_NFDEC_MALFORMED;
		}
		len -= 4;
		if (id == tmpl_id || id == opt_id)
			r = template_set(c, rd->p, len, ipfix, id == opt_id);
		else if (id >= 256)
			r = data_set(c, id, rd->p, len, now_ms);
		/* other ids below 256 are reserved: skipped */
		if (r != FY_NFDEC_OK)
			return r;
		fy_rd_skip(rd, len);
	}
	return FY_NFDEC_OK;
}

static int decode_v9(struct fy_nfdec *d, struct ctx *c, struct fy_rd *rd,
		     const struct fy_nf_src *src, uint64_t now_ms)
{
	uint32_t uptime, secs, seq, source_id;
	int status = FY_NFDEC_OK;

	fy_rd_skip(rd, 2); /* count: records, often wrong; sets say more */
	uptime = fy_rd_u32(rd);
	secs = fy_rd_u32(rd);
	seq = fy_rd_u32(rd);
	source_id = fy_rd_u32(rd);
	if (rd->err)
		return FY_NFDEC_MALFORMED;
	c->s = session_get(d, src, source_id, FY_NF_V9, now_ms, &status);
	if (c->s == NULL)
		return status;
	c->export_ms = (uint64_t)secs * 1000;
	c->uptime_ms = uptime;
	status = walk_sets(c, rd, false, now_ms);
	if (status == FY_NFDEC_OK) {
		uint64_t per = c->s->st.packets ? (c->s->st.flows + d->nout) /
							  (c->s->st.packets + 1)
						: 1;
		sequence_check(c, seq, 1, per ? per : 1, true);
	}
	return status;
}

static int decode_ipfix(struct fy_nfdec *d, struct ctx *c, struct fy_rd *rd,
			const struct fy_nf_src *src, uint64_t now_ms)
{
	uint16_t mlen = fy_rd_u16(rd);
	uint32_t secs = fy_rd_u32(rd), seq = fy_rd_u32(rd);
	uint32_t domain = fy_rd_u32(rd);
	struct fy_rd msg;
	int status = FY_NFDEC_OK;

	if (rd->err || mlen < 16 || (size_t)mlen - 16 > fy_rd_left(rd))
		return FY_NFDEC_MALFORMED;
	/* Bytes after the message length (link padding) are not ours. */
	msg = fy_rd_sub(rd, (size_t)mlen - 16);
	c->s = session_get(d, src, domain, FY_NF_IPFIX, now_ms, &status);
	if (c->s == NULL)
		return status;
	c->export_ms = (uint64_t)secs * 1000;
	status = walk_sets(c, &msg, true, now_ms);
	if (status == FY_NFDEC_OK)
		sequence_check(c, seq, c->data_records, 1, c->waiting == 0);
	return status;
}

int fy_nfdec_decode(struct fy_nfdec *d, const struct fy_nf_src *src,
		    const uint8_t *pkt, size_t len, uint64_t now_ms,
		    fy_nfdec_emit_fn emit, void *arg)
{
	struct fy_rd rd = fy_rd_init(pkt, len);
	struct ctx c = {.d = d, .emit = emit, .arg = arg};
	uint16_t version;
	int r;

	d->totals.packets++;
	/* idle sessions wait for fy_nfdec_expire, or for a full table */
	pending_expire(d, now_ms);
	c.serial = ++d->serial;
	/* the caller's buffer serves this packet only */
	d->out = d->ext ? d->ext : d->own;
	d->outcap = d->ext ? d->ext_cap : d->own_cap;
	d->ext = NULL;
	d->ext_cap = 0;
	out_truncate(d, 0);

	memset(&d->last, 0, sizeof(d->last));
	version = fy_rd_u16(&rd);
	if (rd.err) {
		d->totals.malformed++;
		return FY_NFDEC_MALFORMED;
	}
	switch (version) {
	case 5:
		r = decode_v5(d, &c, &rd, src, now_ms);
		break;
	case 9:
		r = decode_v9(d, &c, &rd, src, now_ms);
		break;
	case 10:
		r = decode_ipfix(d, &c, &rd, src, now_ms);
		break;
	default:
		d->totals.bad_version++;
		return FY_NFDEC_BAD_VERSION;
	}
	if (c.s) {
		d->last.stats = &c.s->st;
		d->last.domain = c.s->domain;
		d->last.version = c.s->version;
		d->last.seq_failures = c.seq_failures;
		d->last.lost_flows = c.lost_flows;
		c.s->st.packets++;
		if (c.s->st.first_seen_ms == 0)
			c.s->st.first_seen_ms = now_ms;
		c.s->st.last_seen_ms = now_ms;
	}
	if (r != FY_NFDEC_OK) {
		out_truncate(d, 0);
		if (r == FY_NFDEC_MALFORMED) {
			d->totals.malformed++;
			if (c.s)
				c.s->st.malformed++;
		}
		pending_forget_serial(d, c.serial);
		return r;
	}
	if (d->nout) {
		if (emit)
			emit(arg, d->out, d->nout);
		c.s->st.flows += d->nout;
		c.s->st.bytes += sum_bytes(d->out, d->nout);
		out_truncate(d, 0);
	}
	return FY_NFDEC_OK;
}

/* ---- life cycle and iteration ---- */

struct fy_nfdec *fy_nfdec_new(const struct fy_nfdec_cfg *cfg)
{
	struct fy_nfdec *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	if (cfg)
		d->cfg = *cfg;
#define DEF(field, v)          \
	if (d->cfg.field == 0) \
		d->cfg.field = (v);
	DEF(max_sessions, DEF_MAX_SESSIONS);
	DEF(max_templates, DEF_MAX_TEMPLATES);
	DEF(max_templates_per_session, DEF_MAX_TEMPLATES_PER_SESSION);
	DEF(max_template_fields, DEF_MAX_TEMPLATE_FIELDS);
	DEF(pending_max_bytes, DEF_PENDING_MAX_BYTES);
	DEF(pending_max_age_ms, DEF_PENDING_MAX_AGE_MS);
#undef DEF
	return d;
}

void fy_nfdec_free(struct fy_nfdec *d)
{
	uint32_t i;

	if (d == NULL)
		return;
	while (d->pend_head)
		pending_drop_head(d);
	for (i = 0; i < d->sess_buckets; i++) {
		struct session *s = d->sess_tab[i], *nx;
		for (; s; s = nx) {
			nx = s->next;
			session_free_templates(s);
			free(s);
		}
	}
	free(d->sess_tab);
	free(d->own);
	free(d);
}

void fy_nfdec_set_output(struct fy_nfdec *d, struct fy_flow *buf, size_t cap)
{
	d->ext = cap ? buf : NULL;
	d->ext_cap = buf ? cap : 0;
}

const struct fy_nfdec_totals *fy_nfdec_totals(const struct fy_nfdec *d)
{
	return &d->totals;
}

const struct fy_nfdec_cfg *fy_nfdec_config(const struct fy_nfdec *d)
{
	return &d->cfg;
}

void fy_nfdec_get_usage(const struct fy_nfdec *d, struct fy_nfdec_usage *u)
{
	u->sessions = d->nsess;
	u->templates = d->ntmpl;
	u->pending_bytes = d->pend_bytes;
	u->oldest_seen_ms = d->lru_tail ? d->lru_tail->st.last_seen_ms : 0;
}

const struct fy_nfdec_result *fy_nfdec_result(const struct fy_nfdec *d)
{
	return &d->last;
}

int fy_nfdec_foreach_session(const struct fy_nfdec *d,
			     int (*fn)(void *arg,
				       const struct fy_nfdec_session_info *),
			     void *arg)
{
	uint32_t i;

	for (i = 0; i < d->sess_buckets; i++) {
		const struct session *s;
		for (s = d->sess_tab[i]; s; s = s->next) {
			struct fy_nfdec_session_info info = {
				.src = s->src,
				.domain = s->domain,
				.version = s->version,
				.templates = s->ntmpl,
				.stats = &s->st,
			};
			int r = fn(arg, &info);
			if (r)
				return r;
		}
	}
	return 0;
}

int fy_nfdec_foreach_template(const struct fy_nfdec *d,
			      int (*fn)(void *arg,
					const struct fy_nfdec_template_info *),
			      void *arg)
{
	uint32_t i, j;

	for (i = 0; i < d->sess_buckets; i++) {
		const struct session *s;
		for (s = d->sess_tab[i]; s; s = s->next) {
			for (j = 0; j < s->tmpl_buckets; j++) {
				const struct tmpl *t;
				for (t = s->tmpl_tab[j]; t; t = t->next) {
					struct fy_nfdec_template_info info = {
						.src = s->src,
						.domain = s->domain,
						.id = t->id,
						.version = s->version,
						.is_options = t->is_options,
						.nfields = t->nfields,
						.fields = t->fields,
					};
					int r = fn(arg, &info);
					if (r)
						return r;
				}
			}
		}
	}
	return 0;
}
