/* regex: code generation from the parse tree and the matcher.
 *
 * The matcher is a Thompson set simulation (a Pike VM without capture
 * slots: hooks only ask whether a pattern matches). Per input rune each
 * program instruction is visited at most once, so a search costs at most
 * len(input) * len(program) steps whatever the pattern. The two thread
 * lists and the epsilon stack are sparse sets sized by the program and
 * allocated at compile time. */
#include "edgehook/buf.h"
#include "edgehook/regex.h"
#include "edgehook/regex_internal.h"

#include <stdlib.h>
#include <string.h>

enum re_op { OP_RUNE, OP_FOLD, OP_ANY, OP_ANYNL, OP_CLASS, OP_ASSERT, OP_SPLIT, OP_JMP, OP_MATCH };

struct re_inst {
	uint8_t op;
	uint8_t arg; /* OP_ASSERT: enum re_assert */
	uint32_t x;  /* rune, first range pair, jump/split target */
	uint32_t y;  /* range pair count, second split target */
};

struct threads {
	uint32_t *sparse, *dense;
	uint32_t n;
};

struct regex {
	struct re_inst *prog;
	uint32_t n;
	uint32_t *ranges;
	struct threads cur, next;
	uint32_t *stack;
	unsigned long steps;
};

struct gen {
	const struct re_tree *t;
	struct re_inst *prog;
	uint32_t n;
	long budget; /* node visits left: an empty body repeated 1000^k times still costs */
	const char *err;
};

static int emit(struct gen *g, int op, uint32_t x, uint32_t y)
{
	if (g->n >= REGEX_MAX_INSTS) {
		g->err = "pattern too large";
		return -1;
	}
	g->prog[g->n].op = (uint8_t)op;
	g->prog[g->n].arg = 0;
	g->prog[g->n].x = x;
	g->prog[g->n].y = y;
	return (int)g->n++;
}

static int gen_node(struct gen *g, int idx);

/* Jumps still to be pointed at the end of a construct are chained
 * through their unset target field (index + 1; 0 ends the chain), so
 * code generation needs no stack arrays. */
static uint32_t *out_field(struct gen *g, int pc, int greedy)
{
	struct re_inst *in = &g->prog[pc];
	if (in->op == OP_JMP || greedy)
		return in->op == OP_JMP ? &in->x : &in->y;
	return &in->x;
}

static void patch_chain(struct gen *g, int head, int greedy)
{
	while (head > 0) {
		uint32_t *f = out_field(g, head - 1, greedy);
		head = (int)*f;
		*f = g->n;
	}
}

/* SPLIT body, out (out first for a lazy repeat: the order only ranks
 * threads, which a yes/no search does not need, but keeps Go's meaning). */
static int gen_split(struct gen *g, int greedy, int link)
{
	return emit(g, OP_SPLIT, greedy ? g->n + 1 : (uint32_t)link, greedy ? (uint32_t)link : g->n + 1);
}

static int gen_rep(struct gen *g, const struct re_node *nd)
{
	int i, split, chain = 0;
	for (i = 0; i < nd->min; i++)
		if (gen_node(g, nd->a) < 0)
			return -1;
	if (nd->max < 0) {
		if ((split = gen_split(g, nd->greedy, 0)) < 0 || gen_node(g, nd->a) < 0 ||
		    emit(g, OP_JMP, (uint32_t)split, 0) < 0)
			return -1;
		patch_chain(g, split + 1, nd->greedy);
		return 0;
	}
	/* x{n,m}: m-n optional copies, each able to skip to the end */
	for (i = nd->min; i < nd->max; i++) {
		if ((split = gen_split(g, nd->greedy, chain)) < 0 || gen_node(g, nd->a) < 0)
			return -1;
		chain = split + 1;
	}
	patch_chain(g, chain, nd->greedy);
	return 0;
}

static int gen_alt(struct gen *g, const struct re_node *nd)
{
	int child, split = -1, chain = 0;
	for (child = nd->a; child >= 0; child = g->t->nodes[child].next) {
		int last = g->t->nodes[child].next < 0;
		if (!last && (split = emit(g, OP_SPLIT, g->n + 1, 0)) < 0)
			return -1;
		if (gen_node(g, child) < 0)
			return -1;
		if (!last) {
			if ((chain = emit(g, OP_JMP, (uint32_t)chain, 0) + 1) <= 0)
				return -1;
			g->prog[split].y = g->n;
		}
	}
	patch_chain(g, chain, 1);
	return 0;
}

static int gen_node(struct gen *g, int idx)
{
	const struct re_node *nd = &g->t->nodes[idx];
	int child, k;
	if (--g->budget < 0) {
		g->err = "pattern too large";
		return -1;
	}
	switch (nd->kind) {
	case RN_EMPTY:
		return 0;
	case RN_LIT:
		return emit(g, nd->fold ? OP_FOLD : OP_RUNE, nd->rune, 0);
	case RN_ANY:
		return emit(g, OP_ANY, 0, 0);
	case RN_ANYNL:
		return emit(g, OP_ANYNL, 0, 0);
	case RN_CLASS:
		return emit(g, OP_CLASS, (uint32_t)nd->a, (uint32_t)nd->b);
	case RN_ASSERT:
		if ((k = emit(g, OP_ASSERT, 0, 0)) >= 0)
			g->prog[k].arg = nd->assert;
		return k;
	case RN_CAT:
		for (child = nd->a; child >= 0; child = g->t->nodes[child].next)
			if (gen_node(g, child) < 0)
				return -1;
		return 0;
	case RN_ALT:
		return gen_alt(g, nd);
	case RN_REP:
		return gen_rep(g, nd);
	}
	return -1;
}

static int threads_init(struct threads *t, uint32_t n)
{
	t->sparse = calloc(n, sizeof(*t->sparse));
	t->dense = calloc(n, sizeof(*t->dense));
	t->n = 0;
	return t->sparse && t->dense ? 0 : -1;
}

static void threads_free(struct threads *t)
{
	free(t->sparse);
	free(t->dense);
}

int regex_compile(struct regex **out, const char *pattern, struct buf *errors)
{
	struct re_tree t;
	struct gen g;
	struct regex *re = NULL;
	*out = NULL;
	memset(&g, 0, sizeof(g));
	if (re_parse(&t, pattern, errors) < 0)
		goto fail;
	g.t = &t;
	g.budget = 4L * REGEX_MAX_INSTS;
	if (!(g.prog = malloc(REGEX_MAX_INSTS * sizeof(*g.prog)))) {
		g.err = "out of memory";
		goto fail;
	}
	if (gen_node(&g, t.root) < 0 || emit(&g, OP_MATCH, 0, 0) < 0)
		goto fail;
	if (!(re = calloc(1, sizeof(*re)))) {
		g.err = "out of memory";
		goto fail;
	}
	re->n = g.n;
	re->prog = realloc(g.prog, g.n * sizeof(*g.prog));
	if (re->prog)
		g.prog = NULL;
	re->ranges = t.ranges;
	t.ranges = NULL;
	if (!re->prog || threads_init(&re->cur, re->n) < 0 || threads_init(&re->next, re->n) < 0 ||
	    !(re->stack = calloc(re->n, sizeof(*re->stack)))) {
		g.err = "out of memory";
		goto fail;
	}
	re_tree_free(&t);
	*out = re;
	return 0;
fail:
	if (g.err)
		buf_puts(errors, g.err);
	free(g.prog);
	re_tree_free(&t);
	regex_free(re);
	return -1;
}

static int has(const struct threads *t, uint32_t pc)
{
	return t->sparse[pc] < t->n && t->dense[t->sparse[pc]] == pc;
}

static int is_word(long r)
{
	return (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || r == '_';
}

/* prev and next are the runes around the position, -1 at the ends. */
static int assert_holds(int kind, long prev, long next)
{
	switch (kind) {
	case RA_BOT: return prev < 0;
	case RA_EOT: return next < 0;
	case RA_BOL: return prev < 0 || prev == '\n';
	case RA_EOL: return next < 0 || next == '\n';
	case RA_WORD: return is_word(prev) != is_word(next);
	case RA_NOTWORD: return is_word(prev) == is_word(next);
	}
	return 0;
}

/* Adds pc and everything reachable from it without input; 1 when that
 * reaches MATCH. Each pc enters the list (and the stack) at most once. */
static int add_thread(struct regex *re, struct threads *l, uint32_t pc, long prev, long next)
{
	uint32_t sp = 0;
	if (has(l, pc))
		return 0;
	l->sparse[pc] = l->n;
	l->dense[l->n++] = pc;
	re->stack[sp++] = pc;
	while (sp > 0) {
		const struct re_inst *in = &re->prog[re->stack[--sp]];
		uint32_t to[2];
		int nto = 0, i;
		re->steps++;
		switch (in->op) {
		case OP_MATCH: return 1;
		case OP_JMP: to[nto++] = in->x; break;
		case OP_SPLIT: to[nto++] = in->y; to[nto++] = in->x; break;
		case OP_ASSERT:
			if (assert_holds(in->arg, prev, next))
				to[nto++] = (uint32_t)(in - re->prog) + 1;
			break;
		default: break;
		}
		for (i = 0; i < nto; i++) {
			if (has(l, to[i]))
				continue;
			l->sparse[to[i]] = l->n;
			l->dense[l->n++] = to[i];
			re->stack[sp++] = to[i];
		}
	}
	return 0;
}

static int in_class(const struct regex *re, const struct re_inst *in, uint32_t r)
{
	const uint32_t *p = re->ranges + 2 * in->x;
	uint32_t lo = 0, hi = in->y;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (r < p[2 * mid])
			hi = mid;
		else if (r > p[2 * mid + 1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

static int consumes(const struct regex *re, const struct re_inst *in, uint32_t r)
{
	switch (in->op) {
	case OP_RUNE: return r == in->x;
	case OP_FOLD: return r == in->x || (r >= 'A' && r <= 'Z' && (r | 0x20) == in->x);
	case OP_ANY: return r != '\n';
	case OP_ANYNL: return 1;
	case OP_CLASS: return in_class(re, in, r);
	default: return 0;
	}
}

static long rune_at(const char *s, size_t len, size_t pos, int *w)
{
	*w = 0;
	if (pos >= len)
		return -1;
	return (long)re_decode((const unsigned char *)s + pos, len - pos, w);
}

int regex_search(struct regex *re, const char *s, size_t len)
{
	struct threads *cur = &re->cur, *next = &re->next, *tmp;
	size_t pos = 0;
	long prev = -1, r;
	int w, w2;
	re->steps = 0;
	cur->n = 0;
	r = rune_at(s, len, 0, &w);
	for (;;) {
		uint32_t i;
		long after;
		/* unanchored: a new thread starts at every position */
		if (add_thread(re, cur, 0, prev, r))
			return 1;
		if (r < 0)
			return 0;
		after = rune_at(s, len, pos + (size_t)w, &w2);
		next->n = 0;
		for (i = 0; i < cur->n; i++) {
			uint32_t pc = cur->dense[i];
			re->steps++;
			if (consumes(re, &re->prog[pc], (uint32_t)r) && add_thread(re, next, pc + 1, r, after))
				return 1;
		}
		tmp = cur, cur = next, next = tmp;
		pos += (size_t)w;
		prev = r, r = after, w = w2;
	}
}

unsigned long regex_last_steps(const struct regex *re)
{
	return re->steps;
}

size_t regex_program_size(const struct regex *re)
{
	return re->n;
}

void regex_free(struct regex *re)
{
	if (!re)
		return;
	free(re->prog);
	free(re->ranges);
	threads_free(&re->cur);
	threads_free(&re->next);
	free(re->stack);
	free(re);
}
