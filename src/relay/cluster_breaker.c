/* cluster_breaker: an open breaker is open everywhere. The instance whose
 * breaker opens sets PREFIX:breaker:ENDPOINT for the cooldown; every
 * instance polls the remaining time of its endpoints' keys (one script,
 * every CLUSTER_TRIGGER_POLL_MS) and opens its own breaker for what is
 * left. Closing stays local: each instance probes by itself once its
 * cooldown ends, so one recovered probe does not flood a sick endpoint
 * from every instance at once. */
#include "cluster_internal.h"

#include "edgehook/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_set(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (err || r->v[0].type == RESP_ERROR)
		c->stats.redis_errors++;
}

void cluster_breaker_open(void *arg, const char *endpoint, uint64_t ms)
{
	struct cluster *c = arg;
	char key[256], px[24];
	const char *argv[] = {"SET", key, "1", "PX", px};
	if (snprintf(key, sizeof(key), "%s:breaker:%s", c->prefix, endpoint) >= (int)sizeof(key) || ms == 0)
		return;
	snprintf(px, sizeof(px), "%llu", (unsigned long long)ms);
	if (resp_command(c->cmd, 5, argv, NULL, on_set, c) < 0)
		c->stats.redis_errors++;
}

static void on_ttls(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	uint32_t i;
	c->brk_busy = 0;
	if (err || r->v[0].type != RESP_ARRAY || r->v[0].n != c->brk_n)
		return;
	for (i = 0; i < r->v[0].n; i++)
		if (r->v[1 + i].type == RESP_INT && r->v[1 + i].i > 0)
			dispatch_breaker_shared(c->d, c->brk_names[i], (uint64_t)r->v[1 + i].i);
}

/* Called with the trigger poll: one more command on the same tick. */
void cluster_breaker_poll(struct cluster *c)
{
	static const char script[] = "local r={} for i,k in ipairs(KEYS) do r[i]=redis.call('PTTL',k) end return r";
	const char *names[CLUSTER_MAX_BREAKERS], *argv[3 + CLUSTER_MAX_BREAKERS];
	char nkeys[16];
	size_t n, i;
	if (c->brk_busy)
		return;
	n = dispatch_breaker_names(c->d, names, CLUSTER_MAX_BREAKERS);
	c->brk_n = 0;
	for (i = 0; i < n; i++) {
		if (snprintf(c->brk_keys[c->brk_n], sizeof(c->brk_keys[0]), "%s:breaker:%s", c->prefix, names[i]) >=
			    (int)sizeof(c->brk_keys[0]) ||
		    strlen(names[i]) >= sizeof(c->brk_names[0]))
			continue;
		snprintf(c->brk_names[c->brk_n], sizeof(c->brk_names[0]), "%s", names[i]);
		argv[3 + c->brk_n] = c->brk_keys[c->brk_n];
		c->brk_n++;
	}
	if (c->brk_n == 0)
		return;
	snprintf(nkeys, sizeof(nkeys), "%u", c->brk_n);
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = nkeys;
	if (resp_command(c->cmd, (int)(3 + c->brk_n), argv, NULL, on_ttls, c) == 0)
		c->brk_busy = 1;
}
