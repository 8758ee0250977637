#include "edgehook/json.h"
#include "edgehook/strutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSMN_STATIC
#define JSMN_STRICT
/* Without parent links jsmn walks back over every token at each comma in
 * an object: quadratic, and a 1 MB event took 5 s. */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

_Static_assert(sizeof(jsmntok_t) == sizeof(struct json_tok), "json_tok mirrors jsmntok_t");

/* ---- strict validator ---- */

/* A member name as written (escapes included), kept while its object is
 * open so duplicates are found when it closes. */
struct key_span {
	const char *p;
	size_t len;
};

struct scan {
	const char *p, *end;
	unsigned depth, max_depth;
	struct key_span *keys; /* the names of every open object, innermost last */
	size_t nkeys, capkeys;
	const char *dup; /* set with rc -2: the second of two equal names */
	int names_may_repeat; /* Go's decoder: the last of equal names wins */
};

size_t json_utf8_seq(const char *s, size_t avail)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;
	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* the second byte rules out overlongs, surrogates and > U+10FFFF */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

int json_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = json_utf8_seq(s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int scan_string(struct scan *s)
{
	s->p++; /* opening quote */
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			size_t n = json_utf8_seq(s->p, (size_t)(s->end - s->p));
			if (n == 0)
				return -1;
			s->p += n;
			continue;
		}
		if (c == '\\') {
			if (++s->p >= s->end)
				return -1;
			if (*s->p == 'u') {
				int i;
				for (i = 1; i <= 4; i++)
					if (s->p + i >= s->end || str_hex_digit((unsigned char)s->p[i]) < 0)
						return -1;
				s->p += 4;
			} else if (!strchr("\"\\/bfnrt", *s->p) || *s->p == '\0') {
				return -1;
			}
		}
		s->p++;
	}
	return -1;
}

static int scan_digits(struct scan *s)
{
	const char *start = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

static int scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (scan_digits(s) < 0)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (scan_digits(s) < 0)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (scan_digits(s) < 0)
			return -1;
	}
	return 0;
}

static int scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int scan_value(struct scan *s);

static int push_key(struct scan *s, const char *start)
{
	if (s->nkeys == s->capkeys) {
		size_t cap = s->capkeys ? 2 * s->capkeys : 64;
		struct key_span *k = realloc(s->keys, cap * sizeof(*k));
		if (!k)
			return -1;
		s->keys = k;
		s->capkeys = cap;
	}
	s->keys[s->nkeys].p = start + 1;
	s->keys[s->nkeys].len = (size_t)(s->p - start) - 2;
	s->nkeys++;
	return 0;
}

static int key_span_cmp(const void *a, const void *b)
{
	const struct key_span *x = a, *y = b;
	return json_key_cmp(x->p, x->len, y->p, y->len);
}

/* Sorts the names of the object that just closed (those above mark) and
 * pops them; -2 when two are equal. Sorting keeps a crafted object at
 * O(n log n) comparisons. */
static int close_object(struct scan *s, size_t mark)
{
	size_t n = s->nkeys - mark, i;
	int rc = 0;
	if (n > 1) {
		qsort(s->keys + mark, n, sizeof(*s->keys), key_span_cmp);
		for (i = mark + 1; i < s->nkeys && rc == 0; i++) {
			if (key_span_cmp(&s->keys[i - 1], &s->keys[i]) == 0) {
				s->dup = s->keys[i - 1].p > s->keys[i].p ? s->keys[i - 1].p : s->keys[i].p;
				rc = -2;
			}
		}
	}
	s->nkeys = mark;
	return s->names_may_repeat ? 0 : rc;
}

static int scan_container(struct scan *s, char close, int object)
{
	size_t mark = s->nkeys;
	int rc;
	if (++s->depth > s->max_depth)
		return -1;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (object) {
			const char *start;
			skip_ws(s);
			start = s->p;
			if (s->p >= s->end || *s->p != '"' || scan_string(s) < 0 || push_key(s, start) < 0)
				return -1;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return -1;
			s->p++;
		}
		if ((rc = scan_value(s)) < 0)
			return rc;
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return object ? close_object(s, mark) : 0;
		}
		if (*s->p != ',')
			return -1;
		s->p++;
	}
}

static int scan_value(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
		return scan_container(s, '}', 1);
	case '[':
		return scan_container(s, ']', 0);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

int json_validate(const char *text, size_t len, unsigned max_depth, size_t *err_off)
{
	struct scan s;
	int rc;
	memset(&s, 0, sizeof(s));
	s.p = text;
	s.end = text + len;
	s.max_depth = max_depth;
	rc = scan_value(&s);
	free(s.keys);
	if (rc == 0) {
		skip_ws(&s);
		if (s.p == s.end)
			return 0;
		rc = -1;
	}
	if (err_off)
		*err_off = (size_t)((rc == -2 ? s.dup - 1 : s.p) - text);
	return rc;
}

/* ---- tokens ---- */

/* jsmn over a validated text */
static int tokenize(struct json_doc *doc, const char *text, size_t len)
{
	jsmn_parser p;
	int n;
	/* most events fit the inline tokens: one jsmn pass, no allocation */
	jsmn_init(&p);
	n = jsmn_parse(&p, text, len, (jsmntok_t *)(void *)doc->inline_toks, JSON_INLINE_TOKS);
	if (n > 0) {
		doc->toks = doc->inline_toks;
	} else {
		if (n != JSMN_ERROR_NOMEM)
			return -1;
		jsmn_init(&p);
		n = jsmn_parse(&p, text, len, NULL, 0);
		if (n <= 0 || !(doc->toks = calloc((size_t)n, sizeof(struct json_tok))))
			return -1;
		jsmn_init(&p);
		if (jsmn_parse(&p, text, len, (jsmntok_t *)(void *)doc->toks, (unsigned)n) != n) {
			json_doc_free(doc);
			return -1;
		}
	}
	doc->text = text;
	doc->len = len;
	doc->ntoks = n;
	return 0;
}

int json_parse(struct json_doc *doc, const char *text, size_t len, unsigned max_depth)
{
	int n;
	doc->toks = NULL;
	doc->ntoks = 0;
	if (len > INT32_MAX)
		return -1;
	if ((n = json_validate(text, len, max_depth, NULL)) < 0)
		return n;
	return tokenize(doc, text, len);
}

int json_parse_first(struct json_doc *doc, const char *text, size_t len, unsigned max_depth)
{
	struct scan s;
	int rc;
	doc->toks = NULL;
	doc->ntoks = 0;
	if (len > INT32_MAX)
		return -1;
	memset(&s, 0, sizeof(s));
	s.p = text;
	s.end = text + len;
	s.max_depth = max_depth;
	s.names_may_repeat = 1;
	rc = scan_value(&s);
	free(s.keys);
	if (rc < 0)
		return -1;
	/* the whitespace after it too: jsmn ends a bare primitive there */
	skip_ws(&s);
	return tokenize(doc, text, (size_t)(s.p - text));
}

void json_doc_free(struct json_doc *doc)
{
	if (doc->toks != doc->inline_toks)
		free(doc->toks);
	doc->toks = NULL;
	doc->ntoks = 0;
}

int json_skip(const struct json_doc *doc, int i)
{
	int pending = 1;
	while (pending > 0 && i < doc->ntoks) {
		const struct json_tok *t = &doc->toks[i];
		pending--;
		if (t->type == JSON_OBJECT)
			pending += 2 * t->size;
		else if (t->type == JSON_ARRAY)
			pending += t->size;
		i++;
	}
	return i;
}

int json_get(const struct json_doc *doc, int obj, const char *key)
{
	int i, k;
	if (obj < 0 || obj >= doc->ntoks || doc->toks[obj].type != JSON_OBJECT)
		return -1;
	i = obj + 1;
	for (k = 0; k < doc->toks[obj].size; k++) {
		if (json_tok_eq(doc, i, key))
			return i + 1;
		i = json_skip(doc, i + 1);
	}
	return -1;
}

static int array_item(const struct json_doc *doc, int arr, long idx)
{
	int i = arr + 1;
	long k;
	if (idx < 0 || idx >= doc->toks[arr].size)
		return -1;
	for (k = 0; k < idx; k++)
		i = json_skip(doc, i);
	return i;
}

int json_path(const struct json_doc *doc, const char *path)
{
	int cur = 0;
	char seg[128];
	while (*path && cur >= 0) {
		size_t n = strcspn(path, ".");
		if (n == 0 || n >= sizeof(seg))
			return -1;
		memcpy(seg, path, n);
		seg[n] = '\0';
		if (doc->toks[cur].type == JSON_ARRAY) {
			char *end;
			long idx = strtol(seg, &end, 10);
			cur = *end ? -1 : array_item(doc, cur, idx);
		} else {
			cur = json_get(doc, cur, seg);
		}
		path += n;
		if (*path == '.')
			path++;
	}
	return cur;
}

int json_utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int hex4(const char *p, uint32_t *v)
{
	int i;
	*v = 0;
	for (i = 0; i < 4; i++) {
		int d = str_hex_digit((unsigned char)p[i]);
		if (d < 0)
			return -1;
		*v = *v * 16 + (uint32_t)d;
	}
	return 0;
}

/* Decodes the escape at in[0] == '\\' into out (at most 4 bytes); *used
 * gets the input length. -1 on a bad escape. Every escape is at least as
 * long as the bytes it stands for, so in-place unescaping is safe. */
static int unescape_one(const char *in, size_t len, char *out, size_t *used)
{
	uint32_t cp, lo;
	*used = 2;
	if (len < 2)
		return -1;
	switch (in[1]) {
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case '"': case '\\': case '/': out[0] = in[1]; return 1;
	case 'u':
		if (len < 6 || hex4(in + 2, &cp) < 0)
			return -1;
		*used = 6;
		if (cp >= 0xd800 && cp < 0xdc00 && len >= 12 && in[6] == '\\' && in[7] == 'u' &&
		    hex4(in + 8, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			*used = 12;
		} else if (cp >= 0xd800 && cp < 0xe000) {
			cp = 0xfffd;
		}
		return json_utf8_put(out, cp);
	default:
		return -1;
	}
}

int json_unescape(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0, used;
	while (i < len) {
		int n;
		if (in[i] != '\\') {
			out[o++] = in[i++];
			continue;
		}
		n = unescape_one(in + i, len - i, out + o, &used);
		if (n < 0)
			return -1;
		o += (size_t)n;
		i += used;
	}
	return (int)o;
}

/* The unescaped bytes of a string body, one at a time, without a copy:
 * names compare by their full decoded length whatever they hold. */
struct ustr {
	const char *p, *end;
	char pend[4];
	int npend, ipend;
};

static int ustr_next(struct ustr *u)
{
	size_t used;
	if (u->ipend < u->npend)
		return (unsigned char)u->pend[u->ipend++];
	if (u->p >= u->end)
		return -1;
	if (*u->p != '\\')
		return (unsigned char)*u->p++;
	u->npend = unescape_one(u->p, (size_t)(u->end - u->p), u->pend, &used);
	if (u->npend <= 0) { /* a bad escape (text not validated): the raw byte */
		u->npend = 0;
		return (unsigned char)*u->p++;
	}
	u->p += used;
	u->ipend = 1;
	return (unsigned char)u->pend[0];
}

int json_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	struct ustr x = {a, a + alen, {0}, 0, 0}, y = {b, b + blen, {0}, 0, 0};
	if (!memchr(a, '\\', alen) && !memchr(b, '\\', blen)) {
		int c = memcmp(a, b, alen < blen ? alen : blen);
		return c ? c : (alen > blen) - (alen < blen);
	}
	for (;;) {
		int ca = ustr_next(&x), cb = ustr_next(&y);
		if (ca != cb || ca < 0)
			return ca - cb;
	}
}

int json_tok_eq(const struct json_doc *doc, int i, const char *s)
{
	const struct json_tok *t = &doc->toks[i];
	struct ustr x = {doc->text + t->start, doc->text + t->end, {0}, 0, 0};
	const unsigned char *p = (const unsigned char *)s;
	if (t->type != JSON_STRING)
		return 0;
	for (;; p++) {
		int c = ustr_next(&x);
		if (c < 0 || *p == '\0')
			return c < 0 && *p == '\0';
		if (c != *p)
			return 0;
	}
}

int json_tok_copy(const struct json_doc *doc, int i, char *out, size_t cap)
{
	const struct json_tok *t = &doc->toks[i];
	size_t n = (size_t)(t->end - t->start);
	int len;
	if (cap == 0)
		return -1;
	if (n >= cap) {
		out[0] = '\0';
		return -1;
	}
	if (t->type != JSON_STRING) {
		memcpy(out, doc->text + t->start, n);
		out[n] = '\0';
		return (int)n;
	}
	len = json_unescape(doc->text + t->start, n, out);
	if (len < 0) {
		out[0] = '\0';
		return -1;
	}
	out[len] = '\0';
	return len;
}

/* ---- writer ---- */

int json_put_string(struct buf *b, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i, run = 0;
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;
		if (c >= 0x80) {
			size_t n = json_utf8_seq(s + i, len - i);
			if (n) {
				i += n - 1;
				continue;
			}
			/* not UTF-8: one U+FFFD per byte keeps the output valid JSON */
			if (buf_append(b, s + run, i - run) < 0 || buf_append(b, "\\ufffd", 6) < 0)
				return -1;
			run = i + 1;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		if (buf_append(b, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 15];
			elen = 6;
		}
		if (buf_append(b, esc, elen) < 0)
			return -1;
	}
	if (buf_append(b, s + run, len - run) < 0)
		return -1;
	return buf_append(b, "\"", 1);
}

int json_put_cstr(struct buf *b, const char *s) { return json_put_string(b, s, strlen(s)); }

int json_put_cstr_or_null(struct buf *b, const char *s)
{
	return s && s[0] ? json_put_cstr(b, s) : buf_puts(b, "null");
}

int json_put_int_or_null(struct buf *b, int present, long long v)
{
	return present ? buf_printf(b, "%lld", v) : buf_puts(b, "null");
}

int json_put_kv(struct buf *b, int comma, const char *key, const char *value)
{
	if ((comma && buf_append(b, ",", 1) < 0) || json_put_cstr(b, key) < 0 ||
	    buf_append(b, ":", 1) < 0)
		return -1;
	return json_put_cstr(b, value);
}
