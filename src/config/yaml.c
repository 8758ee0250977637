/* The YAML subset of DESIGN.md, grown to read real hooks files: block
 * maps and sequences (a sequence may sit at its parent key's
 * indentation), flow sequences and maps that may span lines and end in a
 * trailing comma, one-pair maps written without braces inside a flow
 * sequence, plain, single- and double-quoted scalars, block scalars (| and
 * > with chomping and indentation indicators), anchors and aliases (an
 * alias is a copy, and all copies of a document together are capped so a
 * "billion laughs" file is refused), comments, a leading "---". Tabs are
 * accepted where go-yaml (webhook's reader) takes them: inside flows and
 * after "key:"; refused in block indentation and after "-". Tags and
 * merge keys (<<) are refused with a message rather than misread. */
#include "edgehook/yaml.h"
#include "edgehook/buf.h"
#include "edgehook/yaml_scalar.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct yline {
	int indent;
	int lineno;
	int tab; /* a tab in the indentation: an error unless a flow or block scalar takes the line */
	char *text; /* content after indentation, comment and trailing blanks cut */
};

struct anchor {
	const char *name;
	const struct node *node;
};

enum { MAX_DEPTH = 64, MAX_ANCHORS = 256, MAX_ALIAS_NODES = 10000 };

struct yaml {
	struct arena *a;
	struct yline *lines;
	size_t n, i;
	struct buf *errors;
	int failed;
	int depth; /* nesting so far: recursion must stay bounded */
	char **raw; /* every source line untouched, [lineno - 1] */
	int nraw;
	int fline; /* line of the flow text being read */
	struct anchor anchors[MAX_ANCHORS];
	int nanchors;
	size_t alias_nodes; /* nodes copied for aliases so far */
};

static void *yfail(struct yaml *y, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[480];
	if (y->failed)
		return NULL;
	y->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_printf(y->errors, "%d: %s", line, msg);
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
	char *copy = arena_strndup(y->a, text, len), *rawcopy = arena_strndup(y->a, text, len), *p, *r;
	size_t count = 1, k;
	int lineno = 0;
	if (!copy || !rawcopy)
		return -1;
	if (memchr(text, '\0', len))
		return yfail(y, 1, "NUL byte in file"), -1;
	for (k = 0; k < len; k++)
		count += text[k] == '\n';
	y->lines = arena_alloc(y->a, count * sizeof(*y->lines));
	y->raw = arena_alloc(y->a, count * sizeof(*y->raw));
	if (!y->lines || !y->raw)
		return -1;
	for (r = rawcopy; r; y->nraw++) {
		char *nl = strchr(r, '\n');
		if (nl)
			*nl = '\0';
		if (nl && nl > r && nl[-1] == '\r')
			nl[-1] = '\0';
		y->raw[y->nraw] = r;
		r = nl ? nl + 1 : NULL;
	}
	for (p = copy; p; ) {
		char *nl = strchr(p, '\n'), *s = p;
		int indent = 0, tab = 0;
		if (nl)
			*nl = '\0';
		lineno++;
		p = nl ? nl + 1 : NULL;
		while (*s == ' ') {
			s++;
			indent++;
		}
		if (*s == '\t') {
			tab = 1;
			while (*s == ' ' || *s == '\t')
				s++;
		}
		cut_comment(s);
		rtrim(s);
		if (*s == '\0')
			continue;
		if (indent == 0 && y->n == 0 && strcmp(s, "---") == 0)
			continue;
		if (indent == 0 && (strcmp(s, "---") == 0 || strcmp(s, "...") == 0))
			return yfail(y, lineno, "only one document is supported"), -1;
		y->lines[y->n].indent = indent;
		y->lines[y->n].tab = tab;
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
			case 'b': *out++ = '\b'; break;
			case 'f': *out++ = '\f'; break;
			case 'a': *out++ = '\a'; break;
			case 'v': *out++ = '\v'; break;
			case 'e': *out++ = '\x1b'; break;
			/* go-yaml also takes \' (Go's js escaper writes it, -template) */
			case '"': case '\\': case '/': case ' ': case '\'': case '\t': *out++ = *in; break;
			case 'u':
				if (yaml_unicode_escape(&in, &out) < 0)
					return yfail(y, line, "bad \\u escape in double-quoted string");
				continue;
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

/* Blanks and line breaks inside a flow collection; breaks move y->fline. */
static char *fskip(struct yaml *y, char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n')
		y->fline += *p++ == '\n';
	return p;
}

/* Copies an anchored node for an alias; every copy counts against one
 * budget per document, so nested aliases cannot grow exponentially. */
static struct node *copy_node(struct yaml *y, const struct node *n)
{
	struct node *c;
	const struct node *k;
	if (++y->alias_nodes > MAX_ALIAS_NODES)
		return yfail(y, y->fline, "aliases expand to more than %d nodes", MAX_ALIAS_NODES);
	c = tree_new(y->a, n->kind, n->line);
	if (!c)
		return yfail(y, y->fline, "out of memory");
	c->quoted = n->quoted;
	c->str = n->str;
	c->len = n->len;
	for (k = n->child; k; k = k->next) {
		struct node *d = copy_node(y, k);
		if (!d)
			return NULL;
		d->key = k->key;
		tree_append(c, d);
	}
	return c;
}

/* The name after '&' or '*' at *pp; leaves *pp after it. */
static const char *anchor_name(struct yaml *y, int line, char **pp)
{
	char *s = ++*pp;
	while (**pp && !strchr(" \t\n,[]{}", **pp))
		(*pp)++;
	if (*pp == s)
		return yfail(y, line, "anchor or alias without a name");
	return arena_strndup(y->a, s, (size_t)(*pp - s));
}

static struct node *alias(struct yaml *y, int line, char **pp)
{
	const char *name = anchor_name(y, line, pp);
	int k;
	if (!name)
		return NULL;
	for (k = y->nanchors - 1; k >= 0; k--)
		if (strcmp(y->anchors[k].name, name) == 0) {
			y->fline = line;
			return copy_node(y, y->anchors[k].node);
		}
	return yfail(y, line, "unknown alias \"*%s\"", name);
}

static int add_anchor(struct yaml *y, int line, const char *name, const struct node *n)
{
	if (y->nanchors >= MAX_ANCHORS)
		return yfail(y, line, "more than %d anchors", MAX_ANCHORS), -1;
	y->anchors[y->nanchors].name = name;
	y->anchors[y->nanchors].node = n;
	y->nanchors++;
	return 0;
}

static struct node *flow_value(struct yaml *y, char **pp, int in_seq);

/* Plain scalar inside a flow collection: ends at ',', ']', '}', a line
 * break, and (as a key) at ':' followed by a blank or an indicator. */
static struct node *flow_plain(struct yaml *y, char **pp, int as_key)
{
	char *s = *pp, *e;
	while (**pp && !strchr(",]}\n", **pp)) {
		if (as_key && **pp == ':' && strchr(" \t\n,]}", (*pp)[1]))
			break;
		(*pp)++;
	}
	e = *pp;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == s)
		return yfail(y, y->fline, "empty item in flow collection");
	s = arena_strndup(y->a, s, (size_t)(e - s));
	if (!s)
		return yfail(y, y->fline, "out of memory");
	return scalar_node(y, y->fline, s, 0);
}

static struct node *flow_collection_body(struct yaml *y, char **pp);

static struct node *flow_collection(struct yaml *y, char **pp)
{
	struct node *n;
	if (++y->depth > MAX_DEPTH)
		return yfail(y, y->fline, "nesting deeper than %d", MAX_DEPTH);
	n = flow_collection_body(y, pp);
	y->depth--;
	return n;
}

/* "key: value" inside a flow map, or a one-pair map written without
 * braces inside a flow sequence: the key is already read. */
static struct node *flow_pair_value(struct yaml *y, char **pp, char close)
{
	*pp = fskip(y, *pp + 1);
	if (**pp == ',' || **pp == close)
		return scalar_node(y, y->fline, "", 0);
	return flow_value(y, pp, 0);
}

static struct node *flow_collection_body(struct yaml *y, char **pp)
{
	int is_map = **pp == '{';
	char close = is_map ? '}' : ']';
	struct node *n = tree_new(y->a, is_map ? NODE_MAP : NODE_SEQ, y->fline);
	if (!n)
		return yfail(y, y->fline, "out of memory");
	(*pp)++;
	for (;;) {
		struct node *v;
		*pp = fskip(y, *pp);
		if (**pp == close) { /* also after a trailing comma */
			(*pp)++;
			return n;
		}
		v = flow_value(y, pp, 1);
		if (!v)
			return NULL;
		*pp = fskip(y, *pp);
		if (**pp == ':' || is_map) {
			struct node *k = v;
			if (**pp != ':' || k->kind == NODE_SEQ || k->kind == NODE_MAP || !*k->str)
				return yfail(y, y->fline, "expected \"key: value\" in flow map");
			if (!k->quoted && strcmp(k->str, "<<") == 0)
				return yfail(y, y->fline, "merge keys (<<) are not supported");
			v = flow_pair_value(y, pp, close);
			if (!v)
				return NULL;
			v->key = k->str;
			if (!is_map) {
				struct node *m = tree_new(y->a, NODE_MAP, k->line);
				if (!m)
					return yfail(y, y->fline, "out of memory");
				tree_append(m, v);
				v = m;
			} else if (n->count >= TREE_MAX_MAP_KEYS) {
				return yfail(y, y->fline, "too many keys in one map (at most %d)", TREE_MAX_MAP_KEYS);
			} else if (tree_get(n, k->str)) {
				return yfail(y, y->fline, "duplicate key \"%s\"", k->str);
			}
			*pp = fskip(y, *pp);
		}
		tree_append(n, v);
		if (**pp == close) {
			(*pp)++;
			return n;
		}
		if (**pp != ',')
			return yfail(y, y->fline, **pp ? "expected ',' or '%c'" : "flow collection not closed (missing '%c')", close);
		(*pp)++;
	}
}

/* A value inside a flow collection (in_seq: it may turn out to be a key). */
static struct node *flow_value(struct yaml *y, char **pp, int in_seq)
{
	struct node *n;
	if (**pp == '&') {
		int line = y->fline;
		const char *name = anchor_name(y, line, pp);
		if (!name)
			return NULL;
		*pp = fskip(y, *pp);
		n = flow_value(y, pp, in_seq);
		return n && add_anchor(y, line, name, n) == 0 ? n : NULL;
	}
	if (**pp == '*')
		return alias(y, y->fline, pp);
	if (**pp == '!')
		return yfail(y, y->fline, "tags are not supported");
	if (**pp == '[' || **pp == '{')
		return flow_collection(y, pp);
	if (**pp == '"' || **pp == '\'') {
		char *s = quoted(y, y->fline, pp);
		return s ? scalar_node(y, y->fline, s, 1) : NULL;
	}
	return flow_plain(y, pp, in_seq);
}

/* How many flow collections s leaves open, starting from depth. */
static int flow_depth(const char *s, int depth)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\'') {
			const char *e = quote_end(s);
			if (!e)
				return depth;
			s = e;
		} else if (*s == '[' || *s == '{') {
			depth++;
		} else if (*s == ']' || *s == '}') {
			depth--;
		}
	}
	return depth;
}

/* A flow collection opened at s on line `line` and closed on a later line:
 * the following source lines, comments cut, joined with their line breaks
 * (blank lines included, so y->fline stays right). Takes those lines. */
static char *flow_text(struct yaml *y, int line, char *s)
{
	int depth = flow_depth(s, 0), k;
	size_t len = strlen(s) + 1, off;
	char *out;
	if (depth <= 0)
		return s;
	for (k = line; k < y->nraw && depth > 0; k++) {
		char *c = arena_strdup(y->a, y->raw[k]);
		if (!c)
			return yfail(y, line, "out of memory");
		cut_comment(c);
		rtrim(c);
		y->raw[k] = c; /* block scalars never start inside a flow */
		depth = flow_depth(c, depth);
		len += strlen(c) + 1;
	}
	if (depth > 0)
		return yfail(y, line, "flow collection not closed at end of file");
	out = arena_alloc(y->a, len);
	if (!out)
		return yfail(y, line, "out of memory");
	off = strlen(s);
	memcpy(out, s, off);
	for (int j = line; j < k; j++) {
		size_t n = strlen(y->raw[j]);
		out[off++] = '\n';
		memcpy(out + off, y->raw[j], n);
		off += n;
	}
	out[off] = '\0';
	while (y->i < y->n && y->lines[y->i].lineno <= k)
		y->i++;
	return out;
}

/* A block scalar after a key or "-" at `indent` (yaml_scalar.c reads
 * it); takes the lines it spans. */
static struct node *block_scalar(struct yaml *y, int indent, int line, const char *h)
{
	char *text;
	int last;
	switch (yaml_block_scalar(y->a, y->raw, y->nraw, indent, line, h, &text, &last)) {
	case 0:
		break;
	case -1:
		return yfail(y, line, "bad block scalar header");
	case -2:
		return yfail(y, line, "unexpected text after block scalar header");
	default:
		return yfail(y, line, "out of memory");
	}
	while (y->i < y->n && y->lines[y->i].lineno <= last)
		y->i++;
	return scalar_node(y, line, text, 1);
}

/* A value written after "key:" or "- " on the same line; indent is the
 * key's or the dash's column (where a block scalar's body must be deeper). */
static struct node *inline_value(struct yaml *y, int indent, int line, char *s)
{
	struct node *n;
	char *p;
	if (*s == '|' || *s == '>')
		return block_scalar(y, indent, line, s);
	if (*s == '*') {
		p = s;
		n = alias(y, line, &p);
		if (n && *skip_blanks(p))
			return yfail(y, line, "unexpected text after alias: \"%s\"", skip_blanks(p));
		return n;
	}
	if (*s == '!')
		return yfail(y, line, "tags are not supported");
	if (*s == '[' || *s == '{' || *s == '"' || *s == '\'') {
		p = *s == '[' || *s == '{' ? flow_text(y, line, s) : s;
		if (!p)
			return NULL;
		y->fline = line;
		n = flow_value(y, &p, 0);
		if (n && *fskip(y, p))
			return yfail(y, y->fline, "unexpected text after value: \"%s\"", skip_blanks(p));
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

/* What follows "key:" (rest, maybe empty, maybe "&anchor" first). */
static struct node *value(struct yaml *y, int indent, int line, char *rest)
{
	const char *anchor = NULL;
	struct node *v;
	if (*rest == '&') {
		if (!(anchor = anchor_name(y, line, &rest)))
			return NULL;
		rest = skip_blanks(rest);
	}
	v = *rest ? inline_value(y, indent, line, rest) : nested_value(y, indent, line);
	if (v && anchor && add_anchor(y, line, anchor, v) < 0)
		return NULL;
	return v;
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
		if (l->tab)
			return yfail(y, l->lineno, "tab in indentation");
		if (!*key)
			return yfail(y, l->lineno, "empty key");
		if (l->text[0] == '<' && strcmp(key, "<<") == 0)
			return yfail(y, l->lineno, "merge keys (<<) are not supported");
		if (map->count >= TREE_MAX_MAP_KEYS)
			return yfail(y, map->line, "too many keys in one map (at most %d)", TREE_MAX_MAP_KEYS);
		if (tree_get(map, key))
			return yfail(y, l->lineno, "duplicate key \"%s\"", key);
		y->i++;
		v = value(y, indent, l->lineno, rest);
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
		const char *anchor = NULL;
		struct node *v;
		if (l->tab)
			return yfail(y, l->lineno, "tab in indentation");
		if (*item == '&' && !(anchor = anchor_name(y, l->lineno, &item)))
			return NULL;
		item = skip_blanks(item);
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
			v = inline_value(y, indent, l->lineno, item);
		}
		if (!v || (anchor && add_anchor(y, l->lineno, anchor, v) < 0))
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

int yaml_parse(struct arena *a, const char *text, size_t len, struct node **root, struct buf *errors)
{
	struct yaml y;
	memset(&y, 0, sizeof(y));
	y.a = a;
	y.errors = errors;
	if (split_lines(&y, text, len) < 0) {
		if (!y.failed)
			buf_puts(errors, "1: out of memory");
		return -1;
	}
	if (y.n == 0) {
		*root = tree_new(a, NODE_MAP, 1);
		return *root ? 0 : -1;
	}
	if (y.lines[0].indent != 0 || y.lines[0].tab)
		return yfail(&y, y.lines[0].lineno, "unexpected indentation"), -1;
	if (strchr("[{\"'|>&*", y.lines[0].text[0]) && !key_colon(y.lines[0].text)) {
		y.i++;
		*root = value(&y, -1, y.lines[0].lineno, y.lines[0].text);
	} else {
		*root = block(&y, 0);
	}
	if (!*root)
		return -1;
	if (y.i < y.n)
		return yfail(&y, y.lines[y.i].lineno, "unexpected content at this indentation"), -1;
	return 0;
}
