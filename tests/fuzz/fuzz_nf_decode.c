/*
 * libFuzzer target: the NetFlow/IPFIX decoder fed a sequence of packets,
 * so that template state, data waiting for templates, withdrawal and
 * sequence tracking are all exercised across packets.
 *
 * Input: records of [1 byte source selector][2 bytes length][payload].
 * The selector's bits 0-2 and 3 pick one of 16 exporters (address, port),
 * twice the session cap, so that templates of one never decode another's
 * data by mistake and full tables evict idle sessions; bit 7 lets 1.5 s
 * pass before the packet (over the 1 s idle limit), bit 6 sweeps first.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nf_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t sum;

static void emit(void *arg, const struct fy_flow *f, size_t n)
{
	size_t i;

	(void)arg;
	/* touch every byte so that ASan sees any stale record */
	for (i = 0; i < n; i++)
		sum += f[i].bytes + f[i].first_ms + f[i].src.b[15];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fy_nfdec_cfg cfg = {
		.max_sessions = 8,
		.max_templates_per_session = 64,
		.pending_max_bytes = 16384,
		.pending_max_age_ms = 5,
		.session_idle_s = 1, /* eviction reachable in a few packets */
	};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	uint64_t now = 1;

	if (d == NULL)
		return 0;
	while (size >= 3) {
		struct fy_nf_src src;
		size_t len = (size_t)data[1] << 8 | data[2];

		memset(&src, 0, sizeof(src));
		fy_addr_set_v4(&src.addr, 0x7f000001u + (data[0] & 7));
		src.port = (uint16_t)(2055 + (data[0] >> 3 & 1));
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		/* bit 7: 1.5 s pass first (sessions go idle); bit 6: a
		 * sweep, as collectord's timer does */
		now += data[-3] & 0x80 ? 1500 : 1;
		if (data[-3] & 0x40)
			fy_nfdec_expire(d, now);
		fy_nfdec_decode(d, &src, data, len, now, emit, NULL);
		data += len;
		size -= len;
	}
	fy_nfdec_expire(d, UINT64_MAX);
	fy_nfdec_free(d);
	return 0;
}
