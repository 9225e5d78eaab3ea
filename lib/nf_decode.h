/*
 * nf_decode.h - NetFlow v5, v9 and IPFIX decoder with template state.
 *
 * One decoder serves any number of exporters. Templates are kept per
 * (exporter address, exporter port, observation domain / source id,
 * template id); so are sequence numbers, sampler tables and the counters.
 * A data set that arrives before its template is copied aside for a short,
 * bounded time and decoded when the template comes. A packet with a
 * structural error is counted as malformed and none of its flows is
 * emitted; templates it defined before the error are kept.
 *
 * With session_idle_s set, a session without a packet for longer than that
 * may be forgotten: at once when a new session needs its room in a full
 * table, and at the latest at the next fy_nfdec_expire. Its templates,
 * waiting data and counters go with it; the exporter, if it comes back,
 * starts a new session and must send its templates again.
 */
#ifndef FY_NF_DECODE_H
#define FY_NF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* The transport endpoint a packet came from. */
struct fy_nf_src {
	struct fy_addr addr;
	uint16_t port;
};

/* Limits; zero in any field means its default. */
struct fy_nfdec_cfg {
	uint32_t max_sessions;		    /* (exporter, domain) pairs; 4096 */
	uint32_t max_templates;		    /* over all exporters; 65536 */
	uint32_t max_templates_per_session; /* 1024 */
	uint32_t max_template_fields;	    /* fields per template; 256 */
	/* data kept for a template, bookkeeping included; 1 MiB */
	uint32_t pending_max_bytes;
	uint32_t pending_max_age_ms; /* how long it waits; 30000 */
	/* seconds without a packet after which a session may be evicted;
	 * 0 (the default): kept until the decoder is freed */
	uint32_t session_idle_s;
};

/* Counters per exporter and observation domain. */
struct fy_nfdec_stats {
	uint64_t packets;
	uint64_t flows; /* data records decoded into flows */
	uint64_t bytes; /* their bytes */
	uint64_t options_records;
	uint64_t malformed;    /* packets dropped for a structural error */
	uint64_t no_template;  /* data sets whose template never came */
	uint64_t pending;      /* data sets that waited for their template */
	uint64_t seq_failures; /* sequence numbers out of order */
	uint64_t lost_flows;   /* estimate from sequence gaps */
	uint64_t templates_rejected; /* over a limit or invalid */
	uint64_t first_seen_ms;
	uint64_t last_seen_ms;
};

/* Global counters, not tied to a session. */
struct fy_nfdec_totals {
	uint64_t packets;
	uint64_t malformed;   /* includes packets too short for a header */
	uint64_t bad_version; /* neither 5, 9 nor 10 */
	uint64_t sessions_rejected; /* over max_sessions */
	uint64_t pending_dropped;   /* over pending_max_bytes */
	/* Templates refused by a cap (each also counts in its session's
	 * templates_rejected, with the invalid ones). */
	uint64_t templates_over_max;	 /* max_templates reached */
	uint64_t templates_over_session; /* max_templates_per_session */
	uint64_t templates_too_long;	 /* over max_template_fields */
	/* Sessions quiet for over session_idle_s, forgotten; and the
	 * no_template they had counted, so that a sum over the sessions
	 * plus this never goes down. */
	uint64_t sessions_evicted;
	uint64_t evicted_no_template;
};

/* What the decoder holds now, to compare with its caps. */
struct fy_nfdec_usage {
	uint32_t sessions;
	uint32_t templates;
	uint64_t pending_bytes; /* data and bookkeeping of waiting sets */
	/* last packet of the least recently active session; 0 if none */
	uint64_t oldest_seen_ms;
};

/* What the session iterator reports. */
struct fy_nfdec_session_info {
	struct fy_nf_src src;
	uint32_t domain;
	uint8_t version;
	uint32_t templates; /* templates held now */
	const struct fy_nfdec_stats *stats;
};

/* What the template iterator reports: one template, its fields in order. */
struct fy_nfdec_field_info {
	uint32_t pen; /* 0 for IANA */
	uint16_t id;
	uint16_t len; /* FY_IE_VARLEN if variable */
};

struct fy_nfdec_template_info {
	struct fy_nf_src src;
	uint32_t domain;
	uint16_t id;
	uint8_t version;
	uint8_t is_options;
	uint16_t nfields;
	const struct fy_nfdec_field_info *fields;
};

enum fy_nfdec_status {
	FY_NFDEC_OK = 0,
	FY_NFDEC_MALFORMED = -1,   /* counted; no flow of the packet emitted */
	FY_NFDEC_BAD_VERSION = -2, /* not NetFlow v5/v9 nor IPFIX */
	FY_NFDEC_NO_SESSION = -3,  /* session table full */
	FY_NFDEC_NOMEM = -4,
};

/* Receives decoded flows: a batch per packet, or per waiting set decoded. */
typedef void (*fy_nfdec_emit_fn)(void *arg, const struct fy_flow *flows,
				 size_t n);

struct fy_nfdec;

/* Returns a new decoder, NULL if out of memory. `cfg` may be NULL. */
struct fy_nfdec *fy_nfdec_new(const struct fy_nfdec_cfg *cfg);
void fy_nfdec_free(struct fy_nfdec *d);

/*
 * Decodes one export packet (a UDP payload) from `src`, received at
 * `now_ms` (ms since the epoch: drives the expiry of waiting data, never
 * the flow times, which come from the packet). Flows go to `emit`. Returns
 * FY_NFDEC_OK or a negative enum fy_nfdec_status; every failure is also
 * counted.
 */
int fy_nfdec_decode(struct fy_nfdec *d, const struct fy_nf_src *src,
		    const uint8_t *pkt, size_t len, uint64_t now_ms,
		    fy_nfdec_emit_fn emit, void *arg);

/*
 * Lets the next fy_nfdec_decode call build its flows straight in buf
 * (room for cap flows) instead of the decoder's own buffer, so that a
 * caller that keeps them (collectord's batches) need not copy them: when
 * `emit` gets buf itself, the flows are already where they belong. Flows
 * beyond cap, and waiting data of earlier packets, still come from the
 * decoder's buffer; buf's slots past what was emitted may have been
 * written. Good for one call only; NULL or cap 0 clears it.
 */
void fy_nfdec_set_output(struct fy_nfdec *d, struct fy_flow *buf, size_t cap);

/*
 * Drops waiting data older than the age limit (counted as no_template) and
 * evicts the sessions idle for longer than session_idle_s (counted in
 * sessions_evicted). Call it now and then: the cost is that of what it
 * frees. now_ms UINT64_MAX drops every waiting data set but evicts no
 * session.
 */
void fy_nfdec_expire(struct fy_nfdec *d, uint64_t now_ms);

const struct fy_nfdec_totals *fy_nfdec_totals(const struct fy_nfdec *d);

/* The limits in force (defaults filled in) and what is held now. */
const struct fy_nfdec_cfg *fy_nfdec_config(const struct fy_nfdec *d);
void fy_nfdec_get_usage(const struct fy_nfdec *d, struct fy_nfdec_usage *u);

/* What the last fy_nfdec_decode call did to its session's counters. */
struct fy_nfdec_result {
	const struct fy_nfdec_stats *stats; /* its session; NULL if none */
	uint32_t domain;
	uint8_t version;
	uint64_t seq_failures; /* added by this packet */
	uint64_t lost_flows;   /* added by this packet */
};

const struct fy_nfdec_result *fy_nfdec_result(const struct fy_nfdec *d);

/*
 * Calls `fn` for every session; stops early if it returns non-zero. The
 * stats pointers it hands out, and fy_nfdec_result's, are good until the
 * next fy_nfdec_decode or fy_nfdec_expire call (either may evict).
 */
int fy_nfdec_foreach_session(const struct fy_nfdec *d,
			     int (*fn)(void *arg,
				       const struct fy_nfdec_session_info *),
			     void *arg);

/* Calls `fn` for every template held; stops early if it returns non-zero. */
int fy_nfdec_foreach_template(const struct fy_nfdec *d,
			      int (*fn)(void *arg,
					const struct fy_nfdec_template_info *),
			      void *arg);

#endif
