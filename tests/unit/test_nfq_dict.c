/*
 * Unit tests of nfq's per-dictionary-entry counting (nfq/scan.c): a -s
 * statistic of one column is counted per entry of the block's dictionary
 * and merged into its table at the end of the block. Its tables must come
 * out exactly as counting flow by flow makes them: the same keys, the
 * same counters, in the same insertion order (which breaks ties in the
 * top N). Files mix dictionary blocks (a few, a few hundred, a thousand
 * values; IPv4 and IPv6), plain blocks, one-value blocks and ICMP flows
 * (whose type/code go into dst_port); without a filter (counted straight
 * from the columns), with filters and a time window (counted from the
 * flows that passed), with other statistics beside, on 1 and 2 threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <unistd.h>

#include "../../nfq/agg.c"
#include "../../nfq/fields.c"
#include "../../nfq/output.c"
#include "../../nfq/progress.c"
#include "../../nfq/scan.c"
#include "../../nfq/stats.c"
#include "../../nfq/timefmt.c"

#define BLOCK 4096
#define NFILES 2

static char dir[64];
static char paths[NFILES][128];
static struct nfq_file files[NFILES];

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Distinct source addresses of the blocks of file 0, in turn (0: all). */
static const unsigned distinct[] = {5, 0, 300, 1, 1000, 2, 0, 40};
#define NBLOCKS (sizeof(distinct) / sizeof(distinct[0]))

static void make_flow(struct fy_flow *f, size_t i, unsigned nd, bool six)
{
	uint64_t k = nd ? rnd() % nd : rnd();

	memset(f, 0, sizeof(*f));
	f->first_ms = 1700000000000ull + i * 3 + rnd() % 5000;
	f->last_ms = f->first_ms + rnd() % 60000;
	f->packets = 1 + rnd() % 1000;
	f->bytes = f->packets * (40 + rnd() % 1400);
	if (six && k % 3 == 0) {
		memset(f->src.b, 0, 16);
		f->src.b[0] = 0x20;
		f->src.b[1] = 0x01;
		memcpy(f->src.b + 8, &k, 8);
		f->family = FY_AF_INET6;
	} else {
		fy_addr_set_v4(&f->src, 0x0a000000u + (uint32_t)k);
		f->family = FY_AF_INET;
	}
	fy_addr_set_v4(&f->dst, 0xc0a80000u + (uint32_t)(rnd() % 700));
	f->src_port = (uint16_t)(nd ? 1000 + k % 50 : rnd());
	f->dst_port = (uint16_t)(rnd() % 2 ? 53 : rnd() % 8 ? 443 : rnd());
	/* ICMP only in some blocks: dst_port then holds type and code */
	f->proto = (uint8_t)(i / BLOCK % 3 == 2 && rnd() % 10 == 0 ? 1
			     : rnd() % 4 == 0			   ? 17
								   : 6);
	if (f->proto == 1) {
		f->icmp_type = (uint8_t)(rnd() % 2 ? 8 : 0);
		f->icmp_code = 0;
		f->dst_port = 0;
	}
	f->tcp_flags = (uint8_t)rnd();
	f->tos = (uint8_t)(rnd() % 3);
	f->input_if = (uint32_t)(rnd() % 4);
	f->src_as = (uint32_t)(nd ? 64500 + k % 7 : rnd());
	fy_addr_set_v4(&f->exporter, 0x7f000001);
}

static int write_file(const char *path, size_t nblocks, bool plain)
{
	struct fy_store_opts o = {.block_flows = BLOCK, .no_fsync = true};
	struct fy_store_writer *w;
	char err[FY_STORE_MSG_MAX];
	struct fy_flow *v = calloc(BLOCK, sizeof(*v));
	size_t b, i;
	int r = -1;

	if (v == NULL ||
	    fy_store_writer_open(&w, path, &o, err, sizeof(err)) != 0)
		goto out;
	for (b = 0; b < nblocks; b++) {
		for (i = 0; i < BLOCK; i++)
			make_flow(&v[i], b * BLOCK + i, plain ? 0 : distinct[b],
				  b % 2 == 0);
		if (fy_store_writer_append(w, v, BLOCK) != 0)
			goto out;
	}
	r = fy_store_writer_close(w, err, sizeof(err)) == 0 ? 0 : -1;
out:
	free(v);
	return r;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fy_nfqdict_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/flows.%zu", dir, i);
		/* file 1: random values, a short last block */
		if (write_file(paths[i], i ? 3 : NBLOCKS, i == 1) != 0)
			return -1;
		files[i].path = paths[i];
		files[i].slot = (int64_t)i;
		files[i].size = 1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < NFILES; i++)
		unlink(paths[i]);
	rmdir(dir);
	return 0;
}

/* The columns nfq's main asks for (query_cols), for statistics only. */
static uint64_t stat_query_cols(const struct nfq_query *q)
{
	uint64_t c = COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS) | COL(BYTES);

	if (q->filter)
		c |= fy_filter_columns(q->filter);
	for (size_t i = 0; i < q->n_stats; i++) {
		if (q->stat_specs[i].type == NFQ_ST_RECORD)
			c |= q->record_key.cols | COL(TCP_FLAGS) | COL(PROTO);
		else
			c |= nfq_stat_cols(q->stat_specs[i].type);
	}
	if (c & COL(DST_PORT))
		c |= COL(PROTO) | COL(ICMP_TYPE) | COL(ICMP_CODE);
	if (c & (COL(SRC) | COL(DST)))
		c |= COL(FAMILY);
	return c;
}

/* The reference: every flow in file order through nfq_stat_add. */
static void count_flows(const struct nfq_query *q, struct nfq_stat *ref)
{
	struct fy_flow buf[512];
	size_t f, i, k;
	long n;

	for (k = 0; k < q->n_stats; k++)
		assert_int_equal(nfq_stat_init(&ref[k], &q->stat_specs[k],
					       &q->record_key),
				 0);
	for (f = 0; f < q->n_files; f++) {
		struct fy_store_reader *r;

		assert_int_equal(
			fy_store_reader_open(&r, q->files[f].path, NULL, 0), 0);
		fy_store_reader_select(r, q->cols);
		while ((n = fy_store_reader_next(r, buf, 512)) > 0) {
			for (i = 0; i < (size_t)n; i++) {
				struct fy_flow *fl = &buf[i];

				if (!nfq_window_match(&q->window, fl))
					continue;
				if (q->cols & COL(DST_PORT))
					normalise(fl);
				if (q->filter &&
				    !fy_filter_match(q->filter, fl))
					continue;
				for (k = 0; k < q->n_stats; k++)
					assert_int_equal(
						nfq_stat_add(&ref[k], fl), 0);
			}
		}
		assert_int_equal(n, 0);
		fy_store_reader_close(r);
	}
}

/* proto and tos are the first flow's: on one thread only, in file order */
static void assert_counters_equal(const struct nfq_counters *a,
				  const struct nfq_counters *b, bool first)
{
	assert_int_equal(a->flows, b->flows);
	assert_int_equal(a->packets, b->packets);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->out_packets, b->out_packets);
	assert_int_equal(a->out_bytes, b->out_bytes);
	assert_int_equal(a->first_ms, b->first_ms);
	assert_int_equal(a->last_ms, b->last_ms);
	assert_int_equal(a->tcp_flags, b->tcp_flags);
	if (first) {
		assert_int_equal(a->proto, b->proto);
		assert_int_equal(a->tos, b->tos);
	}
}

/* Same keys and counters; in the same order when `ordered`. */
static void assert_tables_equal(struct nfq_ht *got, struct nfq_ht *want,
				size_t key_len, bool ordered, bool first)
{
	size_t i;

	assert_int_equal(nfq_ht_count(got), nfq_ht_count(want));
	for (i = 0; i < nfq_ht_count(want); i++) {
		const uint8_t *wk, *gk;
		struct nfq_counters *w = nfq_ht_entry(want, i, &wk);
		struct nfq_counters *g;

		if (ordered) {
			g = nfq_ht_entry(got, i, &gk);
			assert_memory_equal(gk, wk, key_len);
		} else {
			g = nfq_ht_find(got, wk);
			assert_non_null(g);
		}
		assert_counters_equal(g, w, first);
	}
}

/*
 * nfq_scan of the files with statistics `specs` (and filter, window,
 * threads) against the flow-by-flow reference.
 */
static void check(size_t nfiles, const char *const *specs, size_t ns,
		  const char *filter, bool window, unsigned threads)
{
	struct nfq_stat ref[NFQ_MAX_STATS];
	struct fy_filter *flt = NULL;
	struct nfq_query q;
	struct nfq_result res;
	char err[256];
	size_t k;

	memset(&q, 0, sizeof(q));
	q.files = files;
	q.n_files = nfiles;
	q.limit = NFQ_UNLIMITED;
	q.threads = threads;
	q.top_n = 10;
	nfq_key_5tuple(&q.record_key);
	for (k = 0; k < ns; k++)
		assert_int_equal(nfq_stat_parse(specs[k], &q.stat_specs[k], err,
						sizeof(err)),
				 0);
	q.n_stats = ns;
	if (filter) {
		if (fy_filter_compile(filter, &flt, err, sizeof(err)) != 0)
			fail_msg("filter '%s': %s", filter, err);
		q.filter = flt;
	}
	if (window) {
		q.window.set = true;
		q.window.from_ms = 1700000000000ull + 3 * BLOCK / 2;
		q.window.to_ms = 1700000000000ull + 3 * 5 * BLOCK;
	}
	q.cols = stat_query_cols(&q);
	count_flows(&q, ref);
	assert_int_equal(nfq_scan(&q, &res, err, sizeof(err)), 0);
	assert_int_equal(res.n_stats, ns);
	/*
	 * The order is compared for one-field statistics on one thread; the
	 * others are added a batch at a time (an "any" statistic one end of
	 * the batch after the other), not flow by flow as the reference.
	 */
	for (k = 0; k < ns; k++) {
		enum nfq_stat_type t = ref[k].spec.type;
		bool ordered = threads == 1 && t != NFQ_ST_RECORD &&
			       nfq_stat_field(t, 1) == NFQ_F_NONE;

		if (t == NFQ_ST_RECORD)
			assert_tables_equal(res.stats[k].agg.ht, ref[k].agg.ht,
					    ref[k].agg.key.len, ordered,
					    threads == 1);
		else
			assert_tables_equal(res.stats[k].ht, ref[k].ht,
					    ref[k].key.len, ordered,
					    threads == 1);
		nfq_stat_free(&ref[k]);
	}
	nfq_result_free(&res);
	fy_filter_free(flt);
}

/* The file has what the tests are about: dictionary and other blocks. */
static void test_blocks_mixed(void **state)
{
	struct fy_store_reader *r;
	const uint16_t *idx;
	size_t dict = 0, other = 0, wide = 0;
	uint32_t ne;
	long n;

	(void)state;
	assert_int_equal(fy_store_reader_open(&r, paths[0], NULL, 0), 0);
	fy_store_reader_select(r, COL(SRC) | COL(DST_PORT));
	while ((n = fy_store_reader_next_block(r)) > 0) {
		ne = fy_store_reader_dict(r, FY_STORE_COL_SRC, &idx);
		if (ne) {
			dict++;
			wide += ne > 256; /* indices over 8 bits */
		} else {
			other++;
		}
	}
	assert_int_equal(n, 0);
	assert_true(dict >= 4);
	assert_true(other >= 2);
	assert_true(wide >= 2);
	fy_store_reader_close(r);
}

static void test_no_filter(void **state)
{
	static const char *const one[] = {"srcip/bytes"};
	static const char *const each[] = {"dstip", "srcport", "dstport",
					   "proto", "srcas",   "inif",
					   "tos",   "flags",   "exporter"};

	(void)state;
	check(1, one, 1, NULL, false, 1);
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++)
		check(1, &each[i], 1, NULL, false, 1);
}

static void test_several_stats(void **state)
{
	static const char *const a[] = {"srcip/bytes", "dstport/packets",
					"proto"};
	static const char *const b[] = {"srcip", "srcip/packets"};
	/* tos and flags read by the counters; -s record and "any" beside */
	static const char *const c[] = {"srcip", "tos", "record/bytes", "ip",
					"srcport"};

	(void)state;
	check(1, a, 3, NULL, false, 1);
	check(1, b, 2, NULL, false, 1);
	check(1, c, 5, NULL, false, 1);
}

static void test_filtered(void **state)
{
	static const char *const s[] = {"srcip/bytes", "dstport", "srcas"};

	(void)state;
	check(1, s, 3, "proto udp", false, 1);
	check(1, s, 3, "dst port 53 and bytes > 20000", false, 1);
	check(1, s, 3, "proto icmp or src port 1003", false, 1);
	check(1, s, 3, "dst port 2048", false, 1); /* echo requests */
	check(1, s, 3, NULL, true, 1);
	check(1, s, 3, "not proto tcp", true, 1);
	check(1, s, 3, "not any", false, 1);
}

static void test_files_threads(void **state)
{
	static const char *const s[] = {"srcip/bytes", "dstport"};

	(void)state;
	check(2, s, 2, NULL, false, 1);
	check(2, s, 2, "proto tcp", false, 1);
	check(2, s, 2, NULL, false, 2);
	check(2, s, 2, "proto tcp", true, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocks_mixed),
		cmocka_unit_test(test_no_filter),
		cmocka_unit_test(test_several_stats),
		cmocka_unit_test(test_filtered),
		cmocka_unit_test(test_files_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
