/*
 * Unit tests of the reader's column-wise path (fy_store_reader_next_block
 * and fy_store_reader_fill, what nfq's scan uses) against the row path,
 * block ranges (fy_store_reader_set_blocks, nfq's split of a big file
 * between threads), the dictionary and typed-column access that nfq's
 * per-entry counting uses (fy_store_reader_dict, _dict_fill, _column),
 * and the hardware CRC32C against the table loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "crc32c.h"
#include "flow.h"
#include "store.h"
#include "store_impl.h"

#define BLOCK 500
#define NFLOWS 2300 /* 5 blocks, the last one short */

static char dir[64];
static char path[128];
static struct fy_flow *flows;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * Blocks alternate between few distinct values (dictionary and constant
 * columns) and random ones (plain columns); odd blocks mix in IPv6.
 */
static void make_flow(struct fy_flow *f, size_t i)
{
	bool low = (i / BLOCK) % 2 == 0, six = !low && (rnd() & 1);
	uint64_t k = rnd() % 4;

	memset(f, 0, sizeof(*f));
	f->first_ms = 1700000000000ull + i * 7 + rnd() % 100;
	f->last_ms = f->first_ms + (low ? k : rnd() % 100000);
	f->packets = low ? k + 1 : rnd() >> (rnd() % 64);
	f->bytes = low ? 100 * k : rnd();
	f->out_bytes = low ? 0 : rnd() % 1000;
	if (six) {
		uint64_t a = rnd(), b = rnd();

		memcpy(f->src.b, &a, 8);
		memcpy(f->src.b + 8, &b, 8);
		f->src.b[0] = 0x20;
		f->dst = f->src;
		f->dst.b[15] ^= 1;
		f->family = FY_AF_INET6;
	} else {
		fy_addr_set_v4(&f->src,
			       0x0a000000u + (uint32_t)(low ? k : rnd()));
		fy_addr_set_v4(&f->dst, 0xc6336400u + (uint32_t)(rnd() % 256));
		f->family = FY_AF_INET;
	}
	fy_addr_set_v4(&f->exporter, 0x7f000001);
	f->src_port = (uint16_t)rnd();
	f->dst_port = low ? 53 : (uint16_t)rnd();
	f->proto = (uint8_t)(low ? 17u : rnd() % 3 ? 6u : 1u);
	f->icmp_type = f->proto == 1 ? 8 : 0;
	f->tcp_flags = (uint8_t)rnd();
	f->tos = (uint8_t)(low ? 0 : rnd());
	f->input_if = (uint32_t)(low ? 3 : rnd());
	f->src_as = (uint32_t)rnd();
	f->vlan = (uint16_t)(rnd() & 0xfff);
	for (int b = 0; b < 6; b++)
		f->src_mac[b] = (uint8_t)(low ? (uint64_t)b : rnd());
}

static int setup(void **state)
{
	struct fy_store_opts o = {.block_flows = BLOCK, .no_fsync = true};
	struct fy_store_writer *w;
	char err[FY_STORE_MSG_MAX];
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fy_cols_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/flows", dir);
	if ((flows = calloc(NFLOWS, sizeof(*flows))) == NULL)
		return -1;
	for (i = 0; i < NFLOWS; i++)
		make_flow(&flows[i], i);
	if (fy_store_writer_open(&w, path, &o, err, sizeof(err)) != 0 ||
	    fy_store_writer_append(w, flows, NFLOWS) != 0)
		return -1;
	return fy_store_writer_close(w, err, sizeof(err)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	free(flows);
	return 0;
}

/* Whole flows compared: what a mask leaves out must match too (zero). */
static void assert_cols_equal(const struct fy_flow *a, const struct fy_flow *b,
			      uint64_t mask, size_t at)
{
	if (memcmp(a, b, sizeof(*a)) != 0) {
		print_message("flow %zu differs (mask %llx)\n", at,
			      (unsigned long long)mask);
		fail();
	}
}

/* Every flow by the row path with `mask`: the reference. */
static struct fy_flow *read_rows(uint64_t mask)
{
	struct fy_flow *v = calloc(NFLOWS, sizeof(*v));
	struct fy_store_reader *r;
	size_t got = 0;
	long n;

	assert_non_null(v);
	assert_int_equal(fy_store_reader_open(&r, path, NULL, 0), 0);
	fy_store_reader_select(r, mask);
	while ((n = fy_store_reader_next(r, v + got, 333)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(got, NFLOWS);
	fy_store_reader_close(r);
	return v;
}

static void test_rows_roundtrip(void **state)
{
	struct fy_flow *v = read_rows(FY_STORE_COLS_ALL);

	(void)state;
	for (size_t i = 0; i < NFLOWS; i++)
		assert_cols_equal(&v[i], &flows[i], FY_STORE_COLS_ALL, i);
	free(v);
}

/*
 * Column-wise: the columns of `pre` for every flow, the rest of `mask`
 * for every third flow only (a filter that passed those); the flows
 * filled whole equal the row path's, the others hold only `pre`.
 */
static void check_fill(uint64_t mask, uint64_t pre)
{
	struct fy_flow *ref = read_rows(mask), *pref = read_rows(pre & mask);
	struct fy_flow *buf = calloc(BLOCK, sizeof(*buf));
	struct fy_store_reader *r;
	uint32_t sel[BLOCK], ns, i;
	size_t base = 0;
	long n;

	assert_non_null(buf);
	assert_int_equal(fy_store_reader_open(&r, path, NULL, 0), 0);
	fy_store_reader_select(r, mask);
	while ((n = fy_store_reader_next_block(r)) > 0) {
		/* two batches per block: `from` must be honoured */
		for (uint32_t from = 0; from < (uint32_t)n; from += 200) {
			uint32_t cnt = (uint32_t)n - from < 200
					       ? (uint32_t)n - from
					       : 200;

			memset(buf, 0x5a, sizeof(*buf) * cnt);
			/* the row path zeroes what is not asked for */
			for (i = 0; i < cnt; i++)
				memset(&buf[i], 0, sizeof(buf[i]));
			fy_store_reader_fill(r, pre & mask, from, NULL, cnt,
					     buf);
			for (ns = 0, i = 0; i < cnt; i++)
				if ((base + from + i) % 3 == 0)
					sel[ns++] = i;
			fy_store_reader_fill(r, mask & ~pre, from, sel, ns,
					     buf);
			for (i = 0; i < cnt; i++) {
				size_t at = base + from + i;

				if (at % 3 == 0)
					assert_cols_equal(&buf[i], &ref[at],
							  mask, at);
				else
					assert_cols_equal(&buf[i], &pref[at],
							  pre & mask, at);
			}
		}
		base += (size_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(base, NFLOWS);
	fy_store_reader_close(r);
	free(buf);
	free(ref);
	free(pref);
}

#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)

static void test_fill_all(void **state)
{
	(void)state;
	check_fill(FY_STORE_COLS_ALL, COL(SRC) | COL(DST_PORT) | COL(PROTO));
}

static void test_fill_some(void **state)
{
	(void)state;
	/* last_ms without first_ms: decoded against it, not written */
	check_fill(COL(LAST_MS) | COL(BYTES) | COL(SRC) | COL(DST) |
			   COL(SRC_MAC) | COL(TOS) | COL(INPUT_IF),
		   COL(DST) | COL(TOS));
	check_fill(COL(FIRST_MS) | COL(PACKETS) | COL(EXPORTER) | COL(VLAN), 0);
}

/* A column asked for in fill but not selected comes out zero. */
static void test_fill_unselected(void **state)
{
	struct fy_store_reader *r;
	struct fy_flow f;

	(void)state;
	assert_int_equal(fy_store_reader_open(&r, path, NULL, 0), 0);
	fy_store_reader_select(r, COL(BYTES));
	assert_int_equal(fy_store_reader_next_block(r), BLOCK);
	memset(&f, 0x77, sizeof(f));
	fy_store_reader_fill(r, COL(BYTES) | COL(SRC), 1, NULL, 1, &f);
	assert_int_equal(f.bytes, flows[1].bytes);
	for (size_t i = 0; i < sizeof(f.src.b); i++)
		assert_int_equal(f.src.b[i], 0);
	assert_int_equal(f.packets, 0x7777777777777777ull); /* untouched */
	fy_store_reader_close(r);
}

/* Ranges of blocks read by separate readers add up to the whole file. */
static void test_block_ranges(void **state)
{
	size_t cuts[][2] = {{0, 2}, {2, 3}, {3, SIZE_MAX}}, got = 0, k;
	struct fy_flow buf[BLOCK];
	long n;

	(void)state;
	for (k = 0; k < 3; k++) {
		struct fy_store_reader *r;

		assert_int_equal(fy_store_reader_open(&r, path, NULL, 0), 0);
		assert_int_equal(fy_store_reader_info(r)->n_blocks, 5);
		fy_store_reader_set_blocks(r, cuts[k][0], cuts[k][1]);
		while ((n = fy_store_reader_next(r, buf, BLOCK)) > 0) {
			for (long i = 0; i < n; i++)
				assert_cols_equal(&buf[i], &flows[got + i],
						  FY_STORE_COLS_ALL, got + i);
			got += (size_t)n;
		}
		assert_int_equal(n, 0);
		/* rewind goes back to the start of the range */
		fy_store_reader_rewind(r);
		n = fy_store_reader_next(r, buf, 1);
		assert_int_equal(n, 1);
		assert_int_equal(buf[0].first_ms,
				 flows[cuts[k][0] * BLOCK].first_ms);
		fy_store_reader_close(r);
	}
	assert_int_equal(got, NFLOWS);
}

/* An empty or reversed range reads nothing. */
static void test_block_range_empty(void **state)
{
	struct fy_store_reader *r;
	struct fy_flow f;

	(void)state;
	assert_int_equal(fy_store_reader_open(&r, path, NULL, 0), 0);
	fy_store_reader_set_blocks(r, 4, 2);
	assert_int_equal(fy_store_reader_next(r, &f, 1), 0);
	fy_store_reader_set_blocks(r, 9, 12);
	assert_int_equal(fy_store_reader_next_block(r), 0);
	fy_store_reader_close(r);
}

/*
 * fy_store_reader_dict and _dict_fill give every flow's value through its
 * entry, for every column and block where they offer a dictionary; the
 * few-value blocks offer one for the source address, the random ones not
 * (they are read flow by flow); fy_store_reader_column gives the integer
 * columns' values.
 */
static void test_dict_access(void **state)
{
	size_t dict_blocks[FY_STORE_NCOLS] = {0}, blocks = 0, base = 0;
	struct fy_flow *ref[FY_STORE_NCOLS], f;
	struct fy_store_reader *r;
	unsigned c;
	long n;

	(void)state;
	for (c = 0; c < FY_STORE_NCOLS; c++)
		ref[c] = read_rows(FY_STORE_MASK(c));
	assert_int_equal(fy_store_reader_open(&r, path, NULL, 0), 0);
	/* first_ms/last_ms and an unselected column: no dictionary */
	fy_store_reader_select(r, FY_STORE_COLS_ALL & ~COL(DST));
	while ((n = fy_store_reader_next_block(r)) > 0) {
		bool low = blocks % 2 == 0;

		for (c = 0; c < FY_STORE_NCOLS; c++) {
			const struct fy_store_coldef *def = &fy_store_cols[c];
			const uint16_t *idx;
			const uint8_t *col;
			uint32_t ne = fy_store_reader_dict(r, c, &idx);
			size_t stride;

			if (c == FY_STORE_COL_FIRST_MS ||
			    c == FY_STORE_COL_LAST_MS || c == FY_STORE_COL_DST)
				assert_int_equal(ne, 0);
			if (c == FY_STORE_COL_SRC)
				assert_true(low ? ne >= 2 : ne == 0);
			if (ne == 0) {
				assert_null(idx);
			} else {
				dict_blocks[c]++;
				for (long i = 0; i < n; i++) {
					assert_true(idx[i] < ne);
					memset(&f, 0, sizeof(f));
					fy_store_reader_dict_fill(r, c, &idx[i],
								  1, &f);
					assert_cols_equal(&f, &ref[c][base + i],
							  FY_STORE_MASK(c),
							  base + i);
				}
			}
			col = fy_store_reader_column(r, c, &stride);
			if (def->kind == FY_STORE_K_ADDR ||
			    def->kind == FY_STORE_K_MAC ||
			    c == FY_STORE_COL_DST) {
				assert_null(col);
				continue;
			}
			for (long i = 0; i < n; i++) {
				uint8_t want[8] = {0};

				memcpy(want,
				       (const uint8_t *)&ref[c][base + i] +
					       def->off,
				       def->size);
				if (col == NULL)
					assert_memory_equal(want,
							    (uint8_t[8]){0},
							    def->size);
				else
					assert_memory_equal(
						want, col + (size_t)i * stride,
						def->size);
			}
		}
		base += (size_t)n;
		blocks++;
	}
	assert_int_equal(n, 0);
	assert_int_equal(base, NFLOWS);
	/* dictionaries and one-value columns were there to be read */
	assert_true(dict_blocks[FY_STORE_COL_SRC] >= 2);
	assert_true(dict_blocks[FY_STORE_COL_PROTO] >= 2);
	assert_true(dict_blocks[FY_STORE_COL_EXPORTER] == blocks);
	fy_store_reader_close(r);
	for (c = 0; c < FY_STORE_NCOLS; c++)
		free(ref[c]);
}

static void test_crc32c_hw_sw(void **state)
{
	uint8_t buf[1100];
	size_t off, len;

	(void)state;
	/* the standard check value */
	assert_int_equal(fy_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(fy_crc32c_sw(0, "123456789", 9), 0xe3069283u);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	/* every alignment, lengths around the 8-byte steps, and chaining */
	for (off = 0; off < 9; off++) {
		for (len = 0; len + off <= sizeof(buf);
		     len += len < 40 ? 1 : 97) {
			uint32_t a = fy_crc32c(0, buf + off, len);

			assert_int_equal(a, fy_crc32c_sw(0, buf + off, len));
			assert_int_equal(
				fy_crc32c(fy_crc32c(0, buf + off, len / 3),
					  buf + off + len / 3, len - len / 3),
				a);
		}
	}
	print_message("crc32c: %s\n",
		      fy_crc32c_hw() ? "crc32 instruction" : "table loop");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_roundtrip),
		cmocka_unit_test(test_fill_all),
		cmocka_unit_test(test_fill_some),
		cmocka_unit_test(test_fill_unselected),
		cmocka_unit_test(test_block_ranges),
		cmocka_unit_test(test_block_range_empty),
		cmocka_unit_test(test_dict_access),
		cmocka_unit_test(test_crc32c_hw_sw),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
