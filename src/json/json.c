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

struct scan {
	const char *p, *end;
	unsigned depth, max_depth;
};

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

static int scan_container(struct scan *s, char close, int object)
{
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
			skip_ws(s);
			if (s->p >= s->end || *s->p != '"' || scan_string(s) < 0)
				return -1;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return -1;
			s->p++;
		}
		if (scan_value(s) < 0)
			return -1;
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == close) {
			s->p++;
			s->depth--;
			return 0;
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
	struct scan s = {text, text + len, 0, max_depth};
	if (scan_value(&s) == 0) {
		skip_ws(&s);
		if (s.p == s.end)
			return 0;
	}
	if (err_off)
		*err_off = (size_t)(s.p - text);
	return -1;
}

/* ---- tokens ---- */

int json_parse(struct json_doc *doc, const char *text, size_t len, unsigned max_depth)
{
	jsmn_parser p;
	int n;
	doc->toks = NULL;
	doc->ntoks = 0;
	if (len > INT32_MAX || json_validate(text, len, max_depth, NULL) < 0)
		return -1;
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

int json_tok_eq(const struct json_doc *doc, int i, const char *s)
{
	const struct json_tok *t = &doc->toks[i];
	size_t n = (size_t)(t->end - t->start);
	char tmp[256];
	int len;
	if (t->type != JSON_STRING)
		return 0;
	if (memchr(doc->text + t->start, '\\', n) == NULL)
		return strlen(s) == n && memcmp(doc->text + t->start, s, n) == 0;
	len = json_tok_copy(doc, i, tmp, sizeof(tmp));
	/* by full unescaped length: "ref\u0000x" is not "ref" */
	return len >= 0 && (size_t)len == strlen(s) && memcmp(tmp, s, (size_t)len) == 0;
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

static int utf8_put(char *out, uint32_t cp)
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

/* Output never outruns input: every escape is at least as long as the
 * bytes it stands for, so in-place unescaping is safe. */
int json_unescape(const char *in, size_t len, char *out)
{
	size_t i = 0, o = 0;
	while (i < len) {
		uint32_t cp, lo;
		if (in[i] != '\\') {
			out[o++] = in[i++];
			continue;
		}
		if (++i >= len)
			return -1;
		switch (in[i]) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case '"': case '\\': case '/': out[o++] = in[i]; break;
		case 'u':
			if (i + 4 >= len || hex4(in + i + 1, &cp) < 0)
				return -1;
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < len && in[i + 1] == '\\' &&
			    in[i + 2] == 'u' && hex4(in + i + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			o += (size_t)utf8_put(out + o, cp);
			break;
		default:
			return -1;
		}
		i++;
	}
	return (int)o;
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

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlongs, surrogates or code points past U+10FFFF), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* JSON text is UTF-8 (RFC 8259 8.1): a byte that starts no well-formed
 * sequence becomes U+FFFD. */
int json_put_string(struct buf *b, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2, seq;
		if (c >= 0x80) {
			if ((seq = utf8_seq((const unsigned char *)s + i, len - i)) > 0) {
				i += seq;
				continue;
			}
			if (buf_append(b, s + run, i - run) < 0 || buf_append(b, "\xef\xbf\xbd", 3) < 0)
				return -1;
			run = ++i;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
			i++;
			continue;
		}
		if (buf_append(b, s + run, i - run) < 0)
			return -1;
		run = ++i;
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

int json_put_kv(struct buf *b, int comma, const char *key, const char *value)
{
	if ((comma && buf_append(b, ",", 1) < 0) || json_put_cstr(b, key) < 0 ||
	    buf_append(b, ":", 1) < 0)
		return -1;
	return json_put_cstr(b, value);
}
