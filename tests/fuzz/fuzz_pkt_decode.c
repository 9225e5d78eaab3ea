/*
 * libFuzzer target: the probe's packet decoder (lib/pkt_decode).
 *
 * Input: [link type selector][flags][frame bytes...]. The selector picks
 * one of the link types the decoder knows; bit 0 of the flags turns tunnel
 * decapsulation off, the other bits make the length "on the wire" larger
 * than the bytes captured, as a snap length does. The frame is copied to a
 * buffer of exactly its size, so that any read past it is caught.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkt_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[] = {
	FY_DLT_EN10MB, FY_DLT_LINUX_SLL, FY_DLT_LINUX_SLL2, FY_DLT_RAW,
	FY_DLT_IPV4,   FY_DLT_IPV6,	 FY_DLT_NULL,	    FY_DLT_LOOP,
};

static volatile uint64_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fy_pkt p;
	uint8_t *frame;
	size_t len;
	int dlt, st;
	unsigned opts;

	if (size < 2)
		return 0;
	dlt = links[data[0] % (sizeof(links) / sizeof(links[0]))];
	opts = data[1] & 1 ? FY_PKT_O_NO_DECAP : 0;
	len = size - 2;
	frame = malloc(len ? len : 1);
	if (frame == NULL)
		return 0;
	memcpy(frame, data + 2, len);
	st = fy_pkt_decode(dlt, len ? frame : NULL, len,
			   len + (size_t)(data[1] >> 1) * 64, opts, &p);
	if (st == FY_PKT_OK) {
		/* touch what a caller reads */
		sink += p.ip_len + p.sport + p.dport + p.proto + p.src.b[15] +
			p.dst.b[0] + p.flags + p.vlan + p.icmp_type;
	}
	free(frame);
	return 0;
}
