/*
 * libFuzzer target: the flow file reader (store.h) on a hostile file.
 *
 * Input: [1 byte mode][file bytes]. The file bytes are written to a
 * memfd and opened through its /proc/self/fd path; the reader reads the
 * header, the footer or, failing that, scans the blocks; then every flow
 * is read in three passes (all columns; a column subset and a time window
 * taken from the footer's totals; a mask switched between calls, which
 * takes effect at the next block).
 *
 * Every structure of the format carries a CRC-32C, which a mutation almost
 * always breaks: the reader would stop at the checksum and never reach the
 * block decoder. Mode bits 0..2 therefore recompute the checksums of the
 * header, of every block header found and of the footer before the file is
 * written, so that lying lengths, widths, dictionaries and LZ4 streams get
 * past the CRC as they would from a hostile writer. Mode bits 3..4 pick the
 * number of flows asked for per call.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store.h"
#include "store_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_FIX_HDR 0x01
#define MODE_FIX_BLK 0x02
#define MODE_FIX_FOOT 0x04
#define MODE_CAP_SHIFT 3

#define MAX_FILE 65536
#define MAX_FLOWS 300

static const size_t caps[4] = {1, 7, 64, MAX_FLOWS};

static uint8_t file[MAX_FILE];
static struct fy_flow flows[MAX_FLOWS];
static uint64_t sum;
static int mfd = -1;
static char path[64];

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void fix_header(uint8_t *f, size_t n)
{
	size_t hlen;

	if (n < FY_STORE_FILE_PREFIX)
		return;
	hlen = (size_t)f[8] << 8 | f[9];
	if (hlen < FY_STORE_FILE_HDR_MIN || hlen > n)
		return;
	put_be32(f + hlen - 4, fy_store_crc32c(0, f, hlen - 4));
}

/* The block at f[off], if its header fits: CRC over header and payload. */
static void fix_block(uint8_t *f, size_t n, size_t off)
{
	const uint8_t *b = f + off;
	size_t len, hlen;
	uint32_t crc;

	if (n - off < FY_STORE_BLK_FIXED)
		return;
	len = get_be32(b + 4);
	hlen = FY_STORE_BLK_HDR_LEN((size_t)b[28]);
	if (len < hlen || len > n - off)
		return;
	crc = fy_store_crc32c(0, b, hlen - 4);
	crc = fy_store_crc32c(crc, b + hlen, len - hlen);
	put_be32(f + off + hlen - 4, crc);
}

/* Backwards, so that a block holding another one is summed last. */
static void fix_blocks(uint8_t *f, size_t n)
{
	size_t i;

	for (i = n; i-- > 0;)
		if (n - i >= 4 && get_be32(f + i) == FY_STORE_BLK_MAGIC)
			fix_block(f, n, i);
}

static void fix_footer(uint8_t *f, size_t n)
{
	const uint8_t *t;
	uint64_t off, flen;

	if (n < FY_STORE_TRAILER_LEN)
		return;
	t = f + n - FY_STORE_TRAILER_LEN;
	if (memcmp(t + 16, FY_STORE_TRAILER_MAGIC, 8) != 0)
		return;
	off = get_be64(t);
	flen = get_be32(t + 8);
	if (off > n - FY_STORE_TRAILER_LEN ||
	    flen != n - FY_STORE_TRAILER_LEN - off)
		return;
	put_be32(f + n - 12, fy_store_crc32c(0, f + off, (size_t)flen));
}

static int write_file(const uint8_t *d, size_t n)
{
	size_t done = 0;
	ssize_t k;

	if (mfd < 0) {
		mfd = memfd_create("fuzz_store_read", MFD_CLOEXEC);
		if (mfd < 0)
			return -1;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	}
	if (ftruncate(mfd, 0) != 0)
		return -1;
	while (done < n) {
		k = pwrite(mfd, d + done, n - done, (off_t)done);
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* Touches every flow returned so that ASan sees a stale or short one. */
static void touch(const struct fy_flow *f, long n)
{
	long i;

	for (i = 0; i < n; i++)
		sum += f[i].first_ms + f[i].last_ms + f[i].bytes +
		       f[i].src.b[15] + f[i].dst_mac[5] + f[i].nf_version;
}

/*
 * Reads to the end. A damaged block (-EBADMSG) is skipped by the reader:
 * go on. Any other error ends the pass. With more than one mask, the
 * column mask changes before every call.
 */
static void drain(struct fy_store_reader *r, size_t cap, const uint64_t *masks,
		  size_t n_masks)
{
	unsigned calls = 0;
	long got;

	for (;;) {
		if (n_masks > 1)
			fy_store_reader_select(r, masks[calls % n_masks]);
		calls++;
		got = fy_store_reader_next(r, flows, cap);
		if (got == -EBADMSG) {
			sum += strlen(fy_store_reader_message(r));
			continue;
		}
		if (got <= 0)
			break;
		if ((size_t)got > cap)
			__builtin_trap();
		touch(flows, got);
	}
}

static void read_all(struct fy_store_reader *r, size_t cap)
{
	const struct fy_store_info *in = fy_store_reader_info(r);
	const uint64_t all = FY_STORE_COLS_ALL;
	const uint64_t some = FY_STORE_MASK(FY_STORE_COL_LAST_MS) |
			      FY_STORE_MASK(FY_STORE_COL_SRC) |
			      FY_STORE_MASK(FY_STORE_COL_DST_PORT) |
			      FY_STORE_MASK(FY_STORE_COL_PROTO) |
			      FY_STORE_MASK(FY_STORE_COL_DST_MAC);
	const uint64_t flip[3] = {
		FY_STORE_MASK(FY_STORE_COL_FIRST_MS),
		all,
		0,
	};
	uint64_t mid;

	sum += in->n_blocks + in->stats.all.flows + strlen(in->ident) +
	       strlen(fy_store_reader_message(r));

	drain(r, cap, &all, 1);

	mid = in->stats.first_ms / 2 + in->stats.last_ms / 2;
	fy_store_reader_rewind(r);
	fy_store_reader_select(r, some);
	fy_store_reader_set_window(r, in->stats.first_ms, mid);
	drain(r, cap, &some, 1);

	fy_store_reader_rewind(r);
	fy_store_reader_set_window(r, mid, UINT64_MAX);
	drain(r, cap, flip, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fy_store_reader *r = NULL;
	char err[FY_STORE_MSG_MAX];
	uint8_t mode;
	size_t n;

	if (size < 1 || size - 1 > MAX_FILE)
		return 0;
	mode = data[0];
	n = size - 1;
	memcpy(file, data + 1, n);
	if (mode & MODE_FIX_BLK)
		fix_blocks(file, n);
	if (mode & MODE_FIX_FOOT)
		fix_footer(file, n);
	if (mode & MODE_FIX_HDR)
		fix_header(file, n);
	if (write_file(file, n) != 0)
		abort(); /* the harness, not the reader: stop loudly */
	if (fy_store_reader_open(&r, path, err, sizeof(err)) != 0) {
		if (r != NULL)
			__builtin_trap();
		sum += strlen(err);
		return 0;
	}
	read_all(r, caps[(mode >> MODE_CAP_SHIFT) & 3]);
	fy_store_reader_close(r);
	return 0;
}
