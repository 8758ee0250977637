/* dedupe: the window, ids counted in full, crafted ids. */
#include "unit.h"

#include "edgehook/dedupe.h"
#include "edgehook/rand.h"

#include <stdint.h>
#include <stdlib.h>

TEST(dedupe_window)
{
	struct dedupe *d = dedupe_new(3);
	char id[16];
	int i;
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 0); /* looking records nothing */
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 1);
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 1);
	CHECK_EQ_INT(dedupe_check(d, "u", "a", 1), 0); /* scoped per trigger */
	CHECK_EQ_INT(dedupe_check(d, "t", "b", 1), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", "c", 1), 0); /* evicts t/a */
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	dedupe_free(d);
	d = dedupe_new(1000);
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		CHECK_EQ_INT(dedupe_check(d, "t", id, strlen(id)), 0);
	}
	for (i = 4000; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		CHECK_EQ_INT(dedupe_check(d, "t", id, strlen(id)), 1);
	}
	dedupe_free(d);
}

TEST(dedupe_off_with_zero_window)
{
	struct dedupe *d = dedupe_new(0);
	CHECK(d != NULL);
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 0);
	dedupe_free(d);
}

TEST(dedupe_long_ids_count_in_full)
{
	struct dedupe *d = dedupe_new(10);
	char a[600], b[600];
	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 1] = 'y';
	CHECK_EQ_INT(dedupe_check(d, "t", a, sizeof(a)), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", b, sizeof(b)), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", a, sizeof(a)), 1);
	CHECK_EQ_INT(dedupe_check(d, "t", b, sizeof(b)), 1);
	dedupe_free(d);
}

/* The attack on the old unkeyed key (FNV-1a-32 of scope, 0xff, id next to
 * djb2 of scope and id): blocks of "aa"/"b@" pairs keep djb2 equal, a
 * birthday search finds two blocks with equal FNV state, and chaining
 * such pairs (Joux) gives 2^k ids with one key. */
struct variant {
	uint32_t h, m;
};

static int variant_cmp(const void *x, const void *y)
{
	const struct variant *a = x, *b = y;
	return a->h < b->h ? -1 : a->h > b->h;
}

enum { PAIRS = 18, BLOCK = 2 * PAIRS, BLOCKS = 8 };

static void old_block(uint32_t m, char *out)
{
	int i;
	for (i = 0; i < PAIRS; i++)
		memcpy(out + 2 * i, (m >> i) & 1 ? "b@" : "aa", 2);
}

static uint32_t fnv_from(uint32_t a, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		a = (a ^ (unsigned char)s[i]) * 16777619u;
	return a;
}

/* Two blocks with equal FNV state from a; their state in *a. */
static int old_collision(uint32_t *a, char *x, char *y)
{
	size_t n = (size_t)1 << PAIRS, i;
	struct variant *v = malloc(n * sizeof(*v));
	char blk[BLOCK];
	int found = 0;
	if (!v)
		return -1;
	for (i = 0; i < n; i++) {
		old_block((uint32_t)i, blk);
		v[i].h = fnv_from(*a, blk, BLOCK);
		v[i].m = (uint32_t)i;
	}
	qsort(v, n, sizeof(*v), variant_cmp);
	for (i = 1; i < n && !found; i++)
		if (v[i].h == v[i - 1].h) {
			old_block(v[i - 1].m, x);
			old_block(v[i].m, y);
			*a = v[i].h;
			found = 1;
		}
	free(v);
	return found ? 0 : -1;
}

TEST(dedupe_crafted_ids_cost_a_probe_never_a_duplicate)
{
	char pairs[BLOCKS][2][BLOCK], id[BLOCKS * BLOCK];
	uint32_t a = fnv_from(2166136261u, "t", 1);
	struct dedupe *d = dedupe_new(100000), *r = dedupe_new(100000);
	uint64_t crafted, random;
	int i, k, n = 1 << BLOCKS, ok = 1;
	a = (a ^ 0xff) * 16777619u;
	for (k = 0; k < BLOCKS && ok; k++)
		ok = old_collision(&a, pairs[k][0], pairs[k][1]) == 0;
	CHECK(ok);
	for (i = 0; i < n; i++) {
		for (k = 0; k < BLOCKS; k++)
			memcpy(id + k * BLOCK, pairs[k][(i >> k) & 1], BLOCK);
		CHECK_EQ_INT(dedupe_check(d, "t", id, sizeof(id)), 0);
	}
	for (i = 0; i < n; i++) {
		rand_bytes(id, sizeof(id));
		CHECK_EQ_INT(dedupe_check(r, "t", id, sizeof(id)), 0);
	}
	crafted = dedupe_probes(d);
	random = dedupe_probes(r);
	CHECK(crafted < 2 * random);
	dedupe_free(d);
	dedupe_free(r);
}

int main(void)
{
	RUN(dedupe_window);
	RUN(dedupe_off_with_zero_window);
	RUN(dedupe_long_ids_count_in_full);
	RUN(dedupe_crafted_ids_cost_a_probe_never_a_duplicate);
	return unit_done();
}
