/* cluster_status: delivery status shared through Redis, so GET
 * /api/v1/events/{id} answers on every instance, not only on the one
 * delivering. One hash per event, PREFIX:status:ID, field "_event" (the
 * event's "id","event","created" members) and one field per endpoint
 * (its delivery object), expiring cluster.status_ttl after the last
 * change. Writes are fire-and-forget: a lost one leaves an older state
 * visible, never a wrong delivery. */
#include "cluster_internal.h"

#include "edgehook/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cluster_get {
	struct cluster *c;
	void (*cb)(void *arg, int status, struct buf *json);
	void *arg;
	int cancelled;
};

static void on_write(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (err || r->v[0].type == RESP_ERROR)
		c->stats.redis_errors++;
}

static void status_key(const struct cluster *c, const char *id, char *key, size_t cap)
{
	snprintf(key, cap, "%s:status:%s", c->prefix, id);
}

/* One command: the hash fields and the expiry together. */
static const char store_script[] =
	"redis.call('HSET',KEYS[1],'_event',ARGV[2],ARGV[3],ARGV[4]) return redis.call('PEXPIRE',KEYS[1],ARGV[1])";

void cluster_status_store(void *arg, const char *id, const char *field, const char *meta, size_t mlen,
			  const char *json, size_t jlen)
{
	struct cluster *c = arg;
	char key[160];
	const char *argv[] = {"EVAL", store_script, "1", key, c->status_ms, meta, field, json};
	size_t lens[8];
	int i;
	status_key(c, id, key, sizeof(key));
	for (i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	lens[5] = mlen;
	lens[6] = strlen(field);
	lens[7] = jlen;
	if (resp_command(c->cmd, 8, argv, lens, on_write, c) < 0)
		c->stats.redis_errors++;
}

static void on_get(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster_get *g = arg;
	struct buf out;
	const struct resp_value *meta = NULL;
	uint32_t i, idx = 1;
	int first = 1, status = -1;
	buf_init(&out, 16u << 20);
	if (!err && r->v[0].type == RESP_ARRAY && r->v[0].n % 2 == 0) {
		for (i = 0; i < r->v[0].n / 2; i++) {
			const struct resp_value *k = &r->v[idx], *v = &r->v[k->end];
			idx = v->end;
			if (resp_eq(r, k, "_event"))
				meta = v;
		}
		status = 0;
	}
	if (meta && meta->type == RESP_BULK) {
		status = 1;
		buf_puts(&out, "{");
		buf_append(&out, resp_str(r, meta), meta->len);
		buf_puts(&out, ",\"deliveries\":[");
		for (i = 0, idx = 1; i < r->v[0].n / 2; i++) {
			const struct resp_value *k = &r->v[idx], *v = &r->v[k->end];
			idx = v->end;
			if (resp_eq(r, k, "_event") || v->type != RESP_BULK)
				continue;
			buf_puts(&out, first ? "" : ",");
			buf_append(&out, resp_str(r, v), v->len);
			first = 0;
		}
		buf_puts(&out, "]}");
	}
	if (!g->cancelled)
		g->cb(g->arg, status, &out);
	buf_free(&out);
	free(g);
}

struct cluster_get *cluster_status_get(struct cluster *c, const char *id,
				       void (*cb)(void *arg, int status, struct buf *json), void *arg)
{
	struct cluster_get *g = calloc(1, sizeof(*g));
	char key[160];
	const char *argv[] = {"HGETALL", key};
	if (!g)
		return NULL;
	g->c = c;
	g->cb = cb;
	g->arg = arg;
	status_key(c, id, key, sizeof(key));
	if (resp_command(c->cmd, 2, argv, NULL, on_get, g) < 0) {
		free(g);
		return NULL;
	}
	return g;
}

void cluster_get_cancel(struct cluster_get *g)
{
	g->cancelled = 1;
}
