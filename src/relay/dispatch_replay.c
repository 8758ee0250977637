/* dispatch_replay: sends an event of the status history again, with the
 * same id (webhook-id), so receivers that dedupe on it see a repeat.
 * A replay is not spooled: a crash before it finishes loses it, and the
 * caller replays again. */
#include "dispatch_internal.h"
#include "edgehook/endpoint.h"

#include <stdlib.h>
#include <string.h>

static int replay_to(const struct endpoint_rt *ep, const struct event *old, const char *name)
{
	if (ep->url.scheme == URL_STDOUT || ep->disabled)
		return 0;
	return name ? strcmp(ep->name, name) == 0 : endpoint_matches(ep, old->type);
}

int dispatch_replay(struct dispatch *d, const char *id, const char *endpoint, const char **why)
{
	const struct event *old = dispatch_find_event(d, id);
	struct event *ev;
	size_t i, n = 0;
	if (!old) {
		*why = "unknown event (or no longer in the status history)";
		return -1;
	}
	for (i = 0; i < d->neps; i++)
		n += (size_t)replay_to(d->eps[i], old, endpoint);
	if (n == 0) {
		*why = endpoint ? "unknown or disabled endpoint" : "no enabled endpoint takes this event";
		return -1;
	}
	if (!old->body) {
		*why = "the event's body is no longer held (max_queue_bytes)";
		return -1;
	}
	if (d->pending + n > d->queue_max || d->pending_bytes + old->len > d->bytes_max ||
	    !(ev = dispatch_event_new(old->type, old->body, old->len, n))) {
		d->events_rejected++;
		*why = "queue full";
		return -2;
	}
	memcpy(ev->id, old->id, sizeof(ev->id));
	for (i = 0; i < d->neps; i++)
		if (replay_to(d->eps[i], old, endpoint))
			dispatch_add_delivery(d, ev, d->eps[i]);
	dispatch_launch(d, ev);
	return (int)n;
}

/* The newest entry of ev's id failed to endpoint since since_ms: an
 * event that was recovered already is not sent again. */
static int dead_since(const struct dispatch *d, const struct event *ev, const char *endpoint, uint64_t since_ms)
{
	size_t k;
	if (dispatch_find_event(d, ev->id) != ev)
		return 0;
	for (k = 0; k < ev->ndl; k++)
		if (ev->dl[k].state == DLV_FAILED && ev->dl[k].done_ms >= since_ms &&
		    strcmp(ev->dl[k].ep->name, endpoint) == 0)
			return 1;
	return 0;
}

int dispatch_recover(struct dispatch *d, const char *endpoint, uint64_t since_ms)
{
	size_t i, n = 0, len = history_len(&d->done);
	char (*ids)[EVENT_ID_LEN];
	const char *why;
	int replayed = 0, rc = 0;
	for (i = 0; i < d->neps && strcmp(d->eps[i]->name, endpoint) != 0; i++)
		;
	if (i == d->neps)
		return -1;
	/* the ids first: each replay adds to the history it walks */
	ids = malloc((len ? len : 1) * sizeof(*ids));
	if (!ids)
		return -2;
	for (i = 0; i < len; i++) {
		const struct event *ev = history_at(&d->done, i);
		if (dead_since(d, ev, endpoint, since_ms))
			memcpy(ids[n++], ev->id, EVENT_ID_LEN);
	}
	for (i = 0; i < n && rc != -2; i++)
		if ((rc = dispatch_replay(d, ids[i], endpoint, &why)) > 0)
			replayed++;
	free(ids);
	return rc == -2 ? -2 : replayed;
}
