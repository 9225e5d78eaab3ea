/*
 * config.h - exporterd's command line: options, defaults, checks, the
 * effective configuration (-T) and the help (-h), all from one table.
 */
#ifndef FY_EXPORTERD_CONFIG_H
#define FY_EXPORTERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cache.h"
#include "export.h"

#define CFG_MAX_COLLECTORS 32

struct xcfg {
	/* capture */
	const char *iface; /* -i */
	const char *rfile; /* -r */
	char *filter;	   /* -f or trailing arguments; owned */
	int snaplen;	   /* -C */
	int bufsize;	   /* -B, bytes; 0: libpcap's default */
	bool promisc;	   /* --no-promisc clears it */
	bool immediate;	   /* --immediate */
	bool no_decap;	   /* --no-decap */

	/* export */
	struct exp_dest dest[CFG_MAX_COLLECTORS]; /* -n */
	size_t ndest;
	uint8_t version;   /* -v 5|9|10 */
	uint16_t mtu;	   /* --mtu */
	uint32_t sampling; /* -s, 1-in-N; 0 or 1: none */
	bool sampling_random;
	bool biflow;		    /* -b */
	uint32_t domain;	    /* -o */
	int engine_type, engine_id; /* v5; -1: derived from the domain */
	bool with_macs, with_vlan;
	uint32_t tmpl_refresh_packets;
	uint32_t tmpl_refresh_ms;

	/* flow cache */
	uint32_t max_flows; /* -m */
	struct fc_timeouts to;
	bool key_vlan; /* --with-vlan also keys flows by VLAN */

	/* operation */
	bool print_config; /* -T */
	bool daemon;	   /* -D */
	const char *pidfile;
	const char *user;
	int verbose; /* -q lowers, -x raises */
	uint32_t stats_interval_s;

	/* control socket */
	const char *socket_path;  /* --socket; the default when not given */
	bool socket_given;	  /* -r serves it only then */
	const char *socket_group; /* --socket-group; NULL: none */
};

/*
 * Fills `c` from argv. Returns 0 to run, 1 when -h or -V was handled
 * (exit 0), -1 on an error already printed to `err` naming the option
 * (exit 2). Free with cfg_free().
 */
int cfg_parse(struct xcfg *c, int argc, char **argv, FILE *out, FILE *err);

/* The effective configuration, one `name value` line each (-T). */
void cfg_print(const struct xcfg *c, FILE *out);

void cfg_usage(FILE *out);

void cfg_free(struct xcfg *c);

#endif
