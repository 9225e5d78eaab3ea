/*
 * store.h - the flow file: independently decodable columnar LZ4 blocks.
 *
 * A file is a header, a sequence of blocks and a footer. A block holds up to
 * a few ten thousand flows stored column by column (one column per field of
 * struct fy_flow), each column transformed (time deltas, narrowest integer
 * width, byte shuffle) and LZ4-compressed on its own, so a reader
 * decompresses only the columns a query needs. Every block carries its flow
 * count, time bounds and a CRC32C; the footer holds the totals (what
 * `nfq -I` prints without decompressing anything) and a block index. The
 * byte layout is specified in docs/file-format.md.
 *
 * Errors are negative errno values; functions that can fail also leave a
 * message naming the file in a buffer the caller prints. Nothing here
 * prints, exits or aborts.
 *
 *   -ENOENT, -EACCES, -ENOSPC, -EIO, ...  system call errors, errno kept
 *   -EBADMSG   not a flow file, or a damaged header / block
 *   -ENOTSUP   a format version newer than this build's
 *   -EINVAL    bad argument
 *   -ENOMEM    out of memory
 */
#ifndef FY_STORE_H
#define FY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define FY_STORE_VERSION 1	       /* format version this build writes */
#define FY_STORE_BLOCK_FLOWS 16384     /* default flows per block */
#define FY_STORE_MAX_BLOCK_FLOWS 65536 /* hard cap, writer and reader */
#define FY_STORE_IDENT_MAX 127	       /* bytes of the ident string */
#define FY_STORE_EXPORTERS_MAX 16      /* exporters listed in a footer */
#define FY_STORE_MSG_MAX 512	       /* size of the message buffers */
#define FY_STORE_MAX_BLOCKS 500000     /* blocks in one file (footer cap) */

/*
 * Columns, in file order. A column mask has bit (1 << FY_STORE_COL_x) set
 * for each column to decode. The numbering is part of the file format:
 * new columns are only ever appended.
 */
enum fy_store_col {
	FY_STORE_COL_FIRST_MS,
	FY_STORE_COL_LAST_MS,
	FY_STORE_COL_PACKETS,
	FY_STORE_COL_BYTES,
	FY_STORE_COL_OUT_PACKETS,
	FY_STORE_COL_OUT_BYTES,
	FY_STORE_COL_SRC,
	FY_STORE_COL_DST,
	FY_STORE_COL_NEXTHOP,
	FY_STORE_COL_BGP_NEXTHOP,
	FY_STORE_COL_EXPORTER,
	FY_STORE_COL_XLATE_SRC,
	FY_STORE_COL_XLATE_DST,
	FY_STORE_COL_INPUT_IF,
	FY_STORE_COL_OUTPUT_IF,
	FY_STORE_COL_SRC_AS,
	FY_STORE_COL_DST_AS,
	FY_STORE_COL_DOMAIN,
	FY_STORE_COL_SAMPLING_INTERVAL,
	FY_STORE_COL_MPLS_LABEL,
	FY_STORE_COL_SRC_PORT,
	FY_STORE_COL_DST_PORT,
	FY_STORE_COL_XLATE_SRC_PORT,
	FY_STORE_COL_XLATE_DST_PORT,
	FY_STORE_COL_VLAN,
	FY_STORE_COL_OUT_VLAN,
	FY_STORE_COL_EXPORTER_PORT,
	FY_STORE_COL_FAMILY,
	FY_STORE_COL_EXPORTER_FAMILY,
	FY_STORE_COL_PROTO,
	FY_STORE_COL_TCP_FLAGS,
	FY_STORE_COL_TOS,
	FY_STORE_COL_SRC_MASK,
	FY_STORE_COL_DST_MASK,
	FY_STORE_COL_ICMP_TYPE,
	FY_STORE_COL_ICMP_CODE,
	FY_STORE_COL_END_REASON,
	FY_STORE_COL_DIRECTION,
	FY_STORE_COL_FW_EVENT,
	FY_STORE_COL_FORWARDING_STATUS,
	FY_STORE_COL_ENGINE_TYPE,
	FY_STORE_COL_ENGINE_ID,
	FY_STORE_COL_NF_VERSION,
	FY_STORE_COL_SRC_MAC,
	FY_STORE_COL_DST_MAC,
	FY_STORE_NCOLS
};

#define FY_STORE_MASK(col) (UINT64_C(1) << (col))
#define FY_STORE_COLS_ALL ((UINT64_C(1) << FY_STORE_NCOLS) - 1)

/*
 * Column name ("src", "dst_port", "first_ms": the struct fy_flow field
 * name) for messages and for mapping query fields to a mask. Returns NULL
 * for an unknown column; fy_store_col_lookup returns -1 for an unknown name.
 */
const char *fy_store_col_name(unsigned col);
int fy_store_col_lookup(const char *name);

/* Flow, packet and byte counts; packets/bytes are the record's direction. */
struct fy_store_count {
	uint64_t flows;
	uint64_t packets;
	uint64_t bytes;
};

enum fy_store_proto {
	FY_STORE_P_TCP,
	FY_STORE_P_UDP,
	FY_STORE_P_ICMP, /* ICMP and ICMPv6 */
	FY_STORE_P_OTHER,
	FY_STORE_P_N
};

/* Totals over a block or a file, as nfdump's stat record. */
struct fy_store_stats {
	struct fy_store_count all;
	struct fy_store_count proto[FY_STORE_P_N];
	uint64_t first_ms; /* smallest first_ms; 0 when there is no flow */
	uint64_t last_ms;  /* largest last_ms */
};

/* Adds n flows to st. */
void fy_store_stats_add(struct fy_store_stats *st, const struct fy_flow *f,
			size_t n);
/* Adds the totals of `from` to `to`. */
void fy_store_stats_merge(struct fy_store_stats *to,
			  const struct fy_store_stats *from);

/* One exporter that fed a file, as recorded in the footer. */
struct fy_store_exporter {
	struct fy_addr addr;
	uint8_t family;	    /* enum fy_family */
	uint8_t nf_version; /* enum fy_nf_version */
	uint16_t port;
	uint32_t domain; /* observation domain / source id / engine */
	uint32_t sampling_interval;
};

/* ------------------------------------------------------------------ */
/* Block codec: pure functions, usable off the thread that owns the file. */

struct fy_store_encoder;

/*
 * Makes an encoder with scratch space for blocks of up to max_flows flows
 * (1..FY_STORE_MAX_BLOCK_FLOWS). level 0 is LZ4 fast; 1..12 is LZ4-HC at
 * that level (higher is clamped to 12). Returns 0 or -EINVAL / -ENOMEM.
 * An encoder is not thread-safe; use one per thread.
 */
int fy_store_encoder_new(struct fy_store_encoder **out, uint32_t max_flows,
			 int level);
void fy_store_encoder_free(struct fy_store_encoder *e);

/* Bytes an encoded block of n flows can take at most. */
size_t fy_store_block_bound(uint32_t n);

/*
 * Encodes flows[0..n) (1 <= n <= the encoder's max_flows) as one complete
 * block into out (cap bytes; fy_store_block_bound(n) is always enough).
 * Sets *len to the block's size and, when st is not NULL, *st to the
 * block's totals. Touches no file. Every block decodes on its own; the
 * encoder only remembers which columns' dictionary trials failed in
 * earlier blocks, to skip the next few of them (see store_encode.c).
 * Needs an empty stage (below). Returns 0, -EINVAL, or -ENOBUFS if cap is
 * too small.
 */
int fy_store_block_encode(struct fy_store_encoder *e,
			  const struct fy_flow *flows, size_t n, uint8_t *out,
			  size_t cap, size_t *len, struct fy_store_stats *st);

/*
 * The same in two steps, for a caller that gets flows a few at a time
 * (the writer): fy_store_encoder_add copies up to max_flows - pending
 * flows into the encoder's stage, column by column, and returns how many
 * it took; fy_store_encoder_finish encodes the staged flows as one block,
 * as fy_store_block_encode, and empties the stage whatever happens
 * (-EINVAL when it was empty).
 */
size_t fy_store_encoder_add(struct fy_store_encoder *e,
			    const struct fy_flow *flows, size_t n);
size_t fy_store_encoder_pending(const struct fy_store_encoder *e);
int fy_store_encoder_finish(struct fy_store_encoder *e, uint8_t *out,
			    size_t cap, size_t *len, struct fy_store_stats *st);

/* ------------------------------------------------------------------ */
/* Writer */

struct fy_store_writer;

struct fy_store_opts {
	uint32_t block_flows; /* flows per block; 0 means FY_STORE_BLOCK_FLOWS */
	int level;	      /* 0 LZ4 fast, 1..12 LZ4-HC */
	const char *ident;    /* exporter/source name, may be NULL; cut at
			       * FY_STORE_IDENT_MAX bytes */
	uint64_t created_ms;  /* 0 means now */
	bool no_fsync;	      /* skip the fsync at close (tests, benches) */
};

/*
 * Creates (truncates) path and writes the file header. opts may be NULL
 * for the defaults. On failure returns a negative errno, leaves errno set
 * for system call errors, and writes a message naming the file into err
 * (errlen bytes, may be NULL/0).
 */
int fy_store_writer_open(struct fy_store_writer **out, const char *path,
			 const struct fy_store_opts *opts, char *err,
			 size_t errlen);

/*
 * Buffers n flows (in the encoder's stage); every full block is encoded
 * and written. No allocation.
 * A failed block write returns the negative errno (errno preserved): the
 * flows of that block are dropped and counted (see lost_flows), the file
 * is cut back to its last complete block so it stays readable, and later
 * calls may succeed again. If even that cut fails the writer is broken and
 * every later call returns the same error. A file that already holds
 * FY_STORE_MAX_BLOCKS blocks takes no more: -EFBIG, time to rotate.
 */
int fy_store_writer_append(struct fy_store_writer *w,
			   const struct fy_flow *flows, size_t n);

/*
 * Writes the buffered flows as a (smaller) block, then fsyncs when sync is
 * true. The caller must flush at least every 2 s: a crash loses only what
 * was not flushed. Errors as for append.
 */
int fy_store_writer_flush(struct fy_store_writer *w, bool sync);

/*
 * Writes a block made by fy_store_block_encode (st: its totals, from the
 * encode call), e.g. one compressed on another thread. Buffered flows are
 * flushed first so the file keeps arrival order. Returns 0, -EINVAL for a
 * buffer that is not a block, or a write error as for append.
 */
int fy_store_writer_put_block(struct fy_store_writer *w, const uint8_t *blk,
			      size_t len, const struct fy_store_stats *st);

/* Footer data the caller knows: sequence failures, the exporters. */
void fy_store_writer_set_seq_failures(struct fy_store_writer *w, uint64_t n);
/* Copies up to FY_STORE_EXPORTERS_MAX entries; -E2BIG if n is larger. */
int fy_store_writer_set_exporters(struct fy_store_writer *w,
				  const struct fy_store_exporter *e, size_t n);

/* Totals of what has been written so far, and flows lost to write errors. */
const struct fy_store_stats *
fy_store_writer_stats(const struct fy_store_writer *w);
uint64_t fy_store_writer_lost_flows(const struct fy_store_writer *w);
/* Bytes written to the file so far (header and complete blocks). */
uint64_t fy_store_writer_offset(const struct fy_store_writer *w);
/* The message of the last error. */
const char *fy_store_writer_error(const struct fy_store_writer *w);

/*
 * Flushes, writes the footer and trailer, fsyncs (unless opts.no_fsync),
 * closes and frees w, whatever happens. Returns 0, or the error of this
 * call's own work (the last block, footer, fsync, close) as a negative
 * errno with errno set, or the error that broke the writer earlier; with
 * err non-NULL the message is copied there. NULL is accepted.
 */
int fy_store_writer_close(struct fy_store_writer *w, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Reader */

struct fy_store_reader;

enum fy_store_info_flags {
	/* No valid trailer: the tail was torn (crash) or never written
	 * (file still open). Blocks were found by scanning from the start
	 * and the totals recomputed from them; exporters and seq_failures
	 * are unknown. */
	FY_STORE_INFO_NO_FOOTER = 1 << 0,
	/* A trailer was there but the footer failed its checks; handled as
	 * NO_FOOTER. */
	FY_STORE_INFO_FOOTER_BAD = 1 << 1,
};

struct fy_store_info {
	uint16_t version;
	uint64_t created_ms;
	uint32_t block_flows; /* the writer's block size */
	uint8_t level;	      /* the writer's LZ4 level */
	char ident[FY_STORE_IDENT_MAX + 1];
	struct fy_store_stats stats;
	uint64_t seq_failures;
	uint64_t lost_flows; /* dropped by the writer on write errors */
	size_t n_exporters;
	struct fy_store_exporter exporters[FY_STORE_EXPORTERS_MAX];
	size_t n_blocks;   /* in the index, bad ones included */
	size_t bad_blocks; /* found bad while scanning (NO_FOOTER only) */
	unsigned flags;	   /* enum fy_store_info_flags */
	uint64_t data_end; /* offset just past the last block */
	uint64_t file_size;
};

/*
 * Opens a flow file: reads the header and the footer; if there is no valid
 * footer, scans the blocks from the start (verifying each) up to the last
 * good one, sets FY_STORE_INFO_NO_FOOTER and a message such as
 * "file X: no footer, read N blocks up to offset Y" (fy_store_reader_message).
 * On failure returns a negative errno and a message in err: -ENOTSUP for a
 * newer format version, -EBADMSG for a file that is not ours or whose
 * header is damaged.
 */
int fy_store_reader_open(struct fy_store_reader **out, const char *path,
			 char *err, size_t errlen);
void fy_store_reader_close(struct fy_store_reader *r);

/* Header and footer data; valid until close. No block is read for it. */
const struct fy_store_info *
fy_store_reader_info(const struct fy_store_reader *r);

/*
 * The columns to decode (mask of FY_STORE_MASK bits; default all). Fields
 * of other columns are left zero in the flows returned. Takes effect at the
 * next block.
 */
void fy_store_reader_select(struct fy_store_reader *r, uint64_t mask);

/*
 * Skips, without reading them, blocks whose time bounds lie wholly outside
 * [from_ms, to_ms]. Flows of the blocks read are not filtered: a block that
 * overlaps the window is returned whole. Takes effect at the next block.
 */
void fy_store_reader_set_window(struct fy_store_reader *r, uint64_t from_ms,
				uint64_t to_ms);

/*
 * Fills flows[0..cap) with the next flows in file order; a block is handed
 * out over as many calls as cap requires. Returns the number of flows
 * (> 0), 0 at the end, -EBADMSG when a block is damaged (it is skipped,
 * fy_store_reader_message names the file and the block; call again to go
 * on with the next block), or another negative errno for a read error.
 */
long fy_store_reader_next(struct fy_store_reader *r, struct fy_flow *flows,
			  size_t cap);

/* Back to the first block (of the range set by fy_store_reader_set_blocks). */
void fy_store_reader_rewind(struct fy_store_reader *r);

/*
 * Reads only index entries [first, end) (clamped to info.n_blocks) from
 * now on: several threads can share out the blocks of one file, each with
 * a reader of its own. Also rewinds to `first`.
 */
void fy_store_reader_set_blocks(struct fy_store_reader *r, size_t first,
				size_t end);

/*
 * Column-wise reading, for callers that need some fields of some flows:
 * fy_store_reader_next_block loads the next block (window, selection and
 * block range honoured) and returns its number of flows (> 0), 0 at the
 * end, or an error as fy_store_reader_next. fy_store_reader_fill then
 * writes the fields of the columns in `mask` of flows of that block into
 * out, and touches no other field: with sel NULL, flow from + i goes to
 * out[i] (i < cnt); else flow from + sel[j] goes to out[sel[j]] (j < cnt),
 * so that a filter can read a few columns of every flow first and the
 * rest only of the flows that passed. Columns outside the selection are
 * written as zero. Valid until the next call of next_block or next.
 */
long fy_store_reader_next_block(struct fy_store_reader *r);
void fy_store_reader_fill(struct fy_store_reader *r, uint64_t mask,
			  uint32_t from, const uint32_t *sel, uint32_t cnt,
			  struct fy_flow *out);

/*
 * Dictionary access to the loaded block, for callers that count by the
 * value of one column: when column `col` (selected, not first_ms/last_ms)
 * holds few distinct values in the block - a dictionary, or one value for
 * all flows - sets *idx to the entry number of each flow of the block
 * (flow i has entry (*idx)[i]) and returns the number of entries (>= 1);
 * otherwise returns 0 and sets *idx to NULL. fy_store_reader_dict_fill
 * writes the field of column `col` of entries ent[0..cnt) into
 * out[0..cnt), as fy_store_reader_fill writes it for a flow of that entry,
 * and touches no other field. Both are valid until the next call of
 * next_block or next; dict_fill needs a column for which dict returned
 * entries.
 */
uint32_t fy_store_reader_dict(struct fy_store_reader *r, unsigned col,
			      const uint16_t **idx);
void fy_store_reader_dict_fill(struct fy_store_reader *r, unsigned col,
			       const uint16_t *ent, uint32_t cnt,
			       struct fy_flow *out);
/*
 * Column `col` of the loaded block, an integer column or first_ms /
 * last_ms, as an array of its struct fy_flow field's type: flow i's value
 * is at (const uint8_t *)p + i * *stride, and *stride is 0 when every
 * flow has the same value. NULL when the field is zero in every flow (the
 * column is all zero or not selected), and for address and MAC columns
 * (read those with fill). Valid until the next call of next_block or next.
 */
const void *fy_store_reader_column(struct fy_store_reader *r, unsigned col,
				   size_t *stride);
/*
 * The last message: the open-time recovery note, or the last block error.
 * Empty string when there is none.
 */
const char *fy_store_reader_message(const struct fy_store_reader *r);

#endif
