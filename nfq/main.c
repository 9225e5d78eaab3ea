/*
 * main.c - nfq's command line: nfdump's flags, plus subcommands.
 *
 *   nfq [options] [filter]           a query (nfdump's flags, see nfq(1))
 *   nfq ls [--json] BASE             the trees under a collector's base
 *
 * Subcommands are rows of one table; the commands that talk to a daemon
 * over its control socket (status, exporters, ...) are added there.
 * Exit status: 0, or 255 (nfdump's) when something failed.
 */
#include "nfq.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)
#define NFQ_VERSION "0.1"

/* ------------------------------------------------------------------ */
/* Subcommands */

struct subcmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct subcmd subcmds[] = {
	{"ls", nfq_cmd_ls, "list the exporters' file trees under BASE"},
	{"report", nfq_cmd_report, "an HTML page of a time window's traffic"},
	{"status", nfq_cmd_ctl, "a running daemon's status (--exporterd)"},
	{"exporters", nfq_cmd_ctl, "collectord's exporters and counters"},
	{"templates", nfq_cmd_ctl, "collectord's templates [EXPORTER]"},
	{"rotate", nfq_cmd_ctl, "collectord: close the files now [IDENT]"},
	{"reload", nfq_cmd_ctl, "collectord: re-read its configuration"},
	{"loglevel", nfq_cmd_ctl, "a daemon's log level LEVEL"},
	{"dump-flows", nfq_cmd_ctl, "exporterd's active flows [FILTER]"},
	{"expire-all", nfq_cmd_ctl, "exporterd: export every flow now"},
	{"send-templates", nfq_cmd_ctl,
	 "exporterd: templates with the next "
	 "message"},
	{"metrics", nfq_cmd_ctl, "collectord's counters for Prometheus"},
};

/* ------------------------------------------------------------------ */
/* Options */

enum {
	OPT_LOCALTIME = 1000,
	OPT_LIVE,
	OPT_THREADS,
	OPT_NO_PROGRESS,
	OPT_MEMORY,
};

struct opts {
	struct nfq_input_opts in;
	const char *time;
	const char *filter_file;
	bool syntax_only;
	const char *output;
	struct nfq_out_opts out;
	bool info;
	const char *stats[NFQ_MAX_STATS];
	size_t n_stats;
	uint64_t top_n;
	bool top_n_set;
	const char *aggregate;
	bool five_tuple;
	int bidir; /* 1: -b, 2: -B */
	const char *order;
	uint64_t limit;
	bool localtime;
	bool live;
	unsigned threads;
	bool no_progress;
	uint64_t memory_mb;
	char *filter; /* from the command line, joined */
};

static const char short_opts[] = "r:R:M:t:f:Zo:6NqIs:n:A:abBO:c:hV";

static const struct option long_opts[] = {
	{"read", required_argument, NULL, 'r'},
	{"range", required_argument, NULL, 'R'},
	{"multi", required_argument, NULL, 'M'},
	{"time", required_argument, NULL, 't'},
	{"filter-file", required_argument, NULL, 'f'},
	{"syntax-check", no_argument, NULL, 'Z'},
	{"output", required_argument, NULL, 'o'},
	{"ipv6-long", no_argument, NULL, '6'},
	{"plain", no_argument, NULL, 'N'},
	{"quiet", no_argument, NULL, 'q'},
	{"info", no_argument, NULL, 'I'},
	{"stat", required_argument, NULL, 's'},
	{"top", required_argument, NULL, 'n'},
	{"aggregate", required_argument, NULL, 'A'},
	{"five-tuple", no_argument, NULL, 'a'},
	{"bidir", no_argument, NULL, 'b'},
	{"bidir-guess", no_argument, NULL, 'B'},
	{"order", required_argument, NULL, 'O'},
	{"count", required_argument, NULL, 'c'},
	{"localtime", no_argument, NULL, OPT_LOCALTIME},
	{"live", no_argument, NULL, OPT_LIVE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *fp)
{
	size_t i;

	fprintf(fp,
		"usage: nfq [options] [filter]\n"
		"       nfq COMMAND [args]\n"
		"\n"
		"Input:\n"
		"  -r, --read PATH        a flow file, or every file under a "
		"directory\n"
		"  -R, --range SPEC       DIR, DIR/FILE (and later), or "
		"DIR/F1:SUB/F2\n"
		"  -M, --multi B/D1:D2    several trees (exporters); -r/-R "
		"relative to each\n"
		"  -t, --time WINDOW      YYYY/MM/dd.hh:mm:ss[-...], ISO 8601 "
		"[/...], +N, -N\n"
		"      --live             also read a running collector's open "
		"files\n"
		"      --localtime        local time for -t, file names and "
		"output (else UTC)\n"
		"Filter:\n"
		"  filter                 nfdump filter expression (trailing "
		"arguments)\n"
		"  -f, --filter-file F    read the filter from F\n"
		"  -Z, --syntax-check     check the filter and exit\n"
		"Output:\n"
		"  -o, --output FMT       line long extended biline bilong csv "
		"json ndjson raw\n"
		"                         fmt:<%%tags> (nfdump's)\n"
		"  -6, --ipv6-long        full IPv6 addresses\n"
		"  -N, --plain            plain numbers (no 1.2 M)\n"
		"  -q, --quiet            no header, no summary\n"
		"Statistics:\n"
		"  -I, --info             totals from the file footers\n"
		"  -s, --stat TYPE[/ORD]  top-N: record srcip dstip ip srcport "
		"dstport port\n"
		"                         proto srcas dstas as inif outif if "
		"tos flags exporter ...\n"
		"                         ORD: flows packets bytes pps bps bpp\n"
		"  -n, --top N            entries of -s (10), records of -A/-O "
		"(all); 0: all\n"
		"  -A, --aggregate LIST   aggregate by srcip,dstport,srcip4/24,"
		"...\n"
		"  -a, --five-tuple       aggregate by the 5-tuple\n"
		"  -b, --bidir            aggregate both directions into one "
		"record\n"
		"  -B, --bidir-guess      -b, client to server guessed by "
		"port\n"
		"  -O, --order ORD        sort records: tstart tend flows "
		"packets bytes ...\n"
		"  -c, --count N          stop after N flows that pass\n"
		"Other:\n"
		"      --threads N        worker threads (default: the cores)\n"
		"      --no-progress      no progress line on a terminal\n"
		"      --memory MB        top-N tables past MB: counted in "
		"passes (1024; 0: off)\n"
		"  -h, --help, -V, --version\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
		fprintf(fp, "  %-22s %s\n", subcmds[i].name, subcmds[i].help);
}

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || end == s || *end != '\0' || s[0] == '-') {
		fprintf(stderr, "nfq: %s '%s': expected a number\n", opt, s);
		return -EINVAL;
	}
	*v = x;
	return 0;
}

/* Joins the trailing arguments into one filter expression. */
char *nfq_join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->limit = NFQ_UNLIMITED;
	o->top_n = 10;
	o->memory_mb = 1024;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) !=
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
		case 'f':
			o->filter_file = optarg;
			break;
		case 'Z':
			o->syntax_only = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case '6':
			o->out.v6_full = true;
			break;
		case 'N':
			o->out.plain = true;
			break;
		case 'q':
			o->out.quiet = true;
			break;
		case 'I':
			o->info = true;
			break;
		case 's':
			if (o->n_stats == NFQ_MAX_STATS) {
				fprintf(stderr, "nfq: -s: at most %d\n",
					NFQ_MAX_STATS);
				return -EINVAL;
			}
			o->stats[o->n_stats++] = optarg;
			break;
		case 'n':
			if (parse_u64("-n", optarg, &o->top_n))
				return -EINVAL;
			o->top_n_set = true;
			break;
		case 'A':
			o->aggregate = optarg;
			break;
		case 'a':
			o->five_tuple = true;
			break;
		case 'b':
			o->bidir = 1;
			break;
		case 'B':
			o->bidir = 2;
			break;
		case 'O':
			o->order = optarg;
			break;
		case 'c':
			if (parse_u64("-c", optarg, &o->limit))
				return -EINVAL;
			if (o->limit == 0) /* nfdump: 0 is no limit */
				o->limit = NFQ_UNLIMITED;
			break;
		case OPT_LOCALTIME:
			o->localtime = true;
			break;
		case OPT_LIVE:
			o->live = true;
			break;
		case OPT_THREADS:
			if (parse_u64("--threads", optarg, &v) || v == 0 ||
			    v > 1024) {
				fprintf(stderr,
					"nfq: --threads: 1 to 1024 expected\n");
				return -EINVAL;
			}
			o->threads = (unsigned)v;
			break;
		case OPT_NO_PROGRESS:
			o->no_progress = true;
			break;
		case OPT_MEMORY:
			if (parse_u64("--memory", optarg, &o->memory_mb))
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("nfq %s (flowyard), flow file format %d\n",
			       NFQ_VERSION, FY_STORE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	o->in.live = o->live;
	o->in.localtime = o->localtime;
	o->out.localtime = o->localtime;
	if (optind < argc) {
		if ((o->filter = nfq_join_args(argc - optind, argv + optind)) ==
		    NULL)
			return -ENOMEM;
	}
	return 0;
}

/* The filter text: the command line wins over -f, as in nfdump. */
int nfq_filter_text(const char *filter, const char *filter_file, char **out)
{
	FILE *fp;
	char *buf = NULL;
	size_t len = 0, cap = 0, k;
	char chunk[4096];

	*out = NULL;
	if (filter) {
		if (filter_file)
			fprintf(stderr,
				"nfq: the filter on the command line "
				"takes precedence over -f %s\n",
				filter_file);
		*out = strdup(filter);
		return *out ? 0 : -ENOMEM;
	}
	if (!filter_file)
		return 0;
	if ((fp = fopen(filter_file, "r")) == NULL) {
		fprintf(stderr, "nfq: -f %s: %s\n", filter_file,
			strerror(errno));
		return -errno;
	}
	while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (len + k + 1 > cap) {
			char *nb;

			cap = (len + k + 1) * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(fp);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + len, chunk, k);
		len += k;
	}
	if (ferror(fp)) {
		fprintf(stderr, "nfq: -f %s: read error\n", filter_file);
		free(buf);
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	if (buf == NULL && (buf = strdup("")) == NULL)
		return -ENOMEM;
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* -A's automatic output: nfdump's "%ts %td <fields> %pkt %byt %bps %bpp %fl". */
static int agg_format(const struct nfq_key *k, char *buf, size_t len)
{
	static const struct {
		enum nfq_field f;
		const char *tag;
	} tags[] = {
		{NFQ_F_PROTO, "%pr"},		{NFQ_F_SRC_PORT, "%sp"},
		{NFQ_F_DST_PORT, "%dp"},	{NFQ_F_SRC_AS, "%sas"},
		{NFQ_F_DST_AS, "%das"},		{NFQ_F_INPUT_IF, "%in"},
		{NFQ_F_OUTPUT_IF, "%out"},	{NFQ_F_TOS, "%tos"},
		{NFQ_F_TCP_FLAGS, "%flg"},	{NFQ_F_SRC_MASK, "%smk"},
		{NFQ_F_DST_MASK, "%dmk"},	{NFQ_F_VLAN, "%svln"},
		{NFQ_F_OUT_VLAN, "%dvln"},	{NFQ_F_NEXTHOP, "%nh"},
		{NFQ_F_BGP_NEXTHOP, "%nhb"},	{NFQ_F_EXPORTER, "%ra"},
		{NFQ_F_SRC_MAC, "%ismc"},	{NFQ_F_DST_MAC, "%idmc"},
		{NFQ_F_MPLS_LABEL, "%mpls1"},	{NFQ_F_DOMAIN, "%odid"},
		{NFQ_F_DIRECTION, "%dir"},	{NFQ_F_XLATE_SRC, "%xsa"},
		{NFQ_F_XLATE_DST, "%xda"},	{NFQ_F_XLATE_SRC_PORT, "%xsp"},
		{NFQ_F_XLATE_DST_PORT, "%xdp"},
	};
	size_t i, j, n;

	n = (size_t)snprintf(buf, len, "%%ts %%td ");
	for (i = 0; i < k->n && n < len; i++) {
		const struct nfq_key_part *p = &k->part[i];
		const char *tag = NULL;

		if (p->field == NFQ_F_SRC)
			tag = p->use_flow_mask ? "%sn" : "%sa";
		else if (p->field == NFQ_F_DST)
			tag = p->use_flow_mask ? "%dn" : "%da";
		for (j = 0; tag == NULL && j < sizeof(tags) / sizeof(tags[0]);
		     j++)
			if (tags[j].f == p->field)
				tag = tags[j].tag;
		if (tag)
			n += (size_t)snprintf(buf + n, len - n, " %s", tag);
	}
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n,
				      "  %%pkt %%byt %%bps %%bpp %%fl");
	return n < len ? 0 : -ENAMETOOLONG;
}

static double tv_s(const struct timeval *t)
{
	return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

static void fill_times(struct nfq_summary *s, const struct timespec *t0)
{
	struct timespec t1;
	struct rusage ru;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->wall_s = (double)(t1.tv_sec - t0->tv_sec) +
		    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		s->user_s = tv_s(&ru.ru_utime);
		s->sys_s = tv_s(&ru.ru_stime);
	}
}

/* +N/-N: the data's bounds come from the footers of the files. */
void nfq_resolve_relative(struct nfq_window *w, const struct nfq_file *f,
			  size_t n)
{
	struct fy_store_stats all = {0};
	size_t i;

	for (i = 0; i < n; i++) {
		struct fy_store_reader *rd;

		if (fy_store_reader_open(&rd, f[i].path, NULL, 0) != 0)
			continue;
		fy_store_stats_merge(&all, &fy_store_reader_info(rd)->stats);
		fy_store_reader_close(rd);
	}
	nfq_window_resolve(w, all.first_ms, all.last_ms);
}

struct sort_ctx {
	const struct fy_flow *flows;
	enum nfq_order o;
};

/* Ranks kept flows in the context's order; ties keep file order. */
static int cmp_flow_idx(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	struct nfq_counters cx = {0}, cy = {0};
	uint64_t vx, vy;

	nfq_counters_add_flow(&cx, &c->flows[x]);
	nfq_counters_add_flow(&cy, &c->flows[y]);
	vx = nfq_order_value(c->o, &cx);
	vy = nfq_order_value(c->o, &cy);
	if (vx != vy) {
		if (nfq_order_ascending(c->o))
			return vx < vy ? -1 : 1;
		return vx > vy ? -1 : 1;
	}
	return x < y ? -1 : x > y;
}

static int print_sorted(struct nfq_out *out, const struct nfq_result *res,
			enum nfq_order o, uint64_t limit)
{
	size_t *idx, i, n = res->n_sorted;

	if (n && (idx = malloc(n * sizeof(*idx))) == NULL)
		return -ENOMEM;
	if (n == 0)
		idx = NULL;
	for (i = 0; i < n; i++)
		idx[i] = i;
	if (n > 1) {
		struct sort_ctx ctx = {res->sorted, o};

		qsort_r(idx, n, sizeof(*idx), cmp_flow_idx, &ctx);
	}
	for (i = 0; i < n && (limit == 0 || i < limit); i++)
		nfq_out_record(out, &res->sorted[idx[i]], 1);
	free(idx);
	return 0;
}

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > 64 ? 64 : (unsigned)n;
}

/* The columns a run decodes: what filter, output and sinks read. */
static uint64_t query_cols(const struct nfq_query *q, const struct fy_filter *f,
			   const struct nfq_out *out)
{
	uint64_t c = COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS) | COL(BYTES);
	size_t i;

	if (f)
		c |= fy_filter_columns(f);
	if (q->list)
		c |= out->cols;
	if (q->aggregate) {
		c |= q->agg_key.cols | COL(TCP_FLAGS) | COL(PROTO);
		if (q->bidir)
			c |= COL(OUT_PACKETS) | COL(OUT_BYTES) | COL(SRC) |
			     COL(DST) | COL(SRC_PORT) | COL(DST_PORT);
	}
	for (i = 0; i < q->n_stats; i++) {
		/* a record prints its key and counters, nothing else */
		if (q->stat_specs[i].type == NFQ_ST_RECORD)
			c |= q->record_key.cols | COL(TCP_FLAGS) | COL(PROTO);
		else
			c |= nfq_stat_cols(q->stat_specs[i].type);
	}
	/* ICMP type/code move into the port for printing and keys */
	if (c & COL(DST_PORT))
		c |= COL(PROTO) | COL(ICMP_TYPE) | COL(ICMP_CODE);
	if (c & (COL(SRC) | COL(DST)))
		c |= COL(FAMILY);
	return c;
}

static int run_query(struct opts *o)
{
	char err[NFQ_ERR_MAX] = "";
	struct nfq_query q;
	struct nfq_result res;
	struct nfq_out out;
	struct fy_filter *filter = NULL;
	struct nfq_file *files = NULL;
	size_t n_files = 0, i;
	struct timespec t0;
	enum nfq_order order = NFQ_ORD_NONE;
	char *ftext = NULL, aggfmt[512];
	bool out_ready = false, listing;
	int r, rc = NFQ_EXIT_FAIL;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&q, 0, sizeof(q));
	memset(&res, 0, sizeof(res));

	/* the filter first: -Z needs nothing else */
	if ((r = nfq_filter_text(o->filter, o->filter_file, &ftext)) != 0)
		goto out;
	if (ftext && fy_filter_compile(ftext, &filter, err, sizeof(err))) {
		fprintf(stderr, "nfq: filter: %s\n", err);
		goto out;
	}
	if (o->syntax_only) {
		rc = 0;
		goto out;
	}

	/* what to compute */
	for (i = 0; i < o->n_stats; i++) {
		if (nfq_stat_parse(o->stats[i], &q.stat_specs[i], err,
				   sizeof(err))) {
			fprintf(stderr, "nfq: %s\n", err);
			goto out;
		}
	}
	q.n_stats = o->n_stats;
	if (o->aggregate) {
		if (nfq_key_parse(&q.agg_key, o->aggregate, err, sizeof(err))) {
			fprintf(stderr, "nfq: %s\n", err);
			goto out;
		}
	} else {
		nfq_key_5tuple(&q.agg_key);
	}
	q.record_key = q.agg_key;
	q.aggregate = !q.n_stats && (o->aggregate || o->five_tuple || o->bidir);
	q.bidir = o->bidir;
	if (o->order && nfq_order_parse(o->order, &order)) {
		fprintf(stderr,
			"nfq: -O '%s': unknown order (tstart, tend, flows, "
			"packets, bytes, pps, bps, bpp, duration)\n",
			o->order);
		goto out;
	}
	listing = !o->info && !q.n_stats && !q.aggregate;
	q.list = listing;
	q.sort_buffer = listing && o->order;
	q.limit = o->limit;

	/* output */
	if (o->output) {
		if (nfq_format_parse(o->output, &o->out.format, &o->out.fmt)) {
			fprintf(stderr,
				"nfq: -o '%s': unknown format (line, long, "
				"extended, biline, bilong, csv, json, ndjson, "
				"raw, fmt:...)\n",
				o->output);
			goto out;
		}
	} else if (o->bidir && q.aggregate) {
		o->out.format = NFQ_O_BILINE;
	} else if (o->aggregate && !o->five_tuple) {
		if (agg_format(&q.agg_key, aggfmt, sizeof(aggfmt))) {
			fprintf(stderr, "nfq: -A: too many elements\n");
			goto out;
		}
		o->out.format = NFQ_O_FMT;
		o->out.fmt = aggfmt;
	} else {
		o->out.format = NFQ_O_LINE;
	}
	if (nfq_out_init(&out, &o->out, stdout, err, sizeof(err))) {
		fprintf(stderr, "nfq: %s\n", err);
		goto out;
	}
	out_ready = true;

	/* input */
	if (o->time) {
		if (nfq_window_parse(o->time, o->localtime, &q.window, err,
				     sizeof(err))) {
			fprintf(stderr, "nfq: %s\n", err);
			goto out;
		}
	}
	o->in.window = &q.window;
	if (nfq_input_select(&o->in, &files, &n_files, err, sizeof(err))) {
		fprintf(stderr, "nfq: %s\n", err);
		goto out;
	}
	if (n_files == 0)
		fprintf(stderr, "nfq: no flow files to read\n");
	if (q.window.rel)
		nfq_resolve_relative(&q.window, files, n_files);

	if (o->info) {
		r = nfq_info(files, n_files, &q.window, &out, err, sizeof(err));
		if (r)
			fprintf(stderr, "nfq: %s\n", err);
		rc = r ? NFQ_EXIT_FAIL : 0;
		goto out;
	}

	q.files = files;
	q.n_files = n_files;
	q.filter = filter;
	q.out = &out;
	q.threads = o->threads ? o->threads : default_threads();
	q.top_n = o->top_n;
	q.agg_order = order;
	q.agg_top = o->top_n_set ? o->top_n : 0;
	/* only a bounded top N can be counted in partitions */
	for (i = 0; i < q.n_stats; i++)
		if (q.stat_specs[i].type == NFQ_ST_RECORD && q.top_n)
			q.mem_budget = o->memory_mb << 20;
	if (q.aggregate && !q.bidir && q.agg_top)
		q.mem_budget = o->memory_mb << 20;
	q.cols = query_cols(&q, filter, &out);
	/* a listing on the terminal would mix with the progress line */
	q.progress = !o->no_progress && isatty(STDERR_FILENO) &&
		     (!listing || q.sort_buffer || !isatty(STDOUT_FILENO));

	if (listing && !q.sort_buffer)
		nfq_out_header(&out);
	r = nfq_scan(&q, &res, err, sizeof(err));
	if (r) {
		nfq_out_records_end(&out);
		fflush(stdout);
		fprintf(stderr, "nfq: %s\n", err);
		goto out;
	}
	fill_times(&res.sum, &t0);
	if (q.window.set) {
		res.sum.win_from_ms = q.window.from_ms;
		res.sum.win_to_ms = q.window.to_ms;
	}
	if (q.n_stats) {
		r = nfq_out_stats(&out, res.stats, res.n_stats, o->top_n,
				  &res.sum);
	} else if (q.aggregate) {
		/* a bidirectional record ranks by both directions (nfdump) */
		if (q.bidir && order == NFQ_ORD_PACKETS)
			order = NFQ_ORD_TPACKETS;
		if (q.bidir && order == NFQ_ORD_BYTES)
			order = NFQ_ORD_TBYTES;
		r = nfq_out_agg(&out, &res.agg, order,
				o->top_n_set ? o->top_n : 0);
		if (!r)
			nfq_out_summary(&out, &res.sum);
	} else {
		if (q.sort_buffer) {
			nfq_out_header(&out);
			r = print_sorted(&out, &res, order,
					 o->top_n_set ? o->top_n : 0);
		}
		nfq_out_records_end(&out);
		if (res.sum.flows == 0 && !o->out.quiet &&
		    !nfq_out_is_json(&out) && o->out.format != NFQ_O_CSV)
			fputs("No matching flows\n", stdout);
		nfq_out_summary(&out, &res.sum);
	}
	if (r) {
		fprintf(stderr, "nfq: out of memory\n");
		goto out;
	}
	rc = res.file_errors ? NFQ_EXIT_FAIL : 0;
out:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "nfq: writing the output: %s\n",
			strerror(errno));
		rc = NFQ_EXIT_FAIL;
	}
	nfq_result_free(&res);
	if (out_ready)
		nfq_out_free(&out);
	nfq_input_free(files, n_files);
	fy_filter_free(filter);
	free(ftext);
	return rc;
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 20];
	struct opts o;
	size_t i;
	int rc;

	/* a big stdout buffer: listings write millions of short lines */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
			if (strcmp(argv[1], subcmds[i].name) == 0)
				return subcmds[i].run(argc - 1, argv + 1);
	}
	if (parse_opts(argc, argv, &o) != 0)
		return NFQ_EXIT_FAIL;
	rc = run_query(&o);
	free(o.filter);
	return rc;
}
