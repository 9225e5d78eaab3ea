/*
 * test_exporterd_walk.c - fc_walk(), the resumable walk of the flow cache
 * that the control socket's DumpFlows is streamed from: whole buckets,
 * the stop request, and its promise when the cache changes between two
 * slices (a flow present throughout is reported exactly once).
 *
 * The cache lives in the exporterd program, so its source is compiled in
 * here, as in test_exporterd_cache.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../exporterd/cache.c"

#define T0 1700000000000ull
#define NFLOWS 3000

static void drop(void *arg, const struct fy_flow *f)
{
	(void)f;
	(*(size_t *)arg)++;
}

static struct fc_cache *new_cache(uint32_t max_flows, size_t *exported)
{
	struct fc_cfg c;
	struct fc_cache *fc;
	int i;

	memset(&c, 0, sizeof(c));
	c.max_flows = max_flows;
	for (i = 0; i < FC_NCLASS; i++) {
		c.to.idle_ms[i] = 30000;
		c.to.active_ms[i] = 300000;
	}
	c.seed[0] = 0x0123456789abcdefull;
	c.seed[1] = 0xfedcba9876543210ull;
	fc = fc_new(&c, drop, exported);
	assert_non_null(fc);
	return fc;
}

/* UDP flow number `i`: 10.0.0.1:(i % 60000 + 1) -> 10.0.<i/60000>.2:53. */
static void add_flow(struct fc_cache *c, uint32_t i, uint64_t ts)
{
	struct fy_pkt p;

	memset(&p, 0, sizeof(p));
	fy_addr_set_v4(&p.src, 0x0a000001u);
	fy_addr_set_v4(&p.dst, 0x0a000002u | (i / 60000) << 8);
	p.family = FY_AF_INET;
	p.proto = 17;
	p.sport = (uint16_t)(i % 60000 + 1);
	p.dport = 53;
	p.ip_len = 100;
	fc_packet(c, &p, ts);
}

/* Counts how often each source port was seen. */
struct seen {
	uint32_t n[65536];
	uint64_t calls;
	uint64_t stop_after; /* 0: never ask to stop */
};

static int see(void *arg, const struct fy_flow *f)
{
	struct seen *s = arg;

	assert_int_equal(f->end_reason, 0);
	s->n[f->src_port]++;
	s->calls++;
	return s->stop_after && s->calls >= s->stop_after;
}

static void test_full_walk(void **state)
{
	size_t exported = 0;
	struct fc_cache *c = new_cache(4096, &exported);
	struct seen *s = calloc(1, sizeof(*s));
	uint32_t i;

	(void)state;
	assert_non_null(s);
	/* 4096 entries, load at most 1/2: 8192 buckets */
	assert_int_equal(fc_buckets(c), 8192);
	assert_int_equal(fc_walk(c, 0, UINT64_MAX, see, s), 8192);
	assert_int_equal(s->calls, 0);
	for (i = 0; i < NFLOWS; i++)
		add_flow(c, i, T0);
	assert_int_equal(fc_walk(c, 0, UINT64_MAX, see, s), 8192);
	assert_int_equal(s->calls, NFLOWS);
	for (i = 0; i < NFLOWS; i++)
		assert_int_equal(s->n[i + 1], 1);
	/* past the end, or nothing asked: nothing visited */
	assert_int_equal(fc_walk(c, 9000, 10, see, s), 8192);
	assert_int_equal(fc_walk(c, 5, 0, see, s), 5);
	assert_int_equal(s->calls, NFLOWS);
	assert_int_equal(exported, 0);
	fc_free(c);
	free(s);
}

static uint64_t chain_len(const struct fc_cache *c, uint64_t b)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = c->buckets[b]; i != NIL; i = c->entries[i].hnext)
		n++;
	return n;
}

/* Slices of buckets, and a stop request that still finishes its bucket. */
static void test_slices_and_stop(void **state)
{
	size_t exported = 0;
	struct fc_cache *c = new_cache(4096, &exported);
	struct seen *s = calloc(1, sizeof(*s));
	uint64_t pos = 0, prev, slices = 0;
	uint32_t i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < NFLOWS; i++)
		add_flow(c, i, T0);
	while (pos < fc_buckets(c)) {
		prev = pos;
		pos = fc_walk(c, pos, 100, see, s);
		assert_true(pos > prev && pos - prev <= 100);
		slices++;
	}
	assert_int_equal(slices, (8192 + 99) / 100);
	assert_int_equal(s->calls, NFLOWS);

	/* stop after every flow: each call ends with a whole bucket */
	memset(s, 0, sizeof(*s));
	s->stop_after = 1;
	for (pos = 0; pos < fc_buckets(c);) {
		uint64_t before = s->calls;

		s->stop_after = before + 1;
		prev = pos;
		pos = fc_walk(c, pos, UINT64_MAX, see, s);
		assert_true(pos > prev);
		/* stopped at the first flow, after the rest of its bucket */
		if (s->calls > before)
			assert_int_equal(s->calls - before,
					 chain_len(c, pos - 1));
		else
			assert_int_equal(pos, fc_buckets(c));
	}
	assert_int_equal(s->calls, NFLOWS);
	for (i = 0; i < NFLOWS; i++)
		assert_int_equal(s->n[i + 1], 1);
	fc_free(c);
	free(s);
}

/*
 * Between two slices flows come and go: the even flows stay throughout
 * (and keep getting packets), the odd ones are exported by their idle
 * timeout (30 s) about halfway through the 64 slices, new ones arrive.
 * Every even flow is seen exactly once; nothing is seen twice.
 */
static void test_resume_across_changes(void **state)
{
	size_t exported = 0;
	struct fc_cache *c = new_cache(8192, &exported);
	struct seen *s = calloc(1, sizeof(*s));
	uint64_t pos = 0, t = T0, slice = 0;
	uint32_t i, next = NFLOWS;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < NFLOWS; i++)
		add_flow(c, i, T0);
	while (pos < fc_buckets(c)) {
		pos = fc_walk(c, pos, 256, see, s);
		t += 1000;
		/* the even flows stay active, and new flows arrive */
		for (i = 0; i < NFLOWS; i += 2)
			add_flow(c, i, t);
		for (i = 0; i < 20 && next < 6000; i++)
			add_flow(c, next++, t);
		slice++;
	}
	assert_int_equal(slice, 16384 / 256);
	assert_true(exported >= NFLOWS / 2);
	for (i = 0; i < 6000; i++) {
		assert_true(s->n[i + 1] <= 1);
		if (i < NFLOWS && i % 2 == 0)
			assert_int_equal(s->n[i + 1], 1);
	}
	fc_free(c);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_walk),
		cmocka_unit_test(test_slices_and_stop),
		cmocka_unit_test(test_resume_across_changes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
