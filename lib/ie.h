/*
 * ie.h - the information element registry.
 *
 * One row per element that flowyard understands: IANA id (RFC 7012 and the
 * IANA IPFIX registry; NetFlow v9 ids 1..127 are the same numbers), name,
 * abstract type, default length, and the flow-record field it lands in. The
 * decoder dispatches on `target`; the encoder takes ids and lengths from
 * here; nfq prints names from here. Cisco NSEL ids above 40000 exist only in
 * NetFlow v9 and are listed in the same table.
 */
#ifndef FY_IE_H
#define FY_IE_H

#include <stddef.h>
#include <stdint.h>

/* Variable length marker in a template (RFC 7011 section 7). */
#define FY_IE_VARLEN 65535
/* RFC 5103 reverse elements carry this private enterprise number. */
#define FY_PEN_REVERSE 29305

enum fy_ie_type {
	FY_IET_OCTETS = 0, /* octetArray, or anything we only skip */
	FY_IET_UNSIGNED,   /* unsigned8..64, reduced-size allowed */
	FY_IET_IPV4,
	FY_IET_IPV6,
	FY_IET_MAC,
	FY_IET_STRING,
	FY_IET_SECONDS, /* dateTimeSeconds */
	FY_IET_MILLIS,	/* dateTimeMilliseconds */
	FY_IET_MICROS,	/* dateTimeMicroseconds, NTP format */
	FY_IET_NANOS,	/* dateTimeNanoseconds, NTP format */
	FY_IET_BOOLEAN,
};

/* Where a decoded element goes. */
enum fy_ie_target {
	FY_T_IGNORE = 0, /* known, not kept */
	FY_T_BYTES,
	FY_T_PACKETS,
	FY_T_OUT_BYTES,
	FY_T_OUT_PACKETS,
	FY_T_TOTAL_BYTES, /* octetTotalCount: used when no delta is sent */
	FY_T_TOTAL_PACKETS,
	FY_T_INIT_BYTES, /* NSEL initiatorOctets */
	FY_T_RESP_BYTES,
	FY_T_INIT_PACKETS,
	FY_T_RESP_PACKETS,
	FY_T_PROTO,
	FY_T_TOS,
	FY_T_TCP_FLAGS,
	FY_T_SRC_PORT,
	FY_T_DST_PORT,
	FY_T_SRC_V4,
	FY_T_DST_V4,
	FY_T_SRC_V6,
	FY_T_DST_V6,
	FY_T_SRC_MASK,
	FY_T_DST_MASK,
	FY_T_INPUT_IF,
	FY_T_OUTPUT_IF,
	FY_T_NEXTHOP_V4,
	FY_T_NEXTHOP_V6,
	FY_T_BGP_NEXTHOP_V4,
	FY_T_BGP_NEXTHOP_V6,
	FY_T_SRC_AS,
	FY_T_DST_AS,
	FY_T_LAST_UPTIME,  /* flowEndSysUpTime (21), ms of uptime */
	FY_T_FIRST_UPTIME, /* flowStartSysUpTime (22) */
	FY_T_START_SEC,
	FY_T_END_SEC,
	FY_T_START_MS,
	FY_T_END_MS,
	FY_T_START_US,
	FY_T_END_US,
	FY_T_START_NS,
	FY_T_END_NS,
	FY_T_START_DELTA_US, /* before the export time */
	FY_T_END_DELTA_US,
	FY_T_SYSINIT_MS, /* systemInitTimeMilliseconds (160) */
	FY_T_OBS_TIME_SEC,
	FY_T_OBS_TIME_MS, /* observationTimeMilliseconds, NSEL event time */
	FY_T_OBS_TIME_US,
	FY_T_OBS_TIME_NS,
	FY_T_ICMP_TYPECODE, /* 32, 139: type * 256 + code */
	FY_T_ICMP_TYPE,
	FY_T_ICMP_CODE,
	FY_T_EXPORTER_V4,
	FY_T_EXPORTER_V6,
	FY_T_SAMPLING_INTERVAL,	      /* 34 */
	FY_T_SAMPLING_ALGO,	      /* 35 */
	FY_T_SAMPLER_ID,	      /* 48, and selectorId 302 */
	FY_T_SAMPLER_MODE,	      /* 49 */
	FY_T_SAMPLER_RANDOM_INTERVAL, /* 50 */
	FY_T_PKT_INTERVAL,	      /* samplingPacketInterval 305 */
	FY_T_PKT_SPACE,		      /* samplingPacketSpace 306 */
	FY_T_SAMPLE_SIZE,	      /* samplingSize 309: n out of ... */
	FY_T_SAMPLE_POPULATION,	      /* samplingPopulation 310: ... N */
	FY_T_END_REASON,
	FY_T_FORWARDING_STATUS,
	FY_T_DIRECTION,
	FY_T_VLAN,
	FY_T_POST_VLAN,
	FY_T_SRC_MAC,
	FY_T_DST_MAC,
	FY_T_MPLS_LABEL,
	FY_T_FW_EVENT,
	FY_T_XLATE_SRC_V4,
	FY_T_XLATE_DST_V4,
	FY_T_XLATE_SRC_V6,
	FY_T_XLATE_DST_V6,
	FY_T_XLATE_SRC_PORT,
	FY_T_XLATE_DST_PORT,
	FY_T_ENGINE_TYPE,
	FY_T_ENGINE_ID,
	FY_T_IP_VERSION,
	FY_T_COUNT
};

/* IANA ids that code refers to by name. */
enum fy_ie_id {
	FY_IE_OCTET_DELTA = 1,
	FY_IE_PACKET_DELTA = 2,
	FY_IE_PROTO = 4,
	FY_IE_TOS = 5,
	FY_IE_TCP_FLAGS = 6,
	FY_IE_SRC_PORT = 7,
	FY_IE_SRC_V4 = 8,
	FY_IE_SRC_MASK = 9,
	FY_IE_INPUT_IF = 10,
	FY_IE_DST_PORT = 11,
	FY_IE_DST_V4 = 12,
	FY_IE_DST_MASK = 13,
	FY_IE_OUTPUT_IF = 14,
	FY_IE_NEXTHOP_V4 = 15,
	FY_IE_SRC_AS = 16,
	FY_IE_DST_AS = 17,
	FY_IE_BGP_NEXTHOP_V4 = 18,
	FY_IE_LAST_SWITCHED = 21,
	FY_IE_FIRST_SWITCHED = 22,
	FY_IE_SRC_V6 = 27,
	FY_IE_DST_V6 = 28,
	FY_IE_SRC_MASK_V6 = 29,
	FY_IE_DST_MASK_V6 = 30,
	FY_IE_ICMP_TYPECODE_V4 = 32,
	FY_IE_SAMPLING_INTERVAL = 34,
	FY_IE_SAMPLING_ALGO = 35,
	FY_IE_ENGINE_TYPE = 38,
	FY_IE_ENGINE_ID = 39,
	FY_IE_SAMPLER_ID = 48,
	FY_IE_SAMPLER_MODE = 49,
	FY_IE_SAMPLER_RANDOM_INTERVAL = 50,
	FY_IE_SRC_MAC = 56,
	FY_IE_VLAN = 58,
	FY_IE_POST_VLAN = 59,
	FY_IE_IP_VERSION = 60,
	FY_IE_DIRECTION = 61,
	FY_IE_NEXTHOP_V6 = 62,
	FY_IE_BGP_NEXTHOP_V6 = 63,
	FY_IE_MPLS_LABEL_1 = 70,
	FY_IE_DST_MAC = 80,
	FY_IE_FORWARDING_STATUS = 89,
	FY_IE_EXPORTER_V4 = 130,
	FY_IE_EXPORTER_V6 = 131,
	FY_IE_END_REASON = 136,
	FY_IE_ICMP_TYPECODE_V6 = 139,
	FY_IE_OBS_DOMAIN_ID = 149,
	FY_IE_START_SEC = 150,
	FY_IE_END_SEC = 151,
	FY_IE_START_MS = 152,
	FY_IE_END_MS = 153,
	FY_IE_SYSINIT_MS = 160,
	FY_IE_ICMP_TYPE_V4 = 176,
	FY_IE_ICMP_CODE_V4 = 177,
	FY_IE_ICMP_TYPE_V6 = 178,
	FY_IE_ICMP_CODE_V6 = 179,
	FY_IE_FW_EVENT = 233,
	FY_IE_INIT_OCTETS = 231,
	FY_IE_RESP_OCTETS = 232,
	FY_IE_INIT_PACKETS = 298,
	FY_IE_RESP_PACKETS = 299,
	FY_IE_SELECTOR_ID = 302,
	FY_IE_PKT_INTERVAL = 305,
	FY_IE_PKT_SPACE = 306,
	FY_IE_SAMPLE_SIZE = 309,
	FY_IE_SAMPLE_POPULATION = 310,
	FY_IE_OBS_TIME_MS = 323,
};

struct fy_ie {
	uint16_t id;
	uint16_t len;	/* default (full) length; FY_IE_VARLEN if variable */
	uint8_t type;	/* enum fy_ie_type */
	uint8_t target; /* enum fy_ie_target */
	const char *name;
};

/*
 * Looks up an element. `pen` is 0 for IANA elements; the reverse PEN 29305
 * maps the counters to the reverse direction. Returns NULL if unknown: the
 * caller skips the field by its template length.
 */
const struct fy_ie *fy_ie_lookup(uint32_t pen, uint16_t id);

/* Iteration for documentation and tests: the n-th row, NULL past the end. */
const struct fy_ie *fy_ie_at(size_t n);

#endif
