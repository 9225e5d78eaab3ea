/*
 * tree.c - per-exporter file trees and their writer thread.
 */
#include "tree.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ftree.h"
#include "log.h"

#define BATCH_FLOWS 2048
#define MAX_BATCHES 128 /* about 60 MB of flows in flight at most */
#define START_BATCHES 8 /* made before the first datagram (3.8 MB) */
#define PATH_LEN 4096
/* Files whose footer could not be written (disk full), kept per tree as
 * temporary files until they can be completed; more wait for a restart. */
#define UNFINISHED_MAX 64

extern char **environ;

enum job_type { JOB_FLOWS, JOB_FLUSH, JOB_OPEN, JOB_ROTATE, JOB_STOP };

/* Waiters for rotations done: a Rotate command, the final shutdown. */
struct done {
	unsigned pending;
	unsigned closed;
	char **files; /* final names of the files closed */
	size_t nfiles;
};

struct job {
	struct job *next;
	enum job_type type;
	struct tree *t;
	time_t slot;
	bool final;
	uint64_t seq_failures;
	size_t nex;
	struct fy_store_exporter ex[FY_STORE_EXPORTERS_MAX];
	struct done *done;
};

struct batch {
	struct job job; /* first: a full batch is its own FLOWS job */
	struct batch *next_free;
	size_t n;
	struct fy_flow f[BATCH_FLOWS];
};

/*
 * What one receive thread (lane) keeps for a tree: its own batch, so that
 * two threads never fill the same one and need no lock per flow; counters
 * and exporters merged by the readers.
 */
struct tree_lane {
	struct batch *cur;
	struct tree_stats st;
	uint64_t seq_in_file;
	size_t nex;
	struct fy_store_exporter ex[FY_STORE_EXPORTERS_MAX];
};

struct tree {
	char ident[CFG_IDENT_MAX];
	char dir[CFG_PATH_MAX];
	uint32_t block_flows;

	/* receive threads, one lane each */
	struct tree_lane *lane;

	/* writer thread */
	struct fy_store_writer *w;
	time_t slot;
	char temp[PATH_LEN];
	bool open_failed;
	bool write_failing;   /* since the last write that worked */
	uint64_t lost_seen;   /* of w's lost flows, already counted */
	uint64_t lost_streak; /* flows not written since write_failing */
	char *unfinished[UNFINISHED_MAX];
	size_t nunfinished;

	pthread_mutex_t lock; /* guards `current` for status readers */
	char current[PATH_LEN];
};

struct trees {
	const struct cfg *cfg;
	pthread_t thread;
	bool running;
	time_t slot;
	unsigned nlanes;
	/* stops the receive threads while their lanes are read or sent */
	void (*guard)(void *arg, bool hold);
	void *guard_arg;
	pthread_mutex_t get_lock; /* trees_get from several threads */

	pthread_mutex_t lock;
	pthread_cond_t cv_work; /* jobs queued */
	pthread_cond_t cv_free; /* a batch came back */
	pthread_cond_t cv_done; /* a waited-for rotation finished */
	struct job *head, *tail;
	struct batch *free_list;
	size_t nbatches;
	struct trees_wstats ws;

	struct tree **v;
	size_t n, cap;
};

/*
 * The writer's counters change in the writer thread and are read by the
 * control socket's: relaxed atomic adds and loads, no lock needed.
 */
#define WS_ADD(ts, field, n)                                      \
	((void)__atomic_fetch_add(&(ts)->ws.field, (uint64_t)(n), \
				  __ATOMIC_RELAXED))

/* ---- queue ---- */

static void push(struct trees *ts, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&ts->lock);
	if (ts->tail)
		ts->tail->next = j;
	else
		ts->head = j;
	ts->tail = j;
	pthread_cond_signal(&ts->cv_work);
	pthread_mutex_unlock(&ts->lock);
}

/*
 * Batches are mapped with MAP_POPULATE: the kernel fills in the pages in
 * one system call. Touched page by page they cost the receive thread a
 * fault per 4 KB just when the writer lags, i.e. under load (on a
 * paravirtualised VM, 40 ms with the queue filling at the first burst).
 */
static struct batch *batch_alloc(void)
{
	void *p = mmap(NULL, sizeof(struct batch), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void batch_free(struct batch *b)
{
	if (b)
		munmap(b, sizeof(*b));
}

static struct batch *batch_get(struct trees *ts)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&ts->lock);
	while (b == NULL) {
		if (ts->free_list) {
			b = ts->free_list;
			ts->free_list = b->next_free;
		} else if (ts->nbatches < MAX_BATCHES &&
			   (b = batch_alloc()) != NULL) {
			ts->nbatches++;
		} else {
			/* the writer is behind: the socket buffer waits */
			WS_ADD(ts, batch_waits, 1);
			pthread_cond_wait(&ts->cv_free, &ts->lock);
		}
	}
	pthread_mutex_unlock(&ts->lock);
	b->n = 0;
	return b;
}

static void batch_put(struct trees *ts, struct batch *b)
{
	pthread_mutex_lock(&ts->lock);
	b->next_free = ts->free_list;
	ts->free_list = b;
	pthread_cond_signal(&ts->cv_free);
	pthread_mutex_unlock(&ts->lock);
}

static void send_batch(struct trees *ts, struct tree *t, struct tree_lane *tl)
{
	struct batch *b = tl->cur;

	tl->cur = NULL;
	memset(&b->job, 0, sizeof(b->job));
	b->job.type = JOB_FLOWS;
	b->job.t = t;
	push(ts, &b->job);
}

static void push_simple(struct trees *ts, struct tree *t, enum job_type type,
			time_t slot)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		fy_err("tree %s: out of memory for a writer job", t->ident);
		return;
	}
	j->type = type;
	j->t = t;
	j->slot = slot;
	push(ts, j);
}

/* ---- writer thread: files ---- */

static void set_current(struct tree *t, const char *path)
{
	pthread_mutex_lock(&t->lock);
	snprintf(t->current, sizeof(t->current), "%s", path);
	pthread_mutex_unlock(&t->lock);
}

static int slot_paths(const struct trees *ts, const struct tree *t, time_t slot,
		      char *dir, size_t dlen)
{
	return fy_ftree_slot_dir(dir, dlen, t->dir, ts->cfg->layout, slot,
				 ts->cfg->localtime);
}

static void open_file(struct trees *ts, struct tree *t)
{
	struct fy_store_opts o = {
		.block_flows = t->block_flows,
		.level = ts->cfg->lz4_level,
		.ident = t->ident,
	};
	char dir[PATH_LEN], name[128], err[FY_STORE_MSG_MAX];
	int n;

	if (slot_paths(ts, t, t->slot, dir, sizeof(dir)) ||
	    fy_ftree_temp_name(name, sizeof(name), FY_FTREE_PREFIX, getpid()))
		goto fail_path;
	n = snprintf(t->temp, sizeof(t->temp), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(t->temp))
		goto fail_path;
	if (fy_mkdir_p(dir, 0755)) {
		if (!t->open_failed)
			fy_err("tree %s: cannot create %s: %s", t->ident, dir,
			       strerror(errno));
		goto fail;
	}
	o.created_ms = (uint64_t)t->slot * 1000;
	if (fy_store_writer_open(&t->w, t->temp, &o, err, sizeof(err))) {
		int saved = errno;

		/* no header: nothing worth keeping, and no stray temp file */
		unlink(t->temp);
		WS_ADD(ts, write_errors, 1);
		if (!t->open_failed)
			fy_err("tree %s: %s; flows are dropped and counted "
			       "until a file can be opened",
			       t->ident, err);
		errno = saved;
		goto fail;
	}
	if (t->open_failed)
		fy_notice("tree %s: writing again, to %s", t->ident, t->temp);
	t->open_failed = false;
	t->lost_seen = 0;
	set_current(t, t->temp);
	return;
fail_path:
	fy_err("tree %s: path too long under %s", t->ident, t->dir);
fail:
	t->w = NULL;
	t->open_failed = true;
}

/* Replaces %f %d %t %i in the -x command; %% is a percent sign. */
static void expand_exec(const char *fmt, const char *file, const char *ident,
			const char *stamp, char *out, size_t len)
{
	char dirbuf[PATH_LEN];
	size_t o = 0;

	snprintf(dirbuf, sizeof(dirbuf), "%s", file);
	for (; *fmt && o + 1 < len; fmt++) {
		const char *sub = NULL;
		if (*fmt == '%' && fmt[1]) {
			switch (fmt[1]) {
			case 'f':
				sub = file;
				break;
			case 'd':
				sub = dirname(dirbuf);
				break;
			case 't':
				sub = stamp;
				break;
			case 'i':
				sub = ident;
				break;
			case '%':
				sub = "%";
				break;
			}
		}
		if (sub == NULL) {
			out[o++] = *fmt;
			continue;
		}
		fmt++;
		while (*sub && o + 1 < len)
			out[o++] = *sub++;
	}
	out[o] = '\0';
}

static void run_exec(struct trees *ts, struct tree *t, const char *file,
		     time_t slot)
{
	char cmd[PATH_LEN], stamp[32];
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct tm tm;
	pid_t pid;
	int r;

	if (ts->cfg->localtime)
		localtime_r(&slot, &tm);
	else
		gmtime_r(&slot, &tm);
	strftime(stamp, sizeof(stamp),
		 ts->cfg->rotate < 60 ? "%Y%m%d%H%M%S" : "%Y%m%d%H%M", &tm);
	expand_exec(ts->cfg->exec, file, t->ident, stamp, cmd, sizeof(cmd));
	r = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
	if (r)
		fy_err("tree %s: -x: cannot run /bin/sh: %s", t->ident,
		       strerror(r));
}

static void expire_tree(struct trees *ts, struct tree *t, time_t now)
{
	const struct cfg *c = ts->cfg;
	struct fy_ftree_file *f;
	uint64_t total = 0;
	char err[512];
	size_t n, i;

	if (fy_ftree_list(t->dir, false, c->localtime, &f, &n, err,
			  sizeof(err))) {
		fy_warn("tree %s: expiry: %s", t->ident, err);
		return;
	}
	for (i = 0; i < n; i++)
		total += f[i].size;
	/* the newest file always stays: it was just closed, its data is
	 * what the operator is most likely to look at */
	for (i = 0; i + 1 < n; i++) {
		bool old = c->max_age_s && now > f[i].slot &&
			   (uint64_t)(now - f[i].slot) > c->max_age_s;
		bool big = c->max_size && total > c->max_size;
		if (!old && !big)
			break;
		if (unlink(f[i].path) == 0) {
			total -= f[i].size;
			WS_ADD(ts, expired, 1);
			fy_info("tree %s: expired %s", t->ident, f[i].path);
		}
	}
	fy_ftree_list_free(f, n);
}

/* Counts the flows w dropped since we last looked (write errors). */
static void note_lost(struct trees *ts, struct tree *t)
{
	uint64_t lost = fy_store_writer_lost_flows(t->w);

	WS_ADD(ts, flows_lost, lost - t->lost_seen);
	t->lost_streak += lost - t->lost_seen;
	t->lost_seen = lost;
}

/*
 * After a write error: one log line when the trouble starts (naming the
 * file and the cause), one when it ends, and counters in between, so a
 * full disk does not flood the log.
 */
static void write_failed(struct trees *ts, struct tree *t, const char *msg)
{
	WS_ADD(ts, write_errors, 1);
	if (t->write_failing)
		return;
	t->write_failing = true;
	t->lost_streak = 0;
	fy_err("tree %s: %s; flows that cannot be written are dropped and "
	       "counted until writing works again",
	       t->ident, msg);
}

static void retry_unfinished(struct trees *ts, struct tree *t);

static void write_worked(struct trees *ts, struct tree *t)
{
	if (!t->write_failing)
		return;
	t->write_failing = false;
	fy_notice("tree %s: writing to %s again; %llu flows were not written",
		  t->ident, t->temp, (unsigned long long)t->lost_streak);
	retry_unfinished(ts, t);
}

/* Whether the file at `path` ends with a valid footer. */
static bool has_footer(const char *path)
{
	struct fy_store_reader *r;
	bool ok;

	if (fy_store_reader_open(&r, path, NULL, 0))
		return false;
	ok = !(fy_store_reader_info(r)->flags &
	       (FY_STORE_INFO_NO_FOOTER | FY_STORE_INFO_FOOTER_BAD));
	fy_store_reader_close(r);
	return ok;
}

/*
 * A closed file without its footer (the disk was full): it must not take
 * a final name, where it would look complete. It gets a temporary name of
 * its own (the next file of the tree reuses t->temp) and is completed by
 * retry_unfinished, or by the recovery of the next start.
 */
static void keep_unfinished(struct trees *ts, struct tree *t)
{
	char keep[PATH_LEN];
	int n, k;

	/* a name of its own: another file of the slot may wait already */
	for (k = 0; k < 1000; k++) {
		n = k ? snprintf(keep, sizeof(keep), "%s.%lld.%d", t->temp,
				 (long long)t->slot, k)
		      : snprintf(keep, sizeof(keep), "%s.%lld", t->temp,
				 (long long)t->slot);
		if (n < 0 || (size_t)n >= sizeof(keep) ||
		    access(keep, F_OK) != 0)
			break;
	}
	if (n < 0 || (size_t)n >= sizeof(keep) || rename(t->temp, keep)) {
		fy_err("tree %s: cannot rename %s: %s; it stays for the "
		       "recovery at the next start",
		       t->ident, t->temp, strerror(errno));
		return;
	}
	fy_warn("tree %s: %s kept as %s until its footer can be written",
		t->ident, t->temp, keep);
	if (t->nunfinished == UNFINISHED_MAX) {
		fy_warn("tree %s: more than %d unfinished files: %s waits for "
			"the next start",
			t->ident, UNFINISHED_MAX, keep);
		return;
	}
	if ((t->unfinished[t->nunfinished] = strdup(keep)) != NULL) {
		t->nunfinished++;
		WS_ADD(ts, unfinished, 1);
	}
}

/*
 * Closes the open file, gives it its final name (copied to `out` when not
 * NULL); 1 if a file was closed.
 */
static int close_file(struct trees *ts, struct tree *t, const struct job *j,
		      char *out, size_t outlen)
{
	char dir[PATH_LEN], name[128], base[PATH_LEN], final[PATH_LEN];
	char err[FY_STORE_MSG_MAX];
	int n;

	if (t->w == NULL)
		return 0;
	fy_store_writer_set_seq_failures(t->w, j->seq_failures);
	fy_store_writer_set_exporters(t->w, j->ex, j->nex);
	/* the last block first, so that its loss is counted too */
	if (fy_store_writer_flush(t->w, false))
		write_failed(ts, t, fy_store_writer_error(t->w));
	note_lost(ts, t);
	if (fy_store_writer_close(t->w, err, sizeof(err))) {
		t->w = NULL;
		set_current(t, "");
		write_failed(ts, t, err);
		if (!has_footer(t->temp)) {
			keep_unfinished(ts, t);
			return 0;
		}
	}
	t->w = NULL;
	set_current(t, "");
	if (slot_paths(ts, t, t->slot, dir, sizeof(dir)) ||
	    fy_ftree_file_name(name, sizeof(name), FY_FTREE_PREFIX, t->slot,
			       ts->cfg->rotate < 60, ts->cfg->localtime))
		return 0;
	n = snprintf(base, sizeof(base), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(base) ||
	    fy_ftree_free_path(final, sizeof(final), base) ||
	    rename(t->temp, final)) {
		fy_err("tree %s: cannot rename %s: %s", t->ident, t->temp,
		       strerror(errno));
		return 0;
	}
	WS_ADD(ts, files_closed, 1);
	if (out)
		snprintf(out, outlen, "%s", final);
	fy_info("tree %s: closed %s", t->ident, final);
	if (ts->cfg->exec[0])
		run_exec(ts, t, final, t->slot);
	return 1;
}

/*
 * A temporary file left by a crash: its good blocks are copied into a
 * complete file (with footer and index) under the name of its slot.
 */
static int recover_one(struct trees *ts, struct tree *t, const char *path)
{
	struct fy_store_reader *r = NULL;
	struct fy_store_writer *w = NULL;
	struct fy_store_opts o = {.ident = t->ident};
	const struct fy_store_info *info;
	char err[FY_STORE_MSG_MAX], tmp[PATH_LEN], base[PATH_LEN];
	char final[PATH_LEN], name[128], dirbuf[PATH_LEN];
	struct fy_flow *buf = NULL;
	time_t slot;
	long got;
	int n, rc = -1, werr = 0;

	if (fy_store_reader_open(&r, path, err, sizeof(err))) {
		struct stat st;
		/* a file that died before its header held no flow */
		if (stat(path, &st) == 0 && st.st_size < 64 &&
		    unlink(path) == 0) {
			fy_notice("tree %s: removed empty leftover %s",
				  t->ident, path);
			return 0;
		}
		fy_err("tree %s: cannot recover %s", t->ident, err);
		return -1;
	}
	info = fy_store_reader_info(r);
	slot = fy_ftree_slot_start((time_t)(info->created_ms / 1000),
				   ts->cfg->rotate);
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	n = snprintf(tmp, sizeof(tmp), "%s.recover", path);
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    fy_ftree_file_name(name, sizeof(name), FY_FTREE_PREFIX, slot,
			       ts->cfg->rotate < 60, ts->cfg->localtime))
		goto out;
	n = snprintf(base, sizeof(base), "%s/%s", dirname(dirbuf), name);
	if (n < 0 || (size_t)n >= sizeof(base))
		goto out;
	o.created_ms = info->created_ms;
	o.level = ts->cfg->lz4_level;
	buf = malloc(4096 * sizeof(*buf));
	if (buf == NULL ||
	    fy_store_writer_open(&w, tmp, &o, err, sizeof(err))) {
		fy_err("tree %s: cannot recover %s: %s", t->ident, path,
		       buf ? err : "out of memory");
		goto out;
	}
	while ((got = fy_store_reader_next(r, buf, 4096)) != 0) {
		if (got == -EBADMSG) {
			fy_warn("tree %s: %s", t->ident,
				fy_store_reader_message(r));
			continue;
		}
		if (got < 0)
			break;
		/* a block the copy could not write (disk full) would be
		 * lost with the original: keep the original instead */
		if ((werr = fy_store_writer_append(w, buf, (size_t)got)) != 0)
			break;
	}
	if (werr == 0)
		werr = fy_store_writer_flush(w, false);
	if ((got < 0 && got != -EBADMSG) || werr) {
		if (werr)
			fy_err("tree %s: recovering %s: %s; will try again",
			       t->ident, path, fy_store_writer_error(w));
		else
			fy_err("tree %s: reading %s: %s", t->ident, path,
			       strerror((int)-got));
		fy_store_writer_close(w, NULL, 0);
		w = NULL;
		unlink(tmp);
		goto out;
	}
	if (fy_store_writer_close(w, err, sizeof(err))) {
		w = NULL;
		fy_err("tree %s: recovering %s: %s", t->ident, path, err);
		unlink(tmp);
		goto out;
	}
	w = NULL;
	if (fy_ftree_free_path(final, sizeof(final), base) ||
	    rename(tmp, final)) {
		fy_err("tree %s: cannot rename %s: %s", t->ident, tmp,
		       strerror(errno));
		goto out;
	}
	unlink(path);
	WS_ADD(ts, recovered, 1);
	fy_notice("tree %s: recovered %s as %s (%s)", t->ident, path, final,
		  fy_store_reader_message(r)[0] ? fy_store_reader_message(r)
						: "complete");
	rc = 0;
out:
	free(buf);
	fy_store_reader_close(r);
	return rc;
}

/* Completes the files keep_unfinished set aside, now that writes work. */
static void retry_unfinished(struct trees *ts, struct tree *t)
{
	size_t i = 0;

	while (i < t->nunfinished) {
		if (recover_one(ts, t, t->unfinished[i]) != 0) {
			i++;
			continue;
		}
		free(t->unfinished[i]);
		t->unfinished[i] = t->unfinished[--t->nunfinished];
		WS_ADD(ts, unfinished, -1);
	}
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static void recover_tree(struct trees *ts, struct tree *t)
{
	struct fy_ftree_file *f;
	char err[512];
	size_t n, i;

	if (access(t->dir, F_OK) != 0)
		return;
	if (fy_ftree_list(t->dir, true, ts->cfg->localtime, &f, &n, err,
			  sizeof(err))) {
		fy_warn("tree %s: %s", t->ident, err);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *tag;
		long pid;

		if (!f[i].temp)
			continue;
		tag = strstr(f[i].path, FY_FTREE_TEMP_TAG);
		pid = strtol(tag + strlen(FY_FTREE_TEMP_TAG), NULL, 10);
		/* our own pid too: a restart in a container reuses it */
		if (pid != getpid() && pid_alive((pid_t)pid)) {
			fy_warn("tree %s: %s belongs to running process %ld",
				t->ident, f[i].path, pid);
			continue;
		}
		recover_one(ts, t, f[i].path);
	}
	fy_ftree_list_free(f, n);
}

static void write_flows(struct trees *ts, struct tree *t, struct batch *b)
{
	uint64_t off;
	int r;

	if (t->w == NULL)
		open_file(ts, t);
	if (t->w == NULL) {
		WS_ADD(ts, flows_lost, b->n);
		t->lost_streak += b->n;
		return;
	}
	off = fy_store_writer_offset(t->w);
	r = fy_store_writer_append(t->w, b->f, b->n);
	note_lost(ts, t);
	if (r == 0) {
		/* only a block on disk proves that writing works again */
		if (fy_store_writer_offset(t->w) > off)
			write_worked(ts, t);
		return;
	}
	write_failed(ts, t, fy_store_writer_error(t->w));
	if (r == -EFBIG) {
		/* the file is full: the rest goes into a new one */
		struct job j = {.t = t};
		close_file(ts, t, &j, NULL, 0);
	}
}

static void flush_file(struct trees *ts, struct tree *t)
{
	uint64_t off;

	if (t->w == NULL)
		return;
	off = fy_store_writer_offset(t->w);
	if (fy_store_writer_flush(t->w, false))
		write_failed(ts, t, fy_store_writer_error(t->w));
	else if (fy_store_writer_offset(t->w) > off)
		write_worked(ts, t);
	note_lost(ts, t);
}

static void *writer_main(void *arg)
{
	struct trees *ts = arg;

	for (;;) {
		struct job *j;
		struct tree *t;
		bool stop = false;

		pthread_mutex_lock(&ts->lock);
		while (ts->head == NULL)
			pthread_cond_wait(&ts->cv_work, &ts->lock);
		j = ts->head;
		ts->head = j->next;
		if (ts->head == NULL)
			ts->tail = NULL;
		pthread_mutex_unlock(&ts->lock);

		t = j->t;
		switch (j->type) {
		case JOB_FLOWS:
			write_flows(ts, t, (struct batch *)j);
			batch_put(ts, (struct batch *)j);
			j = NULL;
			break;
		case JOB_FLUSH:
			flush_file(ts, t);
			break;
		case JOB_OPEN:
			recover_tree(ts, t);
			t->slot = j->slot;
			open_file(ts, t);
			break;
		case JOB_ROTATE: {
			char final[PATH_LEN];
			int closed = close_file(ts, t, j, final, sizeof(final));
			if (ts->cfg->expire)
				expire_tree(ts, t, j->slot);
			if (!j->final) {
				t->slot = j->slot;
				open_file(ts, t);
			}
			if (t->nunfinished)
				retry_unfinished(ts, t);
			if (j->done) {
				pthread_mutex_lock(&ts->lock);
				if (closed && j->done->files) {
					char *d = strdup(final);
					if (d)
						j->done->files[j->done->nfiles++] =
							d;
				}
				j->done->closed += (unsigned)closed;
				j->done->pending--;
				pthread_cond_broadcast(&ts->cv_done);
				pthread_mutex_unlock(&ts->lock);
			}
			break;
		}
		case JOB_STOP:
			stop = true;
			break;
		}
		free(j);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (stop)
			break;
	}
	return NULL;
}

/* ---- receive thread side ---- */

struct trees *trees_new(const struct cfg *c, unsigned nlanes, time_t now,
			char *err, size_t errlen)
{
	struct trees *ts = calloc(1, sizeof(*ts));
	int r;

	if (ts == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ts->cfg = c;
	ts->nlanes = nlanes ? nlanes : 1;
	ts->slot = fy_ftree_slot_start(now, c->rotate);
	pthread_mutex_init(&ts->lock, NULL);
	pthread_mutex_init(&ts->get_lock, NULL);
	pthread_cond_init(&ts->cv_work, NULL);
	pthread_cond_init(&ts->cv_free, NULL);
	pthread_cond_init(&ts->cv_done, NULL);
	while (ts->nbatches < START_BATCHES) {
		struct batch *b = batch_alloc();

		if (b == NULL)
			break; /* made on demand later */
		b->next_free = ts->free_list;
		ts->free_list = b;
		ts->nbatches++;
	}
	r = pthread_create(&ts->thread, NULL, writer_main, ts);
	if (r) {
		snprintf(err, errlen, "cannot start the writer thread: %s",
			 strerror(r));
		while (ts->free_list) {
			struct batch *b = ts->free_list;
			ts->free_list = b->next_free;
			batch_free(b);
		}
		pthread_mutex_destroy(&ts->get_lock);
		free(ts);
		return NULL;
	}
	ts->running = true;
	return ts;
}

static struct tree *tree_make(struct trees *ts, const char *ident,
			      const char *dir, uint32_t block_flows)
{
	struct tree *t;
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->v[i]->dir, dir) == 0)
			return ts->v[i];
	if (ts->n == ts->cap) {
		size_t nc = ts->cap ? ts->cap * 2 : 16;
		struct tree **v = realloc(ts->v, nc * sizeof(*v));
		if (v == NULL)
			return NULL;
		ts->v = v;
		ts->cap = nc;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->lane = calloc(ts->nlanes, sizeof(*t->lane));
	if (t->lane == NULL) {
		free(t);
		return NULL;
	}
	snprintf(t->ident, sizeof(t->ident), "%s", ident);
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	t->block_flows = block_flows;
	pthread_mutex_init(&t->lock, NULL);
	ts->v[ts->n++] = t;
	push_simple(ts, t, JOB_OPEN, ts->slot);
	return t;
}

struct tree *trees_get(struct trees *ts, const char *ident, const char *dir,
		       uint32_t block_flows)
{
	struct tree *t;

	/* receive threads make -M trees; the main thread only reads the
	 * list while they are stopped (guard) */
	pthread_mutex_lock(&ts->get_lock);
	t = tree_make(ts, ident, dir, block_flows);
	pthread_mutex_unlock(&ts->get_lock);
	return t;
}

void trees_set_guard(struct trees *ts, void (*guard)(void *arg, bool hold),
		     void *arg)
{
	ts->guard = guard;
	ts->guard_arg = arg;
}

static void guard(struct trees *ts, bool hold)
{
	if (ts->guard)
		ts->guard(ts->guard_arg, hold);
}

void tree_add(struct trees *ts, struct tree *t, unsigned lane,
	      const struct fy_flow *f, size_t n)
{
	struct tree_lane *tl = &t->lane[lane];
	size_t i;

	tl->st.flows += n;
	for (i = 0; i < n; i++)
		tl->st.bytes += f[i].bytes;
	while (n) {
		size_t room, k;
		if (tl->cur == NULL)
			tl->cur = batch_get(ts);
		room = BATCH_FLOWS - tl->cur->n;
		k = n < room ? n : room;
		/* decoded in place (tree_tail): nothing to copy */
		if (f != &tl->cur->f[tl->cur->n])
			memcpy(&tl->cur->f[tl->cur->n], f, k * sizeof(*f));
		tl->cur->n += k;
		f += k;
		n -= k;
		if (tl->cur->n == BATCH_FLOWS)
			send_batch(ts, t, tl);
	}
}

struct fy_flow *tree_tail(struct trees *ts, struct tree *t, unsigned lane,
			  size_t *room)
{
	struct tree_lane *tl = &t->lane[lane];

	if (tl->cur == NULL)
		tl->cur = batch_get(ts);
	*room = BATCH_FLOWS - tl->cur->n;
	return &tl->cur->f[tl->cur->n];
}

/* Adds an exporter to a footer's list unless it is there already. */
static void ex_add(struct fy_store_exporter *ex, size_t *nex,
		   const struct fy_store_exporter *e)
{
	size_t i;

	for (i = 0; i < *nex; i++)
		if (ex[i].port == e->port && ex[i].domain == e->domain &&
		    ex[i].nf_version == e->nf_version &&
		    memcmp(&ex[i].addr, &e->addr, sizeof(e->addr)) == 0)
			return;
	if (*nex < FY_STORE_EXPORTERS_MAX)
		ex[(*nex)++] = *e;
}

void tree_note_packet(struct tree *t, unsigned lane, const struct fy_addr *addr,
		      uint16_t port, uint32_t domain, uint8_t version,
		      uint64_t seq_failures, uint64_t lost_flows)
{
	struct tree_lane *tl = &t->lane[lane];
	struct fy_store_exporter e;
	size_t i;

	tl->st.packets++;
	tl->st.seq_failures += seq_failures;
	tl->st.lost_flows += lost_flows;
	tl->seq_in_file += seq_failures;
	for (i = 0; i < tl->nex; i++) {
		const struct fy_store_exporter *x = &tl->ex[i];
		if (x->port == port && x->domain == domain &&
		    x->nf_version == version &&
		    memcmp(&x->addr, addr, sizeof(*addr)) == 0)
			return;
	}
	memset(&e, 0, sizeof(e));
	e.addr = *addr;
	e.family = fy_addr_is_v4(addr) ? FY_AF_INET : FY_AF_INET6;
	e.port = port;
	e.domain = domain;
	e.nf_version = version;
	ex_add(tl->ex, &tl->nex, &e);
}

void trees_flush(struct trees *ts)
{
	size_t i;
	unsigned k;

	guard(ts, true);
	for (i = 0; i < ts->n; i++) {
		struct tree *t = ts->v[i];
		bool sent = false;
		for (k = 0; k < ts->nlanes; k++) {
			struct tree_lane *tl = &t->lane[k];
			if (tl->cur && tl->cur->n) {
				send_batch(ts, t, tl);
				sent = true;
			}
		}
		if (sent)
			push_simple(ts, t, JOB_FLUSH, 0);
	}
	guard(ts, false);
}

unsigned trees_rotate(struct trees *ts, time_t now, bool final, bool wait)
{
	return trees_rotate_some(ts, now, final, wait, NULL, NULL, NULL);
}

unsigned trees_rotate_some(struct trees *ts, time_t now, bool final, bool wait,
			   const char *ident, char ***files, size_t *nfiles)
{
	struct done done = {0};
	size_t i;

	if (files) {
		done.files = calloc(ts->n ? ts->n : 1, sizeof(char *));
		*files = NULL;
		*nfiles = 0;
		wait = true;
	}
	/* the final rotation keeps the last slot: expiry measures file ages
	 * from it, and 0 would make every file look ancient */
	guard(ts, true);
	if (ident == NULL && !final)
		ts->slot = fy_ftree_slot_start(now, ts->cfg->rotate);
	for (i = 0; i < ts->n; i++) {
		struct tree *t = ts->v[i];
		struct job *j;
		unsigned k;

		if (ident && strcmp(ident, t->ident) != 0)
			continue;
		j = calloc(1, sizeof(*j));

		for (k = 0; k < ts->nlanes; k++)
			if (t->lane[k].cur && t->lane[k].cur->n)
				send_batch(ts, t, &t->lane[k]);
		if (j == NULL) {
			fy_err("tree %s: out of memory for a rotation",
			       t->ident);
			continue;
		}
		j->type = JOB_ROTATE;
		j->t = t;
		/* one tree rotated by hand reopens in the current slot */
		j->slot = ident ? fy_ftree_slot_start(now, ts->cfg->rotate)
				: ts->slot;
		j->final = final;
		for (k = 0; k < ts->nlanes; k++) {
			struct tree_lane *tl = &t->lane[k];
			size_t e;
			j->seq_failures += tl->seq_in_file;
			for (e = 0; e < tl->nex; e++)
				ex_add(j->ex, &j->nex, &tl->ex[e]);
			tl->seq_in_file = 0;
			tl->nex = 0;
		}
		if (wait) {
			j->done = &done;
			done.pending++;
		}
		push(ts, j);
	}
	/* the receive threads go on while the writer closes the files */
	guard(ts, false);
	if (!wait)
		return 0;
	pthread_mutex_lock(&ts->lock);
	while (done.pending)
		pthread_cond_wait(&ts->cv_done, &ts->lock);
	pthread_mutex_unlock(&ts->lock);
	if (files) {
		*files = done.files;
		*nfiles = done.nfiles;
	}
	return done.closed;
}

void trees_free(struct trees *ts)
{
	size_t i;
	unsigned k;

	if (ts == NULL)
		return;
	if (ts->running) {
		struct job *j = calloc(1, sizeof(*j));
		if (j) {
			j->type = JOB_STOP;
			push(ts, j);
			pthread_join(ts->thread, NULL);
		}
	}
	for (i = 0; i < ts->n; i++) {
		struct tree *t = ts->v[i];
		if (t->w)
			fy_store_writer_close(t->w, NULL, 0);
		while (t->nunfinished)
			free(t->unfinished[--t->nunfinished]);
		for (k = 0; k < ts->nlanes; k++)
			batch_free(t->lane[k].cur);
		free(t->lane);
		pthread_mutex_destroy(&t->lock);
		free(t);
	}
	while (ts->free_list) {
		struct batch *b = ts->free_list;
		ts->free_list = b->next_free;
		batch_free(b);
	}
	free(ts->v);
	pthread_mutex_destroy(&ts->get_lock);
	pthread_mutex_destroy(&ts->lock);
	pthread_cond_destroy(&ts->cv_work);
	pthread_cond_destroy(&ts->cv_free);
	pthread_cond_destroy(&ts->cv_done);
	free(ts);
}

void tree_stats(const struct trees *ts, const struct tree *t,
		struct tree_stats *out)
{
	unsigned k;

	memset(out, 0, sizeof(*out));
	for (k = 0; k < ts->nlanes; k++) {
		const struct tree_stats *s = &t->lane[k].st;
		out->packets += s->packets;
		out->flows += s->flows;
		out->bytes += s->bytes;
		out->seq_failures += s->seq_failures;
		out->lost_flows += s->lost_flows;
	}
}

const char *tree_ident(const struct tree *t)
{
	return t->ident;
}

const char *tree_dir(const struct tree *t)
{
	return t->dir;
}

void tree_current_file(struct tree *t, char *buf, size_t len)
{
	pthread_mutex_lock(&t->lock);
	snprintf(buf, len, "%s", t->current);
	pthread_mutex_unlock(&t->lock);
}

size_t trees_count(const struct trees *ts)
{
	return ts->n;
}

struct tree *trees_at(struct trees *ts, size_t i)
{
	return i < ts->n ? ts->v[i] : NULL;
}

void trees_writer_stats(struct trees *ts, struct trees_wstats *out)
{
#define WS_GET(field) \
	(out->field = __atomic_load_n(&ts->ws.field, __ATOMIC_RELAXED))
	WS_GET(files_closed);
	WS_GET(write_errors);
	WS_GET(flows_lost);
	WS_GET(recovered);
	WS_GET(expired);
	WS_GET(batch_waits);
	WS_GET(unfinished);
#undef WS_GET
}
