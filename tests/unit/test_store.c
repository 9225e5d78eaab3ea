/*
 * Unit tests of the flow store: round trips of every field and of every
 * column encoding, column masks, footer totals, the off-thread block path,
 * time windows, and damage of every kind a disk or a crash produces: torn
 * tails at every offset, bit flips, a newer version, garbage, a full disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow.h"
#include "store.h"
#include "store_impl.h"

static char dir[64];

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A value of a random byte width: exercises every narrow width. */
static uint64_t rnd_wide(void)
{
	unsigned bits = (unsigned)(rnd() % 65);

	return bits == 64 ? rnd() : rnd() & ((UINT64_C(1) << bits) - 1);
}

static void rnd_addr(struct fy_addr *a, bool v6)
{
	uint64_t x = rnd(), y = rnd();

	if (!v6) {
		fy_addr_set_v4(a, (uint32_t)x);
		return;
	}
	memcpy(a->b, &x, 8);
	memcpy(a->b + 8, &y, 8);
	a->b[0] = 0x20;
}

/*
 * Every field set. `low` picks values from a handful (dictionary columns),
 * otherwise wide random values (plain columns); v6 mixes IPv6 in.
 */
static void make_flow(struct fy_flow *f, uint64_t i, bool low, bool v6)
{
	uint64_t k = low ? rnd() % 5 : 0;
	bool six = v6 && (rnd() & 1);

	memset(f, 0, sizeof(*f));
	f->first_ms = 1700000000000ull + i * 3 + (low ? k : rnd() % 5000);
	f->last_ms = f->first_ms + (low ? k * 1000 : rnd() % 300000);
	f->packets = low ? k + 1 : rnd_wide();
	f->bytes = low ? 40 * (k + 1) : rnd_wide();
	f->out_packets = low ? k : rnd_wide();
	f->out_bytes = low ? 0 : rnd_wide();
	if (low) {
		fy_addr_set_v4(&f->src, 0x0a000000u + (uint32_t)k);
		fy_addr_set_v4(&f->dst, 0x0a000100u + (uint32_t)k);
	} else {
		rnd_addr(&f->src, six);
		rnd_addr(&f->dst, six);
	}
	rnd_addr(&f->nexthop, six);
	rnd_addr(&f->bgp_nexthop, v6);
	fy_addr_set_v4(&f->exporter, 0xc0000201); /* one value: constant */
	rnd_addr(&f->xlate_src, false);
	rnd_addr(&f->xlate_dst, true);
	f->input_if = (uint32_t)(low ? k : rnd());
	f->output_if = (uint32_t)(low ? k + 1 : rnd());
	f->src_as = (uint32_t)rnd();
	f->dst_as = (uint32_t)(rnd() % 70000);
	f->domain = 7;
	f->sampling_interval = (uint32_t)(low ? 1 : rnd());
	f->mpls_label = (uint32_t)(rnd() & 0xfffff);
	f->src_port = (uint16_t)rnd();
	f->dst_port = low ? 443 : (uint16_t)rnd();
	f->xlate_src_port = (uint16_t)rnd();
	f->xlate_dst_port = (uint16_t)rnd();
	f->vlan = (uint16_t)(rnd() & 0xfff);
	f->out_vlan = (uint16_t)(rnd() & 0xfff);
	f->exporter_port = 2055;
	f->family = six ? FY_AF_INET6 : FY_AF_INET;
	f->exporter_family = FY_AF_INET;
	f->proto = (uint8_t)(low ? (k & 1 ? 6 : 17) : rnd());
	f->tcp_flags = (uint8_t)rnd();
	f->tos = (uint8_t)rnd();
	f->src_mask = (uint8_t)(rnd() % 33);
	f->dst_mask = (uint8_t)(rnd() % 129);
	f->icmp_type = (uint8_t)rnd();
	f->icmp_code = (uint8_t)rnd();
	f->end_reason = (uint8_t)(rnd() % 6);
	f->direction = (uint8_t)(rnd() & 1);
	f->fw_event = (uint8_t)rnd();
	f->forwarding_status = (uint8_t)rnd();
	f->engine_type = (uint8_t)rnd();
	f->engine_id = (uint8_t)rnd();
	f->nf_version = FY_NF_IPFIX;
	for (int b = 0; b < 6; b++) {
		f->src_mac[b] = (uint8_t)rnd();
		f->dst_mac[b] = (uint8_t)(low ? k : rnd());
	}
}

static struct fy_flow *make_flows(size_t n, size_t block, bool v6)
{
	struct fy_flow *f = calloc(n, sizeof(*f));
	size_t i;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		make_flow(&f[i], i, (i / block) % 2 == 1, v6);
	return f;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const struct fy_flow *f, size_t n,
		       uint32_t block, int level, size_t flush_every)
{
	struct fy_store_opts o = {.block_flows = block,
				  .level = level,
				  .ident = "router-1",
				  .created_ms = 1234,
				  .no_fsync = true};
	struct fy_store_exporter ex = {.family = FY_AF_INET,
				       .nf_version = 9,
				       .port = 2055,
				       .domain = 3,
				       .sampling_interval = 100};
	struct fy_store_writer *w;
	char err[FY_STORE_MSG_MAX];
	size_t i, k;

	fy_addr_set_v4(&ex.addr, 0xc0000201);
	unlink(path);
	assert_int_equal(fy_store_writer_open(&w, path, &o, err, sizeof(err)),
			 0);
	for (i = 0; i < n; i += k) {
		k = n - i < 37 ? n - i : 37; /* batches across block edges */
		if (flush_every && k > flush_every - i % flush_every)
			k = flush_every - i % flush_every;
		assert_int_equal(fy_store_writer_append(w, f + i, k), 0);
		if (flush_every && (i + k) % flush_every == 0)
			assert_int_equal(fy_store_writer_flush(w, false), 0);
	}
	fy_store_writer_set_seq_failures(w, 42);
	assert_int_equal(fy_store_writer_set_exporters(w, &ex, 1), 0);
	assert_int_equal(fy_store_writer_close(w, err, sizeof(err)), 0);
}

struct readout {
	struct fy_flow *f;
	size_t n;
	size_t bad;		    /* -EBADMSG returns */
	char msg[FY_STORE_MSG_MAX]; /* the last of them */
};

/* Reads a whole file through a deliberately odd-sized buffer. */
static int read_file(const char *path, uint64_t mask, size_t cap_flows,
		     struct readout *ro, struct fy_store_info *info)
{
	struct fy_store_reader *r;
	struct fy_flow buf[13];
	char err[FY_STORE_MSG_MAX];
	long k;
	int rc;

	memset(ro, 0, sizeof(*ro));
	rc = fy_store_reader_open(&r, path, err, sizeof(err));
	if (rc)
		return rc;
	if (info)
		*info = *fy_store_reader_info(r);
	fy_store_reader_select(r, mask);
	ro->f = calloc(cap_flows + 1, sizeof(*ro->f));
	assert_non_null(ro->f);
	for (;;) {
		k = fy_store_reader_next(r, buf, 13);
		if (k == 0)
			break;
		if (k == -EBADMSG) {
			ro->bad++;
			snprintf(ro->msg, sizeof(ro->msg), "%s",
				 fy_store_reader_message(r));
			continue;
		}
		assert_true(k > 0);
		assert_true(ro->n + (size_t)k <= cap_flows);
		memcpy(ro->f + ro->n, buf, (size_t)k * sizeof(*buf));
		ro->n += (size_t)k;
	}
	fy_store_reader_close(r);
	return 0;
}

static void assert_flows_equal(const struct fy_flow *a, const struct fy_flow *b,
			       size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(&a[i], &b[i], sizeof(*a)) != 0)
			fail_msg("flow %zu differs", i);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long sz;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	sz = ftell(fp);
	assert_true(sz >= 0);
	rewind(fp);
	buf = malloc((size_t)sz + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
	fclose(fp);
	*len = (size_t)sz;
	return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp;

	/* A new file, not a truncated one: ext4 flushes those at close. */
	unlink(path);
	fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Block offsets of a well-formed file, by walking its headers. */
static size_t block_offsets(const uint8_t *buf, size_t len, size_t *offs,
			    size_t max)
{
	struct fy_store_blkhdr h;
	const char *why;
	size_t off = (size_t)(buf[8] << 8 | buf[9]), n = 0;

	while (off < len && n < max &&
	       fy_store_blk_parse(buf + off, len - off, &h, &why) == 0) {
		offs[n++] = off;
		off += h.len;
	}
	offs[n] = off; /* end of the last block */
	return n;
}

/* ------------------------------------------------------------------ */

static void test_crc32c(void **state)
{
	(void)state;
	/* The check value of CRC-32C (RFC 3720, and every CRC catalogue). */
	assert_int_equal(fy_store_crc32c(0, "123456789", 9), 0xe3069283u);
	/* Chaining gives the CRC of the concatenation. */
	assert_int_equal(fy_store_crc32c(fy_store_crc32c(0, "1234", 4), "56789",
					 5),
			 0xe3069283u);
	assert_int_equal(fy_store_crc32c(0, "", 0), 0);
}

static void test_col_names(void **state)
{
	unsigned c;

	(void)state;
	for (c = 0; c < FY_STORE_NCOLS; c++) {
		assert_non_null(fy_store_col_name(c));
		assert_int_equal(fy_store_col_lookup(fy_store_col_name(c)),
				 (int)c);
	}
	assert_string_equal(fy_store_col_name(FY_STORE_COL_DST_PORT),
			    "dst_port");
	assert_null(fy_store_col_name(FY_STORE_NCOLS));
	assert_int_equal(fy_store_col_lookup("nope"), -1);
}

/* Every encoding a block can hold, seen at least once in these files. */
static void check_encodings(const char *path, bool want_v6)
{
	bool seen_dict = false, seen_const = false, seen_plain = false,
	     seen_zero = false, seen_v4 = false, seen_v6 = false;
	size_t len, offs[256], nb, b;
	uint8_t *buf = slurp(path, &len);
	struct fy_store_blkhdr h;
	const char *why;
	unsigned c;

	nb = block_offsets(buf, len, offs, 255);
	assert_true(nb > 0);
	for (b = 0; b < nb; b++) {
		assert_int_equal(fy_store_blk_parse(buf + offs[b],
						    len - offs[b], &h, &why),
				 0);
		assert_true(fy_store_blk_crc_ok(buf + offs[b], &h));
		for (c = 0; c < h.ncols; c++) {
			uint8_t fl = h.col[c].flags;

			seen_dict |= (fl & FY_STORE_CF_DICT) != 0;
			seen_const |= (fl & FY_STORE_CF_CONST) != 0;
			seen_plain |=
				h.col[c].width &&
				!(fl & (FY_STORE_CF_DICT | FY_STORE_CF_CONST));
			seen_zero |= h.col[c].width == 0;
		}
		seen_v4 |= h.col[FY_STORE_COL_SRC].width == 4;
		seen_v6 |= h.col[FY_STORE_COL_SRC].width == 16;
	}
	free(buf);
	assert_true(seen_dict);
	assert_true(seen_const);
	assert_true(seen_plain);
	assert_true(seen_v4);
	assert_int_equal(seen_v6, want_v6);
	(void)seen_zero;
}

static void roundtrip(int level, bool v6)
{
	const size_t n = 2600, block = 500;
	struct fy_flow *f = make_flows(n, block, v6);
	struct fy_store_info info;
	struct readout ro;
	char path[128];

	path_of(path, sizeof(path), "rt.fy");
	write_file(path, f, n, block, level, 0);
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, n, &ro, &info), 0);
	assert_int_equal(ro.n, n);
	assert_int_equal(ro.bad, 0);
	assert_flows_equal(ro.f, f, n);
	assert_int_equal(info.n_blocks, 6); /* 5 full, 1 of 100 */
	assert_int_equal(info.flags, 0);
	assert_int_equal(info.level, level);
	check_encodings(path, v6);
	free(ro.f);
	free(f);
}

static void test_roundtrip_v4(void **state)
{
	(void)state;
	roundtrip(0, false);
}

static void test_roundtrip_mixed_v4_v6(void **state)
{
	(void)state;
	roundtrip(0, true);
}

static void test_roundtrip_hc(void **state)
{
	(void)state;
	roundtrip(9, true);
}

/* Values at the edges: extremes, last before first, one-flow blocks. */
static void test_roundtrip_edges(void **state)
{
	struct fy_flow f[5];
	struct readout ro;
	char path[128];
	size_t i;

	(void)state;
	memset(f, 0, sizeof(f));
	f[0].first_ms = UINT64_MAX;
	f[0].last_ms = 0; /* last < first: stored, not "fixed" */
	f[0].packets = UINT64_MAX;
	f[1].first_ms = 0;
	f[1].last_ms = UINT64_MAX;
	f[1].bytes = 1;
	memset(f[2].src.b, 0xff, 16);
	f[2].src_port = 0xffff;
	f[3].first_ms = f[3].last_ms = 5;
	fy_addr_set_v4(&f[3].nexthop, 0); /* ::ffff:0.0.0.0 is not :: */
	f[4] = f[3];
	path_of(path, sizeof(path), "edges.fy");
	for (uint32_t block = 1; block <= 5; block += 4) {
		write_file(path, f, 5, block, 0, 0);
		assert_int_equal(
			read_file(path, FY_STORE_COLS_ALL, 5, &ro, NULL), 0);
		assert_int_equal(ro.n, 5);
		assert_flows_equal(ro.f, f, 5);
		assert_true(fy_addr_is_v4(&ro.f[3].nexthop));
		assert_true(fy_addr_is_zero(&ro.f[1].nexthop));
		free(ro.f);
	}
	/* A block with a single repeated flow: every column constant. */
	for (i = 1; i < 5; i++)
		f[i] = f[0];
	write_file(path, f, 5, 5, 0, 0);
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, 5, &ro, NULL), 0);
	assert_flows_equal(ro.f, f, 5);
	free(ro.f);
}

/* Only the masked fields come back; all others stay zero. */
static void test_column_mask(void **state)
{
	const size_t n = 1200;
	struct fy_flow *f = make_flows(n, 400, true), want;
	const uint64_t masks[] = {
		FY_STORE_MASK(FY_STORE_COL_SRC) |
			FY_STORE_MASK(FY_STORE_COL_DST) |
			FY_STORE_MASK(FY_STORE_COL_BYTES),
		FY_STORE_MASK(FY_STORE_COL_LAST_MS),
		FY_STORE_MASK(FY_STORE_COL_FIRST_MS),
		FY_STORE_MASK(FY_STORE_COL_DST_MAC) |
			FY_STORE_MASK(FY_STORE_COL_NF_VERSION),
		0,
	};
	struct readout ro;
	char path[128];
	size_t m, i;

	(void)state;
	path_of(path, sizeof(path), "mask.fy");
	write_file(path, f, n, 400, 0, 0);
	for (m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		assert_int_equal(read_file(path, masks[m], n, &ro, NULL), 0);
		assert_int_equal(ro.n, n);
		for (i = 0; i < n; i++) {
			memset(&want, 0, sizeof(want));
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_SRC))
				want.src = f[i].src;
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_DST))
				want.dst = f[i].dst;
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_BYTES))
				want.bytes = f[i].bytes;
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_LAST_MS))
				want.last_ms = f[i].last_ms;
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_FIRST_MS))
				want.first_ms = f[i].first_ms;
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_DST_MAC))
				memcpy(want.dst_mac, f[i].dst_mac, 6);
			if (masks[m] & FY_STORE_MASK(FY_STORE_COL_NF_VERSION))
				want.nf_version = f[i].nf_version;
			if (memcmp(&ro.f[i], &want, sizeof(want)) != 0)
				fail_msg("mask %zu flow %zu differs", m, i);
		}
		free(ro.f);
	}
	free(f);
}

static void test_empty_file(void **state)
{
	struct fy_store_reader *r;
	struct fy_flow buf[4];
	char path[128], err[FY_STORE_MSG_MAX];
	const struct fy_store_info *in;

	(void)state;
	path_of(path, sizeof(path), "empty.fy");
	write_file(path, NULL, 0, 100, 0, 0);
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)), 0);
	in = fy_store_reader_info(r);
	assert_int_equal(in->flags, 0);
	assert_int_equal(in->n_blocks, 0);
	assert_int_equal(in->stats.all.flows, 0);
	assert_int_equal(in->seq_failures, 42);
	assert_string_equal(in->ident, "router-1");
	assert_int_equal(fy_store_reader_next(r, buf, 4), 0);
	assert_int_equal(fy_store_reader_next(r, buf, 0), -EINVAL);
	assert_string_equal(fy_store_reader_message(r), "");
	fy_store_reader_close(r);
}

static void test_footer_totals(void **state)
{
	const size_t n = 3000;
	struct fy_flow *f = make_flows(n, 700, false);
	struct fy_store_reader *r;
	struct fy_store_stats want = {0};
	const struct fy_store_info *in;
	char path[128], err[FY_STORE_MSG_MAX];
	unsigned p;

	(void)state;
	for (size_t i = 0; i < n; i++) /* every protocol bucket used */
		f[i].proto =
			(uint8_t)((const uint8_t[]){6, 17, 1, 58, 47}[i % 5]);
	fy_store_stats_add(&want, f, n);
	path_of(path, sizeof(path), "totals.fy");
	write_file(path, f, n, 700, 0, 0);
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)), 0);
	in = fy_store_reader_info(r);
	assert_int_equal(in->version, FY_STORE_VERSION);
	assert_int_equal(in->created_ms, 1234);
	assert_int_equal(in->block_flows, 700);
	assert_string_equal(in->ident, "router-1");
	assert_int_equal(in->stats.all.flows, n);
	assert_memory_equal(&in->stats, &want, sizeof(want));
	assert_int_equal(in->stats.proto[FY_STORE_P_TCP].flows, n / 5);
	assert_int_equal(in->stats.proto[FY_STORE_P_ICMP].flows, 2 * n / 5);
	for (p = 0; p < FY_STORE_P_N; p++)
		assert_true(in->stats.proto[p].flows > 0);
	assert_int_equal(in->seq_failures, 42);
	assert_int_equal(in->lost_flows, 0);
	assert_int_equal(in->n_exporters, 1);
	assert_int_equal(in->exporters[0].domain, 3);
	assert_int_equal(in->exporters[0].sampling_interval, 100);
	assert_int_equal(fy_addr_v4(&in->exporters[0].addr), 0xc0000201);
	assert_int_equal(in->n_blocks, 5);
	assert_int_equal(in->flags, 0);
	fy_store_reader_close(r);
	free(f);
}

/*
 * Every offset in the header, the first two blocks and the footer; in the
 * other blocks, both sides of each boundary and a few offsets inside.
 */
static size_t next_cut(size_t c, const size_t *offs, size_t nb)
{
	size_t k;

	if (c < offs[2] || c >= offs[nb])
		return c + 1;
	for (k = 2; k < nb; k++) {
		if (c + 1 >= offs[k + 1])
			continue;
		if (c + 1 == offs[k] + 1 || c + 2 >= offs[k + 1])
			return c + 1;
		/* Near the end of the block, or 1/7 further on. */
		if (c + (offs[k + 1] - offs[k]) / 7 + 1 >= offs[k + 1] - 1)
			return offs[k + 1] - 1;
		return c + (offs[k + 1] - offs[k]) / 7 + 1;
	}
	return c + 1;
}

/*
 * Cut a copy of the file at many offsets: the reader must give exactly the
 * flows of the blocks that end before the cut, and say it found no footer.
 */
static void test_torn_tail_every_offset(void **state)
{
	const size_t n = 230, block = 40;
	struct fy_flow *f = make_flows(n, block, true);
	struct fy_store_info info;
	struct readout ro;
	char path[128], cut[128], want_msg[256];
	size_t len, offs[16], nb, c, k, want_flows, ncuts = 0;
	uint8_t *buf;
	int rc;

	(void)state;
	path_of(path, sizeof(path), "torn.fy");
	path_of(cut, sizeof(cut), "torn.cut.fy");
	/* Flushes at odd points: blocks of different sizes. */
	write_file(path, f, n, block, 0, 57);
	buf = slurp(path, &len);
	nb = block_offsets(buf, len, offs, 15);
	assert_true(nb >= 6);
	for (c = 0; c < len; c = next_cut(c, offs, nb)) {
		ncuts++;
		spit(cut, buf, c);
		rc = read_file(cut, FY_STORE_COLS_ALL, n, &ro, &info);
		if (c < offs[0]) { /* inside the header */
			assert_int_equal(rc, -EBADMSG);
			continue;
		}
		assert_int_equal(rc, 0);
		/* Blocks complete before the cut, and their flows. */
		want_flows = 0;
		for (k = 0; k < nb && offs[k + 1] <= c; k++) {
			struct fy_store_blkhdr h;
			const char *why;

			assert_int_equal(fy_store_blk_parse(buf + offs[k],
							    len - offs[k], &h,
							    &why),
					 0);
			want_flows += h.n;
		}
		assert_int_equal(info.flags, FY_STORE_INFO_NO_FOOTER);
		assert_int_equal(info.n_blocks, k);
		assert_int_equal(info.data_end, offs[k]);
		assert_int_equal(info.stats.all.flows, want_flows);
		assert_int_equal(ro.bad, 0);
		assert_int_equal(ro.n, want_flows);
		assert_flows_equal(ro.f, f, want_flows);
		free(ro.f);
	}
	print_message("torn tail: %zu cuts of a %zu-byte file of %zu blocks\n",
		      ncuts, len, nb);
	/* The message, once, for a cut in the middle of block 3. */
	spit(cut, buf, (offs[3] + offs[4]) / 2);
	{
		struct fy_store_reader *r;
		char err[FY_STORE_MSG_MAX];

		assert_int_equal(
			fy_store_reader_open(&r, cut, err, sizeof(err)), 0);
		snprintf(want_msg, sizeof(want_msg),
			 "file %s: no footer, read 3 blocks up to offset %zu",
			 cut, offs[3]);
		assert_string_equal(fy_store_reader_message(r), want_msg);
		fy_store_reader_close(r);
	}
	/* The whole file still reads with its footer. */
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, n, &ro, &info), 0);
	assert_int_equal(info.flags, 0);
	assert_int_equal(ro.n, n);
	free(ro.f);
	free(buf);
	free(f);
}

/* Without the trailer, the totals recomputed by the scan match. */
static void test_scan_totals_match_footer(void **state)
{
	const size_t n = 1000;
	struct fy_flow *f = make_flows(n, 300, false);
	struct fy_store_info full, torn;
	struct readout ro;
	char path[128];
	size_t len;
	uint8_t *buf;

	(void)state;
	path_of(path, sizeof(path), "scan.fy");
	write_file(path, f, n, 300, 0, 0);
	assert_int_equal(read_file(path, 0, n, &ro, &full), 0);
	free(ro.f);
	buf = slurp(path, &len);
	spit(path, buf, len - 1); /* trailer torn by one byte */
	assert_int_equal(read_file(path, 0, n, &ro, &torn), 0);
	free(ro.f);
	assert_int_equal(torn.flags, FY_STORE_INFO_NO_FOOTER);
	assert_memory_equal(&torn.stats, &full.stats, sizeof(full.stats));
	assert_int_equal(torn.n_blocks, full.n_blocks);
	/* A footer whose CRC fails is not trusted either. */
	buf[full.data_end + 20] ^= 0x40;
	spit(path, buf, len);
	assert_int_equal(read_file(path, 0, n, &ro, &torn), 0);
	free(ro.f);
	assert_int_equal(torn.flags,
			 FY_STORE_INFO_NO_FOOTER | FY_STORE_INFO_FOOTER_BAD);
	assert_memory_equal(&torn.stats, &full.stats, sizeof(full.stats));
	free(buf);
	free(f);
}

/* Flip bits in one block: reported by file and number, the rest read. */
static void flip_case(bool keep_footer)
{
	const size_t n = 1000, block = 200;
	struct fy_flow *f = make_flows(n, block, true);
	struct fy_store_info info;
	struct readout ro;
	char path[128], want[256];
	size_t len, offs[16], nb, pos;
	uint8_t *buf;

	path_of(path, sizeof(path), "flip.fy");
	write_file(path, f, n, block, 0, 0);
	buf = slurp(path, &len);
	nb = block_offsets(buf, len, offs, 15);
	assert_int_equal(nb, 5);
	/* Header bytes and payload bytes of block 2, one at a time. */
	for (pos = offs[2]; pos < offs[3]; pos += 97) {
		buf[pos] ^= 0x10;
		spit(path, buf, keep_footer ? len : offs[5]);
		assert_int_equal(
			read_file(path, FY_STORE_COLS_ALL, n, &ro, &info), 0);
		assert_int_equal(ro.bad, 1);
		assert_int_equal(ro.n, n - block);
		assert_flows_equal(ro.f, f, 2 * block);
		assert_flows_equal(ro.f + 2 * block, f + 3 * block, 2 * block);
		snprintf(want, sizeof(want),
			 "file %s: block 2 at offset %zu: ", path, offs[2]);
		assert_memory_equal(ro.msg, want, strlen(want));
		if (!keep_footer) {
			assert_int_equal(info.bad_blocks, 1);
			assert_true(info.flags & FY_STORE_INFO_NO_FOOTER);
		}
		free(ro.f);
		buf[pos] ^= 0x10;
	}
	free(buf);
	free(f);
}

static void test_bit_flip_with_footer(void **state)
{
	(void)state;
	flip_case(true);
}

static void test_bit_flip_without_footer(void **state)
{
	(void)state;
	flip_case(false);
}

/* Any byte of a small file changed: never a crash, never extra flows. */
static void test_flip_every_byte(void **state)
{
	const size_t n = 120;
	struct fy_flow *f = make_flows(n, 30, true);
	struct readout ro;
	char path[128];
	size_t len, pos;
	uint8_t *buf;
	int rc;

	(void)state;
	path_of(path, sizeof(path), "every.fy");
	write_file(path, f, n, 30, 0, 0);
	buf = slurp(path, &len);
	/* Every byte of headers, descriptors and footer; payload sampled. */
	for (pos = 0; pos < len;
	     pos += (pos >= 400 && pos + 2000 < len) ? 11 : 1) {
		buf[pos] ^= 0xa5;
		spit(path, buf, len);
		rc = read_file(path, FY_STORE_COLS_ALL, n, &ro, NULL);
		assert_true(rc == 0 || rc == -EBADMSG || rc == -ENOTSUP);
		if (rc == 0) {
			assert_true(ro.n <= n);
			/* What is returned is what was written. */
			if (ro.bad == 0 && ro.n == n)
				assert_flows_equal(ro.f, f, n);
			free(ro.f);
		}
		buf[pos] ^= 0xa5;
	}
	free(buf);
	free(f);
}

/* A block with a valid CRC but lying numbers: rejected, no overrun. */
static void test_hostile_block_valid_crc(void **state)
{
	const size_t n = 400;
	struct fy_flow *f = make_flows(n, 200, false);
	struct fy_store_blkhdr h;
	struct readout ro;
	const char *why;
	char path[128];
	size_t len, offs[8];
	uint8_t *buf, *b;
	unsigned c, dict_col = FY_STORE_NCOLS;
	uint32_t crc;

	(void)state;
	path_of(path, sizeof(path), "hostile.fy");
	write_file(path, f, n, 200, 0, 0);
	buf = slurp(path, &len);
	assert_int_equal(block_offsets(buf, len, offs, 7), 2);
	b = buf + offs[1]; /* block 1 holds the low-cardinality flows */
	assert_int_equal(fy_store_blk_parse(b, len - offs[1], &h, &why), 0);
	for (c = 0; c < FY_STORE_NCOLS; c++)
		if (h.col[c].flags & FY_STORE_CF_DICT)
			dict_col = c;
	assert_true(dict_col < FY_STORE_NCOLS);
	/* Fewer dictionary entries than the indices use. */
	b[h.col[dict_col].off + 3] = 2;
	b[h.col[dict_col].off + 2] = 0;
	crc = fy_store_crc32c(0, b, h.hdr_len - 4);
	crc = fy_store_crc32c(crc, b + h.hdr_len, h.len - h.hdr_len);
	b[h.hdr_len - 4] = (uint8_t)(crc >> 24);
	b[h.hdr_len - 3] = (uint8_t)(crc >> 16);
	b[h.hdr_len - 2] = (uint8_t)(crc >> 8);
	b[h.hdr_len - 1] = (uint8_t)crc;
	spit(path, buf, len);
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, n, &ro, NULL), 0);
	assert_int_equal(ro.bad, 1);
	assert_int_equal(ro.n, 200);
	assert_flows_equal(ro.f, f, 200);
	free(ro.f);
	free(buf);
	free(f);
}

/*
 * A hand-made block of 4 flows whose only column is proto, stored as a
 * dictionary of 3 entries with 2-bit indices `packed`, and a right CRC.
 */
static size_t craft_block(uint8_t *out, uint8_t packed)
{
	const size_t hl = FY_STORE_BLK_HDR_LEN(FY_STORE_NCOLS);
	const uint8_t payload[8] = {0, 0, 0, 3, 6, 17, 1, packed};
	size_t len = hl + sizeof(payload);
	uint8_t *d;
	uint32_t crc;

	memset(out, 0, hl);
	memcpy(out, "FYBK", 4);
	out[6] = (uint8_t)(len >> 8);
	out[7] = (uint8_t)len;
	out[11] = 4; /* flows; times all zero */
	out[28] = FY_STORE_NCOLS;
	d = out + FY_STORE_BLK_FIXED + FY_STORE_BLK_DESC * FY_STORE_COL_PROTO;
	d[0] = 1; /* width */
	d[1] = FY_STORE_CF_DICT;
	d[5] = sizeof(payload);
	memcpy(out + hl, payload, sizeof(payload));
	crc = fy_store_crc32c(0, out, hl - 4);
	crc = fy_store_crc32c(crc, out + hl, sizeof(payload));
	out[hl - 4] = (uint8_t)(crc >> 24);
	out[hl - 3] = (uint8_t)(crc >> 16);
	out[hl - 2] = (uint8_t)(crc >> 8);
	out[hl - 1] = (uint8_t)crc;
	return len;
}

/* A dictionary index past the dictionary, under a valid CRC. */
static void test_hostile_dict_index(void **state)
{
	uint8_t file[4096], *hdr;
	struct fy_store_info info;
	struct readout ro;
	char path[128];
	size_t len, hl;

	(void)state;
	path_of(path, sizeof(path), "dict.fy");
	write_file(path, NULL, 0, 10, 0, 0);
	hdr = slurp(path, &len);
	hl = (size_t)(hdr[8] << 8 | hdr[9]);
	memcpy(file, hdr, hl);
	free(hdr);
	len = hl;
	len += craft_block(file + len, 0xa4); /* indices 0 1 2 2: fine */
	len += craft_block(file + len, 0xe4); /* indices 0 1 2 3: 3 >= 3 */
	len += craft_block(file + len, 0xa4);
	spit(path, file, len);
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, 16, &ro, &info), 0);
	assert_int_equal(info.flags, FY_STORE_INFO_NO_FOOTER);
	assert_int_equal(info.bad_blocks, 1);
	assert_int_equal(info.stats.all.flows, 8);
	assert_int_equal(ro.bad, 1);
	assert_int_equal(ro.n, 8);
	assert_int_equal(ro.f[0].proto, 6);
	assert_int_equal(ro.f[1].proto, 17);
	assert_int_equal(ro.f[3].proto, 1);
	assert_int_equal(ro.f[7].proto, 1);
	free(ro.f);
}

static void test_newer_version_rejected(void **state)
{
	struct fy_store_reader *r = (void *)1;
	char path[128], err[FY_STORE_MSG_MAX], want[256];
	struct fy_flow f;
	size_t len;
	uint8_t *buf;

	(void)state;
	make_flow(&f, 0, false, false);
	path_of(path, sizeof(path), "v2.fy");
	write_file(path, &f, 1, 10, 0, 0);
	buf = slurp(path, &len);
	assert_int_equal(buf[6] << 8 | buf[7], 1);
	buf[7] = 2;
	spit(path, buf, len);
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)),
			 -ENOTSUP);
	assert_null(r);
	snprintf(want, sizeof(want),
		 "file %s: format version 2 is newer than this build's 1",
		 path);
	assert_string_equal(err, want);
	free(buf);
}

static void test_garbage_files(void **state)
{
	struct fy_store_reader *r;
	char path[128], err[FY_STORE_MSG_MAX];
	uint8_t junk[5000];
	size_t i;

	(void)state;
	path_of(path, sizeof(path), "garbage.fy");
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rnd();
	spit(path, junk, sizeof(junk));
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "not a flowyard flow file"));
	spit(path, junk, 0);
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)),
			 -EBADMSG);
	/* Our magic, then garbage: the header check catches it. */
	memcpy(junk, "FYFLOW\0\1\0\x40", 10);
	spit(path, junk, sizeof(junk));
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "header"));
	path_of(path, sizeof(path), "does-not-exist.fy");
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(fy_store_reader_open(&r, dir, err, sizeof(err)),
			 -EINVAL);
}

static void test_write_to_full_device(void **state)
{
	struct fy_store_writer *w = (void *)1;
	char err[FY_STORE_MSG_MAX];

	(void)state;
	errno = 0;
	assert_int_equal(fy_store_writer_open(&w, "/dev/full", NULL, err,
					      sizeof(err)),
			 -ENOSPC);
	assert_int_equal(errno, ENOSPC);
	assert_null(w);
	assert_non_null(strstr(err, "/dev/full"));
	assert_int_equal(fy_store_writer_close(NULL, err, sizeof(err)), 0);
}

/*
 * A disk that fills up mid-file (RLIMIT_FSIZE makes writes fail with
 * EFBIG): the error comes back with errno, the failed block is cut off,
 * and the file reads back as the complete blocks before it.
 */
static void test_write_error_mid_file(void **state)
{
	const size_t n = 2000, block = 100;
	struct fy_flow *f = make_flows(n, block, false);
	struct fy_store_opts o = {.block_flows = block, .no_fsync = true};
	struct fy_store_writer *w;
	struct fy_store_info info;
	struct rlimit old, lim;
	struct readout ro;
	char path[128], err[FY_STORE_MSG_MAX];
	size_t i, written = 0;
	int rc = 0, close_rc;
	void (*old_handler)(int);

	(void)state;
	path_of(path, sizeof(path), "full.fy");
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(fy_store_writer_open(&w, path, &o, err, sizeof(err)),
			 0);
	lim = old;
	lim.rlim_cur = 40000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (i = 0; i < n && rc == 0; i += block) {
		errno = 0;
		rc = fy_store_writer_append(w, f + i, block);
		if (rc == 0)
			written += block;
	}
	assert_int_equal(rc, -EFBIG);
	assert_int_equal(errno, EFBIG);
	assert_non_null(strstr(fy_store_writer_error(w), path));
	assert_int_equal(fy_store_writer_lost_flows(w), block);
	assert_true(fy_store_writer_offset(w) <= 40000);
	close_rc = fy_store_writer_close(w, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_true(written > 0);
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, n, &ro, &info), 0);
	assert_int_equal(ro.bad, 0);
	assert_int_equal(ro.n, written);
	assert_flows_equal(ro.f, f, written);
	if (close_rc == 0) /* the footer fitted: it counts the lost block */
		assert_int_equal(info.lost_flows, block);
	else
		assert_true(info.flags & FY_STORE_INFO_NO_FOOTER);
	free(ro.f);
	free(f);
}

/* Blocks compressed elsewhere, then handed to the writer. */
static void test_put_block(void **state)
{
	const size_t n = 900;
	struct fy_flow *f = make_flows(n, 300, true);
	struct fy_store_encoder *e;
	struct fy_store_writer *w;
	struct fy_store_stats st;
	struct fy_store_info info;
	struct readout ro;
	struct fy_store_opts o = {.block_flows = 300, .no_fsync = true};
	char path[128], err[FY_STORE_MSG_MAX];
	size_t cap = fy_store_block_bound(300), len;
	uint8_t *blk = malloc(cap);

	(void)state;
	assert_non_null(blk);
	assert_int_equal(fy_store_encoder_new(&e, 300, 1), 0);
	path_of(path, sizeof(path), "put.fy");
	assert_int_equal(fy_store_writer_open(&w, path, &o, err, sizeof(err)),
			 0);
	/* 10 buffered flows go out first: arrival order is kept. */
	assert_int_equal(fy_store_writer_append(w, f, 10), 0);
	assert_int_equal(
		fy_store_block_encode(e, f + 10, 300, blk, cap, &len, &st), 0);
	assert_int_equal(st.all.flows, 300);
	assert_int_equal(fy_store_writer_put_block(w, blk, len, &st), 0);
	assert_int_equal(fy_store_writer_put_block(w, blk, len - 1, &st),
			 -EINVAL);
	assert_int_equal(fy_store_block_encode(e, f + 310, 301, blk, cap, &len,
					       &st),
			 -EINVAL);
	assert_int_equal(fy_store_block_encode(e, f + 310, 300, blk, 100, &len,
					       &st),
			 -ENOBUFS);
	assert_int_equal(fy_store_writer_append(w, f + 310, n - 310), 0);
	assert_int_equal(fy_store_writer_flush(w, true), 0);
	assert_int_equal(fy_store_writer_close(w, err, sizeof(err)), 0);
	assert_int_equal(read_file(path, FY_STORE_COLS_ALL, n, &ro, &info), 0);
	assert_int_equal(ro.n, n);
	assert_flows_equal(ro.f, f, n);
	assert_int_equal(info.stats.all.flows, n);
	free(ro.f);
	fy_store_encoder_free(e);
	free(blk);
	free(f);
}

/* Blocks outside the window are skipped; overlapping ones come whole. */
static void test_time_window(void **state)
{
	const size_t n = 400;
	struct fy_flow *f = make_flows(n, 100, false);
	struct fy_store_reader *r;
	struct fy_flow buf[64];
	char path[128], err[FY_STORE_MSG_MAX];
	size_t i, got = 0;
	long k;

	(void)state;
	for (i = 0; i < n; i++) { /* block b covers [b*10000, b*10000+999] */
		f[i].first_ms = (i / 100) * 10000 + i % 100;
		f[i].last_ms = f[i].first_ms + 900;
	}
	path_of(path, sizeof(path), "window.fy");
	write_file(path, f, n, 100, 0, 0);
	assert_int_equal(fy_store_reader_open(&r, path, err, sizeof(err)), 0);
	fy_store_reader_set_window(r, 10500, 20000);
	while ((k = fy_store_reader_next(r, buf, 64)) > 0) {
		for (i = 0; i < (size_t)k; i++)
			assert_memory_equal(&buf[i], &f[100 + got + i],
					    sizeof(buf[i]));
		got += (size_t)k;
	}
	assert_int_equal(k, 0);
	assert_int_equal(got, 200); /* blocks 1 and 2 */
	fy_store_reader_set_window(r, 0, UINT64_MAX);
	fy_store_reader_rewind(r);
	for (got = 0; (k = fy_store_reader_next(r, buf, 64)) > 0;)
		got += (size_t)k;
	assert_int_equal(got, n);
	fy_store_reader_close(r);
	free(f);
}

static void test_bad_arguments(void **state)
{
	struct fy_store_writer *w;
	struct fy_store_encoder *e;
	struct fy_store_opts o = {.block_flows = FY_STORE_MAX_BLOCK_FLOWS + 1};
	struct fy_store_exporter ex[FY_STORE_EXPORTERS_MAX + 1] = {0};
	char path[128], err[FY_STORE_MSG_MAX];

	(void)state;
	path_of(path, sizeof(path), "args.fy");
	assert_int_equal(fy_store_writer_open(&w, path, &o, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(fy_store_encoder_new(&e, 0, 0), -EINVAL);
	assert_int_equal(fy_store_encoder_new(&e, 10, -1), -EINVAL);
	o.block_flows = 0;
	assert_int_equal(fy_store_writer_open(&w, path, &o, err, sizeof(err)),
			 0);
	assert_int_equal(fy_store_writer_set_exporters(w, ex, 17), -E2BIG);
	assert_int_equal(fy_store_writer_append(w, NULL, 1), -EINVAL);
	assert_int_equal(fy_store_writer_close(w, err, sizeof(err)), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fy_store_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_col_names),
		cmocka_unit_test(test_roundtrip_v4),
		cmocka_unit_test(test_roundtrip_mixed_v4_v6),
		cmocka_unit_test(test_roundtrip_hc),
		cmocka_unit_test(test_roundtrip_edges),
		cmocka_unit_test(test_column_mask),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_footer_totals),
		cmocka_unit_test(test_torn_tail_every_offset),
		cmocka_unit_test(test_scan_totals_match_footer),
		cmocka_unit_test(test_bit_flip_with_footer),
		cmocka_unit_test(test_bit_flip_without_footer),
		cmocka_unit_test(test_flip_every_byte),
		cmocka_unit_test(test_hostile_block_valid_crc),
		cmocka_unit_test(test_hostile_dict_index),
		cmocka_unit_test(test_newer_version_rejected),
		cmocka_unit_test(test_garbage_files),
		cmocka_unit_test(test_write_to_full_device),
		cmocka_unit_test(test_write_error_mid_file),
		cmocka_unit_test(test_put_block),
		cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
