/* trigger_spool: trigger deliveries and runs in the spool (see
 * trigger_spool.h). */
#include "edgehook/trigger_spool.h"
#include "edgehook/grow.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/list.h"
#include "edgehook/log.h"
#include "edgehook/relay.h"
#include "edgehook/relay_routes.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { TS_ACCEPT = 16, TS_START = 17, TS_END = 18 };
enum { F_RUN = 1, F_EMIT = 2, F_DATA = 4 };
enum { FIELD_TRIGGER, FIELD_RUN, FIELD_EVENT, FIELD_DELIVERY, FIELD_IP, FIELD_KEY, FIELD_BODY, FIELD_DATA, NFIELDS };
/* room for the ACCEPT, START and END records and the emitted event's
 * envelope around a delivery's body and data */
enum { RECORD_SLACK = 8192 };

struct field {
	const char *p;
	size_t n;
};

struct accept_rec {
	unsigned flags;
	uint64_t at_ms;
	struct field f[NFIELDS];
};

/* A run found in the log: its ACCEPT (copied) and whether it started. */
struct rec_run {
	char id[EVENT_ID_LEN];
	uint64_t seg, started_ms;
	unsigned char *rec;
	size_t n;
	size_t next; /* hash chain, SIZE_MAX ends it */
};

/* A delivery waiting for its ACCEPT's commit (fsync: always). */
struct pending {
	struct trigger_spool *ts;
	struct relay *rl;
	struct http_conn *c; /* NULL once the client went away */
	struct run *run;
	struct buf reply;
	char *scope, *key;
	size_t key_len;
	struct spool_waiter w;
	struct list link;
};

/* A run whose spawn waits for its START record. */
struct held {
	struct trigger_spool *ts;
	struct run *run;
	struct spool_waiter w;
	struct list link;
};

struct trigger_spool {
	struct dedupe *dd;
	struct relay *rl;
	struct spool *spool;
	struct rec_run *runs;
	size_t nruns, capruns;
	size_t *heads, nheads;
	struct list pending, held;
	uint64_t restored, oom;
};

/* ---- record codec ---- */

static void put_u64(unsigned char *p, uint64_t v)
{
	int k;
	for (k = 0; k < 8; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	int k;
	for (k = 0; k < 8; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static int put_field(struct buf *b, const char *p, size_t n)
{
	unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
				(unsigned char)(n >> 24)};
	return buf_append(b, len, 4) < 0 || (n && buf_append(b, p, n) < 0) ? -1 : 0;
}

static int encode_accept(struct buf *b, const struct trigger_accept *a, const char *run_id)
{
	unsigned char head[9];
	const char *f[NFIELDS] = {a->t->id, run_id, a->event, a->delivery, a->ip, a->dedupe_key, a->body, a->data};
	size_t n[NFIELDS] = {strlen(a->t->id), strlen(run_id), strlen(a->event), strlen(a->delivery), strlen(a->ip),
			     a->dedupe_key ? a->dedupe_len : 0, a->len, a->data ? a->data_len : 0};
	int i;
	head[0] = (unsigned char)((a->run ? F_RUN : 0) | (a->emitted ? F_EMIT : 0) | (a->data ? F_DATA : 0));
	put_u64(head + 1, clock_wall_ms());
	if (buf_append(b, head, sizeof(head)) < 0)
		return -1;
	for (i = 0; i < NFIELDS; i++)
		if (put_field(b, f[i], n[i]) < 0)
			return -1;
	return 0;
}

static int decode_accept(const unsigned char *p, size_t n, struct accept_rec *r)
{
	const unsigned char *end = p + n;
	int i;
	if (n < 9)
		return -1;
	r->flags = p[0];
	r->at_ms = get_u64(p + 1);
	p += 9;
	for (i = 0; i < NFIELDS; i++) {
		size_t len;
		if (end - p < 4)
			return -1;
		len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
		p += 4;
		if ((size_t)(end - p) < len)
			return -1;
		r->f[i].p = (const char *)p;
		r->f[i].n = len;
		p += len;
	}
	/* ids are C strings everywhere else */
	if (r->f[FIELD_RUN].n >= EVENT_ID_LEN || r->f[FIELD_TRIGGER].n == 0 || r->f[FIELD_TRIGGER].n > 128 ||
	    r->f[FIELD_EVENT].n >= EVENT_TYPE_MAX || r->f[FIELD_DELIVERY].n >= 128 || r->f[FIELD_IP].n >= 64)
		return -1;
	return 0;
}

/* ---- the replay: runs by id ---- */

static size_t *chain(struct trigger_spool *ts, const char *id, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t k;
	for (k = 0; k < n; k++)
		h = (h ^ (unsigned char)id[k]) * 1099511628211ULL;
	return &ts->heads[h & (ts->nheads - 1)];
}

static struct rec_run *find_run(struct trigger_spool *ts, const char *id, size_t n)
{
	size_t i;
	if (!ts->nheads || n >= EVENT_ID_LEN)
		return NULL;
	for (i = *chain(ts, id, n); i != SIZE_MAX; i = ts->runs[i].next)
		if (strlen(ts->runs[i].id) == n && memcmp(ts->runs[i].id, id, n) == 0)
			return &ts->runs[i];
	return NULL;
}

static int rehash(struct trigger_spool *ts)
{
	size_t n = ts->nheads ? ts->nheads * 2 : 256, i;
	size_t *h = malloc(n * sizeof(*h));
	if (!h)
		return -1;
	free(ts->heads);
	ts->heads = h;
	ts->nheads = n;
	for (i = 0; i < n; i++)
		h[i] = SIZE_MAX;
	for (i = 0; i < ts->nruns; i++) {
		size_t *at = chain(ts, ts->runs[i].id, strlen(ts->runs[i].id));
		ts->runs[i].next = *at;
		*at = i;
	}
	return 0;
}

static void replay_accept(struct trigger_spool *ts, uint64_t seg, const unsigned char *p, size_t n)
{
	struct accept_rec r;
	struct rec_run *e;
	size_t *at;
	char scope[129];
	if (decode_accept(p, n, &r) < 0)
		return;
	if (r.f[FIELD_KEY].n) {
		snprintf(scope, sizeof(scope), "%.*s", (int)r.f[FIELD_TRIGGER].n, r.f[FIELD_TRIGGER].p);
		dedupe_check(ts->dd, scope, r.f[FIELD_KEY].p, r.f[FIELD_KEY].n);
		ts->restored++;
	}
	if (!(r.flags & F_RUN) || r.f[FIELD_RUN].n == 0 || find_run(ts, r.f[FIELD_RUN].p, r.f[FIELD_RUN].n))
		return;
	if (array_grow((void **)&ts->runs, &ts->capruns, ts->nruns, sizeof(*ts->runs), 64) < 0)
		goto oom;
	if (ts->nruns >= ts->nheads && rehash(ts) < 0)
		goto oom;
	e = &ts->runs[ts->nruns];
	memset(e, 0, sizeof(*e));
	if (!(e->rec = malloc(n)))
		goto oom;
	memcpy(e->rec, p, n);
	e->n = n;
	e->seg = seg;
	memcpy(e->id, r.f[FIELD_RUN].p, r.f[FIELD_RUN].n);
	at = chain(ts, e->id, r.f[FIELD_RUN].n);
	e->next = *at;
	*at = ts->nruns++;
	return;
oom:
	ts->oom++;
}

void trigger_spool_replay(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n)
{
	struct trigger_spool *ts = arg;
	struct rec_run *e;
	if (type == TS_ACCEPT) {
		replay_accept(ts, seg, p, n);
	} else if (type == TS_START && n > 8 && (e = find_run(ts, (const char *)p + 8, n - 8))) {
		e->started_ms = get_u64(p);
	} else if (type == TS_END && (e = find_run(ts, (const char *)p, n))) {
		free(e->rec); /* settled: nothing is owed */
		e->rec = NULL;
	}
}

struct trigger_spool *trigger_spool_new(struct dedupe *dd)
{
	struct trigger_spool *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return NULL;
	ts->dd = dd;
	list_init(&ts->pending);
	list_init(&ts->held);
	return ts;
}

/* ---- runs: the gate ---- */

static int append_run(struct trigger_spool *ts, unsigned type, const struct run *run, uint64_t *lsn)
{
	unsigned char rec[8 + EVENT_ID_LEN];
	const char *id = runner_id(run);
	size_t n = strlen(id), at = type == TS_START ? 8 : 0;
	put_u64(rec, clock_wall_ms());
	memcpy(rec + at, id, n);
	return spool_append(ts->spool, type, rec, at + n, NULL, lsn);
}

static void held_written(void *arg, int status)
{
	struct held *h = arg;
	struct runner *rn = h->ts->rl->runner;
	struct run *run = h->run;
	list_remove(&h->link);
	free(h);
	runner_gate_open(rn, run, status == 0, "spool: the run's start could not be written");
}

static int gate_hold(void *arg, struct run *run)
{
	struct trigger_spool *ts = arg;
	struct held *h;
	uint64_t lsn;
	if (append_run(ts, TS_START, run, &lsn) < 0) {
		log_msg(LOG_WARN, "spool: run start not logged (a crash now may run it again)", "run", runner_id(run),
			NULL);
		return 0;
	}
	if (!(h = calloc(1, sizeof(*h))))
		return 0;
	h->ts = ts;
	h->run = run;
	if (spool_wait(ts->spool, &h->w, lsn, held_written, h) == 1) {
		free(h);
		return 0;
	}
	list_push_back(&ts->held, &h->link);
	return 1;
}

static void gate_cancel(void *arg, struct run *run)
{
	struct trigger_spool *ts = arg;
	list_for_each_safe(it, nx, &ts->held) {
		struct held *h = list_entry(it, struct held, link);
		if (h->run == run) {
			spool_wait_cancel(ts->spool, &h->w);
			list_remove(&h->link);
			free(h);
			return;
		}
	}
}

/* A lost END only means the run is reported interrupted after a crash. */
static void gate_settled(void *arg, const struct run *run)
{
	struct trigger_spool *ts = arg;
	uint64_t tag = runner_tag(run);
	if (append_run(ts, TS_END, run, NULL) < 0)
		log_msg(LOG_WARN, "spool: run end not logged", "run", runner_id(run), NULL);
	if (tag)
		spool_release(ts->spool, tag - 1);
}

/* ---- accepting ---- */

int trigger_spool_fits(const struct trigger_spool *ts, size_t bytes)
{
	if (bytes > SPOOL_RECORD_MAX - RECORD_SLACK)
		return -1;
	return spool_fits(ts->spool, bytes + RECORD_SLACK, 4);
}

int trigger_spool_pending(struct trigger_spool *ts, const char *scope, const char *key, size_t key_len)
{
	list_for_each_safe(it, nx, &ts->pending) {
		const struct pending *pd = list_entry(it, struct pending, link);
		if (pd->key && pd->key_len == key_len && memcmp(pd->key, key, key_len) == 0 && strcmp(pd->scope, scope) == 0)
			return 1;
	}
	return 0;
}

static void commit(struct relay *rl, struct http_conn *c, struct run *run, const char *scope, const char *key,
		   size_t key_len, struct buf *reply)
{
	char id[EVENT_ID_LEN];
	if (run)
		runner_commit(rl->runner, run, id, sizeof(id));
	if (key)
		dedupe_check(rl->dedupe, scope, key, key_len);
	rl->tstats.accepted++;
	if (c)
		api_reply_rendered(c, 202, "application/json", reply, "trigger answer");
	else
		buf_free(reply);
}

static void pending_free(struct pending *pd)
{
	list_remove(&pd->link);
	buf_free(&pd->reply);
	free(pd->scope);
	free(pd->key);
	free(pd);
}

/* The client left: the delivery stays owed, only the answer is dropped. */
static void pending_abort(void *arg)
{
	struct pending *pd = arg;
	pd->c = NULL;
}

static void pending_written(void *arg, int status)
{
	struct pending *pd = arg;
	if (status == 0) {
		commit(pd->rl, pd->c, pd->run, pd->scope, pd->key, pd->key_len, &pd->reply);
		pd->reply.data = NULL;
	} else {
		if (pd->run)
			spool_release(pd->ts->spool, runner_tag(pd->run) - 1);
		runner_discard(pd->run);
		pd->rl->tstats.spool_full++;
		if (pd->c)
			api_respond_error(pd->c, 503, "the spool could not write the delivery");
	}
	pending_free(pd);
}

static int defer(struct relay *rl, struct http_conn *c, const struct trigger_accept *a, struct buf *reply,
		 uint64_t lsn)
{
	struct pending *pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -1;
	list_init(&pd->link);
	pd->ts = rl->tspool;
	pd->rl = rl;
	pd->c = c;
	pd->run = a->run;
	pd->key_len = a->dedupe_len;
	if (!(pd->scope = strdup(a->t->id)) || (a->dedupe_key && !(pd->key = malloc(a->dedupe_len + 1)))) {
		pending_free(pd);
		return -1;
	}
	if (pd->key)
		memcpy(pd->key, a->dedupe_key, a->dedupe_len);
	pd->reply = *reply;
	list_push_back(&rl->tspool->pending, &pd->link);
	if (spool_wait(rl->tspool->spool, &pd->w, lsn, pending_written, pd) == 1) {
		pending_written(pd, 0);
		return 0;
	}
	http_defer(c, pending_abort, pd);
	return 0;
}

void trigger_accept(struct relay *rl, struct http_conn *c, const struct trigger_accept *a, struct buf *reply)
{
	struct trigger_spool *ts = rl->tspool;
	struct buf rec;
	uint64_t seg, lsn;
	int rc;
	if (!ts) {
		commit(rl, c, a->run, a->t->id, a->dedupe_key, a->dedupe_len, reply);
		return;
	}
	buf_init(&rec, SPOOL_RECORD_MAX);
	rc = encode_accept(&rec, a, a->run ? runner_id(a->run) : "");
	rc = rc < 0 ? -1 : spool_append(ts->spool, TS_ACCEPT, rec.data, rec.len, &seg, &lsn);
	buf_free(&rec);
	if (rc < 0) {
		runner_discard(a->run);
		buf_free(reply);
		rl->tstats.spool_full++;
		log_msg(LOG_WARN, "trigger delivery refused: spool full", "trigger", a->t->id, NULL);
		api_respond_error(c, 503, "spool full");
		return;
	}
	if (a->run) {
		spool_hold(ts->spool, seg);
		runner_set_tag(a->run, seg + 1);
	}
	if (rl->cfg->spool.fsync != SPOOL_FSYNC_ALWAYS || defer(rl, c, a, reply, lsn) < 0)
		commit(rl, c, a->run, a->t->id, a->dedupe_key, a->dedupe_len, reply);
}

/* ---- recovery ---- */

struct resume_counts {
	size_t resumed, interrupted, lost;
};

static void report_lost(struct trigger_spool *ts, const struct rec_run *e, const struct accept_rec *r,
			const char *error)
{
	char trigger[129], event[EVENT_TYPE_MAX], delivery[128];
	struct runner_lost l = {e->id, trigger, event, delivery, error, r->at_ms, e->started_ms, e->seg + 1};
	snprintf(trigger, sizeof(trigger), "%.*s", (int)r->f[FIELD_TRIGGER].n, r->f[FIELD_TRIGGER].p);
	snprintf(event, sizeof(event), "%.*s", (int)r->f[FIELD_EVENT].n, r->f[FIELD_EVENT].p);
	snprintf(delivery, sizeof(delivery), "%.*s", (int)r->f[FIELD_DELIVERY].n, r->f[FIELD_DELIVERY].p);
	runner_report_lost(ts->rl->runner, &l);
}

/* Runs a recovered run's command now; the reason when it cannot. */
static const char *rerun(struct trigger_spool *ts, const struct rec_run *e, const struct accept_rec *r)
{
	const struct trigger_cfg *t = registry_by_id(ts->rl, r->f[FIELD_TRIGGER].p, r->f[FIELD_TRIGGER].n);
	char event[EVENT_TYPE_MAX], delivery[128], ip[64], id[EVENT_ID_LEN];
	struct field data = r->flags & F_DATA ? r->f[FIELD_DATA] : r->f[FIELD_BODY];
	struct run_request rr = {event, delivery, ip, r->f[FIELD_BODY].p, r->f[FIELD_BODY].n, NULL, e->id, 1};
	struct json_doc doc;
	struct run *run;
	if (!t || !t->run)
		return "trigger no longer has a run";
	if (geteuid() == 0 && !t->run->allow_root)
		return "refusing to run a command as root (set run.allow_root: true)";
	snprintf(event, sizeof(event), "%.*s", (int)r->f[FIELD_EVENT].n, r->f[FIELD_EVENT].p);
	snprintf(delivery, sizeof(delivery), "%.*s", (int)r->f[FIELD_DELIVERY].n, r->f[FIELD_DELIVERY].p);
	snprintf(ip, sizeof(ip), "%.*s", (int)r->f[FIELD_IP].n, r->f[FIELD_IP].p);
	if (data.n && json_parse(&doc, data.p, data.n, 64) == 0)
		rr.data = &doc;
	run = runner_prepare(ts->rl->runner, t, &rr);
	if (rr.data)
		json_doc_free(&doc);
	if (!run)
		return "out of memory";
	runner_set_tag(run, e->seg + 1);
	runner_commit(ts->rl->runner, run, id, sizeof(id));
	return NULL;
}

static void resume_one(struct trigger_spool *ts, const struct rec_run *e, struct resume_counts *n)
{
	struct accept_rec r;
	const char *why;
	if (!e->rec || decode_accept(e->rec, e->n, &r) < 0)
		return;
	spool_hold(ts->spool, e->seg); /* released when the run settles */
	if (e->started_ms) {
		report_lost(ts, e, &r, "interrupted");
		n->interrupted++;
	} else if ((why = rerun(ts, e, &r)) != NULL) {
		log_msg(LOG_WARN, "spool: recovered run cannot start", "run", e->id, "err", why, NULL);
		report_lost(ts, e, &r, why);
		n->lost++;
	} else {
		n->resumed++;
	}
}

static void drop_replay(struct trigger_spool *ts)
{
	size_t i;
	for (i = 0; i < ts->nruns; i++)
		free(ts->runs[i].rec);
	free(ts->runs);
	free(ts->heads);
	ts->runs = NULL;
	ts->heads = NULL;
	ts->nruns = ts->capruns = ts->nheads = 0;
}

void trigger_spool_resume(struct trigger_spool *ts, struct relay *rl, struct spool *s)
{
	const struct runner_gate gate = {gate_hold, gate_cancel, gate_settled, ts};
	struct resume_counts n = {0, 0, 0};
	char v[5][24];
	size_t i;
	ts->rl = rl;
	ts->spool = s;
	rl->tspool = ts;
	runner_set_gate(rl->runner, &gate);
	for (i = 0; i < ts->nruns; i++)
		resume_one(ts, &ts->runs[i], &n);
	snprintf(v[0], sizeof(v[0]), "%zu", n.resumed);
	snprintf(v[1], sizeof(v[1]), "%zu", n.interrupted);
	snprintf(v[2], sizeof(v[2]), "%zu", n.lost);
	snprintf(v[3], sizeof(v[3]), "%llu", (unsigned long long)ts->restored);
	snprintf(v[4], sizeof(v[4]), "%llu", (unsigned long long)ts->oom);
	log_msg(ts->oom ? LOG_ERROR : LOG_INFO, "spool: runs resumed", "runs", v[0], "interrupted", v[1], "lost", v[2],
		"dedupe_keys", v[3], "out_of_memory", v[4], NULL);
	drop_replay(ts);
}

void trigger_spool_stop(struct trigger_spool *ts)
{
	if (!ts)
		return;
	list_for_each_safe(it, nx, &ts->pending) {
		struct pending *pd = list_entry(it, struct pending, link);
		spool_wait_cancel(ts->spool, &pd->w);
		runner_discard(pd->run);
		pending_free(pd);
	}
}

void trigger_spool_free(struct trigger_spool *ts)
{
	if (!ts)
		return;
	list_for_each_safe(it, nx, &ts->held) {
		struct held *h = list_entry(it, struct held, link);
		spool_wait_cancel(ts->spool, &h->w);
		list_remove(&h->link);
		free(h);
	}
	drop_replay(ts);
	free(ts);
}
