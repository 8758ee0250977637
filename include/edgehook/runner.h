/* runner: runs trigger commands with posix_spawn, never through a shell.
 *
 * The child gets the request body on stdin, a small clean environment
 * (PATH, HOME, LANG, TZ when set, plus EDGEHOOK_EVENT, EDGEHOOK_DELIVERY,
 * EDGEHOOK_TRIGGER, EDGEHOOK_SOURCE_IP, EDGEHOOK_RUN_ID), an empty signal
 * mask, default signal dispositions and its own process group. Its stdout
 * and stderr are read without blocking; the last 4 KiB are kept. At the
 * timeout the group gets SIGTERM, and SIGKILL 5 s later. Children are
 * reaped from the loop (runner_reap on SIGCHLD). Every descriptor the
 * server owns is O_CLOEXEC, so none leaks into a child.
 *
 * Each trigger runs at most `concurrency` commands at once; more wait in
 * a FIFO of at most `queue` entries, and past that runner_submit refuses
 * (the caller answers 503). Lifecycle events run.started, run.completed
 * and run.failed go to the dispatcher. The last runs stay queryable. */
#ifndef EDGEHOOK_RUNNER_H
#define EDGEHOOK_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"

struct reactor;
struct dispatch;
struct trigger_cfg;
struct runner;

struct run_request {
	const char *event;
	const char *delivery;
	const char *source_ip;
	const char *body; /* raw request body, for stdin */
	size_t len;
	const char *json; /* the event data as JSON text, for {json.PATH}; may be NULL */
	size_t json_len;
};

struct runner *runner_new(struct reactor *r, struct dispatch *disp, size_t history);
void runner_free(struct runner *rn);
/* Whether a run for t would be accepted now (running or queued). */
int runner_has_room(struct runner *rn, const struct trigger_cfg *t);
/* Starts or queues a run; id (cap >= 32) gets "run_...". -1 when the
 * trigger's queue is full or memory is short. */
int runner_submit(struct runner *rn, const struct trigger_cfg *t, const struct run_request *req, char *id, size_t cap);
/* Reaps exited children; call on SIGCHLD. */
void runner_reap(struct runner *rn);
int runner_run_json(struct runner *rn, const char *id, struct buf *out);
/* Runs queued or running. */
size_t runner_active(const struct runner *rn);
/* Calls on_idle once no run is active (at once if none). */
void runner_drain(struct runner *rn, void (*on_idle)(void *arg), void *arg);
/* SIGKILLs every running command (shutdown past the drain timeout). */
void runner_kill_all(struct runner *rn);

/* Expands {event} {delivery} {trigger} {source_ip} {json.PATH} in tmpl. */
int runner_expand(struct buf *out, const char *tmpl, const char *trigger, const struct run_request *req);

#endif
