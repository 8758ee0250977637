/* received: the ring of accepted webhooks (see received.h). */
#include "edgehook/received.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/json.h"
#include "edgehook/strutil.h"

#include <stdio.h>
#include <stdlib.h>

void received_add(struct received_log *l, const char *trigger, const char *id, const char *delivery,
		  const char *event, const char *event_id, const char *run_id)
{
	struct received *e;
	l->total++;
	if (!l->ring && !(l->ring = calloc(RECEIVED_MAX, sizeof(*l->ring)))) {
		l->unrecorded++;
		return;
	}
	e = &l->ring[l->head];
	e->at_ms = clock_wall_ms();
	snprintf(e->trigger, sizeof(e->trigger), "%s", trigger);
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->delivery, sizeof(e->delivery), "%s", delivery);
	snprintf(e->event, sizeof(e->event), "%s", event);
	snprintf(e->event_id, sizeof(e->event_id), "%s", event_id);
	snprintf(e->run_id, sizeof(e->run_id), "%s", run_id);
	l->head = (l->head + 1) % RECEIVED_MAX;
	if (l->len < RECEIVED_MAX)
		l->len++;
}

static void put_or_null(struct buf *out, const char *key, const char *v)
{
	buf_printf(out, ",\"%s\":", key);
	json_put_cstr_or_null(out, v[0] ? v : NULL);
}

void received_json(const struct received_log *l, const char *trigger, size_t tlen, size_t limit, struct buf *out)
{
	size_t i, n = 0;
	buf_puts(out, "{\"received\":[");
	for (i = 1; i <= l->len && n < limit; i++) {
		const struct received *e = &l->ring[(l->head + RECEIVED_MAX - i) % RECEIVED_MAX];
		if (trigger && !str_slice_eq(trigger, tlen, e->trigger))
			continue;
		buf_puts(out, n++ ? ",{" : "{");
		json_put_kv(out, 0, "trigger", e->trigger);
		json_put_kv(out, 1, "id", e->id);
		put_or_null(out, "delivery", e->delivery);
		json_put_kv(out, 1, "event", e->event);
		event_put_time_member(out, "received", e->at_ms);
		put_or_null(out, "event_id", e->event_id);
		put_or_null(out, "run_id", e->run_id);
		buf_puts(out, "}");
	}
	buf_printf(out, "],\"total\":%llu,\"unrecorded\":%llu}", (unsigned long long)l->total,
		   (unsigned long long)l->unrecorded);
}

void received_free(struct received_log *l)
{
	free(l->ring);
	l->ring = NULL;
	l->head = l->len = 0;
}
