/*
 * input.c - which files a query reads, in time order.
 *
 *   -r PATH         one file, or every flow file under a directory
 *   -R DIR          the same as -r DIR
 *   -R DIR/FILE     FILE and every later file of DIR
 *   -R D/F1:S/F2    F1 to F2, where F2 is relative to the directory that
 *                   has as many levels above F1 as F2 has components
 *                   (nfdump: /dir/sub1/file1:sub2/file2 is /dir/...)
 *   -M B/D1:D2      the trees B/D1 and B/D2 (several exporters), each
 *                   read with -r/-R relative to it, or whole
 *
 * Open files of a running collector (`*.current.*`) are left out unless
 * --live. With a time window, files whose names put them more than a day
 * away from it are not even opened; the footer of each remaining file
 * decides exactly (scan.c). The day covers exporter clocks, export delays
 * and trees named in local time.
 */
#include "nfq.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ftree.h"

#define NAME_MARGIN_S (26 * 3600)

struct flist {
	struct nfq_file *v;
	size_t n, cap;
};

static int fl_add(struct flist *l, const char *path, int64_t slot,
		  uint64_t size, bool temp, unsigned tree)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct nfq_file *v = realloc(l->v, nc * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = nc;
	}
	if ((l->v[l->n].path = strdup(path)) == NULL)
		return -ENOMEM;
	l->v[l->n].slot = slot;
	l->v[l->n].size = size;
	l->v[l->n].temp = temp;
	l->v[l->n].tree = tree;
	l->n++;
	return 0;
}

void nfq_input_free(struct nfq_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * Whether file i of a tree's list (final files in slot order) may hold
 * flows of the window, judged by names only: the next file's slot bounds
 * when this one's flows were received.
 */
static bool name_may_match(const struct fy_ftree_file *v, size_t n, size_t i,
			   const struct nfq_window *w)
{
	int64_t from, to, next = -1;
	size_t j;

	if (w == NULL || !w->set || w->rel || v[i].temp)
		return true;
	from = (int64_t)(w->from_ms / 1000) - NAME_MARGIN_S;
	to = w->to_ms == UINT64_MAX
		     ? INT64_MAX
		     : (int64_t)(w->to_ms / 1000) + NAME_MARGIN_S;
	if ((int64_t)v[i].slot > to)
		return false;
	for (j = i + 1; j < n; j++) {
		if (!v[j].temp && v[j].slot > v[i].slot) {
			next = v[j].slot;
			break;
		}
	}
	return next < 0 || next > from;
}

/* Adds the files of a listing, those in [lo, hi] when bounds are given. */
static int add_listing(struct flist *l, const struct fy_ftree_file *v, size_t n,
		       const struct nfq_input_opts *o, unsigned tree,
		       const struct fy_ftree_file *lo,
		       const struct fy_ftree_file *hi)
{
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (lo && !v[i].temp &&
		    (v[i].slot < lo->slot ||
		     (v[i].slot == lo->slot &&
		      strcmp(base_name(v[i].path), base_name(lo->path)) < 0)))
			continue;
		if (hi &&
		    (v[i].temp || v[i].slot > hi->slot ||
		     (v[i].slot == hi->slot &&
		      strcmp(base_name(v[i].path), base_name(hi->path)) > 0)))
			continue;
		if (!name_may_match(v, n, i, o->window))
			continue;
		if ((r = fl_add(l, v[i].path, v[i].slot, v[i].size, v[i].temp,
				tree)) != 0)
			return r;
	}
	return 0;
}

static int list_dir(struct flist *l, const char *dir,
		    const struct nfq_input_opts *o, unsigned tree,
		    const struct fy_ftree_file *lo,
		    const struct fy_ftree_file *hi, char *err, size_t errlen)
{
	struct fy_ftree_file *v;
	size_t n;
	int r;

	if (fy_ftree_list(dir, o->live, o->localtime, &v, &n, err, errlen))
		return -EIO;
	r = add_listing(l, v, n, o, tree, lo, hi);
	fy_ftree_list_free(v, n);
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", dir);
	return r;
}

static int add_file(struct flist *l, const char *path, const struct stat *st,
		    unsigned tree)
{
	time_t slot;

	if (fy_ftree_parse_name(base_name(path), false, &slot))
		slot = st->st_mtime;
	return fl_add(l, path, slot, (uint64_t)st->st_size,
		      fy_ftree_is_temp(base_name(path)), tree);
}

/* -r PATH: a file or a directory. */
static int select_read(struct flist *l, const char *path,
		       const struct nfq_input_opts *o, unsigned tree,
		       bool missing_ok, char *err, size_t errlen)
{
	struct stat st;
	int r;

	if (stat(path, &st) != 0) {
		if (missing_ok && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "-r %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode))
		return list_dir(l, path, o, tree, NULL, NULL, err, errlen);
	if ((r = add_file(l, path, &st, tree)) == -ENOMEM)
		snprintf(err, errlen, "-r %s: out of memory", path);
	return r;
}

/* How many '/'-separated components a relative path has. */
static unsigned components(const char *s)
{
	unsigned n = 1;

	for (; *s; s++)
		if (*s == '/' && s[1] && s[1] != '/')
			n++;
	return n;
}

/* A bound of a range: a pseudo file with the name's slot. */
static int range_bound(const char *path, struct fy_ftree_file *b,
		       const char *opt, char *err, size_t errlen)
{
	time_t slot;

	if (fy_ftree_parse_name(base_name(path), false, &slot)) {
		snprintf(err, errlen,
			 "%s %s: not a flow file name (prefix.YYYYMMDDhhmm)",
			 opt, path);
		return -EINVAL;
	}
	b->path = (char *)path;
	b->slot = slot;
	b->size = 0;
	b->temp = false;
	return 0;
}

/* -R SPEC, relative to dir when dir is not NULL (-M). */
static int select_range(struct flist *l, const char *dir, const char *spec,
			const struct nfq_input_opts *o, unsigned tree,
			char *err, size_t errlen)
{
	char first[4096], base[4096];
	const char *colon = strchr(spec, ':'), *last = NULL;
	struct fy_ftree_file lo, hi;
	struct stat st;
	unsigned k;
	int n, r;

	if (colon)
		last = colon + 1;
	n = snprintf(first, sizeof(first), "%s%s%.*s", dir ? dir : "",
		     dir ? "/" : "",
		     colon ? (int)(colon - spec) : (int)strlen(spec), spec);
	if (n < 0 || (size_t)n >= sizeof(first)) {
		snprintf(err, errlen, "-R %s: path too long", spec);
		return -ENAMETOOLONG;
	}
	if (!last && stat(first, &st) == 0 && S_ISDIR(st.st_mode))
		return list_dir(l, first, o, tree, NULL, NULL, err, errlen);
	if ((r = range_bound(first, &lo, "-R", err, errlen)) != 0)
		return r;
	/* the base: as many levels up from `first` as `last` has parts */
	strcpy(base, first);
	for (k = last ? components(last) : 1; k > 0; k--) {
		char *s = strrchr(base, '/');

		if (s == NULL) {
			strcpy(base, ".");
			break;
		}
		*s = '\0';
		if (base[0] == '\0')
			strcpy(base, "/");
	}
	if (last) {
		char lastp[4096];

		n = snprintf(lastp, sizeof(lastp), "%s/%s", base, last);
		if (n < 0 || (size_t)n >= sizeof(lastp)) {
			snprintf(err, errlen, "-R %s: path too long", spec);
			return -ENAMETOOLONG;
		}
		if ((r = range_bound(last, &hi, "-R", err, errlen)) != 0)
			return r;
		if (hi.slot < lo.slot) {
			snprintf(err, errlen,
				 "-R %s: the last file is older "
				 "than the first",
				 spec);
			return -EINVAL;
		}
	}
	return list_dir(l, base, o, tree, &lo, last ? &hi : NULL, err, errlen);
}

static int file_cmp(const void *a, const void *b)
{
	const struct nfq_file *x = a, *y = b;

	if (x->temp != y->temp)
		return x->temp ? 1 : -1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	if (x->tree != y->tree)
		return x->tree < y->tree ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* -M B/D1:D2:D3 -> B/D1, B/D2, B/D3 (an absolute Dn stands alone). */
static int split_multi(const char *spec, char ***dirs, size_t *n, char *err,
		       size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *tok, *slash, **v = NULL;
	const char *base = NULL;
	size_t cnt = 0;
	int r = 0;

	*dirs = NULL;
	*n = 0;
	if (copy == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		char **nv = realloc(v, (cnt + 1) * sizeof(*v));
		int len;

		if (nv == NULL) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		if (base == NULL) {
			/* the first one names the base directory */
			v[cnt] = strdup(tok);
			slash = strrchr(tok, '/');
			if (slash) {
				*slash = '\0';
				base = slash == tok ? "/" : tok;
			} else {
				base = ".";
			}
		} else if (tok[0] == '/') {
			v[cnt] = strdup(tok);
		} else {
			len = snprintf(NULL, 0, "%s/%s", base, tok);
			v[cnt] = malloc((size_t)len + 1);
			if (v[cnt])
				snprintf(v[cnt], (size_t)len + 1, "%s/%s", base,
					 tok);
		}
		if (v[cnt] == NULL) {
			r = -ENOMEM;
			break;
		}
		cnt++;
	}
	if (r == 0 && cnt == 0) {
		snprintf(err, errlen, "-M '%s': no directory", spec);
		r = -EINVAL;
	}
	if (r) {
		while (cnt)
			free(v[--cnt]);
		free(v);
		v = NULL;
		if (r == -ENOMEM)
			snprintf(err, errlen, "-M: out of memory");
	}
	free(copy);
	*dirs = v;
	*n = cnt;
	return r;
}

int nfq_input_select(const struct nfq_input_opts *o, struct nfq_file **out,
		     size_t *n, char *err, size_t errlen)
{
	struct flist l = {0};
	char **dirs = NULL;
	size_t nd = 0, i;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (!o->read && !o->range && !o->multi) {
		snprintf(err, errlen, "no input: give -r, -R or -M");
		return -EINVAL;
	}
	if (o->read && o->range) {
		snprintf(err, errlen, "-r and -R: give one of them");
		return -EINVAL;
	}
	if (o->multi) {
		if ((r = split_multi(o->multi, &dirs, &nd, err, errlen)) != 0)
			return r;
		for (i = 0; i < nd && r == 0; i++) {
			struct stat st;

			if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
				snprintf(err, errlen,
					 "-M %s: %s: not a directory", o->multi,
					 dirs[i]);
				r = -ENOTDIR;
				break;
			}
			if (o->range) {
				r = select_range(&l, dirs[i], o->range, o,
						 (unsigned)i, err, errlen);
			} else if (o->read) {
				char p[4096];
				int k = snprintf(p, sizeof(p), "%s/%s", dirs[i],
						 o->read);

				if (k < 0 || (size_t)k >= sizeof(p)) {
					snprintf(err, errlen,
						 "-r %s: path too long",
						 o->read);
					r = -ENAMETOOLONG;
					break;
				}
				/* nfdump: the file need not be in every tree */
				r = select_read(&l, p, o, (unsigned)i, true,
						err, errlen);
			} else {
				r = list_dir(&l, dirs[i], o, (unsigned)i, NULL,
					     NULL, err, errlen);
			}
		}
		for (i = 0; i < nd; i++)
			free(dirs[i]);
		free(dirs);
	} else if (o->range) {
		r = select_range(&l, NULL, o->range, o, 0, err, errlen);
	} else {
		r = select_read(&l, o->read, o, 0, false, err, errlen);
	}
	if (r) {
		nfq_input_free(l.v, l.n);
		return r;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), file_cmp);
	*out = l.v;
	*n = l.n;
	return 0;
}
