#include "edgehook/history.h"

#include <stdlib.h>

int history_init(struct history *h, size_t cap)
{
	h->cap = cap ? cap : 1;
	h->head = h->len = 0;
	h->items = calloc(h->cap, sizeof(*h->items));
	return h->items ? 0 : -1;
}

void history_free(struct history *h, void (*drop)(void *item))
{
	size_t i;
	for (i = 0; drop && i < h->len; i++)
		drop(history_at(h, i));
	free(h->items);
	h->items = NULL;
	h->head = h->len = 0;
}

void *history_push(struct history *h, void *item)
{
	void *old = NULL;
	if (h->len == h->cap) {
		old = h->items[h->head];
		h->head = (h->head + 1) % h->cap;
		h->len--;
	}
	h->items[(h->head + h->len) % h->cap] = item;
	h->len++;
	return old;
}

size_t history_len(const struct history *h) { return h->len; }

void *history_at(const struct history *h, size_t i) { return h->items[(h->head + i) % h->cap]; }

void *history_find(const struct history *h, int (*is)(const void *item, const void *key), const void *key)
{
	size_t i;
	for (i = 0; i < h->len; i++)
		if (is(history_at(h, i), key))
			return history_at(h, i);
	return NULL;
}
