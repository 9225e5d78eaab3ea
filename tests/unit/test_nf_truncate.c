/*
 * Every packet of every bundled export capture, cut at every byte offset,
 * and fed to the decoder in a heap buffer of exactly the cut length (so
 * that AddressSanitizer sees any read past it). The decoder must answer
 * "malformed" exactly where the cut breaks the packet's structure, count
 * it, and emit nothing from it; where the cut falls between sets (v9 has
 * no length in its header) the packet is a valid, shorter one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nf_decode.h"
#include "pcap_udp.h"
#include "wire.h"

static const char *const captures[] = {
	"tests/data/netflow/logstash-codec-netflow/pcap/nf5_softflowd.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/nf9_cisco_asa_nsel_2.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/nf9_cisco_asr9k.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/nf9_paloalto_81_zeropad.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/nf9_h3c_netstream_varstring.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/nf9_0length_fields.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/nf9_juniper_srx_opttpl_zero_scope.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/ipfix_netscaler_varlen.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/ipfix_yaf_applabel.pcap",
	"tests/data/netflow/logstash-codec-netflow/pcap/ipfix_ixia_varlen.pcap",
	"tests/data/netflow/pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap",
	"tests/data/netflow/pmacct/112-IPFIXv10-CISCO-options-map-reassignment/traffic-00.pcap",
	"tests/data/netflow/pmacct/101-NFv9-CISCO-cust_primitives/traffic-00.pcap",
};

static size_t emitted;

static void count_emit(void *arg, const struct fy_flow *f, size_t n)
{
	(void)arg;
	(void)f;
	emitted += n;
}

/*
 * Whether a v9 packet cut to `cut` bytes is still well formed: the cut is
 * at a set boundary, or inside zeros that follow the last set.
 */
static int v9_cut_is_clean(const uint8_t *b, size_t cut)
{
	size_t off = 20;

	if (cut < 20)
		return 0;
	for (;;) {
		size_t left = cut - off, slen, i;

		if (left < 4)
			return 1; /* less than a set header: ignored */
		slen = (size_t)b[off + 2] << 8 | b[off + 3];
		if (slen >= 4 && slen <= left) {
			off += slen;
			continue;
		}
		if (b[off] || b[off + 1] || slen)
			return 0;
		for (i = off; i < cut; i++)
			if (b[i])
				return 0;
		return 1; /* zeros after the last set: padding */
	}
}

static void cut_capture(const char *path)
{
	char err[256];
	struct fy_pcap_udp *p = fy_pcap_udp_open(path, err, sizeof(err));
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_udp_pkt u;
	uint64_t malformed = 0, packets = 0;

	if (p == NULL)
		fail_msg("%s", err);
	assert_non_null(d);
	while (fy_pcap_udp_next(p, &u) == 1) {
		struct fy_nf_src src = {.addr = u.src, .port = u.sport};
		uint16_t version = u.len >= 2 ? (uint16_t)(u.payload[0] << 8 |
							   u.payload[1])
					      : 0;
		size_t cut;

		packets++;
		for (cut = 0; cut < u.len; cut++) {
			uint8_t *b = malloc(cut ? cut : 1);
			int expect_ok, r;
			size_t before = emitted;

			memcpy(b, u.payload, cut);
			if (version == 9)
				expect_ok = v9_cut_is_clean(u.payload, cut);
			else if (version == 5)
				expect_ok =
					cut >= 24 &&
					cut >= 24 + 48 * (size_t)(u.payload[2]
									  << 8 |
								  u.payload[3]);
			else
				expect_ok = 0; /* IPFIX: length in header */
			r = fy_nfdec_decode(d, &src, b, cut, u.ts_ms,
					    count_emit, NULL);
			if (!expect_ok) {
				if (r != FY_NFDEC_MALFORMED)
					fail_msg("%s packet %llu cut at %zu of "
						 "%zu: status %d",
						 path,
						 (unsigned long long)packets,
						 cut, u.len, r);
				assert_int_equal(emitted, before);
				malformed++;
			} else {
				assert_int_equal(r, FY_NFDEC_OK);
			}
			free(b);
		}
		assert_int_equal(fy_nfdec_decode(d, &src, u.payload, u.len,
						 u.ts_ms, count_emit, NULL),
				 FY_NFDEC_OK);
	}
	assert_true(packets > 0);
	assert_true(fy_nfdec_totals(d)->malformed == malformed);
	fy_nfdec_free(d);
	fy_pcap_udp_close(p);
}

static void test_truncation(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(captures) / sizeof(captures[0]); i++)
		cut_capture(captures[i]);
}

/*
 * Lying set lengths: every set header of every packet gets lengths 0..3,
 * one past the packet and 65535; each must be counted, never crash.
 */
static void test_lying_set_lengths(void **state)
{
	static const uint16_t lies[] = {0, 1, 2, 3, 65535};
	size_t ci;

	(void)state;
	for (ci = 0; ci < sizeof(captures) / sizeof(captures[0]); ci++) {
		char err[256];
		struct fy_pcap_udp *p =
			fy_pcap_udp_open(captures[ci], err, sizeof(err));
		struct fy_nfdec *d = fy_nfdec_new(NULL);
		struct fy_udp_pkt u;

		assert_non_null(p);
		while (fy_pcap_udp_next(p, &u) == 1) {
			struct fy_nf_src src = {.addr = u.src, .port = u.sport};
			size_t off = u.len >= 2 && u.payload[1] == 10 ? 16 : 20;
			uint8_t *b;

			if (u.len < 2 || u.payload[1] == 5)
				continue;
			b = malloc(u.len);
			while (off + 4 <= u.len) {
				uint16_t real =
					(uint16_t)(u.payload[off + 2] << 8 |
						   u.payload[off + 3]);
				size_t li;
				for (li = 0;
				     li < sizeof(lies) / sizeof(lies[0]);
				     li++) {
					uint64_t before =
						fy_nfdec_totals(d)->malformed;
					size_t e0 = emitted;
					memcpy(b, u.payload, u.len);
					fy_put_u16(b + off + 2, lies[li]);
					/* a zero id and length reads as padding */
					if (lies[li] == 0 && b[off] == 0 &&
					    b[off + 1] == 0)
						continue;
					assert_int_equal(
						fy_nfdec_decode(d, &src, b,
								u.len, u.ts_ms,
								count_emit,
								NULL),
						FY_NFDEC_MALFORMED);
					assert_true(
						fy_nfdec_totals(d)->malformed ==
						before + 1);
					assert_true(emitted == e0);
				}
				if (real < 4)
					break;
				off += real;
			}
			free(b);
		}
		fy_nfdec_free(d);
		fy_pcap_udp_close(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_lying_set_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
