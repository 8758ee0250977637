/* cluster_triggers: API triggers shared by every instance (cluster.h).
 * Polling a version key keeps the RESP client request/reply (a SUBSCRIBE
 * connection would turn it into a push stream); at 250 ms it is one GET
 * per instance and tick, and a change reaches every instance well within
 * a second. All commands go on the one pipelined connection in order, so
 * a read sent after a local change sees it; a read sent before one is
 * dropped as stale (trig_gen) and repeated. */
#include "cluster_internal.h"

#include "edgehook/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_store(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (err || r->v[0].type == RESP_ERROR) {
		c->stats.redis_errors++;
		log_msg(LOG_WARN, "cluster: API trigger change not shared (other instances do not see it)", "err",
			err ? err : "redis refused", NULL);
	}
}

void cluster_trigger_store(struct cluster *c, const char *id, const char *body, size_t len)
{
	const char *set[] = {"HSET", c->trig_hash, id, body ? body : ""};
	const char *del[] = {"HDEL", c->trig_hash, id};
	const char *bump[] = {"INCR", c->trig_vkey};
	size_t lens[] = {4, strlen(c->trig_hash), strlen(id), len};
	int rc = body ? resp_command(c->cmd, 4, set, lens, on_store, c) : resp_command(c->cmd, 3, del, NULL, on_store, c);
	c->trig_gen++;
	if (rc < 0 || resp_command(c->cmd, 2, bump, NULL, on_store, c) < 0)
		on_store(c, "queue full", NULL);
}

static void on_hash(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	struct cluster_kv *kv;
	uint32_t i, idx = 1, n;
	c->trig_busy = 0;
	if (err || r->v[0].type != RESP_ARRAY || r->v[0].n % 2) {
		c->trig_version[0] = '\0';
		return;
	}
	if (c->trig_read_gen != c->trig_gen) {
		c->trig_version[0] = '\0'; /* changed here meanwhile: read again */
		return;
	}
	n = r->v[0].n / 2;
	if (!(kv = calloc(n ? n : 1, sizeof(*kv)))) {
		c->trig_version[0] = '\0';
		return;
	}
	for (i = 0; i < n; i++) {
		const struct resp_value *k = &r->v[idx], *v = &r->v[k->end];
		idx = v->end;
		if (k->type != RESP_BULK || v->type != RESP_BULK) {
			free(kv);
			return;
		}
		kv[i].key = resp_str(r, k);
		kv[i].klen = k->len;
		kv[i].val = resp_str(r, v);
		kv[i].vlen = v->len;
	}
	if (c->trig_fn)
		c->trig_fn(c->trig_arg, n, kv);
	free(kv);
}

static void on_version(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	char v[24] = "0";
	const char *argv[] = {"HGETALL", c->trig_hash};
	if (err || (r->v[0].type != RESP_BULK && r->v[0].type != RESP_NULL) || r->v[0].len >= sizeof(v)) {
		c->trig_busy = 0;
		return;
	}
	if (r->v[0].type == RESP_BULK)
		snprintf(v, sizeof(v), "%.*s", (int)r->v[0].len, resp_str(r, &r->v[0]));
	if (strcmp(v, c->trig_version) == 0) {
		c->trig_busy = 0;
		return;
	}
	snprintf(c->trig_version, sizeof(c->trig_version), "%s", v);
	c->trig_read_gen = c->trig_gen;
	if (resp_command(c->cmd, 2, argv, NULL, on_hash, c) < 0) {
		c->trig_version[0] = '\0';
		c->trig_busy = 0;
	}
}

static void on_trig_timer(void *arg)
{
	struct cluster *c = arg;
	const char *argv[] = {"GET", c->trig_vkey};
	timer_start(c->r, &c->trig_timer, CLUSTER_TRIGGER_POLL_MS);
	if (!resp_connected(c->cmd))
		return;
	cluster_breaker_poll(c);
	if (c->trig_busy)
		return;
	if (resp_command(c->cmd, 2, argv, NULL, on_version, c) == 0)
		c->trig_busy = 1;
}

void cluster_triggers_watch(struct cluster *c, void (*fn)(void *arg, size_t n, const struct cluster_kv *kv),
			    void *arg)
{
	c->trig_fn = fn;
	c->trig_arg = arg;
	snprintf(c->trig_hash, sizeof(c->trig_hash), "%s:triggers", c->prefix);
	snprintf(c->trig_vkey, sizeof(c->trig_vkey), "%s:triggers:version", c->prefix);
	timer_init(&c->trig_timer, on_trig_timer, c);
	on_trig_timer(c);
}

void cluster_triggers_stop(struct cluster *c)
{
	timer_stop(c->r, &c->trig_timer);
}
