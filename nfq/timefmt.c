/*
 * timefmt.c - time windows (-t) and the printing of times and durations.
 *
 * Two spellings are accepted because two kinds of users arrive: nfdump's
 * `YYYY/MM/dd.hh:mm:ss` (what scripts written for nfdump pass) and ISO
 * 8601 (what everything else produces). Times are UTC unless --localtime:
 * flowyard's file names are UTC too, so a window never depends on the
 * TZ of the shell that runs the query.
 */
#include "nfq.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Reads 1..max digits; returns the count read (0: none). */
static int read_num(const char *s, int max, int *v)
{
	int n = 0;

	*v = 0;
	while (n < max && s[n] >= '0' && s[n] <= '9') {
		*v = *v * 10 + (s[n] - '0');
		n++;
	}
	return n;
}

struct tparse {
	const char *start; /* the whole argument, for messages */
	char *err;
	size_t errlen;
};

static int tp_fail(struct tparse *tp, const char *at, const char *what)
{
	snprintf(tp->err, tp->errlen, "-t '%s': %s at column %zu ('%.12s')",
		 tp->start, what, (size_t)(at - tp->start) + 1,
		 *at ? at : "end");
	return -EINVAL;
}

/* `[+-]hh:mm` followed by the end or a separator: a UTC offset. */
static bool is_offset(const char *s)
{
	if ((s[0] != '+' && s[0] != '-') || s[3] != ':')
		return false;
	for (int i = 1; i < 6; i++) {
		if (i == 3)
			continue;
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return s[6] == '\0' || s[6] == '/' || s[6] == '-';
}

/* Converts broken-down time to ms; -1 when the date does not exist. */
static int64_t tm_to_ms(struct tm *tm, bool localtime, int msec)
{
	struct tm check = *tm;
	time_t t;

	tm->tm_isdst = -1;
	t = localtime ? mktime(tm) : timegm(tm);
	if (t == (time_t)-1 || t < 0)
		return -1;
	/* mktime/timegm normalise Feb 30 to Mar 2: reject such dates */
	if (tm->tm_mday != check.tm_mday || tm->tm_mon != check.tm_mon)
		return -1;
	return (int64_t)t * 1000 + msec;
}

/*
 * Parses one time at *sp and advances *sp past it. nfdump's form
 * (YYYY/MM/dd[.hh[:mm[:ss]]]) or ISO (YYYY-MM-DD[Thh:mm[:ss[.fff]]][zone]).
 */
static int parse_one(struct tparse *tp, const char **sp, bool localtime,
		     uint64_t *ms)
{
	const char *s = *sp;
	struct tm tm = {0};
	int v, n, msec = 0, off_min = 0;
	bool iso, has_zone = false;
	char dsep;
	int64_t t;

	if ((n = read_num(s, 4, &v)) != 4)
		return tp_fail(tp, s, "expected a 4-digit year");
	s += n;
	tm.tm_year = v - 1900;
	if (*s != '/' && *s != '-')
		return tp_fail(tp, s, "expected '/' or '-' after the year");
	dsep = *s++;
	iso = dsep == '-';
	if ((n = read_num(s, 2, &v)) == 0 || v < 1 || v > 12)
		return tp_fail(tp, s, "expected a month 1-12");
	s += n;
	tm.tm_mon = v - 1;
	if (*s != dsep)
		return tp_fail(tp, s, "expected the day after the month");
	s++;
	if ((n = read_num(s, 2, &v)) == 0 || v < 1 || v > 31)
		return tp_fail(tp, s, "expected a day 1-31");
	s += n;
	tm.tm_mday = v;

	/* nfdump: .hh[:mm[:ss]]; ISO: Thh:mm[:ss[.fff]] (a space also) */
	if ((!iso && *s == '.') ||
	    (iso && (*s == 'T' || *s == 't' ||
		     (*s == ' ' && s[1] >= '0' && s[1] <= '9')))) {
		s++;
		if ((n = read_num(s, 2, &v)) == 0 || v > 23)
			return tp_fail(tp, s, "expected an hour 0-23");
		s += n;
		tm.tm_hour = v;
		if (*s == ':') {
			s++;
			if ((n = read_num(s, 2, &v)) == 0 || v > 59)
				return tp_fail(tp, s, "expected minutes 0-59");
			s += n;
			tm.tm_min = v;
			if (*s == ':') {
				s++;
				if ((n = read_num(s, 2, &v)) == 0 || v > 60)
					return tp_fail(tp, s,
						       "expected seconds 0-60");
				s += n;
				tm.tm_sec = v;
				if (iso && (*s == '.' || *s == ',') &&
				    s[1] >= '0' && s[1] <= '9') {
					int k;

					s++;
					/* milliseconds; finer digits dropped */
					for (k = 0; *s >= '0' && *s <= '9';
					     s++, k++)
						if (k < 3)
							msec = msec * 10 +
							       (*s - '0');
					for (; k < 3; k++)
						msec *= 10;
				}
			}
		} else if (iso) {
			return tp_fail(tp, s, "expected ':' and minutes");
		}
	}
	if (iso && (*s == 'Z' || *s == 'z')) {
		has_zone = true;
		s++;
	} else if (iso && is_offset(s)) {
		int hh = (s[1] - '0') * 10 + (s[2] - '0');
		int mm = (s[4] - '0') * 10 + (s[5] - '0');

		if (hh > 23 || mm > 59)
			return tp_fail(tp, s, "bad UTC offset");
		off_min = (hh * 60 + mm) * (s[0] == '-' ? -1 : 1);
		has_zone = true;
		s += 6;
	}
	t = tm_to_ms(&tm, localtime && !has_zone, msec);
	if (t < 0)
		return tp_fail(tp, *sp, "no such date");
	t -= (int64_t)off_min * 60000;
	if (t < 0)
		return tp_fail(tp, *sp, "time before 1970");
	*ms = (uint64_t)t;
	*sp = s;
	return 0;
}

int nfq_window_parse(const char *s, bool localtime, struct nfq_window *w,
		     char *err, size_t errlen)
{
	struct tparse tp = {s, err, errlen};
	const char *p = s;
	int r;

	memset(w, 0, sizeof(*w));
	if ((s[0] == '+' || s[0] == '-') && s[1] >= '0' && s[1] <= '9') {
		unsigned long long n = 0;

		for (p = s + 1; *p >= '0' && *p <= '9'; p++) {
			if (n > UINT64_MAX / 10000)
				return tp_fail(&tp, p, "number too large");
			n = n * 10 + (unsigned)(*p - '0');
		}
		if (*p != '\0')
			return tp_fail(&tp, p, "expected seconds after +/-");
		w->set = true;
		w->rel = s[0];
		w->rel_ms = n * 1000;
		w->from_ms = 0;
		w->to_ms = UINT64_MAX;
		return 0;
	}
	if ((r = parse_one(&tp, &p, localtime, &w->from_ms)) != 0)
		return r;
	w->to_ms = UINT64_MAX;
	if (*p != '\0') {
		if (p[0] == '-' && p[1] == '-')
			p += 2;
		else if (*p == '-' || *p == '/')
			p++;
		else
			return tp_fail(&tp, p,
				       "expected '-' or '/' between "
				       "the start and the end");
		if ((r = parse_one(&tp, &p, localtime, &w->to_ms)) != 0)
			return r;
		if (*p != '\0')
			return tp_fail(&tp, p, "unexpected text after the end");
		if (w->to_ms < w->from_ms)
			return tp_fail(&tp, s, "the end is before the start");
	}
	w->set = true;
	return 0;
}

void nfq_window_resolve(struct nfq_window *w, uint64_t first_ms,
			uint64_t last_ms)
{
	if (!w->set || w->rel == 0)
		return;
	if (w->rel == '+') {
		w->from_ms = first_ms;
		w->to_ms = first_ms + w->rel_ms;
	} else {
		w->from_ms = last_ms > w->rel_ms ? last_ms - w->rel_ms : 0;
		w->to_ms = last_ms;
	}
	w->rel = 0;
}

bool nfq_window_overlaps(const struct nfq_window *w, uint64_t first_ms,
			 uint64_t last_ms)
{
	if (!w->set || w->rel)
		return true;
	return last_ms >= w->from_ms && first_ms <= w->to_ms;
}

void nfq_timefmt_init(struct nfq_timefmt *t, bool localtime)
{
	memset(t, 0, sizeof(*t));
	t->localtime = localtime;
	t->cached_sec = -1;
}

/* Two digits at p. */
static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

size_t nfq_time_str(struct nfq_timefmt *t, char *buf, uint64_t ms, bool msec,
		    char sep)
{
	int64_t sec = (int64_t)(ms / 1000);
	size_t n;

	if (sec != t->cached_sec || sep != t->cached_sep) {
		time_t tt = (time_t)sec;
		struct tm tm;
		char *p = t->cached;
		int y;

		if ((t->localtime ? localtime_r(&tt, &tm)
				  : gmtime_r(&tt, &tm)) == NULL)
			memset(&tm, 0, sizeof(tm));
		y = tm.tm_year + 1900;
		if (y < 0 || y > 9999)
			y = 9999;
		p[0] = (char)('0' + y / 1000);
		p[1] = (char)('0' + y / 100 % 10);
		put2(p + 2, y % 100);
		p[4] = '-';
		put2(p + 5, tm.tm_mon + 1);
		p[7] = '-';
		put2(p + 8, tm.tm_mday);
		p[10] = sep;
		put2(p + 11, tm.tm_hour);
		p[13] = ':';
		put2(p + 14, tm.tm_min);
		p[16] = ':';
		put2(p + 17, tm.tm_sec);
		t->cached_len = 19;
		t->cached_sec = sec;
		t->cached_sep = sep;
	}
	memcpy(buf, t->cached, t->cached_len);
	n = t->cached_len;
	if (msec) {
		unsigned m = (unsigned)(ms % 1000);

		buf[n++] = '.';
		buf[n++] = (char)('0' + m / 100);
		buf[n++] = (char)('0' + m / 10 % 10);
		buf[n++] = (char)('0' + m % 10);
	}
	buf[n] = '\0';
	return n;
}

size_t nfq_duration_str(char *buf, size_t len, uint64_t ms, bool plain)
{
	uint64_t s = ms / 1000, days = s / 86400;
	char tmp[64];
	int n;

	/* formatted in full first: a short buf gets a cut copy */
	if (plain)
		n = snprintf(tmp, sizeof(tmp), "%llu.%03u",
			     (unsigned long long)s, (unsigned)(ms % 1000));
	else if (days)
		n = snprintf(tmp, sizeof(tmp), "%llud %02u:%02u:%02u.%03u",
			     (unsigned long long)days,
			     (unsigned)(s % 86400 / 3600),
			     (unsigned)(s % 3600 / 60), (unsigned)(s % 60),
			     (unsigned)(ms % 1000));
	else
		n = snprintf(tmp, sizeof(tmp), "%02u:%02u:%02u.%03u",
			     (unsigned)(s / 3600 % 100000),
			     (unsigned)(s % 3600 / 60), (unsigned)(s % 60),
			     (unsigned)(ms % 1000));
	if (n < 0 || len == 0)
		return 0;
	if ((size_t)n >= len)
		n = (int)len - 1;
	memcpy(buf, tmp, (size_t)n);
	buf[n] = '\0';
	return (size_t)n;
}
