#include "ie.h"

#include <stddef.h>

#define IE(i, l, ty, tg, n)                     \
	{                                       \
		i, l, FY_IET_##ty, FY_T_##tg, n \
	}

/* Sorted by id; lookup is a binary search over a few hundred bytes. */
static const struct fy_ie ie_table[] = {
	IE(1, 8, UNSIGNED, BYTES, "octetDeltaCount"),
	IE(2, 8, UNSIGNED, PACKETS, "packetDeltaCount"),
	IE(3, 8, UNSIGNED, IGNORE, "deltaFlowCount"),
	IE(4, 1, UNSIGNED, PROTO, "protocolIdentifier"),
	IE(5, 1, UNSIGNED, TOS, "ipClassOfService"),
	IE(6, 2, UNSIGNED, TCP_FLAGS, "tcpControlBits"),
	IE(7, 2, UNSIGNED, SRC_PORT, "sourceTransportPort"),
	IE(8, 4, IPV4, SRC_V4, "sourceIPv4Address"),
	IE(9, 1, UNSIGNED, SRC_MASK, "sourceIPv4PrefixLength"),
	IE(10, 4, UNSIGNED, INPUT_IF, "ingressInterface"),
	IE(11, 2, UNSIGNED, DST_PORT, "destinationTransportPort"),
	IE(12, 4, IPV4, DST_V4, "destinationIPv4Address"),
	IE(13, 1, UNSIGNED, DST_MASK, "destinationIPv4PrefixLength"),
	IE(14, 4, UNSIGNED, OUTPUT_IF, "egressInterface"),
	IE(15, 4, IPV4, NEXTHOP_V4, "ipNextHopIPv4Address"),
	IE(16, 4, UNSIGNED, SRC_AS, "bgpSourceAsNumber"),
	IE(17, 4, UNSIGNED, DST_AS, "bgpDestinationAsNumber"),
	IE(18, 4, IPV4, BGP_NEXTHOP_V4, "bgpNextHopIPv4Address"),
	IE(21, 4, UNSIGNED, LAST_UPTIME, "flowEndSysUpTime"),
	IE(22, 4, UNSIGNED, FIRST_UPTIME, "flowStartSysUpTime"),
	IE(23, 8, UNSIGNED, OUT_BYTES, "postOctetDeltaCount"),
	IE(24, 8, UNSIGNED, OUT_PACKETS, "postPacketDeltaCount"),
	IE(27, 16, IPV6, SRC_V6, "sourceIPv6Address"),
	IE(28, 16, IPV6, DST_V6, "destinationIPv6Address"),
	IE(29, 1, UNSIGNED, SRC_MASK, "sourceIPv6PrefixLength"),
	IE(30, 1, UNSIGNED, DST_MASK, "destinationIPv6PrefixLength"),
	IE(31, 4, UNSIGNED, IGNORE, "flowLabelIPv6"),
	IE(32, 2, UNSIGNED, ICMP_TYPECODE, "icmpTypeCodeIPv4"),
	IE(34, 4, UNSIGNED, SAMPLING_INTERVAL, "samplingInterval"),
	IE(35, 1, UNSIGNED, SAMPLING_ALGO, "samplingAlgorithm"),
	IE(38, 1, UNSIGNED, ENGINE_TYPE, "engineType"),
	IE(39, 1, UNSIGNED, ENGINE_ID, "engineId"),
	IE(48, 2, UNSIGNED, SAMPLER_ID, "samplerId"),
	IE(49, 1, UNSIGNED, SAMPLER_MODE, "samplerMode"),
	IE(50, 4, UNSIGNED, SAMPLER_RANDOM_INTERVAL, "samplerRandomInterval"),
	IE(56, 6, MAC, SRC_MAC, "sourceMacAddress"),
	IE(57, 6, MAC, IGNORE, "postDestinationMacAddress"),
	IE(58, 2, UNSIGNED, VLAN, "vlanId"),
	IE(59, 2, UNSIGNED, POST_VLAN, "postVlanId"),
	IE(60, 1, UNSIGNED, IP_VERSION, "ipVersion"),
	IE(61, 1, UNSIGNED, DIRECTION, "flowDirection"),
	IE(62, 16, IPV6, NEXTHOP_V6, "ipNextHopIPv6Address"),
	IE(63, 16, IPV6, BGP_NEXTHOP_V6, "bgpNextHopIPv6Address"),
	IE(70, 3, UNSIGNED, MPLS_LABEL, "mplsTopLabelStackSection"),
	IE(80, 6, MAC, DST_MAC, "destinationMacAddress"),
	IE(81, 6, MAC, IGNORE, "postSourceMacAddress"),
	IE(82, FY_IE_VARLEN, STRING, IGNORE, "interfaceName"),
	IE(83, FY_IE_VARLEN, STRING, IGNORE, "interfaceDescription"),
	IE(85, 8, UNSIGNED, TOTAL_BYTES, "octetTotalCount"),
	IE(86, 8, UNSIGNED, TOTAL_PACKETS, "packetTotalCount"),
	IE(89, 4, UNSIGNED, FORWARDING_STATUS, "forwardingStatus"),
	IE(130, 4, IPV4, EXPORTER_V4, "exporterIPv4Address"),
	IE(131, 16, IPV6, EXPORTER_V6, "exporterIPv6Address"),
	IE(136, 1, UNSIGNED, END_REASON, "flowEndReason"),
	IE(139, 2, UNSIGNED, ICMP_TYPECODE, "icmpTypeCodeIPv6"),
	IE(148, 8, UNSIGNED, IGNORE, "flowId"),
	IE(149, 4, UNSIGNED, IGNORE, "observationDomainId"),
	IE(150, 4, SECONDS, START_SEC, "flowStartSeconds"),
	IE(151, 4, SECONDS, END_SEC, "flowEndSeconds"),
	IE(152, 8, MILLIS, START_MS, "flowStartMilliseconds"),
	IE(153, 8, MILLIS, END_MS, "flowEndMilliseconds"),
	IE(154, 8, MICROS, START_US, "flowStartMicroseconds"),
	IE(155, 8, MICROS, END_US, "flowEndMicroseconds"),
	IE(156, 8, NANOS, START_NS, "flowStartNanoseconds"),
	IE(157, 8, NANOS, END_NS, "flowEndNanoseconds"),
	IE(158, 4, UNSIGNED, START_DELTA_US, "flowStartDeltaMicroseconds"),
	IE(159, 4, UNSIGNED, END_DELTA_US, "flowEndDeltaMicroseconds"),
	IE(160, 8, MILLIS, SYSINIT_MS, "systemInitTimeMilliseconds"),
	IE(176, 1, UNSIGNED, ICMP_TYPE, "icmpTypeIPv4"),
	IE(177, 1, UNSIGNED, ICMP_CODE, "icmpCodeIPv4"),
	IE(178, 1, UNSIGNED, ICMP_TYPE, "icmpTypeIPv6"),
	IE(179, 1, UNSIGNED, ICMP_CODE, "icmpCodeIPv6"),
	IE(225, 4, IPV4, XLATE_SRC_V4, "postNATSourceIPv4Address"),
	IE(226, 4, IPV4, XLATE_DST_V4, "postNATDestinationIPv4Address"),
	IE(227, 2, UNSIGNED, XLATE_SRC_PORT, "postNAPTSourceTransportPort"),
	IE(228, 2, UNSIGNED, XLATE_DST_PORT,
	   "postNAPTDestinationTransportPort"),
	IE(231, 8, UNSIGNED, INIT_BYTES, "initiatorOctets"),
	IE(232, 8, UNSIGNED, RESP_BYTES, "responderOctets"),
	IE(233, 1, UNSIGNED, FW_EVENT, "firewallEvent"),
	IE(243, 2, UNSIGNED, VLAN, "dot1qVlanId"),
	IE(281, 16, IPV6, XLATE_SRC_V6, "postNATSourceIPv6Address"),
	IE(282, 16, IPV6, XLATE_DST_V6, "postNATDestinationIPv6Address"),
	IE(298, 8, UNSIGNED, INIT_PACKETS, "initiatorPackets"),
	IE(299, 8, UNSIGNED, RESP_PACKETS, "responderPackets"),
	IE(302, 8, UNSIGNED, SAMPLER_ID, "selectorId"),
	IE(304, 2, UNSIGNED, IGNORE, "selectorAlgorithm"),
	IE(305, 4, UNSIGNED, PKT_INTERVAL, "samplingPacketInterval"),
	IE(306, 4, UNSIGNED, PKT_SPACE, "samplingPacketSpace"),
	IE(309, 4, UNSIGNED, SAMPLE_SIZE, "samplingSize"),
	IE(310, 4, UNSIGNED, SAMPLE_POPULATION, "samplingPopulation"),
	IE(322, 4, SECONDS, OBS_TIME_SEC, "observationTimeSeconds"),
	IE(323, 8, MILLIS, OBS_TIME_MS, "observationTimeMilliseconds"),
	IE(324, 8, MICROS, OBS_TIME_US, "observationTimeMicroseconds"),
	IE(325, 8, NANOS, OBS_TIME_NS, "observationTimeNanoseconds"),
	/* Cisco NSEL, NetFlow v9 only. */
	IE(40001, 4, IPV4, XLATE_SRC_V4, "NF_F_XLATE_SRC_ADDR_IPV4"),
	IE(40002, 4, IPV4, XLATE_DST_V4, "NF_F_XLATE_DST_ADDR_IPV4"),
	IE(40003, 2, UNSIGNED, XLATE_SRC_PORT, "NF_F_XLATE_SRC_PORT"),
	IE(40004, 2, UNSIGNED, XLATE_DST_PORT, "NF_F_XLATE_DST_PORT"),
	IE(40005, 1, UNSIGNED, FW_EVENT, "NF_F_FW_EVENT"),
};

/* Reverse (RFC 5103) elements we keep: counters only. */
static const struct fy_ie reverse_table[] = {
	IE(1, 8, UNSIGNED, OUT_BYTES, "reverseOctetDeltaCount"),
	IE(2, 8, UNSIGNED, OUT_PACKETS, "reversePacketDeltaCount"),
	IE(85, 8, UNSIGNED, OUT_BYTES, "reverseOctetTotalCount"),
	IE(86, 8, UNSIGNED, OUT_PACKETS, "reversePacketTotalCount"),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct fy_ie *search(const struct fy_ie *t, size_t n, uint16_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid].id == id)
			return &t[mid];
		if (t[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct fy_ie *fy_ie_lookup(uint32_t pen, uint16_t id)
{
	if (pen == 0)
		return search(ie_table, NELEM(ie_table), id);
	if (pen == FY_PEN_REVERSE)
		return search(reverse_table, NELEM(reverse_table), id);
	return NULL;
}

const struct fy_ie *fy_ie_at(size_t n)
{
	return n < NELEM(ie_table) ? &ie_table[n] : NULL;
}
