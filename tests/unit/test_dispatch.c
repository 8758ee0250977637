/* Dispatcher engine without sockets: a fake transport records each send
 * and the test answers it; a fake clock moves the retry timers. Also the
 * delivery maths (Retry-After, backoff). */
#include "unit.h"

#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/endpoint.h"
#include "edgehook/event.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"

#include <stdlib.h>

/* the transport's handle for one send, as the fake keeps it */
struct http_client_op {
	int live;
	http_client_cb cb;
	void *arg;
	char path[32];
};

enum { MAX_OPS = 64, MAX_EPS = 4 };

static struct reactor *R;
static struct http_client_op ops[MAX_OPS];
static size_t nops, ncancelled;
static int refuse_sends;
static uint64_t now_ms = 1000000;

static struct http_client_op *fake_send(void *ctx, const struct http_client_request *req, http_client_cb cb, void *arg)
{
	struct http_client_op *op;
	(void)ctx;
	if (refuse_sends || nops == MAX_OPS)
		return NULL;
	op = &ops[nops++];
	op->live = 1;
	op->cb = cb;
	op->arg = arg;
	snprintf(op->path, sizeof(op->path), "%.31s", req->url->path);
	return op;
}

static void fake_cancel(void *ctx, struct http_client_op *op)
{
	(void)ctx;
	op->live = 0;
	ncancelled++;
}

static int fake_limit(void *ctx, const struct url *u, unsigned max_in_flight)
{
	(void)ctx, (void)u, (void)max_in_flight;
	return 0;
}

/* The answer to send number i: an HTTP status, or 0 for a network error. */
static void answer(size_t i, int status, const char *retry_after)
{
	struct http_client_result res;
	memset(&res, 0, sizeof(res));
	res.status = status;
	res.error = status ? NULL : "connection refused";
	res.retry_after = retry_after;
	res.retry_after_len = retry_after ? strlen(retry_after) : 0;
	ops[i].live = 0;
	ops[i].cb(ops[i].arg, &res);
}

static void advance(uint64_t ms)
{
	now_ms += ms;
	clock_set_now_override(now_ms);
	reactor_poll(R, 0);
}

struct rig {
	struct config *cfg;
	struct dispatch *d;
	struct endpoint_rt *ep[MAX_EPS];
};

static int rig_up(struct rig *g, const char *yaml)
{
	static const struct dispatch_transport tp = {NULL, fake_send, fake_cancel, fake_limit};
	struct dispatch_stage *st;
	struct buf errs;
	size_t i;
	memset(g, 0, sizeof(*g));
	nops = ncancelled = 0;
	refuse_sends = 0;
	buf_init(&errs, 4096);
	if (config_load_text("t.yaml", yaml, strlen(yaml), &g->cfg, &errs) < 0) {
		fprintf(stderr, "config: %.*s\n", (int)errs.len, errs.data ? errs.data : "");
		buf_free(&errs);
		return -1;
	}
	buf_free(&errs);
	st = dispatch_prepare(g->cfg);
	g->d = st ? dispatch_new(R, &tp, 16) : NULL;
	if (!g->d) {
		dispatch_stage_free(st);
		return -1;
	}
	for (i = 0; i < st->neps && i < MAX_EPS; i++)
		g->ep[i] = st->eps[i]; /* the dispatcher keeps them alive */
	dispatch_commit(g->d, st);
	return 0;
}

static void rig_down(struct rig *g)
{
	dispatch_free(g->d);
	config_free(g->cfg);
}

static int event(struct rig *g, const char *type, size_t len)
{
	char id[EVENT_ID_LEN], *body = malloc(len + 1);
	int rc;
	memset(body, 'x', len);
	body[len] = '\0';
	rc = dispatch_event(g->d, type, body, len, id, sizeof(id));
	free(body);
	return rc;
}

static const char one_endpoint[] = "webhook:\n"
				   "  retries: 3\n"
				   "  backoff: 1s\n"
				   "  max_backoff: 2s\n"
				   "  endpoints:\n"
				   "    - url: http://127.0.0.1:9/a\n"
				   "      name: a\n";

/* 1s, 2s, then capped at 2s, each +-20%; the 4th failure is final. */
TEST(dispatch_retries_follow_backoff_schedule)
{
	static const uint64_t base[] = {1000, 2000, 2000};
	struct rig g;
	size_t k;
	CHECK(rig_up(&g, one_endpoint) == 0);
	CHECK_EQ_INT(event(&g, "a.b", 10), 1);
	CHECK_EQ_INT(nops, 1);
	CHECK_EQ_INT(dispatch_pending(g.d), 1);
	for (k = 0; k < 3; k++) {
		answer(k, 503, NULL);
		CHECK_EQ_INT(g.ep[0]->n.retried, k + 1);
		advance(base[k] - base[k] / 5 - 1);
		CHECK_EQ_INT(nops, k + 1); /* not before the lower bound */
		advance(2 * (base[k] / 5) + 1);
		CHECK_EQ_INT(nops, k + 2); /* by the upper bound */
		CHECK_EQ_INT(dispatch_pending(g.d), 1);
	}
	answer(3, 503, NULL);
	CHECK_EQ_INT(g.ep[0]->n.attempts, 4);
	CHECK_EQ_INT(g.ep[0]->n.retried, 3);
	CHECK_EQ_INT(g.ep[0]->n.failed, 1);
	CHECK_EQ_INT(g.ep[0]->n.consecutive_failures, 4);
	CHECK_EQ_INT(g.ep[0]->in_flight, 0);
	CHECK_EQ_INT(dispatch_pending(g.d), 0);
	advance(60000);
	CHECK_EQ_INT(nops, 4);
	rig_down(&g);
}

/* Retry-After replaces the backoff (no jitter) and is capped by max_backoff. */
TEST(dispatch_retry_after_wins_and_is_capped)
{
	struct rig g;
	CHECK(rig_up(&g, one_endpoint) == 0);
	CHECK_EQ_INT(event(&g, "a.b", 10), 1);
	answer(0, 429, "1");
	advance(999);
	CHECK_EQ_INT(nops, 1);
	advance(1);
	CHECK_EQ_INT(nops, 2);
	answer(1, 503, "3600");
	advance(1999);
	CHECK_EQ_INT(nops, 2);
	advance(1);
	CHECK_EQ_INT(nops, 3);
	answer(2, 204, NULL);
	CHECK_EQ_INT(g.ep[0]->n.delivered, 1);
	CHECK_EQ_INT(g.ep[0]->n.retried, 2);
	CHECK_EQ_INT(g.ep[0]->n.consecutive_failures, 0);
	CHECK_EQ_INT(dispatch_pending(g.d), 0);
	rig_down(&g);
}

/* Standard Webhooks: every non-2xx is worth another attempt (410 Gone
 * disables the endpoint instead, tested with the breaker). */
TEST(dispatch_every_non_2xx_is_retried)
{
	static const int statuses[] = {400, 401, 404, 422};
	size_t i;
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		struct rig g;
		CHECK(rig_up(&g, one_endpoint) == 0);
		CHECK_EQ_INT(event(&g, "a.b", 10), 1);
		answer(0, statuses[i], NULL);
		CHECK_EQ_INT(g.ep[0]->n.failed, 0);
		CHECK_EQ_INT(g.ep[0]->n.retried, 1);
		CHECK_EQ_INT(dispatch_pending(g.d), 1);
		advance(1200);
		CHECK_EQ_INT(nops, 2);
		answer(1, 200, NULL);
		CHECK_EQ_INT(dispatch_pending(g.d), 0);
		rig_down(&g);
	}
}

TEST(dispatch_network_error_and_408_are_retried)
{
	struct rig g;
	CHECK(rig_up(&g, one_endpoint) == 0);
	CHECK_EQ_INT(event(&g, "a.b", 10), 1);
	answer(0, 0, NULL);
	advance(1200);
	CHECK_EQ_INT(nops, 2);
	answer(1, 408, NULL);
	advance(2400);
	CHECK_EQ_INT(nops, 3);
	answer(2, 200, NULL);
	CHECK_EQ_INT(g.ep[0]->n.retried, 2);
	CHECK_EQ_INT(g.ep[0]->n.delivered, 1);
	rig_down(&g);
}

/* An event is admitted whole or not at all: every matching endpoint's
 * delivery must fit the queue, and its body the byte bound. */
TEST(dispatch_queue_bounds_refuse_whole_events)
{
	struct rig g;
	CHECK(rig_up(&g, "webhook:\n"
			 "  queue: 3\n"
			 "  max_queue_bytes: 1024\n"
			 "  endpoints:\n"
			 "    - {url: \"http://127.0.0.1:9/a\", name: a}\n"
			 "    - {url: \"http://127.0.0.1:9/b\", name: b, events: [\"b.*\"]}\n") == 0);
	CHECK_EQ_INT(event(&g, "b.1", 10), 2);
	CHECK_EQ_INT(dispatch_pending(g.d), 2);
	CHECK_EQ_INT(event(&g, "b.2", 10), -1); /* 2 more would make 4 > 3 */
	CHECK_EQ_INT(event(&g, "a.1", 10), 1);  /* 1 more fits */
	CHECK_EQ_INT(event(&g, "a.2", 10), -1);
	CHECK_EQ_INT(nops, 3);
	CHECK_STR(ops[0].path, "/a");
	CHECK_STR(ops[1].path, "/b");
	answer(0, 200, NULL);
	answer(1, 200, NULL);
	answer(2, 200, NULL);
	CHECK_EQ_INT(dispatch_pending(g.d), 0);
	/* bytes: the body counts once per event, however many endpoints */
	CHECK_EQ_INT(event(&g, "b.3", 600), 2);
	CHECK_EQ_INT(event(&g, "a.3", 600), -1);
	answer(3, 200, NULL);
	CHECK_EQ_INT(event(&g, "a.3", 600), -1); /* b's delivery still holds the body */
	answer(4, 200, NULL);
	CHECK_EQ_INT(event(&g, "a.3", 600), 1);
	answer(5, 200, NULL);
	CHECK_EQ_INT(dispatch_pending(g.d), 0);
	CHECK_EQ_INT(g.ep[0]->n.delivered, 4); /* a takes every type */
	CHECK_EQ_INT(g.ep[1]->n.delivered, 2);
	rig_down(&g);
}

/* A send that cannot start is reported from the loop like any outcome,
 * then retried. */
TEST(dispatch_send_failure_reported_from_loop)
{
	struct rig g;
	CHECK(rig_up(&g, one_endpoint) == 0);
	refuse_sends = 1;
	CHECK_EQ_INT(event(&g, "a.b", 10), 1);
	CHECK_EQ_INT(g.ep[0]->n.retried, 0); /* not from inside dispatch_event */
	CHECK_EQ_INT(g.ep[0]->in_flight, 1);
	advance(0);
	CHECK_EQ_INT(g.ep[0]->n.retried, 1);
	CHECK_EQ_INT(g.ep[0]->in_flight, 0);
	CHECK_STR(g.ep[0]->n.last_error, "out of memory");
	refuse_sends = 0;
	advance(1200);
	CHECK_EQ_INT(nops, 1);
	answer(0, 200, NULL);
	CHECK_EQ_INT(g.ep[0]->n.delivered, 1);
	CHECK_EQ_INT(dispatch_pending(g.d), 0);
	rig_down(&g);
}

static int idle_calls;
static void on_idle(void *arg)
{
	(void)arg;
	idle_calls++;
}

TEST(dispatch_drain_waits_for_the_last_delivery)
{
	struct rig g;
	CHECK(rig_up(&g, one_endpoint) == 0);
	idle_calls = 0;
	CHECK_EQ_INT(event(&g, "a.1", 10), 1);
	CHECK_EQ_INT(event(&g, "a.2", 10), 1);
	dispatch_drain(g.d, on_idle, NULL);
	CHECK_EQ_INT(idle_calls, 0);
	answer(0, 200, NULL);
	CHECK_EQ_INT(idle_calls, 0);
	answer(1, 500, NULL); /* a retry is still pending */
	CHECK_EQ_INT(idle_calls, 0);
	advance(1200);
	answer(2, 200, NULL);
	CHECK_EQ_INT(idle_calls, 1);
	dispatch_drain(g.d, on_idle, NULL); /* nothing pending: at once */
	CHECK_EQ_INT(idle_calls, 2);
	rig_down(&g);
}

/* Past the drain timeout: sends in flight are cancelled, retries stopped,
 * each counted as dropped. */
TEST(dispatch_abandon_cancels_and_counts_dropped)
{
	struct rig g;
	CHECK(rig_up(&g, one_endpoint) == 0);
	CHECK_EQ_INT(event(&g, "a.1", 10), 1);
	CHECK_EQ_INT(event(&g, "a.2", 10), 1);
	CHECK_EQ_INT(event(&g, "a.3", 10), 1);
	answer(2, 503, NULL); /* waiting to retry */
	dispatch_abandon(g.d);
	CHECK_EQ_INT(ncancelled, 2);
	CHECK_EQ_INT(g.ep[0]->n.dropped, 3);
	CHECK_EQ_INT(g.ep[0]->in_flight, 0);
	CHECK_EQ_INT(dispatch_pending(g.d), 0);
	advance(60000);
	CHECK_EQ_INT(nops, 3);
	rig_down(&g);
}

TEST(retry_after_values)
{
	CHECK_EQ_INT(http_retry_after_ms("120", 3, 0), 120000);
	CHECK_EQ_INT(http_retry_after_ms("0", 1, 0), 0);
	CHECK_EQ_INT(http_retry_after_ms("0000000001", 10, 0), 1000);
	CHECK_EQ_INT(http_retry_after_ms("00000000000000000000", 20, 0), 0);
	CHECK_EQ_INT(http_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 29, 784111777000ULL - 5000), 5000);
	CHECK_EQ_INT(http_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 29, 784111777000ULL + 5000), 0);
	CHECK_EQ_INT(http_retry_after_ms("soon", 4, 0), -1);
	CHECK_EQ_INT(http_retry_after_ms("-5", 2, 0), -1);
	CHECK_EQ_INT(http_retry_after_ms("", 0, 0), -1);
	CHECK_EQ_INT(http_retry_after_ms("Sun, 06 Foo 1994 08:49:37 GMT", 29, 0), -1);
}

TEST(backoff_bounds)
{
	struct endpoint_rt ep;
	unsigned attempt, i;
	memset(&ep, 0, sizeof(ep));
	ep.backoff_ms = 1000;
	ep.max_backoff_ms = 300000;
	for (attempt = 1; attempt <= 12; attempt++) {
		uint64_t base = 1000ULL << (attempt - 1);
		if (base > 300000)
			base = 300000;
		for (i = 0; i < 50; i++) {
			uint64_t w = endpoint_backoff_ms(&ep, attempt);
			CHECK(w >= base - base / 5 && w <= base + base / 5);
		}
	}
}

int main(void)
{
	log_set_level(LOG_ERROR);
	clock_set_now_override(now_ms);
	clock_set_wall_override(1700000000000ULL);
	R = reactor_new();
	RUN(dispatch_retries_follow_backoff_schedule);
	RUN(dispatch_retry_after_wins_and_is_capped);
	RUN(dispatch_every_non_2xx_is_retried);
	RUN(dispatch_network_error_and_408_are_retried);
	RUN(dispatch_queue_bounds_refuse_whole_events);
	RUN(dispatch_send_failure_reported_from_loop);
	RUN(dispatch_drain_waits_for_the_last_delivery);
	RUN(dispatch_abandon_cancels_and_counts_dropped);
	RUN(retry_after_values);
	RUN(backoff_bounds);
	reactor_free(R);
	return unit_done();
}
