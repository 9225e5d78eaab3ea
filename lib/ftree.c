#include "ftree.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* nfcapd's -S layouts, as strftime formats. */
static const char *const layouts[FY_FTREE_LAYOUT_MAX + 1] = {
	"",	 "%Y/%m/%d", "%Y/%m/%d/%H", "%Y/%W/%u",	   "%Y/%W/%u/%H",
	"%Y/%j", "%Y/%j/%H", "%Y-%m-%d",    "%Y-%m-%d/%H",
};

time_t fy_ftree_slot_start(time_t t, unsigned period)
{
	if (period == 0)
		return t;
	return t - t % (time_t)period;
}

static int to_tm(time_t t, bool localtime, struct tm *tm)
{
	if (localtime)
		return localtime_r(&t, tm) ? 0 : -1;
	return gmtime_r(&t, tm) ? 0 : -1;
}

int fy_ftree_slot_dir(char *buf, size_t len, const char *dir, int layout,
		      time_t t, bool localtime)
{
	char sub[64];
	struct tm tm;
	int n;

	if (layout < 0 || layout > FY_FTREE_LAYOUT_MAX ||
	    to_tm(t, localtime, &tm))
		return -1;
	if (layout == 0) {
		n = snprintf(buf, len, "%s", dir);
	} else {
		if (strftime(sub, sizeof(sub), layouts[layout], &tm) == 0)
			return -1;
		n = snprintf(buf, len, "%s/%s", dir, sub);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int fy_ftree_file_name(char *buf, size_t len, const char *prefix, time_t t,
		       bool seconds, bool localtime)
{
	char stamp[32];
	struct tm tm;
	int n;

	if (to_tm(t, localtime, &tm) ||
	    strftime(stamp, sizeof(stamp),
		     seconds ? "%Y%m%d%H%M%S" : "%Y%m%d%H%M", &tm) == 0)
		return -1;
	n = snprintf(buf, len, "%s.%s", prefix, stamp);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int fy_ftree_temp_name(char *buf, size_t len, const char *prefix, pid_t pid)
{
	int n = snprintf(buf, len, "%s" FY_FTREE_TEMP_TAG "%ld", prefix,
			 (long)pid);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

bool fy_ftree_is_temp(const char *name)
{
	return strstr(name, FY_FTREE_TEMP_TAG) != NULL;
}

/* Reads exactly n digits as a number; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int fy_ftree_parse_name(const char *name, bool localtime, time_t *t)
{
	const char *dot = strchr(name, '.'), *p, *end;
	struct tm tm;
	size_t nd;

	if (dot == NULL || dot == name)
		return -1;
	p = dot + 1;
	for (end = p; *end >= '0' && *end <= '9'; end++)
		;
	nd = (size_t)(end - p);
	if (nd != 12 && nd != 14)
		return -1;
	/* an optional ".N" tells apart files of one slot after a restart */
	if (*end == '.') {
		const char *q = end + 1;
		if (*q == '\0')
			return -1;
		for (; *q; q++)
			if (*q < '0' || *q > '9')
				return -1;
	} else if (*end != '\0') {
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits(p, 4) - 1900;
	tm.tm_mon = digits(p + 4, 2) - 1;
	tm.tm_mday = digits(p + 6, 2);
	tm.tm_hour = digits(p + 8, 2);
	tm.tm_min = digits(p + 10, 2);
	tm.tm_sec = nd == 14 ? digits(p + 12, 2) : 0;
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_isdst = -1;
	*t = localtime ? mktime(&tm) : timegm(&tm);
	return *t == (time_t)-1 ? -1 : 0;
}

int fy_ftree_free_path(char *buf, size_t len, const char *base)
{
	struct stat st;
	unsigned i;
	int n;

	for (i = 0; i < 10000; i++) {
		n = i ? snprintf(buf, len, "%s.%u", base, i)
		      : snprintf(buf, len, "%s", base);
		if (n < 0 || (size_t)n >= len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (lstat(buf, &st) != 0)
			return errno == ENOENT ? 0 : -1;
	}
	errno = EEXIST;
	return -1;
}

int fy_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return -1;
		tmp[i] = path[i];
	}
	return 0;
}

struct list {
	struct fy_ftree_file *v;
	size_t n, cap;
};

static int list_add(struct list *l, const char *path, time_t slot,
		    const struct stat *st, bool temp)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct fy_ftree_file *v = realloc(l->v, nc * sizeof(*v));
		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = nc;
	}
	l->v[l->n].path = strdup(path);
	if (l->v[l->n].path == NULL)
		return -1;
	l->v[l->n].slot = slot;
	l->v[l->n].size = (uint64_t)st->st_size;
	l->v[l->n].temp = temp;
	l->n++;
	return 0;
}

static int walk(const char *dir, bool with_temp, bool localtime, struct list *l,
		int depth, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		time_t slot;
		int n;

		if (e->d_name[0] == '.')
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			/* layouts are at most 4 levels; bound the descent */
			if (depth < 8 && walk(path, with_temp, localtime, l,
					      depth + 1, err, errlen)) {
				r = -1;
				break;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (fy_ftree_is_temp(e->d_name)) {
			if (with_temp &&
			    list_add(l, path, st.st_mtime, &st, true)) {
				r = -1;
				break;
			}
			continue;
		}
		if (fy_ftree_parse_name(e->d_name, localtime, &slot) == 0 &&
		    list_add(l, path, slot, &st, false)) {
			r = -1;
			break;
		}
	}
	if (r && errno == ENOMEM)
		snprintf(err, errlen, "%s: out of memory", dir);
	closedir(d);
	return r;
}

static int file_cmp(const void *a, const void *b)
{
	const struct fy_ftree_file *x = a, *y = b;

	if (x->temp != y->temp)
		return x->temp ? 1 : -1; /* open files hold the newest data */
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return strcmp(x->path, y->path);
}

int fy_ftree_list(const char *dir, bool with_temp, bool localtime,
		  struct fy_ftree_file **out, size_t *n, char *err,
		  size_t errlen)
{
	struct list l = {0};

	*out = NULL;
	*n = 0;
	if (walk(dir, with_temp, localtime, &l, 0, err, errlen)) {
		fy_ftree_list_free(l.v, l.n);
		return -1;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), file_cmp);
	*out = l.v;
	*n = l.n;
	return 0;
}

void fy_ftree_list_free(struct fy_ftree_file *files, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}
