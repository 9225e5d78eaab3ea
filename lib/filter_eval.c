/*
 * filter_eval.c - runs a compiled filter on a flow (see filter_impl.h).
 */
#include "filter.h"

#include <stdlib.h>
#include <string.h>

#include "filter_impl.h"

static uint64_t load_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static bool set_has(const uint32_t *v, uint32_t n, uint32_t x)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int u128_cmp(struct fy_filter_u128 a, struct fy_filter_u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static bool group_has(const struct fy_filter *f,
		      const struct fy_filter_group *g, struct fy_filter_u128 a)
{
	const struct fy_filter_u128 *k = f->keys + g->start;
	struct fy_filter_u128 x = {a.hi & g->mask.hi, a.lo & g->mask.lo};
	uint32_t lo = 0, hi = g->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = u128_cmp(k[mid], x);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool net_set_has(const struct fy_filter *f, uint64_t val,
			const uint8_t *p)
{
	struct fy_filter_u128 a = fy_filter_u128_load(p);
	uint32_t i, first = (uint32_t)(val >> 32), n = (uint32_t)val;

	for (i = 0; i < n; i++)
		if (group_has(f, &f->groups[first + i], a))
			return true;
	return false;
}

static bool net_has(const struct fy_filter_net *net, const uint8_t *p)
{
	struct fy_filter_u128 a = fy_filter_u128_load(p);

	return (a.hi & net->mask.hi) == net->addr.hi &&
	       (a.lo & net->mask.lo) == net->addr.lo;
}

/*
 * a * k / d without overflow; saturates when the quotient does not fit,
 * which a real flow never reaches (it would need exabytes per ms).
 */
static uint64_t mul_div(uint64_t a, uint64_t k, uint64_t d)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 q = (unsigned __int128)a * k / d;

	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
#else
	uint64_t q = a / d, r = a % d;

	if (q > UINT64_MAX / k)
		return UINT64_MAX;
	if (r > UINT64_MAX / k) /* d is over 2^50 ms here: r * k / d < k */
		return q * k + (uint64_t)((double)r * (double)k / (double)d);
	return q * k + r * k / d;
#endif
}

/* Last minus first; a record that ends before it starts lasted 0 ms. */
static uint64_t duration(const struct fy_flow *fl)
{
	return fl->last_ms > fl->first_ms ? fl->last_ms - fl->first_ms : 0;
}

/* pps, bps and bpp as nfdump computes them: 0 when undefined. */
static uint64_t computed(unsigned op, const struct fy_flow *fl)
{
	uint64_t d = duration(fl);

	switch (op) {
	case FY_FOP_DURATION:
		return d;
	case FY_FOP_PPS:
		return d ? mul_div(fl->packets, 1000, d) : 0;
	case FY_FOP_BPS:
		return d ? mul_div(fl->bytes, 8000, d) : 0;
	case FY_FOP_BPP:
		return fl->packets ? fl->bytes / fl->packets : 0;
	}
	return 0;
}

static bool run(const struct fy_filter *f, const struct fy_filter_insn *in,
		const struct fy_flow *fl)
{
	const uint8_t *p = (const uint8_t *)fl + in->off;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (in->op) {
	case FY_FOP_U8:
		return fy_filter_compare(*p, in->cmp, in->val);
	case FY_FOP_U16:
		memcpy(&u16, p, sizeof(u16));
		return fy_filter_compare(u16, in->cmp, in->val);
	case FY_FOP_U32:
		memcpy(&u32, p, sizeof(u32));
		return fy_filter_compare(u32, in->cmp, in->val);
	case FY_FOP_U64:
		memcpy(&u64, p, sizeof(u64));
		return fy_filter_compare(u64, in->cmp, in->val);
	case FY_FOP_FLAGS:
		return (*p & in->val) == in->val;
	case FY_FOP_FLAGS_ANY:
		return (*p & in->val) != 0;
	case FY_FOP_MAC:
		return load_be(p, 6) == in->val;
	case FY_FOP_NET:
		return net_has(&f->nets[in->val], p);
	case FY_FOP_NET_SET:
		return net_set_has(f, in->val, p);
	case FY_FOP_SET16:
		memcpy(&u16, p, sizeof(u16));
		return set_has(f->nums + (in->val >> 32), (uint32_t)in->val,
			       u16);
	case FY_FOP_SET32:
		memcpy(&u32, p, sizeof(u32));
		return set_has(f->nums + (in->val >> 32), (uint32_t)in->val,
			       u32);
	case FY_FOP_DURATION:
	case FY_FOP_PPS:
	case FY_FOP_BPS:
	case FY_FOP_BPP:
		return fy_filter_compare(computed(in->op, fl), in->cmp,
					 in->val);
	}
	return false;
}

bool fy_filter_match(const struct fy_filter *f, const struct fy_flow *flow)
{
	uint32_t pc;

	if (f == NULL)
		return true;
	/* Jumps only go forward (filter_impl.h): at most n_insn steps. */
	for (pc = f->entry; pc < f->n_insn;)
		pc = f->insn[pc].next[run(f, &f->insn[pc], flow)];
	return pc == FY_FILTER_ACCEPT;
}

uint64_t fy_filter_columns(const struct fy_filter *f)
{
	return f ? f->columns : 0;
}

void fy_filter_free(struct fy_filter *f)
{
	if (f == NULL)
		return;
	free(f->insn);
	free(f->nets);
	free(f->nums);
	free(f->keys);
	free(f->groups);
	free(f);
}
