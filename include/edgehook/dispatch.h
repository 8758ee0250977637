/* dispatch: fans events out to the endpoints whose patterns match.
 *
 * dispatch_event never blocks: each matching endpoint gets a delivery
 * record and the call returns. "stdout:" endpoints print the event as one
 * compact JSON line through a bounded non-blocking writer. A full queue
 * refuses the whole event (-1) so the caller can answer 503; nothing is
 * ever dropped without a counter and a log line. */
#ifndef EDGEHOOK_DISPATCH_H
#define EDGEHOOK_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"

struct reactor;
struct config;
struct dispatch;

struct endpoint_stats {
	uint64_t delivered, failed, retried, dropped;
};

struct dispatch *dispatch_new(struct reactor *r, const struct config *cfg);
void dispatch_free(struct dispatch *d);
/* Switches to a reloaded config (endpoint counters restart). */
int dispatch_reload(struct dispatch *d, const struct config *cfg);
/* Returns the number of matching endpoints, or -1 when the queue is full.
 * id (cap >= 32) receives the event id "evt_...". */
int dispatch_event(struct dispatch *d, const char *type, const char *body, size_t len, char *id, size_t cap);
/* Prometheus lines for endpoints and the queue. */
int dispatch_metrics(struct dispatch *d, struct buf *out);
/* Flushes what can be flushed at shutdown. */
void dispatch_flush(struct dispatch *d);

#endif
