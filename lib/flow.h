/*
 * flow.h - the one in-memory shape of a flow.
 *
 * Decoders fill it, the store writes it, filters and statistics read it, the
 * encoder sends it. Fixed size, no pointers, so arrays of it can be copied,
 * written and compared freely. Addresses are 16 bytes in every family: IPv4
 * is kept as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) so that one code
 * path compares and hashes both; `family` says which one the exporter sent.
 */
#ifndef FY_FLOW_H
#define FY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fy_family {
	FY_AF_NONE = 0,
	FY_AF_INET = 4,
	FY_AF_INET6 = 6,
};

/* flowEndReason (IE 136), RFC 5102 values. */
enum fy_end_reason {
	FY_END_UNKNOWN = 0,
	FY_END_IDLE = 1,
	FY_END_ACTIVE = 2,
	FY_END_EOF = 3,	   /* end of flow detected: FIN or RST */
	FY_END_FORCED = 4, /* shutdown, flush, expire-all */
	FY_END_LACK_OF_RESOURCES = 5,
};

/* Where a record came from on the wire. */
enum fy_nf_version {
	FY_NF_NONE = 0,
	FY_NF_V5 = 5,
	FY_NF_V9 = 9,
	FY_NF_IPFIX = 10,
};

struct fy_addr {
	uint8_t b[16];
};

struct fy_flow {
	uint64_t first_ms; /* first packet, ms since the Unix epoch */
	uint64_t last_ms;  /* last packet, ms since the Unix epoch */
	uint64_t packets;  /* in the record's direction (initiator for NSEL) */
	uint64_t bytes;	   /* IP bytes: total length, no link layer */
	uint64_t out_packets; /* reverse direction: biflow, NSEL responder */
	uint64_t out_bytes;

	struct fy_addr src;
	struct fy_addr dst;
	struct fy_addr nexthop;	    /* ipNextHop (15/62) */
	struct fy_addr bgp_nexthop; /* bgpNextHop (18/63) */
	struct fy_addr exporter;    /* packet source, or IE 130/131 if sent */
	struct fy_addr xlate_src;   /* NAT: postNAT source (225/281, NSEL) */
	struct fy_addr xlate_dst;

	uint32_t input_if;
	uint32_t output_if;
	uint32_t src_as;
	uint32_t dst_as;
	uint32_t domain; /* observation domain / v9 source id / v5 engine */
	uint32_t sampling_interval; /* 1-in-N; 0 or 1 means unsampled */
	uint32_t mpls_label;	    /* top label, 20 bits (IE 70) */

	uint16_t src_port;
	uint16_t dst_port;
	uint16_t xlate_src_port;
	uint16_t xlate_dst_port;
	uint16_t vlan;	   /* vlanId (58) */
	uint16_t out_vlan; /* postVlanId (59) */
	uint16_t exporter_port;

	uint8_t family; /* enum fy_family of src/dst */
	uint8_t exporter_family;
	uint8_t proto;
	uint8_t tcp_flags;
	uint8_t tos;
	uint8_t src_mask;
	uint8_t dst_mask;
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint8_t end_reason;	   /* enum fy_end_reason */
	uint8_t direction;	   /* flowDirection (61): 0 ingress, 1 egress */
	uint8_t fw_event;	   /* firewallEvent (233) / NSEL event */
	uint8_t forwarding_status; /* IE 89 */
	uint8_t engine_type;
	uint8_t engine_id;
	uint8_t nf_version; /* enum fy_nf_version it arrived as, 0 if local */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
};

/* Address helpers: IPv4 lives in ::ffff:0:0/96. */
void fy_addr_set_v4(struct fy_addr *a, uint32_t host_order);
void fy_addr_set_v4_bytes(struct fy_addr *a, const uint8_t v4[4]);
bool fy_addr_is_v4(const struct fy_addr *a);
uint32_t fy_addr_v4(const struct fy_addr *a); /* host order; 0 if not v4 */
bool fy_addr_is_zero(const struct fy_addr *a);

/*
 * Formats an address as text: dotted quad for IPv4-mapped, RFC 5952 for
 * IPv6. `buf` must hold FY_ADDR_STRLEN bytes. Returns buf.
 */
#define FY_ADDR_STRLEN 46
char *fy_addr_str(const struct fy_addr *a, char *buf, size_t len);

/* Parses dotted quad or IPv6 text. Returns 0, or -1 if not an address. */
int fy_addr_parse(const char *s, struct fy_addr *a, uint8_t *family);

#endif
