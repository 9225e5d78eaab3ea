/*
 * store_write.c - the flow file writer.
 *
 * Flows are buffered up to a block, encoded by fy_store_block_encode and
 * written with one pwrite at the offset where the file's last complete
 * block ends. A failed write is cut off again (ftruncate) so the file on
 * disk is always a header plus whole blocks, readable after a crash; the
 * footer (totals, exporters, block index) and trailer come at close.
 */
#include "store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

struct fy_store_writer {
	int fd;
	char *path;
	struct fy_store_encoder *enc; /* also holds the flows of the next block */
	uint32_t block_flows;
	uint8_t *out; /* one encoded block */
	size_t out_cap;
	uint64_t off; /* end of the last complete block */
	struct fy_store_stats stats;
	uint64_t seq_failures;
	uint64_t lost_flows;
	struct fy_store_exporter exp[FY_STORE_EXPORTERS_MAX];
	size_t n_exp;
	struct fy_store_idx *idx;
	size_t n_idx;
	size_t idx_cap;
	int broken; /* negative errno once the file is no longer consistent */
	bool no_fsync;
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* pwrite all of buf; returns 0 or -errno (errno left set). */
static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t k;

	while (len > 0) {
		k = pwrite(fd, p, len, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0) { /* should not happen for files; avoid a loop */
			errno = EIO;
			return -EIO;
		}
		p += k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/*
 * Appends len bytes at the end of the last complete piece. On failure cuts
 * the file back so a partial write leaves no torn block behind; if even
 * that fails the writer is marked broken.
 */
static int write_piece(struct fy_store_writer *w, const void *buf, size_t len,
		       const char *what)
{
	int r, saved;

	if ((r = pwrite_all(w->fd, buf, len, w->off)) == 0) {
		w->off += len;
		return 0;
	}
	saved = errno;
	set_msg(w->msg, sizeof(w->msg),
		"file %s: writing %s at offset %llu: %s", w->path, what,
		(unsigned long long)w->off, strerror(-r));
	if (ftruncate(w->fd, (off_t)w->off) != 0)
		w->broken = r;
	errno = saved;
	return r;
}

static int write_header(struct fy_store_writer *w,
			const struct fy_store_opts *o)
{
	uint8_t hdr[FY_STORE_FILE_HDR_MIN + FY_STORE_IDENT_MAX];
	size_t il = o->ident ? strnlen(o->ident, FY_STORE_IDENT_MAX) : 0;
	size_t hl = FY_STORE_FILE_HDR_MIN + il;
	struct fy_wr wr = fy_wr_init(hdr, sizeof(hdr));

	fy_wr_bytes(&wr, FY_STORE_FILE_MAGIC, FY_STORE_FILE_MAGIC_LEN);
	fy_wr_u16(&wr, FY_STORE_VERSION);
	fy_wr_u16(&wr, (uint16_t)hl);
	fy_wr_u16(&wr, 0);
	fy_wr_u64(&wr, o->created_ms ? o->created_ms : now_ms());
	fy_wr_u32(&wr, w->block_flows);
	fy_wr_u8(&wr, (uint8_t)(o->level > 12 ? 12 : o->level));
	fy_wr_u8(&wr, (uint8_t)il);
	if (il)
		fy_wr_bytes(&wr, o->ident, il);
	fy_wr_u32(&wr, fy_store_crc32c(0, hdr, hl - 4));
	return write_piece(w, hdr, hl, "the header");
}

int fy_store_writer_open(struct fy_store_writer **out, const char *path,
			 const struct fy_store_opts *opts, char *err,
			 size_t errlen)
{
	static const struct fy_store_opts defaults;
	const struct fy_store_opts *o = opts ? opts : &defaults;
	struct fy_store_writer *w = NULL;
	int r = -EINVAL;

	*out = NULL;
	set_msg(err, errlen, "%s", "");
	if (!path || o->block_flows > FY_STORE_MAX_BLOCK_FLOWS ||
	    o->level < 0) {
		set_msg(err, errlen, "file %s: bad writer options",
			path ? path : "(null)");
		goto out;
	}
	r = -ENOMEM;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	w->fd = -1;
	w->no_fsync = o->no_fsync;
	w->block_flows = o->block_flows ? o->block_flows : FY_STORE_BLOCK_FLOWS;
	w->out_cap = fy_store_block_bound(w->block_flows);
	if ((w->path = strdup(path)) == NULL ||
	    (w->out = malloc(w->out_cap)) == NULL)
		goto nomem;
	if ((r = fy_store_encoder_new(&w->enc, w->block_flows, o->level)) != 0)
		goto nomem;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		r = -errno;
		set_msg(err, errlen, "file %s: cannot create: %s", path,
			strerror(errno));
		goto out;
	}
	if ((r = write_header(w, o)) != 0) {
		set_msg(err, errlen, "%s", w->msg);
		goto out;
	}
	*out = w;
	w = NULL; /* transferred */
	r = 0;
	goto out;
nomem:
	set_msg(err, errlen, "file %s: out of memory", path);
out:
	if (w) {
		int saved = errno;

		if (w->fd >= 0)
			close(w->fd);
		fy_store_encoder_free(w->enc);
		free(w->out);
		free(w->path);
		free(w);
		errno = saved;
	}
	return r;
}

static int index_add(struct fy_store_writer *w, uint64_t off, uint32_t len,
		     const uint8_t *blk)
{
	struct fy_store_idx *e;
	struct fy_rd rd = fy_rd_init(blk + 8, 20);
	size_t cap;

	if (w->n_idx >= FY_STORE_MAX_BLOCKS)
		return -EFBIG;
	if (w->n_idx == w->idx_cap) {
		cap = w->idx_cap ? w->idx_cap * 2 : 64;
		if ((e = realloc(w->idx, cap * sizeof(*e))) == NULL)
			return -ENOMEM;
		w->idx = e;
		w->idx_cap = cap;
	}
	e = &w->idx[w->n_idx++];
	e->off = off;
	e->len = len;
	e->n = fy_rd_u32(&rd);
	e->t_min = fy_rd_u64(&rd);
	e->t_max = fy_rd_u64(&rd);
	e->bad = false;
	return 0;
}

/* Writes one encoded block and records it. */
static int put_encoded(struct fy_store_writer *w, const uint8_t *blk,
		       size_t len, const struct fy_store_stats *st)
{
	uint64_t off = w->off;
	int r;

	/* Room in the index first: a block on disk is always indexed. */
	if ((r = index_add(w, off, (uint32_t)len, blk)) != 0) {
		set_msg(w->msg, sizeof(w->msg), "file %s: %s", w->path,
			r == -EFBIG ? "block limit reached, rotate"
				    : "out of memory");
		errno = -r;
		w->lost_flows += st->all.flows;
		return r;
	}
	if ((r = write_piece(w, blk, len, "a block")) != 0) {
		w->n_idx--;
		w->lost_flows += st->all.flows;
		return r;
	}
	fy_store_stats_merge(&w->stats, st);
	return 0;
}

static int write_buffered(struct fy_store_writer *w)
{
	struct fy_store_stats st;
	size_t len, n = fy_store_encoder_pending(w->enc);
	int r;

	if (n == 0)
		return 0;
	/* written or lost: either way the stage is emptied */
	r = fy_store_encoder_finish(w->enc, w->out, w->out_cap, &len, &st);
	if (r != 0) {
		set_msg(w->msg, sizeof(w->msg), "file %s: encoding a block: %s",
			w->path, strerror(-r));
		w->lost_flows += n;
		return r;
	}
	return put_encoded(w, w->out, len, &st);
}

int fy_store_writer_append(struct fy_store_writer *w,
			   const struct fy_flow *flows, size_t n)
{
	size_t k;
	int r, first = 0;

	if (!w || (!flows && n))
		return -EINVAL;
	if (w->broken) {
		errno = -w->broken;
		return w->broken;
	}
	while (n > 0) {
		k = fy_store_encoder_add(w->enc, flows, n);
		flows += k;
		n -= k;
		/* Keep going after a failed block: later ones may fit. */
		if (fy_store_encoder_pending(w->enc) == w->block_flows &&
		    (r = write_buffered(w)) != 0 && !first)
			first = r;
		if (w->broken)
			break;
	}
	if (first)
		errno = -first;
	return first;
}

int fy_store_writer_flush(struct fy_store_writer *w, bool sync)
{
	int r;

	if (!w)
		return -EINVAL;
	if (w->broken) {
		errno = -w->broken;
		return w->broken;
	}
	if ((r = write_buffered(w)) != 0)
		return r;
	if (sync && fsync(w->fd) != 0) {
		r = -errno;
		set_msg(w->msg, sizeof(w->msg), "file %s: fsync: %s", w->path,
			strerror(errno));
		return r;
	}
	return 0;
}

int fy_store_writer_put_block(struct fy_store_writer *w, const uint8_t *blk,
			      size_t len, const struct fy_store_stats *st)
{
	struct fy_store_blkhdr h;
	const char *why;
	int r;

	if (!w || !blk || !st)
		return -EINVAL;
	if (fy_store_blk_parse(blk, len, &h, &why) != 0 || h.len != len ||
	    h.n != st->all.flows) {
		set_msg(w->msg, sizeof(w->msg),
			"file %s: put_block: not an encoded block", w->path);
		return -EINVAL;
	}
	if (w->broken) {
		errno = -w->broken;
		return w->broken;
	}
	if ((r = write_buffered(w)) != 0)
		return r;
	return put_encoded(w, blk, len, st);
}

void fy_store_writer_set_seq_failures(struct fy_store_writer *w, uint64_t n)
{
	if (w)
		w->seq_failures = n;
}

int fy_store_writer_set_exporters(struct fy_store_writer *w,
				  const struct fy_store_exporter *e, size_t n)
{
	if (!w || (!e && n))
		return -EINVAL;
	if (n > FY_STORE_EXPORTERS_MAX)
		return -E2BIG;
	if (n)
		memcpy(w->exp, e, n * sizeof(*e));
	w->n_exp = n;
	return 0;
}

const struct fy_store_stats *
fy_store_writer_stats(const struct fy_store_writer *w)
{
	return &w->stats;
}

uint64_t fy_store_writer_lost_flows(const struct fy_store_writer *w)
{
	return w->lost_flows;
}

uint64_t fy_store_writer_offset(const struct fy_store_writer *w)
{
	return w->off;
}

const char *fy_store_writer_error(const struct fy_store_writer *w)
{
	return w->msg;
}

static void put_count(struct fy_wr *wr, const struct fy_store_count *c)
{
	fy_wr_u64(wr, c->flows);
	fy_wr_u64(wr, c->packets);
	fy_wr_u64(wr, c->bytes);
}

/* Footer and trailer into one buffer (allocated here, caller frees). */
static int build_footer(struct fy_store_writer *w, uint8_t **out, size_t *len)
{
	size_t flen = FY_STORE_FOOT_FIXED + w->n_exp * FY_STORE_FOOT_EXP + 4 +
		      w->n_idx * FY_STORE_FOOT_IDX;
	size_t total = flen + FY_STORE_TRAILER_LEN;
	uint8_t *buf;
	struct fy_wr wr;
	size_t i;
	unsigned p;

	*out = NULL;
	if (flen > FY_STORE_FOOT_MAX || (buf = malloc(total)) == NULL)
		return -ENOMEM;
	wr = fy_wr_init(buf, total);
	fy_wr_u32(&wr, FY_STORE_FOOT_MAGIC);
	fy_wr_u32(&wr, 0); /* flags */
	put_count(&wr, &w->stats.all);
	for (p = 0; p < FY_STORE_P_N; p++)
		put_count(&wr, &w->stats.proto[p]);
	fy_wr_u64(&wr, w->stats.first_ms);
	fy_wr_u64(&wr, w->stats.last_ms);
	fy_wr_u64(&wr, w->seq_failures);
	fy_wr_u64(&wr, w->lost_flows);
	fy_wr_u8(&wr, (uint8_t)w->n_exp);
	for (i = 0; i < w->n_exp; i++) {
		fy_wr_bytes(&wr, w->exp[i].addr.b, 16);
		fy_wr_u8(&wr, w->exp[i].family);
		fy_wr_u8(&wr, w->exp[i].nf_version);
		fy_wr_u16(&wr, w->exp[i].port);
		fy_wr_u32(&wr, w->exp[i].domain);
		fy_wr_u32(&wr, w->exp[i].sampling_interval);
	}
	fy_wr_u32(&wr, (uint32_t)w->n_idx);
	for (i = 0; i < w->n_idx; i++) {
		fy_wr_u64(&wr, w->idx[i].off);
		fy_wr_u32(&wr, w->idx[i].len);
		fy_wr_u32(&wr, w->idx[i].n);
		fy_wr_u64(&wr, w->idx[i].t_min);
		fy_wr_u64(&wr, w->idx[i].t_max);
	}
	fy_wr_u64(&wr, w->off);
	fy_wr_u32(&wr, (uint32_t)flen);
	fy_wr_u32(&wr, fy_store_crc32c(0, buf, flen));
	fy_wr_bytes(&wr, FY_STORE_TRAILER_MAGIC, 8);
	if (wr.err || wr.len != 0) {
		free(buf);
		return -EINVAL; /* a layout bug, not a runtime condition */
	}
	*out = buf;
	*len = total;
	return 0;
}

static int finish(struct fy_store_writer *w)
{
	uint8_t *foot = NULL;
	size_t len;
	int r, lost;

	/* A lost last block is reported, counted in the footer, and the
	 * file still gets its footer unless it is broken. */
	if ((lost = fy_store_writer_flush(w, false)) != 0 && w->broken)
		return lost;
	if ((r = build_footer(w, &foot, &len)) != 0) {
		set_msg(w->msg, sizeof(w->msg),
			"file %s: building the footer: %s", w->path,
			strerror(-r));
		goto out;
	}
	if ((r = write_piece(w, foot, len, "the footer")) != 0)
		goto out;
	if (!w->no_fsync && fsync(w->fd) != 0) {
		r = -errno;
		set_msg(w->msg, sizeof(w->msg), "file %s: fsync: %s", w->path,
			strerror(errno));
		goto out;
	}
	r = lost;
out:
	free(foot);
	return r;
}

int fy_store_writer_close(struct fy_store_writer *w, char *err, size_t errlen)
{
	int r;

	set_msg(err, errlen, "%s", "");
	if (!w)
		return 0;
	r = finish(w);
	if (close(w->fd) != 0 && r == 0) {
		r = -errno;
		set_msg(w->msg, sizeof(w->msg), "file %s: close: %s", w->path,
			strerror(errno));
	}
	if (r)
		set_msg(err, errlen, "%s", w->msg);
	fy_store_encoder_free(w->enc);
	free(w->out);
	free(w->idx);
	free(w->path);
	free(w);
	if (r)
		errno = -r; /* free() may not touch it, but say it plainly */
	return r;
}
