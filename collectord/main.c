/*
 * collectord - NetFlow v5/v9 and IPFIX collector.
 *
 * One libev loop receives on every listener with recvmmsg, decodes with
 * the shared decoder, routes each packet's flows to the tree of its
 * exporter and hands them to the writer thread (tree.c). Timers flush
 * partial blocks at least every --flush-ms and rotate files on the clock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
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

static struct tree *dynamic_tree(struct collector *co, struct listener *l,
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

struct tree *route(struct collector *co, struct listener *l,
		   const struct fy_addr *a)
{
	if (l->nsrc) {
		struct route_src key = {.addr = *a}, *hit;
		hit = bsearch(&key, l->src, l->nsrc, sizeof(key), src_cmp);
		if (hit)
			return hit->tree;
	}
	if (l->cfg->dynamic_dir[0])
		return dynamic_tree(co, l, a);
	return l->deftree;
}

/* ---- decoding one datagram ---- */

struct emit_ctx {
	struct collector *co;
	struct tree *tree;
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
	tree_add(ec->co->trees, ec->tree, f, n);
}

void collector_packet(struct collector *co, struct listener *l,
		      const struct fy_addr *src, uint16_t port,
		      const uint8_t *data, size_t len, uint64_t now_ms)
{
	struct fy_nf_src s = {.addr = *src, .port = port};
	struct emit_ctx ec = {.co = co};
	const struct fy_nfdec_result *res;

	l->packets++;
	ec.tree = route(co, l, src);
	if (ec.tree == NULL) {
		char a[FY_ADDR_STRLEN];
		if (l->unknown_source++ % 1000 == 0)
			fy_warn("listener port %u: packets from %s match no "
				"source: dropped (%llu so far)",
				l->cfg->port, fy_addr_str(src, a, sizeof(a)),
				(unsigned long long)l->unknown_source);
		return;
	}
	{
		/* flows are built in the tree's batch: no copy per flow */
		size_t room;
		struct fy_flow *tail = tree_tail(co->trees, ec.tree, &room);

		fy_nfdec_set_output(l->dec, tail, room);
	}
	fy_nfdec_decode(l->dec, &s, data, len, now_ms, on_flows, &ec);
	res = fy_nfdec_result(l->dec);
	if (res->stats)
		tree_note_packet(ec.tree, src, port, res->domain, res->version,
				 res->seq_failures, res->lost_flows);
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

/* Kernel drops since the last datagram, from SO_RXQ_OVFL. */
static void note_drops(struct listener *l, struct msghdr *mh)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SO_RXQ_OVFL) {
			uint32_t v;
			memcpy(&v, CMSG_DATA(cm), sizeof(v));
			l->kernel_drops = v;
		}
	}
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct collector *co = l->co;
	struct recv_bufs *rb = co->rb;
	int round;

	(void)loop;
	(void)revents;
	for (round = 0; round < RECV_ROUNDS; round++) {
		uint64_t now;
		int n, i;

		for (i = 0; i < RECV_BATCH; i++) {
			rb->msgs[i].msg_hdr.msg_namelen = sizeof(rb->names[i]);
			rb->msgs[i].msg_hdr.msg_controllen =
				sizeof(rb->ctrl[i]);
		}
		n = recvmmsg(l->fd, rb->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				fy_err("listener port %u: recvmmsg: %s",
				       l->cfg->port, strerror(errno));
			return;
		}
		now = co_now_ms();
		for (i = 0; i < n; i++) {
			struct fy_addr a;
			uint16_t port;
			sockaddr_to_addr(&rb->names[i], &a, &port);
			note_drops(l, &rb->msgs[i].msg_hdr);
			collector_packet(co, l, &a, port, rb->data[i],
					 rb->msgs[i].msg_len, now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

static int open_socket(const struct cfg *c, const struct cfg_listener *cl)
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
	return fd;
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

static int setup_listeners(struct collector *co)
{
	const struct cfg *c = co->lcfg;
	unsigned i;

	co->listeners = calloc(c->nlisteners, sizeof(*co->listeners));
	if (co->listeners == NULL)
		return -1;
	co->nlisteners = c->nlisteners;
	for (i = 0; i < c->nlisteners; i++) {
		struct listener *l = &co->listeners[i];
		l->co = co;
		l->cfg = &c->listeners[i];
		l->dec = fy_nfdec_new(&c->limits);
		if (l->dec == NULL)
			return -1;
		l->fd = co->fds ? co->fds[i] : -1;
		if (co->fds)
			co->fds[i] = -1; /* the listener owns it now */
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

	co->fds = calloc(c->nlisteners, sizeof(*co->fds));
	if (co->fds == NULL)
		return -1;
	co->nfds = c->nlisteners;
	for (i = 0; i < c->nlisteners; i++)
		co->fds[i] = -1;
	for (i = 0; i < c->nlisteners; i++) {
		const struct cfg_listener *cl = &c->listeners[i];
		co->fds[i] = open_socket(c, cl);
		if (co->fds[i] < 0)
			return -1;
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

/* ---- -f: import a capture ---- */

static int start_trees(struct collector *co, time_t now)
{
	char err[512];

	co->trees = trees_new(co->cfg, now, err, sizeof(err));
	if (co->trees == NULL) {
		fy_err("%s", err);
		return -1;
	}
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
		collector_packet(co, l, &u.src, u.sport, u.payload, u.len,
				 u.ts_ms);
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

	trees_flush(co->trees);
	for (i = 0; i < co->nlisteners; i++)
		fy_nfdec_expire(co->listeners[i].dec, now);
	co_log_limits(co, now);
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
	       memcmp(&a->limits, &b->limits, sizeof(a->limits)) != 0;
}

static void listener_stop(struct collector *co, struct listener *l)
{
	if (l->fd >= 0) {
		ev_io_stop(co->loop, &l->io);
		close(l->fd);
		l->fd = -1;
	}
}

static void listener_watch(struct collector *co, struct listener *l)
{
	if (l->fd < 0)
		return;
	ev_io_init(&l->io, on_readable, l->fd, EV_READ);
	l->io.data = l;
	ev_io_start(co->loop, &l->io);
}

int collector_reload(struct collector *co, char ***changes, size_t *n,
		     char *err, size_t errlen)
{
	struct cfg *nc = calloc(1, sizeof(*nc));
	struct listener *nl = NULL;
	struct strvec sv = {0};
	bool *used = NULL;
	size_t i, j;

	*changes = NULL;
	*n = 0;
	if (nc == NULL || (used = calloc(co->nlisteners + 1, 1)) == NULL)
		goto nomem;
	if (cfg_from_args(nc, co->argc, co->argv) != 0) {
		snprintf(err, errlen, "reload refused, nothing changed: %s",
			 cfg_last_error());
		cfg_free(nc);
		free(nc);
		free(used);
		return -1;
	}
	if (writer_settings_differ(nc, co->cfg))
		sv_add(&sv, "rotation, layout, compression, flush, -x, "
			    "retention and decoder limits need a restart for "
			    "running listeners: kept as they were");
	nl = calloc(nc->nlisteners, sizeof(*nl));
	if (nl == NULL)
		goto nomem;
	/* a failure from here keeps the old listeners: undo is not needed
	 * because they are only taken over, never changed, until the end */
	for (i = 0; i < nc->nlisteners; i++) {
		struct cfg_listener *c = &nc->listeners[i];
		struct listener *l = &nl[i];

		l->co = co;
		l->cfg = c;
		l->fd = -1;
		for (j = 0; j < co->nlisteners; j++) {
			struct listener *o = &co->listeners[j];
			if (used[j] || o->cfg->port != c->port ||
			    strcmp(o->cfg->bind, c->bind) ||
			    o->cfg->family != c->family)
				continue;
			used[j] = true;
			ev_io_stop(co->loop, &o->io);
			l->fd = o->fd;
			o->fd = -1;
			l->packets = o->packets;
			l->dec = o->dec; /* templates survive a reload */
			o->dec = NULL;
			l->unknown_source = o->unknown_source;
			l->kernel_drops = o->kernel_drops;
			if (strcmp(o->cfg->dynamic_dir, c->dynamic_dir) == 0) {
				l->dyn = o->dyn;
				l->ndyn = o->ndyn;
				l->dyncap = o->dyncap;
				o->dyn = NULL;
			}
			break;
		}
		if (l->dec == NULL &&
		    (l->dec = fy_nfdec_new(&nc->limits)) == NULL)
			goto nomem;
		if (j == co->nlisteners) {
			l->fd = open_socket(nc, c);
			if (l->fd < 0)
				sv_add(&sv,
				       "listener %s port %u: cannot open "
				       "(see the log)",
				       c->bind[0] ? c->bind : "*", c->port);
			else
				sv_add(&sv, "listener %s port %u added",
				       c->bind[0] ? c->bind : "*", c->port);
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
		listener_stop(co, o);
		free(o->src);
		free(o->dyn);
		fy_nfdec_free(o->dec);
	}
	free(co->listeners);
	co->listeners = nl;
	co->nlisteners = nc->nlisteners;
	for (i = 0; i < co->nlisteners; i++)
		listener_watch(co, &co->listeners[i]);
	if (co->lcfg != co->cfg) {
		cfg_free(co->lcfg);
		free(co->lcfg);
	}
	co->lcfg = nc;
	free(used);
	*changes = sv.v;
	*n = sv.n;
	return 0;
nomem:
	snprintf(err, errlen, "reload: out of memory");
	free(used);
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
		const struct tree_stats *st = tree_stats(t);
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
	size_t i;

	for (i = 0; i < co->nlisteners; i++)
		listener_watch(co, &co->listeners[i]);
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
	trees_flush(co->trees);
	return 0;
}

static void collector_free(struct collector *co)
{
	size_t i;

	ctl_stop(co);
	trees_free(co->trees);
	for (i = 0; i < co->nlisteners; i++) {
		if (co->listeners[i].fd >= 0)
			close(co->listeners[i].fd);
		free(co->listeners[i].src);
		free(co->listeners[i].dyn);
		fy_nfdec_free(co->listeners[i].dec);
	}
	free(co->listeners);
	for (i = 0; i < co->nfds; i++)
		if (co->fds[i] >= 0)
			close(co->fds[i]);
	free(co->fds);
	free(co->rb);
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
	co.rb = recv_bufs_new();
	if (co.rb == NULL) {
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
		for (i = 0; i < co.nlisteners; i++)
			fy_nfdec_expire(co.listeners[i].dec, UINT64_MAX);
		trees_rotate(co.trees, 0, true, true);
		print_totals(&co);
	}
	collector_free(&co);
	if (cfg.pidfile[0] && !cfg.import[0])
		unlink(cfg.pidfile);
	cfg_free(&cfg);
	return r ? 1 : 0;
}
