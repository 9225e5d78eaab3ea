/*
 * nf_encode.h - NetFlow v5, v9 and IPFIX export message encoder.
 *
 * Turns struct fy_flow records into export messages (UDP payloads) and hands
 * each finished message to a send callback. The encoder never does I/O
 * itself, so the probe can batch the messages into sendmmsg() and tests can
 * capture them.
 *
 * One encoder is one export stream: one version, one observation domain
 * (IPFIX) / source id (v9) / engine (v5), one sequence counter. A probe that
 * exports to several collectors runs one encoder per collector, so that each
 * collector sees its own gap-free sequence and its own template refreshes.
 *
 * Message layout:
 *  - v5: the fixed 24-byte header and 48-byte records, at most 30 a packet.
 *    IPv6 flows cannot be carried; they are skipped and counted.
 *  - v9 and IPFIX: two data templates, 256 for IPv4 flows and 257 for IPv6
 *    flows, fixed-length records. When sampling is configured an options
 *    template (258) and its one data record say so. Templates are sent in the
 *    first message, then every `tmpl_refresh_packets` messages and whenever
 *    `tmpl_refresh_ms` has passed, and after fy_nfenc_request_templates().
 *
 * No allocation happens after fy_nfenc_new(): one mtu-sized buffer is
 * reused for every message.
 */
#ifndef FY_NF_ENCODE_H
#define FY_NF_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Template ids the encoder uses on the wire (v9 and IPFIX). */
#define FY_NFENC_TMPL_V4 256
#define FY_NFENC_TMPL_V6 257
#define FY_NFENC_TMPL_SAMPLING 258

#define FY_NFENC_DEFAULT_MTU 1400
#define FY_NFENC_DEFAULT_REFRESH_PACKETS 20
#define FY_NFENC_DEFAULT_REFRESH_MS 60000

/*
 * Zero in mtu, tmpl_refresh_packets and tmpl_refresh_ms means the default.
 */
struct fy_nfenc_cfg {
	uint8_t version; /* 5, 9 or 10 (IPFIX) */
	uint32_t domain; /* IPFIX observation domain id / v9 source id */
	uint8_t engine_type, engine_id; /* v5 header */
	/*
	 * Largest message (UDP payload) in bytes; 1400 by default. A record is
	 * never split, so fy_nfenc_new() refuses an mtu that cannot hold the
	 * header, every template and one record of the largest kind.
	 */
	uint16_t mtu;
	uint32_t tmpl_refresh_packets; /* templates every N messages; 20 */
	uint32_t tmpl_refresh_ms;      /* and at least every T ms; 60000 */
	/*
	 * Exporter start, ms since the epoch: the v5/v9 sysUpTime base. Flow
	 * times are sent relative to it (modulo 2^32) in v5 and v9.
	 */
	uint64_t boot_ms;
	/*
	 * 1-in-N packet sampling applied by the probe; 0 or 1 means none.
	 * v5 carries it in the header (14 bits: N must be < 16384); v9 and
	 * IPFIX in an options record.
	 */
	uint32_t sampling_interval;
	uint8_t sampling_random;   /* 0 deterministic, 1 random */
	bool with_macs, with_vlan; /* v9/IPFIX: add MAC 56/80, VLAN 58/59 */
	/*
	 * IPFIX only (refused for v5/v9, where the reverse direction would be
	 * lost): RFC 5103 reverse counters (PEN 29305, ids 1 and 2) from the
	 * flow's out_bytes/out_packets.
	 */
	bool biflow;
};

/*
 * Records are counted when they are put into a message, whether or not its
 * send then succeeds; messages and bytes only when it does.
 */
struct fy_nfenc_stats {
	uint64_t messages;	   /* sent: the callback returned >= 0 */
	uint64_t bytes;		   /* sum of their lengths */
	uint64_t records;	   /* flow data records */
	uint64_t template_records; /* template and options template records */
	uint64_t options_records;  /* options data records (sampling) */
	uint64_t skipped;     /* flows the version cannot carry (v6 in v5) */
	uint64_t send_errors; /* messages the callback failed to send */
};

/*
 * Receives one finished message. `msg` is valid only during the call (the
 * buffer is reused). Returns a negative value on failure; anything else
 * (0, or the byte count sendto() returned) is success. A failed message is
 * counted in send_errors and not retried; its sequence numbers stay used,
 * so the collector accounts its records as lost.
 */
typedef int (*fy_nfenc_send_fn)(void *arg, const uint8_t *msg, size_t len);

struct fy_nfenc;

/*
 * Returns a new encoder, or NULL if `cfg` is invalid (unknown version, mtu
 * too small, v5 sampling interval over 14 bits, biflow outside IPFIX,
 * sampling_random not 0/1) or memory is short. `cfg` is copied.
 */
struct fy_nfenc *fy_nfenc_new(const struct fy_nfenc_cfg *cfg,
			      fy_nfenc_send_fn send, void *arg);

/*
 * Buffers one flow, first sending the message under construction if the
 * flow's record does not fit into it. `now_ms` (ms since the epoch) stamps
 * that message and decides template refresh by time.
 *
 * The flow's family picks the template: FY_AF_INET6 goes as IPv6,
 * FY_AF_INET as IPv4, FY_AF_NONE by whether `src` is IPv4-mapped. In v5 an
 * IPv6 flow is skipped and counted in stats.skipped (the call returns 0).
 *
 * Returns 0 when the flow was taken; -EINVAL on NULL arguments. If sending
 * the earlier, full message failed, returns the callback's negative value:
 * the flow itself has still been taken, do not add it again.
 */
int fy_nfenc_add(struct fy_nfenc *e, const struct fy_flow *f, uint64_t now_ms);

/*
 * Sends the message under construction, if any. After
 * fy_nfenc_request_templates() (v9/IPFIX) a request not yet answered is
 * answered at once: a message with the templates alone goes out, even when
 * nothing was buffered. Otherwise nothing buffered means nothing sent.
 * Returns 0, -EINVAL, or the callback's negative value.
 */
int fy_nfenc_flush(struct fy_nfenc *e, uint64_t now_ms);

/*
 * Makes the next message begun carry the templates (and the sampling
 * options): what a collector that lost its state, or the control API's
 * SendTemplates, asks for. Without effect in v5. A message already under
 * construction is not changed: it goes out as it is, and the request holds
 * for the message after it (fy_nfenc_flush() sends that one at once).
 */
void fy_nfenc_request_templates(struct fy_nfenc *e);

/* Counters since fy_nfenc_new(); valid until fy_nfenc_free(). NULL if e is. */
const struct fy_nfenc_stats *fy_nfenc_stats(const struct fy_nfenc *e);

/*
 * Frees the encoder. Records still buffered are dropped: call
 * fy_nfenc_flush() first to send them. NULL is allowed.
 */
void fy_nfenc_free(struct fy_nfenc *e);

#endif
