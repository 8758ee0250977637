/* guard: test inputs that end exactly at an unreadable page, as
 * picohttpparser's tests place theirs: a read one byte past what was fed
 * faults at once instead of passing by luck (or only under ASan).
 *
 *   struct guard g; guard_init(&g, max);
 *   p = guard_place(&g, bytes, n);   n bytes, p[n] is PROT_NONE
 *   p = guard_room(&g, n);           the same place, to fill yourself
 *
 * The bytes before the guard are writable (in-place decoders). One
 * placement at a time: the next one overwrites it. */
#ifndef EDGEHOOK_GUARD_H
#define EDGEHOOK_GUARD_H

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
	char *base;
	size_t cap, map_len;
};

static inline int guard_init(struct guard *g, size_t cap)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	g->cap = (cap + page - 1) / page * page;
	g->map_len = g->cap + page;
	g->base = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED) {
		g->base = NULL;
		return -1;
	}
	return mprotect(g->base + g->cap, page, PROT_NONE);
}

/* Room for n bytes ending at the guard; NULL when n is over the
 * capacity given to guard_init. */
static inline char *guard_room(struct guard *g, size_t n)
{
	return g->base && n <= g->cap ? g->base + g->cap - n : NULL;
}

static inline char *guard_place(struct guard *g, const void *src, size_t n)
{
	char *p = guard_room(g, n);
	if (p && n)
		memmove(p, src, n);
	return p;
}

static inline void guard_free(struct guard *g)
{
	if (g->base)
		munmap(g->base, g->map_len);
	g->base = NULL;
}

#endif
