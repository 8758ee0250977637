/* regex internals shared by the parser (regex_parse.c) and the code
 * generator + matcher (regex.c). Not part of the module contract. */
#ifndef EDGEHOOK_REGEX_INTERNAL_H
#define EDGEHOOK_REGEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

enum re_kind { RN_EMPTY, RN_LIT, RN_ANY, RN_ANYNL, RN_CLASS, RN_ASSERT, RN_CAT, RN_ALT, RN_REP };
enum re_assert { RA_BOT, RA_EOT, RA_BOL, RA_EOL, RA_WORD, RA_NOTWORD };

/* Sequences (RN_CAT) and alternations (RN_ALT) keep their children in a
 * list (first child in a, siblings through next) so that code generation
 * recurses only as deep as the groups nest, not as long as the pattern. */
struct re_node {
	uint8_t kind;
	uint8_t fold;   /* RN_LIT under (?i): rune is lower case */
	uint8_t greedy; /* RN_REP */
	uint8_t assert; /* RN_ASSERT: enum re_assert */
	int a;          /* first child; RN_CLASS: first range pair */
	int b;          /* RN_CLASS: range pair count */
	int next;       /* next sibling or -1 */
	int min, max;   /* RN_REP; max -1 = unbounded */
	uint32_t rune;
};

struct re_tree {
	struct re_node *nodes;
	int nnodes, cap;
	uint32_t *ranges; /* lo,hi pairs, sorted and merged per class */
	size_t nranges, rcap;
	int root;
};

struct buf;

/* Parses pattern into t (which the caller frees with re_tree_free);
 * 0, or -1 with the first failure's message appended to errors. */
int re_parse(struct re_tree *t, const char *pattern, struct buf *errors);
void re_tree_free(struct re_tree *t);
/* Decodes one UTF-8 rune from s (n > 0 bytes left); sets *w to its
 * width. Invalid sequences give U+FFFD with width 1. */
uint32_t re_decode(const unsigned char *s, size_t n, int *w);

#endif
