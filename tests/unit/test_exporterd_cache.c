/*
 * test_exporterd_cache.c - the probe's flow cache: keys, timeouts, end
 * reasons, eviction under -m, fragments, biflows.
 *
 * The cache lives in the exporterd program, so its source is compiled in
 * here. Packets are built as struct fy_pkt directly (the decoder has its
 * own tests); the clock is their timestamps, as in a capture replay.
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
#define SEC 1000ull
#define MAX_OUT 50000

/* ---- the export callback keeps every flow ---- */

struct out {
	size_t n;
	struct fy_flow f[MAX_OUT];
};

static struct out *out;

static void collect(void *arg, const struct fy_flow *f)
{
	struct out *o = arg;

	assert_true(o->n < MAX_OUT);
	o->f[o->n++] = *f;
}

static int setup(void **state)
{
	out = calloc(1, sizeof(*out));
	*state = out;
	return out ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(out);
	out = NULL;
	return 0;
}

static struct fc_cfg default_cfg(void)
{
	struct fc_cfg c;
	int i;

	memset(&c, 0, sizeof(c));
	c.max_flows = 64;
	for (i = 0; i < FC_NCLASS; i++) {
		c.to.idle_ms[i] = 30 * SEC;
		c.to.active_ms[i] = 300 * SEC;
	}
	c.to.idle_ms[FC_TCP] = 60 * SEC;
	c.to.tcp_fin_ms = 5 * SEC;
	c.to.tcp_rst_ms = 1 * SEC;
	c.seed[0] = 0x0123456789abcdefull;
	c.seed[1] = 0xfedcba9876543210ull;
	c.sampling_interval = 0;
	c.domain = 7;
	return c;
}

static struct fc_cache *new_cache(const struct fc_cfg *c)
{
	struct fc_cache *fc;

	out->n = 0;
	fc = fc_new(c, collect, out);
	assert_non_null(fc);
	return fc;
}

/* A packet from 10.0.0.<a>:<sp> to 10.0.0.<b>:<dp>. */
static struct fy_pkt pkt(uint8_t proto, uint8_t a, uint16_t sp, uint8_t b,
			 uint16_t dp, uint32_t len)
{
	struct fy_pkt p;

	memset(&p, 0, sizeof(p));
	fy_addr_set_v4(&p.src, 0x0a000000u | a);
	fy_addr_set_v4(&p.dst, 0x0a000000u | b);
	p.family = FY_AF_INET;
	p.proto = proto;
	p.sport = sp;
	p.dport = dp;
	p.ip_len = len;
	return p;
}

static struct fy_pkt tcp(uint8_t a, uint16_t sp, uint8_t b, uint16_t dp,
			 uint8_t flags)
{
	struct fy_pkt p = pkt(6, a, sp, b, dp, 40);

	p.tcp_flags = flags;
	return p;
}

static const struct fy_flow *find(uint16_t sport, uint16_t dport)
{
	size_t i;

	for (i = 0; i < out->n; i++)
		if (out->f[i].src_port == sport && out->f[i].dst_port == dport)
			return &out->f[i];
	return NULL;
}

/* ---- tests ---- */

static void test_tcp_fin_linger(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c = new_cache(&cfg);
	struct fy_pkt p;
	const struct fy_flow *f;

	(void)state;
	p = tcp(1, 1000, 2, 80, 0x02);
	fc_packet(c, &p, T0);
	p = tcp(2, 80, 1, 1000, 0x12);
	fc_packet(c, &p, T0 + 1);
	p = tcp(1, 1000, 2, 80, 0x10);
	fc_packet(c, &p, T0 + 2);
	p = tcp(1, 1000, 2, 80, 0x11); /* FIN */
	fc_packet(c, &p, T0 + 3 * SEC);
	p = tcp(2, 80, 1, 1000, 0x11);
	fc_packet(c, &p, T0 + 3 * SEC + 1);
	/* the last ACK still joins the flow: it lingers */
	p = tcp(1, 1000, 2, 80, 0x10);
	fc_packet(c, &p, T0 + 3 * SEC + 2);
	assert_int_equal(out->n, 0);
	assert_int_equal(fc_stats(c)->flows_active, 2);

	/* each direction 5 s after its own last packet */
	fc_expire(c, T0 + 8 * SEC + 1);
	assert_int_equal(out->n, 1);
	fc_expire(c, T0 + 8 * SEC + 2);
	assert_int_equal(out->n, 2);
	f = find(1000, 80);
	assert_non_null(f);
	assert_int_equal(f->packets, 4);
	assert_int_equal(f->bytes, 160);
	assert_int_equal(f->tcp_flags, 0x13);
	assert_int_equal(f->end_reason, FY_END_EOF);
	assert_int_equal(f->first_ms, T0);
	assert_int_equal(f->last_ms, T0 + 3 * SEC + 2);
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->family, FY_AF_INET);
	assert_int_equal(fy_addr_v4(&f->src), 0x0a000001u);
	assert_int_equal(f->domain, 7);
	f = find(80, 1000);
	assert_non_null(f);
	assert_int_equal(f->packets, 2);
	assert_int_equal(f->end_reason, FY_END_EOF);
	assert_int_equal(fc_stats(c)->end_reason[FY_END_EOF], 2);
	assert_int_equal(fc_stats(c)->flows_active, 0);
	fc_free(c);
}

static void test_rst_and_immediate_end(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	struct fy_pkt p;

	(void)state;
	cfg.to.tcp_fin_ms = 0;
	cfg.to.tcp_rst_ms = 0;
	c = new_cache(&cfg);
	p = tcp(1, 1000, 2, 80, 0x02);
	fc_packet(c, &p, T0);
	p = tcp(1, 1000, 2, 80, 0x04); /* RST: ends at once */
	fc_packet(c, &p, T0 + 10);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].packets, 2);
	assert_int_equal(out->f[0].end_reason, FY_END_EOF);
	assert_int_equal(out->f[0].tcp_flags, 0x06);
	/* the next packet of the 5-tuple is a new flow */
	p = tcp(1, 1000, 2, 80, 0x10);
	fc_packet(c, &p, T0 + 20);
	assert_int_equal(fc_stats(c)->flows_active, 1);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[1].end_reason, FY_END_FORCED);
	fc_free(c);
}

static void test_syn_after_fin_restarts(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c = new_cache(&cfg);
	struct fy_pkt p;

	(void)state;
	p = tcp(1, 1000, 2, 80, 0x02);
	fc_packet(c, &p, T0);
	p = tcp(1, 1000, 2, 80, 0x11);
	fc_packet(c, &p, T0 + 100);
	/* the port is reused within the linger time */
	p = tcp(1, 1000, 2, 80, 0x02);
	fc_packet(c, &p, T0 + 200);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].packets, 2);
	assert_int_equal(out->f[0].end_reason, FY_END_EOF);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[1].packets, 1);
	assert_int_equal(out->f[1].tcp_flags, 0x02);
	assert_int_equal(out->f[1].end_reason, FY_END_FORCED);
	fc_free(c);
}

static void test_idle_per_class(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	struct fy_pkt p;

	(void)state;
	cfg.to.idle_ms[FC_UDP] = 10 * SEC;
	cfg.to.idle_ms[FC_ICMP] = 20 * SEC;
	cfg.to.idle_ms[FC_GENERAL] = 40 * SEC;
	cfg.to.idle_ms[FC_TCP] = 50 * SEC;
	c = new_cache(&cfg);
	p = pkt(17, 1, 53, 2, 53, 100);
	fc_packet(c, &p, T0);
	p = pkt(1, 1, 0, 2, 0, 84);
	p.icmp_type = 8;
	fc_packet(c, &p, T0);
	p = pkt(47, 1, 0, 2, 0, 200); /* GRE: general */
	fc_packet(c, &p, T0);
	p = tcp(1, 5, 2, 6, 0x10);
	fc_packet(c, &p, T0);

	fc_expire(c, T0 + 10 * SEC - 1);
	assert_int_equal(out->n, 0);
	fc_expire(c, T0 + 10 * SEC);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].proto, 17);
	assert_int_equal(out->f[0].end_reason, FY_END_IDLE);
	fc_expire(c, T0 + 20 * SEC);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[1].proto, 1);
	assert_int_equal(out->f[1].icmp_type, 8);
	assert_int_equal(out->f[1].dst_port, 0);
	fc_expire(c, T0 + 45 * SEC);
	assert_int_equal(out->n, 3);
	assert_int_equal(out->f[2].proto, 47);
	/* a packet moves the deadline */
	p = tcp(1, 5, 2, 6, 0x10);
	fc_packet(c, &p, T0 + 49 * SEC);
	fc_expire(c, T0 + 60 * SEC);
	assert_int_equal(out->n, 3);
	fc_expire(c, T0 + 99 * SEC);
	assert_int_equal(out->n, 4);
	assert_int_equal(out->f[3].packets, 2);
	assert_int_equal(out->f[3].end_reason, FY_END_IDLE);
	/* an idle timeout of 0 disables it */
	cfg.to.idle_ms[FC_UDP] = 0;
	fc_free(c);
	c = new_cache(&cfg);
	p = pkt(17, 1, 53, 2, 53, 100);
	fc_packet(c, &p, T0);
	fc_expire(c, T0 + 299 * SEC);
	assert_int_equal(out->n, 0);
	fc_free(c);
}

static void test_active_timeout(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c = new_cache(&cfg);
	struct fy_pkt p = pkt(17, 1, 1000, 2, 2000, 100);
	uint64_t t;

	(void)state;
	/* one packet a second for 400 s: active timeout at 300 s */
	for (t = 0; t < 400; t++)
		fc_packet(c, &p, T0 + t * SEC);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].end_reason, FY_END_ACTIVE);
	assert_int_equal(out->f[0].packets, 300);
	assert_int_equal(out->f[0].first_ms, T0);
	assert_int_equal(out->f[0].last_ms, T0 + 299 * SEC);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[1].packets, 100);
	assert_int_equal(out->f[1].first_ms, T0 + 300 * SEC);
	assert_int_equal(fc_stats(c)->packets, 400);
	assert_int_equal(fc_stats(c)->bytes, 40000);
	fc_free(c);
}

static void test_lru_eviction(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	struct fy_pkt p;

	(void)state;
	cfg.max_flows = 3;
	c = new_cache(&cfg);
	p = pkt(17, 1, 1, 2, 1, 100);
	fc_packet(c, &p, T0);
	p = tcp(1, 2, 2, 2, 0x10);
	fc_packet(c, &p, T0 + 1);
	p = pkt(17, 1, 3, 2, 3, 100);
	fc_packet(c, &p, T0 + 2);
	/* the first flow gets a packet: the TCP flow is now the oldest */
	p = pkt(17, 1, 1, 2, 1, 100);
	fc_packet(c, &p, T0 + 3);
	p = pkt(17, 1, 4, 2, 4, 100);
	fc_packet(c, &p, T0 + 4);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].src_port, 2);
	assert_int_equal(out->f[0].end_reason, FY_END_LACK_OF_RESOURCES);
	assert_int_equal(fc_stats(c)->evicted, 1);
	assert_int_equal(fc_stats(c)->flows_active, 3);
	p = pkt(17, 1, 5, 2, 5, 100);
	fc_packet(c, &p, T0 + 5);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[1].src_port, 3);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 5);
	/* least recently active first */
	assert_int_equal(out->f[2].src_port, 1);
	assert_int_equal(out->f[2].packets, 2);
	assert_int_equal(out->f[3].src_port, 4);
	assert_int_equal(out->f[4].src_port, 5);
	assert_int_equal(fc_stats(c)->end_reason[FY_END_LACK_OF_RESOURCES], 2);
	fc_free(c);
}

static void test_churn(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	uint64_t packets = 0, i;
	size_t k;

	(void)state;
	cfg.max_flows = 1000;
	c = new_cache(&cfg);
	/* 20000 flows through a 1000-entry cache, some seen twice */
	for (i = 0; i < 20000; i++) {
		struct fy_pkt p = pkt(17, (uint8_t)(i >> 8), (uint16_t)i, 9,
				      (uint16_t)(i * 7), 64);

		fc_packet(c, &p, T0 + i);
		packets++;
		if (i % 3 == 0 && i >= 500) {
			p = pkt(17, (uint8_t)((i - 500) >> 8),
				(uint16_t)(i - 500), 9,
				(uint16_t)((i - 500) * 7), 64);
			fc_packet(c, &p, T0 + i);
			packets++;
		}
	}
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(fc_stats(c)->flows_active, 0);
	assert_int_equal(fc_stats(c)->flows_exported,
			 fc_stats(c)->flows_created);
	assert_int_equal(fc_stats(c)->flows_peak, 1000);
	for (i = 0, k = 0; k < out->n; k++)
		i += out->f[k].packets;
	assert_int_equal(i, packets);
	assert_int_equal(fc_stats(c)->packets, packets);
	fc_free(c);
}

static struct fy_pkt frag(uint8_t proto, uint16_t sp, uint16_t dp, uint32_t id,
			  bool later, uint32_t len)
{
	struct fy_pkt p = pkt(proto, 1, later ? 0 : sp, 2, later ? 0 : dp, len);

	p.frag_id = id;
	p.flags = FY_PKT_F_FRAG;
	if (later)
		p.flags |= FY_PKT_F_FRAG_LATER | FY_PKT_F_NO_L4;
	return p;
}

static void test_fragments(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	struct fy_pkt p;
	const struct fy_flow *f;

	(void)state;
	cfg.to.idle_ms[FC_UDP] = 120 * SEC;
	c = new_cache(&cfg);
	p = frag(17, 5000, 53, 77, false, 1500);
	fc_packet(c, &p, T0);
	p = frag(17, 0, 0, 77, true, 1500);
	fc_packet(c, &p, T0 + 1);
	p = frag(17, 0, 0, 77, true, 300);
	fc_packet(c, &p, T0 + 2);
	/* another datagram's later fragment, its first one never seen */
	p = frag(17, 0, 0, 78, true, 400);
	fc_packet(c, &p, T0 + 3);
	/* a later fragment after the table forgot the first one */
	p = frag(17, 0, 0, 77, true, 100);
	fc_packet(c, &p, T0 + 31 * SEC);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	f = find(5000, 53);
	assert_non_null(f);
	assert_int_equal(f->packets, 3);
	assert_int_equal(f->bytes, 3300);
	f = find(0, 0);
	assert_non_null(f);
	assert_int_equal(f->packets, 2);
	assert_int_equal(f->bytes, 500);
	assert_int_equal(fc_stats(c)->frag_first, 1);
	assert_int_equal(fc_stats(c)->frag_joined, 2);
	assert_int_equal(fc_stats(c)->frag_orphans, 2);
	fc_free(c);

	/* ICMP fragments join by type and code */
	c = new_cache(&cfg);
	p = frag(1, 0, 0, 9, false, 1500);
	p.icmp_type = 8;
	fc_packet(c, &p, T0);
	p = frag(1, 0, 0, 9, true, 1000);
	fc_packet(c, &p, T0 + 1);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].packets, 2);
	assert_int_equal(out->f[0].icmp_type, 8);
	fc_free(c);
}

static void test_forced_keeps_true_reason(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c = new_cache(&cfg);
	struct fy_pkt p;

	(void)state;
	p = tcp(1, 1, 2, 2, 0x11);
	fc_packet(c, &p, T0);
	p = tcp(1, 3, 2, 3, 0x10);
	fc_packet(c, &p, T0 + 1);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[0].end_reason, FY_END_EOF);
	assert_int_equal(out->f[1].end_reason, FY_END_FORCED);
	fc_free(c);
}

static void test_biflow(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	struct fy_pkt p;

	(void)state;
	cfg.biflow = true;
	c = new_cache(&cfg);
	/* the initiator has the higher address: the key is swapped */
	p = tcp(9, 40000, 2, 443, 0x02);
	fc_packet(c, &p, T0);
	p = tcp(2, 443, 9, 40000, 0x12);
	fc_packet(c, &p, T0 + 1);
	p = tcp(9, 40000, 2, 443, 0x10);
	fc_packet(c, &p, T0 + 2);
	/* ICMP echo and its reply */
	p = pkt(1, 1, 0, 2, 0, 84);
	p.icmp_type = 8;
	fc_packet(c, &p, T0 + 3);
	p = pkt(1, 2, 0, 1, 0, 84);
	p.icmp_type = 0;
	fc_packet(c, &p, T0 + 4);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	assert_int_equal(fy_addr_v4(&out->f[0].src), 0x0a000009u);
	assert_int_equal(out->f[0].src_port, 40000);
	assert_int_equal(out->f[0].dst_port, 443);
	assert_int_equal(out->f[0].packets, 2);
	assert_int_equal(out->f[0].out_packets, 1);
	assert_int_equal(out->f[0].out_bytes, 40);
	assert_int_equal(out->f[0].tcp_flags, 0x12);
	assert_int_equal(fy_addr_v4(&out->f[1].src), 0x0a000001u);
	assert_int_equal(out->f[1].icmp_type, 8);
	assert_int_equal(out->f[1].packets, 1);
	assert_int_equal(out->f[1].out_packets, 1);
	fc_free(c);
}

static void test_vlan_key_and_clock(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c;
	struct fy_pkt p = pkt(17, 1, 53, 2, 53, 60);

	(void)state;
	c = new_cache(&cfg);
	p.vlan = 10;
	fc_packet(c, &p, T0);
	p.vlan = 20;
	fc_packet(c, &p, T0 + 1);
	/* a packet from the past: counted, the clock does not go back */
	fc_packet(c, &p, T0 - 10 * SEC);
	assert_int_equal(fc_clock(c), T0 + 1);
	assert_int_equal(fc_stats(c)->clock_backwards, 1);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 1);
	assert_int_equal(out->f[0].packets, 3);
	assert_int_equal(out->f[0].first_ms, T0 - 10 * SEC);
	assert_int_equal(out->f[0].vlan, 0);
	fc_free(c);

	cfg.key_vlan = true;
	c = new_cache(&cfg);
	p.vlan = 10;
	fc_packet(c, &p, T0);
	p.vlan = 20;
	fc_packet(c, &p, T0 + 1);
	fc_expire_all(c, FY_END_FORCED);
	assert_int_equal(out->n, 2);
	assert_int_equal(out->f[0].vlan, 10);
	assert_int_equal(out->f[1].vlan, 20);
	fc_free(c);
}

static int count_flow(void *arg, const struct fy_flow *f)
{
	uint64_t *n = arg;

	assert_int_equal(f->end_reason, 0);
	*n += f->packets;
	return f->src_port == 99 ? 42 : 0;
}

static void test_foreach_and_new(void **state)
{
	struct fc_cfg cfg = default_cfg();
	struct fc_cache *c = new_cache(&cfg);
	struct fy_pkt p;
	uint64_t n = 0;

	(void)state;
	p = pkt(17, 1, 1, 2, 1, 60);
	fc_packet(c, &p, T0);
	p = tcp(1, 2, 2, 2, 0x10);
	fc_packet(c, &p, T0 + 1);
	fc_packet(c, &p, T0 + 2);
	assert_int_equal(fc_foreach(c, count_flow, &n), 0);
	assert_int_equal(n, 3);
	p = pkt(17, 1, 99, 2, 1, 60);
	fc_packet(c, &p, T0 + 3);
	assert_int_equal(fc_foreach(c, count_flow, &n), 42);
	assert_int_equal(out->n, 0);
	fc_free(c);

	cfg.max_flows = 0;
	assert_null(fc_new(&cfg, collect, out));
	assert_null(fc_new(NULL, collect, out));
	fc_free(NULL);
	assert_int_equal(fc_class_of(58), FC_ICMP);
	assert_int_equal(fc_class_of(132), FC_GENERAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_fin_linger),
		cmocka_unit_test(test_rst_and_immediate_end),
		cmocka_unit_test(test_syn_after_fin_restarts),
		cmocka_unit_test(test_idle_per_class),
		cmocka_unit_test(test_active_timeout),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_forced_keeps_true_reason),
		cmocka_unit_test(test_biflow),
		cmocka_unit_test(test_vlan_key_and_clock),
		cmocka_unit_test(test_foreach_and_new),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
