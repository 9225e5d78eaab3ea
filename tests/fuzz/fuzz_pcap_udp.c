/*
 * libFuzzer target: UDP datagrams out of a hostile capture file
 * (pcap_udp.h): libpcap's pcap/pcapng parsing, then every link type and
 * IP header that pcap_udp.c decodes.
 *
 * Input: the capture file, written to a memfd and opened through its
 * /proc/self/fd path. Every datagram is read to the end and its payload
 * touched; the counters must add up as pcap_udp.h promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pcap_udp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILE 65536

static uint64_t sum;
static int mfd = -1;
static char path[64];

static int write_file(const uint8_t *d, size_t n)
{
	size_t done = 0;
	ssize_t k;

	if (mfd < 0) {
		mfd = memfd_create("fuzz_pcap_udp", MFD_CLOEXEC);
		if (mfd < 0)
			return -1;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	}
	if (ftruncate(mfd, 0) != 0)
		return -1;
	while (done < n) {
		k = pwrite(mfd, d + done, n - done, (off_t)done);
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* Every byte of the payload, so that ASan sees a read past the frame. */
static void touch(const struct fy_udp_pkt *u)
{
	size_t i;

	sum += u->sport + u->dport + u->family + u->ts_ms + u->src.b[15] +
	       u->dst.b[0];
	for (i = 0; i < u->len; i++)
		sum += u->payload[i];
}

/* The promise of pcap_udp.h: each frame counted in exactly one bucket. */
static void check_stats(const struct fy_pcap_udp_stats *st, uint64_t got)
{
	if (st->udp != got ||
	    st->frames !=
		    st->udp + st->skipped_non_udp + st->skipped_fragments ||
	    st->truncated > st->frames)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fy_pcap_udp *p;
	struct fy_udp_pkt u;
	char err[256];
	uint64_t got = 0;
	int rc;

	if (size > MAX_FILE)
		return 0;
	if (write_file(data, size) != 0)
		abort(); /* the harness, not the reader: stop loudly */
	p = fy_pcap_udp_open(path, err, sizeof(err));
	if (p == NULL) {
		sum += strlen(err);
		return 0;
	}
	sum += (uint64_t)fy_pcap_udp_linktype(p);
	while ((rc = fy_pcap_udp_next(p, &u)) == 1) {
		if (u.family != FY_AF_INET && u.family != FY_AF_INET6)
			__builtin_trap();
		touch(&u);
		got++;
	}
	if (rc == -1)
		sum += strlen(fy_pcap_udp_error(p));
	check_stats(fy_pcap_udp_stats(p), got);
	fy_pcap_udp_close(p);
	return 0;
}
