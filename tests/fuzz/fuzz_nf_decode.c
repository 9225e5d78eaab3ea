/*
 * libFuzzer target: the NetFlow/IPFIX decoder fed a sequence of packets,
 * so that template state, data waiting for templates, withdrawal and
 * sequence tracking are all exercised across packets.
 *
 * Input: records of [1 byte source selector][2 bytes length][payload].
 * The selector picks one of a few exporters (address, port), so that
 * templates of one never decode another's data by mistake.
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
	};
	struct fy_nfdec *d = fy_nfdec_new(&cfg);
	uint64_t now = 1;

	if (d == NULL)
		return 0;
	while (size >= 3) {
		struct fy_nf_src src;
		size_t len = (size_t)data[1] << 8 | data[2];

		memset(&src, 0, sizeof(src));
		fy_addr_set_v4(&src.addr, 0x7f000001u + (data[0] & 3));
		src.port = (uint16_t)(2055 + (data[0] >> 2 & 1));
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		fy_nfdec_decode(d, &src, data, len, now++, emit, NULL);
		data += len;
		size -= len;
	}
	fy_nfdec_expire(d, UINT64_MAX);
	fy_nfdec_free(d);
	return 0;
}
