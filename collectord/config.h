/*
 * config.h - collectord's effective configuration.
 *
 * One structure, filled from the command line (nfcapd's flags) or from a
 * file given with -c that can define several listeners; printed back by
 * -T. A listener is one UDP socket; each of its packets goes to a tree: the
 * tree of the source's address (-n / `source`), a tree made on the fly per
 * new exporter address (-M / `dynamic`), or the listener's default tree
 * (-I / `listen ident=`).
 */
#ifndef COLLECTORD_CONFIG_H
#define COLLECTORD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "flow.h"
#include "nf_decode.h"

#define CFG_MAX_LISTENERS 64
#define CFG_MAX_SOURCES 256
#define CFG_MAX_SOURCE_ADDRS 16
#define CFG_PATH_MAX 1024
#define CFG_IDENT_MAX 64
#define CFG_MAX_RECV_THREADS 64

struct cfg_source {
	char ident[CFG_IDENT_MAX];
	char dir[CFG_PATH_MAX]; /* the tree; base/ident when not given */
	struct fy_addr addrs[CFG_MAX_SOURCE_ADDRS];
	unsigned naddrs;
};

struct cfg_listener {
	char bind[64]; /* address text; "" for every address */
	uint16_t port;
	int family;		   /* 0 dual stack, 4 or 6 only */
	char ident[CFG_IDENT_MAX]; /* default tree; "" if sources only */
	char dir[CFG_PATH_MAX];
	struct cfg_source *sources;
	unsigned nsources;
	char dynamic_dir[CFG_PATH_MAX]; /* -M: a tree per new exporter */
	unsigned dynamic_max;
};

struct cfg {
	char base[CFG_PATH_MAX]; /* -w */
	int layout;		 /* -S 0..8 */
	unsigned rotate;	 /* -t seconds */
	bool localtime;
	int lz4_level;		 /* -z lz4[:level]: 0 fast, 1..12 HC */
	int rcvbuf;		 /* -B, 0 = system default */
	char exec[CFG_PATH_MAX]; /* -x */
	bool expire;		 /* -e */
	uint64_t max_age_s;
	uint64_t max_size;
	unsigned flush_ms; /* blocks reach the disk at least this often */
	/* receive threads, each with its own socket on every listener
	 * (SO_REUSEPORT) and its own decoder; 1: the main loop receives */
	unsigned recv_threads;
	bool daemon; /* -D */
	char pidfile[CFG_PATH_MAX];
	char user[64];
	char group[64];
	char config_file[CFG_PATH_MAX];
	char import[CFG_PATH_MAX]; /* -f capture */
	bool print_flows;	   /* -E */
	int verbose;
	char socket_path[CFG_PATH_MAX];
	char socket_group[64];
	/* Decoder caps of each listener (sessions, templates, fields, data
	 * waiting for a template); cfg_finish fills the defaults in. */
	struct fy_nfdec_cfg limits;
	struct cfg_listener listeners[CFG_MAX_LISTENERS];
	unsigned nlisteners;
};

/*
 * Fills `c` from argv. Returns 0 to run, 1 when the command is done (-h,
 * -V), or -1 after printing an error that names the option.
 */
int cfg_from_args(struct cfg *c, int argc, char **argv);

/* Reads the -c file into `c` (listeners and settings). 0 or -1 + message. */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/* Checks consistency; fills defaults. 0 or -1 with a message. */
int cfg_finish(struct cfg *c, char *err, size_t errlen);

/* Prints the effective configuration in the -c file syntax (-T). */
void cfg_print(const struct cfg *c, FILE *out);

void cfg_free(struct cfg *c);

/* The message of the last error cfg_from_args printed. */
const char *cfg_last_error(void);

/* Parses "30d", "12h", "90m", "3600" (seconds). -1 if not a duration. */
int cfg_parse_duration(const char *s, uint64_t *out);
/* Parses "10G", "500M", "4096" (bytes). */
int cfg_parse_size(const char *s, uint64_t *out);

#endif
