/* dispatch_spool: the dispatcher's durable side. An event with HTTP
 * deliveries is logged (SPOOL_EVENT) before it launches; each delivery
 * that ends delivered or failed logs SPOOL_DONE. At start the log is
 * replayed into a table of events and, once the spool is open, every
 * event with a matching endpoint that has no SPOOL_DONE is launched again
 * with its own id, so receivers can dedupe on webhook-id.
 *
 * Payloads (little endian):
 *   EVENT: u8 idlen, id, u8 typelen, type, u64 created_ms, body
 *   DONE:  u8 idlen, id, u8 state, endpoint name */
#include "dispatch_internal.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"
#include "edgehook/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPOOL_EVENT = 1, SPOOL_DONE = 2 };

struct rec_event {
	char id[EVENT_ID_LEN];
	char type[EVENT_TYPE_MAX];
	char *body;
	size_t len;
	uint64_t created_ms, seg;
	char **done; /* endpoint names with a final outcome */
	size_t ndone;
};

struct dispatch_recovery {
	struct rec_event *ev;
	size_t n, cap;
	size_t *index; /* open addressing over ev, SIZE_MAX when empty */
	size_t icap;
	uint64_t oom;
};

static uint64_t id_hash(const char *id, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	while (n--)
		h = (h ^ (unsigned char)*id++) * 1099511628211ULL;
	return h;
}

static size_t *slot(struct dispatch_recovery *rc, const char *id, size_t n)
{
	size_t i = (size_t)id_hash(id, n) & (rc->icap - 1);
	while (rc->index[i] != SIZE_MAX &&
	       (strlen(rc->ev[rc->index[i]].id) != n || memcmp(rc->ev[rc->index[i]].id, id, n) != 0))
		i = (i + 1) & (rc->icap - 1);
	return &rc->index[i];
}

static int grow_index(struct dispatch_recovery *rc)
{
	size_t ncap = rc->icap ? rc->icap * 2 : 1024, i;
	size_t *old = rc->index, ocap = rc->icap;
	if (!(rc->index = malloc(ncap * sizeof(*rc->index)))) {
		rc->index = old;
		return -1;
	}
	for (i = 0; i < ncap; i++)
		rc->index[i] = SIZE_MAX;
	rc->icap = ncap;
	for (i = 0; i < ocap; i++)
		if (old[i] != SIZE_MAX)
			*slot(rc, rc->ev[old[i]].id, strlen(rc->ev[old[i]].id)) = old[i];
	free(old);
	return 0;
}

/* One length-prefixed string out of p; NULL when it does not fit. */
static const unsigned char *take_str(const unsigned char *p, const unsigned char *end, const char **s, size_t *n,
				     size_t cap)
{
	if (p >= end || (size_t)(end - p) < 1u + *p || *p == 0 || *p >= cap)
		return NULL;
	*n = *p;
	*s = (const char *)p + 1;
	return p + 1 + *n;
}

static void replay_event(struct dispatch_recovery *rc, uint64_t seg, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	const char *id, *type;
	size_t idn, typen, *at, k;
	struct rec_event *e;
	uint64_t created = 0;
	if (!(p = take_str(p, end, &id, &idn, EVENT_ID_LEN)) || !(p = take_str(p, end, &type, &typen, EVENT_TYPE_MAX)) ||
	    end - p < 8)
		return;
	for (k = 0; k < 8; k++)
		created |= (uint64_t)p[k] << (8 * k);
	p += 8;
	if ((rc->n + 1) * 2 > rc->icap && grow_index(rc) < 0)
		goto oom;
	if (*(at = slot(rc, id, idn)) != SIZE_MAX)
		return; /* written twice: the first one counts */
	if (rc->n == rc->cap) {
		size_t ncap = rc->cap ? rc->cap * 2 : 256;
		struct rec_event *g = realloc(rc->ev, ncap * sizeof(*g));
		if (!g)
			goto oom;
		rc->ev = g;
		rc->cap = ncap;
	}
	e = &rc->ev[rc->n];
	memset(e, 0, sizeof(*e));
	if (!(e->body = malloc((size_t)(end - p) + 1)))
		goto oom;
	memcpy(e->id, id, idn);
	memcpy(e->type, type, typen);
	memcpy(e->body, p, (size_t)(end - p));
	e->len = (size_t)(end - p);
	e->created_ms = created;
	e->seg = seg;
	*at = rc->n++;
	return;
oom:
	rc->oom++;
}

static void replay_done(struct dispatch_recovery *rc, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	const char *id;
	size_t idn, *at;
	struct rec_event *e;
	char **g;
	if (!rc->icap || !(p = take_str(p, end, &id, &idn, EVENT_ID_LEN)) || end - p < 2)
		return;
	if (*(at = slot(rc, id, idn)) == SIZE_MAX)
		return; /* its event is in a segment already deleted */
	e = &rc->ev[*at];
	p++; /* the state: delivered or failed, both final */
	if (!(g = realloc(e->done, (e->ndone + 1) * sizeof(*g))) || !(g[e->ndone] = strndup((const char *)p, (size_t)(end - p)))) {
		if (g)
			e->done = g;
		rc->oom++;
		return;
	}
	e->done = g;
	e->ndone++;
}

void dispatch_spool_replay(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n)
{
	struct dispatch *d = arg;
	if (!d->recovery && !(d->recovery = calloc(1, sizeof(*d->recovery))))
		return;
	if (type == SPOOL_EVENT)
		replay_event(d->recovery, seg, p, n);
	else if (type == SPOOL_DONE)
		replay_done(d->recovery, p, n);
}

static int is_done(const struct rec_event *e, const char *endpoint)
{
	size_t i;
	for (i = 0; i < e->ndone; i++)
		if (strcmp(e->done[i], endpoint) == 0)
			return 1;
	return 0;
}

static int owed(const struct rec_event *e, const struct endpoint_rt *ep)
{
	return ep->url.scheme != URL_STDOUT && endpoint_matches(ep, e->type) && !is_done(e, ep->name);
}

/* Launches one recovered event to the endpoints still owed it. Recovered
 * work is not subject to the queue bounds: it was accepted already. */
static size_t resume_one(struct dispatch *d, struct rec_event *e)
{
	struct event *ev;
	size_t i, n = 0;
	for (i = 0; i < d->neps; i++)
		n += (size_t)owed(e, d->eps[i]);
	if (n == 0 || !(ev = dispatch_event_new(e->type, e->body, e->len, n)))
		return 0;
	memcpy(ev->id, e->id, sizeof(ev->id));
	ev->created_ms = e->created_ms;
	ev->spooled = 1;
	ev->spool_seg = e->seg;
	spool_hold(d->spool, e->seg);
	for (i = 0; i < d->neps; i++)
		if (owed(e, d->eps[i]))
			dispatch_add_delivery(d, ev, d->eps[i]);
	dispatch_launch(d, ev);
	return n;
}

static void recovery_free(struct dispatch_recovery *rc)
{
	size_t i, k;
	if (!rc)
		return;
	for (i = 0; i < rc->n; i++) {
		for (k = 0; k < rc->ev[i].ndone; k++)
			free(rc->ev[i].done[k]);
		free(rc->ev[i].done);
		free(rc->ev[i].body);
	}
	free(rc->ev);
	free(rc->index);
	free(rc);
}

void dispatch_spool_discard(struct dispatch *d)
{
	recovery_free(d->recovery);
	d->recovery = NULL;
}

uint64_t dispatch_spool_lsn(const struct dispatch *d) { return d->spool_lsn; }

void dispatch_spool_resume(struct dispatch *d, struct spool *s)
{
	struct dispatch_recovery *rc = d->recovery;
	size_t i, events = 0, deliveries = 0;
	char v[3][24];
	d->spool = s;
	for (i = 0; rc && i < rc->n; i++) {
		size_t n = resume_one(d, &rc->ev[i]);
		deliveries += n;
		events += n > 0;
	}
	snprintf(v[0], sizeof(v[0]), "%zu", events);
	snprintf(v[1], sizeof(v[1]), "%zu", deliveries);
	snprintf(v[2], sizeof(v[2]), "%llu", rc ? (unsigned long long)rc->oom : 0ULL);
	log_msg(rc && rc->oom ? LOG_ERROR : LOG_INFO, "spool: deliveries resumed", "events", v[0], "deliveries", v[1],
		"out_of_memory", v[2], NULL);
	recovery_free(rc);
	d->recovery = NULL;
}

static int put_str(unsigned char *p, const char *s, size_t n)
{
	p[0] = (unsigned char)n;
	memcpy(p + 1, s, n);
	return (int)n + 1;
}

int dispatch_spool_event(struct dispatch *d, struct event *ev)
{
	size_t idn = strlen(ev->id), typen = strlen(ev->type), hn = 2 + idn + typen + 8, k;
	unsigned char *rec = malloc(hn + ev->len);
	int rc;
	if (!rec)
		return -1;
	put_str(rec, ev->id, idn);
	put_str(rec + 1 + idn, ev->type, typen);
	for (k = 0; k < 8; k++)
		rec[hn - 8 + k] = (unsigned char)(ev->created_ms >> (8 * k));
	memcpy(rec + hn, ev->body, ev->len);
	rc = spool_append(d->spool, SPOOL_EVENT, rec, hn + ev->len, &ev->spool_seg, &d->spool_lsn);
	free(rec);
	if (rc < 0)
		return -1;
	ev->spooled = 1;
	spool_hold(d->spool, ev->spool_seg);
	return 0;
}

/* A lost DONE record only means the delivery is repeated after a crash. */
void dispatch_spool_done(struct dispatch *d, const struct delivery *dl)
{
	unsigned char rec[1 + EVENT_ID_LEN + 1 + 256];
	size_t idn = strlen(dl->ev->id), nn = strlen(dl->ep->name);
	int at;
	if (nn > 256)
		return;
	at = put_str(rec, dl->ev->id, idn);
	rec[at++] = (unsigned char)dl->state;
	memcpy(rec + at, dl->ep->name, nn);
	if (spool_append(d->spool, SPOOL_DONE, rec, (size_t)at + nn, NULL, NULL) < 0)
		log_msg(LOG_WARN, "spool: outcome not logged (it may be repeated after a restart)", "id", dl->ev->id,
			"endpoint", dl->ep->name, NULL);
}
