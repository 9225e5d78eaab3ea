/*
 * output.c - how records, statistics and summaries are printed.
 *
 * The text formats are nfdump's, column for column: every predefined
 * format (line, long, extended, biline, bilong) is a fmt: string compiled
 * into items once, and each record is written into one line buffer with
 * hand-rolled number formatting, then handed to stdio in one call. An
 * operator's scripts that cut nfdump's columns keep working.
 *
 * csv keeps nfdump's header and column order (fields flowyard does not
 * keep print as nfdump prints them when absent). json is an array of
 * objects with nfdump's key names; ndjson is one object per line. Every
 * JSON mode is valid JSON as a whole, statistics included.
 */
#include "nfq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)
#define ADDR_W 16  /* condensed address column */
#define ADDR_W6 39 /* -6: a full IPv6 address */

enum tag {
	T_LITERAL,
	T_TS,
	T_TE,
	T_TSR,
	T_TER,
	T_TD,
	T_PR,
	T_SA,
	T_DA,
	T_SAP,
	T_DAP,
	T_SP,
	T_DP,
	T_IT,
	T_IC,
	T_SN,
	T_DN,
	T_NH,
	T_NHB,
	T_RA,
	T_SAS,
	T_DAS,
	T_IN,
	T_OUT,
	T_PKT,
	T_IPKT,
	T_OPKT,
	T_BYT,
	T_IBYT,
	T_OBYT,
	T_FL,
	T_FLG,
	T_TOS,
	T_STOS,
	T_DTOS,
	T_DIR,
	T_SMK,
	T_DMK,
	T_FWD,
	T_SVLN,
	T_DVLN,
	T_ISMC,
	T_ODMC,
	T_IDMC,
	T_OSMC,
	T_MPLS1,
	T_BPS,
	T_PPS,
	T_BPP,
	T_ODID,
	T_NFV,
	T_CNT,
	T_ENG,
	T_XSA,
	T_XDA,
	T_XSP,
	T_XDP,
	T_SI,
	T_NL,
};

/*
 * Width < 0: left-aligned. An address column (width ADDR_W) widens to
 * ADDR_W6 with -6.
 */
struct tag_def {
	const char *name;
	enum tag tag;
	const char *title;
	int width;
	uint64_t cols;
};

static bool is_addr_tag(enum tag t)
{
	switch (t) {
	case T_SA:
	case T_DA:
	case T_SAP:
	case T_DAP:
	case T_SN:
	case T_DN:
	case T_NH:
	case T_NHB:
	case T_RA:
	case T_XSA:
	case T_XDA:
		return true;
	default:
		return false;
	}
}

static const struct tag_def tag_defs[] = {
	{"tfs", T_TS, "Date first seen", -23, COL(FIRST_MS)},
	{"ts", T_TS, "Date first seen", -23, COL(FIRST_MS)},
	{"te", T_TE, "Date last seen", -23, COL(LAST_MS)},
	{"tsr", T_TSR, "Date first seen (raw)", -25, COL(FIRST_MS)},
	{"ter", T_TER, "Date last seen (raw)", -25, COL(LAST_MS)},
	{"td", T_TD, "    Duration    ", 16, COL(FIRST_MS) | COL(LAST_MS)},
	{"pr", T_PR, "Proto", -5, COL(PROTO)},
	{"sap", T_SAP, "Src IP Addr", ADDR_W,
	 COL(SRC) | COL(SRC_PORT) | COL(PROTO)},
	{"dap", T_DAP, "Dst IP Addr", ADDR_W,
	 COL(DST) | COL(DST_PORT) | COL(PROTO) | COL(ICMP_TYPE) |
		 COL(ICMP_CODE)},
	{"sa", T_SA, "Src IP Addr", ADDR_W, COL(SRC) | COL(FAMILY)},
	{"da", T_DA, "Dst IP Addr", ADDR_W, COL(DST) | COL(FAMILY)},
	{"sp", T_SP, "Src Pt", 6, COL(SRC_PORT)},
	{"dp", T_DP, "Dst Pt", 6,
	 COL(DST_PORT) | COL(PROTO) | COL(ICMP_TYPE) | COL(ICMP_CODE)},
	{"it", T_IT, "ICMP-T", 6, COL(ICMP_TYPE)},
	{"ic", T_IC, "ICMP-C", 6, COL(ICMP_CODE)},
	{"sn", T_SN, "Src Network", ADDR_W, COL(SRC) | COL(SRC_MASK)},
	{"dn", T_DN, "Dst Network", ADDR_W, COL(DST) | COL(DST_MASK)},
	{"nhb", T_NHB, "BGP next-hop IP", ADDR_W, COL(BGP_NEXTHOP)},
	{"nh", T_NH, "Next-hop IP", ADDR_W, COL(NEXTHOP)},
	{"ra", T_RA, "Router IP", ADDR_W, COL(EXPORTER)},
	{"sas", T_SAS, "Src AS", 6, COL(SRC_AS)},
	{"das", T_DAS, "Dst AS", 6, COL(DST_AS)},
	{"in", T_IN, "Input", 6, COL(INPUT_IF)},
	{"out", T_OUT, "Output", 6, COL(OUTPUT_IF)},
	{"pkt", T_PKT, "Packets", 8, COL(PACKETS)},
	{"ipkt", T_IPKT, "In Pkt", 8, COL(PACKETS)},
	{"opkt", T_OPKT, "Out Pkt", 8, COL(OUT_PACKETS)},
	{"byt", T_BYT, "Bytes", 8, COL(BYTES)},
	{"ibyt", T_IBYT, "In Byte", 8, COL(BYTES)},
	{"obyt", T_OBYT, "Out Byte", 8, COL(OUT_BYTES)},
	{"fl", T_FL, "Flows", 5, 0},
	{"flg", T_FLG, "Flags", 8, COL(TCP_FLAGS)},
	{"tos", T_TOS, "Tos", 3, COL(TOS)},
	{"stos", T_STOS, "STos", 4, COL(TOS)},
	{"dtos", T_DTOS, "DTos", 4, 0},
	{"dir", T_DIR, "Dir", 3, COL(DIRECTION)},
	{"smk", T_SMK, "SMask", 5, COL(SRC_MASK)},
	{"dmk", T_DMK, "DMask", 5, COL(DST_MASK)},
	{"fwd", T_FWD, "Fwd", 3, COL(FORWARDING_STATUS)},
	{"svln", T_SVLN, "SVlan", 5, COL(VLAN)},
	{"dvln", T_DVLN, "DVlan", 5, COL(OUT_VLAN)},
	{"ismc", T_ISMC, "In src MAC Addr", 17, COL(SRC_MAC)},
	{"odmc", T_ODMC, "Out dst MAC Addr", 17, 0},
	{"idmc", T_IDMC, "In dst MAC Addr", 17, COL(DST_MAC)},
	{"osmc", T_OSMC, "Out src MAC Addr", 17, 0},
	{"mpls1", T_MPLS1, " MPLS lbl 1 ", 12, COL(MPLS_LABEL)},
	{"bps", T_BPS, "bps", 8, COL(BYTES) | COL(FIRST_MS) | COL(LAST_MS)},
	{"pps", T_PPS, "pps", 8, COL(PACKETS) | COL(FIRST_MS) | COL(LAST_MS)},
	{"bpp", T_BPP, "Bpp", 6, COL(BYTES) | COL(PACKETS)},
	{"odid", T_ODID, "obsDomainID", 11, COL(DOMAIN)},
	{"nfv", T_NFV, "Ver", 3, COL(NF_VERSION)},
	{"cnt", T_CNT, "Count", 5, 0},
	{"eng", T_ENG, " engine", 7, COL(ENGINE_TYPE) | COL(ENGINE_ID)},
	{"xsa", T_XSA, "X-Src IP Addr", ADDR_W, COL(XLATE_SRC)},
	{"xda", T_XDA, "X-Dst IP Addr", ADDR_W, COL(XLATE_DST)},
	{"xsp", T_XSP, "XsPort", 6, COL(XLATE_SRC_PORT)},
	{"xdp", T_XDP, "XdPort", 6, COL(XLATE_DST_PORT)},
	{"sint", T_SI, "SampInt", 7, COL(SAMPLING_INTERVAL)},
	{"n", T_NL, "", 0, 0},
};

struct nfq_fmt_item {
	enum tag tag;
	char *lit; /* T_LITERAL */
	size_t lit_len;
};

/* nfdump 1.7.1's predefined formats. */
static const struct {
	const char *name;
	const char *fmt;
} predefined[] = {
	{"line", "%ts %td %pr %sap -> %dap %pkt %byt %fl"},
	{"long", "%ts %td %pr %sap -> %dap %flg %tos %pkt %byt %fl"},
	{"extended",
	 "%ts %td %pr %sap -> %dap %flg %tos %pkt %byt %pps %bps %bpp %fl"},
	{"biline", "%ts %td %pr %sap <-> %dap %opkt %ipkt %obyt %ibyt %fl"},
	{"bilong",
	 "%ts %td %pr %sap <-> %dap %flg %tos %opkt %ipkt %obyt %ibyt %fl"},
};

/* ------------------------------------------------------------------ */
/* Small formatters: a listing of millions of flows spends its time here,
 * so the common ones avoid printf. */

/* Decimal digits of v at p; returns the end. p needs 20 bytes. */
static char *put_u64(char *p, uint64_t v)
{
	char t[20];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	return p;
}

/* Dotted quad of an IPv4-mapped address; returns the length. */
static size_t v4_text(const struct fy_addr *a, char *buf)
{
	char *p = buf;
	int i;

	for (i = 12; i < 16; i++) {
		p = put_u64(p, a->b[i]);
		*p++ = '.';
	}
	p[-1] = '\0';
	return (size_t)(p - 1 - buf);
}

/* An address as text (fy_addr_str, faster for IPv4); returns the length. */
static size_t addr_str(const struct fy_addr *a, char *buf)
{
	if (fy_addr_is_v4(a))
		return v4_text(a, buf);
	fy_addr_str(a, buf, FY_ADDR_STRLEN);
	return strlen(buf);
}

static size_t mac_text(const uint8_t *m, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 6; i++) {
		buf[i * 3] = hex[m[i] >> 4];
		buf[i * 3 + 1] = hex[m[i] & 15];
		buf[i * 3 + 2] = ':';
	}
	buf[17] = '\0';
	return 17;
}

size_t nfq_num_str(char *buf, size_t len, uint64_t v, bool plain)
{
	double f = (double)v;
	int n;

	if ((plain || f < 1e6) && len > 20) {
		n = (int)(put_u64(buf, v) - buf);
		buf[n] = '\0';
		return (size_t)n;
	}
	if (plain || f < 1e6)
		n = snprintf(buf, len, "%" PRIu64, v);
	else if (f >= 1e12)
		n = snprintf(buf, len, "%.1f T", f / 1e12);
	else if (f >= 1e9)
		n = snprintf(buf, len, "%.1f G", f / 1e9);
	else
		n = snprintf(buf, len, "%.1f M", f / 1e6);
	if (n < 0)
		n = 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

void nfq_condense_v6(char *s)
{
	size_t len = strlen(s);

	/* "2001:620:1000:cafe:20e:35ff:fec0:fed5" -> "2001:62..c0:fed5" */
	if (len <= 16)
		return;
	memmove(s + 9, s + len - 7, 8);
	s[7] = '.';
	s[8] = '.';
}

void nfq_flags_str(char *buf, uint8_t flags)
{
	static const char names[] = "CEUAPRSF";
	int i;

	for (i = 0; i < 8; i++)
		buf[i] = flags & (0x80 >> i) ? names[i] : '.';
	buf[8] = '\0';
}

uint64_t nfq_pps(uint64_t packets, uint64_t dur_ms)
{
	return dur_ms ? (uint64_t)((__extension__(unsigned __int128) packets *
				    1000) /
				   dur_ms)
		      : 0;
}

uint64_t nfq_bps(uint64_t bytes, uint64_t dur_ms)
{
	return dur_ms ? (uint64_t)((__extension__(unsigned __int128) bytes *
				    8000) /
				   dur_ms)
		      : 0;
}

uint64_t nfq_bpp(uint64_t bytes, uint64_t packets)
{
	return packets ? bytes / packets : 0;
}

void nfq_json_str(FILE *fp, const char *s)
{
	putc_unlocked('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			putc_unlocked(c, fp);
	}
	putc_unlocked('"', fp);
}

/* ------------------------------------------------------------------ */
/* The line buffer */

struct lbuf {
	char *p;
	size_t n, cap;
};

static void lb_grow(struct lbuf *b, size_t more)
{
	size_t nc;
	char *p;

	if (b->n + more + 1 <= b->cap)
		return;
	nc = b->cap ? b->cap : 256;
	while (nc < b->n + more + 1)
		nc *= 2;
	p = realloc(b->p, nc);
	if (p == NULL) {
		/* keep what fits: a truncated line beats a crash */
		return;
	}
	b->p = p;
	b->cap = nc;
}

static void lb_put(struct lbuf *b, const char *s, size_t len)
{
	lb_grow(b, len);
	if (b->n + len + 1 > b->cap)
		return;
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

static void lb_pad(struct lbuf *b, size_t k)
{
	lb_grow(b, k);
	if (b->n + k + 1 > b->cap)
		return;
	memset(b->p + b->n, ' ', k);
	b->n += k;
}

/* s padded to |width|: right-aligned for width > 0, left for < 0. */
static void lb_field(struct lbuf *b, const char *s, size_t len, int width)
{
	size_t w = (size_t)(width < 0 ? -width : width);

	if (width > 0 && len < w)
		lb_pad(b, w - len);
	lb_put(b, s, len);
	if (width < 0 && len < w)
		lb_pad(b, w - len);
}

static void lb_u64(struct lbuf *b, uint64_t v, int width)
{
	char s[24];

	lb_field(b, s, (size_t)(put_u64(s, v) - s), width);
}

/* ------------------------------------------------------------------ */
/* Formats */

int nfq_format_parse(const char *s, enum nfq_format *f, const char **fmt)
{
	static const struct {
		const char *name;
		enum nfq_format f;
	} names[] = {
		{"line", NFQ_O_LINE},	      {"long", NFQ_O_LONG},
		{"extended", NFQ_O_EXTENDED}, {"biline", NFQ_O_BILINE},
		{"bilong", NFQ_O_BILONG},     {"csv", NFQ_O_CSV},
		{"json", NFQ_O_JSON},	      {"ndjson", NFQ_O_NDJSON},
		{"raw", NFQ_O_RAW},
	};
	size_t i;

	*fmt = NULL;
	if (strncmp(s, "fmt:", 4) == 0) {
		*f = NFQ_O_FMT;
		*fmt = s + 4;
		return 0;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*f = names[i].f;
			return 0;
		}
	}
	return -EINVAL;
}

bool nfq_out_is_json(const struct nfq_out *out)
{
	return out->o.format == NFQ_O_JSON || out->o.format == NFQ_O_NDJSON;
}

static const struct tag_def *find_tag(const char *s, size_t *len)
{
	const struct tag_def *best = NULL;
	size_t i, bl = 0;

	/* the longest name that matches: %sap before %sa */
	for (i = 0; i < sizeof(tag_defs) / sizeof(tag_defs[0]); i++) {
		size_t l = strlen(tag_defs[i].name);

		if (l > bl && strncmp(s, tag_defs[i].name, l) == 0) {
			best = &tag_defs[i];
			bl = l;
		}
	}
	*len = bl;
	return best;
}

static const struct tag_def *tag_def(enum tag t)
{
	size_t i;

	for (i = 0; i < sizeof(tag_defs) / sizeof(tag_defs[0]); i++)
		if (tag_defs[i].tag == t)
			return &tag_defs[i];
	return NULL;
}

static int add_item(struct nfq_out *o, enum tag t, const char *lit, size_t len)
{
	struct nfq_fmt_item *v =
		realloc(o->items, (o->n_items + 1) * sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	o->items = v;
	v[o->n_items].tag = t;
	v[o->n_items].lit = NULL;
	v[o->n_items].lit_len = len;
	if (t == T_LITERAL) {
		if ((v[o->n_items].lit = strndup(lit, len)) == NULL)
			return -ENOMEM;
	}
	o->n_items++;
	return 0;
}

static int compile(struct nfq_out *o, const char *fmt, int depth, char *err,
		   size_t errlen)
{
	const char *p = fmt, *lit = fmt;
	int r;

	while (*p) {
		const struct tag_def *td;
		size_t tl, i;

		if (*p != '%') {
			p++;
			continue;
		}
		if (p > lit &&
		    (r = add_item(o, T_LITERAL, lit, (size_t)(p - lit))))
			return r;
		/* %line, %long...: a predefined format inside this one */
		for (i = 0; i < sizeof(predefined) / sizeof(predefined[0]);
		     i++) {
			size_t l = strlen(predefined[i].name);

			if (strncmp(p + 1, predefined[i].name, l) == 0)
				break;
		}
		if (i < sizeof(predefined) / sizeof(predefined[0]) &&
		    depth == 0) {
			if ((r = compile(o, predefined[i].fmt, 1, err, errlen)))
				return r;
			p += 1 + strlen(predefined[i].name);
			lit = p;
			continue;
		}
		td = find_tag(p + 1, &tl);
		if (td == NULL) {
			snprintf(err, errlen,
				 "-o fmt: unknown tag '%%%.12s' at column %zu",
				 p + 1, (size_t)(p - fmt) + 1);
			return -EINVAL;
		}
		if ((r = add_item(o, td->tag, NULL, 0)))
			return r;
		o->cols |= td->cols;
		p += 1 + tl;
		lit = p;
	}
	if (p > lit && (r = add_item(o, T_LITERAL, lit, (size_t)(p - lit))))
		return r;
	return 0;
}

int nfq_out_init(struct nfq_out *out, const struct nfq_out_opts *o, FILE *fp,
		 char *err, size_t errlen)
{
	const char *fmt = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	out->o = *o;
	out->fp = fp;
	nfq_timefmt_init(&out->tf, o->localtime);
	switch (o->format) {
	case NFQ_O_LINE:
	case NFQ_O_LONG:
	case NFQ_O_EXTENDED:
	case NFQ_O_BILINE:
	case NFQ_O_BILONG:
		fmt = predefined[o->format - NFQ_O_LINE].fmt;
		break;
	case NFQ_O_FMT:
		fmt = o->fmt;
		break;
	default:
		/* csv, json, ndjson, raw print every field */
		out->cols = FY_STORE_COLS_ALL;
		return 0;
	}
	if (fmt == NULL || *fmt == '\0') {
		snprintf(err, errlen, "-o fmt: empty format");
		return -EINVAL;
	}
	if ((r = compile(out, fmt, 0, err, errlen)) != 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "-o: out of memory");
		nfq_out_free(out);
		return r;
	}
	return 0;
}

void nfq_out_free(struct nfq_out *out)
{
	size_t i;

	for (i = 0; i < out->n_items; i++)
		free(out->items[i].lit);
	free(out->items);
	free(out->line);
	out->items = NULL;
	out->n_items = 0;
	out->line = NULL;
}

/* ------------------------------------------------------------------ */
/* Field values */

static bool is_icmp(const struct fy_flow *f)
{
	return f->proto == 1 || f->proto == 58;
}

/*
 * Address text. Auxiliary addresses (next hop, router) that were never
 * set print as nfdump prints them: 0.0.0.0.
 */
static size_t addr_text(const struct nfq_out *o, const struct fy_addr *a,
			bool aux, char *buf)
{
	size_t n;

	if (fy_addr_is_zero(a) && aux) {
		strcpy(buf, "0.0.0.0");
		return 7;
	}
	n = addr_str(a, buf);
	if (!o->o.v6_full && n > 16) {
		nfq_condense_v6(buf);
		n = 16;
	}
	return n;
}

static int addr_width(const struct nfq_out *o)
{
	return o->o.v6_full ? ADDR_W6 : ADDR_W;
}

static void put_addr_port(struct nfq_out *o, struct lbuf *b,
			  const struct fy_addr *a, const struct fy_flow *f,
			  bool dst)
{
	char s[FY_ADDR_STRLEN + 1], p[16];
	size_t n = addr_text(o, a, false, s);
	int pn;

	lb_field(b, s, n, addr_width(o));
	lb_put(b, fy_addr_is_v4(a) ? ":" : ".", 1);
	if (dst && is_icmp(f)) {
		char *e = put_u64(p, f->dst_port >> 8);

		*e++ = '.';
		pn = (int)(put_u64(e, f->dst_port & 0xff) - p);
	} else {
		pn = (int)(put_u64(p, dst ? f->dst_port : f->src_port) - p);
	}
	lb_field(b, p, (size_t)pn, -5);
}

static void put_net(struct nfq_out *o, struct lbuf *b, const struct fy_addr *a,
		    uint8_t mask)
{
	char s[FY_ADDR_STRLEN + 1], m[8];
	struct fy_addr x = *a;
	size_t n;
	int mn;

	/* mask 0: the exporter sent none; show the address unmasked */
	if (mask)
		nfq_addr_mask(&x, mask, mask);
	n = addr_text(o, &x, false, s);
	lb_field(b, s, n, addr_width(o));
	mn = snprintf(m, sizeof(m), "/%u", mask);
	lb_field(b, m, (size_t)mn, -3);
}

static void put_mac(struct lbuf *b, const uint8_t *m)
{
	char s[24];

	lb_field(b, s, mac_text(m, s), 17);
}

static void put_num(const struct nfq_out *o, struct lbuf *b, uint64_t v,
		    int width)
{
	char s[32];
	size_t n = nfq_num_str(s, sizeof(s), v, o->o.plain);

	lb_field(b, s, n, width);
}

static void put_proto(const struct nfq_out *o, struct lbuf *b, uint8_t proto,
		      int width)
{
	const char *name = o->o.plain ? NULL : nfq_proto_name(proto);
	char s[8];
	int n;

	if (name) {
		lb_field(b, name, strlen(name), width);
		return;
	}
	n = snprintf(s, sizeof(s), "%u", proto);
	lb_field(b, s, (size_t)n, width);
}

static void put_item(struct nfq_out *o, struct lbuf *b,
		     const struct nfq_fmt_item *it, const struct fy_flow *f,
		     uint64_t flows)
{
	uint64_t dur = f->last_ms > f->first_ms ? f->last_ms - f->first_ms : 0;
	char s[64];
	size_t n;

	switch (it->tag) {
	case T_LITERAL:
		lb_put(b, it->lit, it->lit_len);
		break;
	case T_TS:
		n = nfq_time_str(&o->tf, s, f->first_ms, true, ' ');
		lb_put(b, s, n);
		break;
	case T_TE:
		n = nfq_time_str(&o->tf, s, f->last_ms, true, ' ');
		lb_put(b, s, n);
		break;
	case T_TSR:
	case T_TER: {
		uint64_t t = it->tag == T_TSR ? f->first_ms : f->last_ms;
		int k = snprintf(s, sizeof(s), "%" PRIu64 ".%03u", t / 1000,
				 (unsigned)(t % 1000));
		lb_put(b, s, (size_t)k);
		break;
	}
	case T_TD:
		n = nfq_duration_str(s, sizeof(s), dur, o->o.plain);
		lb_field(b, s, n, 16);
		break;
	case T_PR:
		put_proto(o, b, f->proto, -5);
		break;
	case T_SA:
	case T_DA:
		n = addr_text(o, it->tag == T_SA ? &f->src : &f->dst, false, s);
		lb_field(b, s, n, addr_width(o));
		break;
	case T_SAP:
		put_addr_port(o, b, &f->src, f, false);
		break;
	case T_DAP:
		put_addr_port(o, b, &f->dst, f, true);
		break;
	case T_SP:
		lb_u64(b, f->src_port, 6);
		break;
	case T_DP:
		if (is_icmp(f)) {
			int k = snprintf(s, sizeof(s), "%u.%u",
					 f->dst_port >> 8, f->dst_port & 0xff);
			lb_field(b, s, (size_t)k, 6);
		} else {
			lb_u64(b, f->dst_port, 6);
		}
		break;
	case T_IT:
		lb_u64(b, f->icmp_type, 6);
		break;
	case T_IC:
		lb_u64(b, f->icmp_code, 6);
		break;
	case T_SN:
		put_net(o, b, &f->src, f->src_mask);
		break;
	case T_DN:
		put_net(o, b, &f->dst, f->dst_mask);
		break;
	case T_NH:
	case T_NHB:
	case T_RA:
	case T_XSA:
	case T_XDA: {
		const struct fy_addr *a = it->tag == T_NH    ? &f->nexthop
					  : it->tag == T_NHB ? &f->bgp_nexthop
					  : it->tag == T_RA  ? &f->exporter
					  : it->tag == T_XSA ? &f->xlate_src
							     : &f->xlate_dst;
		n = addr_text(o, a, true, s);
		lb_field(b, s, n, addr_width(o));
		break;
	}
	case T_SAS:
		lb_u64(b, f->src_as, 6);
		break;
	case T_DAS:
		lb_u64(b, f->dst_as, 6);
		break;
	case T_IN:
		lb_u64(b, f->input_if, 6);
		break;
	case T_OUT:
		lb_u64(b, f->output_if, 6);
		break;
	case T_PKT:
	case T_IPKT:
		put_num(o, b, f->packets, 8);
		break;
	case T_OPKT:
		put_num(o, b, f->out_packets, 8);
		break;
	case T_BYT:
	case T_IBYT:
		put_num(o, b, f->bytes, 8);
		break;
	case T_OBYT:
		put_num(o, b, f->out_bytes, 8);
		break;
	case T_FL:
		lb_u64(b, flows, 5);
		break;
	case T_FLG:
		nfq_flags_str(s, f->tcp_flags);
		lb_field(b, s, 8, 8);
		break;
	case T_TOS:
		lb_u64(b, f->tos, 3);
		break;
	case T_STOS:
		lb_u64(b, f->tos, 4);
		break;
	case T_DTOS:
		lb_u64(b, 0, 4);
		break;
	case T_DIR:
		lb_field(b, f->direction ? "E" : "I", 1, 3);
		break;
	case T_SMK:
		lb_u64(b, f->src_mask, 5);
		break;
	case T_DMK:
		lb_u64(b, f->dst_mask, 5);
		break;
	case T_FWD:
		lb_u64(b, f->forwarding_status, 3);
		break;
	case T_SVLN:
		lb_u64(b, f->vlan, 5);
		break;
	case T_DVLN:
		lb_u64(b, f->out_vlan, 5);
		break;
	case T_ISMC:
		put_mac(b, f->src_mac);
		break;
	case T_IDMC:
		put_mac(b, f->dst_mac);
		break;
	case T_ODMC:
	case T_OSMC: {
		static const uint8_t zero[6];
		put_mac(b, zero);
		break;
	}
	case T_MPLS1: {
		int k = snprintf(s, sizeof(s), "%u-0-0", f->mpls_label);
		lb_field(b, s, (size_t)k, 12);
		break;
	}
	case T_BPS:
		put_num(o, b, nfq_bps(f->bytes, dur), 8);
		break;
	case T_PPS:
		put_num(o, b, nfq_pps(f->packets, dur), 8);
		break;
	case T_BPP:
		put_num(o, b, nfq_bpp(f->bytes, f->packets), 6);
		break;
	case T_ODID: {
		int k = snprintf(s, sizeof(s), "0x%09x", f->domain);
		lb_put(b, s, (size_t)k);
		break;
	}
	case T_NFV:
		lb_u64(b, f->nf_version, 3);
		break;
	case T_CNT:
		lb_u64(b, o->count, 5);
		break;
	case T_ENG: {
		int k = snprintf(s, sizeof(s), "%3u/%-3u", f->engine_type,
				 f->engine_id);
		lb_put(b, s, (size_t)k);
		break;
	}
	case T_XSP:
		lb_u64(b, f->xlate_src_port, 6);
		break;
	case T_XDP:
		lb_u64(b, f->xlate_dst_port, 6);
		break;
	case T_SI:
		lb_u64(b, f->sampling_interval, 7);
		break;
	case T_NL:
		lb_put(b, "\n", 1);
		break;
	}
}

/* The header text of one item: its title at the column's width. */
static void put_title(struct nfq_out *o, struct lbuf *b,
		      const struct nfq_fmt_item *it)
{
	const struct tag_def *td;
	int w;

	if (it->tag == T_LITERAL) {
		/* nfdump blanks literal text in the header */
		size_t i;

		for (i = 0; i < it->lit_len; i++)
			lb_put(b, it->lit[i] == '\t' ? "\t" : " ", 1);
		return;
	}
	if (it->tag == T_NL) {
		lb_put(b, "\n", 1);
		return;
	}
	td = tag_def(it->tag);
	w = is_addr_tag(it->tag) ? addr_width(o) : td->width;
	switch (it->tag) {
	case T_SAP:
	case T_DAP:
		lb_field(b, td->title, strlen(td->title), w);
		lb_put(b, ":Port ", 6);
		break;
	case T_SN:
	case T_DN:
		lb_field(b, td->title, strlen(td->title), w + 3);
		break;
	default:
		lb_field(b, td->title, strlen(td->title), w);
		break;
	}
}

static struct lbuf take_line(struct nfq_out *o)
{
	struct lbuf b = {o->line, 0, o->line_cap};
	return b;
}

static void flush_line(struct nfq_out *o, struct lbuf *b)
{
	lb_put(b, "\n", 1);
	fwrite(b->p, 1, b->n, o->fp);
	o->line = b->p;
	o->line_cap = b->cap;
}

/* ------------------------------------------------------------------ */
/* csv */

static const char csv_header[] =
	"ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,"
	"das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,"
	"mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,"
	"eng,exid,tr";

static void csv_addr(struct lbuf *b, const struct fy_addr *a, bool aux)
{
	char s[FY_ADDR_STRLEN + 1];
	size_t n;

	if (aux && fy_addr_is_zero(a)) {
		lb_put(b, "0.0.0.0,", 8);
		return;
	}
	n = addr_str(a, s);
	s[n++] = ',';
	lb_put(b, s, n);
}

static void csv_u64(struct lbuf *b, uint64_t v)
{
	char s[24], *e = put_u64(s, v);

	*e++ = ',';
	lb_put(b, s, (size_t)(e - s));
}

static void csv_mac(struct lbuf *b, const uint8_t *m)
{
	char s[24];

	mac_text(m, s);
	s[17] = ',';
	lb_put(b, s, 18);
}

static void csv_record(struct nfq_out *o, const struct fy_flow *f)
{
	static const uint8_t zero_mac[6];
	struct lbuf b = take_line(o);
	uint64_t dur = f->last_ms > f->first_ms ? f->last_ms - f->first_ms : 0;
	char s[64];
	size_t n;
	int i;

	/* nfdump's csv has times to the second; td keeps the ms */
	n = nfq_time_str(&o->tf, s, f->first_ms, false, ' ');
	lb_put(&b, s, n);
	lb_put(&b, ",", 1);
	n = nfq_time_str(&o->tf, s, f->last_ms, false, ' ');
	lb_put(&b, s, n);
	lb_put(&b, ",", 1);
	{
		char *e = put_u64(s, dur / 1000);

		*e++ = '.';
		*e++ = (char)('0' + dur % 1000 / 100);
		*e++ = (char)('0' + dur % 100 / 10);
		*e++ = (char)('0' + dur % 10);
		*e++ = ',';
		lb_put(&b, s, (size_t)(e - s));
	}
	csv_addr(&b, &f->src, false);
	csv_addr(&b, &f->dst, false);
	csv_u64(&b, f->src_port);
	csv_u64(&b, f->dst_port);
	put_proto(o, &b, f->proto, 0);
	lb_put(&b, ",", 1);
	nfq_flags_str(s, f->tcp_flags);
	lb_put(&b, s, 8);
	lb_put(&b, ",", 1);
	csv_u64(&b, f->forwarding_status);
	csv_u64(&b, f->tos);
	csv_u64(&b, f->packets);
	csv_u64(&b, f->bytes);
	csv_u64(&b, f->out_packets);
	csv_u64(&b, f->out_bytes);
	csv_u64(&b, f->input_if);
	csv_u64(&b, f->output_if);
	csv_u64(&b, f->src_as);
	csv_u64(&b, f->dst_as);
	csv_u64(&b, f->src_mask);
	csv_u64(&b, f->dst_mask);
	csv_u64(&b, 0); /* dtos: not kept */
	csv_u64(&b, f->direction);
	csv_addr(&b, &f->nexthop, true);
	csv_addr(&b, &f->bgp_nexthop, true);
	csv_u64(&b, f->vlan);
	csv_u64(&b, f->out_vlan);
	csv_mac(&b, f->src_mac);
	csv_mac(&b, zero_mac);
	csv_mac(&b, f->dst_mac);
	csv_mac(&b, zero_mac);
	n = (size_t)(put_u64(s, f->mpls_label) - s);
	lb_put(&b, s, n);
	lb_put(&b, "-0-0,", 5);
	for (i = 2; i <= 10; i++)
		lb_put(&b, "0-0-0,", 6);
	/* nprobe latencies, printed as nfdump prints them when absent */
	lb_put(&b, "    0.000,    0.000,    0.000,", 30);
	csv_addr(&b, &f->exporter, true);
	{
		char *e = put_u64(s, f->engine_type);

		*e++ = '/';
		e = put_u64(e, f->engine_id);
		memcpy(e, ",0,", 3);
		lb_put(&b, s, (size_t)(e + 3 - s));
	}
	/* tr, the time the collector received it, is not kept: empty */
	flush_line(o, &b);
}

/* ------------------------------------------------------------------ */
/* json */

struct jw {
	FILE *fp;
	bool pretty;
	bool first;
};

/*
 * JSON goes straight to stdio, unlocked: only the main thread prints,
 * and locking per character made -o json four times slower.
 */
static void jw_key(struct jw *j, const char *k)
{
	if (!j->first)
		fputs_unlocked(j->pretty ? ",\n" : ",", j->fp);
	fputs_unlocked(j->pretty ? "\t\"" : "\"", j->fp);
	fputs_unlocked(k, j->fp);
	fputs_unlocked(j->pretty ? "\" : " : "\":", j->fp);
	j->first = false;
}

static void jw_u64(struct jw *j, const char *k, uint64_t v)
{
	char s[24];

	jw_key(j, k);
	fwrite_unlocked(s, 1, (size_t)(put_u64(s, v) - s), j->fp);
}

/* A string known to need no escaping (numbers, addresses, times). */
static void jw_plain(struct jw *j, const char *k, const char *v, size_t n)
{
	jw_key(j, k);
	putc_unlocked('"', j->fp);
	fwrite_unlocked(v, 1, n, j->fp);
	putc_unlocked('"', j->fp);
}

static void jw_str(struct jw *j, const char *k, const char *v)
{
	jw_key(j, k);
	nfq_json_str(j->fp, v);
}

static void jw_time(struct nfq_out *o, struct jw *j, const char *k, uint64_t ms)
{
	char s[40];
	size_t n = nfq_time_str(&o->tf, s, ms, true, 'T');

	/* UTC says so; --localtime prints the zone-less local time */
	if (!o->o.localtime)
		s[n++] = 'Z';
	jw_plain(j, k, s, n);
}

static void jw_addr(struct jw *j, const char *k4, const char *k6,
		    const struct fy_addr *a)
{
	char s[FY_ADDR_STRLEN];
	size_t n = addr_str(a, s);

	jw_plain(j, fy_addr_is_v4(a) ? k4 : k6, s, n);
}

static void jw_mac(struct jw *j, const char *k, const uint8_t *m)
{
	char s[24];

	jw_plain(j, k, s, mac_text(m, s));
}

static bool mac_set(const uint8_t *m)
{
	return m[0] | m[1] | m[2] | m[3] | m[4] | m[5];
}

/* The members of one record object (nfdump's names). */
static void json_members(struct nfq_out *o, struct jw *j,
			 const struct fy_flow *f, uint64_t flows, bool agg)
{
	char s[16];

	jw_str(j, "type", "FLOW");
	jw_u64(j, "sampled", f->sampling_interval > 1);
	jw_time(o, j, "first", f->first_ms);
	jw_time(o, j, "last", f->last_ms);
	jw_u64(j, "in_packets", f->packets);
	jw_u64(j, "in_bytes", f->bytes);
	if (f->out_packets || f->out_bytes) {
		jw_u64(j, "out_packets", f->out_packets);
		jw_u64(j, "out_bytes", f->out_bytes);
	}
	if (agg)
		jw_u64(j, "flows", flows);
	jw_u64(j, "proto", f->proto);
	if (is_icmp(f)) {
		jw_u64(j, "icmp_type", f->dst_port >> 8);
		jw_u64(j, "icmp_code", f->dst_port & 0xff);
	} else {
		nfq_flags_str(s, f->tcp_flags);
		jw_plain(j, "tcp_flags", s, 8);
		jw_u64(j, "src_port", f->src_port);
		jw_u64(j, "dst_port", f->dst_port);
	}
	jw_u64(j, "src_tos", f->tos);
	jw_addr(j, "src4_addr", "src6_addr", &f->src);
	jw_addr(j, "dst4_addr", "dst6_addr", &f->dst);
	jw_u64(j, "input_snmp", f->input_if);
	jw_u64(j, "output_snmp", f->output_if);
	jw_u64(j, "src_mask", f->src_mask);
	jw_u64(j, "dst_mask", f->dst_mask);
	jw_u64(j, "src_as", f->src_as);
	jw_u64(j, "dst_as", f->dst_as);
	jw_u64(j, "fwd_status", f->forwarding_status);
	jw_u64(j, "direction", f->direction);
	if (!fy_addr_is_zero(&f->nexthop))
		jw_addr(j, "ip4_next_hop", "ip6_next_hop", &f->nexthop);
	if (!fy_addr_is_zero(&f->bgp_nexthop))
		jw_addr(j, "ip4_bgp_next_hop", "ip6_bgp_next_hop",
			&f->bgp_nexthop);
	if (f->vlan || f->out_vlan) {
		jw_u64(j, "src_vlan", f->vlan);
		jw_u64(j, "dst_vlan", f->out_vlan);
	}
	if (mac_set(f->src_mac))
		jw_mac(j, "in_src_mac", f->src_mac);
	if (mac_set(f->dst_mac))
		jw_mac(j, "in_dst_mac", f->dst_mac);
	if (f->mpls_label)
		jw_u64(j, "mpls_label_1", f->mpls_label);
	if (!fy_addr_is_zero(&f->xlate_src) ||
	    !fy_addr_is_zero(&f->xlate_dst)) {
		jw_addr(j, "xlt_src4_addr", "xlt_src6_addr", &f->xlate_src);
		jw_addr(j, "xlt_dst4_addr", "xlt_dst6_addr", &f->xlate_dst);
		jw_u64(j, "xlt_src_port", f->xlate_src_port);
		jw_u64(j, "xlt_dst_port", f->xlate_dst_port);
	}
	if (f->sampling_interval > 1)
		jw_u64(j, "sampling_interval", f->sampling_interval);
	if (f->end_reason)
		jw_u64(j, "end_reason", f->end_reason);
	jw_u64(j, "engine_type", f->engine_type);
	jw_u64(j, "engine_id", f->engine_id);
	jw_u64(j, "obs_domain_id", f->domain);
	if (!fy_addr_is_zero(&f->exporter))
		jw_addr(j, "ip4_router", "ip6_router", &f->exporter);
}

static void json_record(struct nfq_out *o, const struct fy_flow *f,
			uint64_t flows, bool agg, const char *indent)
{
	struct jw j = {o->fp, o->o.format == NFQ_O_JSON, true};

	if (o->o.format == NFQ_O_NDJSON) {
		putc('{', o->fp);
		json_members(o, &j, f, flows, agg);
		fputs("}\n", o->fp);
		return;
	}
	/* nfdump's layout: "[\n{\n\t...\n}" then ",\n{" for the next */
	fprintf(o->fp, "%s%s{\n", o->count ? ",\n" : "[\n", indent);
	json_members(o, &j, f, flows, agg);
	fprintf(o->fp, "\n%s}", indent);
}

/* ------------------------------------------------------------------ */
/* raw: every field, one per line, for eyes and debugging */

static void raw_record(struct nfq_out *o, const struct fy_flow *f,
		       uint64_t flows)
{
	char a[FY_ADDR_STRLEN], t1[40], t2[40], fl[9];

	nfq_time_str(&o->tf, t1, f->first_ms, true, ' ');
	nfq_time_str(&o->tf, t2, f->last_ms, true, ' ');
	nfq_flags_str(fl, f->tcp_flags);
	fprintf(o->fp, "Flow Record: \n");
	fprintf(o->fp, "  first        =  %s\n  last         =  %s\n", t1, t2);
	fprintf(o->fp, "  proto        =  %u\n  tcp flags    =  %s\n", f->proto,
		fl);
	fprintf(o->fp, "  src addr     =  %s\n",
		fy_addr_str(&f->src, a, sizeof(a)));
	fprintf(o->fp, "  src port     =  %u\n", f->src_port);
	fprintf(o->fp, "  dst addr     =  %s\n",
		fy_addr_str(&f->dst, a, sizeof(a)));
	fprintf(o->fp, "  dst port     =  %u\n", f->dst_port);
	fprintf(o->fp,
		"  packets      =  %" PRIu64 "\n  bytes        =  %" PRIu64
		"\n",
		f->packets, f->bytes);
	fprintf(o->fp,
		"  out packets  =  %" PRIu64 "\n  out bytes    =  %" PRIu64
		"\n",
		f->out_packets, f->out_bytes);
	fprintf(o->fp, "  flows        =  %" PRIu64 "\n", flows);
	fprintf(o->fp, "  input        =  %u\n  output       =  %u\n",
		f->input_if, f->output_if);
	fprintf(o->fp, "  src as       =  %u\n  dst as       =  %u\n",
		f->src_as, f->dst_as);
	fprintf(o->fp, "  src mask     =  %u\n  dst mask     =  %u\n",
		f->src_mask, f->dst_mask);
	fprintf(o->fp, "  tos          =  %u\n  direction    =  %u\n", f->tos,
		f->direction);
	fprintf(o->fp, "  next hop     =  %s\n",
		fy_addr_str(&f->nexthop, a, sizeof(a)));
	fprintf(o->fp, "  bgp next hop =  %s\n",
		fy_addr_str(&f->bgp_nexthop, a, sizeof(a)));
	fprintf(o->fp, "  vlan         =  %u\n  out vlan     =  %u\n", f->vlan,
		f->out_vlan);
	fprintf(o->fp, "  icmp         =  %u.%u\n", f->icmp_type, f->icmp_code);
	fprintf(o->fp, "  engine       =  %u/%u\n  domain       =  %u\n",
		f->engine_type, f->engine_id, f->domain);
	fprintf(o->fp, "  sampling     =  %u\n  end reason   =  %u\n",
		f->sampling_interval, f->end_reason);
	fprintf(o->fp, "  router       =  %s\n  version      =  %u\n\n",
		fy_addr_str(&f->exporter, a, sizeof(a)), f->nf_version);
}

/* ------------------------------------------------------------------ */
/* Records */

void nfq_out_header(struct nfq_out *out)
{
	struct lbuf b;
	size_t i;

	if (out->o.quiet)
		return;
	if (out->o.format == NFQ_O_CSV) {
		fprintf(out->fp, "%s\n", csv_header);
		return;
	}
	if (out->n_items == 0)
		return;
	b = take_line(out);
	for (i = 0; i < out->n_items; i++)
		put_title(out, &b, &out->items[i]);
	flush_line(out, &b);
}

static void out_record(struct nfq_out *out, const struct fy_flow *f,
		       uint64_t flows, bool agg, const char *indent)
{
	struct lbuf b;
	size_t i;

	switch (out->o.format) {
	case NFQ_O_CSV:
		csv_record(out, f);
		break;
	case NFQ_O_JSON:
	case NFQ_O_NDJSON:
		json_record(out, f, flows, agg, indent);
		break;
	case NFQ_O_RAW:
		raw_record(out, f, flows);
		break;
	default:
		b = take_line(out);
		for (i = 0; i < out->n_items; i++)
			put_item(out, &b, &out->items[i], f, flows);
		flush_line(out, &b);
		break;
	}
	out->count++;
}

void nfq_out_record(struct nfq_out *out, const struct fy_flow *f,
		    uint64_t flows)
{
	out_record(out, f, flows, false, "");
}

void nfq_out_records_end(struct nfq_out *out)
{
	if (out->o.format != NFQ_O_JSON)
		return;
	/* an empty listing is still a JSON document */
	fputs(out->count ? "]\n" : "[]\n", out->fp);
}

/* ------------------------------------------------------------------ */
/* Summary */

void nfq_summary_merge(struct nfq_summary *to, const struct nfq_summary *from)
{
	if (from->flows) {
		if (to->flows == 0 || from->first_ms < to->first_ms)
			to->first_ms = from->first_ms;
		if (from->last_ms > to->last_ms)
			to->last_ms = from->last_ms;
	}
	to->flows += from->flows;
	to->packets += from->packets;
	to->bytes += from->bytes;
	to->processed += from->processed;
	to->blocks_skipped += from->blocks_skipped;
	to->bytes_read += from->bytes_read;
	to->files += from->files;
	if (from->data_last_ms) {
		if (to->data_last_ms == 0 ||
		    from->data_first_ms < to->data_first_ms)
			to->data_first_ms = from->data_first_ms;
		if (from->data_last_ms > to->data_last_ms)
			to->data_last_ms = from->data_last_ms;
	}
}

struct rates {
	uint64_t bps, pps, bpp;
};

static struct rates summary_rates(const struct nfq_summary *s)
{
	uint64_t d = s->last_ms > s->first_ms ? s->last_ms - s->first_ms : 0;
	struct rates r = {nfq_bps(s->bytes, d), nfq_pps(s->packets, d),
			  nfq_bpp(s->bytes, s->packets)};
	return r;
}

static void json_summary_members(struct nfq_out *o, struct jw *j,
				 const struct nfq_summary *s)
{
	struct rates r = summary_rates(s);

	jw_u64(j, "flows", s->flows);
	jw_u64(j, "bytes", s->bytes);
	jw_u64(j, "packets", s->packets);
	jw_u64(j, "avg_bps", r.bps);
	jw_u64(j, "avg_pps", r.pps);
	jw_u64(j, "avg_bpp", r.bpp);
	if (s->flows) {
		jw_time(o, j, "first", s->first_ms);
		jw_time(o, j, "last", s->last_ms);
	}
	jw_u64(j, "flows_processed", s->processed);
	jw_u64(j, "flows_passed", s->flows);
	jw_u64(j, "blocks_skipped", s->blocks_skipped);
	jw_u64(j, "bytes_read", s->bytes_read);
	jw_u64(j, "files", s->files);
}

void nfq_out_summary(struct nfq_out *out, const struct nfq_summary *s)
{
	struct rates r = summary_rates(s);
	char b1[32], b2[32], b3[32], b4[32], b5[32], t1[40], t2[40];
	double fps;

	if (out->o.quiet)
		return;
	if (out->o.format == NFQ_O_JSON) {
		/* a listing's JSON is the array alone, as nfdump's */
		return;
	}
	if (out->o.format == NFQ_O_NDJSON) {
		struct jw j = {out->fp, false, true};

		fputs("{", out->fp);
		jw_str(&j, "type", "SUMMARY");
		json_summary_members(out, &j, s);
		fputs("}\n", out->fp);
		return;
	}
	if (out->o.format == NFQ_O_CSV) {
		fprintf(out->fp,
			"Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n"
			"%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 "\n",
			s->flows, s->bytes, s->packets, r.bps, r.pps, r.bpp);
		return;
	}
	nfq_num_str(b1, sizeof(b1), s->bytes, out->o.plain);
	nfq_num_str(b2, sizeof(b2), s->packets, out->o.plain);
	nfq_num_str(b3, sizeof(b3), r.bps, out->o.plain);
	nfq_num_str(b4, sizeof(b4), r.pps, out->o.plain);
	nfq_num_str(b5, sizeof(b5), r.bpp, out->o.plain);
	fprintf(out->fp,
		"Summary: total flows: %" PRIu64 ", total bytes: %s, total "
		"packets: %s, avg bps: %s, avg pps: %s, avg bpp: %s\n",
		s->flows, b1, b2, b3, b4, b5);
	if (s->data_last_ms) {
		/* the data's range, clipped to -t as nfdump does */
		uint64_t a = s->data_first_ms, z = s->data_last_ms;

		if (s->win_to_ms && a < s->win_from_ms)
			a = s->win_from_ms;
		if (s->win_to_ms && z > s->win_to_ms)
			z = s->win_to_ms;
		nfq_time_str(&out->tf, t1, a, false, ' ');
		nfq_time_str(&out->tf, t2, z, false, ' ');
		fprintf(out->fp, "Time window: %s - %s\n", t1, t2);
	} else {
		fprintf(out->fp, "Time window: <unknown>\n");
	}
	fprintf(out->fp,
		"Total flows processed: %" PRIu64 ", passed: %" PRIu64
		", Blocks skipped: %" PRIu64 ", Bytes read: %" PRIu64 "\n",
		s->processed, s->flows, s->blocks_skipped, s->bytes_read);
	fps = s->wall_s > 0 ? (double)s->processed / s->wall_s : 0;
	fprintf(out->fp,
		"Sys: %.4fs User: %.4fs Wall: %.4fs flows/second: %.1f "
		"Runtime: %.4fs\n",
		s->sys_s, s->user_s, s->wall_s, fps, s->wall_s);
}

/* ------------------------------------------------------------------ */
/* Statistics */

static void stat_value_text(const struct nfq_out *o, const struct nfq_stat *st,
			    const uint8_t *key, char *buf, size_t len)
{
	enum nfq_field fld = nfq_stat_field(st->spec.type, 0);
	const struct nfq_field_info *fi = nfq_field_info(fld);
	uint64_t v = 0;

	if (fi->addr) {
		struct fy_addr a;

		memcpy(&a, key, sizeof(a));
		if (fy_addr_is_zero(&a) && fld != NFQ_F_SRC &&
		    fld != NFQ_F_DST) {
			snprintf(buf, len, "0.0.0.0");
			return;
		}
		fy_addr_str(&a, buf, len);
		if (!o->o.v6_full && !fy_addr_is_v4(&a))
			nfq_condense_v6(buf);
		return;
	}
	if (fld == NFQ_F_SRC_MAC || fld == NFQ_F_DST_MAC) {
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", key[0],
			 key[1], key[2], key[3], key[4], key[5]);
		return;
	}
	if (fld == NFQ_F_TCP_FLAGS) {
		nfq_flags_str(buf, key[0]);
		return;
	}
	switch (fi->size) {
	case 1:
		v = key[0];
		break;
	case 2: {
		uint16_t x;
		memcpy(&x, key, 2);
		v = x;
		break;
	}
	case 4: {
		uint32_t x;
		memcpy(&x, key, 4);
		v = x;
		break;
	}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

static double pct(uint64_t v, uint64_t total)
{
	return total ? (double)v * 100.0 / (double)total : 0.0;
}

static void stat_line(struct nfq_out *o, const struct nfq_stat *st,
		      const struct nfq_counters *c, const uint8_t *key,
		      const struct nfq_summary *sum)
{
	uint64_t dur = c->last_ms > c->first_ms ? c->last_ms - c->first_ms : 0;
	char val[FY_ADDR_STRLEN + 8], ts[40], td[40], n1[32], n2[32], n3[32],
		n4[32], n5[32], n6[32], pr[8];
	const char *proto = "any";

	{
		/* csv has whole IPv6 addresses */
		struct nfq_out full = *o;

		full.o.v6_full |= o->o.format == NFQ_O_CSV;
		stat_value_text(&full, st, key, val, sizeof(val));
	}
	nfq_time_str(&o->tf, ts, c->first_ms, true, ' ');
	nfq_duration_str(td, sizeof(td), dur, o->o.plain);
	if (st->spec.type == NFQ_ST_PROTO) {
		proto = o->o.plain ? NULL : nfq_proto_name(key[0]);
		if (proto == NULL) {
			snprintf(pr, sizeof(pr), "%u", key[0]);
			proto = pr;
		}
	}
	nfq_num_str(n1, sizeof(n1), c->flows, o->o.plain);
	nfq_num_str(n2, sizeof(n2), c->packets, o->o.plain);
	nfq_num_str(n3, sizeof(n3), c->bytes, o->o.plain);
	nfq_num_str(n4, sizeof(n4), nfq_pps(c->packets, dur), o->o.plain);
	nfq_num_str(n5, sizeof(n5), nfq_bps(c->bytes, dur), o->o.plain);
	nfq_num_str(n6, sizeof(n6), nfq_bpp(c->bytes, c->packets), o->o.plain);
	if (o->o.format == NFQ_O_CSV) {
		char te[40];

		nfq_time_str(&o->tf, ts, c->first_ms, false, ' ');
		nfq_time_str(&o->tf, te, c->last_ms, false, ' ');
		fprintf(o->fp,
			"%s,%s,%" PRIu64 ".%03u,%s,%s,%" PRIu64 ",%.1f,%" PRIu64
			",%.1f,%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64
			",%" PRIu64 "\n",
			ts, te, dur / 1000, (unsigned)(dur % 1000), proto, val,
			c->flows, pct(c->flows, sum->flows), c->packets,
			pct(c->packets, sum->packets), c->bytes,
			pct(c->bytes, sum->bytes), nfq_pps(c->packets, dur),
			nfq_bps(c->bytes, dur), nfq_bpp(c->bytes, c->packets));
		return;
	}
	fprintf(o->fp,
		"%s %16s %-5s %*s %8s(%4.1f) %8s(%4.1f) %8s(%4.1f) %8s %8s "
		"%5s\n",
		ts, td, proto, o->o.v6_full ? ADDR_W6 : ADDR_W + 1, val, n1,
		pct(c->flows, sum->flows), n2, pct(c->packets, sum->packets),
		n3, pct(c->bytes, sum->bytes), n4, n5, n6);
}

static void stat_json_entry(struct nfq_out *o, const struct nfq_stat *st,
			    enum nfq_order ord, size_t rank,
			    const struct nfq_counters *c, const uint8_t *key,
			    const struct nfq_summary *sum)
{
	uint64_t dur = c->last_ms > c->first_ms ? c->last_ms - c->first_ms : 0;
	bool pretty = o->o.format == NFQ_O_JSON;
	struct jw j = {o->fp, false, true};
	enum nfq_field fld = nfq_stat_field(st->spec.type, 0);
	const struct nfq_field_info *fi = nfq_field_info(fld);
	char val[FY_ADDR_STRLEN + 8];

	if (pretty)
		fprintf(o->fp, "%s\n\t\t\t{", rank ? "," : "");
	fputc(pretty ? ' ' : '{', o->fp);
	if (!pretty) {
		jw_str(&j, "type", "STAT");
		jw_str(&j, "stat", nfq_stat_name(st->spec.type));
		jw_str(&j, "order", nfq_order_name(ord));
		jw_u64(&j, "rank", rank + 1);
	}
	jw_time(o, &j, "first", c->first_ms);
	jw_time(o, &j, "last", c->last_ms);
	jw_key(&j, "duration");
	fprintf(o->fp, "%" PRIu64 ".%03u", dur / 1000, (unsigned)(dur % 1000));
	{
		/* numbers stay numbers; addresses, MACs, flags are text */
		struct nfq_out plain = *o;

		plain.o.v6_full = true;
		stat_value_text(&plain, st, key, val, sizeof(val));
		if (fi->addr || fld == NFQ_F_SRC_MAC || fld == NFQ_F_DST_MAC ||
		    fld == NFQ_F_TCP_FLAGS)
			jw_str(&j, "value", val);
		else {
			jw_key(&j, "value");
			fputs(val, o->fp);
		}
	}
	jw_u64(&j, "flows", c->flows);
	jw_key(&j, "flows_pct");
	fprintf(o->fp, "%.1f", pct(c->flows, sum->flows));
	jw_u64(&j, "packets", c->packets);
	jw_key(&j, "packets_pct");
	fprintf(o->fp, "%.1f", pct(c->packets, sum->packets));
	jw_u64(&j, "bytes", c->bytes);
	jw_key(&j, "bytes_pct");
	fprintf(o->fp, "%.1f", pct(c->bytes, sum->bytes));
	jw_u64(&j, "pps", nfq_pps(c->packets, dur));
	jw_u64(&j, "bps", nfq_bps(c->bytes, dur));
	jw_u64(&j, "bpp", nfq_bpp(c->bytes, c->packets));
	fputs(pretty ? " }" : "}\n", o->fp);
}

static const char stat_cols[] =
	"    Flows(%)     Packets(%)       Bytes(%)         pps      bps   bpp";

/* One statistic in one order. */
static int out_one_stat(struct nfq_out *o, struct nfq_stat *st,
			enum nfq_order ord, uint64_t top_n,
			const struct nfq_summary *sum, bool first_json)
{
	bool rec = st->spec.type == NFQ_ST_RECORD;
	const struct nfq_ht *ht = rec ? st->agg.ht : st->ht;
	bool json = nfq_out_is_json(o), pretty = o->o.format == NFQ_O_JSON;
	size_t *idx, n, i;
	int r;

	if ((r = nfq_ht_top(ht, ord, top_n, &idx, &n)) != 0)
		return r;
	if (pretty) {
		fprintf(o->fp,
			"%s\n\t\t{ \"stat\" : \"%s\", \"order\" : \"%s\", "
			"\"limit\" : %" PRIu64 ", \"top\" : [",
			first_json ? "" : ",", nfq_stat_name(st->spec.type),
			nfq_order_name(ord), top_n);
	} else if (!json && !o->o.quiet && o->o.format != NFQ_O_CSV) {
		if (rec)
			fprintf(o->fp, "Top %" PRIu64 " flows ordered by %s:\n",
				top_n, nfq_order_name(ord));
		else
			fprintf(o->fp, "Top %" PRIu64 " %s ordered by %s:\n",
				top_n, nfq_stat_title(st->spec.type),
				nfq_order_name(ord));
	}
	if (rec) {
		if (!json)
			nfq_out_header(o);
		o->count = 0;
		for (i = 0; i < n; i++) {
			struct fy_flow f;
			uint64_t flows;

			nfq_agg_record(&st->agg, idx[i], &f, &flows);
			if (pretty) {
				fprintf(o->fp, "%s\n\t\t\t", i ? "," : "");
				struct jw j = {o->fp, false, true};
				putc('{', o->fp);
				json_members(o, &j, &f, flows, true);
				putc('}', o->fp);
			} else if (o->o.format == NFQ_O_NDJSON) {
				struct jw j = {o->fp, false, true};
				putc('{', o->fp);
				json_members(o, &j, &f, flows, true);
				fprintf(o->fp,
					",\"stat\":\"record\","
					"\"order\":\"%s\",\"rank\":%zu}\n",
					nfq_order_name(ord), i + 1);
			} else {
				out_record(o, &f, flows, true, "");
			}
		}
	} else {
		/* nfdump prints this header even with -q */
		if (o->o.format == NFQ_O_CSV)
			/* nfdump 1.7.1 names the columns so for flows */
			fputs(ord == NFQ_ORD_FLOWS
				      ? "ts,te,td,pr,val,fl,flP,ipkt,ipktP,ibyt,"
					"ibytP,ipps,ibps,ibpp\n"
				      : "ts,te,td,pr,val,fl,flP,pkt,pktP,byt,"
					"bytP,pps,bps,bpp\n",
			      o->fp);
		else if (!json && !o->o.quiet)
			fprintf(o->fp,
				"Date first seen                 Duration "
				"Proto %*s%s\n",
				o->o.v6_full ? ADDR_W6 : ADDR_W + 1,
				nfq_stat_title(st->spec.type), stat_cols);
		for (i = 0; i < n; i++) {
			const uint8_t *key;
			const struct nfq_counters *c =
				nfq_ht_entry(ht, idx[i], &key);

			if (json)
				stat_json_entry(o, st, ord, i, c, key, sum);
			else
				stat_line(o, st, c, key, sum);
		}
	}
	if (pretty)
		fputs(n ? "\n\t\t] }" : "] }", o->fp);
	else if (!json && !rec)
		fputc('\n', o->fp);
	free(idx);
	return 0;
}

int nfq_out_stats(struct nfq_out *out, struct nfq_stat *stats, size_t n,
		  uint64_t top_n, const struct nfq_summary *sum)
{
	bool pretty = out->o.format == NFQ_O_JSON, first = true;
	size_t i, k;
	int r;

	if (pretty)
		fputs("{\n\t\"stats\" : [", out->fp);
	for (i = 0; i < n; i++) {
		for (k = 0; k < stats[i].spec.n_orders; k++) {
			r = out_one_stat(out, &stats[i],
					 stats[i].spec.orders[k], top_n, sum,
					 first);
			if (r)
				return r;
			first = false;
		}
	}
	if (pretty) {
		struct jw j = {out->fp, false, true};

		fputs("\n\t]", out->fp);
		if (!out->o.quiet) {
			fputs(",\n\t\"summary\" : { ", out->fp);
			json_summary_members(out, &j, sum);
			fputs(" }", out->fp);
		}
		fputs("\n}\n", out->fp);
		return 0;
	}
	nfq_out_summary(out, sum);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Aggregated records */

int nfq_out_agg(struct nfq_out *out, const struct nfq_agg *a, enum nfq_order o,
		uint64_t limit)
{
	size_t *idx, n, i;
	int r;

	/* NFQ_ORD_NONE ranks by first seen, ascending: a stable order */
	if ((r = nfq_ht_top(a->ht, o, limit, &idx, &n)) != 0)
		return r;
	nfq_out_header(out);
	for (i = 0; i < n; i++) {
		struct fy_flow f;
		uint64_t flows;

		nfq_agg_record(a, idx[i], &f, &flows);
		out_record(out, &f, flows, true, "");
	}
	free(idx);
	nfq_out_records_end(out);
	return 0;
}
