/*
 * scan.c - reads the files and feeds every flow that passes to the sinks.
 *
 * The work is a list of items: a file, or a range of the blocks of one
 * (blocks decode on their own, so a single big file, the usual case of a
 * busy 5-minute slot, still keeps every core busy). A worker thread takes
 * the next item, opens its file (header and footer only) unless it has it
 * open, skips it whole when its footer's time range misses the window,
 * asks the reader for the columns the query needs and for block skipping,
 * then works through each block in batches: first only the columns the
 * window, the ICMP port rule and the filter read, then the other columns
 * of the flows that passed, and only the fields the query reads (the
 * others stay zero from the start), never the whole 232-byte flow.
 * Statistics and aggregation are per worker and merged at the end, so the
 * workers share nothing but the index of the next item.
 *
 * Queries whose output depends on file order (a listing, -c, -O) run on
 * one thread; the others on as many as there are cores (--threads).
 *
 * A -s statistic of one column (srcip, dstport, proto, ...) whose column
 * is a dictionary in a block (a few hundred addresses in 16384 flows is
 * common) is counted per dictionary entry in a small array, and only the
 * entries go into the hash table when the block is done: a few hundred
 * hash lookups per block instead of one per flow. The entries go in in
 * the order of their first flow, with nfq_counters_merge, so the table
 * ends up exactly as flow by flow (the same insertion order, which breaks
 * ties in the top N).
 *
 * A statistic of a 1- or 2-byte field (ports, protocol, tos, ...) is
 * counted in an array indexed by the value instead (no hashing, no key
 * compare; a dictionary block's entries go into it too), and the values
 * go into the hash table in the order they were first met when the
 * worker is done: again the table a flow-by-flow count makes.
 */
#include "nfq.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "filter.h"

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)
/* flows per batch: 1024 flows of 232 bytes stay in the L2 cache */
#define BATCH 1024
/* blocks per work item when files are split: 4 items per worker at least */
#define ITEM_MIN_BLOCKS 4
/* dictionary entries turned into keys at a time */
#define DICT_CHUNK 64

/*
 * -s record in bounded memory, exactly (see scan_pruned): the first pass
 * adds each flow's order values into buckets picked by the hash of its
 * record key; the second counts exactly only the keys of the buckets
 * whose sums can hold a top-N key.
 */
#define SKETCH_MAX_BYTES (128u << 20) /* all bucket arrays together */
#define SKETCH_MIN_FLOWS 100000	      /* below: one table is small */
#define SKETCH_ORDERS 3		      /* flows, packets, bytes */

struct sketch {
	unsigned bits; /* 2^bits buckets */
	unsigned n_orders;
	enum nfq_order order[SKETCH_ORDERS];
	unsigned n_sums; /* threads of the first pass: a set of sums each */
	uint32_t **sums; /* [thread * n_orders + order]; no atomics then */
	uint32_t *sum[SKETCH_ORDERS]; /* all threads' sums, added up */
	uint64_t *cand; /* bitmap of the candidate buckets, for pass two */
	uint64_t cut[SKETCH_ORDERS];   /* a bucket >= cut is counted */
	uint64_t below[SKETCH_ORDERS]; /* largest bucket sum under cut */
};

enum pass_mode {
	PASS_ALL,	 /* every sink */
	PASS_SKETCH,	 /* every sink, -s record into the bucket sums */
	PASS_CANDIDATES, /* -s record only, the flows of candidate buckets */
};

/* One read of all the files: the whole query, or one key partition. */
struct pass {
	unsigned part, nparts;
	bool first; /* counts the summary and the element statistics */
	enum pass_mode mode;
	struct sketch *sk;
};

/* A file, or blocks [first, end) of it; `owner` counts the file once. */
struct item {
	size_t file;
	size_t first, end;
	bool owner;
};

struct shared {
	const struct nfq_query *q;
	const struct pass *pass;
	unsigned nw;
	struct item *items;
	size_t n_items;
	bool check;	   /* a window or a filter to apply */
	uint64_t pre_mask; /* columns they read */
	bool normalise;	   /* ICMP type/code into dst_port */
	/* per statistic: its one store column when it can be counted per
	 * dictionary entry (else -1), and the columns no one else reads */
	int dict_col[NFQ_MAX_STATS];
	uint64_t dict_skip[NFQ_MAX_STATS];
	unsigned dense_size[NFQ_MAX_STATS]; /* 1, 2: by value; 0: no */
	/* nothing but the summary and such statistics: a block whose every
	 * statistic is counted per entry needs no flow built (scan_columns) */
	bool columnar;
	atomic_size_t next;	     /* next item */
	atomic_uint_fast64_t passed; /* for -c across workers */
	atomic_bool over_budget;
	atomic_uint_fast64_t bytes_done; /* file bytes of finished files */
	pthread_mutex_t msg_lock;
	struct nfq_progress *progress;
};

/* A statistic of a small field counted in an array indexed by value. */
struct dense_stat {
	struct nfq_counters *acc; /* 2^(8 * size) */
	uint16_t *order;	  /* values met, in order of first flow */
	uint32_t n_order;
};

/* A statistic counted per dictionary entry in the loaded block. */
struct dict_stat {
	bool on;		  /* in this block */
	const uint16_t *idx;	  /* entry of each flow of the block */
	struct nfq_counters *acc; /* per entry; zero between blocks */
	uint16_t *order;	  /* entries met, in order of first flow */
	uint32_t n_order, cap;
};

struct worker {
	struct shared *sh;
	unsigned id; /* 0 .. workers - 1 */
	pthread_t tid;
	struct nfq_summary sum;
	struct nfq_agg agg;
	bool have_agg;
	struct nfq_stat stats[NFQ_MAX_STATS];
	size_t n_stats;
	struct fy_flow *buf;
	struct fy_flow **pass; /* the flows of buf that passed */
	uint32_t *sel;	       /* their numbers in the batch */
	struct fy_flow **cand; /* flows of candidate buckets (scan_pruned) */
	struct dict_stat dict[NFQ_MAX_STATS];
	struct dense_stat dense[NFQ_MAX_STATS];
	uint64_t skip;		    /* columns not filled in this block */
	uint32_t from;		    /* block number of buf[0] */
	bool columnar;		    /* this block: scan_columns */
	struct fy_flow *dict_buf;   /* DICT_CHUNK entries' values */
	struct fy_store_reader *rd; /* open file, kept for its next item */
	size_t rd_file;
	struct fy_flow *sorted;
	size_t n_sorted, cap_sorted;
	unsigned file_errors, block_errors;
	int err; /* fatal: out of memory */
	bool stop;
};

static void warn(struct shared *sh, const char *msg)
{
	pthread_mutex_lock(&sh->msg_lock);
	fprintf(stderr, "nfq: %s\n", msg);
	pthread_mutex_unlock(&sh->msg_lock);
}

static int keep_sorted(struct worker *w, const struct fy_flow *f)
{
	if (w->n_sorted == w->cap_sorted) {
		size_t nc = w->cap_sorted ? w->cap_sorted * 2 : 4096;
		struct fy_flow *v = realloc(w->sorted, nc * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		w->sorted = v;
		w->cap_sorted = nc;
	}
	w->sorted[w->n_sorted++] = *f;
	return 0;
}

static uint64_t flow_value(enum nfq_order o, const struct fy_flow *f)
{
	switch (o) {
	case NFQ_ORD_PACKETS:
		return f->packets;
	case NFQ_ORD_BYTES:
		return f->bytes;
	default:
		return 1;
	}
}

#define SK_AHEAD 8
#define SK_RING 16 /* > SK_AHEAD: a slot is read before it is reused */

/*
 * The record keys of a batch: PASS_SKETCH adds their order values into
 * the buckets; PASS_CANDIDATES passes the flows of the buckets at or over
 * a cut on to the -s record tables.
 */
static int sketch_sink(struct worker *w, struct fy_flow *const *pass, size_t n)
{
	const struct nfq_query *q = w->sh->q;
	const struct sketch *sk = w->sh->pass->sk;
	const unsigned shift = 64 - sk->bits;
	struct nfq_ht *ht = NULL;
	uint8_t key[NFQ_KEY_MAX];
	uint64_t bk[SK_RING];
	uint32_t *const *sum = sk->sum;
	size_t i, nc = 0, k;
	unsigned o;
	int r;

	if (w->sh->pass->mode == PASS_SKETCH)
		sum = &sk->sums[w->id * sk->n_orders];
	for (k = 0; k < w->n_stats && !ht; k++)
		if (w->stats[k].spec.type == NFQ_ST_RECORD)
			ht = w->stats[k].agg.ht;
	for (i = 0; i < n + SK_AHEAD; i++) {
		if (i < n) {
			nfq_key_build(&q->record_key, pass[i], key);
			bk[i % SK_RING] = nfq_ht_hash(ht, key) >> shift;
			if (w->sh->pass->mode == PASS_CANDIDATES)
				__builtin_prefetch(
					&sk->cand[bk[i % SK_RING] >> 6]);
			else
				for (o = 0; o < sk->n_orders; o++)
					__builtin_prefetch(
						&sum[o][bk[i % SK_RING]]);
		}
		if (i < SK_AHEAD)
			continue;
		k = i - SK_AHEAD;
		if (w->sh->pass->mode == PASS_SKETCH) {
			/* saturating: a full bucket is still a bound,
			 * for it is always a candidate */
			for (o = 0; o < sk->n_orders; o++) {
				uint32_t *v = &sum[o][bk[k % SK_RING]];
				uint64_t t =
					*v + flow_value(sk->order[o], pass[k]);

				*v = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
			}
			continue;
		}
		if (sk->cand[bk[k % SK_RING] >> 6] >> (bk[k % SK_RING] & 63) &
		    1)
			w->cand[nc++] = pass[k];
	}
	if (nc == 0)
		return 0;
	for (k = 0; k < w->n_stats; k++)
		if (w->stats[k].spec.type == NFQ_ST_RECORD &&
		    (r = nfq_stat_add_batch(&w->stats[k], w->cand, nc)) != 0)
			return r;
	return 0;
}

/*
 * Which statistics can be counted per dictionary entry: one field of one
 * column, stored as is (an "any" statistic reads two; -s record a key
 * of several). The column is then not even filled into the flows when
 * nothing else of the query reads it.
 */
static void dict_setup(struct shared *sh)
{
	const struct nfq_query *q = sh->q;
	size_t i, j;

	for (i = 0; i < NFQ_MAX_STATS; i++) {
		const struct nfq_stat_spec *sp = &q->stat_specs[i];
		uint64_t cols, others;

		sh->dict_col[i] = -1;
		sh->dict_skip[i] = 0;
		sh->dense_size[i] = 0;
		if (i >= q->n_stats || sp->type == NFQ_ST_RECORD ||
		    nfq_stat_field(sp->type, 1) != NFQ_F_NONE)
			continue;
		/* later passes count only -s record */
		if (nfq_field_info(nfq_stat_field(sp->type, 0))->size <= 2 &&
		    sh->pass->first)
			sh->dense_size[i] =
				nfq_field_info(nfq_stat_field(sp->type, 0))
					->size;
		cols = nfq_field_info(nfq_stat_field(sp->type, 0))->cols;
		if (cols == 0 || (cols & (cols - 1)) != 0)
			continue;
		sh->dict_col[i] = __builtin_ctzll(cols);
		if (q->list || q->sort_buffer || q->aggregate)
			continue;
		/* the summary, the counters, the checks and the others */
		others = COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS) |
			 COL(BYTES) | COL(OUT_PACKETS) | COL(OUT_BYTES) |
			 COL(PROTO) | COL(TOS) | COL(TCP_FLAGS) | sh->pre_mask;
		if (sh->normalise)
			others |= COL(DST_PORT) | COL(ICMP_TYPE) |
				  COL(ICMP_CODE);
		for (j = 0; j < q->n_stats; j++) {
			if (j == i)
				continue;
			if (q->stat_specs[j].type == NFQ_ST_RECORD)
				others |= q->record_key.cols;
			else
				others |= nfq_stat_cols(q->stat_specs[j].type);
		}
		sh->dict_skip[i] = cols & ~others;
	}
	sh->columnar = !sh->check && q->limit == NFQ_UNLIMITED && !q->list &&
		       !q->sort_buffer && !q->aggregate && q->n_stats > 0 &&
		       sh->pass->mode == PASS_ALL && sh->pass->first &&
		       !(q->cols & (COL(OUT_PACKETS) | COL(OUT_BYTES) |
				    COL(TOS) | COL(TCP_FLAGS)));
	for (i = 0; i < q->n_stats; i++)
		if (sh->dict_col[i] < 0)
			sh->columnar = false;
}

static int dict_grow(struct dict_stat *ds, uint32_t n)
{
	struct nfq_counters *a;
	uint16_t *o;

	if ((a = realloc(ds->acc, n * sizeof(*a))) == NULL)
		return -ENOMEM;
	memset(a + ds->cap, 0, (n - ds->cap) * sizeof(*a));
	ds->acc = a;
	if ((o = realloc(ds->order, n * sizeof(*o))) == NULL)
		return -ENOMEM;
	ds->order = o;
	ds->cap = n;
	return 0;
}

/*
 * Whether the loaded block has no ICMP flow, by its protocol dictionary:
 * dst_port is then the column's value (normalise changes nothing).
 */
static bool block_icmp_free(struct worker *w)
{
	uint16_t ent[DICT_CHUNK];
	const uint16_t *idx;
	uint32_t n, j;

	n = fy_store_reader_dict(w->rd, FY_STORE_COL_PROTO, &idx);
	if (n == 0 || n > DICT_CHUNK)
		return false;
	for (j = 0; j < n; j++)
		ent[j] = (uint16_t)j;
	fy_store_reader_dict_fill(w->rd, FY_STORE_COL_PROTO, ent, n,
				  w->dict_buf);
	for (j = 0; j < n; j++)
		if (w->dict_buf[j].proto == 1 || w->dict_buf[j].proto == 58)
			return false;
	return true;
}

/* A block is loaded: the statistics to count per entry in it. */
static void dict_begin(struct worker *w)
{
	struct shared *sh = w->sh;
	size_t i;

	w->skip = 0;
	w->columnar = sh->columnar;
	for (i = 0; i < w->n_stats; i++) {
		struct dict_stat *ds = &w->dict[i];
		int col = sh->dict_col[i];
		uint32_t n;

		ds->on = false;
		ds->n_order = 0;
		/* later passes count only -s record */
		if (col < 0 || !sh->pass->first)
			continue;
		n = fy_store_reader_dict(w->rd, (unsigned)col, &ds->idx);
		if (n == 0)
			continue;
		if (col == FY_STORE_COL_DST_PORT && sh->normalise &&
		    !block_icmp_free(w))
			continue;
		/* no memory for the array: flow by flow, as ever */
		if (n > ds->cap && dict_grow(ds, n) != 0)
			continue;
		ds->on = true;
		w->skip |= sh->dict_skip[i];
	}
	/* every statistic on: the block needs no flow built */
	for (i = 0; i < w->n_stats; i++)
		if (!w->dict[i].on)
			w->columnar = false;
}

/* The flows of a batch that passed, into the counters of their entries. */
static void dict_add(struct worker *w, struct dict_stat *ds,
		     struct fy_flow *const *pass, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		uint16_t e = ds->idx[w->from + (uint32_t)(pass[k] - w->buf)];
		struct nfq_counters *c = &ds->acc[e];

		if (c->flows == 0)
			ds->order[ds->n_order++] = e;
		nfq_counters_add_flow(c, pass[k]);
	}
}

/* Value i of a column of 8-byte integers (see fy_store_reader_column). */
static inline uint64_t col_u64(const uint8_t *p, uint32_t i, size_t stride)
{
	uint64_t v;

	memcpy(&v, p + (size_t)i * stride, sizeof(v));
	return v;
}

/*
 * The n flows of a block into the summary and the per-entry counters of
 * every statistic, straight from the columns (value b of a column at
 * p + b * stride): nothing to check or print, so no flow is built. What
 * nfq_summary_add and nfq_counters_add_flow do flow by flow; the fields
 * of columns the query does not read (out_*, tos, tcp_flags: see
 * dict_setup) stay zero, as they are in the flows. Inlined twice: for
 * the usual strides as constants, and for any.
 */
static inline __attribute__((always_inline)) void
count_columns(struct worker *w, uint32_t n, const uint8_t *pf, size_t sf,
	      const uint8_t *pl, size_t sl, const uint8_t *pp, size_t sp,
	      const uint8_t *pb, size_t sb, const uint8_t *pr, size_t sr)
{
	uint64_t fmin = UINT64_MAX, lmax = 0, pk = 0, by = 0;
	uint32_t b;
	size_t i;

	for (b = 0; b < n; b++) {
		uint64_t f = col_u64(pf, b, sf), l = col_u64(pl, b, sl);

		fmin = f < fmin ? f : fmin;
		lmax = l > lmax ? l : lmax;
		pk += col_u64(pp, b, sp);
		by += col_u64(pb, b, sb);
	}
	w->sum.processed += n;
	if (w->sum.flows == 0 || fmin < w->sum.first_ms)
		w->sum.first_ms = fmin;
	if (lmax > w->sum.last_ms)
		w->sum.last_ms = lmax;
	w->sum.flows += n;
	w->sum.packets += pk;
	w->sum.bytes += by;
	for (i = 0; i < w->n_stats; i++) {
		struct dict_stat *ds = &w->dict[i];
		const uint16_t *idx = ds->idx;
		struct nfq_counters *acc = ds->acc;
		uint16_t *order = ds->order;
		uint32_t no = ds->n_order;

		for (b = 0; b < n; b++) {
			struct nfq_counters *c = &acc[idx[b]];
			uint64_t f = col_u64(pf, b, sf), l = col_u64(pl, b, sl);

			if (c->flows == 0) {
				order[no++] = idx[b];
				c->first_ms = f;
				c->proto = pr[(size_t)b * sr];
			} else if (f < c->first_ms) {
				c->first_ms = f;
			}
			if (l > c->last_ms)
				c->last_ms = l;
			c->flows++;
			c->packets += col_u64(pp, b, sp);
			c->bytes += col_u64(pb, b, sb);
		}
		ds->n_order = no;
	}
}

static void scan_columns(struct worker *w, uint32_t n)
{
	static const uint64_t zero;
	struct fy_store_reader *rd = w->rd;
	const uint8_t *pf, *pl, *pp, *pb, *pr;
	size_t sf, sl, sp, sb, sr;

#define COLUMN(p, s, c)                                                     \
	if ((p = fy_store_reader_column(rd, FY_STORE_COL_##c, &s)) == NULL) \
	p = (const uint8_t *)&zero
	COLUMN(pf, sf, FIRST_MS);
	COLUMN(pl, sl, LAST_MS);
	COLUMN(pp, sp, PACKETS);
	COLUMN(pb, sb, BYTES);
	COLUMN(pr, sr, PROTO);
#undef COLUMN
	if (sf == 8 && sl == 8 && sp == 8 && sb == 8 && sr == 1)
		count_columns(w, n, pf, 8, pl, 8, pp, 8, pb, 8, pr, 1);
	else
		count_columns(w, n, pf, sf, pl, sl, pp, sp, pb, sb, pr, sr);
}

/* The value of a 1- or 2-byte field at p. */
static inline uint32_t dense_value(const uint8_t *p, unsigned size)
{
	uint16_t v;

	if (size == 1)
		return *p;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Counters of a batch's flows (or a block's entries) under their value. */
static inline void dense_merge(struct dense_stat *dn, uint32_t v,
			       const struct nfq_counters *from)
{
	struct nfq_counters *c = &dn->acc[v];

	if (c->flows == 0)
		dn->order[dn->n_order++] = (uint16_t)v;
	nfq_counters_merge(c, from);
}

static void dense_add(struct worker *w, size_t i, struct fy_flow *const *pass,
		      size_t n)
{
	struct dense_stat *dn = &w->dense[i];
	unsigned size = w->sh->dense_size[i];
	size_t off =
		nfq_field_info(nfq_stat_field(w->stats[i].spec.type, 0))->offset;
	size_t k;

	for (k = 0; k < n; k++) {
		uint32_t v = dense_value((const uint8_t *)pass[k] + off, size);
		struct nfq_counters *c = &dn->acc[v];

		if (c->flows == 0)
			dn->order[dn->n_order++] = (uint16_t)v;
		nfq_counters_add_flow(c, pass[k]);
	}
}

/* The worker is done: the values into the tables, in order of first flow. */
static int dense_flush(struct worker *w)
{
	size_t i;
	uint32_t j;
	int r = 0;

	for (i = 0; i < w->n_stats; i++) {
		struct dense_stat *dn = &w->dense[i];

		if (dn->acc == NULL)
			continue;
		for (j = 0; j < dn->n_order && r == 0; j++) {
			struct nfq_counters *a = &dn->acc[dn->order[j]];
			struct nfq_counters *c;
			uint8_t key[2];
			uint16_t v = dn->order[j];

			if (w->sh->dense_size[i] == 1)
				key[0] = (uint8_t)v;
			else
				memcpy(key, &v, sizeof(v));
			if ((c = nfq_ht_get(w->stats[i].ht, key, NULL)) == NULL)
				r = -ENOMEM;
			else
				nfq_counters_merge(c, a);
			memset(a, 0, sizeof(*a));
		}
		dn->n_order = 0;
	}
	return r;
}

/* The block is done: its entries into the tables, in order of first flow. */
static int dict_flush(struct worker *w)
{
	size_t i;
	int r = 0;

	for (i = 0; i < w->n_stats; i++) {
		struct dict_stat *ds = &w->dict[i];
		struct nfq_stat *st = &w->stats[i];
		unsigned col = (unsigned)w->sh->dict_col[i];
		size_t off;
		uint32_t j, k, cnt;

		if (!ds->on)
			continue;
		ds->on = false;
		off = nfq_field_info(nfq_stat_field(st->spec.type, 0))->offset;
		for (j = 0; j < ds->n_order; j += cnt) {
			cnt = ds->n_order - j < DICT_CHUNK ? ds->n_order - j
							   : DICT_CHUNK;
			fy_store_reader_dict_fill(w->rd, col, ds->order + j,
						  cnt, w->dict_buf);
			for (k = 0; k < cnt; k++) {
				struct nfq_counters *a =
					&ds->acc[ds->order[j + k]];
				struct nfq_counters *c = NULL;

				if (w->dense[i].acc) {
					dense_merge(
						&w->dense[i],
						dense_value(
							(const uint8_t
								 *)&w->dict_buf
									[k] +
								off,
							w->sh->dense_size[i]),
						a);
					memset(a, 0, sizeof(*a));
					continue;
				}
				if (r == 0)
					c = nfq_ht_get(
						st->ht,
						(const uint8_t *)&w->dict_buf[k] +
							off,
						NULL);
				if (c == NULL)
					r = -ENOMEM;
				else
					nfq_counters_merge(c, a);
				memset(a, 0, sizeof(*a));
			}
		}
		ds->n_order = 0;
	}
	return r;
}

/* The flows of a batch that passed: to every sink of the query. */
static int sink(struct worker *w, struct fy_flow *const *pass, size_t n)
{
	const struct nfq_query *q = w->sh->q;
	size_t i;
	int r;

	if (!w->sh->pass->first)
		goto keyed;
	for (i = 0; i < n; i++)
		nfq_summary_add(&w->sum, pass[i]);
	if (q->list) {
		for (i = 0; i < n; i++) {
			if (!q->sort_buffer)
				nfq_out_record(q->out, pass[i], 1);
			else if ((r = keep_sorted(w, pass[i])) != 0)
				return r;
		}
	}
keyed:
	if (w->have_agg && (r = nfq_agg_add_batch(&w->agg, pass, n)) != 0)
		return r;
	if (w->sh->pass->mode != PASS_ALL) {
		r = sketch_sink(w, pass, n);
		if (r || w->sh->pass->mode == PASS_CANDIDATES)
			return r;
	}
	for (i = 0; i < w->n_stats; i++) {
		if (w->sh->pass->mode == PASS_SKETCH &&
		    w->stats[i].spec.type == NFQ_ST_RECORD)
			continue;
		/* later passes count only the partitioned records */
		if (!w->sh->pass->first &&
		    w->stats[i].spec.type != NFQ_ST_RECORD)
			continue;
		if (w->dict[i].on) {
			dict_add(w, &w->dict[i], pass, n);
			continue;
		}
		if (w->dense[i].acc) {
			dense_add(w, i, pass, n);
			continue;
		}
		if ((r = nfq_stat_add_batch(&w->stats[i], pass, n)) != 0)
			return r;
	}
	return 0;
}

/* Memory of the tables that grow with distinct keys. */
static uint64_t keyed_memory(const struct worker *w)
{
	uint64_t m = w->have_agg ? nfq_ht_memory(w->agg.ht) : 0;
	size_t i;

	for (i = 0; i < w->n_stats; i++)
		if (w->stats[i].spec.type == NFQ_ST_RECORD)
			m += nfq_ht_memory(w->stats[i].agg.ht);
	return m;
}

static bool over_budget(struct worker *w)
{
	const struct nfq_query *q = w->sh->q;

	if (q->mem_budget == 0 || w->sh->pass->nparts > 1)
		return false;
	if (keyed_memory(w) * w->sh->nw > q->mem_budget)
		atomic_store(&w->sh->over_budget, true);
	return atomic_load(&w->sh->over_budget);
}

/*
 * nfdump keeps an ICMP flow's type and code in its destination port;
 * filters, statistics, aggregation and printing expect them there. (An
 * IPFIX exporter that sends icmpTypeCode leaves the port 0.)
 */
static inline void normalise(struct fy_flow *f)
{
	if (f->proto == 1 || f->proto == 58)
		f->dst_port = (uint16_t)(f->icmp_type << 8 | f->icmp_code);
}

/*
 * Flows [from, from + cnt) of the loaded block: the columns the checks
 * need first, then the rest for the flows that passed; those go to the
 * sinks. Returns 0 or a fatal error.
 */
static int scan_batch(struct worker *w, uint32_t from, uint32_t cnt)
{
	const struct nfq_query *q = w->sh->q;
	const uint64_t pre = w->sh->pre_mask;
	struct fy_store_reader *rd = w->rd;
	size_t np = 0;
	uint32_t i, k;

	w->from = from;
	if (!w->sh->check) {
		/* nothing to check: every flow, every column at once */
		fy_store_reader_fill(rd, q->cols & ~w->skip, from, NULL, cnt,
				     w->buf);
		for (i = 0; i < cnt; i++) {
			struct fy_flow *f = &w->buf[i];

			w->sum.processed++;
			if (w->sh->normalise)
				normalise(f);
			w->pass[np++] = f;
			if (q->limit != NFQ_UNLIMITED &&
			    atomic_fetch_add(&w->sh->passed, 1) + 1 >=
				    q->limit) {
				w->stop = true;
				break;
			}
		}
	} else {
		fy_store_reader_fill(rd, pre, from, NULL, cnt, w->buf);
		for (i = 0; i < cnt; i++) {
			struct fy_flow *f = &w->buf[i];

			w->sum.processed++;
			if (!nfq_window_match(&q->window, f))
				continue;
			/* before the filter: "dst port 2048" is an echo
			 * request in nfdump */
			if (w->sh->normalise)
				normalise(f);
			if (q->filter && !fy_filter_match(q->filter, f))
				continue;
			w->sel[np++] = i;
			/* -c: the first N flows that pass, then stop */
			if (q->limit != NFQ_UNLIMITED &&
			    atomic_fetch_add(&w->sh->passed, 1) + 1 >=
				    q->limit) {
				w->stop = true;
				break;
			}
		}
		if (np && (q->cols & ~pre & ~w->skip))
			fy_store_reader_fill(rd, q->cols & ~pre & ~w->skip,
					     from, w->sel, (uint32_t)np,
					     w->buf);
		for (k = 0; k < np; k++)
			w->pass[k] = &w->buf[w->sel[k]];
	}
	return np ? sink(w, w->pass, np) : 0;
}

/* The worker's reader for file i: the open one, or opens it. */
static struct fy_store_reader *reader_for(struct worker *w, size_t i,
					  bool owner)
{
	const struct nfq_file *file = &w->sh->q->files[i];
	char err[FY_STORE_MSG_MAX + 64];
	int r;

	if (w->rd && w->rd_file == i)
		return w->rd;
	fy_store_reader_close(w->rd);
	w->rd = NULL;
	r = fy_store_reader_open(&w->rd, file->path, err, sizeof(err));
	if (r) {
		w->rd = NULL;
		/* an open file may be renamed under us: not an error; the
		 * other items of a file that does not open say nothing */
		if (owner && !(file->temp && r == -ENOENT)) {
			warn(w->sh, err);
			w->file_errors++;
		}
		return NULL;
	}
	w->rd_file = i;
	return w->rd;
}

static void scan_item(struct worker *w, const struct item *it)
{
	const struct nfq_query *q = w->sh->q;
	const struct nfq_file *file = &q->files[it->file];
	const struct fy_store_info *info;
	struct fy_store_reader *rd;
	char err[FY_STORE_MSG_MAX + 64];
	uint64_t flows_before = w->sum.processed;
	long n;
	int r;

	if ((rd = reader_for(w, it->file, it->owner)) == NULL) {
		if (it->owner)
			nfq_progress_update(w->sh->progress, 0, file->size,
					    true);
		return;
	}
	info = fy_store_reader_info(rd);
	if (it->owner && (info->flags & FY_STORE_INFO_NO_FOOTER) && !file->temp)
		warn(w->sh, fy_store_reader_message(rd));
	if (!nfq_window_overlaps(&q->window, info->stats.first_ms,
				 info->stats.last_ms) ||
	    info->stats.all.flows == 0) {
		if (it->owner)
			w->sum.blocks_skipped += info->n_blocks;
		goto out;
	}
	if (it->owner) {
		struct nfq_summary s = {0};

		s.data_first_ms = info->stats.first_ms;
		s.data_last_ms = info->stats.last_ms;
		nfq_summary_merge(&w->sum, &s);
		w->sum.files++;
		w->sum.bytes_read += info->file_size;
	}
	fy_store_reader_select(rd, q->cols);
	if (q->window.set)
		fy_store_reader_set_window(rd, q->window.from_ms,
					   q->window.to_ms);
	fy_store_reader_set_blocks(rd, it->first, it->end);
	while (!w->stop) {
		n = fy_store_reader_next_block(rd);
		if (n == -EBADMSG) {
			warn(w->sh, fy_store_reader_message(rd));
			w->block_errors++;
			continue;
		}
		if (n < 0) {
			snprintf(err, sizeof(err), "%s: %s", file->path,
				 strerror((int)-n));
			warn(w->sh, err);
			w->file_errors++;
			break;
		}
		if (n == 0)
			break;
		dict_begin(w);
		if (w->columnar)
			scan_columns(w, (uint32_t)n);
		for (uint32_t from = 0;
		     !w->columnar && from < (uint32_t)n && !w->stop;
		     from += BATCH) {
			uint32_t cnt = (uint32_t)n - from < BATCH
					       ? (uint32_t)n - from
					       : BATCH;

			if ((r = scan_batch(w, from, cnt)) != 0) {
				w->err = r;
				w->stop = true;
			}
		}
		if ((r = dict_flush(w)) != 0 && !w->err) {
			w->err = r;
			w->stop = true;
		}
		if (over_budget(w))
			w->stop = true;
		nfq_progress_update(w->sh->progress,
				    w->sum.processed - flows_before, 0, false);
		flows_before = w->sum.processed;
	}
out:
	if (it->owner) {
		if (!w->stop)
			atomic_fetch_add(&w->sh->bytes_done, file->size);
		nfq_progress_update(w->sh->progress, 0, file->size, true);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct nfq_query *q = w->sh->q;
	size_t i;
	int r;

	while (!w->stop) {
		i = atomic_fetch_add(&w->sh->next, 1);
		if (i >= w->sh->n_items)
			break;
		scan_item(w, &w->sh->items[i]);
		if (q->limit != NFQ_UNLIMITED &&
		    atomic_load(&w->sh->passed) >= q->limit)
			break;
	}
	if ((r = dense_flush(w)) != 0 && !w->err)
		w->err = r;
	fy_store_reader_close(w->rd);
	w->rd = NULL;
	return NULL;
}

/*
 * The work items: one per file, or, when there are fewer files than
 * workers can share, ranges of blocks (the footers say how many).
 */
static int make_items(struct shared *sh)
{
	const struct nfq_query *q = sh->q;
	size_t cap = q->n_files, n = 0, i;
	struct item *v;

	if ((v = malloc((cap ? cap : 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	for (i = 0; i < q->n_files; i++) {
		struct fy_store_reader *rd = NULL;
		size_t nb = 0, per, b;

		if (sh->nw > 1 && q->n_files < 4 * (size_t)sh->nw &&
		    fy_store_reader_open(&rd, q->files[i].path, NULL, 0) == 0) {
			nb = fy_store_reader_info(rd)->n_blocks;
			fy_store_reader_close(rd);
		}
		per = (nb + 4 * sh->nw - 1) / (4 * sh->nw);
		if (per < ITEM_MIN_BLOCKS)
			per = ITEM_MIN_BLOCKS;
		/* one item for a file of up to `per` blocks; every push
		 * checks the room (the splits of one file fill what the
		 * files after it were counted on) */
		for (b = 0; b == 0 || b < nb; b += per) {
			if (n == cap) {
				struct item *nv;

				cap *= 2;
				if ((nv = realloc(v, cap * sizeof(*v))) ==
				    NULL) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			/* the last range runs to the end: a file still
			 * written may have more blocks by now */
			v[n++] = (struct item){
				i, b, b + per < nb ? b + per : SIZE_MAX,
				b == 0};
		}
	}
	sh->items = v;
	sh->n_items = n;
	return 0;
}

static int worker_init(struct worker *w, struct shared *sh)
{
	const struct nfq_query *q = sh->q;
	size_t i;
	int r;

	unsigned id = w->id;

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->sh = sh;
	/* zeroed once: fields no column of the query fills stay zero */
	w->buf = calloc(BATCH, sizeof(*w->buf));
	w->pass = malloc(BATCH * sizeof(*w->pass));
	w->sel = malloc(BATCH * sizeof(*w->sel));
	w->cand = malloc(BATCH * sizeof(*w->cand));
	w->dict_buf = calloc(DICT_CHUNK, sizeof(*w->dict_buf));
	if (w->buf == NULL || w->pass == NULL || w->sel == NULL ||
	    w->cand == NULL || w->dict_buf == NULL)
		return -ENOMEM;
	if (q->aggregate) {
		if ((r = nfq_agg_init(&w->agg, &q->agg_key, q->bidir)) != 0)
			return r;
		w->have_agg = true;
		w->agg.part = sh->pass->part;
		w->agg.nparts = sh->pass->nparts;
	}
	for (i = 0; i < q->n_stats; i++) {
		r = nfq_stat_init(&w->stats[i], &q->stat_specs[i],
				  &q->record_key);
		w->n_stats = i + 1;
		if (r)
			return r;
		w->stats[i].agg.part = sh->pass->part;
		w->stats[i].agg.nparts = sh->pass->nparts;
		if (sh->dense_size[i]) {
			size_t nv = (size_t)1 << (8 * sh->dense_size[i]);

			w->dense[i].acc =
				calloc(nv, sizeof(struct nfq_counters));
			w->dense[i].order = malloc(nv * sizeof(uint16_t));
			if (!w->dense[i].acc || !w->dense[i].order)
				return -ENOMEM;
		}
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	size_t i;

	fy_store_reader_close(w->rd);
	free(w->buf);
	free(w->pass);
	free(w->sel);
	free(w->cand);
	free(w->dict_buf);
	for (i = 0; i < NFQ_MAX_STATS; i++) {
		free(w->dict[i].acc);
		free(w->dict[i].order);
		free(w->dense[i].acc);
		free(w->dense[i].order);
	}
	free(w->sorted);
	if (w->have_agg)
		nfq_agg_free(&w->agg);
	for (i = 0; i < w->n_stats; i++)
		nfq_stat_free(&w->stats[i]);
}

/* Folds worker `from` into `to`. */
static int worker_merge(struct worker *to, struct worker *from)
{
	size_t i;
	int r;

	nfq_summary_merge(&to->sum, &from->sum);
	to->file_errors += from->file_errors;
	to->block_errors += from->block_errors;
	if (to->have_agg && (r = nfq_agg_merge(&to->agg, &from->agg)) != 0)
		return r;
	for (i = 0; i < to->n_stats; i++)
		if ((r = nfq_stat_merge(&to->stats[i], &from->stats[i])) != 0)
			return r;
	return 0;
}

/*
 * Reads every file once for pass p and leaves the merged results in res.
 * *over tells that the first pass stopped at the memory budget.
 */
static int run_pass(const struct nfq_query *q, const struct pass *p,
		    struct nfq_result *res, bool *over, char *err,
		    size_t errlen)
{
	struct shared sh;
	struct worker *ws;
	unsigned nw = q->threads ? q->threads : 1, i;
	uint64_t total = 0;
	int r = 0;

	memset(res, 0, sizeof(*res));
	*over = false;
	/* output that follows file order needs one thread */
	if (q->list || q->limit != NFQ_UNLIMITED)
		nw = 1;
	/* -b: the first flow seen sets a record's direction: file order */
	if (q->aggregate && q->bidir)
		nw = 1;
	memset(&sh, 0, sizeof(sh));
	sh.q = q;
	sh.pass = p;
	sh.nw = nw;
	atomic_init(&sh.next, 0);
	atomic_init(&sh.passed, 0);
	atomic_init(&sh.over_budget, false);
	atomic_init(&sh.bytes_done, 0);
	pthread_mutex_init(&sh.msg_lock, NULL);
	for (size_t k = 0; k < q->n_files; k++)
		total += q->files[k].size;
	/* the window and the filter read these first; ICMP type and code
	 * go into dst_port before the filter sees it */
	sh.normalise = (q->cols & COL(DST_PORT)) != 0;
	if (q->filter || q->window.set) {
		sh.pre_mask = q->filter ? fy_filter_columns(q->filter) : 0;
		if (q->window.set)
			sh.pre_mask |= COL(FIRST_MS) | COL(LAST_MS);
		if (sh.normalise)
			sh.pre_mask |= COL(DST_PORT) | COL(PROTO) |
				       COL(ICMP_TYPE) | COL(ICMP_CODE);
		sh.pre_mask &= q->cols;
		sh.check = true;
	}
	dict_setup(&sh);
	if (make_items(&sh) != 0) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out_lock;
	}
	if (nw > sh.n_items)
		nw = sh.n_items ? (unsigned)sh.n_items : 1;
	sh.nw = nw;
	if (q->progress)
		sh.progress = nfq_progress_start(total, q->n_files);
	if ((ws = calloc(nw, sizeof(*ws))) == NULL) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out_progress;
	}
	for (i = 0; i < nw; i++) {
		ws[i].id = i;
		if ((r = worker_init(&ws[i], &sh)) != 0) {
			snprintf(err, errlen, "out of memory");
			goto out_workers;
		}
	}
	if (nw == 1) {
		worker_main(&ws[0]);
	} else {
		for (i = 0; i < nw; i++) {
			if (pthread_create(&ws[i].tid, NULL, worker_main,
					   &ws[i]) != 0) {
				/* run what could not start in this thread */
				worker_main(&ws[i]);
				ws[i].tid = 0;
			}
		}
		for (i = 0; i < nw; i++)
			if (ws[i].tid)
				pthread_join(ws[i].tid, NULL);
	}
	nfq_progress_stop(sh.progress);
	sh.progress = NULL;
	for (i = 0; i < nw; i++) {
		if (ws[i].err) {
			r = ws[i].err;
			snprintf(err, errlen, "out of memory (%s)",
				 q->n_stats ? "statistics" : "aggregation");
			goto out_workers;
		}
	}
	if (atomic_load(&sh.over_budget)) {
		/* the caller starts over in partitions: what it took so far */
		*over = true;
		for (i = 0; i < nw; i++) {
			res->sum.bytes_read += keyed_memory(&ws[i]);
			res->sum.processed += ws[i].sum.processed;
		}
		goto out_workers;
	}
	for (i = 1; i < nw; i++) {
		if ((r = worker_merge(&ws[0], &ws[i])) != 0) {
			snprintf(err, errlen, "out of memory merging results");
			goto out_workers;
		}
	}
	/* hand the results of worker 0 over to the caller */
	res->sum = ws[0].sum;
	res->file_errors = ws[0].file_errors;
	res->block_errors = ws[0].block_errors;
	if (ws[0].have_agg) {
		res->agg = ws[0].agg;
		res->have_agg = true;
		ws[0].have_agg = false;
	}
	for (i = 0; i < ws[0].n_stats; i++)
		res->stats[i] = ws[0].stats[i];
	res->n_stats = ws[0].n_stats;
	ws[0].n_stats = 0;
	if (q->sort_buffer) {
		res->sorted = ws[0].sorted;
		res->n_sorted = ws[0].n_sorted;
		ws[0].sorted = NULL;
	}
out_workers:
	for (i = 0; i < nw; i++)
		worker_free(&ws[i]);
	free(ws);
out_progress:
	nfq_progress_stop(sh.progress);
	free(sh.items);
out_lock:
	pthread_mutex_destroy(&sh.msg_lock);
	return r;
}

/* Copies the entries of `from` that rank in the top n by o into `to`. */
static int keep_top(struct nfq_ht *to, const struct nfq_ht *from,
		    enum nfq_order o, uint64_t n)
{
	size_t *idx, k, i;
	int r;

	if ((r = nfq_ht_top(from, o, n, &idx, &k)) != 0)
		return r;
	for (i = 0; i < k; i++) {
		const uint8_t *key;
		struct nfq_counters *src = nfq_ht_entry(from, idx[i], &key);
		struct nfq_counters *dst = nfq_ht_get(to, key, NULL);

		if (dst == NULL) {
			free(idx);
			return -ENOMEM;
		}
		if (dst->flows == 0)
			nfq_counters_merge(dst, src);
	}
	free(idx);
	return 0;
}

/*
 * Keeps, from the keyed tables of one pass (pr), what can make the top N
 * into the result's tables (res).
 */
static int keep_finalists(const struct nfq_query *q, struct nfq_result *res,
			  const struct nfq_result *pr)
{
	size_t i, k;
	int r;

	if (pr->have_agg &&
	    (r = keep_top(res->agg.ht, pr->agg.ht, q->agg_order, q->agg_top)))
		return r;
	for (i = 0; i < pr->n_stats; i++) {
		const struct nfq_stat *st = &pr->stats[i];

		if (st->spec.type != NFQ_ST_RECORD)
			continue;
		for (k = 0; k < st->spec.n_orders; k++)
			if ((r = keep_top(res->stats[i].agg.ht, st->agg.ht,
					  st->spec.orders[k], q->top_n)))
				return r;
	}
	return 0;
}

/*
 * A zeroed array for bucket sums, on huge pages where the kernel gives
 * them: random adds all over 100 MB otherwise miss the TLB on nearly every
 * flow, and in a VM a page walk costs more than the cache miss.
 */
static uint32_t *sums_alloc(size_t n)
{
	const size_t huge = 2u << 20;
	size_t bytes = n * sizeof(uint32_t);
	void *p;

	if (bytes < huge)
		return calloc(n, sizeof(uint32_t));
	if (posix_memalign(&p, huge, bytes) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, bytes, MADV_HUGEPAGE);
#endif
	memset(p, 0, bytes);
	return p;
}

/*
 * The value that the `want`-th largest of v[0..n) has (want >= 1), by
 * radix selection on bytes, most significant first: 8 counting sweeps,
 * no copy of the array.
 */
static uint32_t kth_largest(const uint32_t *v, size_t n, uint64_t want)
{
	uint32_t prefix = 0, pmask = 0, max = 0;
	uint64_t cnt[256];
	int shift, b;
	size_t i;

	/* leading bytes that are zero everywhere need no sweep */
	for (i = 0; i < n; i++)
		max = v[i] > max ? v[i] : max;
	for (shift = 24; shift > 0 && (max >> shift) == 0; shift -= 8)
		pmask |= (uint32_t)0xff << shift;
	for (; shift >= 0; shift -= 8) {
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < n; i++)
			if ((v[i] & pmask) == prefix)
				cnt[(v[i] >> shift) & 0xff]++;
		for (b = 255; b > 0 && cnt[b] < want; b--)
			want -= cnt[b];
		prefix |= (uint32_t)b << shift;
		pmask |= (uint32_t)0xff << shift;
	}
	return prefix;
}

/* Whether -s record of q can be counted in bounded memory by buckets. */
static bool prunable(const struct nfq_query *q, struct sketch *sk)
{
	uint64_t flows = 0;
	size_t i, k, recs = 0;

	memset(sk, 0, sizeof(*sk));
	if (q->aggregate || q->list || q->sort_buffer || q->top_n == 0 ||
	    q->limit != NFQ_UNLIMITED || q->mem_budget == 0)
		return false;
	for (i = 0; i < q->n_stats; i++) {
		const struct nfq_stat_spec *sp = &q->stat_specs[i];

		if (sp->type != NFQ_ST_RECORD)
			continue;
		recs++;
		for (k = 0; k < sp->n_orders; k++) {
			enum nfq_order o = sp->orders[k];
			unsigned j;

			/* only sums: a bucket's sum bounds each key's */
			if (o != NFQ_ORD_FLOWS && o != NFQ_ORD_PACKETS &&
			    o != NFQ_ORD_BYTES)
				return false;
			for (j = 0; j < sk->n_orders && sk->order[j] != o; j++)
				;
			if (j == sk->n_orders)
				sk->order[sk->n_orders++] = o;
		}
	}
	if (recs == 0)
		return false;
	for (i = 0; i < q->n_files; i++) {
		struct fy_store_reader *rd;

		if (fy_store_reader_open(&rd, q->files[i].path, NULL, 0) != 0)
			continue;
		flows += fy_store_reader_info(rd)->stats.all.flows;
		fy_store_reader_close(rd);
	}
	if (flows < SKETCH_MIN_FLOWS)
		return false;
	/* about two buckets per flow, within the byte cap */
	sk->n_sums = q->threads ? q->threads : 1;
	sk->bits = 10;
	while (sk->bits < 40 && (UINT64_C(1) << sk->bits) < 2 * flows &&
	       (UINT64_C(2) << sk->bits) * 4 * sk->n_orders * sk->n_sums <=
		       SKETCH_MAX_BYTES)
		sk->bits++;
	return true;
}

/*
 * Second pass of scan_pruned with the `want` largest buckets of each
 * order (ties included) as candidates; *ok tells whether the top N of
 * every -s record order is then exact. rb is the pass's result.
 */
static int count_candidates(const struct nfq_query *q, struct sketch *sk,
			    uint64_t want, struct nfq_result *rb, bool *ok,
			    char *err, size_t errlen)
{
	const size_t nb = (size_t)1 << sk->bits;
	struct pass pb = {0, 1, false, PASS_CANDIDATES, sk};
	bool over;
	size_t i, k;
	unsigned o;
	int r;

	memset(sk->cand, 0, nb / 8 + 8);
	for (o = 0; o < sk->n_orders; o++) {
		const uint32_t *v = sk->sum[o];

		sk->cut[o] = kth_largest(v, nb, want);
		if (sk->cut[o] == 0)
			sk->cut[o] = 1; /* empty buckets hold no key */
		sk->below[o] = 0;
		for (i = 0; i < nb; i++) {
			if (v[i] >= sk->cut[o])
				sk->cand[i >> 6] |= UINT64_C(1) << (i & 63);
			else if (v[i] > sk->below[o])
				sk->below[o] = v[i];
		}
	}
	*ok = false;
	if ((r = run_pass(q, &pb, rb, &over, err, errlen)) != 0)
		return r;
	if (over) /* the candidates alone are over the budget */
		return 0;
	/* exact when the N-th counted key beats every bucket left out */
	for (i = 0; i < rb->n_stats; i++) {
		const struct nfq_stat *st = &rb->stats[i];

		if (st->spec.type != NFQ_ST_RECORD)
			continue;
		for (k = 0; k < st->spec.n_orders; k++) {
			enum nfq_order ord = st->spec.orders[k];
			size_t *idx, got;
			uint64_t nth;

			for (o = 0; sk->order[o] != ord; o++)
				;
			if (nfq_ht_top(st->agg.ht, ord, q->top_n, &idx, &got) !=
			    0) {
				nfq_result_free(rb);
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
			nth = got ? nfq_order_value(ord,
						    nfq_ht_entry(st->agg.ht,
								 idx[got - 1],
								 NULL))
				  : 0;
			free(idx);
			if (got < q->top_n || nth <= sk->below[o])
				return 0;
		}
	}
	*ok = true;
	return 0;
}

/*
 * -s record in two passes with bounded memory, exact. The first pass does
 * all the rest of the query and adds, for each order of -s record (flows,
 * packets, bytes), each flow's value into one of 2^bits buckets picked by
 * the hash of its record key. A bucket's sum is at least the total of
 * every key in it. The cut is the sum of the C-th largest bucket; the
 * second pass counts exactly the keys of the buckets at or over the cut.
 * When the N-th of those keys is larger than every bucket under the cut,
 * no key left out can be in the top N and the answer is exact. Otherwise
 * (a few huge buckets of small keys) *done stays false and the caller
 * counts the usual way.
 */
static int scan_pruned(const struct nfq_query *q, struct sketch *sk,
		       struct nfq_result *res, bool *done, char *err,
		       size_t errlen)
{
	const size_t nb = (size_t)1 << sk->bits;
	struct pass pa = {0, 1, true, PASS_SKETCH, sk};
	struct nfq_result rb;
	uint64_t want;
	bool over;
	size_t i;
	unsigned o;
	int r = 0;

	*done = false;
	if ((sk->cand = malloc(nb / 8 + 8)) == NULL)
		return 0;
	if ((sk->sums = calloc((size_t)sk->n_sums * sk->n_orders,
			       sizeof(*sk->sums))) == NULL) {
		free(sk->cand);
		return 0;
	}
	for (i = 0; i < (size_t)sk->n_sums * sk->n_orders; i++)
		if ((sk->sums[i] = sums_alloc(nb)) == NULL)
			goto out;
	if ((r = run_pass(q, &pa, res, &over, err, errlen)) != 0)
		goto out;
	for (o = 0; o < sk->n_orders; o++) {
		sk->sum[o] = sk->sums[o];
		for (unsigned t = 1; t < sk->n_sums; t++) {
			uint32_t *v = sk->sums[t * sk->n_orders + o];

			for (i = 0; i < nb; i++) {
				uint64_t x = (uint64_t)sk->sum[o][i] + v[i];

				sk->sum[o][i] = x > UINT32_MAX ? UINT32_MAX
							       : (uint32_t)x;
			}
			free(v);
			sk->sums[t * sk->n_orders + o] = NULL;
		}
	}
	/*
	 * Candidates: a 64th of the buckets at first (ample unless the top
	 * keys are small next to pairs of colliding ones); four times more
	 * while that was not enough, the first pass's sums staying valid.
	 */
	for (want = nb / 64 ? nb / 64 : 1;; want *= 4) {
		bool ok = true;

		if ((r = count_candidates(q, sk, want, &rb, &ok, err,
					  errlen)) != 0)
			goto fail;
		if (ok)
			break;
		nfq_result_free(&rb);
		if (want >= nb / 4)
			goto fail;
	}
	/* the first pass's -s record tables are empty: take the counted */
	for (i = 0; i < res->n_stats; i++) {
		if (res->stats[i].spec.type == NFQ_ST_RECORD) {
			nfq_stat_free(&res->stats[i]);
			res->stats[i] = rb.stats[i];
		} else {
			nfq_stat_free(&rb.stats[i]);
		}
	}
	rb.n_stats = 0; /* what is left of it was moved or freed */
	nfq_result_free(&rb);
	res->passes = 2;
	*done = true;
	goto out;
fail:
	nfq_result_free(res);
out:
	for (i = 0; i < (size_t)sk->n_sums * sk->n_orders; i++)
		free(sk->sums[i]);
	free(sk->sums);
	free(sk->cand);
	return r;
}

int nfq_scan(const struct nfq_query *q, struct nfq_result *res, char *err,
	     size_t errlen)
{
	struct pass all = {0, 1, true, PASS_ALL, NULL};
	struct sketch sk;
	uint64_t est, nparts, p;
	bool over, done;
	size_t i;
	int r;

	if (prunable(q, &sk)) {
		r = scan_pruned(q, &sk, res, &done, err, errlen);
		if (r || done)
			return r;
	}
	r = run_pass(q, &all, res, &over, err, errlen);
	if (r || !over)
		return r;
	/*
	 * Over the budget: estimate the memory of the whole from what the
	 * files read so far took, and count the keys in that many parts,
	 * one pass each; only what can make the top N is kept between.
	 */
	{
		uint64_t flows = 0, seen = res->sum.processed;
		double scale;

		for (i = 0; i < q->n_files; i++) {
			struct fy_store_reader *rd;

			if (fy_store_reader_open(&rd, q->files[i].path, NULL,
						 0) != 0)
				continue;
			flows += fy_store_reader_info(rd)->stats.all.flows;
			fy_store_reader_close(rd);
		}
		/* distinct keys grow at most as fast as flows */
		scale = seen ? (double)flows / (double)seen : 2.0;
		if (scale < 1.0)
			scale = 1.0;
		est = (uint64_t)((double)res->sum.bytes_read * scale * 1.25);
	}
	nparts = est / q->mem_budget + 1;
	if (nparts < 2)
		nparts = 2;
	if (nparts > 4096)
		nparts = 4096;
	nfq_result_free(res);
	for (p = 0; p < nparts; p++) {
		struct pass ps = {(unsigned)p, (unsigned)nparts, p == 0,
				  PASS_ALL, NULL};
		struct nfq_result pr;

		if ((r = run_pass(q, &ps, &pr, &over, err, errlen)) != 0)
			goto fail;
		if (p == 0) {
			/*
			 * The summary and element statistics come from the
			 * first pass; its keyed tables are swapped for empty
			 * ones that collect the finalists of every pass.
			 */
			struct nfq_ht *na = NULL, *nr[NFQ_MAX_STATS] = {0};
			bool ok = true;

			if (pr.have_agg && nfq_ht_new(&na, pr.agg.key.len))
				ok = false;
			for (i = 0; i < pr.n_stats; i++)
				if (pr.stats[i].spec.type == NFQ_ST_RECORD &&
				    nfq_ht_new(&nr[i], pr.stats[i].agg.key.len))
					ok = false;
			if (!ok) {
				nfq_ht_free(na);
				for (i = 0; i < NFQ_MAX_STATS; i++)
					nfq_ht_free(nr[i]);
				nfq_result_free(&pr);
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				return r;
			}
			*res = pr;
			if (res->have_agg)
				res->agg.ht = na;
			for (i = 0; i < res->n_stats; i++)
				if (nr[i])
					res->stats[i].agg.ht = nr[i];
			r = keep_finalists(q, res, &pr);
			if (pr.have_agg)
				nfq_ht_free(pr.agg.ht);
			for (i = 0; i < pr.n_stats; i++)
				if (nr[i])
					nfq_ht_free(pr.stats[i].agg.ht);
		} else {
			r = keep_finalists(q, res, &pr);
			nfq_result_free(&pr);
		}
		if (r) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	res->passes = (unsigned)nparts;
	return 0;
fail:
	nfq_result_free(res);
	return r ? r : -ENOMEM;
}

void nfq_result_free(struct nfq_result *res)
{
	size_t i;

	if (res->have_agg)
		nfq_agg_free(&res->agg);
	for (i = 0; i < res->n_stats; i++)
		nfq_stat_free(&res->stats[i]);
	free(res->sorted);
	memset(res, 0, sizeof(*res));
}
