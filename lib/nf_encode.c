/*
 * nf_encode.c - NetFlow v5, v9 and IPFIX export message encoder.
 *
 * A message is built in place in one preallocated buffer through the
 * bounded writer: header placeholder, templates when due, then data sets.
 * Lengths, counts and the header are back-patched when the message is sent.
 * Every record has a fixed length, so whether the next one fits is known
 * before a byte of it is written and a record is never split.
 */
#include "nf_encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ie.h"
#include "wire.h"

#define V5_HDR_LEN 24
#define V5_REC_LEN 48
#define V5_MAX_RECS 30 /* what Cisco and every collector assume */
#define V9_HDR_LEN 20
#define IPFIX_HDR_LEN 16
#define SET_HDR_LEN 4

#define V9_SET_TEMPLATE 0
#define V9_SET_OPTIONS 1
#define IPFIX_SET_TEMPLATE 2
#define IPFIX_SET_OPTIONS 3

/* RFC 3954 section 6.1 scope field type "System". */
#define V9_SCOPE_SYSTEM 1
/* v9 samplingAlgorithm (35) values. */
#define V9_SAMPLING_DETERMINISTIC 1
#define V9_SAMPLING_RANDOM 2
/* PSAMP (RFC 5477) elements and selectorAlgorithm (304) values. */
#define IE_SELECTOR_ALGORITHM 304
#define PSAMP_SYSTEMATIC_COUNT 1
#define PSAMP_RANDOM_N_OF_N 3
/* v5 header sampling mode, the two top bits of the 16-bit field. */
#define V5_SAMPLING_DETERMINISTIC 1
#define V5_SAMPLING_RANDOM 2
#define V5_SAMPLING_MAX 0x3fff
/* RFC 6793: 4-byte AS numbers appear as AS_TRANS in 2-byte fields. */
#define AS_TRANS 23456

#define ENTERPRISE_BIT 0x8000

/* What a template field is filled from. */
enum val {
	VAL_BYTES,
	VAL_PACKETS,
	VAL_OUT_BYTES,
	VAL_OUT_PACKETS,
	VAL_FIRST_MS,
	VAL_LAST_MS,
	VAL_FIRST_UPTIME,
	VAL_LAST_UPTIME,
	VAL_SRC,
	VAL_DST,
	VAL_NEXTHOP,
	VAL_INPUT_IF,
	VAL_OUTPUT_IF,
	VAL_SRC_AS,
	VAL_DST_AS,
	VAL_SRC_PORT,
	VAL_DST_PORT,
	VAL_ICMP,
	VAL_VLAN,
	VAL_POST_VLAN,
	VAL_SRC_MAC,
	VAL_DST_MAC,
	VAL_TCP_FLAGS,
	VAL_PROTO,
	VAL_TOS,
	VAL_SRC_MASK,
	VAL_DST_MASK,
	VAL_END_REASON,
};

/* When a candidate field is part of a template. */
enum {
	F_V4 = 1 << 0,	   /* IPv4 template */
	F_V6 = 1 << 1,	   /* IPv6 template */
	F_V9 = 1 << 2,	   /* NetFlow v9 */
	F_IPFIX = 1 << 3,  /* IPFIX */
	F_MACS = 1 << 4,   /* only with cfg.with_macs */
	F_VLAN = 1 << 5,   /* only with cfg.with_vlan */
	F_BIFLOW = 1 << 6, /* only with cfg.biflow */
};
#define F_BOTH_AF (F_V4 | F_V6)
#define F_BOTH_VER (F_V9 | F_IPFIX)
#define F_ALL (F_BOTH_AF | F_BOTH_VER)

struct field_def {
	uint16_t id;
	uint8_t len_v9, len_ipfix;
	uint32_t pen;
	uint8_t val; /* enum val */
	uint8_t flags;
};

/*
 * The candidate fields of the data templates, in wire order: widest first,
 * so that most fields sit on their natural alignment inside a record.
 * tcpControlBits is one byte in v9 (RFC 3954) but unsigned16 in IPFIX
 * (RFC 7125).
 */
static const struct field_def field_defs[] = {
	{FY_IE_OCTET_DELTA, 8, 8, 0, VAL_BYTES, F_ALL},
	{FY_IE_PACKET_DELTA, 8, 8, 0, VAL_PACKETS, F_ALL},
	{FY_IE_OCTET_DELTA, 0, 8, FY_PEN_REVERSE, VAL_OUT_BYTES,
	 F_BOTH_AF | F_IPFIX | F_BIFLOW},
	{FY_IE_PACKET_DELTA, 0, 8, FY_PEN_REVERSE, VAL_OUT_PACKETS,
	 F_BOTH_AF | F_IPFIX | F_BIFLOW},
	{FY_IE_START_MS, 0, 8, 0, VAL_FIRST_MS, F_BOTH_AF | F_IPFIX},
	{FY_IE_END_MS, 0, 8, 0, VAL_LAST_MS, F_BOTH_AF | F_IPFIX},
	{FY_IE_SRC_V6, 16, 16, 0, VAL_SRC, F_V6 | F_BOTH_VER},
	{FY_IE_DST_V6, 16, 16, 0, VAL_DST, F_V6 | F_BOTH_VER},
	{FY_IE_NEXTHOP_V6, 16, 16, 0, VAL_NEXTHOP, F_V6 | F_BOTH_VER},
	{FY_IE_FIRST_SWITCHED, 4, 0, 0, VAL_FIRST_UPTIME, F_BOTH_AF | F_V9},
	{FY_IE_LAST_SWITCHED, 4, 0, 0, VAL_LAST_UPTIME, F_BOTH_AF | F_V9},
	{FY_IE_SRC_V4, 4, 4, 0, VAL_SRC, F_V4 | F_BOTH_VER},
	{FY_IE_DST_V4, 4, 4, 0, VAL_DST, F_V4 | F_BOTH_VER},
	{FY_IE_NEXTHOP_V4, 4, 4, 0, VAL_NEXTHOP, F_V4 | F_BOTH_VER},
	{FY_IE_INPUT_IF, 4, 4, 0, VAL_INPUT_IF, F_ALL},
	{FY_IE_OUTPUT_IF, 4, 4, 0, VAL_OUTPUT_IF, F_ALL},
	{FY_IE_SRC_AS, 4, 4, 0, VAL_SRC_AS, F_ALL},
	{FY_IE_DST_AS, 4, 4, 0, VAL_DST_AS, F_ALL},
	{FY_IE_SRC_MAC, 6, 6, 0, VAL_SRC_MAC, F_ALL | F_MACS},
	{FY_IE_DST_MAC, 6, 6, 0, VAL_DST_MAC, F_ALL | F_MACS},
	{FY_IE_SRC_PORT, 2, 2, 0, VAL_SRC_PORT, F_ALL},
	{FY_IE_DST_PORT, 2, 2, 0, VAL_DST_PORT, F_ALL},
	/*
	 * v9 has one ICMP_TYPE (32) for both families (RFC 3954); nfdump
	 * 1.7's v9 reader shows ICMPv6 flows sent with 139 as type 0.
	 */
	{FY_IE_ICMP_TYPECODE_V4, 2, 2, 0, VAL_ICMP, F_V4 | F_BOTH_VER},
	{FY_IE_ICMP_TYPECODE_V4, 2, 0, 0, VAL_ICMP, F_V6 | F_V9},
	{FY_IE_ICMP_TYPECODE_V6, 0, 2, 0, VAL_ICMP, F_V6 | F_IPFIX},
	{FY_IE_VLAN, 2, 2, 0, VAL_VLAN, F_ALL | F_VLAN},
	{FY_IE_POST_VLAN, 2, 2, 0, VAL_POST_VLAN, F_ALL | F_VLAN},
	{FY_IE_TCP_FLAGS, 1, 2, 0, VAL_TCP_FLAGS, F_ALL},
	{FY_IE_PROTO, 1, 1, 0, VAL_PROTO, F_ALL},
	{FY_IE_TOS, 1, 1, 0, VAL_TOS, F_ALL},
	{FY_IE_SRC_MASK, 1, 1, 0, VAL_SRC_MASK, F_V4 | F_BOTH_VER},
	{FY_IE_DST_MASK, 1, 1, 0, VAL_DST_MASK, F_V4 | F_BOTH_VER},
	{FY_IE_SRC_MASK_V6, 1, 1, 0, VAL_SRC_MASK, F_V6 | F_BOTH_VER},
	{FY_IE_DST_MASK_V6, 1, 1, 0, VAL_DST_MASK, F_V6 | F_BOTH_VER},
	{FY_IE_END_REASON, 1, 1, 0, VAL_END_REASON, F_ALL},
};

/* A template holds at most every candidate: no bound to keep in step. */
#define NDEFS (sizeof(field_defs) / sizeof(field_defs[0]))

struct field {
	uint16_t id;
	uint16_t len;
	uint32_t pen;
	uint8_t val;
};

struct tmpl {
	uint16_t id;
	uint16_t nfields;
	uint16_t rec_len;
	struct field f[NDEFS];
};

enum { AF_IDX_V4 = 0, AF_IDX_V6 = 1, AF_IDX_COUNT };

struct fy_nfenc {
	struct fy_nfenc_cfg cfg;
	fy_nfenc_send_fn send;
	void *arg;

	uint8_t *buf; /* cfg.mtu bytes */
	struct fy_wr w;
	bool open;     /* a message is under construction */
	bool set_open; /* a data set is open at set_off */
	size_t set_off;
	int set_af; /* AF_IDX_* of the open data set */
	size_t hdr_len;
	uint32_t msg_flows;   /* flow records in this message */
	uint32_t msg_other;   /* template and options records in it */
	uint32_t msg_options; /* options data records in it */

	/*
	 * v5: flows sent before; v9: packets sent before; IPFIX: data
	 * records (options data included, RFC 7011 section 3.1) before.
	 */
	uint32_t seq;

	bool tmpl_sent_once;
	bool tmpl_requested;
	uint64_t msgs_since_tmpl;
	uint64_t last_tmpl_ms;

	struct tmpl tmpl[AF_IDX_COUNT];
	struct fy_nfenc_stats stats;
};

static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static bool is_ipfix(const struct fy_nfenc *e)
{
	return e->cfg.version == FY_NF_IPFIX;
}

static bool sampling_on(const struct fy_nfenc *e)
{
	return e->cfg.sampling_interval > 1;
}

/* Picks the candidate fields this version, family and cfg call for. */
static void build_tmpl(struct tmpl *t, uint16_t id, int af,
		       const struct fy_nfenc_cfg *cfg)
{
	bool ipfix = cfg->version == FY_NF_IPFIX;
	uint8_t need = (uint8_t)((af == AF_IDX_V4 ? F_V4 : F_V6) |
				 (ipfix ? F_IPFIX : F_V9));
	size_t i;

	memset(t, 0, sizeof(*t));
	t->id = id;
	for (i = 0; i < NDEFS; i++) {
		const struct field_def *d = &field_defs[i];
		struct field *f;

		if ((d->flags & need) != need)
			continue;
		if ((d->flags & F_MACS) && !cfg->with_macs)
			continue;
		if ((d->flags & F_VLAN) && !cfg->with_vlan)
			continue;
		if ((d->flags & F_BIFLOW) && !cfg->biflow)
			continue;
		f = &t->f[t->nfields++];
		f->id = d->id;
		f->len = ipfix ? d->len_ipfix : d->len_v9;
		f->pen = d->pen;
		f->val = d->val;
		t->rec_len = (uint16_t)(t->rec_len + f->len);
	}
}

/* Opens a set (v9 flowset) whose length is patched by close_set(). */
static size_t open_set(struct fy_wr *w, const uint8_t *buf, uint16_t id)
{
	size_t off = (size_t)(w->p - buf);

	fy_wr_u16(w, id);
	fy_wr_u16(w, 0);
	return off;
}

/* Pads the set to 4 bytes with zeros and writes its length. */
static void close_set(struct fy_wr *w, uint8_t *buf, size_t off)
{
	size_t len = (size_t)(w->p - buf) - off;
	size_t padded = align4(len);

	fy_wr_zero(w, padded - len);
	if (!w->err)
		fy_put_u16(buf + off + 2, (uint16_t)padded);
}

static void write_field_spec(struct fy_wr *w, const struct field *f)
{
	if (f->pen) {
		fy_wr_u16(w, (uint16_t)(f->id | ENTERPRISE_BIT));
		fy_wr_u16(w, f->len);
		fy_wr_u32(w, f->pen);
	} else {
		fy_wr_u16(w, f->id);
		fy_wr_u16(w, f->len);
	}
}

/* The template set with both data templates. */
static void write_data_templates(struct fy_nfenc *e, struct fy_wr *w)
{
	size_t off = open_set(
		w, e->buf, is_ipfix(e) ? IPFIX_SET_TEMPLATE : V9_SET_TEMPLATE);
	int af;
	uint16_t i;

	for (af = 0; af < AF_IDX_COUNT; af++) {
		const struct tmpl *t = &e->tmpl[af];

		fy_wr_u16(w, t->id);
		fy_wr_u16(w, t->nfields);
		for (i = 0; i < t->nfields; i++)
			write_field_spec(w, &t->f[i]);
	}
	close_set(w, e->buf, off);
}

/*
 * v9 sampling options, the common Cisco form: scope System, then
 * samplingInterval (34) and samplingAlgorithm (35). It applies to every flow
 * of the source id, so data records need not name a sampler.
 */
static void write_v9_sampling(struct fy_nfenc *e, struct fy_wr *w)
{
	size_t off = open_set(w, e->buf, V9_SET_OPTIONS);

	fy_wr_u16(w, FY_NFENC_TMPL_SAMPLING);
	fy_wr_u16(w, 4); /* scope length in bytes: one field */
	fy_wr_u16(w, 8); /* option length in bytes: two fields */
	fy_wr_u16(w, V9_SCOPE_SYSTEM);
	fy_wr_u16(w, 4);
	fy_wr_u16(w, FY_IE_SAMPLING_INTERVAL);
	fy_wr_u16(w, 4);
	fy_wr_u16(w, FY_IE_SAMPLING_ALGO);
	fy_wr_u16(w, 1);
	close_set(w, e->buf, off);

	off = open_set(w, e->buf, FY_NFENC_TMPL_SAMPLING);
	fy_wr_u32(w, e->cfg.domain);
	fy_wr_u32(w, e->cfg.sampling_interval);
	fy_wr_u8(w, e->cfg.sampling_random ? V9_SAMPLING_RANDOM
					   : V9_SAMPLING_DETERMINISTIC);
	close_set(w, e->buf, off);
}

/*
 * IPFIX sampling options in the PSAMP form (RFC 5476/5477) that replaced
 * the deprecated 34/35, scoped to the observation domain. selectorAlgorithm
 * (304) says which selector; each has its own parameters:
 *  - systematic count-based (1): one packet selected
 *    (samplingPacketInterval 305), then N-1 skipped (samplingPacketSpace 306);
 *  - random n-out-of-N (3): samplingSize 309 = 1 out of
 *    samplingPopulation 310 = N.
 * Both records have the same length, so check_mtu() holds for either.
 */
static void write_ipfix_sampling(struct fy_nfenc *e, struct fy_wr *w)
{
	bool rnd = e->cfg.sampling_random;
	size_t off = open_set(w, e->buf, IPFIX_SET_OPTIONS);

	fy_wr_u16(w, FY_NFENC_TMPL_SAMPLING);
	fy_wr_u16(w, 4); /* field count, scope included */
	fy_wr_u16(w, 1); /* scope field count */
	fy_wr_u16(w, FY_IE_OBS_DOMAIN_ID);
	fy_wr_u16(w, 4);
	fy_wr_u16(w, IE_SELECTOR_ALGORITHM);
	fy_wr_u16(w, 2);
	fy_wr_u16(w, rnd ? FY_IE_SAMPLE_SIZE : FY_IE_PKT_INTERVAL);
	fy_wr_u16(w, 4);
	fy_wr_u16(w, rnd ? FY_IE_SAMPLE_POPULATION : FY_IE_PKT_SPACE);
	fy_wr_u16(w, 4);
	close_set(w, e->buf, off);

	off = open_set(w, e->buf, FY_NFENC_TMPL_SAMPLING);
	fy_wr_u32(w, e->cfg.domain);
	fy_wr_u16(w, rnd ? PSAMP_RANDOM_N_OF_N : PSAMP_SYSTEMATIC_COUNT);
	fy_wr_u32(w, 1);
	fy_wr_u32(w, rnd ? e->cfg.sampling_interval
			 : e->cfg.sampling_interval - 1);
	close_set(w, e->buf, off);
}

/* Writes every set a template refresh carries. */
static void write_templates(struct fy_nfenc *e, struct fy_wr *w)
{
	write_data_templates(e, w);
	if (!sampling_on(e))
		return;
	if (is_ipfix(e))
		write_ipfix_sampling(e, w);
	else
		write_v9_sampling(e, w);
}

static bool templates_due(const struct fy_nfenc *e, uint64_t now_ms)
{
	if (e->cfg.version == FY_NF_V5)
		return false;
	if (!e->tmpl_sent_once || e->tmpl_requested)
		return true;
	if (e->msgs_since_tmpl >= e->cfg.tmpl_refresh_packets)
		return true;
	/* Unsigned: a clock stepping back also triggers a refresh. */
	return now_ms - e->last_tmpl_ms >= e->cfg.tmpl_refresh_ms;
}

static void begin_message(struct fy_nfenc *e, uint64_t now_ms)
{
	e->w = fy_wr_init(e->buf, e->cfg.mtu);
	fy_wr_zero(&e->w, e->hdr_len); /* filled in by finish_header() */
	e->open = true;
	e->set_open = false;
	e->msg_flows = 0;
	e->msg_other = 0;
	e->msg_options = 0;
	if (!templates_due(e, now_ms)) {
		e->msgs_since_tmpl++;
		return;
	}
	write_templates(e, &e->w);
	e->msg_other = AF_IDX_COUNT + (sampling_on(e) ? 1 : 0);
	e->msg_options = sampling_on(e) ? 1 : 0;
	e->tmpl_sent_once = true;
	e->tmpl_requested = false;
	e->msgs_since_tmpl = 1; /* this one */
	e->last_tmpl_ms = now_ms;
}

/* The v5 header's sampling field: 2 mode bits, 14-bit interval. */
static uint16_t v5_sampling(const struct fy_nfenc *e)
{
	uint16_t mode = e->cfg.sampling_random ? V5_SAMPLING_RANDOM
					       : V5_SAMPLING_DETERMINISTIC;

	if (!sampling_on(e))
		return 0;
	return (uint16_t)(mode << 14 | e->cfg.sampling_interval);
}

static void finish_header(struct fy_nfenc *e, size_t len, uint64_t now_ms)
{
	struct fy_wr h = fy_wr_init(e->buf, e->hdr_len);
	uint32_t secs = (uint32_t)(now_ms / 1000);

	switch (e->cfg.version) {
	case FY_NF_V5:
		fy_wr_u16(&h, FY_NF_V5);
		fy_wr_u16(&h, (uint16_t)e->msg_flows);
		fy_wr_u32(&h, (uint32_t)(now_ms - e->cfg.boot_ms));
		fy_wr_u32(&h, secs);
		fy_wr_u32(&h, (uint32_t)(now_ms % 1000) * 1000000u);
		fy_wr_u32(&h, e->seq);
		fy_wr_u8(&h, e->cfg.engine_type);
		fy_wr_u8(&h, e->cfg.engine_id);
		fy_wr_u16(&h, v5_sampling(e));
		break;
	case FY_NF_V9:
		fy_wr_u16(&h, FY_NF_V9);
		fy_wr_u16(&h, (uint16_t)(e->msg_flows + e->msg_other +
					 e->msg_options));
		/*
		 * The header has whole seconds only; collectors take the boot
		 * time as unix_secs*1000 - sysUpTime. Stating the uptime at
		 * that whole second (modulo 2^32) keeps the boot time, and
		 * every flow time derived from it, exact to the ms.
		 */
		fy_wr_u32(&h,
			  (uint32_t)((uint64_t)secs * 1000 - e->cfg.boot_ms));
		fy_wr_u32(&h, secs);
		fy_wr_u32(&h, e->seq);
		fy_wr_u32(&h, e->cfg.domain);
		break;
	default:
		fy_wr_u16(&h, FY_NF_IPFIX);
		fy_wr_u16(&h, (uint16_t)len);
		fy_wr_u32(&h, secs);
		fy_wr_u32(&h, e->seq);
		fy_wr_u32(&h, e->cfg.domain);
		break;
	}
}

static int send_message(struct fy_nfenc *e, uint64_t now_ms)
{
	size_t len;
	int r;

	if (e->set_open) {
		close_set(&e->w, e->buf, e->set_off);
		e->set_open = false;
	}
	len = (size_t)(e->w.p - e->buf);
	finish_header(e, len, now_ms);
	e->open = false;

	switch (e->cfg.version) {
	case FY_NF_V5:
		e->seq += e->msg_flows;
		break;
	case FY_NF_V9:
		e->seq += 1;
		break;
	default:
		e->seq += e->msg_flows + e->msg_options;
		break;
	}
	e->stats.records += e->msg_flows;
	e->stats.template_records += e->msg_other;
	e->stats.options_records += e->msg_options;

	r = e->send(e->arg, e->buf, len);
	if (r < 0) {
		e->stats.send_errors++;
		return r;
	}
	e->stats.messages++;
	e->stats.bytes += len;
	return 0;
}

static uint32_t sat_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint16_t sat_u16(uint32_t v)
{
	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static uint16_t as16(uint32_t as)
{
	return as > UINT16_MAX ? AS_TRANS : (uint16_t)as;
}

static bool is_icmp(uint8_t proto)
{
	return proto == 1 || proto == 58;
}

/* The 48-byte v5 record (Cisco layout). */
static void write_v5_record(struct fy_wr *w, const struct fy_flow *f,
			    uint64_t boot_ms)
{
	uint16_t dport = f->dst_port;

	/* v5 has no ICMP field: type*256+code in the destination port. */
	if (is_icmp(f->proto) && dport == 0)
		dport = (uint16_t)(f->icmp_type << 8 | f->icmp_code);
	fy_wr_bytes(w, f->src.b + 12, 4);
	fy_wr_bytes(w, f->dst.b + 12, 4);
	fy_wr_u32(w, fy_addr_v4(&f->nexthop));
	fy_wr_u16(w, sat_u16(f->input_if));
	fy_wr_u16(w, sat_u16(f->output_if));
	fy_wr_u32(w, sat_u32(f->packets));
	fy_wr_u32(w, sat_u32(f->bytes));
	fy_wr_u32(w, (uint32_t)(f->first_ms - boot_ms));
	fy_wr_u32(w, (uint32_t)(f->last_ms - boot_ms));
	fy_wr_u16(w, f->src_port);
	fy_wr_u16(w, dport);
	fy_wr_u8(w, 0);
	fy_wr_u8(w, f->tcp_flags);
	fy_wr_u8(w, f->proto);
	fy_wr_u8(w, f->tos);
	fy_wr_u16(w, as16(f->src_as));
	fy_wr_u16(w, as16(f->dst_as));
	fy_wr_u8(w, f->src_mask);
	fy_wr_u8(w, f->dst_mask);
	fy_wr_u16(w, 0);
}

static void write_addr(struct fy_wr *w, const struct fy_addr *a, uint16_t len)
{
	if (len == 4)
		fy_wr_bytes(w, a->b + 12, 4);
	else
		fy_wr_bytes(w, a->b, 16);
}

/* Writes `v` in `len` bytes, big-endian (1, 2, 4 or 8). */
static void write_uint(struct fy_wr *w, uint64_t v, uint16_t len)
{
	switch (len) {
	case 1:
		fy_wr_u8(w, (uint8_t)v);
		break;
	case 2:
		fy_wr_u16(w, (uint16_t)v);
		break;
	case 4:
		fy_wr_u32(w, (uint32_t)v);
		break;
	default:
		fy_wr_u64(w, v);
		break;
	}
}

static uint64_t field_uint(const struct fy_flow *f, uint8_t val,
			   uint64_t boot_ms)
{
	switch (val) {
	case VAL_BYTES:
		return f->bytes;
	case VAL_PACKETS:
		return f->packets;
	case VAL_OUT_BYTES:
		return f->out_bytes;
	case VAL_OUT_PACKETS:
		return f->out_packets;
	case VAL_FIRST_MS:
		return f->first_ms;
	case VAL_LAST_MS:
		return f->last_ms;
	case VAL_FIRST_UPTIME:
		return (uint32_t)(f->first_ms - boot_ms);
	case VAL_LAST_UPTIME:
		return (uint32_t)(f->last_ms - boot_ms);
	case VAL_INPUT_IF:
		return f->input_if;
	case VAL_OUTPUT_IF:
		return f->output_if;
	case VAL_SRC_AS:
		return f->src_as;
	case VAL_DST_AS:
		return f->dst_as;
	case VAL_SRC_PORT:
		return f->src_port;
	case VAL_DST_PORT:
		return f->dst_port;
	case VAL_ICMP:
		return (uint64_t)f->icmp_type << 8 | f->icmp_code;
	case VAL_VLAN:
		return f->vlan;
	case VAL_POST_VLAN:
		return f->out_vlan;
	case VAL_TCP_FLAGS:
		return f->tcp_flags;
	case VAL_PROTO:
		return f->proto;
	case VAL_TOS:
		return f->tos;
	case VAL_SRC_MASK:
		return f->src_mask;
	case VAL_DST_MASK:
		return f->dst_mask;
	case VAL_END_REASON:
		return f->end_reason;
	default:
		return 0;
	}
}

static void write_record(struct fy_wr *w, const struct tmpl *t,
			 const struct fy_flow *f, uint64_t boot_ms)
{
	uint16_t i;

	for (i = 0; i < t->nfields; i++) {
		const struct field *fd = &t->f[i];

		switch (fd->val) {
		case VAL_SRC:
			write_addr(w, &f->src, fd->len);
			break;
		case VAL_DST:
			write_addr(w, &f->dst, fd->len);
			break;
		case VAL_NEXTHOP:
			write_addr(w, &f->nexthop, fd->len);
			break;
		case VAL_SRC_MAC:
			fy_wr_bytes(w, f->src_mac, 6);
			break;
		case VAL_DST_MAC:
			fy_wr_bytes(w, f->dst_mac, 6);
			break;
		default:
			write_uint(w, field_uint(f, fd->val, boot_ms), fd->len);
			break;
		}
	}
}

static int flow_af(const struct fy_flow *f)
{
	if (f->family == FY_AF_INET6)
		return AF_IDX_V6;
	if (f->family == FY_AF_INET)
		return AF_IDX_V4;
	return fy_addr_is_v4(&f->src) ? AF_IDX_V4 : AF_IDX_V6;
}

/* Would one more record of family `af` fit into the open message? */
static bool record_fits(const struct fy_nfenc *e, int af)
{
	size_t pos = (size_t)(e->w.p - e->buf);
	size_t rec, need;

	if (e->cfg.version == FY_NF_V5)
		return e->msg_flows < V5_MAX_RECS &&
		       pos + V5_REC_LEN <= e->cfg.mtu;
	rec = e->tmpl[af].rec_len;
	if (e->set_open && e->set_af == af) {
		need = e->set_off + align4(pos - e->set_off + rec);
	} else {
		if (e->set_open)
			pos = e->set_off + align4(pos - e->set_off);
		need = pos + align4(SET_HDR_LEN + rec);
	}
	return need <= e->cfg.mtu;
}

static void append_record(struct fy_nfenc *e, const struct fy_flow *f, int af)
{
	if (e->cfg.version == FY_NF_V5) {
		write_v5_record(&e->w, f, e->cfg.boot_ms);
	} else {
		if (e->set_open && e->set_af != af) {
			close_set(&e->w, e->buf, e->set_off);
			e->set_open = false;
		}
		if (!e->set_open) {
			e->set_off = open_set(&e->w, e->buf, e->tmpl[af].id);
			e->set_af = af;
			e->set_open = true;
		}
		write_record(&e->w, &e->tmpl[af], f, e->cfg.boot_ms);
	}
	e->msg_flows++;
}

int fy_nfenc_add(struct fy_nfenc *e, const struct fy_flow *f, uint64_t now_ms)
{
	int af, r = 0;

	if (e == NULL || f == NULL)
		return -EINVAL;
	af = flow_af(f);
	if (e->cfg.version == FY_NF_V5 && af != AF_IDX_V4) {
		e->stats.skipped++;
		return 0;
	}
	if (e->open && !record_fits(e, af))
		r = send_message(e, now_ms);
	if (!e->open)
		begin_message(e, now_ms);
	/* fy_nfenc_new() proved that one record fits after the templates. */
	append_record(e, f, af);
	return r;
}

int fy_nfenc_flush(struct fy_nfenc *e, uint64_t now_ms)
{
	int r = 0, r2;

	if (e == NULL)
		return -EINVAL;
	if (e->open)
		r = send_message(e, now_ms);
	/* An explicit request is answered now, even on a quiet link. */
	if (!e->tmpl_requested || e->cfg.version == FY_NF_V5)
		return r;
	begin_message(e, now_ms);
	r2 = send_message(e, now_ms);
	return r < 0 ? r : r2;
}

void fy_nfenc_request_templates(struct fy_nfenc *e)
{
	if (e != NULL)
		e->tmpl_requested = true;
}

const struct fy_nfenc_stats *fy_nfenc_stats(const struct fy_nfenc *e)
{
	if (e == NULL)
		return NULL;
	return &e->stats;
}

static int check_cfg(const struct fy_nfenc_cfg *c)
{
	if (c->version != FY_NF_V5 && c->version != FY_NF_V9 &&
	    c->version != FY_NF_IPFIX)
		return -EINVAL;
	if (c->sampling_random > 1)
		return -EINVAL;
	if (c->version == FY_NF_V5 && c->sampling_interval > V5_SAMPLING_MAX)
		return -EINVAL;
	if (c->biflow && c->version != FY_NF_IPFIX)
		return -EINVAL;
	return 0;
}

/*
 * Writes a worst-case first message (header, every template, one record
 * of the longer kind) through the bounded writer: the sticky error says
 * whether the mtu can hold it.
 */
static int check_mtu(struct fy_nfenc *e)
{
	struct fy_wr w = fy_wr_init(e->buf, e->cfg.mtu);
	uint16_t rec;

	fy_wr_zero(&w, e->hdr_len);
	if (e->cfg.version == FY_NF_V5) {
		fy_wr_zero(&w, V5_REC_LEN);
	} else {
		write_templates(e, &w);
		rec = e->tmpl[AF_IDX_V4].rec_len;
		if (e->tmpl[AF_IDX_V6].rec_len > rec)
			rec = e->tmpl[AF_IDX_V6].rec_len;
		fy_wr_zero(&w, align4(SET_HDR_LEN + (size_t)rec));
	}
	return w.err ? -EMSGSIZE : 0;
}

struct fy_nfenc *fy_nfenc_new(const struct fy_nfenc_cfg *cfg,
			      fy_nfenc_send_fn send, void *arg)
{
	struct fy_nfenc *e = NULL;
	struct fy_nfenc *ret = NULL;

	if (cfg == NULL || send == NULL || check_cfg(cfg) != 0)
		goto out;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto out;
	e->cfg = *cfg;
	e->send = send;
	e->arg = arg;
	if (e->cfg.mtu == 0)
		e->cfg.mtu = FY_NFENC_DEFAULT_MTU;
	if (e->cfg.tmpl_refresh_packets == 0)
		e->cfg.tmpl_refresh_packets = FY_NFENC_DEFAULT_REFRESH_PACKETS;
	if (e->cfg.tmpl_refresh_ms == 0)
		e->cfg.tmpl_refresh_ms = FY_NFENC_DEFAULT_REFRESH_MS;
	switch (e->cfg.version) {
	case FY_NF_V5:
		e->hdr_len = V5_HDR_LEN;
		break;
	case FY_NF_V9:
		e->hdr_len = V9_HDR_LEN;
		break;
	default:
		e->hdr_len = IPFIX_HDR_LEN;
		break;
	}
	build_tmpl(&e->tmpl[AF_IDX_V4], FY_NFENC_TMPL_V4, AF_IDX_V4, &e->cfg);
	build_tmpl(&e->tmpl[AF_IDX_V6], FY_NFENC_TMPL_V6, AF_IDX_V6, &e->cfg);
	e->buf = malloc(e->cfg.mtu);
	if (e->buf == NULL)
		goto out;
	if (check_mtu(e) != 0)
		goto out;
	ret = e;
	e = NULL; /* transferred */
out:
	fy_nfenc_free(e);
	return ret;
}

void fy_nfenc_free(struct fy_nfenc *e)
{
	if (e == NULL)
		return;
	free(e->buf);
	free(e);
}
