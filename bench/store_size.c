/*
 * store_size.c - bytes per flow and speed of the flow store.
 *
 * Makes synthetic but realistic flows (a few hundred hosts picked with a
 * zipf law, zipf-ranked services, ephemeral client ports, heavy-tailed
 * packet counts and durations, flows arriving in export order so first_ms
 * is only roughly monotonic), writes them with LZ4 fast and LZ4-HC, reads
 * them back (all columns, then 3), and prints bytes/flow and flows/s.
 *
 *   store_size [flows] [ipv6_percent] [dir]
 *
 * Deterministic: the same arguments give the same files.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flow.h"
#include "store.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static double unif(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0; /* [0, 1) */
}

static double lognorm(double median, double sigma)
{
	double u1 = unif() + 1e-12, u2 = unif();

	return median * exp(sigma * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

struct zipf {
	double *cdf;
	size_t n;
};

static int zipf_init(struct zipf *z, size_t n, double s)
{
	double sum = 0;
	size_t i;

	if ((z->cdf = malloc(n * sizeof(double))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		sum += 1 / pow((double)(i + 1), s);
	z->cdf[0] = 0;
	for (i = 0; i < n; i++)
		z->cdf[i] = (i ? z->cdf[i - 1] : 0) +
			    1 / pow((double)(i + 1), s) / sum;
	z->n = n;
	return 0;
}

static size_t zipf_pick(const struct zipf *z)
{
	double u = unif();
	size_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct host {
	struct fy_addr a;
	uint8_t family;
	uint32_t as;
	uint8_t mask;
};

struct service {
	uint16_t port;
	uint8_t proto;
	double pkts_median; /* packets of a typical flow */
	unsigned pkt_size;  /* average bytes per packet */
};

static const struct service services[] = {
	{443, 6, 20, 900},   {80, 6, 12, 700},	   {53, 17, 1, 90},
	{443, 17, 30, 1100}, {123, 17, 1, 76},	   {22, 6, 40, 200},
	{993, 6, 15, 300},   {5223, 6, 6, 150},	   {8080, 6, 10, 600},
	{3478, 17, 50, 200}, {25, 6, 15, 500},	   {587, 6, 12, 400},
	{1194, 17, 80, 600}, {51820, 17, 60, 500}, {853, 6, 4, 120},
	{9100, 6, 30, 1200}, {0, 1, 1, 84},	   {445, 6, 30, 800},
	{3389, 6, 100, 400}, {8443, 6, 20, 900},
};
#define NSERV (sizeof(services) / sizeof(services[0]))

#define N_IN 300
#define N_EX 600

static struct host in_hosts[N_IN], ex_hosts[N_EX];

static void make_hosts(int v6_pct)
{
	static const uint32_t ases[] = {15169, 16509, 13335, 8075,  32934,
					20940, 2906,  714,   3356,  1299,
					174,   6939,  24940, 16276, 14061};
	size_t i;
	uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};

	for (i = 0; i < N_IN; i++) {
		struct host *h = &in_hosts[i];

		if ((int)(rnd() % 100) < v6_pct) {
			memcpy(h->a.b, v6, 16);
			h->a.b[7] = (uint8_t)(i / 250 + 1);
			rnd();
			for (int k = 8; k < 16; k++)
				h->a.b[k] = (uint8_t)rnd();
			h->family = FY_AF_INET6;
			h->mask = 64;
		} else {
			fy_addr_set_v4(&h->a, 0xc0a80000u |
						      (uint32_t)(i / 250) << 8 |
						      (uint32_t)(i % 250 + 2));
			h->family = FY_AF_INET;
			h->mask = 24;
		}
		h->as = 0;
	}
	for (i = 0; i < N_EX; i++) {
		struct host *h = &ex_hosts[i];

		h->as = ases[rnd() % (sizeof(ases) / sizeof(ases[0]))];
		if ((int)(rnd() % 100) < v6_pct) {
			h->a.b[0] = 0x26;
			for (int k = 1; k < 16; k++)
				h->a.b[k] = (uint8_t)rnd();
			h->family = FY_AF_INET6;
			h->mask = 48;
		} else {
			fy_addr_set_v4(&h->a, (uint32_t)rnd());
			h->family = FY_AF_INET;
			h->mask = (uint8_t)(16 + rnd() % 9);
		}
	}
}

static const uint8_t tcp_flag_mix[] = {0x1b, 0x1b, 0x1b, 0x1f, 0x1a, 0x18,
				       0x10, 0x12, 0x02, 0x14, 0x19, 0x11};

/* One flow exported at t_export (ms). */
static void make_flow(struct fy_flow *f, uint64_t t_export,
		      const struct zipf *zin, const struct zipf *zex,
		      const struct zipf *zsv, const struct fy_addr *exporter,
		      const struct fy_addr *gw)
{
	const struct service *sv = &services[zipf_pick(zsv)];
	const struct host *in = &in_hosts[zipf_pick(zin)];
	const struct host *ex = &ex_hosts[zipf_pick(zex)];
	bool reply = rnd() & 1, v6;
	uint64_t dur, lag;
	double pk;

	memset(f, 0, sizeof(*f));
	/* A v6 host talks to a v6 peer: pick again until families match. */
	for (int k = 0; k < 20 && ex->family != in->family; k++)
		ex = &ex_hosts[zipf_pick(zex)];
	if (ex->family != in->family)
		in = &in_hosts[0], ex = &ex_hosts[0];
	v6 = in->family == FY_AF_INET6;
	pk = lognorm(sv->pkts_median, 1.6);
	f->packets = pk < 1 ? 1 : (uint64_t)pk;
	f->bytes = f->packets *
		   (uint64_t)(sv->pkt_size / 2 + rnd() % sv->pkt_size);
	dur = f->packets <= 1 ? 0 : (uint64_t)lognorm(800, 2.2);
	if (dur > 300000)
		dur = 300000;		       /* active timeout */
	lag = (rnd() % 4) ? rnd() % 15000 : 0; /* idle timeout or FIN */
	f->last_ms = t_export - lag;
	f->first_ms = f->last_ms - dur;
	f->proto = sv->proto;
	f->family = in->family;
	if (sv->proto == 1) {
		f->icmp_type = (rnd() & 1) ? 8 : 0;
		f->proto = v6 ? 58 : 1;
	}
	if (!reply) {
		f->src = in->a;
		f->dst = ex->a;
		f->src_port = (uint16_t)(32768 + rnd() % 28232);
		f->dst_port = sv->port;
		f->input_if = 2;
		f->output_if = 1;
		f->dst_as = ex->as;
		f->src_mask = in->mask;
		f->dst_mask = ex->mask;
		f->nexthop = *gw;
		f->direction = 0;
	} else {
		f->src = ex->a;
		f->dst = in->a;
		f->src_port = sv->port;
		f->dst_port = (uint16_t)(32768 + rnd() % 28232);
		f->input_if = 1;
		f->output_if = 2;
		f->src_as = ex->as;
		f->src_mask = ex->mask;
		f->dst_mask = in->mask;
		if (!v6)
			fy_addr_set_v4(&f->nexthop, 0);
	}
	if (sv->proto == 1)
		f->src_port = f->dst_port = 0;
	if (f->proto == 6)
		f->tcp_flags = tcp_flag_mix[rnd() % sizeof(tcp_flag_mix)];
	f->tos = (rnd() % 10) ? 0 : ((rnd() & 1) ? 0x20 : 0xb8);
	f->end_reason = dur >= 300000 ? FY_END_ACTIVE
				      : (lag ? FY_END_IDLE : FY_END_EOF);
	f->exporter = *exporter;
	f->exporter_family = FY_AF_INET;
	f->exporter_port = 2055;
	f->nf_version = FY_NF_V9;
	f->sampling_interval = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const struct fy_flow *f, size_t n,
		      int level, double *secs)
{
	struct fy_store_opts o = {
		.level = level, .ident = "bench", .no_fsync = true};
	struct fy_store_writer *w;
	char err[FY_STORE_MSG_MAX];
	double t0 = now_s();
	size_t i, k;
	int r;

	if ((r = fy_store_writer_open(&w, path, &o, err, sizeof(err))) != 0) {
		fprintf(stderr, "%s\n", err);
		return r;
	}
	/* Batches of 64, as a collector would hand over a packet's flows. */
	for (i = 0; i < n; i += k) {
		k = n - i < 64 ? n - i : 64;
		if ((r = fy_store_writer_append(w, f + i, k)) != 0)
			break;
	}
	if ((r = fy_store_writer_close(w, err, sizeof(err))) != 0)
		fprintf(stderr, "%s\n", err);
	*secs = now_s() - t0;
	return r;
}

static int read_file(const char *path, uint64_t mask, const struct fy_flow *ref,
		     size_t n, double *secs)
{
	struct fy_store_reader *rd;
	struct fy_flow buf[1024];
	char err[FY_STORE_MSG_MAX];
	size_t got = 0;
	double t0 = now_s();
	long k;
	int r;

	if ((r = fy_store_reader_open(&rd, path, err, sizeof(err))) != 0) {
		fprintf(stderr, "%s\n", err);
		return r;
	}
	fy_store_reader_select(rd, mask);
	while ((k = fy_store_reader_next(rd, buf, 1024)) > 0) {
		/* Spot-check what came back against what went in. */
		if (mask == FY_STORE_COLS_ALL &&
		    memcmp(&buf[k - 1], &ref[got + (size_t)k - 1],
			   sizeof(buf[0])) != 0) {
			fprintf(stderr, "mismatch at flow %zu\n", got);
			r = -1;
			break;
		}
		got += (size_t)k;
	}
	*secs = now_s() - t0;
	if (k < 0 || got != n) {
		fprintf(stderr, "read %zu of %zu flows (%ld)\n", got, n, k);
		r = -1;
	}
	fy_store_reader_close(rd);
	return r;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	int v6_pct = argc > 2 ? atoi(argv[2]) : 0;
	const char *dir = argc > 3 ? argv[3] : "/tmp";
	static const int levels[] = {0, 4, 9};
	const uint64_t three = FY_STORE_MASK(FY_STORE_COL_SRC) |
			       FY_STORE_MASK(FY_STORE_COL_DST) |
			       FY_STORE_MASK(FY_STORE_COL_BYTES);
	struct zipf zin, zex, zsv;
	struct fy_addr exporter, gw;
	struct fy_flow *flows;
	char path[4096];
	uint64_t t = 1700000000000ull;
	size_t i;
	int rc = 0;

	if (n == 0 || (flows = malloc(n * sizeof(*flows))) == NULL ||
	    zipf_init(&zin, N_IN, 1.1) || zipf_init(&zex, N_EX, 1.0) ||
	    zipf_init(&zsv, NSERV, 1.2))
		return 1;
	make_hosts(v6_pct);
	fy_addr_set_v4(&exporter, 0x0a000001);
	fy_addr_set_v4(&gw, 0xc0a800fe);
	for (i = 0; i < n; i++) {
		t += (uint64_t)(-log(unif() + 1e-12) * 0.5); /* ~2000 flows/s */
		make_flow(&flows[i], t, &zin, &zex, &zsv, &exporter, &gw);
	}
	printf("%zu flows, %d%% IPv6, sizeof(struct fy_flow) = %zu\n", n,
	       v6_pct, sizeof(struct fy_flow));
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct stat sb;
		double tw, tr_all, tr_3;

		snprintf(path, sizeof(path), "%s/store_size.%d.fy", dir,
			 levels[i]);
		if (write_file(path, flows, n, levels[i], &tw) ||
		    stat(path, &sb) != 0 ||
		    read_file(path, FY_STORE_COLS_ALL, flows, n, &tr_all) ||
		    read_file(path, three, flows, n, &tr_3)) {
			rc = 1;
			break;
		}
		printf("level %d%s: %.2f bytes/flow, write %.2f M flows/s, "
		       "read all %.2f M flows/s, read 3 columns %.2f M flows/s\n",
		       levels[i], levels[i] ? " (HC)" : " (fast)",
		       (double)sb.st_size / (double)n, n / tw / 1e6,
		       n / tr_all / 1e6, n / tr_3 / 1e6);
		if (!getenv("KEEP"))
			unlink(path);
	}
	free(flows);
	free(zin.cdf);
	free(zex.cdf);
	free(zsv.cdf);
	return rc;
}
