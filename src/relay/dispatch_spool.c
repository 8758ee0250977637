/* dispatch_spool: the dispatcher's durable side. An event with HTTP
 * deliveries is logged (SPOOL_EVENT) before it launches; each failed
 * attempt that will be retried logs SPOOL_STATE with the attempts so far
 * and the next attempt's time, and each delivery that ends delivered or
 * failed logs SPOOL_STATE with its outcome. At start the log is replayed
 * into a table of events; once the spool is open, every (event,
 * endpoint) without a final state is launched again with its own id (so
 * receivers can dedupe on webhook-id), its attempt count and its next
 * attempt's time, and the settled events go to the status history, so
 * dead letters, replay and recover reach them after a restart.
 *
 * A segment pinned by few long-pending events is carried forward: their
 * EVENT and STATE records are written again (to the current segment) and
 * their holds move there, so the old segment can expire.
 *
 * Payloads (little endian):
 *   EVENT: u8 idlen, id, u8 typelen, type, u64 created_ms, body
 *   DONE:  u8 idlen, id, u8 state, endpoint name     (read only: older spools)
 *   STATE: u8 idlen, id, u8 state, u32 attempts, u64 next_ms, u64 at_ms,
 *          u16 last_status, u8 errlen, last_error, endpoint name
 * Types 1-15 are the dispatcher's. */
#include "dispatch_internal.h"
#include "edgehook/grow.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"
#include "edgehook/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPOOL_EVENT = 1, SPOOL_DONE = 2, SPOOL_STATE = 8, STATE_FIXED = 1 + 4 + 8 + 8 + 2 };

/* The last state logged for one endpoint of a recovered event. */
struct rec_dl {
	char *name;
	unsigned state, attempts;
	int status;
	uint64_t next_ms, at_ms;
	char error[64];
};

struct rec_event {
	char id[EVENT_ID_LEN];
	char type[EVENT_TYPE_MAX];
	char *body;
	size_t len;
	uint64_t created_ms, seg;
	struct rec_dl *dl;
	size_t ndl;
	int kept; /* settled, its body in the kept FIFO */
};

struct dispatch_recovery {
	struct rec_event *ev;
	size_t n, cap;
	size_t *index; /* open addressing over ev, SIZE_MAX when empty */
	size_t icap;
	/* settled events holding a body, in the order they settled; the
	 * oldest lose theirs past max_queue_bytes, so a large spool does not
	 * come back into memory whole: only what is owed, and what the
	 * status history would keep */
	size_t *kept, kept_head, nkept, capkept, kept_bytes;
	size_t restored; /* settled events put back in the status history */
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
	char idz[EVENT_ID_LEN];
	size_t idn, typen, *at, k;
	struct rec_event *e;
	uint64_t created = 0;
	if (!(p = take_str(p, end, &id, &idn, EVENT_ID_LEN)) || !(p = take_str(p, end, &type, &typen, EVENT_TYPE_MAX)) ||
	    end - p < 8)
		return;
	memcpy(idz, id, idn);
	idz[idn] = '\0';
	if (!event_id_valid(idz)) /* it would go out as the webhook-id header */
		return;
	for (k = 0; k < 8; k++)
		created |= (uint64_t)p[k] << (8 * k);
	p += 8;
	if ((rc->n + 1) * 2 > rc->icap && grow_index(rc) < 0)
		goto oom;
	if (*(at = slot(rc, id, idn)) != SIZE_MAX)
		return; /* written twice: the first one counts */
	if (array_grow((void **)&rc->ev, &rc->cap, rc->n, sizeof(*rc->ev), 256) < 0)
		goto oom;
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

static uint64_t get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

static struct rec_dl *rec_dl_for(struct dispatch_recovery *rc, struct rec_event *e, const char *name, size_t n)
{
	struct rec_dl *g;
	size_t i;
	for (i = 0; i < e->ndl; i++)
		if (strlen(e->dl[i].name) == n && memcmp(e->dl[i].name, name, n) == 0)
			return &e->dl[i];
	if (!(g = realloc(e->dl, (e->ndl + 1) * sizeof(*g))))
		goto oom;
	e->dl = g;
	memset(&g[e->ndl], 0, sizeof(*g));
	if (!(g[e->ndl].name = strndup(name, n)))
		goto oom;
	return &g[e->ndl++];
oom:
	rc->oom++;
	return NULL;
}

static const struct rec_dl *rec_state(const struct rec_event *e, const char *endpoint)
{
	size_t i;
	for (i = 0; i < e->ndl; i++)
		if (strcmp(e->dl[i].name, endpoint) == 0)
			return &e->dl[i];
	return NULL;
}

static int settled(const struct rec_dl *r) { return r && r->state != DLV_RETRYING; }

static int takes(const struct rec_event *e, const struct endpoint_rt *ep)
{
	return ep->url.scheme != URL_STDOUT && endpoint_matches(ep, e->type);
}

static int all_settled(const struct dispatch *d, const struct rec_event *e)
{
	size_t i;
	for (i = 0; i < d->neps; i++)
		if (takes(e, d->eps[i]) && !settled(rec_state(e, d->eps[i]->name)))
			return 0;
	return 1;
}

static void keep_settled(const struct dispatch *d, struct dispatch_recovery *rc, size_t at)
{
	struct rec_event *e = &rc->ev[at];
	if (!e->body || e->kept || !all_settled(d, e))
		return;
	if (rc->nkept == rc->capkept) {
		size_t ncap = rc->capkept ? rc->capkept * 2 : 256, live = rc->nkept - rc->kept_head;
		size_t *g;
		if (rc->kept_head > 0 && rc->kept_head >= live) { /* half of it is consumed: reuse */
			memmove(rc->kept, rc->kept + rc->kept_head, live * sizeof(*g));
			rc->nkept = live;
			rc->kept_head = 0;
		} else if ((g = realloc(rc->kept, ncap * sizeof(*g))) != NULL) {
			rc->kept = g;
			rc->capkept = ncap;
		} else {
			rc->oom++;
			return; /* it keeps its body: memory is short, not wrong */
		}
	}
	rc->kept[rc->nkept++] = at;
	e->kept = 1;
	rc->kept_bytes += e->len;
	while (rc->kept_bytes > d->bytes_max && rc->kept_head < rc->nkept) {
		struct rec_event *old = &rc->ev[rc->kept[rc->kept_head++]];
		rc->kept_bytes -= old->len;
		free(old->body);
		old->body = NULL;
	}
}

/* DONE (older spools) and STATE: the latest one for an endpoint wins. */
static void replay_state(struct dispatch *d, unsigned type, const unsigned char *p, size_t n)
{
	struct dispatch_recovery *rc = d->recovery;
	const unsigned char *end = p + n;
	const char *id, *err = "";
	size_t idn, errn = 0, *at;
	unsigned state, attempts = 0;
	uint64_t next = 0, when = 0;
	int status = 0;
	struct rec_dl *r;
	if (!rc->icap || !(p = take_str(p, end, &id, &idn, EVENT_ID_LEN)) || end - p < 2)
		return;
	if (*(at = slot(rc, id, idn)) == SIZE_MAX)
		return; /* its event is in a segment already deleted */
	state = *p++;
	if (type == SPOOL_STATE) {
		if (end - p < STATE_FIXED || (size_t)(end - p) < STATE_FIXED + (size_t)p[22] + 1)
			return;
		attempts = (unsigned)get_le(p, 4);
		next = get_le(p + 4, 8);
		when = get_le(p + 12, 8);
		status = (int)get_le(p + 20, 2);
		errn = p[22];
		err = (const char *)p + STATE_FIXED;
		p += STATE_FIXED + errn;
	}
	if (state != DLV_RETRYING && state != DLV_DELIVERED && state != DLV_FAILED)
		return;
	if (!(r = rec_dl_for(rc, &rc->ev[*at], (const char *)p, (size_t)(end - p))))
		return;
	r->state = state;
	r->attempts = attempts;
	r->next_ms = next;
	r->at_ms = when;
	r->status = status;
	snprintf(r->error, sizeof(r->error), "%.*s", (int)errn, err);
	keep_settled(d, rc, *at);
}

void dispatch_spool_replay(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n)
{
	struct dispatch *d = arg;
	if (!d->recovery && !(d->recovery = calloc(1, sizeof(*d->recovery))))
		return;
	if (type == SPOOL_EVENT)
		replay_event(d->recovery, seg, p, n);
	else if (type == SPOOL_DONE || type == SPOOL_STATE)
		replay_state(d, type, p, n);
}

static void set_from(struct delivery *dl, const struct rec_dl *r)
{
	dl->attempts = r->attempts;
	dl->last_status = r->status;
	dl->last_ms = r->at_ms;
	snprintf(dl->last_error, sizeof(dl->last_error), "%s", r->error);
	if (r->state == DLV_RETRYING) {
		dl->next_ms = r->next_ms;
		dl->state = DLV_RETRYING;
	} else {
		dl->done_ms = r->at_ms;
	}
}

/* Launches one recovered event to the endpoints still owed it, with
 * their attempts so far and next attempt's time; one whose deliveries
 * are all settled goes to the status history only. Recovered work is
 * not subject to the queue bounds: it was accepted already. Returns the
 * deliveries owed. */
static size_t resume_one(struct dispatch *d, struct rec_event *e)
{
	struct event *ev;
	size_t i, n = 0, all = 0;
	for (i = 0; i < d->neps; i++)
		if (takes(e, d->eps[i])) {
			all++;
			n += !settled(rec_state(e, d->eps[i]->name));
		}
	if (all == 0)
		return 0;
	if (!e->body && n > 0) { /* owed again after it settled: a damaged log */
		log_msg(LOG_WARN, "spool: event not resumed (its body was let go when it settled)", "id", e->id, NULL);
		return 0;
	}
	if (!(ev = dispatch_event_new(e->type, e->body ? e->body : "", e->body ? e->len : 0, all)))
		return 0;
	if (!e->body) { /* settled beyond max_queue_bytes: status only */
		free(ev->body);
		ev->body = NULL;
	}
	memcpy(ev->id, e->id, sizeof(ev->id));
	ev->created_ms = e->created_ms;
	for (i = 0; i < d->neps; i++) {
		const struct rec_dl *r = rec_state(e, d->eps[i]->name);
		struct delivery *dl;
		if (!takes(e, d->eps[i]))
			continue;
		dl = settled(r) ? dispatch_add_settled(d, ev, d->eps[i], (enum dlv_state)r->state)
				: dispatch_add_delivery(d, ev, d->eps[i]);
		if (r)
			set_from(dl, r);
	}
	if (n == 0) {
		dispatch_restore(d, ev);
		d->recovery->restored++;
		return 0;
	}
	ev->spooled = 1;
	ev->spool_seg = e->seg;
	spool_hold(d->spool, e->seg);
	dispatch_launch(d, ev);
	return n;
}

static void recovery_free(struct dispatch_recovery *rc)
{
	size_t i, k;
	if (!rc)
		return;
	for (i = 0; i < rc->n; i++) {
		for (k = 0; k < rc->ev[i].ndl; k++)
			free(rc->ev[i].dl[k].name);
		free(rc->ev[i].dl);
		free(rc->ev[i].body);
	}
	free(rc->ev);
	free(rc->index);
	free(rc->kept);
	free(rc);
}

void dispatch_spool_discard(struct dispatch *d)
{
	recovery_free(d->recovery);
	d->recovery = NULL;
}

uint64_t dispatch_spool_lsn(const struct dispatch *d) { return d->spool_lsn; }

static void carry(void *arg, uint64_t seg);

void dispatch_spool_resume(struct dispatch *d, struct spool *s)
{
	struct dispatch_recovery *rc = d->recovery;
	size_t i, events = 0, deliveries = 0;
	char v[4][24];
	d->spool = s;
	spool_on_carry(s, carry, d);
	for (i = 0; rc && i < rc->n; i++) {
		size_t n = resume_one(d, &rc->ev[i]);
		deliveries += n;
		events += n > 0;
	}
	snprintf(v[0], sizeof(v[0]), "%zu", events);
	snprintf(v[1], sizeof(v[1]), "%zu", deliveries);
	snprintf(v[2], sizeof(v[2]), "%llu", rc ? (unsigned long long)rc->oom : 0ULL);
	snprintf(v[3], sizeof(v[3]), "%zu", rc ? rc->restored : 0);
	log_msg(rc && rc->oom ? LOG_ERROR : LOG_INFO, "spool: deliveries resumed", "events", v[0], "deliveries", v[1],
		"out_of_memory", v[2], "settled", v[3], NULL);
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

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
	size_t k;
	for (k = 0; k < n; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

/* A pending delivery is logged with the attempts that have an outcome
 * (one in flight is repeated after a crash) and when the next is due. A
 * lost STATE record only means more attempts after a restart. */
void dispatch_spool_state(struct dispatch *d, const struct delivery *dl)
{
	unsigned char rec[1 + EVENT_ID_LEN + 1 + STATE_FIXED + sizeof(dl->last_error) + 256];
	size_t idn = strlen(dl->ev->id), nn = strlen(dl->ep->name), en = strlen(dl->last_error);
	int final = dl->state == DLV_DELIVERED || dl->state == DLV_FAILED, at;
	unsigned done = dl->attempts - (dl->state == DLV_IN_FLIGHT);
	if (nn > 256 || (!final && done == 0))
		return;
	at = put_str(rec, dl->ev->id, idn);
	rec[at++] = (unsigned char)(final ? dl->state : DLV_RETRYING);
	put_le(rec + at, done, 4);
	put_le(rec + at + 4, final ? 0 : dl->next_ms, 8);
	put_le(rec + at + 12, final ? dl->done_ms : dl->last_ms, 8);
	put_le(rec + at + 20, (uint64_t)(dl->last_status > 0 ? dl->last_status : 0), 2);
	rec[at + 22] = (unsigned char)en;
	at += STATE_FIXED;
	memcpy(rec + at, dl->last_error, en);
	memcpy(rec + at + en, dl->ep->name, nn);
	if (spool_append_lazy(d->spool, SPOOL_STATE, rec, (size_t)at + en + nn, NULL, NULL) < 0)
		log_msg(LOG_WARN, "spool: delivery state not logged (it may be repeated after a restart)", "id",
			dl->ev->id, "endpoint", dl->ep->name, NULL);
}

/* The sweep found seg old and pinned by few holds: each event of it that
 * is still pending is written again with its deliveries' states, and its
 * hold moves to the copy's segment. One that does not fit stays put and
 * is tried again at the next sweep. */
static void carry(void *arg, uint64_t seg)
{
	struct dispatch *d = arg;
	struct list *it;
	for (it = d->active.next; it != &d->active; it = it->next) {
		struct event *ev = list_entry(it, struct event, link);
		uint64_t old = ev->spool_seg;
		size_t i;
		if (!ev->spooled || old != seg || ev->commit.linked)
			continue;
		if (dispatch_spool_event(d, ev) < 0)
			return;
		spool_release(d->spool, old);
		for (i = 0; i < ev->ndl; i++)
			if (ev->dl[i].ep->url.scheme != URL_STDOUT && ev->dl[i].state != DLV_DROPPED)
				dispatch_spool_state(d, &ev->dl[i]);
	}
}
