/* api_cluster: POST /api/v1/events in cluster mode. The events go to the
 * shared stream instead of the local dispatcher (whichever instance reads
 * them delivers them); the 202 leaves only once Redis confirmed all of
 * them, anything else is a 503 with Retry-After. */
#include "dispatch_internal.h"
#include "edgehook/clock.h"
#include "edgehook/cluster.h"
#include "edgehook/dispatch.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/relay_routes.h"
#include "edgehook/server.h"

#include <stdlib.h>
#include <string.h>

struct cluster_ack {
	struct http_conn *c;
	struct cluster_put *p;
	struct buf reply;
};

static void ack_abort(void *arg)
{
	struct cluster_ack *a = arg;
	cluster_put_cancel(a->p);
	buf_free(&a->reply);
	free(a);
}

static void acked(void *arg, int status, const char *why)
{
	struct cluster_ack *a = arg;
	if (status == 0) {
		api_reply_rendered(a->c, 202, "application/json", &a->reply, "event ids");
	} else {
		log_msg(LOG_WARN, "events refused: not stored in redis", "err", why, NULL);
		api_respond_error(a->c, 503, why);
		buf_free(&a->reply);
	}
	free(a);
}

void api_ingest_cluster(struct relay *rl, struct http_conn *c, const struct json_doc *doc, const int *items,
			int nitems, const char (*types)[128], int array)
{
	struct cluster_ack *a = calloc(1, sizeof(*a));
	struct buf one;
	const char *why = NULL;
	uint64_t now = clock_wall_ms();
	int i;
	if (!a || !(a->p = cluster_put_begin(rl->cluster, acked, a))) {
		free(a);
		api_respond_error(c, 503, "out of memory");
		return;
	}
	a->c = c;
	buf_init(&a->reply, RENDER_MAX);
	buf_init(&one, 1 << 30);
	if (array)
		buf_puts(&a->reply, "[");
	for (i = 0; i < nitems; i++) {
		char id[EVENT_ID_LEN];
		size_t n = dispatch_matching(rl->disp, types[i]);
		rand_id(id, sizeof(id), "evt_");
		one.len = 0;
		/* an event no endpoint wants owes nothing: no copy needed */
		if (n > 0 && api_item_body(doc, items[i], &one) == 0)
			cluster_put_event(a->p, id, types[i], now, one.data, one.len);
		else if (n > 0)
			why = "out of memory";
		buf_puts(&a->reply, i ? ",{\"id\":\"" : "{\"id\":\"");
		buf_puts(&a->reply, id);
		buf_puts(&a->reply, "\",\"endpoints\":");
		buf_put_u64(&a->reply, (uint64_t)n);
		buf_puts(&a->reply, "}");
	}
	if (array)
		buf_puts(&a->reply, "]");
	buf_free(&one);
	/* set first: a put that owes nothing answers from inside end */
	http_defer(c, ack_abort, a);
	if (why)
		cluster_put_cancel(a->p);
	if (cluster_put_end(a->p, &why) < 0 || why) {
		api_respond_error(c, 503, why);
		buf_free(&a->reply);
		free(a);
	}
}

/* ---- GET /api/v1/events/{id} ---- */

struct status_req {
	struct http_conn *c;
	struct cluster_get *g;
};

static void status_abort(void *arg)
{
	struct status_req *s = arg;
	cluster_get_cancel(s->g);
	free(s);
}

static void status_got(void *arg, int status, struct buf *json)
{
	struct status_req *s = arg;
	if (status > 0 && json->failed) {
		api_respond_error(s->c, 502, "event status in redis too large");
	} else if (status > 0) {
		http_respond(s->c, 200, "application/json", NULL, json->data, json->len);
	} else if (status == 0) {
		api_respond_error(s->c, 404, "unknown event (or no longer in the status history)");
	} else {
		api_respond_error(s->c, 503, "redis did not answer");
	}
	free(s);
}

int api_event_cluster(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *rest,
		      size_t rlen)
{
	char id[EVENT_ID_LEN];
	const struct event *ev;
	struct status_req *s;
	if (!rl->cluster || (!http_method_is_exact(req, "GET") && !http_method_is_exact(req, "HEAD")) ||
	    rlen == 0 || rlen >= sizeof(id) || memchr(rest, '/', rlen))
		return -1;
	memcpy(id, rest, rlen);
	id[rlen] = '\0';
	/* being delivered here: the local state is the freshest (a finished
	 * or parked one may have moved on elsewhere since) */
	ev = dispatch_find_event(rl->disp, id);
	if (ev && ev->unfinished > 0)
		return -1;
	if (!(s = calloc(1, sizeof(*s))))
		return -1;
	s->c = c;
	if (!(s->g = cluster_status_get(rl->cluster, id, status_got, s))) {
		free(s);
		api_respond_error(c, 503, "too many requests waiting for redis");
		return 0;
	}
	http_defer(c, status_abort, s);
	return 0;
}
