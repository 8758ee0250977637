/* event: identifiers, envelopes and JSON helpers for events.
 *
 * An event is a JSON object with at least a string "event" member. The
 * builders here append to a caller buffer and fail with -1 when it is
 * full; nothing else is allocated. */
#ifndef EDGEHOOK_EVENT_H
#define EDGEHOOK_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"

/* EVENT_TYPE_MAX: the buffer for an event type, NUL included (a type
 * has at most 127 bytes). */
enum { EVENT_ID_LEN = 32, EVENT_TYPE_MAX = 128 };

struct trigger_envelope {
	const char *type;
	const char *trigger_id;
	const char *delivery_id;
	const char *source_ip;
	const char *data; /* JSON text (compacted), or NULL for null */
	size_t data_len;
};

int event_trigger_envelope(struct buf *out, const struct trigger_envelope *env);
/* Copies JSON text without insignificant whitespace, so it fits on one
 * line (strings cannot hold raw newlines). The input must be valid. */
int event_json_compact(struct buf *out, const char *json, size_t len);
/* Appends the current time as a JSON string (ISO 8601 UTC). */
int event_put_timestamp(struct buf *out);
/* Appends ,"key":"<ISO 8601 of wall_ms>", or ,"key":null when 0. */
int event_put_time_member(struct buf *out, const char *key, uint64_t wall_ms);
/* Whether id is an event id as edgehook makes them (letters, digits, '_'
 * and '-', shorter than EVENT_ID_LEN): ids read back from Redis or the
 * spool go out as the webhook-id header, so nothing else may. */
int event_id_valid(const char *id);

#endif
