/* dispatch_internal: the dispatcher's state, shared by its own files
 * (dispatch.c: queue, fan-out, retries; dispatch_stdout.c: the stdout
 * sink; dispatch_test.c: test deliveries) and read by the renderers of
 * its status (api.c) and counters (metrics.c). Only dispatch.c changes
 * the queue accounting; the others go through the functions below. */
#ifndef EDGEHOOK_DISPATCH_INTERNAL_H
#define EDGEHOOK_DISPATCH_INTERNAL_H

#include "edgehook/buf.h"
#include "edgehook/dispatch.h"
#include "edgehook/event.h"
#include "edgehook/history.h"
#include "edgehook/ostream.h"
#include "edgehook/reactor.h"
#include "edgehook/spool.h"

#include <stddef.h>
#include <stdint.h>

enum dlv_state { DLV_PENDING, DLV_IN_FLIGHT, DLV_RETRYING, DLV_DELIVERED, DLV_FAILED, DLV_DROPPED };
extern const char *const dispatch_state_names[];

struct event;

struct delivery {
	struct dispatch *d;
	struct event *ev;
	struct endpoint_rt *ep;
	enum dlv_state state;
	unsigned attempts;
	int last_status;
	char last_error[64];
	uint64_t first_ms, last_ms, next_ms, done_ms; /* wall clock */
	struct http_client_op *op;
	struct timer retry;    /* the next attempt */
	struct defer refused;  /* the report of a send that could not start */
	struct list wait_link; /* in its endpoint's breaker.waiting while parked */
	struct list order_link; /* in its ordered endpoint's queue until its turn */
	int order_head;        /* the ordered endpoint's delivery in progress */
	int no_retry;
	struct dispatch_test *test;
};

struct event {
	char id[EVENT_ID_LEN];
	char type[EVENT_TYPE_MAX];
	char *body;
	size_t len;
	uint64_t created_ms;
	unsigned unfinished, ndl;
	int in_ring;
	int spooled;        /* its SPOOL_EVENT is in the log; spool_seg is held */
	int body_kept;      /* finished, body held for replay (counted in kept_bytes) */
	uint64_t spool_seg;
	char stream_id[48]; /* cluster mode: its entry in the shared stream, "" otherwise */
	int from_retries;   /* cluster mode: taken from the shared retry set (a lease), not the group */
	struct spool_waiter commit; /* fsync: always: deliveries wait for it */
	struct list link; /* in the active list: events with unfinished deliveries */
	struct delivery dl[];
};

/* The stdout sink: one compact JSON line per event, never blocking. */
struct dispatch_stdout {
	struct ostream out;
	struct buf line;
};

struct dispatch {
	struct reactor *r;
	struct endpoint_rt **eps;
	size_t neps;
	struct dispatch_transport tp;
	struct dispatch_stdout out;
	size_t pending, pending_bytes, queue_max, bytes_max;
	size_t kept_bytes; /* bodies of finished events in the history, for replay */
	struct history done; /* the last webhook.history events, for their status */
	struct list active; /* struct event, with unfinished deliveries */
	uint64_t events_total, events_rejected, abandoned;
	int stopping; /* stop_all runs: ordered queues do not advance */
	void (*on_idle)(void *);
	void *idle_arg;
	struct spool *spool; /* NULL: memory only */
	uint64_t spool_lsn;  /* of the last record appended */
	struct dispatch_recovery *recovery; /* replayed, not resumed yet */
	struct dispatch_cluster_hooks cluster; /* cluster mode (dispatch_cluster.c) */
	const char *refusal; /* why dispatch_admit last said no */
	int refusal_final;   /* and that no retry can be admitted */
};

/* dispatch.c: an event with room for ndl deliveries (NULL: no memory),
 * a delivery of it to ep, and the start of all its deliveries. */
struct event *dispatch_event_new(const char *type, const char *body, size_t len, size_t ndl);
struct delivery *dispatch_add_delivery(struct dispatch *d, struct event *ev, struct endpoint_rt *ep);
/* A delivery recovered in its final state: not pending, not started. */
struct delivery *dispatch_add_settled(struct dispatch *d, struct event *ev, struct endpoint_rt *ep, enum dlv_state state);
void dispatch_launch(struct dispatch *d, struct event *ev);
/* Puts a recovered event whose deliveries are all settled in the status
 * history (its body kept within max_queue_bytes, like any finished one). */
void dispatch_restore(struct dispatch *d, struct event *ev);
/* Settles dl in its final state (delivered, failed, dropped). */
void dispatch_delivery_finish(struct delivery *dl, enum dlv_state state);
/* The event with this id in the status history, or NULL. */
const struct event *dispatch_find_event(const struct dispatch *d, const char *id);

/* Sends dl now, unless its endpoint's breaker parks it. */
void dispatch_attempt(struct delivery *dl);
/* Disables ep (410 Gone, disable_after): one log line with the reason;
 * its parked deliveries fail. */
void dispatch_disable(struct endpoint_rt *ep, const char *reason);
/* "250ms", "1.5s", "10s": how log lines say durations. */
void dispatch_duration_text(char *out, size_t cap, uint64_t ms);

/* dispatch_breaker.c: 1 when dl may be attempted now, else it is parked;
 * the outcome of an attempt (failure: 1 when the breaker is not closed
 * after it and a retry should park); parking; closing by hand. */
int dispatch_breaker_admit(struct delivery *dl);
int dispatch_breaker_failure(struct delivery *dl);
void dispatch_breaker_success(struct endpoint_rt *ep);
void dispatch_breaker_park(struct delivery *dl);
void dispatch_breaker_reset(struct endpoint_rt *ep);

/* dispatch_stdout.c */
void dispatch_stdout_init(struct dispatch_stdout *s, struct reactor *r);
void dispatch_stdout_close(struct dispatch_stdout *s);
/* Writes dl's event as one line and finishes dl (delivered or dropped). */
void dispatch_stdout_deliver(struct dispatch_stdout *s, struct delivery *dl);

/* dispatch_spool.c: logs ev before it launches (-1: not logged, the
 * spool is full), and dl's state after each failed attempt (attempts
 * so far, next attempt's time) and its final outcome. */
int dispatch_spool_event(struct dispatch *d, struct event *ev);
void dispatch_spool_state(struct dispatch *d, const struct delivery *dl);

/* dispatch_cluster.c: ev, taken from the shared stream, has no
 * unfinished delivery left; dl of such an event changed state (its
 * status is shared). */
void dispatch_cluster_finished(struct dispatch *d, const struct event *ev);
void dispatch_cluster_status(struct dispatch *d, const struct delivery *dl);
/* A delivery of ev now waits for a retry: when all of ev's unfinished
 * deliveries wait long enough, ev goes to the shared retry set. */
void dispatch_cluster_retry(struct dispatch *d, struct event *ev);
/* dispatch.c: ev's unfinished deliveries (all waiting for a retry) stop
 * here without an outcome: someone else owns them now. */
void dispatch_event_detach(struct dispatch *d, struct event *ev);

/* dispatch_status.c: "id","event","created" members; one delivery as an
 * object; the whole event (GET /api/v1/events/{id}). */
void dispatch_event_meta_json(const struct event *ev, struct buf *out);
void dispatch_delivery_json(const struct delivery *dl, struct buf *out);
void dispatch_event_json(const struct event *ev, struct buf *out);

/* dispatch_test.c: called when a test delivery is finished. */
void dispatch_test_report(struct delivery *dl);

#endif
