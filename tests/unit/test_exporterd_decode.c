/*
 * test_exporterd_decode.c - the probe's packet decoder (lib/pkt_decode).
 *
 * Hand-built frames cover each encapsulation and header shape, with the
 * fields checked one by one; every frame is also decoded cut at every
 * length, from a buffer of exactly that size, so that ASan sees any read
 * past the captured bytes. The bundled captures are decoded whole and
 * their totals compared with what tshark 4.0.17 says, from:
 *
 *   tshark -r FILE -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
 *     -T fields -e frame.protocols -e ip.len -e ipv6.plen -e ip.proto
 *
 * taking the first IP header's length (the inner IPv6 header's, plen +
 * 40, for 6in4 frames), and counting frames without ip/ipv6 as not IP.
 * Run from the repository root.
 */
#include <pcap/pcap.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "pkt_decode.h"
#include "wire.h"

#define TRAFFIC "tests/data/traffic/"

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x0b};
static const uint8_t v4_a[4] = {192, 0, 2, 1};
static const uint8_t v4_b[4] = {198, 51, 100, 2};
static const uint8_t v6_a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0,    0,    0,	   0,	 0, 0, 0, 1};
static const uint8_t v6_b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0,    0,    0,	   0,	 0, 0, 0, 2};

/* ---- frame building ---- */

struct frame {
	uint8_t b[2048];
	struct fy_wr w;
};

static void fr_init(struct frame *f)
{
	memset(f->b, 0, sizeof(f->b));
	f->w = fy_wr_init(f->b, sizeof(f->b));
}

static size_t fr_len(const struct frame *f)
{
	assert_false(f->w.err);
	return (size_t)(f->w.p - f->b);
}

static void eth(struct frame *f, uint16_t type)
{
	fy_wr_bytes(&f->w, mac_b, 6);
	fy_wr_bytes(&f->w, mac_a, 6);
	fy_wr_u16(&f->w, type);
}

static void vlan(struct frame *f, uint16_t vid, uint16_t type)
{
	fy_wr_u16(&f->w, (uint16_t)(0x2000 | vid)); /* priority 1 */
	fy_wr_u16(&f->w, type);
}

/*
 * An IPv4 header with `optlen` bytes of options (NOPs), for a payload of
 * `payload` bytes; `off` is the flags and fragment offset field.
 */
static void ipv4(struct frame *f, uint8_t proto, size_t optlen, size_t payload,
		 uint16_t id, uint16_t off)
{
	size_t hl = 20 + optlen;

	fy_wr_u8(&f->w, (uint8_t)(0x40 | hl / 4));
	fy_wr_u8(&f->w, 0x28); /* ToS */
	fy_wr_u16(&f->w, (uint16_t)(hl + payload));
	fy_wr_u16(&f->w, id);
	fy_wr_u16(&f->w, off);
	fy_wr_u8(&f->w, 64);
	fy_wr_u8(&f->w, proto);
	fy_wr_u16(&f->w, 0);
	fy_wr_bytes(&f->w, v4_a, 4);
	fy_wr_bytes(&f->w, v4_b, 4);
	while (optlen--)
		fy_wr_u8(&f->w, 1);
}

static void ipv6(struct frame *f, uint8_t nh, size_t payload)
{
	fy_wr_u32(&f->w, 0x60000000u | 0x2eu << 20); /* traffic class 0x2e */
	fy_wr_u16(&f->w, (uint16_t)payload);
	fy_wr_u8(&f->w, nh);
	fy_wr_u8(&f->w, 64);
	fy_wr_bytes(&f->w, v6_a, 16);
	fy_wr_bytes(&f->w, v6_b, 16);
}

static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint8_t flags)
{
	fy_wr_u16(&f->w, sp);
	fy_wr_u16(&f->w, dp);
	fy_wr_u32(&f->w, 1000);
	fy_wr_u32(&f->w, 0);
	fy_wr_u8(&f->w, 5 << 4);
	fy_wr_u8(&f->w, flags);
	fy_wr_u16(&f->w, 65535);
	fy_wr_u32(&f->w, 0);
}

static void udp(struct frame *f, uint16_t sp, uint16_t dp, size_t payload)
{
	fy_wr_u16(&f->w, sp);
	fy_wr_u16(&f->w, dp);
	fy_wr_u16(&f->w, (uint16_t)(8 + payload));
	fy_wr_u16(&f->w, 0);
	fy_wr_zero(&f->w, payload);
}

/* ---- decoding helpers ---- */

/* Decodes from a heap copy of exactly `len` bytes: ASan sees overreads. */
static int decode_exact(int dlt, const uint8_t *b, size_t len, size_t wire,
			unsigned opts, struct fy_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	int st;

	assert_non_null(copy);
	if (len)
		memcpy(copy, b, len);
	st = fy_pkt_decode(dlt, len ? copy : NULL, len, wire, opts, p);
	free(copy);
	return st;
}

static void expect_v4_addrs(const struct fy_pkt *p)
{
	assert_int_equal(p->family, FY_AF_INET);
	assert_true(fy_addr_is_v4(&p->src));
	assert_memory_equal(p->src.b + 12, v4_a, 4);
	assert_memory_equal(p->dst.b + 12, v4_b, 4);
}

static void expect_v6_addrs(const struct fy_pkt *p)
{
	assert_int_equal(p->family, FY_AF_INET6);
	assert_memory_equal(p->src.b, v6_a, 16);
	assert_memory_equal(p->dst.b, v6_b, 16);
}

/*
 * Every prefix of the frame: shorter than `min_ok` must be refused (not
 * IP or truncated), longer must decode; from `l4_at` on the transport
 * header must be there. Nothing may crash or read past the prefix.
 */
static void check_prefixes(int dlt, const struct frame *f, size_t min_ok,
			   size_t l4_at)
{
	size_t len = fr_len(f), n;

	for (n = 0; n < len; n++) {
		struct fy_pkt p;
		int st = decode_exact(dlt, f->b, n, len, 0, &p);

		if (n < min_ok) {
			assert_true(st == FY_PKT_TRUNCATED ||
				    st == FY_PKT_NOT_IP);
			continue;
		}
		assert_int_equal(st, FY_PKT_OK);
		assert_true(p.flags & FY_PKT_F_SNAPPED);
		if (n >= l4_at)
			assert_false(p.flags & FY_PKT_F_NO_L4);
		else
			assert_true(p.flags & FY_PKT_F_NO_L4);
	}
}

/* ---- hand-built frames ---- */

static void test_ether_ipv4_tcp(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 6, 0, 20, 7, 0x4000);
	tcp(&f, 40000, 443, 0x12);
	fy_wr_zero(&f.w, 6); /* Ethernet padding: not counted */
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.tcp_flags, 0x12);
	assert_int_equal(p.tos, 0x28);
	assert_int_equal(p.ip_len, 40);
	assert_int_equal(p.flags, FY_PKT_F_MACS);
	assert_memory_equal(p.src_mac, mac_a, 6);
	assert_memory_equal(p.dst_mac, mac_b, 6);
	/* addresses complete at 14 + 20, TCP ports at + 4 */
	f.w.p -= 6;
	check_prefixes(FY_DLT_EN10MB, &f, 34, 38);
}

static void test_ipv4_options_udp(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 17, 8, 8 + 3, 1, 0);
	udp(&f, 53, 5353, 3);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_int_equal(p.sport, 53);
	assert_int_equal(p.dport, 5353);
	assert_int_equal(p.ip_len, 28 + 11);
	check_prefixes(FY_DLT_EN10MB, &f, 34, 14 + 28 + 4);
}

static void test_vlan_qinq(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	fr_init(&f);
	eth(&f, 0x88a8);
	vlan(&f, 100, 0x8100);
	vlan(&f, 200, 0x0800);
	ipv4(&f, 17, 0, 8, 1, 0);
	udp(&f, 1, 2, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_int_equal(p.vlan, 100);
	assert_int_equal(p.inner_vlan, 200);
	assert_true(p.flags & FY_PKT_F_VLAN);
	assert_int_equal(p.sport, 1);
	assert_int_equal(p.dport, 2);
	check_prefixes(FY_DLT_EN10MB, &f, 22 + 20, 22 + 24);

	/* one 802.1Q tag */
	fr_init(&f);
	eth(&f, 0x8100);
	vlan(&f, 4094, 0x86dd);
	ipv6(&f, 17, 8);
	udp(&f, 3, 4, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v6_addrs(&p);
	assert_int_equal(p.vlan, 4094);
	assert_int_equal(p.inner_vlan, 0);
	assert_int_equal(p.tos, 0x2e);
	assert_int_equal(p.ip_len, 48);
}

static void test_mpls(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	/* two labels, then IPv4 */
	fr_init(&f);
	eth(&f, 0x8847);
	fy_wr_u32(&f.w, 16000u << 12 | 0x40);	   /* label 16000 */
	fy_wr_u32(&f.w, 17u << 12 | 0x100 | 0x40); /* bottom */
	ipv4(&f, 6, 0, 20, 9, 0);
	tcp(&f, 22, 50000, 0x10);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_true(p.flags & FY_PKT_F_MPLS);
	assert_int_equal(p.mpls_label, 16000);
	assert_int_equal(p.sport, 22);
	check_prefixes(FY_DLT_EN10MB, &f, 22 + 20, 22 + 24);

	/* Ethernet pseudowire with a control word, VLAN inside, IPv6 */
	fr_init(&f);
	eth(&f, 0x8847);
	fy_wr_u32(&f.w, 99u << 12 | 0x100 | 0x40);
	fy_wr_u32(&f.w, 0); /* control word */
	eth(&f, 0x8100);
	vlan(&f, 7, 0x86dd);
	ipv6(&f, 17, 8);
	udp(&f, 123, 123, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v6_addrs(&p);
	assert_int_equal(p.mpls_label, 99);
	assert_int_equal(p.vlan, 7);
	assert_int_equal(p.dport, 123);
	/* the MACs are the outer frame's */
	assert_memory_equal(p.src_mac, mac_a, 6);

	/* a label stack that never ends is refused, not looped over */
	fr_init(&f);
	eth(&f, 0x8847);
	for (int i = 0; i < 40; i++)
		fy_wr_u32(&f.w, 5u << 12);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_MALFORMED);
}

static void test_pppoe_llc_arp(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	fr_init(&f);
	eth(&f, 0x8864);
	fy_wr_u8(&f.w, 0x11);
	fy_wr_u8(&f.w, 0);
	fy_wr_u16(&f.w, 0x1234);
	fy_wr_u16(&f.w, 2 + 28);
	fy_wr_u16(&f.w, 0x0021);
	ipv4(&f, 17, 0, 8, 1, 0);
	udp(&f, 67, 68, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_int_equal(p.dport, 68);

	/* 802.3 length + LLC (STP): no IP */
	fr_init(&f);
	eth(&f, 38);
	fy_wr_u8(&f.w, 0x42);
	fy_wr_u8(&f.w, 0x42);
	fy_wr_u8(&f.w, 0x03);
	fy_wr_zero(&f.w, 35);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_NOT_IP);

	/* 802.3 + SNAP carrying IPv4 */
	fr_init(&f);
	eth(&f, 8 + 28);
	fy_wr_u8(&f.w, 0xaa);
	fy_wr_u8(&f.w, 0xaa);
	fy_wr_u8(&f.w, 0x03);
	fy_wr_zero(&f.w, 3);
	fy_wr_u16(&f.w, 0x0800);
	ipv4(&f, 17, 0, 8, 1, 0);
	udp(&f, 1, 2, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);

	/* ARP */
	fr_init(&f);
	eth(&f, 0x0806);
	fy_wr_zero(&f.w, 28);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_NOT_IP);
}

static void test_sll_sll2_raw_null(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	/* SLL: packet type, ARPHRD_ETHER, 6-byte address, protocol */
	fr_init(&f);
	fy_wr_u16(&f.w, 0);
	fy_wr_u16(&f.w, 1);
	fy_wr_u16(&f.w, 6);
	fy_wr_bytes(&f.w, mac_a, 6);
	fy_wr_u16(&f.w, 0);
	fy_wr_u16(&f.w, 0x0800);
	ipv4(&f, 6, 0, 20, 1, 0);
	tcp(&f, 1, 2, 0x01);
	assert_int_equal(fy_pkt_decode(FY_DLT_LINUX_SLL, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_memory_equal(p.src_mac, mac_a, 6);
	assert_int_equal(p.tcp_flags, 0x01);
	check_prefixes(FY_DLT_LINUX_SLL, &f, 36, 40);

	/* SLL2: protocol first, interface index */
	fr_init(&f);
	fy_wr_u16(&f.w, 0x86dd);
	fy_wr_u16(&f.w, 0);
	fy_wr_u32(&f.w, 7);
	fy_wr_u16(&f.w, 1);
	fy_wr_u8(&f.w, 0);
	fy_wr_u8(&f.w, 6);
	fy_wr_bytes(&f.w, mac_b, 6);
	fy_wr_u16(&f.w, 0);
	ipv6(&f, 6, 20);
	tcp(&f, 5, 6, 0x04);
	assert_int_equal(fy_pkt_decode(FY_DLT_LINUX_SLL2, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v6_addrs(&p);
	assert_int_equal(p.ifindex, 7);
	assert_int_equal(p.tcp_flags, 0x04);
	check_prefixes(FY_DLT_LINUX_SLL2, &f, 60, 64);

	/* raw IP, both versions, under every raw link type */
	fr_init(&f);
	ipv4(&f, 17, 0, 8, 1, 0);
	udp(&f, 9, 10, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_RAW, f.b, fr_len(&f), fr_len(&f),
				       0, &p),
			 FY_PKT_OK);
	assert_int_equal(fy_pkt_decode(FY_DLT_IPV4, f.b, fr_len(&f), fr_len(&f),
				       0, &p),
			 FY_PKT_OK);
	assert_int_equal(fy_pkt_decode(FY_DLT_IPV6, f.b, fr_len(&f), fr_len(&f),
				       0, &p),
			 FY_PKT_MALFORMED);
	assert_int_equal(fy_pkt_decode(FY_DLT_LINKTYPE_RAW, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	check_prefixes(FY_DLT_RAW, &f, 20, 24);

	/* BSD loopback, family 2 in host (little-endian) order */
	fr_init(&f);
	fy_wr_u32(&f.w, 0x02000000u);
	ipv6(&f, 17, 8);
	udp(&f, 1, 2, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_NULL, f.b, fr_len(&f), fr_len(&f),
				       0, &p),
			 FY_PKT_MALFORMED); /* family says IPv4, header is 6 */
	fr_init(&f);
	fy_wr_u32(&f.w, 30); /* Darwin AF_INET6, network order (LOOP) */
	ipv6(&f, 17, 8);
	udp(&f, 1, 2, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_LOOP, f.b, fr_len(&f), fr_len(&f),
				       0, &p),
			 FY_PKT_OK);
	expect_v6_addrs(&p);

	assert_int_equal(fy_pkt_decode(147, f.b, fr_len(&f), fr_len(&f), 0, &p),
			 FY_PKT_BAD_LINKTYPE);
	assert_false(fy_pkt_linktype_supported(147));
	assert_true(fy_pkt_linktype_supported(FY_DLT_LINUX_SLL2));
}

static void test_ipv4_fragments(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	/* first fragment: MF set, offset 0, ports there */
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 17, 0, 1480, 0xbeef, 0x2000);
	udp(&f, 1000, 2000, 1472);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, 60, fr_len(&f), 0,
				       &p),
			 FY_PKT_OK);
	assert_int_equal(p.flags & (FY_PKT_F_FRAG | FY_PKT_F_FRAG_LATER),
			 FY_PKT_F_FRAG);
	assert_int_equal(p.frag_id, 0xbeef);
	assert_int_equal(p.sport, 1000);
	assert_int_equal(p.ip_len, 1500);
	assert_true(p.flags & FY_PKT_F_SNAPPED);

	/* later fragment: no ports read, even if the bytes look like some */
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 17, 0, 100, 0xbeef, 185);
	udp(&f, 7, 7, 92);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_true(p.flags & FY_PKT_F_FRAG_LATER);
	assert_true(p.flags & FY_PKT_F_NO_L4);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.ip_len, 120);
}

static void test_ipv6_ext_and_fragments(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	/* hop-by-hop (8), destination options (16), then UDP */
	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 0, 8 + 16 + 8);
	fy_wr_u8(&f.w, 60);
	fy_wr_u8(&f.w, 0);
	fy_wr_zero(&f.w, 6);
	fy_wr_u8(&f.w, 17);
	fy_wr_u8(&f.w, 1);
	fy_wr_zero(&f.w, 14);
	udp(&f, 546, 547, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v6_addrs(&p);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.sport, 546);
	assert_int_equal(p.ip_len, 72);
	check_prefixes(FY_DLT_EN10MB, &f, 54, 54 + 24 + 4);

	/* AH (length in 4-byte units minus 2), then TCP */
	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 51, 24 + 20);
	fy_wr_u8(&f.w, 6);
	fy_wr_u8(&f.w, 4); /* (4 + 2) * 4 = 24 bytes */
	fy_wr_zero(&f.w, 22);
	tcp(&f, 80, 8080, 0x18);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.dport, 8080);

	/* fragment header, first fragment */
	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 44, 8 + 8);
	fy_wr_u8(&f.w, 17);
	fy_wr_u8(&f.w, 0);
	fy_wr_u16(&f.w, 0x0001); /* offset 0, M */
	fy_wr_u32(&f.w, 0xcafe0001);
	udp(&f, 53, 33333, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_int_equal(p.flags & (FY_PKT_F_FRAG | FY_PKT_F_FRAG_LATER),
			 FY_PKT_F_FRAG);
	assert_int_equal(p.frag_id, 0xcafe0001);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.sport, 53);

	/* later fragment */
	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 44, 8 + 8);
	fy_wr_u8(&f.w, 17);
	fy_wr_u8(&f.w, 0);
	fy_wr_u16(&f.w, 1448 / 8 << 3);
	fy_wr_u32(&f.w, 0xcafe0001);
	fy_wr_zero(&f.w, 8);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_true(p.flags & FY_PKT_F_FRAG_LATER);
	assert_true(p.flags & FY_PKT_F_NO_L4);
	assert_int_equal(p.proto, 17);
	assert_int_equal(p.sport, 0);

	/* a chain longer than any sane one stops, without a transport */
	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 60, 20 * 8);
	for (int i = 0; i < 20; i++) {
		fy_wr_u8(&f.w, 60);
		fy_wr_u8(&f.w, 0);
		fy_wr_zero(&f.w, 6);
	}
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_true(p.flags & FY_PKT_F_NO_L4);
}

static void test_icmp_sctp(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 1, 0, 8, 1, 0);
	fy_wr_u8(&f.w, 3); /* destination unreachable */
	fy_wr_u8(&f.w, 13);
	fy_wr_zero(&f.w, 6);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_int_equal(p.proto, 1);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 13);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	check_prefixes(FY_DLT_EN10MB, &f, 34, 36);

	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 58, 8);
	fy_wr_u8(&f.w, 128);
	fy_wr_u8(&f.w, 0);
	fy_wr_zero(&f.w, 6);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_int_equal(p.proto, 58);
	assert_int_equal(p.icmp_type, 128);

	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 132, 0, 12, 1, 0);
	fy_wr_u16(&f.w, 2905);
	fy_wr_u16(&f.w, 38412);
	fy_wr_zero(&f.w, 8);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_int_equal(p.proto, 132);
	assert_int_equal(p.sport, 2905);
	assert_int_equal(p.dport, 38412);

	/* GRE: a protocol without ports is not "missing its header" */
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 47, 0, 4, 1, 0);
	fy_wr_zero(&f.w, 4);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_false(p.flags & FY_PKT_F_NO_L4);
}

static void test_6in4(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 41, 0, 40 + 20, 1, 0);
	ipv6(&f, 6, 20);
	tcp(&f, 443, 51000, 0x11);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	expect_v6_addrs(&p);
	assert_true(p.flags & FY_PKT_F_TUNNEL);
	assert_int_equal(p.proto, 6);
	assert_int_equal(p.sport, 443);
	assert_int_equal(p.ip_len, 60); /* the inner packet's bytes */
	/* cut inside the inner header: the outer header is the flow */
	assert_int_equal(decode_exact(FY_DLT_EN10MB, f.b, 34 + 30, fr_len(&f),
				      0, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_int_equal(p.proto, 41);
	assert_false(p.flags & FY_PKT_F_TUNNEL);

	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), FY_PKT_O_NO_DECAP, &p),
			 FY_PKT_OK);
	expect_v4_addrs(&p);
	assert_int_equal(p.proto, 41);
	assert_int_equal(p.ip_len, 80);
}

static void test_length_fields(void **state)
{
	struct frame f;
	struct fy_pkt p;

	(void)state;
	/* IPv4 total length 0 (segmentation offload): the wire length */
	fr_init(&f);
	eth(&f, 0x0800);
	ipv4(&f, 6, 0, 20, 1, 0);
	tcp(&f, 1, 2, 0x10);
	fy_put_u16(f.b + 16, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f), 9014, 0,
				       &p),
			 FY_PKT_OK);
	assert_int_equal(p.ip_len, 9000);

	/* a total length below the header length is malformed */
	fy_put_u16(f.b + 16, 12);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_MALFORMED);
	/* so is an IHL under 5 */
	fy_put_u16(f.b + 16, 40);
	f.b[14] = 0x44;
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_MALFORMED);
	/* and an EtherType IPv4 with a version 6 header */
	f.b[14] = 0x65;
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_MALFORMED);

	/* a length field beyond the frame: counted as the header says */
	fr_init(&f);
	eth(&f, 0x86dd);
	ipv6(&f, 17, 1000);
	udp(&f, 1, 2, 0);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, fr_len(&f),
				       fr_len(&f), 0, &p),
			 FY_PKT_OK);
	assert_int_equal(p.ip_len, 1040);
	assert_true(p.flags & FY_PKT_F_SNAPPED);
	assert_int_equal(p.dport, 2);

	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, NULL, 0, 0, 0, &p),
			 FY_PKT_TRUNCATED);
	assert_int_equal(fy_pkt_decode(FY_DLT_EN10MB, f.b, 1, 1, 0, NULL),
			 FY_PKT_MALFORMED);
	assert_string_equal(fy_pkt_status_str(FY_PKT_NOT_IP), "not IP");
}

/* ---- bundled captures ---- */

struct want_cap {
	const char *path;
	uint64_t frames, v4, v6, bytes, not_ip;
	int dlt;
};

static const struct want_cap caps[] = {
	{TRAFFIC "tcpreplay/test.pcap", 179, 166, 10, 64677, 3, 1},
	{TRAFFIC "zeek/mixed-vlan-mpls.pcap", 47, 47, 0, 15327, 0, 1},
	{TRAFFIC "zeek/q-in-q.pcap", 5, 4, 0, 700, 1, 1},
	{TRAFFIC "ndpi/6in4tunnel.pcap", 127, 0, 127, 35975, 0, 1},
	{TRAFFIC "zeek/ipv6-fragmented-dns.pcap", 8, 0, 8, 4508, 0, 1},
	{TRAFFIC "zeek/ipv4/fragmented-3.pcap", 5, 5, 0, 7500, 0, 1},
	{TRAFFIC "ipfixprobe/mixed.pcap", 205, 118, 39, 21606, 48, 1},
	{TRAFFIC "ipfixprobe/vlan.pcap", 6, 6, 0, 1020, 0, 1},
	{TRAFFIC "ndpi/1kxun.pcap", 1723, 1659, 64, 2503232, 0, 1},
	{TRAFFIC "ndpi/alexa-app.pcapng", 3103, 3062, 12, 1124321, 29, 1},
	{TRAFFIC "zeek/icmp_dot1q.pcap", 15, 9, 0, 900, 6, 1},
	{TRAFFIC "zeek/ftp/ipv6.pcap", 136, 0, 136, 14575, 0, 1},
	/* Linux cooked capture (SLL) */
	{"tests/data/netflow/pmacct/"
	 "112-IPFIXv10-CISCO-options-map-reassignment/traffic-00.pcap",
	 21, 0, 21, 12132, 0, 113},
};

static void test_captures(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		const struct want_cap *w = &caps[i];
		char err[PCAP_ERRBUF_SIZE];
		pcap_t *pc = pcap_open_offline(w->path, err);
		struct pcap_pkthdr *h;
		const u_char *d;
		uint64_t frames = 0, v4 = 0, v6 = 0, bytes = 0, not_ip = 0;
		int dlt;

		if (pc == NULL)
			fail_msg("%s", err);
		dlt = pcap_datalink(pc);
		assert_int_equal(dlt, w->dlt);
		while (pcap_next_ex(pc, &h, &d) == 1) {
			struct fy_pkt p;
			int st = decode_exact(dlt, d, h->caplen, h->len, 0, &p);

			frames++;
			if (st == FY_PKT_NOT_IP) {
				not_ip++;
				continue;
			}
			if (st != FY_PKT_OK)
				fail_msg("%s frame %" PRIu64 ": %s", w->path,
					 frames, fy_pkt_status_str(st));
			bytes += p.ip_len;
			if (p.family == FY_AF_INET)
				v4++;
			else
				v6++;
		}
		pcap_close(pc);
		if (frames != w->frames || v4 != w->v4 || v6 != w->v6 ||
		    bytes != w->bytes || not_ip != w->not_ip)
			fail_msg("%s: frames %" PRIu64 " v4 %" PRIu64
				 " v6 %" PRIu64 " bytes %" PRIu64
				 " not-ip %" PRIu64,
				 w->path, frames, v4, v6, bytes, not_ip);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ether_ipv4_tcp),
		cmocka_unit_test(test_ipv4_options_udp),
		cmocka_unit_test(test_vlan_qinq),
		cmocka_unit_test(test_mpls),
		cmocka_unit_test(test_pppoe_llc_arp),
		cmocka_unit_test(test_sll_sll2_raw_null),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6_ext_and_fragments),
		cmocka_unit_test(test_icmp_sctp),
		cmocka_unit_test(test_6in4),
		cmocka_unit_test(test_length_fields),
		cmocka_unit_test(test_captures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
