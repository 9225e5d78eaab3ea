/*
 * Unit tests of nfq's file selection (nfq/input.c): -r, -R ranges, -M
 * trees, open files skipped unless --live, files skipped by name outside
 * a time window; and the fixture tree the integration test queries.
 *
 *   test_nfq_input                 runs the tests
 *   test_nfq_input --fixture DIR   writes the fixture under DIR and a
 *                                  flows.tsv listing every flow in it
 *                                  (tests/integration/nfq_basic.sh)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ftree.h"
#include "store.h"

#include "../../nfq/input.c"
#include "../../nfq/timefmt.c"

/* 2026-11-27 10:00:00 UTC */
#define T0 1795773600

struct fx_file {
	const char *tree;
	int minute; /* after T0; -1: the open file */
	int nflows;
};

/* rtr1 misses the 10:15 slot: `nfq ls` must report it */
static const struct fx_file fx_files[] = {
	{"rtr1", 0, 200},  {"rtr1", 5, 200}, {"rtr1", 10, 200},
	{"rtr1", 20, 200}, {"rtr1", -1, 50}, {"rtr2", 0, 100},
	{"rtr2", 5, 100},
};

#define NFX (sizeof(fx_files) / sizeof(fx_files[0]))

static char dir[64];

/* Flow i of fixture file k of tree t: every value derived from i, k, t. */
static void fx_flow(struct fy_flow *f, unsigned t, unsigned k, unsigned i,
		    int64_t slot)
{
	static const uint16_t ports[5] = {80, 443, 53, 22, 8080};
	static const uint8_t flags[5] = {0x02, 0x12, 0x18, 0x11, 0x1b};
	bool v6 = i % 20 == 19;

	memset(f, 0, sizeof(*f));
	f->first_ms = (uint64_t)slot * 1000 + i * 1000 + i % 13;
	f->last_ms = f->first_ms + (i % 5) * 1000 + i % 7;
	if (v6) {
		fy_addr_parse("2001:db8::1", &f->src, NULL);
		f->src.b[15] = (uint8_t)i;
		f->src.b[13] = (uint8_t)t;
		fy_addr_parse("2001:db8:ffff::1", &f->dst, NULL);
		f->family = FY_AF_INET6;
	} else {
		fy_addr_set_v4(&f->src, 0x0a000000u | t << 16 | (i % 4) << 8 |
						(i % 10 + 1));
		fy_addr_set_v4(&f->dst, 0xc0a80000u | k << 8 | (i % 5 + 1));
		f->family = FY_AF_INET;
	}
	if (i % 10 < 6)
		f->proto = 6;
	else if (i % 10 < 9)
		f->proto = 17;
	else
		f->proto = v6 ? 58 : 1;
	f->src_port = (uint16_t)(1024 + i * 7 % 5000);
	f->dst_port = f->proto == 17 ? 53 : ports[i % 5];
	if (f->proto == 1 || f->proto == 58) {
		f->src_port = 0;
		f->icmp_type = 8;
		f->dst_port = 8 << 8;
	}
	f->tcp_flags = f->proto == 6 ? flags[i % 5] : 0;
	f->tos = i % 3 ? 32 : 0;
	f->packets = i % 7 + 1;
	f->bytes = f->packets * (40 + i * 13 % 1460);
	f->src_as = 64512 + t;
	f->dst_as = 65000 + i % 3;
	f->input_if = 1 + i % 2;
	f->output_if = 10 + i % 3;
	fy_addr_set_v4(&f->exporter, 0xc0000200u | t);
	f->exporter_family = FY_AF_INET;
	f->nf_version = FY_NF_IPFIX;
}

static int write_tsv_line(FILE *tsv, const char *tree, const char *name,
			  bool temp, const struct fy_flow *f)
{
	char s[FY_ADDR_STRLEN], d[FY_ADDR_STRLEN];

	return fprintf(tsv,
		       "%s\t%s\t%d\t%llu\t%llu\t%s\t%s\t%u\t%u\t%u\t%u\t%u\t"
		       "%llu\t%llu\t%u\t%u\t%u\t%u\n",
		       tree, name, temp, (unsigned long long)f->first_ms,
		       (unsigned long long)f->last_ms,
		       fy_addr_str(&f->src, s, sizeof(s)),
		       fy_addr_str(&f->dst, d, sizeof(d)), f->src_port,
		       f->dst_port, f->proto, f->tcp_flags, f->tos,
		       (unsigned long long)f->packets,
		       (unsigned long long)f->bytes, f->input_if, f->output_if,
		       f->src_as, f->dst_as) < 0
		       ? -1
		       : 0;
}

/*
 * Writes the fixture under base: base/<tree>/2026/11/27/flows.YYYYMMDDhhmm
 * and an open file flows.current.4242 without a footer (a collector that
 * is still writing). With tsv, lists every flow there.
 */
static int write_fixture(const char *base, FILE *tsv)
{
	struct fy_flow f[200];
	size_t k;

	for (k = 0; k < NFX; k++) {
		const struct fx_file *x = &fx_files[k];
		unsigned t = strcmp(x->tree, "rtr1") == 0 ? 1 : 2;
		int64_t slot = T0 + (x->minute < 0 ? 25 : x->minute) * 60;
		struct fy_store_opts o = {0};
		struct fy_store_writer *w;
		char path[640], sub[512], name[64], err[256];
		int i;

		snprintf(sub, sizeof(sub), "%s/%s/2026/11/27", base, x->tree);
		if (fy_mkdir_p(sub, 0755))
			return -1;
		if (x->minute < 0)
			snprintf(name, sizeof(name), "flows.current.4242");
		else
			fy_ftree_file_name(name, sizeof(name), "flows",
					   (time_t)slot, false, false);
		snprintf(path, sizeof(path), "%s/%s", sub, name);
		o.ident = x->tree;
		o.no_fsync = true;
		o.block_flows = 64; /* several blocks per file */
		if (fy_store_writer_open(&w, path, &o, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		for (i = 0; i < x->nflows; i++) {
			fx_flow(&f[i], t, (unsigned)k, (unsigned)i, slot);
			if (tsv && write_tsv_line(tsv, x->tree, name,
						  x->minute < 0, &f[i]))
				return -1;
		}
		fy_store_writer_set_seq_failures(w, k);
		if (fy_store_writer_append(w, f, (size_t)x->nflows) ||
		    fy_store_writer_close(w, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		if (x->minute < 0) {
			/* cut the footer off: what an open file looks like */
			struct fy_store_reader *rd;
			uint64_t end;

			if (fy_store_reader_open(&rd, path, err, sizeof(err)))
				return -1;
			end = fy_store_reader_info(rd)->data_end;
			fy_store_reader_close(rd);
			if (truncate(path, (off_t)end))
				return -1;
		}
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nfq_input_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	return write_fixture(dir, NULL);
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Selects with o; returns the file names ("tree/name", space separated). */
static int sel(struct nfq_input_opts *o, char *names, size_t len, char *err)
{
	struct nfq_file *v;
	size_t n, i, used = 0;
	int r;

	names[0] = '\0';
	r = nfq_input_select(o, &v, &n, err, NFQ_ERR_MAX);
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		const char *p = v[i].path + strlen(dir) + 1;
		const char *slash = strchr(p, '/');
		const char *bn = strrchr(p, '/') + 1;

		used += (size_t)snprintf(names + used, len - used, "%s%.*s/%s",
					 i ? " " : "", (int)(slash - p), p, bn);
		assert_true(used < len);
	}
	nfq_input_free(v, n);
	return 0;
}

static void test_read_dir(void **state)
{
	struct nfq_input_opts o = {0};
	char path[256], names[2048], err[NFQ_ERR_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/rtr1", dir);
	o.read = path;
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271000 rtr1/flows.202611271005 "
			    "rtr1/flows.202611271010 rtr1/flows.202611271020");
	/* --live: the open file too, last */
	o.live = true;
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271000 rtr1/flows.202611271005 "
			    "rtr1/flows.202611271010 rtr1/flows.202611271020 "
			    "rtr1/flows.current.4242");
}

static void test_read_file(void **state)
{
	struct nfq_input_opts o = {0};
	char path[256], names[2048], err[NFQ_ERR_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/rtr2/2026/11/27/flows.202611271005",
		 dir);
	o.read = path;
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names, "rtr2/flows.202611271005");
	/* a missing file is an error naming it */
	snprintf(path, sizeof(path), "%s/nothere", dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), -ENOENT);
	assert_non_null(strstr(err, "nothere"));
}

static void test_range(void **state)
{
	struct nfq_input_opts o = {0};
	char spec[512], names[2048], err[NFQ_ERR_MAX];

	(void)state;
	o.range = spec;
	/* from a file to the end of its directory */
	snprintf(spec, sizeof(spec), "%s/rtr1/2026/11/27/flows.202611271005",
		 dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271005 rtr1/flows.202611271010 "
			    "rtr1/flows.202611271020");
	/* first:last in one directory */
	snprintf(spec, sizeof(spec),
		 "%s/rtr1/2026/11/27/flows.202611271005:flows.202611271010",
		 dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271005 rtr1/flows.202611271010");
	/* the last file with subdirectories: the base is rtr1 */
	snprintf(spec, sizeof(spec),
		 "%s/rtr1/2026/11/27/flows.202611271000:2026/11/27/"
		 "flows.202611271010",
		 dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271000 rtr1/flows.202611271005 "
			    "rtr1/flows.202611271010");
	/* a directory: all of it */
	snprintf(spec, sizeof(spec), "%s/rtr2", dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr2/flows.202611271000 rtr2/flows.202611271005");
	/* not a flow file name */
	snprintf(spec, sizeof(spec), "%s/rtr1/2026/11/27/junk:flows.x", dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), -EINVAL);
	assert_non_null(strstr(err, "junk"));
	/* last before first */
	snprintf(spec, sizeof(spec),
		 "%s/rtr1/2026/11/27/flows.202611271010:flows.202611271000",
		 dir);
	assert_int_equal(sel(&o, names, sizeof(names), err), -EINVAL);
}

static void test_multi(void **state)
{
	struct nfq_input_opts o = {0};
	char spec[512], names[2048], err[NFQ_ERR_MAX];

	(void)state;
	snprintf(spec, sizeof(spec), "%s/rtr1:rtr2", dir);
	o.multi = spec;
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	/* both trees, merged in time order */
	assert_string_equal(names,
			    "rtr1/flows.202611271000 rtr2/flows.202611271000 "
			    "rtr1/flows.202611271005 rtr2/flows.202611271005 "
			    "rtr1/flows.202611271010 rtr1/flows.202611271020");
	/* -r relative to each tree */
	o.read = "2026/11/27/flows.202611271005";
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271005 rtr2/flows.202611271005");
	/* -r of a file only one tree has */
	o.read = "2026/11/27/flows.202611271010";
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names, "rtr1/flows.202611271010");
	/* -R relative to each tree */
	o.read = NULL;
	o.range = "2026/11/27/flows.202611271005";
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271005 rtr2/flows.202611271005 "
			    "rtr1/flows.202611271010 rtr1/flows.202611271020");
	/* a tree that is not there */
	snprintf(spec, sizeof(spec), "%s/rtr1:rtr9", dir);
	o.range = NULL;
	assert_int_equal(sel(&o, names, sizeof(names), err), -ENOTDIR);
	assert_non_null(strstr(err, "rtr9"));
}

static void test_window_by_name(void **state)
{
	struct nfq_input_opts o = {0};
	struct nfq_window w;
	char path[256], names[2048], err[NFQ_ERR_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/rtr1", dir);
	o.read = path;
	o.window = &w;
	/* the same day: every file stays (the footers decide) */
	assert_int_equal(nfq_window_parse("2026-11-27T10:06/2026-11-27T10:07",
					  false, &w, err, sizeof(err)),
			 0);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names,
			    "rtr1/flows.202611271000 rtr1/flows.202611271005 "
			    "rtr1/flows.202611271010 rtr1/flows.202611271020");
	/* two days later: only the last file may hold such flows */
	assert_int_equal(nfq_window_parse("2026/11/29.12:00", false, &w, err,
					  sizeof(err)),
			 0);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names, "rtr1/flows.202611271020");
	/* two days before: none */
	assert_int_equal(nfq_window_parse("2026/11/25.00:00-2026/11/25.12:00",
					  false, &w, err, sizeof(err)),
			 0);
	assert_int_equal(sel(&o, names, sizeof(names), err), 0);
	assert_string_equal(names, "");
}

static void test_bad_options(void **state)
{
	struct nfq_input_opts o = {0};
	char names[256], err[NFQ_ERR_MAX];

	(void)state;
	assert_int_equal(sel(&o, names, sizeof(names), err), -EINVAL);
	o.read = "x";
	o.range = "y";
	assert_int_equal(sel(&o, names, sizeof(names), err), -EINVAL);
	assert_non_null(strstr(err, "-R"));
}

/* The open file reads up to its last block, without a footer. */
static void test_open_file_readable(void **state)
{
	struct fy_store_reader *rd;
	char path[256], err[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/rtr1/2026/11/27/flows.current.4242",
		 dir);
	assert_int_equal(fy_store_reader_open(&rd, path, err, sizeof(err)), 0);
	assert_true(fy_store_reader_info(rd)->flags & FY_STORE_INFO_NO_FOOTER);
	assert_int_equal(fy_store_reader_info(rd)->stats.all.flows, 50);
	fy_store_reader_close(rd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_dir),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_window_by_name),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_open_file_readable),
	};

	if (argc == 3 && strcmp(argv[1], "--fixture") == 0) {
		char p[4096];
		FILE *tsv;
		int r;

		snprintf(p, sizeof(p), "%s/flows.tsv", argv[2]);
		if (fy_mkdir_p(argv[2], 0755) ||
		    (tsv = fopen(p, "w")) == NULL) {
			perror(argv[2]);
			return 1;
		}
		snprintf(p, sizeof(p), "%s/base", argv[2]);
		r = write_fixture(p, tsv);
		if (fclose(tsv) != 0)
			r = -1;
		return r ? 1 : 0;
	}
	return cmocka_run_group_tests_name("nfq_input", tests, setup, teardown);
}
