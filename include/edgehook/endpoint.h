/* endpoint: the runtime side of one configured endpoint.
 *
 * An endpoint_rt owns copies of everything a delivery needs (URL, headers,
 * secret, limits), so a reload can replace the config while deliveries
 * to the old endpoints finish. It is reference-counted: the dispatcher
 * holds one reference, each unfinished delivery another. */
#ifndef EDGEHOOK_ENDPOINT_H
#define EDGEHOOK_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"
#include "edgehook/list.h"
#include "edgehook/url.h"

struct endpoint_cfg;
struct config;

struct endpoint_counters {
	uint64_t delivered, failed, retried, dropped, attempts;
	uint64_t consecutive_failures;
	int last_status;
	char last_error[64];
};

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN };

/* The circuit breaker's state (dispatch_breaker.c); times are monotonic. */
struct endpoint_breaker {
	enum breaker_state state;
	uint64_t open_until_ms, cooldown_ms;
	uint64_t failing_since_ms; /* the first failure since the last success; 0: none */
	struct list waiting;       /* struct delivery parked while not closed */
};

struct endpoint_rt {
	unsigned refs;
	char *name;
	char *url_text;
	struct url url;
	char *headers; /* preformatted "Name: value\r\n" lines incl. Content-Type and User-Agent */
	char **events;
	size_t nevents;
	char **secrets; /* each signs every delivery: key rotation */
	size_t nsecrets;
	unsigned retries;
	uint64_t timeout_ms, backoff_ms, max_backoff_ms;
	unsigned max_in_flight;
	unsigned in_flight;
	unsigned breaker_failures; /* 0: no breaker */
	uint64_t breaker_cooldown_ms, disable_after_ms;
	int disabled; /* by a 410 Gone or disable_after until enabled through the API; kept across reloads */
	struct endpoint_breaker breaker;
	/* ordered: deliveries not started yet, in ingest order, behind the
	 * one in progress (order_busy) */
	int ordered, order_busy, order_popping;
	struct list order;
	struct endpoint_counters n;
};

struct endpoint_rt *endpoint_new(const struct endpoint_cfg *e, const struct config *cfg);
void endpoint_ref(struct endpoint_rt *ep);
void endpoint_unref(struct endpoint_rt *ep);
/* The wait before attempt number `attempt` (1 = first retry):
 * backoff * 2^(attempt-1), +-20% jitter, capped by max_backoff. */
uint64_t endpoint_backoff_ms(const struct endpoint_rt *ep, unsigned attempt);
/* 1 when ep takes events of this type: enabled and a pattern matches. */
int endpoint_matches(const struct endpoint_rt *ep, const char *type);
/* {"name":...,"url":...,counters...} */
int endpoint_json(struct buf *b, const struct endpoint_rt *ep);

#endif
