/* payload_xml: XML bodies to the JSON of webhook's payload map
 * (payload_xml.h). One pass over the body with an explicit element stack
 * (no recursion while reading); decoded text goes into one buffer of
 * len bytes (decoding never grows text), nodes into one array that
 * doubles, and a map's keys are found through one hash table, so neither
 * hostile nesting nor many siblings make the work super-linear. */
#include "edgehook/payload_xml.h"

#include "edgehook/json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum xkind { X_STR, X_MAP, X_LIST };

struct xnode {
	const char *key; /* into the body (or "#text") */
	uint32_t klen;
	uint8_t attr; /* the key is "-" + key */
	uint8_t kind;
	uint32_t s, slen;      /* X_STR: into txt */
	int32_t parent;        /* the map this is an entry of; -1: a list item or the root */
	int32_t first, last;   /* X_MAP entries, X_LIST items */
	int32_t next;
};

struct frame {
	int32_t node;
	const char *name; /* raw, prefix included, for the end tag */
	size_t nlen;
	int has_text; /* text came first: the element's value is that text */
	uint32_t s, slen;
};

struct xp {
	const char *start, *p, *end;
	char *txt;
	size_t tlen;
	struct xnode *n;
	size_t nn, ncap;
	int32_t *hash;
	size_t hcap; /* a power of two, at least twice nn */
	struct frame fr[XML_MAX_DEPTH];
	int depth;
	int32_t root;
	char *why;
	size_t whycap;
};

static int syntax(struct xp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int syntax(struct xp *x, const char *fmt, ...)
{
	int line = 1, w;
	const char *q;
	va_list ap;
	for (q = x->start; q < x->p; q++)
		line += *q == '\n';
	w = snprintf(x->why, x->whycap, "XML syntax error on line %d: ", line);
	if (w >= 0 && (size_t)w < x->whycap) {
		va_start(ap, fmt);
		vsnprintf(x->why + w, x->whycap - (size_t)w, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int too_big(struct xp *x, const char *what)
{
	snprintf(x->why, x->whycap, "edgehook: XML payload refused: %s", what);
	return -2;
}

static int eof(struct xp *x)
{
	return syntax(x, "unexpected EOF");
}

/* ---- bytes ---- */

static int name_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':' ||
	       c == '.' || c == '-';
}

static void space(struct xp *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\r' || *x->p == '\n' || *x->p == '\t'))
		x->p++;
}

static uint32_t rune_at(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0];
	if (n == 2)
		return (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	if (n == 3)
		return (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 |
	       (s[3] & 0x3f);
}

static int char_ok(uint32_t r)
{
	return r == 0x09 || r == 0x0a || r == 0x0d || (r >= 0x20 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) ||
	       (r >= 0x10000 && r <= 0x10ffff);
}

/* Go's readName then isName: ASCII name bytes and any valid non-ASCII
 * UTF-8, not starting with a digit, '.' or '-'. 0; -1 no name here (the
 * caller says what was expected); -2 a bad name (why is set). */
static int read_name(struct xp *x, const char **name, size_t *len)
{
	const char *s = x->p;
	size_t i, n;
	unsigned char c0;
	while (x->p < x->end && ((unsigned char)*x->p >= 0x80 || name_byte((unsigned char)*x->p)))
		x->p++;
	n = (size_t)(x->p - s);
	if (n == 0)
		return -1;
	for (i = 0; i < n; i += json_utf8_seq(s + i, n - i))
		if (json_utf8_seq(s + i, n - i) == 0)
			return syntax(x, "invalid XML name: %.*s", (int)(n < 64 ? n : 64), s) - 1;
	c0 = (unsigned char)s[0];
	if ((c0 >= '0' && c0 <= '9') || c0 == '.' || c0 == '-')
		return syntax(x, "invalid XML name: %.*s", (int)(n < 64 ? n : 64), s) - 1;
	*name = s;
	*len = n;
	return 0;
}

/* Go's nsname: the local part after one colon that is neither first
 * nor last; a name with more colons stays whole. */
static void local_name(const char *name, size_t n, const char **loc, size_t *llen)
{
	const char *c = memchr(name, ':', n);
	*loc = name;
	*llen = n;
	if (c && c > name && (size_t)(c - name) < n - 1 && !memchr(c + 1, ':', n - (size_t)(c - name) - 1)) {
		*loc = c + 1;
		*llen = n - (size_t)(c - name) - 1;
	}
}

/* ---- text ---- */

/* &...; at x->p (just past '&'), decoded to out; its length, or -1. */
static int entity(struct xp *x, char *out)
{
	static const struct {
		const char *name, *text;
	} named[] = {{"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"apos", "'"}, {"quot", "\""}};
	const char *s = x->p - 1;
	size_t i;
	if (x->p < x->end && *x->p == '#') {
		int base = 10, digits = 0;
		uint32_t v = 0;
		x->p++;
		if (x->p < x->end && *x->p == 'x') {
			base = 16;
			x->p++;
		}
		for (; x->p < x->end; x->p++, digits++) {
			unsigned char c = (unsigned char)*x->p;
			int d = c >= '0' && c <= '9'		    ? c - '0'
				: base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
				: base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
								     : -1;
			if (d < 0)
				break;
			v = v > 0x10ffff ? v : v * (uint32_t)base + (uint32_t)d;
		}
		if (x->p < x->end && *x->p == ';' && digits && v <= 0x10ffff) {
			x->p++;
			/* Go's string(rune(n)) */
			return json_utf8_put(out, v >= 0xd800 && v <= 0xdfff ? 0xfffd : v);
		}
	} else {
		const char *name;
		size_t n;
		if (read_name(x, &name, &n) == 0 && x->p < x->end && *x->p == ';') {
			for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
				if (strlen(named[i].name) == n && memcmp(named[i].name, name, n) == 0) {
					x->p++;
					out[0] = named[i].text[0];
					return 1;
				}
			x->p++;
		}
	}
	return syntax(x, "invalid character entity %.*s%s", (int)(x->p - s < 40 ? x->p - s : 40), s,
		      x->p[-1] == ';' ? "" : " (no semicolon)");
}

/* Go's Decoder.text: up to '<' (quote < 0), the closing quote, or "]]>"
 * (cdata); entities decoded unless cdata; then every character checked
 * and \r\n, \r made \n. The result is txt[*off, *off + *len). */
static int read_text(struct xp *x, int quote, int cdata, uint32_t *off, uint32_t *len)
{
	size_t o0 = x->tlen, o = x->tlen, r, w;
	for (;;) {
		unsigned char c;
		if (x->p >= x->end) {
			if (cdata)
				return syntax(x, "unexpected EOF in CDATA section");
			if (quote >= 0)
				return eof(x);
			break;
		}
		c = (unsigned char)*x->p;
		if (quote < 0 && c == ']' && x->end - x->p >= 3 && x->p[1] == ']' && x->p[2] == '>') {
			if (!cdata)
				return syntax(x, "unescaped ]]> not in CDATA section");
			x->p += 3;
			break;
		}
		if (quote >= 0 && c == (unsigned char)quote) {
			x->p++;
			break;
		}
		if (quote >= 0 && c == '<')
			return syntax(x, "unescaped < inside quoted string");
		if (quote < 0 && c == '<' && !cdata)
			break;
		x->p++;
		if (c == '&' && !cdata) {
			int n = entity(x, x->txt + o);
			if (n < 0)
				return -1;
			o += (size_t)n;
			continue;
		}
		x->txt[o++] = (char)c;
	}
	for (r = o0; r < o; r += json_utf8_seq(x->txt + r, o - r)) {
		size_t n = json_utf8_seq(x->txt + r, o - r);
		uint32_t cp;
		if (n == 0)
			return syntax(x, "invalid UTF-8");
		cp = rune_at((const unsigned char *)x->txt + r, n);
		if (!char_ok(cp))
			return syntax(x, "illegal character code U+%04X", (unsigned)cp);
	}
	for (r = w = o0; r < o; r++) {
		char c = x->txt[r];
		if (c == '\r') {
			if (r + 1 < o && x->txt[r + 1] == '\n')
				continue;
			c = '\n';
		}
		x->txt[w++] = c;
	}
	x->tlen = w;
	*off = (uint32_t)o0;
	*len = (uint32_t)(w - o0);
	return 0;
}

/* ---- the map tree ---- */

static uint32_t key_hash(int32_t parent, int attr, const char *k, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)parent * 0x9e3779b1u;
	size_t i;
	if (attr)
		h = (h ^ '-') * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

/* Keys compare as rendered: an attribute "-b" equals an element whose
 * local name is "-b" (possible only behind a prefix, "p:-b"). */
static int key_eq(const struct xnode *a, int attr, const char *k, size_t n)
{
	size_t alen = a->klen + a->attr, blen = n + (size_t)attr, i;
	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		char ca = a->attr ? (i ? a->key[i - 1] : '-') : a->key[i];
		char cb = attr ? (i ? k[i - 1] : '-') : k[i];
		if (ca != cb)
			return 0;
	}
	return 1;
}

static void hash_put(struct xp *x, int32_t i)
{
	const struct xnode *e = &x->n[i];
	size_t h = key_hash(e->parent, e->attr, e->key, e->klen) & (x->hcap - 1);
	while (x->hash[h] >= 0)
		h = (h + 1) & (x->hcap - 1);
	x->hash[h] = i;
}

static int32_t find(const struct xp *x, int32_t parent, int attr, const char *k, size_t n)
{
	size_t h;
	if (!x->hcap)
		return -1;
	h = key_hash(parent, attr, k, n) & (x->hcap - 1);
	for (; x->hash[h] >= 0; h = (h + 1) & (x->hcap - 1)) {
		const struct xnode *e = &x->n[x->hash[h]];
		if (e->parent == parent && key_eq(e, attr, k, n))
			return x->hash[h];
	}
	return -1;
}

/* A new node (parent -1); -1 with why set when over XML_MAX_NODES. */
static int32_t new_node(struct xp *x, const char *key, size_t klen, int attr)
{
	struct xnode *e;
	if (x->nn == x->ncap) {
		size_t cap = x->ncap ? 2 * x->ncap : 64;
		struct xnode *nv;
		if (x->ncap >= XML_MAX_NODES || !(nv = realloc(x->n, cap * sizeof(*nv))))
			return too_big(x, "too many elements and attributes") + 1;
		x->n = nv;
		x->ncap = cap;
	}
	if (2 * (x->nn + 1) > x->hcap) {
		size_t cap = x->hcap ? 2 * x->hcap : 128, i;
		int32_t *h = malloc(cap * sizeof(*h));
		if (!h)
			return too_big(x, "out of memory") + 1;
		free(x->hash);
		x->hash = h;
		x->hcap = cap;
		memset(h, 0xff, cap * sizeof(*h));
		for (i = 0; i < x->nn; i++)
			if (x->n[i].parent >= 0)
				hash_put(x, (int32_t)i);
	}
	e = &x->n[x->nn];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->klen = (uint32_t)klen;
	e->attr = (uint8_t)attr;
	e->kind = X_MAP;
	e->parent = e->first = e->last = e->next = -1;
	return (int32_t)x->nn++;
}

static void append(struct xp *x, int32_t list, int32_t item)
{
	if (x->n[list].last >= 0)
		x->n[x->n[list].last].next = item;
	else
		x->n[list].first = item;
	x->n[list].last = item;
}

static void link_entry(struct xp *x, int32_t map, int32_t e)
{
	x->n[e].parent = map;
	append(x, map, e);
	hash_put(x, e);
}

/* na[key] = value (attributes, "#text"): replaces an entry of that key. */
static int set_string(struct xp *x, int32_t map, const char *key, size_t klen, int attr, uint32_t s, uint32_t slen)
{
	int32_t e = find(x, map, attr, key, klen);
	if (e < 0) {
		if ((e = new_node(x, key, klen, attr)) < 0)
			return -2;
		link_entry(x, map, e);
	}
	x->n[e].kind = X_STR;
	x->n[e].s = s;
	x->n[e].slen = slen;
	return 0;
}

/* A child element under map: a second one of a name turns the entry
 * into a list (its first value moved into the list's first item). */
static int add_child(struct xp *x, int32_t map, int32_t child)
{
	const struct xnode *c = &x->n[child];
	int32_t e = find(x, map, 0, c->key, c->klen), first;
	if (e < 0) {
		link_entry(x, map, child);
		return 0;
	}
	if (x->n[e].kind != X_LIST) {
		if ((first = new_node(x, NULL, 0, 0)) < 0)
			return -2;
		x->n[first] = x->n[e];
		x->n[first].parent = x->n[first].next = -1;
		x->n[e].kind = X_LIST;
		x->n[e].first = x->n[e].last = -1;
		append(x, e, first);
	}
	append(x, e, child);
	return 0;
}

/* ---- tokens ---- */

/* mxj: trimmed text is the element's value when nothing came before it,
 * else its "#text" entry (the last one wins); text outside the root and
 * whitespace are dropped. */
static int text_token(struct xp *x, int cdata)
{
	static const char trim[] = "\t\r\b\n ";
	uint32_t s, n;
	struct frame *f;
	if (read_text(x, -1, cdata, &s, &n) < 0)
		return -1;
	while (n && memchr(trim, x->txt[s], sizeof(trim) - 1))
		s++, n--;
	while (n && memchr(trim, x->txt[s + n - 1], sizeof(trim) - 1))
		n--;
	if (!n || x->depth == 0)
		return 0;
	f = &x->fr[x->depth - 1];
	if (x->n[f->node].first >= 0)
		return set_string(x, f->node, "#text", 5, 0, s, n);
	f->has_text = 1;
	f->s = s;
	f->slen = n;
	return 0;
}

/* Go's procInst: the quoted value after the first `param=` that is
 * followed by a quote. */
static void pi_param(const char *s, size_t n, const char *param, const char **v, size_t *vlen)
{
	size_t plen = strlen(param), i = 0;
	char q = 0;
	*v = NULL;
	*vlen = 0;
	while (i < n) {
		const char *k = memmem(s + i, n - i, param, plen);
		size_t at;
		if (!k || (size_t)(k - s) + plen >= n)
			return;
		at = (size_t)(k - s) + plen;
		i = at + 1;
		if (s[at] == '\'' || s[at] == '"') {
			q = s[at];
			break;
		}
	}
	if (q) {
		const char *e = memchr(s + i, q, n - i);
		if (e) {
			*v = s + i;
			*vlen = (size_t)(e - (s + i));
		}
	}
}

/* <?target ...?>; the XML declaration must say version 1.0 and UTF-8
 * (Go has no CharsetReader in webhook). */
static int proc_inst(struct xp *x)
{
	const char *name, *data, *v;
	size_t n, vlen;
	if (read_name(x, &name, &n) < 0)
		return x->why[0] ? -1 : syntax(x, "expected target name after <?");
	space(x);
	data = x->p;
	for (;; x->p++) {
		if (x->p >= x->end)
			return eof(x);
		if (x->p > data && x->p[-1] == '?' && *x->p == '>')
			break;
	}
	x->p++;
	if (n != 3 || memcmp(name, "xml", 3) != 0)
		return 0;
	n = (size_t)(x->p - 2 - data);
	pi_param(data, n, "version=", &v, &vlen);
	if (v && !(vlen == 3 && memcmp(v, "1.0", 3) == 0))
		return syntax(x, "unsupported version \"%.*s\"; only version 1.0 is supported", (int)(vlen < 40 ? vlen : 40), v);
	pi_param(data, n, "encoding=", &v, &vlen);
	if (v && vlen && !(vlen == 5 && strncasecmp(v, "utf-8", 5) == 0))
		return syntax(x, "encoding \"%.*s\" declared but Decoder.CharsetReader is nil", (int)(vlen < 40 ? vlen : 40), v);
	return 0;
}

/* Past "<!--": up to "-->"; "--" anywhere else is an error. */
static int comment(struct xp *x)
{
	for (; x->p + 1 < x->end; x->p++)
		if (x->p[0] == '-' && x->p[1] == '-') {
			if (x->p + 2 >= x->end)
				break;
			if (x->p[2] != '>')
				return syntax(x, "invalid sequence \"--\" not allowed in comments");
			x->p += 3;
			return 0;
		}
	x->p = x->end;
	return eof(x);
}

/* A directive (<!DOCTYPE ...>) skipped as Go's decoder skips it: quotes,
 * nested <...> and comments inside; nothing in it is used. */
static int directive(struct xp *x)
{
	char q = 0;
	long depth = 0;
	x->p++; /* its first byte is only kept by Go, never interpreted */
	for (;;) {
		char b;
		if (x->p >= x->end)
			return eof(x);
		b = *x->p++;
		if (!q && b == '>' && depth == 0)
			return 0;
		for (;;) {
			size_t i;
			if (q && b == q)
				q = 0;
			else if (q)
				;
			else if (b == '\'' || b == '"')
				q = b;
			else if (b == '>')
				depth--;
			else if (b == '<') {
				for (i = 0; i < 3; i++) {
					if (x->p >= x->end)
						return eof(x);
					b = *x->p++;
					if (b != "!--"[i])
						break;
				}
				if (i < 3) {
					depth++;
					continue; /* the byte that was not "!--" counts too */
				}
				for (; x->p + 2 < x->end; x->p++)
					if (x->p[0] == '-' && x->p[1] == '-' && x->p[2] == '>')
						break;
				if (x->p + 2 >= x->end)
					return eof(x);
				x->p += 3;
			}
			break;
		}
	}
}

/* <!-- -->, <![CDATA[ ]]> or a directive, just past "<!". */
static int bang(struct xp *x)
{
	if (x->p >= x->end)
		return eof(x);
	if (*x->p == '-') {
		if (x->p + 1 >= x->end)
			return eof(x);
		if (x->p[1] != '-')
			return syntax(x, "invalid sequence <!- not part of <!--");
		x->p += 2;
		return comment(x);
	}
	if (*x->p == '[') {
		x->p++;
		if (x->end - x->p < 6 || memcmp(x->p, "CDATA[", 6) != 0)
			return x->end - x->p < 6 && memcmp(x->p, "CDATA[", (size_t)(x->end - x->p)) == 0
				       ? eof(x)
				       : syntax(x, "invalid <![ sequence");
		x->p += 6;
		return text_token(x, 1);
	}
	return directive(x);
}

static int end_element(struct xp *x)
{
	struct frame *f = &x->fr[--x->depth];
	struct xnode *e = &x->n[f->node];
	if (f->has_text) {
		e->kind = X_STR;
		e->s = f->s;
		e->slen = f->slen;
	} else if (e->first < 0) {
		e->kind = X_STR;
		e->slen = 0;
	}
	return 0;
}

/* </name>, just past "</". 1 when it closed the root. */
/* The next byte after optional space, consumed. */
static int next_byte(struct xp *x, char *c)
{
	space(x);
	if (x->p >= x->end)
		return eof(x);
	*c = *x->p++;
	return 0;
}

static int end_tag(struct xp *x)
{
	const char *name;
	size_t n;
	struct frame *f;
	char c = 0;
	if (read_name(x, &name, &n) < 0)
		return x->why[0] ? -1 : syntax(x, "expected element name after </");
	if (next_byte(x, &c) < 0)
		return -1;
	if (c != '>')
		return syntax(x, "invalid characters between </%.*s and >", (int)(n < 64 ? n : 64), name);
	if (x->depth == 0)
		return syntax(x, "unexpected end element </%.*s>", (int)(n < 64 ? n : 64), name);
	f = &x->fr[x->depth - 1];
	if (f->nlen != n || memcmp(f->name, name, n) != 0)
		return syntax(x, "element <%.*s> closed by </%.*s>", (int)(f->nlen < 64 ? f->nlen : 64), f->name,
			      (int)(n < 64 ? n : 64), name);
	end_element(x);
	return x->depth == 0;
}

static int attribute(struct xp *x, int32_t e)
{
	const char *name, *loc;
	size_t n, llen;
	uint32_t s, slen;
	char q = 0;
	if (read_name(x, &name, &n) < 0)
		return x->why[0] ? -1 : syntax(x, "expected attribute name in element");
	if (next_byte(x, &q) < 0)
		return -1;
	if (q != '=')
		return syntax(x, "attribute name without = in element");
	if (next_byte(x, &q) < 0)
		return -1;
	if (q != '"' && q != '\'')
		return syntax(x, "unquoted or missing attribute value in element");
	if (read_text(x, (unsigned char)q, 0, &s, &slen) < 0)
		return -1;
	local_name(name, n, &loc, &llen);
	return set_string(x, e, loc, llen, 1, s, slen);
}

/* <name attr="v" ...> or <name .../>, just past "<". 1 when it was an
 * empty root. */
static int start_tag(struct xp *x)
{
	const char *name, *loc;
	size_t n, llen;
	int32_t e;
	int rc, empty = 0;
	struct frame *f;
	if (read_name(x, &name, &n) < 0)
		return x->why[0] ? -1 : syntax(x, "expected element name after <");
	if (x->depth == XML_MAX_DEPTH)
		return too_big(x, "elements nested too deep");
	local_name(name, n, &loc, &llen);
	if ((e = new_node(x, loc, llen, 0)) < 0)
		return -2;
	for (;;) {
		space(x);
		if (x->p >= x->end)
			return eof(x);
		if (*x->p == '/') {
			if (++x->p >= x->end)
				return eof(x);
			if (*x->p++ != '>')
				return syntax(x, "expected /> in element");
			empty = 1;
			break;
		}
		if (*x->p == '>') {
			x->p++;
			break;
		}
		if ((rc = attribute(x, e)) < 0)
			return rc;
	}
	if (x->depth == 0)
		x->root = e;
	else if (add_child(x, x->fr[x->depth - 1].node, e) < 0)
		return -2;
	f = &x->fr[x->depth++];
	memset(f, 0, sizeof(*f));
	f->node = e;
	f->name = name;
	f->nlen = n;
	if (empty) {
		end_element(x);
		return x->depth == 0;
	}
	return 0;
}

/* Tokens up to the end of the first element: 0, -1, -2. */
static int read_doc(struct xp *x)
{
	for (;;) {
		int rc;
		if (x->p >= x->end) {
			if (x->depth)
				return eof(x);
			snprintf(x->why, x->whycap, "EOF");
			return -1;
		}
		if (*x->p != '<') {
			rc = text_token(x, 0);
		} else if (++x->p >= x->end) {
			rc = eof(x);
		} else if (*x->p == '/') {
			x->p++;
			rc = end_tag(x);
		} else if (*x->p == '?') {
			x->p++;
			rc = proc_inst(x);
		} else if (*x->p == '!') {
			x->p++;
			rc = bang(x);
		} else {
			rc = start_tag(x);
		}
		if (rc)
			return rc > 0 ? 0 : rc;
	}
}

/* ---- JSON ---- */

static int put_key(struct buf *out, const struct xnode *e)
{
	/* names are name bytes and valid UTF-8: nothing to escape */
	return buf_append(out, "\"-", e->attr ? 2 : 1) < 0 || buf_append(out, e->key, e->klen) < 0 ||
			       buf_append(out, "\":", 2) < 0
		       ? -1
		       : 0;
}

/* Recursion depth is bounded: a map and a list per element level. */
static int emit(const struct xp *x, struct buf *out, int32_t i)
{
	const struct xnode *e = &x->n[i];
	int32_t c;
	if (e->kind == X_STR)
		return json_put_string(out, x->txt + e->s, e->slen);
	if (buf_append(out, e->kind == X_MAP ? "{" : "[", 1) < 0)
		return -1;
	for (c = e->first; c >= 0; c = x->n[c].next) {
		if (c != e->first && buf_append(out, ",", 1) < 0)
			return -1;
		if (e->kind == X_MAP && put_key(out, &x->n[c]) < 0)
			return -1;
		if (emit(x, out, c) < 0)
			return -1;
	}
	return buf_append(out, e->kind == X_MAP ? "}" : "]", 1);
}

int xml_to_json(struct buf *out, const char *body, size_t len, char *why, size_t whycap)
{
	struct xp *x = calloc(1, sizeof(*x));
	int rc = -2;
	why[0] = 0;
	if (!x || !(x->txt = malloc(len + 1))) {
		snprintf(why, whycap, "edgehook: XML payload refused: out of memory");
		goto done;
	}
	x->start = x->p = body;
	x->end = body + len;
	x->root = -1;
	x->why = why;
	x->whycap = whycap;
	if ((rc = read_doc(x)) < 0)
		goto done;
	if (buf_append(out, "{", 1) < 0 || put_key(out, &x->n[x->root]) < 0 || emit(x, out, x->root) < 0 ||
	    buf_append(out, "}", 1) < 0) {
		snprintf(why, whycap, "edgehook: XML payload refused: its JSON is too large");
		rc = -2;
	}
done:
	if (x) {
		free(x->txt);
		free(x->n);
		free(x->hash);
	}
	free(x);
	return rc;
}
