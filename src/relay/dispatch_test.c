/* dispatch_test: POST /api/v1/endpoints/{name}/test. One webhook.test
 * event to one endpoint, one attempt, no retries; the outcome goes to
 * the caller's callback as JSON, always from the loop. */
#include "dispatch_internal.h"
#include "edgehook/endpoint.h"
#include "edgehook/json.h"

#include <stdlib.h>
#include <string.h>

struct dispatch_test {
	struct delivery *dl;
	void (*cb)(void *arg, const char *json, size_t len);
	void *arg;
	struct buf result;
	struct defer answer; /* from the loop: the caller may be in dispatch_test */
	struct reactor *r;
};

static void on_test_answer(void *arg)
{
	struct dispatch_test *t = arg;
	t->cb(t->arg, t->result.failed ? NULL : t->result.data, t->result.len);
	buf_free(&t->result);
	free(t);
}

void dispatch_test_report(struct delivery *dl)
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
	json_put_int_or_null(b, dl->last_status != 0, dl->last_status);
	buf_puts(b, ",\"error\":");
	json_put_cstr_or_null(b, dl->last_error);
	buf_printf(b, ",\"duration_ms\":%llu}", (unsigned long long)(dl->done_ms - dl->first_ms));
	reactor_defer(t->r, &t->answer);
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
	ev = !body.failed ? dispatch_event_new("webhook.test", body.data, body.len, 1) : NULL;
	buf_free(&body);
	if (!ev) {
		free(t);
		return NULL;
	}
	t->cb = cb;
	t->arg = arg;
	t->r = d->r;
	buf_init(&t->result, 4096);
	defer_init(&t->answer, on_test_answer, t);
	t->dl = dispatch_add_delivery(d, ev, ep);
	t->dl->no_retry = 1;
	t->dl->test = t;
	dispatch_launch(d, ev);
	return t;
}

void dispatch_test_cancel(struct dispatch_test *t)
{
	if (t->dl)
		t->dl->test = NULL;
	defer_cancel(&t->answer);
	buf_free(&t->result);
	free(t);
}
