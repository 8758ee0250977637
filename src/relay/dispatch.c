/* dispatch: the queue, the fan-out of events to endpoints and the retry
 * engine (see dispatch.h). The stdout sink is dispatch_stdout.c, test
 * deliveries dispatch_test.c, the reload stage dispatch_stage.c; the
 * status JSON is rendered by api.c and the counters by metrics.c from
 * the state in dispatch_internal.h. */
#include "dispatch_internal.h"
#include "edgehook/client.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/sign.h"
#include "edgehook/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const dispatch_state_names[] = {"pending", "in_flight", "retrying", "delivered", "failed", "dropped"};

/* ---- events ---- */

static void event_maybe_free(struct event *ev)
{
	size_t i;
	if (ev->unfinished || ev->in_ring)
		return;
	if (ev->body_kept)
		ev->dl[0].d->kept_bytes -= ev->len;
	for (i = 0; i < ev->ndl; i++)
		endpoint_unref(ev->dl[i].ep);
	free(ev->body);
	free(ev);
}

/* The history lets go of an event: freed unless deliveries still run. */
static void history_drop(void *item)
{
	struct event *ev = item;
	ev->in_ring = 0;
	event_maybe_free(ev);
}

static void history_add(struct dispatch *d, struct event *ev)
{
	struct event *old = history_push(&d->done, ev);
	ev->in_ring = 1;
	if (old)
		history_drop(old);
}

/* ---- delivery outcomes ---- */

static void fail_disabled(struct delivery *dl);

/* A delivery resumed from the spool keeps its next attempt's time; a
 * wall clock set back meanwhile makes it wait max_backoff at most. */
static void attempt_or_wait(struct delivery *dl)
{
	uint64_t now = clock_wall_ms(), wait;
	if (dl->next_ms <= now) {
		dispatch_attempt(dl);
		return;
	}
	wait = dl->next_ms - now;
	if (wait > dl->ep->max_backoff_ms) {
		wait = dl->ep->max_backoff_ms;
		dl->next_ms = now + wait;
	}
	dl->state = DLV_RETRYING;
	timer_start(dl->d->r, &dl->retry, wait);
}

/* The ordered endpoint's head is settled: the next in line goes (or
 * fails at once when the endpoint is disabled meanwhile). A loop, not
 * recursion: a failing next one settles inside it. */
static void order_next(struct dispatch *d, struct endpoint_rt *ep)
{
	ep->order_busy = 0;
	if (ep->order_popping || d->stopping)
		return;
	ep->order_popping = 1;
	while (!ep->order_busy && !list_empty(&ep->order)) {
		struct delivery *dl = list_first(&ep->order, struct delivery, order_link);
		list_remove(&dl->order_link);
		ep->order_busy = 1;
		dl->order_head = 1;
		if (ep->disabled)
			fail_disabled(dl);
		else
			attempt_or_wait(dl);
	}
	ep->order_popping = 0;
}

/* Starts dl, or queues it behind its ordered endpoint's head. */
static void start(struct delivery *dl)
{
	struct endpoint_rt *ep = dl->ep;
	if (!ep->ordered || dl->test) {
		attempt_or_wait(dl);
	} else if (ep->order_busy || !list_empty(&ep->order)) {
		list_push_back(&ep->order, &dl->order_link);
	} else {
		ep->order_busy = 1;
		dl->order_head = 1;
		attempt_or_wait(dl);
	}
}

/* The status history keeps a finished event's body for replay while
 * the kept bodies fit in max_queue_bytes, else metadata only. */
static void keep_body(struct dispatch *d, struct event *ev)
{
	if (ev->body && d->kept_bytes + ev->len <= d->bytes_max) {
		d->kept_bytes += ev->len;
		ev->body_kept = 1;
	} else {
		free(ev->body);
		ev->body = NULL;
	}
}

/* ev has no unfinished delivery left here: it leaves the queue (the
 * status history may keep it). */
static void event_done(struct dispatch *d, struct event *ev)
{
	d->pending_bytes -= ev->len;
	list_remove(&ev->link);
	keep_body(d, ev);
	event_maybe_free(ev);
}

static void check_idle(struct dispatch *d)
{
	if (d->pending == 0 && d->on_idle) {
		void (*cb)(void *) = d->on_idle;
		d->on_idle = NULL;
		cb(d->idle_arg);
	}
}

void dispatch_event_detach(struct dispatch *d, struct event *ev)
{
	size_t i;
	for (i = 0; i < ev->ndl; i++)
		timer_stop(d->r, &ev->dl[i].retry);
	d->pending -= ev->unfinished;
	ev->unfinished = 0;
	event_done(d, ev);
	check_idle(d);
}

void dispatch_delivery_finish(struct delivery *dl, enum dlv_state state)
{
	struct dispatch *d = dl->d;
	struct event *ev = dl->ev;
	dl->state = state;
	dl->done_ms = clock_wall_ms();
	dl->next_ms = 0;
	if (dl->test)
		dispatch_test_report(dl);
	if (dl->ep->url.scheme == URL_STDOUT)
		return;
	if (dl->order_head) {
		dl->order_head = 0;
		order_next(d, dl->ep);
	}
	if (ev->spooled && state != DLV_DROPPED)
		dispatch_spool_state(d, dl);
	dispatch_cluster_status(d, dl);
	d->pending--;
	if (--ev->unfinished == 0) {
		if (ev->spooled) {
			spool_wait_cancel(d->spool, &ev->commit);
			spool_release(d->spool, ev->spool_seg);
		}
		if (ev->stream_id[0])
			dispatch_cluster_finished(d, ev);
		event_done(d, ev);
	}
	check_idle(d);
}

void dispatch_duration_text(char *out, size_t cap, uint64_t ms)
{
	if (ms < 1000)
		snprintf(out, cap, "%llums", (unsigned long long)ms);
	else if (ms % 1000 == 0)
		snprintf(out, cap, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, cap, "%llu.%llus", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
}

static void log_failure(const struct delivery *dl, uint64_t took_ms, const char *retry_in)
{
	char attempt[16], after[32];
	snprintf(attempt, sizeof(attempt), "%u", dl->attempts);
	dispatch_duration_text(after, sizeof(after), took_ms);
	if (retry_in)
		log_msg(LOG_WARN, "delivery failed", "endpoint", dl->ep->name, "url", dl->ep->url_text, "event",
			dl->ev->type, "id", dl->ev->id, "attempt", attempt, "err", dl->last_error, "after", after,
			"retry_in", retry_in, NULL);
	else
		log_msg(LOG_WARN, "delivery failed", "endpoint", dl->ep->name, "url", dl->ep->url_text, "event",
			dl->ev->type, "id", dl->ev->id, "attempt", attempt, "err", dl->last_error, "after", after, NULL);
}

static void on_attempt_done(void *arg, const struct http_client_result *res);

static void fail_disabled(struct delivery *dl)
{
	snprintf(dl->last_error, sizeof(dl->last_error), "endpoint disabled");
	dl->ep->n.failed++;
	dispatch_delivery_finish(dl, DLV_FAILED);
}

/* A retry due while its endpoint is disabled is given up: the endpoint
 * said the resource is gone. */
static void on_retry_timer(void *arg)
{
	struct delivery *dl = arg;
	if (dl->ep->disabled)
		fail_disabled(dl);
	else
		dispatch_attempt(dl);
}

static void on_send_refused(void *arg)
{
	struct http_client_result res;
	memset(&res, 0, sizeof(res));
	res.error = "out of memory";
	on_attempt_done(arg, &res);
}

void dispatch_disable(struct endpoint_rt *ep, const char *reason)
{
	if (ep->disabled)
		return;
	ep->disabled = 1;
	log_msg(LOG_WARN, "endpoint disabled", "endpoint", ep->name, "url", ep->url_text, "reason", reason, NULL);
	while (!list_empty(&ep->breaker.waiting)) {
		struct delivery *dl = list_first(&ep->breaker.waiting, struct delivery, wait_link);
		list_remove(&dl->wait_link);
		timer_stop(dl->d->r, &dl->retry);
		fail_disabled(dl);
	}
}

static void on_attempt_done(void *arg, const struct http_client_result *res)
{
	struct delivery *dl = arg;
	struct endpoint_rt *ep = dl->ep;
	int open = 0;
	dl->op = NULL;
	ep->in_flight--;
	dl->last_status = res->status;
	ep->n.last_status = res->status;
	if (res->status >= 200 && res->status < 300) {
		dl->last_error[0] = '\0';
		ep->n.last_error[0] = '\0';
		ep->n.delivered++;
		ep->n.consecutive_failures = 0;
		dispatch_breaker_success(ep);
		dispatch_delivery_finish(dl, DLV_DELIVERED);
		return;
	}
	if (res->error)
		snprintf(dl->last_error, sizeof(dl->last_error), "%s", res->error);
	else
		snprintf(dl->last_error, sizeof(dl->last_error), "http %d", res->status);
	memcpy(ep->n.last_error, dl->last_error, sizeof(ep->n.last_error));
	ep->n.consecutive_failures++;
	/* Standard Webhooks: every non-2xx is a failure worth retrying,
	 * except 410 Gone, which disables the endpoint */
	if (res->status == 410 && !dl->test)
		dispatch_disable(ep, "410 Gone");
	else if (!dl->test)
		open = dispatch_breaker_failure(dl);
	if (open && !ep->disabled && !dl->no_retry && dl->attempts <= ep->retries) {
		log_failure(dl, res->duration_ms, "breaker");
		ep->n.retried++;
		dispatch_breaker_park(dl);
		if (dl->ev->spooled)
			dispatch_spool_state(dl->d, dl);
		return;
	}
	if (!ep->disabled && !dl->no_retry && dl->attempts <= ep->retries) {
		int64_t wait = res->retry_after ? http_retry_after_ms(res->retry_after, res->retry_after_len, clock_wall_ms()) : -1;
		char in[32];
		if (wait < 0)
			wait = (int64_t)endpoint_backoff_ms(ep, dl->attempts);
		if ((uint64_t)wait > ep->max_backoff_ms)
			wait = (int64_t)ep->max_backoff_ms;
		dispatch_duration_text(in, sizeof(in), (uint64_t)wait);
		log_failure(dl, res->duration_ms, in);
		ep->n.retried++;
		dl->state = DLV_RETRYING;
		dl->next_ms = clock_wall_ms() + (uint64_t)wait;
		timer_start(dl->d->r, &dl->retry, (uint64_t)wait);
		if (dl->ev->spooled)
			dispatch_spool_state(dl->d, dl);
		dispatch_cluster_status(dl->d, dl);
		dispatch_cluster_retry(dl->d, dl->ev);
		return;
	}
	log_failure(dl, res->duration_ms, NULL);
	ep->n.failed++;
	dispatch_delivery_finish(dl, DLV_FAILED);
}

/* The attempt's header block, NUL-terminated; -1 when it does not fit.
 * The signatures cover the timestamp they are sent with; one per secret,
 * space-separated, so receivers on the old or the new key both verify. */
static int attempt_headers(const struct delivery *dl, uint64_t now, struct buf *h)
{
	const struct endpoint_rt *ep = dl->ep;
	const struct event *ev = dl->ev;
	char ts[24], sig[128];
	size_t i;
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)(now / 1000));
	buf_puts(h, ep->headers);
	buf_puts(h, "webhook-id: ");
	buf_puts(h, ev->id);
	buf_puts(h, "\r\nwebhook-timestamp: ");
	buf_puts(h, ts);
	for (i = 0; i < ep->nsecrets; i++) {
		if (sign_standard(ep->secrets[i], ev->id, ts, ev->body, ev->len, sig, sizeof(sig)) < 0)
			return -1;
		buf_puts(h, i ? " " : "\r\nwebhook-signature: ");
		buf_puts(h, sig);
	}
	buf_puts(h, "\r\n");
	buf_append(h, "", 1);
	return h->failed ? -1 : 0;
}

void dispatch_attempt(struct delivery *dl)
{
	struct dispatch *d = dl->d;
	struct endpoint_rt *ep = dl->ep;
	struct event *ev = dl->ev;
	struct http_client_request req;
	struct buf h;
	uint64_t now = clock_wall_ms();
	int built;
	if (!dispatch_breaker_admit(dl))
		return;
	buf_init(&h, 64 << 10);
	built = attempt_headers(dl, now, &h);
	memset(&req, 0, sizeof(req));
	req.url = &ep->url;
	req.method = "POST";
	req.headers = h.data;
	req.body = ev->body;
	req.body_len = ev->len;
	req.timeout_ms = ep->timeout_ms;
	req.max_in_flight = ep->max_in_flight;
	dl->attempts++;
	ep->n.attempts++;
	ep->in_flight++;
	dl->state = DLV_IN_FLIGHT;
	dl->last_ms = now;
	if (!dl->first_ms)
		dl->first_ms = now;
	dl->next_ms = 0;
	dl->op = built == 0 ? d->tp.send(d->tp.ctx, &req, on_attempt_done, dl) : NULL;
	buf_free(&h);
	if (!dl->op) {
		/* reported from the loop, like every other outcome: launch and
		 * dispatch_test are still walking this event */
		reactor_defer(d->r, &dl->refused);
	}
}

/* ---- intake ---- */

static size_t http_matches(const struct dispatch *d, const char *type)
{
	size_t i, n = 0;
	for (i = 0; i < d->neps; i++)
		if (d->eps[i]->url.scheme != URL_STDOUT && endpoint_matches(d->eps[i], type))
			n++;
	return n;
}

/* Why events needing `need` deliveries and bytes can never be admitted
 * (more than fits at once), or NULL. */
static const char *never_admitted(const struct dispatch *d, size_t need, size_t n, size_t bytes)
{
	if (need > d->queue_max || bytes > d->bytes_max)
		return "more than the delivery queue holds (webhook.queue, max_queue_bytes)";
	if (d->spool && !spool_fits_ever(d->spool, bytes + n * 256, n))
		return "larger than the spool takes at once (64 MiB, spool.max_bytes)";
	return NULL;
}

int dispatch_admit(struct dispatch *d, const char *const *types, size_t n, size_t bytes)
{
	size_t i, need = 0;
	const char *never;
	for (i = 0; i < n; i++)
		need += http_matches(d, types[i]);
	if (need == 0)
		return 1;
	never = never_admitted(d, need, n, bytes);
	d->refusal_final = never != NULL;
	if (never)
		d->refusal = never;
	else if (d->pending + need > d->queue_max || d->pending_bytes + bytes > d->bytes_max)
		d->refusal = "delivery queue full";
	else if (d->spool && !spool_fits(d->spool, bytes + n * 256, n))
		d->refusal = "spool full (spool.max_bytes)";
	else
		return 1;
	d->events_rejected += n;
	return 0;
}

const char *dispatch_refusal(const struct dispatch *d) { return d->refusal ? d->refusal : "delivery queue full"; }
int dispatch_refusal_final(const struct dispatch *d) { return d->refusal_final; }

struct event *dispatch_event_new(const char *type, const char *body, size_t len, size_t ndl)
{
	struct event *ev = calloc(1, sizeof(*ev) + ndl * sizeof(struct delivery));
	if (!ev)
		return NULL;
	ev->body = malloc(len + 1);
	if (!ev->body) {
		free(ev);
		return NULL;
	}
	memcpy(ev->body, body, len);
	ev->len = len;
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	rand_id(ev->id, sizeof(ev->id), "evt_");
	ev->created_ms = clock_wall_ms();
	list_init(&ev->link);
	return ev;
}

struct delivery *dispatch_add_settled(struct dispatch *d, struct event *ev, struct endpoint_rt *ep, enum dlv_state state)
{
	struct delivery *dl = dispatch_add_delivery(d, ev, ep);
	dl->state = state;
	if (ep->url.scheme != URL_STDOUT) {
		ev->unfinished--;
		d->pending--;
	}
	return dl;
}

struct delivery *dispatch_add_delivery(struct dispatch *d, struct event *ev, struct endpoint_rt *ep)
{
	struct delivery *dl = &ev->dl[ev->ndl++];
	dl->d = d;
	dl->ev = ev;
	dl->ep = ep;
	endpoint_ref(ep);
	timer_init(&dl->retry, on_retry_timer, dl);
	list_init(&dl->wait_link);
	list_init(&dl->order_link);
	defer_init(&dl->refused, on_send_refused, dl);
	if (ep->url.scheme != URL_STDOUT) {
		ev->unfinished++;
		d->pending++;
	}
	return dl;
}

static void launch_start(struct dispatch *d, struct event *ev)
{
	size_t i;
	for (i = 0; i < ev->ndl; i++) {
		if (ev->dl[i].ep->url.scheme == URL_STDOUT)
			dispatch_stdout_deliver(&d->out, &ev->dl[i]);
		else if (ev->dl[i].state == DLV_PENDING || ev->dl[i].state == DLV_RETRYING)
			start(&ev->dl[i]);
	}
}

/* fsync: always: an event's deliveries wait for its record's commit.
 * One that could not be written was answered 503 and is not sent. The
 * last finish may free ev: count down, never re-read it. */
static void on_committed(void *arg, int status)
{
	struct event *ev = arg;
	struct dispatch *d = ev->dl[0].d;
	unsigned left = ev->unfinished;
	size_t i, ndl = ev->ndl;
	if (status == 0) {
		launch_start(d, ev);
		return;
	}
	for (i = 0; i < ndl && left > 0; i++) {
		struct delivery *dl = &ev->dl[i];
		if (dl->state != DLV_PENDING || dl->ep->url.scheme == URL_STDOUT)
			continue;
		snprintf(dl->last_error, sizeof(dl->last_error), "not written to the spool (answered 503)");
		dl->ep->n.dropped++;
		left--;
		dispatch_delivery_finish(dl, DLV_DROPPED);
	}
}

/* Registers ev and starts its deliveries (settled ones excepted), or
 * lets them wait for the commit of its spool record. */
void dispatch_launch(struct dispatch *d, struct event *ev)
{
	int http = ev->unfinished > 0;
	d->events_total++;
	if (http) {
		d->pending_bytes += ev->len;
		list_push_front(&d->active, &ev->link);
	}
	history_add(d, ev);
	if (!ev->commit.linked)
		launch_start(d, ev);
	if (!http) {
		free(ev->body);
		ev->body = NULL;
	}
}

int dispatch_event(struct dispatch *d, const char *type, const char *body, size_t len, char *id, size_t cap)
{
	struct event *ev;
	size_t i, matched = 0;
	const char *types[1] = {type};
	for (i = 0; i < d->neps; i++)
		matched += (size_t)endpoint_matches(d->eps[i], type);
	if (!dispatch_admit(d, types, 1, len))
		return -1;
	ev = dispatch_event_new(type, body, len, matched);
	if (ev && d->spool && http_matches(d, type)) {
		if (dispatch_spool_event(d, ev) < 0) {
			free(ev->body);
			free(ev);
			ev = NULL;
		} else if (spool_fsync(d->spool) == SPOOL_FSYNC_ALWAYS) {
			spool_wait(d->spool, &ev->commit, d->spool_lsn, on_committed, ev);
		}
	}
	if (!ev) {
		d->events_rejected++;
		return -1;
	}
	for (i = 0; i < d->neps; i++)
		if (endpoint_matches(d->eps[i], type))
			dispatch_add_delivery(d, ev, d->eps[i]);
	snprintf(id, cap, "%s", ev->id);
	dispatch_launch(d, ev);
	return (int)matched;
}

/* ---- lifecycle ---- */

static int same_origin(const struct url *a, const struct url *b)
{
	return a->scheme == b->scheme && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* max_in_flight limits connections to an origin; endpoints that share
 * one get the smallest of their limits, set here once per (re)load and
 * never by the deliveries themselves. Out of memory for a new origin's
 * pool only means the first send creates it, with that endpoint's own
 * limit: said in the log, the reload goes on. */
static void set_origin_limits(struct dispatch *d)
{
	size_t i, k;
	for (i = 0; i < d->neps; i++) {
		unsigned lim = d->eps[i]->max_in_flight;
		if (d->eps[i]->url.scheme == URL_STDOUT)
			continue;
		for (k = 0; k < d->neps; k++)
			if (same_origin(&d->eps[k]->url, &d->eps[i]->url) && d->eps[k]->max_in_flight < lim)
				lim = d->eps[k]->max_in_flight;
		if (d->tp.limit(d->tp.ctx, &d->eps[i]->url, lim) < 0)
			log_msg(LOG_WARN, "out of memory: origin limit set at the first delivery", "endpoint",
				d->eps[i]->name, NULL);
	}
}

/* What a reload keeps of an endpoint: disabled, and the breaker's state
 * (a probe in flight stays with the old endpoint, so the new one probes
 * afresh). Its parked deliveries stay with the old one. */
static void carry_state(struct endpoint_rt *to, const struct endpoint_rt *from)
{
	to->disabled = from->disabled;
	to->breaker.state = from->breaker.state == BREAKER_HALF_OPEN ? BREAKER_OPEN : from->breaker.state;
	to->breaker.open_until_ms = from->breaker.open_until_ms;
	to->breaker.cooldown_ms = from->breaker.cooldown_ms;
	to->breaker.failing_since_ms = from->breaker.failing_since_ms;
	to->n.consecutive_failures = from->n.consecutive_failures;
}

void dispatch_commit(struct dispatch *d, struct dispatch_stage *st)
{
	size_t i, k;
	/* a reload does not bring back an endpoint that said it is gone */
	for (i = 0; i < st->neps; i++)
		for (k = 0; k < d->neps; k++)
			if (strcmp(st->eps[i]->name, d->eps[k]->name) == 0)
				carry_state(st->eps[i], d->eps[k]);
	for (i = 0; i < d->neps; i++)
		endpoint_unref(d->eps[i]);
	free(d->eps);
	d->eps = st->eps;
	d->neps = st->neps;
	d->queue_max = st->queue_max;
	d->bytes_max = st->bytes_max;
	set_origin_limits(d);
	free(st);
}

struct dispatch *dispatch_new(struct reactor *r, const struct dispatch_transport *tp, size_t history)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->r = r;
	list_init(&d->active);
	d->tp = *tp;
	dispatch_stdout_init(&d->out, r);
	if (history_init(&d->done, history) < 0) {
		dispatch_free(d);
		return NULL;
	}
	return d;
}

const struct endpoint_rt *dispatch_enable(struct dispatch *d, const char *name)
{
	size_t i;
	for (i = 0; i < d->neps; i++)
		if (strcmp(d->eps[i]->name, name) == 0) {
			if (d->eps[i]->disabled)
				log_msg(LOG_INFO, "endpoint enabled", "endpoint", name, NULL);
			d->eps[i]->disabled = 0;
			dispatch_breaker_reset(d->eps[i]);
			return d->eps[i];
		}
	return NULL;
}

size_t dispatch_pending(const struct dispatch *d) { return d->pending; }

void dispatch_drain(struct dispatch *d, void (*on_idle)(void *), void *arg)
{
	if (d->pending == 0) {
		on_idle(arg);
		return;
	}
	d->on_idle = on_idle;
	d->idle_arg = arg;
}

/* Stops every unfinished delivery, counting each as dropped. */
static size_t stop_all(struct dispatch *d)
{
	size_t n = 0;
	d->on_idle = NULL;
	d->stopping = 1;
	while (!list_empty(&d->active)) {
		struct event *ev = list_first(&d->active, struct event, link);
		/* the last delivery_finish may free ev: count down, never re-read it */
		unsigned left = ev->unfinished;
		size_t i, ndl = ev->ndl;
		for (i = 0; i < ndl && left > 0; i++) {
			struct delivery *dl = &ev->dl[i];
			if (dl->state > DLV_RETRYING || dl->ep->url.scheme == URL_STDOUT)
				continue;
			if (dl->state == DLV_IN_FLIGHT) {
				if (dl->op)
					d->tp.cancel(d->tp.ctx, dl->op);
				dl->op = NULL;
				defer_cancel(&dl->refused);
				dl->ep->in_flight--;
			}
			timer_stop(d->r, &dl->retry);
			if (list_linked(&dl->wait_link))
				list_remove(&dl->wait_link);
			if (list_linked(&dl->order_link))
				list_remove(&dl->order_link);
			snprintf(dl->last_error, sizeof(dl->last_error), "abandoned at shutdown");
			dl->ep->n.dropped++;
			n++;
			left--;
			dispatch_delivery_finish(dl, DLV_DROPPED);
		}
	}
	d->stopping = 0;
	d->abandoned += n;
	return n;
}

void dispatch_abandon(struct dispatch *d)
{
	size_t n = stop_all(d);
	char count[32];
	if (n == 0)
		return;
	snprintf(count, sizeof(count), "%zu", n);
	log_msg(LOG_WARN, "deliveries abandoned at shutdown", "count", count, NULL);
}

void dispatch_free(struct dispatch *d)
{
	size_t i;
	if (!d)
		return;
	stop_all(d);
	history_free(&d->done, history_drop);
	dispatch_spool_discard(d);
	for (i = 0; i < d->neps; i++)
		endpoint_unref(d->eps[i]);
	free(d->eps);
	dispatch_stdout_close(&d->out);
	free(d);
}

void dispatch_restore(struct dispatch *d, struct event *ev)
{
	history_add(d, ev);
	keep_body(d, ev);
}

/* Newest first: a replay is in the history under the same id. */
const struct event *dispatch_find_event(const struct dispatch *d, const char *id)
{
	size_t i = history_len(&d->done);
	while (i-- > 0) {
		const struct event *ev = history_at(&d->done, i);
		if (strcmp(ev->id, id) == 0)
			return ev;
	}
	return NULL;
}
