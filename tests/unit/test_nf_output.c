/*
 * test_nf_output.c - fy_nfdec_set_output: flows decoded straight into the
 * caller's buffer must be the flows the decoder's own buffer gives, in the
 * same order, whether they fit the room given, overflow it, or come with
 * waiting data of an earlier packet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "nf_decode.h"
#include "nf_encode.h"

#define NFLOWS 300
#define MAX_MSGS 64
#define T0 1700000000000ull

struct msgs {
	size_t n;
	size_t len[MAX_MSGS];
	uint8_t *buf[MAX_MSGS];
};

static int keep(void *arg, const uint8_t *msg, size_t len)
{
	struct msgs *m = arg;

	assert_true(m->n < MAX_MSGS);
	m->buf[m->n] = malloc(len);
	assert_non_null(m->buf[m->n]);
	memcpy(m->buf[m->n], msg, len);
	m->len[m->n++] = len;
	return 0;
}

static void encode(uint8_t version, struct msgs *m)
{
	struct fy_nfenc_cfg cfg = {.version = version, .boot_ms = T0 - 5000};
	struct fy_nfenc *e = fy_nfenc_new(&cfg, keep, m);
	unsigned i;

	assert_non_null(e);
	for (i = 0; i < NFLOWS; i++) {
		struct fy_flow f;

		memset(&f, 0, sizeof(f));
		f.family = FY_AF_INET;
		fy_addr_set_v4(&f.src, 0x0a000000u + i);
		fy_addr_set_v4(&f.dst, 0xc0a80000u + i * 7);
		f.src_port = (uint16_t)(1000 + i);
		f.dst_port = 443;
		f.proto = 6;
		f.packets = 1 + i;
		f.bytes = 100 * (1 + i);
		f.first_ms = T0 + i;
		f.last_ms = T0 + 2 * i;
		assert_int_equal(fy_nfenc_add(e, &f, T0 + 1000), 0);
	}
	fy_nfenc_flush(e, T0 + 1000);
	fy_nfenc_free(e);
	assert_true(m->n > 3);
}

static void msgs_free(struct msgs *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->buf[i]);
}

/* What the emit callback saw: flows in order, and how many in place. */
struct sink {
	struct fy_flow f[2 * NFLOWS];
	size_t n;
	size_t in_place;
};

static void take(void *arg, const struct fy_flow *f, size_t n)
{
	struct sink *s = arg;

	assert_true(s->n + n <= 2 * NFLOWS);
	if (f == &s->f[s->n]) {
		s->in_place += n; /* built where it belongs */
	} else {
		/* never from inside the room still to be filled */
		assert_true(f + n <= &s->f[s->n] || f >= &s->f[2 * NFLOWS]);
		memcpy(&s->f[s->n], f, n * sizeof(*f));
	}
	s->n += n;
}

/* Decodes m's messages in `order`, with room `room` (0: no buffer). */
static void run(const struct msgs *m, const size_t *order, size_t room,
		struct sink *s)
{
	struct fy_nfdec *d = fy_nfdec_new(NULL);
	struct fy_nf_src src = {.port = 2055};
	size_t i;

	assert_non_null(d);
	fy_addr_set_v4(&src.addr, 0x7f000001);
	memset(s, 0, sizeof(*s));
	for (i = 0; i < m->n; i++) {
		size_t k = order ? order[i] : i;
		size_t cap = 2 * NFLOWS - s->n;

		if (room)
			fy_nfdec_set_output(d, &s->f[s->n],
					    room < cap ? room : cap);
		assert_int_equal(fy_nfdec_decode(d, &src, m->buf[k], m->len[k],
						 T0, take, s),
				 FY_NFDEC_OK);
	}
	fy_nfdec_free(d);
}

static void check(uint8_t version)
{
	static struct sink ref, got;
	struct msgs m = {0};
	size_t order[MAX_MSGS], i;

	encode(version, &m);
	run(&m, NULL, 0, &ref);
	assert_int_equal(ref.n, NFLOWS);
	assert_int_equal(ref.in_place, 0);

	/* room for everything: every flow built in place */
	run(&m, NULL, 1000, &got);
	assert_int_equal(got.n, NFLOWS);
	assert_int_equal(got.in_place, NFLOWS);
	assert_memory_equal(got.f, ref.f, NFLOWS * sizeof(ref.f[0]));

	/* room for 3 flows: the rest of each packet overflows, same flows */
	run(&m, NULL, 3, &got);
	assert_int_equal(got.n, NFLOWS);
	assert_int_equal(got.in_place, 0);
	assert_memory_equal(got.f, ref.f, NFLOWS * sizeof(ref.f[0]));

	/*
	 * The second message first: its data waits for the template of the
	 * first, and comes out when that arrives, ahead of its flows.
	 */
	for (i = 0; i < m.n; i++)
		order[i] = i;
	order[0] = 1;
	order[1] = 0;
	run(&m, order, 1000, &got);
	assert_int_equal(got.n, NFLOWS);
	{
		size_t n0 = 0, n1;

		/* how many flows each of the first two messages holds */
		run(&m, NULL, 0, &ref);
		{
			struct msgs one = m;
			struct sink *s = calloc(1, sizeof(*s));

			assert_non_null(s);
			one.n = 1;
			run(&one, NULL, 0, s);
			n0 = s->n;
			free(s);
		}
		n1 = 0;
		while (n0 + n1 < NFLOWS && memcmp(&got.f[n1], &ref.f[n0 + n1],
						  sizeof(ref.f[0])) == 0)
			n1++;
		assert_true(n1 > 0);
		/* message 1's flows, then message 0's, then the rest */
		assert_memory_equal(got.f, ref.f + n0, n1 * sizeof(ref.f[0]));
		assert_memory_equal(got.f + n1, ref.f, n0 * sizeof(ref.f[0]));
		assert_memory_equal(got.f + n0 + n1, ref.f + n0 + n1,
				    (NFLOWS - n0 - n1) * sizeof(ref.f[0]));
	}
	msgs_free(&m);
}

static void test_v9(void **state)
{
	(void)state;
	check(9);
}

static void test_ipfix(void **state)
{
	(void)state;
	check(10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v9),
		cmocka_unit_test(test_ipfix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
