#include "edgehook/endpoint.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/match.h"
#include "edgehook/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct endpoint_rt *endpoint_new(const struct endpoint_cfg *e, const struct config *cfg)
{
	struct endpoint_rt *ep = calloc(1, sizeof(*ep));
	struct buf h;
	size_t i;
	if (!ep)
		return NULL;
	ep->refs = 1;
	ep->name = strdup(e->name);
	ep->url_text = strdup(e->url_text);
	ep->url = e->url;
	ep->secrets = calloc(e->nsecrets + 1, sizeof(char *));
	for (i = 0; ep->secrets && i < e->nsecrets; i++)
		if ((ep->secrets[i] = strdup(e->secrets[i])))
			ep->nsecrets++;
	ep->retries = (unsigned)(e->retries >= 0 ? e->retries : cfg->webhook.retries);
	ep->timeout_ms = e->timeout_ms ? e->timeout_ms : cfg->webhook.timeout_ms;
	ep->backoff_ms = cfg->webhook.backoff_ms;
	ep->max_backoff_ms = cfg->webhook.max_backoff_ms;
	ep->max_in_flight = e->max_in_flight;
	/* fire-and-forget endpoints keep today's behaviour: nothing waits */
	ep->breaker_failures = ep->retries ? cfg->webhook.breaker.failures : 0;
	ep->breaker_cooldown_ms = cfg->webhook.breaker.cooldown_ms;
	ep->disable_after_ms = cfg->webhook.breaker.disable_after_ms;
	list_init(&ep->breaker.waiting);
	ep->ordered = e->ordered;
	list_init(&ep->order);
	buf_init(&h, 64 << 10);
	buf_printf(&h, "Content-Type: application/json\r\nUser-Agent: %s\r\n", cfg->webhook.user_agent);
	for (i = 0; i < e->nheaders; i++)
		buf_printf(&h, "%s: %s\r\n", e->headers[i].name, e->headers[i].value);
	buf_append(&h, "", 1);
	ep->headers = h.data;
	ep->events = calloc(e->nevents + 1, sizeof(char *));
	if (ep->events)
		for (i = 0; i < e->nevents; i++)
			ep->events[ep->nevents++] = strdup(e->events[i]);
	if (!ep->name || !ep->url_text || !ep->headers || !ep->events || ep->nsecrets < e->nsecrets) {
		endpoint_unref(ep);
		return NULL;
	}
	for (i = 0; i < ep->nevents; i++)
		if (!ep->events[i]) {
			endpoint_unref(ep);
			return NULL;
		}
	return ep;
}

void endpoint_ref(struct endpoint_rt *ep) { ep->refs++; }

void endpoint_unref(struct endpoint_rt *ep)
{
	size_t i;
	if (!ep || --ep->refs > 0)
		return;
	free(ep->name);
	free(ep->url_text);
	for (i = 0; ep->secrets && i < ep->nsecrets; i++)
		free(ep->secrets[i]);
	free(ep->secrets);
	free(ep->headers);
	for (i = 0; ep->events && i < ep->nevents; i++)
		free(ep->events[i]);
	free(ep->events);
	free(ep);
}

uint64_t endpoint_backoff_ms(const struct endpoint_rt *ep, unsigned attempt)
{
	uint64_t wait = ep->backoff_ms;
	unsigned i;
	int64_t jitter;
	for (i = 1; i < attempt && wait < ep->max_backoff_ms; i++)
		wait *= 2;
	if (wait > ep->max_backoff_ms)
		wait = ep->max_backoff_ms;
	/* +-20%, uniform */
	jitter = (int64_t)(wait / 5);
	if (jitter > 0)
		wait = (uint64_t)((int64_t)wait - jitter + (int64_t)(rand_u32() % (uint32_t)(2 * jitter + 1)));
	return wait;
}

int endpoint_matches(const struct endpoint_rt *ep, const char *type)
{
	return !ep->disabled && match_any((const char *const *)ep->events, ep->nevents, type);
}

int endpoint_json(struct buf *b, const struct endpoint_rt *ep)
{
	const struct endpoint_counters *n = &ep->n;
	size_t i;
	buf_puts(b, "{");
	json_put_kv(b, 0, "name", ep->name);
	json_put_kv(b, 1, "url", ep->url_text);
	buf_puts(b, ",\"events\":[");
	for (i = 0; i < ep->nevents; i++) {
		if (i)
			buf_puts(b, ",");
		json_put_cstr(b, ep->events[i]);
	}
	buf_printf(b, "],\"signed\":%s,\"retries\":%u,\"timeout_ms\":%llu,\"max_in_flight\":%u,\"in_flight\":%u",
			 ep->nsecrets ? "true" : "false", ep->retries, (unsigned long long)ep->timeout_ms,
			 ep->max_in_flight, ep->in_flight);
	buf_printf(b, ",\"delivered\":%llu,\"failed\":%llu,\"retried\":%llu,\"dropped\":%llu,\"attempts\":%llu",
			 (unsigned long long)n->delivered, (unsigned long long)n->failed,
			 (unsigned long long)n->retried, (unsigned long long)n->dropped,
			 (unsigned long long)n->attempts);
	buf_printf(b, ",\"ordered\":%s", ep->ordered ? "true" : "false");
	buf_printf(b, ",\"breaker\":\"%s\"", ep->breaker.state == BREAKER_CLOSED ? "closed"
						 : ep->breaker.state == BREAKER_OPEN ? "open" : "half_open");
	buf_printf(b, ",\"disabled\":%s,\"consecutive_failures\":%llu,\"health\":\"%s\",\"last_status\":%d,"
		      "\"last_error\":",
		   ep->disabled ? "true" : "false", (unsigned long long)n->consecutive_failures,
		   ep->disabled ? "disabled" : n->consecutive_failures ? "failing" : n->attempts ? "healthy" : "unknown",
		   n->last_status);
	json_put_cstr_or_null(b, n->last_error);
	/* the breaker keeps monotonic time: shown as the wall clock's */
	event_put_time_member(b, "failing_since", ep->breaker.failing_since_ms ?
				  clock_wall_ms() - (clock_now_ms() - ep->breaker.failing_since_ms) : 0);
	buf_puts(b, "}");
	return b->failed ? -1 : 0;
}
