/*
 * store_decode.c - one block back to flows.
 *
 * The header is parsed and bounds-checked first (nothing in it is trusted:
 * a hostile file may carry a valid CRC), then only the columns asked for
 * are decompressed, each into a buffer sized from the header's checked
 * numbers, and flows are filled from the byte planes on demand.
 */
#include "store_impl.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static int check_desc(const struct fy_store_blkhdr *h, unsigned c)
{
	uint64_t raw = (uint64_t)h->col[c].width * h->n;
	uint8_t fl = h->col[c].flags, w = h->col[c].width;
	uint32_t sz = h->col[c].size;

	if (fl & ~FY_STORE_CF_KNOWN)
		return -EBADMSG;
	if (c < FY_STORE_NCOLS && !fy_store_col_width_ok(&fy_store_cols[c], w))
		return -EBADMSG;
	if (w == 0)
		return fl || sz ? -EBADMSG : 0;
	if (fl & FY_STORE_CF_CONST)
		return fl == FY_STORE_CF_CONST && sz == w ? 0 : -EBADMSG;
	if (fl & FY_STORE_CF_DICT) /* sizes checked once d is known */
		return sz > 4 ? 0 : -EBADMSG;
	if (fl == FY_STORE_CF_LZ4)
		return sz > 0 && sz < raw ? 0 : -EBADMSG;
	return sz == raw ? 0 : -EBADMSG;
}

int fy_store_blk_parse(const uint8_t *p, size_t avail,
		       struct fy_store_blkhdr *h, const char **why)
{
	struct fy_rd rd = fy_rd_init(p, avail);
	uint64_t pos;
	unsigned c;

	*why = "truncated block header";
	if (fy_rd_u32(&rd) != FY_STORE_BLK_MAGIC) {
		*why = rd.err ? *why : "bad block magic";
		return -EBADMSG;
	}
	h->len = fy_rd_u32(&rd);
	h->n = fy_rd_u32(&rd);
	h->t_min = fy_rd_u64(&rd);
	h->t_max = fy_rd_u64(&rd);
	h->ncols = fy_rd_u8(&rd);
	fy_rd_u8(&rd); /* reserved */
	if (rd.err)
		return -EBADMSG;
	*why = "block header out of bounds";
	if (h->n == 0 || h->n > FY_STORE_MAX_BLOCK_FLOWS || h->ncols == 0 ||
	    h->ncols > FY_STORE_BLK_MAX_COLS || h->t_min > h->t_max)
		return -EBADMSG;
	h->hdr_len = FY_STORE_BLK_HDR_LEN(h->ncols);
	if (h->len < h->hdr_len || h->len > FY_STORE_BLK_MAX_BYTES)
		return -EBADMSG;
	pos = h->hdr_len;
	for (c = 0; c < h->ncols; c++) {
		h->col[c].width = fy_rd_u8(&rd);
		h->col[c].flags = fy_rd_u8(&rd);
		h->col[c].size = fy_rd_u32(&rd);
		h->col[c].off = (uint32_t)(pos < UINT32_MAX ? pos : UINT32_MAX);
		pos += h->col[c].size;
	}
	h->crc = fy_rd_u32(&rd);
	if (rd.err) {
		*why = "truncated block header";
		return -EBADMSG;
	}
	*why = "bad column descriptor";
	for (c = 0; c < h->ncols; c++)
		if (check_desc(h, c))
			return -EBADMSG;
	if (pos != h->len) {
		*why = "column sizes do not add up to the block length";
		return -EBADMSG;
	}
	return 0;
}

bool fy_store_blk_crc_ok(const uint8_t *blk, const struct fy_store_blkhdr *h)
{
	uint32_t crc = fy_store_crc32c(0, blk, h->hdr_len - 4);

	crc = fy_store_crc32c(crc, blk + h->hdr_len, h->len - h->hdr_len);
	return crc == h->crc;
}

void fy_store_dblock_free(struct fy_store_dblock *d)
{
	free(d->arena);
	free(d->times);
	memset(d, 0, sizeof(*d));
}

static int grow(void *pp, size_t *cap, size_t need)
{
	void *p;

	if (need <= *cap)
		return 0;
	if ((p = realloc(*(void **)pp, need)) == NULL)
		return -ENOMEM;
	*(void **)pp = p;
	*cap = need;
	return 0;
}

static inline uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

/* Byte k of value i of a decoded column. */
static inline uint8_t dcol_byte(const struct fy_store_dcol *c, size_t i,
				unsigned k)
{
	size_t j = c->idx ? c->idx[i] : (c->nvals == 1 ? 0 : i);

	return c->plane[(size_t)k * c->nvals + j];
}

static inline uint64_t dcol_uint(const struct fy_store_dcol *c, size_t i)
{
	uint64_t v = 0;
	unsigned k;

	for (k = 0; k < c->width; k++)
		v |= (uint64_t)dcol_byte(c, i, k) << (8 * k);
	return v;
}

/*
 * n values of W byte planes into v, each value in one go: with W a
 * constant the byte loop unrolls, and v is written once, not once per
 * plane.
 */
static inline __attribute__((always_inline)) void
planes_u64(const uint8_t *pl, uint32_t n, unsigned W, uint64_t *v)
{
	uint32_t i;
	unsigned k;

	for (i = 0; i < n; i++) {
		uint64_t x = pl[i];

		for (k = 1; k < W; k++)
			x |= (uint64_t)pl[(size_t)k * n + i] << (8 * k);
		v[i] = x;
	}
}

/*
 * The values of an integer column into v[0..n): straight from the planes
 * for a plain column, value by value otherwise.
 */
static void dcol_u64(const struct fy_store_dcol *c, uint32_t n, uint64_t *v)
{
	uint32_t i;

	if (c->width == 0 || c->idx || c->nvals != n) {
		for (i = 0; i < n; i++)
			v[i] = c->width ? dcol_uint(c, i) : 0;
		return;
	}
	switch (c->width) {
	case 1:
		planes_u64(c->plane, n, 1, v);
		break;
	case 2:
		planes_u64(c->plane, n, 2, v);
		break;
	case 3:
		planes_u64(c->plane, n, 3, v);
		break;
	case 4:
		planes_u64(c->plane, n, 4, v);
		break;
	case 5:
		planes_u64(c->plane, n, 5, v);
		break;
	case 6:
		planes_u64(c->plane, n, 6, v);
		break;
	case 7:
		planes_u64(c->plane, n, 7, v);
		break;
	default:
		planes_u64(c->plane, n, 8, v);
	}
}

static void decode_times(struct fy_store_dblock *d, uint64_t t_min)
{
	const struct fy_store_dcol *fc = &d->col[FY_STORE_COL_FIRST_MS];
	const struct fy_store_dcol *lc = &d->col[FY_STORE_COL_LAST_MS];
	uint64_t prev = t_min;
	size_t i;

	dcol_u64(fc, d->n, d->first);
	for (i = 0; i < d->n; i++) {
		prev += unzigzag(d->first[i]);
		d->first[i] = prev;
	}
	if (!(d->mask & FY_STORE_MASK(FY_STORE_COL_LAST_MS)))
		return;
	dcol_u64(lc, d->n, d->last);
	for (i = 0; i < d->n; i++)
		d->last[i] = d->first[i] + unzigzag(d->last[i]);
}

/* Sizes of a dictionary column, from its (checked) entry count. */
struct dict_geom {
	uint32_t d;
	unsigned bits;
	size_t raw; /* dictionary planes + packed indices */
};

static int dict_geom(const uint8_t *blk, const struct fy_store_blkhdr *h,
		     unsigned c, struct dict_geom *g)
{
	struct fy_rd rd = fy_rd_init(blk + h->col[c].off, 4);

	g->d = fy_rd_u32(&rd);
	if (rd.err || g->d < 2 || g->d > h->n || g->d > FY_STORE_DICT_MAX)
		return -EBADMSG;
	g->bits = fy_store_dict_bits(g->d);
	g->raw = (size_t)g->d * h->col[c].width +
		 ((size_t)h->n * g->bits + 7) / 8;
	if (!(h->col[c].flags & FY_STORE_CF_LZ4) &&
	    h->col[c].size - 4 != g->raw)
		return -EBADMSG;
	return 0;
}

/* Arena bytes column c needs; 8-aligned so index arrays are aligned. */
static int col_need(const uint8_t *blk, const struct fy_store_blkhdr *h,
		    unsigned c, size_t *need)
{
	struct dict_geom g;
	size_t raw;

	if (h->col[c].flags & FY_STORE_CF_CONST) {
		raw = h->col[c].width;
	} else if (h->col[c].flags & FY_STORE_CF_DICT) {
		if (dict_geom(blk, h, c, &g))
			return -EBADMSG;
		raw = ((g.raw + 7) & ~(size_t)7) + sizeof(uint16_t) * h->n;
	} else {
		raw = (size_t)h->col[c].width * h->n;
	}
	*need = (raw + 7) & ~(size_t)7;
	return 0;
}

static int inflate(const uint8_t *src, size_t len, bool lz4, uint8_t *dst,
		   size_t raw)
{
	if (!lz4) {
		if (len != raw)
			return -EBADMSG;
		memcpy(dst, src, raw);
		return 0;
	}
	if (LZ4_decompress_safe((const char *)src, (char *)dst, (int)len,
				(int)raw) != (int)raw)
		return -EBADMSG;
	return 0;
}

/* Index i (B bits each, LSB first) from 4 bytes at its first byte. */
static inline uint32_t idx_at(const uint8_t *packed, size_t bit, uint32_t mask)
{
	const uint8_t *p = packed + (bit >> 3);
	uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return (x >> (bit & 7)) & mask;
}

/*
 * Groups of 8 indices of B bits (B bytes each group), with B a constant:
 * every shift and offset is one too. Returns the indices done; *bad gets
 * whether one was >= d. Stops 4 bytes short of the end (the loads).
 */
static inline __attribute__((always_inline)) uint32_t
unpack_groups(const uint8_t *packed, size_t len, uint32_t n, unsigned B,
	      uint32_t d, uint16_t *idx, uint32_t *bad)
{
	const uint32_t mask = (1u << B) - 1;
	uint32_t g, k, v, b = 0;

	for (g = 0; (g + 1) * 8 <= n && ((size_t)g + 1) * B + 4 <= len; g++) {
		const uint8_t *p = packed + (size_t)g * B;

		for (k = 0; k < 8; k++) {
			v = idx_at(p, k * B, mask);
			b |= v >= d;
			idx[g * 8 + k] = (uint16_t)v;
		}
	}
	*bad |= b;
	return g * 8;
}

/*
 * Unpacks the indices after the dictionary planes (LSB first); each must
 * be < d. An index of at most 16 bits starting anywhere in a byte lies in
 * the 4 bytes from there: one little-endian load and a shift each (with
 * the width a constant for the usual widths), the last few from the bytes
 * that are left.
 */
static int unpack_idx(const uint8_t *packed, const struct dict_geom *g,
		      uint32_t n, uint16_t *idx)
{
	const uint32_t mask = (1u << g->bits) - 1;
	const size_t len = ((size_t)n * g->bits + 7) / 8;
	uint32_t i = 0, v, bad = 0;
	size_t bit;

#define GROUPS(B)                                                      \
	case B:                                                        \
		i = unpack_groups(packed, len, n, B, g->d, idx, &bad); \
		break
	switch (g->bits) {
		GROUPS(1);
		GROUPS(2);
		GROUPS(3);
		GROUPS(4);
		GROUPS(5);
		GROUPS(6);
		GROUPS(7);
		GROUPS(8);
		GROUPS(9);
		GROUPS(10);
		GROUPS(11);
		GROUPS(12);
		GROUPS(13);
		GROUPS(14);
		GROUPS(15);
		GROUPS(16);
	default:
		break;
	}
#undef GROUPS
	for (bit = (size_t)i * g->bits; i < n && (bit >> 3) + 4 <= len;
	     i++, bit += g->bits) {
		v = idx_at(packed, bit, mask);
		bad |= v >= g->d;
		idx[i] = (uint16_t)v;
	}
	for (; i < n; i++, bit += g->bits) {
		uint32_t x = 0;
		size_t k;

		for (k = 0; k < 4 && (bit >> 3) + k < len; k++)
			x |= (uint32_t)packed[(bit >> 3) + k] << (8 * k);
		v = (x >> (bit & 7)) & mask;
		bad |= v >= g->d;
		idx[i] = (uint16_t)v;
	}
	return bad ? -EBADMSG : 0;
}

static int unpack_col(const uint8_t *blk, const struct fy_store_blkhdr *h,
		      unsigned c, uint8_t *dst, struct fy_store_dcol *dc)
{
	const uint8_t *src = blk + h->col[c].off;
	bool lz4 = h->col[c].flags & FY_STORE_CF_LZ4;
	struct dict_geom g;
	size_t raw;

	dc->width = h->col[c].width;
	dc->plane = dst;
	dc->idx = NULL;
	if (h->col[c].flags & FY_STORE_CF_CONST) {
		dc->nvals = 1;
		memcpy(dst, src, dc->width);
		return 0;
	}
	if (!(h->col[c].flags & FY_STORE_CF_DICT)) {
		dc->nvals = h->n;
		return inflate(src, h->col[c].size, lz4, dst,
			       (size_t)dc->width * h->n);
	}
	if (dict_geom(blk, h, c, &g) ||
	    inflate(src + 4, h->col[c].size - 4, lz4, dst, g.raw))
		return -EBADMSG;
	dc->nvals = g.d;
	raw = (g.raw + 7) & ~(size_t)7;
	dc->idx = (const uint16_t *)(void *)(dst + raw);
	return unpack_idx(dst + (size_t)g.d * dc->width, &g, h->n,
			  (uint16_t *)(void *)(dst + raw));
}

int fy_store_dblock_load(struct fy_store_dblock *d, const uint8_t *blk,
			 const struct fy_store_blkhdr *h, uint64_t mask,
			 const char **why)
{
	size_t need = 8, pos = 0, k;
	unsigned c;

	d->want = mask;
	/* last_ms is stored against first_ms: decoding it needs both. */
	if (mask & FY_STORE_MASK(FY_STORE_COL_LAST_MS))
		mask |= FY_STORE_MASK(FY_STORE_COL_FIRST_MS);
	d->n = h->n;
	d->mask = 0;
	memset(d->col, 0, sizeof(d->col));
	*why = "bad dictionary";
	for (c = 0; c < FY_STORE_NCOLS && c < h->ncols; c++) {
		if (!(mask & FY_STORE_MASK(c)) || h->col[c].width == 0)
			continue;
		if (col_need(blk, h, c, &k))
			return -EBADMSG;
		need += k;
	}
	*why = "out of memory";
	if (grow(&d->arena, &d->arena_cap, need) ||
	    grow(&d->times, &d->times_cap, sizeof(uint64_t) * 2 * h->n))
		return -ENOMEM;
	d->first = d->times;
	d->last = d->times + h->n;
	d->mask = mask;
	for (c = 0; c < FY_STORE_NCOLS && c < h->ncols; c++) {
		if (!(mask & FY_STORE_MASK(c)) || h->col[c].width == 0)
			continue;
		col_need(blk, h, c, &k);
		if (unpack_col(blk, h, c, d->arena + pos, &d->col[c])) {
			*why = "column does not decode to its size";
			d->mask = 0;
			return -EBADMSG;
		}
		pos += k;
	}
	if (mask & FY_STORE_MASK(FY_STORE_COL_FIRST_MS))
		decode_times(d, h->t_min);
	return 0;
}

static inline void store_uint(struct fy_flow *f, unsigned off, unsigned size,
			      uint64_t v)
{
	uint8_t *p = (uint8_t *)f + off;
	uint32_t v32 = (uint32_t)v;
	uint16_t v16 = (uint16_t)v;

	switch (size) {
	case 8:
		memcpy(p, &v, 8);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	default:
		*p = (uint8_t)v;
	}
}

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void fill_bytes(const struct fy_store_dcol *dc,
		       const struct fy_store_coldef *def, uint32_t from,
		       uint32_t cnt, struct fy_flow *out)
{
	unsigned w = dc->width, k, skip = def->size - w;
	uint32_t i;

	for (i = 0; i < cnt; i++) {
		uint8_t *p = (uint8_t *)&out[i] + def->off;

		if (w == 4 && def->kind == FY_STORE_K_ADDR)
			memcpy(p, v4_prefix, 12); /* IPv4-mapped */
		for (k = 0; k < w; k++)
			p[skip + k] = dcol_byte(dc, from + i, k);
	}
}

void fy_store_dblock_fill(const struct fy_store_dblock *d, uint32_t from,
			  uint32_t cnt, struct fy_flow *out)
{
	uint32_t i;
	unsigned c;

	memset(out, 0, sizeof(*out) * cnt);
	for (c = 0; c < FY_STORE_NCOLS; c++) {
		const struct fy_store_coldef *def = &fy_store_cols[c];
		const struct fy_store_dcol *dc = &d->col[c];

		if (!(d->want & FY_STORE_MASK(c)))
			continue;
		if (def->kind == FY_STORE_K_FIRST) {
			for (i = 0; i < cnt; i++)
				out[i].first_ms = d->first[from + i];
		} else if (def->kind == FY_STORE_K_LAST) {
			for (i = 0; i < cnt; i++)
				out[i].last_ms = d->last[from + i];
		} else if (dc->width == 0) {
			continue;
		} else if (def->kind == FY_STORE_K_INT) {
			for (i = 0; i < cnt; i++)
				store_uint(&out[i], def->off, def->size,
					   dcol_uint(dc, from + i));
		} else {
			fill_bytes(dc, def, from, cnt, out);
		}
	}
}
