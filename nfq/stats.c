/*
 * stats.c - -s element statistics: one counter set per distinct value of
 * an element (source address, destination port, ...), top-N at the end.
 *
 * "Any" statistics (ip, port, as, if, vlan) count a flow under both of its
 * values but once when the two are equal: a flow from 10.0.0.1 to
 * 10.0.0.1 is one flow of that address. (nfdump counts it twice, which
 * pushes percentages past 100.)
 */
#include "nfq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)

static const struct {
	const char *name;
	const char *title;     /* nfdump's column title */
	enum nfq_field f1, f2; /* f2: the other end for "any" statistics */
} types[NFQ_ST_N] = {
	[NFQ_ST_RECORD] = {"record", "flows", NFQ_F_NONE, NFQ_F_NONE},
	[NFQ_ST_SRCIP] = {"srcip", "Src IP Addr", NFQ_F_SRC, NFQ_F_NONE},
	[NFQ_ST_DSTIP] = {"dstip", "Dst IP Addr", NFQ_F_DST, NFQ_F_NONE},
	[NFQ_ST_IP] = {"ip", "IP Addr", NFQ_F_SRC, NFQ_F_DST},
	[NFQ_ST_SRCPORT] = {"srcport", "Src Port", NFQ_F_SRC_PORT, NFQ_F_NONE},
	[NFQ_ST_DSTPORT] = {"dstport", "Dst Port", NFQ_F_DST_PORT, NFQ_F_NONE},
	[NFQ_ST_PORT] = {"port", "Port", NFQ_F_SRC_PORT, NFQ_F_DST_PORT},
	[NFQ_ST_PROTO] = {"proto", "Protocol", NFQ_F_PROTO, NFQ_F_NONE},
	[NFQ_ST_SRCAS] = {"srcas", "Src AS", NFQ_F_SRC_AS, NFQ_F_NONE},
	[NFQ_ST_DSTAS] = {"dstas", "Dst AS", NFQ_F_DST_AS, NFQ_F_NONE},
	[NFQ_ST_AS] = {"as", "AS", NFQ_F_SRC_AS, NFQ_F_DST_AS},
	[NFQ_ST_INIF] = {"inif", "Input If", NFQ_F_INPUT_IF, NFQ_F_NONE},
	[NFQ_ST_OUTIF] = {"outif", "Output If", NFQ_F_OUTPUT_IF, NFQ_F_NONE},
	[NFQ_ST_IF] = {"if", "In/Out If", NFQ_F_INPUT_IF, NFQ_F_OUTPUT_IF},
	[NFQ_ST_TOS] = {"tos", "Tos", NFQ_F_TOS, NFQ_F_NONE},
	[NFQ_ST_FLAGS] = {"flags", "Flags", NFQ_F_TCP_FLAGS, NFQ_F_NONE},
	[NFQ_ST_EXPORTER] = {"exporter", "Router IP", NFQ_F_EXPORTER,
			     NFQ_F_NONE},
	[NFQ_ST_NEXTHOP] = {"nhip", "Nexthop IP", NFQ_F_NEXTHOP, NFQ_F_NONE},
	[NFQ_ST_BGP_NEXTHOP] = {"nhbip", "Nexthop BGP IP", NFQ_F_BGP_NEXTHOP,
				NFQ_F_NONE},
	[NFQ_ST_SRCMASK] = {"srcmask", "Src Mask", NFQ_F_SRC_MASK, NFQ_F_NONE},
	[NFQ_ST_DSTMASK] = {"dstmask", "Dst Mask", NFQ_F_DST_MASK, NFQ_F_NONE},
	[NFQ_ST_SRCVLAN] = {"srcvlan", "Src Vlan", NFQ_F_VLAN, NFQ_F_NONE},
	[NFQ_ST_DSTVLAN] = {"dstvlan", "Dst Vlan", NFQ_F_OUT_VLAN, NFQ_F_NONE},
	[NFQ_ST_VLAN] = {"vlan", "Vlan", NFQ_F_VLAN, NFQ_F_OUT_VLAN},
	[NFQ_ST_DIR] = {"dir", "Dir", NFQ_F_DIRECTION, NFQ_F_NONE},
	[NFQ_ST_SRCMAC] = {"insrcmac", "In Src Mac", NFQ_F_SRC_MAC, NFQ_F_NONE},
	[NFQ_ST_DSTMAC] = {"indstmac", "In Dst Mac", NFQ_F_DST_MAC, NFQ_F_NONE},
	[NFQ_ST_MPLS1] = {"mpls1", "MPLS lab 1", NFQ_F_MPLS_LABEL, NFQ_F_NONE},
	[NFQ_ST_ODID] = {"odid", "obs domainID", NFQ_F_DOMAIN, NFQ_F_NONE},
};

/* Other names nfdump users type for the same statistics. */
static const struct {
	const char *alias;
	enum nfq_stat_type t;
} aliases[] = {
	{"router", NFQ_ST_EXPORTER}, {"srctos", NFQ_ST_TOS},
	{"srcmac", NFQ_ST_SRCMAC},   {"dstmac", NFQ_ST_DSTMAC},
	{"nexthop", NFQ_ST_NEXTHOP}, {"flow", NFQ_ST_RECORD},
};

const char *nfq_stat_title(enum nfq_stat_type t)
{
	return types[t].title;
}

const char *nfq_stat_name(enum nfq_stat_type t)
{
	return types[t].name;
}

enum nfq_field nfq_stat_field(enum nfq_stat_type t, int which)
{
	return which ? types[t].f2 : types[t].f1;
}

uint64_t nfq_stat_cols(enum nfq_stat_type t)
{
	uint64_t c = COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS) | COL(BYTES) |
		     COL(PROTO);

	c |= nfq_field_info(types[t].f1)->cols;
	c |= nfq_field_info(types[t].f2)->cols;
	if (t == NFQ_ST_DSTPORT || t == NFQ_ST_PORT)
		c |= COL(ICMP_TYPE) | COL(ICMP_CODE);
	return c;
}

static int lookup_type(const char *s, enum nfq_stat_type *t)
{
	size_t i;

	for (i = 0; i < NFQ_ST_N; i++) {
		if (strcasecmp(s, types[i].name) == 0) {
			*t = (enum nfq_stat_type)i;
			return 0;
		}
	}
	for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(s, aliases[i].alias) == 0) {
			*t = aliases[i].t;
			return 0;
		}
	}
	return -EINVAL;
}

int nfq_stat_parse(const char *s, struct nfq_stat_spec *spec, char *err,
		   size_t errlen)
{
	char buf[128], *save = NULL, *tok;
	int r = 0;

	memset(spec, 0, sizeof(*spec));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "-s '%.40s...': too long", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	tok = strtok_r(buf, "/", &save);
	if (tok == NULL || lookup_type(tok, &spec->type)) {
		snprintf(err, errlen,
			 "-s '%s': unknown statistic '%s' (record, srcip, "
			 "dstip, ip, srcport, dstport, port, proto, srcas, "
			 "dstas, as, inif, outif, if, tos, flags, exporter, "
			 "nhip, srcmask, dstmask, vlan, dir, ...)",
			 s, tok ? tok : "");
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, "/", &save)) != NULL) {
		enum nfq_order o;

		if (nfq_order_parse(tok, &o) || o == NFQ_ORD_TSTART ||
		    o == NFQ_ORD_TEND || o == NFQ_ORD_DURATION ||
		    o == NFQ_ORD_OPACKETS || o == NFQ_ORD_OBYTES) {
			snprintf(err, errlen,
				 "-s '%s': unknown order '%s' (flows, "
				 "packets, bytes, pps, bps, bpp)",
				 s, tok);
			return -EINVAL;
		}
		if (spec->n_orders ==
		    sizeof(spec->orders) / sizeof(spec->orders[0])) {
			snprintf(err, errlen, "-s '%s': too many orders", s);
			return -EINVAL;
		}
		spec->orders[spec->n_orders++] = o;
	}
	if (spec->n_orders == 0)
		spec->orders[spec->n_orders++] = NFQ_ORD_FLOWS;
	return r;
}

int nfq_stat_init(struct nfq_stat *s, const struct nfq_stat_spec *spec,
		  const struct nfq_key *record_key)
{
	memset(s, 0, sizeof(*s));
	s->spec = *spec;
	if (spec->type == NFQ_ST_RECORD)
		return nfq_agg_init(&s->agg, record_key, 0);
	nfq_key_add(&s->key, types[spec->type].f1, 32, 128, false);
	return nfq_ht_new(&s->ht, s->key.len);
}

void nfq_stat_free(struct nfq_stat *s)
{
	if (s->spec.type == NFQ_ST_RECORD)
		nfq_agg_free(&s->agg);
	nfq_ht_free(s->ht);
	s->ht = NULL;
}

/* Adds f under the value of `field` (which has the key's width). */
static int add_value(struct nfq_stat *s, enum nfq_field field,
		     const struct fy_flow *f, uint8_t *key)
{
	const struct nfq_field_info *fi = nfq_field_info(field);
	struct nfq_counters *c;

	memcpy(key, (const uint8_t *)f + fi->offset, fi->size);
	if ((c = nfq_ht_get(s->ht, key, NULL)) == NULL)
		return -ENOMEM;
	nfq_counters_add_flow(c, f);
	return 0;
}

int nfq_stat_add(struct nfq_stat *s, const struct fy_flow *f)
{
	enum nfq_field f1, f2;
	uint8_t k1[16], k2[16];
	int r;

	if (s->spec.type == NFQ_ST_RECORD)
		return nfq_agg_add(&s->agg, f);
	f1 = types[s->spec.type].f1;
	f2 = types[s->spec.type].f2;
	if ((r = add_value(s, f1, f, k1)) != 0 || f2 == NFQ_F_NONE)
		return r;
	/* both ends of the same value: one flow, counted once */
	memcpy(k2, (const uint8_t *)f + nfq_field_info(f2)->offset,
	       nfq_field_info(f2)->size);
	if (memcmp(k1, k2, nfq_field_info(f1)->size) == 0)
		return 0;
	return add_value(s, f2, f, k2);
}

#define AHEAD 16
#define RING 32

/*
 * A key of sz bytes: with the sizes of the fields as constants, not a
 * memcpy of a run-time length (which gcc turns into `rep movsq`, tens of
 * cycles to start, once per flow).
 */
static inline void copy_key(uint8_t *dst, const uint8_t *src, size_t sz)
{
	switch (sz) {
	case 16:
		memcpy(dst, src, 16);
		break;
	case 8:
		memcpy(dst, src, 8);
		break;
	case 6:
		memcpy(dst, src, 6);
		break;
	case 4:
		memcpy(dst, src, 4);
		break;
	case 2:
		memcpy(dst, src, 2);
		break;
	case 1:
		*dst = *src;
		break;
	default:
		memcpy(dst, src, sz);
	}
}

/*
 * One end of a batch (which: 0 the first field, 1 the second of an "any"
 * statistic) through the same pipeline as nfq_agg_add_batch.
 */
static int add_batch_end(struct nfq_stat *s, struct fy_flow *const *flows,
			 size_t n, int which)
{
	enum nfq_field f1 = types[s->spec.type].f1, f2 = types[s->spec.type].f2;
	const struct nfq_field_info *fi = nfq_field_info(which ? f2 : f1);
	size_t off1 = nfq_field_info(f1)->offset, sz = fi->size, i;
	uint8_t keys[RING][16];
	uint64_t hs[RING];
	bool skip[RING];

	for (i = 0; i < n + AHEAD; i++) {
		if (i < n) {
			const uint8_t *base = (const uint8_t *)flows[i];

			copy_key(keys[i % RING], base + fi->offset, sz);
			/* an "any" flow whose two ends agree: once */
			skip[i % RING] =
				which &&
				memcmp(base + off1, keys[i % RING], sz) == 0;
			hs[i % RING] = nfq_ht_hash(s->ht, keys[i % RING]);
			nfq_ht_prefetch_slot(s->ht, hs[i % RING]);
		}
		if (i >= AHEAD / 2 && i - AHEAD / 2 < n)
			nfq_ht_prefetch_entry(s->ht,
					      hs[(i - AHEAD / 2) % RING]);
		if (i >= AHEAD && !skip[(i - AHEAD) % RING]) {
			size_t j = i - AHEAD;
			struct nfq_counters *c = nfq_ht_get_hashed(
				s->ht, keys[j % RING], hs[j % RING]);

			if (c == NULL)
				return -ENOMEM;
			nfq_counters_add_flow(c, flows[j]);
		}
	}
	return 0;
}

int nfq_stat_add_batch(struct nfq_stat *s, struct fy_flow *const *flows,
		       size_t n)
{
	int r;

	if (s->spec.type == NFQ_ST_RECORD)
		return nfq_agg_add_batch(&s->agg, flows, n);
	if ((r = add_batch_end(s, flows, n, 0)) != 0)
		return r;
	if (types[s->spec.type].f2 != NFQ_F_NONE)
		return add_batch_end(s, flows, n, 1);
	return 0;
}

int nfq_stat_merge(struct nfq_stat *to, struct nfq_stat *from)
{
	if (to->spec.type == NFQ_ST_RECORD)
		return nfq_agg_merge(&to->agg, &from->agg);
	return nfq_ht_merge(to->ht, from->ht);
}
