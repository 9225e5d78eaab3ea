/*
 * Unit tests of the NetFlow v5/v9/IPFIX decoder on hand-built packets:
 * templates and their life cycle, data before templates, padding, odd
 * encodings, sampling, times, sequence accounting, limits, and malformed
 * input of every kind the field produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "ie.h"
#include "nf_decode.h"
#include "wire.h"

#define MAXF 512

struct sink {
	struct fy_flow f[MAXF];
	size_t n;
	size_t calls;
};

static void sink_emit(void *arg, const struct fy_flow *flows, size_t n)
{
	struct sink *k = arg;
	size_t i;

	k->calls++;
	for (i = 0; i < n && k->n < MAXF; i++)
		k->f[k->n++] = flows[i];
}

struct stat_find {
	uint32_t domain;
	uint16_t port;
	struct fy_nfdec_stats st;
	uint32_t templates;
	int found;
};

static int find_session(void *arg, const struct fy_nfdec_session_info *i)
{
	struct stat_find *s = arg;

	if (i->domain == s->domain && i->src.port == s->port) {
		s->st = *i->stats;
		s->templates = i->templates;
		s->found++;
	}
	return 0;
}

static struct stat_find stats_of(struct fy_nfdec *d, uint16_t port,
				 uint32_t domain)
{
	struct stat_find s = {.domain = domain, .port = port};

	fy_nfdec_foreach_session(d, find_session, &s);
	assert_int_equal(s.found, 1);
	return s;
}

static struct fy_nf_src src_v4(uint32_t a, uint16_t port)
{
	struct fy_nf_src s;

	memset(&s, 0, sizeof(s));
	fy_addr_set_v4(&s.addr, a);
	s.port = port;
	return s;
}

/* ---- packet builder ---- */

struct pkt {
	uint8_t b[4096];
	struct fy_wr w;
	uint8_t *set; /* start of the open set */
	uint16_t v9_count;
};

static void pkt_v9(struct pkt *p, uint32_t uptime, uint32_t secs, uint32_t seq,
		   uint32_t source_id)
{
	memset(p, 0, sizeof(*p));
	p->w = fy_wr_init(p->b, sizeof(p->b));
	fy_wr_u16(&p->w, 9);
	fy_wr_u16(&p->w, 0); /* count, patched by pkt_len */
	fy_wr_u32(&p->w, uptime);
	fy_wr_u32(&p->w, secs);
	fy_wr_u32(&p->w, seq);
	fy_wr_u32(&p->w, source_id);
}

static void pkt_ipfix(struct pkt *p, uint32_t secs, uint32_t seq,
		      uint32_t domain)
{
	memset(p, 0, sizeof(*p));
	p->w = fy_wr_init(p->b, sizeof(p->b));
	fy_wr_u16(&p->w, 10);
	fy_wr_u16(&p->w, 0); /* length, patched by pkt_len */
	fy_wr_u32(&p->w, secs);
	fy_wr_u32(&p->w, seq);
	fy_wr_u32(&p->w, domain);
}

static void set_open(struct pkt *p, uint16_t id)
{
	p->set = p->w.p;
	fy_wr_u16(&p->w, id);
	fy_wr_u16(&p->w, 0);
}

static void set_close(struct pkt *p, size_t pad)
{
	fy_wr_zero(&p->w, pad);
	fy_put_u16(p->set + 2, (uint16_t)(p->w.p - p->set));
}

static size_t pkt_len(struct pkt *p)
{
	size_t n = (size_t)(p->w.p - p->b);

	assert_false(p->w.err);
	if (p->b[1] == 10)
		fy_put_u16(p->b + 2, (uint16_t)n);
	else if (p->b[1] == 9)
		fy_put_u16(p->b + 2, p->v9_count);
	return n;
}

/* A v4 template: src, dst, ports, proto, bytes(len 8), packets(len 4). */
static const uint16_t tmpl4[][2] = {
	{FY_IE_SRC_V4, 4},	  {FY_IE_DST_V4, 4},
	{FY_IE_SRC_PORT, 2},	  {FY_IE_DST_PORT, 2},
	{FY_IE_PROTO, 1},	  {FY_IE_OCTET_DELTA, 8},
	{FY_IE_PACKET_DELTA, 4},  {FY_IE_FIRST_SWITCHED, 4},
	{FY_IE_LAST_SWITCHED, 4},
};
#define TMPL4_N (sizeof(tmpl4) / sizeof(tmpl4[0]))
#define TMPL4_LEN 33

static void put_template(struct pkt *p, uint16_t id, const uint16_t (*f)[2],
			 size_t n)
{
	size_t i;

	fy_wr_u16(&p->w, id);
	fy_wr_u16(&p->w, (uint16_t)n);
	for (i = 0; i < n; i++) {
		fy_wr_u16(&p->w, f[i][0]);
		fy_wr_u16(&p->w, f[i][1]);
	}
	p->v9_count++;
}

static void put_rec4(struct pkt *p, uint32_t src, uint16_t sport,
		     uint64_t bytes, uint32_t first, uint32_t last)
{
	fy_wr_u32(&p->w, src);
	fy_wr_u32(&p->w, 0x0a000002);
	fy_wr_u16(&p->w, sport);
	fy_wr_u16(&p->w, 443);
	fy_wr_u8(&p->w, 6);
	fy_wr_u64(&p->w, bytes);
	fy_wr_u32(&p->w, 7);
	fy_wr_u32(&p->w, first);
	fy_wr_u32(&p->w, last);
	p->v9_count++;
}

static int decode(struct fy_nfdec *d, struct fy_nf_src *s, struct pkt *p,
		  uint64_t now, struct sink *k)
{
	size_t n = pkt_len(p);

	return fy_nfdec_decode(d, s, p->b, n, now, k ? sink_emit : NULL, k);
}

/* ---- v9 ---- */

static void test_v9_template_then_data(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;
	char buf[FY_ADDR_STRLEN];

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 7);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	set_open(&p, 300);
	put_rec4(&p, 0x0a000001, 1234, 5000000000ull, 90000, 99000);
	put_rec4(&p, 0x0a000003, 1235, 10, 99000, 100000);
	set_close(&p, 2); /* 2 records = 66 bytes + 4 header, pad to 72 */
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 2);
	assert_string_equal(fy_addr_str(&k->f[0].src, buf, sizeof(buf)),
			    "10.0.0.1");
	assert_int_equal(k->f[0].family, FY_AF_INET);
	assert_int_equal(k->f[0].src_port, 1234);
	assert_int_equal(k->f[0].dst_port, 443);
	assert_int_equal(k->f[0].proto, 6);
	assert_true(k->f[0].bytes == 5000000000ull);
	assert_int_equal(k->f[0].packets, 7);
	/* export 1700000000 s at uptime 100 s: first at 90 s, last at 99 s */
	assert_true(k->f[0].first_ms == 1700000000000ull - 10000);
	assert_true(k->f[0].last_ms == 1700000000000ull - 1000);
	assert_int_equal(k->f[0].domain, 7);
	assert_int_equal(k->f[0].nf_version, 9);
	assert_int_equal(k->f[0].exporter_port, 2055);
	assert_int_equal(fy_addr_v4(&k->f[0].exporter), 0xc0000201);
	assert_int_equal(stats_of(d, 2055, 7).st.flows, 2);
	assert_true(stats_of(d, 2055, 7).st.bytes == 5000000000ull + 10);
	assert_int_equal(stats_of(d, 2055, 7).templates, 1);
	fy_nfdec_free(d);
	free(k);
}

static void test_v9_uptime_wrap(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	/* uptime just wrapped to 5 s; the flow started 10 s before export */
	pkt_v9(&p, 5000, 1700000000, 0, 0);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	set_open(&p, 300);
	put_rec4(&p, 1, 1, 1, (uint32_t)(5000 - 10000), 4000);
	set_close(&p, 3);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	assert_true(k->f[0].first_ms == 1700000000000ull - 10000);
	assert_true(k->f[0].last_ms == 1700000000000ull - 1000);
	fy_nfdec_free(d);
	free(k);
}

static void test_v9_data_before_template(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	/* same packet: data set first, template after it */
	pkt_v9(&p, 100000, 1700000000, 0, 1);
	set_open(&p, 300);
	put_rec4(&p, 1, 1, 1, 1, 2);
	set_close(&p, 3);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1000, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);

	/* later packet: data for 301 waits, its template comes next packet */
	pkt_v9(&p, 101000, 1700000001, 1, 1);
	set_open(&p, 301);
	put_rec4(&p, 2, 2, 2, 1, 2);
	put_rec4(&p, 3, 3, 3, 1, 2);
	set_close(&p, 2);
	assert_int_equal(decode(d, &s, &p, 2000, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	/* both sets waited: the first only until later in its packet */
	assert_int_equal(stats_of(d, 2055, 1).st.pending, 2);

	pkt_v9(&p, 102000, 1700000002, 2, 1);
	set_open(&p, 0);
	put_template(&p, 301, tmpl4, TMPL4_N);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 3000, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 3);
	assert_int_equal(fy_addr_v4(&k->f[2].src), 3);
	/* times come from the packet the data arrived in */
	assert_true(k->f[1].first_ms == 1700000001000ull - 100999);
	assert_int_equal(stats_of(d, 2055, 1).st.flows, 3);
	assert_int_equal(stats_of(d, 2055, 1).st.no_template, 0);

	/* data whose template never comes is counted after the age limit */
	pkt_v9(&p, 103000, 1700000003, 3, 1);
	set_open(&p, 999);
	put_rec4(&p, 4, 4, 4, 1, 2);
	set_close(&p, 3);
	assert_int_equal(decode(d, &s, &p, 4000, k), FY_NFDEC_OK);
	fy_nfdec_expire(d, 4000 + 29000);
	assert_int_equal(stats_of(d, 2055, 1).st.no_template, 0);
	fy_nfdec_expire(d, 4000 + 31000);
	assert_int_equal(stats_of(d, 2055, 1).st.no_template, 1);
	assert_int_equal(k->n, 3);
	fy_nfdec_free(d);
	free(k);
}

static void test_template_keys_separate(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src a = src_v4(0xc0000201, 2055);
	struct fy_nf_src b = src_v4(0xc0000201, 2056); /* same host */
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 1);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	assert_int_equal(decode(d, &a, &p, 1, k), FY_NFDEC_OK);

	/* another port, and another source id, have no template 300 */
	pkt_v9(&p, 100000, 1700000000, 1, 1);
	set_open(&p, 300);
	put_rec4(&p, 1, 1, 1, 1, 2);
	set_close(&p, 3);
	assert_int_equal(decode(d, &b, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 0);
	pkt_v9(&p, 100000, 1700000000, 1, 2);
	set_open(&p, 300);
	put_rec4(&p, 1, 1, 1, 1, 2);
	set_close(&p, 3);
	assert_int_equal(decode(d, &a, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 0);
	/* the right key decodes */
	pkt_v9(&p, 100000, 1700000000, 1, 1);
	set_open(&p, 300);
	put_rec4(&p, 1, 1, 1, 1, 2);
	set_close(&p, 3);
	assert_int_equal(decode(d, &a, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	fy_nfdec_free(d);
	free(k);
}

static void test_v9_redefinition(void **state)
{
	static const uint16_t small[][2] = {{FY_IE_SRC_PORT, 2},
					    {FY_IE_OCTET_DELTA, 4}};
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 0);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	/* redefine 300 with another layout; data follows the new one */
	pkt_v9(&p, 100000, 1700000000, 1, 0);
	set_open(&p, 0);
	put_template(&p, 300, small, 2);
	set_close(&p, 0);
	set_open(&p, 300);
	fy_wr_u16(&p.w, 53);
	fy_wr_u32(&p.w, 1000);
	set_close(&p, 2);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	assert_int_equal(k->f[0].src_port, 53);
	assert_int_equal(k->f[0].bytes, 1000); /* reduced-size: 4 bytes */
	assert_int_equal(stats_of(d, 2055, 0).templates, 1);
	fy_nfdec_free(d);
	free(k);
}

/* Builds v9 packets whose structure lies and checks each is counted. */
static void expect_malformed(struct fy_nfdec *d, struct fy_nf_src *s,
			     const uint8_t *b, size_t n, uint64_t *count)
{
	struct sink *k = calloc(1, sizeof(*k));
	int r = fy_nfdec_decode(d, s, b, n, 1, sink_emit, k);

	assert_int_equal(r, FY_NFDEC_MALFORMED);
	assert_int_equal(k->n, 0);
	(*count)++;
	assert_true(fy_nfdec_totals(d)->malformed == *count);
	free(k);
}

static void test_v9_malformed(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	uint64_t count = 0;
	struct pkt p;

	(void)state;
	/* header cut short */
	pkt_v9(&p, 1, 1, 0, 0);
	expect_malformed(d, &s, p.b, 10, &count);

	/* set length beyond the packet */
	pkt_v9(&p, 1, 1, 0, 0);
	fy_wr_u16(&p.w, 300);
	fy_wr_u16(&p.w, 200);
	fy_wr_u32(&p.w, 0xdeadbeef);
	expect_malformed(d, &s, p.b, pkt_len(&p), &count);

	/* set length shorter than its own header */
	pkt_v9(&p, 1, 1, 0, 0);
	fy_wr_u16(&p.w, 300);
	fy_wr_u16(&p.w, 2);
	fy_wr_u32(&p.w, 0xdeadbeef);
	expect_malformed(d, &s, p.b, pkt_len(&p), &count);

	/* template with zero fields */
	pkt_v9(&p, 1, 1, 0, 0);
	set_open(&p, 0);
	fy_wr_u16(&p.w, 300);
	fy_wr_u16(&p.w, 0);
	set_close(&p, 0);
	expect_malformed(d, &s, p.b, pkt_len(&p), &count);

	/* huge field count: fields run past the set */
	pkt_v9(&p, 1, 1, 0, 0);
	set_open(&p, 0);
	fy_wr_u16(&p.w, 300);
	fy_wr_u16(&p.w, 65535);
	fy_wr_u16(&p.w, 8);
	fy_wr_u16(&p.w, 4);
	set_close(&p, 0);
	expect_malformed(d, &s, p.b, pkt_len(&p), &count);

	/* options template whose lengths are not multiples of 4 */
	pkt_v9(&p, 1, 1, 0, 0);
	set_open(&p, 1);
	fy_wr_u16(&p.w, 300);
	fy_wr_u16(&p.w, 3);
	fy_wr_u16(&p.w, 4);
	fy_wr_zero(&p.w, 8);
	set_close(&p, 0);
	expect_malformed(d, &s, p.b, pkt_len(&p), &count);

	assert_int_equal(stats_of(d, 2055, 0).st.malformed, count - 1);
	assert_int_equal(stats_of(d, 2055, 0).templates, 0);
	fy_nfdec_free(d);
}

static void test_v9_field_lengths(void **state)
{
	/* a 0-length field, and a 65535-length field (varlen, H3C-style) */
	static const uint16_t f[][2] = {{FY_IE_SRC_PORT, 2},
					{FY_IE_TOS, 0},
					{82, FY_IE_VARLEN},
					{FY_IE_DST_PORT, 2}};
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 0);
	set_open(&p, 0);
	put_template(&p, 300, f, 4);
	set_close(&p, 0);
	set_open(&p, 300);
	fy_wr_u16(&p.w, 1);
	fy_wr_u8(&p.w, 3);
	fy_wr_bytes(&p.w, "eth", 3);
	fy_wr_u16(&p.w, 2);
	fy_wr_u16(&p.w, 3);
	fy_wr_u8(&p.w, 255); /* long form: 255 then a 16-bit length */
	fy_wr_u16(&p.w, 300);
	fy_wr_zero(&p.w, 300);
	fy_wr_u16(&p.w, 4);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 2);
	assert_int_equal(k->f[0].src_port, 1);
	assert_int_equal(k->f[0].dst_port, 2);
	assert_int_equal(k->f[1].src_port, 3);
	assert_int_equal(k->f[1].dst_port, 4);

	/* a template of only zero-length fields can never be read */
	pkt_v9(&p, 100000, 1700000000, 1, 0);
	set_open(&p, 0);
	fy_wr_u16(&p.w, 301);
	fy_wr_u16(&p.w, 1);
	fy_wr_u16(&p.w, FY_IE_TOS);
	fy_wr_u16(&p.w, 0);
	set_close(&p, 0);
	set_open(&p, 301);
	fy_wr_zero(&p.w, 8);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 2);
	assert_int_equal(stats_of(d, 2055, 0).st.templates_rejected, 1);
	fy_nfdec_free(d);
	free(k);
}

static void test_v9_data_shorter_than_record(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 0);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	set_open(&p, 300);
	fy_wr_zero(&p.w, TMPL4_LEN - 1); /* shorter than one record */
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 0);
	assert_int_equal(stats_of(d, 2055, 0).st.flows, 0);
	fy_nfdec_free(d);
	free(k);
}

/* ---- sampling, times, NSEL ---- */

static void test_v9_sampling_options(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	static const uint16_t data[][2] = {{FY_IE_SAMPLER_ID, 1},
					   {FY_IE_OCTET_DELTA, 4}};
	struct pkt p;

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 0);
	/* options template 256: scope system(1) len 4; samplerId, interval */
	set_open(&p, 1);
	fy_wr_u16(&p.w, 256);
	fy_wr_u16(&p.w, 4);
	fy_wr_u16(&p.w, 8);
	fy_wr_u16(&p.w, 1);
	fy_wr_u16(&p.w, 4);
	fy_wr_u16(&p.w, FY_IE_SAMPLER_ID);
	fy_wr_u16(&p.w, 1);
	fy_wr_u16(&p.w, FY_IE_SAMPLING_INTERVAL);
	fy_wr_u16(&p.w, 4);
	set_close(&p, 2);
	set_open(&p, 0);
	put_template(&p, 300, data, 2);
	set_close(&p, 0);
	set_open(&p, 256);
	fy_wr_u32(&p.w, 0);
	fy_wr_u8(&p.w, 5);
	fy_wr_u32(&p.w, 1000);
	set_close(&p, 3);
	set_open(&p, 300);
	fy_wr_u8(&p.w, 5);
	fy_wr_u32(&p.w, 1);
	fy_wr_u8(&p.w, 6); /* unknown sampler: unsampled */
	fy_wr_u32(&p.w, 1);
	set_close(&p, 2);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 2);
	assert_int_equal(k->f[0].sampling_interval, 1000);
	assert_int_equal(k->f[1].sampling_interval, 0);
	assert_int_equal(stats_of(d, 2055, 0).st.options_records, 1);
	fy_nfdec_free(d);
	free(k);
}

static void test_v9_nsel(void **state)
{
	static const uint16_t f[][2] = {
		{FY_IE_SRC_V4, 4},
		{FY_IE_DST_V4, 4},
		{FY_IE_FW_EVENT, 1},
		{FY_IE_INIT_OCTETS, 4},
		{FY_IE_RESP_OCTETS, 4},
		{FY_IE_INIT_PACKETS, 4},
		{FY_IE_RESP_PACKETS, 4},
		{FY_IE_OBS_TIME_MS, 8},
		{40001, 4},
		{40003, 2},
	};
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	pkt_v9(&p, 100000, 1700000000, 0, 0);
	set_open(&p, 0);
	put_template(&p, 263, f, 10);
	set_close(&p, 0);
	set_open(&p, 263);
	fy_wr_u32(&p.w, 0x0a000001);
	fy_wr_u32(&p.w, 0x0a000002);
	fy_wr_u8(&p.w, 2);
	fy_wr_u32(&p.w, 100);
	fy_wr_u32(&p.w, 2000);
	fy_wr_u32(&p.w, 3);
	fy_wr_u32(&p.w, 4);
	fy_wr_u64(&p.w, 1699999999123ull);
	fy_wr_u32(&p.w, 0xc6336401);
	fy_wr_u16(&p.w, 40000);
	set_close(&p, 1);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	assert_int_equal(k->f[0].fw_event, 2);
	assert_int_equal(k->f[0].bytes, 100);
	assert_int_equal(k->f[0].out_bytes, 2000);
	assert_int_equal(k->f[0].packets, 3);
	assert_int_equal(k->f[0].out_packets, 4);
	assert_true(k->f[0].first_ms == 1699999999123ull);
	assert_true(k->f[0].last_ms == 1699999999123ull);
	assert_int_equal(fy_addr_v4(&k->f[0].xlate_src), 0xc6336401);
	assert_int_equal(k->f[0].xlate_src_port, 40000);
	fy_nfdec_free(d);
	free(k);
}

/* ---- IPFIX ---- */

static void put_ipfix_tmpl_abs(struct pkt *p, uint16_t id)
{
	fy_wr_u16(&p->w, id);
	fy_wr_u16(&p->w, 6);
	fy_wr_u16(&p->w, FY_IE_SRC_V6);
	fy_wr_u16(&p->w, 16);
	fy_wr_u16(&p->w, FY_IE_START_MS);
	fy_wr_u16(&p->w, 8);
	fy_wr_u16(&p->w, FY_IE_END_MS);
	fy_wr_u16(&p->w, 8);
	/* an enterprise element we do not know: skipped by its length */
	fy_wr_u16(&p->w, 0x8000 | 100);
	fy_wr_u16(&p->w, 3);
	fy_wr_u32(&p->w, 9);
	/* the reverse (RFC 5103) octet counter */
	fy_wr_u16(&p->w, 0x8000 | 1);
	fy_wr_u16(&p->w, 8);
	fy_wr_u32(&p->w, FY_PEN_REVERSE);
	fy_wr_u16(&p->w, FY_IE_ICMP_TYPECODE_V6);
	fy_wr_u16(&p->w, 2);
}

static void put_ipfix_rec_abs(struct pkt *p, uint8_t last_byte)
{
	uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};

	a[15] = last_byte;
	fy_wr_bytes(&p->w, a, 16);
	fy_wr_u64(&p->w, 1700000000123ull);
	fy_wr_u64(&p->w, 1700000000456ull);
	fy_wr_bytes(&p->w, "xyz", 3);
	fy_wr_u64(&p->w, 777);
	fy_wr_u16(&p->w, 128 << 8 | 0);
}

static void test_ipfix_basic_and_withdrawal(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 4739);
	struct sink *k = calloc(1, sizeof(*k));
	char buf[FY_ADDR_STRLEN];
	struct pkt p;

	(void)state;
	pkt_ipfix(&p, 1700000001, 0, 42);
	set_open(&p, 2);
	put_ipfix_tmpl_abs(&p, 400);
	set_close(&p, 0);
	set_open(&p, 400);
	put_ipfix_rec_abs(&p, 1);
	put_ipfix_rec_abs(&p, 2);
	set_close(&p, 3);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 2);
	assert_int_equal(k->f[0].family, FY_AF_INET6);
	assert_string_equal(fy_addr_str(&k->f[1].src, buf, sizeof(buf)),
			    "2001:db8::2");
	assert_true(k->f[0].first_ms == 1700000000123ull);
	assert_true(k->f[0].last_ms == 1700000000456ull);
	assert_int_equal(k->f[0].out_bytes, 777);
	assert_int_equal(k->f[0].icmp_type, 128);
	assert_int_equal(k->f[0].domain, 42);
	assert_int_equal(k->f[0].nf_version, 10);

	/* withdraw 400: its data now waits instead of decoding */
	pkt_ipfix(&p, 1700000002, 2, 42);
	set_open(&p, 2);
	fy_wr_u16(&p.w, 400);
	fy_wr_u16(&p.w, 0);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 2, k), FY_NFDEC_OK);
	assert_int_equal(stats_of(d, 4739, 42).templates, 0);

	/* define two, withdraw all data templates with id 2 */
	pkt_ipfix(&p, 1700000003, 2, 42);
	set_open(&p, 2);
	put_ipfix_tmpl_abs(&p, 401);
	put_ipfix_tmpl_abs(&p, 402);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 3, k), FY_NFDEC_OK);
	assert_int_equal(stats_of(d, 4739, 42).templates, 2);
	pkt_ipfix(&p, 1700000004, 2, 42);
	set_open(&p, 2);
	fy_wr_u16(&p.w, 2);
	fy_wr_u16(&p.w, 0);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 4, k), FY_NFDEC_OK);
	assert_int_equal(stats_of(d, 4739, 42).templates, 0);
	fy_nfdec_free(d);
	free(k);
}

static void test_ipfix_length_lies(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 4739);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;
	size_t n;

	(void)state;
	pkt_ipfix(&p, 1700000001, 0, 1);
	set_open(&p, 2);
	put_ipfix_tmpl_abs(&p, 400);
	set_close(&p, 0);
	n = pkt_len(&p);
	/* message length larger than the datagram */
	fy_put_u16(p.b + 2, (uint16_t)(n + 1));
	assert_int_equal(fy_nfdec_decode(d, &s, p.b, n, 1, sink_emit, k),
			 FY_NFDEC_MALFORMED);
	/* message length smaller than its header */
	fy_put_u16(p.b + 2, 15);
	assert_int_equal(fy_nfdec_decode(d, &s, p.b, n, 1, sink_emit, k),
			 FY_NFDEC_MALFORMED);
	assert_int_equal(fy_nfdec_totals(d)->malformed, 2);
	fy_nfdec_free(d);
	free(k);
}

static void test_ipfix_uptime_with_sysinit(void **state)
{
	static const uint16_t f[][2] = {{FY_IE_FIRST_SWITCHED, 4},
					{FY_IE_LAST_SWITCHED, 4}};
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 4739);
	struct sink *k = calloc(1, sizeof(*k));
	struct pkt p;

	(void)state;
	pkt_ipfix(&p, 1700000100, 0, 1);
	/* options template 500: scope obsDomainId, option IE 160 */
	set_open(&p, 3);
	fy_wr_u16(&p.w, 500);
	fy_wr_u16(&p.w, 2);
	fy_wr_u16(&p.w, 1);
	fy_wr_u16(&p.w, FY_IE_OBS_DOMAIN_ID);
	fy_wr_u16(&p.w, 4);
	fy_wr_u16(&p.w, FY_IE_SYSINIT_MS);
	fy_wr_u16(&p.w, 8);
	set_close(&p, 0);
	set_open(&p, 2);
	put_template(&p, 300, f, 2);
	set_close(&p, 0);
	set_open(&p, 500);
	fy_wr_u32(&p.w, 1);
	fy_wr_u64(&p.w, 1690000000000ull);
	set_close(&p, 0);
	set_open(&p, 300);
	fy_wr_u32(&p.w, 5000);
	fy_wr_u32(&p.w, 6000);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	assert_true(k->f[0].first_ms == 1690000005000ull);
	assert_true(k->f[0].last_ms == 1690000006000ull);
	fy_nfdec_free(d);
	free(k);
}

/* ---- v5 ---- */

static size_t build_v5(uint8_t *b, size_t cap, uint16_t count, uint32_t seq,
		       uint16_t sampling)
{
	struct fy_wr w = fy_wr_init(b, cap);
	uint16_t i;

	fy_wr_u16(&w, 5);
	fy_wr_u16(&w, count);
	fy_wr_u32(&w, 60000);	   /* uptime */
	fy_wr_u32(&w, 1700000000); /* secs */
	fy_wr_u32(&w, 500000000);  /* nsecs */
	fy_wr_u32(&w, seq);
	fy_wr_u8(&w, 1);
	fy_wr_u8(&w, 2);
	fy_wr_u16(&w, sampling);
	for (i = 0; i < count; i++) {
		fy_wr_u32(&w, 0x0a000001 + i);
		fy_wr_u32(&w, 0x0a000100);
		fy_wr_u32(&w, 0x0a0000fe);
		fy_wr_u16(&w, 3);
		fy_wr_u16(&w, 4);
		fy_wr_u32(&w, 10);
		fy_wr_u32(&w, 1500);
		fy_wr_u32(&w, 50000);
		fy_wr_u32(&w, 59000);
		fy_wr_u16(&w, 1000);
		fy_wr_u16(&w, 80);
		fy_wr_u8(&w, 0);
		fy_wr_u8(&w, 0x1b);
		fy_wr_u8(&w, 6);
		fy_wr_u8(&w, 0x10);
		fy_wr_u16(&w, 65000);
		fy_wr_u16(&w, 65001);
		fy_wr_u8(&w, 24);
		fy_wr_u8(&w, 16);
		fy_wr_u16(&w, 0);
	}
	assert_false(w.err);
	return (size_t)(w.p - b);
}

static void test_v5(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 9995);
	struct sink *k = calloc(1, sizeof(*k));
	uint8_t b[2048];
	size_t n = build_v5(b, sizeof(b), 3, 100, 0x4000 | 64);

	(void)state;
	assert_int_equal(fy_nfdec_decode(d, &s, b, n, 1, sink_emit, k),
			 FY_NFDEC_OK);
	assert_int_equal(k->n, 3);
	assert_int_equal(fy_addr_v4(&k->f[2].src), 0x0a000003);
	assert_int_equal(fy_addr_v4(&k->f[0].nexthop), 0x0a0000fe);
	assert_int_equal(k->f[0].input_if, 3);
	assert_int_equal(k->f[0].output_if, 4);
	assert_int_equal(k->f[0].tcp_flags, 0x1b);
	assert_int_equal(k->f[0].tos, 0x10);
	assert_int_equal(k->f[0].src_as, 65000);
	assert_int_equal(k->f[0].dst_mask, 16);
	assert_int_equal(k->f[0].sampling_interval, 64);
	assert_int_equal(k->f[0].engine_type, 1);
	assert_int_equal(k->f[0].engine_id, 2);
	assert_true(k->f[0].first_ms == 1700000000500ull - 10000);
	assert_true(k->f[0].last_ms == 1700000000500ull - 1000);

	/* count says more records than the packet holds */
	assert_int_equal(fy_nfdec_decode(d, &s, b, n - 1, 1, sink_emit, k),
			 FY_NFDEC_MALFORMED);
	assert_int_equal(k->n, 3);
	fy_nfdec_free(d);
	free(k);
}

/* ---- sequence accounting ---- */

static void test_sequence_v5(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 9995);
	uint8_t b[2048];
	size_t n;

	(void)state;
	n = build_v5(b, sizeof(b), 5, 1000, 0);
	fy_nfdec_decode(d, &s, b, n, 1, NULL, NULL);
	n = build_v5(b, sizeof(b), 5, 1005, 0); /* in order */
	fy_nfdec_decode(d, &s, b, n, 1, NULL, NULL);
	n = build_v5(b, sizeof(b), 5, 1020, 0); /* 10 flows lost */
	fy_nfdec_decode(d, &s, b, n, 1, NULL, NULL);
	assert_int_equal(fy_nfdec_result(d)->seq_failures, 1);
	assert_int_equal(fy_nfdec_result(d)->lost_flows, 10);
	assert_int_equal(fy_nfdec_result(d)->domain, 0x102);
	assert_int_equal(fy_nfdec_result(d)->stats->flows, 15);
	assert_int_equal(stats_of(d, 9995, 0x102).st.seq_failures, 1);
	assert_int_equal(stats_of(d, 9995, 0x102).st.lost_flows, 10);
	n = build_v5(b, sizeof(b), 5, 1010, 0); /* a late one: no loss */
	fy_nfdec_decode(d, &s, b, n, 1, NULL, NULL);
	n = build_v5(b, sizeof(b), 5, 1025, 0); /* continues in order */
	fy_nfdec_decode(d, &s, b, n, 1, NULL, NULL);
	assert_int_equal(stats_of(d, 9995, 0x102).st.seq_failures, 2);
	assert_int_equal(stats_of(d, 9995, 0x102).st.lost_flows, 10);
	fy_nfdec_free(d);
}

static void test_sequence_v9_and_ipfix(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s9 = src_v4(0xc0000201, 2055);
	struct fy_nf_src s10 = src_v4(0xc0000201, 4739);
	struct pkt p;
	uint32_t seq;

	(void)state;
	/* v9 counts packets: 2 records a packet, packet 3 of 0..4 missing */
	for (seq = 0; seq < 5; seq++) {
		if (seq == 3)
			continue;
		pkt_v9(&p, 100000, 1700000000, seq, 0);
		set_open(&p, 0);
		put_template(&p, 300, tmpl4, TMPL4_N);
		set_close(&p, 0);
		set_open(&p, 300);
		put_rec4(&p, 1, 1, 1, 1, 2);
		put_rec4(&p, 1, 1, 1, 1, 2);
		set_close(&p, 2);
		decode(d, &s9, &p, 1, NULL);
	}
	assert_int_equal(stats_of(d, 2055, 0).st.seq_failures, 1);
	assert_int_equal(stats_of(d, 2055, 0).st.lost_flows, 2);

	/* IPFIX counts data records, not templates: 3 a message */
	for (seq = 0; seq < 5 * 3; seq += 3) {
		if (seq == 6)
			continue;
		pkt_ipfix(&p, 1700000001, seq, 0);
		set_open(&p, 2);
		put_ipfix_tmpl_abs(&p, 400);
		set_close(&p, 0);
		set_open(&p, 400);
		put_ipfix_rec_abs(&p, 1);
		put_ipfix_rec_abs(&p, 2);
		put_ipfix_rec_abs(&p, 3);
		set_close(&p, 0);
		decode(d, &s10, &p, 1, NULL);
	}
	assert_int_equal(stats_of(d, 4739, 0).st.seq_failures, 1);
	assert_int_equal(stats_of(d, 4739, 0).st.lost_flows, 3);
	fy_nfdec_free(d);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	struct fy_nfdec_cfg cfg = {
		.max_templates_per_session = 4,
		.max_template_fields = 8,
		.max_sessions = 2,
	};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct pkt p;
	uint16_t id;

	(void)state;
	pkt_v9(&p, 1, 1, 0, 0);
	set_open(&p, 0);
	for (id = 256; id < 266; id++)
		put_template(&p, id, tmpl4, 8); /* 8 fields: at the cap */
	put_template(&p, 300, tmpl4, TMPL4_N);	/* 9 fields: over it */
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, NULL), FY_NFDEC_OK);
	assert_int_equal(stats_of(d, 2055, 0).templates, 4);
	assert_int_equal(stats_of(d, 2055, 0).st.templates_rejected, 7);

	/* a third session is refused and counted */
	pkt_v9(&p, 1, 1, 0, 1);
	assert_int_equal(decode(d, &s, &p, 1, NULL), FY_NFDEC_OK);
	pkt_v9(&p, 1, 1, 0, 2);
	assert_int_equal(decode(d, &s, &p, 1, NULL), FY_NFDEC_NO_SESSION);
	assert_int_equal(fy_nfdec_totals(d)->sessions_rejected, 1);
	fy_nfdec_free(d);
}

/* ---- idle sessions ---- */

static int count_sessions(void *arg, const struct fy_nfdec_session_info *i)
{
	(void)i;
	(*(int *)arg)++;
	return 0;
}

static int nsessions(struct fy_nfdec *d)
{
	int n = 0;

	fy_nfdec_foreach_session(d, count_sessions, &n);
	return n;
}

static int has_session(void *arg, const struct fy_nfdec_session_info *i)
{
	return i->domain == *(uint32_t *)arg;
}

/* A v9 packet of domain `dom` defining template 300 (and, with `data`,
 * a record for template `data` after it). */
static int v9_packet(struct fy_nfdec *d, struct fy_nf_src *s, uint32_t dom,
		     uint16_t data, uint64_t now, struct sink *k)
{
	struct pkt p;

	pkt_v9(&p, 100000, 1700000000, 0, dom);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	set_close(&p, 0);
	if (data) {
		set_open(&p, data);
		put_rec4(&p, dom, 1, 100, 1, 2);
		set_close(&p, 3);
	}
	return decode(d, s, &p, now, k);
}

static void test_idle_eviction_when_full(void **state)
{
	struct fy_nfdec_cfg cfg = {.max_sessions = 2, .session_idle_s = 10};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct sink *k = calloc(1, sizeof(*k));
	struct fy_nfdec_usage u;
	uint32_t dom;

	(void)state;
	assert_int_equal(v9_packet(d, &s, 1, 0, 1000, NULL), FY_NFDEC_OK);
	assert_int_equal(v9_packet(d, &s, 2, 0, 2000, NULL), FY_NFDEC_OK);
	fy_nfdec_get_usage(d, &u);
	assert_int_equal(u.templates, 2);
	assert_true(u.oldest_seen_ms == 1000);

	/* full, and the oldest is quiet for 4 s only: refused */
	assert_int_equal(v9_packet(d, &s, 3, 0, 5000, NULL),
			 FY_NFDEC_NO_SESSION);
	assert_int_equal(fy_nfdec_totals(d)->sessions_rejected, 1);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 0);
	/* exactly the limit is not over it */
	assert_int_equal(v9_packet(d, &s, 3, 0, 11000, NULL),
			 FY_NFDEC_NO_SESSION);
	assert_int_equal(fy_nfdec_totals(d)->sessions_rejected, 2);

	/* 10.5 s: domain 1 makes room; domain 2 (9.5 s) stays */
	assert_int_equal(v9_packet(d, &s, 3, 300, 11500, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 1);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 1);
	assert_int_equal(fy_nfdec_totals(d)->sessions_rejected, 2);
	assert_int_equal(nsessions(d), 2);
	dom = 1;
	assert_int_equal(fy_nfdec_foreach_session(d, has_session, &dom), 0);
	assert_int_equal(stats_of(d, 2055, 2).templates, 1);
	fy_nfdec_get_usage(d, &u);
	assert_int_equal(u.sessions, 2);
	assert_int_equal(u.templates, 2);
	assert_true(u.oldest_seen_ms == 2000);

	/* domain 1 comes back with data only: a new session, counters from
	 * zero, and its data waits for the template to be sent again */
	{
		struct pkt p;

		pkt_v9(&p, 100000, 1700000000, 9, 1);
		set_open(&p, 300);
		put_rec4(&p, 1, 1, 100, 1, 2);
		set_close(&p, 3);
		assert_int_equal(decode(d, &s, &p, 12500, k), FY_NFDEC_OK);
	}
	assert_int_equal(k->n, 1);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 2);
	assert_int_equal(stats_of(d, 2055, 1).st.packets, 1);
	assert_int_equal(stats_of(d, 2055, 1).st.pending, 1);
	assert_int_equal(stats_of(d, 2055, 1).templates, 0);
	assert_int_equal(v9_packet(d, &s, 1, 0, 12600, k), FY_NFDEC_OK);
	assert_int_equal(k->n, 2);
	assert_int_equal(stats_of(d, 2055, 1).st.flows, 1);
	fy_nfdec_free(d);
	free(k);
}

static void test_idle_order_is_activity(void **state)
{
	struct fy_nfdec_cfg cfg = {.max_sessions = 2, .session_idle_s = 1};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	uint32_t dom;

	(void)state;
	assert_int_equal(v9_packet(d, &s, 1, 0, 1000, NULL), FY_NFDEC_OK);
	assert_int_equal(v9_packet(d, &s, 2, 0, 1100, NULL), FY_NFDEC_OK);
	/* domain 1 speaks again: domain 2 is now the least recent */
	assert_int_equal(v9_packet(d, &s, 1, 0, 1200, NULL), FY_NFDEC_OK);
	assert_int_equal(v9_packet(d, &s, 3, 0, 2150, NULL), FY_NFDEC_OK);
	dom = 2;
	assert_int_equal(fy_nfdec_foreach_session(d, has_session, &dom), 0);
	assert_int_equal(stats_of(d, 2055, 1).st.packets, 2);
	assert_int_equal(stats_of(d, 2055, 3).st.packets, 1);
	/* the one evicted must be idle, not merely the least recent */
	assert_int_equal(v9_packet(d, &s, 4, 0, 2180, NULL),
			 FY_NFDEC_NO_SESSION);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 1);
	fy_nfdec_free(d);
}

static void test_idle_sweep(void **state)
{
	struct fy_nfdec_cfg cfg = {.session_idle_s = 5,
				   .pending_max_age_ms = 60000};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct fy_nf_src s2 = src_v4(0xc0000202, 2055);
	struct fy_nfdec_usage u;
	struct pkt p;
	int i;

	(void)state;
	/* three sessions with data waiting for templates never sent */
	for (i = 1; i <= 3; i++) {
		pkt_v9(&p, 1, 1, 0, (uint32_t)i);
		set_open(&p, 400);
		put_rec4(&p, 1, 1, 100, 1, 2);
		set_close(&p, 3);
		assert_int_equal(decode(d, &s, &p, (uint64_t)i * 1000, NULL),
				 FY_NFDEC_OK);
	}
	/* and one with a template, later */
	assert_int_equal(v9_packet(d, &s2, 1, 0, 4000, NULL), FY_NFDEC_OK);
	assert_non_null(fy_nfdec_result(d)->stats);
	fy_nfdec_get_usage(d, &u);
	assert_int_equal(u.sessions, 4);
	assert_true(u.pending_bytes > 0);

	/* idle over 5 s: the first only, its waiting set counted */
	fy_nfdec_expire(d, 7000);
	assert_int_equal(nsessions(d), 3);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 1);
	assert_int_equal(fy_nfdec_totals(d)->evicted_no_template, 1);
	fy_nfdec_expire(d, 8500);
	assert_int_equal(nsessions(d), 1);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 3);
	assert_int_equal(fy_nfdec_totals(d)->evicted_no_template, 3);
	fy_nfdec_get_usage(d, &u);
	assert_int_equal(u.sessions, 1);
	assert_int_equal(u.templates, 1);
	assert_true(u.pending_bytes == 0);
	/* the last packet's session is still there: its result stands */
	assert_non_null(fy_nfdec_result(d)->stats);
	/* UINT64_MAX drops waiting data only */
	fy_nfdec_expire(d, UINT64_MAX);
	assert_int_equal(nsessions(d), 1);
	fy_nfdec_expire(d, 9500);
	assert_int_equal(nsessions(d), 0);
	assert_null(fy_nfdec_result(d)->stats);
	fy_nfdec_get_usage(d, &u);
	assert_int_equal(u.templates, 0);
	assert_true(u.oldest_seen_ms == 0);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 4);
	/* and a new one is made as usual */
	assert_int_equal(v9_packet(d, &s2, 1, 300, 10000, NULL), FY_NFDEC_OK);
	assert_int_equal(stats_of(d, 2055, 1).st.flows, 1);
	fy_nfdec_free(d);
}

static void test_idle_never(void **state)
{
	struct fy_nfdec_cfg cfg = {.max_sessions = 1};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);

	(void)state;
	assert_int_equal(fy_nfdec_config(d)->session_idle_s, 0);
	assert_int_equal(v9_packet(d, &s, 1, 0, 1000, NULL), FY_NFDEC_OK);
	fy_nfdec_expire(d, 1000 + 86400000ull * 365);
	assert_int_equal(nsessions(d), 1);
	assert_int_equal(v9_packet(d, &s, 2, 0, 1000 + 86400000ull * 365, NULL),
			 FY_NFDEC_NO_SESSION);
	assert_int_equal(fy_nfdec_totals(d)->sessions_evicted, 0);
	assert_int_equal(fy_nfdec_totals(d)->sessions_rejected, 1);
	fy_nfdec_free(d);
}

static void test_pending_bounded(void **state)
{
	struct fy_nfdec_cfg cfg = {.pending_max_bytes = 1000};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct pkt p;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		pkt_v9(&p, 1, 1, (uint32_t)i, 0);
		set_open(&p, (uint16_t)(300 + i));
		fy_wr_zero(&p.w, 396);
		set_close(&p, 0);
		assert_int_equal(decode(d, &s, &p, 1, NULL), FY_NFDEC_OK);
	}
	/* 400-byte sets, 1000 bytes of room: two wait, eight were dropped */
	assert_int_equal(stats_of(d, 2055, 0).st.no_template, 8);
	assert_int_equal(fy_nfdec_totals(d)->pending_dropped, 8);
	fy_nfdec_expire(d, UINT64_MAX);
	assert_int_equal(stats_of(d, 2055, 0).st.no_template, 10);
	fy_nfdec_free(d);
}

static void test_bad_version_and_empty(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	uint8_t b[32] = {0, 7};

	(void)state;
	assert_int_equal(fy_nfdec_decode(d, &s, b, sizeof(b), 1, NULL, NULL),
			 FY_NFDEC_BAD_VERSION);
	assert_int_equal(fy_nfdec_decode(d, &s, b, 0, 1, NULL, NULL),
			 FY_NFDEC_MALFORMED);
	assert_int_equal(fy_nfdec_decode(d, &s, b, 1, 1, NULL, NULL),
			 FY_NFDEC_MALFORMED);
	assert_int_equal(fy_nfdec_totals(d)->bad_version, 1);
	assert_int_equal(fy_nfdec_totals(d)->malformed, 2);
	assert_int_equal(fy_nfdec_totals(d)->packets, 3);
	fy_nfdec_free(d);
}

struct tcount {
	int n;
	int options;
	uint16_t fields;
};

static int count_templates(void *arg, const struct fy_nfdec_template_info *t)
{
	struct tcount *c = arg;

	c->n++;
	c->options += t->is_options;
	c->fields += t->nfields;
	return 0;
}

static void test_template_iteration(void **state)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src s = src_v4(0xc0000201, 2055);
	struct tcount c = {0};
	struct pkt p;

	(void)state;
	pkt_v9(&p, 1, 1, 0, 0);
	set_open(&p, 0);
	put_template(&p, 300, tmpl4, TMPL4_N);
	put_template(&p, 301, tmpl4, 3);
	set_close(&p, 0);
	assert_int_equal(decode(d, &s, &p, 1, NULL), FY_NFDEC_OK);
	fy_nfdec_foreach_template(d, count_templates, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.options, 0);
	assert_int_equal(c.fields, TMPL4_N + 3);
	fy_nfdec_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v9_template_then_data),
		cmocka_unit_test(test_v9_uptime_wrap),
		cmocka_unit_test(test_v9_data_before_template),
		cmocka_unit_test(test_template_keys_separate),
		cmocka_unit_test(test_v9_redefinition),
		cmocka_unit_test(test_v9_malformed),
		cmocka_unit_test(test_v9_field_lengths),
		cmocka_unit_test(test_v9_data_shorter_than_record),
		cmocka_unit_test(test_v9_sampling_options),
		cmocka_unit_test(test_v9_nsel),
		cmocka_unit_test(test_ipfix_basic_and_withdrawal),
		cmocka_unit_test(test_ipfix_length_lies),
		cmocka_unit_test(test_ipfix_uptime_with_sysinit),
		cmocka_unit_test(test_v5),
		cmocka_unit_test(test_sequence_v5),
		cmocka_unit_test(test_sequence_v9_and_ipfix),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_idle_eviction_when_full),
		cmocka_unit_test(test_idle_order_is_activity),
		cmocka_unit_test(test_idle_sweep),
		cmocka_unit_test(test_idle_never),
		cmocka_unit_test(test_pending_bounded),
		cmocka_unit_test(test_bad_version_and_empty),
		cmocka_unit_test(test_template_iteration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
