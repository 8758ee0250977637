/* tree: the document tree that YAML and JSON configs both become.
 *
 * Nodes live in the caller's arena. A map's children carry their key; a
 * sequence's children have key == NULL. Scalars keep their text and
 * whether they were quoted (a quoted "true" is a string, not a bool).
 * Every node records its 1-based source line for error messages.
 *
 * tree_from_json builds the tree from a JSON text; on error it appends
 * "LINE: message" to errors. The YAML reader (config/yaml.c) builds the
 * same tree; config.c's config_parse_tree chooses between the two. */
#ifndef EDGEHOOK_TREE_H
#define EDGEHOOK_TREE_H

#include <stddef.h>

#include "edgehook/arena.h"

enum node_kind { NODE_NULL, NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node {
	enum node_kind kind;
	int line;
	int quoted;
	const char *key;
	char *str; /* scalars: NUL-terminated text */
	size_t len;
	struct node *child, *last, *next;
	size_t count;
};

/* Duplicate keys are found by scanning a map, so its size is capped: a
 * config never comes near this, and a hostile document (a trigger PUT
 * body) cannot make loading quadratic in its size. */
enum { TREE_MAX_MAP_KEYS = 256 };

struct node *tree_new(struct arena *a, enum node_kind kind, int line);
void tree_append(struct node *parent, struct node *child);
struct node *tree_get(const struct node *map, const char *key);

/* Renders a subtree as JSON: plain scalars that read as JSON numbers or
 * true/false stay unquoted, everything else becomes a string. */
struct buf;
int tree_to_json(struct buf *b, const struct node *n);

int tree_from_json(struct arena *a, const char *text, size_t len, struct node **root, struct buf *errors);

#endif
