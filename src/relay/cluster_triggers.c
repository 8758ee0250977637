/* cluster_triggers: API triggers shared by every instance (cluster.h).
 * A change is INCR version + PUBLISH on the command connection; every
 * instance's subscriber connection hears it and reads the version at
 * once (or at the next tick when a read is in flight). Pub/sub is fire
 * and forget: a message published while a subscriber reconnects is
 * lost, so each (re)subscription reads the version too, and a slow poll
 * (CLUSTER_TRIGGER_SAFETY_MS) is the safety net for anything else.
 * All commands go on the one pipelined connection in order, so a read
 * sent after a local change sees it; a read sent before one is dropped
 * as stale (trig_gen) and repeated. */
#include "cluster_internal.h"

#include "edgehook/clock.h"
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
	const char *announce[] = {"PUBLISH", c->trig_channel, id};
	size_t lens[] = {4, strlen(c->trig_hash), strlen(id), len};
	int rc = body ? resp_command(c->cmd, 4, set, lens, on_store, c) : resp_command(c->cmd, 3, del, NULL, on_store, c);
	c->trig_gen++;
	if (rc < 0 || resp_command(c->cmd, 2, bump, NULL, on_store, c) < 0 ||
	    resp_command(c->cmd, 3, announce, NULL, on_store, c) < 0)
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

static void check_version(struct cluster *c)
{
	const char *argv[] = {"GET", c->trig_vkey};
	if (c->trig_busy || !resp_connected(c->cmd)) {
		c->trig_due = 1;
		return;
	}
	if (resp_command(c->cmd, 2, argv, NULL, on_version, c) == 0) {
		c->trig_busy = 1;
		c->trig_due = 0;
		c->trig_checked = clock_now_ms();
	}
}

static void on_trig_timer(void *arg)
{
	struct cluster *c = arg;
	timer_start(c->r, &c->trig_timer, CLUSTER_TRIGGER_POLL_MS);
	if (!resp_connected(c->cmd))
		return;
	cluster_breaker_poll(c);
	cluster_retry_poll(c);
	if (c->trig_due || clock_now_ms() - c->trig_checked >= c->trig_poll_ms)
		check_version(c);
}

/* r NULL: (re)subscribed, announcements may have been missed meanwhile. */
static void on_announce(void *arg, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (!r)
		log_msg(LOG_INFO, "cluster: trigger announcements subscribed", "channel", c->trig_channel, NULL);
	check_version(c);
}

struct resp_client *cluster_triggers_subscriber(struct cluster *c, struct dns *dns, const struct redis_url *u,
						struct resp_opts *o)
{
	const char *poll = getenv("EDGEHOOK_TEST_TRIGGER_POLL_MS"); /* test-only: README "Cluster mode" */
	struct resp_client *s;
	snprintf(c->trig_hash, sizeof(c->trig_hash), "%s:triggers", c->prefix);
	snprintf(c->trig_vkey, sizeof(c->trig_vkey), "%s:triggers:version", c->prefix);
	snprintf(c->trig_channel, sizeof(c->trig_channel), "%s:triggers:changed", c->prefix);
	c->trig_poll_ms = poll ? strtoull(poll, NULL, 10) : CLUSTER_TRIGGER_SAFETY_MS;
	o->max_queue = 1;
	if (!(s = resp_client_new(c->r, dns, u, o)))
		return NULL;
	if (resp_subscribe(s, c->trig_channel, on_announce, c) < 0) {
		resp_client_free(s);
		return NULL;
	}
	return s;
}

void cluster_triggers_watch(struct cluster *c, void (*fn)(void *arg, size_t n, const struct cluster_kv *kv),
			    void *arg)
{
	c->trig_fn = fn;
	c->trig_arg = arg;
	timer_init(&c->trig_timer, on_trig_timer, c);
	c->trig_due = 1;
	on_trig_timer(c);
}

void cluster_triggers_stop(struct cluster *c)
{
	timer_stop(c->r, &c->trig_timer);
}
