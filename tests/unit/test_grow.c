/* grow: doubling from the first capacity, and a size that would overflow
 * leaves the array as it was. */
#include "unit.h"

#include "edgehook/grow.h"

#include <stdint.h>
#include <stdlib.h>

TEST(grows_by_doubling_from_first)
{
	int *v = NULL;
	size_t cap = 0, n;
	for (n = 0; n < 100; n++) {
		CHECK_EQ_INT(array_grow((void **)&v, &cap, n, sizeof(*v), 8), 0);
		v[n] = (int)n;
	}
	CHECK_EQ_INT(cap, 128);
	CHECK_EQ_INT(v[99], 99);
	CHECK_EQ_INT(array_grow((void **)&v, &cap, 100, sizeof(*v), 8), 0);
	CHECK_EQ_INT(cap, 128);
	free(v);
}

TEST(overflow_leaves_the_array_unchanged)
{
	char *v = malloc(4);
	size_t cap = SIZE_MAX / 2;
	CHECK_EQ_INT(array_grow((void **)&v, &cap, cap, 1, 8), -1);
	CHECK(cap == SIZE_MAX / 2);
	free(v);
}

int main(void)
{
	RUN(grows_by_doubling_from_first);
	RUN(overflow_leaves_the_array_unchanged);
	return unit_done();
}
