/*
 * store_codec.c - what the block encoder and decoder share: the column
 * table (its order is the file format), CRC32C, the totals.
 */
#include "store_impl.h"

#include <string.h>

#include "crc32c.h"

/* ------------------------------------------------------------------ */
/* CRC32C: lib/crc32c.c (the crc32 instruction when the CPU has it). */

uint32_t fy_store_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return fy_crc32c(crc, buf, len);
}

/* ------------------------------------------------------------------ */
/* Column table: the order is the file format. */

#define FSIZE(f) ((uint8_t)sizeof(((struct fy_flow *)0)->f))
#define C(name, field, kind)                                      \
	{                                                         \
		name, kind, FSIZE(field),                         \
			(uint16_t)offsetof(struct fy_flow, field) \
	}

const struct fy_store_coldef fy_store_cols[FY_STORE_NCOLS] = {
	[FY_STORE_COL_FIRST_MS] = C("first_ms", first_ms, FY_STORE_K_FIRST),
	[FY_STORE_COL_LAST_MS] = C("last_ms", last_ms, FY_STORE_K_LAST),
	[FY_STORE_COL_PACKETS] = C("packets", packets, FY_STORE_K_INT),
	[FY_STORE_COL_BYTES] = C("bytes", bytes, FY_STORE_K_INT),
	[FY_STORE_COL_OUT_PACKETS] =
		C("out_packets", out_packets, FY_STORE_K_INT),
	[FY_STORE_COL_OUT_BYTES] = C("out_bytes", out_bytes, FY_STORE_K_INT),
	[FY_STORE_COL_SRC] = C("src", src, FY_STORE_K_ADDR),
	[FY_STORE_COL_DST] = C("dst", dst, FY_STORE_K_ADDR),
	[FY_STORE_COL_NEXTHOP] = C("nexthop", nexthop, FY_STORE_K_ADDR),
	[FY_STORE_COL_BGP_NEXTHOP] =
		C("bgp_nexthop", bgp_nexthop, FY_STORE_K_ADDR),
	[FY_STORE_COL_EXPORTER] = C("exporter", exporter, FY_STORE_K_ADDR),
	[FY_STORE_COL_XLATE_SRC] = C("xlate_src", xlate_src, FY_STORE_K_ADDR),
	[FY_STORE_COL_XLATE_DST] = C("xlate_dst", xlate_dst, FY_STORE_K_ADDR),
	[FY_STORE_COL_INPUT_IF] = C("input_if", input_if, FY_STORE_K_INT),
	[FY_STORE_COL_OUTPUT_IF] = C("output_if", output_if, FY_STORE_K_INT),
	[FY_STORE_COL_SRC_AS] = C("src_as", src_as, FY_STORE_K_INT),
	[FY_STORE_COL_DST_AS] = C("dst_as", dst_as, FY_STORE_K_INT),
	[FY_STORE_COL_DOMAIN] = C("domain", domain, FY_STORE_K_INT),
	[FY_STORE_COL_SAMPLING_INTERVAL] =
		C("sampling_interval", sampling_interval, FY_STORE_K_INT),
	[FY_STORE_COL_MPLS_LABEL] = C("mpls_label", mpls_label, FY_STORE_K_INT),
	[FY_STORE_COL_SRC_PORT] = C("src_port", src_port, FY_STORE_K_INT),
	[FY_STORE_COL_DST_PORT] = C("dst_port", dst_port, FY_STORE_K_INT),
	[FY_STORE_COL_XLATE_SRC_PORT] =
		C("xlate_src_port", xlate_src_port, FY_STORE_K_INT),
	[FY_STORE_COL_XLATE_DST_PORT] =
		C("xlate_dst_port", xlate_dst_port, FY_STORE_K_INT),
	[FY_STORE_COL_VLAN] = C("vlan", vlan, FY_STORE_K_INT),
	[FY_STORE_COL_OUT_VLAN] = C("out_vlan", out_vlan, FY_STORE_K_INT),
	[FY_STORE_COL_EXPORTER_PORT] =
		C("exporter_port", exporter_port, FY_STORE_K_INT),
	[FY_STORE_COL_FAMILY] = C("family", family, FY_STORE_K_INT),
	[FY_STORE_COL_EXPORTER_FAMILY] =
		C("exporter_family", exporter_family, FY_STORE_K_INT),
	[FY_STORE_COL_PROTO] = C("proto", proto, FY_STORE_K_INT),
	[FY_STORE_COL_TCP_FLAGS] = C("tcp_flags", tcp_flags, FY_STORE_K_INT),
	[FY_STORE_COL_TOS] = C("tos", tos, FY_STORE_K_INT),
	[FY_STORE_COL_SRC_MASK] = C("src_mask", src_mask, FY_STORE_K_INT),
	[FY_STORE_COL_DST_MASK] = C("dst_mask", dst_mask, FY_STORE_K_INT),
	[FY_STORE_COL_ICMP_TYPE] = C("icmp_type", icmp_type, FY_STORE_K_INT),
	[FY_STORE_COL_ICMP_CODE] = C("icmp_code", icmp_code, FY_STORE_K_INT),
	[FY_STORE_COL_END_REASON] = C("end_reason", end_reason, FY_STORE_K_INT),
	[FY_STORE_COL_DIRECTION] = C("direction", direction, FY_STORE_K_INT),
	[FY_STORE_COL_FW_EVENT] = C("fw_event", fw_event, FY_STORE_K_INT),
	[FY_STORE_COL_FORWARDING_STATUS] =
		C("forwarding_status", forwarding_status, FY_STORE_K_INT),
	[FY_STORE_COL_ENGINE_TYPE] =
		C("engine_type", engine_type, FY_STORE_K_INT),
	[FY_STORE_COL_ENGINE_ID] = C("engine_id", engine_id, FY_STORE_K_INT),
	[FY_STORE_COL_NF_VERSION] = C("nf_version", nf_version, FY_STORE_K_INT),
	[FY_STORE_COL_SRC_MAC] = C("src_mac", src_mac, FY_STORE_K_MAC),
	[FY_STORE_COL_DST_MAC] = C("dst_mac", dst_mac, FY_STORE_K_MAC),
};

const char *fy_store_col_name(unsigned col)
{
	return col < FY_STORE_NCOLS ? fy_store_cols[col].name : NULL;
}

int fy_store_col_lookup(const char *name)
{
	unsigned c;

	if (!name)
		return -1;
	for (c = 0; c < FY_STORE_NCOLS; c++)
		if (strcmp(fy_store_cols[c].name, name) == 0)
			return (int)c;
	return -1;
}

unsigned fy_store_col_max_width(const struct fy_store_coldef *d)
{
	switch (d->kind) {
	case FY_STORE_K_FIRST:
	case FY_STORE_K_LAST:
		return 8;
	case FY_STORE_K_ADDR:
		return 16;
	default:
		return d->size;
	}
}

bool fy_store_col_width_ok(const struct fy_store_coldef *d, unsigned w)
{
	switch (d->kind) {
	case FY_STORE_K_ADDR:
		return w == 0 || w == 4 || w == 16;
	case FY_STORE_K_MAC:
		return w == 0 || w == 6;
	default:
		return w <= fy_store_col_max_width(d);
	}
}

/* ------------------------------------------------------------------ */
/* Totals */

void fy_store_stats_add(struct fy_store_stats *st, const struct fy_flow *f,
			size_t n)
{
	struct fy_store_count *pc;
	size_t i;

	for (i = 0; i < n; i++) {
		pc = &st->proto[fy_store_proto_bucket(f[i].proto)];
		pc->flows++;
		pc->packets += f[i].packets;
		pc->bytes += f[i].bytes;
		st->all.flows++;
		st->all.packets += f[i].packets;
		st->all.bytes += f[i].bytes;
		if (st->all.flows == 1 || f[i].first_ms < st->first_ms)
			st->first_ms = f[i].first_ms;
		if (f[i].last_ms > st->last_ms)
			st->last_ms = f[i].last_ms;
	}
}

static void count_merge(struct fy_store_count *to,
			const struct fy_store_count *from)
{
	to->flows += from->flows;
	to->packets += from->packets;
	to->bytes += from->bytes;
}

void fy_store_stats_merge(struct fy_store_stats *to,
			  const struct fy_store_stats *from)
{
	unsigned p;

	if (from->all.flows == 0)
		return;
	if (to->all.flows == 0 || from->first_ms < to->first_ms)
		to->first_ms = from->first_ms;
	if (from->last_ms > to->last_ms)
		to->last_ms = from->last_ms;
	count_merge(&to->all, &from->all);
	for (p = 0; p < FY_STORE_P_N; p++)
		count_merge(&to->proto[p], &from->proto[p]);
}
