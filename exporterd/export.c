/*
 * export.c - collectors, encoders and sendmmsg batches, see export.h.
 */
#include "export.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* Messages per sendmmsg(): enough to amortise the call, small in memory. */
#define BATCH 32
/* A burst of exports must not overflow a default 208 KiB socket buffer. */
#define SNDBUF_BYTES (4 * 1024 * 1024)
/* How long a capture-file replay waits for a full socket to drain. */
#define WAIT_WRITABLE_MS 1000

struct collector {
	struct exp *x;
	struct exp_dest dest;
	int fd;
	struct fy_nfenc *enc;
	uint64_t last_tmpl_ms;
	size_t nq; /* messages queued */
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	uint8_t *bufs; /* BATCH * mtu bytes */
	struct exp_dest_stats stats;
	bool unreachable; /* an ICMP error since the last good tick */
	uint64_t messages_at_tick, errors_at_tick;
};

struct exp {
	struct fy_nfenc_cfg enc;
	bool wait_writable;
	bool started;
	size_t n;
	struct collector *c;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
		    const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

/* Splits "host:port" forms; writes the host (no brackets) and the port. */
static int split_host_port(const char *spec, char *host, size_t hlen,
			   const char **port)
{
	const char *colon;
	size_t n;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - spec - 1);
		spec++;
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - spec);
	}
	if (n == 0 || n >= hlen || colon[1] == '\0')
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

int exp_parse_dest(const char *spec, struct exp_dest *d, char *err,
		   size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char host[128];
	const char *port;
	char *end;
	long pn;
	int r;

	memset(d, 0, sizeof(*d));
	if (strlen(spec) >= sizeof(d->name) ||
	    split_host_port(spec, host, sizeof(host), &port) != 0) {
		set_err(err, errlen, "'%s': not host:port%s", spec, "");
		return -1;
	}
	pn = strtol(port, &end, 10);
	if (*end != '\0' || pn < 1 || pn > 65535) {
		set_err(err, errlen, "'%s': port '%s' is not in 1..65535", spec,
			port);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0 || res == NULL) {
		set_err(err, errlen, "'%s': %s", spec, gai_strerror(r));
		return -1;
	}
	memcpy(&d->addr, res->ai_addr, res->ai_addrlen);
	d->addrlen = res->ai_addrlen;
	snprintf(d->name, sizeof(d->name), "%s", spec);
	freeaddrinfo(res);
	return 0;
}

static int open_socket(struct collector *c, char *err, size_t errlen)
{
	int sndbuf = SNDBUF_BYTES;
	int fd;

	fd = socket(c->dest.addr.ss_family,
		    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* Best effort: the kernel caps it at net.core.wmem_max. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	/* Connected: the kernel reports ICMP unreachable to us. */
	if (connect(fd, (struct sockaddr *)&c->dest.addr, c->dest.addrlen) != 0)
		goto fail;
	c->fd = fd;
	return 0;
fail:
	set_err(err, errlen, "collector %s: %s", c->dest.name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int dummy_send(void *arg, const uint8_t *m, size_t len)
{
	(void)arg;
	(void)m;
	(void)len;
	return 0;
}

struct exp *exp_new(const struct fy_nfenc_cfg *enc, const struct exp_dest *d,
		    size_t n, bool wait_writable, char *err, size_t errlen)
{
	struct exp *x = NULL, *ret = NULL;
	struct fy_nfenc *probe;
	uint16_t mtu;
	size_t i;

	/* Refuse a bad encoder configuration now, not at the first packet. */
	probe = fy_nfenc_new(enc, dummy_send, NULL);
	if (probe == NULL) {
		set_err(err, errlen, "%s%s",
			"export configuration refused (an MTU too small for "
			"the templates, v5 sampling over 16383, or biflow "
			"without IPFIX)",
			"");
		goto out;
	}
	fy_nfenc_free(probe);
	mtu = enc->mtu ? enc->mtu : FY_NFENC_DEFAULT_MTU;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto nomem;
	x->enc = *enc;
	x->wait_writable = wait_writable;
	x->c = calloc(n ? n : 1, sizeof(*x->c));
	if (x->c == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct collector *c = &x->c[i];
		size_t j;

		c->x = x;
		c->fd = -1;
		c->dest = d[i];
		x->n++;
		c->bufs = malloc((size_t)BATCH * mtu);
		if (c->bufs == NULL)
			goto nomem;
		for (j = 0; j < BATCH; j++) {
			c->iov[j].iov_base = c->bufs + j * mtu;
			c->msgs[j].msg_hdr.msg_iov = &c->iov[j];
			c->msgs[j].msg_hdr.msg_iovlen = 1;
		}
		if (open_socket(c, err, errlen) != 0)
			goto out;
	}
	ret = x;
	x = NULL; /* transferred */
	goto out;
nomem:
	set_err(err, errlen, "%s%s", "out of memory", "");
out:
	exp_free(x);
	return ret;
}

static void send_queue(struct collector *c);

/* The encoder's callback: copy the message into the batch. */
static int queue_msg(void *arg, const uint8_t *m, size_t len)
{
	struct collector *c = arg;

	if (c->nq == BATCH)
		send_queue(c);
	memcpy(c->iov[c->nq].iov_base, m, len);
	c->iov[c->nq].iov_len = len;
	c->nq++;
	if (c->nq == BATCH)
		send_queue(c);
	return 0;
}

int exp_start(struct exp *x, uint64_t boot_ms, char *err, size_t errlen)
{
	size_t i;

	x->enc.boot_ms = boot_ms;
	for (i = 0; i < x->n; i++) {
		x->c[i].enc = fy_nfenc_new(&x->enc, queue_msg, &x->c[i]);
		if (x->c[i].enc == NULL) {
			set_err(err, errlen, "collector %s: %s",
				x->c[i].dest.name, "cannot create the encoder");
			return -1;
		}
		x->c[i].last_tmpl_ms = boot_ms;
	}
	x->started = true;
	return 0;
}

bool exp_started(const struct exp *x)
{
	return x->started;
}

static bool wait_writable(int fd)
{
	struct pollfd p = {fd, POLLOUT, 0};

	return poll(&p, 1, WAIT_WRITABLE_MS) > 0;
}

/*
 * Errors that an ICMP message leaves on a connected socket: a later send
 * (or SO_ERROR) reports them, so they are about an earlier datagram.
 */
static bool icmp_error(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH;
}

/*
 * An earlier datagram did not reach the collector, and it may have held
 * the templates: the next message carries them again. So the message
 * after the last error, the first one a collector back on its port gets,
 * can be decoded without waiting for the periodic refresh.
 */
static void note_unreachable(struct collector *c, int e)
{
	c->stats.last_errno = e;
	c->stats.send_errors++;
	if (e == ECONNREFUSED)
		c->stats.refused++;
	fy_nfenc_request_templates(c->enc);
	if (!c->unreachable) {
		c->unreachable = true;
		fy_warn("collector %s: %s; still sending, templates again "
			"after each error",
			c->dest.name, strerror(e));
	}
}

/*
 * One failed sendmmsg(): returns how many queued messages to skip (0:
 * try again) and counts.
 */
static size_t send_failed(struct collector *c, int e, size_t left,
			  bool *retried)
{
	c->stats.last_errno = e;
	if (e == EINTR)
		return 0;
	if (icmp_error(e)) {
		note_unreachable(c, e);
		/* the error was an earlier datagram's: this one may pass */
		if (!*retried) {
			*retried = true;
			return 0;
		}
		c->stats.dropped++;
		return 1;
	}
	c->stats.send_errors++;
	if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
		if (c->x->wait_writable && !*retried && wait_writable(c->fd)) {
			*retried = true;
			return 0;
		}
		c->stats.dropped += left;
		return left; /* the socket is full: drop the rest */
	}
	c->stats.dropped++;
	return 1;
}

static void send_queue(struct collector *c)
{
	size_t sent = 0;
	bool retried = false;

	while (sent < c->nq) {
		int r = sendmmsg(c->fd, c->msgs + sent,
				 (unsigned)(c->nq - sent), 0);

		if (r > 0) {
			size_t i;

			for (i = sent; i < sent + (size_t)r; i++)
				c->stats.bytes += c->msgs[i].msg_len;
			c->stats.messages += (uint64_t)r;
			c->stats.batches++;
			sent += (size_t)r;
			retried = false;
			continue;
		}
		sent += send_failed(c, r < 0 ? errno : EIO, c->nq - sent,
				    &retried);
	}
	c->nq = 0;
}

void exp_add(struct exp *x, const struct fy_flow *f, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->c[i].enc != NULL)
			(void)fy_nfenc_add(x->c[i].enc, f, now_ms);
}

void exp_send(struct exp *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->c[i].nq > 0)
			send_queue(&x->c[i]);
}

void exp_flush(struct exp *x, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		if (x->c[i].enc != NULL)
			(void)fy_nfenc_flush(x->c[i].enc, now_ms);
	exp_send(x);
}

void exp_request_templates(struct exp *x, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		if (x->c[i].enc == NULL)
			continue;
		fy_nfenc_request_templates(x->c[i].enc);
		x->c[i].last_tmpl_ms = now_ms;
	}
	exp_flush(x, now_ms);
}

/*
 * An error left by ICMP since the last send: taken now rather than by the
 * next send, which on a quiet link may be long after.
 */
static void poll_error(struct collector *c)
{
	socklen_t len;
	int e = 0;

	len = sizeof(e);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e == 0)
		return;
	if (icmp_error(e)) {
		note_unreachable(c, e);
	} else {
		c->stats.last_errno = e;
		c->stats.send_errors++;
	}
}

/* A tick with messages sent and no new error ends an unreachable spell. */
static void note_reachable(struct collector *c)
{
	bool sent = c->stats.messages > c->messages_at_tick;

	c->messages_at_tick = c->stats.messages;
	if (c->stats.send_errors != c->errors_at_tick) {
		c->errors_at_tick = c->stats.send_errors;
		return;
	}
	if (c->unreachable && sent) {
		c->unreachable = false;
		fy_notice("collector %s: messages sent for a tick without an "
			  "error; %" PRIu64 " refused so far",
			  c->dest.name, c->stats.refused);
	}
}

void exp_tick(struct exp *x, uint64_t now_ms)
{
	uint32_t every = x->enc.tmpl_refresh_ms ? x->enc.tmpl_refresh_ms
						: FY_NFENC_DEFAULT_REFRESH_MS;
	size_t i;

	if (!x->started)
		return;
	for (i = 0; i < x->n; i++) {
		struct collector *c = &x->c[i];

		poll_error(c);
		note_reachable(c);
		if (x->enc.version == FY_NF_V5 ||
		    now_ms - c->last_tmpl_ms < every)
			continue;
		fy_nfenc_request_templates(c->enc);
		(void)fy_nfenc_flush(c->enc, now_ms);
		c->last_tmpl_ms = now_ms;
	}
	exp_send(x);
}

size_t exp_count(const struct exp *x)
{
	return x->n;
}

const struct exp_dest *exp_dest(const struct exp *x, size_t i)
{
	return i < x->n ? &x->c[i].dest : NULL;
}

const struct exp_dest_stats *exp_dest_stats(const struct exp *x, size_t i)
{
	return i < x->n ? &x->c[i].stats : NULL;
}

const struct fy_nfenc_stats *exp_enc_stats(const struct exp *x, size_t i)
{
	return i < x->n && x->c[i].enc ? fy_nfenc_stats(x->c[i].enc) : NULL;
}

void exp_free(struct exp *x)
{
	size_t i;

	if (x == NULL)
		return;
	for (i = 0; i < x->n; i++) {
		if (x->c[i].fd >= 0)
			close(x->c[i].fd);
		fy_nfenc_free(x->c[i].enc);
		free(x->c[i].bufs);
	}
	free(x->c);
	free(x);
}
