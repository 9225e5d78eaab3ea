/*
 * config.c - collectord's options and configuration file.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ftree.h"

#define VERSION "0.1.0"
#define DEFAULT_PORT 9995
#define DEFAULT_ROTATE 300
#define DEFAULT_FLUSH_MS 1000
#define DEFAULT_DYNAMIC_MAX 256
#define DEFAULT_SESSION_IDLE 900 /* s; the decoder's own default: never */
#define DEFAULT_SOCKET "/run/flowyard/collectord.sock"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: collectord [options]\n"
		"Receives NetFlow v5/v9 and IPFIX over UDP and files the flows "
		"in one LZ4 tree\nper exporter: BASE/IDENT/LAYOUT/" FY_FTREE_PREFIX
		".YYYYMMDDhhmm\n\n"
		"  -p PORT           UDP port to listen on (default %d)\n"
		"  -b ADDR           bind to this address (default: all, IPv4 "
		"and IPv6)\n"
		"  -4, -6            listen on IPv4 only / IPv6 only\n"
		"  -w DIR            base directory of the trees\n"
		"  -I IDENT          identifier of the default tree: "
		"BASE/IDENT\n"
		"  -n IDENT,IP[,IP...],DIR\n"
		"                    a source: packets from these addresses "
		"go to tree DIR\n"
		"                    (repeatable; unknown sources are then "
		"dropped unless -I)\n"
		"  -M DIR            a tree DIR/<address> per new exporter\n"
		"      --max-exporters N  cap on -M trees (default %d)\n"
		"      --max-sessions N  cap on (exporter, domain) sessions "
		"per listener\n"
		"                    (default 4096)\n"
		"      --max-templates N  cap on templates held per listener "
		"(default 65536)\n"
		"      --max-templates-per-session N  cap per (exporter, "
		"domain) (default 1024)\n"
		"      --max-template-fields N  longer templates are refused "
		"(default 256)\n"
		"      --pending-max SIZE  data kept while its template is "
		"missing, per\n"
		"                    listener (default 1M)\n"
		"      --session-idle SECONDS  a session without a packet for "
		"longer is forgotten\n"
		"                    (its templates too; default 900, 0 = "
		"never)\n"
		"  -S N              sub directory layout 0..8 (nfcapd's; "
		"default 1 = %%Y/%%m/%%d)\n"
		"  -t SECONDS        rotation interval (default %d), aligned "
		"to the clock\n"
		"      --localtime   file and directory names in local time "
		"(default UTC)\n"
		"  -x CMD            run CMD after each rotation; %%f file, %%d "
		"dir, %%t time, %%i ident\n"
		"  -e                expire old files after each rotation "
		"(needs a limit)\n"
		"      --max-age AGE remove files older than AGE (e.g. 30d, "
		"12h)\n"
		"      --max-size SIZE  keep each tree under SIZE (e.g. 10G)\n"
		"  -z lz4[:LEVEL]    compression: level 0 fast (default), "
		"1..12 LZ4-HC\n"
		"  -y                LZ4 fast (nfcapd's flag)\n"
		"  -j                smallest files: LZ4-HC level 9 (nfcapd's "
		"bz2 flag)\n"
		"  -B BYTES          socket receive buffer size (default 8 MiB)\n"
		"      --flush-ms MS write buffered flows at least this often "
		"(default %d)\n"
		"      --recv-threads N  receive threads, each with its own "
		"socket per listener\n"
		"                    (SO_REUSEPORT) and decoder (default 1: "
		"the main loop)\n"
		"  -c FILE           configuration file (several listeners)\n"
		"  -f CAPTURE        import export packets from a pcap/pcapng "
		"file and exit\n"
		"  -E                print every flow received (debugging)\n"
		"  -T                print the effective configuration and "
		"exit\n"
		"  -D                run in the background (daemon)\n"
		"  -P FILE           pid file\n"
		"  -u USER           run as USER once sockets are open\n"
		"  -g GROUP          run as GROUP once sockets are open\n"
		"      --socket PATH control socket (default %s)\n"
		"      --socket-group GROUP  group allowed on the control "
		"socket\n"
		"  -v                more log output (repeatable)\n"
		"  -V                print the version and exit\n"
		"  -h                this help\n",
		DEFAULT_PORT, DEFAULT_DYNAMIC_MAX, DEFAULT_ROTATE,
		DEFAULT_FLUSH_MS, DEFAULT_SOCKET);
}

static int opt_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char last_error[600];

const char *cfg_last_error(void)
{
	return last_error;
}

static int opt_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "collectord: %s (collectord -h lists the options)\n",
		last_error);
	return -1;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_with_unit(const char *s, uint64_t *out, const char *units,
			   const uint64_t *mult)
{
	char *end;
	unsigned long long v;
	const char *u;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end == '\0') {
		*out = v;
		return 0;
	}
	if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
		return -1;
	if (v > UINT64_MAX / mult[u - units])
		return -1;
	*out = v * mult[u - units];
	return 0;
}

int cfg_parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1, 60, 3600, 86400, 604800};

	return parse_with_unit(s, out, "smhdw", mult);
}

int cfg_parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = {1024, 1024 * 1024, 1024 * 1024 * 1024,
					1024ull * 1024 * 1024 * 1024};

	return parse_with_unit(s, out, "KMGT", mult);
}

static int parse_compress(const char *s, int *level)
{
	unsigned long v;

	if (strcmp(s, "lz4") == 0) {
		*level = 0;
		return 0;
	}
	if (strncmp(s, "lz4:", 4) == 0 && parse_uint(s + 4, 12, &v) == 0) {
		*level = (int)v;
		return 0;
	}
	return -1;
}

static int copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* An identifier becomes a directory name: keep it to a safe alphabet. */
static int valid_ident(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= CFG_IDENT_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_-.#+@", s[i]))
			return 0;
	return 1;
}

static struct cfg_listener *listener_get(struct cfg *c, const char *bind,
					 uint16_t port, int family)
{
	struct cfg_listener *l;
	unsigned i;

	for (i = 0; i < c->nlisteners; i++) {
		l = &c->listeners[i];
		if (l->port == port && strcmp(l->bind, bind) == 0)
			return l;
	}
	if (c->nlisteners == CFG_MAX_LISTENERS)
		return NULL;
	l = &c->listeners[c->nlisteners++];
	memset(l, 0, sizeof(*l));
	l->port = port;
	l->family = family;
	copy_str(l->bind, sizeof(l->bind), bind);
	return l;
}

/* "ident,IP[,IP...],dir" (nfcapd's -n) into a new source of `l`. */
static int add_source(struct cfg_listener *l, const char *ident,
		      const char *ips, const char *dir, char *err,
		      size_t errlen)
{
	struct cfg_source *s, *v;
	char buf[1024], *tok, *save = NULL;

	if (!valid_ident(ident)) {
		snprintf(err, errlen,
			 "source ident '%s': use letters, digits "
			 "and _-.#+@",
			 ident);
		return -1;
	}
	v = realloc(l->sources, (l->nsources + 1) * sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	l->sources = v;
	s = &v[l->nsources];
	memset(s, 0, sizeof(*s));
	copy_str(s->ident, sizeof(s->ident), ident);
	if (dir && copy_str(s->dir, sizeof(s->dir), dir)) {
		snprintf(err, errlen, "source %s: directory name too long",
			 ident);
		return -1;
	}
	if (copy_str(buf, sizeof(buf), ips)) {
		snprintf(err, errlen, "source %s: address list too long",
			 ident);
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (s->naddrs == CFG_MAX_SOURCE_ADDRS) {
			snprintf(err, errlen,
				 "source %s: more than %d "
				 "addresses",
				 ident, CFG_MAX_SOURCE_ADDRS);
			return -1;
		}
		if (fy_addr_parse(tok, &s->addrs[s->naddrs], NULL)) {
			snprintf(err, errlen,
				 "source %s: '%s' is not an IP "
				 "address",
				 ident, tok);
			return -1;
		}
		s->naddrs++;
	}
	if (s->naddrs == 0) {
		snprintf(err, errlen, "source %s: no address", ident);
		return -1;
	}
	l->nsources++;
	return 0;
}

/* -n ident,IP[,IP...],dir */
static int parse_n(struct cfg_listener *l, const char *arg, char *err,
		   size_t errlen)
{
	char buf[2048], *first, *last;

	if (copy_str(buf, sizeof(buf), arg))
		goto bad;
	first = strchr(buf, ',');
	last = strrchr(buf, ',');
	if (first == NULL || first == last)
		goto bad;
	*first = '\0';
	*last = '\0';
	return add_source(l, buf, first + 1, last + 1, err, errlen);
bad:
	snprintf(err, errlen, "-n '%s': expected IDENT,IP[,IP...],DIR", arg);
	return -1;
}

/*
 * The decoder caps: one row serves the command line, the file and -T.
 * `name` is the file setting and, with "--", the option.
 */
struct limit_opt {
	const char *name;
	size_t off; /* in struct fy_nfdec_cfg, a uint32_t */
	unsigned long min, max;
	bool size; /* takes K/M/G suffixes */
};

static const struct limit_opt limit_opts[] = {
	{"max-sessions", offsetof(struct fy_nfdec_cfg, max_sessions), 1,
	 1000000, false},
	{"max-templates", offsetof(struct fy_nfdec_cfg, max_templates), 1,
	 10000000, false},
	{"max-templates-per-session",
	 offsetof(struct fy_nfdec_cfg, max_templates_per_session), 1, 65536,
	 false},
	{"max-template-fields",
	 offsetof(struct fy_nfdec_cfg, max_template_fields), 1, 65535, false},
	{"pending-max", offsetof(struct fy_nfdec_cfg, pending_max_bytes), 1024,
	 1ul << 30, true},
	/* 0: never; at most 30 days */
	{"session-idle", offsetof(struct fy_nfdec_cfg, session_idle_s), 0,
	 2592000, false},
};

#define N_LIMIT_OPTS (sizeof(limit_opts) / sizeof(limit_opts[0]))

static const struct limit_opt *limit_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_LIMIT_OPTS; i++)
		if (strcmp(limit_opts[i].name, name) == 0)
			return &limit_opts[i];
	return NULL;
}

/* Parses and stores one cap; -1 with a message naming `what` if bad. */
static int limit_set(struct cfg *c, const struct limit_opt *lo,
		     const char *what, const char *v, char *err, size_t errlen)
{
	uint64_t u;
	unsigned long ul;

	if (lo->size ? cfg_parse_size(v, &u) : parse_uint(v, lo->max, &ul))
		goto bad;
	if (!lo->size)
		u = ul;
	if (u < lo->min || u > lo->max)
		goto bad;
	*(uint32_t *)((char *)&c->limits + lo->off) = (uint32_t)u;
	return 0;
bad:
	if (lo->size)
		snprintf(err, errlen,
			 "%s '%s': expected a size %luK..%luM (e.g. 4M)", what,
			 v, lo->min / 1024, lo->max >> 20);
	else
		snprintf(err, errlen, "%s '%s': expected %lu..%lu", what, v,
			 lo->min, lo->max);
	return -1;
}

enum {
	OPT_LOCALTIME = 256,
	OPT_MAX_AGE,
	OPT_MAX_SIZE,
	OPT_MAX_EXPORTERS,
	OPT_FLUSH_MS,
	OPT_SOCKET,
	OPT_SOCKET_GROUP,
	OPT_MAX_SESSIONS,
	OPT_MAX_TEMPLATES,
	OPT_MAX_SESSION_TEMPLATES,
	OPT_MAX_TEMPLATE_FIELDS,
	OPT_PENDING_MAX,
	OPT_SESSION_IDLE, /* the caps' options follow limit_opts' order */
	OPT_RECV_THREADS,
};

static const struct option long_opts[] = {
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{"localtime", no_argument, NULL, OPT_LOCALTIME},
	{"max-age", required_argument, NULL, OPT_MAX_AGE},
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"max-exporters", required_argument, NULL, OPT_MAX_EXPORTERS},
	{"flush-ms", required_argument, NULL, OPT_FLUSH_MS},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
	{"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
	{"max-templates", required_argument, NULL, OPT_MAX_TEMPLATES},
	{"max-templates-per-session", required_argument, NULL,
	 OPT_MAX_SESSION_TEMPLATES},
	{"max-template-fields", required_argument, NULL,
	 OPT_MAX_TEMPLATE_FIELDS},
	{"pending-max", required_argument, NULL, OPT_PENDING_MAX},
	{"session-idle", required_argument, NULL, OPT_SESSION_IDLE},
	{"recv-threads", required_argument, NULL, OPT_RECV_THREADS},
	{NULL, 0, NULL, 0},
};

int cfg_from_args(struct cfg *c, int argc, char **argv)
{
	const char *port_arg = NULL, *bind = "", *ident = NULL;
	const char *dynamic = NULL, *nargs[CFG_MAX_SOURCES];
	unsigned long v, dyn_max = DEFAULT_DYNAMIC_MAX;
	unsigned nn = 0, i, cmdline_limits = 0;
	struct fy_nfdec_cfg cmd_limits;
	int family = 0, o, print = 0;
	unsigned cmd_recv_threads = 0;
	char err[512];

	memset(c, 0, sizeof(*c));
	c->layout = 1;
	c->rotate = DEFAULT_ROTATE;
	c->flush_ms = DEFAULT_FLUSH_MS;
	c->limits.session_idle_s = DEFAULT_SESSION_IDLE;
	copy_str(c->socket_path, sizeof(c->socket_path), DEFAULT_SOCKET);
	optind = 1;
	while ((o = getopt_long(argc, argv,
				"p:b:w:I:n:M:S:t:x:ez:yjB:c:f:ETDP:u:g:vVh46",
				long_opts, NULL)) != -1) {
		switch (o) {
		case 'p':
			port_arg = optarg;
			break;
		case 'b':
			bind = optarg;
			break;
		case '4':
			family = 4;
			break;
		case '6':
			family = 6;
			break;
		case 'w':
			if (copy_str(c->base, sizeof(c->base), optarg))
				return opt_error("-w: path too long");
			break;
		case 'I':
			if (!valid_ident(optarg))
				return opt_error("-I '%s': use letters, digits "
						 "and _-.#+@",
						 optarg);
			ident = optarg;
			break;
		case 'n':
			if (nn == CFG_MAX_SOURCES)
				return opt_error("-n: more than %d sources",
						 CFG_MAX_SOURCES);
			nargs[nn++] = optarg;
			break;
		case 'M':
			dynamic = optarg;
			break;
		case OPT_MAX_EXPORTERS:
			if (parse_uint(optarg, 1000000, &dyn_max) || !dyn_max)
				return opt_error("--max-exporters '%s': "
						 "expected 1..1000000",
						 optarg);
			break;
		case 'S':
			if (parse_uint(optarg, FY_FTREE_LAYOUT_MAX, &v))
				return opt_error("-S '%s': expected a layout "
						 "0..%d",
						 optarg, FY_FTREE_LAYOUT_MAX);
			c->layout = (int)v;
			break;
		case 't':
			if (parse_uint(optarg, 86400, &v) || v < 2)
				return opt_error("-t '%s': expected 2..86400 "
						 "seconds",
						 optarg);
			c->rotate = (unsigned)v;
			break;
		case OPT_LOCALTIME:
			c->localtime = true;
			break;
		case 'x':
			if (copy_str(c->exec, sizeof(c->exec), optarg))
				return opt_error("-x: command too long");
			break;
		case 'e':
			c->expire = true;
			break;
		case OPT_MAX_AGE:
			if (cfg_parse_duration(optarg, &c->max_age_s) ||
			    !c->max_age_s)
				return opt_error("--max-age '%s': expected a "
						 "duration such as 30d or 12h",
						 optarg);
			break;
		case OPT_MAX_SIZE:
			if (cfg_parse_size(optarg, &c->max_size) ||
			    !c->max_size)
				return opt_error("--max-size '%s': expected a "
						 "size such as 10G or 500M",
						 optarg);
			break;
		case 'z':
			if (parse_compress(optarg, &c->lz4_level))
				return opt_error("-z '%s': expected lz4 or "
						 "lz4:LEVEL (0..12)",
						 optarg);
			break;
		case 'y':
			c->lz4_level = 0;
			break;
		case 'j':
			c->lz4_level = 9;
			break;
		case 'B':
			if (parse_uint(optarg, 1u << 30, &v))
				return opt_error("-B '%s': expected a size in "
						 "bytes",
						 optarg);
			c->rcvbuf = (int)v;
			break;
		case OPT_FLUSH_MS:
			if (parse_uint(optarg, 2000, &v) || v < 10)
				return opt_error("--flush-ms '%s': expected "
						 "10..2000",
						 optarg);
			c->flush_ms = (unsigned)v;
			break;
		case OPT_RECV_THREADS:
			if (parse_uint(optarg, CFG_MAX_RECV_THREADS, &v) ||
			    v < 1)
				return opt_error(
					"--recv-threads '%s': expected "
					"1..%d",
					optarg, CFG_MAX_RECV_THREADS);
			cmd_recv_threads = (unsigned)v;
			break;
		case 'c':
			if (copy_str(c->config_file, sizeof(c->config_file),
				     optarg))
				return opt_error("-c: path too long");
			break;
		case 'f':
			if (copy_str(c->import, sizeof(c->import), optarg))
				return opt_error("-f: path too long");
			break;
		case 'E':
			c->print_flows = true;
			break;
		case 'T':
			print = 1;
			break;
		case 'D':
			c->daemon = true;
			break;
		case 'P':
			if (copy_str(c->pidfile, sizeof(c->pidfile), optarg))
				return opt_error("-P: path too long");
			break;
		case 'u':
			if (copy_str(c->user, sizeof(c->user), optarg))
				return opt_error("-u: name too long");
			break;
		case 'g':
			if (copy_str(c->group, sizeof(c->group), optarg))
				return opt_error("-g: name too long");
			break;
		case OPT_SOCKET:
			if (copy_str(c->socket_path, sizeof(c->socket_path),
				     optarg))
				return opt_error("--socket: path too long");
			break;
		case OPT_SOCKET_GROUP:
			if (copy_str(c->socket_group, sizeof(c->socket_group),
				     optarg))
				return opt_error("--socket-group: name too "
						 "long");
			break;
		case OPT_MAX_SESSIONS:
		case OPT_MAX_TEMPLATES:
		case OPT_MAX_SESSION_TEMPLATES:
		case OPT_MAX_TEMPLATE_FIELDS:
		case OPT_PENDING_MAX:
		case OPT_SESSION_IDLE: {
			const struct limit_opt *lo =
				&limit_opts[o - OPT_MAX_SESSIONS];
			char what[64];
			snprintf(what, sizeof(what), "--%s", lo->name);
			if (limit_set(c, lo, what, optarg, err, sizeof(err)))
				return opt_error("%s", err);
			cmdline_limits |= 1u << (o - OPT_MAX_SESSIONS);
			break;
		}
		case 'v':
			c->verbose++;
			break;
		case 'V':
			printf("collectord %s\n", VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return opt_error("unknown option or missing argument");
		}
	}
	if (optind < argc)
		return opt_error("unexpected argument '%s'", argv[optind]);

	/* the command line wins over the file, as for the listener */
	cmd_limits = c->limits;
	if (c->config_file[0] &&
	    cfg_load_file(c, c->config_file, err, sizeof(err))) {
		snprintf(last_error, sizeof(last_error), "%s", err);
		fprintf(stderr, "collectord: %s\n", err);
		return -1;
	}
	if (cmd_recv_threads)
		c->recv_threads = cmd_recv_threads;
	for (i = 0; i < N_LIMIT_OPTS; i++)
		if (cmdline_limits & (1u << i))
			memcpy((char *)&c->limits + limit_opts[i].off,
			       (char *)&cmd_limits + limit_opts[i].off,
			       sizeof(uint32_t));
	/* The command line's listener: always without -c, else if asked. */
	if (!c->config_file[0] || port_arg || ident || nn || dynamic) {
		struct cfg_listener *l;
		unsigned long port = DEFAULT_PORT;

		if (port_arg && (parse_uint(port_arg, 65535, &port) || !port))
			return opt_error("-p '%s': expected a port 1..65535",
					 port_arg);
		l = listener_get(c, bind, (uint16_t)port, family);
		if (l == NULL)
			return opt_error("too many listeners");
		if (ident)
			copy_str(l->ident, sizeof(l->ident), ident);
		else if (nn == 0 && !dynamic && !l->ident[0])
			copy_str(l->ident, sizeof(l->ident), "default");
		for (i = 0; i < nn; i++)
			if (parse_n(l, nargs[i], err, sizeof(err)))
				return opt_error("%s", err);
		if (dynamic) {
			if (copy_str(l->dynamic_dir, sizeof(l->dynamic_dir),
				     dynamic))
				return opt_error("-M: path too long");
			l->dynamic_max = (unsigned)dyn_max;
		}
	}
	if (cfg_finish(c, err, sizeof(err)))
		return opt_error("%s", err);
	if (print) {
		cfg_print(c, stdout);
		return 1;
	}
	return 0;
}

/* Splits a line into words; "double quotes" keep spaces. */
static int split_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (n == max)
			return -1;
		if (*p == '"') {
			w[n++] = ++p;
			while (*p && *p != '"')
				p++;
			if (*p != '"')
				return -1;
			*p++ = '\0';
			continue;
		}
		w[n++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* Finds key=value among words; NULL if absent. */
static const char *kv(char **w, int n, const char *key)
{
	size_t klen = strlen(key);
	int i;

	for (i = 1; i < n; i++)
		if (strncmp(w[i], key, klen) == 0 && w[i][klen] == '=')
			return w[i] + klen + 1;
	return NULL;
}

/* Every word after the first must be one of `keys` (space separated). */
static const char *unknown_key(char **w, int n, const char *keys)
{
	int i;

	for (i = 1; i < n; i++) {
		const char *eq = strchr(w[i], '=');
		size_t kl = eq ? (size_t)(eq - w[i]) : strlen(w[i]);
		const char *k = keys;
		int ok = 0;
		while (*k) {
			size_t l = strcspn(k, " ");
			if (eq && l == kl && strncmp(k, w[i], kl) == 0)
				ok = 1;
			k += l;
			while (*k == ' ')
				k++;
		}
		if (!ok)
			return w[i];
	}
	return NULL;
}

static int file_listener(struct cfg *c, char **w, int n,
			 struct cfg_listener **out, char *msg, size_t len)
{
	const char *port = kv(w, n, "port"), *bind = kv(w, n, "bind");
	const char *fam = kv(w, n, "family");
	unsigned long p;
	int family = 0;

	if (port == NULL || parse_uint(port, 65535, &p) || p == 0) {
		snprintf(msg, len, "%s: port=1..65535 is required", w[0]);
		return -1;
	}
	if (fam && strcmp(fam, "4") && strcmp(fam, "6")) {
		snprintf(msg, len, "family='%s': expected 4 or 6", fam);
		return -1;
	}
	if (fam)
		family = fam[0] - '0';
	*out = listener_get(c, bind ? bind : "", (uint16_t)p, family);
	if (*out == NULL) {
		snprintf(msg, len, "more than %d listeners", CFG_MAX_LISTENERS);
		return -1;
	}
	return 0;
}

static int file_setting(struct cfg *c, char **w, int n, char *msg, size_t len)
{
	const char *k = w[0], *v = n > 1 ? w[1] : NULL;
	const struct limit_opt *lo;
	unsigned long u;

	if (n != 2) {
		snprintf(msg, len, "'%s' takes one value", k);
		return -1;
	}
	if ((lo = limit_find(k)) != NULL)
		return limit_set(c, lo, k, v, msg, len);
	if (strcmp(k, "base") == 0)
		return copy_str(c->base, sizeof(c->base), v);
	if (strcmp(k, "layout") == 0 &&
	    parse_uint(v, FY_FTREE_LAYOUT_MAX, &u) == 0) {
		c->layout = (int)u;
		return 0;
	}
	if (strcmp(k, "rotate") == 0 && parse_uint(v, 86400, &u) == 0 &&
	    u >= 2) {
		c->rotate = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "localtime") == 0 &&
	    (!strcmp(v, "yes") || !strcmp(v, "no"))) {
		c->localtime = !strcmp(v, "yes");
		return 0;
	}
	if (strcmp(k, "expire") == 0 &&
	    (!strcmp(v, "yes") || !strcmp(v, "no"))) {
		c->expire = !strcmp(v, "yes");
		return 0;
	}
	if (strcmp(k, "compress") == 0 && parse_compress(v, &c->lz4_level) == 0)
		return 0;
	if (strcmp(k, "rcvbuf") == 0 && parse_uint(v, 1u << 30, &u) == 0) {
		c->rcvbuf = (int)u;
		return 0;
	}
	if (strcmp(k, "flush-ms") == 0 && parse_uint(v, 2000, &u) == 0 &&
	    u >= 10) {
		c->flush_ms = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "recv-threads") == 0 &&
	    parse_uint(v, CFG_MAX_RECV_THREADS, &u) == 0 && u >= 1) {
		c->recv_threads = (unsigned)u;
		return 0;
	}
	if (strcmp(k, "exec") == 0)
		return copy_str(c->exec, sizeof(c->exec), v);
	if (strcmp(k, "max-age") == 0 &&
	    cfg_parse_duration(v, &c->max_age_s) == 0)
		return 0;
	if (strcmp(k, "max-size") == 0 && cfg_parse_size(v, &c->max_size) == 0)
		return 0;
	if (strcmp(k, "user") == 0)
		return copy_str(c->user, sizeof(c->user), v);
	if (strcmp(k, "group") == 0)
		return copy_str(c->group, sizeof(c->group), v);
	if (strcmp(k, "pidfile") == 0)
		return copy_str(c->pidfile, sizeof(c->pidfile), v);
	if (strcmp(k, "socket") == 0)
		return copy_str(c->socket_path, sizeof(c->socket_path), v);
	if (strcmp(k, "socket-group") == 0)
		return copy_str(c->socket_group, sizeof(c->socket_group), v);
	snprintf(msg, len, "'%s %s': unknown setting or bad value", k, v);
	return -1;
}

static int file_line(struct cfg *c, char **w, int n, char *msg, size_t len)
{
	struct cfg_listener *l;
	const char *bad, *v;

	if (strcmp(w[0], "listen") == 0) {
		if ((bad = unknown_key(w, n, "port bind family ident dir"))) {
			snprintf(msg, len, "listen: unknown '%s'", bad);
			return -1;
		}
		if (file_listener(c, w, n, &l, msg, len))
			return -1;
		v = kv(w, n, "ident");
		if (v == NULL || !valid_ident(v)) {
			snprintf(msg, len,
				 "listen: ident= with letters, "
				 "digits and _-.#+@ is required");
			return -1;
		}
		copy_str(l->ident, sizeof(l->ident), v);
		if ((v = kv(w, n, "dir")) &&
		    copy_str(l->dir, sizeof(l->dir), v)) {
			snprintf(msg, len, "listen: dir too long");
			return -1;
		}
		return 0;
	}
	if (strcmp(w[0], "source") == 0) {
		const char *ident = kv(w, n, "ident"), *ip = kv(w, n, "ip");
		if ((bad = unknown_key(w, n,
				       "port bind family ident ip dir"))) {
			snprintf(msg, len, "source: unknown '%s'", bad);
			return -1;
		}
		if (file_listener(c, w, n, &l, msg, len))
			return -1;
		if (ident == NULL || ip == NULL) {
			snprintf(msg, len,
				 "source: ident= and ip= are "
				 "required");
			return -1;
		}
		return add_source(l, ident, ip, kv(w, n, "dir"), msg, len);
	}
	if (strcmp(w[0], "dynamic") == 0) {
		unsigned long max = DEFAULT_DYNAMIC_MAX;
		if ((bad = unknown_key(w, n, "port bind family dir max"))) {
			snprintf(msg, len, "dynamic: unknown '%s'", bad);
			return -1;
		}
		if (file_listener(c, w, n, &l, msg, len))
			return -1;
		v = kv(w, n, "dir");
		if (v == NULL ||
		    copy_str(l->dynamic_dir, sizeof(l->dynamic_dir), v)) {
			snprintf(msg, len, "dynamic: dir= is required");
			return -1;
		}
		if ((v = kv(w, n, "max")) &&
		    (parse_uint(v, 1000000, &max) || !max)) {
			snprintf(msg, len,
				 "dynamic: max='%s': expected "
				 "1..1000000",
				 v);
			return -1;
		}
		l->dynamic_max = (unsigned)max;
		return 0;
	}
	if (file_setting(c, w, n, msg, len)) {
		if (!msg[0])
			snprintf(msg, len, "'%s': value too long", w[0]);
		return -1;
	}
	return 0;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096], msg[512];
	unsigned lineno = 0;
	int r = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *w[32];
		int n;

		lineno++;
		msg[0] = '\0';
		n = split_words(line, w, 32);
		if (n == 0)
			continue;
		if (n < 0 || file_line(c, w, n, msg, sizeof(msg))) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno,
				 n < 0 ? "too many words or an open quote"
				       : msg);
			r = -1;
			break;
		}
	}
	fclose(f);
	return r;
}

static int tree_dir(char *dst, size_t len, const char *base, const char *ident)
{
	char buf[CFG_PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%s/%s", base, ident);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return copy_str(dst, len, buf);
}

int cfg_finish(struct cfg *c, char *err, size_t errlen)
{
	struct fy_nfdec *dec;
	unsigned i, j;

	/* the decoder knows its defaults: ask it, so -T shows them */
	if ((dec = fy_nfdec_new(&c->limits)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->limits = *fy_nfdec_config(dec);
	fy_nfdec_free(dec);

	if (c->recv_threads == 0)
		c->recv_threads = 1;
	if (c->recv_threads > 1 && c->import[0])
		c->recv_threads = 1; /* -f reads one capture in order */
	if (c->nlisteners == 0) {
		snprintf(err, errlen, "no listener configured");
		return -1;
	}
	if (c->expire && !c->max_age_s && !c->max_size) {
		snprintf(err, errlen, "-e: set --max-age or --max-size");
		return -1;
	}
	for (i = 0; i < c->nlisteners; i++) {
		struct cfg_listener *l = &c->listeners[i];
		if (!l->ident[0] && !l->nsources && !l->dynamic_dir[0]) {
			snprintf(err, errlen,
				 "listener port %u: no ident, "
				 "source or dynamic tree",
				 l->port);
			return -1;
		}
		if (l->ident[0] && !l->dir[0]) {
			if (!c->base[0]) {
				snprintf(err, errlen,
					 "ident %s: no directory "
					 "(-w BASE)",
					 l->ident);
				return -1;
			}
			if (tree_dir(l->dir, sizeof(l->dir), c->base, l->ident))
				goto too_long;
		}
		for (j = 0; j < l->nsources; j++) {
			struct cfg_source *s = &l->sources[j];
			if (s->dir[0])
				continue;
			if (!c->base[0]) {
				snprintf(err, errlen,
					 "source %s: no directory "
					 "(-w BASE or dir=)",
					 s->ident);
				return -1;
			}
			if (tree_dir(s->dir, sizeof(s->dir), c->base, s->ident))
				goto too_long;
		}
	}
	return 0;
too_long:
	snprintf(err, errlen, "a tree path is longer than %d bytes",
		 CFG_PATH_MAX - 1);
	return -1;
}

void cfg_print(const struct cfg *c, FILE *out)
{
	unsigned i, j, k;

	fprintf(out, "# collectord effective configuration\n");
	if (c->base[0])
		fprintf(out, "base %s\n", c->base);
	fprintf(out, "layout %d\nrotate %u\nlocaltime %s\ncompress lz4:%d\n",
		c->layout, c->rotate, c->localtime ? "yes" : "no",
		c->lz4_level);
	fprintf(out, "flush-ms %u\n", c->flush_ms);
	fprintf(out, "recv-threads %u\n", c->recv_threads);
	if (c->rcvbuf)
		fprintf(out, "rcvbuf %d\n", c->rcvbuf);
	if (c->exec[0])
		fprintf(out, "exec \"%s\"\n", c->exec);
	fprintf(out, "expire %s\n", c->expire ? "yes" : "no");
	if (c->max_age_s)
		fprintf(out, "max-age %llus\n",
			(unsigned long long)c->max_age_s);
	if (c->max_size)
		fprintf(out, "max-size %lluK\n",
			(unsigned long long)(c->max_size / 1024));
	if (c->user[0])
		fprintf(out, "user %s\n", c->user);
	if (c->group[0])
		fprintf(out, "group %s\n", c->group);
	if (c->pidfile[0])
		fprintf(out, "pidfile %s\n", c->pidfile);
	fprintf(out, "socket %s\n", c->socket_path);
	if (c->socket_group[0])
		fprintf(out, "socket-group %s\n", c->socket_group);
	for (i = 0; i < N_LIMIT_OPTS; i++) {
		uint32_t v;
		memcpy(&v, (const char *)&c->limits + limit_opts[i].off,
		       sizeof(v));
		if (limit_opts[i].size && v % (1u << 20) == 0)
			fprintf(out, "%s %uM\n", limit_opts[i].name, v >> 20);
		else if (limit_opts[i].size && v % 1024 == 0)
			fprintf(out, "%s %uK\n", limit_opts[i].name, v / 1024);
		else
			fprintf(out, "%s %u\n", limit_opts[i].name, v);
	}
	for (i = 0; i < c->nlisteners; i++) {
		const struct cfg_listener *l = &c->listeners[i];
		char where[96];

		snprintf(where, sizeof(where), "port=%u%s%s%s", l->port,
			 l->bind[0] ? " bind=" : "", l->bind,
			 l->family == 4	  ? " family=4"
			 : l->family == 6 ? " family=6"
					  : "");
		if (l->ident[0])
			fprintf(out, "listen %s ident=%s dir=%s\n", where,
				l->ident, l->dir);
		for (j = 0; j < l->nsources; j++) {
			const struct cfg_source *s = &l->sources[j];
			fprintf(out, "source %s ident=%s ip=", where, s->ident);
			for (k = 0; k < s->naddrs; k++) {
				char a[FY_ADDR_STRLEN];
				fprintf(out, "%s%s", k ? "," : "",
					fy_addr_str(&s->addrs[k], a,
						    sizeof(a)));
			}
			fprintf(out, " dir=%s\n", s->dir);
		}
		if (l->dynamic_dir[0])
			fprintf(out, "dynamic %s dir=%s max=%u\n", where,
				l->dynamic_dir, l->dynamic_max);
	}
}

void cfg_free(struct cfg *c)
{
	unsigned i;

	for (i = 0; i < c->nlisteners; i++) {
		free(c->listeners[i].sources);
		c->listeners[i].sources = NULL;
		c->listeners[i].nsources = 0;
	}
}
