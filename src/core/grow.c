#include "edgehook/grow.h"

#include <stdint.h>
#include <stdlib.h>

int array_grow(void **p, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t ncap;
	void *g;
	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : first;
	if (ncap <= n || ncap > SIZE_MAX / 2 / size || !(g = realloc(*p, ncap * size)))
		return -1;
	*p = g;
	*cap = ncap;
	return 0;
}
