/* The sparkline ring on a fake clock: the bucket in progress counts from
 * the live counters, a tick closes it, 60 ticks roll it out, a reload
 * that replaces an endpoint (counters from zero) or removes one. */
#include "unit.h"

#include "../../src/relay/dispatch_internal.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/endpoint.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/stats_series.h"

#include <stdio.h>
#include <stdlib.h>

static struct reactor *R;
static uint64_t now_ms = 1000000;

static void tick(void)
{
	now_ms += SERIES_INTERVAL_MS;
	clock_set_now_override(now_ms);
	reactor_poll(R, 0);
}

/* Value i (0 = oldest) of kind for endpoint number e; -1 when absent. */
static long value(const struct stats_series *s, int e, const char *kind, int i)
{
	struct buf b;
	struct json_doc doc;
	char path[64], out[32];
	long v = -1;
	int t;
	buf_init(&b, 1 << 20);
	stats_series_json(s, &b);
	if (json_parse(&doc, b.data, b.len, 8) == 0) {
		snprintf(path, sizeof(path), "endpoints.%d.%s.%d", e, kind, i);
		t = json_path(&doc, path);
		if (t >= 0 && json_tok_copy(&doc, t, out, sizeof(out)) > 0)
			v = strtol(out, NULL, 10);
		json_doc_free(&doc);
	}
	buf_free(&b);
	return v;
}

static struct endpoint_rt *fake_ep(const char *name)
{
	struct endpoint_rt *ep = calloc(1, sizeof(*ep));
	ep->name = (char *)name;
	return ep;
}

enum { LAST = SERIES_BUCKETS - 1 };

TEST(series_counts_ticks_and_rolls_out)
{
	struct endpoint_rt *eps[2] = {fake_ep("a"), fake_ep("b")};
	struct dispatch d;
	struct stats_series s;
	int i;
	memset(&d, 0, sizeof(d));
	d.eps = eps;
	d.neps = 2;
	stats_series_start(&s, R, &d);
	eps[0]->n.delivered = 3;
	eps[1]->n.failed = 1;
	eps[1]->n.retried = 2;
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST), 3);
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST - 1), 0);
	CHECK_EQ_INT(value(&s, 1, "failed", LAST), 1);
	CHECK_EQ_INT(value(&s, 1, "retried", LAST), 2);
	tick();
	eps[0]->n.delivered = 5;
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST - 1), 3);
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST), 2);
	CHECK_EQ_INT(value(&s, 1, "retried", LAST - 1), 2);
	CHECK_EQ_INT(value(&s, 1, "retried", LAST), 0);
	/* a reload: "a" is a new object counting from zero, "b" is gone */
	free(eps[0]);
	eps[0] = fake_ep("a");
	eps[0]->n.delivered = 1;
	d.neps = 1;
	tick();
	CHECK_EQ_INT((long)s.n, 1);
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST - 2), 3);
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST - 1), 1);
	CHECK_EQ_INT(value(&s, 1, "delivered", 0), -1);
	for (i = 0; i < SERIES_BUCKETS - 2; i++)
		tick();
	CHECK_EQ_INT(value(&s, 0, "delivered", 0), 1);
	tick();
	for (i = 0; i <= LAST; i++)
		CHECK_EQ_INT(value(&s, 0, "delivered", i), 0);
	stats_series_stop(&s);
	CHECK_EQ_INT((long)reactor_timer_count(R), 0);
	free(eps[0]);
	free(eps[1]);
}

TEST(series_tracks_an_endpoint_added_by_a_reload)
{
	struct endpoint_rt *eps[1] = {fake_ep("late")};
	struct dispatch d;
	struct stats_series s;
	memset(&d, 0, sizeof(d));
	d.eps = eps;
	stats_series_start(&s, R, &d);
	d.neps = 1;
	eps[0]->n.delivered = 4;
	/* shown before the tick that tracks it: all in the bucket in progress */
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST), 4);
	tick();
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST), 4);
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST - 1), 0);
	tick();
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST - 1), 4);
	CHECK_EQ_INT(value(&s, 0, "delivered", LAST), 0);
	stats_series_stop(&s);
	free(eps[0]);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	clock_set_now_override(now_ms);
	R = reactor_new();
	RUN(series_counts_ticks_and_rolls_out);
	RUN(series_tracks_an_endpoint_added_by_a_reload);
	reactor_free(R);
	return unit_done();
}
