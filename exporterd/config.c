/*
 * config.c - exporterd's options, see config.h.
 *
 * One table row per option gives getopt_long() its entry, the short
 * option string and the help line, so the three cannot disagree.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "flow.h"

#define PROG "exporterd"
#define VERSION "0.1"

#define DEFAULT_SNAPLEN 256
#define DEFAULT_MAX_FLOWS 65536
#define MAX_MAX_FLOWS (1u << 31)
#define DEFAULT_IDLE_TCP_S 60
#define DEFAULT_IDLE_OTHER_S 30
#define DEFAULT_ACTIVE_S 300
#define DEFAULT_TCP_FIN_S 5
#define DEFAULT_TCP_RST_S 1
#define MAX_TIMEOUT_MS UINT32_MAX

/* Long-only options get ids above any character. */
enum {
	O_IMMEDIATE = 256,
	O_NO_DECAP,
	O_MTU,
	O_SAMPLING_RANDOM,
	O_ENGINE_TYPE,
	O_ENGINE_ID,
	O_WITH_MACS,
	O_WITH_VLAN,
	O_TMPL_PACKETS,
	O_TMPL_TIME,
	O_STATS_INTERVAL,
	O_VERBOSE,
	O_SOCKET,
	O_SOCKET_GROUP,
};

struct opt_def {
	const char *name;
	int id; /* short option character, or O_* */
	int has_arg;
	const char *arg;
	const char *help;
};

static const struct opt_def opts[] = {
	{"interface", 'i', 1, "IF",
	 "capture live on IF (\"any\": every interface)"},
	{"read", 'r', 1, "FILE", "read a pcap or pcapng file (\"-\": stdin)"},
	{"filter", 'f', 1, "EXPR",
	 "libpcap filter (tcpdump syntax); also as trailing arguments"},
	{"snaplen", 'C', 1, "BYTES", "capture length (default 256)"},
	{"buffer-size", 'B', 1, "BYTES",
	 "kernel capture buffer (default: libpcap's)"},
	{"no-promisc", 'N', 0, NULL,
	 "do not put the interface in promiscuous mode"},
	{"immediate", O_IMMEDIATE, 0, NULL,
	 "deliver each packet at once (lower latency, more wakeups)"},
	{"no-decap", O_NO_DECAP, 0, NULL,
	 "account 6in4/4in4 tunnels by their outer IPv4 header"},
	{"collector", 'n', 1, "HOST:PORT[,...]",
	 "export to HOST:PORT ([v6]:port for IPv6); repeatable"},
	{"nf-version", 'v', 1, "5|9|10",
	 "NetFlow v5, v9 or IPFIX (default 10)"},
	{"mtu", O_MTU, 1, "BYTES", "largest export message (default 1400)"},
	{"sampling", 's', 1, "N", "sample 1 packet in N (default: all)"},
	{"sampling-random", O_SAMPLING_RANDOM, 0, NULL,
	 "pick the sampled packets at random (default: every Nth)"},
	{"biflow", 'b', 0, NULL, "RFC 5103 bidirectional flows (IPFIX)"},
	{"domain", 'o', 1, "ID",
	 "observation domain (IPFIX) / source id (v9); default 0"},
	{"engine-type", O_ENGINE_TYPE, 1, "N", "v5 engine type (default 0)"},
	{"engine-id", O_ENGINE_ID, 1, "N",
	 "v5 engine id (default: the domain's low byte)"},
	{"with-macs", O_WITH_MACS, 0, NULL,
	 "export source and destination MACs"},
	{"with-vlan", O_WITH_VLAN, 0, NULL,
	 "export the VLAN id and key flows by it"},
	{"template-refresh-packets", O_TMPL_PACKETS, 1, "N",
	 "resend templates every N messages (default 20)"},
	{"template-refresh-time", O_TMPL_TIME, 1, "TIME",
	 "and at least every TIME (default 60s)"},
	{"max-flows", 'm', 1, "N",
	 "flow cache size, preallocated (default 65536)"},
	{"timeout", 't', 1, "NAME=TIME[,...]",
	 "idle: tcp, udp, icmp, general; after FIN/RST: tcp.fin, tcp.rst; "
	 "active: maxlife (all), tcp.active, udp.active, icmp.active, "
	 "general.active"},
	{"active-timeout", 'e', 1, "TIME",
	 "active timeout of every flow (300s)"},
	{"idle-timeout", 'd', 1, "TIME",
	 "idle timeout of every flow (tcp 60s, others 30s)"},
	{"print-config", 'T', 0, NULL,
	 "print the effective configuration, exit"},
	{"daemon", 'D', 0, NULL, "run in the background"},
	{"pidfile", 'P', 1, "FILE", "write the process id to FILE"},
	{"user", 'u', 1, "USER",
	 "drop to USER once the capture and sockets are open"},
	{"stats-interval", O_STATS_INTERVAL, 1, "TIME",
	 "log statistics every TIME (default: only on SIGUSR1 and at exit)"},
	{"socket", O_SOCKET, 1, "PATH",
	 "control socket (default " FY_CTL_EXPORTERD_SOCK
	 "; with -r only when given)"},
	{"socket-group", O_SOCKET_GROUP, 1, "GROUP",
	 "group allowed on the control socket besides root and USER"},
	{"quiet", 'q', 0, NULL, "log warnings and errors only"},
	{"verbose", O_VERBOSE, 0, NULL, "log debugging details"},
	{"help", 'h', 0, NULL, "this help"},
	{"version", 'V', 0, NULL, "print the version"},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const struct opt_def *find_opt(int id)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].id == id)
			return &opts[i];
	return NULL;
}

/* "-m/--max-flows" or "--mtu": how messages name an option. */
static const char *opt_name(int id, char *buf, size_t len)
{
	const struct opt_def *o = find_opt(id);

	if (o == NULL)
		snprintf(buf, len, "?");
	else if (o->id < 256)
		snprintf(buf, len, "-%c/--%s", o->id, o->name);
	else
		snprintf(buf, len, "--%s", o->name);
	return buf;
}

/* Prints `text` from column 33 on, wrapped at 80 columns. */
static void print_wrapped(FILE *out, const char *text)
{
	const int col = 33, width = 80;
	int pos = col;

	while (*text) {
		int n = (int)strcspn(text, " ");

		if (pos > col && pos + 1 + n > width) {
			fprintf(out, "\n%*s", col, "");
			pos = col;
		} else if (pos > col) {
			fputc(' ', out);
			pos++;
		}
		fprintf(out, "%.*s", n, text);
		pos += n;
		text += n;
		while (*text == ' ')
			text++;
	}
	fputc('\n', out);
}

void cfg_usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: " PROG " [options] -i IF|-r FILE -n HOST:PORT "
		     "[filter expression]\n"
		     "Captures packets, keeps flows, exports NetFlow v5, v9 "
		     "or IPFIX.\n\nOptions:\n");
	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *o = &opts[i];
		char left[64];

		if (o->id < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->id,
				 o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(left) > 30)
			fprintf(out, "  %s\n%33s", left, "");
		else
			fprintf(out, "  %-30s ", left);
		print_wrapped(out, o->help);
	}
	fprintf(out, "\nTIME is seconds, or a number with a suffix ms, s, m, "
		     "h, d or w.\nSignals: SIGTERM/SIGINT export every flow "
		     "and exit; SIGUSR1 logs statistics.\n");
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A duration: seconds, or with a suffix ms/s/m/h/d/w. In ms. */
static int parse_time(const char *s, uint32_t *ms)
{
	static const struct {
		const char *sfx;
		uint64_t mul;
	} units[] = {{"", 1000},      {"ms", 1},      {"s", 1000},
		     {"m", 60000},    {"h", 3600000}, {"d", 86400000},
		     {"w", 604800000}};
	char *end;
	unsigned long long v;
	size_t i;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].sfx) != 0)
			continue;
		if (v > MAX_TIMEOUT_MS / units[i].mul)
			return -1;
		*ms = (uint32_t)(v * units[i].mul);
		return 0;
	}
	return -1;
}

/* Applies one NAME=TIME of -t. */
static int set_timeout(struct fc_timeouts *to, const char *name, uint32_t ms)
{
	static const char *const cls[FC_NCLASS] = {"tcp", "udp", "icmp",
						   "general"};
	char active[32];
	int i;

	for (i = 0; i < FC_NCLASS; i++) {
		snprintf(active, sizeof(active), "%s.active", cls[i]);
		if (strcmp(name, cls[i]) == 0) {
			to->idle_ms[i] = ms;
			return 0;
		}
		if (strcmp(name, active) == 0) {
			to->active_ms[i] = ms;
			return 0;
		}
	}
	if (strcmp(name, "maxlife") == 0) {
		for (i = 0; i < FC_NCLASS; i++)
			to->active_ms[i] = ms;
	} else if (strcmp(name, "tcp.fin") == 0) {
		to->tcp_fin_ms = ms;
	} else if (strcmp(name, "tcp.rst") == 0) {
		to->tcp_rst_ms = ms;
	} else if (strcmp(name, "expint") != 0) {
		/* softflowd's expiry interval: ours is continuous */
		return -1;
	}
	return 0;
}

static int parse_timeouts(struct fc_timeouts *to, const char *arg,
			  const char *on, FILE *err)
{
	char buf[512];
	char *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(err, PROG ": %s: argument too long\n", on);
		return -1;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint32_t ms;

		if (eq == NULL) {
			fprintf(err, PROG ": %s: '%s': expected NAME=TIME\n",
				on, tok);
			return -1;
		}
		*eq = '\0';
		if (parse_time(eq + 1, &ms) != 0) {
			fprintf(err, PROG ": %s: '%s': not a duration\n", on,
				eq + 1);
			return -1;
		}
		if (set_timeout(to, tok, ms) != 0) {
			fprintf(err,
				PROG
				": %s: unknown timeout '%s' (tcp, udp, "
				"icmp, general, tcp.fin, tcp.rst, maxlife, "
				"<class>.active)\n",
				on, tok);
			return -1;
		}
	}
	return 0;
}

static int add_collectors(struct xcfg *c, const char *arg, const char *on,
			  FILE *err)
{
	char buf[1024];
	char msg[256];
	char *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(err, PROG ": %s: argument too long\n", on);
		return -1;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (c->ndest == CFG_MAX_COLLECTORS) {
			fprintf(err, PROG ": %s: more than %d collectors\n", on,
				CFG_MAX_COLLECTORS);
			return -1;
		}
		if (exp_parse_dest(tok, &c->dest[c->ndest], msg, sizeof(msg)) !=
		    0) {
			fprintf(err, PROG ": %s: %s\n", on, msg);
			return -1;
		}
		c->ndest++;
	}
	return 0;
}

static void set_defaults(struct xcfg *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->snaplen = DEFAULT_SNAPLEN;
	c->promisc = true;
	c->version = FY_NF_IPFIX;
	c->engine_type = -1;
	c->engine_id = -1;
	c->max_flows = DEFAULT_MAX_FLOWS;
	for (i = 0; i < FC_NCLASS; i++) {
		c->to.idle_ms[i] = (i == FC_TCP ? DEFAULT_IDLE_TCP_S
						: DEFAULT_IDLE_OTHER_S) *
				   1000u;
		c->to.active_ms[i] = DEFAULT_ACTIVE_S * 1000u;
	}
	c->to.tcp_fin_ms = DEFAULT_TCP_FIN_S * 1000u;
	c->to.tcp_rst_ms = DEFAULT_TCP_RST_S * 1000u;
	c->verbose = 1;
	c->socket_path = FY_CTL_EXPORTERD_SOCK;
}

/* A numeric option's argument; names the option on error. */
static int num_arg(int id, const char *arg, uint32_t min, uint32_t max,
		   uint32_t *out, FILE *err)
{
	char on[64];

	if (parse_u32(arg, min, max, out) == 0)
		return 0;
	fprintf(err,
		PROG ": %s: '%s': not a number in %" PRIu32 "..%" PRIu32 "\n",
		opt_name(id, on, sizeof(on)), arg, min, max);
	return -1;
}

static int time_arg(int id, const char *arg, uint32_t *ms, FILE *err)
{
	char on[64];

	if (parse_time(arg, ms) == 0)
		return 0;
	fprintf(err, PROG ": %s: '%s': not a duration (e.g. 30, 500ms, 5m)\n",
		opt_name(id, on, sizeof(on)), arg);
	return -1;
}

/* Handles one option; 0 or -1. */
static int apply(struct xcfg *c, int id, const char *arg, FILE *err)
{
	char on[64];
	uint32_t v;
	int i;

	opt_name(id, on, sizeof(on));
	switch (id) {
	case 'i':
		c->iface = arg;
		return 0;
	case 'r':
		c->rfile = arg;
		return 0;
	case 'f':
		free(c->filter);
		c->filter = strdup(arg);
		return c->filter ? 0 : -1;
	case 'C':
		if (num_arg(id, arg, 64, 262144, &v, err) != 0)
			return -1;
		c->snaplen = (int)v;
		return 0;
	case 'B':
		if (num_arg(id, arg, 65536, INT_MAX, &v, err) != 0)
			return -1;
		c->bufsize = (int)v;
		return 0;
	case 'N':
		c->promisc = false;
		return 0;
	case O_IMMEDIATE:
		c->immediate = true;
		return 0;
	case O_NO_DECAP:
		c->no_decap = true;
		return 0;
	case 'n':
		return add_collectors(c, arg, on, err);
	case 'v':
		if (strcmp(arg, "5") && strcmp(arg, "9") && strcmp(arg, "10")) {
			fprintf(err, PROG ": %s: '%s': expected 5, 9 or 10\n",
				on, arg);
			return -1;
		}
		c->version = (uint8_t)atoi(arg);
		return 0;
	case O_MTU:
		if (num_arg(id, arg, 256, 65507, &v, err) != 0)
			return -1;
		c->mtu = (uint16_t)v;
		return 0;
	case 's':
		return num_arg(id, arg, 1, UINT32_MAX, &c->sampling, err);
	case O_SAMPLING_RANDOM:
		c->sampling_random = true;
		return 0;
	case 'b':
		c->biflow = true;
		return 0;
	case 'o':
		return num_arg(id, arg, 0, UINT32_MAX, &c->domain, err);
	case O_ENGINE_TYPE:
	case O_ENGINE_ID:
		if (num_arg(id, arg, 0, 255, &v, err) != 0)
			return -1;
		*(id == O_ENGINE_TYPE ? &c->engine_type : &c->engine_id) =
			(int)v;
		return 0;
	case O_WITH_MACS:
		c->with_macs = true;
		return 0;
	case O_WITH_VLAN:
		c->with_vlan = c->key_vlan = true;
		return 0;
	case O_TMPL_PACKETS:
		return num_arg(id, arg, 1, UINT32_MAX, &c->tmpl_refresh_packets,
			       err);
	case O_TMPL_TIME:
		if (time_arg(id, arg, &c->tmpl_refresh_ms, err) != 0)
			return -1;
		if (c->tmpl_refresh_ms == 0)
			c->tmpl_refresh_ms = 1;
		return 0;
	case 'm':
		return num_arg(id, arg, 1, MAX_MAX_FLOWS, &c->max_flows, err);
	case 't':
		return parse_timeouts(&c->to, arg, on, err);
	case 'e':
	case 'd':
		if (time_arg(id, arg, &v, err) != 0)
			return -1;
		for (i = 0; i < FC_NCLASS; i++)
			*(id == 'e' ? &c->to.active_ms[i] : &c->to.idle_ms[i]) =
				v;
		return 0;
	case 'T':
		c->print_config = true;
		return 0;
	case 'D':
		c->daemon = true;
		return 0;
	case 'P':
		c->pidfile = arg;
		return 0;
	case 'u':
		c->user = arg;
		return 0;
	case O_STATS_INTERVAL:
		if (time_arg(id, arg, &v, err) != 0)
			return -1;
		c->stats_interval_s = (v + 999) / 1000;
		return 0;
	case O_SOCKET:
		if (arg[0] == '\0') {
			fprintf(err, PROG ": %s: empty path\n", on);
			return -1;
		}
		c->socket_path = arg;
		c->socket_given = true;
		return 0;
	case O_SOCKET_GROUP:
		c->socket_group = arg[0] ? arg : NULL;
		return 0;
	case 'q':
		c->verbose = 0;
		return 0;
	case O_VERBOSE:
		c->verbose = 2;
		return 0;
	default:
		return -1;
	}
}

/* The trailing arguments, joined with spaces, are the filter. */
static int trailing_filter(struct xcfg *c, int argc, char **argv, FILE *err)
{
	size_t len = 0;
	int i;

	if (optind >= argc)
		return 0;
	if (c->filter != NULL) {
		fprintf(err, PROG ": -f/--filter: a filter is also given as "
				  "trailing arguments; use one\n");
		return -1;
	}
	for (i = optind; i < argc; i++)
		len += strlen(argv[i]) + 1;
	c->filter = malloc(len);
	if (c->filter == NULL)
		return -1;
	c->filter[0] = '\0';
	for (i = optind; i < argc; i++) {
		if (i > optind)
			strcat(c->filter, " ");
		strcat(c->filter, argv[i]);
	}
	return 0;
}

/*
 * A filter that compiles for none of the usual link types is a syntax
 * error: found here, before the capture is opened. The real link type
 * may still refuse a filter made for another (cap_open() says so).
 */
static int check_filter(const struct xcfg *c, FILE *err)
{
	static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_RAW};
	char msg[PCAP_ERRBUF_SIZE + 64] = "";
	size_t i;

	if (c->filter == NULL || c->filter[0] == '\0')
		return 0;
	for (i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		pcap_t *pc = pcap_open_dead(dlts[i], c->snaplen);
		struct bpf_program prog;
		int r;

		if (pc == NULL)
			return 0; /* out of memory: let the capture say it */
		r = pcap_compile(pc, &prog, c->filter, 1, PCAP_NETMASK_UNKNOWN);
		if (r == 0)
			pcap_freecode(&prog);
		else if (i == 0)
			snprintf(msg, sizeof(msg), "%s", pcap_geterr(pc));
		pcap_close(pc);
		if (r == 0)
			return 0;
	}
	fprintf(err, PROG ": -f/--filter '%s': %s\n", c->filter, msg);
	return -1;
}

/* A name, or a number as the control socket also takes. */
static bool group_exists(const char *name)
{
	char *end;

	errno = 0;
	(void)strtoul(name, &end, 10);
	if (*end == '\0' && errno == 0)
		return true;
	return getgrnam(name) != NULL;
}

/*
 * Names that must exist on this host: -i, -u, --socket-group. With -T,
 * which checks a configuration perhaps made for another host, a missing
 * one is only a warning.
 */
static int check_names(const struct xcfg *c, FILE *err)
{
	const char *what = c->print_config ? "warning: " : "";
	int bad = 0;

	if (c->iface != NULL && strcmp(c->iface, "any") != 0 &&
	    if_nametoindex(c->iface) == 0) {
		fprintf(err,
			PROG ": %s-i/--interface '%s': no such interface\n",
			what, c->iface);
		bad = 1;
	}
	if (c->user != NULL && getpwnam(c->user) == NULL) {
		fprintf(err, PROG ": %s-u/--user '%s': no such user\n", what,
			c->user);
		bad = 1;
	}
	if (c->socket_group != NULL && !group_exists(c->socket_group)) {
		fprintf(err, PROG ": %s--socket-group '%s': no such group\n",
			what, c->socket_group);
		bad = 1;
	}
	return bad && !c->print_config ? -1 : 0;
}

/*
 * Checks that the options make sense together, and what can be checked
 * without opening anything: nothing is opened after an error.
 */
static int check(struct xcfg *c, FILE *err)
{
	if ((c->iface == NULL) == (c->rfile == NULL)) {
		fprintf(err, PROG ": give one of -i/--interface and "
				  "-r/--read\n");
		return -1;
	}
	if (c->ndest == 0) {
		fprintf(err, PROG ": -n/--collector: no collector given\n");
		return -1;
	}
	if (c->biflow && c->version != FY_NF_IPFIX) {
		fprintf(err, PROG ": -b/--biflow: needs IPFIX (-v 10)\n");
		return -1;
	}
	if (c->version == FY_NF_V5 && c->sampling > 16383) {
		fprintf(err,
			PROG ": -s/--sampling: v5 carries at most 16383\n");
		return -1;
	}
	if (c->version == FY_NF_V5 && (c->with_macs || c->with_vlan)) {
		fprintf(err, PROG ": --with-macs/--with-vlan: v5 has no such "
				  "fields; use -v 9 or 10\n");
		return -1;
	}
	if (c->daemon && c->rfile != NULL) {
		fprintf(err, PROG ": -D/--daemon: not with -r/--read\n");
		return -1;
	}
	if (check_names(c, err) != 0 || check_filter(c, err) != 0)
		return -1;
	if (c->engine_id < 0)
		c->engine_id = (int)(c->domain & 0xff);
	if (c->engine_type < 0)
		c->engine_type = 0;
	return 0;
}

int cfg_parse(struct xcfg *c, int argc, char **argv, FILE *out, FILE *err)
{
	struct option lopts[NOPTS + 1];
	char sopts[NOPTS * 2 + 2];
	size_t i, k = 0;
	int id;

	set_defaults(c);
	/* '+': stop at the first non-option, the filter expression */
	sopts[k++] = '+';
	for (i = 0; i < NOPTS; i++) {
		lopts[i].name = opts[i].name;
		lopts[i].has_arg = opts[i].has_arg;
		lopts[i].flag = NULL;
		lopts[i].val = opts[i].id;
		if (opts[i].id < 256) {
			sopts[k++] = (char)opts[i].id;
			if (opts[i].has_arg)
				sopts[k++] = ':';
		}
	}
	sopts[k] = '\0';
	memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));

	optind = 1;
	opterr = 0;
	while ((id = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		if (id == 'h') {
			cfg_usage(out);
			return 1;
		}
		if (id == 'V') {
			fprintf(out, PROG " (flowyard) " VERSION "\n");
			return 1;
		}
		if (id == '?' || id == ':') {
			char on[64];

			if (optopt != 0 && find_opt(optopt) != NULL)
				fprintf(err, PROG ": %s: needs an argument\n",
					opt_name(optopt, on, sizeof(on)));
			else if (optopt != 0)
				fprintf(err, PROG ": -%c: unknown option\n",
					optopt);
			else
				fprintf(err,
					PROG ": %s: unknown option or "
					     "missing argument\n",
					argv[optind - 1]);
			fprintf(err, "Try '" PROG " -h'.\n");
			return -1;
		}
		if (apply(c, id, optarg, err) != 0)
			return -1;
	}
	if (trailing_filter(c, argc, argv, err) != 0 || check(c, err) != 0)
		return -1;
	return 0;
}

static void print_ms(FILE *out, const char *name, uint32_t ms)
{
	if (ms % 1000 == 0)
		fprintf(out, "%s %" PRIu32 "s\n", name, ms / 1000);
	else
		fprintf(out, "%s %" PRIu32 "ms\n", name, ms);
}

void cfg_print(const struct xcfg *c, FILE *out)
{
	static const char *const cls[FC_NCLASS] = {"tcp", "udp", "icmp",
						   "general"};
	char name[64];
	size_t i;

	if (c->iface)
		fprintf(out, "interface %s\n", c->iface);
	if (c->rfile)
		fprintf(out, "read %s\n", c->rfile);
	fprintf(out, "filter %s\n", c->filter ? c->filter : "(none)");
	fprintf(out, "snaplen %d\n", c->snaplen);
	fprintf(out, "buffer-size %d\n", c->bufsize);
	fprintf(out, "promisc %s\n", c->promisc ? "yes" : "no");
	fprintf(out, "immediate %s\n", c->immediate ? "yes" : "no");
	fprintf(out, "decap %s\n", c->no_decap ? "no" : "yes");
	for (i = 0; i < c->ndest; i++) {
		char host[64], serv[16];

		if (getnameinfo((const struct sockaddr *)&c->dest[i].addr,
				c->dest[i].addrlen, host, sizeof(host), serv,
				sizeof(serv),
				NI_NUMERICHOST | NI_NUMERICSERV)) {
			snprintf(host, sizeof(host), "?");
			snprintf(serv, sizeof(serv), "?");
		}
		fprintf(out, "collector %s (%s port %s)\n", c->dest[i].name,
			host, serv);
	}
	fprintf(out, "nf-version %u\n", c->version);
	fprintf(out, "mtu %u\n", c->mtu ? c->mtu : FY_NFENC_DEFAULT_MTU);
	fprintf(out, "sampling %" PRIu32 " %s\n", c->sampling ? c->sampling : 1,
		c->sampling_random ? "random" : "deterministic");
	fprintf(out, "biflow %s\n", c->biflow ? "yes" : "no");
	fprintf(out, "domain %" PRIu32 "\n", c->domain);
	fprintf(out, "engine-type %d\nengine-id %d\n", c->engine_type,
		c->engine_id);
	fprintf(out, "with-macs %s\nwith-vlan %s\n",
		c->with_macs ? "yes" : "no", c->with_vlan ? "yes" : "no");
	fprintf(out, "template-refresh-packets %" PRIu32 "\n",
		c->tmpl_refresh_packets ? c->tmpl_refresh_packets
					: FY_NFENC_DEFAULT_REFRESH_PACKETS);
	print_ms(out, "template-refresh-time",
		 c->tmpl_refresh_ms ? c->tmpl_refresh_ms
				    : FY_NFENC_DEFAULT_REFRESH_MS);
	fprintf(out, "max-flows %" PRIu32 "\n", c->max_flows);
	for (i = 0; i < FC_NCLASS; i++) {
		snprintf(name, sizeof(name), "timeout %s", cls[i]);
		print_ms(out, name, c->to.idle_ms[i]);
		snprintf(name, sizeof(name), "timeout %s.active", cls[i]);
		print_ms(out, name, c->to.active_ms[i]);
	}
	print_ms(out, "timeout tcp.fin", c->to.tcp_fin_ms);
	print_ms(out, "timeout tcp.rst", c->to.tcp_rst_ms);
	fprintf(out, "daemon %s\n", c->daemon ? "yes" : "no");
	fprintf(out, "pidfile %s\n", c->pidfile ? c->pidfile : "(none)");
	fprintf(out, "user %s\n", c->user ? c->user : "(none)");
	fprintf(out, "stats-interval %" PRIu32 "s\n", c->stats_interval_s);
	fprintf(out, "socket %s\n",
		c->rfile && !c->socket_given ? "(none)" : c->socket_path);
	fprintf(out, "socket-group %s\n",
		c->socket_group ? c->socket_group : "(none)");
}

void cfg_free(struct xcfg *c)
{
	free(c->filter);
	c->filter = NULL;
}
