/* dispatch_status: an event's deliveries as JSON, for GET
 * /api/v1/events/{id} (api.c) and, in cluster mode, for the shared
 * status hash any instance answers from (dispatch_cluster.c). */
#include "dispatch_internal.h"
#include "edgehook/endpoint.h"
#include "edgehook/json.h"

void dispatch_event_meta_json(const struct event *ev, struct buf *out)
{
	json_put_kv(out, 0, "id", ev->id);
	json_put_kv(out, 1, "event", ev->type);
	event_put_time_member(out, "created", ev->created_ms);
}

void dispatch_delivery_json(const struct delivery *dl, struct buf *out)
{
	buf_puts(out, "{");
	json_put_kv(out, 0, "endpoint", dl->ep->name);
	json_put_kv(out, 1, "url", dl->ep->url_text);
	json_put_kv(out, 1, "state", dispatch_state_names[dl->state]);
	buf_printf(out, ",\"attempts\":%u,\"last_status\":", dl->attempts);
	json_put_int_or_null(out, dl->last_status != 0, dl->last_status);
	buf_puts(out, ",\"last_error\":");
	json_put_cstr_or_null(out, dl->last_error);
	event_put_time_member(out, "first_attempt", dl->first_ms);
	event_put_time_member(out, "last_attempt", dl->last_ms);
	event_put_time_member(out, "next_attempt", dl->next_ms);
	event_put_time_member(out, "completed", dl->done_ms);
	buf_puts(out, "}");
}

void dispatch_event_json(const struct event *ev, struct buf *out)
{
	size_t k;
	buf_puts(out, "{");
	dispatch_event_meta_json(ev, out);
	buf_puts(out, ",\"deliveries\":[");
	for (k = 0; k < ev->ndl; k++) {
		if (k)
			buf_puts(out, ",");
		dispatch_delivery_json(&ev->dl[k], out);
	}
	buf_puts(out, "]}");
}
