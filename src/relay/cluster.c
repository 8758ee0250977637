/* cluster: reading the shared stream, settling and claiming (cluster.h).
 *
 * The reader is one state machine: GROUP (XGROUP CREATE in flight) ->
 * READING (XREADGROUP in flight) -> back to READING, or WAIT (a timer:
 * the queue is full, or Redis failed and we back off) -> READING.
 * STOPPED once draining. Nothing here busy-loops: every failure and
 * every empty answer that came back early waits on a timer. */
#include "cluster_internal.h"

#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/clock.h"
#include "edgehook/event.h"
#include "edgehook/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	BLOCK_MS = 1000,
	READ_COUNT = 128,
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 2000,
	BEAT_BATCH = CLUSTER_KEEP_BATCH,
	MAX_REPLY = 64 << 20,
	GROUP_ARGS = 7,
};

static void read_next(struct cluster *c);

/* ---- replies ---- */

/* Child i of the aggregate at index k of r (the reply is complete). */
const struct resp_value *cluster_child(const struct resp_reply *r, const struct resp_value *agg, uint32_t i)
{
	uint32_t idx = (uint32_t)(agg - r->v) + 1;
	while (i-- > 0)
		idx = r->v[idx].end;
	return &r->v[idx];
}

static int is_str(const struct resp_value *v)
{
	return v->type == RESP_BULK || v->type == RESP_SIMPLE;
}

static int copy_str(const struct resp_reply *r, const struct resp_value *v, char *out, size_t cap)
{
	if (!is_str(v) || v->len == 0 || v->len >= cap || memchr(resp_str(r, v), 0, v->len))
		return -1;
	memcpy(out, resp_str(r, v), v->len);
	out[v->len] = '\0';
	return 0;
}

static int is_error(const struct resp_reply *r, const char *prefix)
{
	size_t n = strlen(prefix);
	return r && (r->v[0].type == RESP_ERROR || r->v[0].type == RESP_BLOB_ERROR) && r->v[0].len >= n &&
	       memcmp(resp_str(r, &r->v[0]), prefix, n) == 0;
}

/* Logs a failed command once per call site and state change would be
 * nicer; one line per failure is bounded by the backoff. */
static void log_redis(struct cluster *c, const char *what, const char *err, const struct resp_reply *r)
{
	char text[128];
	c->stats.redis_errors++;
	if (!err && r)
		snprintf(text, sizeof(text), "%.*s", (int)(r->v[0].len > 100 ? 100 : r->v[0].len), resp_str(r, &r->v[0]));
	log_msg(LOG_WARN, "cluster: redis command failed", "command", what, "err", err ? err : text, NULL);
}

/* ---- settling ---- */

static void on_ack(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (err || r->v[0].type == RESP_ERROR)
		log_redis(c, "XACK/XDEL", err, r);
}

/* Acknowledged and deleted in one command: the stream keeps only
 * undelivered events. A lost ack costs a repeat delivery (after
 * claim_after), never an event. A run's entry takes its run-start mark
 * (KEYS[2]) with it, atomically: an entry still pending always finds
 * its mark. */
static void settle_entry(struct cluster *c, const char *stream_id, const char *run_id)
{
	static const char script[] = "redis.call('XACK',KEYS[1],ARGV[1],ARGV[2]) "
				     "if KEYS[2] then redis.call('DEL',KEYS[2]) end "
				     "return redis.call('XDEL',KEYS[1],ARGV[2])";
	char mark[160];
	const char *argv[] = {"EVAL", script, run_id ? "2" : "1", c->stream, mark, c->group, stream_id};
	c->stats.acked++;
	if (run_id)
		cluster_mark_key(c, run_id, mark, sizeof(mark));
	else
		argv[4] = c->group, argv[5] = stream_id;
	if (resp_command(c->cmd, run_id ? 7 : 6, argv, NULL, on_ack, c) < 0)
		log_msg(LOG_WARN, "cluster: acknowledgement not queued (redelivered after claim_after)", "stream_id",
			stream_id, NULL);
}

static void settle(void *arg, const char *stream_id, int retries)
{
	struct cluster *c = arg;
	if (retries) {
		c->stats.acked++;
		cluster_retry_settle(c, stream_id);
		return;
	}
	settle_entry(c, stream_id, NULL);
}

/* ---- entries ---- */

/* One [stream_id, [field, value, ...]] entry: delivered, or settled at
 * once when there is nothing to deliver (deleted, malformed, no match). */
static int holds(const struct cluster *c, const char *sid)
{
	size_t i;
	for (i = 0; i < c->nruns; i++)
		if (strcmp(c->runs[i].stream_id, sid) == 0)
			return 1;
	return dispatch_holds(c->d, sid);
}

/* A run entry: handed to the relay, held until the run ends. */
static void take_run(struct cluster *c, struct cluster_run *cr)
{
	struct held_run *h;
	if (!c->run_fn || c->nruns == CLUSTER_MAX_RUNS) {
		/* left pending: taken over after claim_after, reported then */
		log_msg(LOG_ERROR, "cluster: run entry not taken (too many runs held)", "stream_id", cr->stream_id, NULL);
		return;
	}
	if (c->run_fn(c->run_arg, cr) == 0) {
		settle(c, cr->stream_id, 0);
		return;
	}
	h = &c->runs[c->nruns++];
	snprintf(h->run_id, sizeof(h->run_id), "%s", cr->run_id);
	snprintf(h->stream_id, sizeof(h->stream_id), "%s", cr->stream_id);
}

void cluster_run_done(void *arg, const char *run_id)
{
	struct cluster *c = arg;
	size_t i;
	for (i = 0; i < c->nruns; i++)
		if (strcmp(c->runs[i].run_id, run_id) == 0) {
			settle_entry(c, c->runs[i].stream_id, c->runs[i].run_id);
			c->runs[i] = c->runs[--c->nruns];
			return;
		}
}

void cluster_runs_watch(struct cluster *c, int (*fn)(void *arg, const struct cluster_run *cr), void *arg)
{
	c->run_fn = fn;
	c->run_arg = arg;
}

/* The fields of one entry, copied where they must be NUL-terminated. */
struct entry {
	char sid[48], id[EVENT_ID_LEN], type[EVENT_TYPE_MAX], ts[24], kind[8];
	char trigger[129], delivery[256], ip[64];
	const char *body;
	size_t len;
};

static void entry_fields(const struct resp_reply *r, const struct resp_value *f, struct entry *e)
{
	static const struct {
		const char *name;
		size_t off, cap;
	} text[] = {
		{"id", offsetof(struct entry, id), EVENT_ID_LEN},
		{"type", offsetof(struct entry, type), EVENT_TYPE_MAX},
		{"ts", offsetof(struct entry, ts), 24},
		{"kind", offsetof(struct entry, kind), 8},
		{"trigger", offsetof(struct entry, trigger), 129},
		{"delivery", offsetof(struct entry, delivery), 256},
		{"ip", offsetof(struct entry, ip), 64},
	};
	uint32_t k;
	size_t i;
	for (k = 0; f->type == RESP_ARRAY && k + 1 < f->n; k += 2) {
		const struct resp_value *key = cluster_child(r, f, k), *val = cluster_child(r, f, k + 1);
		if (resp_eq(r, key, "body") && is_str(val)) {
			e->body = resp_str(r, val);
			e->len = val->len;
			continue;
		}
		for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
			if (resp_eq(r, key, text[i].name))
				copy_str(r, val, (char *)e + text[i].off, text[i].cap);
	}
}

/* One [stream_id, [field, value, ...]] entry: delivered (or run), or
 * settled at once when there is nothing to do (deleted, malformed, no
 * match). claimed: taken over from another instance. */
static void take_entry(struct cluster *c, const struct resp_reply *r, const struct resp_value *v, int claimed,
		       const char *owed, size_t owed_len)
{
	struct entry e;
	const struct resp_value *f;
	struct stream_event se;
	int rc;
	memset(&e, 0, sizeof(e));
	if (v->type != RESP_ARRAY || v->n < 2 || copy_str(r, cluster_child(r, v, 0), e.sid, sizeof(e.sid)) < 0) {
		c->stats.poison++;
		return;
	}
	if (c->history && !owed)
		snprintf(c->cursor, sizeof(c->cursor), "%s", e.sid);
	if (holds(c, e.sid))
		return;
	c->stats.read_entries++;
	c->stats.claimed += (uint64_t)claimed;
	f = cluster_child(r, v, 1);
	if (f->type == RESP_NULL) {
		settle(c, e.sid, owed != NULL); /* trimmed or deleted: nothing left to deliver */
		return;
	}
	entry_fields(r, f, &e);
	if (!e.id[0] || !e.type[0] || !e.body || (strcmp(e.kind, "run") == 0 && !e.trigger[0])) {
		c->stats.poison++;
		log_msg(LOG_ERROR, "cluster: stream entry without id, type or body: dropped", "stream_id", e.sid, NULL);
		settle(c, e.sid, owed != NULL);
		return;
	}
	if (strcmp(e.kind, "run") == 0 && !owed) {
		struct cluster_run cr = {e.sid, e.id, e.trigger, e.type, e.delivery, e.ip, e.body, e.len,
					 claimed || c->history};
		take_run(c, &cr);
		return;
	}
	memset(&se, 0, sizeof(se));
	se.stream_id = e.sid;
	se.id = e.id;
	se.type = e.type;
	se.body = e.body;
	se.len = e.len;
	se.created_ms = strtoull(e.ts, NULL, 10);
	se.owed = owed;
	se.owed_len = owed_len;
	rc = dispatch_stream_event(c->d, &se);
	if (rc == 0)
		settle(c, e.sid, owed != NULL);
	else if (rc < 0)
		log_msg(LOG_ERROR, "cluster: out of memory: entry left for a claim", "stream_id", e.sid, NULL);
}

void cluster_take_entry(struct cluster *c, const struct resp_reply *r, const struct resp_value *v, const char *owed,
			size_t owed_len)
{
	take_entry(c, r, v, 0, owed, owed_len);
}

/* ---- reading ---- */

static void wait_then_read(struct cluster *c, uint64_t ms)
{
	if (c->state == RD_STOPPED)
		return;
	c->state = RD_WAIT;
	timer_start(c->r, &c->read_timer, ms);
}

static void back_off(struct cluster *c)
{
	c->backoff = c->backoff ? c->backoff * 2 : BACKOFF_MIN_MS;
	if (c->backoff > BACKOFF_MAX_MS)
		c->backoff = BACKOFF_MAX_MS;
	wait_then_read(c, c->backoff);
}

static void on_group(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (c->state == RD_STOPPED)
		return;
	if (err || (r->v[0].type == RESP_ERROR && !is_error(r, "BUSYGROUP"))) {
		log_redis(c, "XGROUP CREATE", err, r);
		c->state = RD_GROUP;
		back_off(c);
		return;
	}
	if (!is_error(r, "BUSYGROUP")) {
		c->stats.group_created++;
		log_msg(LOG_INFO, "cluster: consumer group created", "stream", c->stream, "group", c->group, NULL);
	}
	c->backoff = 0;
	/* our own pending entries first: a restart resumes them at once */
	c->history = 1;
	snprintf(c->cursor, sizeof(c->cursor), "0");
	read_next(c);
}

static void create_group(struct cluster *c)
{
	/* from 0: entries added before the group existed are read too */
	const char *argv[GROUP_ARGS] = {"XGROUP", "CREATE", c->stream, c->group, "0", "MKSTREAM", NULL};
	c->state = RD_GROUP;
	if (resp_command(c->cmd, GROUP_ARGS - 1, argv, NULL, on_group, c) < 0)
		back_off(c);
}

static void on_read(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	const struct resp_value *entries;
	uint32_t i;
	if (c->state == RD_STOPPED)
		return;
	if (is_error(r, "NOGROUP")) {
		log_msg(LOG_WARN, "cluster: consumer group missing (Redis lost its data?): recreating it", "stream",
			c->stream, NULL);
		create_group(c);
		return;
	}
	if (err || r->v[0].type == RESP_ERROR) {
		log_redis(c, "XREADGROUP", err, r);
		back_off(c);
		return;
	}
	c->backoff = 0;
	if (r->v[0].type != RESP_ARRAY || r->v[0].n < 1) {
		/* nothing new; an answer earlier than BLOCK is a server that
		 * does not block (or none of ours): no spinning on it */
		if (c->history)
			c->history = 0;
		if (r->v[0].type != RESP_NULL && r->v[0].type != RESP_ARRAY)
			log_redis(c, "XREADGROUP", "unexpected reply type", NULL);
		if (clock_now_ms() - c->read_started < BLOCK_MS / 2 && !c->history)
			wait_then_read(c, BACKOFF_MIN_MS);
		else
			read_next(c);
		return;
	}
	entries = cluster_child(r, &r->v[0], 0);
	if (entries->type != RESP_ARRAY || entries->n != 2 || (entries = cluster_child(r, entries, 1))->type != RESP_ARRAY) {
		log_redis(c, "XREADGROUP", "unexpected reply shape", NULL);
		back_off(c);
		return;
	}
	if (c->history && entries->n == 0)
		c->history = 0; /* our pending list is done: new entries now */
	for (i = 0; i < entries->n; i++)
		take_entry(c, r, cluster_child(r, entries, i), 0, NULL, 0);
	read_next(c);
}

static void read_next(struct cluster *c)
{
	char count[16];
	size_t room = dispatch_room(c->d);
	const char *argv[] = {"XREADGROUP", "GROUP", c->group, c->instance, "COUNT", count,
			      "BLOCK",      "1000",  "STREAMS", c->stream, c->history ? c->cursor : ">"};
	if (c->state == RD_STOPPED)
		return;
	if (room < 16) {
		wait_then_read(c, 50); /* the queue is full: let deliveries finish */
		return;
	}
	snprintf(count, sizeof(count), "%zu", room < c->read_count ? room : c->read_count);
	c->state = RD_READING;
	c->stats.read_calls++;
	c->read_started = clock_now_ms();
	if (resp_command(c->rd, 11, argv, NULL, on_read, c) < 0)
		back_off(c);
}

static void on_read_timer(void *arg)
{
	struct cluster *c = arg;
	if (c->state == RD_GROUP)
		create_group(c);
	else if (c->state == RD_WAIT)
		read_next(c);
}

/* ---- claiming and keeping ---- */

static uint64_t claim_every(const struct cluster *c)
{
	uint64_t t = c->claim_after_ms / 4;
	return t < 250 ? 250 : t > 15000 ? 15000 : t;
}

static void on_claim(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	const struct resp_value *entries;
	uint32_t i;
	size_t before = c->stats.claimed;
	c->claim_busy = 0;
	if (c->state == RD_STOPPED)
		return;
	if (err || r->v[0].type != RESP_ARRAY || r->v[0].n < 2) {
		if (!is_error(r, "NOGROUP")) /* the reader recreates it */
			log_redis(c, "XAUTOCLAIM", err ? err : r->v[0].type == RESP_ERROR ? NULL : "unexpected reply", r);
		return;
	}
	if (copy_str(r, cluster_child(r, &r->v[0], 0), c->claim_cursor, sizeof(c->claim_cursor)) < 0)
		snprintf(c->claim_cursor, sizeof(c->claim_cursor), "0-0");
	entries = cluster_child(r, &r->v[0], 1);
	for (i = 0; entries->type == RESP_ARRAY && i < entries->n; i++)
		take_entry(c, r, cluster_child(r, entries, i), 1, NULL, 0);
	if (c->stats.claimed > before) {
		char n[24];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)(c->stats.claimed - before));
		log_msg(LOG_INFO, "cluster: deliveries taken over from a silent instance", "entries", n, NULL);
	}
}

static void on_claim_timer(void *arg)
{
	struct cluster *c = arg;
	char count[16];
	size_t room = dispatch_room(c->d);
	const char *argv[] = {"XAUTOCLAIM", c->stream, c->group, c->instance, c->claim_ms, c->claim_cursor,
			      "COUNT", count};
	timer_start(c->r, &c->claim_timer, claim_every(c));
	if (c->claim_busy || c->state == RD_STOPPED || c->state == RD_GROUP || room < 16 || !resp_connected(c->cmd))
		return;
	snprintf(count, sizeof(count), "%zu", room < c->read_count ? room : c->read_count);
	if (resp_command(c->cmd, 8, argv, NULL, on_claim, c) == 0) {
		c->claim_busy = 1;
		c->stats.claim_calls++;
	}
}

static void on_beat(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (err || r->v[0].type == RESP_ERROR)
		log_redis(c, "XCLAIM (keep)", err, r);
}

/* Entries still being delivered here (retries wait long) are claimed
 * again by us, which resets their idle time: nobody takes them over. */
static void keep(struct cluster *c, const char **argv, size_t n)
{
	argv[0] = "XCLAIM";
	argv[1] = c->stream;
	argv[2] = c->group;
	argv[3] = c->instance;
	argv[4] = "0";
	argv[5 + n] = "JUSTID";
	resp_command(c->cmd, (int)(6 + n), argv, NULL, on_beat, c);
}

static void on_beat_timer(void *arg)
{
	struct cluster *c = arg;
	const char *argv[6 + BEAT_BATCH + 1];
	size_t n, i, skip = 0;
	uint64_t every = c->claim_after_ms / 3;
	timer_start(c->r, &c->beat_timer, every < 100 ? 100 : every);
	if (!resp_connected(c->cmd))
		return;
	while ((n = dispatch_held(c->d, 0, skip, argv + 5, BEAT_BATCH)) > 0) {
		keep(c, argv, n);
		skip += n;
	}
	for (skip = 0; (n = dispatch_held(c->d, 1, skip, argv, BEAT_BATCH)) > 0; skip += n)
		cluster_retry_keep(c, argv, n);
	for (i = 0; i < c->nruns; i += n) {
		for (n = 0; n < BEAT_BATCH && i + n < c->nruns; n++)
			argv[5 + n] = c->runs[i + n].stream_id;
		keep(c, argv, n);
	}
}

/* ---- the object ---- */

struct cluster *cluster_new(struct reactor *r, struct dns *dns, const struct cluster_cfg *cfg, struct dispatch *d,
			    struct tls_client_ctx *tls, size_t max_entry)
{
	struct cluster *c;
	struct resp_opts o;
	struct dispatch_cluster_hooks hooks;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->r = r;
	c->d = d;
	c->claim_after_ms = cfg->claim_after_ms;
	c->max_stream_len = cfg->max_stream_len;
	c->timeout_ms = cfg->timeout_ms;
	snprintf(c->prefix, sizeof(c->prefix), "%s", cfg->prefix);
	snprintf(c->dedupe_ms, sizeof(c->dedupe_ms), "%llu", (unsigned long long)cfg->dedupe_window_ms);
	snprintf(c->status_ms, sizeof(c->status_ms), "%llu", (unsigned long long)cfg->status_ttl_ms);
	snprintf(c->stream, sizeof(c->stream), "%s:events", cfg->prefix);
	snprintf(c->retries_key, sizeof(c->retries_key), "%s:retries", cfg->prefix);
	snprintf(c->group, sizeof(c->group), "%s:deliver", cfg->prefix);
	snprintf(c->instance, sizeof(c->instance), "%s", cfg->instance);
	snprintf(c->maxlen, sizeof(c->maxlen), "%llu", (unsigned long long)cfg->max_stream_len);
	snprintf(c->claim_ms, sizeof(c->claim_ms), "%llu", (unsigned long long)cfg->claim_after_ms);
	snprintf(c->claim_cursor, sizeof(c->claim_cursor), "0-0");
	/* a reply of read_count entries of the largest size must fit */
	c->read_count = MAX_REPLY / (max_entry + 4096);
	if (c->read_count > READ_COUNT)
		c->read_count = READ_COUNT;
	if (c->read_count == 0)
		c->read_count = 1;
	resp_opts_default(&o);
	o.max_reply = MAX_REPLY;
	o.tls = tls;
	o.connect_timeout_ms = cfg->timeout_ms;
	o.command_timeout_ms = cfg->timeout_ms;
	o.max_queue = cfg->queue > UINT32_MAX ? UINT32_MAX : (uint32_t)cfg->queue;
	c->cmd = resp_client_new(r, dns, &cfg->url, &o);
	o.command_timeout_ms = cfg->timeout_ms + BLOCK_MS;
	o.max_queue = 4;
	c->rd = resp_client_new(r, dns, &cfg->url, &o);
	c->sub = cluster_triggers_subscriber(c, dns, &cfg->url, &o);
	c->runs = calloc(CLUSTER_MAX_RUNS, sizeof(*c->runs));
	list_init(&c->marks);
	if (!c->cmd || !c->rd || !c->sub || !c->runs) {
		cluster_free(c);
		return NULL;
	}
	timer_init(&c->read_timer, on_read_timer, c);
	timer_init(&c->claim_timer, on_claim_timer, c);
	timer_init(&c->beat_timer, on_beat_timer, c);
	timer_init(&c->trig_timer, NULL, c);
	hooks.settled = settle;
	hooks.status = cluster_status_store;
	hooks.breaker = cluster_breaker_open;
	hooks.park = cluster_retry_park;
	hooks.arg = c;
	dispatch_cluster_attach(d, &hooks);
	create_group(c);
	timer_start(r, &c->claim_timer, claim_every(c));
	timer_start(r, &c->beat_timer, c->claim_after_ms / 3);
	return c;
}

void cluster_stop(struct cluster *c)
{
	c->state = RD_STOPPED;
	timer_stop(c->r, &c->read_timer);
	timer_stop(c->r, &c->claim_timer);
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	if (c->d)
		dispatch_cluster_attach(c->d, NULL);
	timer_stop(c->r, &c->read_timer);
	timer_stop(c->r, &c->claim_timer);
	timer_stop(c->r, &c->beat_timer);
	cluster_triggers_stop(c);
	resp_client_free(c->cmd);
	resp_client_free(c->rd);
	resp_client_free(c->sub);
	cluster_marks_free(c);
	free(c->runs);
	free(c);
}

int cluster_up(const struct cluster *c) { return resp_connected(c->cmd); }

const struct cluster_stats *cluster_stats(const struct cluster *c) { return &c->stats; }

const char *cluster_instance(const struct cluster *c) { return c->instance; }

void cluster_redis_stats(const struct cluster *c, struct resp_stats *out)
{
	const struct resp_stats *a = resp_stats(c->cmd), *b = resp_stats(c->rd), *s = resp_stats(c->sub);
	out->connects = a->connects + b->connects + s->connects;
	out->connect_failures = a->connect_failures + b->connect_failures + s->connect_failures;
	out->disconnects = a->disconnects + b->disconnects + s->disconnects;
	out->protocol_errors = a->protocol_errors + b->protocol_errors + s->protocol_errors;
	out->timeouts = a->timeouts + b->timeouts + s->timeouts;
	out->replies = a->replies + b->replies + s->replies;
	out->refused = a->refused + b->refused + s->refused;
	out->writes = a->writes + b->writes + s->writes;
}
