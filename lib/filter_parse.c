/*
 * filter_parse.c - compiles the nfdump filter language (see filter.h) into
 * the decision graph of filter_impl.h.
 *
 * Three steps. The text is cut into tokens. A recursive-descent parser
 * builds a tree whose leaves are ready-made tests (field offset, operator,
 * constant) and whose inner nodes are n-ary and/or and not; keywords are
 * recognised by position, so no word is reserved. The tree is then
 * emitted backwards (last test first), so that each test's true and false
 * targets are known when it is written; reversing the array makes every
 * jump go forward, and a pass from the entry drops what cannot be reached
 * ("any or port 80" keeps no port test) and collects the columns read.
 *
 * Nothing here trusts the input: every token access is bounded, nesting is
 * limited, numbers are checked for overflow and range, and every failure
 * leaves a message naming the column.
 */
#include "filter.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter_impl.h"
#include "store.h"

#define NONE UINT32_MAX
#define NOWHERE SIZE_MAX     /* an error of no token: out of memory */
#define MAX_DEPTH 128	     /* nested parentheses */
#define MAX_ITEMS (1u << 24) /* tokens, nodes, tests, list entries */
#define ADDR_TEXT_MAX 64     /* longest address or net token */
#define SHOW_MAX 40	     /* bytes of a token quoted in a message */

/* ------------------------------------------------------------------ */
/* Tokens */

enum tok_type {
	T_END,
	T_WORD,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_CMP, /* = == < <= > >= != */
	T_NOT, /* ! */
	T_AND, /* && */
	T_OR,  /* || */
	T_BAD, /* a byte that starts no token */
};

struct tok {
	uint8_t type;
	uint8_t cmp; /* T_CMP: enum fy_filter_cmp */
	uint32_t len;
	size_t pos; /* byte offset in the expression */
};

/* ------------------------------------------------------------------ */
/* Tree */

enum node_type { N_LEAF, N_AND, N_OR, N_NOT, N_TRUE, N_FALSE };

/*
 * Children of an and/or are linked through `sibling`, most recent first:
 * the order in which the backward emission wants them.
 */
struct node {
	uint8_t type;
	uint32_t child;
	uint32_t sibling;
	struct fy_filter_insn insn; /* N_LEAF; next[] unused */
	uint64_t cols;		    /* N_LEAF: FY_STORE_MASK bits */
};

struct parser {
	const char *src;
	bool multiline;
	struct tok *toks;
	size_t n_toks, cap_toks, i;
	struct node *nodes;
	size_t n_nodes, cap_nodes;
	unsigned depth;
	bool failed;
	char *err;
	size_t errlen;

	struct fy_filter *f; /* what is being built */
	uint64_t *insn_cols; /* beside f->insn while emitting */
	size_t cap_insn, cap_nets, cap_nums, cap_keys, cap_groups;
};

/* ------------------------------------------------------------------ */
/* Errors */

/* "column C", or "line L, column C" in a multi-line expression. */
static void location(const struct parser *p, size_t pos, char *buf, size_t len)
{
	size_t line = 1, col = 1, i;

	for (i = 0; i < pos && p->src[i]; i++) {
		if (p->src[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (p->multiline)
		snprintf(buf, len, "line %zu, column %zu", line, col);
	else
		snprintf(buf, len, "column %zu", col);
}

__attribute__((format(printf, 3, 4))) static uint32_t
failf(struct parser *p, size_t pos, const char *fmt, ...)
{
	char where[64];
	va_list ap;
	int n;

	if (p->failed)
		return NONE;
	p->failed = true;
	if (p->err == NULL || p->errlen == 0)
		return NONE;
	n = 0;
	if (pos != NOWHERE) {
		location(p, pos, where, sizeof(where));
		n = snprintf(p->err, p->errlen, "%s: ", where);
	}
	if (n < 0 || (size_t)n >= p->errlen)
		return NONE;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return NONE;
}

static uint32_t oom(struct parser *p)
{
	return failf(p, NOWHERE, "out of memory");
}

/* The token from byte `skip` on, quoted and made printable, for messages. */
static void show(const struct parser *p, const struct tok *t, size_t skip,
		 char *buf, size_t len)
{
	const char *s = p->src + t->pos + skip;
	size_t n = t->len > skip ? t->len - skip : 0, i, o = 0;

	if (t->type == T_END) {
		snprintf(buf, len, "end of filter");
		return;
	}
	buf[o++] = '\'';
	for (i = 0; i < n && i < SHOW_MAX && o + 6 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = c >= ' ' && c < 0x7f ? (char)c : '?';
	}
	if (i < n && o + 6 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
}

static uint32_t expected_at(struct parser *p, const struct tok *t, size_t skip,
			    const char *what)
{
	char found[SHOW_MAX + 16];

	show(p, t, skip, found, sizeof(found));
	return failf(p, t->pos + skip, "expected %s, found %s", what, found);
}

static uint32_t expected(struct parser *p, const struct tok *t,
			 const char *what)
{
	return expected_at(p, t, 0, what);
}

/* The same for functions that return 0 or -1. */
static int bad(struct parser *p, const struct tok *t, const char *what)
{
	expected(p, t, what);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Growing arrays: NULL on failure, the old array left to free. */

static void *grow(void *arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return arr;
	if (need > MAX_ITEMS)
		return NULL;
	while (n < need)
		n *= 2;
	if (n > MAX_ITEMS)
		n = MAX_ITEMS;
	q = realloc(arr, n * size);
	if (q)
		*cap = n;
	return q;
}

/* Out of memory, or past MAX_ITEMS: both end the compile. */
static uint32_t too_big(struct parser *p, size_t need)
{
	if (need > MAX_ITEMS)
		return failf(p, NOWHERE, "filter too large (over %u items)",
			     MAX_ITEMS);
	return oom(p);
}

/* ------------------------------------------------------------------ */
/* Lexer */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Addresses (':', '.', '/'), names with '-', numbers with suffixes. */
static bool is_word_char(char c)
{
	unsigned char u = (unsigned char)c;

	return u > ' ' && u != 0x7f && strchr("()[],=<>!&|#", c) == NULL;
}

static int push_tok(struct parser *p, uint8_t type, uint8_t cmp, size_t pos,
		    size_t len)
{
	struct tok *t;

	t = grow(p->toks, &p->cap_toks, p->n_toks + 1, sizeof(*t));
	if (t == NULL) {
		too_big(p, p->n_toks + 1);
		return -1;
	}
	p->toks = t;
	t += p->n_toks++;
	t->type = type;
	t->cmp = cmp;
	t->pos = pos;
	t->len = (uint32_t)len;
	return 0;
}

/* Operators of one or two characters: sets *type, *cmp, returns length. */
static size_t lex_op(const char *s, uint8_t *type, uint8_t *cmp)
{
	*type = T_CMP;
	switch (s[0]) {
	case '(':
		*type = T_LPAREN;
		return 1;
	case ')':
		*type = T_RPAREN;
		return 1;
	case '[':
		*type = T_LBRACK;
		return 1;
	case ']':
		*type = T_RBRACK;
		return 1;
	case ',':
		*type = T_COMMA;
		return 1;
	case '=':
		*cmp = FY_FCMP_EQ;
		return s[1] == '=' ? 2 : 1;
	case '<':
		*cmp = s[1] == '=' ? FY_FCMP_LE : FY_FCMP_LT;
		return s[1] == '=' ? 2 : 1;
	case '>':
		*cmp = s[1] == '=' ? FY_FCMP_GE : FY_FCMP_GT;
		return s[1] == '=' ? 2 : 1;
	case '!':
		*cmp = FY_FCMP_NE;
		if (s[1] == '=')
			return 2;
		*type = T_NOT;
		return 1;
	case '&':
		*type = s[1] == '&' ? T_AND : T_BAD;
		return s[1] == '&' ? 2 : 1;
	case '|':
		*type = s[1] == '|' ? T_OR : T_BAD;
		return s[1] == '|' ? 2 : 1;
	}
	*type = T_BAD;
	return 1;
}

static int lex(struct parser *p)
{
	const char *s = p->src;
	size_t i = 0, start;
	uint8_t type, cmp;

	for (;;) {
		while (is_space(s[i]))
			i++;
		if (s[i] == '#') { /* comment to the end of the line */
			while (s[i] && s[i] != '\n')
				i++;
			continue;
		}
		if (s[i] == '\0')
			return push_tok(p, T_END, 0, i, 0);
		start = i;
		if (is_word_char(s[i])) {
			while (is_word_char(s[i]))
				i++;
			type = T_WORD;
			cmp = 0;
		} else {
			cmp = 0;
			i += lex_op(s + i, &type, &cmp);
		}
		if (push_tok(p, type, cmp, start, i - start) < 0)
			return -1;
	}
}

/* The token k ahead; the end token repeats forever. */
static const struct tok *peek(const struct parser *p, size_t k)
{
	size_t j = p->i + k;

	return &p->toks[j < p->n_toks ? j : p->n_toks - 1];
}

static void advance(struct parser *p, size_t k)
{
	p->i += k;
	if (p->i >= p->n_toks)
		p->i = p->n_toks - 1;
}

/* Whether t is the keyword kw, in any case. */
static bool is_kw(const struct parser *p, const struct tok *t, const char *kw)
{
	return t->type == T_WORD && t->len == strlen(kw) &&
	       strncasecmp(p->src + t->pos, kw, t->len) == 0;
}

static bool is_and(const struct parser *p, const struct tok *t)
{
	return t->type == T_AND || is_kw(p, t, "and");
}

static bool is_or(const struct parser *p, const struct tok *t)
{
	return t->type == T_OR || is_kw(p, t, "or");
}

static bool is_not(const struct parser *p, const struct tok *t)
{
	return t->type == T_NOT || is_kw(p, t, "not");
}

/* ------------------------------------------------------------------ */
/* Tree building */

static uint32_t new_node(struct parser *p, uint8_t type)
{
	struct node *n;

	n = grow(p->nodes, &p->cap_nodes, p->n_nodes + 1, sizeof(*n));
	if (n == NULL)
		return too_big(p, p->n_nodes + 1);
	p->nodes = n;
	n += p->n_nodes;
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->child = NONE;
	n->sibling = NONE;
	return (uint32_t)p->n_nodes++;
}

static uint32_t new_leaf(struct parser *p, uint8_t op, uint8_t cmp, size_t off,
			 uint64_t val, uint64_t cols)
{
	uint32_t n = new_node(p, N_LEAF);

	if (n == NONE)
		return NONE;
	p->nodes[n].insn.op = op;
	p->nodes[n].insn.cmp = cmp;
	p->nodes[n].insn.off = (uint16_t)off;
	p->nodes[n].insn.val = val;
	p->nodes[n].cols = cols;
	return n;
}

/* a and b, a or b: an and/or on the left grows by one child. */
static uint32_t join(struct parser *p, uint8_t type, uint32_t a, uint32_t b)
{
	uint32_t n;

	if (a == NONE || b == NONE)
		return NONE;
	if (p->nodes[a].type == type) {
		p->nodes[b].sibling = p->nodes[a].child;
		p->nodes[a].child = b;
		return a;
	}
	n = new_node(p, type);
	if (n == NONE)
		return NONE;
	p->nodes[n].child = b;
	p->nodes[b].sibling = a;
	return n;
}

static uint32_t negate(struct parser *p, uint32_t a)
{
	uint32_t n;

	if (a == NONE)
		return NONE;
	if (p->nodes[a].type == N_NOT)
		return p->nodes[a].child;
	n = new_node(p, N_NOT);
	if (n != NONE)
		p->nodes[n].child = a;
	return n;
}

/* ------------------------------------------------------------------ */
/* Values */

/*
 * A number as nfdump's scanner reads it: decimal with an optional k, m,
 * g or t (any case; powers of 1000), or 0x hex. Overflow is an error
 * where nfdump silently saturates or wraps.
 */
static int parse_number(const struct parser *p, const struct tok *t,
			uint64_t *out)
{
	const char *s = p->src + t->pos;
	size_t n = t->len, i = 0;
	uint64_t v = 0, mul = 1;

	if (t->type != T_WORD || n == 0)
		return -1;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		for (i = 2; i < n; i++) {
			char c = s[i];
			unsigned d;

			if (c >= '0' && c <= '9')
				d = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				d = (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				d = (unsigned)(c - 'A' + 10);
			else
				return -1;
			if (v >> 60)
				return -1;
			v = v << 4 | d;
		}
		*out = v;
		return 0;
	}
	switch (s[n - 1]) {
	case 'k':
	case 'K':
		mul = 1000;
		break;
	case 'm':
	case 'M':
		mul = 1000000;
		break;
	case 'g':
	case 'G':
		mul = 1000000000;
		break;
	case 't':
	case 'T':
		mul = UINT64_C(1000000000000);
		break;
	}
	if (mul > 1)
		n--;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* A number in 0..max at the current token, or an error naming `what`. */
static int take_number(struct parser *p, uint64_t max, const char *what,
		       uint64_t *out)
{
	const struct tok *t = peek(p, 0);

	if (parse_number(p, t, out) < 0 || *out > max) {
		expected(p, t, what);
		return -1;
	}
	advance(p, 1);
	return 0;
}

/* An optional comparison operator: symbols or nfdump's words. */
static uint8_t take_cmp(struct parser *p)
{
	static const char *const words[] = {
		[FY_FCMP_EQ] = "eq", [FY_FCMP_LT] = "lt", [FY_FCMP_GT] = "gt",
		[FY_FCMP_LE] = "le", [FY_FCMP_GE] = "ge",
	};
	const struct tok *t = peek(p, 0);
	uint8_t c;

	if (t->type == T_CMP) {
		advance(p, 1);
		return t->cmp;
	}
	for (c = 0; c < sizeof(words) / sizeof(words[0]); c++) {
		if (words[c] && is_kw(p, t, words[c])) {
			advance(p, 1);
			return c;
		}
	}
	return FY_FCMP_EQ;
}

/* The mask of the first `bits` bits of 128. */
static struct fy_filter_u128 mask_bits(unsigned bits)
{
	uint8_t b[16];
	unsigned i;

	for (i = 0; i < 16; i++) {
		unsigned n = bits > i * 8 ? bits - i * 8 : 0;

		b[i] = n >= 8 ? 0xff : (uint8_t)(0xff00 >> n);
	}
	return fy_filter_u128_load(b);
}

/* The token as a C string, if short enough to be an address. */
static bool tok_text(const struct parser *p, const struct tok *t, char *buf,
		     size_t len)
{
	if (t->type != T_WORD || t->len >= len)
		return false;
	memcpy(buf, p->src + t->pos, t->len);
	buf[t->len] = '\0';
	return true;
}

/* 1 to 4 dotted decimal octets, the rest zero: "10", "172.16". */
static int parse_octets(const char *s, uint8_t v4[4], unsigned *count)
{
	unsigned n = 0;

	memset(v4, 0, 4);
	for (;;) {
		unsigned v = 0, digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || n == 4)
			return -1;
		v4[n++] = (uint8_t)v;
		if (*s == '\0')
			break;
		if (*s++ != '.')
			return -1;
	}
	*count = n;
	return 0;
}

/* An address with its prefix length (in the 128-bit space). */
struct prefix {
	struct fy_filter_u128 addr; /* masked */
	unsigned bits;
	bool has_len; /* "/len" was written */
	bool v4;
};

/*
 * An address with an optional "/len". IPv4 written with fewer than four
 * octets needs a length, no longer than the octets written (nfdump's
 * rule: "172.16/12" but not "10.0/24").
 */
static int parse_prefix(struct parser *p, const struct tok *t, const char *what,
			struct prefix *out)
{
	char buf[ADDR_TEXT_MAX], *slash, limit[ADDR_TEXT_MAX + 48];
	struct fy_addr a;
	uint8_t v4[4];
	unsigned octets, max = 128, off = 0;
	struct fy_filter_u128 m;
	uint64_t n = 128;

	if (!tok_text(p, t, buf, sizeof(buf)))
		return bad(p, t, what);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	out->v4 = strchr(buf, ':') == NULL;
	if (!out->v4) {
		if (inet_pton(AF_INET6, buf, a.b) != 1)
			return bad(p, t, what);
	} else {
		if (parse_octets(buf, v4, &octets) < 0 ||
		    (!slash && octets != 4))
			return bad(p, t, what);
		fy_addr_set_v4_bytes(&a, v4);
		max = octets * 8;
		off = 96;
	}
	out->has_len = slash != NULL;
	n = max;
	if (slash) {
		size_t skip = (size_t)(slash + 1 - buf);
		struct tok lt = *t;

		/* The length is read as a token of its own, for messages. */
		lt.pos += skip;
		lt.len -= (uint32_t)skip;
		snprintf(limit, sizeof(limit),
			 "a prefix length of at most %u for '%s'", max, buf);
		if (strpbrk(slash + 1, "kKmMgGtTxX") ||
		    parse_number(p, &lt, &n) < 0 || n > max) {
			expected_at(p, t, skip, limit);
			return -1;
		}
	}
	out->bits = off + (unsigned)n;
	m = mask_bits(out->bits);
	out->addr = fy_filter_u128_load(a.b);
	out->addr.hi &= m.hi;
	out->addr.lo &= m.lo;
	return 0;
}

/* One address, IPv4 or IPv6; no hostname lookup in a library. */
static int parse_host(struct parser *p, const struct tok *t,
		      struct fy_filter_u128 *out)
{
	char buf[ADDR_TEXT_MAX];
	struct fy_addr a;

	if (!tok_text(p, t, buf, sizeof(buf)) ||
	    fy_addr_parse(buf, &a, NULL) < 0)
		return bad(p, t, "an IP address");
	*out = fy_filter_u128_load(a.b);
	return 0;
}

/* xx:xx:xx:xx:xx:xx (or with '-'), one or two hex digits per byte. */
static int parse_mac(const struct parser *p, const struct tok *t, uint64_t *out)
{
	const char *s = p->src + t->pos, *end = s + t->len;
	uint64_t v = 0;
	unsigned i;

	if (t->type != T_WORD)
		return -1;
	for (i = 0; i < 6; i++) {
		unsigned x = 0, digits = 0;

		while (s < end && digits < 3) {
			char c = *s;

			if (c >= '0' && c <= '9')
				x = x * 16 + (unsigned)(c - '0');
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				x = x * 16 + (unsigned)((c | 0x20) - 'a' + 10);
			else
				break;
			s++;
			digits++;
		}
		if (digits == 0 || digits > 2)
			return -1;
		v = v << 8 | x;
		if (i < 5 && (s == end || (*s != ':' && *s != '-')))
			return -1;
		if (i < 5)
			s++;
	}
	if (s != end)
		return -1;
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lists */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct prefix *x = a, *y = b;

	if (x->bits != y->bits)
		return x->bits < y->bits ? -1 : 1;
	if (x->addr.hi != y->addr.hi)
		return x->addr.hi < y->addr.hi ? -1 : 1;
	if (x->addr.lo != y->addr.lo)
		return x->addr.lo < y->addr.lo ? -1 : 1;
	return 0;
}

/*
 * Steps over "[" or an element separator; returns 1 at the closing "]"
 * (consumed), 0 when an element follows, -1 on error. Elements are
 * separated by blanks or one comma, as nfdump wants.
 */
static int list_step(struct parser *p, size_t count, const char *what)
{
	const struct tok *t = peek(p, 0);

	if (count == 0) {
		if (t->type != T_LBRACK)
			return bad(p, t, "'[' to start a list");
		advance(p, 1);
		return 0;
	}
	if (t->type == T_RBRACK) {
		advance(p, 1);
		return 1;
	}
	if (t->type == T_COMMA)
		advance(p, 1);
	if (peek(p, 0)->type != T_WORD)
		return bad(p, peek(p, 0), what);
	return 0;
}

/* A list of numbers 0..max: a set test, or equality for one number. */
static int parse_num_list(struct parser *p, uint64_t max, const char *what,
			  uint8_t width, struct fy_filter_insn *in)
{
	struct fy_filter *f = p->f;
	uint32_t start = f->n_nums, *v;
	size_t count = 0, i, n;
	uint64_t x;
	int r;

	while ((r = list_step(p, count, what)) == 0) {
		if (take_number(p, max, what, &x) < 0)
			return -1;
		v = grow(f->nums, &p->cap_nums, (size_t)f->n_nums + 1,
			 sizeof(*v));
		if (v == NULL) {
			too_big(p, (size_t)f->n_nums + 1);
			return -1;
		}
		f->nums = v;
		f->nums[f->n_nums++] = (uint32_t)x;
		count++;
	}
	if (r < 0)
		return -1;
	v = f->nums + start;
	qsort(v, count, sizeof(*v), cmp_u32);
	for (i = n = 1; i < count; i++)
		if (v[i] != v[n - 1])
			v[n++] = v[i];
	f->n_nums = start + (uint32_t)n;
	if (n == 1) {
		in->op = width == 2 ? FY_FOP_U16 : FY_FOP_U32;
		in->cmp = FY_FCMP_EQ;
		in->val = v[0];
		f->n_nums = start;
	} else {
		in->op = width == 2 ? FY_FOP_SET16 : FY_FOP_SET32;
		in->val = (uint64_t)start << 32 | n;
	}
	return 0;
}

static int add_net(struct parser *p, struct fy_filter_u128 addr, unsigned bits,
		   struct fy_filter_insn *in)
{
	struct fy_filter *f = p->f;
	struct fy_filter_net *n;

	n = grow(f->nets, &p->cap_nets, (size_t)f->n_nets + 1, sizeof(*n));
	if (n == NULL) {
		too_big(p, (size_t)f->n_nets + 1);
		return -1;
	}
	f->nets = n;
	n[f->n_nets].addr = addr;
	n[f->n_nets].mask = mask_bits(bits);
	in->op = FY_FOP_NET;
	in->val = f->n_nets++;
	return 0;
}

/* Sorted entries into one group per prefix length. */
static int add_groups(struct parser *p, const struct prefix *e, size_t count,
		      struct fy_filter_insn *in)
{
	struct fy_filter *f = p->f;
	uint32_t first = f->n_groups;
	size_t i;

	for (i = 0; i < count; i++) {
		struct fy_filter_group *g;
		struct fy_filter_u128 *k;

		if (i > 0 && cmp_entry(&e[i], &e[i - 1]) == 0)
			continue;
		k = grow(f->keys, &p->cap_keys, (size_t)f->n_keys + 1,
			 sizeof(*k));
		if (k == NULL) {
			too_big(p, (size_t)f->n_keys + 1);
			return -1;
		}
		f->keys = k;
		if (i == 0 || e[i].bits != e[i - 1].bits) {
			g = grow(f->groups, &p->cap_groups,
				 (size_t)f->n_groups + 1, sizeof(*g));
			if (g == NULL) {
				too_big(p, (size_t)f->n_groups + 1);
				return -1;
			}
			f->groups = g;
			g += f->n_groups++;
			g->mask = mask_bits(e[i].bits);
			g->start = f->n_keys;
			g->n = 0;
		}
		f->keys[f->n_keys++] = e[i].addr;
		f->groups[f->n_groups - 1].n++;
	}
	in->op = FY_FOP_NET_SET;
	in->val = (uint64_t)first << 32 | (f->n_groups - first);
	return 0;
}

/* [ A A/len ... ]: a set test, or a single net test for one entry. */
static int parse_addr_list(struct parser *p, struct fy_filter_insn *in)
{
	static const char what[] = "an IP address or A/len";
	struct prefix *e = NULL, *ne;
	size_t count = 0, cap = 0;
	int r;

	while ((r = list_step(p, count, what)) == 0) {
		ne = grow(e, &cap, count + 1, sizeof(*e));
		if (ne == NULL) {
			too_big(p, count + 1);
			r = -1;
			break;
		}
		e = ne;
		if (parse_prefix(p, peek(p, 0), what, &e[count]) < 0) {
			r = -1;
			break;
		}
		advance(p, 1);
		count++;
	}
	if (r > 0) {
		qsort(e, count, sizeof(*e), cmp_entry);
		if (count == 1)
			r = add_net(p, e[0].addr, e[0].bits, in);
		else
			r = add_groups(p, e, count, in);
	}
	free(e);
	return r < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Fields */

enum field_kind {
	FK_NUM,	   /* integer field */
	FK_ADDR,   /* address, or "in [list]" */
	FK_NET,	   /* A/len or A MASK */
	FK_MAC,	   /* 6 bytes */
	FK_CALC,   /* duration, pps, bps, bpp */
	FK_CONST1, /* flows: a record is one flow */
};

/* Which qualifiers a field takes. */
enum quals { QK_NONE, QK_SRCDST, QK_INOUT };

/* Which of the field's two slots a test reads. */
enum use { USE_A, USE_B, USE_EITHER, USE_BOTH };

/* Field flags. */
#define F_LIST 0x01	 /* "in [ ... ]" */
#define F_ICMP 0x02	 /* implies proto icmp or icmp6 */
#define F_IN_PREFIX 0x04 /* "in" may precede src/dst (mac) */

struct slot {
	uint16_t off;
	uint8_t col;
	uint8_t ok;
};

struct field {
	const char *name;
	const char *then[2]; /* keywords that must follow ("router ip") */
	const char *what;    /* the argument, for messages */
	uint8_t kind;	     /* enum field_kind */
	uint8_t quals;	     /* enum quals */
	uint8_t bare;	     /* enum use without qualifier */
	uint8_t width;	     /* FK_NUM: bytes */
	uint8_t flags;
	uint8_t op;    /* FK_CALC */
	uint64_t max;  /* FK_NUM, FK_CALC, FK_CONST1 */
	uint64_t cols; /* FK_CALC */
	struct slot a; /* src, in */
	struct slot b; /* dst, out */
};

#define SL(fld, c)                                                 \
	{                                                          \
		offsetof(struct fy_flow, fld), FY_STORE_COL_##c, 1 \
	}
#define W(fld) ((uint8_t)sizeof(((struct fy_flow *)0)->fld))
#define COL(c) FY_STORE_MASK(FY_STORE_COL_##c)

/* src/dst numbers; a bare name tests either. */
#define PAIR(nm, fa, ca, fb, cb, mx, fl, wh)                                \
	{                                                                   \
		.name = nm, .what = wh, .kind = FK_NUM, .quals = QK_SRCDST, \
		.bare = USE_EITHER, .width = W(fa), .flags = fl, .max = mx, \
		.a = SL(fa, ca), .b = SL(fb, cb)                            \
	}
/* in/out numbers; `br` says what a bare name tests. */
#define INOUT(nm, fa, ca, fb, cb, br, mx, wh)                              \
	{                                                                  \
		.name = nm, .what = wh, .kind = FK_NUM, .quals = QK_INOUT, \
		.bare = br, .width = W(fa), .max = mx, .a = SL(fa, ca),    \
		.b = SL(fb, cb)                                            \
	}
/* A number without qualifier. */
#define ONE(nm, t0, t1, fa, ca, mx, fl, wh)                                   \
	{                                                                     \
		.name = nm, .then = {t0, t1}, .what = wh, .kind = FK_NUM,     \
		.quals = QK_NONE, .bare = USE_A, .width = W(fa), .flags = fl, \
		.max = mx, .a = SL(fa, ca)                                    \
	}
#define ADDR(nm, t0, kd, qk, fa, ca, fb, cb, wh)                        \
	{                                                               \
		.name = nm, .then = {t0, NULL}, .what = wh, .kind = kd, \
		.quals = qk, .bare = USE_EITHER, .flags = F_LIST,       \
		.a = SL(fa, ca), .b = SL(fb, cb)                        \
	}
#define CALC(nm, o, c, wh)                                                 \
	{                                                                  \
		.name = nm, .what = wh, .kind = FK_CALC, .quals = QK_NONE, \
		.op = o, .max = UINT64_MAX, .cols = c                      \
	}

static const char IP[] = "an IP address";
static const char NET[] = "a network (A/len, or A MASK for IPv4)";
static const char PORT[] = "a port number (0-65535)";
static const char AS[] = "an AS number (0-4294967295)";

static const struct field fields[] = {
	ADDR("ip", NULL, FK_ADDR, QK_SRCDST, src, SRC, dst, DST, IP),
	ADDR("host", NULL, FK_ADDR, QK_SRCDST, src, SRC, dst, DST, IP),
	ADDR("net", NULL, FK_NET, QK_SRCDST, src, SRC, dst, DST, NET),
	ADDR("xip", NULL, FK_ADDR, QK_SRCDST, xlate_src, XLATE_SRC, xlate_dst,
	     XLATE_DST, IP),
	ADDR("nip", NULL, FK_ADDR, QK_SRCDST, xlate_src, XLATE_SRC, xlate_dst,
	     XLATE_DST, IP),
	ADDR("xnet", NULL, FK_NET, QK_SRCDST, xlate_src, XLATE_SRC, xlate_dst,
	     XLATE_DST, NET),
	ADDR("router", "ip", FK_ADDR, QK_NONE, exporter, EXPORTER, exporter,
	     EXPORTER, IP),
	ADDR("next", "ip", FK_ADDR, QK_NONE, nexthop, NEXTHOP, nexthop, NEXTHOP,
	     IP),
	ADDR("bgpnext", "ip", FK_ADDR, QK_NONE, bgp_nexthop, BGP_NEXTHOP,
	     bgp_nexthop, BGP_NEXTHOP, IP),
	PAIR("port", src_port, SRC_PORT, dst_port, DST_PORT, 65535, F_LIST,
	     PORT),
	PAIR("xport", xlate_src_port, XLATE_SRC_PORT, xlate_dst_port,
	     XLATE_DST_PORT, 65535, F_LIST, PORT),
	PAIR("nport", xlate_src_port, XLATE_SRC_PORT, xlate_dst_port,
	     XLATE_DST_PORT, 65535, F_LIST, PORT),
	PAIR("as", src_as, SRC_AS, dst_as, DST_AS, UINT32_MAX, F_LIST, AS),
	PAIR("mask", src_mask, SRC_MASK, dst_mask, DST_MASK, 255, 0,
	     "a mask length (0-255)"),
	PAIR("vlan", vlan, VLAN, out_vlan, OUT_VLAN, 65535, 0,
	     "a VLAN id (0-65535)"),
	/* nfdump: bare tos is the source tos; there is no dst tos here. */
	{.name = "tos",
	 .what = "a tos value (0-255)",
	 .kind = FK_NUM,
	 .quals = QK_SRCDST,
	 .bare = USE_A,
	 .width = 1,
	 .max = 255,
	 .a = SL(tos, TOS)},
	/* The MACs we keep are the ingress ones (IE 56 and 80). */
	{.name = "mac",
	 .what = "a MAC address (xx:xx:xx:xx:xx:xx)",
	 .kind = FK_MAC,
	 .quals = QK_SRCDST,
	 .bare = USE_EITHER,
	 .flags = F_IN_PREFIX,
	 .a = SL(src_mac, SRC_MAC),
	 .b = SL(dst_mac, DST_MAC)},
	INOUT("if", input_if, INPUT_IF, output_if, OUTPUT_IF, USE_EITHER,
	      UINT32_MAX, "an interface number (0-4294967295)"),
	/* nfdump: bare packets and bytes are the in (record) direction. */
	INOUT("packets", packets, PACKETS, out_packets, OUT_PACKETS, USE_A,
	      UINT64_MAX, "a packet count"),
	INOUT("bytes", bytes, BYTES, out_bytes, OUT_BYTES, USE_A, UINT64_MAX,
	      "a byte count"),
	{.name = "flows",
	 .what = "a flow count",
	 .kind = FK_CONST1,
	 .max = UINT64_MAX},
	CALC("duration", FY_FOP_DURATION, COL(FIRST_MS) | COL(LAST_MS),
	     "a duration in ms"),
	CALC("pps", FY_FOP_PPS, COL(FIRST_MS) | COL(LAST_MS) | COL(PACKETS),
	     "a packet rate"),
	CALC("bps", FY_FOP_BPS, COL(FIRST_MS) | COL(LAST_MS) | COL(BYTES),
	     "a bit rate"),
	CALC("bpp", FY_FOP_BPP, COL(PACKETS) | COL(BYTES),
	     "a byte count per packet"),
	ONE("engine-type", NULL, NULL, engine_type, ENGINE_TYPE, 255, 0,
	    "an engine type (0-255)"),
	ONE("engine-id", NULL, NULL, engine_id, ENGINE_ID, 255, 0,
	    "an engine id (0-255)"),
	ONE("icmp-type", NULL, NULL, icmp_type, ICMP_TYPE, 255, F_ICMP,
	    "an ICMP type (0-255)"),
	ONE("icmp-code", NULL, NULL, icmp_code, ICMP_CODE, 255, F_ICMP,
	    "an ICMP code (0-255)"),
	ONE("mpls", "label1", NULL, mpls_label, MPLS_LABEL, 0xfffff, 0,
	    "an MPLS label (0-1048575)"),
	ONE("mpls", "label", NULL, mpls_label, MPLS_LABEL, 0xfffff, 0,
	    "an MPLS label (0-1048575)"),
	ONE("observation", "domain", "id", domain, DOMAIN, UINT32_MAX, 0,
	    "a domain id (0-4294967295)"),
};

/* nfdump primitives without a field here: named in the message. */
static const char *const unsupported[] = {
	"count",  "ident",   "sysid",	 "geo",	   "tun",
	"tunip",  "payload", "asa",	 "nat",	   "ingress",
	"egress", "client",  "server",	 "prev",   "pblock",
	"vrf",	  "latency", "@include", "xevent", "flowlabel",
};

static const struct {
	const char *name;
	uint8_t num;
} protos[] = {
	{"icmp", 1},	   {"igmp", 2},	     {"ggp", 3},     {"ipip", 4},
	{"st", 5},	   {"tcp", 6},	     {"cbt", 7},     {"egp", 8},
	{"igp", 9},	   {"pup", 12},	     {"udp", 17},    {"xns", 22},
	{"rdp", 27},	   {"dccp", 33},     {"ipv6", 41},   {"rsvp", 46},
	{"gre", 47},	   {"esp", 50},	     {"ah", 51},     {"icmp6", 58},
	{"ipv6-icmp", 58}, {"eigrp", 88},    {"ospf", 89},   {"encap", 98},
	{"pim", 103},	   {"vrrp", 112},    {"l2tp", 115},  {"isis", 124},
	{"sctp", 132},	   {"udplite", 136}, {"udp-l", 136}, {"mpls", 137},
};

/*
 * The field named at the current token (with its following keywords),
 * consuming them; NULL with an error otherwise.
 */
static const struct field *take_field(struct parser *p, bool qualified)
{
	const struct tok *t = peek(p, 0);
	const struct field *partial = NULL;
	char what[64];
	size_t i, k;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *fd = &fields[i];

		if (!is_kw(p, t, fd->name))
			continue;
		for (k = 0; k < 2 && fd->then[k]; k++)
			if (!is_kw(p, peek(p, k + 1), fd->then[k]))
				break;
		if (k < 2 && fd->then[k]) {
			if (partial == NULL)
				partial = fd;
			continue;
		}
		advance(p, 1 + k);
		return fd;
	}
	for (i = 0; partial && i < 2 && partial->then[i]; i++) {
		if (!is_kw(p, peek(p, i + 1), partial->then[i])) {
			snprintf(what, sizeof(what), "'%s' after '%s'",
				 partial->then[i],
				 i ? partial->then[0] : partial->name);
			expected(p, peek(p, i + 1), what);
			return NULL;
		}
	}
	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		if (is_kw(p, t, unsupported[i])) {
			failf(p, t->pos,
			      "'%s' is an nfdump primitive flowyard does not "
			      "support",
			      unsupported[i]);
			return NULL;
		}
	}
	expected(p, t,
		 qualified ? "a field such as 'ip', 'net', 'port' or 'as'"
			   : "a filter primitive");
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Primitives */

enum { SD_NONE, SD_SRC, SD_DST, SD_OR, SD_AND };
enum { IO_NONE, IO_IN, IO_OUT };

struct qual {
	uint8_t io, sd;
	const struct tok *io_tok, *sd_tok;
};

/* [in|out] [src|dst|src or dst|src and dst|dst or src|dst and src] */
static int take_qual(struct parser *p, struct qual *q)
{
	const struct tok *t = peek(p, 0);

	memset(q, 0, sizeof(*q));
	if (is_kw(p, t, "in") || is_kw(p, t, "out")) {
		q->io = is_kw(p, t, "in") ? IO_IN : IO_OUT;
		q->io_tok = t;
		advance(p, 1);
		t = peek(p, 0);
	}
	if (!is_kw(p, t, "src") && !is_kw(p, t, "dst"))
		return 0;
	q->sd = is_kw(p, t, "src") ? SD_SRC : SD_DST;
	q->sd_tok = t;
	advance(p, 1);
	t = peek(p, 0);
	if (is_and(p, t) || is_or(p, t)) {
		const char *other = q->sd == SD_SRC ? "dst" : "src";

		if (!is_kw(p, peek(p, 1), other)) {
			expected(p, peek(p, 1),
				 q->sd == SD_SRC ? "'dst'" : "'src'");
			return -1;
		}
		q->sd = is_and(p, t) ? SD_AND : SD_OR;
		q->sd_tok = peek(p, 1); /* blamed as the last qualifier */
		advance(p, 2);
	}
	return 0;
}

static uint32_t bad_qual(struct parser *p, const struct field *fd,
			 const struct tok *t)
{
	char what[96];
	const char *ok = "nothing";

	if (fd->quals == QK_INOUT)
		ok = "'in', 'out' or nothing";
	else if (fd->quals == QK_SRCDST && !fd->b.ok)
		ok = "'src' or nothing";
	else if (fd->quals == QK_SRCDST && (fd->flags & F_IN_PREFIX))
		ok = "'in', 'src', 'dst' or nothing";
	else if (fd->quals == QK_SRCDST)
		ok = "'src', 'dst' or nothing";
	snprintf(what, sizeof(what), "%s before '%s'", ok, fd->name);
	return expected(p, t, what);
}

/* Which slots the qualifiers select, or -1 with an error. */
static int choose(struct parser *p, const struct field *fd,
		  const struct qual *q)
{
	static const uint8_t by_sd[] = {
		[SD_SRC] = USE_A,
		[SD_DST] = USE_B,
		[SD_OR] = USE_EITHER,
		[SD_AND] = USE_BOTH,
	};
	int use = fd->bare;

	if (fd->quals == QK_INOUT) {
		if (q->sd) {
			bad_qual(p, fd, q->sd_tok);
			return -1;
		}
		if (q->io)
			use = q->io == IO_IN ? USE_A : USE_B;
	} else if (fd->quals == QK_SRCDST) {
		if (q->io && !(q->io == IO_IN && (fd->flags & F_IN_PREFIX))) {
			bad_qual(p, fd, q->io_tok);
			return -1;
		}
		if (q->sd)
			use = by_sd[q->sd];
	} else {
		if (q->io || q->sd) {
			bad_qual(p, fd, q->io ? q->io_tok : q->sd_tok);
			return -1;
		}
		return USE_A;
	}
	if (use != USE_A && !fd->b.ok) {
		bad_qual(p, fd, q->sd_tok);
		return -1;
	}
	return use;
}

/* The test `in` on the selected slots: one leaf, or two joined. */
static uint32_t on_slots(struct parser *p, const struct field *fd, int use,
			 const struct fy_filter_insn *in)
{
	const struct slot *s = use == USE_B ? &fd->b : &fd->a;
	uint32_t a, b;

	a = new_leaf(p, in->op, in->cmp, s->off, in->val,
		     FY_STORE_MASK(s->col));
	if (use == USE_A || use == USE_B || a == NONE)
		return a;
	b = new_leaf(p, in->op, in->cmp, fd->b.off, in->val,
		     FY_STORE_MASK(fd->b.col));
	return join(p, use == USE_BOTH ? N_AND : N_OR, a, b);
}

static uint8_t num_op(uint8_t width)
{
	switch (width) {
	case 1:
		return FY_FOP_U8;
	case 2:
		return FY_FOP_U16;
	case 4:
		return FY_FOP_U32;
	}
	return FY_FOP_U64;
}

/* "in" "[" starts a list where the field allows one. */
static bool at_list(const struct parser *p, const struct field *fd)
{
	return (fd->flags & F_LIST) && is_kw(p, peek(p, 0), "in");
}

/* A/len, or A MASK for IPv4 (as nfdump; any mask, contiguous or not). */
static int parse_net_arg(struct parser *p, const struct field *fd,
			 struct fy_filter_insn *in)
{
	const struct tok *t = peek(p, 0);
	char buf[ADDR_TEXT_MAX];
	struct prefix pf;
	struct fy_filter_net *net;
	uint8_t m[16];

	if (parse_prefix(p, t, fd->what, &pf) < 0)
		return -1;
	advance(p, 1);
	if (pf.has_len)
		return add_net(p, pf.addr, pf.bits, in);
	if (!pf.v4)
		return bad(p, t, fd->what);
	memset(m, 0xff, 12);
	if (!tok_text(p, peek(p, 0), buf, sizeof(buf)) ||
	    inet_pton(AF_INET, buf, m + 12) != 1)
		return bad(p, peek(p, 0), "a netmask such as 255.255.0.0");
	advance(p, 1);
	if (add_net(p, pf.addr, 128, in) < 0)
		return -1;
	net = &p->f->nets[in->val];
	net->mask = fy_filter_u128_load(m);
	net->addr.hi &= net->mask.hi;
	net->addr.lo &= net->mask.lo;
	return 0;
}

/* The argument of a field: fills the test, or returns -1. */
static int parse_arg(struct parser *p, const struct field *fd,
		     struct fy_filter_insn *in)
{
	struct fy_filter_u128 a;

	memset(in, 0, sizeof(*in));
	if (at_list(p, fd)) {
		advance(p, 1);
		if (fd->kind == FK_ADDR)
			return parse_addr_list(p, in);
		return parse_num_list(p, fd->max, fd->what, fd->width, in);
	}
	switch (fd->kind) {
	case FK_ADDR:
		if (parse_host(p, peek(p, 0), &a) < 0)
			return -1;
		advance(p, 1);
		return add_net(p, a, 128, in);
	case FK_NET:
		return parse_net_arg(p, fd, in);
	case FK_MAC:
		if (parse_mac(p, peek(p, 0), &in->val) < 0)
			return bad(p, peek(p, 0), fd->what);
		advance(p, 1);
		in->op = FY_FOP_MAC;
		return 0;
	}
	in->cmp = take_cmp(p);
	in->op = fd->kind == FK_CALC ? fd->op : num_op(fd->width);
	return take_number(p, fd->max, fd->what, &in->val);
}

/* proto icmp or proto icmp6: what icmp-type and icmp-code imply. */
static uint32_t proto_is(struct parser *p, uint8_t num)
{
	return new_leaf(p, FY_FOP_U8, FY_FCMP_EQ,
			offsetof(struct fy_flow, proto), num, COL(PROTO));
}

static uint32_t parse_field(struct parser *p, bool qualified,
			    const struct qual *q)
{
	const struct field *fd = take_field(p, qualified);
	struct fy_filter_insn in;
	uint32_t n, icmp;
	int use;

	if (fd == NULL)
		return NONE;
	use = choose(p, fd, q);
	if (use < 0 || parse_arg(p, fd, &in) < 0)
		return NONE;
	if (fd->kind == FK_CONST1)
		return new_node(p, fy_filter_compare(1, in.cmp, in.val)
					   ? N_TRUE
					   : N_FALSE);
	if (fd->kind == FK_CALC)
		return new_leaf(p, in.op, in.cmp, 0, in.val, fd->cols);
	n = on_slots(p, fd, use, &in);
	if (!(fd->flags & F_ICMP))
		return n;
	icmp = join(p, N_OR, proto_is(p, 1), proto_is(p, 58));
	return join(p, N_AND, icmp, n);
}

static uint32_t parse_proto(struct parser *p)
{
	static const char what[] = "a protocol name or number (0-255)";
	const struct tok *t = peek(p, 0);
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (is_kw(p, t, protos[i].name)) {
			advance(p, 1);
			return proto_is(p, protos[i].num);
		}
	}
	if (take_number(p, 255, what, &v) < 0)
		return NONE;
	return proto_is(p, (uint8_t)v);
}

/* A flag letter as its bit (X: the six classic ones), -1 if none. */
static int flag_bit(char c)
{
	static const char letters[] = "FSRPAUEC";
	const char *l;

	if (c == 'x' || c == 'X')
		return 0x3f;
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	l = c ? strchr(letters, c) : NULL;
	return l ? 1 << (l - letters) : -1;
}

/* Letters: all set (nfdump); a number: the byte compared. Both: TCP. */
static uint32_t parse_flags(struct parser *p)
{
	static const char what[] =
		"TCP flags (letters of UAPRSFEC, X for UAPRSF) or a number";
	const struct tok *t = peek(p, 0);
	const char *s = p->src + t->pos;
	uint64_t v = 0;
	uint8_t op = FY_FOP_FLAGS, cmp = FY_FCMP_EQ;
	uint32_t i;

	if (t->type == T_CMP || (t->len && s[0] >= '0' && s[0] <= '9') ||
	    is_kw(p, t, "eq") || is_kw(p, t, "lt") || is_kw(p, t, "gt") ||
	    is_kw(p, t, "le") || is_kw(p, t, "ge")) {
		cmp = take_cmp(p);
		if (take_number(p, 255, "a TCP flags value (0-255)", &v) < 0)
			return NONE;
		op = FY_FOP_U8;
	} else {
		if (t->type != T_WORD)
			return expected(p, t, what);
		for (i = 0; i < t->len; i++) {
			int bit = flag_bit(s[i]);

			if (bit < 0)
				return expected(p, t, what);
			v |= (unsigned)bit;
		}
		advance(p, 1);
	}
	return join(p, N_AND, proto_is(p, 6),
		    new_leaf(p, op, cmp, offsetof(struct fy_flow, tcp_flags), v,
			     COL(TCP_FLAGS)));
}

static uint32_t parse_flowdir(struct parser *p)
{
	const struct tok *t = peek(p, 0);
	uint64_t v;

	if (is_kw(p, t, "ingress") || is_kw(p, t, "egress")) {
		v = is_kw(p, t, "egress");
		advance(p, 1);
	} else if (take_number(p, 255, "ingress, egress or a number (0-255)",
			       &v) < 0) {
		return NONE;
	}
	return new_leaf(p, FY_FOP_U8, FY_FCMP_EQ,
			offsetof(struct fy_flow, direction), v, COL(DIRECTION));
}

static uint32_t parse_primitive(struct parser *p)
{
	const struct tok *t = peek(p, 0);
	struct qual q;

	if (t->type != T_WORD)
		return expected(p, t, "a filter primitive");
	if (is_kw(p, t, "any")) {
		advance(p, 1);
		return new_node(p, N_TRUE);
	}
	if (is_kw(p, t, "ipv4") || is_kw(p, t, "inet") || is_kw(p, t, "ipv6") ||
	    is_kw(p, t, "inet6")) {
		bool v6 = is_kw(p, t, "ipv6") || is_kw(p, t, "inet6");

		advance(p, 1);
		return new_leaf(p, FY_FOP_U8, FY_FCMP_EQ,
				offsetof(struct fy_flow, family),
				v6 ? FY_AF_INET6 : FY_AF_INET, COL(FAMILY));
	}
	if (is_kw(p, t, "proto")) {
		advance(p, 1);
		return parse_proto(p);
	}
	if (is_kw(p, t, "flags")) {
		advance(p, 1);
		return parse_flags(p);
	}
	if (is_kw(p, t, "flowdir")) {
		advance(p, 1);
		return parse_flowdir(p);
	}
	if (take_qual(p, &q) < 0)
		return NONE;
	return parse_field(p, q.io || q.sd, &q);
}

/* ------------------------------------------------------------------ */
/* Expressions: or < and < not, as nfdump */

static uint32_t parse_or(struct parser *p);

static uint32_t parse_unary(struct parser *p)
{
	unsigned nots = 0;
	uint32_t n;

	/* A loop, not recursion: "not not ... x" cannot exhaust the stack. */
	while (is_not(p, peek(p, 0))) {
		nots++;
		advance(p, 1);
	}
	if (peek(p, 0)->type != T_LPAREN) {
		n = parse_primitive(p);
	} else {
		if (p->depth >= MAX_DEPTH)
			return failf(p, peek(p, 0)->pos,
				     "expected at most %d nested parentheses",
				     MAX_DEPTH);
		p->depth++;
		advance(p, 1);
		n = parse_or(p);
		p->depth--;
		if (n != NONE && peek(p, 0)->type != T_RPAREN)
			return expected(p, peek(p, 0), "'and', 'or' or ')'");
		advance(p, 1);
	}
	return nots & 1 ? negate(p, n) : n;
}

static uint32_t parse_and(struct parser *p)
{
	uint32_t n = parse_unary(p);

	while (n != NONE && is_and(p, peek(p, 0))) {
		advance(p, 1);
		n = join(p, N_AND, n, parse_unary(p));
	}
	return n;
}

static uint32_t parse_or(struct parser *p)
{
	uint32_t n = parse_and(p);

	while (n != NONE && is_or(p, peek(p, 0))) {
		advance(p, 1);
		n = join(p, N_OR, n, parse_and(p));
	}
	return n;
}

static uint32_t parse_all(struct parser *p)
{
	uint32_t n;

	if (peek(p, 0)->type == T_END)
		return new_node(p, N_TRUE);
	n = parse_or(p);
	if (n != NONE && peek(p, 0)->type != T_END)
		return expected(p, peek(p, 0), "'and', 'or' or end of filter");
	return n;
}

/* ------------------------------------------------------------------ */
/* Emission */

static uint32_t push_insn(struct parser *p, const struct node *n, uint32_t t,
			  uint32_t f)
{
	struct fy_filter *flt = p->f;
	size_t cap = p->cap_insn, need = (size_t)flt->n_insn + 1;
	struct fy_filter_insn *in;
	uint64_t *c;

	in = grow(flt->insn, &cap, need, sizeof(*in));
	if (in == NULL)
		return too_big(p, need);
	flt->insn = in;
	cap = p->cap_insn;
	c = grow(p->insn_cols, &cap, need, sizeof(*c));
	if (c == NULL)
		return too_big(p, need);
	p->insn_cols = c;
	p->cap_insn = cap;
	in += flt->n_insn;
	*in = n->insn;
	in->next[0] = f;
	in->next[1] = t;
	c[flt->n_insn] = n->cols;
	return flt->n_insn++;
}

/*
 * Writes node n so that it continues at t when true and f when false;
 * returns its entry. Children come last first, so their targets exist.
 * The depth is that of the tree: bounded by MAX_DEPTH parentheses.
 *
 * neg: under an odd number of "not". nfdump then tests flag letters for
 * any set instead of all set, so that "flags S and not flags AFRPU" means
 * "SYN and none of the others" (its man page's idiom for a bare SYN).
 */
static uint32_t emit(struct parser *p, uint32_t n, uint32_t t, uint32_t f,
		     bool neg)
{
	struct node leaf;
	uint32_t c, e;

	if (p->failed)
		return FY_FILTER_REJECT;
	switch (p->nodes[n].type) {
	case N_TRUE:
		return t;
	case N_FALSE:
		return f;
	case N_NOT:
		return emit(p, p->nodes[n].child, f, t, !neg);
	case N_AND:
		e = t;
		for (c = p->nodes[n].child; c != NONE; c = p->nodes[c].sibling)
			e = emit(p, c, e, f, neg);
		return e;
	case N_OR:
		e = f;
		for (c = p->nodes[n].child; c != NONE; c = p->nodes[c].sibling)
			e = emit(p, c, t, e, neg);
		return e;
	}
	if (t == f) /* the outcome does not depend on this test */
		return t;
	leaf = p->nodes[n];
	if (neg && leaf.insn.op == FY_FOP_FLAGS)
		leaf.insn.op = FY_FOP_FLAGS_ANY;
	return push_insn(p, &leaf, t, f);
}

static uint32_t remap(uint32_t t, const uint32_t *map, uint32_t n)
{
	return t < n ? map[t] : t;
}

/*
 * Reverses the emitted program so that jumps go forward, then keeps only
 * what the entry reaches and collects the columns those tests read.
 */
static int finish(struct parser *p, uint32_t entry)
{
	struct fy_filter *f = p->f;
	uint32_t n = f->n_insn, i, j, k, *map;

	map = calloc(n ? n : 1, sizeof(*map));
	if (map == NULL) {
		oom(p);
		return -1;
	}
	for (i = 0; i < n; i++)
		map[i] = n - 1 - i;
	for (i = 0; i < n / 2; i++) {
		struct fy_filter_insn tmp = f->insn[i];
		uint64_t c = p->insn_cols[i];

		f->insn[i] = f->insn[n - 1 - i];
		f->insn[n - 1 - i] = tmp;
		p->insn_cols[i] = p->insn_cols[n - 1 - i];
		p->insn_cols[n - 1 - i] = c;
	}
	for (i = 0; i < n; i++)
		for (k = 0; k < 2; k++)
			f->insn[i].next[k] = remap(f->insn[i].next[k], map, n);
	entry = remap(entry, map, n);

	/* Reachability: targets are forward, so one pass sees them all. */
	for (i = 0; i < n; i++)
		map[i] = NONE;
	if (entry < n)
		map[entry] = 0;
	for (i = 0; i < n; i++)
		if (map[i] != NONE)
			for (k = 0; k < 2; k++)
				if (f->insn[i].next[k] < n)
					map[f->insn[i].next[k]] = 0;
	for (i = j = 0; i < n; i++) {
		if (map[i] == NONE)
			continue;
		map[i] = j;
		f->insn[j] = f->insn[i];
		f->columns |= p->insn_cols[i];
		j++;
	}
	for (i = 0; i < j; i++)
		for (k = 0; k < 2; k++)
			f->insn[i].next[k] = remap(f->insn[i].next[k], map, n);
	f->entry = remap(entry, map, n);
	f->n_insn = j;
	free(map);
	return 0;
}

/* ------------------------------------------------------------------ */

int fy_filter_compile(const char *expr, struct fy_filter **out, char *err,
		      size_t errlen)
{
	struct parser p;
	uint32_t root, entry;
	int r = -1;

	memset(&p, 0, sizeof(p));
	p.src = expr ? expr : "";
	p.multiline = strchr(p.src, '\n') != NULL;
	p.err = err;
	p.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (out == NULL) {
		failf(&p, NOWHERE, "invalid argument: out is NULL");
		return -1;
	}
	*out = NULL;
	p.f = calloc(1, sizeof(*p.f));
	if (p.f == NULL) {
		oom(&p);
		goto out;
	}
	if (lex(&p) < 0)
		goto out;
	root = parse_all(&p);
	if (root == NONE || p.failed)
		goto out;
	entry = emit(&p, root, FY_FILTER_ACCEPT, FY_FILTER_REJECT, false);
	if (p.failed || finish(&p, entry) < 0)
		goto out;
	*out = p.f;
	p.f = NULL; /* handed to the caller */
	r = 0;
out:
	fy_filter_free(p.f);
	free(p.toks);
	free(p.nodes);
	free(p.insn_cols);
	return r;
}
