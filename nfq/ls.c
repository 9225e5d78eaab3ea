/*
 * ls.c - `nfq ls BASE`: what a collector has written, one line per tree.
 *
 * For each exporter tree under BASE: the number of files, the first and
 * last time slot, the flows (from the footers: nothing is decompressed),
 * the bytes on disk, whether a file is open (the collector is writing),
 * and the time slots with no file between the first and the last: an
 * exporter or collector outage. The rotation period is taken to be the
 * most common step between slots, so trees of any -t work.
 */
#include "nfq.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ftree.h"

#define MAX_GAPS_SHOWN 20

struct gap {
	int64_t from; /* first missing slot */
	int64_t slots;
};

struct tree_info {
	char *ident;
	size_t files;
	bool live;
	int64_t first, last; /* slots */
	int64_t period;
	uint64_t flows;
	uint64_t bytes;
	uint64_t missing;
	struct gap *gaps;
	size_t n_gaps;
	unsigned unreadable;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The most common step between consecutive distinct slots. */
static int64_t guess_period(const int64_t *slots, size_t n)
{
	int64_t *d, best = 0;
	size_t nd = 0, i, run = 0, best_run = 0;

	if (n < 2 || (d = malloc((n - 1) * sizeof(*d))) == NULL)
		return 0;
	for (i = 1; i < n; i++)
		if (slots[i] > slots[i - 1])
			d[nd++] = slots[i] - slots[i - 1];
	qsort(d, nd, sizeof(*d), cmp_i64);
	for (i = 0; i < nd; i++) {
		run = i && d[i] == d[i - 1] ? run + 1 : 1;
		if (run > best_run) {
			best_run = run;
			best = d[i];
		}
	}
	free(d);
	return best;
}

static int add_gap(struct tree_info *t, int64_t from, int64_t slots)
{
	struct gap *g = realloc(t->gaps, (t->n_gaps + 1) * sizeof(*g));

	if (g == NULL)
		return -ENOMEM;
	t->gaps = g;
	g[t->n_gaps].from = from;
	g[t->n_gaps].slots = slots;
	t->n_gaps++;
	return 0;
}

static int scan_tree(const char *dir, bool localtime, struct tree_info *t,
		     char *err, size_t errlen)
{
	struct fy_ftree_file *v;
	int64_t *slots;
	size_t n, i, ns = 0;
	int r = 0;

	if (fy_ftree_list(dir, true, localtime, &v, &n, err, errlen))
		return -EIO;
	if ((slots = malloc((n ? n : 1) * sizeof(*slots))) == NULL) {
		fy_ftree_list_free(v, n);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct fy_store_reader *rd;

		t->bytes += v[i].size;
		if (v[i].temp)
			t->live = true;
		else
			slots[ns++] = v[i].slot;
		t->files++;
		if (fy_store_reader_open(&rd, v[i].path, NULL, 0) != 0) {
			t->unreadable++;
			continue;
		}
		t->flows += fy_store_reader_info(rd)->stats.all.flows;
		fy_store_reader_close(rd);
	}
	if (ns) {
		t->first = slots[0];
		t->last = slots[ns - 1];
		t->period = guess_period(slots, ns);
	}
	for (i = 1; i < ns && t->period > 0 && r == 0; i++) {
		int64_t d = slots[i] - slots[i - 1];

		if (d > t->period) {
			int64_t k = (d + t->period / 2) / t->period - 1;

			if (k > 0) {
				t->missing += (uint64_t)k;
				r = add_gap(t, slots[i - 1] + t->period, k);
			}
		}
	}
	free(slots);
	fy_ftree_list_free(v, n);
	return r;
}

static void slot_str(struct nfq_timefmt *tf, int64_t s, char *buf)
{
	if (s <= 0) {
		strcpy(buf, "-");
		return;
	}
	nfq_time_str(tf, buf, (uint64_t)s * 1000, false, ' ');
}

static void ls_print_text(const struct tree_info *t, size_t n, bool localtime)
{
	struct nfq_timefmt tf;
	size_t i, k;

	nfq_timefmt_init(&tf, localtime);
	printf("%-20s %7s %-19s  %-19s %12s %14s %7s %4s\n", "Ident", "Files",
	       "First", "Last", "Flows", "Bytes", "Missing", "Live");
	for (i = 0; i < n; i++) {
		char f[40], l[40];

		slot_str(&tf, t[i].first, f);
		slot_str(&tf, t[i].last, l);
		printf("%-20s %7zu %-19s  %-19s %12" PRIu64 " %14" PRIu64
		       " %7" PRIu64 " %4s\n",
		       t[i].ident, t[i].files, f, l, t[i].flows, t[i].bytes,
		       t[i].missing, t[i].live ? "yes" : "no");
		for (k = 0; k < t[i].n_gaps && k < MAX_GAPS_SHOWN; k++) {
			slot_str(&tf, t[i].gaps[k].from, f);
			slot_str(&tf,
				 t[i].gaps[k].from +
					 (t[i].gaps[k].slots - 1) * t[i].period,
				 l);
			printf("  missing: %s - %s (%" PRId64 " slot%s)\n", f,
			       l, t[i].gaps[k].slots,
			       t[i].gaps[k].slots == 1 ? "" : "s");
		}
		if (t[i].n_gaps > MAX_GAPS_SHOWN)
			printf("  ... %zu more gaps (--json lists all)\n",
			       t[i].n_gaps - MAX_GAPS_SHOWN);
		if (t[i].unreadable)
			printf("  %u file%s could not be read\n",
			       t[i].unreadable,
			       t[i].unreadable == 1 ? "" : "s");
	}
}

static void ls_print_json(const struct tree_info *t, size_t n)
{
	size_t i, k;

	printf("[");
	for (i = 0; i < n; i++) {
		printf("%s\n  {\"ident\": ", i ? "," : "");
		nfq_json_str(stdout, t[i].ident);
		printf(", \"files\": %zu, \"first\": %" PRId64
		       ", \"last\": %" PRId64 ", \"period\": %" PRId64
		       ", \"flows\": %" PRIu64 ", \"bytes\": %" PRIu64
		       ", \"missing_slots\": %" PRIu64
		       ", \"live\": %s, \"unreadable\": %u, \"gaps\": [",
		       t[i].files, t[i].first, t[i].last, t[i].period,
		       t[i].flows, t[i].bytes, t[i].missing,
		       t[i].live ? "true" : "false", t[i].unreadable);
		for (k = 0; k < t[i].n_gaps; k++)
			printf("%s{\"from\": %" PRId64 ", \"slots\": %" PRId64
			       "}",
			       k ? ", " : "", t[i].gaps[k].from,
			       t[i].gaps[k].slots);
		printf("]}");
	}
	printf("%s]\n", n ? "\n" : "");
}

static int cmp_tree(const void *a, const void *b)
{
	return strcmp(((const struct tree_info *)a)->ident,
		      ((const struct tree_info *)b)->ident);
}

static void ls_usage(FILE *fp)
{
	fprintf(fp, "usage: nfq ls [--json] [--localtime] BASE\n"
		    "Lists each exporter tree under BASE: files, first and "
		    "last time slot,\nflows, bytes on disk, missing slots "
		    "(outages), open files.\n");
}

int nfq_cmd_ls(int argc, char **argv)
{
	static const struct option lo[] = {
		{"json", no_argument, NULL, 'j'},
		{"localtime", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct tree_info *t = NULL;
	char err[NFQ_ERR_MAX];
	bool json = false, localtime = false, top_files = false;
	size_t n = 0, i;
	struct dirent *e;
	const char *base;
	DIR *d;
	int c, rc = NFQ_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'l':
			localtime = true;
			break;
		case 'h':
			ls_usage(stdout);
			return 0;
		default:
			ls_usage(stderr);
			return NFQ_EXIT_FAIL;
		}
	}
	if (optind != argc - 1) {
		ls_usage(stderr);
		return NFQ_EXIT_FAIL;
	}
	base = argv[optind];
	if ((d = opendir(base)) == NULL) {
		fprintf(stderr, "nfq ls: %s: %s\n", base, strerror(errno));
		return NFQ_EXIT_FAIL;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		struct tree_info *nt;
		time_t slot;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", base, e->d_name) >=
			    (int)sizeof(path) ||
		    stat(path, &st) != 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			/* flow files right in BASE: BASE is one tree */
			if (fy_ftree_is_temp(e->d_name) ||
			    fy_ftree_parse_name(e->d_name, localtime, &slot) ==
				    0)
				top_files = true;
			continue;
		}
		if ((nt = realloc(t, (n + 1) * sizeof(*t))) == NULL)
			goto nomem;
		t = nt;
		memset(&t[n], 0, sizeof(t[n]));
		if ((t[n].ident = strdup(e->d_name)) == NULL)
			goto nomem;
		n++;
		if (scan_tree(path, localtime, &t[n - 1], err, sizeof(err))) {
			fprintf(stderr, "nfq ls: %s\n", err);
			goto out;
		}
		if (t[n - 1].files == 0) {
			/* a directory without flow files is not a tree */
			free(t[n - 1].ident);
			free(t[n - 1].gaps);
			n--;
		}
	}
	if (top_files && n == 0) {
		if ((t = calloc(1, sizeof(*t))) == NULL ||
		    (t[0].ident = strdup(".")) == NULL)
			goto nomem;
		n = 1;
		if (scan_tree(base, localtime, &t[0], err, sizeof(err))) {
			fprintf(stderr, "nfq ls: %s\n", err);
			goto out;
		}
	}
	if (n > 1)
		qsort(t, n, sizeof(*t), cmp_tree);
	if (json)
		ls_print_json(t, n);
	else
		ls_print_text(t, n, localtime);
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "nfq ls: out of memory\n");
out:
	closedir(d);
	for (i = 0; i < n; i++) {
		free(t[i].ident);
		free(t[i].gaps);
	}
	free(t);
	if (fflush(stdout) != 0)
		rc = NFQ_EXIT_FAIL;
	return rc;
}
