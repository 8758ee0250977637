/* dispatch_cluster: the dispatcher's side of cluster mode. Events come
 * from the shared stream (cluster.c) with their own id and are delivered
 * like any other; once every HTTP delivery of one is delivered or failed
 * the stream entry is settled (acknowledged). A delivery dropped at
 * shutdown settles nothing: its entry stays pending in Redis and another
 * instance (or this one, restarted) takes it over. */
#include "dispatch_internal.h"
#include "edgehook/clock.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dispatch_cluster_attach(struct dispatch *d, const struct dispatch_cluster_hooks *hooks)
{
	if (hooks)
		d->cluster = *hooks;
	else
		memset(&d->cluster, 0, sizeof(d->cluster));
}

void dispatch_cluster_status(struct dispatch *d, const struct delivery *dl)
{
	struct buf meta, json;
	if (!dl->ev->stream_id[0] || !d->cluster.status || dl->ep->url.scheme == URL_STDOUT || dl->state == DLV_DROPPED)
		return;
	buf_init(&meta, 1024);
	buf_init(&json, 4096);
	dispatch_event_meta_json(dl->ev, &meta);
	dispatch_delivery_json(dl, &json);
	if (!meta.failed && !json.failed)
		d->cluster.status(d->cluster.arg, dl->ev->id, dl->ep->name, meta.data, meta.len, json.data, json.len);
	buf_free(&meta);
	buf_free(&json);
}

void dispatch_cluster_finished(struct dispatch *d, const struct event *ev)
{
	size_t i;
	for (i = 0; i < ev->ndl; i++)
		if (ev->dl[i].state == DLV_DROPPED)
			return;
	if (d->cluster.settled)
		d->cluster.settled(d->cluster.arg, ev->stream_id, ev->from_retries);
}

void dispatch_cluster_retry(struct dispatch *d, struct event *ev)
{
	uint64_t due = UINT64_MAX;
	struct buf owed;
	size_t i;
	if (!ev->stream_id[0] || !d->cluster.park)
		return;
	for (i = 0; i < ev->ndl; i++) {
		const struct delivery *dl = &ev->dl[i];
		if (dl->ep->url.scheme == URL_STDOUT || dl->state == DLV_DELIVERED || dl->state == DLV_FAILED ||
		    dl->state == DLV_DROPPED)
			continue;
		/* in flight, parked by a breaker or in an ordered queue: stays */
		if (dl->state != DLV_RETRYING || !timer_armed(&dl->retry) || list_linked(&dl->wait_link) ||
		    dl->ep->ordered)
			return;
		if (dl->next_ms < due)
			due = dl->next_ms;
	}
	if (due == UINT64_MAX || due < clock_wall_ms() + DISPATCH_PARK_MIN_MS)
		return;
	buf_init(&owed, 64 << 10);
	for (i = 0; i < ev->ndl; i++)
		if (ev->dl[i].state == DLV_RETRYING && ev->dl[i].ep->url.scheme != URL_STDOUT)
			buf_printf(&owed, "%s\t%u\n", ev->dl[i].ep->name, ev->dl[i].attempts);
	if (!owed.failed) {
		d->cluster.park(d->cluster.arg, ev->stream_id, ev->from_retries, due, owed.data, owed.len);
		dispatch_event_detach(d, ev);
	}
	buf_free(&owed);
}

size_t dispatch_matching(const struct dispatch *d, const char *type)
{
	size_t i, n = 0;
	for (i = 0; i < d->neps; i++)
		n += (size_t)endpoint_matches(d->eps[i], type);
	return n;
}

size_t dispatch_room(const struct dispatch *d)
{
	return d->pending < d->queue_max ? d->queue_max - d->pending : 0;
}

int dispatch_holds(const struct dispatch *d, const char *stream_id)
{
	const struct list *l;
	for (l = d->active.next; l != &d->active; l = l->next) {
		const struct event *ev = list_entry(l, struct event, link);
		if (strcmp(ev->stream_id, stream_id) == 0)
			return 1;
	}
	return 0;
}

size_t dispatch_held(const struct dispatch *d, int retries, size_t skip, const char **ids, size_t max)
{
	const struct list *l;
	size_t n = 0;
	for (l = d->active.next; l != &d->active && n < max; l = l->next) {
		const struct event *ev = list_entry(l, struct event, link);
		if (!ev->stream_id[0] || ev->from_retries != retries)
			continue;
		if (skip > 0)
			skip--;
		else
			ids[n++] = ev->stream_id;
	}
	return n;
}

/* -1 when ep is not owed, else its attempts so far. */
static int owed_attempts(const struct stream_event *se, const char *name)
{
	const char *p = se->owed, *end = se->owed + se->owed_len;
	size_t n = strlen(name);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *tab = memchr(p, '\t', (size_t)((nl ? nl : end) - p));
		if (tab && (size_t)(tab - p) == n && memcmp(p, name, n) == 0)
			return atoi(tab + 1);
		p = nl ? nl + 1 : end;
	}
	return -1;
}

int dispatch_stream_event(struct dispatch *d, const struct stream_event *se)
{
	struct event *ev;
	size_t i, n = 0;
	int http = 0;
	for (i = 0; i < d->neps; i++)
		n += endpoint_matches(d->eps[i], se->type) && (!se->owed || owed_attempts(se, d->eps[i]->name) >= 0);
	if (n == 0)
		return 0;
	if (!event_id_valid(se->id)) {
		log_msg(LOG_ERROR, "cluster: stream entry with a malformed id: dropped", "stream_id", se->stream_id, NULL);
		return 0;
	}
	if (strlen(se->stream_id) >= sizeof(((struct event *)0)->stream_id) || !(ev = dispatch_event_new(se->type, se->body, se->len, n)))
		return -1;
	snprintf(ev->id, sizeof(ev->id), "%s", se->id);
	snprintf(ev->stream_id, sizeof(ev->stream_id), "%s", se->stream_id);
	ev->from_retries = se->owed != NULL;
	if (se->created_ms)
		ev->created_ms = se->created_ms;
	for (i = 0; i < d->neps; i++) {
		int attempts = se->owed ? owed_attempts(se, d->eps[i]->name) : 0;
		if (endpoint_matches(d->eps[i], se->type) && attempts >= 0)
			dispatch_add_delivery(d, ev, d->eps[i])->attempts = (unsigned)attempts;
	}
	http = ev->unfinished > 0;
	dispatch_launch(d, ev);
	return http;
}
