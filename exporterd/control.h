/*
 * control.h - exporterd's side of the control socket (lib/ctl.h,
 * docs/control-api.md): Status, DumpFlows, ExpireAll, SendTemplates and
 * SetLogLevel, served in the probe's event loop. The collectord commands
 * (Exporters, Templates, Rotate, Reload) get ERROR_NOT_SUPPORTED.
 *
 * Every handler does a bounded amount of work per call and never waits:
 * a flow dump is sent in parts, each made from a slice of the flow cache,
 * with packet reception between two parts.
 */
#ifndef FY_EXPORTERD_CONTROL_H
#define FY_EXPORTERD_CONTROL_H

#include <pcap/pcap.h>

#include "config.h"
#include "probe.h"

struct ev_loop; /* libev */
struct xctl;

/*
 * Makes the socket at cfg->socket_path (mode 0660, group
 * cfg->socket_group) and serves it in `loop`. It reads the capture
 * statistics of `pc` and the state of `p`, which must outlive it. Call it
 * while still privileged: the socket's directory may be root's. Returns
 * NULL if the socket cannot be made (the reason is logged).
 */
struct xctl *xctl_start(struct ev_loop *loop, const struct xcfg *cfg,
			pcap_t *pc, struct probe *p);

/* Closes the clients and the socket and removes its file. NULL is fine. */
void xctl_stop(struct xctl *x);

#endif
