/*
 * pkt_decode.c - captured frames to flow fields, see pkt_decode.h.
 *
 * The frame goes down the layers with one bounded reader: the link layer
 * hands an EtherType to a small loop that peels VLAN tags, MPLS labels and
 * PPPoE until it reaches IPv4 or IPv6; the IP layer limits the reader to
 * the IP payload (what the length field says, or less if not captured) and
 * the transport layer reads ports, flags or ICMP type and code from it.
 * Tunnels (6in4, 4in4, 6in6, 4in6) go back to the IP layer once more with
 * the inner packet, up to MAX_TUNNELS deep.
 */
#include "pkt_decode.h"

#include <string.h>

#include "wire.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100	   /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8	   /* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD1 0x9100 /* pre-standard QinQ */
#define ETHERTYPE_QINQ_OLD2 0x9200
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE 0x8864
/* Below this an Ethernet "type" is an 802.3 length: LLC follows. */
#define ETHERTYPE_MIN 0x0600

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define LLC_SNAP 0xaa
#define LLC_UI 0x03

/* Bounds on how much a hostile frame can make us loop. */
#define MAX_LINK_STEPS 16 /* tags, label stacks and PPPoE in a row */
#define MAX_MPLS_LABELS 16
#define MAX_IPV6_EXT 16
#define MAX_TUNNELS 2

#define IP_PROTO_HOPOPTS 0
#define IP_PROTO_ICMP 1
#define IP_PROTO_IPIP 4
#define IP_PROTO_TCP 6
#define IP_PROTO_DCCP 33
#define IP_PROTO_UDP 17
#define IP_PROTO_IPV6 41
#define IP_PROTO_ROUTING 43
#define IP_PROTO_FRAGMENT 44
#define IP_PROTO_AH 51
#define IP_PROTO_ICMPV6 58
#define IP_PROTO_DSTOPTS 60
#define IP_PROTO_SCTP 132
#define IP_PROTO_MOBILITY 135
#define IP_PROTO_UDPLITE 136
#define IP_PROTO_HIP 139
#define IP_PROTO_SHIM6 140

#define IPV4_MF 0x2000
#define IPV4_OFFMASK 0x1fff

/* Address families in a NULL/LOOP header: IPv4 is 2 everywhere, IPv6 not. */
#define BSD_AF_INET 2
#define LINUX_AF_INET6 10
#define BSD_AF_INET6 24
#define FREEBSD_AF_INET6 28
#define DARWIN_AF_INET6 30

/* SLL protocol values that are not EtherTypes. */
#define SLL_P_802_3 0x0001
#define SLL_P_802_2 0x0004
#define ARPHRD_ETHER 1

/* One frame's decoding state. */
struct dec {
	struct fy_pkt *out;
	const uint8_t *frame;
	size_t wirelen;
	unsigned opts;
	int tunnels; /* tunnel headers gone through */
	int tags;    /* VLAN tags seen */
};

static int decode_ip(struct dec *d, struct fy_rd *r, int version);

/* Bytes of the frame on the wire from the reader's position on. */
static size_t wire_left(const struct dec *d, const struct fy_rd *r)
{
	size_t off = (size_t)(r->p - d->frame);

	return d->wirelen > off ? d->wirelen - off : 0;
}

/* The IP version from the first nibble; 0 if neither 4 nor 6. */
static int peek_version(const struct fy_rd *r)
{
	int v;

	if (fy_rd_left(r) < 1)
		return 0;
	v = r->p[0] >> 4;
	return v == 4 || v == 6 ? v : 0;
}

/* ---- transport ---- */

static void decode_ports(struct fy_pkt *o, struct fy_rd *r)
{
	o->sport = fy_rd_u16(r);
	o->dport = fy_rd_u16(r);
	if (r->err) {
		o->sport = o->dport = 0;
		o->flags |= FY_PKT_F_NO_L4;
	}
}

static void decode_l4(struct fy_pkt *o, struct fy_rd *r)
{
	switch (o->proto) {
	case IP_PROTO_TCP:
		decode_ports(o, r);
		if (o->flags & FY_PKT_F_NO_L4)
			return;
		fy_rd_skip(r, 9); /* sequence, ack, data offset */
		o->tcp_flags = fy_rd_u8(r);
		break;
	case IP_PROTO_UDP:
	case IP_PROTO_UDPLITE:
	case IP_PROTO_SCTP:
	case IP_PROTO_DCCP:
		decode_ports(o, r);
		break;
	case IP_PROTO_ICMP:
	case IP_PROTO_ICMPV6:
		o->icmp_type = fy_rd_u8(r);
		o->icmp_code = fy_rd_u8(r);
		if (r->err) {
			o->icmp_type = o->icmp_code = 0;
			o->flags |= FY_PKT_F_NO_L4;
		}
		break;
	default:
		break;
	}
}

/*
 * An IP-in-IP payload: decode the inner packet as the flow. If it does not
 * decode, the outer header stays the flow, as if it were not a tunnel.
 */
static void decode_tunnel(struct dec *d, struct fy_rd *payload, int version)
{
	struct fy_pkt outer = *d->out;
	struct fy_rd r = *payload;

	if ((d->opts & FY_PKT_O_NO_DECAP) || d->tunnels >= MAX_TUNNELS ||
	    peek_version(&r) != version)
		return;
	d->tunnels++;
	memset(&d->out->src, 0, sizeof(d->out->src));
	memset(&d->out->dst, 0, sizeof(d->out->dst));
	d->out->flags &= (uint16_t) ~(FY_PKT_F_FRAG | FY_PKT_F_FRAG_LATER |
				      FY_PKT_F_NO_L4 | FY_PKT_F_SNAPPED);
	d->out->sport = d->out->dport = 0;
	d->out->tcp_flags = d->out->icmp_type = d->out->icmp_code = 0;
	if (decode_ip(d, &r, version) == FY_PKT_OK)
		d->out->flags |= FY_PKT_F_TUNNEL;
	else
		*d->out = outer;
}

/* After the IP header: tunnel, later fragment or transport header. */
static void decode_payload(struct dec *d, struct fy_rd *payload)
{
	struct fy_pkt *o = d->out;

	if (o->flags & FY_PKT_F_FRAG_LATER) {
		o->flags |= FY_PKT_F_NO_L4;
		return;
	}
	if (!(o->flags & FY_PKT_F_FRAG) &&
	    (o->proto == IP_PROTO_IPV6 || o->proto == IP_PROTO_IPIP)) {
		decode_tunnel(d, payload, o->proto == IP_PROTO_IPV6 ? 6 : 4);
		return;
	}
	decode_l4(o, payload);
}

/* ---- IPv4 ---- */

static int decode_ipv4(struct dec *d, struct fy_rd *r)
{
	struct fy_pkt *o = d->out;
	size_t wire = wire_left(d, r);
	size_t avail = fy_rd_left(r);
	uint8_t src[4], dst[4];
	uint16_t totlen, off;
	size_t hl;
	struct fy_rd payload;

	hl = (size_t)(fy_rd_u8(r) & 0x0f) * 4;
	o->tos = fy_rd_u8(r);
	totlen = fy_rd_u16(r);
	o->frag_id = fy_rd_u16(r);
	off = fy_rd_u16(r);
	fy_rd_skip(r, 1); /* TTL */
	o->proto = fy_rd_u8(r);
	fy_rd_skip(r, 2); /* checksum */
	fy_rd_bytes(r, src, 4);
	fy_rd_bytes(r, dst, 4);
	if (r->err)
		return FY_PKT_TRUNCATED;
	if (hl < 20)
		return FY_PKT_MALFORMED;
	/* Zero: segmentation offload on the capturing host. */
	o->ip_len = totlen != 0 ? totlen : (uint32_t)wire;
	if (o->ip_len < hl)
		return FY_PKT_MALFORMED;
	o->family = FY_AF_INET;
	fy_addr_set_v4_bytes(&o->src, src);
	fy_addr_set_v4_bytes(&o->dst, dst);
	if (avail < o->ip_len)
		o->flags |= FY_PKT_F_SNAPPED;
	if (off & (IPV4_MF | IPV4_OFFMASK))
		o->flags |= FY_PKT_F_FRAG;
	if (off & IPV4_OFFMASK)
		o->flags |= FY_PKT_F_FRAG_LATER;

	fy_rd_skip(r, hl - 20); /* options */
	if (r->err) {
		o->flags |= FY_PKT_F_NO_L4;
		return FY_PKT_OK;
	}
	payload = fy_rd_sub(r, fy_rd_left(r) < o->ip_len - hl ? fy_rd_left(r)
							      : o->ip_len - hl);
	decode_payload(d, &payload);
	return FY_PKT_OK;
}

/* ---- IPv6 ---- */

static bool is_ipv6_ext(uint8_t nh)
{
	switch (nh) {
	case IP_PROTO_HOPOPTS:
	case IP_PROTO_ROUTING:
	case IP_PROTO_FRAGMENT:
	case IP_PROTO_AH:
	case IP_PROTO_DSTOPTS:
	case IP_PROTO_MOBILITY:
	case IP_PROTO_HIP:
	case IP_PROTO_SHIM6:
		return true;
	default:
		return false;
	}
}

/*
 * Walks the extension header chain; leaves o->proto at the transport
 * protocol and the reader on its header. Returns false if the chain is cut
 * or too long, with o->proto at the header that could not be passed.
 */
static bool skip_ipv6_ext(struct fy_pkt *o, struct fy_rd *r)
{
	int i;

	for (i = 0; i < MAX_IPV6_EXT && is_ipv6_ext(o->proto); i++) {
		uint8_t nh = fy_rd_u8(r);
		uint8_t len = fy_rd_u8(r); /* reserved in a fragment header */
		uint16_t offlg;

		switch (o->proto) {
		case IP_PROTO_FRAGMENT:
			offlg = fy_rd_u16(r);
			o->frag_id = fy_rd_u32(r);
			if (r->err)
				return false;
			o->flags |= FY_PKT_F_FRAG;
			if (offlg >> 3 != 0)
				o->flags |= FY_PKT_F_FRAG_LATER;
			break;
		case IP_PROTO_AH:
			fy_rd_skip(r, ((size_t)len + 2) * 4 - 2);
			break;
		default:
			fy_rd_skip(r, (size_t)len * 8 + 6);
			break;
		}
		if (r->err)
			return false;
		o->proto = nh;
		if (o->flags & FY_PKT_F_FRAG_LATER)
			return true;
	}
	return !is_ipv6_ext(o->proto);
}

static int decode_ipv6(struct dec *d, struct fy_rd *r)
{
	struct fy_pkt *o = d->out;
	size_t wire = wire_left(d, r);
	size_t avail = fy_rd_left(r);
	uint32_t vtcfl;
	uint16_t plen;
	struct fy_rd payload;

	vtcfl = fy_rd_u32(r);
	plen = fy_rd_u16(r);
	o->proto = fy_rd_u8(r);
	fy_rd_skip(r, 1); /* hop limit */
	fy_rd_bytes(r, o->src.b, 16);
	fy_rd_bytes(r, o->dst.b, 16);
	if (r->err)
		return FY_PKT_TRUNCATED;
	o->family = FY_AF_INET6;
	o->tos = (uint8_t)(vtcfl >> 20);
	/* Zero: a jumbogram, or segmentation offload on the capturing host. */
	o->ip_len = plen != 0 ? (uint32_t)plen + 40
			      : (wire > 40 ? (uint32_t)wire : 40);
	if (avail < o->ip_len)
		o->flags |= FY_PKT_F_SNAPPED;
	payload = fy_rd_sub(r, fy_rd_left(r) < o->ip_len - 40 ? fy_rd_left(r)
							      : o->ip_len - 40);
	if (!skip_ipv6_ext(o, &payload)) {
		o->flags |= FY_PKT_F_NO_L4;
		return FY_PKT_OK;
	}
	decode_payload(d, &payload);
	return FY_PKT_OK;
}

static int decode_ip(struct dec *d, struct fy_rd *r, int version)
{
	int v = peek_version(r);

	if (fy_rd_left(r) < 1)
		return FY_PKT_TRUNCATED;
	if (v != version)
		return FY_PKT_MALFORMED;
	return version == 4 ? decode_ipv4(d, r) : decode_ipv6(d, r);
}

/* ---- link layer ---- */

static int decode_ether_header(struct dec *d, struct fy_rd *r, uint16_t *type,
			       bool macs);

/* An 802.3 frame: only SNAP can carry an EtherType. */
static int decode_llc(struct fy_rd *r, uint16_t *type)
{
	uint8_t dsap = fy_rd_u8(r);
	uint8_t ssap = fy_rd_u8(r);
	uint8_t ctl = fy_rd_u8(r);

	if (r->err)
		return FY_PKT_NOT_IP;
	if (dsap != LLC_SNAP || ssap != LLC_SNAP || ctl != LLC_UI)
		return FY_PKT_NOT_IP;
	fy_rd_skip(r, 3); /* OUI */
	*type = fy_rd_u16(r);
	return r->err ? FY_PKT_NOT_IP : FY_PKT_OK;
}

/*
 * An MPLS label stack. What follows the bottom label is not announced: by
 * the first nibble, 4 or 6 is IP, 0 a pseudowire control word (RFC 4385)
 * before an Ethernet frame, anything else an Ethernet frame without one.
 */
static int decode_mpls(struct dec *d, struct fy_rd *r, uint16_t *type)
{
	int i;
	int v;

	for (i = 0; i < MAX_MPLS_LABELS; i++) {
		uint32_t lse = fy_rd_u32(r);

		if (r->err)
			return FY_PKT_TRUNCATED;
		if (!(d->out->flags & FY_PKT_F_MPLS)) {
			d->out->mpls_label = lse >> 12;
			d->out->flags |= FY_PKT_F_MPLS;
		}
		if (lse & 0x100) /* bottom of stack */
			break;
	}
	if (i == MAX_MPLS_LABELS)
		return FY_PKT_MALFORMED;
	if (fy_rd_left(r) < 1)
		return FY_PKT_TRUNCATED;
	v = r->p[0] >> 4;
	if (v == 4) {
		*type = ETHERTYPE_IPV4;
		return FY_PKT_OK;
	}
	if (v == 6) {
		*type = ETHERTYPE_IPV6;
		return FY_PKT_OK;
	}
	if (v == 0)
		fy_rd_skip(r, 4); /* control word */
	return decode_ether_header(d, r, type, false);
}

static int decode_pppoe(struct fy_rd *r, uint16_t *type)
{
	uint16_t proto;

	fy_rd_skip(r, 6); /* ver/type, code, session id, length */
	proto = fy_rd_u16(r);
	if (r->err)
		return FY_PKT_TRUNCATED;
	if (proto == PPP_IPV4)
		*type = ETHERTYPE_IPV4;
	else if (proto == PPP_IPV6)
		*type = ETHERTYPE_IPV6;
	else
		return FY_PKT_NOT_IP;
	return FY_PKT_OK;
}

static void add_vlan_tag(struct dec *d, uint16_t tci)
{
	uint16_t vid = tci & 0x0fff;

	if (d->tags == 0)
		d->out->vlan = vid;
	else if (d->tags == 1)
		d->out->inner_vlan = vid;
	d->tags++;
	d->out->flags |= FY_PKT_F_VLAN;
}

/* From an EtherType to the IP header, through tags, labels and PPPoE. */
static int decode_ethertype(struct dec *d, struct fy_rd *r, uint16_t type)
{
	int i;
	int st;

	for (i = 0; i < MAX_LINK_STEPS; i++) {
		switch (type) {
		case ETHERTYPE_IPV4:
			return decode_ip(d, r, 4);
		case ETHERTYPE_IPV6:
			return decode_ip(d, r, 6);
		case ETHERTYPE_VLAN:
		case ETHERTYPE_QINQ:
		case ETHERTYPE_QINQ_OLD1:
		case ETHERTYPE_QINQ_OLD2:
			add_vlan_tag(d, fy_rd_u16(r));
			type = fy_rd_u16(r);
			if (r->err)
				return FY_PKT_TRUNCATED;
			if (type < ETHERTYPE_MIN &&
			    decode_llc(r, &type) != FY_PKT_OK)
				return FY_PKT_NOT_IP;
			continue;
		case ETHERTYPE_MPLS:
		case ETHERTYPE_MPLS_MC:
			st = decode_mpls(d, r, &type);
			break;
		case ETHERTYPE_PPPOE:
			st = decode_pppoe(r, &type);
			break;
		default:
			return FY_PKT_NOT_IP;
		}
		if (st != FY_PKT_OK)
			return st;
	}
	return FY_PKT_MALFORMED;
}

/*
 * The 14-byte Ethernet header (and LLC/SNAP after an 802.3 length). The
 * MACs are the outer frame's: those of a pseudowire's inner frame are not
 * the link the probe sees.
 */
static int decode_ether_header(struct dec *d, struct fy_rd *r, uint16_t *type,
			       bool macs)
{
	uint8_t dst[6], src[6];

	fy_rd_bytes(r, dst, 6);
	fy_rd_bytes(r, src, 6);
	*type = fy_rd_u16(r);
	if (r->err)
		return FY_PKT_TRUNCATED;
	if (macs) {
		memcpy(d->out->dst_mac, dst, 6);
		memcpy(d->out->src_mac, src, 6);
		d->out->flags |= FY_PKT_F_MACS;
	}
	if (*type < ETHERTYPE_MIN)
		return decode_llc(r, type);
	return FY_PKT_OK;
}

static int decode_ether(struct dec *d, struct fy_rd *r)
{
	uint16_t type;
	int st = decode_ether_header(d, r, &type, true);

	return st == FY_PKT_OK ? decode_ethertype(d, r, type) : st;
}

/* Linux cooked capture v1: 16 bytes, the protocol last. */
static int decode_sll(struct dec *d, struct fy_rd *r)
{
	uint16_t hatype, halen, proto;
	uint8_t addr[8];

	fy_rd_skip(r, 2); /* packet type */
	hatype = fy_rd_u16(r);
	halen = fy_rd_u16(r);
	fy_rd_bytes(r, addr, 8);
	proto = fy_rd_u16(r);
	if (r->err)
		return FY_PKT_TRUNCATED;
	if (hatype == ARPHRD_ETHER && halen == 6) {
		memcpy(d->out->src_mac, addr, 6);
		d->out->flags |= FY_PKT_F_MACS;
	}
	if (proto == SLL_P_802_3 || proto == SLL_P_802_2)
		return FY_PKT_NOT_IP;
	return decode_ethertype(d, r, proto);
}

/* Linux cooked capture v2: 20 bytes, the protocol first. */
static int decode_sll2(struct dec *d, struct fy_rd *r)
{
	uint16_t proto, hatype;
	uint8_t halen;
	uint8_t addr[8];

	proto = fy_rd_u16(r);
	fy_rd_skip(r, 2); /* reserved */
	d->out->ifindex = fy_rd_u32(r);
	hatype = fy_rd_u16(r);
	fy_rd_skip(r, 1); /* packet type */
	halen = fy_rd_u8(r);
	fy_rd_bytes(r, addr, 8);
	if (r->err)
		return FY_PKT_TRUNCATED;
	if (hatype == ARPHRD_ETHER && halen == 6) {
		memcpy(d->out->src_mac, addr, 6);
		d->out->flags |= FY_PKT_F_MACS;
	}
	if (proto == SLL_P_802_3 || proto == SLL_P_802_2)
		return FY_PKT_NOT_IP;
	return decode_ethertype(d, r, proto);
}

/* BSD loopback: a 4-byte address family, host order (NULL) or not (LOOP). */
static int decode_null(struct dec *d, struct fy_rd *r)
{
	uint32_t af = fy_rd_u32(r);

	if (r->err)
		return FY_PKT_TRUNCATED;
	if (af > 0xffff) /* written little-endian */
		af = (af >> 24) | ((af >> 8) & 0xff00);
	switch (af) {
	case BSD_AF_INET:
		return decode_ip(d, r, 4);
	case LINUX_AF_INET6:
	case BSD_AF_INET6:
	case FREEBSD_AF_INET6:
	case DARWIN_AF_INET6:
		return decode_ip(d, r, 6);
	default:
		return FY_PKT_NOT_IP;
	}
}

static int decode_raw(struct dec *d, struct fy_rd *r)
{
	int v = peek_version(r);

	if (fy_rd_left(r) < 1)
		return FY_PKT_TRUNCATED;
	if (v == 0)
		return FY_PKT_NOT_IP;
	return decode_ip(d, r, v);
}

int fy_pkt_linktype_supported(int dlt)
{
	switch (dlt) {
	case FY_DLT_NULL:
	case FY_DLT_EN10MB:
	case FY_DLT_RAW:
	case FY_DLT_RAW_OPENBSD:
	case FY_DLT_LINKTYPE_RAW:
	case FY_DLT_LOOP:
	case FY_DLT_LINUX_SLL:
	case FY_DLT_IPV4:
	case FY_DLT_IPV6:
	case FY_DLT_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

int fy_pkt_decode(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
		  unsigned opts, struct fy_pkt *out)
{
	struct dec d = {out,  frame, wirelen < caplen ? caplen : wirelen,
			opts, 0,     0};
	struct fy_rd r;

	if (out == NULL || (frame == NULL && caplen > 0))
		return FY_PKT_MALFORMED;
	memset(out, 0, sizeof(*out));
	r = fy_rd_init(frame, caplen);
	switch (dlt) {
	case FY_DLT_EN10MB:
		return decode_ether(&d, &r);
	case FY_DLT_LINUX_SLL:
		return decode_sll(&d, &r);
	case FY_DLT_LINUX_SLL2:
		return decode_sll2(&d, &r);
	case FY_DLT_RAW:
	case FY_DLT_RAW_OPENBSD:
	case FY_DLT_LINKTYPE_RAW:
		return decode_raw(&d, &r);
	case FY_DLT_IPV4:
		return decode_ip(&d, &r, 4);
	case FY_DLT_IPV6:
		return decode_ip(&d, &r, 6);
	case FY_DLT_NULL:
	case FY_DLT_LOOP:
		return decode_null(&d, &r);
	default:
		return FY_PKT_BAD_LINKTYPE;
	}
}

const char *fy_pkt_status_str(int status)
{
	switch (status) {
	case FY_PKT_OK:
		return "ok";
	case FY_PKT_NOT_IP:
		return "not IP";
	case FY_PKT_TRUNCATED:
		return "truncated";
	case FY_PKT_MALFORMED:
		return "malformed";
	case FY_PKT_BAD_LINKTYPE:
		return "link type not supported";
	default:
		return "unknown";
	}
}
