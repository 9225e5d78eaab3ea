/*
 * store_encode.c - flows to one block.
 *
 * Each column is loaded as values of up to 16 bytes, transformed (time
 * deltas), cut to the narrowest byte width that holds its largest value,
 * and written as byte planes (all lowest bytes, then all next bytes...: the
 * Blosc "shuffle", which brings the many equal high bytes together where
 * LZ4 finds them). A column with few distinct values (addresses, AS
 * numbers, interfaces, flags) is also tried as a dictionary plus bit-packed
 * indices, and the smaller result is kept: LZ4 has no entropy coder, so
 * packing 1-2 bits per flow is the only way such columns get small. All-zero
 * columns cost only their descriptor; single-value columns store it once.
 *
 * Speed: flows are copied column by column into a stage as they come
 * (fy_store_encoder_add), so every pass over a column reads contiguous
 * memory; reading them from 232-byte rows, once per column, missed the
 * cache on every value. Scans take 8 bytes at a time, and dictionary
 * trials that keep losing are skipped (DICT_BACKOFF_MAX).
 */
#include "store_impl.h"

#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define DICT_MIN_FLOWS 16 /* below this a dictionary does not pay */
/*
 * A column whose dictionary trial lost skips the trial for the next 1, 2,
 * 4... up to DICT_BACKOFF_MAX blocks: the trial hashes every value and
 * runs LZ4 a second time, and a column's nature (a counter, an address
 * among a few hosts) rarely changes from block to block. When it does, a
 * cheap probe notices: the distinct values among the first SAMPLE_FLOWS
 * of a skipped block are counted, and a clear drop from the count of the
 * block that lost brings the trial back at once.
 */
#define DICT_BACKOFF_MAX 32
#define SAMPLE_FLOWS 256
#define SAMPLE_BITS 10 /* table slots: load factor <= 1/4 */

struct dict_slot {
	uint64_t lo, hi;
	uint32_t gen; /* slot is used when gen matches the encoder's */
	uint32_t id;
};

struct fy_store_encoder {
	uint32_t max_flows;
	int level;
	/*
	 * Flows staged for the next block, column by column, each value in
	 * its struct fy_flow field's own bytes (col[c]: max_flows values of
	 * fy_store_cols[c].size bytes). Copying a flow in column order once
	 * makes every later pass over a column a walk through contiguous
	 * memory instead of a 232-byte stride through the whole block.
	 */
	uint32_t n;
	uint8_t *stage;
	uint8_t *col[FY_STORE_NCOLS];
	uint64_t *lo, *hi;  /* one column: value bytes 0..7 and 8..15 */
	uint8_t *raw;	    /* its byte planes */
	uint8_t *draw;	    /* dictionary planes and packed indices */
	uint8_t *dout;	    /* the dictionary form, compressed */
	uint32_t *ids;	    /* dictionary index of each flow */
	uint32_t *first_of; /* a flow holding each dictionary entry */
	struct dict_slot *tab;
	unsigned tab_bits;
	uint32_t gen; /* bumped per column instead of clearing tab */
	/* per column: blocks to skip the dictionary trial, the wait, and
	 * the sample's distinct count in the block whose trial lost */
	uint8_t dict_wait[FY_STORE_NCOLS];
	uint8_t dict_backoff[FY_STORE_NCOLS];
	uint16_t dict_sample[FY_STORE_NCOLS];
	struct dict_slot stab[1u << SAMPLE_BITS]; /* the probe's table */
	uint32_t sgen;
	void *lz4; /* LZ4 or LZ4-HC state: no allocation per block */
};

int fy_store_encoder_new(struct fy_store_encoder **out, uint32_t max_flows,
			 int level)
{
	struct fy_store_encoder *e = NULL;
	size_t n = max_flows, at = 0;
	unsigned c;
	int r = -EINVAL;

	*out = NULL;
	if (max_flows == 0 || max_flows > FY_STORE_MAX_BLOCK_FLOWS || level < 0)
		goto out;
	r = -ENOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto out;
	e->max_flows = max_flows;
	e->level = level > LZ4HC_CLEVEL_MAX ? LZ4HC_CLEVEL_MAX : level;
	/* Dictionaries hold at most n / 2 entries: load factor <= 1/2. */
	for (e->tab_bits = 6; (1u << e->tab_bits) < max_flows; e->tab_bits++)
		;
	for (c = 0; c < FY_STORE_NCOLS; c++)
		at += n * fy_store_cols[c].size;
	e->stage = malloc(at);
	e->lo = malloc(n * sizeof(uint64_t));
	e->hi = malloc(n * sizeof(uint64_t));
	e->raw = malloc(n * 16);
	e->draw = malloc(n * 16);
	e->dout = malloc(n * 16);
	e->ids = malloc(n * sizeof(uint32_t));
	e->first_of = malloc(n * sizeof(uint32_t));
	e->tab = calloc((size_t)1 << e->tab_bits, sizeof(struct dict_slot));
	e->lz4 = malloc(
		(size_t)(level > 0 ? LZ4_sizeofStateHC() : LZ4_sizeofState()));
	if (!e->stage || !e->lo || !e->hi || !e->raw || !e->draw || !e->dout ||
	    !e->ids || !e->first_of || !e->tab || !e->lz4)
		goto out;
	for (c = 0, at = 0; c < FY_STORE_NCOLS; c++) {
		e->col[c] = e->stage + at;
		at += n * fy_store_cols[c].size;
	}
	*out = e;
	e = NULL; /* transferred */
	r = 0;
out:
	fy_store_encoder_free(e);
	return r;
}

void fy_store_encoder_free(struct fy_store_encoder *e)
{
	if (!e)
		return;
	free(e->stage);
	free(e->lo);
	free(e->hi);
	free(e->raw);
	free(e->draw);
	free(e->dout);
	free(e->ids);
	free(e->first_of);
	free(e->tab);
	free(e->lz4);
	free(e);
}

size_t fy_store_block_bound(uint32_t n)
{
	size_t per_flow = 0;
	unsigned c;

	for (c = 0; c < FY_STORE_NCOLS; c++)
		per_flow += fy_store_col_max_width(&fy_store_cols[c]);
	return FY_STORE_BLK_HDR_LEN(FY_STORE_NCOLS) + per_flow * n;
}

/* ------------------------------------------------------------------ */
/* Staging: rows to columns */

#define ST(c, field)                                                     \
	memcpy(e->col[FY_STORE_COL_##c] + (size_t)at * sizeof(f->field), \
	       &f->field, sizeof(f->field))

/* Copies one flow into slot `at` of every column. */
static inline void stage_one(struct fy_store_encoder *e, uint32_t at,
			     const struct fy_flow *f)
{
	ST(FIRST_MS, first_ms);
	ST(LAST_MS, last_ms);
	ST(PACKETS, packets);
	ST(BYTES, bytes);
	ST(OUT_PACKETS, out_packets);
	ST(OUT_BYTES, out_bytes);
	ST(SRC, src);
	ST(DST, dst);
	ST(NEXTHOP, nexthop);
	ST(BGP_NEXTHOP, bgp_nexthop);
	ST(EXPORTER, exporter);
	ST(XLATE_SRC, xlate_src);
	ST(XLATE_DST, xlate_dst);
	ST(INPUT_IF, input_if);
	ST(OUTPUT_IF, output_if);
	ST(SRC_AS, src_as);
	ST(DST_AS, dst_as);
	ST(DOMAIN, domain);
	ST(SAMPLING_INTERVAL, sampling_interval);
	ST(MPLS_LABEL, mpls_label);
	ST(SRC_PORT, src_port);
	ST(DST_PORT, dst_port);
	ST(XLATE_SRC_PORT, xlate_src_port);
	ST(XLATE_DST_PORT, xlate_dst_port);
	ST(VLAN, vlan);
	ST(OUT_VLAN, out_vlan);
	ST(EXPORTER_PORT, exporter_port);
	ST(FAMILY, family);
	ST(EXPORTER_FAMILY, exporter_family);
	ST(PROTO, proto);
	ST(TCP_FLAGS, tcp_flags);
	ST(TOS, tos);
	ST(SRC_MASK, src_mask);
	ST(DST_MASK, dst_mask);
	ST(ICMP_TYPE, icmp_type);
	ST(ICMP_CODE, icmp_code);
	ST(END_REASON, end_reason);
	ST(DIRECTION, direction);
	ST(FW_EVENT, fw_event);
	ST(FORWARDING_STATUS, forwarding_status);
	ST(ENGINE_TYPE, engine_type);
	ST(ENGINE_ID, engine_id);
	ST(NF_VERSION, nf_version);
	ST(SRC_MAC, src_mac);
	ST(DST_MAC, dst_mac);
}

#undef ST

size_t fy_store_encoder_add(struct fy_store_encoder *e,
			    const struct fy_flow *flows, size_t n)
{
	size_t room = e->max_flows - e->n, i;

	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		stage_one(e, e->n + (uint32_t)i, &flows[i]);
	e->n += (uint32_t)n;
	return n;
}

size_t fy_store_encoder_pending(const struct fy_store_encoder *e)
{
	return e->n;
}

/* ------------------------------------------------------------------ */
/* Columns */

static inline uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

/* Bytes 0..w of a byte string as a little-endian number. */
static inline uint64_t load_le(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	unsigned k;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (w == 8) {
		memcpy(&v, p, 8);
		return v;
	}
	if (w == 4) {
		uint32_t x;

		memcpy(&x, p, 4);
		return x;
	}
#endif
	for (k = 0; k < w; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static unsigned bytes_for(uint64_t v)
{
	unsigned w = 0;

	while (v) {
		w++;
		v >>= 8;
	}
	return w;
}

static inline uint8_t val_byte(const struct fy_store_encoder *e, size_t i,
			       unsigned k)
{
	return (uint8_t)(k < 8 ? e->lo[i] >> (8 * k)
			       : e->hi[i] >> (8 * (k - 8)));
}

/*
 * One column of the staged block, ready to encode: integers as an array
 * of `size`-byte host integers (time columns already transformed, in
 * e->lo), byte strings (addresses, MACs) as `size`-byte strings of which
 * bytes skip..skip+w are stored.
 */
struct colview {
	const uint8_t *p;
	unsigned size;
	unsigned skip;
	bool bytes; /* a byte string, not a host integer */
	unsigned w;
	bool same;
};

/*
 * Integer scan: the OR of all values (it gives the width) and whether all
 * are equal. Narrow values are taken 64 bits at a time, each word holding
 * 8 / size of them: the OR of the words ORed across their lanes is the OR
 * of the values, and a word equal to the first value repeated in every
 * lane holds only copies of it.
 */
static void scan_uint(const uint8_t *p, size_t n, unsigned size, uint64_t *any,
		      bool *same)
{
	uint64_t v0 = 0, rep, a = 0, diff = 0, word;
	size_t i, bytes = n * size, whole = bytes & ~(size_t)7;
	unsigned lanes = 8 / size, k;

	memcpy(&v0, p, size); /* the lane bits in host order, as stored */
	for (rep = 0, k = 0; k < lanes; k++)
		rep |= v0 << (8 * size * k);
	for (i = 0; i < whole; i += 8) {
		memcpy(&word, p + i, 8);
		a |= word;
		diff |= word ^ rep;
	}
	for (; i < bytes; i += size) {
		word = 0;
		memcpy(&word, p + i, size);
		a |= word;
		diff |= word ^ v0;
	}
	/* fold the lanes: the OR of every value */
	for (k = lanes / 2; k >= 1; k /= 2)
		a |= a >> (8 * size * k);
	*any = size == 8 ? a : a & ((UINT64_C(1) << (8 * size)) - 1);
	*same = diff == 0;
}

/* Byte planes of an integer column: plane k = byte k of every value. */
#define PLANES_UINT(name, type)                                                \
	static void name(const uint8_t *p, size_t n, unsigned w, uint8_t *out) \
	{                                                                      \
		const type *v = (const type *)(const void *)p;                 \
		unsigned k;                                                    \
		size_t i;                                                      \
                                                                               \
		for (k = 0; k < w; k++) {                                      \
			uint8_t *pl = out + (size_t)k * n;                     \
			unsigned sh = 8 * k;                                   \
			for (i = 0; i < n; i++)                                \
				pl[i] = (uint8_t)(v[i] >> sh);                 \
		}                                                              \
	}
PLANES_UINT(planes_u8, uint8_t)
PLANES_UINT(planes_u16, uint16_t)
PLANES_UINT(planes_u32, uint32_t)
PLANES_UINT(planes_u64, uint64_t)
#undef PLANES_UINT

static inline uint64_t int_at(const struct colview *v, size_t i)
{
	switch (v->size) {
	case 8:
		return ((const uint64_t *)(const void *)v->p)[i];
	case 4:
		return ((const uint32_t *)(const void *)v->p)[i];
	case 2:
		return ((const uint16_t *)(const void *)v->p)[i];
	default:
		return v->p[i];
	}
}

/*
 * Looks at column c of the n staged flows: sets *v up and returns the
 * stored width, 0 for an all-zero column; v->same when every flow has the
 * same value.
 */
static unsigned view_col(struct fy_store_encoder *e, unsigned c, size_t n,
			 uint64_t t_min, struct colview *v)
{
	static const uint8_t zero[16];
	const struct fy_store_coldef *d = &fy_store_cols[c];
	uint64_t any = 0;
	size_t i;

	memset(v, 0, sizeof(*v));
	v->p = e->col[c];
	v->size = d->size;
	if (d->kind == FY_STORE_K_ADDR) {
		/* as words: bytes 0..7, 8..11 (the v4 prefix ends), 12..15 */
		static const uint8_t pre[4] = {0, 0, 0xff, 0xff};
		uint64_t a0, b0, any0 = 0, diff = 0, notv4 = 0;
		uint32_t a1, b1, a2, b2, any1 = 0, mapped;
		const uint8_t *p = v->p;

		memcpy(&mapped, pre, 4);
		memcpy(&b0, p, 8);
		memcpy(&b1, p + 8, 4);
		memcpy(&b2, p + 12, 4);
		for (i = 0; i < n; i++, p += 16) {
			memcpy(&a0, p, 8);
			memcpy(&a1, p + 8, 4);
			memcpy(&a2, p + 12, 4);
			any0 |= a0;
			any1 |= a1 | a2;
			notv4 |= a0 | (a1 ^ mapped);
			diff |= (a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2);
		}
		v->bytes = true;
		v->same = diff == 0;
		if ((any0 | any1) == 0)
			return 0;
		v->w = notv4 ? 16 : 4;
		v->skip = 16 - v->w; /* IPv4-mapped: bytes 12..15 only */
		return v->w;
	}
	if (d->kind == FY_STORE_K_MAC) {
		bool nonzero = false;
		const uint8_t *p = v->p;

		v->bytes = true;
		v->same = true;
		for (i = 0; i < n; i++, p += d->size) {
			nonzero = nonzero || memcmp(p, zero, d->size) != 0;
			v->same = v->same && memcmp(p, v->p, d->size) == 0;
		}
		if (!nonzero)
			return 0;
		return v->w = d->size;
	}
	if (d->kind == FY_STORE_K_FIRST || d->kind == FY_STORE_K_LAST) {
		const uint64_t *first = (const uint64_t *)(const void *)
						e->col[FY_STORE_COL_FIRST_MS];
		const uint64_t *last = (const uint64_t *)(const void *)
					       e->col[FY_STORE_COL_LAST_MS];
		uint64_t prev = t_min;

		if (d->kind == FY_STORE_K_FIRST) {
			for (i = 0; i < n; i++) {
				e->lo[i] = zigzag(first[i] - prev);
				prev = first[i];
			}
		} else {
			for (i = 0; i < n; i++)
				e->lo[i] = zigzag(last[i] - first[i]);
		}
		v->p = (const uint8_t *)e->lo;
		v->size = 8;
	}
	scan_uint(v->p, n, v->size, &any, &v->same);
	return v->w = bytes_for(any);
}

/* Byte k of value i of a viewed column. */
static inline uint8_t view_byte(const struct colview *v, size_t i, unsigned k)
{
	if (v->bytes)
		return v->p[i * v->size + v->skip + k];
	return (uint8_t)(int_at(v, i) >> (8 * k));
}

/* The column's byte planes into out (n * w bytes). */
static void view_planes(const struct colview *v, size_t n, uint8_t *out)
{
	unsigned k;
	size_t i;

	if (v->bytes) {
		const uint8_t *p = v->p + v->skip;

		for (i = 0; i < n; i++, p += v->size)
			for (k = 0; k < v->w; k++)
				out[(size_t)k * n + i] = p[k];
		return;
	}
	switch (v->size) {
	case 8:
		planes_u64(v->p, n, v->w, out);
		break;
	case 4:
		planes_u32(v->p, n, v->w, out);
		break;
	case 2:
		planes_u16(v->p, n, v->w, out);
		break;
	default:
		planes_u8(v->p, n, v->w, out);
		break;
	}
}

/* The values as 16-byte numbers in e->lo/hi, for the dictionary. */
static void view_values(struct fy_store_encoder *e, const struct colview *v,
			size_t n)
{
	size_t i;

	if (v->bytes) {
		const uint8_t *p = v->p + v->skip;
		unsigned w = v->w;

		for (i = 0; i < n; i++, p += v->size) {
			e->lo[i] = load_le(p, w < 8 ? w : 8);
			e->hi[i] = w > 8 ? load_le(p + 8, w - 8) : 0;
		}
		return;
	}
	if (v->p != (const uint8_t *)e->lo)
		for (i = 0; i < n; i++)
			e->lo[i] = int_at(v, i);
	memset(e->hi, 0, n * sizeof(*e->hi));
}

/*
 * Compresses len bytes at src into dst (room bytes), or stores them when
 * LZ4 does not make them smaller. Returns the size and sets *lz4, or -1
 * when neither fits.
 */
static long squeeze(struct fy_store_encoder *e, const uint8_t *src, size_t len,
		    uint8_t *dst, size_t room, bool *lz4)
{
	size_t lim = len - 1 < room ? len - 1 : room;
	int c = 0;

	if (lim > 0 && e->level > 0)
		c = LZ4_compress_HC_extStateHC(e->lz4, (const char *)src,
					       (char *)dst, (int)len, (int)lim,
					       e->level);
	else if (lim > 0)
		c = LZ4_compress_fast_extState(e->lz4, (const char *)src,
					       (char *)dst, (int)len, (int)lim,
					       1);
	*lz4 = c > 0;
	if (c > 0)
		return c;
	if (room < len)
		return -1;
	memcpy(dst, src, len);
	return (long)len;
}

static inline uint32_t slot_of(const struct fy_store_encoder *e, uint64_t lo,
			       uint64_t hi)
{
	uint64_t h = lo * 0x9e3779b97f4a7c15ull ^ hi * 0xc2b2ae3d27d4eb4full;

	return (uint32_t)(h >> (64 - e->tab_bits));
}

/* Numbers the distinct values; returns how many, 0 if more than dmax. */
static uint32_t dict_build(struct fy_store_encoder *e, size_t n, uint32_t dmax)
{
	uint32_t mask = (1u << e->tab_bits) - 1, d = 0, s;
	size_t i;

	if (++e->gen == 0) { /* wrapped: old stamps could match again */
		memset(e->tab, 0, sizeof(*e->tab) << e->tab_bits);
		e->gen = 1;
	}
	for (i = 0; i < n; i++) {
		struct dict_slot *t;

		for (s = slot_of(e, e->lo[i], e->hi[i]);; s = (s + 1) & mask) {
			t = &e->tab[s];
			if (t->gen != e->gen ||
			    (t->lo == e->lo[i] && t->hi == e->hi[i]))
				break;
		}
		if (t->gen != e->gen) {
			if (d == dmax)
				return 0;
			*t = (struct dict_slot){e->lo[i], e->hi[i], e->gen, d};
			e->first_of[d++] = (uint32_t)i;
		}
		e->ids[i] = t->id;
	}
	return d;
}

/* Dictionary planes, then indices packed LSB first; returns the length. */
static size_t dict_layout(struct fy_store_encoder *e, size_t n, unsigned w,
			  uint32_t d)
{
	unsigned bits = fy_store_dict_bits(d), k, nb = 0;
	uint8_t *p = e->draw;
	uint64_t acc = 0;
	size_t i;

	for (k = 0; k < w; k++)
		for (i = 0; i < d; i++)
			*p++ = val_byte(e, e->first_of[i], k);
	for (i = 0; i < n; i++) {
		acc |= (uint64_t)e->ids[i] << nb;
		nb += bits;
		while (nb >= 8) {
			*p++ = (uint8_t)acc;
			acc >>= 8;
			nb -= 8;
		}
	}
	if (nb)
		*p++ = (uint8_t)acc;
	return (size_t)(p - e->draw);
}

/*
 * The most entries a dictionary of n values of w bytes may have and still
 * pass the size test of try_dict (dictionary plus packed indices smaller
 * than the raw planes): the build gives up as soon as it finds more.
 */
static uint32_t dict_cap(size_t n, unsigned w)
{
	uint64_t raw = (uint64_t)n * w, best = 0;
	unsigned b;

	for (b = 1; b <= 16; b++) {
		uint64_t idx = ((uint64_t)n * b + 7) / 8, lo, hi, fit;

		if (idx >= raw)
			break;
		lo = b == 1 ? 2 : (UINT64_C(1) << (b - 1)) + 1;
		hi = UINT64_C(1) << b;	   /* entries that need b bits */
		fit = (raw - idx - 1) / w; /* d * w + idx < raw */
		if (fit < hi)
			hi = fit;
		if (hi >= lo)
			best = hi;
	}
	return (uint32_t)best;
}

/*
 * Tries the dictionary form of the column (its values in e->lo/hi); when
 * it beats `best` bytes, writes it to dst and returns its size, else
 * returns 0.
 */
static long try_dict(struct fy_store_encoder *e, size_t n, unsigned w,
		     long best, uint8_t *dst, uint8_t *flags)
{
	uint32_t dmax = (uint32_t)(n / 2), d, cap = dict_cap(n, w);
	size_t len;
	long c;
	bool lz4;

	if (dmax > FY_STORE_DICT_MAX)
		dmax = FY_STORE_DICT_MAX;
	if (dmax > cap)
		dmax = cap;
	if ((d = dict_build(e, n, dmax)) < 2)
		return 0;
	/* The raw form must already be smaller (dict_cap made sure). */
	if ((uint64_t)d * w + ((uint64_t)n * fy_store_dict_bits(d) + 7) / 8 >=
	    (uint64_t)n * w)
		return 0;
	len = dict_layout(e, n, w, d);
	c = squeeze(e, e->draw, len, e->dout, (size_t)best - 5, &lz4);
	if (c < 0)
		return 0;
	fy_put_u32(dst, d);
	memcpy(dst + 4, e->dout, (size_t)c);
	*flags = FY_STORE_CF_DICT | (lz4 ? FY_STORE_CF_LZ4 : 0);
	return c + 4;
}

/* Distinct values among the first SAMPLE_FLOWS of a viewed column. */
static unsigned sample_distinct(struct fy_store_encoder *e,
				const struct colview *v, size_t n)
{
	const uint32_t mask = (1u << SAMPLE_BITS) - 1;
	size_t m = n < SAMPLE_FLOWS ? n : SAMPLE_FLOWS, i;
	unsigned d = 0;

	if (++e->sgen == 0) {
		memset(e->stab, 0, sizeof(e->stab));
		e->sgen = 1;
	}
	for (i = 0; i < m; i++) {
		uint64_t lo, hi = 0;
		uint32_t s;

		if (v->bytes) {
			const uint8_t *p = v->p + i * v->size + v->skip;

			lo = load_le(p, v->w < 8 ? v->w : 8);
			hi = v->w > 8 ? load_le(p + 8, v->w - 8) : 0;
		} else {
			lo = int_at(v, i);
		}
		s = (uint32_t)((lo * 0x9e3779b97f4a7c15ull ^
				hi * 0xc2b2ae3d27d4eb4full) >>
			       (64 - SAMPLE_BITS));
		for (;; s = (s + 1) & mask) {
			struct dict_slot *t = &e->stab[s];

			if (t->gen != e->sgen) {
				*t = (struct dict_slot){lo, hi, e->sgen, 0};
				d++;
				break;
			}
			if (t->lo == lo && t->hi == hi)
				break;
		}
	}
	return d;
}

/* Encodes staged column c at dst; returns its size or -ENOBUFS. */
static long encode_col(struct fy_store_encoder *e, unsigned c, size_t n,
		       uint64_t t_min, uint8_t *dst, size_t room,
		       uint8_t *width, uint8_t *flags)
{
	struct colview v;
	unsigned w, k;
	long used, alt;
	bool lz4;

	*flags = 0;
	*width = (uint8_t)(w = view_col(e, c, n, t_min, &v));
	if (w == 0)
		return 0;
	if (v.same) {
		if (room < w)
			return -ENOBUFS;
		for (k = 0; k < w; k++)
			dst[k] = view_byte(&v, 0, k);
		*flags = FY_STORE_CF_CONST;
		return w;
	}
	view_planes(&v, n, e->raw);
	if ((used = squeeze(e, e->raw, w * n, dst, room, &lz4)) < 0)
		return -ENOBUFS;
	*flags = lz4 ? FY_STORE_CF_LZ4 : 0;
	if (n < DICT_MIN_FLOWS || used <= 5)
		return used;
	if (e->dict_wait[c]) {
		unsigned sd = sample_distinct(e, &v, n);

		/* as varied as when the trial lost: skip it */
		if (4 * sd > 3u * e->dict_sample[c]) {
			e->dict_wait[c]--;
			return used;
		}
	}
	view_values(e, &v, n);
	if ((alt = try_dict(e, n, w, used, dst, flags)) > 0) {
		e->dict_backoff[c] = 0;
		e->dict_wait[c] = 0;
		return alt;
	}
	/* lost: wait 1, 2, 4... blocks before the next trial */
	k = e->dict_backoff[c] ? 2u * e->dict_backoff[c] : 1;
	e->dict_backoff[c] =
		(uint8_t)(k > DICT_BACKOFF_MAX ? DICT_BACKOFF_MAX : k);
	e->dict_wait[c] = e->dict_backoff[c];
	e->dict_sample[c] = (uint16_t)sample_distinct(e, &v, n);
	return used;
}

/* Time bounds and totals of the staged flows, from their columns. */
static void staged_bounds(const struct fy_store_encoder *e, size_t n,
			  uint64_t *lo, uint64_t *hi)
{
	const uint64_t *first =
		(const uint64_t *)(const void *)e->col[FY_STORE_COL_FIRST_MS];
	const uint64_t *last =
		(const uint64_t *)(const void *)e->col[FY_STORE_COL_LAST_MS];
	uint64_t l = UINT64_MAX, h = 0;
	size_t i;

	/* Both ends of every flow: bounds hold even for last_ms < first_ms. */
	for (i = 0; i < n; i++) {
		uint64_t a = first[i] < last[i] ? first[i] : last[i];
		uint64_t b = first[i] < last[i] ? last[i] : first[i];

		l = a < l ? a : l;
		h = b > h ? b : h;
	}
	*lo = l;
	*hi = h;
}

/* As fy_store_stats_add over the staged flows. */
static void staged_stats(const struct fy_store_encoder *e, size_t n,
			 struct fy_store_stats *st)
{
	const uint64_t *first =
		(const uint64_t *)(const void *)e->col[FY_STORE_COL_FIRST_MS];
	const uint64_t *last =
		(const uint64_t *)(const void *)e->col[FY_STORE_COL_LAST_MS];
	const uint64_t *pk =
		(const uint64_t *)(const void *)e->col[FY_STORE_COL_PACKETS];
	const uint64_t *by =
		(const uint64_t *)(const void *)e->col[FY_STORE_COL_BYTES];
	const uint8_t *proto = e->col[FY_STORE_COL_PROTO];
	uint64_t fmin = UINT64_MAX, lmax = 0;
	size_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < n; i++) {
		struct fy_store_count *pc =
			&st->proto[fy_store_proto_bucket(proto[i])];

		pc->flows++;
		pc->packets += pk[i];
		pc->bytes += by[i];
		fmin = first[i] < fmin ? first[i] : fmin;
		lmax = last[i] > lmax ? last[i] : lmax;
	}
	for (i = 0; i < FY_STORE_P_N; i++) {
		st->all.flows += st->proto[i].flows;
		st->all.packets += st->proto[i].packets;
		st->all.bytes += st->proto[i].bytes;
	}
	st->first_ms = n ? fmin : 0;
	st->last_ms = lmax;
}

int fy_store_encoder_finish(struct fy_store_encoder *e, uint8_t *out,
			    size_t cap, size_t *len, struct fy_store_stats *st)
{
	const size_t hdr = FY_STORE_BLK_HDR_LEN(FY_STORE_NCOLS);
	size_t n, pos = hdr;
	struct fy_wr w;
	uint64_t t_min, t_max;
	uint32_t crc;
	unsigned c;

	*len = 0;
	if (!e || !out)
		return -EINVAL;
	n = e->n;
	e->n = 0; /* encoded or not, the stage starts over */
	if (n == 0)
		return -EINVAL;
	if (cap < hdr)
		return -ENOBUFS;
	staged_bounds(e, n, &t_min, &t_max);
	w = fy_wr_init(out, hdr);
	fy_wr_u32(&w, FY_STORE_BLK_MAGIC);
	fy_wr_u32(&w, 0); /* length, known at the end */
	fy_wr_u32(&w, (uint32_t)n);
	fy_wr_u64(&w, t_min);
	fy_wr_u64(&w, t_max);
	fy_wr_u8(&w, FY_STORE_NCOLS);
	fy_wr_u8(&w, 0);
	for (c = 0; c < FY_STORE_NCOLS; c++) {
		uint8_t width, flags;
		long used;

		used = encode_col(e, c, n, t_min, out + pos, cap - pos, &width,
				  &flags);
		if (used < 0)
			return -ENOBUFS;
		fy_wr_u8(&w, width);
		fy_wr_u8(&w, flags);
		fy_wr_u32(&w, (uint32_t)used);
		pos += (size_t)used;
	}
	fy_put_u32(out + 4, (uint32_t)pos);
	crc = fy_store_crc32c(0, out, hdr - 4);
	crc = fy_store_crc32c(crc, out + hdr, pos - hdr);
	fy_wr_u32(&w, crc);
	if (w.err)
		return -ENOBUFS;
	*len = pos;
	if (st)
		staged_stats(e, n, st);
	return 0;
}

int fy_store_block_encode(struct fy_store_encoder *e,
			  const struct fy_flow *flows, size_t n, uint8_t *out,
			  size_t cap, size_t *len, struct fy_store_stats *st)
{
	*len = 0;
	if (!e || !flows || !out || n == 0 || n > e->max_flows || e->n)
		return -EINVAL;
	fy_store_encoder_add(e, flows, n);
	return fy_store_encoder_finish(e, out, cap, len, st);
}
