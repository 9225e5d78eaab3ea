/*
 * report.c - `nfq report`: one self-contained HTML page about a time window.
 *
 * The page holds traffic over time (bytes as stacked bars, flows as lines,
 * one chart pair by protocol and one by exporter), top talkers, top
 * destination ports, top conversations and the loss each exporter's files
 * recorded. Charts are inline SVG and the style is inline CSS: the page
 * loads nothing from anywhere and runs no script, so it can be mailed or
 * archived as it is.
 *
 * The same input gives the same bytes: no generation time is printed,
 * exporters are sorted by name and ties in the top tables are broken by
 * the key. Every bar and point carries class="bar" or class="point" and
 * data-chart/data-* attributes, so a test can count them.
 *
 * Files are chosen by input.c (-r/-R/-M, -t) and flows pass the same window
 * and filter as a query's. The files are read here, on one thread, rather
 * than through scan.c because a flow must be counted under the exporter of
 * its file, and each file's footer (sequence failures, flows lost) goes
 * into the loss table.
 */
#include "nfq.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)
#define BATCH 4096
/* More bins than this make bars thinner than a pixel. */
#define MAX_BINS 1000
#define DEFAULT_BIN_S 300

/* Series of the protocol charts, in FY_STORE_P_* order. */
static const char *const proto_names[FY_STORE_P_N] = {"TCP", "UDP", "ICMP",
						      "other"};
static const char *const proto_colors[FY_STORE_P_N] = {"#4e79a7", "#f28e2b",
						       "#59a14f", "#9c755f"};
static const char *const palette[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))

enum { KIND_PROTO, KIND_EXPORTER };

/* Key of the per-bin counters: a time bin and one series of one chart. */
struct bin_key {
	uint64_t bin; /* first_ms / bin width */
	uint32_t kind;
	uint32_t series;
};

struct exporter {
	char *label;
	uint64_t flows, packets, bytes; /* flows that passed */
	uint64_t files;			/* files in the window */
	uint64_t seq_failures;
	uint64_t lost_flows; /* dropped by the collector's writer */
	uint64_t no_footer;
};

struct rep_opts {
	struct nfq_input_opts in;
	const char *time;
	const char *filter_file;
	const char *write;
	const char *title;
	uint64_t bin_s;
	bool bin_set;
	uint64_t top_n;
	bool localtime;
	char *filter; /* trailing arguments, joined */
};

struct report {
	const struct rep_opts *o;
	struct nfq_window window;
	struct fy_filter *filter;
	char *filter_text;
	char **tree_names; /* -M directories, for files without an ident */
	size_t n_trees;
	struct exporter *exp;
	size_t n_exp;
	struct nfq_ht *bins; /* struct bin_key -> counters */
	struct nfq_stat talkers;
	struct nfq_stat ports;
	struct nfq_agg conv;
	bool have_talkers, have_ports, have_conv;
	struct nfq_counters total;
	uint64_t files_read;
	unsigned file_errors, block_errors;
	/* after the scan */
	uint64_t bin_ms;
	uint64_t bin0; /* index of the first bin, in bin_ms units */
	size_t nbins;
	size_t *exp_order; /* display position -> index in exp */
	struct nfq_timefmt tf;
};

/* ------------------------------------------------------------------ */
/* Options */

static void report_usage(FILE *fp)
{
	fprintf(fp,
		"usage: nfq report [options] [filter]\n"
		"Writes one self-contained HTML page (inline SVG and CSS, no "
		"script,\nnothing loaded from elsewhere) about the flows of a "
		"time window:\ntraffic over time by protocol and by exporter, "
		"top talkers, top\ndestination ports, top conversations, "
		"per-exporter loss.\n"
		"\n"
		"  -r, --read PATH        a flow file, or every file under a "
		"directory\n"
		"  -R, --range SPEC       DIR, DIR/FILE (and later), or "
		"DIR/F1:SUB/F2\n"
		"  -M, --multi B/D1:D2    several trees (exporters); -r/-R "
		"relative to each\n"
		"  -t, --time WINDOW      as nfq -t: YYYY/MM/dd.hh:mm[-...], "
		"ISO 8601, +N, -N\n"
		"      --live             also read a running collector's open "
		"files\n"
		"      --localtime        local time for -t, names and the page "
		"(else UTC)\n"
		"  -f, --filter-file F    read the filter from F\n"
		"  -w, --write FILE       write the page to FILE (default: "
		"stdout)\n"
		"      --bin SECONDS      width of a time bin (default 300; "
		"suffix s m h d)\n"
		"  -n, --top N            rows of each top table (default 10)\n"
		"      --title TEXT       the page's title\n"
		"  -h, --help             this help\n");
}

/* "300", "90s", "5m", "1h", "1d" -> seconds; 0 when not a duration. */
static uint64_t parse_seconds(const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return 0;
	if (*end && end[1] == '\0') {
		switch (*end) {
		case 's':
			break;
		case 'm':
			mul = 60;
			break;
		case 'h':
			mul = 3600;
			break;
		case 'd':
			mul = 86400;
			break;
		default:
			return 0;
		}
	} else if (*end) {
		return 0;
	}
	/* a week is plenty for one bar */
	if (v == 0 || v > 7 * 86400 / mul)
		return 0;
	return v * mul;
}

/* Returns 0, 1 when -h was given (done), or -EINVAL. */
static int parse_report_opts(int argc, char **argv, struct rep_opts *o)
{
	enum { OPT_LIVE = 1000, OPT_LOCALTIME, OPT_BIN, OPT_TITLE };
	static const struct option lo[] = {
		{"read", required_argument, NULL, 'r'},
		{"range", required_argument, NULL, 'R'},
		{"multi", required_argument, NULL, 'M'},
		{"time", required_argument, NULL, 't'},
		{"live", no_argument, NULL, OPT_LIVE},
		{"localtime", no_argument, NULL, OPT_LOCALTIME},
		{"filter-file", required_argument, NULL, 'f'},
		{"write", required_argument, NULL, 'w'},
		{"bin", required_argument, NULL, OPT_BIN},
		{"top", required_argument, NULL, 'n'},
		{"title", required_argument, NULL, OPT_TITLE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->bin_s = DEFAULT_BIN_S;
	o->top_n = 10;
	o->title = "flowyard traffic report";
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:R:M:t:f:w:n:h", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'r':
			o->in.read = optarg;
			break;
		case 'R':
			o->in.range = optarg;
			break;
		case 'M':
			o->in.multi = optarg;
			break;
		case 't':
			o->time = optarg;
			break;
		case OPT_LIVE:
			o->in.live = true;
			break;
		case OPT_LOCALTIME:
			o->localtime = true;
			break;
		case 'f':
			o->filter_file = optarg;
			break;
		case 'w':
			o->write = optarg;
			break;
		case OPT_BIN:
			if ((o->bin_s = parse_seconds(optarg)) == 0) {
				fprintf(stderr,
					"nfq report: --bin '%s': expected "
					"seconds from 1 to 604800 (or 5m, "
					"1h, 1d)\n",
					optarg);
				return -EINVAL;
			}
			o->bin_set = true;
			break;
		case 'n':
			errno = 0;
			o->top_n = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end ||
			    optarg[0] == '-' || o->top_n > 1000) {
				fprintf(stderr,
					"nfq report: -n '%s': expected 1 to "
					"1000 rows (0: 1000)\n",
					optarg);
				return -EINVAL;
			}
			if (o->top_n == 0)
				o->top_n = 1000;
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return 1;
		default:
			report_usage(stderr);
			return -EINVAL;
		}
	}
	o->in.localtime = o->localtime;
	if (optind < argc &&
	    (o->filter = nfq_join_args(argc - optind, argv + optind)) == NULL)
		return -ENOMEM;
	return 0;
}

/*
 * The names of the -M directories (what input.c's tree index refers to):
 * the last component of the first, the others as given.
 */
static int split_trees(struct report *r, const char *spec)
{
	char *copy, *save = NULL, *tok, **v;
	int rc = 0;

	if ((copy = strdup(spec)) == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		const char *name = tok;
		char *slash;

		if (r->n_trees == 0 && (slash = strrchr(tok, '/')) != NULL)
			name = slash + 1;
		if ((v = realloc(r->tree_names,
				 (r->n_trees + 1) * sizeof(*v))) == NULL) {
			rc = -ENOMEM;
			break;
		}
		r->tree_names = v;
		if ((v[r->n_trees] = strdup(name)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		r->n_trees++;
	}
	free(copy);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading */

/* The exporter a file belongs to: its ident, else its -M directory. */
static struct exporter *exporter_of(struct report *r, const char *ident,
				    unsigned tree)
{
	const char *label = ident;
	struct exporter *v;
	size_t i;

	if (label[0] == '\0')
		label = tree < r->n_trees ? r->tree_names[tree] : "(no ident)";
	for (i = 0; i < r->n_exp; i++)
		if (strcmp(r->exp[i].label, label) == 0)
			return &r->exp[i];
	if ((v = realloc(r->exp, (r->n_exp + 1) * sizeof(*v))) == NULL)
		return NULL;
	r->exp = v;
	memset(&v[r->n_exp], 0, sizeof(v[0]));
	if ((v[r->n_exp].label = strdup(label)) == NULL)
		return NULL;
	return &v[r->n_exp++];
}

static int proto_class(uint8_t proto)
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

static int bin_add(struct report *r, const struct fy_flow *f, uint32_t kind,
		   uint32_t series)
{
	struct bin_key k = {f->first_ms / r->bin_ms, kind, series};
	struct nfq_counters *c;

	if ((c = nfq_ht_get(r->bins, (const uint8_t *)&k, NULL)) == NULL)
		return -ENOMEM;
	nfq_counters_add_flow(c, f);
	return 0;
}

/* The flows of a batch that passed, from the file of exporter e. */
static int count_batch(struct report *r, struct exporter *e,
		       struct fy_flow *const *pass, size_t n)
{
	uint32_t ei = (uint32_t)(e - r->exp);
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		const struct fy_flow *f = pass[i];

		nfq_counters_add_flow(&r->total, f);
		e->flows++;
		e->packets += f->packets;
		e->bytes += f->bytes;
		if ((rc = bin_add(r, f, KIND_PROTO,
				  (uint32_t)proto_class(f->proto))) != 0 ||
		    (rc = bin_add(r, f, KIND_EXPORTER, ei)) != 0)
			return rc;
	}
	if ((rc = nfq_stat_add_batch(&r->talkers, pass, n)) != 0 ||
	    (rc = nfq_stat_add_batch(&r->ports, pass, n)) != 0)
		return rc;
	return nfq_agg_add_batch(&r->conv, pass, n);
}

static uint64_t read_cols(const struct report *r)
{
	uint64_t c = COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS) | COL(BYTES) |
		     COL(PROTO) | COL(TCP_FLAGS) | COL(SRC) | COL(DST) |
		     COL(FAMILY) | COL(DST_PORT) | COL(ICMP_TYPE) |
		     COL(ICMP_CODE);

	if (r->filter)
		c |= fy_filter_columns(r->filter);
	return c;
}

/* One file: its footer into the loss table, its flows into the counters. */
static int read_file(struct report *r, const struct nfq_file *file,
		     struct fy_flow *buf, struct fy_flow **pass)
{
	const struct fy_store_info *info;
	struct fy_store_reader *rd;
	struct exporter *e;
	char msg[FY_STORE_MSG_MAX];
	long n, i;
	size_t np;
	int rc = 0;

	if ((rc = fy_store_reader_open(&rd, file->path, msg, sizeof(msg)))) {
		/* an open file may be renamed under us: not an error */
		if (!(file->temp && rc == -ENOENT)) {
			fprintf(stderr, "nfq report: %s\n", msg);
			r->file_errors++;
		}
		return 0;
	}
	info = fy_store_reader_info(rd);
	/* as -I: a file counts when its flows may lie in the window */
	if (info->stats.all.flows &&
	    !nfq_window_overlaps(&r->window, info->stats.first_ms,
				 info->stats.last_ms))
		goto out;
	if ((e = exporter_of(r, info->ident, file->tree)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	e->files++;
	e->seq_failures += info->seq_failures;
	e->lost_flows += info->lost_flows;
	if (info->flags & FY_STORE_INFO_NO_FOOTER) {
		e->no_footer++;
		if (!file->temp)
			fprintf(stderr, "nfq report: %s\n",
				fy_store_reader_message(rd));
	}
	if (info->stats.all.flows == 0)
		goto out;
	r->files_read++;
	fy_store_reader_select(rd, read_cols(r));
	if (r->window.set)
		fy_store_reader_set_window(rd, r->window.from_ms,
					   r->window.to_ms);
	while ((n = fy_store_reader_next(rd, buf, BATCH)) != 0) {
		if (n == -EBADMSG) {
			fprintf(stderr, "nfq report: %s\n",
				fy_store_reader_message(rd));
			r->block_errors++;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "nfq report: %s: %s\n", file->path,
				strerror((int)-n));
			r->file_errors++;
			break;
		}
		for (i = 0, np = 0; i < n; i++) {
			struct fy_flow *f = &buf[i];

			if (!nfq_window_match(&r->window, f))
				continue;
			/* ICMP type/code in the port, before the filter, as
			 * a query does (scan.c) */
			if (f->proto == 1 || f->proto == 58)
				f->dst_port = (uint16_t)(f->icmp_type << 8 |
							 f->icmp_code);
			if (r->filter && !fy_filter_match(r->filter, f))
				continue;
			pass[np++] = f;
		}
		if (np && (rc = count_batch(r, e, pass, np)) != 0)
			break;
	}
out:
	fy_store_reader_close(rd);
	return rc;
}

static int report_init(struct report *r)
{
	struct nfq_stat_spec spec = {.n_orders = 1, .orders = {NFQ_ORD_BYTES}};
	struct nfq_key ck;
	int rc;

	if ((rc = nfq_ht_new(&r->bins, sizeof(struct bin_key))) != 0)
		return rc;
	spec.type = NFQ_ST_SRCIP;
	if ((rc = nfq_stat_init(&r->talkers, &spec, NULL)) != 0)
		return rc;
	r->have_talkers = true;
	spec.type = NFQ_ST_DSTPORT;
	if ((rc = nfq_stat_init(&r->ports, &spec, NULL)) != 0)
		return rc;
	r->have_ports = true;
	memset(&ck, 0, sizeof(ck));
	nfq_key_add(&ck, NFQ_F_SRC, 32, 128, false);
	nfq_key_add(&ck, NFQ_F_DST, 32, 128, false);
	if ((rc = nfq_agg_init(&r->conv, &ck, 0)) != 0)
		return rc;
	r->have_conv = true;
	return 0;
}

static void report_free(struct report *r)
{
	size_t i;

	for (i = 0; i < r->n_exp; i++)
		free(r->exp[i].label);
	free(r->exp);
	for (i = 0; i < r->n_trees; i++)
		free(r->tree_names[i]);
	free(r->tree_names);
	nfq_ht_free(r->bins);
	if (r->have_talkers)
		nfq_stat_free(&r->talkers);
	if (r->have_ports)
		nfq_stat_free(&r->ports);
	if (r->have_conv)
		nfq_agg_free(&r->conv);
	free(r->exp_order);
	fy_filter_free(r->filter);
	free(r->filter_text);
}

/* ------------------------------------------------------------------ */
/* After the scan: bins and ranks */

/* Widths past 5 minutes a long window falls back to, in seconds. */
static const uint64_t wider_bins[] = {600,   900,   1800,  3600,   7200,  10800,
				      21600, 43200, 86400, 172800, 604800};

/*
 * The bins the flows fall in. Without --bin a window too long for 5-minute
 * bars gets the next width that keeps them under MAX_BINS (all are
 * multiples of 300 s, so bins merge whole).
 */
static int settle_bins(struct report *r)
{
	size_t i, n = nfq_ht_count(r->bins);
	uint64_t lo = UINT64_MAX, hi = 0, k = 1;

	for (i = 0; i < n; i++) {
		const uint8_t *kp;
		struct bin_key bk;

		nfq_ht_entry(r->bins, i, &kp);
		memcpy(&bk, kp, sizeof(bk));
		if (bk.bin < lo)
			lo = bk.bin;
		if (bk.bin > hi)
			hi = bk.bin;
	}
	if (n == 0) {
		r->nbins = 0;
		return 0;
	}
	if (hi - lo >= MAX_BINS) {
		if (r->o->bin_set) {
			fprintf(stderr,
				"nfq report: --bin %" PRIu64
				": the flows span %" PRIu64
				" bins, more than %d; give a wider --bin or "
				"a shorter -t window\n",
				r->o->bin_s, hi - lo + 1, MAX_BINS);
			return -ERANGE;
		}
		for (i = 0; i < sizeof(wider_bins) / sizeof(wider_bins[0]);
		     i++) {
			k = wider_bins[i] / DEFAULT_BIN_S;
			if (hi / k - lo / k < MAX_BINS)
				break;
		}
		if (hi / k - lo / k >= MAX_BINS) {
			fprintf(stderr,
				"nfq report: the flows span more than %d "
				"weeks; give a -t window\n",
				MAX_BINS);
			return -ERANGE;
		}
	}
	r->bin_ms *= k;
	r->bin0 = lo / k;
	r->nbins = (size_t)(hi / k - lo / k + 1);
	return 0;
}

/* Dense per-bin values of one chart kind: v[bin * nseries + series]. */
static int bin_matrix(const struct report *r, uint32_t kind, size_t nseries,
		      const size_t *pos, uint64_t **flows, uint64_t **bytes)
{
	size_t i, n = nfq_ht_count(r->bins), cells = r->nbins * nseries;
	uint64_t k = r->bin_ms / (r->o->bin_s * 1000);

	*flows = calloc(cells ? cells : 1, sizeof(**flows));
	*bytes = calloc(cells ? cells : 1, sizeof(**bytes));
	if (*flows == NULL || *bytes == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const uint8_t *kp;
		const struct nfq_counters *c = nfq_ht_entry(r->bins, i, &kp);
		struct bin_key bk;
		size_t cell;

		memcpy(&bk, kp, sizeof(bk));
		if (bk.kind != kind)
			continue;
		cell = (size_t)(bk.bin / k - r->bin0) * nseries +
		       (pos ? pos[bk.series] : bk.series);
		(*flows)[cell] += c->flows;
		(*bytes)[cell] += c->bytes;
	}
	return 0;
}

struct rank_ctx {
	const struct nfq_ht *ht;
	size_t key_len;
};

/* Bytes, then flows, largest first; equal ones by key, for a stable page. */
static int cmp_rank(const void *a, const void *b, void *arg)
{
	const struct rank_ctx *c = arg;
	const uint8_t *ka, *kb;
	const struct nfq_counters *x =
		nfq_ht_entry(c->ht, *(const size_t *)a, &ka);
	const struct nfq_counters *y =
		nfq_ht_entry(c->ht, *(const size_t *)b, &kb);

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->flows != y->flows)
		return x->flows > y->flows ? -1 : 1;
	return memcmp(ka, kb, c->key_len);
}

/* Indexes of the top n entries of h; *out malloc'd. */
static int rank(const struct nfq_ht *h, size_t key_len, uint64_t top,
		size_t **out, size_t *nout)
{
	size_t i, n = nfq_ht_count(h);
	struct rank_ctx ctx = {h, key_len};

	*nout = 0;
	if ((*out = malloc((n ? n : 1) * sizeof(**out))) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		(*out)[i] = i;
	qsort_r(*out, n, sizeof(**out), cmp_rank, &ctx);
	*nout = n < top ? n : (size_t)top;
	return 0;
}

static int cmp_exp(const void *a, const void *b, void *arg)
{
	const struct exporter *e = arg;

	return strcmp(e[*(const size_t *)a].label, e[*(const size_t *)b].label);
}

/* ------------------------------------------------------------------ */
/* HTML */

static void esc(FILE *fp, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&#39;", fp);
			break;
		default:
			/* control characters would upset the parser */
			if ((unsigned char)*s < 0x20 && *s != '\t')
				fputc('?', fp);
			else
				fputc(*s, fp);
		}
	}
}

static const char *num(char *buf, size_t len, uint64_t v)
{
	nfq_num_str(buf, len, v, false);
	return buf;
}

/* hh:mm of a bin start, with the date when it changes (or first). */
static void time_label(struct report *r, uint64_t ms, char *hm, char *day)
{
	char t[40];

	/* "YYYY-MM-DD hh:mm:ss" */
	if (nfq_time_str(&r->tf, t, ms, false, ' ') < 16) {
		strcpy(hm, "?");
		strcpy(day, "?");
		return;
	}
	memcpy(hm, t + 11, 5);
	hm[5] = '\0';
	memcpy(day, t, 10);
	day[10] = '\0';
}

/* The smallest 1, 2 or 5 times a power of ten that is >= v (v >= 1). */
static uint64_t nice_max(uint64_t v)
{
	uint64_t p = 1;

	if (v < 1)
		v = 1;
	for (;;) {
		if (v <= p)
			return p;
		if (v <= 2 * p)
			return 2 * p;
		if (v <= 5 * p)
			return 5 * p;
		if (p > UINT64_MAX / 10)
			return v;
		p *= 10;
	}
}

#define CW 960.0 /* chart width */
#define CH 240.0 /* chart height */
#define ML 64.0	 /* left margin: y labels */
#define MR 12.0
#define MT 10.0
#define MB 38.0 /* bottom margin: time labels */

struct series {
	const char *const *names; /* n names (display order) */
	const char *const *colors;
	size_t n;
};

static void axes(struct report *r, FILE *fp, uint64_t ymax)
{
	double pw = CW - ML - MR, ph = CH - MT - MB;
	size_t b, step;
	char lbl[32], hm[8], day[16], prev_day[16] = "";
	/* ymax is 1, 2 or 5 times a power of ten: whole steps */
	uint64_t ticks = ymax % 5 == 0 ? 5 : ymax % 2 == 0 ? 2 : 1, t;

	for (t = 0; t <= ticks; t++) {
		double y = MT + ph - ph * (double)t / (double)ticks;

		fprintf(fp,
			"<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"ylab\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			ML, y, CW - MR, y, ML - 6, y + 4,
			num(lbl, sizeof(lbl), ymax / ticks * t));
	}
	/* a label about every 80 pixels */
	step = (size_t)(80.0 / (pw / (double)r->nbins)) + 1;
	for (b = 0; b < r->nbins; b += step) {
		double x = ML + pw * (double)b / (double)r->nbins;

		time_label(r, (r->bin0 + b) * r->bin_ms, hm, day);
		fprintf(fp,
			"<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" "
			"x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"xlab\" x=\"%.1f\" y=\"%.1f\">%s</text>",
			x, MT + ph, x, MT + ph + 4, x, MT + ph + 16, hm);
		if (strcmp(day, prev_day) != 0)
			fprintf(fp,
				"<text class=\"xlab\" x=\"%.1f\" "
				"y=\"%.1f\">%s</text>",
				x, MT + ph + 30, day);
		fputc('\n', fp);
		memcpy(prev_day, day, sizeof(day));
	}
}

static void legend(FILE *fp, const struct series *s, const uint64_t *tot)
{
	size_t i;

	fputs("<div class=\"legend\">", fp);
	for (i = 0; i < s->n; i++) {
		if (tot[i] == 0)
			continue;
		fprintf(fp,
			"<span><i class=\"swatch\" style=\"background:%s\">"
			"</i>",
			s->colors[i]);
		esc(fp, s->names[i]);
		fputs("</span>", fp);
	}
	fputs("</div>\n", fp);
}

/* Bytes per bin, one stacked bar segment per series with bytes. */
static void chart_stacked(struct report *r, FILE *fp, const char *id,
			  const char *title, const struct series *s,
			  const uint64_t *v)
{
	double pw = CW - ML - MR, ph = CH - MT - MB;
	double slot = pw / (double)r->nbins, w = slot * 0.85;
	uint64_t *tot = calloc(s->n ? s->n : 1, sizeof(*tot)), max = 0, ymax;
	size_t b, i;
	char lbl[32];

	if (tot == NULL)
		return;
	for (b = 0; b < r->nbins; b++) {
		uint64_t sum = 0;

		for (i = 0; i < s->n; i++) {
			sum += v[b * s->n + i];
			tot[i] += v[b * s->n + i];
		}
		if (sum > max)
			max = sum;
	}
	ymax = nice_max(max);
	fprintf(fp, "<figure class=\"chart\" data-chart=\"%s\"><figcaption>",
		id);
	esc(fp, title);
	fprintf(fp,
		"</figcaption>\n<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		"height=\"%.0f\" role=\"img\">\n",
		CW, CH, CW, CH);
	axes(r, fp, ymax);
	for (b = 0; b < r->nbins; b++) {
		double y = MT + ph, x = ML + slot * (double)b + (slot - w) / 2;
		uint64_t bin_s = (r->bin0 + b) * r->bin_ms / 1000;

		for (i = 0; i < s->n; i++) {
			uint64_t val = v[b * s->n + i];
			double h = ph * (double)val / (double)ymax;

			if (val == 0)
				continue;
			y -= h;
			fprintf(fp,
				"<rect class=\"bar\" data-chart=\"%s\" "
				"data-bin=\"%" PRIu64 "\" data-series=\"",
				id, bin_s);
			esc(fp, s->names[i]);
			fprintf(fp,
				"\" data-value=\"%" PRIu64 "\" x=\"%.2f\" "
				"y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
				"fill=\"%s\"><title>",
				val, x, y, w, h, s->colors[i]);
			esc(fp, s->names[i]);
			fprintf(fp, ": %s bytes</title></rect>\n",
				num(lbl, sizeof(lbl), val));
		}
	}
	fputs("</svg>\n", fp);
	legend(fp, s, tot);
	fputs("</figure>\n", fp);
	free(tot);
}

/* Flows per bin, one line with a point per bin for each series with flows. */
static void chart_lines(struct report *r, FILE *fp, const char *id,
			const char *title, const struct series *s,
			const uint64_t *v)
{
	double pw = CW - ML - MR, ph = CH - MT - MB;
	double slot = pw / (double)r->nbins;
	uint64_t *tot = calloc(s->n ? s->n : 1, sizeof(*tot)), max = 0, ymax;
	size_t b, i;
	char lbl[32];

	if (tot == NULL)
		return;
	for (b = 0; b < r->nbins; b++) {
		for (i = 0; i < s->n; i++) {
			tot[i] += v[b * s->n + i];
			if (v[b * s->n + i] > max)
				max = v[b * s->n + i];
		}
	}
	ymax = nice_max(max);
	fprintf(fp, "<figure class=\"chart\" data-chart=\"%s\"><figcaption>",
		id);
	esc(fp, title);
	fprintf(fp,
		"</figcaption>\n<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
		"height=\"%.0f\" role=\"img\">\n",
		CW, CH, CW, CH);
	axes(r, fp, ymax);
	for (i = 0; i < s->n; i++) {
		if (tot[i] == 0)
			continue;
		fprintf(fp,
			"<polyline class=\"line\" fill=\"none\" stroke=\"%s\" "
			"points=\"",
			s->colors[i]);
		for (b = 0; b < r->nbins; b++)
			fprintf(fp, "%s%.2f,%.2f", b ? " " : "",
				ML + slot * ((double)b + 0.5),
				MT + ph -
					ph * (double)v[b * s->n + i] /
						(double)ymax);
		fputs("\"/>\n", fp);
		for (b = 0; b < r->nbins; b++) {
			uint64_t val = v[b * s->n + i];

			fprintf(fp,
				"<circle class=\"point\" data-chart=\"%s\" "
				"data-bin=\"%" PRIu64 "\" data-series=\"",
				id, (r->bin0 + b) * r->bin_ms / 1000);
			esc(fp, s->names[i]);
			fprintf(fp,
				"\" data-value=\"%" PRIu64 "\" cx=\"%.2f\" "
				"cy=\"%.2f\" r=\"2.5\" fill=\"%s\"><title>",
				val, ML + slot * ((double)b + 0.5),
				MT + ph - ph * (double)val / (double)ymax,
				s->colors[i]);
			esc(fp, s->names[i]);
			fprintf(fp, ": %s flows</title></circle>\n",
				num(lbl, sizeof(lbl), val));
		}
	}
	fputs("</svg>\n", fp);
	legend(fp, s, tot);
	fputs("</figure>\n", fp);
	free(tot);
}

static int time_charts(struct report *r, FILE *fp)
{
	const char **names = NULL, **colors = NULL;
	uint64_t *fl = NULL, *by = NULL;
	size_t *pos = NULL, i;
	struct series s = {proto_names, proto_colors, FY_STORE_P_N};
	char w[64];
	int rc;

	if (r->bin_ms % 3600000 == 0)
		snprintf(w, sizeof(w), "%" PRIu64 " h", r->bin_ms / 3600000);
	else if (r->bin_ms % 60000 == 0)
		snprintf(w, sizeof(w), "%" PRIu64 " min", r->bin_ms / 60000);
	else
		snprintf(w, sizeof(w), "%" PRIu64 " s", r->bin_ms / 1000);
	fprintf(fp,
		"<h2>Traffic over time</h2>\n<p class=\"note\" "
		"data-bins=\"%zu\" data-bin-seconds=\"%" PRIu64
		"\">%zu bins of %s; a flow counts in the bin of its start "
		"time.</p>\n",
		r->nbins, r->bin_ms / 1000, r->nbins, w);
	if (r->nbins == 0) {
		fputs("<p>No matching flows.</p>\n", fp);
		return 0;
	}
	if ((rc = bin_matrix(r, KIND_PROTO, FY_STORE_P_N, NULL, &fl, &by)))
		goto out;
	chart_stacked(r, fp, "bytes-proto", "Bytes by protocol", &s, by);
	chart_lines(r, fp, "flows-proto", "Flows by protocol", &s, fl);
	free(fl);
	free(by);
	fl = by = NULL;

	rc = -ENOMEM;
	names = malloc((r->n_exp ? r->n_exp : 1) * sizeof(*names));
	colors = malloc((r->n_exp ? r->n_exp : 1) * sizeof(*colors));
	pos = malloc((r->n_exp ? r->n_exp : 1) * sizeof(*pos));
	if (names == NULL || colors == NULL || pos == NULL)
		goto out;
	for (i = 0; i < r->n_exp; i++) {
		names[i] = r->exp[r->exp_order[i]].label;
		colors[i] = palette[i % PALETTE_N];
		pos[r->exp_order[i]] = i;
	}
	if ((rc = bin_matrix(r, KIND_EXPORTER, r->n_exp, pos, &fl, &by)))
		goto out;
	s.names = names;
	s.colors = colors;
	s.n = r->n_exp;
	chart_stacked(r, fp, "bytes-exporter", "Bytes by exporter", &s, by);
	chart_lines(r, fp, "flows-exporter", "Flows by exporter", &s, fl);
out:
	free(names);
	free(colors);
	free(pos);
	free(fl);
	free(by);
	return rc;
}

/* A horizontal bar per row: label, bar scaled to the largest, value. */
static void rank_chart(FILE *fp, const char *id, const char *const *keys,
		       const uint64_t *vals, size_t n, const char *color)
{
	double lw = 300, bw = CW - lw - 100, rh = 20;
	uint64_t max = 1;
	char lbl[32];
	size_t i;

	for (i = 0; i < n; i++)
		if (vals[i] > max)
			max = vals[i];
	fprintf(fp,
		"<svg class=\"rank\" data-chart=\"%s\" viewBox=\"0 0 %.0f "
		"%.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\">\n",
		id, CW, rh * (double)n + 4, CW, rh * (double)n + 4);
	for (i = 0; i < n; i++) {
		double y = 2 + rh * (double)i;
		double w = bw * (double)vals[i] / (double)max;

		fprintf(fp, "<text class=\"rlab\" x=\"%.1f\" y=\"%.1f\">",
			lw - 8, y + 14);
		esc(fp, keys[i]);
		fprintf(fp,
			"</text><rect class=\"bar\" data-chart=\"%s\" "
			"data-rank=\"%zu\" data-key=\"",
			id, i + 1);
		esc(fp, keys[i]);
		fprintf(fp,
			"\" data-value=\"%" PRIu64 "\" x=\"%.1f\" y=\"%.1f\" "
			"width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>"
			"<text class=\"rval\" x=\"%.2f\" y=\"%.1f\">%s</text>\n",
			vals[i], lw, y + 2, w, rh - 4, color, lw + w + 6,
			y + 14, num(lbl, sizeof(lbl), vals[i]));
	}
	fputs("</svg>\n", fp);
}

static void pct(char *buf, size_t len, uint64_t v, uint64_t of)
{
	snprintf(buf, len, "%.1f", of ? 100.0 * (double)v / (double)of : 0.0);
}

enum top_kind { TOP_TALKERS, TOP_PORTS, TOP_CONV };

/* The text of a top entry's key. */
static void top_key(const struct report *r, enum top_kind k, const uint8_t *key,
		    char *buf, size_t len)
{
	struct fy_flow f;
	char a[FY_ADDR_STRLEN], b[FY_ADDR_STRLEN];

	memset(&f, 0, sizeof(f));
	switch (k) {
	case TOP_TALKERS:
		nfq_key_apply(&r->talkers.key, key, &f);
		snprintf(buf, len, "%s", fy_addr_str(&f.src, a, sizeof(a)));
		break;
	case TOP_PORTS:
		nfq_key_apply(&r->ports.key, key, &f);
		snprintf(buf, len, "%u", (unsigned)f.dst_port);
		break;
	case TOP_CONV:
		nfq_key_apply(&r->conv.key, key, &f);
		snprintf(buf, len, "%s \xe2\x86\x92 %s",
			 fy_addr_str(&f.src, a, sizeof(a)),
			 fy_addr_str(&f.dst, b, sizeof(b)));
		break;
	}
}

static int top_section(struct report *r, FILE *fp, enum top_kind k)
{
	static const char *const ids[] = {"talkers", "ports", "conversations"};
	static const char *const heads[] = {"Top talkers (source address)",
					    "Top destination ports",
					    "Top conversations"};
	static const char *const cols[] = {"Source", "Dst port",
					   "Source \xe2\x86\x92 destination"};
	static const char *const colors[] = {"#4e79a7", "#f28e2b", "#59a14f"};
	const struct nfq_ht *h = k == TOP_TALKERS ? r->talkers.ht
				 : k == TOP_PORTS ? r->ports.ht
						  : r->conv.ht;
	size_t key_len = k == TOP_TALKERS ? r->talkers.key.len
			 : k == TOP_PORTS ? r->ports.key.len
					  : r->conv.key.len;
	size_t *idx = NULL, n, i;
	char **keys = NULL;
	uint64_t *vals = NULL;
	char p1[16], p2[16], nb[32];
	int rc;

	if ((rc = rank(h, key_len, r->o->top_n, &idx, &n)) != 0)
		return rc;
	keys = calloc(n ? n : 1, sizeof(*keys));
	vals = calloc(n ? n : 1, sizeof(*vals));
	if (keys == NULL || vals == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	fprintf(fp, "<h2>%s</h2>\n", heads[k]);
	if (n == 0) {
		fputs("<p>No matching flows.</p>\n", fp);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *key;
		const struct nfq_counters *c = nfq_ht_entry(h, idx[i], &key);

		if ((keys[i] = malloc(2 * FY_ADDR_STRLEN + 8)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		top_key(r, k, key, keys[i], 2 * FY_ADDR_STRLEN + 8);
		vals[i] = c->bytes;
	}
	rank_chart(fp, ids[k], (const char *const *)keys, vals, n, colors[k]);
	fprintf(fp,
		"<table data-table=\"%s\">\n<thead><tr><th>#</th><th>%s</th>"
		"<th>Flows</th><th>Packets</th><th>Bytes</th><th>Bytes %%</th>"
		"<th>Flows %%</th></tr></thead>\n<tbody>\n",
		ids[k], cols[k]);
	for (i = 0; i < n; i++) {
		const uint8_t *key;
		const struct nfq_counters *c = nfq_ht_entry(h, idx[i], &key);

		pct(p1, sizeof(p1), c->bytes, r->total.bytes);
		pct(p2, sizeof(p2), c->flows, r->total.flows);
		fprintf(fp, "<tr class=\"row\" data-rank=\"%zu\" data-key=\"",
			i + 1);
		esc(fp, keys[i]);
		fprintf(fp,
			"\" data-flows=\"%" PRIu64 "\" data-packets=\"%" PRIu64
			"\" data-bytes=\"%" PRIu64 "\"><td>%zu</td><td>",
			c->flows, c->packets, c->bytes, i + 1);
		esc(fp, keys[i]);
		fprintf(fp, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td>",
			c->flows, c->packets);
		fprintf(fp, "<td title=\"%" PRIu64 "\">%s</td>", c->bytes,
			num(nb, sizeof(nb), c->bytes));
		fprintf(fp, "<td>%s</td><td>%s</td></tr>\n", p1, p2);
	}
	fputs("</tbody></table>\n", fp);
out:
	for (i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(vals);
	free(idx);
	return rc;
}

static int loss_section(struct report *r, FILE *fp)
{
	const char **keys;
	uint64_t *vals;
	size_t i;

	fputs("<h2>Loss per exporter</h2>\n<p class=\"note\">From the "
	      "footers of the files in the window (whole files, before the "
	      "filter): sequence failures the collector saw in the export "
	      "stream, flows its writer could not store, files without a "
	      "footer (torn or still open).</p>\n",
	      fp);
	if (r->n_exp == 0) {
		fputs("<p>No flow files in the window.</p>\n", fp);
		return 0;
	}
	keys = calloc(r->n_exp, sizeof(*keys));
	vals = calloc(r->n_exp, sizeof(*vals));
	if (keys == NULL || vals == NULL) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (i = 0; i < r->n_exp; i++) {
		keys[i] = r->exp[r->exp_order[i]].label;
		vals[i] = r->exp[r->exp_order[i]].seq_failures;
	}
	rank_chart(fp, "loss", keys, vals, r->n_exp, "#e15759");
	fputs("<table data-table=\"loss\">\n<thead><tr><th>Exporter</th>"
	      "<th>Files</th><th>Flows</th><th>Bytes</th>"
	      "<th>Sequence failures</th><th>Flows lost (writer)</th>"
	      "<th>Files without footer</th></tr></thead>\n<tbody>\n",
	      fp);
	for (i = 0; i < r->n_exp; i++) {
		const struct exporter *e = &r->exp[r->exp_order[i]];

		fputs("<tr class=\"row\" data-key=\"", fp);
		esc(fp, e->label);
		fprintf(fp,
			"\" data-files=\"%" PRIu64 "\" data-flows=\"%" PRIu64
			"\" data-bytes=\"%" PRIu64
			"\" data-seq-failures=\"%" PRIu64
			"\" data-lost-flows=\"%" PRIu64
			"\" data-no-footer=\"%" PRIu64 "\"><td>",
			e->files, e->flows, e->bytes, e->seq_failures,
			e->lost_flows, e->no_footer);
		esc(fp, e->label);
		fprintf(fp,
			"</td><td>%" PRIu64 "</td><td>%" PRIu64
			"</td><td>%" PRIu64 "</td><td>%" PRIu64
			"</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n",
			e->files, e->flows, e->bytes, e->seq_failures,
			e->lost_flows, e->no_footer);
	}
	fputs("</tbody></table>\n", fp);
	free(keys);
	free(vals);
	return 0;
}

static const char page_css[] =
	"body{font-family:system-ui,sans-serif;margin:24px;color:#222;"
	"max-width:1000px}\n"
	"h1{font-size:1.5em;margin:0 0 8px}h2{font-size:1.15em;"
	"margin:28px 0 8px;border-bottom:1px solid #ddd}\n"
	"dl.meta{display:grid;grid-template-columns:max-content auto;"
	"gap:2px 16px;margin:0}dl.meta dt{font-weight:600}"
	"dl.meta dd{margin:0}\n"
	"figure.chart{margin:12px 0}figcaption{font-weight:600;"
	"margin-bottom:4px}\n"
	"svg text{font-size:11px;fill:#444}text.ylab{text-anchor:end}"
	"text.xlab{text-anchor:middle}text.rlab{text-anchor:end}\n"
	"line.grid{stroke:#e4e4e4}line.tick{stroke:#888}"
	"polyline.line{stroke-width:1.5}\n"
	".legend span{margin-right:14px;font-size:0.9em}"
	"i.swatch{display:inline-block;width:10px;height:10px;"
	"margin-right:4px}\n"
	"table{border-collapse:collapse;font-size:0.9em;margin:8px 0}"
	"th,td{padding:2px 10px;text-align:right;border-bottom:1px solid "
	"#eee}th:nth-child(2),td:nth-child(2){text-align:left}"
	"table[data-table=loss] :is(th,td){text-align:right}"
	"table[data-table=loss] :is(th,td):first-child{text-align:left}\n"
	".note{color:#666;font-size:0.9em}.warn{color:#b00}\n";

static void page_head(struct report *r, FILE *fp)
{
	const struct rep_opts *o = r->o;
	char a[40], b[40], nb[32];
	const char *zone = o->localtime ? "" : " UTC";

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n<title>",
	      fp);
	esc(fp, o->title);
	fprintf(fp, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>",
		page_css);
	esc(fp, o->title);
	fputs("</h1>\n<dl class=\"meta\">\n<dt>Input</dt><dd>", fp);
	if (o->in.multi) {
		fputs("-M ", fp);
		esc(fp, o->in.multi);
	}
	if (o->in.read) {
		fputs(o->in.multi ? " -r " : "-r ", fp);
		esc(fp, o->in.read);
	}
	if (o->in.range) {
		fputs(o->in.multi ? " -R " : "-R ", fp);
		esc(fp, o->in.range);
	}
	fputs("</dd>\n<dt>Window</dt><dd>", fp);
	if (r->window.set) {
		nfq_time_str(&r->tf, a, r->window.from_ms, false, ' ');
		if (r->window.to_ms == UINT64_MAX)
			snprintf(b, sizeof(b), "(open)");
		else
			nfq_time_str(&r->tf, b, r->window.to_ms, false, ' ');
		fprintf(fp, "%s - %s%s", a, b, zone);
	} else {
		fputs("all", fp);
	}
	fputs("</dd>\n<dt>Flows seen</dt><dd>", fp);
	if (r->total.flows) {
		nfq_time_str(&r->tf, a, r->total.first_ms, false, ' ');
		nfq_time_str(&r->tf, b, r->total.last_ms, false, ' ');
		fprintf(fp, "%s - %s%s", a, b, zone);
	} else {
		fputs("none", fp);
	}
	fputs("</dd>\n<dt>Filter</dt><dd><code>", fp);
	esc(fp,
	    r->filter_text && r->filter_text[strspn(r->filter_text, " \t\r\n")]
		    ? r->filter_text
		    : "any");
	fprintf(fp,
		"</code></dd>\n<dt>Totals</dt><dd data-flows=\"%" PRIu64
		"\" data-packets=\"%" PRIu64 "\" data-bytes=\"%" PRIu64
		"\">%" PRIu64 " flows, %" PRIu64 " packets, ",
		r->total.flows, r->total.packets, r->total.bytes,
		r->total.flows, r->total.packets);
	fprintf(fp, "%s bytes</dd>\n", num(nb, sizeof(nb), r->total.bytes));
	fprintf(fp, "<dt>Files</dt><dd>%" PRIu64 " read, %zu exporter%s</dd>\n",
		r->files_read, r->n_exp, r->n_exp == 1 ? "" : "s");
	fputs("</dl>\n", fp);
	if (r->file_errors || r->block_errors)
		fprintf(fp,
			"<p class=\"warn\">%u file%s could not be read, %u "
			"damaged block%s skipped: the numbers below miss "
			"them.</p>\n",
			r->file_errors, r->file_errors == 1 ? "" : "s",
			r->block_errors, r->block_errors == 1 ? "" : "s");
}

static int write_page(struct report *r, FILE *fp)
{
	int rc;

	page_head(r, fp);
	if ((rc = time_charts(r, fp)) != 0 ||
	    (rc = top_section(r, fp, TOP_TALKERS)) != 0 ||
	    (rc = top_section(r, fp, TOP_PORTS)) != 0 ||
	    (rc = top_section(r, fp, TOP_CONV)) != 0 ||
	    (rc = loss_section(r, fp)) != 0)
		return rc;
	fputs("<p class=\"note\">Made by nfq report (flowyard).</p>\n"
	      "</body>\n</html>\n",
	      fp);
	return 0;
}

/* Writes the page to o->write (through a temporary file) or stdout. */
static int emit(struct report *r)
{
	const char *path = r->o->write;
	char tmp[4096];
	FILE *fp = stdout;
	int rc;

	if (path) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path,
			     (long)getpid()) >= (int)sizeof(tmp)) {
			fprintf(stderr, "nfq report: -w %s: path too long\n",
				path);
			return -ENAMETOOLONG;
		}
		if ((fp = fopen(tmp, "w")) == NULL) {
			fprintf(stderr, "nfq report: -w %s: %s\n", path,
				strerror(errno));
			return -EIO;
		}
	}
	rc = write_page(r, fp);
	if (rc == -ENOMEM)
		fprintf(stderr, "nfq report: out of memory\n");
	if (fflush(fp) != 0 || ferror(fp)) {
		fprintf(stderr, "nfq report: writing %s: %s\n",
			path ? tmp : "the page", strerror(errno));
		rc = rc ? rc : -EIO;
	}
	if (!path)
		return rc;
	if (fclose(fp) != 0 && rc == 0) {
		fprintf(stderr, "nfq report: -w %s: %s\n", tmp,
			strerror(errno));
		rc = -EIO;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		fprintf(stderr, "nfq report: -w %s: %s\n", path,
			strerror(errno));
		rc = -EIO;
	}
	if (rc)
		unlink(tmp);
	return rc;
}

/* ------------------------------------------------------------------ */

static int run_report(struct report *r)
{
	const struct rep_opts *o = r->o;
	char err[NFQ_ERR_MAX] = "";
	struct nfq_input_opts in = o->in;
	struct nfq_file *files = NULL;
	struct fy_flow *buf = NULL, **pass = NULL;
	size_t n_files = 0, i;
	int rc;

	if ((rc = nfq_filter_text(o->filter, o->filter_file,
				  &r->filter_text)) != 0)
		goto out;
	if (r->filter_text &&
	    fy_filter_compile(r->filter_text, &r->filter, err, sizeof(err))) {
		fprintf(stderr, "nfq report: filter: %s\n", err);
		rc = -EINVAL;
		goto out;
	}
	if (o->time && nfq_window_parse(o->time, o->localtime, &r->window, err,
					sizeof(err))) {
		fprintf(stderr, "nfq report: %s\n", err);
		rc = -EINVAL;
		goto out;
	}
	in.window = &r->window;
	if ((rc = nfq_input_select(&in, &files, &n_files, err, sizeof(err)))) {
		fprintf(stderr, "nfq report: %s\n", err);
		goto out;
	}
	if (n_files == 0)
		fprintf(stderr, "nfq report: no flow files to read\n");
	if (r->window.rel)
		nfq_resolve_relative(&r->window, files, n_files);
	if (o->in.multi && (rc = split_trees(r, o->in.multi)) != 0)
		goto nomem;
	if ((rc = report_init(r)) != 0)
		goto nomem;
	buf = malloc(BATCH * sizeof(*buf));
	pass = malloc(BATCH * sizeof(*pass));
	if (buf == NULL || pass == NULL) {
		rc = -ENOMEM;
		goto nomem;
	}
	for (i = 0; i < n_files; i++)
		if ((rc = read_file(r, &files[i], buf, pass)) != 0)
			goto nomem;
	if ((rc = settle_bins(r)) != 0)
		goto out;
	if ((r->exp_order = malloc((r->n_exp ? r->n_exp : 1) *
				   sizeof(*r->exp_order))) == NULL) {
		rc = -ENOMEM;
		goto nomem;
	}
	for (i = 0; i < r->n_exp; i++)
		r->exp_order[i] = i;
	qsort_r(r->exp_order, r->n_exp, sizeof(*r->exp_order), cmp_exp, r->exp);
	rc = emit(r);
	goto out;
nomem:
	if (rc == -ENOMEM)
		fprintf(stderr, "nfq report: out of memory\n");
out:
	free(buf);
	free(pass);
	nfq_input_free(files, n_files);
	return rc;
}

int nfq_cmd_report(int argc, char **argv)
{
	struct rep_opts o;
	struct report r;
	int rc;

	rc = parse_report_opts(argc, argv, &o);
	if (rc) {
		free(o.filter);
		return rc > 0 ? 0 : NFQ_EXIT_FAIL;
	}
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.bin_ms = o.bin_s * 1000;
	nfq_timefmt_init(&r.tf, o.localtime);
	rc = run_report(&r);
	if (rc == 0 && r.file_errors)
		rc = -EIO;
	report_free(&r);
	free(o.filter);
	return rc ? NFQ_EXIT_FAIL : 0;
}
