/*
 * cache.c - the flow cache, see cache.h.
 *
 * Entries are addressed by 32-bit index (NIL for none) rather than
 * pointer: links take half the room, and a list head is two integers.
 */
#include "cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define MAX_FLOWS (1u << 31)

#define DEFAULT_FRAG_TIMEOUT_MS 30000 /* as IPv4 reassembly (RFC 791) */
#define MIN_FRAG_SLOTS 256

/* Idle lists: one per class, then the TCP flows that saw FIN or RST. */
enum {
	IDLE_FIN = FC_NCLASS,
	IDLE_RST,
	IDLE_NLISTS,
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/* Entry state bits. */
#define ST_FIN 0x01	/* FIN seen: lingering for the last ACKs */
#define ST_RST 0x02	/* RST seen */
#define ST_SWAPPED 0x04 /* the initiator is the key's reverse (biflow) */

/*
 * The flow key, hashed and compared as 40 bytes: no padding. ICMP keeps
 * type and code in dport (type << 8 | code), sport 0.
 */
struct fc_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint16_t vlan;
	uint8_t proto;
	uint8_t family;
};

_Static_assert(sizeof(struct fc_key) == 40, "fc_key must have no padding");

struct fc_link {
	uint32_t prev;
	uint32_t next;
};

struct fc_list {
	uint32_t head;
	uint32_t tail;
};

struct fc_entry {
	struct fc_key key;
	uint32_t hnext; /* hash chain; also the free list */
	struct fc_link idle;
	struct fc_link act;
	uint64_t first_ms; /* packet times */
	uint64_t last_ms;
	uint64_t touched; /* cache clock at the last packet */
	uint64_t created; /* cache clock at the first packet */
	uint64_t packets;
	uint64_t bytes;
	uint64_t rpackets; /* reverse direction (biflow) */
	uint64_t rbytes;
	uint32_t mpls_label;
	uint32_t ifindex;
	uint8_t tcp_flags;
	uint8_t rtcp_flags;
	uint8_t tos;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t cls;	   /* enum fc_class: the active list */
	uint8_t idle_list; /* which idle list */
	uint8_t state;	   /* ST_* */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
};

/* What the fragment table remembers of a first fragment. */
struct fc_frag {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t family;
	uint8_t used;
	uint64_t ts;
};

struct fc_cache {
	struct fc_cfg cfg;
	fc_export_fn export_fn;
	void *arg;

	struct fc_entry *entries;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t free_head;   /* entries exported, linked by hnext */
	uint32_t next_unused; /* entries never used: from here to the end */

	struct fc_list idle[IDLE_NLISTS];
	uint32_t idle_to[IDLE_NLISTS]; /* timeout of each idle list */
	struct fc_list act[FC_NCLASS];

	struct fc_frag *frags;
	uint32_t frag_mask;

	uint64_t clock;
	uint64_t next_deadline; /* no flow expires before this */
	struct fc_stats stats;
};

/* ---- SipHash-1-3 of a key (Aumasson and Bernstein) ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = rotl(v1, 13); \
		v1 ^= v0;          \
		v0 = rotl(v0, 32); \
		v2 += v3;          \
		v3 = rotl(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = rotl(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = rotl(v1, 17); \
		v1 ^= v2;          \
		v2 = rotl(v2, 32); \
	} while (0)

/* `n` is a multiple of 8; the byte order of the words does not matter. */
static uint64_t siphash13(const uint64_t k[2], const void *data, size_t n)
{
	uint64_t v0 = k[0] ^ 0x736f6d6570736575ull;
	uint64_t v1 = k[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = k[0] ^ 0x6c7967656e657261ull;
	uint64_t v3 = k[1] ^ 0x7465646279746573ull;
	const uint8_t *p = data;
	uint64_t m;
	size_t i;

	for (i = 0; i < n; i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	m = (uint64_t)n << 56;
	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- intrusive lists over entry indices ---- */

static struct fc_link *link_of(struct fc_cache *c, uint32_t i, bool idle)
{
	return idle ? &c->entries[i].idle : &c->entries[i].act;
}

static void list_append(struct fc_cache *c, struct fc_list *l, uint32_t i,
			bool idle)
{
	struct fc_link *k = link_of(c, i, idle);

	k->prev = l->tail;
	k->next = NIL;
	if (l->tail != NIL)
		link_of(c, l->tail, idle)->next = i;
	else
		l->head = i;
	l->tail = i;
}

static void list_remove(struct fc_cache *c, struct fc_list *l, uint32_t i,
			bool idle)
{
	struct fc_link *k = link_of(c, i, idle);

	if (k->prev != NIL)
		link_of(c, k->prev, idle)->next = k->next;
	else
		l->head = k->next;
	if (k->next != NIL)
		link_of(c, k->next, idle)->prev = k->prev;
	else
		l->tail = k->prev;
	k->prev = k->next = NIL;
}

/* ---- deadlines ---- */

static uint64_t add_ms(uint64_t t, uint32_t ms)
{
	return t > UINT64_MAX - ms ? UINT64_MAX : t + ms;
}

/* When the entry leaves its idle list by timeout; UINT64_MAX: never. */
static uint64_t idle_deadline(const struct fc_cache *c,
			      const struct fc_entry *e)
{
	uint32_t to = c->idle_to[e->idle_list];

	if (to == 0 && e->idle_list < FC_NCLASS)
		return UINT64_MAX;
	return add_ms(e->touched, to);
}

static uint64_t active_deadline(const struct fc_cache *c,
				const struct fc_entry *e)
{
	uint32_t to = c->cfg.to.active_ms[e->cls];

	return to == 0 ? UINT64_MAX : add_ms(e->created, to);
}

static void note_deadline(struct fc_cache *c, uint64_t t)
{
	if (t < c->next_deadline)
		c->next_deadline = t;
}

static void recompute_deadline(struct fc_cache *c)
{
	int i;

	c->next_deadline = UINT64_MAX;
	for (i = 0; i < IDLE_NLISTS; i++)
		if (c->idle[i].head != NIL)
			note_deadline(
				c,
				idle_deadline(c, &c->entries[c->idle[i].head]));
	for (i = 0; i < FC_NCLASS; i++)
		if (c->act[i].head != NIL)
			note_deadline(c,
				      active_deadline(
					      c, &c->entries[c->act[i].head]));
}

/* ---- setup ---- */

enum fc_class fc_class_of(uint8_t proto)
{
	switch (proto) {
	case PROTO_TCP:
		return FC_TCP;
	case PROTO_UDP:
		return FC_UDP;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		return FC_ICMP;
	default:
		return FC_GENERAL;
	}
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

struct fc_cache *fc_new(const struct fc_cfg *cfg, fc_export_fn fn, void *arg)
{
	struct fc_cache *c = NULL;
	uint32_t i, nb, nf;

	if (cfg == NULL || fn == NULL || cfg->max_flows == 0 ||
	    cfg->max_flows > MAX_FLOWS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->cfg = *cfg;
	if (c->cfg.frag_timeout_ms == 0)
		c->cfg.frag_timeout_ms = DEFAULT_FRAG_TIMEOUT_MS;
	c->export_fn = fn;
	c->arg = arg;

	/* Load factor at most 1/2: short chains on average. */
	nb = pow2_at_least(cfg->max_flows) * 2;
	nf = cfg->frag_slots ? cfg->frag_slots : cfg->max_flows / 8;
	nf = pow2_at_least(nf < MIN_FRAG_SLOTS ? MIN_FRAG_SLOTS : nf);
	c->entries = calloc(cfg->max_flows, sizeof(*c->entries));
	c->buckets = malloc((size_t)nb * sizeof(*c->buckets));
	c->frags = calloc(nf, sizeof(*c->frags));
	if (c->entries == NULL || c->buckets == NULL || c->frags == NULL) {
		fc_free(c);
		return NULL;
	}
	c->bucket_mask = nb - 1;
	c->frag_mask = nf - 1;
	for (i = 0; i < nb; i++)
		c->buckets[i] = NIL;
	/*
	 * Entries are handed out in order before any is reused, so that the
	 * pages of a large cache are only touched when flows need them.
	 */
	c->free_head = NIL;
	c->next_unused = 0;
	for (i = 0; i < IDLE_NLISTS; i++)
		c->idle[i].head = c->idle[i].tail = NIL;
	for (i = 0; i < FC_NCLASS; i++) {
		c->act[i].head = c->act[i].tail = NIL;
		c->idle_to[i] = cfg->to.idle_ms[i];
	}
	c->idle_to[IDLE_FIN] = cfg->to.tcp_fin_ms;
	c->idle_to[IDLE_RST] = cfg->to.tcp_rst_ms;
	c->next_deadline = UINT64_MAX;
	return c;
}

void fc_free(struct fc_cache *c)
{
	if (c == NULL)
		return;
	free(c->entries);
	free(c->buckets);
	free(c->frags);
	free(c);
}

/* ---- export ---- */

static void entry_to_flow(const struct fc_cache *c, const struct fc_entry *e,
			  struct fy_flow *f)
{
	const struct fc_key *k = &e->key;
	bool sw = e->state & ST_SWAPPED;

	memset(f, 0, sizeof(*f));
	f->first_ms = e->first_ms;
	f->last_ms = e->last_ms;
	f->packets = e->packets;
	f->bytes = e->bytes;
	f->out_packets = e->rpackets;
	f->out_bytes = e->rbytes;
	memcpy(f->src.b, sw ? k->dst : k->src, 16);
	memcpy(f->dst.b, sw ? k->src : k->dst, 16);
	f->family = k->family;
	f->proto = k->proto;
	if (k->proto == PROTO_ICMP || k->proto == PROTO_ICMPV6) {
		f->icmp_type = e->icmp_type;
		f->icmp_code = e->icmp_code;
	} else {
		f->src_port = sw ? k->dport : k->sport;
		f->dst_port = sw ? k->sport : k->dport;
	}
	f->tcp_flags = e->tcp_flags;
	f->tos = e->tos;
	f->vlan = k->vlan;
	f->mpls_label = e->mpls_label;
	f->input_if = e->ifindex;
	memcpy(f->src_mac, e->src_mac, 6);
	memcpy(f->dst_mac, e->dst_mac, 6);
	f->sampling_interval = c->cfg.sampling_interval;
	f->domain = c->cfg.domain;
}

static uint32_t key_bucket(const struct fc_cache *c, const struct fc_key *k)
{
	return (uint32_t)siphash13(c->cfg.seed, k, sizeof(*k)) & c->bucket_mask;
}

static void hash_remove(struct fc_cache *c, uint32_t i)
{
	uint32_t *pp = &c->buckets[key_bucket(c, &c->entries[i].key)];

	while (*pp != NIL && *pp != i)
		pp = &c->entries[*pp].hnext;
	if (*pp == i)
		*pp = c->entries[i].hnext;
}

/*
 * Takes entry `i` out of the cache and exports it. A flow that saw FIN or
 * RST ended, whatever made us export it now.
 */
static void export_entry(struct fc_cache *c, uint32_t i, uint8_t reason)
{
	struct fc_entry *e = &c->entries[i];
	struct fy_flow f;

	if (e->state & (ST_FIN | ST_RST))
		reason = FY_END_EOF;
	entry_to_flow(c, e, &f);
	f.end_reason = reason;

	hash_remove(c, i);
	list_remove(c, &c->idle[e->idle_list], i, true);
	list_remove(c, &c->act[e->cls], i, false);
	e->hnext = c->free_head;
	c->free_head = i;

	c->stats.flows_active--;
	c->stats.flows_exported++;
	c->stats.end_reason[reason]++;
	c->export_fn(c->arg, &f);
}

/* The least recently active flow: the oldest of the idle list heads. */
static uint32_t lru_entry(const struct fc_cache *c)
{
	uint32_t best = NIL;
	int i;

	for (i = 0; i < IDLE_NLISTS; i++) {
		uint32_t h = c->idle[i].head;

		if (h == NIL)
			continue;
		if (best == NIL ||
		    c->entries[h].touched < c->entries[best].touched)
			best = h;
	}
	return best;
}

static void expire_due(struct fc_cache *c)
{
	uint64_t now = c->clock;
	uint32_t h;
	int i;

	for (i = 0; i < IDLE_NLISTS; i++) {
		uint8_t reason = i < FC_NCLASS ? FY_END_IDLE : FY_END_EOF;

		while ((h = c->idle[i].head) != NIL &&
		       idle_deadline(c, &c->entries[h]) <= now)
			export_entry(c, h, reason);
	}
	for (i = 0; i < FC_NCLASS; i++)
		while ((h = c->act[i].head) != NIL &&
		       active_deadline(c, &c->entries[h]) <= now)
			export_entry(c, h, FY_END_ACTIVE);
	recompute_deadline(c);
}

void fc_expire(struct fc_cache *c, uint64_t now_ms)
{
	if (now_ms > c->clock)
		c->clock = now_ms;
	if (c->clock >= c->next_deadline)
		expire_due(c);
}

void fc_expire_all(struct fc_cache *c, uint8_t reason)
{
	uint32_t h;

	while ((h = lru_entry(c)) != NIL)
		export_entry(c, h, reason);
	c->next_deadline = UINT64_MAX;
}

/* ---- fragments ---- */

static uint32_t frag_slot(const struct fc_cache *c, const struct fy_pkt *p)
{
	struct {
		uint8_t src[16];
		uint8_t dst[16];
		uint32_t id;
		uint8_t proto;
		uint8_t family;
		uint8_t pad[2];
	} k;

	_Static_assert(sizeof(k) == 40, "fragment key must have no padding");
	memcpy(k.src, p->src.b, 16);
	memcpy(k.dst, p->dst.b, 16);
	k.id = p->frag_id;
	k.proto = p->proto;
	k.family = p->family;
	k.pad[0] = k.pad[1] = 0;
	return (uint32_t)siphash13(c->cfg.seed, &k, sizeof(k)) & c->frag_mask;
}

static bool frag_matches(const struct fc_frag *s, const struct fy_pkt *p)
{
	return s->used && s->id == p->frag_id && s->proto == p->proto &&
	       s->family == p->family && memcmp(s->src, p->src.b, 16) == 0 &&
	       memcmp(s->dst, p->dst.b, 16) == 0;
}

static void frag_remember(struct fc_cache *c, const struct fy_pkt *p,
			  uint16_t sport, uint16_t dport)
{
	struct fc_frag *s = &c->frags[frag_slot(c, p)];

	memcpy(s->src, p->src.b, 16);
	memcpy(s->dst, p->dst.b, 16);
	s->id = p->frag_id;
	s->proto = p->proto;
	s->family = p->family;
	s->sport = sport;
	s->dport = dport;
	s->used = 1;
	s->ts = c->clock;
	c->stats.frag_first++;
}

/* Fills the ports of a later fragment from its first one, if seen. */
static void frag_lookup(struct fc_cache *c, const struct fy_pkt *p,
			struct fc_key *k)
{
	const struct fc_frag *s = &c->frags[frag_slot(c, p)];

	if (frag_matches(s, p) && c->clock - s->ts < c->cfg.frag_timeout_ms) {
		k->sport = s->sport;
		k->dport = s->dport;
		c->stats.frag_joined++;
	} else {
		c->stats.frag_orphans++;
	}
}

/* ---- packets ---- */

static bool is_icmp(uint8_t proto)
{
	return proto == PROTO_ICMP || proto == PROTO_ICMPV6;
}

/*
 * In a biflow, an echo reply belongs to its request's flow: key both by
 * the request type.
 */
static uint8_t icmp_key_type(uint8_t proto, uint8_t type)
{
	if (proto == PROTO_ICMP && type == 0)
		return 8;
	if (proto == PROTO_ICMPV6 && type == 129)
		return 128;
	return type;
}

static void key_swap(struct fc_key *k)
{
	uint8_t t[16];
	uint16_t p;

	memcpy(t, k->src, 16);
	memcpy(k->src, k->dst, 16);
	memcpy(k->dst, t, 16);
	if (is_icmp(k->proto))
		return; /* dport holds type and code, not a port */
	p = k->sport;
	k->sport = k->dport;
	k->dport = p;
}

/*
 * Builds the packet's key; in a biflow cache puts it in canonical order
 * (lower address and port first) and says whether it was swapped.
 */
static bool make_key(struct fc_cache *c, const struct fy_pkt *p,
		     struct fc_key *k)
{
	int cmp;

	memset(k, 0, sizeof(*k));
	memcpy(k->src, p->src.b, 16);
	memcpy(k->dst, p->dst.b, 16);
	k->proto = p->proto;
	k->family = p->family;
	if (c->cfg.key_vlan)
		k->vlan = p->vlan;
	if (p->flags & FY_PKT_F_FRAG_LATER) {
		frag_lookup(c, p, k);
	} else if (is_icmp(p->proto)) {
		uint8_t t = c->cfg.biflow
				    ? icmp_key_type(p->proto, p->icmp_type)
				    : p->icmp_type;

		k->dport = (uint16_t)(t << 8 | p->icmp_code);
		if (p->flags & FY_PKT_F_FRAG)
			frag_remember(c, p, 0, k->dport);
	} else {
		k->sport = p->sport;
		k->dport = p->dport;
		if (p->flags & FY_PKT_F_FRAG)
			frag_remember(c, p, k->sport, k->dport);
	}
	if (!c->cfg.biflow)
		return false;
	cmp = memcmp(k->src, k->dst, 16);
	if (cmp > 0 ||
	    (cmp == 0 && !is_icmp(k->proto) && k->sport > k->dport)) {
		key_swap(k);
		return true;
	}
	return false;
}

static uint32_t lookup(const struct fc_cache *c, const struct fc_key *k,
		       uint32_t bucket)
{
	uint32_t i = c->buckets[bucket];

	while (i != NIL && memcmp(&c->entries[i].key, k, sizeof(*k)) != 0)
		i = c->entries[i].hnext;
	return i;
}

static uint32_t take_free(struct fc_cache *c)
{
	uint32_t i = c->free_head;

	if (i == NIL && c->next_unused < c->cfg.max_flows)
		return c->next_unused++;
	if (i == NIL) {
		i = lru_entry(c);
		c->stats.evicted++;
		export_entry(c, i, FY_END_LACK_OF_RESOURCES);
		i = c->free_head;
	}
	c->free_head = c->entries[i].hnext;
	return i;
}

static uint32_t create_entry(struct fc_cache *c, const struct fc_key *k,
			     const struct fy_pkt *p, bool swapped,
			     uint64_t ts_ms)
{
	uint32_t i = take_free(c);
	struct fc_entry *e = &c->entries[i];
	uint32_t b = key_bucket(c, k);

	memset(e, 0, sizeof(*e));
	e->key = *k;
	e->hnext = c->buckets[b];
	c->buckets[b] = i;
	e->first_ms = e->last_ms = ts_ms;
	e->created = e->touched = c->clock;
	e->cls = (uint8_t)fc_class_of(p->proto);
	e->idle_list = e->cls;
	e->state = swapped ? ST_SWAPPED : 0;
	e->tos = p->tos;
	e->icmp_type = p->icmp_type;
	e->icmp_code = p->icmp_code;
	e->mpls_label = p->mpls_label;
	e->ifindex = p->ifindex;
	memcpy(e->src_mac, p->src_mac, 6);
	memcpy(e->dst_mac, p->dst_mac, 6);
	list_append(c, &c->idle[e->idle_list], i, true);
	list_append(c, &c->act[e->cls], i, false);
	note_deadline(c, idle_deadline(c, e));
	note_deadline(c, active_deadline(c, e));

	c->stats.flows_created++;
	c->stats.flows_active++;
	if (c->stats.flows_active > c->stats.flows_peak)
		c->stats.flows_peak = c->stats.flows_active;
	return i;
}

/* A TCP packet that ends the flow moves it to the FIN or RST list. */
static void tcp_state(struct fc_cache *c, uint32_t i, uint8_t flags)
{
	struct fc_entry *e = &c->entries[i];
	uint8_t list = e->idle_list;

	if (flags & TCP_RST) {
		e->state |= ST_RST;
		list = IDLE_RST;
	} else if ((flags & TCP_FIN) && !(e->state & ST_RST)) {
		e->state |= ST_FIN;
		list = IDLE_FIN;
	}
	if (list == e->idle_list)
		return;
	list_remove(c, &c->idle[e->idle_list], i, true);
	e->idle_list = list;
	list_append(c, &c->idle[list], i, true);
	note_deadline(c, idle_deadline(c, e));
}

static void account(struct fc_cache *c, uint32_t i, const struct fy_pkt *p,
		    bool forward, uint64_t ts_ms)
{
	struct fc_entry *e = &c->entries[i];

	if (forward) {
		e->packets++;
		e->bytes += p->ip_len;
		e->tcp_flags |= p->tcp_flags;
	} else {
		e->rpackets++;
		e->rbytes += p->ip_len;
		e->rtcp_flags |= p->tcp_flags;
	}
	if (ts_ms < e->first_ms)
		e->first_ms = ts_ms;
	if (ts_ms > e->last_ms)
		e->last_ms = ts_ms;
	e->touched = c->clock;
	list_remove(c, &c->idle[e->idle_list], i, true);
	list_append(c, &c->idle[e->idle_list], i, true);
	c->stats.packets++;
	c->stats.bytes += p->ip_len;
}

/*
 * A flow that ended is not continued by a new connection's SYN, nor by its
 * SYN-ACK: the server's direction of a reused port starts anew too (a
 * retransmitted SYN-ACK never follows this direction's own FIN or RST).
 */
static bool restarts(const struct fc_entry *e, const struct fy_pkt *p)
{
	return (e->state & (ST_FIN | ST_RST)) && (p->tcp_flags & TCP_SYN);
}

void fc_packet(struct fc_cache *c, const struct fy_pkt *p, uint64_t ts_ms)
{
	struct fc_key k;
	bool swapped;
	uint32_t i;

	if (ts_ms > c->clock)
		c->clock = ts_ms;
	else if (ts_ms < c->clock)
		c->stats.clock_backwards++;
	if (c->clock >= c->next_deadline)
		expire_due(c);

	swapped = make_key(c, p, &k);
	i = lookup(c, &k, key_bucket(c, &k));
	if (i != NIL && k.proto == PROTO_TCP && restarts(&c->entries[i], p)) {
		export_entry(c, i, FY_END_EOF);
		i = NIL;
	}
	if (i == NIL)
		i = create_entry(c, &k, p, swapped, ts_ms);
	account(c, i, p, swapped == !!(c->entries[i].state & ST_SWAPPED),
		ts_ms);
	if (k.proto != PROTO_TCP || !(p->tcp_flags & (TCP_FIN | TCP_RST)))
		return;
	tcp_state(c, i, p->tcp_flags);
	if (c->idle_to[c->entries[i].idle_list] == 0)
		export_entry(c, i, FY_END_EOF);
}

int fc_foreach(const struct fc_cache *c,
	       int (*fn)(void *arg, const struct fy_flow *f), void *arg)
{
	uint32_t pos[IDLE_NLISTS];
	struct fy_flow f;
	int i, r;

	/* merge the idle lists by last activity */
	for (i = 0; i < IDLE_NLISTS; i++)
		pos[i] = c->idle[i].head;
	for (;;) {
		int best = -1;

		for (i = 0; i < IDLE_NLISTS; i++)
			if (pos[i] != NIL &&
			    (best < 0 || c->entries[pos[i]].touched <
						 c->entries[pos[best]].touched))
				best = i;
		if (best < 0)
			return 0;
		entry_to_flow(c, &c->entries[pos[best]], &f);
		r = fn(arg, &f);
		if (r != 0)
			return r;
		pos[best] = c->entries[pos[best]].idle.next;
	}
}

uint64_t fc_walk(const struct fc_cache *c, uint64_t pos, uint64_t max_buckets,
		 int (*fn)(void *arg, const struct fy_flow *f), void *arg)
{
	uint64_t end = fc_buckets(c);
	struct fy_flow f;
	bool stop = false;
	uint32_t i;

	if (pos > end)
		pos = end;
	if (max_buckets < end - pos)
		end = pos + max_buckets;
	for (; pos < end && !stop; pos++) {
		for (i = c->buckets[pos]; i != NIL; i = c->entries[i].hnext) {
			entry_to_flow(c, &c->entries[i], &f);
			if (fn(arg, &f) != 0)
				stop = true;
		}
	}
	return pos;
}

uint64_t fc_buckets(const struct fc_cache *c)
{
	return (uint64_t)c->bucket_mask + 1;
}

uint64_t fc_clock(const struct fc_cache *c)
{
	return c->clock;
}

const struct fc_stats *fc_stats(const struct fc_cache *c)
{
	return &c->stats;
}
