/* cluster_put: ingest in cluster mode (cluster.h). Each event is one
 * EVAL that refuses when the stream already holds max_stream_len
 * undelivered entries and otherwise XADDs it; the events of one request
 * (and of every request of the same loop iteration) go out in one write.
 * The answer waits for every reply: any failure, a timeout or a lost
 * connection included, makes it a 503, never a 202 without a copy. */
#include "cluster_internal.h"

#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/rand.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dedupe mark (SET NX PX, when KEYS[2] is not empty), XLEN, XADD and
 * the event's entry in its status hash (cluster_status.c) inside one
 * script, one command per event: atomic, so a redelivery racing on two instances is
 * taken once, concurrent instances cannot overshoot the bound, and a
 * refused event leaves no mark. MAXLEN ~ is a second fence only: the
 * stream holds undelivered entries, which must never be trimmed. */
static const char put_script[] =
	"if KEYS[2]~='' and not redis.call('SET',KEYS[2],'1','NX','PX',ARGV[2]) then return 'DUP' end "
	"if ARGV[3]=='0' then return 'OK' end "
	"if redis.call('XLEN',KEYS[1])>=tonumber(ARGV[1]) then "
	"if KEYS[2]~='' then redis.call('DEL',KEYS[2]) end "
	"return redis.error_reply('FULL stream at max_stream_len') end "
	"local id=redis.call('XADD',KEYS[1],'MAXLEN','~',ARGV[1],'*',unpack(ARGV,6)) "
	"if ARGV[4]~='' then redis.call('HSET',KEYS[3],'_event',ARGV[4]) redis.call('PEXPIRE',KEYS[3],ARGV[5]) end "
	"return id";

struct cluster_put {
	struct cluster *c;
	cluster_put_cb cb;
	void *arg;
	unsigned owed;
	int ended, cancelled, failed, duplicate;
	char why[96];
};

static void put_fail(struct cluster_put *p, const char *why)
{
	if (!p->failed)
		snprintf(p->why, sizeof(p->why), "%s", why);
	p->failed = 1;
}

static void put_maybe_done(struct cluster_put *p)
{
	if (p->owed > 0 || !p->ended)
		return;
	if (p->failed)
		p->c->stats.put_failed++;
	if (!p->cancelled)
		p->cb(p->arg, p->failed ? -1 : p->duplicate, p->why);
	free(p);
}

static void on_put(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster_put *p = arg;
	p->owed--;
	if (err) {
		put_fail(p, "redis did not confirm the write");
	} else if (r->v[0].type == RESP_ERROR) {
		if (r->v[0].len >= 4 && memcmp(resp_str(r, &r->v[0]), "FULL", 4) == 0) {
			put_fail(p, "the event stream is full (cluster.max_stream_len)");
		} else {
			char text[96];
			snprintf(text, sizeof(text), "%.*s", (int)(r->v[0].len > 80 ? 80 : r->v[0].len), resp_str(r, &r->v[0]));
			log_msg(LOG_WARN, "cluster: event not stored", "err", text, NULL);
			put_fail(p, "redis refused the write");
		}
	} else if (resp_eq(r, &r->v[0], "DUP")) {
		p->duplicate = 1;
	} else {
		p->c->stats.put_ok++;
	}
	put_maybe_done(p);
}

struct cluster_put *cluster_put_begin(struct cluster *c, cluster_put_cb cb, void *arg)
{
	struct cluster_put *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->c = c;
	p->cb = cb;
	p->arg = arg;
	if (!resp_connected(c->cmd))
		put_fail(p, "redis is unreachable");
	return p;
}

enum { FIXED_ARGS = 11, MAX_PUT_ARGS = FIXED_ARGS + 8 + 2 * CLUSTER_MAX_EXTRA };

static void put(struct cluster_put *p, const char *mark, size_t mark_len, const struct cluster_item *it)
{
	char ts[24], skey[160];
	struct buf meta;
	const char *argv[MAX_PUT_ARGS] = {"EVAL", put_script, "3", p->c->stream, mark, skey, p->c->maxlen,
					  p->c->dedupe_ms, it->body ? "1" : "0", "", p->c->status_ms,
					  "id", it->id ? it->id : "", "type", it->type ? it->type : "", "ts", ts,
					  "body", it->body ? it->body : ""};
	size_t lens[MAX_PUT_ARGS];
	int i, n = FIXED_ARGS + 8;
	if (p->failed)
		return;
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)it->created_ms);
	snprintf(skey, sizeof(skey), "%s:status:%s", p->c->prefix, it->id ? it->id : "");
	buf_init(&meta, 1024);
	/* an event gets its status entry (cluster_status.c); a run does not */
	if (it->body && it->nextra == 0) {
		json_put_kv(&meta, 0, "id", it->id);
		json_put_kv(&meta, 1, "event", it->type);
		event_put_time_member(&meta, "created", it->created_ms);
		if (meta.failed) {
			buf_free(&meta);
			put_fail(p, "out of memory");
			return;
		}
		argv[9] = meta.data;
	}
	/* the mark, the meta and the body are not NUL-terminated */
	for (i = 0; i < n; i++)
		lens[i] = i == 4 || i == 9 || i == n - 1 ? 0 : strlen(argv[i]);
	lens[4] = mark_len;
	lens[9] = meta.len;
	lens[n - 1] = it->body ? it->len : 0;
	for (i = 0; i < (int)it->nextra && i < CLUSTER_MAX_EXTRA; i++) {
		argv[n] = it->extra[i].key;
		lens[n++] = it->extra[i].klen;
		argv[n] = it->extra[i].val;
		lens[n++] = it->extra[i].vlen;
	}
	if (resp_command(p->c->cmd, n, argv, lens, on_put, p) < 0)
		put_fail(p, "too many writes waiting for redis");
	else
		p->owed++;
	buf_free(&meta);
}

void cluster_put_event(struct cluster_put *p, const char *id, const char *type, uint64_t created_ms,
		       const char *body, size_t len)
{
	struct cluster_item it = {id, type, created_ms, body, len, NULL, 0};
	put(p, "", 0, &it);
}

void cluster_put_item(struct cluster_put *p, const struct cluster_item *it)
{
	put(p, "", 0, it);
}

static void on_emitted(void *arg, int status, const char *why)
{
	(void)arg;
	if (status < 0)
		log_msg(LOG_WARN, "cluster: lifecycle event not stored", "err", why, NULL);
}

void cluster_emit(struct cluster *c, const char *type, const char *body, size_t len)
{
	struct cluster_put *p = cluster_put_begin(c, on_emitted, NULL);
	char id[EVENT_ID_LEN];
	const char *why = NULL;
	if (!p) {
		log_msg(LOG_WARN, "cluster: lifecycle event not stored", "err", "out of memory", NULL);
		return;
	}
	rand_id(id, sizeof(id), "evt_");
	cluster_put_event(p, id, type, clock_wall_ms(), body, len);
	if (cluster_put_end(p, &why) < 0)
		log_msg(LOG_WARN, "cluster: lifecycle event not stored", "err", why, NULL);
}

void cluster_put_once(struct cluster_put *p, const char *scope, const char *delivery, size_t dlen,
		      const struct cluster_item *it)
{
	char mark[512];
	int n = snprintf(mark, sizeof(mark), "%s:seen:%s:", p->c->prefix, scope);
	if (n < 0 || (size_t)n + dlen > sizeof(mark)) {
		put_fail(p, "delivery id too long");
		return;
	}
	memcpy(mark + n, delivery, dlen);
	put(p, mark, (size_t)n + dlen, it);
}

int cluster_put_end(struct cluster_put *p, const char **why)
{
	p->ended = 1;
	if (p->failed) {
		static char reason[96];
		/* the answer goes out now; replies still owed free p later */
		snprintf(reason, sizeof(reason), "%s", p->why);
		*why = reason;
		p->cancelled = 1;
		p->c->stats.put_failed += p->owed == 0;
		if (p->owed == 0)
			free(p);
		return -1;
	}
	put_maybe_done(p);
	return 0;
}

void cluster_put_cancel(struct cluster_put *p)
{
	p->cancelled = 1;
}
