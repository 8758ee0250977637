/* cluster: cluster mode on Redis Streams (README "Cluster mode").
 *
 * Accepted events are added to one stream, PREFIX:events, and answered
 * 202 only once Redis has acknowledged the XADD (cluster_put). Every
 * instance reads the stream in one consumer group (consumer = its
 * instance name) and delivers what it reads through the dispatcher; an
 * entry is acknowledged and deleted once all its deliveries are
 * delivered or failed, so the stream holds exactly the undelivered
 * events and max_stream_len bounds them (a full stream answers 503).
 *
 * Ownership: entries this instance still delivers (retries included)
 * are re-claimed every claim_after/3 so they never look idle; entries
 * idle longer than claim_after belong to a dead or stalled instance and
 * are taken over with XAUTOCLAIM. At start the instance first reads its
 * own pending entries (a restart after kill -9 resumes them at once).
 * NOGROUP (Redis restarted without its data) recreates the group with
 * MKSTREAM instead of failing forever.
 *
 * Three connections: one for the blocking XREADGROUP, one subscribed to
 * the API trigger announcements, one for everything else, pipelined (all
 * commands of one loop iteration share a write). */
#ifndef EDGEHOOK_CLUSTER_H
#define EDGEHOOK_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

struct reactor;
struct dns;
struct dispatch;
struct cluster_cfg;
struct buf;

struct cluster;

struct cluster_stats {
	uint64_t put_ok, put_failed, read_calls, read_entries, acked, claimed, claim_calls, group_created,
		redis_errors, poison, parked, retries_taken;
};

/* Starts connecting and reading at once. tls: the anchors for rediss://
 * (NULL for redis://), outliving the cluster. max_entry: the largest
 * body an entry can carry (server.max_body_bytes), so that a batch read
 * always fits one reply. NULL when out of memory. */
struct tls_client_ctx;
struct cluster *cluster_new(struct reactor *r, struct dns *dns, const struct cluster_cfg *cfg, struct dispatch *d,
			    struct tls_client_ctx *tls, size_t max_entry);
void cluster_free(struct cluster *c);
/* Drain: reads nothing more; what is held finishes and is acknowledged. */
void cluster_stop(struct cluster *c);
/* The command connection is up (ingest can be answered). */
int cluster_up(const struct cluster *c);
const struct cluster_stats *cluster_stats(const struct cluster *c);
const char *cluster_instance(const struct cluster *c);
/* The sum over the three Redis connections. */
struct resp_stats;
void cluster_redis_stats(const struct cluster *c, struct resp_stats *out);

/* Ingest: begin, add each event, end. status 0: every event is in the
 * stream; 1: a delivery put with cluster_put_once was seen before (within
 * cluster.dedupe_window, on any instance); -1: at least one is not stored
 * (why says which problem), answer 503.
 * cb runs from the loop after end, unless end returned -1 (refused at
 * once: cb never runs) or the put was cancelled. */
typedef void (*cluster_put_cb)(void *arg, int status, const char *why);
struct cluster_put;
struct cluster_put *cluster_put_begin(struct cluster *c, cluster_put_cb cb, void *arg);
void cluster_put_event(struct cluster_put *p, const char *id, const char *type, uint64_t created_ms,
		       const char *body, size_t len);
/* A trigger delivery: marks (scope, delivery) seen and stores the event
 * (body NULL: only the mark), both or neither. */
enum { CLUSTER_MAX_EXTRA = 6 };
struct cluster_kv;
struct cluster_item {
	const char *id, *type;
	uint64_t created_ms;
	const char *body; /* NULL: nothing to store */
	size_t len;
	const struct cluster_kv *extra; /* more fields of the entry (a run's) */
	size_t nextra;                  /* at most CLUSTER_MAX_EXTRA */
};
void cluster_put_once(struct cluster_put *p, const char *scope, const char *delivery, size_t dlen,
		      const struct cluster_item *it);
/* Another entry in the same put, without a mark. */
void cluster_put_item(struct cluster_put *p, const struct cluster_item *it);
int cluster_put_end(struct cluster_put *p, const char **why);
/* A lifecycle event (run.started, ...) into the stream, not awaited: a
 * failure is logged and counted. */
void cluster_emit(struct cluster *c, const char *type, const char *body, size_t len);

/* Runs of trigger commands travel as stream entries too; the instance
 * that reads one calls fn: 1 the run was taken (its entry is settled,
 * and its run-start mark deleted with it, when cluster_run_done(c,
 * run_id) reports its end: the runner's done hook), 0 it was reported
 * instead (settled at once). resumed: the entry was handed to an
 * instance before (taken over, or our pending list after a restart): it
 * was accepted long ago, and may have started there (the mark says). */
struct cluster_run {
	const char *stream_id, *run_id, *trigger, *type, *delivery, *ip, *body;
	size_t len;
	int resumed;
};
void cluster_runs_watch(struct cluster *c, int (*fn)(void *arg, const struct cluster_run *cr), void *arg);
void cluster_run_done(void *arg, const char *run_id);
/* The run-start mark (cluster_mark.c): a run spawns only once this says
 * it is the first start of run_id anywhere. cb(arg, item, status, why):
 * 1 marked now (spawn), 0 marked before (it started on an instance that
 * died or restarted: "interrupted"), -1 Redis did not confirm (why).
 * NULL when not sent (memory, a full command queue): cb never runs, nor
 * after cluster_mark_cancel. */
typedef void (*cluster_mark_cb)(void *arg, void *item, int status, const char *why);
struct cluster_mark;
struct cluster_mark *cluster_run_mark(struct cluster *c, const char *run_id, cluster_mark_cb cb, void *arg,
				      void *item);
void cluster_mark_cancel(struct cluster_mark *m);
/* The requester went away: cb never runs (the events may still land). */
void cluster_put_cancel(struct cluster_put *p);

/* Delivery status shared by all instances (cluster_status.c): store is
 * the dispatcher's status hook (the event itself is entered at ingest);
 * get answers status 1 with the event's JSON, 0 unknown (or expired), -1
 * Redis failed; cb never runs after cancel. NULL: not sent. */
void cluster_status_store(void *arg, const char *id, const char *field, const char *meta, size_t mlen,
			  const char *json, size_t jlen);
struct cluster_get;
struct cluster_get *cluster_status_get(struct cluster *c, const char *id,
				       void (*cb)(void *arg, int status, struct buf *json), void *arg);
void cluster_get_cancel(struct cluster_get *g);

/* Runtime triggers (PUT /api/v1/triggers) shared by all instances: a
 * hash PREFIX:triggers (id -> definition as PUT) and a version counter
 * PREFIX:triggers:version bumped with every change, announced on the
 * channel PREFIX:triggers:changed. On an announcement (and every
 * CLUSTER_TRIGGER_SAFETY_MS, for announcements lost while a connection
 * was down) an instance reads the version and, when it moved, the hash,
 * and hands it to fn (strings valid during the call only). store: body
 * NULL deletes. A store that fails is logged and counted. The shared
 * breakers and due retries are polled every CLUSTER_TRIGGER_POLL_MS. */
enum { CLUSTER_TRIGGER_POLL_MS = 250, CLUSTER_TRIGGER_SAFETY_MS = 2000 };
struct cluster_kv {
	const char *key, *val;
	size_t klen, vlen;
};
void cluster_trigger_store(struct cluster *c, const char *id, const char *body, size_t len);
void cluster_triggers_watch(struct cluster *c, void (*fn)(void *arg, size_t n, const struct cluster_kv *kv),
			    void *arg);

#endif
