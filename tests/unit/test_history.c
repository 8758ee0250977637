/* history: the ring that keeps the last records of events and runs for
 * the status APIs (issue 13 #5: one type for both). */
#include "unit.h"

#include "edgehook/history.h"

#include <stdint.h>

static size_t dropped;

static void drop(void *item)
{
	(void)item;
	dropped++;
}

static int is_key(const void *item, const void *key) { return *(const int *)item == *(const int *)key; }

TEST(history_keeps_the_last_cap_items_oldest_first)
{
	struct history h;
	int v[5] = {10, 11, 12, 13, 14}, k;
	CHECK_EQ_INT(history_init(&h, 3), 0);
	CHECK(history_push(&h, &v[0]) == NULL);
	CHECK(history_push(&h, &v[1]) == NULL);
	CHECK(history_push(&h, &v[2]) == NULL);
	CHECK_EQ_INT(history_len(&h), 3);
	/* full: the oldest comes back to its owner */
	CHECK(history_push(&h, &v[3]) == &v[0]);
	CHECK(history_push(&h, &v[4]) == &v[1]);
	CHECK_EQ_INT(history_len(&h), 3);
	CHECK(history_at(&h, 0) == &v[2]);
	CHECK(history_at(&h, 2) == &v[4]);
	k = 13;
	CHECK(history_find(&h, is_key, &k) == &v[3]);
	k = 10;
	CHECK(history_find(&h, is_key, &k) == NULL);
	dropped = 0;
	history_free(&h, drop);
	CHECK_EQ_INT(dropped, 3);
	CHECK_EQ_INT(history_len(&h), 0);
}

TEST(history_of_one)
{
	struct history h;
	int a = 1, b = 2;
	CHECK_EQ_INT(history_init(&h, 1), 0);
	CHECK(history_push(&h, &a) == NULL);
	CHECK(history_push(&h, &b) == &a);
	CHECK(history_at(&h, 0) == &b);
	history_free(&h, NULL);
}

int main(void)
{
	RUN(history_keeps_the_last_cap_items_oldest_first);
	RUN(history_of_one);
	return unit_done();
}
