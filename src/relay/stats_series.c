/* stats_series: the sparkline ring (see stats_series.h). */
#include "edgehook/stats_series.h"
#include "edgehook/grow.h"
#include "dispatch_internal.h"
#include "edgehook/buf.h"
#include "edgehook/endpoint.h"
#include "edgehook/json.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[SERIES_KINDS] = {"delivered", "failed", "retried"};

static void counters(const struct endpoint_rt *ep, uint64_t out[SERIES_KINDS])
{
	out[0] = ep->n.delivered;
	out[1] = ep->n.failed;
	out[2] = ep->n.retried;
}

static struct series_ep *find(const struct stats_series *s, const char *name)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->eps[i].name, name) == 0)
			return &s->eps[i];
	return NULL;
}

/* A new entry; NULL without memory. An endpoint object counts from zero
 * when it is made, and one not seen at the last tick was made since, so
 * all its counts belong to the bucket in progress: the base is zero. */
static struct series_ep *track(struct stats_series *s, const struct endpoint_rt *ep)
{
	struct series_ep *e;
	if (array_grow((void **)&s->eps, &s->cap, s->n, sizeof(*s->eps), 8) < 0)
		return NULL;
	e = &s->eps[s->n];
	memset(e, 0, sizeof(*e));
	if (!(e->name = strdup(ep->name)))
		return NULL;
	e->seen = s->ticks;
	s->n++;
	return e;
}

static uint32_t delta(uint64_t now, uint64_t base)
{
	uint64_t v = now >= base ? now - base : now;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Entries of endpoints the last reload removed. */
static void forget_removed(struct stats_series *s)
{
	size_t i = 0;
	while (i < s->n) {
		if (s->eps[i].seen == s->ticks) {
			i++;
			continue;
		}
		free(s->eps[i].name);
		memmove(&s->eps[i], &s->eps[i + 1], (s->n - i - 1) * sizeof(*s->eps));
		s->n--;
	}
}

/* Closes the bucket in progress of every configured endpoint and opens
 * the next one. */
static void on_tick(void *arg)
{
	struct stats_series *s = arg;
	size_t i, k, next = (s->head + 1) % SERIES_BUCKETS;
	uint64_t now[SERIES_KINDS];
	s->ticks++;
	s->untracked = 0;
	for (i = 0; i < s->d->neps; i++) {
		const struct endpoint_rt *ep = s->d->eps[i];
		struct series_ep *e = find(s, ep->name);
		if (!e) {
			if (!track(s, ep))
				s->untracked++;
			continue;
		}
		e->seen = s->ticks;
		counters(ep, now);
		for (k = 0; k < SERIES_KINDS; k++) {
			e->v[s->head][k] = delta(now[k], e->base[k]);
			e->base[k] = now[k];
		}
	}
	forget_removed(s);
	for (i = 0; i < s->n; i++)
		memset(s->eps[i].v[next], 0, sizeof(s->eps[i].v[next]));
	s->head = next;
	timer_start(s->r, &s->tick, SERIES_INTERVAL_MS);
}

void stats_series_start(struct stats_series *s, struct reactor *r, const struct dispatch *d)
{
	size_t i;
	memset(s, 0, sizeof(*s));
	s->r = r;
	s->d = d;
	for (i = 0; i < d->neps; i++)
		if (!track(s, d->eps[i]))
			s->untracked++;
	timer_init(&s->tick, on_tick, s);
	timer_start(r, &s->tick, SERIES_INTERVAL_MS);
}

void stats_series_stop(struct stats_series *s)
{
	size_t i;
	if (!s->r)
		return;
	timer_stop(s->r, &s->tick);
	for (i = 0; i < s->n; i++)
		free(s->eps[i].name);
	free(s->eps);
	s->eps = NULL;
	s->n = s->cap = 0;
	s->r = NULL;
}

/* One kind's values of ep, oldest first; the bucket in progress last,
 * counted from the live counters. e is NULL until ep is tracked. */
static void put_values(struct buf *out, const struct stats_series *s, const struct series_ep *e, size_t k,
		       const struct endpoint_rt *ep)
{
	static const uint64_t zero[SERIES_KINDS];
	uint64_t now[SERIES_KINDS];
	size_t j;
	buf_printf(out, ",\"%s\":[", kind_names[k]);
	for (j = 1; j < SERIES_BUCKETS; j++)
		buf_printf(out, "%u,", e ? (unsigned)e->v[(s->head + j) % SERIES_BUCKETS][k] : 0u);
	counters(ep, now);
	buf_printf(out, "%u]", (unsigned)delta(now[k], e ? e->base[k] : zero[k]));
}

void stats_series_json(const struct stats_series *s, struct buf *out)
{
	size_t i, k;
	buf_printf(out, "{\"interval_seconds\":%d,\"buckets\":%d,\"untracked\":%llu,\"endpoints\":[",
		   SERIES_INTERVAL_MS / 1000, SERIES_BUCKETS, (unsigned long long)s->untracked);
	for (i = 0; i < s->d->neps; i++) {
		const struct endpoint_rt *ep = s->d->eps[i];
		const struct series_ep *e = find(s, ep->name);
		buf_puts(out, i ? ",{" : "{");
		json_put_kv(out, 0, "name", ep->name);
		for (k = 0; k < SERIES_KINDS; k++)
			put_values(out, s, e, k, ep);
		buf_puts(out, "}");
	}
	buf_puts(out, "]}");
}
