/* cluster_internal: the state cluster.c (reading, acknowledging,
 * claiming) and cluster_put.c (ingest) share. */
#ifndef EDGEHOOK_CLUSTER_INTERNAL_H
#define EDGEHOOK_CLUSTER_INTERNAL_H

#include "edgehook/cluster.h"
#include "edgehook/list.h"
#include "edgehook/reactor.h"
#include "edgehook/resp.h"

enum rd_state { RD_GROUP, RD_READING, RD_WAIT, RD_STOPPED };

/* Stream ids per keep-alive command. */
enum { CLUSTER_KEEP_BATCH = 512 };

/* Runs started here from stream entries, settled when they end. */
enum { CLUSTER_MAX_RUNS = 4096 };
struct held_run {
	char run_id[32];
	char stream_id[48];
};

/* Endpoints whose breaker state is shared (more are not polled). */
enum { CLUSTER_MAX_BREAKERS = 64 };

struct cluster {
	struct reactor *r;
	struct dispatch *d;
	struct resp_client *cmd;  /* pipelined: XADD, XACK, XCLAIM, ... */
	struct resp_client *rd;   /* the blocking XREADGROUP only */
	struct resp_client *sub;  /* subscribed to the API trigger announcements */
	enum rd_state state;
	int history;              /* reading our own pending entries (from cursor) */
	char cursor[48];          /* history: the last entry read; claims: XAUTOCLAIM's */
	char claim_cursor[48];
	uint64_t read_started, backoff;
	uint64_t claim_after_ms, max_stream_len, timeout_ms;
	size_t read_count;        /* entries per XREADGROUP/XAUTOCLAIM: their reply fits max_reply */
	int claim_busy;
	struct timer read_timer, claim_timer, beat_timer;
	struct cluster_stats stats;
	int (*run_fn)(void *arg, const struct cluster_run *cr);
	void *run_arg;
	struct held_run *runs; /* CLUSTER_MAX_RUNS, the first nruns used */
	size_t nruns;
	struct list marks;     /* run-start marks awaiting their reply (cluster_mark.c) */
	/* shared API triggers (cluster_triggers.c) */
	struct timer trig_timer;
	void (*trig_fn)(void *arg, size_t n, const struct cluster_kv *kv);
	void *trig_arg;
	uint64_t trig_gen;        /* local changes: a read older than one is stale */
	uint64_t trig_read_gen;
	int trig_busy;
	int trig_due;             /* announced while a read was in flight: read again */
	uint64_t trig_checked, trig_poll_ms; /* the last version check; the safety poll */
	char trig_version[24];    /* the version last applied, "" none */
	char trig_hash[96], trig_vkey[112], trig_channel[112];
	/* shared breakers (cluster_breaker.c): the keys polled, in order */
	char brk_names[CLUSTER_MAX_BREAKERS][128];
	char brk_keys[CLUSTER_MAX_BREAKERS][200];
	uint32_t brk_n;
	int brk_busy;
	char retries_key[80];
	int retry_busy;
	char prefix[65], stream[96], group[80], instance[129], maxlen[24], claim_ms[24], dedupe_ms[24], status_ms[24];
};

/* cluster.c: child i of an aggregate of a complete reply; one entry
 * ([stream_id, fields, ...]) taken for delivery, owed: what the retry
 * set says it still owes (NULL: a fresh entry). */
const struct resp_value *cluster_child(const struct resp_reply *r, const struct resp_value *agg, uint32_t i);
void cluster_take_entry(struct cluster *c, const struct resp_reply *r, const struct resp_value *v, const char *owed,
			size_t owed_len);

/* cluster_retry.c */
void cluster_retry_park(void *arg, const char *stream_id, int retries, uint64_t due_ms, const char *owed,
			size_t len);
void cluster_retry_settle(struct cluster *c, const char *stream_id);
void cluster_retry_poll(struct cluster *c);
void cluster_retry_keep(struct cluster *c, const char *const *ids, size_t n);

/* cluster_mark.c: the mark's key for a run; the marks still owed a
 * reply, freed with the cluster. */
void cluster_mark_key(const struct cluster *c, const char *run_id, char *out, size_t cap);
void cluster_marks_free(struct cluster *c);

/* cluster_triggers.c: the subscriber connection (o: the command
 * connection's options), NULL when out of memory. */
struct resp_client *cluster_triggers_subscriber(struct cluster *c, struct dns *dns, const struct redis_url *u,
						struct resp_opts *o);
void cluster_triggers_stop(struct cluster *c);
/* cluster_breaker.c: the dispatcher's breaker hook, and the poll. */
void cluster_breaker_open(void *arg, const char *endpoint, uint64_t ms);
void cluster_breaker_poll(struct cluster *c);

#endif
