/*
 * libFuzzer target: arbitrary bytes compiled as a filter expression and,
 * when they compile, matched against a few flows.
 *
 * Beyond "no crash, no leak, no undefined behaviour", it checks what the
 * callers rely on: a failed compile leaves *out NULL and a message that
 * starts with its location; a filter's result does not change when every
 * column fy_filter_columns leaves out is zeroed (nfq decodes only those).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "flow.h"
#include "store.h"
#include "store_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_FLOWS 4

static struct fy_flow flows[N_FLOWS];

static void make_flows(void)
{
	struct fy_flow *f = flows;

	/* IPv4 TCP with most fields set. */
	fy_addr_parse("10.1.2.3", &f->src, &f->family);
	fy_addr_parse("192.168.7.8", &f->dst, NULL);
	fy_addr_parse("192.0.2.1", &f->exporter, &f->exporter_family);
	fy_addr_parse("10.0.0.254", &f->nexthop, NULL);
	f->src_port = 40000;
	f->dst_port = 80;
	f->proto = 6;
	f->tcp_flags = 0x12;
	f->packets = 10;
	f->bytes = 5000;
	f->first_ms = 1700000000000ull;
	f->last_ms = f->first_ms + 2000;
	f->src_as = 64512;
	f->input_if = 3;
	f->vlan = 100;
	f->src_mac[5] = 1;

	/* IPv6 UDP, zero duration. */
	f++;
	fy_addr_parse("2001:db8::1", &f->src, &f->family);
	fy_addr_parse("2001:db8:ffff::2", &f->dst, NULL);
	f->src_port = 53;
	f->dst_port = 5353;
	f->proto = 17;
	f->packets = 1;
	f->bytes = 80;
	f->first_ms = f->last_ms = 5;

	/* flows[2]: all zero. flows[3]: all ones, the extremes of every
	 * counter (rates of huge counters, last before first). */
	memset(&flows[3], 0xff, sizeof(flows[3]));
	flows[3].first_ms = 1;
}

/* The flow as the store returns it when only `mask` is decoded. */
static void only_columns(const struct fy_flow *in, uint64_t mask,
			 struct fy_flow *out)
{
	unsigned c;

	memset(out, 0, sizeof(*out));
	for (c = 0; c < FY_STORE_NCOLS; c++)
		if (mask & FY_STORE_MASK(c))
			memcpy((uint8_t *)out + fy_store_cols[c].off,
			       (const uint8_t *)in + fy_store_cols[c].off,
			       fy_store_cols[c].size);
}

static void check(const struct fy_filter *f)
{
	uint64_t mask = fy_filter_columns(f);
	struct fy_flow part;
	unsigned i;

	if (mask & ~FY_STORE_COLS_ALL)
		abort();
	for (i = 0; i < N_FLOWS; i++) {
		only_columns(&flows[i], mask, &part);
		if (fy_filter_match(f, &flows[i]) != fy_filter_match(f, &part))
			abort();
	}
}

/* Every message names its place, but the few that have none. */
static bool located(const char *err)
{
	return strncmp(err, "column ", 7) == 0 ||
	       strncmp(err, "line ", 5) == 0 ||
	       strcmp(err, "out of memory") == 0 ||
	       strncmp(err, "filter too large", 16) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct fy_filter *f = NULL;
	char err[160], *s;

	if (!ready) {
		make_flows();
		ready = 1;
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (fy_filter_compile(s, &f, err, sizeof(err)) == 0) {
		check(f);
		fy_filter_free(f);
	} else if (f != NULL || !located(err)) {
		abort();
	}
	free(s);
	return 0;
}
