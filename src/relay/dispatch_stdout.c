/* dispatch_stdout: the "stdout:" endpoint. Each event becomes one compact
 * JSON line through a bounded non-blocking writer; a line that does not
 * fit is dropped, counted and logged, never waited for. */
#include "dispatch_internal.h"
#include "edgehook/clock.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"

#include <stdio.h>
#include <unistd.h>

enum { STDOUT_QUEUE = 4 << 20, LINE_KEEP = 65536 };

void dispatch_stdout_init(struct dispatch_stdout *s, struct reactor *r)
{
	ostream_init(&s->out, r, STDOUT_FILENO, STDOUT_QUEUE);
	buf_init(&s->line, STDOUT_QUEUE);
}

void dispatch_stdout_close(struct dispatch_stdout *s)
{
	ostream_flush(&s->out);
	ostream_close(&s->out);
	buf_free(&s->line);
}

void dispatch_flush(struct dispatch *d) { ostream_flush(&d->out.out); }

void dispatch_stdout_deliver(struct dispatch_stdout *s, struct delivery *dl)
{
	struct event *ev = dl->ev;
	s->line.len = 0;
	dl->attempts = 1;
	dl->first_ms = dl->last_ms = clock_wall_ms();
	dl->ep->n.attempts++;
	if (event_json_compact(&s->line, ev->body, ev->len) < 0 || buf_append(&s->line, "\n", 1) < 0 ||
	    ostream_write(&s->out, s->line.data, s->line.len) < 0) {
		dl->ep->n.dropped++;
		snprintf(dl->last_error, sizeof(dl->last_error), "stdout queue full");
		log_msg(LOG_WARN, "delivery dropped", "endpoint", dl->ep->name, "event", ev->type, "id", ev->id, "err",
			dl->last_error, NULL);
		dispatch_delivery_finish(dl, DLV_DROPPED);
	} else {
		dl->ep->n.delivered++;
		dispatch_delivery_finish(dl, DLV_DELIVERED);
	}
	if (s->line.cap > LINE_KEEP)
		buf_free(&s->line);
}
