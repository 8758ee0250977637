/* /api/v1 read-only status views: one event, the recent events, dead
 * letters, runs, webhooks received, the spool and the per-endpoint
 * series (what the status page at /ui shows). */
#include "edgehook/relay_routes.h"
#include "dispatch_internal.h"
#include "edgehook/buf.h"
#include "edgehook/config.h"
#include "edgehook/endpoint.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/spool.h"
#include "edgehook/stats_series.h"
#include "edgehook/strutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { LIST_DEFAULT = 20, LIST_MAX = 1000 };

const char *api_status_query_param(const struct http_request *req, const char *key, size_t *len)
{
	const char *q = memchr(req->target, '?', req->target_len), *end = req->target + req->target_len;
	size_t klen = strlen(key);
	while (q && q < end) {
		const char *s = q + 1, *amp = memchr(s, '&', (size_t)(end - s));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - s) > klen && memcmp(s, key, klen) == 0 && s[klen] == '=') {
			*len = (size_t)(stop - s - (ptrdiff_t)klen - 1);
			return s + klen + 1;
		}
		q = amp;
	}
	return NULL;
}

/* ?limit=N (1..LIST_MAX); LIST_DEFAULT when absent, 0 when invalid. */
static size_t list_limit(const struct http_request *req)
{
	size_t len = 0, i, v = 0;
	const char *s = api_status_query_param(req, "limit", &len);
	if (!s)
		return LIST_DEFAULT;
	for (i = 0; i < len && i < 5; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	return len == 0 || len > 4 || v > LIST_MAX ? 0 : v;
}

int api_status_event_json(const struct dispatch *d, const char *id, struct buf *out)
{
	const struct event *ev = dispatch_find_event(d, id);
	if (!ev)
		return -1;
	dispatch_event_json(ev, out);
	return 0;
}

/* GET /api/v1/events[?limit=N]: the newest events of the status
 * history first (a replay is an entry of its own, under the same id). */
static void events_json(const struct dispatch *d, size_t limit, struct buf *out)
{
	size_t i, n = history_len(&d->done);
	buf_puts(out, "{\"events\":[");
	for (i = 0; i < n && i < limit; i++) {
		if (i)
			buf_puts(out, ",");
		dispatch_event_json(history_at(&d->done, n - 1 - i), out);
	}
	buf_puts(out, "]}");
}

/* The newest status history entry of every id, so that each dead letter
 * finds its newest replay without walking the history again: the history
 * holds up to 1,000,000 entries. Open addressing over history indexes. */
struct newest {
	const struct dispatch *d;
	size_t *slot; /* SIZE_MAX when empty */
	size_t cap;   /* a power of two, over twice the history */
};

static uint64_t id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ULL;
	while (*id)
		h = (h ^ (unsigned char)*id++) * 1099511628211ULL;
	return h;
}

static const struct event *entry(const struct dispatch *d, size_t i)
{
	return history_at(&d->done, i);
}

static size_t *newest_slot(const struct newest *nw, const char *id)
{
	size_t i = (size_t)id_hash(id) & (nw->cap - 1);
	while (nw->slot[i] != SIZE_MAX && strcmp(entry(nw->d, nw->slot[i])->id, id) != 0)
		i = (i + 1) & (nw->cap - 1);
	return &nw->slot[i];
}

static int newest_init(struct newest *nw, const struct dispatch *d)
{
	size_t n = history_len(&d->done), i;
	nw->d = d;
	for (nw->cap = 16; nw->cap < 2 * n; nw->cap *= 2)
		;
	if (!(nw->slot = malloc(nw->cap * sizeof(*nw->slot))))
		return -1;
	memset(nw->slot, 0xff, nw->cap * sizeof(*nw->slot));
	for (i = 0; i < n; i++) /* oldest first: the newest of an id stays */
		*newest_slot(nw, entry(d, i)->id) = i;
	return 0;
}

/* The state of the newest replay of ev to dl's endpoint, or NULL when
 * ev is the newest entry under its id. */
static const char *replay_state(const struct newest *nw, const struct event *ev, const struct delivery *dl)
{
	const struct event *newest = entry(nw->d, *newest_slot(nw, ev->id));
	size_t k;
	if (newest == ev)
		return NULL;
	for (k = 0; k < newest->ndl; k++)
		if (strcmp(newest->dl[k].ep->name, dl->ep->name) == 0)
			return dispatch_state_names[newest->dl[k].state];
	return NULL;
}

static int is_dead(const struct delivery *dl, const char *name, size_t nlen)
{
	return dl->state == DLV_FAILED && (!name || str_slice_eq(name, nlen, dl->ep->name));
}

/* GET /api/v1/dead[?endpoint=NAME][&limit=N]: the deliveries in the
 * status history that exhausted their retries (or were given up), newest
 * events last; with limit only the newest N. */
static void dead_json(const struct dispatch *d, const char *name, size_t nlen, size_t limit, struct buf *out)
{
	struct newest nw;
	size_t i = limit ? history_len(&d->done) : 0, k = 0, n = 0;
	if (newest_init(&nw, d) < 0) {
		out->failed = 1;
		return;
	}
	/* back from the newest to where the newest `limit` begin */
	while (i > 0 && n < limit) {
		const struct event *ev = entry(d, --i);
		for (k = ev->ndl; k > 0 && n < limit; k--)
			n += (size_t)is_dead(&ev->dl[k - 1], name, nlen);
		k = n == limit ? k : 0;
	}
	buf_puts(out, "{\"dead\":[");
	for (n = 0; i < history_len(&d->done) && !out->failed; i++, k = 0) {
		const struct event *ev = entry(d, i);
		for (; k < ev->ndl; k++) {
			const struct delivery *dl = &ev->dl[k];
			if (!is_dead(dl, name, nlen))
				continue;
			buf_puts(out, n++ ? ",{" : "{");
			json_put_kv(out, 0, "id", ev->id);
			json_put_kv(out, 1, "event", ev->type);
			json_put_kv(out, 1, "endpoint", dl->ep->name);
			buf_printf(out, ",\"attempts\":%u,\"last_status\":", dl->attempts);
			json_put_int_or_null(out, dl->last_status != 0, dl->last_status);
			buf_puts(out, ",\"last_error\":");
			json_put_cstr_or_null(out, dl->last_error);
			event_put_time_member(out, "completed", dl->done_ms);
			buf_puts(out, ",\"replayed\":");
			json_put_cstr_or_null(out, replay_state(&nw, ev, dl));
			buf_puts(out, "}");
		}
	}
	buf_puts(out, "]}");
	free(nw.slot);
}

/* GET /api/v1/spool: the log's size and counters; {"enabled":false}
 * without spool.dir. */
static void spool_json(const struct relay *rl, struct buf *out)
{
	struct spool_stats st;
	if (!rl->spool) {
		buf_puts(out, "{\"enabled\":false}");
		return;
	}
	spool_stats(rl->spool, &st);
	buf_printf(out,
		   "{\"enabled\":true,\"bytes\":%llu,\"max_bytes\":%llu,\"segments\":%llu,\"appended\":%llu,"
		   "\"full\":%llu,\"write_errors\":%llu,\"recovered\":%llu,\"corrupt\":%llu}",
		   (unsigned long long)st.bytes, (unsigned long long)rl->cfg->spool.max_bytes,
		   (unsigned long long)st.segments, (unsigned long long)st.appended, (unsigned long long)st.full,
		   (unsigned long long)st.write_errors, (unsigned long long)st.recovered,
		   (unsigned long long)st.corrupt);
}

enum view { VIEW_EVENTS, VIEW_RUNS, VIEW_DEAD, VIEW_RECEIVED, VIEW_SPOOL, VIEW_SERIES, NVIEWS };
static const char *const view_paths[NVIEWS] = {"events", "runs", "dead", "received", "spool", "stats/series"};

static void render(struct relay *rl, const struct http_request *req, enum view v, struct buf *b)
{
	const char *name;
	size_t nlen = 0, len;
	switch (v) {
	case VIEW_EVENTS:
		events_json(rl->disp, list_limit(req), b);
		break;
	case VIEW_RUNS:
		runner_runs_json(rl->runner, list_limit(req), b);
		break;
	case VIEW_DEAD:
		name = api_status_query_param(req, "endpoint", &nlen);
		len = 0;
		dead_json(rl->disp, name, nlen, api_status_query_param(req, "limit", &len) ? list_limit(req) : 0, b);
		break;
	case VIEW_RECEIVED:
		name = api_status_query_param(req, "trigger", &nlen);
		received_json(&rl->received, name, nlen, list_limit(req), b);
		break;
	case VIEW_SPOOL:
		spool_json(rl, b);
		break;
	default:
		stats_series_json(&rl->series, b);
		break;
	}
}

int api_status_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path,
		      size_t plen)
{
	struct buf b;
	int v = 0;
	while (v < NVIEWS && !str_slice_eq(path, plen, view_paths[v]))
		v++;
	if (v == NVIEWS)
		return 0;
	if (!http_method_is_exact(req, "GET") && !http_method_is_exact(req, "HEAD")) {
		http_respond_405(c, v == VIEW_EVENTS ? "GET, HEAD, POST" : "GET, HEAD");
		return 1;
	}
	if (list_limit(req) == 0) {
		api_respond_error(c, 400, "limit: expected 1 to 1000");
		return 1;
	}
	buf_init(&b, RENDER_MAX);
	render(rl, req, (enum view)v, &b);
	api_reply_rendered(c, 200, "application/json", &b, "status view");
	return 1;
}
