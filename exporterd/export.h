/*
 * export.h - finished flows to every collector, batched into sendmmsg().
 *
 * One collector is one connected UDP socket and one encoder (lib's
 * fy_nfenc): its own sequence numbers and template refreshes. The
 * encoder's finished messages are queued in a preallocated batch and sent
 * by sendmmsg() when the batch is full or when the caller says so, so the
 * packet path makes one system call per batch of messages, not per flow.
 *
 * Sending never stalls capture: sockets are non-blocking; a message that
 * cannot be queued by the kernel (EAGAIN, ENOBUFS) is dropped and counted.
 * A connected UDP socket reports an earlier datagram's ICMP port
 * unreachable as ECONNREFUSED on a later send: that send is counted and
 * retried once, as the error was not about it (exp_tick() also takes such
 * an error by SO_ERROR). After one, the next message carries the
 * templates again, so a collector back on its port can decode at once;
 * there is no other back-off: every message is still tried, which costs
 * the capture nothing. With `wait_writable` (for
 * capture files, where nothing is lost by waiting) EAGAIN instead waits
 * for the socket to drain.
 */
#ifndef FY_EXPORTERD_EXPORT_H
#define FY_EXPORTERD_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "flow.h"
#include "nf_encode.h"

/* A collector address, parsed and resolved. */
struct exp_dest {
	char name[128]; /* as given: host:port */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/*
 * Parses "host:port", "[v6addr]:port" or "v6addr:port" (the last colon
 * separates the port) and resolves the host (numeric addresses or names).
 * Returns 0, or -1 with a message in err.
 */
int exp_parse_dest(const char *spec, struct exp_dest *d, char *err,
		   size_t errlen);

/* Counters of one collector, beside its encoder's. */
struct exp_dest_stats {
	uint64_t messages;    /* sent */
	uint64_t bytes;	      /* sent */
	uint64_t batches;     /* sendmmsg() calls that sent something */
	uint64_t refused;     /* ECONNREFUSED: the collector's port closed */
	uint64_t dropped;     /* messages not sent: no room, errors */
	uint64_t send_errors; /* failed sends, whatever the errno */
	int last_errno;
};

struct exp;

/*
 * Opens one socket per destination (so call it before dropping
 * privileges). `enc` is the encoder configuration shared by all; its
 * boot_ms is set later by exp_start(). Returns NULL with a message naming
 * the collector in err.
 */
struct exp *exp_new(const struct fy_nfenc_cfg *enc, const struct exp_dest *d,
		    size_t n, bool wait_writable, char *err, size_t errlen);

/*
 * Creates the encoders, with `boot_ms` as the v5/v9 uptime base: the
 * first packet's time for a capture file, the start time when live.
 * Returns 0, or -1 if the encoder configuration is refused.
 */
int exp_start(struct exp *x, uint64_t boot_ms, char *err, size_t errlen);

bool exp_started(const struct exp *x);

/* Puts one flow into every collector's stream (exp_start() first). */
void exp_add(struct exp *x, const struct fy_flow *f, uint64_t now_ms);

/* Sends the messages queued (full ones); partial messages stay. */
void exp_send(struct exp *x);

/* Sends everything, the messages under construction included. */
void exp_flush(struct exp *x, uint64_t now_ms);

/*
 * Once a second or so (live): takes an ICMP error left on each socket,
 * logs the end of an unreachable spell, and refreshes templates on quiet
 * links: if none went out for the refresh time, sends them now even with
 * no flow to carry.
 */
void exp_tick(struct exp *x, uint64_t now_ms);

/* Every collector gets the templates in its next message (flushed now). */
void exp_request_templates(struct exp *x, uint64_t now_ms);

size_t exp_count(const struct exp *x);
const struct exp_dest *exp_dest(const struct exp *x, size_t i);
const struct exp_dest_stats *exp_dest_stats(const struct exp *x, size_t i);
/* The encoder's counters; NULL before exp_start(). */
const struct fy_nfenc_stats *exp_enc_stats(const struct exp *x, size_t i);

/* Closes the sockets and frees everything; NULL is allowed. */
void exp_free(struct exp *x);

#endif
