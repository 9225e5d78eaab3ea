/*
 * pcap_udp.h - UDP datagrams out of a capture file.
 *
 * Reads a classic pcap or a pcapng file with libpcap and hands back the UDP
 * datagrams it holds, one at a time, with their addresses, ports and time.
 * It is how the collector imports captured export packets (`-f`) and how the
 * tests feed real devices' captures to the decoder.
 *
 * Link types: Ethernet (with any number of 802.1Q / 802.1ad / QinQ tags, up
 * to 8), Linux cooked capture v1 (SLL, 113) and v2 (SLL2, 276), raw IP
 * (DLT_RAW 12/14, LINKTYPE_RAW 101, IPV4 228, IPV6 229) and BSD loopback
 * (NULL 0, LOOP 108). Any other link type is refused at open. Not decoded:
 * MPLS, tunnels (IP-in-IP, GRE), 802.3/LLC frames: they count as non-UDP.
 *
 * IPv4 options are skipped. IPv6 extension headers hop-by-hop, routing,
 * destination options, AH and fragment are skipped. There is no reassembly:
 * a non-first fragment of a UDP datagram is skipped and counted; a first
 * fragment is returned with the part of the datagram it carries.
 *
 * Every header is read through the bounded reader of wire.h, within the
 * captured length: a damaged or cut frame is skipped or shortened, never
 * read past.
 */
#ifndef FY_PCAP_UDP_H
#define FY_PCAP_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* One UDP datagram. */
struct fy_udp_pkt {
	struct fy_addr src; /* IPv4 as IPv4-mapped IPv6, see flow.h */
	struct fy_addr dst;
	uint8_t family; /* FY_AF_INET or FY_AF_INET6: the IP header's */
	uint16_t sport;
	uint16_t dport;
	uint64_t ts_ms; /* capture time, ms since the Unix epoch */
	/*
	 * The UDP payload: min(UDP length - 8, bytes captured, bytes the IP
	 * header says it carries). Points into the reader's buffer; valid
	 * until the next fy_pcap_udp_next() or fy_pcap_udp_close().
	 */
	const uint8_t *payload;
	size_t len;
};

/*
 * Counters since open. Every frame read is counted once in `frames` and in
 * exactly one of udp, skipped_non_udp and skipped_fragments:
 *   udp               datagrams returned;
 *   skipped_non_udp   not IP, not UDP, malformed, or headers cut short;
 *   skipped_fragments non-first fragments of UDP datagrams (IPv4 or IPv6).
 * `truncated` counts, among them, the frames cut by the snap length where
 * it mattered: a datagram returned with less than its UDP length, or a
 * frame skipped because its headers were not all captured.
 */
struct fy_pcap_udp_stats {
	uint64_t frames;
	uint64_t udp;
	uint64_t skipped_non_udp;
	uint64_t skipped_fragments;
	uint64_t truncated;
};

/* Opaque reader handle. */
struct fy_pcap_udp;

/*
 * Opens a capture file (pcap or pcapng, "-" for stdin).
 *
 * \return the reader, or NULL with a message naming the file in `err`
 *         (truncated to `errlen` bytes, always terminated; `err` may be NULL
 *         if errlen is 0): file missing or unreadable, not a capture, link
 *         type not supported, out of memory.
 */
struct fy_pcap_udp *fy_pcap_udp_open(const char *path, char *err,
				     size_t errlen);

/*
 * Reads up to the next UDP datagram, skipping (and counting) everything else.
 *
 * \return 1 and fills `out` (its payload is valid until the next call);
 *         0 at the end of the file;
 *         -1 on a read error, e.g. a file cut in the middle of a record: the
 *         message, naming the file, is in fy_pcap_udp_error(). The datagrams
 *         returned before the error remain valid data.
 */
int fy_pcap_udp_next(struct fy_pcap_udp *p, struct fy_udp_pkt *out);

/* The last read error, naming the file; "" if none. Owned by the reader. */
const char *fy_pcap_udp_error(const struct fy_pcap_udp *p);

/* Counters; the pointer stays valid until fy_pcap_udp_close(). */
const struct fy_pcap_udp_stats *fy_pcap_udp_stats(const struct fy_pcap_udp *p);

/* The capture's link type (DLT_ value), for messages and tests. */
int fy_pcap_udp_linktype(const struct fy_pcap_udp *p);

/* Closes the file and frees the reader. NULL is allowed. */
void fy_pcap_udp_close(struct fy_pcap_udp *p);

#endif
