/* regex parser: RE2/Go syntax (the subset in regex.h) to a node tree.
 * Anything outside the subset is an error with Go's wording where Go
 * has one, so a pattern either means here what it means to webhook or
 * does not load. */
#include "edgehook/buf.h"
#include "edgehook/regex.h"
#include "edgehook/regex_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F_I 1 /* case-insensitive */
#define F_M 2 /* ^ $ at line ends */
#define F_S 4 /* . matches \n */
#define MAX_RUNE 0x10FFFFu
#define NOTHING (-2) /* a flag group: no node, nothing to repeat */

struct parser {
	const unsigned char *p, *end;
	struct re_tree *t;
	int flags, depth;
	struct buf *errors;
	int reported; /* the first failure names the cause; callers only pass it up */
};

static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	if (!ps->reported) {
		ps->reported = 1;
		va_start(ap, fmt);
		buf_vprintf(ps->errors, fmt, ap);
		va_end(ap);
	}
	return -1;
}

uint32_t re_decode(const unsigned char *s, size_t n, int *w)
{
	uint32_t c = s[0], r;
	int len, i;
	*w = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2, r = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3, r = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4, r = c & 0x07;
	else
		return 0xFFFD;
	if ((size_t)len > n)
		return 0xFFFD;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0xFFFD;
		r = (r << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && r < 0x800) || (len == 4 && (r < 0x10000 || r > MAX_RUNE)) || (r >= 0xD800 && r <= 0xDFFF))
		return 0xFFFD;
	*w = len;
	return r;
}

static int new_node(struct parser *ps, int kind)
{
	struct re_node *n;
	if (ps->t->nnodes == ps->t->cap)
		return fail(ps, "pattern too large");
	n = &ps->t->nodes[ps->t->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->a = n->next = -1;
	return ps->t->nnodes++;
}

static int add_range(struct parser *ps, uint32_t lo, uint32_t hi)
{
	struct re_tree *t = ps->t;
	if (t->nranges == t->rcap) {
		size_t cap = t->rcap ? 2 * t->rcap : 64;
		uint32_t *r;
		if (cap > 8 * (size_t)REGEX_MAX_INSTS)
			return fail(ps, "pattern too large");
		r = realloc(t->ranges, cap * 2 * sizeof(*r));
		if (!r)
			return fail(ps, "out of memory");
		t->ranges = r;
		t->rcap = cap;
	}
	t->ranges[2 * t->nranges] = lo;
	t->ranges[2 * t->nranges + 1] = hi;
	t->nranges++;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts and merges the pairs from start on; returns their count. */
static size_t merge_ranges(struct re_tree *t, size_t start)
{
	uint32_t *r = t->ranges + 2 * start;
	size_t n = t->nranges - start, i, k = 0;
	if (n == 0)
		return 0;
	qsort(r, n, 2 * sizeof(*r), cmp_range);
	for (i = 1; i < n; i++) {
		if (r[2 * i] <= r[2 * k + 1] + 1) {
			if (r[2 * i + 1] > r[2 * k + 1])
				r[2 * k + 1] = r[2 * i + 1];
		} else {
			k++;
			r[2 * k] = r[2 * i];
			r[2 * k + 1] = r[2 * i + 1];
		}
	}
	t->nranges = start + k + 1;
	return k + 1;
}

/* Replaces the merged pairs from start on by their complement. */
static int negate_ranges(struct parser *ps, size_t start)
{
	struct re_tree *t = ps->t;
	size_t n = merge_ranges(t, start), i;
	uint32_t next = 0, *copy;
	if (n == 0)
		return add_range(ps, 0, MAX_RUNE);
	copy = malloc(n * 2 * sizeof(*copy));
	if (!copy)
		return fail(ps, "out of memory");
	memcpy(copy, t->ranges + 2 * start, n * 2 * sizeof(*copy));
	t->nranges = start;
	for (i = 0; i < n; i++) {
		if (copy[2 * i] > next && add_range(ps, next, copy[2 * i] - 1) < 0)
			goto fail;
		next = copy[2 * i + 1] + 1;
	}
	if (next <= MAX_RUNE && add_range(ps, next, MAX_RUNE) < 0)
		goto fail;
	free(copy);
	return 0;
fail:
	free(copy);
	return -1;
}

/* ASCII letters in the pairs from start on gain their other case. */
static int fold_ranges(struct parser *ps, size_t start)
{
	size_t i, n = ps->t->nranges;
	for (i = start; i < n; i++) {
		uint32_t lo = ps->t->ranges[2 * i], hi = ps->t->ranges[2 * i + 1];
		uint32_t a = lo > 'a' ? lo : 'a', b = hi < 'z' ? hi : 'z';
		if (a <= b && add_range(ps, a - 32, b - 32) < 0)
			return -1;
		a = lo > 'A' ? lo : 'A', b = hi < 'Z' ? hi : 'Z';
		if (a <= b && add_range(ps, a + 32, b + 32) < 0)
			return -1;
	}
	return 0;
}

struct named_class {
	const char *name;
	const char *pairs; /* lo,hi byte pairs (may hold NUL) */
	size_t len;
};

#define NC(name, pairs) {name, pairs, sizeof(pairs) - 1}
static const struct named_class perl_classes[] = {
	NC("d", "09"), NC("s", "\t\n\f\r  "), NC("w", "09AZ__az"),
};

static const struct named_class posix_classes[] = {
	NC("alnum", "09AZaz"), NC("alpha", "AZaz"), NC("ascii", "\0\x7f"), NC("blank", "\t\t  "),
	NC("cntrl", "\0\x1f\x7f\x7f"), NC("digit", "09"), NC("graph", "!~"), NC("lower", "az"),
	NC("print", " ~"), NC("punct", "!/:@[`{~"), NC("space", "\t\r  "), NC("upper", "AZ"),
	NC("word", "09AZ__az"), NC("xdigit", "09AFaf"),
};

/* Adds a named class (negated: its complement) to the open class. */
static int add_named(struct parser *ps, const struct named_class *nc, int negated)
{
	size_t start = ps->t->nranges, i;
	for (i = 0; i + 1 < nc->len; i += 2)
		if (add_range(ps, (unsigned char)nc->pairs[i], (unsigned char)nc->pairs[i + 1]) < 0)
			return -1;
	return negated ? negate_ranges(ps, start) : 0;
}

static int perl_class(unsigned char c)
{
	switch (c) {
	case 'd': case 'D': return 0;
	case 's': case 'S': return 1;
	case 'w': case 'W': return 2;
	default: return -1;
	}
}

static int is_word_byte(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int hexval(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)c - '0';
	if (c >= 'a' && c <= 'f')
		return (int)c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return (int)c - 'A' + 10;
	return -1;
}

/* After a backslash: one escaped rune (not a class or an assertion). */
static int escape_rune(struct parser *ps, uint32_t *out)
{
	unsigned c;
	if (ps->p >= ps->end)
		return fail(ps, "trailing backslash at end of expression");
	c = *ps->p++;
	switch (c) {
	case 't': *out = '\t'; return 0;
	case 'n': *out = '\n'; return 0;
	case 'r': *out = '\r'; return 0;
	case 'f': *out = '\f'; return 0;
	case 'v': *out = '\v'; return 0;
	case 'a': *out = '\a'; return 0;
	case 'x': {
		uint32_t v = 0;
		int digits = 0, h;
		if (ps->p < ps->end && *ps->p == '{') {
			ps->p++;
			while (ps->p < ps->end && (h = hexval(*ps->p)) >= 0) {
				v = v * 16 + (uint32_t)h;
				if (v > MAX_RUNE)
					return fail(ps, "invalid escape sequence: \\x{...}");
				ps->p++, digits++;
			}
			if (ps->p >= ps->end || *ps->p != '}' || digits == 0)
				return fail(ps, "invalid escape sequence: \\x{...}");
			ps->p++;
		} else {
			for (; digits < 2; digits++) {
				if (ps->p >= ps->end || (h = hexval(*ps->p)) < 0)
					return fail(ps, "invalid escape sequence: \\x");
				v = v * 16 + (uint32_t)h;
				ps->p++;
			}
		}
		*out = v;
		return 0;
	}
	}
	if (c >= '0' && c <= '7') {
		uint32_t v = c - '0';
		int digits = 1;
		/* Go: \1..\9 alone would be a backreference, which RE2 lacks */
		if (c != '0' && (ps->p >= ps->end || *ps->p < '0' || *ps->p > '7'))
			return fail(ps, "invalid escape sequence: \\%c (backreferences are not supported)", c);
		while (digits < 3 && ps->p < ps->end && *ps->p >= '0' && *ps->p <= '7')
			v = v * 8 + (uint32_t)(*ps->p++ - '0'), digits++;
		*out = v;
		return 0;
	}
	if (c < 0x80 && !is_word_byte(c)) {
		*out = c;
		return 0;
	}
	if (c == 'p' || c == 'P')
		return fail(ps, "unsupported escape \\%c (Unicode classes)", c);
	if (c < 0x80)
		return fail(ps, "invalid escape sequence: \\%c", c);
	return fail(ps, "invalid escape sequence");
}

static int literal_rune(struct parser *ps, uint32_t *out)
{
	int w;
	uint32_t r = re_decode(ps->p, (size_t)(ps->end - ps->p), &w);
	if (r == 0xFFFD && !(w == 3 && ps->p[0] == 0xEF))
		return fail(ps, "invalid UTF-8");
	ps->p += w;
	*out = r;
	return 0;
}

/* "[:name:]" at p: 1 and the class added, 0 when it is not one. */
static int posix_class(struct parser *ps)
{
	const unsigned char *q = ps->p + 2, *close;
	int negated = 0;
	size_t i, len;
	if (ps->end - ps->p < 4 || ps->p[0] != '[' || ps->p[1] != ':')
		return 0;
	/* the longest name is "^xdigit": look no further than that */
	for (close = q; close + 1 < ps->end && close - q < 8 && !(close[0] == ':' && close[1] == ']'); close++)
		;
	if (close + 1 >= ps->end || close[0] != ':' || close[1] != ']')
		return 0;
	if (*q == '^')
		negated = 1, q++;
	len = (size_t)(close - q);
	for (i = 0; i < sizeof(posix_classes) / sizeof(posix_classes[0]); i++)
		if (strlen(posix_classes[i].name) == len && memcmp(posix_classes[i].name, q, len) == 0) {
			ps->p = close + 2;
			return add_named(ps, &posix_classes[i], negated) < 0 ? -1 : 1;
		}
	return fail(ps, "invalid character class range: %.*s", (int)(close + 2 - ps->p), ps->p);
}

static int class_item(struct parser *ps)
{
	uint32_t lo, hi;
	int k = posix_class(ps);
	if (k != 0)
		return k < 0 ? -1 : 0;
	if (*ps->p == '\\' && ps->p + 1 < ps->end && perl_class(ps->p[1]) >= 0) {
		unsigned c = ps->p[1];
		ps->p += 2;
		return add_named(ps, &perl_classes[perl_class((unsigned char)c)], c < 'a');
	}
	if (*ps->p == '\\' ? (ps->p++, escape_rune(ps, &lo)) : literal_rune(ps, &lo))
		return -1;
	hi = lo;
	if (ps->end - ps->p >= 2 && ps->p[0] == '-' && ps->p[1] != ']') {
		ps->p++;
		if (*ps->p == '\\' ? (ps->p++, escape_rune(ps, &hi)) : literal_rune(ps, &hi))
			return -1;
		if (hi < lo)
			return fail(ps, "invalid character class range");
	}
	return add_range(ps, lo, hi);
}

/* The ranges added since start, merged, as one class node. */
static int class_node(struct parser *ps, size_t start)
{
	size_t n = merge_ranges(ps->t, start);
	int node = new_node(ps, RN_CLASS);
	if (node < 0)
		return -1;
	ps->t->nodes[node].a = (int)start;
	ps->t->nodes[node].b = (int)n;
	return node;
}

static int parse_class(struct parser *ps)
{
	size_t start = ps->t->nranges;
	int negated = 0, first = 1;
	ps->p++;
	if (ps->p < ps->end && *ps->p == '^')
		negated = 1, ps->p++;
	while (ps->p < ps->end && (*ps->p != ']' || first)) {
		first = 0;
		if (class_item(ps) < 0)
			return -1;
	}
	if (ps->p >= ps->end)
		return fail(ps, "missing closing ]");
	ps->p++;
	if ((ps->flags & F_I) && fold_ranges(ps, start) < 0)
		return -1;
	if (negated && negate_ranges(ps, start) < 0)
		return -1;
	return class_node(ps, start);
}

static int perl_node(struct parser *ps, unsigned c)
{
	size_t start = ps->t->nranges;
	if (add_named(ps, &perl_classes[perl_class((unsigned char)c)], c < 'a') < 0)
		return -1;
	return class_node(ps, start);
}

static int assert_node(struct parser *ps, int kind)
{
	int node = new_node(ps, RN_ASSERT);
	if (node >= 0)
		ps->t->nodes[node].assert = (uint8_t)kind;
	return node;
}

static int lit_node(struct parser *ps, uint32_t r)
{
	int node = new_node(ps, RN_LIT);
	if (node < 0)
		return -1;
	if ((ps->flags & F_I) && ((r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z'))) {
		ps->t->nodes[node].fold = 1;
		r |= 0x20;
	}
	ps->t->nodes[node].rune = r;
	return node;
}

static int parse_escape(struct parser *ps)
{
	uint32_t r;
	unsigned c;
	ps->p++;
	if (ps->p >= ps->end)
		return fail(ps, "trailing backslash at end of expression");
	c = *ps->p;
	switch (c) {
	case 'A': ps->p++; return assert_node(ps, RA_BOT);
	case 'z': ps->p++; return assert_node(ps, RA_EOT);
	case 'b': ps->p++; return assert_node(ps, RA_WORD);
	case 'B': ps->p++; return assert_node(ps, RA_NOTWORD);
	}
	if (perl_class((unsigned char)c) >= 0) {
		ps->p++;
		return perl_node(ps, c);
	}
	if (escape_rune(ps, &r) < 0)
		return -1;
	return lit_node(ps, r);
}

/* "{n}", "{n,}", "{n,m}" at p: 1 with min/max set and p past it, 0 when
 * the brace is a literal (Go's rule), -1 on a count over the bound. */
static int parse_braces(struct parser *ps, int *min, int *max)
{
	const unsigned char *q = ps->p + 1;
	long lo = 0, hi;
	int digits = 0;
	while (q < ps->end && *q >= '0' && *q <= '9' && digits < 8)
		lo = lo * 10 + (*q++ - '0'), digits++;
	if (digits == 0 || q >= ps->end)
		return 0;
	hi = lo;
	if (*q == ',') {
		q++;
		hi = -1;
		if (q < ps->end && *q >= '0' && *q <= '9') {
			hi = 0, digits = 0;
			while (q < ps->end && *q >= '0' && *q <= '9' && digits < 8)
				hi = hi * 10 + (*q++ - '0'), digits++;
		}
	}
	if (q >= ps->end || *q != '}')
		return 0;
	if (lo > REGEX_MAX_REPEAT || hi > REGEX_MAX_REPEAT || (hi >= 0 && hi < lo))
		return fail(ps, "invalid repeat count: %.*s", (int)(q + 1 - ps->p), ps->p);
	ps->p = q + 1;
	*min = (int)lo;
	*max = (int)hi;
	return 1;
}

/* A quantifier at p: 1 with min/max set, 0 when there is none. */
static int quantifier(struct parser *ps, int *min, int *max)
{
	if (ps->p >= ps->end)
		return 0;
	switch (*ps->p) {
	case '*': ps->p++; *min = 0; *max = -1; return 1;
	case '+': ps->p++; *min = 1; *max = -1; return 1;
	case '?': ps->p++; *min = 0; *max = 1; return 1;
	case '{': return parse_braces(ps, min, max);
	default: return 0;
	}
}

static int parse_alt(struct parser *ps);

static int parse_flags(struct parser *ps)
{
	int on = 1, flags = ps->flags, any = 0;
	for (; ps->p < ps->end; ps->p++) {
		switch (*ps->p) {
		case 'i': flags = on ? flags | F_I : flags & ~F_I; break;
		case 'm': flags = on ? flags | F_M : flags & ~F_M; break;
		case 's': flags = on ? flags | F_S : flags & ~F_S; break;
		case 'U': break; /* greediness does not change whether it matches */
		case '-':
			if (!on)
				return fail(ps, "invalid or unsupported Perl syntax: (?-");
			on = 0;
			any = 0;
			continue;
		case ':':
		case ')':
			/* "(?:" is a plain group; "(?)", "(?-)", "(?i-:" are not */
			if (!any && !(on && *ps->p == ':' && ps->p[-1] == '?'))
				return fail(ps, "invalid or unsupported Perl syntax: (?%c", *ps->p);
			return flags;
		default:
			return fail(ps, "invalid or unsupported Perl syntax: (?%c", *ps->p);
		}
		any = 1;
	}
	return fail(ps, "missing closing )");
}

static int parse_group(struct parser *ps)
{
	int saved = ps->flags, node;
	ps->p++;
	if (ps->p < ps->end && *ps->p == '?') {
		const unsigned char *q = ps->p + 1;
		if (q < ps->end && (*q == 'P' || *q == '<')) {
			q += *q == 'P';
			if (q >= ps->end || *q != '<')
				return fail(ps, "invalid or unsupported Perl syntax: (?P");
			for (q++; q < ps->end && is_word_byte(*q); q++)
				;
			if (q >= ps->end || *q != '>' || q[-1] == '<')
				return fail(ps, "invalid named capture");
			ps->p = q + 1;
		} else {
			int flags;
			ps->p++;
			if ((flags = parse_flags(ps)) < 0)
				return -1;
			ps->flags = flags;
			if (*ps->p++ == ')')
				return NOTHING; /* (?i): to the end of the enclosing group */
		}
	}
	if (++ps->depth > REGEX_MAX_DEPTH)
		return fail(ps, "expression nests too deeply");
	if ((node = parse_alt(ps)) < 0)
		return -1;
	if (ps->p >= ps->end || *ps->p != ')')
		return fail(ps, "missing closing )");
	ps->p++;
	ps->depth--;
	ps->flags = saved;
	return node;
}

static int parse_atom(struct parser *ps)
{
	int min, max, k;
	uint32_t r;
	switch (*ps->p) {
	case '(': return parse_group(ps);
	case '[': return parse_class(ps);
	case '.': ps->p++; return new_node(ps, ps->flags & F_S ? RN_ANYNL : RN_ANY);
	case '^': ps->p++; return assert_node(ps, ps->flags & F_M ? RA_BOL : RA_BOT);
	case '$': ps->p++; return assert_node(ps, ps->flags & F_M ? RA_EOL : RA_EOT);
	case '\\': return parse_escape(ps);
	case '*': case '+': case '?':
		return fail(ps, "missing argument to repetition operator: %c", *ps->p);
	case '{':
		if ((k = parse_braces(ps, &min, &max)) != 0)
			return k < 0 ? -1 : fail(ps, "missing argument to repetition operator: {");
		break;
	}
	if (literal_rune(ps, &r) < 0)
		return -1;
	return lit_node(ps, r);
}

static int parse_repeat(struct parser *ps, int atom)
{
	int min, max, k, node;
	const unsigned char *at = ps->p;
	if ((k = quantifier(ps, &min, &max)) <= 0)
		return k < 0 ? -1 : atom;
	if (atom == NOTHING)
		return fail(ps, "missing argument to repetition operator: %c", *at);
	if ((node = new_node(ps, RN_REP)) < 0)
		return -1;
	ps->t->nodes[node].a = atom;
	ps->t->nodes[node].min = min;
	ps->t->nodes[node].max = max;
	ps->t->nodes[node].greedy = 1;
	if (ps->p < ps->end && *ps->p == '?')
		ps->t->nodes[node].greedy = 0, ps->p++;
	at = ps->p;
	if ((k = quantifier(ps, &min, &max)) != 0)
		return k < 0 ? -1 : fail(ps, "invalid nested repetition operator: %.*s", (int)(ps->p - at), at);
	return node;
}

/* Appends child to the list node's children. */
static void append(struct re_tree *t, int list, int *last, int child)
{
	if (*last < 0)
		t->nodes[list].a = child;
	else
		t->nodes[*last].next = child;
	*last = child;
}

static int parse_cat(struct parser *ps)
{
	int cat = new_node(ps, RN_CAT), last = -1, atom;
	if (cat < 0)
		return -1;
	while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
		if ((atom = parse_atom(ps)) == -1 || (atom = parse_repeat(ps, atom)) == -1)
			return -1;
		if (atom != NOTHING)
			append(ps->t, cat, &last, atom);
	}
	return cat;
}

static int parse_alt(struct parser *ps)
{
	int alt, last = -1, branch = parse_cat(ps);
	if (branch < 0 || ps->p >= ps->end || *ps->p != '|')
		return branch;
	if ((alt = new_node(ps, RN_ALT)) < 0)
		return -1;
	append(ps->t, alt, &last, branch);
	while (ps->p < ps->end && *ps->p == '|') {
		ps->p++;
		if ((branch = parse_cat(ps)) < 0)
			return -1;
		append(ps->t, alt, &last, branch);
	}
	return alt;
}

int re_parse(struct re_tree *t, const char *pattern, struct buf *errors)
{
	struct parser ps;
	size_t len = strlen(pattern);
	memset(t, 0, sizeof(*t));
	memset(&ps, 0, sizeof(ps));
	ps.t = t;
	ps.errors = errors;
	if (len > REGEX_MAX_PATTERN)
		return fail(&ps, "pattern longer than %d bytes", REGEX_MAX_PATTERN);
	/* each byte makes at most an atom, a repeat and its sequence node */
	t->cap = 3 * (int)len + 4;
	if (!(t->nodes = malloc((size_t)t->cap * sizeof(*t->nodes))))
		return fail(&ps, "out of memory");
	ps.p = (const unsigned char *)pattern;
	ps.end = ps.p + len;
	if ((t->root = parse_alt(&ps)) < 0)
		return -1;
	if (ps.p < ps.end)
		return fail(&ps, "unexpected ): %s", pattern);
	return 0;
}

void re_tree_free(struct re_tree *t)
{
	free(t->nodes);
	free(t->ranges);
	memset(t, 0, sizeof(*t));
}
