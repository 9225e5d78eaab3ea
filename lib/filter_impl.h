/*
 * filter_impl.h - the compiled form of a filter, shared by filter_parse.c
 * (which builds it) and filter_eval.c (which runs it). Not for other
 * modules: the public API is filter.h.
 *
 * A filter is a decision graph: an array of tests, each naming the next
 * test to run when it is true and when it is false, or a verdict. "and",
 * "or" and "not" exist only as these jumps (not swaps them), so matching
 * is one loop with no stack. Every jump goes forward, so the loop ends
 * after at most n_insn tests.
 */
#ifndef FY_FILTER_IMPL_H
#define FY_FILTER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "filter.h"

/* Jump targets past any instruction: the verdicts. */
#define FY_FILTER_ACCEPT UINT32_MAX
#define FY_FILTER_REJECT (UINT32_MAX - 1)

enum fy_filter_op {
	FY_FOP_U8, /* field <cmp> val, field 1, 2, 4 or 8 bytes wide */
	FY_FOP_U16,
	FY_FOP_U32,
	FY_FOP_U64,
	FY_FOP_FLAGS,	  /* (u8 field & val) == val */
	FY_FOP_FLAGS_ANY, /* (u8 field & val) != 0: "flags" under a "not" */
	FY_FOP_MAC,	  /* 6-byte field, read big-endian, == val */
	FY_FOP_NET,	  /* (address & nets[val].mask) == nets[val].addr */
	FY_FOP_NET_SET,	  /* address in the groups val>>32 .. +(uint32)val */
	FY_FOP_SET16,	  /* u16 field in nums[val>>32 .. +(uint32)val] */
	FY_FOP_SET32,	  /* u32 field, the same */
	FY_FOP_DURATION,  /* computed value <cmp> val */
	FY_FOP_PPS,
	FY_FOP_BPS,
	FY_FOP_BPP,
};

/*
 * A comparison is the set of outcomes that make it true: bit 0 "less",
 * bit 1 "equal", bit 2 "greater". Matching needs no branch on it.
 */
enum fy_filter_cmp {
	FY_FCMP_LT = 1,
	FY_FCMP_EQ = 2,
	FY_FCMP_LE = 3,
	FY_FCMP_GT = 4,
	FY_FCMP_NE = 5,
	FY_FCMP_GE = 6,
};

struct fy_filter_insn {
	uint8_t op;	  /* enum fy_filter_op */
	uint8_t cmp;	  /* enum fy_filter_cmp */
	uint16_t off;	  /* offsetof(struct fy_flow, field) */
	uint32_t next[2]; /* [0] when false, [1] when true */
	uint64_t val;
};

/*
 * A 128-bit address as its two 8-byte halves, loaded in memory order:
 * equality under a mask needs no byte swap, and the sorted lists only
 * need some total order, the same when sorting and when searching.
 */
struct fy_filter_u128 {
	uint64_t hi, lo;
};

static inline struct fy_filter_u128 fy_filter_u128_load(const uint8_t *p)
{
	struct fy_filter_u128 a;

	memcpy(&a.hi, p, 8);
	memcpy(&a.lo, p + 8, 8);
	return a;
}

struct fy_filter_net {
	struct fy_filter_u128 addr; /* already masked */
	struct fy_filter_u128 mask;
};

/* The entries of an address list that share one mask, sorted. */
struct fy_filter_group {
	struct fy_filter_u128 mask;
	uint32_t start; /* into keys[] */
	uint32_t n;
};

/* a <cmp> b; the compiler (for constants) and the matcher share it. */
static inline bool fy_filter_compare(uint64_t a, unsigned cmp, uint64_t b)
{
	return cmp >> ((a >= b) + (a > b)) & 1;
}

struct fy_filter {
	struct fy_filter_insn *insn;
	uint32_t n_insn;
	uint32_t entry; /* first instruction, or a verdict */
	uint64_t columns;

	struct fy_filter_net *nets;
	uint32_t n_nets;
	uint32_t *nums; /* number lists, each sorted and unique */
	uint32_t n_nums;
	struct fy_filter_u128 *keys; /* address lists, masked, sorted */
	uint32_t n_keys;
	struct fy_filter_group *groups;
	uint32_t n_groups;
};

#endif
