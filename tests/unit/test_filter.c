/*
 * test_filter.c - the nfdump filter language on constructed flows.
 *
 * Every primitive is tried on a flow it must match and on one it must not,
 * so each assertion can fail. Semantics that are easy to get wrong were
 * checked against nfdump 1.7.1 itself (`nfdump -Z` for syntax, `nfdump -X`
 * for the compiled engine table): flags and icmp-type imply a protocol,
 * bare tos is the source tos, bare packets/bytes are the in counters, a
 * short IPv4 net takes at most 8 bits per octet written, pps/bps are 0
 * for a zero duration. Random tests then check the algebra (not, and, or
 * against the parts) and that fy_filter_columns names every field read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter.h"
#include "flow.h"
#include "store.h"
#include "store_impl.h"

static void addr(struct fy_addr *a, const char *s)
{
	assert_int_equal(fy_addr_parse(s, a, NULL), 0);
}

static void mac(uint8_t m[6], uint8_t first)
{
	unsigned i;

	for (i = 0; i < 6; i++)
		m[i] = (uint8_t)(first + i * 0x11);
}

/* IPv4 TCP 10.1.2.3:40000 -> 192.168.7.8:80, SYN+ACK, 10 packets, 2 s. */
static struct fy_flow tcp4(void)
{
	struct fy_flow f;

	memset(&f, 0, sizeof(f));
	f.family = FY_AF_INET;
	addr(&f.src, "10.1.2.3");
	addr(&f.dst, "192.168.7.8");
	addr(&f.nexthop, "10.0.0.254");
	addr(&f.bgp_nexthop, "172.16.0.1");
	addr(&f.exporter, "192.0.2.1");
	addr(&f.xlate_src, "198.51.100.7");
	addr(&f.xlate_dst, "203.0.113.9");
	f.src_port = 40000;
	f.dst_port = 80;
	f.xlate_src_port = 1024;
	f.xlate_dst_port = 8080;
	f.proto = 6;
	f.tcp_flags = 0x12; /* SYN ACK */
	f.tos = 0x10;
	f.packets = 10;
	f.bytes = 5000;
	f.out_packets = 8;
	f.out_bytes = 900;
	f.first_ms = 1700000000000ull;
	f.last_ms = f.first_ms + 2000;
	f.input_if = 3;
	f.output_if = 7;
	f.src_as = 64512;
	f.dst_as = 15169;
	f.vlan = 100;
	f.out_vlan = 200;
	f.src_mask = 8;
	f.dst_mask = 24;
	f.engine_type = 1;
	f.engine_id = 2;
	f.direction = 1;
	f.mpls_label = 1234;
	f.domain = 77;
	mac(f.src_mac, 0x00); /* 00:11:22:33:44:55 */
	mac(f.dst_mac, 0x66); /* 66:77:88:99:aa:bb */
	return f;
}

/* IPv6 UDP [2001:db8::1]:53 -> [2001:db8:ffff::2]:5353, one packet, 0 ms. */
static struct fy_flow udp6(void)
{
	struct fy_flow f;

	memset(&f, 0, sizeof(f));
	f.family = FY_AF_INET6;
	addr(&f.src, "2001:db8::1");
	addr(&f.dst, "2001:db8:ffff::2");
	addr(&f.nexthop, "fe80::1");
	addr(&f.exporter, "2001:db8::fe");
	f.src_port = 53;
	f.dst_port = 5353;
	f.proto = 17;
	f.packets = 1;
	f.bytes = 80;
	f.first_ms = f.last_ms = 1700000000000ull;
	f.src_as = 15169;
	f.dst_as = 3320;
	f.input_if = 7;
	f.output_if = 9;
	return f;
}

/* ICMP port unreachable 10.9.9.9 -> 10.1.2.3. */
static struct fy_flow icmp4(void)
{
	struct fy_flow f;

	memset(&f, 0, sizeof(f));
	f.family = FY_AF_INET;
	addr(&f.src, "10.9.9.9");
	addr(&f.dst, "10.1.2.3");
	f.proto = 1;
	f.icmp_type = 3;
	f.icmp_code = 1;
	f.dst_port = 3 << 8 | 1;
	f.tcp_flags = 0x3f; /* garbage an exporter might send */
	f.packets = 1;
	f.bytes = 56;
	return f;
}

/* Compiles (failing the test if it does not) and matches. */
static bool m(const char *expr, const struct fy_flow *fl)
{
	struct fy_filter *f = NULL;
	char err[256] = "";
	bool r;

	if (fy_filter_compile(expr, &f, err, sizeof(err)) != 0)
		fail_msg("'%s' does not compile: %s", expr, err);
	r = fy_filter_match(f, fl);
	fy_filter_free(f);
	return r;
}

#define YES(expr, fl) assert_true(m(expr, fl))
#define NO(expr, fl) assert_false(m(expr, fl))

/* expr must fail with exactly msg. */
static void bad(const char *expr, const char *msg)
{
	struct fy_filter *f = (struct fy_filter *)&f; /* must become NULL */
	char err[256] = "";

	assert_int_equal(fy_filter_compile(expr, &f, err, sizeof(err)), -1);
	assert_null(f);
	assert_string_equal(err, msg);
}

static uint64_t cols(const char *expr)
{
	struct fy_filter *f = NULL;
	char err[256] = "";
	uint64_t c;

	if (fy_filter_compile(expr, &f, err, sizeof(err)) != 0)
		fail_msg("'%s' does not compile: %s", expr, err);
	c = fy_filter_columns(f);
	fy_filter_free(f);
	return c;
}

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)

/* ------------------------------------------------------------------ */

static void test_any(void **state)
{
	struct fy_flow a = tcp4(), z;
	struct fy_filter *f = NULL;

	(void)state;
	memset(&z, 0, sizeof(z));
	YES("", &a);
	YES("   \t\n", &z);
	YES("any", &z);
	YES("ANY", &a);
	YES("# only a comment", &a);
	NO("not any", &a);
	NO("! any", &z);
	YES("any # trailing comment", &a);
	assert_int_equal(fy_filter_compile(NULL, &f, NULL, 0), 0);
	assert_true(fy_filter_match(f, &a));
	fy_filter_free(f);
	assert_true(fy_filter_match(NULL, &a)); /* no filter: all flows */
	fy_filter_free(NULL);
}

static void test_proto(void **state)
{
	struct fy_flow t = tcp4(), u = udp6(), i = icmp4(), x = tcp4();

	(void)state;
	YES("proto tcp", &t);
	NO("proto tcp", &u);
	YES("proto udp", &u);
	NO("proto udp", &t);
	YES("proto icmp", &i);
	NO("proto icmp", &t);
	YES("proto 6", &t);
	NO("proto 17", &t);
	YES("PROTO TCP", &t);
	YES("proto Udp", &u);
	x.proto = 58;
	YES("proto icmp6", &x);
	NO("proto icmp6", &i);
	x.proto = 47;
	YES("proto gre", &x);
	NO("proto gre", &t);
	x.proto = 50;
	YES("proto esp", &x);
	NO("proto ah", &x);
	x.proto = 51;
	YES("proto ah", &x);
	x.proto = 132;
	YES("proto sctp", &x);
	NO("proto sctp", &t);
	x.proto = 0;
	YES("proto 0", &x);
	x.proto = 255;
	YES("proto 255", &x);
	YES("proto 0xff", &x);
}

static void test_family(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	YES("ipv4", &t);
	NO("ipv4", &u);
	YES("inet", &t);
	NO("inet", &u);
	YES("ipv6", &u);
	NO("ipv6", &t);
	YES("inet6", &u);
	NO("INET6", &t);
}

static void test_ip(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	YES("ip 10.1.2.3", &t);
	YES("ip 192.168.7.8", &t);
	NO("ip 10.1.2.4", &t);
	YES("host 10.1.2.3", &t);
	NO("host 10.1.2.30", &t);
	YES("src ip 10.1.2.3", &t);
	NO("src ip 192.168.7.8", &t);
	YES("dst ip 192.168.7.8", &t);
	NO("dst ip 10.1.2.3", &t);
	YES("dst host 192.168.7.8", &t);
	YES("src or dst ip 192.168.7.8", &t);
	YES("dst or src ip 10.1.2.3", &t);
	NO("src or dst ip 10.0.0.1", &t);
	NO("src and dst ip 10.1.2.3", &t);
	t.dst = t.src;
	YES("src and dst ip 10.1.2.3", &t);
	YES("dst and src ip 10.1.2.3", &t);
	YES("ip 2001:db8::1", &u);
	YES("ip 2001:DB8:FFFF::2", &u);
	NO("ip 2001:db8::2", &u);
	YES("src ip 2001:db8::1", &u);
	NO("dst ip 2001:db8::1", &u);
	/* An IPv4 address never matches an IPv6 one ending in its bits. */
	NO("ip 0.0.0.1", &u);
	/* The IPv4-mapped spelling is the same address. */
	YES("ip ::ffff:10.1.2.3", &t);
}

static void test_ip_list(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	YES("ip in [ 10.1.2.3 ]", &t);
	NO("ip in [ 10.1.2.4 ]", &t);
	YES("ip in [ 1.1.1.1 2.2.2.2 192.168.7.8 ]", &t);
	NO("ip in [ 1.1.1.1 2.2.2.2 10.1.2.4 ]", &t);
	YES("ip in [1.1.1.1,2.2.2.2, 10.1.2.3]", &t);
	YES("src ip in [ 10.0.0.0/8 172.16.0.0/12 ]", &t);
	NO("dst ip in [ 10.0.0.0/8 172.16.0.0/12 ]", &t);
	YES("dst ip in [ 10.0.0.0/8 192.168.7.0/24 ]", &t);
	YES("ip in [ 2001:db8::/32 10.0.0.0/8 ]", &u);
	YES("ip in [ 2001:db8::/32 10.0.0.0/8 ]", &t);
	NO("ip in [ 2001:db9::/32 11.0.0.0/8 ]", &t);
	NO("ip in [ 2001:db9::/32 11.0.0.0/8 ]", &u);
	YES("dst ip in [ 1.2.3.4 2001:db8:ffff::2 ]", &u);
	NO("src ip in [ 1.2.3.4 2001:db8:ffff::2 ]", &u);
	YES("ip in [ 10.1.2.3 10.1.2.3 10.1.2.3 ]", &t); /* duplicates */
	YES("host in [ 10.1/16 ]", &t);
	YES("src and dst ip in [ 10.1.2.3 192.168.7.8 ]", &t);
	NO("src and dst ip in [ 10.1.2.3 192.168.7.9 ]", &t);
	YES("not ip in [ 1.1.1.1 2.2.2.2 ]", &t);
}

static void test_net(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	YES("net 10.0.0.0/8", &t);
	NO("net 11.0.0.0/8", &t);
	YES("src net 10.1.2.0/24", &t);
	NO("dst net 10.1.2.0/24", &t);
	YES("dst net 192.168.0.0/16", &t);
	NO("dst net 192.169.0.0/16", &t);
	YES("net 10.1.2.3/32", &t);
	NO("net 10.1.2.2/32", &t);
	YES("net 10.255.255.255/8", &t); /* host bits are masked off */
	YES("net 10/8", &t);
	YES("net 10.1/16", &t);
	NO("net 10.2/16", &t);
	YES("net 192.168/16", &t);
	YES("net 192.168.7/24", &t);
	NO("net 192.168.8/24", &t);
	NO("net 172.16/12", &u);
	NO("net 172.16/12", &t);
	YES("net 10.0.0.0 255.0.0.0", &t);
	NO("net 11.0.0.0 255.0.0.0", &t);
	YES("src net 10.1.0.0 255.255.0.0", &t);
	NO("src net 10.2.0.0 255.255.0.0", &t);
	YES("net 10.0.2.0 255.0.255.0", &t); /* any mask, as nfdump */
	NO("net 10.0.3.0 255.0.255.0", &t);
	YES("net 0.0.0.0/0", &t);
	NO("net 0.0.0.0/0", &u); /* all of IPv4, not IPv6 */
	YES("net ::/0", &u);
	YES("net ::/0", &t); /* all of IPv6 holds the mapped IPv4 */
	YES("net 2001:db8::/32", &u);
	NO("net 2001:db9::/32", &u);
	YES("src net 2001:db8::/64", &u);
	NO("dst net 2001:db8::/64", &u);
	YES("dst net 2001:db8:ffff::/48", &u);
	YES("net 2001:db8::1/128", &u);
	NO("net 2001:db8::/32", &t);
	YES("src and dst net 2001:db8::/32", &u);
	NO("src and dst net 2001:db8::/48", &u);
	YES("xnet 198.51.100.0/24", &t);
	NO("dst xnet 198.51.100.0/24", &t);
}

static void test_port(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	YES("port 80", &t);
	YES("port 40000", &t);
	NO("port 81", &t);
	YES("dst port 80", &t);
	NO("src port 80", &t);
	YES("src port 40000", &t);
	NO("dst port 40000", &t);
	YES("src or dst port 80", &t);
	NO("src and dst port 80", &t);
	u.dst_port = 53;
	YES("src and dst port 53", &u);
	YES("port > 1023", &t);
	NO("port > 40000", &t);
	YES("src port >= 40000", &t);
	NO("dst port > 80", &t);
	YES("dst port < 81", &t);
	NO("dst port < 80", &t);
	YES("port in [ 22 80 443 ]", &t);
	NO("port in [ 22 81 443 ]", &t);
	YES("dst port in [ 443, 80 ]", &t);
	NO("src port in [ 443, 80 ]", &t);
	YES("port in [ 80 ]", &t);
	YES("port 0", &(struct fy_flow){.src_port = 0});
	YES("port 65535", &(struct fy_flow){.dst_port = 65535});
	NO("port 65535", &t);
	YES("xport 8080", &t);
	YES("src xport 1024", &t);
	NO("src xport 8080", &t);
	YES("nport in [ 1 2 8080 ]", &t);
}

static void test_as_if_mask_vlan(void **state)
{
	struct fy_flow t = tcp4();

	(void)state;
	YES("as 64512", &t);
	YES("as 15169", &t);
	NO("as 3320", &t);
	YES("src as 64512", &t);
	NO("dst as 64512", &t);
	YES("dst as > 15000", &t);
	NO("src as < 64512", &t);
	YES("as in [ 1 2 15169 ]", &t);
	NO("src as in [ 1 2 15169 ]", &t);
	YES("as 4294967295", &(struct fy_flow){.dst_as = UINT32_MAX});
	YES("if 3", &t);
	YES("if 7", &t);
	NO("if 4", &t);
	YES("in if 3", &t);
	NO("in if 7", &t);
	YES("out if 7", &t);
	NO("out if 3", &t);
	YES("mask 8", &t);
	YES("mask 24", &t);
	NO("mask 16", &t);
	YES("src mask 8", &t);
	NO("dst mask 8", &t);
	YES("vlan 100", &t);
	YES("vlan 200", &t);
	NO("vlan 300", &t);
	YES("src vlan 100", &t);
	NO("src vlan 200", &t);
	YES("dst vlan 200", &t);
	NO("dst vlan 100", &t);
}

static void test_tos_flags(void **state)
{
	struct fy_flow t = tcp4(), i = icmp4(), x = tcp4();

	(void)state;
	YES("tos 16", &t);
	NO("tos 17", &t);
	YES("src tos 0x10", &t);
	NO("src tos 0", &t);
	YES("tos > 15", &t);
	YES("flags S", &t);
	YES("flags A", &t);
	YES("flags SA", &t);
	YES("flags AS", &t);
	NO("flags F", &t);
	NO("flags SAF", &t); /* all listed must be set */
	NO("flags X", &t);
	x.tcp_flags = 0x3f;
	YES("flags X", &x);
	YES("flags UAPRSF", &x);
	NO("flags E", &x);
	x.tcp_flags = 0xc2;
	YES("flags EC", &x);
	/*
	 * Under "not", letters test for any set (nfdump's invert rule), so
	 * the man page's idiom for a bare SYN works.
	 */
	YES("flags S and not flags AFRPU", &x);
	NO("flags S and not flags AFRPU", &t);
	NO("not flags AF", &t);	 /* A is set: not "none of A F" */
	YES("not flags FR", &t); /* neither F nor R */
	YES("not not flags S", &t);
	NO("not not flags SF", &t); /* two nots: all set again */
	NO("not (port 80 and not flags FU)", &t);
	NO("not (port 80 and not flags AU)", &t);
	YES("not (port 80 and not flags SA)", &t);
	YES("not flags SA", &i); /* not TCP */
	YES("flags sa", &t);	 /* letters in any case, unlike nfdump */
	YES("flags 18", &t);
	NO("flags 2", &t);
	YES("flags > 2", &t);
	/* flags imply TCP: ICMP with garbage flags is not a SYN. */
	NO("flags S", &i);
	NO("flags 63", &i);
}

static void test_counters(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	YES("packets 10", &t);
	NO("packets 11", &t);
	YES("packets > 9", &t);
	NO("packets > 10", &t);
	YES("in packets 10", &t);
	YES("out packets 8", &t);
	NO("out packets 10", &t);
	YES("bytes 5000", &t);
	YES("bytes 5k", &t);
	NO("bytes 5K and bytes > 5000", &t);
	YES("bytes < 1M", &t);
	NO("bytes > 1m", &t);
	YES("in bytes >= 5000", &t);
	YES("out bytes 900", &t);
	NO("out bytes > 900", &t);
	YES("flows 1", &t);
	YES("flows > 0", &t);
	NO("flows > 1", &t);
	NO("flows 2", &t);
	t.bytes = 3000000000ull;
	YES("bytes 3G", &t);
	YES("bytes 3g", &t);
	NO("bytes 3t", &t);
	t.bytes = 2000000000000ull;
	YES("bytes 2T", &t);
	YES("packets 1", &u);
}

static void test_computed(void **state)
{
	struct fy_flow t = tcp4(), u = udp6(), z;

	(void)state;
	memset(&z, 0, sizeof(z));
	YES("duration 2000", &t);
	YES("duration > 1999", &t);
	NO("duration > 2000", &t);
	YES("duration 0", &u);
	YES("pps 5", &t); /* 10 packets in 2 s */
	NO("pps > 5", &t);
	YES("bps 20000", &t); /* 5000 bytes * 8 / 2 s */
	YES("bps > 19k", &t);
	NO("bps > 20k", &t);
	YES("bpp 500", &t);
	NO("bpp < 500", &t);
	YES("pps 0", &u); /* duration 0: rates are 0, as nfdump */
	YES("bps 0", &u);
	NO("pps > 0", &u);
	YES("bpp 80", &u);
	YES("bpp 0", &z); /* no packets */
	NO("bpp > 0", &z);
	/* Ends before it starts: duration 0, not a huge unsigned value. */
	t.last_ms = t.first_ms - 5;
	YES("duration 0", &t);
	YES("pps 0", &t);
	/* Rates of very large counters do not overflow. */
	t = tcp4();
	t.bytes = UINT64_MAX;
	t.last_ms = t.first_ms + 1;
	YES("bps 18446744073709551615", &t);
	t.last_ms = t.first_ms + 8000;
	YES("bps 18446744073709551615", &t);
	NO("bps < 1000", &t);
}

static void test_misc_fields(void **state)
{
	struct fy_flow t = tcp4(), u = udp6(), i = icmp4(), x = icmp4();

	(void)state;
	YES("engine-type 1", &t);
	NO("engine-type 2", &t);
	YES("engine-id 2", &t);
	NO("engine-id 1", &t);
	YES("engine-id > 1", &t);
	YES("router ip 192.0.2.1", &t);
	NO("router ip 192.0.2.2", &t);
	YES("router ip 2001:db8::fe", &u);
	YES("next ip 10.0.0.254", &t);
	NO("next ip 10.0.0.253", &t);
	YES("next ip fe80::1", &u);
	YES("bgpnext ip 172.16.0.1", &t);
	NO("bgpnext ip 172.16.0.2", &t);
	YES("icmp-type 3", &i);
	NO("icmp-type 0", &i);
	YES("icmp-code 1", &i);
	NO("icmp-code 3", &i);
	YES("icmp-type 3 and icmp-code 1", &i);
	x.proto = 58;
	YES("icmp-type 3", &x);
	x.proto = 17; /* implies icmp: a UDP flow with the same bytes is not */
	NO("icmp-type 3", &x);
	YES("mpls label1 1234", &t);
	NO("mpls label1 1235", &t);
	YES("mpls label > 1000", &t);
	YES("observation domain id 77", &t);
	NO("observation domain id 78", &t);
	YES("flowdir egress", &t);
	NO("flowdir ingress", &t);
	YES("flowdir 1", &t);
	YES("flowdir ingress", &u);
	YES("mac 00:11:22:33:44:55", &t);
	YES("mac 66:77:88:99:AA:BB", &t);
	NO("mac 00:11:22:33:44:56", &t);
	YES("src mac 0:11:22:33:44:55", &t);
	NO("dst mac 00:11:22:33:44:55", &t);
	YES("in dst mac 66-77-88-99-aa-bb", &t);
	YES("xip 203.0.113.9", &t);
	NO("src xip 203.0.113.9", &t);
	YES("nip in [ 1.1.1.1 198.51.100.7 ]", &t);
}

/* Each operator, at and around its boundary. */
static void test_operators(void **state)
{
	struct fy_flow t = tcp4(); /* dst port 80 */

	(void)state;
	YES("dst port = 80", &t);
	YES("dst port == 80", &t);
	YES("dst port eq 80", &t);
	YES("dst port EQ 80", &t);
	NO("dst port = 81", &t);
	YES("dst port < 81", &t);
	YES("dst port lt 81", &t);
	NO("dst port lt 80", &t);
	YES("dst port > 79", &t);
	YES("dst port gt 79", &t);
	NO("dst port GT 80", &t);
	YES("dst port <= 80", &t);
	YES("dst port le 80", &t);
	NO("dst port le 79", &t);
	YES("dst port >= 80", &t);
	YES("dst port ge 80", &t);
	NO("dst port ge 81", &t);
	YES("dst port != 81", &t);
	NO("dst port != 80", &t);
	YES("dst port>=80", &t); /* no blanks needed around operators */
	YES("packets>9&&bytes<=5000", &t);
}

static void test_numbers(void **state)
{
	struct fy_flow t = tcp4();

	(void)state;
	YES("port 0x50", &t);
	YES("port 0X50", &t);
	YES("port 080", &t); /* decimal, as nfdump (not octal) */
	t.packets = 18446744073709551615ull;
	YES("packets 18446744073709551615", &t);
	YES("packets 0xffffffffffffffff", &t);
	t.packets = 18000000000000000000ull;
	YES("packets 18000000T", &t);
	bad("packets 18446744073709551616",
	    "column 9: expected a packet count, found "
	    "'18446744073709551616'");
	bad("packets 18446745T",
	    "column 9: expected a packet count, found '18446745T'");
	bad("packets 0x10000000000000000",
	    "column 9: expected a packet count, found "
	    "'0x10000000000000000'");
	YES("port 1k", &(struct fy_flow){.dst_port = 1000}); /* as nfdump */
	bad("port 66k",
	    "column 6: expected a port number (0-65535), found '66k'");
	bad("packets 1kb", "column 9: expected a packet count, found '1kb'");
	bad("packets -1", "column 9: expected a packet count, found '-1'");
	bad("packets k", "column 9: expected a packet count, found 'k'");
	bad("packets 0x", "column 9: expected a packet count, found '0x'");
}

/* not > and > or, as nfdump; parentheses override. */
static void test_precedence(void **state)
{
	struct fy_flow t = tcp4(), u = udp6();

	(void)state;
	/* port 80 or (port 53 and proto tcp) */
	YES("port 80 or port 53 and proto tcp", &t);
	NO("port 80 or port 53 and proto tcp", &u);
	/* (port 80 or port 53) and proto tcp */
	NO("(port 80 or port 53) and proto tcp", &u);
	YES("(port 80 or port 53) and proto udp", &u);
	/* (not port 80) and proto tcp */
	NO("not port 80 and proto tcp", &t);
	YES("not (port 80 and proto udp)", &t);
	NO("not port 80 or proto udp", &t);
	YES("! port 81 && proto tcp", &t);
	YES("port 81 || proto tcp && ! ipv6", &t);
	NO("port 81 || proto tcp && ! ipv4", &t);
	YES("not not port 80", &t);
	NO("not not not port 80", &t);
	YES("((((port 80))))", &t);
	YES("(port 81 or (proto tcp and (ipv4 and not (port 22))))", &t);
	NO("(port 81 or (proto tcp and (ipv4 and not (port 80))))", &t);
	YES("ip 10.1.2.3 and(port 80)", &t);
	YES("ip 10.1.2.3 and\n  port 80 # multi-line\n  and proto tcp", &t);
	/* and-chains and or-chains of many terms */
	YES("port 1 or port 2 or port 3 or port 80 or port 4", &t);
	NO("port 1 or port 2 or port 3 or port 81 or port 4", &t);
	YES("proto tcp and ipv4 and port 80 and as 64512 and if 3", &t);
	NO("proto tcp and ipv4 and port 80 and as 64512 and if 4", &t);
	YES("any or port 1", &u);
	NO("not any and port 53", &u);
}

static void test_case(void **state)
{
	struct fy_flow t = tcp4();

	(void)state;
	YES("PROTO TCP AND NOT PORT 22", &t);
	YES("Src Port 40000 Or Dst Port 1", &t);
	YES("SRC NET 10.0.0.0/8 AND DST HOST 192.168.7.8", &t);
	YES("Packets GT 9 and BYTES Le 5k", &t);
	YES("PORT IN [ 80 ]", &t);
	YES("IPV4 AND FLAGS SA", &t);
	NO("IPV6 OR NOT ANY", &t);
	YES("Engine-Type 1 and ICMP-TYPE 0 or Router IP 192.0.2.1", &t);
}

static void test_errors(void **state)
{
	(void)state;
	bad("port http",
	    "column 6: expected a port number (0-65535), found 'http'");
	bad("proto tcp and dst port http",
	    "column 24: expected a port number (0-65535), found 'http'");
	bad("port 65536",
	    "column 6: expected a port number (0-65535), found '65536'");
	bad("port", "column 5: expected a port number (0-65535), found end "
		    "of filter");
	bad("proto foo", "column 7: expected a protocol name or number "
			 "(0-255), found 'foo'");
	bad("proto 256", "column 7: expected a protocol name or number "
			 "(0-255), found '256'");
	bad("foo", "column 1: expected a filter primitive, found 'foo'");
	bad("port 80 port 81", "column 9: expected 'and', 'or' or end of "
			       "filter, found 'port'");
	bad("port 80 and", "column 12: expected a filter primitive, found "
			   "end of filter");
	bad("and port 80",
	    "column 1: expected a filter primitive, found 'and'");
	bad("(port 80", "column 9: expected 'and', 'or' or ')', found end of "
			"filter");
	bad("port 80)", "column 8: expected 'and', 'or' or end of filter, "
			"found ')'");
	bad("()", "column 2: expected a filter primitive, found ')'");
	bad("not", "column 4: expected a filter primitive, found end of "
		   "filter");
	bad("ip 10.1", "column 4: expected an IP address, found '10.1'");
	bad("ip www.example.com",
	    "column 4: expected an IP address, found 'www.example.com'");
	bad("ip 1.2.3.4/24",
	    "column 4: expected an IP address, found '1.2.3.4/24'");
	bad("net 10.0/24", "column 10: expected a prefix length of at most 16 "
			   "for '10.0', found '24'");
	bad("net 10.0.0.0/33", "column 14: expected a prefix length of at "
			       "most 32 for '10.0.0.0', found '33'");
	bad("net 2001:db8::/129", "column 16: expected a prefix length of at "
				  "most 128 for '2001:db8::', found '129'");
	bad("net 10.0.0.0/", "column 14: expected a prefix length of at most "
			     "32 for '10.0.0.0', found ''");
	bad("net 10.0.0.0", "column 13: expected a netmask such as "
			    "255.255.0.0, found end of filter");
	bad("net 2001:db8:: ffff::",
	    "column 5: expected a network (A/len, or A MASK for IPv4), found "
	    "'2001:db8::'");
	bad("net 256.0.0.0/8", "column 5: expected a network (A/len, or A MASK "
			       "for IPv4), found '256.0.0.0/8'");
	bad("port in []",
	    "column 10: expected a port number (0-65535), found ']'");
	bad("port in [80,]",
	    "column 13: expected a port number (0-65535), found ']'");
	bad("port in [80",
	    "column 12: expected a port number (0-65535), found end of filter");
	bad("port in 80", "column 9: expected '[' to start a list, found '80'");
	bad("ip in [1.2.3.4, foo]",
	    "column 17: expected an IP address or A/len, found 'foo'");
	bad("dst tos 5",
	    "column 1: expected 'src' or nothing before 'tos', found 'dst'");
	bad("src if 5", "column 1: expected 'in', 'out' or nothing before "
			"'if', found 'src'");
	bad("src packets 5", "column 1: expected 'in', 'out' or nothing "
			     "before 'packets', found 'src'");
	bad("in port 5", "column 1: expected 'src', 'dst' or nothing before "
			 "'port', found 'in'");
	bad("out mac 00:11:22:33:44:55",
	    "column 1: expected 'in', 'src', 'dst' or nothing before 'mac', "
	    "found 'out'");
	bad("src duration 5", "column 1: expected nothing before 'duration', "
			      "found 'src'");
	bad("src or port 80", "column 8: expected 'dst', found 'port'");
	bad("src", "column 4: expected a field such as 'ip', 'net', 'port' "
		   "or 'as', found end of filter");
	bad("next as 5", "column 6: expected 'ip' after 'next', found 'as'");
	bad("mpls exp1 5",
	    "column 6: expected 'label1' after 'mpls', found 'exp1'");
	bad("observation domain 5",
	    "column 20: expected 'id' after 'domain', found '5'");
	bad("geo DE",
	    "column 1: 'geo' is an nfdump primitive flowyard does not support");
	bad("flags Q", "column 7: expected TCP flags (letters of UAPRSFEC, X "
		       "for UAPRSF) or a number, found 'Q'");
	bad("flags 256",
	    "column 7: expected a TCP flags value (0-255), found '256'");
	bad("tos 256", "column 5: expected a tos value (0-255), found '256'");
	bad("mac 00:11:22:33:44",
	    "column 5: expected a MAC address (xx:xx:xx:xx:xx:xx), found "
	    "'00:11:22:33:44'");
	bad("port 80 & port 81", "column 9: expected 'and', 'or' or end of "
				 "filter, found '&'");
	bad("port 80 | port 81", "column 9: expected 'and', 'or' or end of "
				 "filter, found '|'");
	bad("port 80\nand port http",
	    "line 2, column 10: expected a port number (0-65535), found "
	    "'http'");
	bad("port \x01",
	    "column 6: expected a port number (0-65535), found '?'");
	bad("port aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee",
	    "column 6: expected a port number (0-65535), found "
	    "'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...'");
}

/* Error text is cut to the buffer; no buffer at all is fine too. */
static void test_error_buffers(void **state)
{
	struct fy_filter *f = NULL;
	char err[12], big[64];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(fy_filter_compile("port http", &f, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "column 6: e");
	assert_int_equal(fy_filter_compile("port http", &f, NULL, 0), -1);
	assert_int_equal(fy_filter_compile("port http", &f, err, 1), -1);
	assert_string_equal(err, "");
	assert_int_equal(fy_filter_compile("port 80", NULL, err, sizeof(err)),
			 -1);
	assert_int_equal(fy_filter_compile("port 80", &f, err, sizeof(err)), 0);
	assert_string_equal(err, ""); /* cleared on success */
	fy_filter_free(f);
	assert_int_equal(fy_filter_compile("any", NULL, big, sizeof(big)), -1);
	assert_string_equal(big, "invalid argument: out is NULL");
	assert_int_equal(fy_filter_columns(NULL), 0);
}

static void test_columns(void **state)
{
	(void)state;
	assert_int_equal(cols(""), 0);
	assert_int_equal(cols("any"), 0);
	assert_int_equal(cols("not any"), 0);
	assert_int_equal(cols("flows > 1"), 0);
	assert_int_equal(cols("port 80"), COL(SRC_PORT) | COL(DST_PORT));
	assert_int_equal(cols("dst port 80"), COL(DST_PORT));
	assert_int_equal(cols("src ip 10.0.0.1"), COL(SRC));
	assert_int_equal(cols("net 10/8"), COL(SRC) | COL(DST));
	assert_int_equal(cols("proto tcp and dst port in [80 443]"),
			 COL(PROTO) | COL(DST_PORT));
	assert_int_equal(cols("flags S"), COL(PROTO) | COL(TCP_FLAGS));
	assert_int_equal(cols("icmp-type 3"), COL(PROTO) | COL(ICMP_TYPE));
	assert_int_equal(cols("pps > 1"),
			 COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS));
	assert_int_equal(cols("bpp > 1"), COL(PACKETS) | COL(BYTES));
	assert_int_equal(cols("out bytes > 1"), COL(OUT_BYTES));
	assert_int_equal(cols("ipv6"), COL(FAMILY));
	assert_int_equal(cols("router ip 1.2.3.4"), COL(EXPORTER));
	/* Tests made unreachable by a constant are not counted. */
	assert_int_equal(cols("any or port 80"), 0);
	assert_int_equal(cols("not any and port 80"), 0);
	assert_int_equal(cols("port 80 or any"), 0);
}

/* A long but legal filter, deep nesting up to the limit and past it. */
static void test_limits(void **state)
{
	struct fy_flow t = tcp4();
	struct fy_filter *f = NULL;
	size_t n = 20000, i, len = 0;
	char *s = malloc(n * 16 + 600), err[128];

	(void)state;
	assert_non_null(s);
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%sport %zu", i ? " or " : "",
				       i + 1000);
	YES(s, &(struct fy_flow){.dst_port = 20999});
	NO(s, &t);
	/* A list of thousands of entries. */
	len = (size_t)sprintf(s, "ip in [");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, " 10.%zu.%zu.0/24",
				       i >> 8 & 255, i & 255);
	strcpy(s + len, " ]");
	YES(s, &t);	   /* 10.1.2.3 is in 10.1.2.0/24 */
	t.src.b[13] = 200; /* 10.200.2.3: i = 51202 > n */
	NO(s, &t);
	/* 128 parentheses compile, 129 do not. */
	memset(s, '(', 128);
	strcpy(s + 128, "any");
	memset(s + 131, ')', 128);
	s[259] = '\0';
	assert_int_equal(fy_filter_compile(s, &f, err, sizeof(err)), 0);
	fy_filter_free(f);
	memset(s, '(', 129);
	strcpy(s + 129, "any");
	memset(s + 132, ')', 129);
	s[261] = '\0';
	assert_int_equal(fy_filter_compile(s, &f, err, sizeof(err)), -1);
	assert_string_equal(err, "column 129: expected at most 128 nested "
				 "parentheses");
	/* Any number of nots: a loop, not recursion. */
	len = 0;
	for (i = 0; i < 10001; i++)
		len += (size_t)sprintf(s + len, "! ");
	strcpy(s + len, "any");
	NO(s, &t);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Random flows and filters: algebra and columns. */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const atoms[] = {
	"proto tcp",
	"proto udp",
	"ipv4",
	"ipv6",
	"port 80",
	"src port 53",
	"dst port > 1000",
	"port in [ 22 53 443 ]",
	"ip 10.0.0.1",
	"src ip 2001:db8::1",
	"dst net 10.0.0.0/24",
	"net 2001:db8::/64",
	"ip in [ 10.0.0.2 2001:db8::/64 ]",
	"src and dst net 10/8",
	"as 65000",
	"if 2",
	"out if 2",
	"flags S",
	"flags 18",
	"tos 0",
	"packets > 5",
	"bytes < 1k",
	"duration > 100",
	"pps > 10",
	"bps < 8000",
	"bpp > 100",
	"icmp-type 0",
	"vlan 1",
	"mac 00:00:00:00:00:01",
	"router ip 10.0.0.1",
	"next ip in [ 10.0.0.1 10.0.0.2 ]",
	"xport 80",
	"flowdir 1",
	"flows 1",
	"any",
};

#define N_ATOMS (sizeof(atoms) / sizeof(atoms[0]))

static const char *const small_addrs[] = {
	"10.0.0.1", "10.0.0.2", "10.0.1.1", "2001:db8::1", "2001:db8:1::1",
};

static void rnd_addr(struct fy_addr *a)
{
	addr(a, small_addrs[rnd() % 5]);
}

/* Fields from small sets, so that the atoms above match often. */
static void rnd_flow(struct fy_flow *f)
{
	static const uint16_t ports[] = {22, 53, 80, 443, 8080, 0};
	uint8_t fam;

	memset(f, 0, sizeof(*f));
	rnd_addr(&f->src);
	rnd_addr(&f->dst);
	rnd_addr(&f->exporter);
	rnd_addr(&f->nexthop);
	fam = (uint8_t)(rnd() % 2 ? FY_AF_INET : FY_AF_INET6);
	f->family = fam;
	f->proto = (uint8_t)(rnd() % 3 ? (rnd() % 2 ? 6 : 17) : 1);
	f->src_port = ports[rnd() % 6];
	f->dst_port = (uint16_t)(rnd() % 2 ? ports[rnd() % 6] : rnd());
	f->xlate_src_port = ports[rnd() % 6];
	f->xlate_dst_port = ports[rnd() % 6];
	f->src_as = rnd() % 2 ? 65000 : 1;
	f->dst_as = rnd() % 2 ? 65000 : 2;
	f->input_if = (uint32_t)(rnd() % 4);
	f->output_if = (uint32_t)(rnd() % 4);
	f->tcp_flags = (uint8_t)rnd();
	f->tos = (uint8_t)(rnd() % 2);
	f->packets = rnd() % 20;
	f->bytes = rnd() % 3000;
	f->first_ms = 1000;
	f->last_ms = 1000 + rnd() % 500;
	f->icmp_type = (uint8_t)(rnd() % 2 ? 0 : 8);
	f->vlan = (uint16_t)(rnd() % 2);
	f->src_mac[5] = (uint8_t)(rnd() % 2);
	f->direction = (uint8_t)(rnd() % 2);
}

static bool run(const char *expr, const struct fy_flow *f)
{
	return m(expr, f);
}

/* The flow as the store hands it out when only `mask` is decoded. */
static void only_columns(const struct fy_flow *in, uint64_t mask,
			 struct fy_flow *out)
{
	unsigned c;

	memset(out, 0, sizeof(*out));
	for (c = 0; c < FY_STORE_NCOLS; c++)
		if (mask & FY_STORE_MASK(c))
			memcpy((uint8_t *)out + fy_store_cols[c].off,
			       (const uint8_t *)in + fy_store_cols[c].off,
			       fy_store_cols[c].size);
}

static void test_random_algebra(void **state)
{
	char e[512];
	unsigned round;

	(void)state;
	for (round = 0; round < 3000; round++) {
		const char *a = atoms[rnd() % N_ATOMS];
		const char *b = atoms[rnd() % N_ATOMS];
		const char *c = atoms[rnd() % N_ATOMS];
		struct fy_flow f;
		bool ra, rb, rc;

		rnd_flow(&f);
		ra = run(a, &f);
		rb = run(b, &f);
		rc = run(c, &f);
		snprintf(e, sizeof(e), "not %s", a);
		assert_true(run(e, &f) == !ra);
		snprintf(e, sizeof(e), "%s and %s", a, b);
		assert_true(run(e, &f) == (ra && rb));
		snprintf(e, sizeof(e), "%s or %s", a, b);
		assert_true(run(e, &f) == (ra || rb));
		snprintf(e, sizeof(e), "%s or %s and not %s", a, b, c);
		assert_true(run(e, &f) == (ra || (rb && !rc)));
		snprintf(e, sizeof(e), "not (%s or not %s) and %s", a, b, c);
		assert_true(run(e, &f) == (!(ra || !rb) && rc));
		snprintf(e, sizeof(e), "(%s || %s) && !(%s && %s)", a, b, c, a);
		assert_true(run(e, &f) == ((ra || rb) && !(rc && ra)));
	}
}

/* Zeroing every column the filter does not read changes nothing. */
static void test_random_columns(void **state)
{
	char e[512];
	unsigned round;

	(void)state;
	for (round = 0; round < 3000; round++) {
		struct fy_filter *f = NULL;
		struct fy_flow fl, part;
		char err[128];

		snprintf(e, sizeof(e), "%s or not (%s and %s)",
			 atoms[rnd() % N_ATOMS], atoms[rnd() % N_ATOMS],
			 atoms[rnd() % N_ATOMS]);
		assert_int_equal(fy_filter_compile(e, &f, err, sizeof(err)), 0);
		rnd_flow(&fl);
		only_columns(&fl, fy_filter_columns(f), &part);
		assert_true(fy_filter_match(f, &fl) ==
			    fy_filter_match(f, &part));
		fy_filter_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_family),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_ip_list),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_as_if_mask_vlan),
		cmocka_unit_test(test_tos_flags),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_computed),
		cmocka_unit_test(test_misc_fields),
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_case),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_buffers),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_random_algebra),
		cmocka_unit_test(test_random_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
