#include "edgehook/dedupe.h"
#include "edgehook/rand.h"

#include <bearssl.h>
#include <stdlib.h>
#include <string.h>

enum { DIGEST = 32 };

typedef uint8_t digest_t[DIGEST];

struct dedupe {
	size_t window, nslots, head, count;
	br_hmac_key_context key;
	digest_t *ring;  /* insertion order, for eviction */
	uint32_t *slots; /* ring index + 1 (0: empty), linear probing, >= 2x window */
	uint64_t probes;
};

static void digest_of(const struct dedupe *d, const char *scope, const char *id, size_t len, digest_t out)
{
	br_hmac_context ctx;
	br_hmac_init(&ctx, &d->key, 0);
	/* scope is a trigger id: no NUL inside, so the split is unambiguous */
	br_hmac_update(&ctx, scope, strlen(scope) + 1);
	br_hmac_update(&ctx, id, len);
	br_hmac_out(&ctx, out);
}

static size_t home(const struct dedupe *d, const digest_t dg)
{
	uint64_t h;
	memcpy(&h, dg, sizeof(h));
	return (size_t)h & (d->nslots - 1);
}

/* key: NULL draws a fresh one; else the new table keeps that key (a
 * resize must find the digests it carries over). */
static struct dedupe *make(size_t window, const br_hmac_key_context *key)
{
	struct dedupe *d = calloc(1, sizeof(*d));
	uint8_t fresh[DIGEST];
	if (!d)
		return NULL;
	d->window = window;
	if (window == 0)
		return d;
	if (key) {
		d->key = *key;
	} else {
		rand_bytes(fresh, sizeof(fresh));
		br_hmac_key_init(&d->key, &br_sha256_vtable, fresh, sizeof(fresh));
	}
	d->nslots = 16;
	while (d->nslots < d->window * 2)
		d->nslots *= 2;
	d->ring = calloc(d->window, sizeof(digest_t));
	d->slots = calloc(d->nslots, sizeof(uint32_t));
	if (!d->ring || !d->slots) {
		dedupe_free(d);
		return NULL;
	}
	return d;
}

struct dedupe *dedupe_new(size_t window) { return make(window, NULL); }

void dedupe_free(struct dedupe *d)
{
	if (!d)
		return;
	free(d->ring);
	free(d->slots);
	free(d);
}

uint64_t dedupe_probes(const struct dedupe *d) { return d->probes; }

/* The slot holding dg, or the empty slot where it would go. */
static size_t find(struct dedupe *d, const digest_t dg)
{
	size_t i = home(d, dg);
	d->probes++;
	while (d->slots[i] && memcmp(d->ring[d->slots[i] - 1], dg, DIGEST) != 0) {
		i = (i + 1) & (d->nslots - 1);
		d->probes++;
	}
	return i;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void erase(struct dedupe *d, size_t i)
{
	size_t j = i;
	for (;;) {
		size_t h;
		j = (j + 1) & (d->nslots - 1);
		if (!d->slots[j])
			break;
		h = home(d, d->ring[d->slots[j] - 1]);
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			d->slots[i] = d->slots[j];
			i = j;
		}
	}
	d->slots[i] = 0;
}

int dedupe_seen(struct dedupe *d, const char *scope, const char *id, size_t id_len)
{
	digest_t dg;
	if (d->window == 0)
		return 0;
	digest_of(d, scope, id, id_len, dg);
	return d->slots[find(d, dg)] != 0;
}

/* Records dg, not yet present (i: the empty slot find gave for it),
 * evicting the oldest when full. */
static void insert(struct dedupe *d, const digest_t dg, size_t i)
{
	if (d->count == d->window) {
		erase(d, find(d, d->ring[d->head]));
		d->count--;
		i = find(d, dg);
	}
	memcpy(d->ring[d->head], dg, DIGEST);
	d->slots[i] = (uint32_t)d->head + 1;
	d->head = (d->head + 1) % d->window;
	d->count++;
}

int dedupe_check(struct dedupe *d, const char *scope, const char *id, size_t id_len)
{
	digest_t dg;
	size_t i;
	if (d->window == 0)
		return 0;
	digest_of(d, scope, id, id_len, dg);
	i = find(d, dg);
	if (d->slots[i])
		return 1;
	insert(d, dg, i);
	return 0;
}

struct dedupe *dedupe_resized(const struct dedupe *old, size_t window)
{
	struct dedupe *d = make(window, old->window ? &old->key : NULL);
	size_t k;
	if (!d || window == 0)
		return d;
	/* oldest first, so the newest ids are the ones a smaller window keeps */
	for (k = 0; k < old->count; k++) {
		const uint8_t *dg = old->ring[(old->head + old->window - old->count + k) % old->window];
		insert(d, dg, find(d, dg));
	}
	return d;
}
