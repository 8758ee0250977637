/* history: the last `cap` records of one kind (events, runs), kept for
 * the status APIs, oldest first.
 *
 * It holds pointers and never frees a record itself: history_push hands
 * back the record it pushed out, and the owner frees it unless something
 * else still uses it (an event with unfinished deliveries, a run still
 * running). The array is allocated once, at history_init. */
#ifndef EDGEHOOK_HISTORY_H
#define EDGEHOOK_HISTORY_H

#include <stddef.h>

struct history {
	void **items;
	size_t cap, head, len;
};

/* cap >= 1; -1 when memory is short. */
int history_init(struct history *h, size_t cap);
/* Calls drop (when given) on every record still held, oldest first, and
 * releases the array. */
void history_free(struct history *h, void (*drop)(void *item));
/* Appends item; returns the oldest record when it had to make room for
 * it, else NULL. */
void *history_push(struct history *h, void *item);
size_t history_len(const struct history *h);
/* Record i, 0 being the oldest; i < history_len. */
void *history_at(const struct history *h, size_t i);
/* The first record for which is(record, key) holds, or NULL. */
void *history_find(const struct history *h, int (*is)(const void *item, const void *key), const void *key);

#endif
