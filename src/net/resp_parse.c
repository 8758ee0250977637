/* RESP reply parser and command encoder (see resp.h). */
#include "edgehook/resp.h"

#include "edgehook/buf.h"
#include "edgehook/strutil.h"

#include <limits.h>
#include <string.h>

/* "-9223372036854775808" is 20 bytes: a longer number line is hostile */
enum { NUM_LINE_MAX = 24 };

void resp_parser_init(struct resp_parser *p, struct resp_value *vals, const struct resp_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->lim = *lim;
	if (p->lim.max_depth > RESP_MAX_DEPTH || p->lim.max_depth <= 0)
		p->lim.max_depth = RESP_MAX_DEPTH;
	/* element lengths travel as int */
	if (p->lim.max_bulk > INT_MAX / 2)
		p->lim.max_bulk = INT_MAX / 2;
	if (p->lim.max_line > INT_MAX / 2)
		p->lim.max_line = INT_MAX / 2;
	p->vals = vals;
}

/* The line at buf[pos..len): its content length in *n (without CRLF).
 * 0, -1 (bare CR or LF, or over max), -2 (no CRLF yet). */
static int line(const char *buf, size_t pos, size_t len, size_t max, size_t *n)
{
	size_t avail = len - pos, scan = avail < max + 2 ? avail : max + 2;
	const char *nl = memchr(buf + pos, '\n', scan);
	if (!nl)
		return scan == avail ? -2 : -1;
	*n = (size_t)(nl - (buf + pos));
	if (*n == 0 || buf[pos + *n - 1] != '\r' || *n - 1 > max)
		return -1;
	*n -= 1;
	if (memchr(buf + pos, '\r', *n))
		return -1;
	return 0;
}

static int number(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;
	if (n > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == n)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (lim - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int is_aggregate(int t)
{
	return t == RESP_ARRAY || t == RESP_MAP || t == RESP_SET || t == RESP_PUSH;
}

/* Parses the element at p->pos into v; returns its length, -1 or -2. */
static int element(struct resp_parser *p, const char *buf, size_t len, struct resp_value *v)
{
	size_t pos = p->pos + 1, n, maxl;
	int64_t num;
	int t, rc;
	if (p->pos >= len)
		return -2;
	t = (unsigned char)buf[p->pos];
	memset(v, 0, sizeof(*v));
	v->type = (uint8_t)t;
	maxl = (t == RESP_SIMPLE || t == RESP_ERROR || t == RESP_DOUBLE || t == RESP_BIGNUM) ? p->lim.max_line
											  : NUM_LINE_MAX;
	if (!strchr("+-:$*_#,(!=%~>", t) || t == 0)
		return -1;
	if ((rc = line(buf, pos, len, maxl, &n)) != 0)
		return rc;
	v->off = pos;
	v->len = n;
	switch (t) {
	case RESP_SIMPLE:
	case RESP_ERROR:
	case RESP_DOUBLE:
		break;
	case RESP_BIGNUM:
		if (n == 0 || (n == 1 && buf[pos] == '-'))
			return -1;
		for (size_t i = buf[pos] == '-' ? 1 : 0; i < n; i++)
			if (buf[pos + i] < '0' || buf[pos + i] > '9')
				return -1;
		break;
	case RESP_INT:
		if (number(buf + pos, n, &v->i) < 0)
			return -1;
		v->len = 0;
		break;
	case RESP_NULL:
		if (n != 0)
			return -1;
		break;
	case RESP_BOOL:
		if (n != 1 || (buf[pos] != 't' && buf[pos] != 'f'))
			return -1;
		v->i = buf[pos] == 't';
		v->len = 0;
		break;
	default: /* bulk-like and aggregates carry a count */
		if (number(buf + pos, n, &num) < 0)
			return -1;
		v->len = 0;
		if (num == -1 && (t == RESP_BULK || t == RESP_ARRAY)) {
			v->type = RESP_NULL;
			break;
		}
		if (num < 0)
			return -1;
		if (is_aggregate(t)) {
			uint64_t kids = (uint64_t)num * (t == RESP_MAP ? 2 : 1);
			/* every child is at least one more value: refuse early */
			if (kids >= p->lim.max_values || p->nvals + 1 + kids > p->lim.max_values)
				return -1;
			v->n = (uint32_t)kids;
			break;
		}
		if ((uint64_t)num > p->lim.max_bulk)
			return -1;
		pos += n + 2;
		if (len - pos < (size_t)num + 2)
			return -2;
		if (buf[pos + num] != '\r' || buf[pos + num + 1] != '\n')
			return -1;
		if (t == RESP_VERBATIM && (num < 4 || buf[pos + 3] != ':'))
			return -1;
		v->off = pos;
		v->len = (size_t)num;
		return (int)(pos + (size_t)num + 2 - p->pos);
	}
	return (int)(pos + n + 2 - p->pos);
}

int resp_parse(struct resp_parser *p, const char *buf, size_t len)
{
	if (p->pos == 0 && p->depth == 0)
		p->nvals = 0; /* a new reply */
	for (;;) {
		struct resp_value v;
		int n;
		if (p->nvals >= p->lim.max_values)
			return -1;
		n = element(p, buf, len, &v);
		if (n < 0)
			return n;
		p->pos += (size_t)n;
		v.end = p->nvals + 1;
		p->vals[p->nvals] = v;
		if (is_aggregate(v.type) && v.n > 0) {
			if (p->depth >= p->lim.max_depth)
				return -1;
			p->open[p->depth] = p->nvals;
			p->remain[p->depth++] = v.n;
			p->nvals++;
			continue;
		}
		p->nvals++;
		/* a completed value closes every aggregate it completes */
		while (p->depth > 0 && --p->remain[p->depth - 1] == 0) {
			p->depth--;
			p->vals[p->open[p->depth]].end = p->nvals;
		}
		if (p->depth == 0) {
			size_t total = p->pos;
			if (total > INT_MAX)
				return -1;
			p->pos = 0;
			return (int)total;
		}
	}
}

static size_t digits(size_t v)
{
	size_t d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

int resp_encode(struct buf *b, int argc, const char *const *argv, const size_t *lens)
{
	size_t total = 1 + digits((size_t)argc) + 2;
	int i;
	if (argc <= 0)
		return -1;
	for (i = 0; i < argc; i++) {
		size_t l = lens ? lens[i] : strlen(argv[i]);
		total += 1 + digits(l) + 2 + l + 2;
	}
	if (buf_reserve(b, total) < 0)
		return -1;
	/* reserved: none of these appends can fail */
	buf_append(b, "*", 1);
	buf_put_u64(b, (uint64_t)argc);
	buf_append(b, "\r\n", 2);
	for (i = 0; i < argc; i++) {
		size_t l = lens ? lens[i] : strlen(argv[i]);
		buf_append(b, "$", 1);
		buf_put_u64(b, l);
		buf_append(b, "\r\n", 2);
		buf_append(b, argv[i], l);
		buf_append(b, "\r\n", 2);
	}
	return 0;
}

int resp_eq(const struct resp_reply *r, const struct resp_value *v, const char *s)
{
	size_t n = strlen(s);
	if (is_aggregate(v->type) || v->type == RESP_INT || v->type == RESP_NULL || v->type == RESP_BOOL)
		return 0;
	return v->len == n && memcmp(r->base + v->off, s, n) == 0;
}
