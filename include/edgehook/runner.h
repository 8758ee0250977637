/* runner: runs trigger commands with posix_spawn, never through a shell.
 *
 * The child gets the request body on stdin, a small clean environment
 * (PATH, HOME, LANG, TZ when set, plus EDGEHOOK_EVENT, EDGEHOOK_DELIVERY,
 * EDGEHOOK_TRIGGER, EDGEHOOK_SOURCE_IP, EDGEHOOK_RUN_ID), an empty signal
 * mask, default signal dispositions and its own process group. Its stdout
 * and stderr are read without blocking; the last 4 KiB are kept. At the
 * timeout the group gets SIGTERM, and SIGKILL 5 s later. Children are
 * reaped from the loop (runner_reap on SIGCHLD). Every descriptor the
 * server owns is O_CLOEXEC, so none leaks into a child. The SIGKILL goes
 * to the group at the grace deadline even when the leader is gone.
 *
 * Each trigger runs at most `concurrency` commands at once; more wait in
 * a FIFO of at most `queue` entries, and past that runner_prepare refuses
 * (the caller answers 503). Lifecycle events run.started, run.completed
 * and run.failed go out through the emit callback. The last runs stay queryable;
 * a finished run keeps only what the runs API shows (its input and
 * arguments are freed once stdin is done or the run ends), and a trigger
 * holds a slot only while it has a run running or waiting. */
#ifndef EDGEHOOK_RUNNER_H
#define EDGEHOOK_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"

struct reactor;
struct json_doc;
struct trigger_cfg;
struct runner;
struct run;

struct run_request {
	const char *event;
	const char *delivery;
	const char *source_ip;
	const char *body; /* raw request body, for stdin */
	size_t len;
	/* the event data, parsed once on receipt, for {json.PATH}; NULL when
	 * the request has none. Used only until runner_prepare returns. */
	const struct json_doc *data;
	/* a run recovered from the spool keeps its id (NULL: a new one is
	 * drawn) and is not bound by the trigger's queue: it was accepted
	 * already. */
	const char *run_id;
	int recovered;
};

/* Hands a lifecycle event (type, JSON body) on; -1 when it was refused
 * (the runner logs that). */
typedef int (*runner_emit_fn)(void *arg, const char *type, const char *body, size_t len);

struct runner *runner_new(struct reactor *r, runner_emit_fn emit, void *emit_arg, size_t history);
void runner_free(struct runner *rn);
/* Whether a run for t would be accepted now (running or queued). */
int runner_has_room(struct runner *rn, const struct trigger_cfg *t);
/* Decides everything that can refuse a run for t: NULL when the
 * trigger's queue is full or memory is short. Nothing is started, queued
 * or emitted yet: the caller then commits or discards the run, so a
 * refused request has no side effect. A placeholder that cannot be
 * passed exactly is no refusal: the committed run fails with its reason. */
struct run *runner_prepare(struct runner *rn, const struct trigger_cfg *t, const struct run_request *req);
/* Starts or queues a prepared run; cannot fail. id (cap >= 32) gets
 * "run_...". */
void runner_commit(struct runner *rn, struct run *run, char *id, size_t cap);
void runner_discard(struct run *run);
/* Cluster mode: fn(arg, id) is called once a run has ended (completed
 * or failed, after its lifecycle event). */
void runner_on_done(struct runner *rn, void (*fn)(void *arg, const char *run_id), void *arg);
/* Reaps exited children; call on SIGCHLD. */
void runner_reap(struct runner *rn);
int runner_run_json(struct runner *rn, const char *id, struct buf *out);
/* {"runs":[...]}: the last runs of the history, newest first, at most limit. */
void runner_runs_json(struct runner *rn, size_t limit, struct buf *out);
/* Runs queued or running. */
size_t runner_active(const struct runner *rn);
/* Calls on_idle once no run is active (at once if none). */
void runner_drain(struct runner *rn, void (*on_idle)(void *arg), void *arg);
/* SIGKILLs every running command and every process group still owed
 * its SIGKILL (shutdown past the drain timeout). */
void runner_kill_all(struct runner *rn);

/* The spool's hooks (trigger_spool.c), and the cluster's
 * (trigger_cluster.c). hold is called as a run is about to spawn its
 * command: 0 spawns now, 1 defers the spawn until the hook calls
 * runner_gate_open (the run-started record is on disk, or in Redis), so
 * a run that started is never taken for one that did not; -1 fails the
 * run unstarted (its record could not even be sent). cancel: a held run
 * is dropped instead (shutdown). settled: a run reached its final state
 * (completed or failed, started or not). */
struct runner_gate {
	int (*hold)(void *arg, struct run *run);
	void (*cancel)(void *arg, struct run *run);
	void (*settled)(void *arg, const struct run *run);
	void *arg;
};
/* NULL removes the hooks. */
void runner_set_gate(struct runner *rn, const struct runner_gate *g);
/* Spawns a held run; ok 0 fails it instead with error. */
void runner_gate_open(struct runner *rn, struct run *run, int ok, const char *error);
const char *runner_id(const struct run *run);
/* The gate's own value for a run (0 until set). */
void runner_set_tag(struct run *run, uint64_t tag);
uint64_t runner_tag(const struct run *run);

/* A run that will not start or finish here: one that was running when
 * the process died (error "interrupted") or whose trigger is gone. It
 * goes into the run history as failed and run.failed is emitted, as for
 * any failed run. */
struct runner_lost {
	const char *id, *trigger, *event, *delivery, *error;
	uint64_t queued_ms, started_ms; /* 0: unknown, never started */
	uint64_t tag;
};
void runner_report_lost(struct runner *rn, const struct runner_lost *l);

struct runner_stats {
	uint64_t completed, failed;
	size_t slots;      /* triggers with a run running or queued */
	size_t held_bytes; /* request bodies and arguments held by active runs */
};
void runner_stats(const struct runner *rn, struct runner_stats *out);

/* template.c: {event} {delivery} {trigger} {source_ip} {json.PATH} in
 * run arguments. A value is passed exactly or not at all: -2 (with the
 * reason in errors) when a placeholder is missing, holds a NUL, or makes the
 * argument longer than RUN_MAX_ARG_BYTES; -1 when memory is short.
 * Unknown placeholders stay as written. {json.PATH} reads the request's
 * data document; nothing here parses JSON. */
enum { RUN_MAX_ARG_BYTES = 65536 };
#define RUN_MAX_ARG_TEXT "65536"
struct run_template;
struct run_template *run_template_new(const char *trigger, const struct run_request *req);
void run_template_free(struct run_template *tp);
/* out: a NUL-terminated malloc'd argument; on -2 the reason is
 * appended to errors. */
int run_template_expand(struct run_template *tp, const char *tmpl, char **out, struct buf *errors);

#endif
