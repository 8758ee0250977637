/* stats_series: each endpoint's deliveries and failures per 10 s over
 * the last 10 minutes, for GET /api/v1/stats/series (the status page's
 * sparklines).
 *
 * A timer reads the endpoints' cumulative counters once per interval
 * into a fixed ring per endpoint; nothing on the delivery path changes.
 * Endpoints are matched by name, so a reload keeps their history; one a
 * reload removed is forgotten at the next tick. A counter that went
 * down (a new endpoint object) counts from zero. */
#ifndef EDGEHOOK_STATS_SERIES_H
#define EDGEHOOK_STATS_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/reactor.h"

struct buf;
struct dispatch;

enum { SERIES_INTERVAL_MS = 10000, SERIES_BUCKETS = 60, SERIES_KINDS = 3 };

struct series_ep {
	char *name;
	uint64_t base[SERIES_KINDS]; /* the counters at the last tick */
	uint32_t v[SERIES_BUCKETS][SERIES_KINDS];
	uint64_t seen; /* the tick that last found it configured */
};

struct stats_series {
	struct reactor *r;
	const struct dispatch *d;
	struct timer tick;
	struct series_ep *eps;
	size_t n, cap;
	size_t head;        /* the bucket in progress */
	uint64_t ticks;
	uint64_t untracked; /* endpoints the last tick could not track (no memory) */
};

void stats_series_start(struct stats_series *s, struct reactor *r, const struct dispatch *d);
void stats_series_stop(struct stats_series *s);
/* {"interval_seconds":10,"buckets":60,"endpoints":[{"name":..,"delivered":[..],
 * "failed":[..],"retried":[..]}]}: oldest first, the last value is the
 * interval in progress. */
void stats_series_json(const struct stats_series *s, struct buf *out);

#endif
