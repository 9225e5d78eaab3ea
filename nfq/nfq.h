/*
 * nfq.h - internals of nfq, the query tool, shared by its modules.
 *
 * The pieces, in the order a query runs through them:
 *   timefmt.c   -t windows (ISO 8601 and nfdump's form) and time printing
 *   input.c     which files: -r, -R, -M, --live, in time order
 *   fields.c    the flow fields by name: aggregation keys, column masks
 *   scan.c      reads the files (one per worker thread), applies the time
 *               window and the filter, feeds the sinks below
 *   agg.c       hash tables of counters: -a/-A/-B aggregation, -s record
 *   stats.c     -s element statistics (srcip, dstport, ...) and top-N
 *   output.c    line/long/extended/csv/json/ndjson/fmt:, summary lines
 *   info.c      -I totals from the file footers
 *   ls.c        `nfq ls`: the trees of a collector's base directory
 *   report.c    `nfq report`: an HTML page of a time window's traffic
 *   progress.c  the progress line on a terminal
 *   main.c      options and subcommands
 *
 * Functions that can fail return 0 or a negative errno and write a
 * message naming the file or the option into an `err` buffer of
 * NFQ_ERR_MAX bytes; only main.c prints and exits.
 */
#ifndef NFQ_H
#define NFQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flow.h"
#include "store.h"

#define NFQ_ERR_MAX 512
#define NFQ_EXIT_FAIL 255 /* nfdump's exit status for any failure */
#define NFQ_MAX_STATS 16  /* -s options in one run */
#define NFQ_UNLIMITED UINT64_MAX

/* ------------------------------------------------------------------ */
/* timefmt.c */

/*
 * A time window: flows are selected when first_ms >= from_ms and last_ms
 * <= to_ms (nfdump's rule: the flow lies wholly inside). `rel` is '+' for
 * "the first rel_ms of the data", '-' for "the last rel_ms", 0 otherwise;
 * nfq_window_resolve turns it into an absolute window once the data's
 * bounds are known.
 */
struct nfq_window {
	bool set;
	char rel;
	uint64_t rel_ms;
	uint64_t from_ms;
	uint64_t to_ms;
};

/*
 * Parses a -t argument:
 *   nfdump: YYYY/MM/dd[.hh[:mm[:ss]]][-YYYY/MM/dd[.hh[:mm[:ss]]]]
 *   ISO:    YYYY-MM-DD[Thh:mm[:ss[.mmm]]][Z|+hh:mm|-hh:mm] with a second
 *           time after '/' or '-' (or "--")
 *   +N, -N: the first or last N seconds of the data
 * Without an end the window is open. Times are UTC unless `localtime`
 * (an explicit Z or offset always wins). Returns 0 or -EINVAL with a
 * message naming the spot in err.
 */
int nfq_window_parse(const char *s, bool localtime, struct nfq_window *w,
		     char *err, size_t errlen);

/* Resolves a relative window against the data's [first_ms, last_ms]. */
void nfq_window_resolve(struct nfq_window *w, uint64_t first_ms,
			uint64_t last_ms);

/* Whether a flow lies inside the window (always true when not set). */
static inline bool nfq_window_match(const struct nfq_window *w,
				    const struct fy_flow *f)
{
	return !w->set || (f->first_ms >= w->from_ms && f->last_ms <= w->to_ms);
}

/* Whether [first_ms, last_ms] can hold a flow of the window. */
bool nfq_window_overlaps(const struct nfq_window *w, uint64_t first_ms,
			 uint64_t last_ms);

/*
 * Time printing with a one-second cache (strftime is the slow part of a
 * listing). `sep` is the character between date and time: ' ' or 'T'.
 */
struct nfq_timefmt {
	bool localtime;
	int64_t cached_sec;
	char cached[32];
	size_t cached_len;
	char cached_sep;
};

void nfq_timefmt_init(struct nfq_timefmt *t, bool localtime);
/* "YYYY-MM-DD hh:mm:ss" (msec false) or with ".mmm"; returns the length. */
size_t nfq_time_str(struct nfq_timefmt *t, char *buf, uint64_t ms, bool msec,
		    char sep);
/* Duration as nfdump prints it: "    00:00:59.000", "18d 21:50:12.554". */
size_t nfq_duration_str(char *buf, size_t len, uint64_t ms, bool plain);

/* ------------------------------------------------------------------ */
/* fields.c: the flow fields that keys, -A, -s and fmt: refer to. */

enum nfq_field {
	NFQ_F_NONE = 0,
	NFQ_F_PROTO,
	NFQ_F_SRC,
	NFQ_F_DST,
	NFQ_F_SRC_PORT,
	NFQ_F_DST_PORT,
	NFQ_F_SRC_AS,
	NFQ_F_DST_AS,
	NFQ_F_INPUT_IF,
	NFQ_F_OUTPUT_IF,
	NFQ_F_TOS,
	NFQ_F_TCP_FLAGS,
	NFQ_F_SRC_MASK,
	NFQ_F_DST_MASK,
	NFQ_F_VLAN,
	NFQ_F_OUT_VLAN,
	NFQ_F_NEXTHOP,
	NFQ_F_BGP_NEXTHOP,
	NFQ_F_EXPORTER,
	NFQ_F_SRC_MAC,
	NFQ_F_DST_MAC,
	NFQ_F_MPLS_LABEL,
	NFQ_F_DOMAIN,
	NFQ_F_DIRECTION,
	NFQ_F_XLATE_SRC,
	NFQ_F_XLATE_DST,
	NFQ_F_XLATE_SRC_PORT,
	NFQ_F_XLATE_DST_PORT,
	NFQ_F_ENGINE_TYPE,
	NFQ_F_ENGINE_ID,
	NFQ_F_ICMP, /* type and code together, as nfdump's dst port */
	NFQ_F_FWD_STATUS,
	NFQ_F_COUNT
};

/* Where a field lives in struct fy_flow and which column holds it. */
struct nfq_field_info {
	const char *name;
	uint16_t offset;
	uint8_t size;
	bool addr;     /* struct fy_addr: can take a prefix length */
	uint64_t cols; /* FY_STORE_MASK bits needed to read it */
};

const struct nfq_field_info *nfq_field_info(enum nfq_field f);

/* One element of an aggregation key. */
struct nfq_key_part {
	enum nfq_field field;
	uint8_t v4_prefix;  /* 0..32: mask IPv4 addresses (32: none) */
	uint8_t v6_prefix;  /* 0..128 */
	bool use_flow_mask; /* srcnet/dstnet: the flow's own src/dst mask */
	uint16_t key_off;   /* where its bytes go in the key */
};

#define NFQ_KEY_PARTS 24
#define NFQ_KEY_MAX 160

struct nfq_key {
	struct nfq_key_part part[NFQ_KEY_PARTS];
	size_t n;
	size_t len; /* bytes of a key */
	uint64_t cols;
	bool five_tuple; /* records keep the first flow's tos, as nfdump's */
};

/*
 * Parses an -A list ("srcip4/24,dstport", nfdump's element names) into a
 * key. Returns 0 or -EINVAL with a message naming the element.
 */
int nfq_key_parse(struct nfq_key *k, const char *spec, char *err,
		  size_t errlen);
/* Adds one part; returns -E2BIG when the key is full. */
int nfq_key_add(struct nfq_key *k, enum nfq_field field, uint8_t v4_prefix,
		uint8_t v6_prefix, bool use_flow_mask);
/* The 5-tuple of -a and -s record: proto, src, dst, src port, dst port. */
void nfq_key_5tuple(struct nfq_key *k);
/* Writes the key of f into buf (k->len bytes). */
void nfq_key_build(const struct nfq_key *k, const struct fy_flow *f,
		   uint8_t *buf);
/* Sets the key's fields of f from buf (other fields untouched). */
void nfq_key_apply(const struct nfq_key *k, const uint8_t *buf,
		   struct fy_flow *f);
/* Whether the key holds this field. */
bool nfq_key_has(const struct nfq_key *k, enum nfq_field field);

/* Applies a prefix length to an address (IPv4-mapped: prefix of the v4). */
void nfq_addr_mask(struct fy_addr *a, unsigned v4_prefix, unsigned v6_prefix);

/* Protocol name as nfdump prints it ("TCP", "ICMP6"); NULL if unnamed. */
const char *nfq_proto_name(uint8_t proto);

/* ------------------------------------------------------------------ */
/* agg.c: counters keyed by fixed-length byte strings. */

struct nfq_counters {
	uint64_t flows;
	uint64_t packets;
	uint64_t bytes;
	uint64_t out_packets;
	uint64_t out_bytes;
	uint64_t first_ms;
	uint64_t last_ms;
	uint8_t tcp_flags;
	uint8_t proto; /* of the first flow; for display only */
	uint8_t tos;   /* of the first flow; for display only */
};

static inline void nfq_counters_add_flow(struct nfq_counters *c,
					 const struct fy_flow *f)
{
	if (c->flows == 0 || f->first_ms < c->first_ms)
		c->first_ms = f->first_ms;
	if (f->last_ms > c->last_ms)
		c->last_ms = f->last_ms;
	if (c->flows == 0) {
		c->proto = f->proto;
		c->tos = f->tos;
	}
	c->flows++;
	c->packets += f->packets;
	c->bytes += f->bytes;
	c->out_packets += f->out_packets;
	c->out_bytes += f->out_bytes;
	c->tcp_flags |= f->tcp_flags;
}

void nfq_counters_merge(struct nfq_counters *to,
			const struct nfq_counters *from);

struct nfq_ht;

/* A table for keys of key_len bytes (1..NFQ_KEY_MAX). */
int nfq_ht_new(struct nfq_ht **out, size_t key_len);
void nfq_ht_free(struct nfq_ht *h);
/*
 * The counters for key, created zeroed when new (*created set). NULL when
 * out of memory. Pointers stay valid until the table is freed.
 */
struct nfq_counters *nfq_ht_get(struct nfq_ht *h, const uint8_t *key,
				bool *created);
/*
 * The same in steps, for pipelined batches: hash a key, prefetch its slot,
 * later its entry, then get it with the hash.
 */
uint64_t nfq_ht_hash(const struct nfq_ht *h, const uint8_t *key);
void nfq_ht_prefetch_slot(const struct nfq_ht *h, uint64_t hash);
void nfq_ht_prefetch_entry(const struct nfq_ht *h, uint64_t hash);
struct nfq_counters *nfq_ht_get_hashed(struct nfq_ht *h, const uint8_t *key,
				       uint64_t hash);
/* Looks up without creating; NULL if absent. */
struct nfq_counters *nfq_ht_find(struct nfq_ht *h, const uint8_t *key);
size_t nfq_ht_count(const struct nfq_ht *h);
/* Entry i in insertion order (0 <= i < count): counters and key. */
struct nfq_counters *nfq_ht_entry(const struct nfq_ht *h, size_t i,
				  const uint8_t **key);
/*
 * Adds every entry of `from` into `to` and empties `from` (its memory is
 * freed as it goes). Returns 0 or -ENOMEM.
 */
int nfq_ht_merge(struct nfq_ht *to, struct nfq_ht *from);
/* Bytes of memory the table holds. */
size_t nfq_ht_memory(const struct nfq_ht *h);

/* Orders for -s, -O and top-N. */
enum nfq_order {
	NFQ_ORD_FLOWS,
	NFQ_ORD_PACKETS,
	NFQ_ORD_BYTES,
	NFQ_ORD_PPS,
	NFQ_ORD_BPS,
	NFQ_ORD_BPP,
	NFQ_ORD_TSTART,
	NFQ_ORD_TEND,
	NFQ_ORD_DURATION,
	NFQ_ORD_OPACKETS,
	NFQ_ORD_OBYTES,
	NFQ_ORD_TPACKETS, /* in + out: packets of a bidirectional record */
	NFQ_ORD_TBYTES,
	NFQ_ORD_NONE,
};

/* Parses "bytes", "tstart", nfdump's aliases ("ipkg", "ibyte"...). */
int nfq_order_parse(const char *s, enum nfq_order *o);
const char *nfq_order_name(enum nfq_order o);
/* The sort value of counters; ascending orders return it negated-ready. */
uint64_t nfq_order_value(enum nfq_order o, const struct nfq_counters *c);
/* tstart and tend sort ascending; the others largest first. */
bool nfq_order_ascending(enum nfq_order o);

/*
 * Top-N selection with a bounded heap: the indexes of the n best entries
 * of h by order o, best first (ties: earlier insertion first). n ==
 * NFQ_UNLIMITED or 0 sorts all. *out is malloc'd; returns 0 or -ENOMEM.
 */
int nfq_ht_top(const struct nfq_ht *h, enum nfq_order o, uint64_t n,
	       size_t **out, size_t *nout);

/*
 * Aggregation of flows for -a, -A, -b, -B and -s record. With `bidir` (1:
 * -b, 2: -B) a flow is added to its key or, when only the reverse key
 * exists, to the reverse's out counters; -B first turns a flow
 * client-to-server (a TCP/UDP flow from a port below 1024 to one above
 * 1024 is swapped), as nfdump guesses it.
 */
struct nfq_agg {
	struct nfq_key key;
	int bidir;
	/* Keys partitioned by hash: only part `part` of `nparts` is counted
	 * (bounded memory: one pass over the data per part). */
	unsigned part, nparts;
	struct nfq_ht *ht;
	uint8_t kbuf[NFQ_KEY_MAX];
	uint8_t rbuf[NFQ_KEY_MAX];
};

int nfq_agg_init(struct nfq_agg *a, const struct nfq_key *key, int bidir);
void nfq_agg_free(struct nfq_agg *a);
int nfq_agg_add(struct nfq_agg *a, const struct fy_flow *f);
/* Adds n flows; faster than one by one for large tables. */
int nfq_agg_add_batch(struct nfq_agg *a, struct fy_flow *const *flows,
		      size_t n);
int nfq_agg_merge(struct nfq_agg *to, struct nfq_agg *from);
/* Builds the record of entry i: key fields, counters, flows in *flows. */
void nfq_agg_record(const struct nfq_agg *a, size_t i, struct fy_flow *f,
		    uint64_t *flows);

/* ------------------------------------------------------------------ */
/* stats.c: -s */

enum nfq_stat_type {
	NFQ_ST_RECORD,
	NFQ_ST_SRCIP,
	NFQ_ST_DSTIP,
	NFQ_ST_IP,
	NFQ_ST_SRCPORT,
	NFQ_ST_DSTPORT,
	NFQ_ST_PORT,
	NFQ_ST_PROTO,
	NFQ_ST_SRCAS,
	NFQ_ST_DSTAS,
	NFQ_ST_AS,
	NFQ_ST_INIF,
	NFQ_ST_OUTIF,
	NFQ_ST_IF,
	NFQ_ST_TOS,
	NFQ_ST_FLAGS,
	NFQ_ST_EXPORTER,
	NFQ_ST_NEXTHOP,
	NFQ_ST_BGP_NEXTHOP,
	NFQ_ST_SRCMASK,
	NFQ_ST_DSTMASK,
	NFQ_ST_SRCVLAN,
	NFQ_ST_DSTVLAN,
	NFQ_ST_VLAN,
	NFQ_ST_DIR,
	NFQ_ST_SRCMAC,
	NFQ_ST_DSTMAC,
	NFQ_ST_MPLS1,
	NFQ_ST_ODID,
	NFQ_ST_N
};

/* One -s option: a type and one or more orders (srcip/flows/bytes). */
struct nfq_stat_spec {
	enum nfq_stat_type type;
	enum nfq_order orders[8];
	size_t n_orders;
};

/* Parses "srcip/bytes", "ip/flows/bytes", "record". */
int nfq_stat_parse(const char *s, struct nfq_stat_spec *spec, char *err,
		   size_t errlen);
/* nfdump's column title ("Src IP Addr", "Dst Port"). */
const char *nfq_stat_title(enum nfq_stat_type t);
const char *nfq_stat_name(enum nfq_stat_type t);
/* Field the statistic counts (the first of two for ip/port/as/if). */
enum nfq_field nfq_stat_field(enum nfq_stat_type t, int which);
/* Column mask the statistic reads. */
uint64_t nfq_stat_cols(enum nfq_stat_type t);

struct nfq_stat {
	struct nfq_stat_spec spec;
	struct nfq_key key; /* one field: the element */
	struct nfq_ht *ht;  /* for element statistics */
	struct nfq_agg agg; /* for -s record */
};

int nfq_stat_init(struct nfq_stat *s, const struct nfq_stat_spec *spec,
		  const struct nfq_key *record_key);
void nfq_stat_free(struct nfq_stat *s);
int nfq_stat_add(struct nfq_stat *s, const struct fy_flow *f);
int nfq_stat_add_batch(struct nfq_stat *s, struct fy_flow *const *flows,
		       size_t n);
int nfq_stat_merge(struct nfq_stat *to, struct nfq_stat *from);

/* ------------------------------------------------------------------ */
/* output.c */

enum nfq_format {
	NFQ_O_LINE,
	NFQ_O_LONG,
	NFQ_O_EXTENDED,
	NFQ_O_BILINE,
	NFQ_O_BILONG,
	NFQ_O_CSV,
	NFQ_O_JSON,
	NFQ_O_NDJSON,
	NFQ_O_FMT,
	NFQ_O_RAW,
};

/* One compiled element of a text format: a field tag or literal text. */
struct nfq_fmt_item;

struct nfq_out_opts {
	enum nfq_format format;
	const char *fmt; /* the fmt: string, for NFQ_O_FMT */
	bool v6_full;	 /* -6 */
	bool plain;	 /* -N */
	bool quiet;	 /* -q */
	bool localtime;	 /* --localtime */
};

struct nfq_out {
	struct nfq_out_opts o;
	FILE *fp;
	struct nfq_fmt_item *items;
	size_t n_items;
	uint64_t cols;	/* columns the format prints */
	uint64_t count; /* records printed: %cnt, JSON separators */
	struct nfq_timefmt tf;
	char *line; /* line buffer */
	size_t line_cap;
};

/* Totals of the flows that passed, and of the run (summary lines). */
struct nfq_summary {
	uint64_t flows, packets, bytes;
	uint64_t first_ms, last_ms; /* of the flows that passed */
	uint64_t processed;	    /* flows read and checked */
	uint64_t blocks_skipped;    /* blocks never decompressed */
	uint64_t bytes_read;	    /* file bytes of the files read */
	uint64_t files;
	uint64_t data_first_ms, data_last_ms; /* footers of the files read */
	uint64_t win_from_ms, win_to_ms;      /* -t, to clip the time window */
	double wall_s, user_s, sys_s;
};

static inline void nfq_summary_add(struct nfq_summary *s,
				   const struct fy_flow *f)
{
	if (s->flows == 0 || f->first_ms < s->first_ms)
		s->first_ms = f->first_ms;
	if (f->last_ms > s->last_ms)
		s->last_ms = f->last_ms;
	s->flows++;
	s->packets += f->packets;
	s->bytes += f->bytes;
}

void nfq_summary_merge(struct nfq_summary *to, const struct nfq_summary *from);

/*
 * Parses -o ("line", "csv", "fmt:%ts %sa") and compiles it. The predefined
 * text formats are fmt: strings too. Returns 0 or -EINVAL naming the tag.
 */
int nfq_out_init(struct nfq_out *out, const struct nfq_out_opts *o, FILE *fp,
		 char *err, size_t errlen);
void nfq_out_free(struct nfq_out *out);
/* Parses a -o argument into format (and fmt string); -EINVAL if unknown. */
int nfq_format_parse(const char *s, enum nfq_format *f, const char **fmt);
/* Whether output is JSON or NDJSON. */
bool nfq_out_is_json(const struct nfq_out *out);

/* Header line of a record listing (nothing for json/ndjson; -q: none). */
void nfq_out_header(struct nfq_out *out);
/* One record; flows is the Flows column (1 for a plain flow). */
void nfq_out_record(struct nfq_out *out, const struct fy_flow *f,
		    uint64_t flows);
/* Closes a JSON array of records, if one was opened. */
void nfq_out_records_end(struct nfq_out *out);
/* The summary lines ("Summary: total flows: ..."), unless -q. */
void nfq_out_summary(struct nfq_out *out, const struct nfq_summary *s);

/* Numbers as nfdump prints them: 1.2 M, 3.4 G (1000-based) unless plain. */
size_t nfq_num_str(char *buf, size_t len, uint64_t v, bool plain);
/* IPv6 condensed to 16 characters like nfdump ("2001:62..e0:fed5"). */
void nfq_condense_v6(char *s);
/* TCP flags as nfdump's 8 characters "CEUAPRSF" with dots. */
void nfq_flags_str(char *buf, uint8_t flags);
/* Rates: packets/s, bits/s, bytes/packet as nfdump computes them. */
uint64_t nfq_pps(uint64_t packets, uint64_t dur_ms);
uint64_t nfq_bps(uint64_t bytes, uint64_t dur_ms);
uint64_t nfq_bpp(uint64_t bytes, uint64_t packets);

/* Writes s as a JSON string literal (with quotes) to fp. */
void nfq_json_str(FILE *fp, const char *s);

/*
 * Statistics output (-s): every stat of the run, then the summary. The
 * text layout is nfdump's; JSON is one object, valid as a whole.
 */
int nfq_out_stats(struct nfq_out *out, struct nfq_stat *stats, size_t n,
		  uint64_t top_n, const struct nfq_summary *sum);

/* Aggregated records (-a/-A/-B): in order o (NFQ_ORD_NONE: first seen). */
int nfq_out_agg(struct nfq_out *out, const struct nfq_agg *a, enum nfq_order o,
		uint64_t limit);

/* ------------------------------------------------------------------ */
/* input.c */

struct nfq_file {
	char *path;
	int64_t slot; /* from the name; mtime for open files */
	uint64_t size;
	bool temp;     /* an open file of a running collector */
	unsigned tree; /* index of the -M directory */
};

struct nfq_input_opts {
	const char *read;		 /* -r file or dir */
	const char *range;		 /* -R dir | file | file1:file2 */
	const char *multi;		 /* -M base/dir1:dir2 */
	bool live;			 /* --live: open files too */
	bool localtime;			 /* names in local time */
	const struct nfq_window *window; /* to skip files by name */
};

/*
 * Lists the files a query reads, in time order. Returns 0 or a negative
 * errno with a message naming the path or option.
 */
int nfq_input_select(const struct nfq_input_opts *o, struct nfq_file **out,
		     size_t *n, char *err, size_t errlen);
void nfq_input_free(struct nfq_file *files, size_t n);

/* ------------------------------------------------------------------ */
/* scan.c */

struct fy_filter;

struct nfq_query {
	/* input */
	struct nfq_file *files;
	size_t n_files;
	struct nfq_window window;
	const struct fy_filter *filter;
	uint64_t cols;	  /* columns to decode */
	uint64_t limit;	  /* -c: flows that pass; NFQ_UNLIMITED */
	unsigned threads; /* workers; 1 keeps file order */
	bool progress;	  /* progress line on stderr */
	/* what to do with the flows that pass */
	bool list;	  /* print them (through `out`) */
	bool sort_buffer; /* -O without aggregation: keep them to sort */
	struct nfq_out *out;
	bool aggregate; /* -a/-A/-B */
	struct nfq_key agg_key;
	int bidir; /* 1: -b, 2: -B */
	struct nfq_stat_spec stat_specs[NFQ_MAX_STATS];
	size_t n_stats;
	struct nfq_key record_key; /* key of -s record */
	uint64_t top_n;		   /* -n for -s; 0: all */
	enum nfq_order agg_order;  /* -O of -a/-A */
	uint64_t agg_top;	   /* -n of -a/-A; 0: all */
	/*
	 * Memory the aggregation tables may take (0: no limit). Past it, a
	 * top-N query (-s record, -a/-A with -n) starts again in passes
	 * that each count one hash partition of the keys; any other query
	 * goes on.
	 */
	uint64_t mem_budget;
};

/* What a run produced; owned by the caller after nfq_scan. */
struct nfq_result {
	struct nfq_summary sum;
	struct nfq_agg agg;
	bool have_agg;
	struct nfq_stat stats[NFQ_MAX_STATS];
	size_t n_stats;
	struct fy_flow *sorted; /* -O without aggregation */
	size_t n_sorted;
	unsigned file_errors;  /* files that could not be read at all */
	unsigned block_errors; /* damaged blocks skipped */
	unsigned passes;       /* > 1: the keys were counted in partitions */
};

/*
 * Runs the query: every file, every flow. Warnings about damaged files go
 * to stderr prefixed "nfq: " as they happen (the run goes on); a failure
 * that stops the run (out of memory) returns a negative errno.
 */
int nfq_scan(const struct nfq_query *q, struct nfq_result *res, char *err,
	     size_t errlen);
void nfq_result_free(struct nfq_result *res);

/* ------------------------------------------------------------------ */
/* progress.c */

struct nfq_progress;

/* Starts the progress thread if stderr is a terminal; NULL otherwise. */
struct nfq_progress *nfq_progress_start(uint64_t total_bytes,
					size_t total_files);
/* Called by workers: a file done, flows and bytes it held. Lock-free. */
void nfq_progress_update(struct nfq_progress *p, uint64_t flows, uint64_t bytes,
			 bool file_done);
/* Stops the thread and clears the line. NULL is accepted. */
void nfq_progress_stop(struct nfq_progress *p);

/* ------------------------------------------------------------------ */
/* info.c: -I */

int nfq_info(const struct nfq_file *files, size_t n, const struct nfq_window *w,
	     struct nfq_out *out, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* ls.c: `nfq ls` */

/* Helpers of the query command that the report shares (main.c): the
 * trailing arguments as one filter; the filter text (the command line wins
 * over -f FILE); a +N/-N window resolved from the files' footers. */
char *nfq_join_args(int argc, char **argv);
int nfq_filter_text(const char *filter, const char *filter_file, char **out);
void nfq_resolve_relative(struct nfq_window *w, const struct nfq_file *f,
			  size_t n);

int nfq_cmd_ls(int argc, char **argv);
/* `nfq report`: a self-contained HTML page of a time window (report.c) */
int nfq_cmd_report(int argc, char **argv);
/* status, exporters, templates, rotate, reload, loglevel, dump-flows,
 * expire-all, send-templates: the daemons' control sockets (ctl.c) */
int nfq_cmd_ctl(int argc, char **argv);

#endif
