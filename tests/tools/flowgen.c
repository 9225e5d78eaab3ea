/*
 * flowgen - NetFlow v5/v9/IPFIX load generator for tests and benchmarks.
 *
 * Makes `-c` flows from a seed (the same seed gives the same flows, so a
 * peer and flowyard can be fed identical data), encodes them with the
 * project's encoder and sends them to one collector over UDP, as fast as
 * possible or paced at `-r` flows per second. Prints what it sent:
 * "flows=N packets=N bytes=N messages=N skipped=N".
 *
 * `--skip N` drops every N-th message before sending (after it has been
 * numbered), which a collector must report as sequence loss.
 *
 * `--prebuild` makes and encodes every flow first, keeping the messages in
 * memory, and only then sends them in windows of `--batch` datagrams, each
 * window released when the flows it carries are due at `-r` flows per
 * second, each exporter's datagrams in it with one sendmmsg(2): the
 * generator's own CPU is then spent on sending
 * alone, so a benchmark measures the collector, not flow making. Output
 * gains "build_seconds=S rate=R" (R: flows per second achieved while
 * sending; seconds= is the sending phase alone).
 *
 * `--gso` sends each run of equal-sized datagrams of one exporter as one
 * buffer with UDP_SEGMENT (UDP GSO): the kernel cuts it into the same
 * datagrams, so the collector receives exactly what it would otherwise,
 * but the sender crosses the network stack once per run instead of once
 * per datagram. On loopback the receive path runs in the sender's system
 * calls, so without it a 2-core machine cannot offer more than about
 * 2 M flows/s at 30 records per datagram.
 *
 * `--exporters N` plays N exporters at once: N sockets (sources
 * 127.0.0.1..127.0.0.N when the collector is on 127/8, else N ports), each
 * with an encoder and sequence numbers of its own; flow i goes to exporter
 * i mod N, so together they send the same flows as one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flow.h"
#include "nf_encode.h"

/* A message kept by --prebuild: where it is in the arena. */
struct pmsg {
	size_t off;
	uint32_t len;
	unsigned exp;	     /* the exporter (socket) sending it */
	unsigned long flows; /* flows carried by this and earlier messages */
};

#define MAX_EXPORTERS 250

struct gen;

/* One exporter: what the encoder's send callback gets. */
struct exporter {
	struct gen *g;
	unsigned idx;
	int fd;
};

struct gen {
	struct exporter *exp; /* nexp of them */
	unsigned nexp;
	unsigned long skip_every;
	unsigned long messages;
	unsigned long skipped;
	unsigned long errors;
	uint64_t sent_bytes;
	/* --prebuild: the messages kept in memory, sent later */
	int prebuild;
	int gso; /* --gso: runs of equal datagrams as one UDP_SEGMENT send */
	unsigned long added; /* flows given to the encoder so far */
	uint8_t *arena;
	size_t arena_len, arena_cap;
	struct pmsg *msgs;
	size_t nmsgs, msgs_cap;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 4096;

	if (need <= *cap)
		return p;
	while (n < need)
		n *= 2;
	p = realloc(p, n * elem);
	if (p == NULL) {
		fprintf(stderr, "flowgen: out of memory keeping %zu bytes\n",
			n * elem);
		exit(1);
	}
	*cap = n;
	return p;
}

static int keep_msg(struct gen *g, const uint8_t *msg, size_t len, unsigned exp)
{
	g->arena = grow(g->arena, &g->arena_cap, g->arena_len + len, 1);
	g->msgs = grow(g->msgs, &g->msgs_cap, g->nmsgs + 1, sizeof(*g->msgs));
	memcpy(g->arena + g->arena_len, msg, len);
	g->msgs[g->nmsgs].off = g->arena_len;
	g->msgs[g->nmsgs].len = (uint32_t)len;
	g->msgs[g->nmsgs].exp = exp;
	g->msgs[g->nmsgs].flows = g->added;
	g->nmsgs++;
	g->arena_len += len;
	return 0;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: fast, seedable, good enough for test data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct exporter *x = arg;
	struct gen *g = x->g;

	g->messages++;
	if (g->skip_every && g->messages % g->skip_every == 0) {
		g->skipped++;
		return 0;
	}
	if (g->prebuild)
		return keep_msg(g, msg, len, x->idx);
	if (send(x->fd, msg, len, 0) < 0) {
		g->errors++;
		return -errno;
	}
	g->sent_bytes += len;
	return 0;
}

static void make_flow(struct fy_flow *f, uint64_t t, int v6)
{
	uint64_t r = rng();
	uint32_t host = (uint32_t)(r % 300);

	memset(f, 0, sizeof(*f));
	if (v6) {
		f->family = FY_AF_INET6;
		f->src.b[0] = 0x20;
		f->src.b[1] = 0x01;
		f->src.b[2] = 0x0d;
		f->src.b[3] = 0xb8;
		f->src.b[15] = (uint8_t)host;
		f->src.b[14] = (uint8_t)(host >> 8);
		f->dst = f->src;
		f->dst.b[15] = (uint8_t)(r >> 20);
		f->dst.b[13] = 1;
	} else {
		f->family = FY_AF_INET;
		fy_addr_set_v4(&f->src, 0x0a000000u | host);
		fy_addr_set_v4(&f->dst,
			       0xc6336400u | (uint32_t)((r >> 20) & 0xff));
	}
	f->src_port = (uint16_t)(1024 + (r >> 28) % 60000);
	f->dst_port = (uint16_t)((r >> 44) % 4 == 0 ? 53 : 443);
	f->proto = f->dst_port == 53 ? 17 : 6;
	f->tcp_flags = f->proto == 6 ? 0x1b : 0;
	f->packets = 1 + (r >> 50) % 100;
	f->bytes = f->packets * (40 + (r >> 8) % 1400);
	f->first_ms = t - (r >> 40) % 60000;
	f->last_ms = t;
	f->input_if = 1 + (uint32_t)(r % 4);
	f->output_if = 10;
	f->src_as = 64512;
	f->dst_as = 65000 + (uint32_t)(r % 10);
	f->end_reason = 1;
}

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
/* Kernels before 6.2 take at most 64 segments per send. */
#define GSO_MAX_SEGS 64
#define GSO_MAX_BYTES 65000

/*
 * With --gso: how many of the messages idx[0..n) go as one send: the same
 * length (the last may be shorter), at most GSO_MAX_SEGS and
 * GSO_MAX_BYTES. One iovec each: they need not be adjacent in the arena.
 */
static size_t gso_run(const struct gen *g, const size_t *idx, size_t n)
{
	uint32_t len = g->msgs[idx[0]].len;
	size_t m = 1, total = len;

	while (m < n && m < GSO_MAX_SEGS && g->msgs[idx[m]].len <= len &&
	       total + g->msgs[idx[m]].len <= GSO_MAX_BYTES) {
		total += g->msgs[idx[m]].len;
		if (g->msgs[idx[m++]].len < len)
			break;
	}
	return m;
}

/* Waits until `due` (CLOCK_MONOTONIC seconds), with a 1 ns timer slack. */
static void wait_until(double due)
{
	double now = mono();
	struct timespec ts;
	double w;

	if (due <= now)
		return;
	w = due - now;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)w;
	ts.tv_nsec += (long)((w - (double)(time_t)w) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

/*
 * Sends the kept messages: window after window of `batch` messages, a
 * window going out once the flows of its last message are due (start +
 * flows / rate). In a window each exporter's messages go in their order
 * with one sendmmsg (with --gso, runs of equal length as one entry), so
 * that N interleaved exporters still cost a system call per exporter and
 * window, not per datagram.
 */
static void send_kept(struct gen *g, unsigned long rate, unsigned long batch,
		      double start)
{
	struct mmsghdr *mm = calloc(batch, sizeof(*mm));
	struct iovec *iov = calloc(batch, sizeof(*iov));
	size_t *segs = calloc(batch, sizeof(*segs));
	size_t *idx = calloc(batch, sizeof(*idx));
	unsigned char *taken = calloc(batch, 1);
	/* one UDP_SEGMENT control message per entry */
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} *ctl = calloc(batch, sizeof(*ctl));
	size_t k = 0;

	if (mm == NULL || iov == NULL || segs == NULL || idx == NULL ||
	    taken == NULL || ctl == NULL) {
		fprintf(stderr, "flowgen: out of memory\n");
		exit(1);
	}
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	while (k < g->nmsgs) {
		size_t n = g->nmsgs - k < batch ? g->nmsgs - k : batch;
		size_t first, j;

		if (rate)
			wait_until(start + (double)g->msgs[k + n - 1].flows /
						   (double)rate);
		memset(taken, 0, n);
		for (first = 0; first < n; first++) {
			unsigned exp = g->msgs[k + first].exp;
			size_t ni = 0, e = 0, at, sent;

			if (taken[first])
				continue;
			/* this exporter's messages of the window, in order */
			for (j = first; j < n; j++)
				if (!taken[j] && g->msgs[k + j].exp == exp) {
					taken[j] = 1;
					idx[ni++] = k + j;
				}
			for (at = 0; at < ni; e++) {
				size_t m = g->gso ? gso_run(g, idx + at,
							    ni - at)
						  : 1,
				       b;

				memset(&mm[e], 0, sizeof(mm[e]));
				for (b = 0; b < m; b++) {
					iov[at + b].iov_base =
						g->arena +
						g->msgs[idx[at + b]].off;
					iov[at + b].iov_len =
						g->msgs[idx[at + b]].len;
				}
				mm[e].msg_hdr.msg_iov = &iov[at];
				mm[e].msg_hdr.msg_iovlen = m;
				if (m > 1) {
					struct cmsghdr *c;
					uint16_t sz =
						(uint16_t)g->msgs[idx[at]].len;

					mm[e].msg_hdr.msg_control = ctl[e].buf;
					mm[e].msg_hdr.msg_controllen =
						sizeof(ctl[e].buf);
					c = CMSG_FIRSTHDR(&mm[e].msg_hdr);
					c->cmsg_level = SOL_UDP;
					c->cmsg_type = UDP_SEGMENT;
					c->cmsg_len = CMSG_LEN(sizeof(sz));
					memcpy(CMSG_DATA(c), &sz, sizeof(sz));
				}
				segs[e] = m;
				at += m;
			}
			/* entries [sent, e): until all went or failed */
			for (sent = 0, at = 0; sent < e;) {
				int r = sendmmsg(g->exp[exp].fd, mm + sent,
						 (unsigned int)(e - sent), 0);

				if (r < 0 &&
				    (errno == EINTR || errno == EAGAIN ||
				     errno == ENOBUFS))
					continue;
				if (r <= 0) {
					/* e.g. ECONNREFUSED: this entry's
					 * datagrams count as send errors */
					g->errors += segs[sent];
					at += segs[sent++];
					continue;
				}
				for (j = 0; j < (size_t)r; j++, sent++) {
					size_t b;

					for (b = 0; b < segs[sent]; b++)
						g->sent_bytes +=
							g->msgs[idx[at++]].len;
				}
			}
		}
		k += n;
	}
	free(mm);
	free(iov);
	free(segs);
	free(idx);
	free(taken);
	free(ctl);
}

static void usage(void)
{
	fputs("usage: flowgen -n HOST:PORT [-v 5|9|10] [-c FLOWS] [-r RATE] "
	      "[-s SEED]\n"
	      "               [-d DOMAIN] [--mtu BYTES] [--skip N] [-6 "
	      "PERCENT]\n"
	      "  -n HOST:PORT  collector\n"
	      "  -v VERSION    5, 9 or 10 (default 10)\n"
	      "  -c FLOWS      flows to send (default 100000)\n"
	      "  -r RATE       flows per second (default 0: as fast as "
	      "possible)\n"
	      "  -s SEED       data seed (default 1)\n"
	      "  -d DOMAIN     observation domain / source id / engine id\n"
	      "  --mtu BYTES   largest datagram (default 1400)\n"
	      "  --per-msg N   at most N records per message (e.g. 30)\n"
	      "  --skip N      drop every N-th message (sequence loss)\n"
	      "  --prebuild    encode everything first, then send the kept\n"
	      "                messages with sendmmsg, paced at -r\n"
	      "  --batch N     datagrams per paced window with --prebuild "
	      "(default 16)\n"
	      "  --gso         with --prebuild: each run of equal datagrams\n"
	      "                of an exporter as one UDP_SEGMENT send (the\n"
	      "                collector gets the same datagrams)\n"
	      "  -6 PERCENT    share of IPv6 flows (default 0)\n"
	      "  --exporters N play N exporters (1..250): sources 127.0.0.1..N\n"
	      "                for a collector on 127/8, else N ports\n",
	      stderr);
}

/* idx >= 0: bind to 127.0.0.(idx + 1) first when the target is on 127/8. */
static int connect_to(const char *hostport, int idx)
{
	char host[256], *colon;
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai;
	int fd, r;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (colon == NULL) {
		fprintf(stderr, "flowgen: -n %s: expected HOST:PORT\n",
			hostport);
		return -1;
	}
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	r = getaddrinfo(host, colon + 1, &hints, &ai);
	if (r) {
		fprintf(stderr, "flowgen: -n %s: %s\n", hostport,
			gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd >= 0 && idx >= 0 && ai->ai_family == AF_INET &&
	    (ntohl(((struct sockaddr_in *)(void *)ai->ai_addr)
			   ->sin_addr.s_addr) >>
	     24) == 127) {
		struct sockaddr_in sa = {.sin_family = AF_INET};

		sa.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)idx);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "flowgen: bind 127.0.0.%d: %s\n",
				idx + 1, strerror(errno));
			close(fd);
			freeaddrinfo(ai);
			return -1;
		}
	}
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		fprintf(stderr, "flowgen: -n %s: %s\n", hostport,
			strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"mtu", required_argument, NULL, 'm'},
		{"skip", required_argument, NULL, 'k'},
		{"per-msg", required_argument, NULL, 'p'},
		{"prebuild", no_argument, NULL, 'P'},
		{"batch", required_argument, NULL, 'b'},
		{"exporters", required_argument, NULL, 'X'},
		{"gso", no_argument, NULL, 'G'},
		{NULL, 0, NULL, 0},
	};
	struct fy_nfenc_cfg cfg = {.version = 10};
	const char *target = NULL;
	unsigned long count = 100000, rate = 0, seed = 1, v6pct = 0;
	unsigned long per_msg = 0, batch = 16, i;
	double built = 0;
	struct gen g = {0};
	struct fy_nfenc **enc;
	unsigned long *nadded;
	unsigned nexp = 1, x;
	uint64_t packets = 0, bytes = 0, t0;
	double start;
	int o;

	while ((o = getopt_long(argc, argv, "n:v:c:r:s:d:6:h", lo, NULL)) !=
	       -1) {
		switch (o) {
		case 'n':
			target = optarg;
			break;
		case 'v':
			cfg.version = (uint8_t)atoi(optarg);
			break;
		case 'c':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			cfg.domain = (uint32_t)strtoul(optarg, NULL, 10);
			cfg.engine_id = (uint8_t)cfg.domain;
			break;
		case 'm':
			cfg.mtu = (uint16_t)atoi(optarg);
			break;
		case 'k':
			g.skip_every = strtoul(optarg, NULL, 10);
			break;
		case 'p':
			per_msg = strtoul(optarg, NULL, 10);
			break;
		case '6':
			v6pct = strtoul(optarg, NULL, 10);
			break;
		case 'P':
			g.prebuild = 1;
			break;
		case 'G':
			g.gso = 1;
			break;
		case 'X':
			nexp = (unsigned)strtoul(optarg, NULL, 10);
			if (nexp < 1 || nexp > MAX_EXPORTERS) {
				fprintf(stderr, "flowgen: --exporters 1..%d\n",
					MAX_EXPORTERS);
				return 2;
			}
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 10);
			if (batch < 1 || batch > 1024) {
				fprintf(stderr, "flowgen: --batch 1..1024\n");
				return 2;
			}
			break;
		default:
			usage();
			return 2;
		}
	}
	if (target == NULL) {
		usage();
		return 2;
	}
	if (g.gso && !g.prebuild) {
		fprintf(stderr, "flowgen: --gso needs --prebuild\n");
		return 2;
	}
	g.nexp = nexp;
	g.exp = calloc(nexp, sizeof(*g.exp));
	enc = calloc(nexp, sizeof(*enc));
	nadded = calloc(nexp, sizeof(*nadded));
	if (g.exp == NULL || enc == NULL || nadded == NULL) {
		fprintf(stderr, "flowgen: out of memory\n");
		return 1;
	}
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	t0 = now_ms();
	cfg.boot_ms = t0 - 3600000;
	for (x = 0; x < nexp; x++) {
		g.exp[x].g = &g;
		g.exp[x].idx = x;
		g.exp[x].fd = connect_to(target, nexp > 1 ? (int)x : -1);
		if (g.exp[x].fd < 0)
			return 1;
		enc[x] = fy_nfenc_new(&cfg, send_msg, &g.exp[x]);
		if (enc[x] == NULL) {
			fprintf(stderr,
				"flowgen: bad encoder settings (version %u, "
				"mtu %u)\n",
				cfg.version, cfg.mtu);
			return 2;
		}
	}
	start = mono();
	for (i = 0; i < count; i++) {
		struct fy_flow f;
		int v6 = cfg.version != 5 && rng() % 100 < v6pct;

		make_flow(&f, t0 + i / 1000, v6);
		packets += f.packets;
		bytes += f.bytes;
		x = (unsigned)(i % nexp);
		g.added = i;
		fy_nfenc_add(enc[x], &f, t0 + i / 1000);
		g.added = i + 1;
		if (per_msg && ++nadded[x] % per_msg == 0)
			fy_nfenc_flush(enc[x], t0 + i / 1000);
		if (rate && !g.prebuild && i % 64 == 63) {
			double due = start + (double)(i + 1) / (double)rate;
			double wait = due - mono();
			if (wait > 0)
				usleep((useconds_t)(wait * 1e6));
		}
	}
	g.added = count;
	for (x = 0; x < nexp; x++)
		fy_nfenc_flush(enc[x], t0 + count / 1000);
	if (g.prebuild) {
		built = mono() - start;
		start = mono();
		send_kept(&g, rate, batch, start);
	}
	{
		double secs = mono() - start;
		printf("flows=%lu packets=%llu bytes=%llu messages=%lu "
		       "skipped=%lu send_errors=%lu seconds=%.3f",
		       count, (unsigned long long)packets,
		       (unsigned long long)bytes, g.messages, g.skipped,
		       g.errors, secs);
		if (g.prebuild)
			printf(" build_seconds=%.3f rate=%.0f", built,
			       secs > 0 ? (double)count / secs : 0.0);
		printf("\n");
	}
	free(g.arena);
	free(g.msgs);
	for (x = 0; x < nexp; x++) {
		fy_nfenc_free(enc[x]);
		close(g.exp[x].fd);
	}
	free(enc);
	free(nadded);
	free(g.exp);
	return g.errors ? 1 : 0;
}
