/* trigger_spool: inbound trigger deliveries and their runs in the spool
 * (issue 14). dispatch_spool.c logs events; this logs what a trigger
 * delivery owes beyond them.
 *
 * Records (spool types 16-18; payloads little endian):
 *   ACCEPT: u8 flags (1 run, 2 emit, 4 data differs from body), u64
 *           accepted_ms, then eight u32-length fields: trigger, run id,
 *           event type, delivery id, source ip, dedupe key (the delivery
 *           header as sent, empty when none), body, data (the JSON the
 *           run's {json.PATH} reads, when it is not the body itself)
 *   START:  u64 started_ms, run id
 *   END:    run id
 *
 * Accepting: a delivery is logged before its 202 and, under fsync:
 * always, answered, recorded in the dedupe window and given its run only
 * once that record is committed. Its emit is the event record dispatch
 * wrote just before it in the same batch, so an ACCEPT on disk implies
 * its emit is too. A run's command is spawned only once its START record
 * is written (the runner's gate): a run without START never spawned.
 *
 * Recovery: every ACCEPT refills the dedupe window, oldest first; a run
 * with ACCEPT but no START runs now, once, with its own id; one with
 * START but no END was interrupted by the crash and is reported
 * run.failed with "error":"interrupted", never run again. An ACCEPT's
 * segment is held until its run's END. */
#ifndef EDGEHOOK_TRIGGER_SPOOL_H
#define EDGEHOOK_TRIGGER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct dedupe;
struct http_conn;
struct relay;
struct run;
struct spool;
struct trigger_cfg;
struct trigger_spool;

/* Collects the replay for dd (the dedupe window refilled). */
struct trigger_spool *trigger_spool_new(struct dedupe *dd);
/* The spool_open callback (records of other types are ignored). */
void trigger_spool_replay(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n);
/* The spool is open and dispatch has resumed its events: runs owed are
 * started or reported interrupted, and from now on deliveries and runs
 * are logged to s (rl->tspool is set). */
void trigger_spool_resume(struct trigger_spool *ts, struct relay *rl, struct spool *s);
/* Shutdown, before the runner goes: accepts still waiting for their
 * commit are dropped (their records are on disk or were never promised). */
void trigger_spool_stop(struct trigger_spool *ts);
/* After the runner; NULL is fine. */
void trigger_spool_free(struct trigger_spool *ts);

/* Whether a delivery fits now: bytes is what its record and its emitted
 * event carry (one batch). 1 fits; 0 not now (full); -1 never: more than
 * one spool record or batch holds. */
int trigger_spool_fits(const struct trigger_spool *ts, size_t bytes);

/* Whether a delivery with this dedupe key is waiting for its commit
 * (the dedupe window records it only then). */
int trigger_spool_pending(struct trigger_spool *ts, const char *scope, const char *key, size_t key_len);

struct trigger_accept {
	const struct trigger_cfg *t;
	struct run *run; /* prepared, not committed; NULL: no run */
	int emitted;
	const char *event, *delivery, *ip;
	const char *body;
	size_t len;
	const char *data; /* NULL: the body itself, or none when len is 0 */
	size_t data_len;
	const char *dedupe_key; /* NULL: no delivery header */
	size_t dedupe_len;
};

/* Answers an accepted delivery with reply (a 202 body, taken): logs it,
 * then commits the run, records the dedupe key and sends the 202 (at
 * once without a spool or under fsync interval/off, after the commit
 * under always). A delivery the spool refuses is answered 503 and its
 * run discarded. */
void trigger_accept(struct relay *rl, struct http_conn *c, const struct trigger_accept *a, struct buf *reply);

#endif
