/*
 * pkt_decode.h - one captured frame to the fields a flow is keyed and
 * counted by.
 *
 * The probe's packet decoder: link layer (Ethernet with 802.1Q / 802.1ad /
 * QinQ tags, MPLS label stacks and pseudowires, PPPoE, Linux cooked capture
 * SLL and SLL2, raw IP, BSD loopback), IPv4 (options, fragments), IPv6
 * (extension headers, fragments), IPv6-in-IPv4 (6in4, protocol 41) and
 * IPv4-in-IPv4 tunnels, and the transport header (TCP, UDP, UDP-Lite, SCTP,
 * DCCP ports, TCP flags, ICMP and ICMPv6 type and code).
 *
 * Every header is read through the bounded reader of wire.h within the
 * captured length; nothing is cast, nothing is allocated, the frame is only
 * read. A frame cut short after the IP addresses still yields its flow
 * fields (ports may then be missing: FY_PKT_F_NO_L4); a frame cut before
 * them is refused with FY_PKT_TRUNCATED.
 *
 * Byte counts are IP bytes: the IP header's total length (IPv6: payload
 * length plus 40), never the frame length with its link header or Ethernet
 * padding. When the IP length field is zero (TCP segmentation offload seen
 * on the sending host, IPv6 jumbograms) the length on the wire is used.
 */
#ifndef FY_PKT_DECODE_H
#define FY_PKT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Link types, numbered as pcap_datalink() returns them on Linux. */
#define FY_DLT_NULL 0
#define FY_DLT_EN10MB 1
#define FY_DLT_RAW 12
#define FY_DLT_RAW_OPENBSD 14
#define FY_DLT_LINKTYPE_RAW 101 /* should a libpcap pass it through */
#define FY_DLT_LOOP 108
#define FY_DLT_LINUX_SLL 113
#define FY_DLT_IPV4 228
#define FY_DLT_IPV6 229
#define FY_DLT_LINUX_SLL2 276

/* What fy_pkt_decode() returns. */
enum fy_pkt_status {
	FY_PKT_OK = 0,
	FY_PKT_NOT_IP = 1,	 /* ARP, LLC, STP, ...: no flow */
	FY_PKT_TRUNCATED = 2,	 /* cut before the IP addresses */
	FY_PKT_MALFORMED = 3,	 /* an impossible header (IHL < 5, ...) */
	FY_PKT_BAD_LINKTYPE = 4, /* link type not decoded */
};

/* Bits of fy_pkt.flags. */
enum fy_pkt_flag {
	FY_PKT_F_FRAG = 1 << 0,	      /* a fragment (any) */
	FY_PKT_F_FRAG_LATER = 1 << 1, /* a fragment with offset > 0 */
	FY_PKT_F_NO_L4 = 1 << 2,      /* transport header absent or cut */
	FY_PKT_F_MACS = 1 << 3,	      /* src_mac/dst_mac are set */
	FY_PKT_F_TUNNEL = 1 << 4,     /* inner header of a 6in4/4in4 tunnel */
	FY_PKT_F_VLAN = 1 << 5,	      /* at least one 802.1Q tag */
	FY_PKT_F_MPLS = 1 << 6,	      /* mpls_label is set */
	FY_PKT_F_SNAPPED = 1 << 7,    /* the IP packet was not all captured */
};

/* Decoder options. */
enum fy_pkt_opt {
	/* Keep the outer IPv4 header of 6in4 and 4in4 tunnels as the flow. */
	FY_PKT_O_NO_DECAP = 1 << 0,
};

/*
 * The decoded frame. Addresses are IPv4-mapped for IPv4 (flow.h). For
 * ICMP/ICMPv6 the ports are zero and icmp_type/icmp_code are set. For a
 * non-first fragment the ports are zero and FY_PKT_F_NO_L4 is set: the
 * flow cache finds them by frag_id.
 */
struct fy_pkt {
	struct fy_addr src;
	struct fy_addr dst;
	uint32_t ip_len;     /* IP total length: the bytes a flow counts */
	uint32_t frag_id;    /* IPv4 identification or IPv6 fragment id */
	uint32_t mpls_label; /* top label, 20 bits, with FY_PKT_F_MPLS */
	uint32_t ifindex;    /* SLL2 interface index, else 0 */
	uint16_t sport;
	uint16_t dport;
	uint16_t vlan;	     /* outermost 802.1Q/802.1ad VLAN id */
	uint16_t inner_vlan; /* second tag of QinQ, else 0 */
	uint16_t flags;	     /* enum fy_pkt_flag */
	uint8_t family;	     /* FY_AF_INET or FY_AF_INET6 */
	uint8_t proto;	     /* transport protocol (after IPv6 ext headers) */
	uint8_t tos;	     /* IPv4 ToS / IPv6 traffic class */
	uint8_t tcp_flags;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
};

/*
 * Decodes one frame of link type `dlt` (a pcap_datalink() value).
 * `caplen` bytes are readable at `frame`; `wirelen` is the frame's length
 * on the wire (pcap's len), used only when an IP length field is zero.
 * `opts` is a mask of enum fy_pkt_opt.
 *
 * \return FY_PKT_OK with `out` filled, or another enum fy_pkt_status with
 *         `out` in an unspecified state. Never reads outside
 *         [frame, frame + caplen).
 */
int fy_pkt_decode(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		  unsigned opts, struct fy_pkt *out);

/* Whether fy_pkt_decode() knows the link type. */
int fy_pkt_linktype_supported(int dlt);

/* A short name for a status, for messages and counters. */
const char *fy_pkt_status_str(int status);

#endif
