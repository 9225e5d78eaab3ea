/*
 * main.c - exporterd: packets in, NetFlow v5/v9/IPFIX out.
 *
 * The order matters: parse and check the options; open the capture and
 * the collector sockets (which may need root); go to the background and
 * write the pidfile; make the control socket (its directory may be
 * root's), after the fork so that the event loop is the child's; drop
 * privileges; run. Only this file exits.
 */
#include <ev.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "export.h"
#include "log.h"
#include "probe.h"

#define EXIT_USAGE 2

static void enc_cfg(const struct xcfg *c, struct fy_nfenc_cfg *e)
{
	memset(e, 0, sizeof(*e));
	e->version = c->version;
	e->domain = c->domain;
	e->engine_type = (uint8_t)c->engine_type;
	e->engine_id = (uint8_t)c->engine_id;
	e->mtu = c->mtu;
	e->tmpl_refresh_packets = c->tmpl_refresh_packets;
	e->tmpl_refresh_ms = c->tmpl_refresh_ms;
	e->sampling_interval = c->sampling > 1 ? c->sampling : 0;
	e->sampling_random = c->sampling_random ? 1 : 0;
	e->with_macs = c->with_macs;
	e->with_vlan = c->with_vlan;
	e->biflow = c->biflow;
}

/* Background and pidfile: after everything privileged is open. */
static int become_daemon(const struct xcfg *c, char *err, size_t errlen)
{
	if (c->daemon) {
		if (dmn_daemonize(err, errlen) != 0)
			return -1;
		fy_log_syslog(true);
	}
	if (c->pidfile && dmn_write_pidfile(c->pidfile, err, errlen) != 0)
		return -1;
	return 0;
}

/*
 * The control socket, in the loop the probe runs (live) or polls (-r,
 * only when --socket is given: a replay next to a running probe must not
 * contend for the default path). Failing to make it is not fatal: a
 * probe is worth more without its socket than stopped.
 */
static struct xctl *start_control(const struct xcfg *c, pcap_t *pc,
				  struct probe *p)
{
	struct ev_loop *loop;
	struct xctl *ctl;

	if (c->rfile != NULL && !c->socket_given)
		return NULL;
	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL) {
		fy_warn("cannot create the event loop: running without a "
			"control socket");
		return NULL;
	}
	ctl = xctl_start(loop, c, pc, p);
	if (ctl == NULL)
		fy_warn("running without a control socket");
	else if (c->rfile != NULL)
		probe_serve(p, loop);
	return ctl;
}

int main(int argc, char **argv)
{
	struct xcfg cfg;
	struct fy_nfenc_cfg enc;
	char err[PCAP_ERRBUF_SIZE + 512];
	pcap_t *pc = NULL;
	struct exp *x = NULL;
	struct probe *p = NULL;
	struct xctl *ctl = NULL;
	int r, rc = EXIT_FAILURE;

	r = cfg_parse(&cfg, argc, argv, stdout, stderr);
	if (r != 0) {
		cfg_free(&cfg);
		return r > 0 ? EXIT_SUCCESS : EXIT_USAGE;
	}
	fy_log_init("exporterd");
	fy_log_level = cfg.verbose == 0	  ? FY_LOG_WARNING
		       : cfg.verbose == 1 ? FY_LOG_NOTICE
					  : FY_LOG_DEBUG;
	if (cfg.print_config) {
		cfg_print(&cfg, stdout);
		cfg_free(&cfg);
		return EXIT_SUCCESS;
	}
	/* A collector gone away must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	pc = cap_open(&cfg, err, sizeof(err));
	if (pc == NULL)
		goto fail;
	enc_cfg(&cfg, &enc);
	x = exp_new(&enc, cfg.dest, cfg.ndest, cfg.rfile != NULL, err,
		    sizeof(err));
	if (x == NULL)
		goto fail;
	p = probe_new(&cfg, pc, x, err, sizeof(err));
	if (p == NULL)
		goto fail;
	if (become_daemon(&cfg, err, sizeof(err)) != 0)
		goto fail;
	ctl = start_control(&cfg, pc, p);
	if (cfg.user && dmn_drop_privileges(cfg.user, err, sizeof(err)) != 0)
		goto fail;
	fy_debug("capturing on %s, exporting to %zu collector(s)",
		 cfg.iface ? cfg.iface : cfg.rfile, cfg.ndest);

	r = cfg.iface ? probe_run_live(p) : probe_run_file(p);
	probe_log_stats(p);
	rc = r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	goto out;
fail:
	fy_err("%s", err);
out:
	if (cfg.pidfile && p != NULL)
		(void)unlink(cfg.pidfile); /* may fail after -u: harmless */
	xctl_stop(ctl);
	probe_free(p);
	exp_free(x);
	cap_close(pc);
	cfg_free(&cfg);
	return rc;
}
