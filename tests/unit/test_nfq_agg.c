/*
 * Unit tests of nfq's statistics and aggregation (nfq/agg.c, stats.c,
 * fields.c): the hash table against a brute-force count, top-N from the
 * bounded heap against a full sort, -A keys with prefixes, -b/-B, "any"
 * statistics, and merging per-thread results.
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

#include "../../nfq/agg.c"
#include "../../nfq/fields.c"
#include "../../nfq/output.c"
#include "../../nfq/stats.c"
#include "../../nfq/timefmt.c"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void mk(struct fy_flow *f, const char *src, const char *dst, uint16_t sp,
	       uint16_t dp, uint8_t proto, uint64_t pkts, uint64_t bytes,
	       uint64_t first)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(fy_addr_parse(src, &f->src, &f->family), 0);
	assert_int_equal(fy_addr_parse(dst, &f->dst, NULL), 0);
	f->src_port = sp;
	f->dst_port = dp;
	f->proto = proto;
	f->packets = pkts;
	f->bytes = bytes;
	f->first_ms = first;
	f->last_ms = first + 1000;
}

static void test_ht_counts(void **state)
{
	enum { N = 200000, KEYS = 70001 };
	static uint32_t want[KEYS];
	struct nfq_ht *h;
	size_t i;

	(void)state;
	memset(want, 0, sizeof(want));
	assert_int_equal(nfq_ht_new(&h, 4), 0);
	for (i = 0; i < N; i++) {
		uint32_t k = (uint32_t)(rnd() % KEYS);
		bool created;
		struct nfq_counters *c = nfq_ht_get(h, (uint8_t *)&k, &created);

		assert_non_null(c);
		assert_int_equal(created, want[k] == 0);
		c->flows++;
		want[k]++;
	}
	/* every key found with its count, and no other */
	size_t distinct = 0;
	for (i = 0; i < KEYS; i++) {
		uint32_t k = (uint32_t)i;
		struct nfq_counters *c = nfq_ht_find(h, (uint8_t *)&k);

		if (want[i] == 0) {
			assert_null(c);
			continue;
		}
		distinct++;
		assert_non_null(c);
		assert_int_equal(c->flows, want[i]);
	}
	assert_int_equal(nfq_ht_count(h), distinct);
	/* entries in insertion order, keys intact */
	for (i = 0; i < nfq_ht_count(h); i++) {
		const uint8_t *key;
		uint32_t k;
		struct nfq_counters *c = nfq_ht_entry(h, i, &key);

		memcpy(&k, key, 4);
		assert_int_equal(c->flows, want[k]);
	}
	assert_true(nfq_ht_memory(h) > distinct * 4);
	nfq_ht_free(h);
	assert_int_equal(nfq_ht_new(&h, 0), -EINVAL);
	assert_int_equal(nfq_ht_new(&h, NFQ_KEY_MAX + 1), -EINVAL);
}

/* The bounded heap agrees with sorting everything, ties included. */
static void test_top_n(void **state)
{
	struct nfq_ht *h;
	size_t *top, *all, n_top, n_all, i, round;

	(void)state;
	for (round = 0; round < 20; round++) {
		size_t keys = 1 + rnd() % 3000;
		uint64_t want_n = round % 4 == 0 ? 0 : 1 + rnd() % 50;
		enum nfq_order o = (enum nfq_order)(rnd() % 9);

		assert_int_equal(nfq_ht_new(&h, 8), 0);
		for (i = 0; i < keys; i++) {
			uint64_t k = rnd();
			struct nfq_counters *c =
				nfq_ht_get(h, (uint8_t *)&k, NULL);

			/* few distinct values: many ties */
			c->flows = 1 + rnd() % 5;
			c->packets = 1 + rnd() % 100;
			c->bytes = c->packets * (rnd() % 1500);
			c->first_ms = 1000 + rnd() % 50;
			c->last_ms = c->first_ms + rnd() % 3000;
		}
		assert_int_equal(nfq_ht_top(h, o, want_n, &top, &n_top), 0);
		assert_int_equal(nfq_ht_top(h, o, 0, &all, &n_all), 0);
		assert_int_equal(n_all, nfq_ht_count(h));
		assert_int_equal(n_top, want_n == 0 || want_n > n_all ? n_all
								      : want_n);
		for (i = 0; i < n_top; i++)
			assert_int_equal(top[i], all[i]);
		/* the full order is sorted */
		for (i = 1; i < n_all; i++) {
			uint64_t a = nfq_order_value(
				o, nfq_ht_entry(h, all[i - 1], NULL));
			uint64_t b = nfq_order_value(o, nfq_ht_entry(h, all[i],
								     NULL));

			if (nfq_order_ascending(o))
				assert_true(a <= b);
			else
				assert_true(a >= b);
		}
		free(top);
		free(all);
		nfq_ht_free(h);
	}
}

static void test_orders(void **state)
{
	enum nfq_order o;
	struct nfq_counters c = {0};

	(void)state;
	assert_int_equal(nfq_order_parse("bytes", &o), 0);
	assert_int_equal(o, NFQ_ORD_BYTES);
	assert_int_equal(nfq_order_parse("IBYTE", &o), 0);
	assert_int_equal(o, NFQ_ORD_BYTES);
	assert_int_equal(nfq_order_parse("tstart", &o), 0);
	assert_true(nfq_order_ascending(o));
	assert_int_equal(nfq_order_parse("nope", &o), -EINVAL);
	c.packets = 10;
	c.bytes = 1000;
	c.first_ms = 1000;
	c.last_ms = 3000;
	assert_int_equal(nfq_order_value(NFQ_ORD_PPS, &c), 5);
	assert_int_equal(nfq_order_value(NFQ_ORD_BPS, &c), 4000);
	assert_int_equal(nfq_order_value(NFQ_ORD_BPP, &c), 100);
	assert_int_equal(nfq_order_value(NFQ_ORD_DURATION, &c), 2000);
}

static void test_key_parse(void **state)
{
	struct nfq_key k;
	char err[NFQ_ERR_MAX];

	(void)state;
	assert_int_equal(
		nfq_key_parse(&k, "srcip4/24,dstport", err, sizeof(err)), 0);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.len, 16 + 2);
	assert_int_equal(k.part[0].v4_prefix, 24);
	assert_int_equal(k.part[0].v6_prefix, 128);
	assert_true(k.cols & FY_STORE_MASK(FY_STORE_COL_SRC));
	assert_true(k.cols & FY_STORE_MASK(FY_STORE_COL_DST_PORT));
	/* v4 and v6 prefixes of one address share one part */
	assert_int_equal(nfq_key_parse(&k, "srcip4/16,srcip6/48,proto", err,
				       sizeof(err)),
			 0);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.part[0].v4_prefix, 16);
	assert_int_equal(k.part[0].v6_prefix, 48);
	assert_int_equal(nfq_key_parse(&k, "srcip4/33", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "srcip4/33"));
	assert_int_equal(nfq_key_parse(&k, "srcip,bogus", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bogus"));
	assert_int_equal(nfq_key_parse(&k, "", err, sizeof(err)), -EINVAL);
}

static void test_mask(void **state)
{
	struct fy_addr a;
	char s[FY_ADDR_STRLEN];

	(void)state;
	fy_addr_parse("10.1.2.3", &a, NULL);
	nfq_addr_mask(&a, 24, 128);
	assert_string_equal(fy_addr_str(&a, s, sizeof(s)), "10.1.2.0");
	fy_addr_parse("10.1.2.3", &a, NULL);
	nfq_addr_mask(&a, 9, 128);
	assert_string_equal(fy_addr_str(&a, s, sizeof(s)), "10.0.0.0");
	fy_addr_parse("10.255.2.3", &a, NULL);
	nfq_addr_mask(&a, 0, 0);
	/* still an IPv4 address: the v4-mapped prefix is kept */
	assert_string_equal(fy_addr_str(&a, s, sizeof(s)), "0.0.0.0");
	fy_addr_parse("2001:db8:1234:5678::1", &a, NULL);
	nfq_addr_mask(&a, 8, 36);
	assert_string_equal(fy_addr_str(&a, s, sizeof(s)), "2001:db8:1000::");
}

static void test_aggregate_prefix(void **state)
{
	struct nfq_key k;
	struct nfq_agg a;
	struct fy_flow f, r;
	char err[NFQ_ERR_MAX], s[FY_ADDR_STRLEN];
	uint64_t flows;
	size_t i;

	(void)state;
	assert_int_equal(
		nfq_key_parse(&k, "srcip4/24,dstport", err, sizeof(err)), 0);
	assert_int_equal(nfq_agg_init(&a, &k, 0), 0);
	mk(&f, "10.1.2.3", "192.0.2.1", 1000, 443, 6, 2, 100, 5000);
	nfq_agg_add(&a, &f);
	mk(&f, "10.1.2.200", "192.0.2.9", 2000, 443, 17, 3, 300, 4000);
	nfq_agg_add(&a, &f);
	mk(&f, "10.1.3.1", "192.0.2.1", 1000, 443, 6, 1, 50, 6000);
	nfq_agg_add(&a, &f);
	mk(&f, "10.1.2.7", "192.0.2.1", 1000, 80, 6, 1, 10, 7000);
	nfq_agg_add(&a, &f);
	/* IPv6 is not touched by an IPv4 prefix */
	mk(&f, "2001:db8::1", "2001:db8::2", 1, 443, 6, 1, 1, 8000);
	nfq_agg_add(&a, &f);
	mk(&f, "2001:db8::2", "2001:db8::2", 1, 443, 6, 1, 1, 8000);
	nfq_agg_add(&a, &f);
	assert_int_equal(nfq_ht_count(a.ht), 5);
	nfq_agg_record(&a, 0, &r, &flows);
	assert_string_equal(fy_addr_str(&r.src, s, sizeof(s)), "10.1.2.0");
	assert_int_equal(r.dst_port, 443);
	assert_int_equal(flows, 2);
	assert_int_equal(r.packets, 5);
	assert_int_equal(r.bytes, 400);
	assert_int_equal(r.first_ms, 4000); /* the earliest */
	assert_int_equal(r.last_ms, 6000);
	assert_int_equal(r.proto, 0); /* not in the key: not shown */
	assert_true(fy_addr_is_zero(&r.dst));
	assert_int_equal(r.src_mask, 24);
	for (i = 0; i < nfq_ht_count(a.ht); i++)
		nfq_agg_record(&a, i, &r, &flows);
	assert_string_equal(fy_addr_str(&r.src, s, sizeof(s)), "2001:db8::2");
	nfq_agg_free(&a);
}

static void test_aggregate_5tuple(void **state)
{
	struct nfq_key k;
	struct nfq_agg a;
	struct fy_flow f, r;
	uint64_t flows;

	(void)state;
	nfq_key_5tuple(&k);
	assert_int_equal(nfq_agg_init(&a, &k, 0), 0);
	mk(&f, "10.0.0.1", "10.0.0.2", 1000, 80, 6, 2, 100, 5000);
	f.tos = 8;
	f.tcp_flags = 0x02;
	nfq_agg_add(&a, &f);
	f.tcp_flags = 0x11;
	f.tos = 16;
	nfq_agg_add(&a, &f);
	f.dst_port = 81;
	nfq_agg_add(&a, &f);
	assert_int_equal(nfq_ht_count(a.ht), 2);
	nfq_agg_record(&a, 0, &r, &flows);
	assert_int_equal(flows, 2);
	assert_int_equal(r.tcp_flags, 0x13); /* or'ed */
	assert_int_equal(r.tos, 8);	     /* the first flow's */
	assert_int_equal(r.proto, 6);
	nfq_agg_free(&a);
}

static void test_bidir(void **state)
{
	struct nfq_key k;
	struct nfq_agg a;
	struct fy_flow f, r;
	char s[FY_ADDR_STRLEN];
	uint64_t flows;

	(void)state;
	nfq_key_5tuple(&k);
	/* -B: the server's answer first; the record reads client->server */
	assert_int_equal(nfq_agg_init(&a, &k, 2), 0);
	mk(&f, "74.125.19.17", "172.16.11.12", 443, 64565, 6, 4, 220, 1000);
	nfq_agg_add(&a, &f);
	mk(&f, "172.16.11.12", "74.125.19.17", 64565, 443, 6, 5, 287, 1000);
	nfq_agg_add(&a, &f);
	/* ICMP echo and reply stay apart (nfdump) */
	mk(&f, "10.0.0.1", "10.0.0.2", 0, 8 << 8, 1, 1, 84, 1000);
	nfq_agg_add(&a, &f);
	mk(&f, "10.0.0.2", "10.0.0.1", 0, 0, 1, 1, 84, 1000);
	nfq_agg_add(&a, &f);
	assert_int_equal(nfq_ht_count(a.ht), 3);
	nfq_agg_record(&a, 0, &r, &flows);
	assert_string_equal(fy_addr_str(&r.src, s, sizeof(s)), "172.16.11.12");
	assert_int_equal(r.src_port, 64565);
	assert_int_equal(flows, 2);
	assert_int_equal(r.packets, 5);
	assert_int_equal(r.bytes, 287);
	assert_int_equal(r.out_packets, 4);
	assert_int_equal(r.out_bytes, 220);
	nfq_agg_free(&a);
	/* -b: no guess, the first flow seen sets the direction */
	assert_int_equal(nfq_agg_init(&a, &k, 1), 0);
	mk(&f, "74.125.19.17", "172.16.11.12", 443, 64565, 6, 4, 220, 1000);
	nfq_agg_add(&a, &f);
	mk(&f, "172.16.11.12", "74.125.19.17", 64565, 443, 6, 5, 287, 1000);
	nfq_agg_add(&a, &f);
	assert_int_equal(nfq_ht_count(a.ht), 1);
	nfq_agg_record(&a, 0, &r, &flows);
	assert_string_equal(fy_addr_str(&r.src, s, sizeof(s)), "74.125.19.17");
	assert_int_equal(r.bytes, 220);
	assert_int_equal(r.out_bytes, 287);
	nfq_agg_free(&a);
}

static void test_stat_any(void **state)
{
	struct nfq_stat_spec spec;
	struct nfq_stat st;
	struct fy_flow f;
	char err[NFQ_ERR_MAX];
	uint8_t key[16];
	struct nfq_counters *c;

	(void)state;
	assert_int_equal(
		nfq_stat_parse("ip/bytes/flows", &spec, err, sizeof(err)), 0);
	assert_int_equal(spec.n_orders, 2);
	assert_int_equal(spec.orders[1], NFQ_ORD_FLOWS);
	assert_int_equal(nfq_stat_init(&st, &spec, NULL), 0);
	mk(&f, "10.0.0.1", "10.0.0.2", 1, 2, 6, 1, 100, 1000);
	nfq_stat_add(&st, &f);
	mk(&f, "10.0.0.2", "10.0.0.3", 1, 2, 6, 1, 10, 1000);
	nfq_stat_add(&st, &f);
	/* one flow between an address and itself counts once */
	mk(&f, "10.0.0.3", "10.0.0.3", 1, 2, 6, 1, 1, 1000);
	nfq_stat_add(&st, &f);
	assert_int_equal(nfq_ht_count(st.ht), 3);
	fy_addr_parse("10.0.0.2", (struct fy_addr *)key, NULL);
	c = nfq_ht_find(st.ht, key);
	assert_non_null(c);
	assert_int_equal(c->flows, 2);
	assert_int_equal(c->bytes, 110);
	fy_addr_parse("10.0.0.3", (struct fy_addr *)key, NULL);
	c = nfq_ht_find(st.ht, key);
	assert_int_equal(c->flows, 2);
	assert_int_equal(c->bytes, 11);
	nfq_stat_free(&st);
	/* parse errors name the culprit */
	assert_int_equal(nfq_stat_parse("srcipx", &spec, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "srcipx"));
	assert_int_equal(nfq_stat_parse("srcip/tstart", &spec, err,
					sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "tstart"));
	assert_int_equal(nfq_stat_parse("router", &spec, err, sizeof(err)), 0);
	assert_int_equal(spec.type, NFQ_ST_EXPORTER);
	assert_int_equal(spec.orders[0], NFQ_ORD_FLOWS);
}

/* Two halves counted apart and merged equal the whole counted once. */
static void test_merge(void **state)
{
	struct nfq_stat_spec spec;
	struct nfq_stat whole, part[2];
	struct nfq_key k;
	struct nfq_agg aw, ap[2];
	char err[NFQ_ERR_MAX];
	size_t i;

	(void)state;
	assert_int_equal(nfq_stat_parse("dstport", &spec, err, sizeof(err)), 0);
	nfq_key_5tuple(&k);
	assert_int_equal(nfq_stat_init(&whole, &spec, NULL), 0);
	assert_int_equal(nfq_agg_init(&aw, &k, 2), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(nfq_stat_init(&part[i], &spec, NULL), 0);
		assert_int_equal(nfq_agg_init(&ap[i], &k, 2), 0);
	}
	for (i = 0; i < 5000; i++) {
		struct fy_flow f;
		char a[32], b[32];

		snprintf(a, sizeof(a), "10.0.0.%u", (unsigned)(rnd() % 8));
		snprintf(b, sizeof(b), "10.0.1.%u", (unsigned)(rnd() % 8));
		if (rnd() & 1)
			mk(&f, a, b, 40000 + rnd() % 4, 80 + rnd() % 3, 6,
			   1 + rnd() % 9, rnd() % 9000, 1000 + rnd() % 100000);
		else
			mk(&f, b, a, 80 + rnd() % 3, 40000 + rnd() % 4, 6,
			   1 + rnd() % 9, rnd() % 9000, 1000 + rnd() % 100000);
		nfq_stat_add(&whole, &f);
		nfq_stat_add(&part[i % 2], &f);
		nfq_agg_add(&aw, &f);
		nfq_agg_add(&ap[i % 2], &f);
	}
	assert_int_equal(nfq_stat_merge(&part[0], &part[1]), 0);
	assert_int_equal(nfq_agg_merge(&ap[0], &ap[1]), 0);
	assert_int_equal(nfq_ht_count(part[0].ht), nfq_ht_count(whole.ht));
	for (i = 0; i < nfq_ht_count(whole.ht); i++) {
		const uint8_t *key;
		struct nfq_counters *w = nfq_ht_entry(whole.ht, i, &key);
		struct nfq_counters *m = nfq_ht_find(part[0].ht, key);

		assert_non_null(m);
		assert_int_equal(m->flows, w->flows);
		assert_int_equal(m->bytes, w->bytes);
		assert_int_equal(m->first_ms, w->first_ms);
		assert_int_equal(m->last_ms, w->last_ms);
	}
	/* -B records: same number, same totals both ways */
	assert_int_equal(nfq_ht_count(ap[0].ht), nfq_ht_count(aw.ht));
	{
		uint64_t tw = 0, tm = 0, ow = 0, om = 0;

		for (i = 0; i < nfq_ht_count(aw.ht); i++) {
			tw += nfq_ht_entry(aw.ht, i, NULL)->bytes;
			ow += nfq_ht_entry(aw.ht, i, NULL)->out_bytes;
			tm += nfq_ht_entry(ap[0].ht, i, NULL)->bytes;
			om += nfq_ht_entry(ap[0].ht, i, NULL)->out_bytes;
		}
		assert_int_equal(tw, tm);
		assert_int_equal(ow, om);
	}
	nfq_stat_free(&whole);
	nfq_agg_free(&aw);
	for (i = 0; i < 2; i++) {
		nfq_stat_free(&part[i]);
		nfq_agg_free(&ap[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ht_counts),
		cmocka_unit_test(test_top_n),
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_aggregate_prefix),
		cmocka_unit_test(test_aggregate_5tuple),
		cmocka_unit_test(test_bidir),
		cmocka_unit_test(test_stat_any),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests_name("nfq_agg", tests, NULL, NULL);
}
