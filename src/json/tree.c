#include "edgehook/tree.h"
#include "edgehook/buf.h"
#include "edgehook/json.h"

#include <stdio.h>
#include <string.h>

struct node *tree_new(struct arena *a, enum node_kind kind, int line)
{
	struct node *n = arena_alloc(a, sizeof(*n));
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = line;
	return n;
}

void tree_append(struct node *parent, struct node *child)
{
	if (parent->last)
		parent->last->next = child;
	else
		parent->child = child;
	parent->last = child;
	parent->count++;
}

struct node *tree_get(const struct node *map, const char *key)
{
	struct node *c;
	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (c = map->child; c; c = c->next)
		if (strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

static int is_json_primitive(const struct node *n)
{
	size_t off = 0;
	if (n->quoted)
		return 0;
	if (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0)
		return 1;
	return (n->str[0] == '-' || (n->str[0] >= '0' && n->str[0] <= '9')) &&
	       json_validate(n->str, n->len, 1, &off) == 0;
}

int tree_to_json(struct buf *b, const struct node *n)
{
	const struct node *c;
	int first = 1;
	switch (n->kind) {
	case NODE_NULL:
		return buf_puts(b, "null");
	case NODE_SCALAR:
		if (is_json_primitive(n))
			return buf_append(b, n->str, n->len);
		return json_put_string(b, n->str, n->len);
	case NODE_SEQ:
	case NODE_MAP:
		if (buf_puts(b, n->kind == NODE_MAP ? "{" : "[") < 0)
			return -1;
		for (c = n->child; c; c = c->next) {
			if (!first && buf_puts(b, ",") < 0)
				return -1;
			first = 0;
			if (n->kind == NODE_MAP && (json_put_cstr(b, c->key) < 0 || buf_puts(b, ":") < 0))
				return -1;
			if (tree_to_json(b, c) < 0)
				return -1;
		}
		return buf_puts(b, n->kind == NODE_MAP ? "}" : "]");
	}
	return -1;
}

/* ---- JSON into the tree ---- */

struct jbuild {
	struct arena *a;
	const struct json_doc *doc;
	const char *text;
	struct buf *errors;
	int line_off, line; /* tokens come in text order: count lines once */
};

static int line_at(struct jbuild *b, int off)
{
	for (; b->line_off < off; b->line_off++)
		if (b->text[b->line_off] == '\n')
			b->line++;
	return b->line;
}

static int line_of(const char *text, int off)
{
	struct jbuild b;
	b.text = text;
	b.line_off = 0;
	b.line = 1;
	return line_at(&b, off);
}

static char *tok_string(struct jbuild *b, int i)
{
	const struct json_tok *t = &b->doc->toks[i];
	size_t n = (size_t)(t->end - t->start);
	char *s = arena_alloc(b->a, n + 1);
	int len;
	if (!s)
		return NULL;
	len = t->type == JSON_STRING ? json_unescape(b->text + t->start, n, s) : (memcpy(s, b->text + t->start, n), (int)n);
	if (len < 0)
		return NULL;
	/* a C string would end at the NUL: "abc\u0000def" must not become "abc" */
	if (memchr(s, '\0', (size_t)len)) {
		buf_printf(b->errors, "%d: string holds a NUL (\\u0000)", line_at(b, t->start));
		return NULL;
	}
	s[len] = '\0';
	return s;
}

/* Builds the subtree at token *i and advances *i past it. */
static struct node *jnode(struct jbuild *b, int *i)
{
	const struct json_tok *t = &b->doc->toks[*i];
	int line = line_at(b, t->start), k;
	struct node *n;
	if (t->type == JSON_OBJECT || t->type == JSON_ARRAY) {
		n = tree_new(b->a, t->type == JSON_OBJECT ? NODE_MAP : NODE_SEQ, line);
		if (!n)
			return NULL;
		(*i)++;
		for (k = 0; k < t->size; k++) {
			char *key = NULL;
			struct node *c;
			if (n->kind == NODE_MAP) {
				if (n->count >= TREE_MAX_MAP_KEYS) {
					buf_printf(b->errors, "%d: too many keys in one map (at most %d)", line,
						   TREE_MAX_MAP_KEYS);
					return NULL;
				}
				key = tok_string(b, *i);
				if (!key)
					return NULL;
				if (tree_get(n, key)) {
					buf_printf(b->errors, "%d: duplicate key \"%.400s\"",
						   line_at(b, b->doc->toks[*i].start), key);
					return NULL;
				}
				(*i)++;
			}
			c = jnode(b, i);
			if (!c)
				return NULL;
			c->key = key;
			tree_append(n, c);
		}
		return n;
	}
	n = tree_new(b->a, NODE_SCALAR, line);
	if (!n)
		return NULL;
	if (t->type == JSON_PRIMITIVE && b->text[t->start] == 'n')
		n->kind = NODE_NULL;
	n->quoted = t->type == JSON_STRING;
	n->str = tok_string(b, *i);
	if (!n->str)
		return NULL;
	n->len = strlen(n->str);
	(*i)++;
	return n;
}

int tree_from_json(struct arena *a, const char *text, size_t len, struct node **root, struct buf *errors)
{
	struct json_doc doc;
	struct jbuild b = {a, &doc, text, errors, 0, 1};
	size_t off = 0, said = errors->len;
	int i = 0, rc;
	rc = json_validate(text, len, 64, &off);
	if (rc < 0) {
		buf_printf(errors, "%d: %s", line_of(text, (int)off), rc == -2 ? "duplicate key" : "invalid JSON");
		return -1;
	}
	if (json_parse(&doc, text, len, 64) < 0) {
		buf_puts(errors, "1: out of memory");
		return -1;
	}
	*root = jnode(&b, &i);
	json_doc_free(&doc);
	if (!*root) {
		if (errors->len == said)
			buf_puts(errors, "1: out of memory");
		return -1;
	}
	return 0;
}
