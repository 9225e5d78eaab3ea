/*
 * probe.h - the packet path and the loops that drive it: capture, sample,
 * decode, account in the flow cache, export.
 *
 * A capture file is read in a plain loop, its packet timestamps as the
 * clock, and everything is exported (forced) at its end. A live capture
 * runs in one libev loop: the pcap descriptor (non-blocking) wakes the
 * packet path, a one-second timer advances the clock from the wall clock
 * when the link is quiet, and signals stop (SIGTERM, SIGINT) or log
 * statistics (SIGUSR1).
 *
 * The state is reachable through small functions, for the control socket.
 */
#ifndef FY_EXPORTERD_PROBE_H
#define FY_EXPORTERD_PROBE_H

#include <pcap/pcap.h>
#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "export.h"

struct probe_stats {
	uint64_t frames;      /* delivered by libpcap (after the filter) */
	uint64_t sampled_out; /* not taken by 1-in-N sampling */
	uint64_t decoded;     /* accounted into a flow */
	uint64_t not_ip;      /* ARP, LLC, ... */
	uint64_t truncated;   /* cut before the IP addresses */
	uint64_t malformed;
	uint64_t snapped;      /* IP packets not all captured (counted) */
	uint64_t tunneled;     /* accounted by their inner header */
	uint64_t kernel_drops; /* live: as pcap_stats() says */
};

struct probe;
struct ev_loop; /* libev */

/*
 * Builds the probe: the flow cache (preallocated) over the capture `pc`
 * and the exporter `x`, both of which it borrows. NULL with a message.
 */
struct probe *probe_new(const struct xcfg *cfg, pcap_t *pc, struct exp *x,
			char *err, size_t errlen);

/*
 * File mode: after every batch of packets, runs `loop` once without
 * waiting, so that what it holds (the control socket) is served while a
 * capture file is read. Live mode runs in the default loop anyway.
 */
void probe_serve(struct probe *p, struct ev_loop *loop);

/* Reads the capture file to its end; 0, or -1 on a read error. */
int probe_run_file(struct probe *p);

/* Runs the live loop until SIGTERM or SIGINT; 0, or -1 on an error. */
int probe_run_live(struct probe *p);

/* Exports every flow (forced) and sends everything out. */
void probe_expire_all(struct probe *p);

/* Every collector gets the templates now. */
void probe_send_templates(struct probe *p);

/* Logs the counters (SIGUSR1, and at exit). */
void probe_log_stats(struct probe *p);

const struct probe_stats *probe_stats(const struct probe *p);
struct fc_cache *probe_cache(struct probe *p);
struct exp *probe_exporter(struct probe *p);

void probe_free(struct probe *p);

#endif
