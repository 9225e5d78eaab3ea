/*
 * pcap_udp.c - UDP datagrams out of a capture file, see pcap_udp.h.
 *
 * Each frame goes through three small steps, each reading with fy_rd within
 * what was captured: the link layer gives the IP version, the IP layer gives
 * addresses and a reader limited to the IP payload, the UDP header gives the
 * ports and the payload. Each step answers with a verdict; the first one
 * that is not "go on" decides how the frame is counted.
 */
#include "pcap_udp.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap_file.h"
#include "wire.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100	   /* 802.1Q */
#define ETHERTYPE_QINQ 0x88a8	   /* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD1 0x9100 /* pre-standard QinQ */
#define ETHERTYPE_QINQ_OLD2 0x9200

#define MAX_VLAN_TAGS 8
#define MAX_IPV6_EXT 16

/* Link types, numbered as pcap_datalink() returns them on any platform. */
#define LT_NULL 0
#define LT_EN10MB 1
#define LT_RAW_12 12   /* DLT_RAW almost everywhere */
#define LT_RAW_14 14   /* DLT_RAW on OpenBSD */
#define LT_RAW_101 101 /* LINKTYPE_RAW, should a libpcap pass it through */
#define LT_LOOP 108
#define LT_LINUX_SLL 113
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_LINUX_SLL2 276

/* Address families in a NULL/LOOP header: IPv4 is 2 everywhere, IPv6 not. */
#define BSD_AF_INET 2
#define LINUX_AF_INET6 10
#define BSD_AF_INET6 24
#define FREEBSD_AF_INET6 28
#define DARWIN_AF_INET6 30

#define IPPROTO_NUM_HOPOPTS 0
#define IPPROTO_NUM_UDP 17
#define IPPROTO_NUM_ROUTING 43
#define IPPROTO_NUM_FRAGMENT 44
#define IPPROTO_NUM_AH 51
#define IPPROTO_NUM_DSTOPTS 60

#define ERR_LEN (PCAP_ERRBUF_SIZE + 512)

struct fy_pcap_udp {
	pcap_t *pc;
	char *buf; /* the FILE's buffer, freed after pcap_close */
	int linktype;
	char *path;
	struct fy_pcap_udp_stats stats;
	char err[ERR_LEN];
};

/* What a parsing step found. */
enum verdict {
	V_GO_ON,    /* this layer is fine, continue with the next */
	V_NOT_UDP,  /* not IP, not UDP, or malformed */
	V_FRAGMENT, /* non-first fragment of a UDP datagram */
	V_SHORT,    /* a header ran past the captured bytes */
};

/* The network layer a link header leads to. */
enum l3 {
	L3_NONE = 0,
	L3_IPV4 = 4,
	L3_IPV6 = 6,
};

static bool linktype_supported(int lt)
{
	switch (lt) {
	case LT_NULL:
	case LT_EN10MB:
	case LT_RAW_12:
	case LT_RAW_14:
	case LT_RAW_101:
	case LT_LOOP:
	case LT_LINUX_SLL:
	case LT_IPV4:
	case LT_IPV6:
	case LT_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

static void set_err(char *err, size_t errlen, const char *path, const char *msg)
{
	if (err == NULL || errlen == 0)
		return;
	snprintf(err, errlen, "%s: %s", path, msg);
}

/* libpcap often starts its message with the file name already: drop it. */
static const char *strip_path(const char *msg, const char *path)
{
	size_t n = strlen(path);

	if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

struct fy_pcap_udp *fy_pcap_udp_open(const char *path, char *err, size_t errlen)
{
	char pcerr[PCAP_ERRBUF_SIZE] = "";
	char msg[PCAP_ERRBUF_SIZE + 64];
	struct fy_pcap_udp *p = NULL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL) {
		set_err(err, errlen, "(null)", "no capture file given");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->path = strdup(path)) == NULL) {
		set_err(err, errlen, path, strerror(ENOMEM));
		goto fail;
	}
	p->pc = fy_pcap_open_file(path, &p->buf, pcerr);
	if (p->pc == NULL) {
		set_err(err, errlen, path, strip_path(pcerr, path));
		goto fail;
	}
	p->linktype = pcap_datalink(p->pc);
	if (!linktype_supported(p->linktype)) {
		const char *name = pcap_datalink_val_to_name(p->linktype);

		snprintf(msg, sizeof(msg), "link type %d (%s) not supported",
			 p->linktype, name != NULL ? name : "unknown");
		set_err(err, errlen, path, msg);
		goto fail;
	}
	return p;
fail:
	fy_pcap_udp_close(p);
	return NULL;
}

void fy_pcap_udp_close(struct fy_pcap_udp *p)
{
	if (p == NULL)
		return;
	if (p->pc != NULL)
		pcap_close(p->pc);
	free(p->buf);
	free(p->path);
	free(p);
}

const char *fy_pcap_udp_error(const struct fy_pcap_udp *p)
{
	return p != NULL ? p->err : "no reader";
}

const struct fy_pcap_udp_stats *fy_pcap_udp_stats(const struct fy_pcap_udp *p)
{
	return &p->stats;
}

int fy_pcap_udp_linktype(const struct fy_pcap_udp *p)
{
	return p->linktype;
}

/* Skips VLAN tags after an EtherType and names the layer it leads to. */
static enum l3 ethertype_l3(struct fy_rd *r, uint16_t type)
{
	int tags;

	for (tags = 0; tags < MAX_VLAN_TAGS; tags++) {
		if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ &&
		    type != ETHERTYPE_QINQ_OLD1 && type != ETHERTYPE_QINQ_OLD2)
			break;
		fy_rd_skip(r, 2); /* priority, DEI, VLAN id */
		type = fy_rd_u16(r);
	}
	if (type == ETHERTYPE_IPV4)
		return L3_IPV4;
	if (type == ETHERTYPE_IPV6)
		return L3_IPV6;
	return L3_NONE;
}

/* Raw IP: the version nibble says which, without consuming it. */
static enum l3 version_l3(struct fy_rd *r)
{
	if (!fy_rd_need(r, 1))
		return L3_NONE;
	switch (r->p[0] >> 4) {
	case 4:
		return L3_IPV4;
	case 6:
		return L3_IPV6;
	default:
		return L3_NONE;
	}
}

/* NULL: AF_ value in the byte order of the capturing host; LOOP: network. */
static enum l3 loopback_l3(struct fy_rd *r, bool network_order)
{
	uint8_t b[4];
	uint32_t af;

	fy_rd_bytes(r, b, sizeof(b));
	if (network_order || (b[0] == 0 && b[1] == 0))
		af = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		     (uint32_t)b[2] << 8 | b[3];
	else
		af = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 |
		     (uint32_t)b[1] << 8 | b[0];
	switch (af) {
	case BSD_AF_INET:
		return L3_IPV4;
	case LINUX_AF_INET6:
	case BSD_AF_INET6:
	case FREEBSD_AF_INET6:
	case DARWIN_AF_INET6:
		return L3_IPV6;
	default:
		return L3_NONE;
	}
}

/* Reads the link header; leaves `r` at the network header. */
static enum l3 link_l3(int linktype, struct fy_rd *r)
{
	uint16_t type;

	switch (linktype) {
	case LT_EN10MB:
		fy_rd_skip(r, 12); /* destination, source MAC */
		return ethertype_l3(r, fy_rd_u16(r));
	case LT_LINUX_SLL:
		/* packet type, ARPHRD type, address length, address[8] */
		fy_rd_skip(r, 14);
		return ethertype_l3(r, fy_rd_u16(r));
	case LT_LINUX_SLL2:
		type = fy_rd_u16(r);
		/* reserved, ifindex, ARPHRD type, pkt type, addr len, addr[8] */
		fy_rd_skip(r, 18);
		return ethertype_l3(r, type);
	case LT_NULL:
		return loopback_l3(r, false);
	case LT_LOOP:
		return loopback_l3(r, true);
	default: /* the raw IP types */
		return version_l3(r);
	}
}

/*
 * The part of an IP packet after the headers: what the IP length says it
 * carries, limited to what was captured. Without a length (an IP length
 * field of 0: TCP segmentation offload, IPv6 jumbogram) it is what was
 * captured.
 */
static struct fy_rd ip_body(struct fy_rd *r, bool known, size_t declared)
{
	size_t left = fy_rd_left(r);

	if (!known || declared > left)
		declared = left;
	return fy_rd_sub(r, declared);
}

static enum verdict parse_ipv4(struct fy_rd *r, struct fy_udp_pkt *out,
			       struct fy_rd *body)
{
	uint8_t vihl, proto, src[4], dst[4];
	uint16_t total, frag;
	size_t hl;

	vihl = fy_rd_u8(r);
	fy_rd_skip(r, 1); /* DSCP, ECN */
	total = fy_rd_u16(r);
	fy_rd_skip(r, 2); /* identification */
	frag = fy_rd_u16(r);
	fy_rd_skip(r, 1); /* TTL */
	proto = fy_rd_u8(r);
	fy_rd_skip(r, 2); /* header checksum */
	fy_rd_bytes(r, src, sizeof(src));
	fy_rd_bytes(r, dst, sizeof(dst));
	if (r->err)
		return V_SHORT;
	hl = (size_t)(vihl & 0x0f) * 4;
	if (vihl >> 4 != 4 || hl < 20 || (total != 0 && total < hl))
		return V_NOT_UDP;
	if (proto != IPPROTO_NUM_UDP)
		return V_NOT_UDP;
	if (frag & 0x1fff) /* offset: not the first fragment */
		return V_FRAGMENT;
	fy_rd_skip(r, hl - 20); /* options */
	if (r->err)
		return V_SHORT;
	*body = ip_body(r, total != 0, total != 0 ? total - hl : 0);
	out->family = FY_AF_INET;
	fy_addr_set_v4_bytes(&out->src, src);
	fy_addr_set_v4_bytes(&out->dst, dst);
	return V_GO_ON;
}

/*
 * Walks the IPv6 extension headers up to the upper-layer header of the
 * body. Returns V_GO_ON with `body` at the UDP header.
 */
static enum verdict ipv6_ext(struct fy_rd *body, uint8_t nh)
{
	uint8_t len;
	uint16_t off;
	int i;

	for (i = 0; i < MAX_IPV6_EXT; i++) {
		switch (nh) {
		case IPPROTO_NUM_UDP:
			return V_GO_ON;
		case IPPROTO_NUM_HOPOPTS:
		case IPPROTO_NUM_ROUTING:
		case IPPROTO_NUM_DSTOPTS:
			nh = fy_rd_u8(body);
			len = fy_rd_u8(body);
			fy_rd_skip(body, (size_t)len * 8 + 6);
			break;
		case IPPROTO_NUM_AH:
			nh = fy_rd_u8(body);
			len = fy_rd_u8(body);
			fy_rd_skip(body, ((size_t)len + 2) * 4 - 2);
			break;
		case IPPROTO_NUM_FRAGMENT:
			nh = fy_rd_u8(body);
			fy_rd_skip(body, 1); /* reserved */
			off = fy_rd_u16(body);
			fy_rd_skip(body, 4); /* identification */
			if (!body->err && (off & 0xfff8) != 0)
				return nh == IPPROTO_NUM_UDP ? V_FRAGMENT
							     : V_NOT_UDP;
			break;
		default:
			return V_NOT_UDP;
		}
		if (body->err)
			return V_SHORT;
	}
	return V_NOT_UDP;
}

static enum verdict parse_ipv6(struct fy_rd *r, struct fy_udp_pkt *out,
			       struct fy_rd *body)
{
	uint8_t ver, nh;
	uint16_t plen;

	ver = fy_rd_u8(r) >> 4;
	fy_rd_skip(r, 3); /* traffic class, flow label */
	plen = fy_rd_u16(r);
	nh = fy_rd_u8(r);
	fy_rd_skip(r, 1); /* hop limit */
	fy_rd_bytes(r, out->src.b, sizeof(out->src.b));
	fy_rd_bytes(r, out->dst.b, sizeof(out->dst.b));
	if (r->err)
		return V_SHORT;
	if (ver != 6)
		return V_NOT_UDP;
	out->family = FY_AF_INET6;
	*body = ip_body(r, plen != 0, plen);
	return ipv6_ext(body, nh);
}

/*
 * The UDP header at the start of `body`. Sets `*cut` when the payload is
 * shorter than the UDP length says.
 */
static enum verdict parse_udp(struct fy_rd *body, struct fy_udp_pkt *out,
			      bool *cut)
{
	uint16_t ulen;
	size_t want, have;

	out->sport = fy_rd_u16(body);
	out->dport = fy_rd_u16(body);
	ulen = fy_rd_u16(body);
	fy_rd_skip(body, 2); /* checksum */
	if (body->err)
		return V_SHORT;
	have = fy_rd_left(body);
	if (ulen == 0 && out->family == FY_AF_INET6) /* jumbogram */
		want = have;
	else if (ulen < 8)
		return V_NOT_UDP;
	else
		want = (size_t)ulen - 8;
	*cut = want > have;
	out->payload = body->p;
	out->len = *cut ? have : want;
	return V_GO_ON;
}

/* Decides what one frame is; fills `out` when it is a UDP datagram. */
static enum verdict parse_frame(int linktype, const uint8_t *data,
				size_t caplen, struct fy_udp_pkt *out,
				bool *cut)
{
	struct fy_rd r = fy_rd_init(data, caplen);
	struct fy_rd body = fy_rd_init(NULL, 0);
	enum verdict v = V_NOT_UDP;

	switch (link_l3(linktype, &r)) {
	case L3_IPV4:
		v = parse_ipv4(&r, out, &body);
		break;
	case L3_IPV6:
		v = parse_ipv6(&r, out, &body);
		break;
	case L3_NONE:
		return r.err ? V_SHORT : V_NOT_UDP;
	}
	if (v != V_GO_ON)
		return v;
	return parse_udp(&body, out, cut);
}

static uint64_t ts_ms(const struct timeval *tv)
{
	if (tv->tv_sec < 0)
		return 0;
	return (uint64_t)tv->tv_sec * 1000 + (uint64_t)tv->tv_usec / 1000;
}

/* Counts one frame; returns true if it is a datagram to hand out. */
static bool account(struct fy_pcap_udp_stats *st, enum verdict v, bool cut,
		    bool snapped)
{
	st->frames++;
	switch (v) {
	case V_GO_ON:
		st->udp++;
		/* cut only matters if the snap length did it */
		if (cut && snapped)
			st->truncated++;
		return true;
	case V_FRAGMENT:
		st->skipped_fragments++;
		return false;
	case V_SHORT:
		if (snapped)
			st->truncated++;
		st->skipped_non_udp++;
		return false;
	case V_NOT_UDP:
		st->skipped_non_udp++;
		return false;
	}
	return false;
}

int fy_pcap_udp_next(struct fy_pcap_udp *p, struct fy_udp_pkt *out)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	enum verdict v;
	bool cut;
	int rc;

	if (p == NULL || out == NULL)
		return -1;
	for (;;) {
		rc = pcap_next_ex(p->pc, &h, &data);
		if (rc == PCAP_ERROR_BREAK)
			return 0;
		if (rc < 0) {
			snprintf(p->err, sizeof(p->err), "%s: %s", p->path,
				 pcap_geterr(p->pc));
			return -1;
		}
		if (rc == 0) /* live timeout; never for a file */
			continue;
		memset(out, 0, sizeof(*out));
		cut = false;
		v = parse_frame(p->linktype, data, h->caplen, out, &cut);
		if (account(&p->stats, v, cut, h->caplen < h->len)) {
			out->ts_ms = ts_ms(&h->ts);
			return 1;
		}
	}
}
