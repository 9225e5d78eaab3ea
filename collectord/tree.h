/*
 * tree.h - per-exporter file trees and the thread that writes them.
 *
 * The receive thread only copies flows into a tree's batch; full batches,
 * flushes and rotations are jobs for one writer thread, which compresses,
 * writes, closes, renames and runs -x. So a slow disk or a rotation never
 * stalls reception; when the writer falls behind, the receive thread waits
 * for a free batch and the kernel's socket buffer takes the burst (its
 * drops are counted).
 *
 * With several receive threads (--recv-threads) each is a "lane" with its
 * own batch and counters in every tree, so that they never share a batch
 * and take no lock per flow. The main thread reads or sends the lanes only
 * while the receive threads are held (trees_set_guard).
 */
#ifndef COLLECTORD_TREE_H
#define COLLECTORD_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "flow.h"
#include "store.h"

struct trees;
struct tree;

/* Counters of one tree, kept by the receive threads. */
struct tree_stats {
	uint64_t packets;
	uint64_t flows;
	uint64_t bytes;
	uint64_t seq_failures;
	uint64_t lost_flows;
};

/* Counters of the writer thread, read with trees_writer_stats. */
struct trees_wstats {
	uint64_t files_closed;
	uint64_t write_errors;
	uint64_t flows_lost;  /* to write errors */
	uint64_t recovered;   /* temporary files of a crash renamed */
	uint64_t expired;     /* files removed by retention */
	uint64_t batch_waits; /* times reception waited for the writer */
	uint64_t unfinished;  /* now: closed files still without footer */
};

/*
 * Starts the writer thread. `c` must outlive the trees. `nlanes` receive
 * threads will add flows (lanes 0..nlanes-1). `now` is the time of the
 * first slot (wall clock, or the capture's for -f).
 */
struct trees *trees_new(const struct cfg *c, unsigned nlanes, time_t now,
			char *err, size_t errlen);

/*
 * `guard(arg, true)` stops every receive thread at a safe point (between
 * datagrams), `guard(arg, false)` lets them go on; trees_flush and
 * trees_rotate_some call it around their work on the lanes. None: one
 * receive thread, which is the caller.
 */
void trees_set_guard(struct trees *ts, void (*guard)(void *arg, bool hold),
		     void *arg);

/*
 * Finds or makes the tree of `ident` in `dir`. Leftover temporary files in
 * it are recovered first. `block_flows` 0 for the default. Any thread.
 */
struct tree *trees_get(struct trees *ts, const char *ident, const char *dir,
		       uint32_t block_flows);

/* Receive thread `lane`: flows for the tree's current file. No
 * allocation. */
void tree_add(struct trees *ts, struct tree *t, unsigned lane,
	      const struct fy_flow *f, size_t n);

/*
 * Receive thread: the free end of the tree's current batch (room flows),
 * where a decoder may build flows that tree_add then takes without a copy.
 * Valid until the next tree_add or flush of the tree.
 */
struct fy_flow *tree_tail(struct trees *ts, struct tree *t, unsigned lane,
			  size_t *room);

/* Receive thread: a packet from an exporter, for counters and footers. */
void tree_note_packet(struct tree *t, unsigned lane, const struct fy_addr *addr,
		      uint16_t port, uint32_t domain, uint8_t version,
		      uint64_t seq_failures, uint64_t lost_flows);

/* Hands partial batches to the writer so they reach the disk. */
void trees_flush(struct trees *ts);

/*
 * Closes every current file and starts the slot holding `now` (or none if
 * `final`). Blocks until the writer has done it when `wait`; returns the
 * number of files closed then (else 0).
 */
unsigned trees_rotate(struct trees *ts, time_t now, bool final, bool wait);

/*
 * Like trees_rotate, for the trees of `ident` only when not NULL (they
 * reopen in the slot of `now`). With `files`, waits and returns the final
 * names of the files closed (free each and the array).
 */
unsigned trees_rotate_some(struct trees *ts, time_t now, bool final, bool wait,
			   const char *ident, char ***files, size_t *nfiles);

/* Stops the writer thread (after a final rotation) and frees everything. */
void trees_free(struct trees *ts);

/* The counters of all lanes (receive threads held). */
void tree_stats(const struct trees *ts, const struct tree *t,
		struct tree_stats *out);
const char *tree_ident(const struct tree *t);
const char *tree_dir(const struct tree *t);
/* The open file, "" if none; copied under the tree's lock. */
void tree_current_file(struct tree *t, char *buf, size_t len);

size_t trees_count(const struct trees *ts);
struct tree *trees_at(struct trees *ts, size_t i);
void trees_writer_stats(struct trees *ts, struct trees_wstats *out);

#endif
