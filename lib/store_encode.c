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
 */
#include "store_impl.h"

#include <errno.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define DICT_MIN_FLOWS 16 /* below this a dictionary does not pay */

struct dict_slot {
	uint64_t lo, hi;
	uint32_t gen; /* slot is used when gen matches the encoder's */
	uint32_t id;
};

struct fy_store_encoder {
	uint32_t max_flows;
	int level;
	uint64_t *lo, *hi;  /* one column: value bytes 0..7 and 8..15 */
	uint8_t *raw;	    /* its byte planes */
	uint8_t *draw;	    /* dictionary planes and packed indices */
	uint8_t *dout;	    /* the dictionary form, compressed */
	uint32_t *ids;	    /* dictionary index of each flow */
	uint32_t *first_of; /* a flow holding each dictionary entry */
	struct dict_slot *tab;
	unsigned tab_bits;
	uint32_t gen; /* bumped per column instead of clearing tab */
	void *lz4;    /* LZ4 or LZ4-HC state: no allocation per block */
};

int fy_store_encoder_new(struct fy_store_encoder **out, uint32_t max_flows,
			 int level)
{
	struct fy_store_encoder *e = NULL;
	size_t n = max_flows;
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
	if (!e->lo || !e->hi || !e->raw || !e->draw || !e->dout || !e->ids ||
	    !e->first_of || !e->tab || !e->lz4)
		goto out;
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

static inline uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static inline uint64_t load_uint(const struct fy_flow *f, unsigned off,
				 unsigned size)
{
	const uint8_t *p = (const uint8_t *)f + off;
	uint64_t v64;
	uint32_t v32;
	uint16_t v16;

	switch (size) {
	case 8:
		memcpy(&v64, p, 8);
		return v64;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	default:
		return *p;
	}
}

/* Bytes 0..w of a byte string as a little-endian number. */
static inline uint64_t load_le(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	unsigned k;

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
 * Loads column d of flows into e->lo/hi and returns its width: 0 for an
 * all-zero column. *same is set when every flow has the same value.
 */
static unsigned load_col(struct fy_store_encoder *e,
			 const struct fy_store_coldef *d,
			 const struct fy_flow *f, size_t n, uint64_t t_min,
			 bool *same)
{
	static const uint8_t zero[16];
	uint64_t any = 0, prev = t_min;
	bool v4 = true, nonzero = false;
	unsigned w, skip;
	size_t i;

	if (d->kind == FY_STORE_K_ADDR || d->kind == FY_STORE_K_MAC) {
		for (i = 0; i < n; i++) {
			const uint8_t *p = (const uint8_t *)&f[i] + d->off;

			nonzero = nonzero || memcmp(p, zero, d->size) != 0;
			v4 = v4 && d->kind == FY_STORE_K_ADDR &&
			     fy_addr_is_v4((const struct fy_addr *)p);
		}
		if (!nonzero)
			return 0;
		w = v4 ? 4 : d->size;
		skip = d->size - w; /* IPv4-mapped: bytes 12..15 only */
		for (i = 0; i < n; i++) {
			const uint8_t *p =
				(const uint8_t *)&f[i] + d->off + skip;

			e->lo[i] = load_le(p, w < 8 ? w : 8);
			e->hi[i] = w > 8 ? load_le(p + 8, w - 8) : 0;
		}
	} else {
		for (i = 0; i < n; i++) {
			uint64_t v;

			if (d->kind == FY_STORE_K_FIRST) {
				v = zigzag(f[i].first_ms - prev);
				prev = f[i].first_ms;
			} else if (d->kind == FY_STORE_K_LAST) {
				v = zigzag(f[i].last_ms - f[i].first_ms);
			} else {
				v = load_uint(&f[i], d->off, d->size);
			}
			e->lo[i] = v;
			e->hi[i] = 0;
			any |= v;
		}
		w = bytes_for(any);
	}
	*same = true;
	for (i = 1; i < n && *same; i++)
		*same = e->lo[i] == e->lo[0] && e->hi[i] == e->hi[0];
	if (*same && d->kind == FY_STORE_K_INT)
		w = bytes_for(e->lo[0]);
	return w;
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
 * Tries the dictionary form of the loaded column; when it beats `best`
 * bytes, writes it to dst and returns its size, else returns 0.
 */
static long try_dict(struct fy_store_encoder *e, size_t n, unsigned w,
		     long best, uint8_t *dst, uint8_t *flags)
{
	uint32_t dmax = (uint32_t)(n / 2), d;
	size_t len;
	long c;
	bool lz4;

	if (n < DICT_MIN_FLOWS || best <= 5)
		return 0;
	if (dmax > FY_STORE_DICT_MAX)
		dmax = FY_STORE_DICT_MAX;
	if ((d = dict_build(e, n, dmax)) < 2)
		return 0;
	/* Cheap test before any work: the raw form must already be smaller. */
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

/* Encodes one column at dst; returns its size or -ENOBUFS. */
static long encode_col(struct fy_store_encoder *e,
		       const struct fy_store_coldef *d, const struct fy_flow *f,
		       size_t n, uint64_t t_min, uint8_t *dst, size_t room,
		       uint8_t *width, uint8_t *flags)
{
	bool same = false, lz4;
	unsigned w, k;
	long used, alt;
	size_t i;

	*flags = 0;
	*width = (uint8_t)(w = load_col(e, d, f, n, t_min, &same));
	if (w == 0)
		return 0;
	if (same) {
		if (room < w)
			return -ENOBUFS;
		for (k = 0; k < w; k++)
			dst[k] = val_byte(e, 0, k);
		*flags = FY_STORE_CF_CONST;
		return w;
	}
	for (k = 0; k < w; k++) {
		uint8_t *pl = e->raw + k * n;

		for (i = 0; i < n; i++)
			pl[i] = val_byte(e, i, k);
	}
	if ((used = squeeze(e, e->raw, w * n, dst, room, &lz4)) < 0)
		return -ENOBUFS;
	*flags = lz4 ? FY_STORE_CF_LZ4 : 0;
	if ((alt = try_dict(e, n, w, used, dst, flags)) > 0)
		used = alt;
	return used;
}

static void time_bounds(const struct fy_flow *f, size_t n, uint64_t *lo,
			uint64_t *hi)
{
	size_t i;

	*lo = UINT64_MAX;
	*hi = 0;
	/* Both ends of every flow: bounds hold even for last_ms < first_ms. */
	for (i = 0; i < n; i++) {
		uint64_t a = f[i].first_ms, b = f[i].last_ms;

		if (a > b) {
			uint64_t t = a;
			a = b;
			b = t;
		}
		if (a < *lo)
			*lo = a;
		if (b > *hi)
			*hi = b;
	}
}

int fy_store_block_encode(struct fy_store_encoder *e,
			  const struct fy_flow *flows, size_t n, uint8_t *out,
			  size_t cap, size_t *len, struct fy_store_stats *st)
{
	const size_t hdr = FY_STORE_BLK_HDR_LEN(FY_STORE_NCOLS);
	struct fy_wr w;
	uint64_t t_min, t_max;
	size_t pos = hdr;
	uint32_t crc;
	unsigned c;

	*len = 0;
	if (!e || !flows || !out || n == 0 || n > e->max_flows)
		return -EINVAL;
	if (cap < hdr)
		return -ENOBUFS;
	time_bounds(flows, n, &t_min, &t_max);
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

		used = encode_col(e, &fy_store_cols[c], flows, n, t_min,
				  out + pos, cap - pos, &width, &flags);
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
	if (st) {
		memset(st, 0, sizeof(*st));
		fy_store_stats_add(st, flows, n);
	}
	return 0;
}
