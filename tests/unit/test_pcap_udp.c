/*
 * test_pcap_udp.c - the capture reader against real captures and tshark.
 *
 * The expectations on real files were read off tshark 4.0.17; each test
 * names the command. Where tshark's view differs from ours by design (no
 * IPv4/IPv6 reassembly, no tunnels) the command turns reassembly off.
 * Synthetic captures, written to temporary files, cover the link types and
 * header shapes no real capture of ours has, and damaged frames.
 * Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flow.h"
#include "pcap_udp.h"

#define DATA "tests/data/"
#define CAP_100 DATA "netflow/pmacct/100-IPFIXv10-CISCO/traffic-00.pcap"
#define CAP_101 \
	DATA "netflow/pmacct/101-NFv9-CISCO-cust_primitives/traffic-00.pcap"
#define CAP_104 \
	DATA "netflow/pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap"
#define CAP_112                                                            \
	DATA "netflow/pmacct/112-IPFIXv10-CISCO-options-map-reassignment/" \
	     "traffic-00.pcap"
#define CAP_400                                                             \
	DATA "netflow/pmacct/400-IPFIXv10-BMP-CISCO-SRv6-multiple-sources/" \
	     "traffic-00.pcap"
#define CAP_VLAN DATA "traffic/ipfixprobe/vlan.pcap"
#define CAP_ALEXA DATA "traffic/ndpi/alexa-app.pcapng"
#define CAP_QINQ DATA "traffic/zeek/q-in-q.pcap"
#define CAP_V6FRAG DATA "traffic/zeek/ipv6-fragmented-dns.pcap"
#define CAP_V4FRAG DATA "traffic/zeek/ipv4/fragmented-3.pcap"

/* What we check of one datagram. */
struct want {
	int index; /* 0-based among the datagrams of the file */
	const char *src, *dst;
	uint16_t sport, dport;
	size_t len; /* tshark's udp.length - 8 */
	uint64_t ts_ms;
};

/* What we check of a whole file. */
struct want_file {
	const char *path;
	int linktype;
	uint64_t frames, udp, non_udp, fragments;
	uint8_t family; /* of every datagram */
	const struct want *pkts;
	size_t npkts;
};

static void check_pkt(const struct fy_udp_pkt *k, const struct want *w)
{
	char s[FY_ADDR_STRLEN], d[FY_ADDR_STRLEN];

	assert_string_equal(fy_addr_str(&k->src, s, sizeof(s)), w->src);
	assert_string_equal(fy_addr_str(&k->dst, d, sizeof(d)), w->dst);
	assert_int_equal(k->sport, w->sport);
	assert_int_equal(k->dport, w->dport);
	assert_int_equal(k->len, w->len);
	assert_int_equal(k->ts_ms, w->ts_ms);
	assert_non_null(k->payload);
}

static void check_file(const struct want_file *wf)
{
	char err[512];
	struct fy_pcap_udp *p = fy_pcap_udp_open(wf->path, err, sizeof(err));
	const struct fy_pcap_udp_stats *st;
	struct fy_udp_pkt k;
	size_t next = 0;
	int i = 0, rc;

	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(fy_pcap_udp_linktype(p), wf->linktype);
	while ((rc = fy_pcap_udp_next(p, &k)) == 1) {
		assert_int_equal(k.family, wf->family);
		if (next < wf->npkts && wf->pkts[next].index == i)
			check_pkt(&k, &wf->pkts[next++]);
		i++;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(fy_pcap_udp_error(p), "");
	assert_int_equal(next, wf->npkts);
	st = fy_pcap_udp_stats(p);
	assert_int_equal(st->frames, wf->frames);
	assert_int_equal(st->udp, wf->udp);
	assert_int_equal(st->skipped_non_udp, wf->non_udp);
	assert_int_equal(st->skipped_fragments, wf->fragments);
	assert_int_equal(st->truncated, 0);
	assert_int_equal((uint64_t)i, wf->udp);
	fy_pcap_udp_close(p);
}

/*
 * Ethernet, classic pcap, IPv4.
 * tshark -r CAP_100 -Y udp -T fields -e frame.time_epoch -e ip.src
 *   -e ip.dst -e udp.srcport -e udp.dstport -e udp.length
 * 6 frames, all UDP; frames 1, 2, 3 and 6 shown.
 */
static void test_ethernet_ipv4(void **state)
{
	static const struct want pkts[] = {
		{0, "138.187.0.13", "138.187.58.1", 50109, 9991, 156,
		 1672534805000},
		{1, "138.187.0.13", "138.187.58.1", 50111, 9991, 156,
		 1672534805001},
		{2, "138.187.0.13", "138.187.58.1", 50109, 9991, 432,
		 1672534805002},
		{5, "138.187.0.13", "138.187.58.1", 50111, 9991, 328,
		 1672534805005},
	};
	static const struct want_file wf = {
		.path = CAP_100,
		.linktype = 1,
		.frames = 6,
		.udp = 6,
		.non_udp = 0,
		.fragments = 0,
		.family = FY_AF_INET,
		.pkts = pkts,
		.npkts = 4,
	};
	(void)state;
	check_file(&wf);
}

/*
 * Linux SLL (DLT 113), IPv6 transport.
 * tshark -r CAP_112 -Y udp -T fields -e frame.time_epoch -e ipv6.src
 *   -e ipv6.dst -e udp.srcport -e udp.dstport -e udp.length
 * 21 frames, all UDP; frames 1, 2, 3 and 21 shown.
 */
static void test_linux_sll(void **state)
{
	static const struct want pkts[] = {
		{0, "2001:db8:90::1", "2a02:a90:4007::2:20", 61853, 9991, 36,
		 1783600495690},
		{1, "2001:db8:90::1", "2a02:a90:4007::2:20", 61853, 9991, 32,
		 1783600495690},
		{2, "2001:db8:90::1", "2a02:a90:4007::2:20", 61853, 9991, 48,
		 1783600495690},
		{20, "2001:db8:90::1", "2a02:a90:4007::2:2", 65156, 9991, 1336,
		 1783600538694},
	};
	static const struct want_file wf = {
		.path = CAP_112,
		.linktype = 113,
		.frames = 21,
		.udp = 21,
		.non_udp = 0,
		.fragments = 0,
		.family = FY_AF_INET6,
		.pkts = pkts,
		.npkts = 4,
	};
	(void)state;
	check_file(&wf);
}

/*
 * Ethernet, IPv6 transport.
 * tshark -r CAP_104 -Y udp -T fields -e frame.time_epoch -e ipv6.src
 *   -e ipv6.dst -e udp.srcport -e udp.dstport -e udp.length
 * 5 frames, all UDP.
 */
static void test_ipv6_transport(void **state)
{
	static const struct want pkts[] = {
		{0, "2a02:a90:4007:700::54", "2a02:a90:4007::2:1", 50399, 9992,
		 56, 1672534805000},
		{1, "2a02:a90:4007:700::54", "2a02:a90:4007::2:1", 50399, 9992,
		 148, 1672534805001},
		{2, "2a02:a90:4007:700::54", "2a02:a90:4007::2:1", 50399, 9992,
		 580, 1672534805002},
		{4, "2a02:a90:4007:700::54", "2a02:a90:4007::2:1", 50399, 9992,
		 288, 1672534805004},
	};
	static const struct want_file wf = {
		.path = CAP_104,
		.linktype = 1,
		.frames = 5,
		.udp = 5,
		.non_udp = 0,
		.fragments = 0,
		.family = FY_AF_INET6,
		.pkts = pkts,
		.npkts = 4,
	};
	(void)state;
	check_file(&wf);
}

/*
 * 583 IPFIX datagrams and 23 BMP/TCP segments.
 * tshark -r CAP_400 | wc -l  -> 606;  tshark -r CAP_400 -Y udp | wc -l -> 583
 * and -T fields as above for the first and the last.
 */
static void test_udp_among_tcp(void **state)
{
	static const struct want pkts[] = {
		{0, "203.0.113.90", "100.105.31.69", 51730, 9991, 36,
		 1672534806022},
		{582, "203.0.113.90", "100.105.31.69", 51730, 9991, 324,
		 1672534806604},
	};
	static const struct want_file wf = {
		.path = CAP_400,
		.linktype = 1,
		.frames = 606,
		.udp = 583,
		.non_udp = 23,
		.fragments = 0,
		.family = FY_AF_INET,
		.pkts = pkts,
		.npkts = 2,
	};
	(void)state;
	check_file(&wf);
}

/*
 * pcapng (despite its name), 802.1Q-tagged and untagged frames.
 * tshark -r CAP_VLAN -Y udp -T fields -e frame.time_epoch -e ip.src
 *   -e ip.dst -e udp.srcport -e udp.dstport -e udp.length -e vlan.id
 */
static void test_pcapng_vlan(void **state)
{
	static const struct want pkts[] = {
		{0, "192.168.170.8", "192.168.170.20", 32795, 53, 28,
		 946712870501},
		{1, "192.168.170.20", "192.168.170.8", 53, 32795, 256,
		 946712871333},
		{2, "192.168.170.8", "192.168.170.20", 32795, 53, 28,
		 946712872501},
		{5, "192.168.170.20", "192.168.170.8", 53, 32795, 256,
		 946712873333},
	};
	static const struct want_file wf = {
		.path = CAP_VLAN,
		.linktype = 1,
		.frames = 6,
		.udp = 6,
		.non_udp = 0,
		.fragments = 0,
		.family = FY_AF_INET,
		.pkts = pkts,
		.npkts = 4,
	};
	(void)state;
	check_file(&wf);
}

/*
 * pcapng, mostly TCP.
 * tshark -r CAP_ALEXA | wc -l -> 3103;  tshark -r CAP_ALEXA -Y udp | wc -l
 * -> 65 (none IPv6); -T fields as above gives the first and last.
 */
static void test_pcapng_mixed(void **state)
{
	static const struct want pkts[] = {
		{0, "0.0.0.0", "255.255.255.255", 68, 67, 315, 1490976023264},
		{64, "172.16.42.1", "172.16.42.216", 53, 2707, 51,
		 1490976196938},
	};
	static const struct want_file wf = {
		.path = CAP_ALEXA,
		.linktype = 1,
		.frames = 3103,
		.udp = 65,
		.non_udp = 3038,
		.fragments = 0,
		.family = FY_AF_INET,
		.pkts = pkts,
		.npkts = 2,
	};
	(void)state;
	check_file(&wf);
}

/*
 * Double-tagged (QinQ) frames.
 * tshark -r CAP_QINQ -Y udp -T fields -e frame.time_epoch -e ip.src
 *   -e ip.dst -e udp.srcport -e udp.dstport -e udp.length
 * 5 frames: 4 UDP and 1 ARP.
 */
static void test_qinq(void **state)
{
	static const struct want pkts[] = {
		{0, "172.19.51.37", "172.19.51.63", 47808, 47808, 18,
		 1363900699548},
		{2, "193.1.186.60", "224.2.127.254", 9875, 9875, 276,
		 1363900699549},
	};
	static const struct want_file wf = {
		.path = CAP_QINQ,
		.linktype = 1,
		.frames = 5,
		.udp = 4,
		.non_udp = 1,
		.fragments = 0,
		.family = FY_AF_INET,
		.pkts = pkts,
		.npkts = 2,
	};
	(void)state;
	check_file(&wf);
}

/*
 * IPv6 fragments, no reassembly.
 * tshark -r CAP_V6FRAG -o ipv6.defragment:FALSE -Y udp -T fields ... gives
 * 5 datagrams; -Y 'ipv6.fraghdr.offset > 0' gives frames 4, 7, 8. Frame 6
 * is a first fragment: tshark's udp.length is 3238, the frame carries 1424
 * bytes of it (1494 - 14 - 40 - 8 - 8), which is what we return.
 */
static void test_ipv6_fragments(void **state)
{
	static const struct want pkts[] = {
		{0, "2001:470:1f11:81f:d138:5f55:6d4:1fe2", "2607:f740:b::f93",
		 51850, 53, 73, 1331084278438},
		{4, "2607:f740:b::f93", "2001:470:1f11:81f:d138:5f55:6d4:1fe2",
		 53, 51851, 1424, 1331084298675},
	};
	static const struct want_file wf = {
		.path = CAP_V6FRAG,
		.linktype = 1,
		.frames = 8,
		.udp = 5,
		.non_udp = 0,
		.fragments = 3,
		.family = FY_AF_INET6,
		.pkts = pkts,
		.npkts = 2,
	};
	(void)state;
	check_file(&wf);
}

/*
 * IPv4 fragments of something else than UDP.
 * tshark -r CAP_V4FRAG -o ip.defragment:FALSE -Y udp | wc -l -> 0
 */
static void test_ipv4_fragments_not_udp(void **state)
{
	static const struct want_file wf = {
		.path = CAP_V4FRAG,
		.linktype = 1,
		.frames = 5,
		.udp = 0,
		.non_udp = 5,
		.fragments = 0,
		.family = FY_AF_INET,
		.pkts = NULL,
		.npkts = 0,
	};
	(void)state;
	check_file(&wf);
}

static void test_missing_file(void **state)
{
	const char *path = "tests/data/no-such-capture.pcap";
	char err[256];

	(void)state;
	assert_null(fy_pcap_udp_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	/* a short buffer is cut, not overrun, and still terminated */
	assert_null(fy_pcap_udp_open(path, err, 8));
	assert_int_equal(strlen(err), 7);
	assert_null(fy_pcap_udp_open(path, NULL, 0));
	assert_null(fy_pcap_udp_open(NULL, err, sizeof(err)));
	fy_pcap_udp_close(NULL);
}

static void test_not_a_capture(void **state)
{
	const char *path = "tests/data/SOURCES.md";
	char err[256];

	(void)state;
	assert_null(fy_pcap_udp_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
}

/* ---- temporary files ---- */

#define TMP_PATH_LEN 4096

/* Creates an empty temporary file; its name goes to `path`. */
static void tmp_path(char path[TMP_PATH_LEN])
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	assert_true(strlen(dir) + 32 < TMP_PATH_LEN);
	snprintf(path, TMP_PATH_LEN, "%s/fy_pcap_udp_XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Reads a whole file: the datagrams returned and the last return code. */
static int drain(const char *path, int *count, char *msg, size_t msglen)
{
	char err[512];
	struct fy_pcap_udp *p = fy_pcap_udp_open(path, err, sizeof(err));
	struct fy_udp_pkt k;
	int rc;

	if (p == NULL)
		fail_msg("%s", err);
	*count = 0;
	while ((rc = fy_pcap_udp_next(p, &k)) == 1) {
		assert_true(k.len < 65536);
		(*count)++;
	}
	snprintf(msg, msglen, "%s", fy_pcap_udp_error(p));
	fy_pcap_udp_close(p);
	return rc;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Offset of record `k` (from 0) in a little-endian classic pcap. */
static size_t record_offset(const uint8_t *buf, size_t len, int k)
{
	size_t off = 24;

	assert_int_equal(le32(buf), 0xa1b2c3d4);
	while (k-- > 0) {
		assert_true(off + 16 <= len);
		off += 16 + le32(buf + off + 8);
	}
	return off;
}

/*
 * A file cut short: the datagrams before the cut come out, then an error
 * that names the file. CAP_101 has 40 UDP frames (tshark -r CAP_101 -Y udp).
 */
static void test_truncated_file(void **state)
{
	char path[TMP_PATH_LEN];
	char msg[600], err[512];
	size_t len, off;
	uint8_t *buf = read_file(CAP_101, &len);
	int n;

	(void)state;
	tmp_path(path);
	/* in the middle of the data of record 20 */
	off = record_offset(buf, len, 20);
	write_file(path, buf, off + 16 + le32(buf + off + 8) / 2);
	assert_int_equal(drain(path, &n, msg, sizeof(msg)), -1);
	assert_int_equal(n, 20);
	assert_non_null(strstr(msg, path));

	/* in the middle of the header of record 10 */
	off = record_offset(buf, len, 10);
	write_file(path, buf, off + 7);
	assert_int_equal(drain(path, &n, msg, sizeof(msg)), -1);
	assert_int_equal(n, 10);
	assert_non_null(strstr(msg, path));

	/* between two records: a clean end */
	write_file(path, buf, record_offset(buf, len, 30));
	assert_int_equal(drain(path, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 30);

	/* inside the file header: not a capture */
	write_file(path, buf, 10);
	assert_null(fy_pcap_udp_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));

	free(buf);
	unlink(path);
}

/* A pcapng file cut anywhere: no crash, never more than the whole file. */
static void test_truncated_pcapng(void **state)
{
	char path[TMP_PATH_LEN];
	char msg[600];
	size_t len, cut;
	uint8_t *buf = read_file(CAP_VLAN, &len);
	int n, rc;

	(void)state;
	tmp_path(path);
	for (cut = 200; cut < len; cut += 97) {
		write_file(path, buf, cut);
		rc = drain(path, &n, msg, sizeof(msg));
		assert_true(rc == 0 || rc == -1);
		assert_true(n >= 0 && n < 6);
		if (rc == -1)
			assert_non_null(strstr(msg, path));
	}
	free(buf);
	unlink(path);
}

/* ---- synthetic captures ---- */

struct buf {
	uint8_t b[2048];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
	put8(b, (uint8_t)(v >> 8));
	put8(b, (uint8_t)v);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b, (uint16_t)v);
}

static void put_zero(struct buf *b, size_t n)
{
	static const uint8_t z[64];

	assert_true(n <= sizeof(z));
	put(b, z, n);
}

static const uint8_t v4_src[4] = {192, 0, 2, 1};
static const uint8_t v4_dst[4] = {198, 51, 100, 2};
static const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
static const char payload[] = "flowyard!"; /* 9 bytes sent */

static void eth(struct buf *b, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};

	put(b, macs, sizeof(macs));
	put16(b, type);
}

/* IPv4 header; `opt_words` 32-bit words of options; `body` bytes after. */
static void ipv4(struct buf *b, uint8_t proto, uint16_t frag,
		 unsigned opt_words, size_t body)
{
	put8(b, (uint8_t)(0x40 | (5 + opt_words)));
	put8(b, 0);
	put16(b, (uint16_t)(20 + 4 * opt_words + body));
	put16(b, 1);
	put16(b, frag);
	put8(b, 64);
	put8(b, proto);
	put16(b, 0);
	put(b, v4_src, 4);
	put(b, v4_dst, 4);
	while (opt_words--)
		put32(b, 0x01010101); /* NOPs */
}

static void ipv6(struct buf *b, uint8_t nh, size_t plen)
{
	put32(b, 0x60000000);
	put16(b, (uint16_t)plen);
	put8(b, nh);
	put8(b, 64);
	put(b, v6_src, 16);
	put(b, v6_dst, 16);
}

static void udp(struct buf *b, uint16_t sport, uint16_t dport)
{
	put16(b, sport);
	put16(b, dport);
	put16(b, 8 + 9);
	put16(b, 0);
	put(b, payload, 9);
}

struct frame {
	struct buf f;
	uint32_t caplen; /* 0: all of it */
	uint32_t len;	 /* 0: all of it */
};

static void write_pcap(const char *path, uint32_t linktype,
		       const struct frame *fr, size_t n)
{
	FILE *f = fopen(path, "wb");
	/* host byte order; the magic number tells the reader which it is */
	uint32_t magic = 0xa1b2c3d4, hdr[4] = {0, 0, 65535, linktype};
	uint16_t version[2] = {2, 4};
	size_t i;

	assert_non_null(f);
	assert_int_equal(fwrite(&magic, sizeof(magic), 1, f), 1);
	assert_int_equal(fwrite(version, sizeof(version), 1, f), 1);
	assert_int_equal(fwrite(hdr, sizeof(hdr), 1, f), 1);
	for (i = 0; i < n; i++) {
		uint32_t cap = fr[i].caplen ? fr[i].caplen
					    : (uint32_t)fr[i].f.n;
		uint32_t rec[4] = {1700000000 + (uint32_t)i, 123456, cap,
				   fr[i].len ? fr[i].len : (uint32_t)fr[i].f.n};

		assert_int_equal(fwrite(rec, sizeof(rec), 1, f), 1);
		if (cap > 0)
			assert_int_equal(fwrite(fr[i].f.b, cap, 1, f), 1);
	}
	assert_int_equal(fclose(f), 0);
}

/* Reads a synthetic file: every datagram must be the one udp() built. */
static const struct fy_pcap_udp_stats *
read_synthetic(const char *path, struct fy_pcap_udp **pp, int *count)
{
	char err[512], s[FY_ADDR_STRLEN];
	struct fy_pcap_udp *p = fy_pcap_udp_open(path, err, sizeof(err));
	struct fy_udp_pkt k;
	int rc;

	if (p == NULL)
		fail_msg("%s", err);
	*count = 0;
	while ((rc = fy_pcap_udp_next(p, &k)) == 1) {
		fy_addr_str(&k.src, s, sizeof(s));
		if (k.family == FY_AF_INET)
			assert_string_equal(s, "192.0.2.1");
		else
			assert_string_equal(s, "2001:db8::1");
		assert_int_equal(k.sport, 1000 + *count);
		assert_int_equal(k.dport, 2055);
		assert_true(k.len <= 9);
		assert_memory_equal(k.payload, payload, k.len);
		assert_int_equal(k.ts_ms % 1000, 123);
		(*count)++;
	}
	assert_int_equal(rc, 0);
	*pp = p;
	return fy_pcap_udp_stats(p);
}

/* Ethernet: tags, options, extension headers, fragments, damage. */
static void test_synthetic_ethernet(void **state)
{
	struct frame fr[20];
	struct fy_pcap_udp *p;
	const struct fy_pcap_udp_stats *st;
	char path[TMP_PATH_LEN];
	int i = 0, n, udp_n = 0;

	(void)state;
	tmp_path(path);
	memset(fr, 0, sizeof(fr));
	/* IPv4 with 2 words of options, padded to 60 bytes */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0x4000, 2, 17);
	udp(&fr[i].f, (uint16_t)(1000 + udp_n++), 2055);
	put_zero(&fr[i++].f, 6);
	/* 802.1ad + 802.1Q + IPv6 + hop-by-hop + dest opts + fragment 0 */
	eth(&fr[i].f, 0x88a8);
	put16(&fr[i].f, 100);
	put16(&fr[i].f, 0x8100);
	put16(&fr[i].f, 200);
	put16(&fr[i].f, 0x86dd);
	ipv6(&fr[i].f, 0, 8 + 16 + 8 + 17);
	put8(&fr[i].f, 60);
	put8(&fr[i].f, 0);
	put_zero(&fr[i].f, 6);
	put8(&fr[i].f, 44);
	put8(&fr[i].f, 1);
	put_zero(&fr[i].f, 14);
	put8(&fr[i].f, 17);
	put8(&fr[i].f, 0);
	put16(&fr[i].f, 0x0001); /* offset 0, more fragments */
	put32(&fr[i].f, 7);
	udp(&fr[i++].f, (uint16_t)(1000 + udp_n++), 2055);
	/* IPv6 non-first fragment of UDP */
	eth(&fr[i].f, 0x86dd);
	ipv6(&fr[i].f, 44, 8 + 17);
	put8(&fr[i].f, 17);
	put8(&fr[i].f, 0);
	put16(&fr[i].f, 185 << 3);
	put32(&fr[i].f, 7);
	put_zero(&fr[i++].f, 17);
	/* IPv4 non-first fragment of UDP */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 185, 0, 17);
	put_zero(&fr[i++].f, 17);
	/* IPv4 TCP */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 6, 0, 0, 20);
	put_zero(&fr[i++].f, 20);
	/* ARP */
	eth(&fr[i].f, 0x0806);
	put_zero(&fr[i++].f, 28);
	/* cut by the snap length in the payload: 5 of 9 bytes */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	udp(&fr[i].f, (uint16_t)(1000 + udp_n++), 2055);
	fr[i].caplen = (uint32_t)fr[i].f.n - 4;
	i++;
	/* cut by the snap length in the IP header */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	udp(&fr[i].f, 9999, 2055);
	fr[i++].caplen = 14 + 12;
	/* IHL says 60 bytes, the frame has 37: malformed, not snapped */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	fr[i].f.b[14] = 0x4f;
	udp(&fr[i++].f, 9999, 2055);
	/* UDP length 4 */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	udp(&fr[i].f, 9999, 2055);
	fr[i].f.b[14 + 20 + 5] = 4;
	i++;
	/* IPv6 routing header longer than the frame */
	eth(&fr[i].f, 0x86dd);
	ipv6(&fr[i].f, 43, 8 + 17);
	put8(&fr[i].f, 17);
	put8(&fr[i].f, 255);
	put_zero(&fr[i].f, 6);
	udp(&fr[i++].f, 9999, 2055);
	/* IPv4 total length shorter than the header */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	fr[i].f.b[16] = 0;
	fr[i].f.b[17] = 10;
	udp(&fr[i++].f, 9999, 2055);
	/* eight VLAN tags and then more: given up */
	eth(&fr[i].f, 0x8100);
	for (n = 0; n < 9; n++) {
		put16(&fr[i].f, 1);
		put16(&fr[i].f, 0x8100);
	}
	put16(&fr[i].f, 1);
	put16(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	udp(&fr[i++].f, 9999, 2055);
	/* IPv4 with no payload, padded with zeros: not a UDP length of 0 */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 0);
	put_zero(&fr[i++].f, 26);
	/* IPv4 with a UDP length of 0 */
	eth(&fr[i].f, 0x0800);
	ipv4(&fr[i].f, 17, 0, 0, 17);
	udp(&fr[i].f, 9999, 2055);
	fr[i].f.b[14 + 20 + 4] = 0;
	fr[i].f.b[14 + 20 + 5] = 0;
	i++;
	/* an empty frame */
	i++;

	write_pcap(path, 1, fr, (size_t)i);
	st = read_synthetic(path, &p, &n);
	assert_int_equal(n, udp_n);
	assert_int_equal(st->frames, i);
	assert_int_equal(st->udp, 3);
	assert_int_equal(st->skipped_fragments, 2);
	assert_int_equal(st->skipped_non_udp, i - 5);
	assert_int_equal(st->truncated, 2);
	fy_pcap_udp_close(p);
	unlink(path);
}

/* The other link types, one or two frames each. */
static void test_synthetic_linktypes(void **state)
{
	static const struct {
		uint32_t linktype;
		int v6;
		const char *hdr; /* link header, hex */
	} cases[] = {
		{113, 0,
		 "0000000100060200000000010000"
		 "0800"}, /* SLL */
		{113, 1,
		 "0004000100060200000000010000"
		 "86dd"},
		{276, 0,
		 "0800"
		 "0000"
		 "00000002"
		 "0001"
		 "00"
		 "06"
		 "020000000001"
		 "0000"}, /* SLL2 */
		{276, 1,
		 "86dd"
		 "0000"
		 "00000002"
		 "0001"
		 "04"
		 "06"
		 "020000000001"
		 "0000"},
		{101, 0, ""}, /* LINKTYPE_RAW, read back as DLT_RAW */
		{101, 1, ""},
		{12, 0, ""},
		{228, 0, ""},	    /* IPV4 */
		{229, 1, ""},	    /* IPV6 */
		{0, 0, "02000000"}, /* NULL, little-endian host */
		{0, 1, "0000001e"}, /* NULL, big-endian host, Darwin AF_INET6 */
		{0, 1, "0a000000"}, /* NULL, Linux AF_INET6 */
		{108, 0, "00000002"}, /* LOOP, network order */
		{108, 1, "00000018"},
	};
	char path[TMP_PATH_LEN];
	size_t c;

	(void)state;
	tmp_path(path);
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct frame fr[2];
		struct fy_pcap_udp *p;
		const struct fy_pcap_udp_stats *st;
		const char *h = cases[c].hdr;
		unsigned v;
		int n;

		memset(fr, 0, sizeof(fr));
		for (; h[0] && h[1]; h += 2) {
			assert_int_equal(sscanf(h, "%2x", &v), 1);
			put8(&fr[0].f, (uint8_t)v);
		}
		if (cases[c].v6)
			ipv6(&fr[0].f, 17, 17);
		else
			ipv4(&fr[0].f, 17, 0, 0, 17);
		udp(&fr[0].f, 1000, 2055);
		/* the same link header followed by 4 bytes that are no IP */
		memcpy(fr[1].f.b, fr[0].f.b, strlen(cases[c].hdr) / 2);
		fr[1].f.n = strlen(cases[c].hdr) / 2 + 4;
		write_pcap(path, cases[c].linktype, fr, 2);
		st = read_synthetic(path, &p, &n);
		assert_int_equal(n, 1);
		assert_int_equal(st->frames, 2);
		assert_int_equal(st->skipped_non_udp, 1);
		fy_pcap_udp_close(p);
	}
	unlink(path);
}

static void test_unsupported_linktype(void **state)
{
	struct frame fr[1];
	char path[TMP_PATH_LEN];
	char err[512];

	(void)state;
	tmp_path(path);
	memset(fr, 0, sizeof(fr));
	put_zero(&fr[0].f, 40);
	write_pcap(path, 105, fr, 1); /* IEEE 802.11 */
	assert_null(fy_pcap_udp_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "link type 105"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_ipv4),
		cmocka_unit_test(test_linux_sll),
		cmocka_unit_test(test_ipv6_transport),
		cmocka_unit_test(test_udp_among_tcp),
		cmocka_unit_test(test_pcapng_vlan),
		cmocka_unit_test(test_pcapng_mixed),
		cmocka_unit_test(test_qinq),
		cmocka_unit_test(test_ipv6_fragments),
		cmocka_unit_test(test_ipv4_fragments_not_udp),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_not_a_capture),
		cmocka_unit_test(test_truncated_file),
		cmocka_unit_test(test_truncated_pcapng),
		cmocka_unit_test(test_synthetic_ethernet),
		cmocka_unit_test(test_synthetic_linktypes),
		cmocka_unit_test(test_unsupported_linktype),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
