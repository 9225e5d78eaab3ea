/*
 * scan.c - reads the files and feeds every flow that passes to the sinks.
 *
 * A worker thread takes the next file, opens it (header and footer only),
 * skips it whole when its footer's time range misses the window, asks the
 * reader for the columns the query needs and for block skipping, then
 * runs the window check and the filter on each batch. Statistics and
 * aggregation are per worker and merged at the end, so the workers share
 * nothing but the index of the next file.
 *
 * Queries whose output depends on file order (a listing, -c, -O) run on
 * one thread; the others on as many as there are cores (--threads).
 */
#include "nfq.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)
#define BATCH 4096

/* One read of all the files: the whole query, or one key partition. */
struct pass {
	unsigned part, nparts;
	bool first; /* counts the summary and the element statistics */
};

struct shared {
	const struct nfq_query *q;
	const struct pass *pass;
	unsigned nw;
	atomic_size_t next;
	atomic_uint_fast64_t passed; /* for -c across workers */
	atomic_bool over_budget;
	atomic_uint_fast64_t bytes_done; /* file bytes of finished files */
	pthread_mutex_t msg_lock;
	struct nfq_progress *progress;
};

struct worker {
	struct shared *sh;
	pthread_t tid;
	struct nfq_summary sum;
	struct nfq_agg agg;
	bool have_agg;
	struct nfq_stat stats[NFQ_MAX_STATS];
	size_t n_stats;
	struct fy_flow *buf;
	struct fy_flow **pass; /* the flows of buf that passed */
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
	for (i = 0; i < w->n_stats; i++) {
		/* later passes count only the partitioned records */
		if (!w->sh->pass->first &&
		    w->stats[i].spec.type != NFQ_ST_RECORD)
			continue;
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

static void scan_file(struct worker *w, const struct nfq_file *file)
{
	const struct nfq_query *q = w->sh->q;
	const struct fy_store_info *info;
	struct fy_store_reader *rd;
	char err[FY_STORE_MSG_MAX + 64];
	uint64_t flows_before = w->sum.processed;
	size_t np;
	long n;
	int r;

	r = fy_store_reader_open(&rd, file->path, err, sizeof(err));
	if (r) {
		/* an open file may be renamed under us: not an error */
		if (!(file->temp && r == -ENOENT)) {
			warn(w->sh, err);
			w->file_errors++;
		}
		nfq_progress_update(w->sh->progress, 0, file->size, true);
		return;
	}
	info = fy_store_reader_info(rd);
	if ((info->flags & FY_STORE_INFO_NO_FOOTER) && !file->temp)
		warn(w->sh, fy_store_reader_message(rd));
	if (!nfq_window_overlaps(&q->window, info->stats.first_ms,
				 info->stats.last_ms) ||
	    info->stats.all.flows == 0) {
		w->sum.blocks_skipped += info->n_blocks;
		goto out;
	}
	{
		struct nfq_summary s = {0};

		s.data_first_ms = info->stats.first_ms;
		s.data_last_ms = info->stats.last_ms;
		nfq_summary_merge(&w->sum, &s);
	}
	w->sum.files++;
	w->sum.bytes_read += info->file_size;
	fy_store_reader_select(rd, q->cols);
	if (q->window.set)
		fy_store_reader_set_window(rd, q->window.from_ms,
					   q->window.to_ms);
	while (!w->stop) {
		n = fy_store_reader_next(rd, w->buf, BATCH);
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
		np = 0;
		for (long i = 0; i < n; i++) {
			struct fy_flow *f = &w->buf[i];

			w->sum.processed++;
			if (!nfq_window_match(&q->window, f))
				continue;
			/* before the filter: "dst port 2048" is an echo
			 * request in nfdump */
			normalise(f);
			if (q->filter && !fy_filter_match(q->filter, f))
				continue;
			w->pass[np++] = f;
			/* -c: the first N flows that pass, then stop */
			if (q->limit != NFQ_UNLIMITED &&
			    atomic_fetch_add(&w->sh->passed, 1) + 1 >=
				    q->limit) {
				w->stop = true;
				break;
			}
		}
		if (np && (r = sink(w, w->pass, np)) != 0) {
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
	if (!w->stop)
		atomic_fetch_add(&w->sh->bytes_done, file->size);
	nfq_progress_update(w->sh->progress, 0, file->size, true);
	fy_store_reader_close(rd);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct nfq_query *q = w->sh->q;
	size_t i;

	while (!w->stop) {
		i = atomic_fetch_add(&w->sh->next, 1);
		if (i >= q->n_files)
			break;
		scan_file(w, &q->files[i]);
		if (q->limit != NFQ_UNLIMITED &&
		    atomic_load(&w->sh->passed) >= q->limit)
			break;
	}
	return NULL;
}

static int worker_init(struct worker *w, struct shared *sh)
{
	const struct nfq_query *q = sh->q;
	size_t i;
	int r;

	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->buf = malloc(BATCH * sizeof(*w->buf));
	w->pass = malloc(BATCH * sizeof(*w->pass));
	if (w->buf == NULL || w->pass == NULL)
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
	}
	return 0;
}

static void worker_free(struct worker *w)
{
	size_t i;

	free(w->buf);
	free(w->pass);
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
	if (nw > q->n_files)
		nw = q->n_files ? (unsigned)q->n_files : 1;
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
	if (q->progress)
		sh.progress = nfq_progress_start(total, q->n_files);
	if ((ws = calloc(nw, sizeof(*ws))) == NULL) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out_progress;
	}
	for (i = 0; i < nw; i++) {
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

int nfq_scan(const struct nfq_query *q, struct nfq_result *res, char *err,
	     size_t errlen)
{
	struct pass all = {0, 1, true};
	uint64_t est, nparts, p;
	bool over;
	size_t i;
	int r;

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
		struct pass ps = {(unsigned)p, (unsigned)nparts, p == 0};
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
