/* The YAML subset of DESIGN.md: block maps and sequences (a sequence may
 * sit at its parent key's indentation), flow sequences and flow maps on
 * one line, plain, single- and double-quoted scalars, comments, a leading
 * "---". Anchors, tags, block scalars and multi-line flows are refused
 * with a message rather than misread. */
#include "edgehook/yaml.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct yline {
	int indent;
	int lineno;
	char *text; /* content after indentation, comment and trailing blanks cut */
};

struct yaml {
	struct arena *a;
	struct yline *lines;
	size_t n, i;
	char *err;
	size_t errcap;
	int failed;
	int depth; /* nesting so far: recursion must stay bounded */
};

enum { MAX_DEPTH = 64 };

static void *yfail(struct yaml *y, int line, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (y->failed)
		return NULL;
	y->failed = 1;
	n = snprintf(y->err, y->errcap, "%d: ", line);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < y->errcap)
		vsnprintf(y->err + n, y->errcap - (size_t)n, fmt, ap);
	va_end(ap);
	return NULL;
}

/* Cuts a comment: '#' at the start or after a blank, outside quotes
 * (inside, \" and '' are quotes that do not close the scalar). */
static void cut_comment(char *s)
{
	char quote = 0;
	char *p;
	for (p = s; *p; p++) {
		if (quote) {
			if ((quote == '"' && *p == '\\' && p[1]) || (quote == '\'' && *p == '\'' && p[1] == '\''))
				p++;
			else if (*p == quote)
				quote = 0;
			continue;
		}
		if ((*p == '"' || *p == '\'') && (p == s || strchr(" \t[{,:", p[-1])))
			quote = *p;
		else if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

static void rtrim(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static int split_lines(struct yaml *y, const char *text, size_t len)
{
	char *copy = arena_strndup(y->a, text, len), *p;
	size_t count = 1, k;
	int lineno = 0;
	if (!copy)
		return -1;
	if (memchr(text, '\0', len))
		return yfail(y, 1, "NUL byte in file"), -1;
	for (k = 0; k < len; k++)
		count += text[k] == '\n';
	y->lines = arena_alloc(y->a, count * sizeof(*y->lines));
	if (!y->lines)
		return -1;
	for (p = copy; p; ) {
		char *nl = strchr(p, '\n'), *s = p;
		int indent = 0;
		if (nl)
			*nl = '\0';
		lineno++;
		p = nl ? nl + 1 : NULL;
		while (*s == ' ') {
			s++;
			indent++;
		}
		if (*s == '\t')
			return yfail(y, lineno, "tab in indentation"), -1;
		cut_comment(s);
		rtrim(s);
		if (*s == '\0')
			continue;
		if (indent == 0 && y->n == 0 && strcmp(s, "---") == 0)
			continue;
		if (indent == 0 && (strcmp(s, "---") == 0 || strcmp(s, "...") == 0))
			return yfail(y, lineno, "only one document is supported"), -1;
		y->lines[y->n].indent = indent;
		y->lines[y->n].lineno = lineno;
		y->lines[y->n].text = s;
		y->n++;
	}
	return 0;
}

static int is_seq_item(const char *s) { return s[0] == '-' && (s[1] == ' ' || s[1] == '\0'); }

/* Parses a quoted scalar at *pp in place; leaves *pp after the closing
 * quote. Unescaping only shrinks text, so the result fits where it was. */
static char *quoted(struct yaml *y, int line, char **pp)
{
	char q = **pp, *in = *pp + 1, *out = in, *start = in;
	for (;;) {
		if (*in == '\0')
			return yfail(y, line, "unterminated quoted string");
		if (*in == q) {
			if (q == '\'' && in[1] == '\'') {
				*out++ = '\'';
				in += 2;
				continue;
			}
			break;
		}
		if (q == '"' && *in == '\\') {
			in++;
			switch (*in) {
			case 'n': *out++ = '\n'; break;
			case 't': *out++ = '\t'; break;
			case 'r': *out++ = '\r'; break;
			case '"': case '\\': case '/': case ' ': *out++ = *in; break;
			default:
				return yfail(y, line, "unsupported escape in double-quoted string");
			}
			in++;
			continue;
		}
		*out++ = *in++;
	}
	*out = '\0';
	*pp = in + 1;
	return start;
}

/* Where the closing quote of the quoted scalar at s is, without changing
 * anything; NULL when unterminated. */
static const char *quote_end(const char *s)
{
	char q = *s;
	for (s++; *s; s++) {
		if (q == '"' && *s == '\\' && s[1])
			s++;
		else if (*s == q && q == '\'' && s[1] == '\'')
			s++;
		else if (*s == q)
			return s;
	}
	return NULL;
}

static struct node *scalar_node(struct yaml *y, int line, char *s, int was_quoted)
{
	struct node *n = tree_new(y->a, NODE_SCALAR, line);
	if (!n)
		return yfail(y, line, "out of memory");
	n->str = s;
	n->len = strlen(s);
	n->quoted = was_quoted;
	if (!was_quoted && (strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || *s == '\0'))
		n->kind = NODE_NULL;
	return n;
}

static char *skip_blanks(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static struct node *flow_value(struct yaml *y, int line, char **pp);

/* Plain scalar inside a flow collection: ends at ',', ']' or '}'. */
static struct node *flow_plain(struct yaml *y, int line, char **pp, const char *stops)
{
	char *s = *pp, *e;
	while (**pp && !strchr(stops, **pp))
		(*pp)++;
	e = *pp;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == s)
		return yfail(y, line, "empty item in flow collection");
	s = arena_strndup(y->a, s, (size_t)(e - s));
	if (!s)
		return yfail(y, line, "out of memory");
	return scalar_node(y, line, s, 0);
}

static struct node *flow_collection_body(struct yaml *y, int line, char **pp);

static struct node *flow_collection(struct yaml *y, int line, char **pp)
{
	struct node *n;
	if (++y->depth > MAX_DEPTH)
		return yfail(y, line, "nesting deeper than %d", MAX_DEPTH);
	n = flow_collection_body(y, line, pp);
	y->depth--;
	return n;
}

static struct node *flow_collection_body(struct yaml *y, int line, char **pp)
{
	int is_map = **pp == '{';
	char close = is_map ? '}' : ']';
	struct node *n = tree_new(y->a, is_map ? NODE_MAP : NODE_SEQ, line);
	if (!n)
		return yfail(y, line, "out of memory");
	*pp = skip_blanks(*pp + 1);
	if (**pp == close) {
		(*pp)++;
		return n;
	}
	for (;;) {
		struct node *v;
		char *key = NULL;
		*pp = skip_blanks(*pp);
		if (is_map) {
			if (**pp == '"' || **pp == '\'') {
				key = quoted(y, line, pp);
			} else {
				char *s = *pp;
				while (**pp && **pp != ':' && **pp != ',' && **pp != '}')
					(*pp)++;
				key = arena_strndup(y->a, s, (size_t)(*pp - s));
				if (key)
					rtrim(key);
			}
			if (!key)
				return yfail(y, line, "bad key in flow map");
			*pp = skip_blanks(*pp);
			if (**pp != ':' || !*key)
				return yfail(y, line, "expected \"key: value\" in flow map");
			*pp = skip_blanks(*pp + 1);
			if (n->count >= TREE_MAX_MAP_KEYS)
				return yfail(y, line, "too many keys in one map (at most %d)", TREE_MAX_MAP_KEYS);
			if (tree_get(n, key))
				return yfail(y, line, "duplicate key \"%s\"", key);
		}
		v = flow_value(y, line, pp);
		if (!v)
			return NULL;
		v->key = key;
		tree_append(n, v);
		*pp = skip_blanks(*pp);
		if (**pp == close) {
			(*pp)++;
			return n;
		}
		if (**pp != ',')
			return yfail(y, line, **pp ? "expected ',' or '%c'" : "flow collection must end on its line (missing '%c')", close);
		(*pp)++;
	}
}

static struct node *flow_value(struct yaml *y, int line, char **pp)
{
	if (**pp == '[' || **pp == '{')
		return flow_collection(y, line, pp);
	if (**pp == '"' || **pp == '\'') {
		char *s = quoted(y, line, pp);
		return s ? scalar_node(y, line, s, 1) : NULL;
	}
	return flow_plain(y, line, pp, ",]}");
}

/* A value written after "key:" or "- " on the same line. */
static struct node *inline_value(struct yaml *y, int line, char *s)
{
	struct node *n;
	char *p = s;
	if (*s == '|' || *s == '>')
		return yfail(y, line, "block scalars (| and >) are not supported");
	if (*s == '&' || *s == '*' || *s == '!')
		return yfail(y, line, "anchors, aliases and tags are not supported");
	if (*s == '[' || *s == '{' || *s == '"' || *s == '\'') {
		n = flow_value(y, line, &p);
		if (n && *skip_blanks(p))
			return yfail(y, line, "unexpected text after value: \"%s\"", skip_blanks(p));
		return n;
	}
	return scalar_node(y, line, s, 0);
}

/* The colon that ends a map key at the start of s, or NULL when s is not
 * a "key: value" entry. Changes nothing. */
static const char *key_colon(const char *s)
{
	const char *p = s;
	if (*s == '"' || *s == '\'') {
		p = quote_end(s);
		if (!p)
			return NULL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		return *p == ':' && (p[1] == ' ' || p[1] == '\t' || p[1] == '\0') ? p : NULL;
	}
	if (*s == '[' || *s == '{')
		return NULL;
	for (; *p; p++)
		if (*p == ':' && (p[1] == ' ' || p[1] == '\t' || p[1] == '\0'))
			return p;
	return NULL;
}

/* Splits "key: rest" in place; returns rest (maybe empty), NULL on error. */
static char *split_key(struct yaml *y, int line, char *s, char **key)
{
	char *colon = (char *)key_colon(s), *e;
	if (!colon)
		return yfail(y, line, "expected \"key: value\"");
	if (*s == '"' || *s == '\'') {
		char *p = s;
		*key = quoted(y, line, &p);
		if (!*key)
			return NULL;
	} else {
		e = colon;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*e = '\0';
		*key = s;
	}
	return skip_blanks(colon + 1);
}

static struct node *block(struct yaml *y, int indent);

/* The value of "key:" with nothing after the colon. */
static struct node *nested_value(struct yaml *y, int parent_indent, int line)
{
	struct yline *next = y->i < y->n ? &y->lines[y->i] : NULL;
	if (next && next->indent > parent_indent)
		return block(y, next->indent);
	if (next && next->indent == parent_indent && is_seq_item(next->text))
		return block(y, parent_indent);
	return scalar_node(y, line, "", 0);
}

static struct node *block_map(struct yaml *y, int indent)
{
	struct node *map = tree_new(y->a, NODE_MAP, y->lines[y->i].lineno);
	if (!map)
		return yfail(y, y->lines[y->i].lineno, "out of memory");
	while (y->i < y->n && y->lines[y->i].indent == indent && !is_seq_item(y->lines[y->i].text)) {
		struct yline *l = &y->lines[y->i];
		char *key = NULL, *rest = split_key(y, l->lineno, l->text, &key);
		struct node *v;
		if (!rest)
			return NULL;
		if (!*key)
			return yfail(y, l->lineno, "empty key");
		if (map->count >= TREE_MAX_MAP_KEYS)
			return yfail(y, map->line, "too many keys in one map (at most %d)", TREE_MAX_MAP_KEYS);
		if (tree_get(map, key))
			return yfail(y, l->lineno, "duplicate key \"%s\"", key);
		y->i++;
		v = *rest ? inline_value(y, l->lineno, rest) : nested_value(y, indent, l->lineno);
		if (!v)
			return NULL;
		/* a nested block is reported at its key's line */
		v->line = l->lineno;
		v->key = key;
		tree_append(map, v);
	}
	if (y->i < y->n && y->lines[y->i].indent > indent)
		return yfail(y, y->lines[y->i].lineno, "unexpected indentation");
	return map;
}

static struct node *block_seq(struct yaml *y, int indent)
{
	struct node *seq = tree_new(y->a, NODE_SEQ, y->lines[y->i].lineno);
	if (!seq)
		return yfail(y, y->lines[y->i].lineno, "out of memory");
	while (y->i < y->n && y->lines[y->i].indent == indent && is_seq_item(y->lines[y->i].text)) {
		struct yline *l = &y->lines[y->i];
		char *item = skip_blanks(l->text + 1);
		struct node *v;
		if (!*item) {
			/* a bare "-" holds what is indented under it; a "- x"
			 * at its own column is the next item, and this one null */
			y->i++;
			if (y->i < y->n && y->lines[y->i].indent > indent)
				v = block(y, y->lines[y->i].indent);
			else
				v = scalar_node(y, l->lineno, "", 0);
		} else if (is_seq_item(item) || key_colon(item)) {
			/* "- key: v" or "- - v": the rest of the line opens a
			 * nested block at the item's own column. */
			l->indent += (int)(item - l->text);
			l->text = item;
			v = block(y, l->indent);
		} else {
			y->i++;
			v = inline_value(y, l->lineno, item);
		}
		if (!v)
			return NULL;
		tree_append(seq, v);
	}
	if (y->i < y->n && y->lines[y->i].indent > indent)
		return yfail(y, y->lines[y->i].lineno, "unexpected indentation");
	return seq;
}

static struct node *block(struct yaml *y, int indent)
{
	struct node *n;
	if (++y->depth > MAX_DEPTH)
		return yfail(y, y->lines[y->i].lineno, "nesting deeper than %d", MAX_DEPTH);
	n = is_seq_item(y->lines[y->i].text) ? block_seq(y, indent) : block_map(y, indent);
	y->depth--;
	return n;
}

int yaml_parse(struct arena *a, const char *text, size_t len, struct node **root, char *err, size_t errcap)
{
	struct yaml y;
	memset(&y, 0, sizeof(y));
	y.a = a;
	y.err = err;
	y.errcap = errcap;
	err[0] = '\0';
	if (split_lines(&y, text, len) < 0) {
		if (!y.failed)
			snprintf(err, errcap, "1: out of memory");
		return -1;
	}
	if (y.n == 0) {
		*root = tree_new(a, NODE_MAP, 1);
		return *root ? 0 : -1;
	}
	if (y.lines[0].indent != 0)
		return yfail(&y, y.lines[0].lineno, "unexpected indentation"), -1;
	*root = block(&y, 0);
	if (!*root)
		return -1;
	if (y.i < y.n)
		return yfail(&y, y.lines[y.i].lineno, "unexpected content at this indentation"), -1;
	return 0;
}
