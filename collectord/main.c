/*
 * collectord - NetFlow v5/v9 and IPFIX collector.
 *
 * One libev loop receives on every listener with recvmmsg, decodes with
 * the listener's decoder, routes each packet's flows to the tree of its
 * exporter and hands them to the writer thread (tree.c). Timers flush
 * partial blocks at least every --flush-ms and rotate files on the clock.
 *
 * With --recv-threads N the main loop keeps the signals, timers and the
 * control socket, and N threads receive: thread k has socket k of every
 * listener (SO_REUSEPORT on the same address and port), a decoder per
 * socket and a lane of its own in every tree. The kernel keeps a source
 * address and port on one socket, so an exporter's templates and sequence
 * numbers live in one decoder; an exporter that changes its source port
 * starts a new session anyway. The main thread touches their state only
 * while it holds every thread's lock (co_pause), which they release
 * between wakeups.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectord.h"
#include "config.h"
#include "ctl.h"
#include "ftree.h"
#include "log.h"
#include "nf_decode.h"
#include "pcap_udp.h"
#include "tree.h"

#define RECV_ROUNDS 16 /* batches per wakeup, so that timers still run */
/* Wakeup coalescing: see coalesce(). */
#define COALESCE_BELOW 16	  /* datagrams in the last drain */
#define COALESCE_RECENT_NS 500000 /* the last drain ended this recently */
#define COALESCE_WAIT_NS 200000
#define DYNAMIC_BLOCK_FLOWS 4096
#define DEFAULT_RCVBUF (8 << 20)

uint64_t co_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- routing: which tree a packet goes to ---- */

static int src_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct route_src *)a)->addr,
		      &((const struct route_src *)b)->addr,
		      sizeof(struct fy_addr));
}

static struct tree *dynamic_shared(struct collector *co, struct listener *l,
				   const struct fy_addr *a)
{
	char ident[FY_ADDR_STRLEN], dir[CFG_PATH_MAX];
	struct dyn_entry *e;
	size_t i;
	int n;

	for (i = 0; i < l->ndyn; i++)
		if (memcmp(&l->dyn[i].addr, a, sizeof(*a)) == 0)
			return l->dyn[i].tree;
	if (l->ndyn >= l->cfg->dynamic_max) {
		if (l->dynamic_refused++ == 0)
			fy_warn("listener port %u: more than %u exporters for "
				"-M %s: new ones are dropped",
				l->cfg->port, l->cfg->dynamic_max,
				l->cfg->dynamic_dir);
		return NULL;
	}
	if (l->ndyn == l->dyncap) {
		size_t nc = l->dyncap ? l->dyncap * 2 : 16;
		e = realloc(l->dyn, nc * sizeof(*e));
		if (e == NULL)
			return NULL;
		l->dyn = e;
		l->dyncap = nc;
	}
	fy_addr_str(a, ident, sizeof(ident));
	n = snprintf(dir, sizeof(dir), "%s/%s", l->cfg->dynamic_dir, ident);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return NULL;
	/* an IPv6 directory gets '-' for ':', which separates the trees
	 * of nfq -M (and nfdump -M) */
	for (i = (size_t)n - strlen(ident); dir[i]; i++)
		if (dir[i] == ':')
			dir[i] = '-';
	e = &l->dyn[l->ndyn];
	e->addr = *a;
	e->tree = trees_get(co->trees, ident, dir, DYNAMIC_BLOCK_FLOWS);
	if (e->tree == NULL)
		return NULL;
	l->ndyn++;
	fy_notice("new exporter %s on port %u: tree %s", ident, l->cfg->port,
		  dir);
	return e->tree;
}

/* With receive threads: the thread's own list first, then the shared one
 * under its lock (a new exporter, or one another thread saw first). */
static struct tree *dynamic_tree(struct collector *co, struct rxq *q,
				 const struct fy_addr *a)
{
	struct listener *l = q->l;
	struct tree *t;
	size_t i;

	if (!co->threaded)
		return dynamic_shared(co, l, a);
	for (i = 0; i < q->nseen; i++)
		if (memcmp(&q->seen[i].addr, a, sizeof(*a)) == 0)
			return q->seen[i].tree;
	pthread_mutex_lock(&l->dyn_lock);
	t = dynamic_shared(co, l, a);
	pthread_mutex_unlock(&l->dyn_lock);
	if (t == NULL)
		return NULL;
	if (q->nseen == q->seencap) {
		size_t nc = q->seencap ? q->seencap * 2 : 16;
		struct dyn_entry *e = realloc(q->seen, nc * sizeof(*e));
		if (e == NULL)
			return t; /* looked up under the lock next time */
		q->seen = e;
		q->seencap = nc;
	}
	q->seen[q->nseen].addr = *a;
	q->seen[q->nseen].tree = t;
	q->nseen++;
	return t;
}

struct tree *route(struct collector *co, struct rxq *q, const struct fy_addr *a)
{
	struct listener *l = q->l;

	if (l->nsrc) {
		struct route_src key = {.addr = *a}, *hit;
		hit = bsearch(&key, l->src, l->nsrc, sizeof(key), src_cmp);
		if (hit)
			return hit->tree;
	}
	if (l->cfg->dynamic_dir[0])
		return dynamic_tree(co, q, a);
	return l->deftree;
}

/* ---- decoding one datagram ---- */

struct emit_ctx {
	struct collector *co;
	struct tree *tree;
	unsigned lane;
};

static void print_flow(const struct fy_flow *f)
{
	char s[FY_ADDR_STRLEN], d[FY_ADDR_STRLEN], e[FY_ADDR_STRLEN];

	printf("%llu %llu %s %u %s %u %u %llu %llu exporter %s domain %u "
	       "v%u\n",
	       (unsigned long long)f->first_ms, (unsigned long long)f->last_ms,
	       fy_addr_str(&f->src, s, sizeof(s)), f->src_port,
	       fy_addr_str(&f->dst, d, sizeof(d)), f->dst_port, f->proto,
	       (unsigned long long)f->packets, (unsigned long long)f->bytes,
	       fy_addr_str(&f->exporter, e, sizeof(e)), f->domain,
	       f->nf_version);
}

static void on_flows(void *arg, const struct fy_flow *f, size_t n)
{
	struct emit_ctx *ec = arg;
	size_t i;

	if (ec->co->cfg->print_flows)
		for (i = 0; i < n; i++)
			print_flow(&f[i]);
	tree_add(ec->co->trees, ec->tree, ec->lane, f, n);
}

void collector_packet(struct collector *co, struct rxq *q,
		      const struct fy_addr *src, uint16_t port,
		      const uint8_t *data, size_t len, uint64_t now_ms)
{
	struct fy_nf_src s = {.addr = *src, .port = port};
	struct emit_ctx ec = {.co = co, .lane = q->lane->idx};
	const struct fy_nfdec_result *res;

	q->packets++;
	ec.tree = route(co, q, src);
	if (ec.tree == NULL) {
		char a[FY_ADDR_STRLEN];
		if (q->unknown_source++ % 1000 == 0)
			fy_warn("listener port %u: packets from %s match no "
				"source: dropped (%llu so far)",
				q->l->cfg->port, fy_addr_str(src, a, sizeof(a)),
				(unsigned long long)q->unknown_source);
		return;
	}
	{
		/* flows are built in the tree's batch: no copy per flow */
		size_t room;
		struct fy_flow *tail =
			tree_tail(co->trees, ec.tree, ec.lane, &room);

		fy_nfdec_set_output(q->dec, tail, room);
	}
	fy_nfdec_decode(q->dec, &s, data, len, now_ms, on_flows, &ec);
	res = fy_nfdec_result(q->dec);
	if (res->stats)
		tree_note_packet(ec.tree, ec.lane, src, port, res->domain,
				 res->version, res->seq_failures,
				 res->lost_flows);
}

uint64_t listener_packets(const struct listener *l)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 0; k < l->co->nlanes; k++)
		n += l->rx[k].packets;
	return n;
}

uint64_t listener_kernel_drops(const struct listener *l)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 0; k < l->co->nlanes; k++)
		n += l->rx[k].kernel_drops;
	return n;
}

/* ---- receive threads ---- */

void co_pause(struct collector *co)
{
	unsigned k;

	if (!co->threaded || co->paused++)
		return;
	for (k = 0; k < co->nlanes; k++)
		pthread_mutex_lock(&co->lanes[k].mu);
}

void co_resume(struct collector *co)
{
	unsigned k;

	if (!co->threaded || --co->paused)
		return;
	for (k = co->nlanes; k-- > 0;)
		pthread_mutex_unlock(&co->lanes[k].mu);
}

static void trees_guard(void *arg, bool hold)
{
	if (hold)
		co_pause(arg);
	else
		co_resume(arg);
}

/* ---- sockets ---- */

static void sockaddr_to_addr(const struct sockaddr_storage *ss,
			     struct fy_addr *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		fy_addr_set_v4_bytes(a, (const uint8_t *)&in->sin_addr);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)ss;
		memcpy(a->b, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	}
}

/* The socket's kernel drops so far, from SO_RXQ_OVFL. */
static void note_drops(struct rxq *q, struct msghdr *mh)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SO_RXQ_OVFL) {
			uint32_t v;
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			q->kernel_drops = v;
		}
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * At high rates datagrams come in ones and twos between two wakeups, and
 * a wakeup per datagram costs more than decoding it (scheduling on our
 * side and on the sender's CPU, where the kernel wakes us). So when the
 * last drain ended less than COALESCE_RECENT_NS ago with fewer than
 * COALESCE_BELOW datagrams, let them gather for COALESCE_WAIT_NS first:
 * the next recvmmsg then takes a batch. At 3 M flows/s the default 8 MB
 * buffer holds over 30 ms; at low rates wakeups are further apart than
 * COALESCE_RECENT_NS and nothing waits.
 */
static void coalesce(struct lane *ln)
{
	uint64_t now = mono_ns();

	if (ln->drained < COALESCE_BELOW && now >= ln->drained_ns &&
	    now - ln->drained_ns < COALESCE_RECENT_NS) {
		struct timespec w = {0, COALESCE_WAIT_NS};

		nanosleep(&w, NULL);
	}
}

static void receive(struct rxq *q)
{
	struct collector *co = q->l->co;
	struct recv_bufs *rb = q->lane->rb;
	unsigned got = 0;
	int round;

	for (round = 0; round < RECV_ROUNDS; round++) {
		uint64_t now;
		int n, i;

		for (i = 0; i < RECV_BATCH; i++) {
			rb->msgs[i].msg_hdr.msg_namelen = sizeof(rb->names[i]);
			rb->msgs[i].msg_hdr.msg_controllen =
				sizeof(rb->ctrl[i]);
		}
		n = recvmmsg(q->fd, rb->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				fy_err("listener port %u: recvmmsg: %s",
				       q->l->cfg->port, strerror(errno));
			break;
		}
		got += (unsigned)n;
		now = co_now_ms();
		for (i = 0; i < n; i++) {
			struct fy_addr a;
			uint16_t port;
			sockaddr_to_addr(&rb->names[i], &a, &port);
			note_drops(q, &rb->msgs[i].msg_hdr);
			collector_packet(co, q, &a, port, rb->data[i],
					 rb->msgs[i].msg_len, now);
		}
		if (n < RECV_BATCH)
			break;
	}
	q->lane->drained = got;
	q->lane->drained_ns = mono_ns();
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rxq *q = w->data;

	(void)loop;
	(void)revents;
	coalesce(q->lane);
	if (!q->l->co->threaded) {
		receive(q);
		return;
	}
	pthread_mutex_lock(&q->lane->mu);
	receive(q);
	pthread_mutex_unlock(&q->lane->mu);
}

static void on_lane_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void *lane_main(void *arg)
{
	struct lane *ln = arg;

	ev_run(ln->loop, 0);
	return NULL;
}

/* Watches every listener's sockets: on the main loop, or each lane's in
 * its thread. 0 or -1 (logged). */
static int rx_watch(struct collector *co)
{
	sigset_t all, old;
	unsigned k;
	size_t i;
	int r = 0;

	if (!co->threaded) {
		for (i = 0; i < co->nlisteners; i++) {
			struct rxq *q = &co->listeners[i].rx[0];
			if (q->fd < 0)
				continue;
			ev_io_init(&q->io, on_readable, q->fd, EV_READ);
			q->io.data = q;
			ev_io_start(co->loop, &q->io);
		}
		return 0;
	}
	/* signals are for the main loop: the threads block them all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (k = 0; k < co->nlanes && r == 0; k++) {
		struct lane *ln = &co->lanes[k];
		char name[16];

		ln->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
		if (ln->loop == NULL) {
			fy_err("receive thread %u: cannot make its loop", k);
			r = -1;
			break;
		}
		ev_async_init(&ln->stop, on_lane_stop);
		ev_async_start(ln->loop, &ln->stop);
		for (i = 0; i < co->nlisteners; i++) {
			struct rxq *q = &co->listeners[i].rx[k];
			if (q->fd < 0)
				continue;
			ev_io_init(&q->io, on_readable, q->fd, EV_READ);
			q->io.data = q;
			ev_io_start(ln->loop, &q->io);
		}
		r = pthread_create(&ln->thread, NULL, lane_main, ln);
		if (r) {
			fy_err("cannot start receive thread %u: %s", k,
			       strerror(r));
			ev_loop_destroy(ln->loop);
			ln->loop = NULL;
			r = -1;
			break;
		}
		snprintf(name, sizeof(name), "recv-%u", k % 1000u);
		pthread_setname_np(ln->thread, name);
		ln->running = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

/* Stops watching: the threads end (and are joined) once they are between
 * two wakeups; the sockets stay open and keep what arrives. */
static void rx_unwatch(struct collector *co)
{
	unsigned k;
	size_t i;

	if (!co->threaded) {
		for (i = 0; i < co->nlisteners; i++)
			ev_io_stop(co->loop, &co->listeners[i].rx[0].io);
		return;
	}
	for (k = 0; k < co->nlanes; k++) {
		struct lane *ln = &co->lanes[k];

		if (!ln->running)
			continue;
		ev_async_send(ln->loop, &ln->stop);
		pthread_join(ln->thread, NULL);
		ln->running = false;
		for (i = 0; i < co->nlisteners; i++)
			ev_io_stop(ln->loop, &co->listeners[i].rx[k].io);
		ev_async_stop(ln->loop, &ln->stop);
		ev_loop_destroy(ln->loop);
		ln->loop = NULL;
	}
}

/*
 * The listener's socket; `reuse`: one of several receive threads' sockets
 * on the same port (SO_REUSEPORT). 0 = probe: binds without SO_REUSEPORT
 * and closes at once, so that a port another socket holds (even a
 * SO_REUSEPORT one of ours, from another collectord) is refused as for a
 * single socket instead of being shared. Returns the fd, or -1 (logged).
 */
static int open_socket_as(const struct cfg *c, const struct cfg_listener *cl,
			  int reuse)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, on = 1, off = 0, fam;
	int rcvbuf = c->rcvbuf ? c->rcvbuf : DEFAULT_RCVBUF;

	memset(&ss, 0, sizeof(ss));
	fam = cl->family == 4 ? AF_INET : AF_INET6;
	if (cl->bind[0]) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, cl->bind, &in->sin_addr) == 1)
			fam = AF_INET;
		else if (inet_pton(AF_INET6, cl->bind, &in6->sin6_addr) == 1)
			fam = AF_INET6;
		else {
			fy_err("-b '%s': not an IP address", cl->bind);
			return -1;
		}
	}
	if (fam == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(cl->port);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(cl->port);
		sl = sizeof(*in6);
	}
	fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fy_err("port %u: socket: %s", cl->port, strerror(errno));
		return -1;
	}
	/* one socket for both families unless -6 asked for IPv6 only */
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
			   cl->family == 6 ? &on : &off, sizeof(on));
	if (reuse == 1 &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on))) {
		fy_err("port %u: SO_REUSEPORT (--recv-threads): %s", cl->port,
		       strerror(errno));
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
	/* bursts (a router's export after a cache flush) need room */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		fy_warn("-B %d: %s", rcvbuf, strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, sl)) {
		fy_err("cannot listen on %s port %u: %s",
		       cl->bind[0] ? cl->bind : "*", cl->port, strerror(errno));
		close(fd);
		return -1;
	}
	if (reuse == 0) {
		close(fd);
		return 0;
	}
	return fd;
}

static int open_socket(const struct cfg *c, const struct cfg_listener *cl)
{
	return open_socket_as(c, cl, -1);
}

/*
 * `n` sockets of one listener into fds[0..n-1] (-1 each on failure, and
 * the ones opened are closed). One: as it always was; more: SO_REUSEPORT.
 */
static int open_sockets_of(const struct cfg *c, const struct cfg_listener *cl,
			   int *fds, unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++)
		fds[k] = -1;
	if (n == 1) {
		fds[0] = open_socket(c, cl);
		return fds[0] < 0 ? -1 : 0;
	}
	if (open_socket_as(c, cl, 0) < 0)
		return -1;
	for (k = 0; k < n; k++) {
		fds[k] = open_socket_as(c, cl, 1);
		if (fds[k] < 0) {
			while (k-- > 0) {
				close(fds[k]);
				fds[k] = -1;
			}
			return -1;
		}
	}
	return 0;
}

/* Builds one listener's routing table and trees from its config. */
static int listener_routes(struct collector *co, struct listener *l)
{
	const struct cfg_listener *cl = l->cfg;
	size_t n = 0;
	unsigned j, k;

	l->deftree = NULL;
	if (cl->ident[0]) {
		l->deftree = trees_get(co->trees, cl->ident, cl->dir, 0);
		if (l->deftree == NULL)
			return -1;
	}
	for (j = 0; j < cl->nsources; j++)
		n += cl->sources[j].naddrs;
	free(l->src);
	l->nsrc = 0;
	l->src = calloc(n ? n : 1, sizeof(*l->src));
	if (l->src == NULL)
		return -1;
	for (j = 0; j < cl->nsources; j++) {
		const struct cfg_source *s = &cl->sources[j];
		struct tree *t = trees_get(co->trees, s->ident, s->dir, 0);
		if (t == NULL)
			return -1;
		for (k = 0; k < s->naddrs; k++) {
			l->src[l->nsrc].addr = s->addrs[k];
			l->src[l->nsrc].tree = t;
			l->nsrc++;
		}
	}
	qsort(l->src, l->nsrc, sizeof(*l->src), src_cmp);
	return 0;
}

/* A listener's state but its sockets (fd -1) and routes. */
static int listener_init(struct collector *co, struct listener *l,
			 const struct cfg_listener *cl,
			 const struct fy_nfdec_cfg *limits)
{
	unsigned k;

	l->co = co;
	l->cfg = cl;
	pthread_mutex_init(&l->dyn_lock, NULL);
	l->rx = calloc(co->nlanes, sizeof(*l->rx));
	if (l->rx == NULL)
		return -1;
	for (k = 0; k < co->nlanes; k++) {
		l->rx[k].l = l;
		l->rx[k].lane = &co->lanes[k];
		l->rx[k].fd = -1;
		if (limits && (l->rx[k].dec = fy_nfdec_new(limits)) == NULL)
			return -1;
	}
	return 0;
}

static void rxqs_free(struct collector *co, struct rxq *rx)
{
	unsigned k;

	if (rx == NULL)
		return;
	for (k = 0; k < co->nlanes; k++) {
		if (rx[k].fd >= 0)
			close(rx[k].fd);
		fy_nfdec_free(rx[k].dec);
		free(rx[k].seen);
	}
	free(rx);
}

static void listener_free(struct collector *co, struct listener *l)
{
	rxqs_free(co, l->rx);
	l->rx = NULL;
	free(l->src);
	free(l->dyn);
	l->src = NULL;
	l->dyn = NULL;
	if (l->co)
		pthread_mutex_destroy(&l->dyn_lock);
	l->co = NULL;
}

static int setup_listeners(struct collector *co)
{
	const struct cfg *c = co->lcfg;
	unsigned i, k;

	co->listeners = calloc(c->nlisteners, sizeof(*co->listeners));
	if (co->listeners == NULL)
		return -1;
	co->nlisteners = c->nlisteners;
	for (i = 0; i < c->nlisteners; i++) {
		struct listener *l = &co->listeners[i];
		if (listener_init(co, l, &c->listeners[i], &c->limits))
			return -1;
		for (k = 0; co->fds && k < co->nlanes; k++) {
			/* the listener owns them now */
			l->rx[k].fd = co->fds[i * co->nlanes + k];
			co->fds[i * co->nlanes + k] = -1;
		}
		if (listener_routes(co, l))
			return -1;
	}
	return 0;
}

/* Sockets first: they may need root, which is given up before trees. */
static int open_sockets(struct collector *co)
{
	const struct cfg *c = co->lcfg;
	unsigned i;

	co->nfds = (size_t)c->nlisteners * co->nlanes;
	co->fds = calloc(co->nfds ? co->nfds : 1, sizeof(*co->fds));
	if (co->fds == NULL)
		return -1;
	for (i = 0; i < co->nfds; i++)
		co->fds[i] = -1;
	for (i = 0; i < c->nlisteners; i++) {
		const struct cfg_listener *cl = &c->listeners[i];
		if (open_sockets_of(c, cl, &co->fds[i * co->nlanes],
				    co->nlanes))
			return -1;
		if (co->nlanes > 1)
			fy_notice("listening on %s port %u: %u sockets, one "
				  "per receive thread",
				  cl->bind[0] ? cl->bind : "*", cl->port,
				  co->nlanes);
		else
			fy_notice("listening on %s port %u",
				  cl->bind[0] ? cl->bind : "*", cl->port);
	}
	return 0;
}

static struct recv_bufs *recv_bufs_new(void)
{
	struct recv_bufs *rb = calloc(1, sizeof(*rb));
	int i;

	if (rb == NULL)
		return NULL;
	for (i = 0; i < RECV_BATCH; i++) {
		rb->iov[i].iov_base = rb->data[i];
		rb->iov[i].iov_len = MAX_DGRAM;
		rb->msgs[i].msg_hdr.msg_iov = &rb->iov[i];
		rb->msgs[i].msg_hdr.msg_iovlen = 1;
		rb->msgs[i].msg_hdr.msg_name = &rb->names[i];
		rb->msgs[i].msg_hdr.msg_control = rb->ctrl[i];
	}
	return rb;
}

/* The lanes and their buffers: `n` receive threads, or 1 (no thread). */
static int lanes_new(struct collector *co, unsigned n)
{
	unsigned k;

	co->lanes = calloc(n, sizeof(*co->lanes));
	if (co->lanes == NULL)
		return -1;
	co->nlanes = n;
	co->threaded = n > 1;
	for (k = 0; k < n; k++) {
		struct lane *ln = &co->lanes[k];
		ln->co = co;
		ln->idx = k;
		pthread_mutex_init(&ln->mu, NULL);
		/* -f decodes from the capture's own buffer */
		if (co->cfg->import[0])
			continue;
		if ((ln->rb = recv_bufs_new()) == NULL)
			return -1;
	}
	return 0;
}

static void lanes_free(struct collector *co)
{
	unsigned k;

	for (k = 0; co->lanes && k < co->nlanes; k++) {
		pthread_mutex_destroy(&co->lanes[k].mu);
		free(co->lanes[k].rb);
	}
	free(co->lanes);
	co->lanes = NULL;
}

/* ---- -f: import a capture ---- */

static int start_trees(struct collector *co, time_t now)
{
	char err[512];

	co->trees = trees_new(co->cfg, co->nlanes, now, err, sizeof(err));
	if (co->trees == NULL) {
		fy_err("%s", err);
		return -1;
	}
	if (co->threaded)
		trees_set_guard(co->trees, trees_guard, co);
	if (setup_listeners(co)) {
		fy_err("out of memory setting up listeners");
		return -1;
	}
	return 0;
}

static int import_capture(struct collector *co)
{
	const char *path = co->cfg->import;
	struct fy_pcap_udp *p;
	struct fy_udp_pkt u;
	char err[512];
	int r;

	p = fy_pcap_udp_open(path, err, sizeof(err));
	if (p == NULL) {
		fy_err("-f: %s", err);
		return -1;
	}
	while ((r = fy_pcap_udp_next(p, &u)) == 1) {
		time_t sec = (time_t)(u.ts_ms / 1000);
		time_t slot = fy_ftree_slot_start(sec, co->cfg->rotate);
		struct listener *l;
		size_t i;

		/* the capture's clock drives the files and their rotation */
		if (co->trees == NULL) {
			if (start_trees(co, sec)) {
				r = -1;
				break;
			}
			co->slot = slot;
		} else if (slot > co->slot) {
			trees_rotate(co->trees, sec, false, false);
			co->slot = slot;
		}
		/* a listener on the packet's port takes it, else the first */
		l = &co->listeners[0];
		for (i = 0; i < co->nlisteners; i++)
			if (co->listeners[i].cfg->port == u.dport)
				l = &co->listeners[i];
		collector_packet(co, &l->rx[0], &u.src, u.sport, u.payload,
				 u.len, u.ts_ms);
	}
	if (r < 0 && co->trees)
		fy_err("-f: %s", fy_pcap_udp_error(p));
	fy_notice("-f %s: %llu UDP datagrams imported", path,
		  (unsigned long long)fy_pcap_udp_stats(p)->udp);
	fy_pcap_udp_close(p);
	return r < 0 ? -1 : 0;
}

/* ---- timers and signals ---- */

static void on_flush(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct collector *co = w->data;

	(void)loop;
	(void)revents;
	uint64_t now = co_now_ms();
	size_t i;
	unsigned k;

	co_pause(co);
	trees_flush(co->trees);
	for (i = 0; i < co->nlisteners; i++)
		for (k = 0; k < co->nlanes; k++)
			fy_nfdec_expire(co->listeners[i].rx[k].dec, now);
	co_log_limits(co, now);
	co_resume(co);
}

static void on_rotate(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct collector *co = w->data;

	(void)revents;
	trees_rotate(co->trees, (time_t)ev_now(loop), false, false);
}

static void on_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	fy_notice("signal %d: closing files and exiting", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

struct strvec {
	char **v;
	size_t n;
};

static void sv_add(struct strvec *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sv_add(struct strvec *sv, const char *fmt, ...)
{
	char buf[512], **v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fy_notice("reload: %s", buf);
	v = realloc(sv->v, (sv->n + 1) * sizeof(*v));
	if (v == NULL)
		return;
	sv->v = v;
	if ((v[sv->n] = strdup(buf)) != NULL)
		sv->n++;
}

static bool writer_settings_differ(const struct cfg *a, const struct cfg *b)
{
	return a->layout != b->layout || a->rotate != b->rotate ||
	       a->localtime != b->localtime || a->lz4_level != b->lz4_level ||
	       a->expire != b->expire || a->max_age_s != b->max_age_s ||
	       a->max_size != b->max_size || strcmp(a->exec, b->exec) ||
	       a->flush_ms != b->flush_ms ||
	       a->recv_threads != b->recv_threads ||
	       memcmp(&a->limits, &b->limits, sizeof(a->limits)) != 0;
}

int collector_reload(struct collector *co, char ***changes, size_t *n,
		     char *err, size_t errlen)
{
	struct cfg *nc = calloc(1, sizeof(*nc));
	struct listener *nl = NULL;
	struct strvec sv = {0};
	long *from = NULL; /* the old listener a new one takes over, or -1 */
	bool *used = NULL, unwatched = false;
	int *fds = NULL;
	size_t i, j;
	unsigned k;

	*changes = NULL;
	*n = 0;
	if (nc == NULL || (used = calloc(co->nlisteners + 1, 1)) == NULL ||
	    (fds = calloc(co->nlanes, sizeof(*fds))) == NULL)
		goto nomem;
	if (cfg_from_args(nc, co->argc, co->argv) != 0) {
		snprintf(err, errlen, "reload refused, nothing changed: %s",
			 cfg_last_error());
		cfg_free(nc);
		free(nc);
		free(used);
		free(fds);
		return -1;
	}
	if (writer_settings_differ(nc, co->cfg))
		sv_add(&sv, "rotation, layout, compression, flush, -x, "
			    "retention, receive threads and decoder limits "
			    "need a restart for running listeners: kept as "
			    "they were");
	nl = calloc(nc->nlisteners + 1, sizeof(*nl));
	from = calloc(nc->nlisteners + 1, sizeof(*from));
	if (nl == NULL || from == NULL)
		goto nomem;
	/* the receive threads stop while sockets and decoders change
	 * hands; what arrives meanwhile waits in the sockets */
	rx_unwatch(co);
	unwatched = true;
	/* a failure from here gives the sockets, decoders and -M lists
	 * taken over back to the old listeners (nomem) */
	for (i = 0; i < nc->nlisteners; i++) {
		struct cfg_listener *c = &nc->listeners[i];
		struct listener *l = &nl[i];

		from[i] = -1;
		for (j = 0; j < co->nlisteners; j++) {
			struct listener *o = &co->listeners[j];
			if (used[j] || o->cfg->port != c->port ||
			    strcmp(o->cfg->bind, c->bind) ||
			    o->cfg->family != c->family)
				continue;
			used[j] = true;
			from[i] = (long)j;
			break;
		}
		if (from[i] >= 0) {
			struct listener *o = &co->listeners[from[i]];

			l->co = co;
			l->cfg = c;
			pthread_mutex_init(&l->dyn_lock, NULL);
			/* sockets, counters and templates survive a
			 * reload; the threads' route caches do not */
			l->rx = o->rx;
			o->rx = NULL;
			for (k = 0; k < co->nlanes; k++) {
				l->rx[k].l = l;
				l->rx[k].nseen = 0;
			}
			if (strcmp(o->cfg->dynamic_dir, c->dynamic_dir) == 0) {
				l->dyn = o->dyn;
				l->ndyn = o->ndyn;
				l->dyncap = o->dyncap;
				o->dyn = NULL;
			}
		} else {
			if (listener_init(co, l, c, &nc->limits))
				goto nomem;
			if (open_sockets_of(nc, c, fds, co->nlanes))
				sv_add(&sv,
				       "listener %s port %u: cannot open "
				       "(see the log)",
				       c->bind[0] ? c->bind : "*", c->port);
			else
				sv_add(&sv, "listener %s port %u added",
				       c->bind[0] ? c->bind : "*", c->port);
			for (k = 0; k < co->nlanes; k++)
				l->rx[k].fd = fds[k];
		}
		if (listener_routes(co, l))
			goto nomem;
		sv_add(&sv, "listener %s port %u: ident %s, %u source(s)%s%s",
		       c->bind[0] ? c->bind : "*", c->port,
		       c->ident[0] ? c->ident : "-", c->nsources,
		       c->dynamic_dir[0] ? ", dynamic " : "", c->dynamic_dir);
	}
	for (j = 0; j < co->nlisteners; j++) {
		struct listener *o = &co->listeners[j];
		if (!used[j])
			sv_add(&sv, "listener %s port %u removed",
			       o->cfg->bind[0] ? o->cfg->bind : "*",
			       o->cfg->port);
		listener_free(co, o);
	}
	free(co->listeners);
	co->listeners = nl;
	co->nlisteners = nc->nlisteners;
	rx_watch(co);
	if (co->lcfg != co->cfg) {
		cfg_free(co->lcfg);
		free(co->lcfg);
	}
	co->lcfg = nc;
	free(used);
	free(from);
	free(fds);
	*changes = sv.v;
	*n = sv.n;
	return 0;
nomem:
	snprintf(err, errlen, "reload: out of memory");
	for (i = 0; nl && from && i < nc->nlisteners; i++) {
		struct listener *l = &nl[i];
		if (from[i] >= 0 && l->rx) {
			struct listener *o = &co->listeners[from[i]];
			o->rx = l->rx;
			l->rx = NULL;
			for (k = 0; k < co->nlanes; k++) {
				o->rx[k].l = o;
				o->rx[k].nseen = 0;
			}
			if (o->dyn == NULL && l->dyn) {
				o->dyn = l->dyn;
				l->dyn = NULL;
			}
		}
		listener_free(co, l);
	}
	if (unwatched)
		rx_watch(co);
	free(used);
	free(from);
	free(fds);
	if (nc) {
		cfg_free(nc);
		free(nc);
	}
	free(nl);
	for (i = 0; i < sv.n; i++)
		free(sv.v[i]);
	free(sv.v);
	return -1;
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct collector *co = w->data;
	char **ch, err[512];
	size_t n, i;

	(void)loop;
	(void)revents;
	fy_notice("SIGHUP: reloading the configuration");
	if (collector_reload(co, &ch, &n, err, sizeof(err))) {
		fy_err("%s", err);
		return;
	}
	for (i = 0; i < n; i++)
		free(ch[i]);
	free(ch);
}

static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct collector *co = w->data;

	(void)revents;
	fy_notice("SIGUSR1: rotating now");
	trees_rotate(co->trees, (time_t)ev_now(loop), false, false);
}

/* ---- process ---- */

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fy_err("-P %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
}

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		fy_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	setsid();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	fy_log_syslog(true);
	return 0;
}

/* Who the daemon becomes (-u, -g or their configuration file lines). */
struct run_ids {
	uid_t uid;
	gid_t gid;
	bool change;
};

/*
 * Looks up the user and the groups before anything is opened: a name
 * that does not exist stops the start, naming the option.
 */
static int resolve_ids(const struct cfg *c, struct run_ids *ids)
{
	ids->uid = getuid();
	ids->gid = getgid();
	ids->change = c->user[0] || c->group[0];
	if (c->group[0]) {
		struct group *g = getgrnam(c->group);
		if (g == NULL) {
			fprintf(stderr,
				"collectord: -g/group '%s': no such group\n",
				c->group);
			return -1;
		}
		ids->gid = g->gr_gid;
	}
	if (c->user[0]) {
		struct passwd *pw = getpwnam(c->user);
		if (pw == NULL) {
			fprintf(stderr,
				"collectord: -u/user '%s': no such user\n",
				c->user);
			return -1;
		}
		ids->uid = pw->pw_uid;
		if (!c->group[0])
			ids->gid = pw->pw_gid;
	}
	if (c->socket_group[0]) {
		char *end;
		errno = 0;
		(void)strtoul(c->socket_group, &end, 10);
		/* a number is taken as it is, as the control socket does */
		if ((*end || errno) && getgrnam(c->socket_group) == NULL) {
			fprintf(stderr,
				"collectord: --socket-group/socket-group "
				"'%s': no such group\n",
				c->socket_group);
			return -1;
		}
	}
	return 0;
}

/* Gives the trees to the user the daemon becomes, then becomes it. */
static int drop_privileges(const struct cfg *c, const struct run_ids *ids)
{
	uid_t uid = ids->uid;
	gid_t gid = ids->gid;
	unsigned i;

	if (!ids->change)
		return 0;
	for (i = 0; i < c->nlisteners; i++) {
		const struct cfg_listener *l = &c->listeners[i];
		unsigned j;
		if (l->dir[0] &&
		    (fy_mkdir_p(l->dir, 0755) || lchown(l->dir, uid, gid)))
			fy_warn("%s: %s", l->dir, strerror(errno));
		for (j = 0; j < l->nsources; j++)
			if (fy_mkdir_p(l->sources[j].dir, 0755) ||
			    lchown(l->sources[j].dir, uid, gid))
				fy_warn("%s: %s", l->sources[j].dir,
					strerror(errno));
		if (l->dynamic_dir[0] && (fy_mkdir_p(l->dynamic_dir, 0755) ||
					  lchown(l->dynamic_dir, uid, gid)))
			fy_warn("%s: %s", l->dynamic_dir, strerror(errno));
	}
	if (setgroups(1, &gid) || setgid(gid) || setuid(uid)) {
		fy_err("cannot become uid %ld gid %ld: %s", (long)uid,
		       (long)gid, strerror(errno));
		return -1;
	}
	/* make sure there is no way back */
	if (uid != 0 && setuid(0) == 0) {
		fy_err("-u %s: could become root again", c->user);
		return -1;
	}
	fy_notice("running as uid %ld gid %ld", (long)uid, (long)gid);
	return 0;
}

static void print_totals(struct collector *co)
{
	size_t i;

	for (i = 0; i < trees_count(co->trees); i++) {
		struct tree *t = trees_at(co->trees, i);
		struct tree_stats sts, *st = &sts;

		tree_stats(co->trees, t, &sts);
		fy_notice("tree %s: %llu packets, %llu flows, %llu bytes, "
			  "%llu sequence failures, %llu flows lost",
			  tree_ident(t), (unsigned long long)st->packets,
			  (unsigned long long)st->flows,
			  (unsigned long long)st->bytes,
			  (unsigned long long)st->seq_failures,
			  (unsigned long long)st->lost_flows);
	}
}

static int run_live(struct collector *co)
{
	struct ev_loop *loop = co->loop;
	ev_timer flush;
	ev_periodic rot;
	ev_signal sterm, sint, susr1, shup;

	if (rx_watch(co)) {
		rx_unwatch(co);
		return -1;
	}
	ev_timer_init(&flush, on_flush, co->cfg->flush_ms / 1000.0,
		      co->cfg->flush_ms / 1000.0);
	flush.data = co;
	ev_timer_start(loop, &flush);
	ev_periodic_init(&rot, on_rotate, 0., (double)co->cfg->rotate, 0);
	rot.data = co;
	ev_periodic_start(loop, &rot);
	ev_signal_init(&sterm, on_stop, SIGTERM);
	ev_signal_init(&sint, on_stop, SIGINT);
	ev_signal_init(&susr1, on_usr1, SIGUSR1);
	ev_signal_init(&shup, on_hup, SIGHUP);
	susr1.data = co;
	shup.data = co;
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &susr1);
	ev_signal_start(loop, &shup);
	ev_run(loop, 0);
	/* the receive threads end between two wakeups: nothing half done */
	rx_unwatch(co);
	trees_flush(co->trees);
	return 0;
}

static void collector_free(struct collector *co)
{
	size_t i;

	ctl_stop(co);
	trees_free(co->trees);
	for (i = 0; i < co->nlisteners; i++)
		listener_free(co, &co->listeners[i]);
	free(co->listeners);
	for (i = 0; i < co->nfds; i++)
		if (co->fds[i] >= 0)
			close(co->fds[i]);
	free(co->fds);
	lanes_free(co);
	if (co->lcfg != co->cfg) {
		cfg_free(co->lcfg);
		free(co->lcfg);
	}
}

int main(int argc, char **argv)
{
	static struct cfg cfg;
	struct collector co = {.cfg = &cfg, .lcfg = &cfg};
	struct run_ids ids;
	int r;

	fy_log_init("collectord");
	r = cfg_from_args(&cfg, argc, argv);
	if (r) {
		cfg_free(&cfg);
		return r > 0 ? 0 : 2;
	}
	if (resolve_ids(&cfg, &ids)) {
		cfg_free(&cfg);
		return 2;
	}
	co.argc = argc;
	co.argv = argv;
	if (cfg.verbose)
		fy_log_level = cfg.verbose > 1 ? FY_LOG_DEBUG : FY_LOG_INFO;
	signal(SIGPIPE, SIG_IGN);
	co.start_ms = co_now_ms();
	if (lanes_new(&co, cfg.import[0] ? 1 : cfg.recv_threads)) {
		fy_err("out of memory");
		r = -1;
		goto out;
	}
	if (cfg.import[0]) {
		r = import_capture(&co);
		goto out;
	}
	r = -1;
	if (open_sockets(&co) || (cfg.daemon && daemonize()) ||
	    (cfg.pidfile[0] && write_pidfile(cfg.pidfile)))
		goto out;
	co.loop = EV_DEFAULT;
	/* the control socket may live where only root can create it */
	if (ctl_start(&co, co.loop))
		fy_warn("running without a control socket");
	if (drop_privileges(&cfg, &ids) ||
	    start_trees(&co, (time_t)(co.start_ms / 1000)))
		goto out;
	r = run_live(&co);
out:
	if (co.trees) {
		size_t i;
		unsigned k;
		for (i = 0; i < co.nlisteners; i++)
			for (k = 0; co.listeners[i].rx && k < co.nlanes; k++)
				fy_nfdec_expire(co.listeners[i].rx[k].dec,
						UINT64_MAX);
		trees_rotate(co.trees, 0, true, true);
		print_totals(&co);
	}
	collector_free(&co);
	if (cfg.pidfile[0] && !cfg.import[0])
		unlink(cfg.pidfile);
	cfg_free(&cfg);
	return r ? 1 : 0;
}
