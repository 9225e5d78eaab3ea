/*
 * store_impl.h - what store_codec.c, store_write.c and store_read.c share.
 * Not installed, not for other modules: the public API is store.h.
 */
#ifndef FY_STORE_IMPL_H
#define FY_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Layout constants; docs/file-format.md is the reference. */
#define FY_STORE_FILE_MAGIC "FYFLOW"
#define FY_STORE_FILE_MAGIC_LEN 6
#define FY_STORE_FILE_PREFIX 10	 /* magic, version, header length */
#define FY_STORE_FILE_HDR_MIN 30 /* header without ident */
#define FY_STORE_FILE_HDR_MAX 4096

#define FY_STORE_BLK_MAGIC 0x4659424bu /* "FYBK" */
#define FY_STORE_BLK_FIXED 30	       /* header bytes before descriptors */
#define FY_STORE_BLK_DESC 6	       /* width, flags, u32 size */
#define FY_STORE_BLK_MAX_COLS 64       /* columns a block may declare */
#define FY_STORE_BLK_HDR_LEN(c) \
	(FY_STORE_BLK_FIXED + FY_STORE_BLK_DESC * (c) + 4)
#define FY_STORE_BLK_HDR_MAX FY_STORE_BLK_HDR_LEN(FY_STORE_BLK_MAX_COLS)
#define FY_STORE_BLK_MAX_BYTES (32u << 20) /* no block is larger */

/* Column descriptor flags. */
#define FY_STORE_CF_LZ4 0x01   /* payload is LZ4 block data */
#define FY_STORE_CF_CONST 0x02 /* payload is the one value of all flows */
#define FY_STORE_CF_DICT 0x04  /* dictionary and bit-packed indices */
#define FY_STORE_CF_KNOWN \
	(FY_STORE_CF_LZ4 | FY_STORE_CF_CONST | FY_STORE_CF_DICT)
#define FY_STORE_DICT_MAX 65536 /* entries; indices fit 16 bits */

#define FY_STORE_FOOT_MAGIC 0x46594654u /* "FYFT" */
#define FY_STORE_FOOT_FIXED 161		/* up to the exporter list */
#define FY_STORE_FOOT_EXP 28		/* one exporter */
#define FY_STORE_FOOT_IDX 32		/* one index entry */
#define FY_STORE_FOOT_MAX                                                   \
	(FY_STORE_FOOT_FIXED + FY_STORE_EXPORTERS_MAX * FY_STORE_FOOT_EXP + \
	 4 + (size_t)FY_STORE_MAX_BLOCKS * FY_STORE_FOOT_IDX)
#define FY_STORE_TRAILER_LEN 24
#define FY_STORE_TRAILER_MAGIC "FYFLEND1"

/* Columns needed to recompute the totals of a file without footer. */
#define FY_STORE_STATS_MASK                     \
	(FY_STORE_MASK(FY_STORE_COL_FIRST_MS) | \
	 FY_STORE_MASK(FY_STORE_COL_LAST_MS) |  \
	 FY_STORE_MASK(FY_STORE_COL_PACKETS) |  \
	 FY_STORE_MASK(FY_STORE_COL_BYTES) |    \
	 FY_STORE_MASK(FY_STORE_COL_PROTO))

/* How a column is transformed and what its raw width can be. */
enum fy_store_kind {
	FY_STORE_K_INT,	  /* unsigned integer, narrowest width */
	FY_STORE_K_FIRST, /* first_ms: zigzag delta from the previous flow */
	FY_STORE_K_LAST,  /* last_ms: zigzag (last_ms - first_ms) */
	FY_STORE_K_ADDR,  /* 16 bytes, or 4 when all are IPv4-mapped */
	FY_STORE_K_MAC,	  /* 6 bytes */
};

struct fy_store_coldef {
	const char *name;
	uint8_t kind;
	uint8_t size; /* bytes of the struct fy_flow field */
	uint16_t off; /* offsetof in struct fy_flow */
};

extern const struct fy_store_coldef fy_store_cols[FY_STORE_NCOLS];

/* Largest raw width a column may have (block bound, checks). */
unsigned fy_store_col_max_width(const struct fy_store_coldef *d);
/* Whether a block may declare width w for column d. */
bool fy_store_col_width_ok(const struct fy_store_coldef *d, unsigned w);

/* Bits of a dictionary index for d entries (d >= 2). */
static inline unsigned fy_store_dict_bits(uint32_t d)
{
	unsigned b = 1;

	while (b < 32 && (UINT64_C(1) << b) < d)
		b++;
	return b;
}

/* CRC32C (Castagnoli). crc is 0 to start; pass the result to continue. */
uint32_t fy_store_crc32c(uint32_t crc, const void *buf, size_t len);

/* A parsed and bounds-checked block header. */
struct fy_store_blkhdr {
	uint32_t len; /* whole block */
	uint32_t n;
	uint64_t t_min;
	uint64_t t_max;
	uint32_t hdr_len;
	uint32_t ncols;
	uint32_t crc;
	struct {
		uint8_t width;
		uint8_t flags;
		uint32_t size;
		uint32_t off; /* from the start of the block */
	} col[FY_STORE_BLK_MAX_COLS];
};

/*
 * Parses the header at p (avail bytes there). Checks every bound that the
 * header alone allows: magic, counts, widths, sizes adding up to len. On
 * failure returns -EBADMSG and points *why at a short reason.
 */
int fy_store_blk_parse(const uint8_t *p, size_t avail,
		       struct fy_store_blkhdr *h, const char **why);

/* Checks the CRC of a whole block (h->len bytes at blk). */
bool fy_store_blk_crc_ok(const uint8_t *blk, const struct fy_store_blkhdr *h);

/*
 * One decoded column: nvals values as byte planes (plane k = byte k of
 * every value, nvals bytes). Flow i has value i; or value idx[i] for a
 * dictionary column; or value 0 for a constant one (nvals 1).
 */
struct fy_store_dcol {
	uint8_t width; /* 0: the column is all zero */
	uint32_t nvals;
	const uint8_t *plane;
	const uint16_t *idx;
};

/* Columns of one block, decompressed and ready to be turned into flows. */
struct fy_store_dblock {
	uint32_t n;
	uint64_t want; /* columns asked for: the others stay zero */
	uint64_t mask; /* columns decoded: want, and first_ms for last_ms */
	struct fy_store_dcol col[FY_STORE_NCOLS];
	uint64_t *first; /* first_ms, n values */
	uint64_t *last;	 /* last_ms, n values */
	uint8_t *arena;
	size_t arena_cap;
	uint64_t *times;
	size_t times_cap;
};

/*
 * Decompresses the columns of mask from a checked block into d (growing
 * its buffers, bounded by the block caps). Returns 0, -ENOMEM, or -EBADMSG
 * with *why set when a column does not decompress to its size.
 */
int fy_store_dblock_load(struct fy_store_dblock *d, const uint8_t *blk,
			 const struct fy_store_blkhdr *h, uint64_t mask,
			 const char **why);
/* Writes flows [from, from + cnt) of the loaded block into out. */
void fy_store_dblock_fill(const struct fy_store_dblock *d, uint32_t from,
			  uint32_t cnt, struct fy_flow *out);
void fy_store_dblock_free(struct fy_store_dblock *d);

/* A block index entry, in memory. */
struct fy_store_idx {
	uint64_t off;
	uint32_t len;
	uint32_t n;
	uint64_t t_min;
	uint64_t t_max;
	bool bad; /* found damaged by the recovery scan */
};

/* Index of the protocol bucket for an IP protocol number. */
static inline unsigned fy_store_proto_bucket(uint8_t proto)
{
	switch (proto) {
	case 6:
		return FY_STORE_P_TCP;
	case 17:
		return FY_STORE_P_UDP;
	case 1:
	case 58:
		return FY_STORE_P_ICMP;
	default:
		return FY_STORE_P_OTHER;
	}
}

#endif
