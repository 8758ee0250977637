/* dispatch_breaker: the circuit breaker of each endpoint. After
 * breaker.failures consecutive failures it opens: no attempts for the
 * cooldown, then one probe (half open); a failed probe doubles the
 * cooldown (up to 10 minutes, or the configured cooldown if longer), a
 * success closes it. Deliveries that come due meanwhile wait on the
 * endpoint's list instead of spending their retries. */
#include "dispatch_internal.h"
#include "edgehook/clock.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"

#include <stdio.h>
#include <string.h>

enum { MAX_COOLDOWN_MS = 600000 };

/* dl waits: until the cooldown ends when open, for the probe's outcome
 * when half open. */
static void park(struct delivery *dl)
{
	struct endpoint_breaker *b = &dl->ep->breaker;
	uint64_t now = clock_now_ms();
	if (!list_linked(&dl->wait_link))
		list_push_back(&b->waiting, &dl->wait_link);
	dl->state = DLV_RETRYING;
	dl->next_ms = 0;
	timer_stop(dl->d->r, &dl->retry);
	if (b->state == BREAKER_OPEN) {
		uint64_t wait = b->open_until_ms > now ? b->open_until_ms - now : 0;
		dl->next_ms = clock_wall_ms() + wait;
		timer_start(dl->d->r, &dl->retry, wait);
	}
}

static void open_breaker(struct endpoint_rt *ep, uint64_t cooldown_ms)
{
	struct endpoint_breaker *b = &ep->breaker;
	char failures[24], cooldown[32];
	struct list *it;
	b->state = BREAKER_OPEN;
	b->cooldown_ms = cooldown_ms;
	b->open_until_ms = clock_now_ms() + cooldown_ms;
	snprintf(failures, sizeof(failures), "%llu", (unsigned long long)ep->n.consecutive_failures);
	dispatch_duration_text(cooldown, sizeof(cooldown), cooldown_ms);
	log_msg(LOG_WARN, "breaker open", "endpoint", ep->name, "failures", failures, "cooldown", cooldown, NULL);
	for (it = b->waiting.next; it != &b->waiting; it = it->next)
		park(list_entry(it, struct delivery, wait_link));
}

/* Empties the waiting list into a local one first: each attempt may
 * fail at once and open the breaker again. */
static void close_breaker(struct endpoint_rt *ep)
{
	struct endpoint_breaker *b = &ep->breaker;
	struct list go;
	b->state = BREAKER_CLOSED;
	b->cooldown_ms = 0;
	log_msg(LOG_INFO, "breaker closed", "endpoint", ep->name, NULL);
	list_take_all(&go, &b->waiting);
	while (!list_empty(&go)) {
		struct delivery *dl = list_first(&go, struct delivery, wait_link);
		list_remove(&dl->wait_link);
		timer_stop(dl->d->r, &dl->retry);
		dispatch_attempt(dl);
	}
}

/* Cluster mode: the other instances open theirs for the same time. */
static void announce(struct dispatch *d, const struct endpoint_rt *ep)
{
	if (d->cluster.breaker)
		d->cluster.breaker(d->cluster.arg, ep->name, ep->breaker.cooldown_ms);
}

void dispatch_breaker_shared(struct dispatch *d, const char *name, uint64_t ms)
{
	struct endpoint_rt *ep = NULL;
	size_t i;
	for (i = 0; i < d->neps && !ep; i++)
		if (strcmp(d->eps[i]->name, name) == 0)
			ep = d->eps[i];
	if (!ep || !ep->breaker_failures || ep->breaker.state != BREAKER_CLOSED || ms == 0)
		return;
	log_msg(LOG_INFO, "breaker opened by another instance", "endpoint", name, NULL);
	open_breaker(ep, ms);
}

size_t dispatch_breaker_names(const struct dispatch *d, const char **names, size_t max)
{
	size_t i, n = 0;
	for (i = 0; i < d->neps && n < max; i++)
		if (d->eps[i]->breaker_failures)
			names[n++] = d->eps[i]->name;
	return n;
}

int dispatch_breaker_admit(struct delivery *dl)
{
	struct endpoint_breaker *b = &dl->ep->breaker;
	if (list_linked(&dl->wait_link))
		list_remove(&dl->wait_link);
	if (b->state == BREAKER_CLOSED || dl->test)
		return 1;
	if (b->state == BREAKER_OPEN && clock_now_ms() >= b->open_until_ms) {
		b->state = BREAKER_HALF_OPEN;
		return 1;
	}
	park(dl);
	return 0;
}

void dispatch_breaker_park(struct delivery *dl) { park(dl); }

int dispatch_breaker_failure(struct delivery *dl)
{
	struct endpoint_rt *ep = dl->ep;
	struct endpoint_breaker *b = &ep->breaker;
	uint64_t now = clock_now_ms();
	if (!b->failing_since_ms)
		b->failing_since_ms = now ? now : 1;
	if (ep->disable_after_ms && now - b->failing_since_ms >= ep->disable_after_ms) {
		char why[48], d[32];
		dispatch_duration_text(d, sizeof(d), ep->disable_after_ms);
		snprintf(why, sizeof(why), "failing for %s", d);
		dispatch_disable(ep, why);
		return 0;
	}
	if (b->state == BREAKER_HALF_OPEN) {
		uint64_t cap = ep->breaker_cooldown_ms > MAX_COOLDOWN_MS ? ep->breaker_cooldown_ms : MAX_COOLDOWN_MS;
		open_breaker(ep, b->cooldown_ms * 2 < cap ? b->cooldown_ms * 2 : cap);
		announce(dl->d, ep);
	} else if (b->state == BREAKER_CLOSED && ep->breaker_failures &&
		   ep->n.consecutive_failures >= ep->breaker_failures) {
		open_breaker(ep, ep->breaker_cooldown_ms);
		announce(dl->d, ep);
	}
	return b->state != BREAKER_CLOSED;
}

void dispatch_breaker_success(struct endpoint_rt *ep)
{
	ep->breaker.failing_since_ms = 0;
	if (ep->breaker.state != BREAKER_CLOSED)
		close_breaker(ep);
}

void dispatch_breaker_reset(struct endpoint_rt *ep)
{
	ep->n.consecutive_failures = 0;
	dispatch_breaker_success(ep);
}
