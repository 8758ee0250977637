#include "edgehook/dispatch.h"
#include "edgehook/client.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dns.h"
#include "edgehook/endpoint.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/ostream.h"
#include "edgehook/rand.h"
#include "edgehook/reactor.h"
#include "edgehook/sign.h"
#include "edgehook/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { STDOUT_QUEUE = 4 << 20, MAX_TYPE = 128 };

enum dlv_state { DLV_PENDING, DLV_IN_FLIGHT, DLV_RETRYING, DLV_DELIVERED, DLV_FAILED, DLV_DROPPED };
static const char *const state_names[] = {"pending", "in_flight", "retrying", "delivered", "failed", "dropped"};

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
	struct timer retry; /* the next attempt, or the report of a send that could not start */
	int no_retry, send_failed;
	struct dispatch_test *test;
};

struct event {
	char id[EVENT_ID_LEN];
	char type[MAX_TYPE];
	char *body;
	size_t len;
	uint64_t created_ms;
	unsigned unfinished, ndl;
	int in_ring;
	struct event *prev, *next; /* active list: events with unfinished deliveries */
	struct delivery dl[];
};

struct dispatch_test {
	struct delivery *dl;
	void (*cb)(void *arg, const char *json, size_t len);
	void *arg;
	struct buf result;
	struct timer timer;
	struct reactor *r;
};

struct dispatch {
	struct reactor *r;
	struct endpoint_rt **eps;
	size_t neps;
	struct dns *dns;
	struct http_client *client;
	struct tls_client_ctx *tls;
	struct ostream out;
	struct buf line;
	size_t pending, pending_bytes, queue_max, bytes_max;
	struct event **ring;
	size_t ring_cap, ring_head, ring_len;
	struct event *active;
	uint64_t events_total, events_rejected, abandoned;
	void (*on_idle)(void *);
	void *idle_arg;
};

/* ---- events ---- */

static void event_maybe_free(struct event *ev)
{
	size_t i;
	if (ev->unfinished || ev->in_ring)
		return;
	for (i = 0; i < ev->ndl; i++)
		endpoint_unref(ev->dl[i].ep);
	free(ev->body);
	free(ev);
}

static void ring_push(struct dispatch *d, struct event *ev)
{
	size_t slot = (d->ring_head + d->ring_len) % d->ring_cap;
	if (d->ring_len == d->ring_cap) {
		struct event *old = d->ring[d->ring_head];
		old->in_ring = 0;
		event_maybe_free(old);
		d->ring_head = (d->ring_head + 1) % d->ring_cap;
		d->ring_len--;
		slot = (d->ring_head + d->ring_len) % d->ring_cap;
	}
	d->ring[slot] = ev;
	d->ring_len++;
	ev->in_ring = 1;
}

static void active_link(struct dispatch *d, struct event *ev)
{
	ev->prev = NULL;
	ev->next = d->active;
	if (d->active)
		d->active->prev = ev;
	d->active = ev;
}

static void active_unlink(struct dispatch *d, struct event *ev)
{
	if (ev->prev)
		ev->prev->next = ev->next;
	else
		d->active = ev->next;
	if (ev->next)
		ev->next->prev = ev->prev;
}

/* ---- delivery outcomes ---- */

static void test_report(struct delivery *dl);

static void delivery_finish(struct delivery *dl, enum dlv_state state)
{
	struct dispatch *d = dl->d;
	struct event *ev = dl->ev;
	dl->state = state;
	dl->done_ms = clock_wall_ms();
	dl->next_ms = 0;
	if (dl->test)
		test_report(dl);
	if (dl->ep->url.scheme == URL_STDOUT)
		return;
	d->pending--;
	if (--ev->unfinished == 0) {
		d->pending_bytes -= ev->len;
		active_unlink(d, ev);
		free(ev->body); /* status keeps metadata only */
		ev->body = NULL;
		event_maybe_free(ev);
	}
	if (d->pending == 0 && d->on_idle) {
		void (*cb)(void *) = d->on_idle;
		d->on_idle = NULL;
		cb(d->idle_arg);
	}
}

/* "250ms", "1.5s", "10s": how log lines say durations. */
static void duration_text(char *out, size_t cap, uint64_t ms)
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
	duration_text(after, sizeof(after), took_ms);
	if (retry_in)
		log_msg(LOG_WARN, "delivery failed", "endpoint", dl->ep->name, "url", dl->ep->url_text, "event",
			dl->ev->type, "id", dl->ev->id, "attempt", attempt, "err", dl->last_error, "after", after,
			"retry_in", retry_in, NULL);
	else
		log_msg(LOG_WARN, "delivery failed", "endpoint", dl->ep->name, "url", dl->ep->url_text, "event",
			dl->ev->type, "id", dl->ev->id, "attempt", attempt, "err", dl->last_error, "after", after, NULL);
}

static void attempt(struct delivery *dl);

static void on_attempt_done(void *arg, const struct http_client_result *res);

static void on_retry_timer(void *arg)
{
	struct delivery *dl = arg;
	if (dl->send_failed) {
		struct http_client_result res;
		dl->send_failed = 0;
		memset(&res, 0, sizeof(res));
		res.error = "out of memory";
		on_attempt_done(dl, &res);
		return;
	}
	attempt(dl);
}

static int retryable(int status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

static void on_attempt_done(void *arg, const struct http_client_result *res)
{
	struct delivery *dl = arg;
	struct endpoint_rt *ep = dl->ep;
	dl->op = NULL;
	ep->in_flight--;
	dl->last_status = res->status;
	ep->n.last_status = res->status;
	if (res->status >= 200 && res->status < 300) {
		dl->last_error[0] = '\0';
		ep->n.last_error[0] = '\0';
		ep->n.delivered++;
		ep->n.consecutive_failures = 0;
		delivery_finish(dl, DLV_DELIVERED);
		return;
	}
	if (res->error)
		snprintf(dl->last_error, sizeof(dl->last_error), "%s", res->error);
	else
		snprintf(dl->last_error, sizeof(dl->last_error), "http %d", res->status);
	memcpy(ep->n.last_error, dl->last_error, sizeof(ep->n.last_error));
	ep->n.consecutive_failures++;
	if (!dl->no_retry && retryable(res->status) && dl->attempts <= ep->retries) {
		int64_t wait = res->retry_after ? http_retry_after_ms(res->retry_after, res->retry_after_len, clock_wall_ms()) : -1;
		char in[32];
		if (wait < 0)
			wait = (int64_t)endpoint_backoff_ms(ep, dl->attempts);
		if ((uint64_t)wait > ep->max_backoff_ms)
			wait = (int64_t)ep->max_backoff_ms;
		duration_text(in, sizeof(in), (uint64_t)wait);
		log_failure(dl, res->duration_ms, in);
		ep->n.retried++;
		dl->state = DLV_RETRYING;
		dl->next_ms = clock_wall_ms() + (uint64_t)wait;
		timer_start(dl->d->r, &dl->retry, (uint64_t)wait);
		return;
	}
	log_failure(dl, res->duration_ms, NULL);
	ep->n.failed++;
	delivery_finish(dl, DLV_FAILED);
}

static void attempt(struct delivery *dl)
{
	struct dispatch *d = dl->d;
	struct endpoint_rt *ep = dl->ep;
	struct event *ev = dl->ev;
	struct http_client_request req;
	char sig[128];
	struct buf h;
	uint64_t now = clock_wall_ms();
	size_t ts_at;
	buf_init(&h, 64 << 10);
	buf_puts(&h, ep->headers);
	buf_puts(&h, "webhook-id: ");
	buf_puts(&h, ev->id);
	buf_puts(&h, "\r\nwebhook-timestamp: ");
	ts_at = h.len;
	buf_put_u64(&h, now / 1000);
	buf_append(&h, "", 1);
	if (ep->secret && h.data &&
	    sign_standard(ep->secret, ev->id, h.data + ts_at, ev->body, ev->len, sig, sizeof(sig)) == 0) {
		h.len--;
		buf_puts(&h, "\r\nwebhook-signature: ");
		buf_puts(&h, sig);
		buf_append(&h, "", 1);
	}
	h.len--;
	buf_puts(&h, "\r\n");
	buf_append(&h, "", 1);
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
	dl->op = h.data ? http_client_send(d->client, &req, on_attempt_done, dl) : NULL;
	buf_free(&h);
	if (!dl->op) {
		/* reported from the loop, like every other outcome: launch and
		 * dispatch_test are still walking this event */
		dl->send_failed = 1;
		timer_start(d->r, &dl->retry, 0);
	}
}

static void deliver_stdout(struct dispatch *d, struct delivery *dl)
{
	struct event *ev = dl->ev;
	d->line.len = 0;
	dl->attempts = 1;
	dl->first_ms = dl->last_ms = clock_wall_ms();
	dl->ep->n.attempts++;
	if (event_json_compact(&d->line, ev->body, ev->len) < 0 || buf_append(&d->line, "\n", 1) < 0 ||
	    ostream_write(&d->out, d->line.data, d->line.len) < 0) {
		dl->ep->n.dropped++;
		snprintf(dl->last_error, sizeof(dl->last_error), "stdout queue full");
		log_msg(LOG_WARN, "delivery dropped", "endpoint", dl->ep->name, "event", ev->type, "id", ev->id, "err",
			dl->last_error, NULL);
		delivery_finish(dl, DLV_DROPPED);
	} else {
		dl->ep->n.delivered++;
		delivery_finish(dl, DLV_DELIVERED);
	}
	if (d->line.cap > 65536)
		buf_free(&d->line);
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

int dispatch_admit(struct dispatch *d, const char *const *types, size_t n, size_t bytes)
{
	size_t i, need = 0;
	for (i = 0; i < n; i++)
		need += http_matches(d, types[i]);
	if (need == 0 || (d->pending + need <= d->queue_max && d->pending_bytes + bytes <= d->bytes_max))
		return 1;
	d->events_rejected += n;
	return 0;
}

static struct event *event_new(const char *type, const char *body, size_t len, size_t ndl)
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
	return ev;
}

static struct delivery *add_delivery(struct dispatch *d, struct event *ev, struct endpoint_rt *ep)
{
	struct delivery *dl = &ev->dl[ev->ndl++];
	dl->d = d;
	dl->ev = ev;
	dl->ep = ep;
	endpoint_ref(ep);
	timer_init(&dl->retry, on_retry_timer, dl);
	if (ep->url.scheme != URL_STDOUT) {
		ev->unfinished++;
		d->pending++;
	}
	return dl;
}

/* Registers ev and starts its deliveries. */
static void launch(struct dispatch *d, struct event *ev)
{
	size_t i;
	int http = ev->unfinished > 0;
	d->events_total++;
	if (http) {
		d->pending_bytes += ev->len;
		active_link(d, ev);
	}
	ring_push(d, ev);
	for (i = 0; i < ev->ndl; i++) {
		if (ev->dl[i].ep->url.scheme == URL_STDOUT)
			deliver_stdout(d, &ev->dl[i]);
		else
			attempt(&ev->dl[i]);
	}
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
	ev = event_new(type, body, len, matched);
	if (!ev) {
		d->events_rejected++;
		return -1;
	}
	for (i = 0; i < d->neps; i++)
		if (endpoint_matches(d->eps[i], type))
			add_delivery(d, ev, d->eps[i]);
	snprintf(id, cap, "%s", ev->id);
	launch(d, ev);
	return (int)matched;
}

/* ---- test deliveries ---- */

static void on_test_timer(void *arg)
{
	struct dispatch_test *t = arg;
	t->cb(t->arg, t->result.data, t->result.len);
	buf_free(&t->result);
	free(t);
}

static void test_report(struct delivery *dl)
{
	struct dispatch_test *t = dl->test;
	struct buf *b = &t->result;
	dl->test = NULL;
	t->dl = NULL;
	buf_puts(b, "{");
	json_put_kv(b, 0, "endpoint", dl->ep->name);
	json_put_kv(b, 1, "id", dl->ev->id);
	json_put_kv(b, 1, "event", "webhook.test");
	buf_printf(b, ",\"delivered\":%s,\"status\":", dl->state == DLV_DELIVERED ? "true" : "false");
	if (dl->last_status)
		buf_printf(b, "%d", dl->last_status);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"error\":");
	if (dl->last_error[0])
		json_put_cstr(b, dl->last_error);
	else
		buf_puts(b, "null");
	buf_printf(b, ",\"duration_ms\":%llu}", (unsigned long long)(dl->done_ms - dl->first_ms));
	/* the caller may still be inside dispatch_test: answer from the loop */
	timer_start(t->r, &t->timer, 0);
}

struct dispatch_test *dispatch_test(struct dispatch *d, const char *endpoint,
				    void (*cb)(void *arg, const char *json, size_t len), void *arg)
{
	struct dispatch_test *t;
	struct endpoint_rt *ep = NULL;
	struct event *ev;
	struct buf body;
	size_t i;
	for (i = 0; i < d->neps; i++)
		if (strcmp(d->eps[i]->name, endpoint) == 0)
			ep = d->eps[i];
	if (!ep)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	buf_init(&body, 1024);
	buf_puts(&body, "{\"event\":\"webhook.test\",");
	json_put_kv(&body, 0, "endpoint", ep->name);
	buf_puts(&body, ",\"timestamp\":");
	event_put_timestamp(&body);
	buf_puts(&body, "}");
	ev = body.data ? event_new("webhook.test", body.data, body.len, 1) : NULL;
	buf_free(&body);
	if (!ev) {
		free(t);
		return NULL;
	}
	t->cb = cb;
	t->arg = arg;
	t->r = d->r;
	buf_init(&t->result, 4096);
	timer_init(&t->timer, on_test_timer, t);
	t->dl = add_delivery(d, ev, ep);
	t->dl->no_retry = 1;
	t->dl->test = t;
	launch(d, ev);
	return t;
}

void dispatch_test_cancel(struct dispatch_test *t)
{
	if (t->dl)
		t->dl->test = NULL;
	timer_stop(t->r, &t->timer);
	buf_free(&t->result);
	free(t);
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
		if (http_client_limit(d->client, &d->eps[i]->url, lim) < 0)
			log_msg(LOG_WARN, "out of memory: origin limit set at the first delivery", "endpoint",
				d->eps[i]->name, NULL);
	}
}

void dispatch_commit(struct dispatch *d, struct dispatch_stage *st)
{
	size_t i;
	for (i = 0; i < d->neps; i++)
		endpoint_unref(d->eps[i]);
	free(d->eps);
	d->eps = st->eps;
	d->neps = st->neps;
	d->queue_max = st->queue_max;
	d->bytes_max = st->bytes_max;
	set_origin_limits(d);
	/* without https endpoints the old anchors stay for retries of
	 * deliveries that began under the old config */
	if (st->tls) {
		tls_client_ctx_free(d->tls);
		d->tls = st->tls;
		http_client_set_tls(d->client, d->tls);
	}
	if (st->dns)
		dns_set_conf(d->dns, st->dns);
	free(st);
}

struct dispatch *dispatch_new(struct reactor *r, const struct config *cfg)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	struct dispatch_stage *st;
	if (!d)
		return NULL;
	d->r = r;
	ostream_init(&d->out, r, STDOUT_FILENO, STDOUT_QUEUE);
	buf_init(&d->line, STDOUT_QUEUE);
	d->ring_cap = cfg->webhook.history;
	d->ring = calloc(d->ring_cap, sizeof(*d->ring));
	st = dispatch_prepare(cfg);
	if (!d->ring || !st) {
		dispatch_stage_free(st);
		dispatch_free(d);
		return NULL;
	}
	d->dns = dns_new(r, st->dns);
	st->dns = NULL;
	d->client = d->dns ? http_client_new(r, d->dns) : NULL;
	if (!d->client) {
		dispatch_stage_free(st);
		dispatch_free(d);
		return NULL;
	}
	dispatch_commit(d, st);
	return d;
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
	while (d->active) {
		struct event *ev = d->active;
		/* the last delivery_finish may free ev: count down, never re-read it */
		unsigned left = ev->unfinished;
		size_t i, ndl = ev->ndl;
		for (i = 0; i < ndl && left > 0; i++) {
			struct delivery *dl = &ev->dl[i];
			if (dl->state > DLV_RETRYING || dl->ep->url.scheme == URL_STDOUT)
				continue;
			if (dl->state == DLV_IN_FLIGHT) {
				if (dl->op)
					http_client_cancel(dl->op);
				dl->op = NULL;
				dl->send_failed = 0;
				dl->ep->in_flight--;
			}
			timer_stop(d->r, &dl->retry);
			snprintf(dl->last_error, sizeof(dl->last_error), "abandoned at shutdown");
			dl->ep->n.dropped++;
			n++;
			left--;
			delivery_finish(dl, DLV_DROPPED);
		}
	}
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
	if (d->client)
		stop_all(d);
	for (i = 0; i < d->ring_len; i++) {
		struct event *ev = d->ring[(d->ring_head + i) % d->ring_cap];
		ev->in_ring = 0;
		event_maybe_free(ev);
	}
	free(d->ring);
	for (i = 0; i < d->neps; i++)
		endpoint_unref(d->eps[i]);
	free(d->eps);
	http_client_free(d->client);
	tls_client_ctx_free(d->tls);
	dns_free(d->dns);
	ostream_flush(&d->out);
	ostream_close(&d->out);
	buf_free(&d->line);
	free(d);
}

void dispatch_flush(struct dispatch *d) { ostream_flush(&d->out); }

/* ---- status and metrics ---- */

int dispatch_event_json(struct dispatch *d, const char *id, struct buf *out)
{
	size_t i, k;
	for (i = 0; i < d->ring_len; i++) {
		struct event *ev = d->ring[(d->ring_head + i) % d->ring_cap];
		if (strcmp(ev->id, id) != 0)
			continue;
		buf_puts(out, "{");
		json_put_kv(out, 0, "id", ev->id);
		json_put_kv(out, 1, "event", ev->type);
		event_put_time_member(out, "created", ev->created_ms);
		buf_puts(out, ",\"deliveries\":[");
		for (k = 0; k < ev->ndl; k++) {
			const struct delivery *dl = &ev->dl[k];
			buf_puts(out, k ? ",{" : "{");
			json_put_kv(out, 0, "endpoint", dl->ep->name);
			json_put_kv(out, 1, "url", dl->ep->url_text);
			json_put_kv(out, 1, "state", state_names[dl->state]);
			buf_printf(out, ",\"attempts\":%u,\"last_status\":", dl->attempts);
			if (dl->last_status)
				buf_printf(out, "%d", dl->last_status);
			else
				buf_puts(out, "null");
			buf_puts(out, ",\"last_error\":");
			if (dl->last_error[0])
				json_put_cstr(out, dl->last_error);
			else
				buf_puts(out, "null");
			event_put_time_member(out, "first_attempt", dl->first_ms);
			event_put_time_member(out, "last_attempt", dl->last_ms);
			event_put_time_member(out, "next_attempt", dl->next_ms);
			event_put_time_member(out, "completed", dl->done_ms);
			buf_puts(out, "}");
		}
		return buf_puts(out, "]}");
	}
	return -1;
}

int dispatch_endpoints_json(struct dispatch *d, struct buf *out)
{
	size_t i;
	int rc = buf_puts(out, "{\"endpoints\":[");
	for (i = 0; i < d->neps; i++)
		rc |= (i ? buf_puts(out, ",") : 0) | endpoint_json(out, d->eps[i]);
	rc |= buf_printf(out, "],\"queue\":{\"pending\":%zu,\"max\":%zu,\"bytes\":%zu,\"max_bytes\":%zu}}", d->pending,
			 d->queue_max, d->pending_bytes, d->bytes_max);
	return rc;
}

int dispatch_metrics(struct dispatch *d, struct buf *out)
{
	static const char *const names[] = {"delivered", "failed", "retried", "dropped"};
	const struct dns_stats *ds = dns_stats(d->dns);
	const struct http_client_stats *cs = http_client_stats(d->client);
	size_t i, k;
	int rc = buf_printf(out,
			    "# TYPE edgehook_events_total counter\nedgehook_events_total %llu\n"
			    "# TYPE edgehook_events_rejected_total counter\nedgehook_events_rejected_total %llu\n"
			    "# TYPE edgehook_queue_depth gauge\nedgehook_queue_depth %zu\n"
			    "# TYPE edgehook_queue_bytes gauge\nedgehook_queue_bytes %zu\n"
			    "# TYPE edgehook_deliveries_in_flight gauge\nedgehook_deliveries_in_flight %zu\n"
			    "# TYPE edgehook_dns_cache_hits_total counter\nedgehook_dns_cache_hits_total %llu\n"
			    "# TYPE edgehook_dns_cache_misses_total counter\nedgehook_dns_cache_misses_total %llu\n"
			    "# TYPE edgehook_dns_queries_total counter\nedgehook_dns_queries_total %llu\n"
			    "# TYPE edgehook_client_connections_opened_total counter\nedgehook_client_connections_opened_total %llu\n"
			    "# TYPE edgehook_client_connections_reused_total counter\nedgehook_client_connections_reused_total %llu\n"
			    "# TYPE edgehook_client_requests_resent_total counter\nedgehook_client_requests_resent_total %llu\n"
			    "# TYPE edgehook_client_tls_handshakes_total counter\nedgehook_client_tls_handshakes_total %llu\n"
			    "# TYPE edgehook_client_tls_resumed_total counter\nedgehook_client_tls_resumed_total %llu\n",
			    (unsigned long long)d->events_total, (unsigned long long)d->events_rejected, d->pending,
			    d->pending_bytes, http_client_in_flight(d->client), (unsigned long long)ds->cache_hits,
			    (unsigned long long)ds->cache_misses, (unsigned long long)ds->queries,
			    (unsigned long long)cs->connections_opened, (unsigned long long)cs->reused,
			    (unsigned long long)cs->resent, (unsigned long long)cs->tls_handshakes,
			    (unsigned long long)cs->tls_resumed);
	for (k = 0; k < 4; k++) {
		rc |= buf_printf(out, "# TYPE edgehook_deliveries_%s_total counter\n", names[k]);
		for (i = 0; i < d->neps; i++) {
			const struct endpoint_counters *n = &d->eps[i]->n;
			uint64_t v = k == 0 ? n->delivered : k == 1 ? n->failed : k == 2 ? n->retried : n->dropped;
			rc |= buf_printf(out, "edgehook_deliveries_%s_total{endpoint=\"%s\"} %llu\n", names[k],
					 d->eps[i]->name, (unsigned long long)v);
		}
	}
	rc |= buf_printf(out, "# TYPE edgehook_endpoint_in_flight gauge\n");
	for (i = 0; i < d->neps; i++)
		rc |= buf_printf(out, "edgehook_endpoint_in_flight{endpoint=\"%s\"} %u\n", d->eps[i]->name,
				 d->eps[i]->in_flight);
	return rc;
}
