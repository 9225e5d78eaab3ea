/*
 * agg.c - counters keyed by byte strings: the engine of -a, -A, -B and -s.
 *
 * Entries live in chunks of CHUNK entries that never move, so a pointer
 * to counters stays valid while the table grows and no growth copies the
 * data (a realloc of a 1 GB array would need 2 GB for a moment). The index
 * is open addressing over (hash, entry number) pairs at most half full:
 * a lookup compares 32 bits of hash before it touches an entry.
 */
#include "nfq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_SHIFT 14
#define CHUNK (1u << CHUNK_SHIFT)
#define MIN_SLOTS 1024

struct slot {
	uint32_t hash;
	uint32_t idx1; /* entry index + 1; 0: empty */
};

struct nfq_ht {
	size_t key_len;
	size_t ent_size;
	uint8_t **chunks;
	size_t n_chunks, chunks_cap;
	size_t count;
	struct slot *slots;
	size_t mask; /* number of slots - 1 */
};

/* Tables up to this many slots stay in the cache: no prefetching. */
#define SMALL_SLOTS 16384

/*
 * 64x64 -> 128-bit multiply, the halves folded: one multiplication mixes
 * 16 bytes of key (wyhash's construction).
 */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	__extension__ typedef unsigned __int128 u128;
	u128 m = (u128)a * b;

	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

#define HK0 0xa0761d6478bd642full
#define HK1 0xe7037ed1a0b428dbull
#define HK2 0x8ebc6af09c88c6e3ull

/*
 * A fast 64-bit hash of a short key: 16 bytes per multiplication, then
 * one to mix. The low 32 bits tag a slot, the high ones pick a partition.
 */
static inline uint64_t hash_key(const uint8_t *k, size_t len)
{
	uint64_t h = HK0 ^ len;
	uint8_t t[16] = {0};

	while (len >= 16) {
		h = mum(load64(k) ^ HK1 ^ h, load64(k + 8) ^ HK2);
		k += 16;
		len -= 16;
	}
	if (len) {
		memcpy(t, k, len);
		h = mum(load64(t) ^ HK1 ^ h, load64(t + 8) ^ HK2);
	}
	return mum(h ^ HK0, HK1);
}

/*
 * Key comparison: an address key (16 bytes, -s srcip and the like) with
 * two loads instead of a call. Not inline, so that no caller's constant
 * key length makes the compiler look into the branch of another length.
 */
static __attribute__((noinline)) bool key_eq(const uint8_t *a, const uint8_t *b,
					     size_t len)
{
	if (len == 16)
		return load64(a) == load64(b) && load64(a + 8) == load64(b + 8);
	return memcmp(a, b, len) == 0;
}

static inline uint8_t *entry_at(const struct nfq_ht *h, size_t i)
{
	return h->chunks[i >> CHUNK_SHIFT] + (i & (CHUNK - 1)) * h->ent_size;
}

static inline uint8_t *entry_key(uint8_t *e)
{
	return e + sizeof(struct nfq_counters);
}

int nfq_ht_new(struct nfq_ht **out, size_t key_len)
{
	struct nfq_ht *h;

	*out = NULL;
	if (key_len == 0 || key_len > NFQ_KEY_MAX)
		return -EINVAL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->key_len = key_len;
	/* counters then key, each entry 8-byte aligned */
	h->ent_size = (sizeof(struct nfq_counters) + key_len + 7) & ~(size_t)7;
	h->slots = calloc(MIN_SLOTS, sizeof(*h->slots));
	if (h->slots == NULL) {
		free(h);
		return -ENOMEM;
	}
	h->mask = MIN_SLOTS - 1;
	*out = h;
	return 0;
}

void nfq_ht_free(struct nfq_ht *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n_chunks; i++)
		free(h->chunks[i]);
	free(h->chunks);
	free(h->slots);
	free(h);
}

static int grow_slots(struct nfq_ht *h)
{
	size_t n = (h->mask + 1) * 2, i;
	struct slot *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	for (i = 0; i <= h->mask; i++) {
		size_t j;

		if (h->slots[i].idx1 == 0)
			continue;
		for (j = h->slots[i].hash & (n - 1); s[j].idx1;
		     j = (j + 1) & (n - 1))
			;
		s[j] = h->slots[i];
	}
	free(h->slots);
	h->slots = s;
	h->mask = n - 1;
	return 0;
}

/* Room for one more entry; returns its index or -1. */
static long new_entry(struct nfq_ht *h)
{
	if (h->count >= UINT32_MAX - 1)
		return -1;
	if ((h->count & (CHUNK - 1)) == 0 &&
	    (h->count >> CHUNK_SHIFT) == h->n_chunks) {
		uint8_t *c;

		if (h->n_chunks == h->chunks_cap) {
			size_t nc = h->chunks_cap ? h->chunks_cap * 2 : 16;
			uint8_t **v = realloc(h->chunks, nc * sizeof(*v));

			if (v == NULL)
				return -1;
			h->chunks = v;
			h->chunks_cap = nc;
		}
		/* the first chunk small: most -s tables hold a few entries */
		c = malloc((size_t)CHUNK * h->ent_size);
		if (c == NULL)
			return -1;
		h->chunks[h->n_chunks++] = c;
	}
	return (long)h->count++;
}

static struct nfq_counters *lookup(struct nfq_ht *h, const uint8_t *key,
				   uint64_t hv, bool create, bool *created)
{
	uint32_t tag = (uint32_t)hv;
	size_t j;
	long idx;
	uint8_t *e;

	if (created)
		*created = false;
	for (j = tag & h->mask; h->slots[j].idx1; j = (j + 1) & h->mask) {
		if (h->slots[j].hash != tag)
			continue;
		e = entry_at(h, h->slots[j].idx1 - 1);
		if (key_eq(entry_key(e), key, h->key_len))
			return (struct nfq_counters *)(void *)e;
	}
	if (!create)
		return NULL;
	/* at most 70% full: linear probing stays short, slots stay small */
	if ((h->count + 1) * 10 > (h->mask + 1) * 7) {
		if (grow_slots(h))
			return NULL;
		for (j = tag & h->mask; h->slots[j].idx1; j = (j + 1) & h->mask)
			;
	}
	if ((idx = new_entry(h)) < 0)
		return NULL;
	e = entry_at(h, (size_t)idx);
	memset(e, 0, sizeof(struct nfq_counters));
	memcpy(entry_key(e), key, h->key_len);
	h->slots[j].hash = tag;
	h->slots[j].idx1 = (uint32_t)idx + 1;
	if (created)
		*created = true;
	return (struct nfq_counters *)(void *)e;
}

struct nfq_counters *nfq_ht_get(struct nfq_ht *h, const uint8_t *key,
				bool *created)
{
	return lookup(h, key, hash_key(key, h->key_len), true, created);
}

uint64_t nfq_ht_hash(const struct nfq_ht *h, const uint8_t *key)
{
	return hash_key(key, h->key_len);
}

void nfq_ht_prefetch_slot(const struct nfq_ht *h, uint64_t hash)
{
	if (h->mask >= SMALL_SLOTS)
		__builtin_prefetch(&h->slots[(uint32_t)hash & h->mask]);
}

void nfq_ht_prefetch_entry(const struct nfq_ht *h, uint64_t hash)
{
	const struct slot *sl = &h->slots[(uint32_t)hash & h->mask];

	if (h->mask >= SMALL_SLOTS && sl->idx1)
		__builtin_prefetch(entry_at(h, sl->idx1 - 1));
}

struct nfq_counters *nfq_ht_get_hashed(struct nfq_ht *h, const uint8_t *key,
				       uint64_t hash)
{
	return lookup(h, key, hash, true, NULL);
}

struct nfq_counters *nfq_ht_find(struct nfq_ht *h, const uint8_t *key)
{
	return lookup(h, key, hash_key(key, h->key_len), false, NULL);
}

size_t nfq_ht_count(const struct nfq_ht *h)
{
	return h->count;
}

struct nfq_counters *nfq_ht_entry(const struct nfq_ht *h, size_t i,
				  const uint8_t **key)
{
	uint8_t *e = entry_at(h, i);

	if (key)
		*key = entry_key(e);
	return (struct nfq_counters *)(void *)e;
}

size_t nfq_ht_memory(const struct nfq_ht *h)
{
	return h->n_chunks * (size_t)CHUNK * h->ent_size +
	       (h->mask + 1) * sizeof(struct slot);
}

void nfq_counters_merge(struct nfq_counters *to,
			const struct nfq_counters *from)
{
	if (from->flows == 0)
		return;
	if (to->flows == 0 || from->first_ms < to->first_ms)
		to->first_ms = from->first_ms;
	if (from->last_ms > to->last_ms)
		to->last_ms = from->last_ms;
	if (to->flows == 0) {
		to->proto = from->proto;
		to->tos = from->tos;
	}
	to->flows += from->flows;
	to->packets += from->packets;
	to->bytes += from->bytes;
	to->out_packets += from->out_packets;
	to->out_bytes += from->out_bytes;
	to->tcp_flags |= from->tcp_flags;
}

int nfq_ht_merge(struct nfq_ht *to, struct nfq_ht *from)
{
	uint64_t hs[32];
	size_t i, n = from->count;

	if (to->key_len != from->key_len)
		return -EINVAL;
	if (from->count > to->count) {
		/* into the larger table: fewer inserts, fewer rehashes */
		struct nfq_ht t = *to;

		*to = *from;
		*from = t;
		n = from->count;
	}
	/* pipelined as the batches are; each chunk of `from` is freed once
	 * merged, so the peak is the merged table, not both */
	for (i = 0; i < n + 16; i++) {
		const uint8_t *key;

		if (i < n) {
			nfq_ht_entry(from, i, &key);
			hs[i % 32] = hash_key(key, to->key_len);
			nfq_ht_prefetch_slot(to, hs[i % 32]);
		}
		if (i >= 8 && i - 8 < n)
			nfq_ht_prefetch_entry(to, hs[(i - 8) % 32]);
		if (i >= 16) {
			size_t j = i - 16;
			struct nfq_counters *src = nfq_ht_entry(from, j, &key);
			struct nfq_counters *dst =
				lookup(to, key, hs[j % 32], true, NULL);

			if (dst == NULL)
				return -ENOMEM;
			nfq_counters_merge(dst, src);
			if ((j & (CHUNK - 1)) == CHUNK - 1 || j == n - 1) {
				free(from->chunks[j >> CHUNK_SHIFT]);
				from->chunks[j >> CHUNK_SHIFT] = NULL;
			}
		}
	}
	/* `from` is empty now */
	free(from->chunks);
	from->chunks = NULL;
	from->n_chunks = from->chunks_cap = 0;
	from->count = 0;
	memset(from->slots, 0, (from->mask + 1) * sizeof(*from->slots));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Orders */

static const struct {
	const char *name;
	enum nfq_order o;
} order_names[] = {
	{"flows", NFQ_ORD_FLOWS},   {"packets", NFQ_ORD_PACKETS},
	{"ipkg", NFQ_ORD_PACKETS},  {"ipackets", NFQ_ORD_PACKETS},
	{"bytes", NFQ_ORD_BYTES},   {"ibyte", NFQ_ORD_BYTES},
	{"ibytes", NFQ_ORD_BYTES},  {"pps", NFQ_ORD_PPS},
	{"ipps", NFQ_ORD_PPS},	    {"bps", NFQ_ORD_BPS},
	{"ibps", NFQ_ORD_BPS},	    {"bpp", NFQ_ORD_BPP},
	{"ibpp", NFQ_ORD_BPP},	    {"tstart", NFQ_ORD_TSTART},
	{"tend", NFQ_ORD_TEND},	    {"duration", NFQ_ORD_DURATION},
	{"opkg", NFQ_ORD_OPACKETS}, {"opackets", NFQ_ORD_OPACKETS},
	{"obyte", NFQ_ORD_OBYTES},  {"obytes", NFQ_ORD_OBYTES},
};

int nfq_order_parse(const char *s, enum nfq_order *o)
{
	size_t i;

	for (i = 0; i < sizeof(order_names) / sizeof(order_names[0]); i++) {
		if (strcasecmp(s, order_names[i].name) == 0) {
			*o = order_names[i].o;
			return 0;
		}
	}
	*o = NFQ_ORD_NONE;
	return -EINVAL;
}

const char *nfq_order_name(enum nfq_order o)
{
	size_t i;

	for (i = 0; i < sizeof(order_names) / sizeof(order_names[0]); i++)
		if (order_names[i].o == o)
			return order_names[i].name;
	return "none";
}

bool nfq_order_ascending(enum nfq_order o)
{
	return o == NFQ_ORD_TSTART || o == NFQ_ORD_TEND || o == NFQ_ORD_NONE;
}

uint64_t nfq_order_value(enum nfq_order o, const struct nfq_counters *c)
{
	uint64_t d = c->last_ms > c->first_ms ? c->last_ms - c->first_ms : 0;

	switch (o) {
	case NFQ_ORD_FLOWS:
		return c->flows;
	case NFQ_ORD_PACKETS:
		return c->packets;
	case NFQ_ORD_BYTES:
		return c->bytes;
	case NFQ_ORD_PPS:
		return nfq_pps(c->packets, d);
	case NFQ_ORD_BPS:
		return nfq_bps(c->bytes, d);
	case NFQ_ORD_BPP:
		return nfq_bpp(c->bytes, c->packets);
	case NFQ_ORD_TSTART:
	case NFQ_ORD_NONE:
		return c->first_ms;
	case NFQ_ORD_TEND:
		return c->last_ms;
	case NFQ_ORD_DURATION:
		return d;
	case NFQ_ORD_OPACKETS:
		return c->out_packets;
	case NFQ_ORD_OBYTES:
		return c->out_bytes;
	case NFQ_ORD_TPACKETS:
		return c->packets + c->out_packets;
	case NFQ_ORD_TBYTES:
		return c->bytes + c->out_bytes;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Top-N */

struct cand {
	uint64_t v;
	size_t idx;
};

struct rank_ctx {
	const struct nfq_ht *h;
	bool asc;
};

/*
 * Whether a ranks before b. Ties go by key bytes, then by index, so that
 * the result does not depend on which worker thread saw a key first.
 */
static bool before(const struct rank_ctx *rc, const struct cand *a,
		   const struct cand *b)
{
	const uint8_t *ka, *kb;
	int c;

	if (a->v != b->v)
		return rc->asc ? a->v < b->v : a->v > b->v;
	nfq_ht_entry(rc->h, a->idx, &ka);
	nfq_ht_entry(rc->h, b->idx, &kb);
	c = memcmp(ka, kb, rc->h->key_len);
	if (c)
		return c < 0;
	return a->idx < b->idx;
}

/* Heap whose root is the worst candidate kept. */
static void sift_down(const struct rank_ctx *rc, struct cand *hp, size_t n,
		      size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;

		if (l < n && before(rc, &hp[w], &hp[l]))
			w = l;
		if (r < n && before(rc, &hp[w], &hp[r]))
			w = r;
		if (w == i)
			return;
		struct cand t = hp[i];
		hp[i] = hp[w];
		hp[w] = t;
		i = w;
	}
}

static void sift_up(const struct rank_ctx *rc, struct cand *hp, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (!before(rc, &hp[p], &hp[i]))
			return;
		struct cand t = hp[i];
		hp[i] = hp[p];
		hp[p] = t;
		i = p;
	}
}

int nfq_ht_top(const struct nfq_ht *h, enum nfq_order o, uint64_t n,
	       size_t **out, size_t *nout)
{
	struct rank_ctx rc = {h, nfq_order_ascending(o)};
	size_t count = h->count, k, i;
	struct cand *hp;
	size_t *res;

	*out = NULL;
	*nout = 0;
	k = n == 0 || n >= count ? count : (size_t)n;
	if (k == 0)
		return 0;
	hp = malloc(k * sizeof(*hp));
	res = malloc(k * sizeof(*res));
	if (hp == NULL || res == NULL) {
		free(hp);
		free(res);
		return -ENOMEM;
	}
	/* keep the k best in a heap whose root is the worst of them */
	size_t used = 0;
	for (i = 0; i < count; i++) {
		struct cand c = {nfq_order_value(o, nfq_ht_entry(h, i, NULL)),
				 i};

		if (used < k) {
			hp[used] = c;
			sift_up(&rc, hp, used++);
		} else if (before(&rc, &c, &hp[0])) {
			hp[0] = c;
			sift_down(&rc, hp, used, 0);
		}
	}
	/* pop worst first into the end of the result */
	for (i = used; i > 0; i--) {
		res[i - 1] = hp[0].idx;
		hp[0] = hp[i - 1];
		sift_down(&rc, hp, i - 1, 0);
	}
	free(hp);
	*out = res;
	*nout = used;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Aggregation */

int nfq_agg_init(struct nfq_agg *a, const struct nfq_key *key, int bidir)
{
	memset(a, 0, sizeof(*a));
	a->key = *key;
	a->bidir = bidir;
	a->nparts = 1;
	return nfq_ht_new(&a->ht, key->len);
}

void nfq_agg_free(struct nfq_agg *a)
{
	nfq_ht_free(a->ht);
	a->ht = NULL;
}

/* The flow seen from the other end: addresses, ports, counters swapped. */
static void reverse_flow(const struct fy_flow *f, struct fy_flow *r)
{
	*r = *f;
	r->src = f->dst;
	r->dst = f->src;
	r->src_port = f->dst_port;
	r->dst_port = f->src_port;
	r->packets = f->out_packets;
	r->bytes = f->out_bytes;
	r->out_packets = f->packets;
	r->out_bytes = f->bytes;
	r->src_as = f->dst_as;
	r->dst_as = f->src_as;
	r->src_mask = f->dst_mask;
	r->dst_mask = f->src_mask;
	r->input_if = f->output_if;
	r->output_if = f->input_if;
}

/* nfdump -B: a TCP/UDP flow from a port below 1024 to one above 1024 is a
 * server's answer; turn it around so the record reads client to server. */
static bool server_to_client(const struct fy_flow *f)
{
	return (f->proto == 6 || f->proto == 17) && f->src_port < 1024 &&
	       f->dst_port > 1024;
}

int nfq_agg_add(struct nfq_agg *a, const struct fy_flow *f)
{
	struct nfq_counters *c;
	struct fy_flow sw;

	if (!a->bidir) {
		uint64_t h;

		nfq_key_build(&a->key, f, a->kbuf);
		h = hash_key(a->kbuf, a->key.len);
		if (a->nparts > 1 && (h >> 32) % a->nparts != a->part)
			return 0;
		if ((c = lookup(a->ht, a->kbuf, h, true, NULL)) == NULL)
			return -ENOMEM;
		nfq_counters_add_flow(c, f);
		return 0;
	}
	if (a->bidir == 2 && server_to_client(f)) {
		reverse_flow(f, &sw);
		f = &sw;
	}
	nfq_key_build(&a->key, f, a->kbuf);
	/* ICMP has no reverse 5-tuple: echo and reply differ in type */
	if (f->proto == 1 || f->proto == 58) {
		if ((c = nfq_ht_get(a->ht, a->kbuf, NULL)) == NULL)
			return -ENOMEM;
		nfq_counters_add_flow(c, f);
		return 0;
	}
	if ((c = nfq_ht_find(a->ht, a->kbuf)) == NULL) {
		struct fy_flow rv;

		reverse_flow(f, &rv);
		nfq_key_build(&a->key, &rv, a->rbuf);
		if ((c = nfq_ht_find(a->ht, a->rbuf)) != NULL) {
			nfq_counters_add_flow(c, &rv);
			return 0;
		}
		if ((c = nfq_ht_get(a->ht, a->kbuf, NULL)) == NULL)
			return -ENOMEM;
	}
	nfq_counters_add_flow(c, f);
	return 0;
}

/*
 * A batch through a three-stage pipeline: the key of flow i+AHEAD is built
 * and its slot prefetched, the entry of flow i+AHEAD/2 is prefetched, flow
 * i is counted. Random lookups in a table larger than the cache then cost
 * about a third of what they cost one at a time.
 */
#define AHEAD 16
#define RING 32

int nfq_agg_add_batch(struct nfq_agg *a, struct fy_flow *const *flows, size_t n)
{
	static __thread uint8_t keys[RING][NFQ_KEY_MAX];
	uint64_t hs[RING];
	bool skip[RING];
	size_t i;

	if (a->bidir) {
		for (i = 0; i < n; i++)
			if (nfq_agg_add(a, flows[i]))
				return -ENOMEM;
		return 0;
	}
	for (i = 0; i < n + AHEAD; i++) {
		if (i < n) {
			nfq_key_build(&a->key, flows[i], keys[i % RING]);
			hs[i % RING] = nfq_ht_hash(a->ht, keys[i % RING]);
			skip[i % RING] = a->nparts > 1 &&
					 (hs[i % RING] >> 32) % a->nparts !=
						 a->part;
			if (!skip[i % RING])
				nfq_ht_prefetch_slot(a->ht, hs[i % RING]);
		}
		if (i >= AHEAD / 2 && i - AHEAD / 2 < n &&
		    !skip[(i - AHEAD / 2) % RING])
			nfq_ht_prefetch_entry(a->ht,
					      hs[(i - AHEAD / 2) % RING]);
		if (i >= AHEAD && !skip[(i - AHEAD) % RING]) {
			size_t j = i - AHEAD;
			struct nfq_counters *c = nfq_ht_get_hashed(
				a->ht, keys[j % RING], hs[j % RING]);

			if (c == NULL)
				return -ENOMEM;
			nfq_counters_add_flow(c, flows[j]);
		}
	}
	return 0;
}

int nfq_agg_merge(struct nfq_agg *to, struct nfq_agg *from)
{
	size_t i;

	if (!to->bidir)
		return nfq_ht_merge(to->ht, from->ht);
	/* a key one worker saw forward another may have seen reversed */
	for (i = 0; i < nfq_ht_count(from->ht); i++) {
		const uint8_t *key;
		struct nfq_counters *src = nfq_ht_entry(from->ht, i, &key);
		struct nfq_counters *dst = nfq_ht_find(to->ht, key);

		if (dst == NULL) {
			struct fy_flow f = {0}, rv;
			struct nfq_counters rc = *src;

			nfq_key_apply(&to->key, key, &f);
			reverse_flow(&f, &rv);
			nfq_key_build(&to->key, &rv, to->rbuf);
			if ((dst = nfq_ht_find(to->ht, to->rbuf)) != NULL) {
				rc.packets = src->out_packets;
				rc.bytes = src->out_bytes;
				rc.out_packets = src->packets;
				rc.out_bytes = src->bytes;
				nfq_counters_merge(dst, &rc);
				continue;
			}
			dst = nfq_ht_get(to->ht, key, NULL);
			if (dst == NULL)
				return -ENOMEM;
		}
		nfq_counters_merge(dst, src);
	}
	return 0;
}

void nfq_agg_record(const struct nfq_agg *a, size_t i, struct fy_flow *f,
		    uint64_t *flows)
{
	const uint8_t *key;
	const struct nfq_counters *c = nfq_ht_entry(a->ht, i, &key);

	memset(f, 0, sizeof(*f));
	nfq_key_apply(&a->key, key, f);
	f->first_ms = c->first_ms;
	f->last_ms = c->last_ms;
	f->packets = c->packets;
	f->bytes = c->bytes;
	f->out_packets = c->out_packets;
	f->out_bytes = c->out_bytes;
	f->tcp_flags = c->tcp_flags;
	if (a->key.five_tuple)
		f->tos = c->tos;
	if (!nfq_key_has(&a->key, NFQ_F_PROTO))
		f->proto = 0;
	if (f->proto == 1 || f->proto == 58) {
		f->icmp_type = (uint8_t)(f->dst_port >> 8);
		f->icmp_code = (uint8_t)f->dst_port;
	}
	*flows = c->flows;
}
