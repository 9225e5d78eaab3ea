/*
 * cache.h - the probe's flow cache: packets in, finished flows out.
 *
 * A hash table (SipHash-1-3 with a random seed, so that crafted traffic
 * cannot choose its buckets) over a preallocated array of `max_flows`
 * entries; nothing is allocated after fc_new(). Every entry sits on two
 * intrusive lists, both in the order of the cache clock:
 *  - an idle list per timeout class (TCP, UDP, ICMP, other, and TCP flows
 *    that saw FIN or RST), ordered by last packet: each list has one idle
 *    timeout, so its head is the first to expire and the least recently
 *    active flow of the cache is the oldest of the heads;
 *  - an active list per protocol class, ordered by creation, for the
 *    active timeout.
 * So a packet costs one lookup and a few list moves, and expiry looks at
 * list heads only: O(1) per packet.
 *
 * The clock is the packet timestamps (never going back: an older packet is
 * counted in time as the newest seen), so a capture file replays the same
 * way every time; a live probe also advances it from the wall clock with
 * fc_expire() when no packet comes.
 *
 * Finished flows go to the export callback as struct fy_flow records with
 * their true flowEndReason: idle (1), active (2), end of flow (3: a TCP FIN
 * or RST was seen; this wins over every other trigger, since the flow did
 * end), forced (4) or lack of resources (5: the least recently active flow
 * makes room for a new one when the cache is full).
 *
 * Non-first fragments carry no ports. The cache remembers the ports of
 * each first fragment by (addresses, protocol, IP id) in a small
 * direct-mapped table, so the later fragments join their flow; a later
 * fragment whose first one was not seen makes a flow with ports 0.
 */
#ifndef FY_EXPORTERD_CACHE_H
#define FY_EXPORTERD_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "pkt_decode.h"

/* Timeout classes: by protocol. */
enum fc_class {
	FC_TCP = 0,
	FC_UDP,
	FC_ICMP,
	FC_GENERAL,
	FC_NCLASS,
};

/*
 * Timeouts in ms. An idle or active timeout of 0 disables it. The FIN and
 * RST timeouts are how long a TCP flow that saw one lingers for its last
 * ACKs before it is exported as ended (reason 3); 0 ends it at once.
 */
struct fc_timeouts {
	uint32_t idle_ms[FC_NCLASS];
	uint32_t active_ms[FC_NCLASS];
	uint32_t tcp_fin_ms;
	uint32_t tcp_rst_ms;
};

struct fc_cfg {
	uint32_t max_flows; /* entries preallocated; at least 1 */
	struct fc_timeouts to;
	bool biflow;		  /* RFC 5103: both directions in one flow */
	bool key_vlan;		  /* the VLAN id is part of the flow key */
	uint32_t frag_slots;	  /* fragment table size; 0: default */
	uint32_t frag_timeout_ms; /* how long a first fragment is remembered */
	uint64_t seed[2];	  /* hash key */
	/* Copied into every flow exported. */
	uint32_t sampling_interval;
	uint32_t domain;
};

/* Counters since fc_new(). */
struct fc_stats {
	uint64_t packets; /* packets accounted into flows */
	uint64_t bytes;	  /* their IP bytes */
	uint64_t flows_created;
	uint64_t flows_exported;
	uint64_t flows_active;	/* in the cache now */
	uint64_t flows_peak;	/* most ever in the cache at once */
	uint64_t end_reason[6]; /* flows exported, by enum fy_end_reason */
	uint64_t evicted;	/* end_reason[5] plus ended flows pushed out */
	uint64_t frag_first;	/* first fragments remembered */
	uint64_t frag_joined;	/* later fragments that found their ports */
	uint64_t frag_orphans;	/* later fragments that did not */
	uint64_t clock_backwards; /* packets older than the clock */
};

/*
 * Receives each finished flow. `f` is valid during the call only. The
 * callback must not call back into the cache.
 */
typedef void (*fc_export_fn)(void *arg, const struct fy_flow *f);

struct fc_cache;

/*
 * Returns a new cache with every entry allocated, or NULL if `cfg` is
 * invalid (max_flows 0 or over 2^31) or memory is short. `cfg` is copied.
 */
struct fc_cache *fc_new(const struct fc_cfg *cfg, fc_export_fn fn, void *arg);

/* Frees the cache. Flows still in it are dropped: fc_expire_all() first. */
void fc_free(struct fc_cache *c);

/*
 * Accounts one decoded packet seen at `ts_ms` (ms since the epoch). First
 * expires what the clock says is due, then may export flows: one evicted
 * to make room, one ended by a new SYN on its 5-tuple, or this packet's
 * flow if FIN/RST end flows at once.
 */
void fc_packet(struct fc_cache *c, const struct fy_pkt *p, uint64_t ts_ms);

/* Advances the clock to `now_ms` (if later) and exports what timed out. */
void fc_expire(struct fc_cache *c, uint64_t now_ms);

/*
 * Exports every flow, the least recently active first, with `reason`
 * (normally FY_END_FORCED; a flow that saw FIN or RST says FY_END_EOF).
 */
void fc_expire_all(struct fc_cache *c, uint8_t reason);

/*
 * Calls `fn` with every flow in the cache, least recently active first,
 * as it would be exported now (end_reason 0); stops early and returns the
 * value if `fn` returns non-zero. The cache must not change meanwhile.
 */
int fc_foreach(const struct fc_cache *c,
	       int (*fn)(void *arg, const struct fy_flow *f), void *arg);

/*
 * A walk that may stop and resume while the cache changes in between (for
 * the control socket, whose flow dump is sent in parts between packets).
 * Visits the hash buckets from `pos` on, whole buckets only, calling `fn`
 * with every flow in them (end_reason 0), until `max_buckets` buckets were
 * visited or `fn` returned non-zero (the walk then still finishes that
 * bucket). Returns the position to resume from: fc_buckets() at the end
 * (and for a `pos` past it, which visits nothing).
 *
 * As a flow's bucket follows from its key, a walk resumed across changes
 * reports every flow that stays in the cache throughout exactly once;
 * flows created or exported in the meantime may or may not be reported.
 * The order is the hash order, which says nothing about the flows.
 */
uint64_t fc_walk(const struct fc_cache *c, uint64_t pos, uint64_t max_buckets,
		 int (*fn)(void *arg, const struct fy_flow *f), void *arg);

/* The number of hash buckets: where fc_walk() ends. */
uint64_t fc_buckets(const struct fc_cache *c);

/* The cache clock: the latest time seen, ms since the epoch (0: none). */
uint64_t fc_clock(const struct fc_cache *c);

const struct fc_stats *fc_stats(const struct fc_cache *c);

/* The timeout class of a protocol number. */
enum fc_class fc_class_of(uint8_t proto);

#endif
