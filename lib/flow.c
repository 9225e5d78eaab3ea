#include "flow.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void fy_addr_set_v4(struct fy_addr *a, uint32_t host_order)
{
	memcpy(a->b, v4_prefix, 12);
	a->b[12] = (uint8_t)(host_order >> 24);
	a->b[13] = (uint8_t)(host_order >> 16);
	a->b[14] = (uint8_t)(host_order >> 8);
	a->b[15] = (uint8_t)host_order;
}

void fy_addr_set_v4_bytes(struct fy_addr *a, const uint8_t v4[4])
{
	memcpy(a->b, v4_prefix, 12);
	memcpy(a->b + 12, v4, 4);
}

bool fy_addr_is_v4(const struct fy_addr *a)
{
	return memcmp(a->b, v4_prefix, 12) == 0;
}

uint32_t fy_addr_v4(const struct fy_addr *a)
{
	if (!fy_addr_is_v4(a))
		return 0;
	return (uint32_t)a->b[12] << 24 | (uint32_t)a->b[13] << 16 |
	       (uint32_t)a->b[14] << 8 | a->b[15];
}

bool fy_addr_is_zero(const struct fy_addr *a)
{
	static const struct fy_addr zero;
	return memcmp(a, &zero, sizeof(zero)) == 0;
}

char *fy_addr_str(const struct fy_addr *a, char *buf, size_t len)
{
	const char *r;

	if (fy_addr_is_v4(a))
		r = inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
	else
		r = inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	if (r == NULL && len > 0)
		buf[0] = '\0';
	return buf;
}

int fy_addr_parse(const char *s, struct fy_addr *a, uint8_t *family)
{
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		fy_addr_set_v4_bytes(a, v4);
		if (family)
			*family = FY_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		if (family)
			*family = fy_addr_is_v4(a) ? FY_AF_INET : FY_AF_INET6;
		return 0;
	}
	return -1;
}
