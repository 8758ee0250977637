/* cluster_retry: deliveries waiting for a retry live in Redis, not in an
 * instance. An event whose unfinished deliveries all wait at least
 * DISPATCH_PARK_MIN_MS is parked: one script acknowledges its stream
 * entry, stores what it still owes (PREFIX:retry:ID, "ENDPOINT\tATTEMPTS"
 * lines) and adds it to the sorted set PREFIX:retries at its due time.
 * Every instance polls the set; taking a due event moves its score to
 * now + claim_after, a lease the taker renews while it delivers. An
 * instance that dies with it lets the lease run out and another takes
 * it: at least once, as with the consumer group. Settling removes the
 * member, the state and the entry. */
#include "cluster_internal.h"

#include "edgehook/clock.h"
#include "edgehook/dispatch.h"
#include "edgehook/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAKE_MAX = 64 };

static void on_done(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	if (err || r->v[0].type == RESP_ERROR)
		c->stats.redis_errors++;
}

void cluster_retry_park(void *arg, const char *stream_id, int retries, uint64_t due_ms, const char *owed, size_t len)
{
	static const char script[] = "if ARGV[3]=='0' then redis.call('XACK',KEYS[1],ARGV[4],ARGV[5]) end "
				     "redis.call('SET',KEYS[3],ARGV[2]) "
				     "return redis.call('ZADD',KEYS[2],ARGV[1],ARGV[5])";
	struct cluster *c = arg;
	char due[24], state[160];
	const char *argv[] = {"EVAL", script, "3", c->stream, c->retries_key, state, due, owed, retries ? "1" : "0",
			      c->group, stream_id};
	size_t lens[11];
	int i;
	snprintf(due, sizeof(due), "%llu", (unsigned long long)due_ms);
	snprintf(state, sizeof(state), "%s:retry:%s", c->prefix, stream_id);
	for (i = 0; i < 11; i++)
		lens[i] = i == 7 ? len : strlen(argv[i]);
	c->stats.parked++;
	if (resp_command(c->cmd, 11, argv, lens, on_done, c) < 0) {
		/* not parked: the entry stays pending here and is taken over */
		c->stats.redis_errors++;
		log_msg(LOG_WARN, "cluster: retry not parked (taken over after claim_after)", "stream_id", stream_id, NULL);
	}
}

void cluster_retry_settle(struct cluster *c, const char *stream_id)
{
	static const char script[] = "redis.call('ZREM',KEYS[2],ARGV[1]) redis.call('DEL',KEYS[3]) "
				     "return redis.call('XDEL',KEYS[1],ARGV[1])";
	char state[160];
	const char *argv[] = {"EVAL", script, "3", c->stream, c->retries_key, state, stream_id};
	snprintf(state, sizeof(state), "%s:retry:%s", c->prefix, stream_id);
	if (resp_command(c->cmd, 7, argv, NULL, on_done, c) < 0)
		c->stats.redis_errors++;
}

static void on_taken(void *arg, const char *err, const struct resp_reply *r)
{
	struct cluster *c = arg;
	uint32_t i;
	c->retry_busy = 0;
	if (err || r->v[0].type != RESP_ARRAY) {
		if (err || r->v[0].type == RESP_ERROR)
			c->stats.redis_errors++;
		return;
	}
	for (i = 0; i < r->v[0].n; i++) {
		const struct resp_value *t = cluster_child(r, &r->v[0], i);
		const struct resp_value *owed;
		if (t->type != RESP_ARRAY || t->n != 3)
			continue;
		owed = cluster_child(r, t, 2);
		if (owed->type != RESP_BULK)
			continue;
		/* [sid, fields, owed]: the first two are an entry's shape */
		c->stats.retries_taken++;
		cluster_take_entry(c, r, t, resp_str(r, owed), owed->len);
	}
}

/* Called on the poll tick (cluster_triggers.c). */
void cluster_retry_poll(struct cluster *c)
{
	static const char script[] =
		"local out={} "
		"for _,id in ipairs(redis.call('ZRANGEBYSCORE',KEYS[2],'-inf',ARGV[1],'LIMIT',0,tonumber(ARGV[3]))) do "
		"redis.call('ZADD',KEYS[2],tonumber(ARGV[1])+tonumber(ARGV[2]),id) "
		"local e=redis.call('XRANGE',KEYS[1],id,id) local s=redis.call('GET',ARGV[4]..id) "
		"if e[1] and s then out[#out+1]={id,e[1][2],s} else redis.call('ZREM',KEYS[2],id) end end "
		"return out";
	char now[24], count[16], state[120];
	const char *argv[] = {"EVAL", script, "2", c->stream, c->retries_key, now, c->claim_ms, count, state};
	size_t room = dispatch_room(c->d);
	if (c->retry_busy || c->state == RD_STOPPED || room < 16)
		return;
	snprintf(now, sizeof(now), "%llu", (unsigned long long)clock_wall_ms());
	snprintf(count, sizeof(count), "%zu", room < c->read_count ? (room < TAKE_MAX ? room : TAKE_MAX) : c->read_count);
	snprintf(state, sizeof(state), "%s:retry:", c->prefix);
	if (resp_command(c->cmd, 9, argv, NULL, on_taken, c) == 0)
		c->retry_busy = 1;
}

/* The leases of what we deliver from the set, renewed with the keep-alive. */
void cluster_retry_keep(struct cluster *c, const char *const *ids, size_t n)
{
	const char *argv[3 + 2 * CLUSTER_KEEP_BATCH];
	char until[24];
	size_t i;
	if (n == 0)
		return;
	snprintf(until, sizeof(until), "%llu", (unsigned long long)(clock_wall_ms() + c->claim_after_ms));
	argv[0] = "ZADD";
	argv[1] = c->retries_key;
	argv[2] = "XX";
	for (i = 0; i < n && i < CLUSTER_KEEP_BATCH; i++) {
		argv[3 + 2 * i] = until;
		argv[4 + 2 * i] = ids[i];
	}
	if (resp_command(c->cmd, (int)(3 + 2 * i), argv, NULL, on_done, c) < 0)
		c->stats.redis_errors++;
}
