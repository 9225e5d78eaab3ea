/*
 * Unit tests of nfq's output (nfq/output.c): the expected strings are
 * nfdump 1.7.1's own output for the same flows (captured from `nfdump -o
 * line|long|extended|csv`, -s and -6 on files of softflowd and of crafted
 * NetFlow v5 packets), so a column that moves by one space fails here.
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

/* 2026-12-25 01:53:42.060 UTC */
#define T_A 1798163622060ull

struct cap {
	FILE *fp;
	char *buf;
	size_t len;
};

static void cap_open(struct cap *c)
{
	c->buf = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->buf, &c->len);
	assert_non_null(c->fp);
}

/* Closes the stream; the text stays in c->buf (free it). */
static char *cap_close(struct cap *c)
{
	fclose(c->fp);
	return c->buf;
}

static void v4(struct fy_addr *a, const char *s)
{
	assert_int_equal(fy_addr_parse(s, a, NULL), 0);
}

/* The first flow of nfdump's sample: 74.125.19.17:443 -> ..., 4 pkts. */
static void flow_tcp(struct fy_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->first_ms = T_A;
	f->last_ms = T_A + 41;
	v4(&f->src, "74.125.19.17");
	v4(&f->dst, "172.16.11.12");
	f->family = FY_AF_INET;
	f->src_port = 443;
	f->dst_port = 64565;
	f->proto = 6;
	f->tcp_flags = 0x11;
	f->packets = 4;
	f->bytes = 220;
	v4(&f->exporter, "127.0.0.1");
}

static void flow_v6(struct fy_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->first_ms = T_A + 1500;
	f->last_ms = T_A + 1529;
	assert_int_equal(fy_addr_parse("2001:4958:15a0:24:c1b3:b766:7fff:d0b3",
				       &f->src, &f->family),
			 0);
	fy_addr_parse("2606:4700::6812:69c", &f->dst, NULL);
	f->src_port = 43250;
	f->dst_port = 80;
	f->proto = 6;
	f->tcp_flags = 0x1b;
	f->packets = 6;
	f->bytes = 525;
}

/* The crafted v5 flow: 1.5 M packets, 2 GB in 59 s. */
static void flow_big(struct fy_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->first_ms = 1798761540000ull; /* 2026-12-31 23:59:00 */
	f->last_ms = f->first_ms + 59000;
	v4(&f->src, "10.0.0.1");
	v4(&f->dst, "192.168.1.1");
	f->family = FY_AF_INET;
	f->src_port = 1234;
	f->dst_port = 443;
	f->proto = 6;
	f->tcp_flags = 0x1b;
	f->packets = 1500000;
	f->bytes = 2000000000;
	f->input_if = 3;
	f->output_if = 7;
	f->src_as = 65001;
	f->dst_as = 65002;
}

static char *render(const char *format, bool v6_full, bool plain,
		    const struct fy_flow *f, bool header)
{
	struct nfq_out_opts o = {0};
	struct nfq_out out;
	struct cap c;
	char err[NFQ_ERR_MAX];
	const char *fmt;

	assert_int_equal(nfq_format_parse(format, &o.format, &fmt), 0);
	o.fmt = fmt;
	o.v6_full = v6_full;
	o.plain = plain;
	cap_open(&c);
	if (nfq_out_init(&out, &o, c.fp, err, sizeof(err)))
		fail_msg("%s", err);
	if (header)
		nfq_out_header(&out);
	nfq_out_record(&out, f, 1);
	nfq_out_records_end(&out);
	nfq_out_free(&out);
	return cap_close(&c);
}

static void expect(const char *format, bool v6_full, bool plain,
		   const struct fy_flow *f, bool header, const char *want)
{
	char *got = render(format, v6_full, plain, f, header);

	if (strcmp(got, want) != 0)
		fail_msg("-o %s\n got: '%s'\nwant: '%s'", format, got, want);
	free(got);
}

static void test_line(void **state)
{
	struct fy_flow f;

	(void)state;
	flow_tcp(&f);
	expect("line", false, false, &f, true,
	       "Date first seen             Duration     Proto      Src IP "
	       "Addr:Port          Dst IP Addr:Port   Packets    Bytes Flows\n"
	       "2026-12-25 01:53:42.060     00:00:00.041 TCP       "
	       "74.125.19.17:443   ->     172.16.11.12:64565        4      220"
	       "     1\n");
	/* -N: plain duration, the protocol number */
	expect("line", false, true, &f, false,
	       "2026-12-25 01:53:42.060            0.041 6         "
	       "74.125.19.17:443   ->     172.16.11.12:64565        4      220"
	       "     1\n");
}

static void test_long_extended(void **state)
{
	struct fy_flow f;

	(void)state;
	flow_tcp(&f);
	expect("long", false, false, &f, true,
	       "Date first seen             Duration     Proto      Src IP "
	       "Addr:Port          Dst IP Addr:Port     Flags Tos  Packets    "
	       "Bytes Flows\n"
	       "2026-12-25 01:53:42.060     00:00:00.041 TCP       "
	       "74.125.19.17:443   ->     172.16.11.12:64565 ...A...F   0     "
	       "   4      220     1\n");
	expect("extended", false, false, &f, false,
	       "2026-12-25 01:53:42.060     00:00:00.041 TCP       "
	       "74.125.19.17:443   ->     172.16.11.12:64565 ...A...F   0     "
	       "   4      220       97    42926     55     1\n");
	/* scaled numbers: 1.5 M packets, 2.0 G bytes, 271.2 M bps */
	flow_big(&f);
	expect("extended", false, false, &f, false,
	       "2026-12-31 23:59:00.000     00:00:59.000 TCP           "
	       "10.0.0.1:1234  ->      192.168.1.1:443   ...AP.SF   0    1.5 M"
	       "    2.0 G    25423  271.2 M   1333     1\n");
}

static void test_ipv6(void **state)
{
	struct fy_flow f;

	(void)state;
	flow_v6(&f);
	expect("line", false, false, &f, false,
	       "2026-12-25 01:53:43.560     00:00:00.029 TCP   "
	       "2001:49..ff:d0b3.43250 -> 2606:47..812:69c.80           6     "
	       " 525     1\n");
	/* -6: whole addresses in 39 columns, and a wider header */
	expect("line", true, false, &f, true,
	       "Date first seen             Duration     Proto              "
	       "               Src IP Addr:Port                               "
	       "  Dst IP Addr:Port   Packets    Bytes Flows\n"
	       "2026-12-25 01:53:43.560     00:00:00.029 TCP     "
	       "2001:4958:15a0:24:c1b3:b766:7fff:d0b3.43250 ->               "
	       "      2606:4700::6812:69c.80           6      525     1\n");
}

static void test_icmp(void **state)
{
	struct fy_flow f;

	(void)state;
	flow_tcp(&f);
	f.first_ms = f.last_ms = T_A + 1100;
	v4(&f.src, "10.31.0.1");
	v4(&f.dst, "10.34.0.1");
	f.proto = 1;
	f.src_port = 0;
	f.dst_port = 8 << 8; /* type 8 code 0, where nfdump keeps it */
	f.tcp_flags = 0;
	f.packets = 1;
	f.bytes = 108;
	expect("line", false, false, &f, false,
	       "2026-12-25 01:53:43.160     00:00:00.000 ICMP         "
	       "10.31.0.1:0     ->        10.34.0.1:8.0          1      108   "
	       "  1\n");
	/* csv keeps nfdump's number: type * 256 + code */
	{
		char *s = render("csv", false, false, &f, false);

		assert_non_null(strstr(s, ",0,2048,ICMP,"));
		free(s);
	}
}

static void test_csv(void **state)
{
	struct fy_flow f;
	char *s;

	(void)state;
	flow_tcp(&f);
	s = render("csv", false, false, &f, true);
	assert_string_equal(
		s,
		"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,"
		"out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,"
		"osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,"
		"mpls10,cl,sl,al,ra,eng,exid,tr\n"
		"2026-12-25 01:53:42,2026-12-25 01:53:42,0.041,74.125.19.17,"
		"172.16.11.12,443,64565,TCP,...A...F,0,0,4,220,0,0,0,0,0,0,0,0,"
		"0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,"
		"00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,"
		"0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,    0.000,    0.000,    "
		"0.000,127.0.0.1,0/0,0,\n");
	free(s);
	/* IPv6 in csv: never condensed */
	flow_v6(&f);
	s = render("csv", false, false, &f, false);
	assert_non_null(strstr(s, ",2001:4958:15a0:24:c1b3:b766:7fff:d0b3,"
				  "2606:4700::6812:69c,"));
	free(s);
}

static void test_json(void **state)
{
	struct fy_flow f;
	char *s;

	(void)state;
	flow_tcp(&f);
	s = render("ndjson", false, false, &f, false);
	assert_string_equal(
		s,
		"{\"type\":\"FLOW\",\"sampled\":0,\"first\":\"2026-12-25T01:53:"
		"42.060Z\",\"last\":\"2026-12-25T01:53:42.101Z\",\"in_packets\":"
		"4,\"in_bytes\":220,\"proto\":6,\"tcp_flags\":\"...A...F\","
		"\"src_port\":443,\"dst_port\":64565,\"src_tos\":0,"
		"\"src4_addr\":\"74.125.19.17\",\"dst4_addr\":\"172.16.11.12\","
		"\"input_snmp\":0,\"output_snmp\":0,\"src_mask\":0,\"dst_mask\":"
		"0,\"src_as\":0,\"dst_as\":0,\"fwd_status\":0,\"direction\":0,"
		"\"engine_type\":0,\"engine_id\":0,\"obs_domain_id\":0,"
		"\"ip4_router\":\"127.0.0.1\"}\n");
	free(s);
	/* json: nfdump's array layout, closed */
	s = render("json", false, false, &f, true);
	assert_true(strncmp(s, "[\n{\n\t\"type\" : \"FLOW\",\n", 22) == 0);
	assert_non_null(strstr(s, "\n\t\"ip4_router\" : \"127.0.0.1\"\n}]\n"));
	free(s);
}

static void test_fmt(void **state)
{
	struct fy_flow f;
	struct nfq_out_opts o = {0};
	struct nfq_out out;
	char err[NFQ_ERR_MAX];

	(void)state;
	flow_big(&f);
	/* the header blanks literal text; tags take their widths */
	expect("fmt:%sa|%sas %das %in %out", false, false, &f, true,
	       "     Src IP Addr Src AS Dst AS  Input Output\n"
	       "        10.0.0.1| 65001  65002      3      7\n");
	/* %sap is not %sa followed by "p"; %line expands */
	expect("fmt:<%line>", false, true, &f, false,
	       "<2026-12-31 23:59:00.000           59.000 6             "
	       "10.0.0.1:1234  ->      192.168.1.1:443    1500000 2000000000"
	       "     1>\n");
	o.format = NFQ_O_FMT;
	o.fmt = "%ts %zzz";
	assert_int_equal(nfq_out_init(&out, &o, stdout, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "%zzz"));
	o.fmt = "";
	assert_int_equal(nfq_out_init(&out, &o, stdout, err, sizeof(err)),
			 -EINVAL);
	/* the columns a format needs */
	o.fmt = "%sa %byt";
	assert_int_equal(nfq_out_init(&out, &o, stdout, err, sizeof(err)), 0);
	assert_true(out.cols & FY_STORE_MASK(FY_STORE_COL_SRC));
	assert_true(out.cols & FY_STORE_MASK(FY_STORE_COL_BYTES));
	assert_false(out.cols & FY_STORE_MASK(FY_STORE_COL_DST));
	nfq_out_free(&out);
}

static void test_numbers(void **state)
{
	char b[32];

	(void)state;
	nfq_num_str(b, sizeof(b), 999999, false);
	assert_string_equal(b, "999999");
	nfq_num_str(b, sizeof(b), 1000000, false);
	assert_string_equal(b, "1.0 M");
	nfq_num_str(b, sizeof(b), 1500000, false);
	assert_string_equal(b, "1.5 M");
	nfq_num_str(b, sizeof(b), 2003501284ull, false);
	assert_string_equal(b, "2.0 G");
	nfq_num_str(b, sizeof(b), 5300000000000ull, false);
	assert_string_equal(b, "5.3 T");
	nfq_num_str(b, sizeof(b), 2003501284ull, true);
	assert_string_equal(b, "2003501284");
	/* rates: integer ms arithmetic, as nfdump */
	assert_int_equal(nfq_bps(3, 3), 8000);
	assert_int_equal(nfq_pps(49, 49), 1000);
	assert_int_equal(nfq_bps(220, 41), 42926);
	assert_int_equal(nfq_bps(220, 0), 0);
	assert_int_equal(nfq_bpp(2000000000, 1500000), 1333);
	assert_int_equal(nfq_bpp(5, 0), 0);
	/* no overflow on huge counters */
	assert_int_equal(
		nfq_bps(UINT64_MAX / 2, 1000ull * UINT32_MAX),
		(uint64_t)((__extension__(unsigned __int128)(UINT64_MAX / 2) *
			    8000) /
			   (1000ull * UINT32_MAX)));
}

static void test_condense_flags(void **state)
{
	char s[64], fl[9];

	(void)state;
	strcpy(s, "2001:620:1000:cafe:20e:35ff:fec0:fed5");
	nfq_condense_v6(s);
	assert_string_equal(s, "2001:62..c0:fed5");
	strcpy(s, "2606:4700::6812:69c");
	nfq_condense_v6(s);
	assert_string_equal(s, "2606:47..812:69c");
	strcpy(s, "fe80::1"); /* short: untouched */
	nfq_condense_v6(s);
	assert_string_equal(s, "fe80::1");
	nfq_flags_str(fl, 0x1b);
	assert_string_equal(fl, "...AP.SF");
	nfq_flags_str(fl, 0xff);
	assert_string_equal(fl, "CEUAPRSF");
	nfq_flags_str(fl, 0);
	assert_string_equal(fl, "........");
}

static void test_summary(void **state)
{
	struct nfq_out_opts o = {0};
	struct nfq_summary s = {0};
	struct nfq_out out;
	struct cap c;
	char err[NFQ_ERR_MAX], *txt;

	(void)state;
	/* nfdump: 4 flows, 2003501284 bytes, 1503013 packets over 59 s */
	s.flows = 4;
	s.bytes = 2003501284ull;
	s.packets = 1503013;
	s.first_ms = 1798761540000ull;
	s.last_ms = s.first_ms + 59000;
	s.processed = 4;
	s.data_first_ms = s.first_ms;
	s.data_last_ms = s.last_ms;
	o.format = NFQ_O_LINE;
	cap_open(&c);
	assert_int_equal(nfq_out_init(&out, &o, c.fp, err, sizeof(err)), 0);
	nfq_out_summary(&out, &s);
	nfq_out_free(&out);
	txt = cap_close(&c);
	{
		static const char want[] =
			"Summary: total flows: 4, total bytes: 2.0 G, total "
			"packets: 1.5 M, avg bps: 271.7 M, avg pps: 25474, avg "
			"bpp: 1332\n"
			"Time window: 2026-12-31 23:59:00 - 2026-12-31 "
			"23:59:59\n"
			"Total flows processed: 4, passed: 4, Blocks skipped: "
			"0, Bytes read: 0\nSys: ";

		if (strncmp(txt, want, strlen(want)) != 0)
			fail_msg("got '%s'", txt);
	}
	assert_non_null(strstr(txt, "Time window: 2026-12-31 23:59:00 - "
				    "2026-12-31 23:59:59\n"));
	free(txt);
	/* csv summary, nfdump's */
	o.format = NFQ_O_CSV;
	cap_open(&c);
	assert_int_equal(nfq_out_init(&out, &o, c.fp, err, sizeof(err)), 0);
	nfq_out_summary(&out, &s);
	nfq_out_free(&out);
	txt = cap_close(&c);
	assert_string_equal(txt, "Summary\nflows,bytes,packets,avg_bps,"
				 "avg_pps,avg_bpp\n4,2003501284,1503013,"
				 "271661191,25474,1332\n");
	free(txt);
}

/* -s srcip: nfdump's header and a line, against its totals. */
static void test_stat_text(void **state)
{
	struct nfq_stat_spec spec;
	struct nfq_stat st;
	struct nfq_summary sum = {0};
	struct nfq_out_opts o = {0};
	struct nfq_out out;
	struct fy_flow f;
	struct cap c;
	char err[NFQ_ERR_MAX], *txt;

	(void)state;
	assert_int_equal(nfq_stat_parse("srcip/bytes", &spec, err, sizeof(err)),
			 0);
	assert_int_equal(nfq_stat_init(&st, &spec, NULL), 0);
	flow_tcp(&f);
	v4(&f.src, "216.34.181.45");
	f.first_ms = T_A + 1187;
	f.last_ms = f.first_ms + 773;
	f.packets = 33;
	f.bytes = 44692;
	assert_int_equal(nfq_stat_add(&st, &f), 0);
	sum.flows = 91;
	sum.packets = 370;
	sum.bytes = 100915;
	o.format = NFQ_O_LINE;
	o.quiet = true; /* no summary lines: they hold timings */
	cap_open(&c);
	assert_int_equal(nfq_out_init(&out, &o, c.fp, err, sizeof(err)), 0);
	assert_int_equal(nfq_out_stats(&out, &st, 1, 10, &sum), 0);
	nfq_out_free(&out);
	txt = cap_close(&c);
	assert_string_equal(txt,
			    "2026-12-25 01:53:43.247     00:00:00.773 any      "
			    " 216.34.181.45        1( 1.1)       33( 8.9)    "
			    "44692(44.3)       42   462530  1354\n\n");
	free(txt);
	/* the header, with -q off */
	o.quiet = false;
	cap_open(&c);
	assert_int_equal(nfq_out_init(&out, &o, c.fp, err, sizeof(err)), 0);
	assert_int_equal(nfq_out_stats(&out, &st, 1, 10, &sum), 0);
	nfq_out_free(&out);
	txt = cap_close(&c);
	assert_true(strncmp(txt,
			    "Top 10 Src IP Addr ordered by bytes:\n"
			    "Date first seen                 Duration Proto  "
			    "     Src IP Addr    Flows(%)     Packets(%)       "
			    "Bytes(%)         pps      bps   bpp\n",
			    160) == 0);
	free(txt);
	nfq_stat_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_long_extended),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_condense_flags),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_stat_text),
	};

	setenv("TZ", "UTC", 1);
	return cmocka_run_group_tests_name("nfq_output", tests, NULL, NULL);
}
