/*
 * tmplflood - floods a collector with NetFlow v9 / IPFIX templates, for
 * the tests of its memory caps.
 *
 * Every source address (--sources N, counted up from --from, e.g. the
 * 127.0.0.0/8 loopback block, all of which Linux routes to lo) gets a
 * socket of its own; each of them sends, for each observation domain
 * (--domains), template ids --first..--last with --fields fields each,
 * as many templates per datagram as fit in --mtu. A template longer than
 * a datagram is cut to what fits (one per datagram): --fields 65535 means
 * "the largest a datagram can carry". With --data BYTES each datagram
 * also carries a data set of that size for a template id that was never
 * defined, which a collector keeps aside while it waits for its template.
 *
 * The sources take turns datagram by datagram. The flood stops when all
 * is sent, after --seconds, or after --max-packets, whichever comes
 * first; --pps paces it. Prints
 * "packets=N templates=N data_sets=N bytes=N sources=N errors=N seconds=S".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOURCES 65536
#define V9_HDR 20
#define IPFIX_HDR 16
#define SET_HDR 4

struct src {
	int fd;
	uint32_t seq[256]; /* per domain */
	uint32_t next_id;  /* next template id, per source, all domains */
	unsigned domain;   /* domain being sent */
	int done;
};

struct opts {
	const char *host;
	unsigned port;
	int version;
	unsigned long sources;
	struct in_addr from;
	unsigned domains;
	uint32_t first, last;
	unsigned fields;
	unsigned mtu;
	unsigned data;
	double seconds;
	unsigned long max_packets;
	unsigned long pps;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void usage(void)
{
	fputs("usage: tmplflood -n HOST:PORT [options]\n"
	      "  -n HOST:PORT     collector (IPv4)\n"
	      "  -v 9|10          NetFlow v9 or IPFIX (default 10)\n"
	      "  --sources N      source addresses (default 1)\n"
	      "  --from ADDR      first source address (default 127.1.0.1)\n"
	      "  --domains N      observation domains per source (default 1)\n"
	      "  --first ID       first template id (default 256)\n"
	      "  --last ID        last template id (default 65535)\n"
	      "  --fields N       fields per template (default 256; 65535:\n"
	      "                   as many as a datagram holds)\n"
	      "  --mtu BYTES      largest datagram (default 65000)\n"
	      "  --data BYTES     a data set of an unknown template per "
	      "datagram\n"
	      "                   (its id is 256, or 65535: needs --first > "
	      "256 or --last < 65535)\n"
	      "  --seconds S      stop after S seconds (default 30)\n"
	      "  --max-packets N  stop after N datagrams (default: no cap)\n"
	      "  --pps N          datagrams per second (default: no pacing)\n",
	      stderr);
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"sources", required_argument, NULL, 's'},
		{"from", required_argument, NULL, 'f'},
		{"domains", required_argument, NULL, 'd'},
		{"first", required_argument, NULL, 'a'},
		{"last", required_argument, NULL, 'z'},
		{"fields", required_argument, NULL, 'F'},
		{"mtu", required_argument, NULL, 'm'},
		{"data", required_argument, NULL, 'D'},
		{"seconds", required_argument, NULL, 'S'},
		{"max-packets", required_argument, NULL, 'P'},
		{"pps", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	char *colon;
	int c;

	memset(o, 0, sizeof(*o));
	o->version = 10;
	o->sources = 1;
	inet_pton(AF_INET, "127.1.0.1", &o->from);
	o->domains = 1;
	o->first = 256;
	o->last = 65535;
	o->fields = 256;
	o->mtu = 65000;
	o->seconds = 30;
	while ((c = getopt_long(argc, argv, "n:v:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->host = optarg;
			break;
		case 'v':
			o->version = atoi(optarg);
			break;
		case 's':
			o->sources = strtoul(optarg, NULL, 10);
			break;
		case 'f':
			if (inet_pton(AF_INET, optarg, &o->from) != 1) {
				fprintf(stderr,
					"tmplflood: --from %s: not an "
					"IPv4 address\n",
					optarg);
				return -1;
			}
			break;
		case 'd':
			o->domains = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'a':
			o->first = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'z':
			o->last = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'F':
			o->fields = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o->mtu = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'D':
			o->data = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'P':
			o->max_packets = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o->pps = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
			return -1;
		}
	}
	if (o->host == NULL || (colon = strrchr(o->host, ':')) == NULL ||
	    (o->port = (unsigned)atoi(colon + 1)) == 0 ||
	    (o->version != 9 && o->version != 10) || o->sources == 0 ||
	    o->sources > MAX_SOURCES || o->domains == 0 || o->domains > 256 ||
	    o->first < 256 || o->last > 65535 || o->first > o->last ||
	    o->fields == 0 || o->fields > 65535 || o->mtu < 128 ||
	    o->mtu > 65507 || o->data > o->mtu / 2 ||
	    (o->data && o->first == 256 && o->last == 65535)) {
		usage();
		return -1;
	}
	return 0;
}

/* More sockets than the default 1024 descriptors may be needed. */
static void raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want + 16) {
		rl.rlim_cur = rl.rlim_max < want + 16 ? rl.rlim_max : want + 16;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_source(const struct opts *o, unsigned long i,
		       const struct sockaddr_in *dst)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sndbuf = 4 << 20;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(ntohl(o->from.s_addr) + (uint32_t)i);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    connect(fd, (const struct sockaddr *)dst, sizeof(*dst))) {
		fprintf(stderr, "tmplflood: source %s: %s\n",
			inet_ntoa(sa.sin_addr), strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Appends one template of `nf` fields at p; returns its length. */
static size_t put_template(uint8_t *p, uint16_t id, unsigned nf)
{
	unsigned k;

	put16(p, id);
	put16(p + 2, (uint16_t)nf);
	for (k = 0; k < nf; k++) {
		/* reserved / unassigned element ids: skipped by length */
		put16(p + 4 + 4 * k, (uint16_t)(500 + k % 1000));
		put16(p + 6 + 4 * k, 4);
	}
	return 4 + 4 * (size_t)nf;
}

/*
 * Builds the next datagram of source s into buf; 0 when it has nothing
 * left. `ntmpl` gets the number of templates in it.
 */
static size_t build(const struct opts *o, struct src *s, uint8_t *buf,
		    unsigned *ntmpl)
{
	size_t hdr = o->version == 10 ? IPFIX_HDR : V9_HDR;
	size_t room =
		o->mtu - hdr - SET_HDR - (o->data ? SET_HDR + o->data : 0);
	size_t off = hdr + SET_HDR, per;
	unsigned nf = o->fields, n = 0;
	uint32_t dom;

	if (s->done)
		return 0;
	if (s->next_id > o->last) {
		s->next_id = o->first;
		if (++s->domain == o->domains) {
			s->done = 1;
			return 0;
		}
	}
	dom = s->domain + 1;
	if (4 + 4 * (size_t)nf > room)
		nf = (unsigned)((room - 4) / 4);
	per = 4 + 4 * (size_t)nf;
	while (off + per <= hdr + SET_HDR + room && s->next_id <= o->last) {
		off += put_template(buf + off, (uint16_t)s->next_id++, nf);
		n++;
	}
	/* template set header: set id 2 (IPFIX) or flowset 0 (v9) */
	put16(buf + hdr, o->version == 10 ? 2 : 0);
	put16(buf + hdr + 2, (uint16_t)(off - hdr));
	if (o->data) {
		/* an id outside --first..--last is never defined */
		put16(buf + off, (uint16_t)(o->first > 256 ? 256 : 65535));
		put16(buf + off + 2, (uint16_t)(SET_HDR + o->data));
		memset(buf + off + SET_HDR, 0xab, o->data);
		off += SET_HDR + o->data;
	}
	if (o->version == 10) {
		put16(buf, 10);
		put16(buf + 2, (uint16_t)off);
		put32(buf + 4, (uint32_t)time(NULL));
		put32(buf + 8, s->seq[s->domain]); /* data records: none */
		put32(buf + 12, dom);
	} else {
		put16(buf, 9);
		put16(buf + 2, (uint16_t)(n + (o->data ? 1 : 0)));
		put32(buf + 4, 1000);
		put32(buf + 8, (uint32_t)time(NULL));
		put32(buf + 12, s->seq[s->domain]++);
		put32(buf + 16, dom);
	}
	*ntmpl = n;
	return off;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct src *src;
	uint8_t *buf;
	unsigned long i, packets = 0, templates = 0, data_sets = 0, errors = 0;
	unsigned long live;
	uint64_t bytes = 0;
	double t0, end;
	char host[64];

	if (parse(argc, argv, &o))
		return 2;
	snprintf(host, sizeof(host), "%.*s",
		 (int)(strrchr(o.host, ':') - o.host), o.host);
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1) {
		fprintf(stderr, "tmplflood: -n %s: not an IPv4 address\n",
			o.host);
		return 2;
	}
	dst.sin_port = htons((uint16_t)o.port);
	raise_nofile(o.sources);
	src = calloc(o.sources, sizeof(*src));
	buf = malloc(o.mtu);
	if (src == NULL || buf == NULL) {
		fprintf(stderr, "tmplflood: out of memory\n");
		return 1;
	}
	for (i = 0; i < o.sources; i++) {
		src[i].fd = open_source(&o, i, &dst);
		if (src[i].fd < 0)
			return 1;
		src[i].next_id = o.first;
	}
	t0 = mono();
	end = t0 + o.seconds;
	live = o.sources;
	while (live > 0) {
		live = 0;
		for (i = 0; i < o.sources; i++) {
			unsigned n = 0;
			size_t len = build(&o, &src[i], buf, &n);

			if (len == 0)
				continue;
			live++;
			if (send(src[i].fd, buf, len, 0) < 0) {
				errors++;
			} else {
				packets++;
				templates += n;
				data_sets += o.data ? 1 : 0;
				bytes += len;
			}
			if (o.pps) {
				double due =
					t0 + (double)packets / (double)o.pps;
				double now = mono();
				if (due > now)
					usleep((useconds_t)((due - now) * 1e6));
			}
			if ((o.max_packets && packets >= o.max_packets) ||
			    mono() >= end) {
				live = 0;
				break;
			}
		}
	}
	printf("packets=%lu templates=%lu data_sets=%lu bytes=%llu "
	       "sources=%lu errors=%lu seconds=%.3f\n",
	       packets, templates, data_sets, (unsigned long long)bytes,
	       o.sources, errors, mono() - t0);
	for (i = 0; i < o.sources; i++)
		close(src[i].fd);
	free(src);
	free(buf);
	return 0;
}
