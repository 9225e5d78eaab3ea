/*
 * collectord.h - the collector's shared state, between main.c and the
 * parts that look at it (the control socket).
 */
#ifndef COLLECTORD_H
#define COLLECTORD_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "flow.h"
#include "nf_decode.h"
#include "tree.h"

#define RECV_BATCH 64
#define MAX_DGRAM 65536

struct route_src {
	struct fy_addr addr;
	struct tree *tree;
};

struct dyn_entry {
	struct fy_addr addr;
	struct tree *tree;
};

struct collector;
struct listener;
struct lane;

/*
 * One receive socket of a listener and the decoder of the exporters that
 * arrive on it. A listener has one per receive thread: with several, the
 * sockets share the port (SO_REUSEPORT) and the kernel hashes each source
 * address and port to one of them, so an exporter's templates and
 * sequence numbers stay in one decoder.
 */
struct rxq {
	struct listener *l;
	struct lane *lane;
	int fd;
	ev_io io;
	struct fy_nfdec *dec;
	uint64_t packets;
	uint64_t unknown_source;
	uint64_t kernel_drops; /* the socket's SO_RXQ_OVFL total */
	/* -M routes this thread has looked up in the listener's list */
	struct dyn_entry *seen;
	size_t nseen, seencap;
};

struct listener {
	struct collector *co;
	const struct cfg_listener *cfg;
	struct rxq *rx; /* co->nlanes of them */
	struct tree *deftree;
	struct route_src *src; /* sorted by address */
	size_t nsrc;
	/* dyn is shared by the receive threads: taken only on a miss of
	 * their own rxq.seen, when there are several */
	pthread_mutex_t dyn_lock;
	struct dyn_entry *dyn;
	size_t ndyn, dyncap;
	uint64_t dynamic_refused;
	/* decoder cap hits already logged; [5]: sessions evicted */
	uint64_t caps_logged[6];
	uint64_t caps_log_ms; /* when */
};

/*
 * A receive thread, or the main loop when there is one: it serves the
 * rxq of its index on every listener with its own loop and buffers.
 */
struct lane {
	struct collector *co;
	unsigned idx;
	struct ev_loop *loop;
	ev_async stop;
	pthread_t thread;
	bool running;
	/* held while the thread handles datagrams: co_pause takes every
	 * lane's, so that the main thread may read and change their state */
	pthread_mutex_t mu;
	struct recv_bufs *rb;
	/* wakeup coalescing (main.c): when the last drain ended, how many
	 * datagrams it took */
	uint64_t drained_ns;
	unsigned drained;
};

/* recvmmsg's buffers, allocated once. */
struct recv_bufs {
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_storage names[RECV_BATCH];
	uint8_t ctrl[RECV_BATCH][64];
	uint8_t data[RECV_BATCH][MAX_DGRAM];
};

struct fy_ctl_server;

struct collector {
	const struct cfg *cfg; /* as started: the writer's settings */
	struct cfg *lcfg;      /* listeners now: replaced by a reload */
	int argc;
	char **argv;
	struct fy_ctl_server *ctl;
	struct ev_loop *loop;
	struct trees *trees;
	struct listener *listeners;
	size_t nlisteners;
	int *fds; /* sockets opened before privileges are dropped: listener
		   * i, lane k at i * nlanes + k */
	size_t nfds;
	struct lane *lanes;
	unsigned nlanes;
	bool threaded;	 /* receive threads, not the main loop */
	unsigned paused; /* co_pause depth, main thread only */
	uint64_t start_ms;
	time_t slot; /* -f: the capture's current slot */
};

/* Where packets from `a` on `q`'s listener go; NULL: dropped. */
struct tree *route(struct collector *co, struct rxq *q,
		   const struct fy_addr *a);

/* One datagram received (or imported) on `q` at `now_ms`. */
void collector_packet(struct collector *co, struct rxq *q,
		      const struct fy_addr *src, uint16_t port,
		      const uint8_t *data, size_t len, uint64_t now_ms);

/*
 * Main thread: holds every receive thread between two datagrams, so that
 * decoders, routes and tree lanes may be read or changed; nests. Nothing
 * to do without receive threads.
 */
void co_pause(struct collector *co);
void co_resume(struct collector *co);

/* Listener totals over its sockets. */
uint64_t listener_packets(const struct listener *l);
uint64_t listener_kernel_drops(const struct listener *l);

/* ms since the epoch, now. */
uint64_t co_now_ms(void);

/* Sessions and templates held, records still without template. */
void co_session_counts(struct collector *co, uint32_t *sessions,
		       uint32_t *templates, uint64_t *no_template);

/*
 * Re-reads the command line and -c file; opens new listeners, closes
 * removed ones, re-routes sources. `changes` lists what changed (free
 * each string and the array). Returns 0 or -1 with a message.
 */
int collector_reload(struct collector *co, char ***changes, size_t *n,
		     char *err, size_t errlen);

/* Logs the decoder caps hit since the last call, at most once a minute
 * per listener (control.c). */
void co_log_limits(struct collector *co, uint64_t now_ms);

/* The control socket (control.c). */
int ctl_start(struct collector *co, struct ev_loop *loop);
void ctl_stop(struct collector *co);

#endif
