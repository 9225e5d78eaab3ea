/*
 * libFuzzer target: the control socket's framing and parsing, as the
 * server runs them on a client's bytes and nfq on a daemon's.
 *
 * Input: [1 byte mode][stream]. The mode picks the size of each read
 * (1..64 bytes, so frames arrive split everywhere) and the decoder's
 * message limit (small, to reach the oversize path, or the default). The
 * stream goes through the zero-copy input of the frame decoder; every
 * frame is unpacked as a Request and checked, as a Response, and what
 * parses is packed again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void repack(const ProtobufCMessage *m)
{
	uint8_t *buf;
	size_t len;

	if (fy_ctl_frame_pack(m, FY_CTL_MAX_MSG_LIMIT, &buf, &len) == 0)
		free(buf);
}

static void one_frame(const uint8_t *msg, size_t len)
{
	Flowyard__Control__Request *req;
	Flowyard__Control__Response *resp;
	char why[256];

	if (fy_ctl_request_unpack(msg, len, &req) == 0) {
		fy_ctl_request_check(req, why, sizeof(why));
		fy_ctl_cmd_name(req->cmd_case);
		repack(&req->base);
		fy_ctl_request_free(req);
	}
	if (fy_ctl_response_unpack(msg, len, &resp) == 0) {
		if (resp->result_case ==
		    FLOWYARD__CONTROL__RESPONSE__RESULT_ERROR)
			fy_ctl_err_name(resp->error->code);
		repack(&resp->base);
		fy_ctl_response_free(resp);
	}
}

/* Takes every complete frame; returns < 0 once the stream is broken. */
static int drain(struct fy_ctl_dec *d)
{
	const uint8_t *msg;
	size_t len;
	int r;

	while ((r = fy_ctl_dec_next(d, &msg, &len)) == 1)
		one_frame(msg, len);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fy_ctl_dec *d;
	size_t chunk;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] & 0x3f) + 1;
	d = fy_ctl_dec_new(data[0] & 0x40 ? 300 : 0);
	if (d == NULL)
		return 0;
	data++;
	size--;
	while (size > 0) {
		size_t room, k;
		uint8_t *p = fy_ctl_dec_space(d, &room);

		if (p == NULL)
			break;
		k = size < chunk ? size : chunk;
		if (k > room)
			k = room;
		memcpy(p, data, k);
		fy_ctl_dec_commit(d, k);
		data += k;
		size -= k;
		if (drain(d) < 0)
			break;
	}
	fy_ctl_dec_free(d);
	return 0;
}
