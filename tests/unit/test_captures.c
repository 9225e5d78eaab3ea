/*
 * test_captures.c - our decoder against tshark on every export capture.
 *
 * For each line of tests/data/netflow/expected.tsv (what tshark 4.0.17
 * decodes, made by tests/tools/tshark_expected.py) the capture is read with
 * the pcap reader and every UDP payload goes to one decoder, the packet's
 * source address and port as the exporter, its capture time as "now".
 * We must find at least as many flows as tshark, and exactly as many unless
 * the capture is a known difference below. Every sample of
 * tests/data/netflow/samples.tsv (tshark's values for the first flow
 * records, made by tests/tools/tshark_samples.py) must be among our flows.
 * Run from the repository root; one cmocka test per capture.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "nf_decode.h"
#include "pcap_udp.h"

#define NETFLOW_DIR "tests/data/netflow/"
#ifndef EXPECTED_TSV
#define EXPECTED_TSV NETFLOW_DIR "expected.tsv"
#endif
#ifndef SAMPLES_TSV
#define SAMPLES_TSV NETFLOW_DIR "samples.tsv"
#endif
#define MAX_CAPTURES 128
#define MAX_LINE 1024

/*
 * Where we differ from tshark on purpose, finding more flows than it does:
 * more than tshark's count is checked, and exactly `ours` when not zero.
 */
static const struct known_diff {
	const char *capture;
	uint64_t ours;
	const char *reason;
} known_diffs[] = {
	{"logstash-codec-netflow/pcap/nf9_h3c_netstream_varstring.pcap", 0,
	 "H3C sends RFC 7011 variable-length strings in NetFlow v9: tshark "
	 "reports the data set malformed, we decode it"},
};

/* Sample columns, in the order of samples.tsv after capture/frame/set/rec. */
enum col {
	C_SRC,
	C_DST,
	C_SPORT,
	C_DPORT,
	C_PROTO,
	C_PACKETS,
	C_BYTES,
	C_FIRST,
	C_LAST,
	NCOLS
};

static const char *const col_names[NCOLS] = {
	"src",	   "dst",   "sport",	"dport",   "proto",
	"packets", "bytes", "first_ms", "last_ms",
};

struct sample {
	int line;
	char frame[16];
	char cols[NCOLS][128];
};

struct capture {
	char path[256]; /* relative to NETFLOW_DIR */
	uint64_t tshark_flows;
	uint64_t tshark_options;
	uint64_t tshark_undecoded;
	struct sample *samples;
	size_t nsamples;
};

static struct capture captures[MAX_CAPTURES];
static size_t ncaptures;

/* The flows one capture produced. */
struct flows {
	struct fy_flow *v;
	size_t n, cap;
};

static void collect(void *arg, const struct fy_flow *f, size_t n)
{
	struct flows *fl = arg;

	if (fl->n + n > fl->cap) {
		size_t cap = (fl->n + n) * 2;
		struct fy_flow *v = realloc(fl->v, cap * sizeof(*v));

		if (v == NULL)
			fail_msg("out of memory");
		fl->v = v;
		fl->cap = cap;
	}
	memcpy(fl->v + fl->n, f, n * sizeof(*f));
	fl->n += n;
}

/* ---- reading the tables ---- */

/* Before the tests run, cmocka's failures do not apply: say it and stop. */
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Splits a line on tabs in place; returns the number of fields. */
static size_t split_tabs(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		fields[n++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

static uint64_t parse_u64(const char *s, const char *file, int line)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end != '\0')
		die("%s:%d: not a number: '%s'", file, line, s);
	return v;
}

static struct capture *find_capture(const char *path)
{
	size_t i;

	for (i = 0; i < ncaptures; i++)
		if (strcmp(captures[i].path, path) == 0)
			return &captures[i];
	return NULL;
}

static void copy_field(char *dst, size_t len, const char *src, const char *file,
		       int line)
{
	if (strlen(src) >= len)
		die("%s:%d: field too long: '%s'", file, line, src);
	strcpy(dst, src);
}

static void read_expected(void)
{
	FILE *f = fopen(EXPECTED_TSV, "r");
	char buf[MAX_LINE], *fld[8];
	int line = 0;

	if (f == NULL)
		die("cannot open %s (run from the repository root)",
		    EXPECTED_TSV);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		struct capture *c;

		line++;
		if (buf[0] == '#' || buf[0] == '\n')
			continue;
		if (split_tabs(buf, fld, 8) != 4)
			die("%s:%d: want 4 columns", EXPECTED_TSV, line);
		if (ncaptures == MAX_CAPTURES)
			die("%s: more than %d captures", EXPECTED_TSV,
			    MAX_CAPTURES);
		c = &captures[ncaptures++];
		copy_field(c->path, sizeof(c->path), fld[0], EXPECTED_TSV,
			   line);
		c->tshark_flows = parse_u64(fld[1], EXPECTED_TSV, line);
		c->tshark_options = parse_u64(fld[2], EXPECTED_TSV, line);
		c->tshark_undecoded = parse_u64(fld[3], EXPECTED_TSV, line);
	}
	fclose(f);
}

static void read_samples(void)
{
	FILE *f = fopen(SAMPLES_TSV, "r");
	char buf[MAX_LINE], *fld[4 + NCOLS + 1];
	int line = 0, i;

	if (f == NULL)
		die("cannot open %s", SAMPLES_TSV);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		struct capture *c;
		struct sample *s;

		line++;
		if (buf[0] == '#' || buf[0] == '\n')
			continue;
		if (split_tabs(buf, fld, 4 + NCOLS + 1) != 4 + NCOLS)
			die("%s:%d: want %d columns", SAMPLES_TSV, line,
			    4 + NCOLS);
		c = find_capture(fld[0]);
		if (c == NULL)
			die("%s:%d: %s is not in %s", SAMPLES_TSV, line, fld[0],
			    EXPECTED_TSV);
		s = realloc(c->samples, (c->nsamples + 1) * sizeof(*s));
		if (s == NULL)
			die("out of memory");
		c->samples = s;
		s = &c->samples[c->nsamples++];
		s->line = line;
		copy_field(s->frame, sizeof(s->frame), fld[1], SAMPLES_TSV,
			   line);
		for (i = 0; i < NCOLS; i++)
			copy_field(s->cols[i], sizeof(s->cols[i]), fld[4 + i],
				   SAMPLES_TSV, line);
	}
	fclose(f);
}

/* ---- matching a sample ---- */

/* Calls `match` on each '|'-separated alternative; '-' matches anything. */
static bool any_of(const char *spec, const struct fy_flow *f, enum col c,
		   bool (*match)(const char *, const struct fy_flow *,
				 enum col))
{
	char alt[128];
	const char *p = spec;
	size_t n;

	if (strcmp(spec, "-") == 0)
		return true;
	while (*p != '\0') {
		n = strcspn(p, "|");
		if (n >= sizeof(alt))
			return false;
		memcpy(alt, p, n);
		alt[n] = '\0';
		if (match(alt, f, c))
			return true;
		p += n;
		if (*p == '|')
			p++;
	}
	return false;
}

static bool match_addr(const char *s, const struct fy_flow *f, enum col c)
{
	struct fy_addr a;

	if (fy_addr_parse(s, &a, NULL) != 0)
		return false;
	return memcmp(&a, c == C_SRC ? &f->src : &f->dst, sizeof(a)) == 0;
}

static uint64_t flow_value(const struct fy_flow *f, enum col c)
{
	switch (c) {
	case C_SPORT:
		return f->src_port;
	case C_DPORT:
		return f->dst_port;
	case C_PROTO:
		return f->proto;
	case C_PACKETS:
		return f->packets;
	case C_BYTES:
		return f->bytes;
	case C_FIRST:
		return f->first_ms;
	case C_LAST:
		return f->last_ms;
	case C_SRC:
	case C_DST:
	case NCOLS:
		break;
	}
	return UINT64_MAX;
}

static bool match_u64(const char *s, const struct fy_flow *f, enum col c)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	return end != s && *end == '\0' && v == flow_value(f, c);
}

static bool col_matches(const struct sample *s, const struct fy_flow *f,
			enum col c)
{
	if (c == C_SRC || c == C_DST)
		return any_of(s->cols[c], f, c, match_addr);
	return any_of(s->cols[c], f, c, match_u64);
}

static int score(const struct sample *s, const struct fy_flow *f)
{
	int c, n = 0;

	for (c = 0; c < NCOLS; c++)
		n += col_matches(s, f, (enum col)c);
	return n;
}

static void print_flow(const char *what, const struct fy_flow *f)
{
	char src[FY_ADDR_STRLEN], dst[FY_ADDR_STRLEN];

	print_message("  %s %s %s %u %u %u %" PRIu64 " %" PRIu64 " %" PRIu64
		      " %" PRIu64 "\n",
		      what, fy_addr_str(&f->src, src, sizeof(src)),
		      fy_addr_str(&f->dst, dst, sizeof(dst)), f->src_port,
		      f->dst_port, f->proto, f->packets, f->bytes, f->first_ms,
		      f->last_ms);
}

/* Looks for the sample; says what is closest if it is not there. */
static bool find_sample(const struct capture *cap, const struct sample *s,
			const struct flows *fl)
{
	const struct fy_flow *best = NULL;
	int c, sc, best_sc = -1;
	size_t i;

	for (i = 0; i < fl->n; i++) {
		sc = score(s, &fl->v[i]);
		if (sc == NCOLS)
			return true;
		if (sc > best_sc) {
			best_sc = sc;
			best = &fl->v[i];
		}
	}
	print_message("%s: sample of %s line %d (frame %s) not found:\n",
		      cap->path, SAMPLES_TSV, s->line, s->frame);
	print_message("  tshark");
	for (c = 0; c < NCOLS; c++)
		print_message(" %s", s->cols[c]);
	print_message("\n");
	if (best == NULL)
		return false;
	print_flow("closest", best);
	print_message("  differs in:");
	for (c = 0; c < NCOLS; c++)
		if (!col_matches(s, best, (enum col)c))
			print_message(" %s", col_names[c]);
	print_message("\n");
	return false;
}

/* ---- one capture ---- */

/*
 * flow.h: `family` says which family src and dst are. A record that carries
 * both IPv4 and IPv6 address fields (inner and outer headers, or an unused
 * family left at zero) must not end up with IPv4 addresses and family 6.
 * Flows with no address at all are not judged.
 */
static bool family_consistent(const struct fy_flow *f)
{
	bool v4 = fy_addr_is_v4(&f->src) && fy_addr_is_v4(&f->dst);

	if (fy_addr_is_zero(&f->src) && fy_addr_is_zero(&f->dst))
		return true;
	return f->family == (v4 ? FY_AF_INET : FY_AF_INET6);
}

static const struct known_diff *known_diff_of(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(known_diffs) / sizeof(known_diffs[0]); i++)
		if (strcmp(known_diffs[i].capture, path) == 0)
			return &known_diffs[i];
	return NULL;
}

/* Decodes every UDP payload of the capture into `fl`. */
static void decode_capture(const char *path, struct flows *fl,
			   struct fy_nfdec_totals *totals)
{
	char err[512];
	struct fy_pcap_udp *p = fy_pcap_udp_open(path, err, sizeof(err));
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_udp_pkt k;
	struct fy_nf_src src;
	int rc;

	if (p == NULL)
		fail_msg("%s", err);
	assert_non_null(d);
	while ((rc = fy_pcap_udp_next(p, &k)) == 1) {
		memset(&src, 0, sizeof(src));
		src.addr = k.src;
		src.port = k.sport;
		/* a status < 0 is counted in the totals, looked at below */
		(void)fy_nfdec_decode(d, &src, k.payload, k.len, k.ts_ms,
				      collect, fl);
	}
	if (rc < 0)
		fail_msg("%s", fy_pcap_udp_error(p));
	*totals = *fy_nfdec_totals(d);
	fy_nfdec_free(d);
	fy_pcap_udp_close(p);
}

static void test_capture(void **state)
{
	const struct capture *cap = *state;
	const struct known_diff *kd = known_diff_of(cap->path);
	char path[512];
	struct flows fl = {NULL, 0, 0};
	struct fy_nfdec_totals t;
	size_t i, missing = 0, mixed = 0;

	snprintf(path, sizeof(path), "%s%s", NETFLOW_DIR, cap->path);
	decode_capture(path, &fl, &t);
	print_message("%s: tshark %" PRIu64 " flows, ours %zu (packets %" PRIu64
		      ", malformed %" PRIu64 ", bad version %" PRIu64 ")\n",
		      cap->path, cap->tshark_flows, fl.n, t.packets,
		      t.malformed, t.bad_version);
	for (i = 0; i < cap->nsamples; i++)
		missing += !find_sample(cap, &cap->samples[i], &fl);
	for (i = 0; i < fl.n; i++)
		mixed += !family_consistent(&fl.v[i]);
	if (mixed > 0)
		fail_msg("%s: %zu flows whose family is not the one of "
			 "their addresses",
			 cap->path, mixed);
	free(fl.v);

	if (fl.n < cap->tshark_flows)
		fail_msg("%s: %zu flows, fewer than tshark's %" PRIu64,
			 cap->path, fl.n, cap->tshark_flows);
	if (kd == NULL && fl.n != cap->tshark_flows)
		fail_msg("%s: %zu flows, tshark has %" PRIu64, cap->path, fl.n,
			 cap->tshark_flows);
	if (kd != NULL && fl.n == cap->tshark_flows)
		fail_msg("%s: %zu flows, no more than tshark though %s",
			 cap->path, fl.n, kd->reason);
	if (kd != NULL && kd->ours != 0 && fl.n != kd->ours)
		fail_msg("%s: %zu flows, we expect %" PRIu64 " (%s)", cap->path,
			 fl.n, kd->ours, kd->reason);
	if (missing > 0)
		fail_msg("%s: %zu of %zu samples not found", cap->path, missing,
			 cap->nsamples);
}

int main(void)
{
	static struct CMUnitTest tests[MAX_CAPTURES];
	size_t i;
	int r;

	read_expected();
	read_samples();
	if (ncaptures == 0)
		die("%s: no capture listed", EXPECTED_TSV);
	for (i = 0; i < ncaptures; i++) {
		tests[i].name = captures[i].path;
		tests[i].test_func = test_capture;
		tests[i].initial_state = &captures[i];
	}
	r = _cmocka_run_group_tests("captures", tests, ncaptures, NULL, NULL);
	for (i = 0; i < ncaptures; i++)
		free(captures[i].samples);
	return r;
}
