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
	struct tree *deftree;
	struct route_src *src; /* sorted by address */
	size_t nsrc;
	struct dyn_entry *dyn;
	size_t ndyn, dyncap;
	uint64_t packets;
	uint64_t unknown_source;
	uint64_t dynamic_refused;
	uint64_t kernel_drops;
};

/* recvmmsg's buffers, allocated once. */
struct recv_bufs {
	struct mmsghdr msgs[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct sockaddr_storage names[RECV_BATCH];
	uint8_t ctrl[RECV_BATCH][64];
	uint8_t data[RECV_BATCH][MAX_DGRAM];
};

struct collector {
	const struct cfg *cfg;
	struct fy_nfdec *dec;
	struct trees *trees;
	struct listener *listeners;
	size_t nlisteners;
	int *fds; /* sockets opened before privileges are dropped */
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

#endif
