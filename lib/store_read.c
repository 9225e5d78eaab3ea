/*
 * store_read.c - the flow file reader.
 *
 * Opening reads the header and, through the fixed-size trailer at the end,
 * the footer: totals and block index, no block touched. A file without a
 * valid footer (crash, or still being written) is scanned from the start
 * instead: every block is verified, a damaged stretch is stepped over by
 * searching for the next block that checks out, and the scan ends at the
 * last good block. Every length read from the file is checked against the
 * file size and the format's caps before anything is allocated or read.
 */
#include "store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire.h"

#define SCAN_CHUNK 65536 /* bytes searched at a time when resyncing */
#define STATS_FLOWS 256	 /* flows decoded at a time for recovered totals */

struct fy_store_reader {
	int fd;
	char *path;
	struct fy_store_info info;
	struct fy_store_idx *idx;
	size_t n_idx;
	size_t idx_cap;
	uint32_t hdr_len;
	uint64_t mask;
	uint64_t from_ms, to_ms;
	size_t next;		   /* next index entry to load */
	size_t first_blk, end_blk; /* the index entries to read */
	bool loaded;
	uint32_t pos; /* next flow of the loaded block */
	struct fy_store_dblock d;
	/* Columns of the loaded block as arrays of the field's type, made
	 * when first asked for (mat_done), for fy_store_reader_fill. */
	uint8_t *mat[FY_STORE_NCOLS];
	size_t mat_cap[FY_STORE_NCOLS];
	uint64_t mat_done;
	uint64_t mat_const; /* columns of one value: mat holds it once */
	uint8_t *dict;	    /* a dictionary's values, while one is made */
	size_t dict_cap;
	unsigned dict_of;   /* column + 1 whose values dict holds; 0: none */
	uint16_t *zero_idx; /* entry 0 for every flow: one-value columns */
	uint32_t zero_n;
	uint8_t *blk;
	size_t blk_cap;
	uint64_t scan_budget; /* bytes a recovery scan may still verify */
	bool scanning;
	char msg[FY_STORE_MSG_MAX];
};

static void set_msg(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Reads up to len bytes at off; returns the count (short at EOF) or -errno. */
static long pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t k;

	while (got < len) {
		k = pread(fd, p + got, len - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (long)got;
}

static bool spend(struct fy_store_reader *r, uint64_t bytes);

static int grow_blk(struct fy_store_reader *r, size_t need)
{
	uint8_t *p;

	if (need <= r->blk_cap)
		return 0;
	if ((p = realloc(r->blk, need)) == NULL)
		return -ENOMEM;
	r->blk = p;
	r->blk_cap = need;
	return 0;
}

/*
 * Reads and verifies the block at off, which must end by `limit`, into
 * r->blk. Returns 0, -EBADMSG with *why set, or -errno on a read error.
 */
static int fetch_block(struct fy_store_reader *r, uint64_t off, uint64_t limit,
		       struct fy_store_blkhdr *h, const char **why)
{
	size_t want = FY_STORE_BLK_HDR_MAX;
	long got;
	int rc;

	if (off >= limit) {
		*why = "block past the end of the data";
		return -EBADMSG;
	}
	if (limit - off < want)
		want = (size_t)(limit - off);
	if ((rc = grow_blk(r, FY_STORE_BLK_HDR_MAX)) != 0) {
		*why = "out of memory";
		return rc;
	}
	if ((got = pread_full(r->fd, r->blk, want, off)) < 0) {
		*why = strerror((int)-got);
		return (int)got;
	}
	if ((rc = fy_store_blk_parse(r->blk, (size_t)got, h, why)) != 0)
		return rc;
	if (h->len > limit - off) {
		*why = "block runs past the end of the data";
		return -EBADMSG;
	}
	if (r->scanning && !spend(r, h->len)) {
		*why = "recovery work limit reached";
		return -ECANCELED;
	}
	if ((rc = grow_blk(r, h->len)) != 0) {
		*why = "out of memory";
		return rc;
	}
	if ((got = pread_full(r->fd, r->blk, h->len, off)) < 0) {
		*why = strerror((int)-got);
		return (int)got;
	}
	if ((size_t)got != h->len) {
		*why = "block truncated";
		return -EBADMSG;
	}
	if (!fy_store_blk_crc_ok(r->blk, h)) {
		*why = "checksum mismatch";
		return -EBADMSG;
	}
	return 0;
}

static uint32_t stored_crc(const uint8_t *p)
{
	struct fy_rd rd = fy_rd_init(p, 4);

	return fy_rd_u32(&rd);
}

static int read_header(struct fy_store_reader *r, char *err, size_t errlen)
{
	uint8_t hdr[FY_STORE_FILE_HDR_MAX];
	struct fy_rd rd;
	uint16_t version, hlen;
	size_t il;
	long got;

	got = pread_full(r->fd, hdr, sizeof(hdr), 0);
	if (got < 0) {
		set_msg(err, errlen, "file %s: read: %s", r->path,
			strerror((int)-got));
		return (int)got;
	}
	rd = fy_rd_init(hdr, (size_t)got);
	if (got < FY_STORE_FILE_PREFIX ||
	    memcmp(hdr, FY_STORE_FILE_MAGIC, FY_STORE_FILE_MAGIC_LEN) != 0) {
		set_msg(err, errlen, "file %s: not a flowyard flow file",
			r->path);
		return -EBADMSG;
	}
	fy_rd_skip(&rd, FY_STORE_FILE_MAGIC_LEN);
	version = fy_rd_u16(&rd);
	hlen = fy_rd_u16(&rd);
	/* Checked before the CRC: a newer layout may differ past here. */
	if (version > FY_STORE_VERSION) {
		set_msg(err, errlen,
			"file %s: format version %u is newer than this build's %u",
			r->path, version, FY_STORE_VERSION);
		return -ENOTSUP;
	}
	if (version == 0 || hlen < FY_STORE_FILE_HDR_MIN || hlen > got ||
	    fy_store_crc32c(0, hdr, hlen - 4u) != stored_crc(hdr + hlen - 4)) {
		set_msg(err, errlen, "file %s: damaged or truncated header",
			r->path);
		return -EBADMSG;
	}
	r->info.version = version;
	fy_rd_u16(&rd); /* flags: none defined in version 1 */
	r->info.created_ms = fy_rd_u64(&rd);
	r->info.block_flows = fy_rd_u32(&rd);
	r->info.level = fy_rd_u8(&rd);
	il = fy_rd_u8(&rd);
	if (il > FY_STORE_IDENT_MAX ||
	    il != (size_t)hlen - FY_STORE_FILE_HDR_MIN) {
		set_msg(err, errlen, "file %s: damaged header (ident length)",
			r->path);
		return -EBADMSG;
	}
	fy_rd_bytes(&rd, r->info.ident, il);
	r->info.ident[il] = '\0';
	r->hdr_len = hlen;
	return 0;
}

static int idx_push(struct fy_store_reader *r, const struct fy_store_idx *e)
{
	struct fy_store_idx *p;
	size_t cap;

	if (r->n_idx >= FY_STORE_MAX_BLOCKS)
		return -EFBIG;
	if (r->n_idx == r->idx_cap) {
		cap = r->idx_cap ? r->idx_cap * 2 : 64;
		if ((p = realloc(r->idx, cap * sizeof(*p))) == NULL)
			return -ENOMEM;
		r->idx = p;
		r->idx_cap = cap;
	}
	r->idx[r->n_idx++] = *e;
	return 0;
}

static void get_count(struct fy_rd *rd, struct fy_store_count *c)
{
	c->flows = fy_rd_u64(rd);
	c->packets = fy_rd_u64(rd);
	c->bytes = fy_rd_u64(rd);
}

static void get_exporter(struct fy_rd *rd, struct fy_store_exporter *e)
{
	fy_rd_bytes(rd, e->addr.b, 16);
	e->family = fy_rd_u8(rd);
	e->nf_version = fy_rd_u8(rd);
	e->port = fy_rd_u16(rd);
	e->domain = fy_rd_u32(rd);
	e->sampling_interval = fy_rd_u32(rd);
}

/* Parses the block index; entries must be in order, inside [hdr, end). */
static int parse_index(struct fy_store_reader *r, struct fy_rd *rd,
		       uint32_t nblk, uint64_t end, const char **why)
{
	struct fy_store_idx e = {0};
	uint64_t prev_end = r->hdr_len;
	uint32_t i;

	for (i = 0; i < nblk; i++) {
		e.off = fy_rd_u64(rd);
		e.len = fy_rd_u32(rd);
		e.n = fy_rd_u32(rd);
		e.t_min = fy_rd_u64(rd);
		e.t_max = fy_rd_u64(rd);
		if (rd->err || e.off < prev_end || e.off > end ||
		    e.len < FY_STORE_BLK_HDR_LEN(1) ||
		    e.len > FY_STORE_BLK_MAX_BYTES || e.len > end - e.off ||
		    e.n == 0 || e.n > FY_STORE_MAX_BLOCK_FLOWS ||
		    e.t_min > e.t_max) {
			*why = "bad block index entry";
			return -EBADMSG;
		}
		prev_end = e.off + e.len;
		if (idx_push(r, &e) != 0) {
			*why = "out of memory";
			return -ENOMEM;
		}
	}
	return 0;
}

static int parse_footer(struct fy_store_reader *r, const uint8_t *buf,
			size_t len, uint64_t foot_off, const char **why)
{
	struct fy_rd rd = fy_rd_init(buf, len);
	struct fy_store_info *in = &r->info;
	uint32_t nblk;
	unsigned p;
	size_t i;

	*why = "bad footer";
	if (fy_rd_u32(&rd) != FY_STORE_FOOT_MAGIC)
		return -EBADMSG;
	fy_rd_u32(&rd); /* flags: none defined in version 1 */
	get_count(&rd, &in->stats.all);
	for (p = 0; p < FY_STORE_P_N; p++)
		get_count(&rd, &in->stats.proto[p]);
	in->stats.first_ms = fy_rd_u64(&rd);
	in->stats.last_ms = fy_rd_u64(&rd);
	in->seq_failures = fy_rd_u64(&rd);
	in->lost_flows = fy_rd_u64(&rd);
	in->n_exporters = fy_rd_u8(&rd);
	if (in->n_exporters > FY_STORE_EXPORTERS_MAX)
		return -EBADMSG;
	for (i = 0; i < in->n_exporters; i++)
		get_exporter(&rd, &in->exporters[i]);
	nblk = fy_rd_u32(&rd);
	if (rd.err || nblk > FY_STORE_MAX_BLOCKS ||
	    fy_rd_left(&rd) != (size_t)nblk * FY_STORE_FOOT_IDX)
		return -EBADMSG;
	return parse_index(r, &rd, nblk, foot_off, why);
}

/*
 * Returns 0 with the index loaded, 1 when there is no trailer at all, 2
 * when the trailer or footer is bad (*why says how), <0 on a read error.
 */
static int read_footer(struct fy_store_reader *r, const char **why)
{
	uint8_t tr[FY_STORE_TRAILER_LEN], *buf = NULL;
	uint64_t size = r->info.file_size, foot_off;
	uint32_t flen, fcrc;
	struct fy_rd rd;
	long got;
	int rc;

	if (size < (uint64_t)r->hdr_len + FY_STORE_TRAILER_LEN)
		return 1;
	got = pread_full(r->fd, tr, sizeof(tr), size - sizeof(tr));
	if (got < 0)
		return (int)got;
	if (got != sizeof(tr) ||
	    memcmp(tr + 16, FY_STORE_TRAILER_MAGIC, 8) != 0)
		return 1;
	rd = fy_rd_init(tr, sizeof(tr));
	foot_off = fy_rd_u64(&rd);
	flen = fy_rd_u32(&rd);
	fcrc = fy_rd_u32(&rd);
	*why = "bad trailer";
	if (flen < FY_STORE_FOOT_FIXED + 4 || flen > FY_STORE_FOOT_MAX ||
	    flen > size - FY_STORE_TRAILER_LEN - r->hdr_len ||
	    foot_off < r->hdr_len ||
	    foot_off != size - FY_STORE_TRAILER_LEN - flen)
		return 2;
	if ((buf = malloc(flen)) == NULL)
		return -ENOMEM;
	got = pread_full(r->fd, buf, flen, foot_off);
	rc = 2;
	if (got < 0) {
		rc = (int)got;
	} else if ((size_t)got != flen ||
		   fy_store_crc32c(0, buf, flen) != fcrc) {
		*why = "footer checksum mismatch";
	} else if ((rc = parse_footer(r, buf, flen, foot_off, why)) == 0) {
		r->info.data_end = foot_off;
	} else if (rc == -EBADMSG) {
		rc = 2;
	}
	free(buf);
	return rc;
}

/* Adds the totals of the block in r->blk (already verified). */
static int add_block_stats(struct fy_store_reader *r,
			   const struct fy_store_blkhdr *h, struct fy_flow *tmp)
{
	const char *why;
	uint32_t i, k;
	int rc;

	rc = fy_store_dblock_load(&r->d, r->blk, h, FY_STORE_STATS_MASK, &why);
	if (rc)
		return rc;
	for (i = 0; i < h->n; i += k) {
		k = h->n - i < STATS_FLOWS ? h->n - i : STATS_FLOWS;
		fy_store_dblock_fill(&r->d, i, k, tmp);
		fy_store_stats_add(&r->info.stats, tmp, k);
	}
	return 0;
}

/* Spends recovery budget; false when a hostile file has used it all. */
static bool spend(struct fy_store_reader *r, uint64_t bytes)
{
	if (r->scan_budget < bytes)
		return false;
	r->scan_budget -= bytes;
	return true;
}

/*
 * Finds the next good block after a damaged spot: the next block magic at
 * which a whole block checks out. Returns its offset, 0 if there is none,
 * or -errno on a read error.
 */
static int64_t resync(struct fy_store_reader *r, uint64_t from, uint64_t end)
{
	static const uint8_t magic[4] = {'F', 'Y', 'B', 'K'};
	uint8_t chunk[SCAN_CHUNK];
	struct fy_store_blkhdr h;
	const char *why;
	uint64_t pos = from;
	long got, i;
	int rc;

	while (pos + 4 <= end) {
		got = pread_full(r->fd, chunk, sizeof(chunk), pos);
		if (got < 0)
			return got;
		if (got < 4 || !spend(r, (uint64_t)got))
			return 0;
		for (i = 0; i + 4 <= got; i++) {
			if (memcmp(chunk + i, magic, 4) != 0)
				continue;
			rc = fetch_block(r, pos + (uint64_t)i, end, &h, &why);
			if (rc == 0)
				return (int64_t)(pos + (uint64_t)i);
			if (rc == -ECANCELED)
				return 0;
			if (rc != -EBADMSG)
				return rc;
			if (!spend(r, FY_STORE_BLK_HDR_MAX))
				return 0;
		}
		pos += (uint64_t)(got - 3); /* a magic may straddle chunks */
	}
	return 0;
}

/* Recovery: walks the blocks from the header on. */
static int scan(struct fy_store_reader *r)
{
	struct fy_store_idx e;
	struct fy_store_blkhdr h;
	struct fy_flow *tmp;
	uint64_t off = r->hdr_len, end = r->info.file_size;
	const char *why;
	int64_t next;
	int rc = 0;

	if ((tmp = malloc(sizeof(*tmp) * STATS_FLOWS)) == NULL)
		return -ENOMEM;
	/* Bounds the work a hostile file can cause: each byte a few times. */
	r->scan_budget = 4 * end + 4 * (uint64_t)FY_STORE_BLK_MAX_BYTES;
	r->info.data_end = off;
	r->scanning = true;
	while (off < end) {
		rc = fetch_block(r, off, end, &h, &why);
		if (rc == -ECANCELED) {
			rc = 0;
			break;
		}
		if (rc == 0) {
			/* A checksum can be right on a lying block: if it does
			 * not decode, it is listed as bad, the scan goes on. */
			rc = add_block_stats(r, &h, tmp);
			e = (struct fy_store_idx){off,	   h.len,   h.n,
						  h.t_min, h.t_max, rc != 0};
			if (rc == -EBADMSG) {
				e.t_min = 0;
				e.t_max = UINT64_MAX;
				r->info.bad_blocks++;
			} else if (rc) {
				break;
			}
			if ((rc = idx_push(r, &e)) != 0)
				break;
			off += h.len;
			r->info.data_end = off;
			continue;
		}
		if (rc != 0 && rc != -EBADMSG)
			break;
		if ((next = resync(r, off + 1, end)) <= 0) {
			rc = (int)next;
			break;
		}
		/* A damaged stretch between good blocks: listed, reported. */
		e = (struct fy_store_idx){off, (uint32_t)0, 0,
					  0,   UINT64_MAX,  true};
		if ((rc = idx_push(r, &e)) != 0)
			break;
		r->info.bad_blocks++;
		off = (uint64_t)next;
	}
	free(tmp);
	r->scanning = false;
	if (rc == -EFBIG) /* block count cap: keep what was found */
		rc = 0;
	return rc;
}

static void scan_message(struct fy_store_reader *r, const char *why)
{
	size_t good = r->n_idx - r->info.bad_blocks;
	int k;

	if (r->info.flags & FY_STORE_INFO_FOOTER_BAD)
		k = snprintf(
			r->msg, sizeof(r->msg),
			"file %s: footer damaged (%s), read %zu blocks up to offset %llu",
			r->path, why, good,
			(unsigned long long)r->info.data_end);
	else
		k = snprintf(
			r->msg, sizeof(r->msg),
			"file %s: no footer, read %zu blocks up to offset %llu",
			r->path, good, (unsigned long long)r->info.data_end);
	if (r->info.bad_blocks && k > 0 && (size_t)k < sizeof(r->msg))
		snprintf(r->msg + k, sizeof(r->msg) - (size_t)k,
			 ", %zu damaged stretches skipped", r->info.bad_blocks);
}

static int open_index(struct fy_store_reader *r, char *err, size_t errlen)
{
	const char *why = "";
	int rc;

	rc = read_footer(r, &why);
	if (rc < 0) {
		set_msg(err, errlen, "file %s: reading the footer: %s", r->path,
			strerror(-rc));
		return rc;
	}
	if (rc == 0)
		return 0;
	r->info.flags |= FY_STORE_INFO_NO_FOOTER;
	if (rc == 2)
		r->info.flags |= FY_STORE_INFO_FOOTER_BAD;
	/* Whatever a bad footer had put there is not to be trusted. */
	r->n_idx = 0;
	memset(&r->info.stats, 0, sizeof(r->info.stats));
	r->info.seq_failures = r->info.lost_flows = 0;
	r->info.n_exporters = 0;
	if ((rc = scan(r)) != 0) {
		set_msg(err, errlen, "file %s: scanning blocks: %s", r->path,
			strerror(-rc));
		return rc;
	}
	scan_message(r, why);
	return 0;
}

int fy_store_reader_open(struct fy_store_reader **out, const char *path,
			 char *err, size_t errlen)
{
	struct fy_store_reader *r = NULL;
	struct stat sb;
	int rc = -EINVAL;

	*out = NULL;
	set_msg(err, errlen, "%s", "");
	if (!path)
		goto out;
	rc = -ENOMEM;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		set_msg(err, errlen, "file %s: out of memory", path);
		goto out;
	}
	r->fd = -1;
	if ((r->path = strdup(path)) == NULL) {
		set_msg(err, errlen, "file %s: out of memory", path);
		goto out;
	}
	r->mask = FY_STORE_COLS_ALL;
	r->to_ms = UINT64_MAX;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(r->fd, &sb) != 0) {
		rc = -errno;
		set_msg(err, errlen, "file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		set_msg(err, errlen, "file %s: not a regular file", path);
		goto out;
	}
	r->info.file_size = (uint64_t)sb.st_size;
	if ((rc = read_header(r, err, errlen)) != 0 ||
	    (rc = open_index(r, err, errlen)) != 0)
		goto out;
	r->info.n_blocks = r->n_idx;
	r->end_blk = r->n_idx;
	*out = r;
	r = NULL; /* transferred */
	rc = 0;
out:
	fy_store_reader_close(r);
	return rc;
}

void fy_store_reader_close(struct fy_store_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	fy_store_dblock_free(&r->d);
	for (unsigned c = 0; c < FY_STORE_NCOLS; c++)
		free(r->mat[c]);
	free(r->dict);
	free(r->zero_idx);
	free(r->blk);
	free(r->idx);
	free(r->path);
	free(r);
}

const struct fy_store_info *
fy_store_reader_info(const struct fy_store_reader *r)
{
	return &r->info;
}

void fy_store_reader_select(struct fy_store_reader *r, uint64_t mask)
{
	r->mask = mask & FY_STORE_COLS_ALL;
}

void fy_store_reader_set_window(struct fy_store_reader *r, uint64_t from_ms,
				uint64_t to_ms)
{
	r->from_ms = from_ms;
	r->to_ms = to_ms;
}

void fy_store_reader_rewind(struct fy_store_reader *r)
{
	r->next = r->first_blk;
	r->loaded = false;
}

void fy_store_reader_set_blocks(struct fy_store_reader *r, size_t first,
				size_t end)
{
	if (end > r->n_idx)
		end = r->n_idx;
	if (first > end)
		first = end;
	r->first_blk = first;
	r->end_blk = end;
	r->next = first;
	r->loaded = false;
}

const char *fy_store_reader_message(const struct fy_store_reader *r)
{
	return r->msg;
}

/* Reads, checks and decompresses index entry i. */
static int load(struct fy_store_reader *r, size_t i)
{
	const struct fy_store_idx *e = &r->idx[i];
	struct fy_store_blkhdr h;
	const char *why = "damaged, skipped";
	int rc = -EBADMSG;

	if (!e->bad) {
		rc = fetch_block(r, e->off, e->off + e->len, &h, &why);
		if (rc == 0 && (h.len != e->len || h.n != e->n ||
				h.t_min != e->t_min || h.t_max != e->t_max)) {
			why = "block does not match the index";
			rc = -EBADMSG;
		}
		if (rc == 0)
			rc = fy_store_dblock_load(&r->d, r->blk, &h, r->mask,
						  &why);
	}
	if (rc)
		set_msg(r->msg, sizeof(r->msg),
			"file %s: block %zu at offset %llu: %s", r->path, i,
			(unsigned long long)e->off, why);
	return rc;
}

/* Bytes a column takes as an array of its field's values. */
static size_t mat_width(unsigned c, const struct fy_store_dcol *dc)
{
	const struct fy_store_coldef *def = &fy_store_cols[c];

	if (def->kind == FY_STORE_K_ADDR || def->kind == FY_STORE_K_MAC)
		return dc->width;
	return def->size;
}

static int grow_buf(uint8_t **p, size_t *cap, size_t need)
{
	uint8_t *v;

	if (need <= *cap)
		return 0;
	if ((v = realloc(*p, need)) == NULL)
		return -ENOMEM;
	*p = v;
	*cap = need;
	return 0;
}

/* Room for every column of the loaded block, so that fill cannot fail. */
static int mat_prepare(struct fy_store_reader *r)
{
	const struct fy_store_dblock *d = &r->d;
	size_t dict = 16; /* a one-value column for fy_store_reader_dict */
	unsigned c;

	r->mat_done = r->mat_const = 0;
	r->dict_of = 0;
	for (c = 0; c < FY_STORE_NCOLS; c++) {
		const struct fy_store_dcol *dc = &d->col[c];
		size_t w;

		if (!(d->want & FY_STORE_MASK(c)) || dc->width == 0 ||
		    fy_store_cols[c].kind == FY_STORE_K_FIRST ||
		    fy_store_cols[c].kind == FY_STORE_K_LAST)
			continue;
		w = mat_width(c, dc);
		if (grow_buf(&r->mat[c], &r->mat_cap[c], (size_t)d->n * w))
			return -ENOMEM;
		if (dc->idx && (size_t)dc->nvals * w > dict)
			dict = (size_t)dc->nvals * w;
	}
	return grow_buf(&r->dict, &r->dict_cap, dict);
}

/*
 * Values [0, nv) of the byte planes (nv values each) as an array of
 * `size`-byte integers of the machine's order, or (ints false) as rows
 * of `w` bytes, byte k of the value at byte k.
 */
#define PLANES_TO(T)                                                  \
	do {                                                          \
		T *v = (T *)(void *)dst;                              \
		for (i = 0; i < nv; i++)                              \
			v[i] = pl[i];                                 \
		for (k = 1; k < w && k < sizeof(T); k++)              \
			for (i = 0; i < nv; i++)                      \
				v[i] |= (T)((T)pl[(size_t)k * nv + i] \
					    << (8 * k));              \
	} while (0)

/*
 * The same for 8-byte fields of W planes (W a constant: the byte loop
 * unrolls), each value written once.
 */
static inline __attribute__((always_inline)) void
planes_u64(const uint8_t *pl, uint32_t nv, unsigned W, uint8_t *dst)
{
	uint64_t *v = (uint64_t *)(void *)dst;
	uint32_t i;
	unsigned k;

	for (i = 0; i < nv; i++) {
		uint64_t x = pl[i];

		for (k = 1; k < W; k++)
			x |= (uint64_t)pl[(size_t)k * nv + i] << (8 * k);
		v[i] = x;
	}
}

static void planes_to(const uint8_t *pl, uint32_t nv, unsigned w, bool ints,
		      unsigned size, uint8_t *dst)
{
	uint32_t i;
	unsigned k;

	if (!ints) {
		for (k = 0; k < w; k++)
			for (i = 0; i < nv; i++)
				dst[(size_t)i * w + k] = pl[(size_t)k * nv + i];
		return;
	}
	switch (size) {
	case 8:
		switch (w) {
		case 1:
			planes_u64(pl, nv, 1, dst);
			break;
		case 2:
			planes_u64(pl, nv, 2, dst);
			break;
		case 3:
			planes_u64(pl, nv, 3, dst);
			break;
		case 4:
			planes_u64(pl, nv, 4, dst);
			break;
		default:
			PLANES_TO(uint64_t);
		}
		break;
	case 4:
		PLANES_TO(uint32_t);
		break;
	case 2:
		PLANES_TO(uint16_t);
		break;
	default:
		PLANES_TO(uint8_t);
	}
}

/* Gathers dictionary entries idx[i] (s bytes each) of dict into dst. */
#define GATHER(S)               \
	for (i = 0; i < n; i++) \
	memcpy(dst + (size_t)i * (S), dict + (size_t)idx[i] * (S), (S))

static void gather(const uint8_t *dict, const uint16_t *idx, uint32_t n,
		   size_t s, uint8_t *dst)
{
	uint32_t i;

	switch (s) {
	case 1:
		GATHER(1);
		break;
	case 2:
		GATHER(2);
		break;
	case 4:
		GATHER(4);
		break;
	case 6:
		GATHER(6);
		break;
	case 8:
		GATHER(8);
		break;
	default:
		GATHER(16);
	}
}

/* Makes the array of column c of the loaded block (width > 0). */
static void materialise(struct fy_store_reader *r, unsigned c)
{
	const struct fy_store_dcol *dc = &r->d.col[c];
	const struct fy_store_coldef *def = &fy_store_cols[c];
	bool ints = def->kind == FY_STORE_K_INT;
	size_t s = mat_width(c, dc);

	if (dc->idx) {
		planes_to(dc->plane, dc->nvals, dc->width, ints, def->size,
			  r->dict);
		r->dict_of = c + 1;
		gather(r->dict, dc->idx, r->d.n, s, r->mat[c]);
	} else if (dc->nvals == r->d.n) {
		planes_to(dc->plane, dc->nvals, dc->width, ints, def->size,
			  r->mat[c]);
	} else { /* one value for all */
		planes_to(dc->plane, 1, dc->width, ints, def->size, r->mat[c]);
		r->mat_const |= FY_STORE_MASK(c);
	}
	r->mat_done |= FY_STORE_MASK(c);
}

/*
 * Runs `body` for each flow to fill: f the struct to write, b the flow's
 * number in the block.
 */
#define EACH(body)                                                \
	do {                                                      \
		if (sel) {                                        \
			for (j = 0; j < cnt; j++) {               \
				struct fy_flow *f = &out[sel[j]]; \
				uint32_t b = from + sel[j];       \
				(void)b;                          \
				body;                             \
			}                                         \
		} else {                                          \
			for (j = 0; j < cnt; j++) {               \
				struct fy_flow *f = &out[j];      \
				uint32_t b = from + j;            \
				(void)b;                          \
				body;                             \
			}                                         \
		}                                                 \
	} while (0)

#define PUT(S) EACH(memcpy((uint8_t *)f + off, m + (size_t)b * st, (S)))

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void fy_store_reader_fill(struct fy_store_reader *r, uint64_t mask,
			  uint32_t from, const uint32_t *sel, uint32_t cnt,
			  struct fy_flow *out)
{
	static const uint8_t zero[16];
	const struct fy_store_dblock *d = &r->d;
	uint32_t j;
	unsigned c;

	if (!r->loaded || cnt == 0)
		return;
	for (c = 0; c < FY_STORE_NCOLS; c++) {
		const struct fy_store_coldef *def = &fy_store_cols[c];
		unsigned off = def->off, w;
		const uint8_t *m;
		size_t st;

		if (!(mask & FY_STORE_MASK(c)))
			continue;
		if (!(d->want & FY_STORE_MASK(c))) {
			EACH(memcpy((uint8_t *)f + off, zero, def->size));
			continue;
		}
		if (def->kind == FY_STORE_K_FIRST ||
		    def->kind == FY_STORE_K_LAST) {
			const uint64_t *t = def->kind == FY_STORE_K_FIRST
						    ? d->first
						    : d->last;

			EACH(memcpy((uint8_t *)f + off, &t[b], 8));
			continue;
		}
		if ((w = d->col[c].width) == 0) {
			EACH(memcpy((uint8_t *)f + off, zero, def->size));
			continue;
		}
		if (!(r->mat_done & FY_STORE_MASK(c)))
			materialise(r, c);
		m = r->mat[c];
		st = r->mat_const & FY_STORE_MASK(c) ? 0
						     : mat_width(c, &d->col[c]);
		if (def->kind == FY_STORE_K_ADDR && w == 4) {
			EACH(memcpy((uint8_t *)f + off, v4_mapped, 12);
			     memcpy((uint8_t *)f + off + 12, m + (size_t)b * st,
				    4));
			continue;
		}
		switch (def->kind == FY_STORE_K_INT ? def->size : w) {
		case 1:
			PUT(1);
			break;
		case 2:
			PUT(2);
			break;
		case 4:
			PUT(4);
			break;
		case 6:
			PUT(6);
			break;
		case 8:
			PUT(8);
			break;
		default:
			PUT(16);
		}
	}
}

uint32_t fy_store_reader_dict(struct fy_store_reader *r, unsigned col,
			      const uint16_t **idx)
{
	const struct fy_store_dcol *dc;
	uint8_t kind;

	*idx = NULL;
	if (!r->loaded || col >= FY_STORE_NCOLS ||
	    !(r->d.want & FY_STORE_MASK(col)))
		return 0;
	kind = fy_store_cols[col].kind;
	if (kind == FY_STORE_K_FIRST || kind == FY_STORE_K_LAST)
		return 0;
	dc = &r->d.col[col];
	if (dc->idx) {
		*idx = dc->idx;
		return dc->nvals;
	}
	/* all zero, or one value for all: a dictionary of one entry */
	if (dc->width != 0 && dc->nvals != 1)
		return 0;
	if (r->zero_n < r->d.n) {
		uint16_t *z = calloc(r->d.n, sizeof(*z));

		if (z == NULL)
			return 0; /* the caller reads the flows instead */
		free(r->zero_idx);
		r->zero_idx = z;
		r->zero_n = r->d.n;
	}
	*idx = r->zero_idx;
	return 1;
}

void fy_store_reader_dict_fill(struct fy_store_reader *r, unsigned col,
			       const uint16_t *ent, uint32_t cnt,
			       struct fy_flow *out)
{
	const struct fy_store_coldef *def;
	const struct fy_store_dcol *dc;
	const uint8_t *v;
	uint32_t j;
	size_t s;

	if (!r->loaded || col >= FY_STORE_NCOLS)
		return;
	def = &fy_store_cols[col];
	dc = &r->d.col[col];
	if (dc->width == 0) {
		for (j = 0; j < cnt; j++)
			memset((uint8_t *)&out[j] + def->off, 0, def->size);
		return;
	}
	/* the entries as values of the field, made once per block */
	if (r->dict_of != col + 1) {
		planes_to(dc->plane, dc->nvals, dc->width,
			  def->kind == FY_STORE_K_INT, def->size, r->dict);
		r->dict_of = col + 1;
	}
	s = mat_width(col, dc);
	for (j = 0; j < cnt; j++) {
		uint8_t *f = (uint8_t *)&out[j] + def->off;

		if (ent[j] >= dc->nvals) { /* not an entry: as a zero column */
			memset(f, 0, def->size);
			continue;
		}
		v = r->dict + (size_t)ent[j] * s;
		if (def->kind == FY_STORE_K_ADDR && dc->width == 4) {
			memcpy(f, v4_mapped, 12);
			memcpy(f + 12, v, 4);
		} else {
			memcpy(f, v, s);
		}
	}
}

const void *fy_store_reader_column(struct fy_store_reader *r, unsigned col,
				   size_t *stride)
{
	const struct fy_store_coldef *def;

	*stride = 0;
	if (!r->loaded || col >= FY_STORE_NCOLS ||
	    !(r->d.want & FY_STORE_MASK(col)))
		return NULL;
	def = &fy_store_cols[col];
	if (def->kind == FY_STORE_K_FIRST || def->kind == FY_STORE_K_LAST) {
		*stride = sizeof(uint64_t);
		return def->kind == FY_STORE_K_FIRST ? r->d.first : r->d.last;
	}
	if (def->kind != FY_STORE_K_INT || r->d.col[col].width == 0)
		return NULL;
	if (!(r->mat_done & FY_STORE_MASK(col)))
		materialise(r, col);
	if (!(r->mat_const & FY_STORE_MASK(col)))
		*stride = def->size;
	return r->mat[col];
}

long fy_store_reader_next_block(struct fy_store_reader *r)
{
	const struct fy_store_idx *e;
	int rc;

	if (!r)
		return -EINVAL;
	for (;;) {
		r->loaded = false;
		if (r->next >= r->end_blk)
			return 0;
		e = &r->idx[r->next];
		if (e->t_max < r->from_ms || e->t_min > r->to_ms) {
			r->next++;
			continue;
		}
		rc = load(r, r->next++);
		if (rc == 0 && (rc = mat_prepare(r)) != 0)
			set_msg(r->msg, sizeof(r->msg),
				"file %s: block %zu: out of memory", r->path,
				r->next - 1);
		if (rc)
			return rc;
		r->loaded = true;
		r->pos = r->d.n; /* for next(): this block is handed out */
		return r->d.n;
	}
}

long fy_store_reader_next(struct fy_store_reader *r, struct fy_flow *flows,
			  size_t cap)
{
	uint32_t k;
	long rc;

	if (!r || !flows || cap == 0)
		return -EINVAL;
	for (;;) {
		if (r->loaded && r->pos < r->d.n) {
			k = r->d.n - r->pos;
			if (k > cap)
				k = (uint32_t)cap;
			memset(flows, 0, sizeof(*flows) * k);
			fy_store_reader_fill(r, r->d.want, r->pos, NULL, k,
					     flows);
			r->pos += k;
			return k;
		}
		if ((rc = fy_store_reader_next_block(r)) <= 0)
			return rc;
		r->pos = 0;
	}
}
