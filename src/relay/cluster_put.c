/* cluster_put: ingest in cluster mode (cluster.h). Each event is one
 * EVAL that refuses when the stream already holds max_stream_len
 * undelivered entries and otherwise XADDs it; the events of one request
 * (and of every request of the same loop iteration) go out in one write.
 * The answer waits for every reply: any failure, a timeout or a lost
 * connection included, makes it a 503, never a 202 without a copy. */
#include "cluster_internal.h"

#include "edgehook/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* XLEN then XADD inside one script: atomic, so concurrent instances
 * cannot overshoot the bound. MAXLEN ~ is a second fence only: the
 * stream holds undelivered entries, which must never be trimmed. */
static const char put_script[] =
	"if redis.call('XLEN',KEYS[1])>=tonumber(ARGV[1]) then return redis.error_reply('FULL stream at max_stream_len') end "
	"return redis.call('XADD',KEYS[1],'MAXLEN','~',ARGV[1],'*','id',ARGV[2],'type',ARGV[3],'ts',ARGV[4],'body',ARGV[5])";

struct cluster_put {
	struct cluster *c;
	cluster_put_cb cb;
	void *arg;
	unsigned owed;
	int ended, cancelled, failed;
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
		p->cb(p->arg, p->failed ? -1 : 0, p->why);
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

void cluster_put_event(struct cluster_put *p, const char *id, const char *type, uint64_t created_ms,
		       const char *body, size_t len)
{
	char ts[24];
	const char *argv[] = {"EVAL", put_script, "1", p->c->stream, p->c->maxlen, id, type, ts, body};
	size_t lens[9];
	int i;
	if (p->failed)
		return;
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)created_ms);
	for (i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	lens[8] = len;
	if (resp_command(p->c->cmd, 9, argv, lens, on_put, p) < 0) {
		put_fail(p, "too many writes waiting for redis");
		return;
	}
	p->owed++;
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
