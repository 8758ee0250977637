/* dispatch_replay: sends an event of the status history again, with the
 * same id (webhook-id), so receivers that dedupe on it see a repeat.
 * A replay is not spooled: a crash before it finishes loses it, and the
 * caller replays again. */
#include "dispatch_internal.h"
#include "edgehook/endpoint.h"

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
