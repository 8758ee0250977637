#include "edgehook/dedupe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Entries are 64-bit keys: FNV-1a of scope and id with a second
 * independent hash in the high half, so collisions need ~2^32 ids in the
 * window. Key 0 marks an empty slot. */
struct dedupe {
	size_t window, nslots, head, count;
	uint64_t *ring;  /* insertion order, for eviction */
	uint64_t *slots; /* hash set, linear probing, 2x window */
};

static uint64_t key_of(const char *scope, const char *id, size_t len)
{
	uint32_t a = 2166136261u, b = 5381;
	size_t i;
	for (i = 0; scope[i]; i++) {
		a = (a ^ (unsigned char)scope[i]) * 16777619u;
		b = b * 33 + (unsigned char)scope[i];
	}
	a = (a ^ 0xff) * 16777619u;
	for (i = 0; i < len; i++) {
		a = (a ^ (unsigned char)id[i]) * 16777619u;
		b = b * 33 + (unsigned char)id[i];
	}
	return ((uint64_t)b << 32 | a) | 1; /* never 0 */
}

struct dedupe *dedupe_new(size_t window)
{
	struct dedupe *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->window = window ? window : 1;
	d->nslots = 16;
	while (d->nslots < d->window * 2)
		d->nslots *= 2;
	d->ring = calloc(d->window, sizeof(uint64_t));
	d->slots = calloc(d->nslots, sizeof(uint64_t));
	if (!d->ring || !d->slots) {
		dedupe_free(d);
		return NULL;
	}
	return d;
}

void dedupe_free(struct dedupe *d)
{
	if (!d)
		return;
	free(d->ring);
	free(d->slots);
	free(d);
}

static size_t find(const struct dedupe *d, uint64_t key)
{
	size_t i = (size_t)(key ^ (key >> 29)) & (d->nslots - 1);
	while (d->slots[i] && d->slots[i] != key)
		i = (i + 1) & (d->nslots - 1);
	return i;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void erase(struct dedupe *d, uint64_t key)
{
	size_t i = find(d, key), j = i;
	if (!d->slots[i])
		return;
	for (;;) {
		size_t home;
		j = (j + 1) & (d->nslots - 1);
		if (!d->slots[j])
			break;
		home = (size_t)(d->slots[j] ^ (d->slots[j] >> 29)) & (d->nslots - 1);
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i] = 0;
}

int dedupe_seen(const struct dedupe *d, const char *scope, const char *id, size_t id_len)
{
	return d->slots[find(d, key_of(scope, id, id_len))] != 0;
}

int dedupe_check(struct dedupe *d, const char *scope, const char *id, size_t id_len)
{
	uint64_t key = key_of(scope, id, id_len);
	size_t i = find(d, key);
	if (d->slots[i])
		return 1;
	if (d->count == d->window) {
		erase(d, d->ring[d->head]);
		d->count--;
		i = find(d, key);
	}
	d->slots[i] = key;
	d->ring[d->head] = key;
	d->head = (d->head + 1) % d->window;
	d->count++;
	return 0;
}
