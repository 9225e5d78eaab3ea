/*
 * test_nf_roundtrip.c - flows through the encoder and back through the
 * decoder must come out as they went in.
 *
 * Every field a template carries is compared; fields a version cannot carry
 * are compared with what that version defines instead (v5: 16-bit
 * interfaces and AS, 32-bit counters, ICMP in the destination port). The
 * decoder's session counters must show no sequence failure: encoder and
 * decoder agree on how each version counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "nf_decode.h"
#include "nf_encode.h"

#define BOOT_MS 1700000000123ull
#define NOW_MS (BOOT_MS + 86400000ull + 789)
#define MAX_FLOWS 4096

struct rt {
	struct fy_nfdec *dec;
	struct fy_nf_src src;
	uint64_t now_ms;
	int decode_status; /* first failure, FY_NFDEC_OK if none */
	size_t messages;
	size_t max_len;
	size_t n;
	struct fy_flow out[MAX_FLOWS];
};

static void rt_emit(void *arg, const struct fy_flow *flows, size_t n)
{
	struct rt *rt = arg;

	assert_true(rt->n + n <= MAX_FLOWS);
	memcpy(rt->out + rt->n, flows, n * sizeof(*flows));
	rt->n += n;
}

/* The encoder's send callback decodes each message at once. */
static int rt_send(void *arg, const uint8_t *msg, size_t len)
{
	struct rt *rt = arg;
	int r;

	r = fy_nfdec_decode(rt->dec, &rt->src, msg, len, rt->now_ms, rt_emit,
			    rt);
	if (r != FY_NFDEC_OK && rt->decode_status == FY_NFDEC_OK)
		rt->decode_status = r;
	rt->messages++;
	if (len > rt->max_len)
		rt->max_len = len;
	return 0;
}

static struct rt *rt_new(void)
{
	struct rt *rt = calloc(1, sizeof(*rt));

	assert_non_null(rt);
	rt->dec = fy_nfdec_new(NULL);
	assert_non_null(rt->dec);
	fy_addr_set_v4(&rt->src.addr, 0xc6336401); /* 198.51.100.1 */
	rt->src.port = 40001;
	return rt;
}

static void rt_free(struct rt *rt)
{
	fy_nfdec_free(rt->dec);
	free(rt);
}

static int sum_stats(void *arg, const struct fy_nfdec_session_info *si)
{
	struct fy_nfdec_stats *sum = arg;

	sum->packets += si->stats->packets;
	sum->flows += si->stats->flows;
	sum->malformed += si->stats->malformed;
	sum->seq_failures += si->stats->seq_failures;
	sum->lost_flows += si->stats->lost_flows;
	sum->no_template += si->stats->no_template;
	sum->options_records += si->stats->options_records;
	return 0;
}

static void check_decoder_clean(const struct rt *rt, uint64_t options)
{
	struct fy_nfdec_stats sum;

	memset(&sum, 0, sizeof(sum));
	fy_nfdec_foreach_session(rt->dec, sum_stats, &sum);
	assert_int_equal(rt->decode_status, FY_NFDEC_OK);
	assert_int_equal(sum.packets, rt->messages);
	assert_int_equal(sum.flows, rt->n);
	assert_int_equal(sum.malformed, 0);
	assert_int_equal(sum.seq_failures, 0);
	assert_int_equal(sum.lost_flows, 0);
	assert_int_equal(sum.no_template, 0);
	assert_int_equal(sum.options_records, options);
	assert_int_equal(fy_nfdec_totals(rt->dec)->malformed, 0);
}

/* Distinct values in every field, so that a swap of two shows. */
static void make_flow(struct fy_flow *f, unsigned i, int family)
{
	unsigned k;

	memset(f, 0, sizeof(*f));
	f->family = (uint8_t)family;
	if (family == FY_AF_INET) {
		fy_addr_set_v4(&f->src, 0x0a010000u + i);
		fy_addr_set_v4(&f->dst, 0xcb007100u + (i & 0xff));
		fy_addr_set_v4(&f->nexthop, 0xac100000u + i);
	} else {
		for (k = 0; k < 16; k++) {
			f->src.b[k] = (uint8_t)(0x11 * k + i);
			f->dst.b[k] = (uint8_t)(0x0f * k + 3 * i);
			f->nexthop.b[k] = (uint8_t)(0xfe - k);
		}
		f->src.b[0] = 0x20;
		f->src.b[1] = 0x01;
		f->dst.b[0] = 0x2a;
		f->nexthop.b[0] = 0xfe;
		f->nexthop.b[1] = 0x80;
	}
	f->first_ms = NOW_MS - 60000 - 7 * i;
	f->last_ms = NOW_MS - 1234 - i;
	f->packets = 3 + i;
	f->bytes = 5000000000ull + 1000 * i; /* over 32 bits */
	f->out_packets = 2 + i;
	f->out_bytes = 900 + i;
	f->input_if = 11 + i;
	f->output_if = 100000 + i;
	f->src_as = 64496 + i;
	f->dst_as = 4200000000u + i;
	f->src_port = (uint16_t)(40000 + i);
	f->dst_port = 53;
	f->proto = 17;
	f->tcp_flags = (uint8_t)(0x02 | (i & 0x10));
	f->tos = (uint8_t)(i << 2);
	f->src_mask = 22;
	f->dst_mask = family == FY_AF_INET ? 27 : 48;
	f->end_reason = (uint8_t)(1 + i % 5);
	f->vlan = (uint16_t)(10 + i % 4000); /* 12-bit ids */
	f->out_vlan = (uint16_t)(2000 + i % 2000);
	for (k = 0; k < 6; k++) {
		f->src_mac[k] = (uint8_t)(0x02 + k + i);
		f->dst_mac[k] = (uint8_t)(0xa0 + k);
	}
	/* every fifth flow is ICMP, every seventh TCP */
	if (i % 5 == 4) {
		f->proto = family == FY_AF_INET ? 1 : 58;
		f->src_port = 0;
		f->dst_port = 0;
		f->icmp_type = family == FY_AF_INET ? 3 : 135;
		f->icmp_code = (uint8_t)(i % 4);
	} else if (i % 7 == 0) {
		f->proto = 6;
		f->tcp_flags = 0x1b;
	}
}

static void check_common(const struct fy_flow *in, const struct fy_flow *out)
{
	assert_int_equal(out->family, in->family);
	assert_memory_equal(out->src.b, in->src.b, 16);
	assert_memory_equal(out->dst.b, in->dst.b, 16);
	assert_memory_equal(out->nexthop.b, in->nexthop.b, 16);
	assert_int_equal(out->src_port, in->src_port);
	assert_int_equal(out->proto, in->proto);
	assert_int_equal(out->tcp_flags, in->tcp_flags);
	assert_int_equal(out->tos, in->tos);
	assert_int_equal(out->src_mask, in->src_mask);
	assert_int_equal(out->dst_mask, in->dst_mask);
	assert_int_equal(out->input_if, in->input_if);
	assert_int_equal(out->first_ms, in->first_ms);
	assert_int_equal(out->last_ms, in->last_ms);
	assert_int_equal(out->icmp_type, in->icmp_type);
	assert_int_equal(out->icmp_code, in->icmp_code);
}

/* v9 and IPFIX carry every field at full width. */
static void check_full(const struct fy_flow *in, const struct fy_flow *out,
		       const struct fy_nfenc_cfg *c)
{
	check_common(in, out);
	assert_int_equal(out->dst_port, in->dst_port);
	assert_int_equal(out->packets, in->packets);
	assert_int_equal(out->bytes, in->bytes);
	assert_int_equal(out->output_if, in->output_if);
	assert_int_equal(out->src_as, in->src_as);
	assert_int_equal(out->dst_as, in->dst_as);
	assert_int_equal(out->end_reason, in->end_reason);
	assert_int_equal(out->domain, c->domain);
	assert_int_equal(out->nf_version, c->version);
	assert_int_equal(out->sampling_interval,
			 c->sampling_interval > 1 ? c->sampling_interval : 0);
	if (c->with_vlan) {
		assert_int_equal(out->vlan, in->vlan);
		assert_int_equal(out->out_vlan, in->out_vlan);
	} else {
		assert_int_equal(out->vlan, 0);
	}
	if (c->with_macs) {
		assert_memory_equal(out->src_mac, in->src_mac, 6);
		assert_memory_equal(out->dst_mac, in->dst_mac, 6);
	} else {
		assert_int_equal(out->src_mac[0] | out->dst_mac[5], 0);
	}
	if (c->biflow) {
		assert_int_equal(out->out_bytes, in->out_bytes);
		assert_int_equal(out->out_packets, in->out_packets);
	} else {
		assert_int_equal(out->out_bytes, 0);
		assert_int_equal(out->out_packets, 0);
	}
}

/*
 * Encodes n flows (IPv4 and IPv6 in runs of varying length), decodes them,
 * compares. `step_ms` moves the clock between flows so that template
 * refresh by time happens along the way.
 */
static void roundtrip(struct fy_nfenc_cfg *c, unsigned n, uint64_t step_ms)
{
	struct rt *rt = rt_new();
	struct fy_nfenc *e = fy_nfenc_new(c, rt_send, rt);
	struct fy_flow *in = calloc(n, sizeof(*in));
	uint64_t options = 0;
	unsigned i;

	assert_non_null(e);
	assert_non_null(in);
	for (i = 0; i < n; i++) {
		int fam = (i % 11) < 6 ? FY_AF_INET : FY_AF_INET6;

		make_flow(&in[i], i, fam);
		rt->now_ms = NOW_MS + i * step_ms;
		assert_int_equal(fy_nfenc_add(e, &in[i], rt->now_ms), 0);
	}
	assert_int_equal(fy_nfenc_flush(e, rt->now_ms), 0);
	assert_int_equal(rt->n, n);
	for (i = 0; i < n; i++)
		check_full(&in[i], &rt->out[i], c);
	assert_true(rt->max_len <= (c->mtu ? c->mtu : 1400));
	if (c->sampling_interval > 1)
		options = fy_nfenc_stats(e)->options_records;
	assert_true(c->sampling_interval <= 1 || options > 0);
	check_decoder_clean(rt, options);
	assert_int_equal(fy_nfenc_stats(e)->messages, rt->messages);
	fy_nfenc_free(e);
	free(in);
	rt_free(rt);
}

static struct fy_nfenc_cfg cfg_of(uint8_t version)
{
	struct fy_nfenc_cfg c;

	memset(&c, 0, sizeof(c));
	c.version = version;
	c.domain = 77;
	c.engine_type = 1;
	c.engine_id = 42;
	c.boot_ms = BOOT_MS;
	return c;
}

static void test_v9_roundtrip(void **state)
{
	struct fy_nfenc_cfg c = cfg_of(9);

	(void)state;
	roundtrip(&c, 1, 0);
	roundtrip(&c, 500, 3);
	c.with_macs = c.with_vlan = true;
	c.sampling_interval = 64;
	c.tmpl_refresh_packets = 4;
	c.mtu = 600;
	roundtrip(&c, 500, 0);
	c.sampling_random = 1;
	c.tmpl_refresh_ms = 50;
	roundtrip(&c, 500, 1);
}

/* 60 days of uptime: the relative times wrap at 2^32 ms. */
static void test_v9_uptime_wrap(void **state)
{
	struct fy_nfenc_cfg c = cfg_of(9);

	(void)state;
	c.boot_ms = NOW_MS - (60ull * 86400000) - 61000 + 30000;
	roundtrip(&c, 100, 10);
	c.boot_ms = NOW_MS - (1ull << 32) - 30000; /* wrap between flows */
	roundtrip(&c, 100, 1000);
}

static void test_ipfix_roundtrip(void **state)
{
	struct fy_nfenc_cfg c = cfg_of(10);

	(void)state;
	roundtrip(&c, 1, 0);
	roundtrip(&c, 500, 3);
	c.with_macs = c.with_vlan = c.biflow = true;
	c.sampling_interval = 1000;
	c.tmpl_refresh_packets = 3;
	c.mtu = 700;
	roundtrip(&c, 500, 0);
	c.sampling_random = 1;
	c.tmpl_refresh_ms = 20;
	roundtrip(&c, 500, 1);
	c.mtu = 9000;
	roundtrip(&c, 1000, 0);
}

static void check_v5(const struct fy_flow *in, const struct fy_flow *out,
		     const struct fy_nfenc_cfg *c)
{
	uint16_t dport = in->dst_port;

	check_common(in, out);
	if ((in->proto == 1) && dport == 0)
		dport = (uint16_t)(in->icmp_type << 8 | in->icmp_code);
	assert_int_equal(out->dst_port, dport);
	assert_int_equal(out->packets, in->packets);
	assert_int_equal(out->bytes,
			 in->bytes > UINT32_MAX ? UINT32_MAX : in->bytes);
	assert_int_equal(out->output_if,
			 in->output_if > 0xffff ? 0xffff : in->output_if);
	assert_int_equal(out->src_as, in->src_as);
	assert_int_equal(out->dst_as, in->dst_as > 0xffff ? 23456 : in->dst_as);
	assert_int_equal(out->engine_type, c->engine_type);
	assert_int_equal(out->engine_id, c->engine_id);
	assert_int_equal(out->nf_version, 5);
	assert_int_equal(out->sampling_interval,
			 c->sampling_interval > 1 ? c->sampling_interval : 0);
}

static void roundtrip_v5(struct fy_nfenc_cfg *c, unsigned n, uint64_t step_ms)
{
	struct rt *rt = rt_new();
	struct fy_nfenc *e = fy_nfenc_new(c, rt_send, rt);
	struct fy_flow *in = calloc(n, sizeof(*in));
	struct fy_flow v6;
	unsigned i;

	assert_non_null(e);
	assert_non_null(in);
	for (i = 0; i < n; i++) {
		make_flow(&in[i], i, FY_AF_INET);
		rt->now_ms = NOW_MS + i * step_ms;
		assert_int_equal(fy_nfenc_add(e, &in[i], rt->now_ms), 0);
		if (i % 9 == 0) {
			make_flow(&v6, i, FY_AF_INET6);
			assert_int_equal(fy_nfenc_add(e, &v6, rt->now_ms), 0);
		}
	}
	assert_int_equal(fy_nfenc_flush(e, rt->now_ms), 0);
	assert_int_equal(rt->n, n);
	for (i = 0; i < n; i++)
		check_v5(&in[i], &rt->out[i], c);
	assert_int_equal(fy_nfenc_stats(e)->skipped, (n + 8) / 9);
	check_decoder_clean(rt, 0);
	fy_nfenc_free(e);
	free(in);
	rt_free(rt);
}

static void test_v5_roundtrip(void **state)
{
	struct fy_nfenc_cfg c = cfg_of(5);

	(void)state;
	roundtrip_v5(&c, 1, 0);
	roundtrip_v5(&c, 300, 7);
	c.sampling_interval = 100;
	c.mtu = 1500;
	roundtrip_v5(&c, 300, 0);
	c.sampling_random = 1;
	c.sampling_interval = 0x3fff;
	c.boot_ms = NOW_MS - (1ull << 32) - 30000; /* uptime wraps */
	roundtrip_v5(&c, 300, 1000);
}

/* A collector that restarts gets the templates back on request. */
static void test_request_after_collector_restart(void **state)
{
	struct fy_nfenc_cfg c = cfg_of(10);
	struct rt *rt = rt_new();
	struct fy_nfenc *e;
	struct fy_flow f;

	(void)state;
	c.tmpl_refresh_packets = 1000;
	e = fy_nfenc_new(&c, rt_send, rt);
	assert_non_null(e);
	rt->now_ms = NOW_MS;
	make_flow(&f, 1, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(rt->n, 1);

	/* new decoder: no templates; the data waits, then gets them */
	fy_nfdec_free(rt->dec);
	rt->dec = fy_nfdec_new(NULL);
	assert_non_null(rt->dec);
	rt->messages = 0;
	rt->n = 0;
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(rt->n, 0);
	fy_nfenc_request_templates(e);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(rt->n, 1);
	check_full(&f, &rt->out[0], &c);
	fy_nfenc_free(e);
	rt_free(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v5_roundtrip),
		cmocka_unit_test(test_v9_roundtrip),
		cmocka_unit_test(test_v9_uptime_wrap),
		cmocka_unit_test(test_ipfix_roundtrip),
		cmocka_unit_test(test_request_after_collector_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
