/*
 * probe.c - the packet path and its loops, see probe.h.
 */
#include "probe.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

#include "capture.h"
#include "log.h"
#include "pkt_decode.h"

/* Packets per pcap_dispatch(): the batch between two export sends. */
#define DISPATCH_BATCH 1024
/* Live: batches per wakeup, so that timers and signals are not starved. */
#define LIVE_BATCHES 16
#define TICK_S 1.0

struct probe {
	const struct xcfg *cfg;
	pcap_t *pc;
	int dlt;
	unsigned decode_opts;
	struct fc_cache *cache;
	struct exp *x;
	uint64_t now; /* the clock: packet times, and wall time when live */
	uint64_t sample_n;
	uint64_t rng;
	uint64_t last_stats;
	int error; /* a start-up failure inside the packet callback */
	struct probe_stats stats;
	struct ev_loop *loop;
	struct ev_loop *serve; /* file mode: polled between batches */
};

/* File mode has no event loop: signals set this and break pcap's loop. */
static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t stats_requested;
static pcap_t *stop_pcap;

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_flow(void *arg, const struct fy_flow *f)
{
	struct probe *p = arg;

	exp_add(p->x, f, p->now);
}

static uint64_t random_seed(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), 0) != sizeof(s))
		s = wall_ms() ^ (uint64_t)(uintptr_t)&s;
	return s ? s : 0x9e3779b97f4a7c15ull;
}

struct probe *probe_new(const struct xcfg *cfg, pcap_t *pc, struct exp *x,
			char *err, size_t errlen)
{
	struct fc_cfg cc;
	struct probe *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->cfg = cfg;
	p->pc = pc;
	p->dlt = pcap_datalink(pc);
	p->decode_opts = cfg->no_decap ? FY_PKT_O_NO_DECAP : 0;
	p->x = x;
	p->rng = random_seed();

	memset(&cc, 0, sizeof(cc));
	cc.max_flows = cfg->max_flows;
	cc.to = cfg->to;
	cc.biflow = cfg->biflow;
	cc.key_vlan = cfg->key_vlan;
	cc.seed[0] = random_seed();
	cc.seed[1] = random_seed();
	cc.sampling_interval = cfg->sampling > 1 ? cfg->sampling : 0;
	cc.domain = cfg->domain;
	p->cache = fc_new(&cc, on_flow, p);
	if (p->cache == NULL) {
		snprintf(err, errlen,
			 "-m/--max-flows %" PRIu32
			 ": cannot allocate the cache",
			 cfg->max_flows);
		free(p);
		return NULL;
	}
	return p;
}

void probe_free(struct probe *p)
{
	if (p == NULL)
		return;
	fc_free(p->cache);
	free(p);
}

/* xorshift64*: cheap, and plenty for picking packets at random. */
static uint64_t next_random(struct probe *p)
{
	p->rng ^= p->rng >> 12;
	p->rng ^= p->rng << 25;
	p->rng ^= p->rng >> 27;
	return p->rng * 0x2545f4914f6cdd1dull;
}

/* 1-in-N: deterministic takes the 1st, (N+1)th, ...; random each 1/N. */
static bool sampled(struct probe *p)
{
	uint32_t n = p->cfg->sampling;

	if (n <= 1)
		return true;
	if (p->cfg->sampling_random)
		return next_random(p) % n == 0;
	return p->sample_n++ % n == 0;
}

/* The encoders' uptime base is the first packet's time (file mode). */
static bool start_export(struct probe *p, uint64_t ts)
{
	char err[256];

	if (exp_started(p->x))
		return true;
	if (exp_start(p->x, ts, err, sizeof(err)) == 0)
		return true;
	fy_err("%s", err);
	p->error = -1;
	pcap_breakloop(p->pc);
	return false;
}

static void count_status(struct probe *p, int st)
{
	switch (st) {
	case FY_PKT_NOT_IP:
		p->stats.not_ip++;
		break;
	case FY_PKT_TRUNCATED:
		p->stats.truncated++;
		break;
	default:
		p->stats.malformed++;
		break;
	}
}

static void on_frame(u_char *arg, const struct pcap_pkthdr *h,
		     const u_char *bytes)
{
	struct probe *p = (struct probe *)arg;
	uint64_t ts =
		(uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000;
	struct fy_pkt pkt;
	int st;

	if (!start_export(p, ts))
		return;
	p->stats.frames++;
	if (ts > p->now)
		p->now = ts;
	if (!sampled(p)) {
		p->stats.sampled_out++;
		return;
	}
	st = fy_pkt_decode(p->dlt, bytes, h->caplen, h->len, p->decode_opts,
			   &pkt);
	if (st != FY_PKT_OK) {
		count_status(p, st);
		return;
	}
	p->stats.decoded++;
	if (pkt.flags & FY_PKT_F_SNAPPED)
		p->stats.snapped++;
	if (pkt.flags & FY_PKT_F_TUNNEL)
		p->stats.tunneled++;
	fc_packet(p->cache, &pkt, ts);
}

void probe_expire_all(struct probe *p)
{
	if (!exp_started(p->x))
		return;
	fc_expire_all(p->cache, FY_END_FORCED);
	exp_flush(p->x, p->now);
}

void probe_send_templates(struct probe *p)
{
	if (exp_started(p->x))
		exp_request_templates(p->x, p->now);
}

const struct probe_stats *probe_stats(const struct probe *p)
{
	return &p->stats;
}

struct fc_cache *probe_cache(struct probe *p)
{
	return p->cache;
}

struct exp *probe_exporter(struct probe *p)
{
	return p->x;
}

void probe_log_stats(struct probe *p)
{
	const struct probe_stats *s = &p->stats;
	const struct fc_stats *c = fc_stats(p->cache);
	size_t i;

	if (p->cfg->iface)
		p->stats.kernel_drops = cap_kernel_drops(p->pc);
	fy_notice("packets %" PRIu64 " accounted %" PRIu64 " (bytes %" PRIu64
		  ") sampled-out %" PRIu64 " not-ip %" PRIu64
		  " truncated %" PRIu64 " malformed %" PRIu64
		  " snapped %" PRIu64 " tunneled %" PRIu64
		  " kernel-drops %" PRIu64,
		  s->frames, c->packets, c->bytes, s->sampled_out, s->not_ip,
		  s->truncated, s->malformed, s->snapped, s->tunneled,
		  s->kernel_drops);
	fy_notice("flows created %" PRIu64 " exported %" PRIu64
		  " active %" PRIu64 " peak %" PRIu64 " ends idle %" PRIu64
		  " active %" PRIu64 " eof %" PRIu64 " forced %" PRIu64
		  " resources %" PRIu64 " evicted %" PRIu64
		  " fragments first %" PRIu64 " joined %" PRIu64
		  " orphans %" PRIu64,
		  c->flows_created, c->flows_exported, c->flows_active,
		  c->flows_peak, c->end_reason[FY_END_IDLE],
		  c->end_reason[FY_END_ACTIVE], c->end_reason[FY_END_EOF],
		  c->end_reason[FY_END_FORCED],
		  c->end_reason[FY_END_LACK_OF_RESOURCES], c->evicted,
		  c->frag_first, c->frag_joined, c->frag_orphans);
	for (i = 0; i < exp_count(p->x); i++) {
		const struct exp_dest_stats *d = exp_dest_stats(p->x, i);
		const struct fy_nfenc_stats *e = exp_enc_stats(p->x, i);

		fy_notice("collector %s: records %" PRIu64 " skipped %" PRIu64
			  " messages %" PRIu64 " bytes %" PRIu64
			  " refused %" PRIu64 " dropped %" PRIu64
			  " errors %" PRIu64,
			  exp_dest(p->x, i)->name, e ? e->records : 0,
			  e ? e->skipped : 0, d->messages, d->bytes, d->refused,
			  d->dropped, d->send_errors);
	}
}

/* ---- capture file ---- */

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
	if (stop_pcap != NULL)
		pcap_breakloop(stop_pcap);
}

static void on_stats_signal(int sig)
{
	(void)sig;
	stats_requested = 1;
}

static void set_signals(void (*stop)(int), void (*stats)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = stats;
	(void)sigaction(SIGUSR1, &sa, NULL);
}

void probe_serve(struct probe *p, struct ev_loop *loop)
{
	p->serve = loop;
}

int probe_run_file(struct probe *p)
{
	int r = 0, n;

	stop_pcap = p->pc;
	set_signals(on_stop_signal, on_stats_signal);
	while (!stop_requested) {
		n = pcap_dispatch(p->pc, DISPATCH_BATCH, on_frame, (u_char *)p);
		if (p->error) {
			r = -1;
			break;
		}
		if (n == PCAP_ERROR) {
			fy_err("-r %s: %s", p->cfg->rfile, pcap_geterr(p->pc));
			r = -1;
			break;
		}
		exp_send(p->x);
		if (p->serve != NULL)
			ev_run(p->serve, EVRUN_NOWAIT);
		if (stats_requested) {
			stats_requested = 0;
			probe_log_stats(p);
		}
		if (n == 0)
			break; /* end of file */
	}
	/* A file that ends in the middle still exports what it had. */
	probe_expire_all(p);
	stop_pcap = NULL;
	set_signals(SIG_DFL, SIG_IGN);
	return r;
}

/* ---- live ---- */

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct probe *p = w->data;
	int i, n;

	(void)revents;
	for (i = 0; i < LIVE_BATCHES; i++) {
		n = pcap_dispatch(p->pc, DISPATCH_BATCH, on_frame, (u_char *)p);
		if (p->error || n == PCAP_ERROR) {
			if (n == PCAP_ERROR)
				fy_err("-i %s: %s", p->cfg->iface,
				       pcap_geterr(p->pc));
			p->error = -1;
			ev_break(loop, EVBREAK_ALL);
			return;
		}
		if (n < DISPATCH_BATCH)
			break;
	}
	exp_send(p->x);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p = w->data;
	uint64_t wall = wall_ms();

	(void)loop;
	(void)revents;
	if (wall > p->now)
		p->now = wall;
	fc_expire(p->cache, p->now);
	exp_tick(p->x, p->now);
	/* On a quiet link a half-full message would wait for ever. */
	exp_flush(p->x, p->now);
	if (p->cfg->stats_interval_s &&
	    p->now - p->last_stats >= p->cfg->stats_interval_s * 1000ull) {
		p->last_stats = p->now;
		probe_log_stats(p);
	}
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct probe *p = w->data;

	(void)revents;
	if (w->signum == SIGUSR1) {
		probe_log_stats(p);
		return;
	}
	fy_notice("signal %d: exporting every flow", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

int probe_run_live(struct probe *p)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	ev_io io;
	ev_timer tick;
	ev_signal sterm, sint, susr1;
	char err[256];
	int fd;

	if (loop == NULL) {
		fy_err("cannot create the event loop");
		return -1;
	}
	fd = pcap_get_selectable_fd(p->pc);
	if (fd < 0) {
		fy_err("-i %s: no selectable descriptor", p->cfg->iface);
		return -1;
	}
	p->now = p->last_stats = wall_ms();
	if (exp_start(p->x, p->now, err, sizeof(err)) != 0) {
		fy_err("%s", err);
		return -1;
	}
	p->loop = loop;
	ev_io_init(&io, on_readable, fd, EV_READ);
	ev_timer_init(&tick, on_tick, TICK_S, TICK_S);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&susr1, on_signal, SIGUSR1);
	io.data = tick.data = sterm.data = sint.data = susr1.data = p;
	ev_io_start(loop, &io);
	ev_timer_start(loop, &tick);
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &susr1);

	ev_run(loop, 0);

	ev_io_stop(loop, &io);
	ev_timer_stop(loop, &tick);
	ev_signal_stop(loop, &sterm);
	ev_signal_stop(loop, &sint);
	ev_signal_stop(loop, &susr1);
	/* the final export: what the clock says now */
	if (wall_ms() > p->now)
		p->now = wall_ms();
	probe_expire_all(p);
	return p->error ? -1 : 0;
}
