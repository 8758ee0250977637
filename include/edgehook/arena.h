/* arena: bump allocator for data that lives and dies together (one loaded
 * configuration). arena_free releases everything at once. Allocation
 * failure returns NULL; callers report it as an error. */
#ifndef EDGEHOOK_ARENA_H
#define EDGEHOOK_ARENA_H

#include <stddef.h>

struct arena_block;
struct arena {
	struct arena_block *head;
};

void arena_init(struct arena *a);
void arena_free(struct arena *a);
void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);

#endif
