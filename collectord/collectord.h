/*
 * collectord.h - the collector's shared state, between main.c and the
 * parts that look at it (the control socket).
 */
#ifndef COLLECTORD_H
#define COLLECTORD_H

#include <ev.h>
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

struct listener {
	struct collector *co;
	const struct cfg_listener *cfg;
	int fd;
	ev_io io;
	struct fy_nfdec *dec; /* templates and sessions of this port */
	struct tree *deftree;
	struct route_src *src; /* sorted by address */
	size_t nsrc;
	struct dyn_entry *dyn;
	size_t ndyn, dyncap;
	uint64_t packets;
	uint64_t unknown_source;
	uint64_t dynamic_refused;
	uint64_t kernel_drops;
	uint64_t caps_logged[5]; /* decoder cap hits already logged */
	uint64_t caps_log_ms;	 /* when */
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
	int *fds; /* sockets opened before privileges are dropped */
	size_t nfds;
	struct recv_bufs *rb;
	uint64_t start_ms;
	time_t slot; /* -f: the capture's current slot */
};

/* Where packets from `a` on listener `l` go; NULL: dropped. */
struct tree *route(struct collector *co, struct listener *l,
		   const struct fy_addr *a);

/* One datagram received (or imported) at `now_ms`. */
void collector_packet(struct collector *co, struct listener *l,
		      const struct fy_addr *src, uint16_t port,
		      const uint8_t *data, size_t len, uint64_t now_ms);

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
