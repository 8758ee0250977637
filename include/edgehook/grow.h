/* grow: room for one more element in a realloc'd array.
 *
 * array_grow(&p, &cap, n, size, first) makes p hold at least n + 1
 * elements of size bytes: nothing happens while n < cap; otherwise cap
 * doubles (first when 0) and p is reallocated. 0; -1 when out of memory
 * or when the new size would overflow size_t: p and cap are unchanged. */
#ifndef EDGEHOOK_GROW_H
#define EDGEHOOK_GROW_H

#include <stddef.h>

int array_grow(void **p, size_t *cap, size_t n, size_t size, size_t first);

#endif
