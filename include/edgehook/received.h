/* received: the last webhooks the triggers accepted, newest kept, for
 * GET /api/v1/received (the status page's "last deliveries" of each
 * trigger). A fixed ring of RECEIVED_MAX entries, allocated at the first
 * one; when that allocation fails the entry is counted as unrecorded. */
#ifndef EDGEHOOK_RECEIVED_H
#define EDGEHOOK_RECEIVED_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/event.h"

struct buf;

enum { RECEIVED_MAX = 128 };

struct received {
	uint64_t at_ms; /* wall clock */
	char trigger[129];
	char id[EVENT_ID_LEN];   /* dlv_..., as answered to the sender */
	char delivery[129];      /* the sender's delivery id, "" when none */
	char event[EVENT_TYPE_MAX];
	char event_id[EVENT_ID_LEN]; /* "" when nothing was emitted */
	char run_id[EVENT_ID_LEN];   /* "" when nothing was run */
};

struct received_log {
	struct received *ring;
	size_t head, len;
	uint64_t total, unrecorded;
};

/* Records one accepted webhook now; strings are cut to their fields,
 * "" stands for none. */
void received_add(struct received_log *l, const char *trigger, const char *id, const char *delivery,
		  const char *event, const char *event_id, const char *run_id);
/* {"received":[...],"total":N,"unrecorded":N}, newest first, at most
 * limit entries, only trigger's when trigger is not NULL. */
void received_json(const struct received_log *l, const char *trigger, size_t tlen, size_t limit, struct buf *out);
void received_free(struct received_log *l);

#endif
