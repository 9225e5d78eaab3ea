/*
 * wire.h - bounded big-endian reader and writer with a sticky error flag.
 *
 * Every decoder reads through fy_rd: once a read would pass the end, the
 * reader is marked failed, every further read returns zero and moves
 * nothing, so a decoder chains its reads and checks `err` once. No packet
 * pointer is ever cast to a struct. The writer is the mirror image for the
 * encoders: a write that does not fit sets `err` and writes nothing.
 */
#ifndef FY_WIRE_H
#define FY_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fy_rd {
	const uint8_t *p;
	size_t len; /* bytes left from p */
	bool err;
};

static inline struct fy_rd fy_rd_init(const void *buf, size_t len)
{
	struct fy_rd r = {(const uint8_t *)buf, len, false};
	return r;
}

static inline size_t fy_rd_left(const struct fy_rd *r)
{
	return r->err ? 0 : r->len;
}

/* Makes sure n bytes are there; on failure sets the sticky error. */
static inline bool fy_rd_need(struct fy_rd *r, size_t n)
{
	if (r->err || r->len < n) {
		r->err = true;
		return false;
	}
	return true;
}

static inline void fy_rd_skip(struct fy_rd *r, size_t n)
{
	if (fy_rd_need(r, n)) {
		r->p += n;
		r->len -= n;
	}
}

static inline uint8_t fy_rd_u8(struct fy_rd *r)
{
	uint8_t v;
	if (!fy_rd_need(r, 1))
		return 0;
	v = r->p[0];
	r->p += 1;
	r->len -= 1;
	return v;
}

static inline uint16_t fy_rd_u16(struct fy_rd *r)
{
	uint16_t v;
	if (!fy_rd_need(r, 2))
		return 0;
	v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->len -= 2;
	return v;
}

static inline uint32_t fy_rd_u32(struct fy_rd *r)
{
	uint32_t v;
	if (!fy_rd_need(r, 4))
		return 0;
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->len -= 4;
	return v;
}

static inline uint64_t fy_rd_u64(struct fy_rd *r)
{
	uint64_t hi = fy_rd_u32(r);
	uint64_t lo = fy_rd_u32(r);
	return hi << 32 | lo;
}

/*
 * Unsigned integer of 0..8 bytes, big-endian: the reduced-size encoding of
 * RFC 7011 section 6.2. Longer fields set the error (callers skip those).
 */
static inline uint64_t fy_rd_uint(struct fy_rd *r, size_t n)
{
	uint64_t v = 0;
	size_t i;
	if (n > 8) {
		r->err = true;
		return 0;
	}
	if (!fy_rd_need(r, n))
		return 0;
	for (i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->len -= n;
	return v;
}

static inline void fy_rd_bytes(struct fy_rd *r, void *out, size_t n)
{
	if (n == 0)
		return;
	if (!fy_rd_need(r, n)) {
		memset(out, 0, n);
		return;
	}
	memcpy(out, r->p, n);
	r->p += n;
	r->len -= n;
}

/* Splits off the next n bytes as a reader of their own. */
static inline struct fy_rd fy_rd_sub(struct fy_rd *r, size_t n)
{
	struct fy_rd s = {r->p, n, false};
	if (!fy_rd_need(r, n)) {
		s.p = NULL;
		s.len = 0;
		s.err = true;
		return s;
	}
	r->p += n;
	r->len -= n;
	return s;
}

struct fy_wr {
	uint8_t *p;
	size_t len; /* room left from p */
	bool err;
};

static inline struct fy_wr fy_wr_init(void *buf, size_t len)
{
	struct fy_wr w = {(uint8_t *)buf, len, false};
	return w;
}

static inline bool fy_wr_room(struct fy_wr *w, size_t n)
{
	if (w->err || w->len < n) {
		w->err = true;
		return false;
	}
	return true;
}

static inline void fy_wr_u8(struct fy_wr *w, uint8_t v)
{
	if (!fy_wr_room(w, 1))
		return;
	w->p[0] = v;
	w->p += 1;
	w->len -= 1;
}

static inline void fy_wr_u16(struct fy_wr *w, uint16_t v)
{
	if (!fy_wr_room(w, 2))
		return;
	w->p[0] = (uint8_t)(v >> 8);
	w->p[1] = (uint8_t)v;
	w->p += 2;
	w->len -= 2;
}

static inline void fy_wr_u32(struct fy_wr *w, uint32_t v)
{
	if (!fy_wr_room(w, 4))
		return;
	w->p[0] = (uint8_t)(v >> 24);
	w->p[1] = (uint8_t)(v >> 16);
	w->p[2] = (uint8_t)(v >> 8);
	w->p[3] = (uint8_t)v;
	w->p += 4;
	w->len -= 4;
}

static inline void fy_wr_u64(struct fy_wr *w, uint64_t v)
{
	if (!fy_wr_room(w, 8))
		return;
	fy_wr_u32(w, (uint32_t)(v >> 32));
	fy_wr_u32(w, (uint32_t)v);
}

static inline void fy_wr_bytes(struct fy_wr *w, const void *src, size_t n)
{
	/* memcpy with a NULL pointer is undefined even for 0 bytes */
	if (n == 0 || !fy_wr_room(w, n))
		return;
	memcpy(w->p, src, n);
	w->p += n;
	w->len -= n;
}

static inline void fy_wr_zero(struct fy_wr *w, size_t n)
{
	if (!fy_wr_room(w, n))
		return;
	memset(w->p, 0, n);
	w->p += n;
	w->len -= n;
}

/* Big-endian store into an already reserved place (length fields). */
static inline void fy_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fy_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
