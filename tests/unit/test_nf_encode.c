/*
 * test_nf_encode.c - the export encoder, checked by reading its bytes back.
 *
 * The messages are captured through the send callback and parsed here with
 * fy_rd and a small template reader of the test's own, independent of the
 * library decoder, so that an encoder bug cannot hide behind a decoder that
 * shares it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow.h"
#include "ie.h"
#include "nf_encode.h"
#include "wire.h"

#define MAX_MSGS 2048
#define BOOT_MS 1700000000123ull
#define NOW_MS (BOOT_MS + 3600000ull + 456)

/* ---- capture of sent messages ---- */

struct cap {
	size_t n;
	uint8_t *msg[MAX_MSGS];
	size_t len[MAX_MSGS];
	int fail; /* return this from send when non-zero */
};

static int cap_send(void *arg, const uint8_t *m, size_t len)
{
	struct cap *c = arg;

	if (c->fail)
		return c->fail;
	assert_true(c->n < MAX_MSGS);
	c->msg[c->n] = malloc(len);
	assert_non_null(c->msg[c->n]);
	memcpy(c->msg[c->n], m, len);
	c->len[c->n] = len;
	c->n++;
	return 0;
}

static void cap_free(struct cap *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->msg[i]);
	c->n = 0;
}

/* ---- flows ---- */

static void make_flow(struct fy_flow *f, unsigned i, int family)
{
	unsigned k;

	memset(f, 0, sizeof(*f));
	f->family = (uint8_t)family;
	if (family == FY_AF_INET) {
		fy_addr_set_v4(&f->src, 0x0a000001u + i);
		fy_addr_set_v4(&f->dst, 0xc0a80100u + (i & 0xff));
		fy_addr_set_v4(&f->nexthop, 0xac100001u);
	} else {
		for (k = 0; k < 16; k++) {
			f->src.b[k] = (uint8_t)(0x20 + k);
			f->dst.b[k] = (uint8_t)(0x40 + k);
			f->nexthop.b[k] = (uint8_t)(0x60 + k);
		}
		f->src.b[0] = 0x20;
		f->src.b[1] = 0x01;
		f->src.b[15] = (uint8_t)i;
	}
	f->first_ms = NOW_MS - 10000 - i;
	f->last_ms = NOW_MS - 1000 - i;
	f->packets = 10 + i;
	f->bytes = 1500ull * (10 + i);
	f->out_packets = 7 + i;
	f->out_bytes = 700 + i;
	f->input_if = 3;
	f->output_if = 70000 + i;
	f->src_as = 64512;
	f->dst_as = 4200000000u;
	f->src_port = (uint16_t)(1000 + i);
	f->dst_port = 443;
	f->proto = 6;
	f->tcp_flags = 0x1b;
	f->tos = 0x28;
	f->src_mask = 24;
	f->dst_mask = family == FY_AF_INET ? 16 : 64;
	f->end_reason = FY_END_EOF;
	f->vlan = 100;
	f->out_vlan = 200;
	memcpy(f->src_mac, "\x02\x11\x22\x33\x44\x55", 6);
	memcpy(f->dst_mac, "\x02\xaa\xbb\xcc\xdd\xee", 6);
}

static struct fy_nfenc_cfg base_cfg(uint8_t version)
{
	struct fy_nfenc_cfg c;

	memset(&c, 0, sizeof(c));
	c.version = version;
	c.domain = 0x01020304;
	c.engine_type = 1;
	c.engine_id = 7;
	c.boot_ms = BOOT_MS;
	return c;
}

/* ---- a small reader for v9/IPFIX messages ---- */

struct tset {
	uint16_t id;
	uint16_t len;	     /* as in the set header */
	const uint8_t *body; /* after the set header */
};

/*
 * Splits a message into sets, checking that the set lengths tile the
 * message exactly and are multiples of 4. Returns the number of sets.
 */
static size_t split_sets(const uint8_t *m, size_t len, size_t hdr,
			 struct tset *out, size_t max)
{
	struct fy_rd r = fy_rd_init(m + hdr, len - hdr);
	size_t n = 0;

	while (fy_rd_left(&r) > 0) {
		const uint8_t *start = r.p;
		uint16_t id = fy_rd_u16(&r);
		uint16_t slen = fy_rd_u16(&r);

		assert_false(r.err);
		assert_true(slen >= 4);
		assert_int_equal(slen % 4, 0);
		assert_true((size_t)slen - 4 <= fy_rd_left(&r));
		assert_true(n < max);
		out[n].id = id;
		out[n].len = slen;
		out[n].body = start + 4;
		n++;
		fy_rd_skip(&r, (size_t)slen - 4);
	}
	assert_false(r.err);
	return n;
}

struct ttmpl {
	uint16_t id;
	uint16_t n;
	uint16_t ids[64];
	uint16_t lens[64];
	uint32_t pens[64];
	size_t rec_len;
};

/* Reads the template records of a template set (v9 id 0 / IPFIX id 2). */
static size_t read_templates(const struct tset *s, bool ipfix,
			     struct ttmpl *out, size_t max)
{
	struct fy_rd r = fy_rd_init(s->body, (size_t)s->len - 4);
	size_t n = 0;
	uint16_t i;

	while (fy_rd_left(&r) >= 4) {
		struct ttmpl *t = &out[n];

		assert_true(n < max);
		memset(t, 0, sizeof(*t));
		t->id = fy_rd_u16(&r);
		t->n = fy_rd_u16(&r);
		if (t->id == 0 && t->n == 0)
			break; /* padding */
		assert_true(t->n <= 64);
		for (i = 0; i < t->n; i++) {
			uint16_t id = fy_rd_u16(&r);

			t->lens[i] = fy_rd_u16(&r);
			if (ipfix && (id & 0x8000)) {
				t->pens[i] = fy_rd_u32(&r);
				id &= 0x7fff;
			}
			t->ids[i] = id;
			t->rec_len += t->lens[i];
		}
		assert_false(r.err);
		n++;
	}
	/* What remains is padding: fewer than 4 bytes, all zero. */
	while (fy_rd_left(&r) > 0)
		assert_int_equal(fy_rd_u8(&r), 0);
	return n;
}

static const struct ttmpl *find_tmpl(const struct ttmpl *t, size_t n,
				     uint16_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].id == id)
			return &t[i];
	return NULL;
}

static bool tmpl_has(const struct ttmpl *t, uint16_t id, uint32_t pen)
{
	uint16_t i;

	for (i = 0; i < t->n; i++)
		if (t->ids[i] == id && t->pens[i] == pen)
			return true;
	return false;
}

/* Pointer to field `id` inside record `rec`, its length in *len. */
static const uint8_t *rec_field(const struct ttmpl *t, const uint8_t *rec,
				uint16_t id, uint32_t pen, uint16_t *len)
{
	size_t off = 0;
	uint16_t i;

	for (i = 0; i < t->n; i++) {
		if (t->ids[i] == id && t->pens[i] == pen) {
			*len = t->lens[i];
			return rec + off;
		}
		off += t->lens[i];
	}
	fail_msg("field %u (pen %u) not in template %u", id, pen, t->id);
	return NULL;
}

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t rec_u(const struct ttmpl *t, const uint8_t *rec, uint16_t id,
		      uint32_t pen)
{
	uint16_t len = 0;
	const uint8_t *p = rec_field(t, rec, id, pen, &len);

	assert_true(len <= 8);
	return be(p, len);
}

/*
 * Checks a data set: whole records, then fewer than 4 zero bytes of
 * padding. Returns the number of records.
 */
static size_t data_records(const struct tset *s, const struct ttmpl *t)
{
	size_t body = (size_t)s->len - 4;
	size_t n = body / t->rec_len;
	size_t pad = body - n * t->rec_len;
	size_t i;

	assert_true(n >= 1);
	assert_true(pad < 4);
	for (i = 0; i < pad; i++)
		assert_int_equal(s->body[n * t->rec_len + i], 0);
	return n;
}

static bool msg_has_set(const uint8_t *m, size_t len, size_t hdr, uint16_t id)
{
	struct tset s[64];
	size_t n = split_sets(m, len, hdr, s, 64), i;

	for (i = 0; i < n; i++)
		if (s[i].id == id)
			return true;
	return false;
}

struct parsed {
	struct tset sets[64];
	size_t nsets;
	struct ttmpl tmpl[8];
	size_t ntmpl;
};

static void parse_msg(const uint8_t *m, size_t len, bool ipfix,
		      struct parsed *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->nsets = split_sets(m, len, ipfix ? 16 : 20, p->sets, 64);
	for (i = 0; i < p->nsets; i++)
		if (p->sets[i].id == (ipfix ? 2 : 0))
			p->ntmpl += read_templates(&p->sets[i], ipfix,
						   p->tmpl + p->ntmpl,
						   8 - p->ntmpl);
}

/* ---- configuration ---- */

static void test_new_rejects_bad_cfg(void **state)
{
	struct fy_nfenc_cfg c;
	struct fy_nfenc *e;
	struct cap cap = {0};

	(void)state;
	c = base_cfg(7);
	assert_null(fy_nfenc_new(&c, cap_send, &cap));
	c = base_cfg(5);
	assert_null(fy_nfenc_new(NULL, cap_send, &cap));
	assert_null(fy_nfenc_new(&c, NULL, &cap));
	c.mtu = 24 + 48 - 1;
	assert_null(fy_nfenc_new(&c, cap_send, &cap));
	c.mtu = 24 + 48;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	fy_nfenc_free(e);

	c = base_cfg(5);
	c.sampling_interval = 0x4000; /* does not fit 14 bits */
	assert_null(fy_nfenc_new(&c, cap_send, &cap));
	c.sampling_interval = 0x3fff;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	fy_nfenc_free(e);

	c = base_cfg(9);
	c.sampling_interval = 10;
	c.sampling_random = 2;
	assert_null(fy_nfenc_new(&c, cap_send, &cap));
	c.sampling_random = 1;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	fy_nfenc_free(e);

	c = base_cfg(9);
	c.biflow = true;
	assert_null(fy_nfenc_new(&c, cap_send, &cap));
	c = base_cfg(10);
	c.biflow = true;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	fy_nfenc_free(e);
	fy_nfenc_free(NULL);
	assert_int_equal(cap.n, 0);
}

/*
 * The smallest mtu accepted is exactly what the worst first message needs:
 * header, all templates, one record of the longer (IPv6) kind.
 */
static void check_min_mtu(uint8_t version, bool sampling)
{
	struct fy_nfenc_cfg c = base_cfg(version);
	struct fy_nfenc *e = NULL;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	struct ttmpl tmpl[2];
	uint16_t mtu;
	size_t i;

	if (sampling)
		c.sampling_interval = 100;
	c.with_macs = c.with_vlan = true;
	c.biflow = version == 10;
	for (mtu = 16; mtu < 1400 && e == NULL; mtu++) {
		c.mtu = mtu;
		e = fy_nfenc_new(&c, cap_send, &cap);
	}
	assert_non_null(e);
	mtu = c.mtu;
	make_flow(&f, 1, FY_AF_INET6);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	/* The message is full to the byte: the next record starts another. */
	make_flow(&f, 2, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(cap.len[0], mtu);
	assert_true(cap.len[1] <= mtu);
	/* each carries its one record whole */
	for (i = 0; i < 2; i++) {
		const struct ttmpl *t;

		parse_msg(cap.msg[i], cap.len[i], version == 10, &p);
		if (i == 0)
			memcpy(tmpl, p.tmpl, sizeof(tmpl));
		assert_int_equal(p.sets[p.nsets - 1].id, i == 0 ? 257 : 256);
		t = find_tmpl(tmpl, 2, p.sets[p.nsets - 1].id);
		assert_non_null(t);
		assert_int_equal(data_records(&p.sets[p.nsets - 1], t), 1);
		assert_int_equal(rec_u(t, p.sets[p.nsets - 1].body, 7, 0),
				 1001 + i);
	}
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_min_mtu(void **state)
{
	(void)state;
	check_min_mtu(9, false);
	check_min_mtu(9, true);
	check_min_mtu(10, false);
	check_min_mtu(10, true);
}

/* ---- NetFlow v5 ---- */

static void test_v5_header_and_record(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct fy_rd r;
	uint64_t now = NOW_MS;

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 5, FY_AF_INET);
	f.output_if = 12;
	f.dst_as = 65001;
	assert_int_equal(fy_nfenc_add(e, &f, now), 0);
	assert_int_equal(cap.n, 0); /* buffered, not yet sent */
	assert_int_equal(fy_nfenc_flush(e, now), 0);
	assert_int_equal(cap.n, 1);
	assert_int_equal(cap.len[0], 24 + 48);

	r = fy_rd_init(cap.msg[0], cap.len[0]);
	assert_int_equal(fy_rd_u16(&r), 5);
	assert_int_equal(fy_rd_u16(&r), 1);
	assert_int_equal(fy_rd_u32(&r), (uint32_t)(now - BOOT_MS));
	assert_int_equal(fy_rd_u32(&r), now / 1000);
	assert_int_equal(fy_rd_u32(&r), (now % 1000) * 1000000);
	assert_int_equal(fy_rd_u32(&r), 0); /* sequence */
	assert_int_equal(fy_rd_u8(&r), 1);
	assert_int_equal(fy_rd_u8(&r), 7);
	assert_int_equal(fy_rd_u16(&r), 0); /* no sampling */

	assert_int_equal(fy_rd_u32(&r), 0x0a000006);
	assert_int_equal(fy_rd_u32(&r), 0xc0a80105);
	assert_int_equal(fy_rd_u32(&r), 0xac100001);
	assert_int_equal(fy_rd_u16(&r), 3);
	assert_int_equal(fy_rd_u16(&r), 12);
	assert_int_equal(fy_rd_u32(&r), 15);
	assert_int_equal(fy_rd_u32(&r), 1500 * 15);
	assert_int_equal(fy_rd_u32(&r), (uint32_t)(f.first_ms - BOOT_MS));
	assert_int_equal(fy_rd_u32(&r), (uint32_t)(f.last_ms - BOOT_MS));
	assert_int_equal(fy_rd_u16(&r), 1005);
	assert_int_equal(fy_rd_u16(&r), 443);
	assert_int_equal(fy_rd_u8(&r), 0);
	assert_int_equal(fy_rd_u8(&r), 0x1b);
	assert_int_equal(fy_rd_u8(&r), 6);
	assert_int_equal(fy_rd_u8(&r), 0x28);
	assert_int_equal(fy_rd_u16(&r), 64512);
	assert_int_equal(fy_rd_u16(&r), 65001);
	assert_int_equal(fy_rd_u8(&r), 24);
	assert_int_equal(fy_rd_u8(&r), 16);
	assert_int_equal(fy_rd_u16(&r), 0);
	assert_false(r.err);
	assert_int_equal(fy_rd_left(&r), 0);
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* What the 16-bit fields get when the flow's values do not fit. */
static void test_v5_narrow_fields(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	const uint8_t *rec;

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 0, FY_AF_INET);
	f.proto = 1;
	f.src_port = 0;
	f.dst_port = 0;
	f.icmp_type = 3;
	f.icmp_code = 13;
	f.packets = 5000000000ull;
	f.bytes = 1ull << 40;
	f.output_if = 70000;
	f.dst_as = 4200000000u;
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	rec = cap.msg[0] + 24;
	assert_int_equal(be(rec + 14, 2), 0xffff);     /* output if, clamped */
	assert_int_equal(be(rec + 16, 4), 0xffffffff); /* packets, saturated */
	assert_int_equal(be(rec + 20, 4), 0xffffffff); /* bytes */
	assert_int_equal(be(rec + 34, 2), 0x030d);     /* ICMP type.code */
	assert_int_equal(be(rec + 42, 2), 23456);      /* AS_TRANS */
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_v5_sequence_and_limit(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	unsigned i;
	const uint16_t counts[] = {30, 30, 15};

	(void)state;
	c.mtu = 2000; /* room for more than 30: the count limit applies */
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	for (i = 0; i < 75; i++) {
		make_flow(&f, i, FY_AF_INET);
		assert_int_equal(fy_nfenc_add(e, &f, NOW_MS + i), 0);
	}
	assert_int_equal(cap.n, 2); /* the third is still buffered */
	assert_int_equal(fy_nfenc_flush(e, NOW_MS + 100), 0);
	assert_int_equal(cap.n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(be(cap.msg[i] + 2, 2), counts[i]);
		assert_int_equal(cap.len[i], 24 + 48 * counts[i]);
		assert_int_equal(be(cap.msg[i] + 16, 4), 30 * i);
		/* first record of the message is flow 30*i: nothing lost */
		assert_int_equal(be(cap.msg[i] + 24 + 32, 2), 1000 + 30 * i);
	}
	assert_int_equal(fy_nfenc_stats(e)->records, 75);
	assert_int_equal(fy_nfenc_stats(e)->messages, 3);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_v5_mtu(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	unsigned i;

	(void)state;
	/* the default 1400 bytes hold 28 records, not 30 */
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	for (i = 0; i < 29; i++) {
		make_flow(&f, i, FY_AF_INET);
		assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	}
	assert_int_equal(cap.n, 1);
	assert_int_equal(be(cap.msg[0] + 2, 2), 28);
	assert_int_equal(cap.len[0], 24 + 48 * 28);
	fy_nfenc_free(e);
	cap_free(&cap);

	c.mtu = 24 + 48 * 4 + 47;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	for (i = 0; i < 10; i++) {
		make_flow(&f, i, FY_AF_INET);
		assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	}
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 3);
	assert_int_equal(be(cap.msg[0] + 2, 2), 4);
	assert_int_equal(be(cap.msg[1] + 2, 2), 4);
	assert_int_equal(be(cap.msg[2] + 2, 2), 2);
	for (i = 0; i < cap.n; i++)
		assert_true(cap.len[i] <= c.mtu);
	assert_int_equal(be(cap.msg[2] + 16, 4), 8);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_v5_ipv6_skipped(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	make_flow(&f, 2, FY_AF_INET6);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	/* family unset: the address decides */
	make_flow(&f, 3, FY_AF_INET6);
	f.family = FY_AF_NONE;
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	make_flow(&f, 4, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(fy_nfenc_stats(e)->skipped, 2);
	assert_int_equal(fy_nfenc_stats(e)->records, 2);
	assert_int_equal(cap.n, 1);
	assert_int_equal(be(cap.msg[0] + 2, 2), 2);
	assert_int_equal(be(cap.msg[0] + 24, 4), 0x0a000002);
	assert_int_equal(be(cap.msg[0] + 24 + 48, 4), 0x0a000005);

	/* a v6-only batch sends nothing; the sequence ignores skipped flows */
	make_flow(&f, 5, FY_AF_INET6);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	make_flow(&f, 6, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 2);
	assert_int_equal(be(cap.msg[1] + 16, 4), 2);
	assert_int_equal(fy_nfenc_stats(e)->skipped, 3);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static uint16_t v5_sampling_field(uint32_t interval, uint8_t random)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	uint16_t v;

	c.sampling_interval = interval;
	c.sampling_random = random;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	v = (uint16_t)be(cap.msg[0] + 22, 2);
	fy_nfenc_free(e);
	cap_free(&cap);
	return v;
}

static void test_v5_sampling(void **state)
{
	(void)state;
	assert_int_equal(v5_sampling_field(0, 0), 0);
	assert_int_equal(v5_sampling_field(1, 0), 0);
	assert_int_equal(v5_sampling_field(100, 0), 0x4000 | 100);
	assert_int_equal(v5_sampling_field(1000, 1), 0x8000 | 1000);
	assert_int_equal(v5_sampling_field(0x3fff, 0), 0x7fff);
}

/* 50 days of uptime: every relative time wraps at 2^32 ms. */
static void test_v5_uptime_wrap(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	uint64_t now = BOOT_MS + (1ull << 32) + 5000;
	uint32_t up, first, last;

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 0, FY_AF_INET);
	f.first_ms = now - 8000; /* before the wrap */
	f.last_ms = now - 1000;	 /* after it */
	assert_int_equal(fy_nfenc_add(e, &f, now), 0);
	assert_int_equal(fy_nfenc_flush(e, now), 0);
	assert_int_equal(cap.n, 1);
	up = (uint32_t)be(cap.msg[0] + 4, 4);
	first = (uint32_t)be(cap.msg[0] + 24 + 24, 4);
	last = (uint32_t)be(cap.msg[0] + 24 + 28, 4);
	assert_int_equal(up, 5000);
	assert_int_equal(first, 0xffffffffu - 2999);
	assert_int_equal(last, 4000);
	assert_int_equal((uint32_t)(up - first), 8000);
	assert_int_equal((uint32_t)(up - last), 1000);
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* ---- NetFlow v9 ---- */

static void test_v9_header_count_templates(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(9);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	const struct ttmpl *t4, *t6;
	uint64_t now = NOW_MS;

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, now), 0);
	make_flow(&f, 2, FY_AF_INET6);
	assert_int_equal(fy_nfenc_add(e, &f, now), 0);
	make_flow(&f, 3, FY_AF_INET6);
	assert_int_equal(fy_nfenc_add(e, &f, now), 0);
	assert_int_equal(fy_nfenc_flush(e, now), 0);
	assert_int_equal(cap.n, 1);

	assert_int_equal(be(cap.msg[0], 2), 9);
	assert_int_equal(be(cap.msg[0] + 2, 2), 2 + 3); /* templates + data */
	/* unix_secs*1000 - sysUpTime is the boot time, to the ms */
	assert_int_equal(be(cap.msg[0] + 8, 4), now / 1000);
	assert_int_equal(be(cap.msg[0] + 8, 4) * 1000 - be(cap.msg[0] + 4, 4),
			 BOOT_MS);
	assert_int_equal(be(cap.msg[0] + 12, 4), 0);
	assert_int_equal(be(cap.msg[0] + 16, 4), 0x01020304);

	parse_msg(cap.msg[0], cap.len[0], false, &p);
	assert_int_equal(p.nsets, 3);
	assert_int_equal(p.sets[0].id, 0);
	assert_int_equal(p.sets[1].id, 256);
	assert_int_equal(p.sets[2].id, 257);
	assert_int_equal(p.ntmpl, 2);
	t4 = find_tmpl(p.tmpl, p.ntmpl, 256);
	t6 = find_tmpl(p.tmpl, p.ntmpl, 257);
	assert_non_null(t4);
	assert_non_null(t6);
	assert_int_equal(data_records(&p.sets[1], t4), 1);
	assert_int_equal(data_records(&p.sets[2], t6), 2);

	assert_true(tmpl_has(t4, 8, 0) && tmpl_has(t4, 12, 0));
	assert_true(tmpl_has(t4, 15, 0) && tmpl_has(t4, 32, 0));
	assert_true(tmpl_has(t4, 22, 0) && tmpl_has(t4, 21, 0));
	assert_true(tmpl_has(t4, 136, 0));
	assert_false(tmpl_has(t4, 27, 0));
	assert_false(tmpl_has(t4, 152, 0)); /* v9 times are uptime based */
	assert_true(tmpl_has(t6, 27, 0) && tmpl_has(t6, 28, 0));
	/* v9: ICMP_TYPE 32 in both families, no IPFIX-only 139 */
	assert_true(tmpl_has(t6, 62, 0) && tmpl_has(t6, 32, 0));
	assert_false(tmpl_has(t6, 139, 0));
	assert_true(tmpl_has(t6, 29, 0) && tmpl_has(t6, 30, 0));
	assert_false(tmpl_has(t6, 8, 0));
	assert_false(tmpl_has(t4, 56, 0) || tmpl_has(t4, 58, 0));
	assert_false(tmpl_has(t6, 80, 0) || tmpl_has(t6, 59, 0));
	assert_int_equal(rec_u(t4, p.sets[1].body, 1, 0), 1500 * 11);
	{
		uint16_t len = 0;

		rec_field(t4, p.sets[1].body, 1, 0, &len);
		assert_int_equal(len, 8); /* 8-byte counters */
		rec_field(t4, p.sets[1].body, 2, 0, &len);
		assert_int_equal(len, 8);
	}
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* ipfix: IPv6 ICMP type/code is 139 there, 32 (ICMP_TYPE) in v9 */
static void check_v9_values(const struct ttmpl *t, const uint8_t *rec,
			    const struct fy_flow *f, bool v6, bool ipfix)
{
	uint16_t len = 0;
	const uint8_t *p;

	if (v6) {
		p = rec_field(t, rec, 27, 0, &len);
		assert_memory_equal(p, f->src.b, 16);
		p = rec_field(t, rec, 28, 0, &len);
		assert_memory_equal(p, f->dst.b, 16);
		p = rec_field(t, rec, 62, 0, &len);
		assert_memory_equal(p, f->nexthop.b, 16);
		assert_int_equal(rec_u(t, rec, 29, 0), f->src_mask);
		assert_int_equal(rec_u(t, rec, 30, 0), f->dst_mask);
		assert_int_equal(rec_u(t, rec, ipfix ? 139 : 32, 0),
				 f->icmp_type << 8 | f->icmp_code);
	} else {
		assert_int_equal(rec_u(t, rec, 8, 0), fy_addr_v4(&f->src));
		assert_int_equal(rec_u(t, rec, 12, 0), fy_addr_v4(&f->dst));
		assert_int_equal(rec_u(t, rec, 15, 0), fy_addr_v4(&f->nexthop));
		assert_int_equal(rec_u(t, rec, 9, 0), f->src_mask);
		assert_int_equal(rec_u(t, rec, 13, 0), f->dst_mask);
		assert_int_equal(rec_u(t, rec, 32, 0),
				 f->icmp_type << 8 | f->icmp_code);
	}
	assert_int_equal(rec_u(t, rec, 1, 0), f->bytes);
	assert_int_equal(rec_u(t, rec, 2, 0), f->packets);
	assert_int_equal(rec_u(t, rec, 4, 0), f->proto);
	assert_int_equal(rec_u(t, rec, 5, 0), f->tos);
	assert_int_equal(rec_u(t, rec, 6, 0), f->tcp_flags);
	assert_int_equal(rec_u(t, rec, 7, 0), f->src_port);
	assert_int_equal(rec_u(t, rec, 11, 0), f->dst_port);
	assert_int_equal(rec_u(t, rec, 10, 0), f->input_if);
	assert_int_equal(rec_u(t, rec, 14, 0), f->output_if);
	assert_int_equal(rec_u(t, rec, 16, 0), f->src_as);
	assert_int_equal(rec_u(t, rec, 17, 0), f->dst_as);
	assert_int_equal(rec_u(t, rec, 136, 0), f->end_reason);
	assert_int_equal(rec_u(t, rec, 58, 0), f->vlan);
	assert_int_equal(rec_u(t, rec, 59, 0), f->out_vlan);
	p = rec_field(t, rec, 56, 0, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(p, f->src_mac, 6);
	p = rec_field(t, rec, 80, 0, &len);
	assert_memory_equal(p, f->dst_mac, 6);
}

static void test_v9_record_values(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(9);
	struct fy_nfenc *e;
	struct fy_flow f4, f6;
	struct cap cap = {0};
	struct parsed p;
	const struct ttmpl *t4, *t6;
	uint32_t up;

	(void)state;
	c.with_macs = c.with_vlan = true;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f4, 9, FY_AF_INET);
	f4.proto = 1;
	f4.icmp_type = 8;
	make_flow(&f6, 10, FY_AF_INET6);
	f6.proto = 58;
	f6.icmp_type = 128;
	f6.icmp_code = 1;
	assert_int_equal(fy_nfenc_add(e, &f4, NOW_MS), 0);
	assert_int_equal(fy_nfenc_add(e, &f6, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	parse_msg(cap.msg[0], cap.len[0], false, &p);
	t4 = find_tmpl(p.tmpl, p.ntmpl, 256);
	t6 = find_tmpl(p.tmpl, p.ntmpl, 257);
	assert_non_null(t4);
	assert_non_null(t6);
	assert_int_equal(p.sets[1].id, 256);
	assert_int_equal(p.sets[2].id, 257);
	check_v9_values(t4, p.sets[1].body, &f4, false, false);
	check_v9_values(t6, p.sets[2].body, &f6, true, false);

	/* times: relative to sysUpTime, ms exact once the boot is derived */
	up = (uint32_t)be(cap.msg[0] + 4, 4);
	assert_int_equal((uint32_t)(up - rec_u(t4, p.sets[1].body, 22, 0)),
			 (uint32_t)((NOW_MS / 1000) * 1000 - f4.first_ms));
	assert_int_equal(rec_u(t4, p.sets[1].body, 22, 0),
			 (uint32_t)(f4.first_ms - BOOT_MS));
	assert_int_equal(rec_u(t4, p.sets[1].body, 21, 0),
			 (uint32_t)(f4.last_ms - BOOT_MS));
	assert_int_equal(rec_u(t6, p.sets[2].body, 21, 0),
			 (uint32_t)(f6.last_ms - BOOT_MS));
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_v9_sequence_and_options(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(9);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	struct fy_rd r;
	const unsigned per_msg[] = {1, 3, 2};
	unsigned i, k;

	(void)state;
	c.sampling_interval = 512;
	c.sampling_random = 1;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	for (i = 0; i < 3; i++) {
		/* 1, 3, 2 flows: packets, not records, are counted */
		for (k = 0; k < per_msg[i]; k++) {
			make_flow(&f, i, FY_AF_INET);
			assert_int_equal(fy_nfenc_add(e, &f, NOW_MS + i), 0);
		}
		assert_int_equal(fy_nfenc_flush(e, NOW_MS + i), 0);
	}
	assert_int_equal(cap.n, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(be(cap.msg[i] + 12, 4), i); /* packets */
	/* 2 templates + options template + options record + 1 flow */
	assert_int_equal(be(cap.msg[0] + 2, 2), 5);
	assert_int_equal(be(cap.msg[1] + 2, 2), 3);
	assert_int_equal(be(cap.msg[2] + 2, 2), 2);

	parse_msg(cap.msg[0], cap.len[0], false, &p);
	assert_int_equal(p.nsets, 4);
	assert_int_equal(p.sets[0].id, 0);
	assert_int_equal(p.sets[1].id, 1);
	assert_int_equal(p.sets[2].id, 258);
	assert_int_equal(p.sets[3].id, 256);

	/* the options template: scope System (4 bytes), 34/4 and 35/1 */
	r = fy_rd_init(p.sets[1].body, p.sets[1].len - 4u);
	assert_int_equal(fy_rd_u16(&r), 258);
	assert_int_equal(fy_rd_u16(&r), 4);
	assert_int_equal(fy_rd_u16(&r), 8);
	assert_int_equal(fy_rd_u16(&r), 1);
	assert_int_equal(fy_rd_u16(&r), 4);
	assert_int_equal(fy_rd_u16(&r), 34);
	assert_int_equal(fy_rd_u16(&r), 4);
	assert_int_equal(fy_rd_u16(&r), 35);
	assert_int_equal(fy_rd_u16(&r), 1);
	assert_int_equal(fy_rd_left(&r), 2); /* zero padding to 4 */
	assert_int_equal(fy_rd_u16(&r), 0);
	assert_int_equal(p.sets[1].len, 24);

	r = fy_rd_init(p.sets[2].body, p.sets[2].len - 4u);
	assert_int_equal(fy_rd_u32(&r), 0x01020304);
	assert_int_equal(fy_rd_u32(&r), 512);
	assert_int_equal(fy_rd_u8(&r), 2); /* random */
	assert_int_equal(fy_rd_left(&r), 3);
	assert_int_equal(fy_rd_u8(&r), 0);
	assert_int_equal(fy_rd_u16(&r), 0);
	assert_false(r.err);
	assert_false(msg_has_set(cap.msg[1], cap.len[1], 20, 1));

	assert_int_equal(fy_nfenc_stats(e)->template_records, 3);
	assert_int_equal(fy_nfenc_stats(e)->options_records, 1);
	assert_int_equal(fy_nfenc_stats(e)->records, 6);
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* ---- IPFIX ---- */

static void test_ipfix_header_and_sequence(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(10);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	const unsigned per_msg[] = {3, 2, 1, 1};
	unsigned i, k, n = 0;
	uint32_t expect = 0;

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	for (i = 0; i < 4; i++) {
		for (k = 0; k < per_msg[i]; k++) {
			make_flow(&f, n++, k % 2 ? FY_AF_INET6 : FY_AF_INET);
			assert_int_equal(fy_nfenc_add(e, &f, NOW_MS + i * 1000),
					 0);
		}
		assert_int_equal(fy_nfenc_flush(e, NOW_MS + i * 1000), 0);
		if (i == 2)
			fy_nfenc_request_templates(e);
	}
	assert_int_equal(cap.n, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(be(cap.msg[i], 2), 10);
		assert_int_equal(be(cap.msg[i] + 2, 2), cap.len[i]);
		assert_int_equal(be(cap.msg[i] + 4, 4),
				 (NOW_MS + i * 1000) / 1000);
		/* data records before this one; templates not counted */
		assert_int_equal(be(cap.msg[i] + 8, 4), expect);
		assert_int_equal(be(cap.msg[i] + 12, 4), 0x01020304);
		expect += per_msg[i];
	}
	assert_true(msg_has_set(cap.msg[0], cap.len[0], 16, 2));
	assert_false(msg_has_set(cap.msg[1], cap.len[1], 16, 2));
	assert_false(msg_has_set(cap.msg[2], cap.len[2], 16, 2));
	assert_true(msg_has_set(cap.msg[3], cap.len[3], 16, 2));
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* Options data records are data records (RFC 7011 3.1): they count. */
static void test_ipfix_sequence_with_options(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(10);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	struct fy_rd r;

	(void)state;
	c.sampling_interval = 100;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 0, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 3);
	assert_int_equal(be(cap.msg[0] + 8, 4), 0);
	assert_int_equal(be(cap.msg[1] + 8, 4), 3);
	assert_int_equal(be(cap.msg[2] + 8, 4), 4);

	parse_msg(cap.msg[0], cap.len[0], true, &p);
	assert_int_equal(p.nsets, 4);
	assert_int_equal(p.sets[0].id, 2);
	assert_int_equal(p.sets[1].id, 3);
	assert_int_equal(p.sets[2].id, 258);
	assert_int_equal(p.sets[3].id, 256);
	r = fy_rd_init(p.sets[1].body, p.sets[1].len - 4u);
	assert_int_equal(fy_rd_u16(&r), 258);
	assert_int_equal(fy_rd_u16(&r), 4); /* field count */
	assert_int_equal(fy_rd_u16(&r), 1); /* scope field count */
	assert_int_equal(fy_rd_u16(&r), 149);
	assert_int_equal(fy_rd_u16(&r), 4);
	assert_int_equal(fy_rd_u16(&r), 304);
	assert_int_equal(fy_rd_u16(&r), 2);
	assert_int_equal(fy_rd_u16(&r), 305);
	assert_int_equal(fy_rd_u16(&r), 4);
	assert_int_equal(fy_rd_u16(&r), 306);
	assert_int_equal(fy_rd_u16(&r), 4);
	assert_int_equal(fy_rd_left(&r), 2);
	assert_int_equal(fy_rd_u16(&r), 0);
	r = fy_rd_init(p.sets[2].body, p.sets[2].len - 4u);
	assert_int_equal(fy_rd_u32(&r), 0x01020304);
	assert_int_equal(fy_rd_u16(&r), 1); /* systematic count-based */
	assert_int_equal(fy_rd_u32(&r), 1);
	assert_int_equal(fy_rd_u32(&r), 99);
	assert_int_equal(fy_rd_left(&r), 2);
	assert_int_equal(fy_rd_u16(&r), 0);
	assert_false(r.err);
	fy_nfenc_free(e);
	cap_free(&cap);

	/* random: 1 out of N, samplingSize 309 / samplingPopulation 310 */
	c.sampling_random = 1;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	parse_msg(cap.msg[0], cap.len[0], true, &p);
	assert_int_equal(p.sets[1].id, 3);
	assert_int_equal(be(p.sets[1].body + 10, 2), 304);
	assert_int_equal(be(p.sets[1].body + 14, 2), 309);
	assert_int_equal(be(p.sets[1].body + 18, 2), 310);
	r = fy_rd_init(p.sets[2].body, p.sets[2].len - 4u);
	assert_int_equal(fy_rd_u32(&r), 0x01020304);
	assert_int_equal(fy_rd_u16(&r), 3); /* random n-out-of-N */
	assert_int_equal(fy_rd_u32(&r), 1);
	assert_int_equal(fy_rd_u32(&r), 100);
	assert_false(r.err);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_ipfix_record_values(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(10);
	struct fy_nfenc *e;
	struct fy_flow f4, f6;
	struct cap cap = {0};
	struct parsed p;
	const struct ttmpl *t4, *t6;
	uint16_t len = 0;

	(void)state;
	c.with_macs = c.with_vlan = true;
	c.biflow = true;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f4, 1, FY_AF_INET);
	f4.proto = 1;
	f4.icmp_type = 11;
	make_flow(&f6, 2, FY_AF_INET6);
	f6.end_reason = FY_END_LACK_OF_RESOURCES;
	assert_int_equal(fy_nfenc_add(e, &f4, NOW_MS), 0);
	assert_int_equal(fy_nfenc_add(e, &f6, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	parse_msg(cap.msg[0], cap.len[0], true, &p);
	assert_int_equal(p.nsets, 3);
	t4 = find_tmpl(p.tmpl, p.ntmpl, 256);
	t6 = find_tmpl(p.tmpl, p.ntmpl, 257);
	assert_non_null(t4);
	assert_non_null(t6);
	assert_int_equal(p.sets[1].id, 256);
	assert_int_equal(p.sets[2].id, 257);
	check_v9_values(t4, p.sets[1].body, &f4, false, true);
	check_v9_values(t6, p.sets[2].body, &f6, true, true);
	assert_false(tmpl_has(t4, 22, 0) || tmpl_has(t4, 21, 0));
	assert_int_equal(rec_u(t4, p.sets[1].body, 152, 0), f4.first_ms);
	assert_int_equal(rec_u(t4, p.sets[1].body, 153, 0), f4.last_ms);
	assert_int_equal(rec_u(t6, p.sets[2].body, 152, 0), f6.first_ms);
	assert_int_equal(rec_u(t6, p.sets[2].body, 153, 0), f6.last_ms);
	/* RFC 5103 reverse counters: enterprise bit, PEN 29305 */
	assert_int_equal(rec_u(t4, p.sets[1].body, 1, 29305), f4.out_bytes);
	assert_int_equal(rec_u(t4, p.sets[1].body, 2, 29305), f4.out_packets);
	assert_int_equal(rec_u(t6, p.sets[2].body, 1, 29305), f6.out_bytes);
	rec_field(t6, p.sets[2].body, 2, 29305, &len);
	assert_int_equal(len, 8);
	/* the raw field specifier of the first reverse field */
	{
		const uint8_t *b = p.sets[0].body + 4;
		bool found = false;
		uint16_t i;

		for (i = 0; i < t4->n; i++) {
			uint16_t id = (uint16_t)be(b, 2);

			if (id & 0x8000) {
				assert_int_equal(id, 0x8001);
				assert_int_equal(be(b + 4, 4), 29305);
				found = true;
				break;
			}
			b += 4;
		}
		assert_true(found);
	}
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* IPv4 IPFIX records are 73 bytes: padding happens and must be zeros. */
static void test_ipfix_padding(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(10);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	const struct ttmpl *t4;
	size_t pad;

	(void)state;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	make_flow(&f, 2, FY_AF_INET6);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	make_flow(&f, 3, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	parse_msg(cap.msg[0], cap.len[0], true, &p);
	assert_int_equal(p.nsets, 4); /* templates, v4, v6, v4 again */
	t4 = find_tmpl(p.tmpl, p.ntmpl, 256);
	assert_non_null(t4);
	assert_int_equal(t4->rec_len % 4, 1);
	assert_int_equal(data_records(&p.sets[1], t4), 1);
	pad = p.sets[1].len - 4u - t4->rec_len;
	assert_int_equal(pad, 3);
	assert_int_equal(data_records(&p.sets[3], t4), 1);
	assert_int_equal(rec_u(t4, p.sets[3].body, 7, 0), 1003);
	fy_nfenc_free(e);
	cap_free(&cap);
}

/* ---- behaviour common to the versions ---- */

/*
 * Many flows, a small mtu: no message over the mtu, every record whole,
 * all of them there, in order.
 */
static void check_many_flows(uint8_t version, uint16_t mtu)
{
	struct fy_nfenc_cfg c = base_cfg(version);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	struct ttmpl tmpl[2];
	size_t ntmpl = 0, m, s, k, total = 0;
	bool ipfix = version == 10;
	unsigned i, n = 1000;

	c.mtu = mtu;
	c.sampling_interval = 10;
	c.with_vlan = true;
	c.tmpl_refresh_packets = 7;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	for (i = 0; i < n; i++) {
		int fam = version == 5 || (i / 3) % 2 ? FY_AF_INET
						      : FY_AF_INET6;

		make_flow(&f, i, fam);
		f.src_port = (uint16_t)i;
		assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	}
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_true(cap.n > 5);
	for (m = 0; m < cap.n; m++) {
		assert_true(cap.len[m] <= mtu);
		if (version == 5) {
			k = be(cap.msg[m] + 2, 2);
			assert_int_equal(cap.len[m], 24 + 48 * k);
			for (s = 0; s < k; s++, total++)
				assert_int_equal(
					be(cap.msg[m] + 24 + 48 * s + 32, 2),
					total);
			continue;
		}
		parse_msg(cap.msg[m], cap.len[m], ipfix, &p);
		if (p.ntmpl) {
			memcpy(tmpl, p.tmpl, sizeof(tmpl));
			ntmpl = p.ntmpl;
		}
		assert_int_equal(ntmpl, 2);
		for (s = 0; s < p.nsets; s++) {
			const struct ttmpl *t;
			size_t nr;

			if (p.sets[s].id < 256 || p.sets[s].id == 258)
				continue;
			t = find_tmpl(tmpl, ntmpl, p.sets[s].id);
			assert_non_null(t);
			nr = data_records(&p.sets[s], t);
			for (k = 0; k < nr; k++, total++)
				assert_int_equal(
					rec_u(t,
					      p.sets[s].body + k * t->rec_len,
					      7, 0),
					total);
		}
	}
	assert_int_equal(total, n);
	assert_int_equal(fy_nfenc_stats(e)->records, n);
	assert_int_equal(fy_nfenc_stats(e)->messages, cap.n);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_mtu_many_flows(void **state)
{
	(void)state;
	check_many_flows(5, 500);
	check_many_flows(9, 500);
	check_many_flows(10, 500);
	check_many_flows(9, 1400);
	check_many_flows(10, 1400);
	check_many_flows(10, 9000);
}

/*
 * With one kind of record, every message but the last is full: one more
 * record, with its padding, would pass the mtu. Catches both an overflow
 * and a fit test that is too cautious, at every mtu of a range.
 */
static void check_messages_full(uint8_t version, bool vlan)
{
	struct fy_nfenc_cfg c = base_cfg(version);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	struct ttmpl t4;
	size_t m;
	unsigned i;
	uint16_t mtu;

	c.with_vlan = vlan;
	make_flow(&f, 1, FY_AF_INET);
	for (mtu = 400; mtu < 1000; mtu++) {
		c.mtu = mtu;
		e = fy_nfenc_new(&c, cap_send, &cap);
		assert_non_null(e);
		for (i = 0; i < 40; i++)
			assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
		assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
		assert_true(cap.n >= 2);
		for (m = 0; m < cap.n; m++) {
			const struct tset *last;
			size_t k, grown;

			assert_true(cap.len[m] <= mtu);
			parse_msg(cap.msg[m], cap.len[m], version == 10, &p);
			if (m == 0)
				t4 = p.tmpl[0];
			assert_int_equal(t4.id, 256);
			last = &p.sets[p.nsets - 1];
			assert_int_equal(last->id, 256);
			k = data_records(last, &t4);
			grown = cap.len[m] - last->len +
				((4 + (k + 1) * t4.rec_len + 3) & ~(size_t)3);
			if (m + 1 < cap.n)
				assert_true(grown > mtu);
		}
		assert_int_equal(fy_nfenc_stats(e)->records, 40);
		fy_nfenc_free(e);
		cap_free(&cap);
	}
}

static void test_messages_full(void **state)
{
	(void)state;
	check_messages_full(9, false);
	check_messages_full(9, true);
	check_messages_full(10, false);
	check_messages_full(10, true);
}

/* Whether message i of a v9/IPFIX capture carries the data templates. */
static bool has_tmpl(const struct cap *cap, size_t i, uint8_t version)
{
	return msg_has_set(cap->msg[i], cap->len[i], version == 10 ? 16 : 20,
			   version == 10 ? 2 : 0);
}

static void check_refresh_by_count(uint8_t version)
{
	struct fy_nfenc_cfg c = base_cfg(version);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	unsigned i;

	c.tmpl_refresh_packets = 3;
	c.tmpl_refresh_ms = 3600000;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	for (i = 0; i < 10; i++) {
		assert_int_equal(fy_nfenc_add(e, &f, NOW_MS + i), 0);
		assert_int_equal(fy_nfenc_flush(e, NOW_MS + i), 0);
	}
	assert_int_equal(cap.n, 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(has_tmpl(&cap, i, version), i % 3 == 0);
	assert_int_equal(fy_nfenc_stats(e)->template_records, 4 * 2);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void check_refresh_by_time(uint8_t version)
{
	struct fy_nfenc_cfg c = base_cfg(version);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	const uint64_t at[] = {0, 500, 999, 1000, 1500, 2100, 2200};
	const bool want[] = {true, false, false, true, false, true, false};
	unsigned i;

	c.tmpl_refresh_packets = 1000;
	c.tmpl_refresh_ms = 1000;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET6);
	for (i = 0; i < 7; i++) {
		assert_int_equal(fy_nfenc_add(e, &f, NOW_MS + at[i]), 0);
		assert_int_equal(fy_nfenc_flush(e, NOW_MS + at[i]), 0);
	}
	assert_int_equal(cap.n, 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(has_tmpl(&cap, i, version), want[i]);
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_template_refresh(void **state)
{
	(void)state;
	check_refresh_by_count(9);
	check_refresh_by_count(10);
	check_refresh_by_time(9);
	check_refresh_by_time(10);
}

static void check_request_templates(uint8_t version)
{
	struct fy_nfenc_cfg c = base_cfg(version);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	struct parsed p;
	size_t hdr = version == 10 ? 16 : 20;

	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	/* nothing buffered: flush sends nothing */
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);

	/* a request on an idle link: a template-only message at once */
	fy_nfenc_request_templates(e);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 2);
	parse_msg(cap.msg[1], cap.len[1], version == 10, &p);
	assert_int_equal(p.nsets, 1);
	assert_int_equal(p.ntmpl, 2);
	assert_int_equal(cap.len[1], hdr + p.sets[0].len);
	if (version == 9) {
		assert_int_equal(be(cap.msg[1] + 2, 2), 2);
		assert_int_equal(be(cap.msg[1] + 12, 4), 1);
	} else {
		assert_int_equal(be(cap.msg[1] + 8, 4), 1);
	}

	/* answered: the next message has none */
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	fy_nfenc_request_templates(e); /* while a message is open */
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 4);
	assert_false(has_tmpl(&cap, 2, version));
	assert_true(has_tmpl(&cap, 3, version));
	assert_int_equal(fy_nfenc_add(e, &f, NOW_MS), 0);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 5);
	assert_false(has_tmpl(&cap, 4, version));
	fy_nfenc_free(e);
	cap_free(&cap);
}

static void test_request_templates(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(5);
	struct fy_nfenc *e;
	struct cap cap = {0};

	(void)state;
	check_request_templates(9);
	check_request_templates(10);
	/* v5 has no templates: the request sends nothing */
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	fy_nfenc_request_templates(e);
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 0);
	fy_nfenc_free(e);
}

static void test_send_error(void **state)
{
	struct fy_nfenc_cfg c = base_cfg(10);
	struct fy_nfenc *e;
	struct fy_flow f;
	struct cap cap = {0};
	unsigned i;
	int r = 0;

	(void)state;
	c.mtu = 400;
	e = fy_nfenc_new(&c, cap_send, &cap);
	assert_non_null(e);
	make_flow(&f, 1, FY_AF_INET);
	cap.fail = -111;
	for (i = 0; i < 10 && r == 0; i++)
		r = fy_nfenc_add(e, &f, NOW_MS);
	assert_int_equal(r, -111);
	assert_int_equal(fy_nfenc_stats(e)->send_errors, 1);
	assert_int_equal(fy_nfenc_stats(e)->messages, 0);
	cap.fail = 0;
	assert_int_equal(fy_nfenc_flush(e, NOW_MS), 0);
	assert_int_equal(cap.n, 1);
	/* the lost records keep their sequence numbers: a visible gap */
	assert_int_equal(be(cap.msg[0] + 8, 4), i - 1);
	assert_int_equal(be(cap.msg[0] + 2, 2), cap.len[0]);
	assert_int_equal(fy_nfenc_stats(e)->records, i);
	assert_int_equal(fy_nfenc_stats(e)->bytes, cap.len[0]);
	assert_int_equal(fy_nfenc_add(NULL, &f, NOW_MS), -EINVAL);
	assert_int_equal(fy_nfenc_add(e, NULL, NOW_MS), -EINVAL);
	assert_int_equal(fy_nfenc_flush(NULL, NOW_MS), -EINVAL);
	fy_nfenc_free(e);
	cap_free(&cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_rejects_bad_cfg),
		cmocka_unit_test(test_min_mtu),
		cmocka_unit_test(test_v5_header_and_record),
		cmocka_unit_test(test_v5_narrow_fields),
		cmocka_unit_test(test_v5_sequence_and_limit),
		cmocka_unit_test(test_v5_mtu),
		cmocka_unit_test(test_v5_ipv6_skipped),
		cmocka_unit_test(test_v5_sampling),
		cmocka_unit_test(test_v5_uptime_wrap),
		cmocka_unit_test(test_v9_header_count_templates),
		cmocka_unit_test(test_v9_record_values),
		cmocka_unit_test(test_v9_sequence_and_options),
		cmocka_unit_test(test_ipfix_header_and_sequence),
		cmocka_unit_test(test_ipfix_sequence_with_options),
		cmocka_unit_test(test_ipfix_record_values),
		cmocka_unit_test(test_ipfix_padding),
		cmocka_unit_test(test_mtu_many_flows),
		cmocka_unit_test(test_messages_full),
		cmocka_unit_test(test_template_refresh),
		cmocka_unit_test(test_request_templates),
		cmocka_unit_test(test_send_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
