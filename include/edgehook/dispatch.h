/* dispatch: fans events out to the endpoints whose patterns match and
 * delivers them, fire-and-forget, through the pooled HTTP client.
 *
 * dispatch_event never blocks: it copies the body, creates one delivery
 * per matching endpoint and returns. "stdout:" endpoints print the event
 * as one compact JSON line through a bounded non-blocking writer. The
 * queue is bounded twice (webhook.queue deliveries, webhook.max_queue_bytes
 * of bodies): an event that does not fit is refused whole (-1) so the
 * caller answers 503; nothing is dropped without a counter and a log line.
 *
 * Deliveries carry webhook-id (the event id, the same on every attempt),
 * webhook-timestamp and, with a secret, webhook-signature. 2xx is
 * success; network errors, 408, 429 and 5xx are retried up to `retries`
 * times after backoff*2^n +-20% (or Retry-After); anything else fails at
 * once. Every failed attempt is one log line.
 *
 * The last webhook.history events keep their per-endpoint status for
 * GET /api/v1/events/{id}; api.c and metrics.c render the status and
 * counters from dispatch_internal.h (src/relay/). */
#ifndef EDGEHOOK_DISPATCH_H
#define EDGEHOOK_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/client.h"

struct reactor;
struct config;
struct spool;
struct dispatch;
struct dispatch_test;
struct endpoint_rt;
struct url;

/* What deliveries go through: the HTTP client in the daemon (relay/app.c
 * wires it), a fake in the unit tests. send returns NULL when the
 * request cannot start; cb is then never called. */
struct dispatch_transport {
	void *ctx;
	struct http_client_op *(*send)(void *ctx, const struct http_client_request *req, http_client_cb cb, void *arg);
	void (*cancel)(void *ctx, struct http_client_op *op);
	/* connections to the origin of u; -1 when out of memory */
	int (*limit)(void *ctx, const struct url *u, unsigned max_in_flight);
};

/* history: how many events keep their status for the API. Endpoints
 * come with the first dispatch_commit. */
struct dispatch *dispatch_new(struct reactor *r, const struct dispatch_transport *tp, size_t history);
void dispatch_free(struct dispatch *d);
/* A (re)load in two steps: dispatch_prepare builds the endpoints the
 * config names and returns NULL, with a log line, when that fails;
 * dispatch_commit installs them and cannot fail. Deliveries in flight
 * finish as they were. */
struct dispatch_stage {
	struct endpoint_rt **eps;
	size_t neps, queue_max, bytes_max;
};

struct dispatch_stage *dispatch_prepare(const struct config *cfg);
void dispatch_commit(struct dispatch *d, struct dispatch_stage *st);
void dispatch_stage_free(struct dispatch_stage *st);

/* Returns the number of matching endpoints, or -1 when the queue is full.
 * id (cap >= 32) receives the event id "evt_...". */
int dispatch_event(struct dispatch *d, const char *type, const char *body, size_t len, char *id, size_t cap);
/* Whether events of these types and total body size all fit now; when
 * not, the n events are counted as rejected. */
int dispatch_admit(struct dispatch *d, const char *const *types, size_t n, size_t bytes);
/* Why dispatch_admit said no: "delivery queue full" or "spool full ...". */
const char *dispatch_refusal(const struct dispatch *d);
/* Whether that refusal is for good: the events are more than the queue
 * or the spool can ever take at once (413, not 503). */
int dispatch_refusal_final(const struct dispatch *d);

/* dispatch_spool.c: with a spool, events with HTTP deliveries are
 * logged before they launch and their deliveries' outcomes after.
 * dispatch_spool_replay is the spool_open callback; dispatch_spool_resume
 * then starts (with their own ids) the deliveries the log still owes and
 * keeps logging to s. dispatch_spool_lsn: the last record appended, for
 * waiting on its commit. */
void dispatch_spool_replay(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n);
void dispatch_spool_resume(struct dispatch *d, struct spool *s);
/* Drops a replay that will not be resumed (the spool failed to open). */
void dispatch_spool_discard(struct dispatch *d);
uint64_t dispatch_spool_lsn(const struct dispatch *d);

/* dispatch_cluster.c: cluster mode. An event read from the shared
 * stream is delivered with its own id to every endpoint it matches,
 * outside the queue bounds (the reader asks dispatch_room first); once
 * all its HTTP deliveries are delivered or failed, settled(arg, its
 * stream id) is called (never for one dropped at shutdown). */
struct stream_event {
	const char *stream_id, *id, *type, *body;
	size_t len;
	uint64_t created_ms;
	const char *owed; /* from the retry set: the deliveries still owed (park's format); NULL: all */
	size_t owed_len;
};
struct dispatch_cluster_hooks {
	void (*settled)(void *arg, const char *stream_id, int retries);
	/* a delivery's state changed: meta is the event's "id","event",
	 * "created" members, json the delivery's status object */
	void (*status)(void *arg, const char *id, const char *endpoint, const char *meta, size_t mlen,
		       const char *json, size_t jlen);
	/* an endpoint's breaker opened here for ms */
	void (*breaker)(void *arg, const char *endpoint, uint64_t ms);
	/* every unfinished delivery of an event waits for a retry, the first
	 * due at due_ms (wall): owed lists "ENDPOINT\tATTEMPTS\n" of each;
	 * the event leaves this instance (retries: it came from the set) */
	void (*park)(void *arg, const char *stream_id, int retries, uint64_t due_ms, const char *owed, size_t len);
	void *arg;
};
/* Retries shorter than this stay with the instance. */
enum { DISPATCH_PARK_MIN_MS = 2000 };
/* Another instance opened endpoint name's breaker for ms more: ours opens
 * too (when it has one and it is closed). */
void dispatch_breaker_shared(struct dispatch *d, const char *name, uint64_t ms);
/* The endpoints that have a breaker, up to max (valid until a reload). */
size_t dispatch_breaker_names(const struct dispatch *d, const char **names, size_t max);
/* hooks NULL: detached. */
void dispatch_cluster_attach(struct dispatch *d, const struct dispatch_cluster_hooks *hooks);
/* 1 started with HTTP deliveries (settled follows), 0 nothing to settle
 * for (no HTTP endpoint matches), -1 out of memory. */
int dispatch_stream_event(struct dispatch *d, const struct stream_event *se);
/* Endpoints an event type matches (the "endpoints" of an ingest answer). */
size_t dispatch_matching(const struct dispatch *d, const char *type);
/* Deliveries the queue still has room for. */
size_t dispatch_room(const struct dispatch *d);
/* Whether the stream entry is being delivered here; up to max stream ids
 * of unfinished events (retries: taken from the retry set, or not) into
 * ids, after the first skip (valid until the loop runs on). */
int dispatch_holds(const struct dispatch *d, const char *stream_id);
size_t dispatch_held(const struct dispatch *d, int retries, size_t skip, const char **ids, size_t max);

/* dispatch_test.c: sends a webhook.test event to one endpoint (one
 * attempt, no retries) and calls cb, from the loop, with a JSON outcome
 * (json NULL when it could not be rendered). NULL when there is no such
 * endpoint. */
struct dispatch_test *dispatch_test(struct dispatch *d, const char *endpoint,
				    void (*cb)(void *arg, const char *json, size_t len), void *arg);
void dispatch_test_cancel(struct dispatch_test *t);

/* Deliveries not finished yet (queued, in flight or waiting to retry). */
/* dispatch_replay.c: sends the event id of the status history again (same
 * id) to endpoint, or to every enabled endpoint it matches when NULL.
 * Returns the deliveries started, -1 nothing to replay (*why), -2 the
 * queue is full. */
int dispatch_replay(struct dispatch *d, const char *id, const char *endpoint, const char **why);

/* Replays every event of the status history whose delivery to endpoint
 * failed at or after since_ms (wall); the count, -1 unknown endpoint, -2
 * the queue filled up (some may have been replayed). */
int dispatch_recover(struct dispatch *d, const char *endpoint, uint64_t since_ms);

/* Enables the endpoint a 410 Gone disabled; NULL: no such endpoint. */
const struct endpoint_rt *dispatch_enable(struct dispatch *d, const char *name);

size_t dispatch_pending(const struct dispatch *d);
/* Calls on_idle once nothing is pending (at once if already so). */
void dispatch_drain(struct dispatch *d, void (*on_idle)(void *arg), void *arg);
/* Gives up on what is still pending: counted as dropped, logged. */
void dispatch_abandon(struct dispatch *d);
/* dispatch_stdout.c: writes what the stdout sink still holds, without
 * waiting (for shutdown). */
void dispatch_flush(struct dispatch *d);

#endif
