/*
 * fields.c - the flow fields that aggregation keys and statistics name.
 *
 * A key is the bytes of its fields copied out of struct fy_flow one after
 * the other (addresses masked first), so building, hashing and comparing a
 * key is a few memcpy's and no per-field branching on a hot path.
 */
#include "nfq.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)
#define FLD(name, member, cols, is_addr)                                \
	{                                                               \
		name, (uint16_t)offsetof(struct fy_flow, member),       \
			(uint8_t)sizeof(((struct fy_flow *)0)->member), \
			is_addr, cols                                   \
	}

static const struct nfq_field_info fields[NFQ_F_COUNT] = {
	[NFQ_F_NONE] = {"none", 0, 0, false, 0},
	[NFQ_F_PROTO] = FLD("proto", proto, COL(PROTO), false),
	[NFQ_F_SRC] = FLD("srcip", src, COL(SRC), true),
	[NFQ_F_DST] = FLD("dstip", dst, COL(DST), true),
	[NFQ_F_SRC_PORT] = FLD("srcport", src_port, COL(SRC_PORT), false),
	[NFQ_F_DST_PORT] = FLD("dstport", dst_port, COL(DST_PORT), false),
	[NFQ_F_SRC_AS] = FLD("srcas", src_as, COL(SRC_AS), false),
	[NFQ_F_DST_AS] = FLD("dstas", dst_as, COL(DST_AS), false),
	[NFQ_F_INPUT_IF] = FLD("inif", input_if, COL(INPUT_IF), false),
	[NFQ_F_OUTPUT_IF] = FLD("outif", output_if, COL(OUTPUT_IF), false),
	[NFQ_F_TOS] = FLD("tos", tos, COL(TOS), false),
	[NFQ_F_TCP_FLAGS] = FLD("flags", tcp_flags, COL(TCP_FLAGS), false),
	[NFQ_F_SRC_MASK] = FLD("srcmask", src_mask, COL(SRC_MASK), false),
	[NFQ_F_DST_MASK] = FLD("dstmask", dst_mask, COL(DST_MASK), false),
	[NFQ_F_VLAN] = FLD("srcvlan", vlan, COL(VLAN), false),
	[NFQ_F_OUT_VLAN] = FLD("dstvlan", out_vlan, COL(OUT_VLAN), false),
	[NFQ_F_NEXTHOP] = FLD("next", nexthop, COL(NEXTHOP), true),
	[NFQ_F_BGP_NEXTHOP] =
		FLD("bgpnext", bgp_nexthop, COL(BGP_NEXTHOP), true),
	[NFQ_F_EXPORTER] = FLD("router", exporter, COL(EXPORTER), true),
	[NFQ_F_SRC_MAC] = FLD("insrcmac", src_mac, COL(SRC_MAC), false),
	[NFQ_F_DST_MAC] = FLD("indstmac", dst_mac, COL(DST_MAC), false),
	[NFQ_F_MPLS_LABEL] = FLD("mpls1", mpls_label, COL(MPLS_LABEL), false),
	[NFQ_F_DOMAIN] = FLD("odid", domain, COL(DOMAIN), false),
	[NFQ_F_DIRECTION] = FLD("dir", direction, COL(DIRECTION), false),
	[NFQ_F_XLATE_SRC] = FLD("xsrcip", xlate_src, COL(XLATE_SRC), true),
	[NFQ_F_XLATE_DST] = FLD("xdstip", xlate_dst, COL(XLATE_DST), true),
	[NFQ_F_XLATE_SRC_PORT] =
		FLD("xsrcport", xlate_src_port, COL(XLATE_SRC_PORT), false),
	[NFQ_F_XLATE_DST_PORT] =
		FLD("xdstport", xlate_dst_port, COL(XLATE_DST_PORT), false),
	[NFQ_F_ENGINE_TYPE] =
		FLD("engine-type", engine_type, COL(ENGINE_TYPE), false),
	[NFQ_F_ENGINE_ID] = FLD("engine-id", engine_id, COL(ENGINE_ID), false),
	/* icmp type and code are adjacent in struct fy_flow */
	{"icmp", (uint16_t)offsetof(struct fy_flow, icmp_type), 2, false,
	 COL(ICMP_TYPE) | COL(ICMP_CODE)},
	[NFQ_F_FWD_STATUS] =
		FLD("fwd", forwarding_status, COL(FORWARDING_STATUS), false),
};

_Static_assert(offsetof(struct fy_flow, icmp_code) ==
		       offsetof(struct fy_flow, icmp_type) + 1,
	       "icmp type and code must be adjacent");

const struct nfq_field_info *nfq_field_info(enum nfq_field f)
{
	if ((unsigned)f >= NFQ_F_COUNT)
		return &fields[NFQ_F_NONE];
	return &fields[f];
}

void nfq_addr_mask(struct fy_addr *a, unsigned v4_prefix, unsigned v6_prefix)
{
	unsigned bits, i;

	if (fy_addr_is_v4(a)) {
		if (v4_prefix >= 32)
			return;
		bits = 96 + v4_prefix;
	} else {
		if (v6_prefix >= 128)
			return;
		bits = v6_prefix;
	}
	for (i = bits / 8; i < 16; i++) {
		unsigned keep = i == bits / 8 ? bits % 8 : 0;

		a->b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int nfq_key_add(struct nfq_key *k, enum nfq_field field, uint8_t v4_prefix,
		uint8_t v6_prefix, bool use_flow_mask)
{
	const struct nfq_field_info *fi = nfq_field_info(field);
	struct nfq_key_part *p;
	size_t i;

	/* srcip4/24 and srcip6/64 in one list refine the same part */
	for (i = 0; i < k->n; i++) {
		p = &k->part[i];
		if (p->field != field)
			continue;
		if (v4_prefix < p->v4_prefix)
			p->v4_prefix = v4_prefix;
		if (v6_prefix < p->v6_prefix)
			p->v6_prefix = v6_prefix;
		p->use_flow_mask |= use_flow_mask;
		return 0;
	}
	if (k->n == NFQ_KEY_PARTS || k->len + fi->size > NFQ_KEY_MAX)
		return -E2BIG;
	p = &k->part[k->n++];
	p->field = field;
	p->v4_prefix = v4_prefix;
	p->v6_prefix = v6_prefix;
	p->use_flow_mask = use_flow_mask;
	p->key_off = (uint16_t)k->len;
	k->len += fi->size;
	k->cols |= fi->cols;
	if (use_flow_mask)
		k->cols |= field == NFQ_F_SRC ? COL(SRC_MASK) : COL(DST_MASK);
	/* the address family column tells v4 from v6 in output */
	if (fi->addr)
		k->cols |= COL(FAMILY);
	return 0;
}

void nfq_key_5tuple(struct nfq_key *k)
{
	memset(k, 0, sizeof(*k));
	nfq_key_add(k, NFQ_F_PROTO, 32, 128, false);
	nfq_key_add(k, NFQ_F_SRC, 32, 128, false);
	nfq_key_add(k, NFQ_F_DST, 32, 128, false);
	nfq_key_add(k, NFQ_F_SRC_PORT, 32, 128, false);
	nfq_key_add(k, NFQ_F_DST_PORT, 32, 128, false);
	k->five_tuple = true;
	k->cols |= COL(TOS);
}

/* -A element names (nfdump's) and the field each one keys on. */
static const struct {
	const char *name;
	enum nfq_field field;
} agg_names[] = {
	{"proto", NFQ_F_PROTO},
	{"srcip", NFQ_F_SRC},
	{"dstip", NFQ_F_DST},
	{"srcport", NFQ_F_SRC_PORT},
	{"dstport", NFQ_F_DST_PORT},
	{"srcmask", NFQ_F_SRC_MASK},
	{"dstmask", NFQ_F_DST_MASK},
	{"srcvlan", NFQ_F_VLAN},
	{"dstvlan", NFQ_F_OUT_VLAN},
	{"srcas", NFQ_F_SRC_AS},
	{"dstas", NFQ_F_DST_AS},
	{"inif", NFQ_F_INPUT_IF},
	{"outif", NFQ_F_OUTPUT_IF},
	{"next", NFQ_F_NEXTHOP},
	{"bgpnext", NFQ_F_BGP_NEXTHOP},
	{"insrcmac", NFQ_F_SRC_MAC},
	{"indstmac", NFQ_F_DST_MAC},
	{"tos", NFQ_F_TOS},
	{"srctos", NFQ_F_TOS},
	{"mpls1", NFQ_F_MPLS_LABEL},
	{"router", NFQ_F_EXPORTER},
	{"odid", NFQ_F_DOMAIN},
	{"xsrcip", NFQ_F_XLATE_SRC},
	{"xdstip", NFQ_F_XLATE_DST},
	{"xsrcport", NFQ_F_XLATE_SRC_PORT},
	{"xdstport", NFQ_F_XLATE_DST_PORT},
	{"flags", NFQ_F_TCP_FLAGS},
	{"dir", NFQ_F_DIRECTION},
};

/* srcip4/24, dstip6/48: address with a prefix length for one family. */
static int parse_prefixed(struct nfq_key *k, const char *e, char *err,
			  size_t errlen)
{
	enum nfq_field field;
	unsigned fam, len;
	char *end;
	unsigned long v;

	if (strncmp(e, "srcip", 5) == 0)
		field = NFQ_F_SRC;
	else if (strncmp(e, "dstip", 5) == 0)
		field = NFQ_F_DST;
	else
		return 1; /* not this form */
	if ((e[5] != '4' && e[5] != '6') || e[6] != '/')
		return 1;
	fam = e[5] == '4' ? 4 : 6;
	len = fam == 4 ? 32 : 128;
	v = strtoul(e + 7, &end, 10);
	if (end == e + 7 || *end != '\0' || v > len) {
		snprintf(err, errlen, "-A '%s': the prefix length must be 0-%u",
			 e, len);
		return -EINVAL;
	}
	if (nfq_key_add(k, field, fam == 4 ? (uint8_t)v : 32,
			fam == 6 ? (uint8_t)v : 128, false)) {
		snprintf(err, errlen, "-A: too many elements");
		return -EINVAL;
	}
	return 0;
}

int nfq_key_parse(struct nfq_key *k, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *e;
	int r = 0;

	memset(k, 0, sizeof(*k));
	if (copy == NULL) {
		snprintf(err, errlen, "-A: out of memory");
		return -ENOMEM;
	}
	for (e = strtok_r(copy, ",", &save); e;
	     e = strtok_r(NULL, ",", &save)) {
		size_t i;

		while (*e == ' ')
			e++;
		if ((r = parse_prefixed(k, e, err, errlen)) <= 0) {
			if (r < 0)
				goto out;
			continue;
		}
		r = 0;
		if (strcmp(e, "srcnet") == 0 || strcmp(e, "dstnet") == 0) {
			if (nfq_key_add(k, e[0] == 's' ? NFQ_F_SRC : NFQ_F_DST,
					32, 128, true))
				goto full;
			continue;
		}
		for (i = 0; i < sizeof(agg_names) / sizeof(agg_names[0]); i++)
			if (strcmp(e, agg_names[i].name) == 0)
				break;
		if (i == sizeof(agg_names) / sizeof(agg_names[0])) {
			snprintf(err, errlen,
				 "-A: unknown element '%s' (proto, srcip, "
				 "dstip, srcip4/N, srcip6/N, srcnet, srcport, "
				 "dstport, srcas, dstas, inif, outif, tos, "
				 "next, router, ...)",
				 e);
			r = -EINVAL;
			goto out;
		}
		if (nfq_key_add(k, agg_names[i].field, 32, 128, false))
			goto full;
	}
	if (k->n == 0) {
		snprintf(err, errlen, "-A: no element given");
		r = -EINVAL;
	}
	goto out;
full:
	snprintf(err, errlen, "-A: too many elements");
	r = -EINVAL;
out:
	free(copy);
	return r;
}

void nfq_key_build(const struct nfq_key *k, const struct fy_flow *f,
		   uint8_t *buf)
{
	const uint8_t *base = (const uint8_t *)f;
	size_t i;

	for (i = 0; i < k->n; i++) {
		const struct nfq_key_part *p = &k->part[i];
		const struct nfq_field_info *fi = &fields[p->field];

		if (!fi->addr) {
			memcpy(buf + p->key_off, base + fi->offset, fi->size);
			continue;
		}
		struct fy_addr a;

		memcpy(&a, base + fi->offset, sizeof(a));
		if (p->use_flow_mask) {
			unsigned m = p->field == NFQ_F_SRC ? f->src_mask
							   : f->dst_mask;
			/* 0: the exporter sent no mask; keep the address */
			if (m)
				nfq_addr_mask(&a, m, m);
		} else if (p->v4_prefix < 32 || p->v6_prefix < 128) {
			nfq_addr_mask(&a, p->v4_prefix, p->v6_prefix);
		}
		memcpy(buf + p->key_off, &a, sizeof(a));
	}
}

void nfq_key_apply(const struct nfq_key *k, const uint8_t *buf,
		   struct fy_flow *f)
{
	uint8_t *base = (uint8_t *)f;
	size_t i;

	for (i = 0; i < k->n; i++) {
		const struct nfq_key_part *p = &k->part[i];
		const struct nfq_field_info *fi = &fields[p->field];

		memcpy(base + fi->offset, buf + p->key_off, fi->size);
		if (p->field == NFQ_F_SRC || p->field == NFQ_F_DST) {
			f->family = fy_addr_is_v4(&f->src) ||
						    fy_addr_is_v4(&f->dst)
					    ? FY_AF_INET
					    : FY_AF_INET6;
			/* the prefix length shows with %sn/%dn */
			if (p->field == NFQ_F_SRC && !p->use_flow_mask &&
			    (p->v4_prefix < 32 || p->v6_prefix < 128))
				f->src_mask = fy_addr_is_v4(&f->src)
						      ? p->v4_prefix
						      : p->v6_prefix;
			if (p->field == NFQ_F_DST && !p->use_flow_mask &&
			    (p->v4_prefix < 32 || p->v6_prefix < 128))
				f->dst_mask = fy_addr_is_v4(&f->dst)
						      ? p->v4_prefix
						      : p->v6_prefix;
		}
	}
}

bool nfq_key_has(const struct nfq_key *k, enum nfq_field field)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (k->part[i].field == field)
			return true;
	return false;
}

/* nfdump's protocol names (its nf_common.c table, the common ones). */
static const char *const proto_names[256] = {
	[0] = "HOPOPT", [1] = "ICMP",	[2] = "IGMP",	 [3] = "GGP",
	[4] = "IPIP",	[5] = "ST",	[6] = "TCP",	 [7] = "CBT",
	[8] = "EGP",	[9] = "IGP",	[12] = "PUP",	 [17] = "UDP",
	[27] = "RDP",	[29] = "ISO-4", [33] = "DCCP",	 [41] = "IPv6",
	[43] = "Rte6",	[44] = "Frag6", [46] = "RSVP",	 [47] = "GRE",
	[50] = "ESP",	[51] = "AH",	[55] = "MOBIL",	 [58] = "ICMP6",
	[59] = "NoNxt", [60] = "Opts6", [88] = "EIGRP",	 [89] = "OSPF",
	[94] = "IPIP",	[103] = "PIM",	[108] = "IPCmp", [112] = "VRRP",
	[115] = "L2TP", [132] = "SCTP", [136] = "UDPLi", [137] = "MPLS",
};

const char *nfq_proto_name(uint8_t proto)
{
	return proto_names[proto];
}
