/* runner: per-trigger slots and queues, the run history and the run.*
 * events (see runner.h). The child process itself (spawn, pipes, kills)
 * is proc.c; argument placeholders are template.c. */
#include "edgehook/runner.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/event.h"
#include "edgehook/history.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/proc.h"
#include "edgehook/rand.h"
#include "edgehook/reactor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

enum { KILL_GRACE_MS = 5000 };

enum run_state { RUN_QUEUED, RUN_RUNNING, RUN_COMPLETED, RUN_FAILED };
static const char *const run_state_names[] = {"queued", "running", "completed", "failed"};

struct slot;

struct run {
	struct runner *rn;
	struct slot *slot;
	char id[EVENT_ID_LEN];
	char trigger[129];
	char event[128];
	char delivery[128];
	enum run_state state;
	int exit_code, term_signal, timed_out, in_ring;
	char error[160];
	uint64_t queued_ms, started_ms, finished_ms;
	/* held until the command starts (argv, envp) or has its stdin */
	char *command;
	char **argv, **envp;
	char *input;
	size_t input_len, held;
	uint64_t timeout_ms, tag;
	unsigned concurrency;
	struct slot *spare; /* a slot made by runner_prepare, linked at commit */
	struct proc proc;
	struct timer timer; /* the timeout, then the grace before SIGKILL */
	struct list link; /* slot queue, or the running list */
};

struct slot {
	char trigger[129];
	unsigned running, queued, concurrency;
	struct list queue; /* struct run, FIFO */
	struct list link;  /* in the runner's slots */
};

struct runner {
	struct reactor *r;
	runner_emit_fn emit;
	void *emit_arg;
	struct list slots;   /* struct slot */
	struct list running; /* struct run */
	struct list gated;   /* struct run: started, its spawn held by the gate */
	struct runner_gate gate;
	struct proc_kills kills;
	size_t active, nslots, held;
	uint64_t completed, failed;
	struct history done; /* the last runs, for GET /api/v1/runs/{id} */
	void (*on_idle)(void *);
	void *idle_arg;
	void (*on_done)(void *arg, const char *run_id); /* cluster mode: settles the run's entry */
	void *done_arg;
};

/* What only starting the command needs. */
static void release_spawn_data(struct run *run)
{
	free(run->command);
	proc_strv_free(run->argv);
	proc_strv_free(run->envp);
	run->command = NULL;
	run->argv = run->envp = NULL;
}

/* The history keeps what the runs API shows, never the request. */
static void release_request(struct run *run)
{
	release_spawn_data(run);
	free(run->input);
	run->input = NULL;
	run->input_len = 0;
	run->rn->held -= run->held;
	run->held = 0;
}

static void run_free(struct run *run)
{
	release_request(run);
	free(run->spare);
	free(run);
}

/* ---- events ---- */

static void emit(struct runner *rn, struct run *run, const char *type)
{
	struct buf b;
	char url[64];
	buf_init(&b, 4096);
	snprintf(url, sizeof(url), "/api/v1/runs/%s", run->id);
	buf_puts(&b, "{");
	json_put_kv(&b, 0, "event", type);
	json_put_kv(&b, 1, "resource_type", "run");
	json_put_kv(&b, 1, "resource_id", run->id);
	json_put_kv(&b, 1, "resource_url", url);
	json_put_kv(&b, 1, "trigger", run->trigger);
	json_put_kv(&b, 1, "delivery_id", run->delivery);
	if (run->state >= RUN_COMPLETED) {
		buf_puts(&b, ",\"exit_code\":");
		json_put_int_or_null(&b, run->exit_code >= 0, run->exit_code);
		buf_printf(&b, ",\"duration_ms\":%llu",
			   (unsigned long long)(run->started_ms ? run->finished_ms - run->started_ms : 0));
		if (run->error[0])
			json_put_kv(&b, 1, "error", run->error);
	}
	buf_puts(&b, ",\"timestamp\":");
	event_put_timestamp(&b);
	buf_puts(&b, "}");
	if (b.failed || rn->emit(rn->emit_arg, type, b.data, b.len) < 0)
		log_msg(LOG_WARN, "run event refused: delivery queue full", "run", run->id, "event", type, NULL);
	buf_free(&b);
	if (run->state >= RUN_COMPLETED && rn->on_done)
		rn->on_done(rn->done_arg, run->id);
}

/* ---- lifecycle ---- */

static void check_idle(struct runner *rn)
{
	if (rn->active == 0 && rn->on_idle) {
		void (*cb)(void *) = rn->on_idle;
		rn->on_idle = NULL;
		cb(rn->idle_arg);
	}
}

/* Ends a run's life as a process or queue entry. Never starts another:
 * the caller settles the slot, so a queue of commands that cannot start
 * is worked through by a loop, not by recursion. */
static void finish(struct run *run)
{
	struct runner *rn = run->rn;
	timer_stop(rn->r, &run->timer);
	proc_owe_kill(&rn->kills, &run->proc);
	proc_close(&run->proc);
	list_remove(&run->link);
	if (run->started_ms)
		run->slot->running--;
	run->slot = NULL;
	run->finished_ms = clock_wall_ms();
	run->state = (run->exit_code == 0 && !run->timed_out && !run->error[0]) ? RUN_COMPLETED : RUN_FAILED;
	if (run->state == RUN_FAILED) {
		char code[16];
		snprintf(code, sizeof(code), "%d", run->exit_code);
		log_msg(LOG_WARN, "run failed", "run", run->id, "trigger", run->trigger, "exit_code", code, "err",
			run->error[0] ? run->error : "non-zero exit", NULL);
		rn->failed++;
	} else {
		rn->completed++;
	}
	release_request(run);
	emit(rn, run, run->state == RUN_COMPLETED ? "run.completed" : "run.failed");
	if (rn->gate.settled)
		rn->gate.settled(rn->gate.arg, run);
	rn->active--;
	if (!run->in_ring)
		run_free(run);
}

static void start(struct run *run);

static void slot_unlink(struct runner *rn, struct slot *s)
{
	list_remove(&s->link);
	free(s);
	rn->nslots--;
}

/* Starts what the slot has room for, then frees it once nothing runs or
 * waits: slots live only as long as their trigger's runs. */
static void settle(struct runner *rn, struct slot *s)
{
	while (!list_empty(&s->queue) && s->running < s->concurrency) {
		struct run *next = list_first(&s->queue, struct run, link);
		list_remove(&next->link);
		s->queued--;
		start(next);
	}
	if (s->running == 0 && s->queued == 0)
		slot_unlink(rn, s);
	check_idle(rn);
}

/* stdin is written or abandoned: the request is no longer needed. */
static void on_input_done(void *arg) { release_request(arg); }

static void on_timer(void *arg)
{
	struct run *run = arg;
	if (run->proc.kill_stage == 0) {
		run->timed_out = 1;
		snprintf(run->error, sizeof(run->error), "timeout after %llums", (unsigned long long)run->timeout_ms);
		proc_terminate(&run->proc, KILL_GRACE_MS);
		timer_start(run->rn->r, &run->timer, KILL_GRACE_MS);
	} else {
		proc_kill(&run->proc);
	}
}

/* A command that cannot start fails its run here; the caller settles. */
static void spawn(struct run *run)
{
	struct runner *rn = run->rn;
	int rc;
	if (run->error[0]) {
		list_push_front(&rn->running, &run->link);
		finish(run);
		return;
	}
	rc = proc_start(&run->proc, run->command, run->argv, run->envp, run->input, run->input_len, on_input_done, run);
	list_push_front(&rn->running, &run->link);
	if (rc != 0) {
		snprintf(run->error, sizeof(run->error), "spawn %s: %s", run->command, strerror(rc));
		run->exit_code = -1;
		emit(rn, run, "run.started");
		finish(run);
		return;
	}
	release_spawn_data(run);
	timer_start(rn->r, &run->timer, run->timeout_ms);
	emit(rn, run, "run.started");
}

static void start(struct run *run)
{
	struct runner *rn = run->rn;
	int held;
	run->state = RUN_RUNNING;
	run->started_ms = clock_wall_ms();
	run->slot->running++;
	held = rn->gate.hold ? rn->gate.hold(rn->gate.arg, run) : 0;
	if (held == 1) {
		list_push_back(&rn->gated, &run->link);
		return;
	}
	if (held < 0)
		snprintf(run->error, sizeof(run->error), "not started: its start could not be recorded");
	spawn(run);
}

void runner_gate_open(struct runner *rn, struct run *run, int ok, const char *error)
{
	struct slot *s = run->slot;
	list_remove(&run->link);
	if (!ok)
		snprintf(run->error, sizeof(run->error), "%s", error);
	spawn(run);
	settle(rn, s);
}

void runner_set_gate(struct runner *rn, const struct runner_gate *g)
{
	if (g)
		rn->gate = *g;
	else
		memset(&rn->gate, 0, sizeof(rn->gate));
}

const char *runner_id(const struct run *run) { return run->id; }
void runner_set_tag(struct run *run, uint64_t tag) { run->tag = tag; }
uint64_t runner_tag(const struct run *run) { return run->tag; }

/* Each run's own pid: hooks files' commands (compat_run.c) are children
 * of the same process, and waitpid(-1) would take their status. */
void runner_reap(struct runner *rn)
{
	int status;
again:
	list_for_each_safe(it, nx, &rn->running) {
		struct run *run = list_entry(it, struct run, link);
		struct slot *s;
		if (waitpid(run->proc.pid, &status, WNOHANG) != run->proc.pid)
			continue;
		if (WIFEXITED(status)) {
			run->exit_code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			run->term_signal = WTERMSIG(status);
			run->exit_code = -1;
			if (!run->error[0])
				snprintf(run->error, sizeof(run->error), "killed by signal %d", run->term_signal);
		}
		proc_drain(&run->proc);
		s = run->slot;
		finish(run);
		/* settling may start queued runs: walk the list again */
		settle(rn, s);
		goto again;
	}
}

/* ---- submission ---- */

static struct slot *slot_find(const struct runner *rn, const char *trigger)
{
	list_for_each_safe(it, nx, &rn->slots) {
		struct slot *s = list_entry(it, struct slot, link);
		if (strcmp(s->trigger, trigger) == 0)
			return s;
	}
	return NULL;
}

int runner_has_room(struct runner *rn, const struct trigger_cfg *t)
{
	const struct slot *s = slot_find(rn, t->id);
	return !s || s->running < t->run->concurrency || s->queued < t->run->queue;
}

static char **make_env(const struct run *run, const struct run_request *req)
{
	const char *const pairs[][2] = {{"EDGEHOOK_EVENT", req->event}, {"EDGEHOOK_DELIVERY", req->delivery},
		{"EDGEHOOK_TRIGGER", run->trigger}, {"EDGEHOOK_SOURCE_IP", req->source_ip}, {"EDGEHOOK_RUN_ID", run->id}};
	return proc_env(pairs, sizeof(pairs) / sizeof(pairs[0]));
}

/* The history lets go of a run: freed unless it is still active. */
static void history_drop(void *item)
{
	struct run *run = item;
	run->in_ring = 0;
	if (run->state >= RUN_COMPLETED)
		run_free(run);
}

static void history_add(struct runner *rn, struct run *run)
{
	struct run *old = history_push(&rn->done, run);
	run->in_ring = 1;
	if (old)
		history_drop(old);
}

/* Expands every argument; a value that cannot be passed exactly leaves
 * the reason in run->error (the run fails at commit), -1 is memory. */
static int expand_args(struct run *run, const struct trigger_cfg *t, const struct run_request *req)
{
	struct run_template *tp = run_template_new(t->id, req);
	struct buf why;
	size_t i, bytes = 0;
	int rc = tp ? 0 : -1;
	buf_init(&why, 1024);
	for (i = 0; rc == 0 && i < t->run->nargs; i++) {
		rc = run_template_expand(tp, t->run->args[i], &run->argv[i + 1], &why);
		if (rc == 0)
			bytes += strlen(run->argv[i + 1]) + 1;
	}
	run_template_free(tp);
	if (rc == -2) {
		snprintf(run->error, sizeof(run->error), "%.*s", (int)why.len, why.data ? why.data : "");
		release_spawn_data(run);
	} else if (rc == 0) {
		run->held += bytes;
	}
	buf_free(&why);
	return rc == -1 ? -1 : 0;
}

struct run *runner_prepare(struct runner *rn, const struct trigger_cfg *t, const struct run_request *req)
{
	struct run *run;
	if ((!req->recovered && !runner_has_room(rn, t)) || t->run->nargs > RUN_MAX_ARGS)
		return NULL;
	run = calloc(1, sizeof(*run));
	if (!run)
		return NULL;
	list_init(&run->link);
	run->rn = rn;
	proc_init(&run->proc, rn->r);
	run->exit_code = -1;
	if (req->run_id)
		snprintf(run->id, sizeof(run->id), "%s", req->run_id);
	else
		rand_id(run->id, sizeof(run->id), "run_");
	snprintf(run->trigger, sizeof(run->trigger), "%s", t->id);
	snprintf(run->event, sizeof(run->event), "%s", req->event);
	snprintf(run->delivery, sizeof(run->delivery), "%s", req->delivery);
	run->timeout_ms = t->run->timeout_ms;
	run->concurrency = t->run->concurrency;
	timer_init(&run->timer, on_timer, run);
	/* always: the trigger's slot may be gone by a deferred commit */
	if (!(run->spare = calloc(1, sizeof(*run->spare))))
		goto fail;
	run->command = strdup(t->run->command);
	run->argv = calloc(t->run->nargs + 2, sizeof(char *));
	run->envp = make_env(run, req);
	run->input = malloc(req->len + 1);
	if (!run->command || !run->argv || !run->envp || !run->input || !(run->argv[0] = strdup(t->run->command)))
		goto fail;
	memcpy(run->input, req->body, req->len);
	run->input_len = req->len;
	run->held = req->len;
	if (expand_args(run, t, req) < 0)
		goto fail;
	rn->held += run->held;
	return run;
fail:
	run->held = 0; /* not yet counted */
	run_free(run);
	return NULL;
}

void runner_on_done(struct runner *rn, void (*fn)(void *arg, const char *run_id), void *arg)
{
	rn->on_done = fn;
	rn->done_arg = arg;
}

void runner_discard(struct run *run)
{
	if (run)
		run_free(run);
}

/* A run whose arguments could not be built fails without starting. */
static void fail_unstarted(struct run *run)
{
	struct runner *rn = run->rn;
	run->state = RUN_FAILED;
	run->finished_ms = clock_wall_ms();
	rn->failed++;
	log_msg(LOG_WARN, "run failed", "run", run->id, "trigger", run->trigger, "err", run->error, NULL);
	release_request(run);
	emit(rn, run, "run.failed");
	if (rn->gate.settled)
		rn->gate.settled(rn->gate.arg, run);
}

void runner_report_lost(struct runner *rn, const struct runner_lost *l)
{
	struct run *run = calloc(1, sizeof(*run));
	if (!run) {
		log_msg(LOG_ERROR, "run lost: out of memory", "run", l->id, NULL);
		return;
	}
	list_init(&run->link);
	run->rn = rn;
	proc_init(&run->proc, rn->r);
	run->exit_code = -1;
	snprintf(run->id, sizeof(run->id), "%s", l->id);
	snprintf(run->trigger, sizeof(run->trigger), "%s", l->trigger);
	snprintf(run->event, sizeof(run->event), "%s", l->event);
	snprintf(run->delivery, sizeof(run->delivery), "%s", l->delivery);
	snprintf(run->error, sizeof(run->error), "%s", l->error);
	run->queued_ms = l->queued_ms;
	run->started_ms = l->started_ms;
	run->tag = l->tag;
	history_add(rn, run);
	fail_unstarted(run);
}

void runner_commit(struct runner *rn, struct run *run, char *id, size_t cap)
{
	struct slot *s = slot_find(rn, run->trigger);
	snprintf(id, cap, "%s", run->id);
	run->queued_ms = clock_wall_ms();
	history_add(rn, run);
	if (run->error[0]) {
		free(run->spare);
		run->spare = NULL;
		fail_unstarted(run);
		check_idle(rn);
		return;
	}
	if (!s) {
		s = run->spare;
		run->spare = NULL;
		snprintf(s->trigger, sizeof(s->trigger), "%s", run->trigger);
		list_init(&s->queue);
		list_push_front(&rn->slots, &s->link);
		rn->nslots++;
	}
	free(run->spare);
	run->spare = NULL;
	/* the trigger's current concurrency (a reload or PUT may change it) */
	s->concurrency = run->concurrency;
	run->slot = s;
	run->state = RUN_QUEUED;
	rn->active++;
	list_push_back(&s->queue, &run->link);
	s->queued++;
	settle(rn, s);
}

/* ---- queries and shutdown ---- */

static int run_has_id(const void *item, const void *id) { return strcmp(((const struct run *)item)->id, id) == 0; }

static void run_json(const struct run *run, struct buf *out)
{
	const char *text;
	size_t n;
	buf_puts(out, "{");
	json_put_kv(out, 0, "id", run->id);
	json_put_kv(out, 1, "trigger", run->trigger);
	json_put_kv(out, 1, "event", run->event);
	json_put_kv(out, 1, "state", run_state_names[run->state]);
	buf_puts(out, ",\"exit_code\":");
	json_put_int_or_null(out, run->state >= RUN_COMPLETED && run->exit_code >= 0, run->exit_code);
	buf_printf(out, ",\"signal\":%d,\"timed_out\":%s,\"error\":", run->term_signal,
		   run->timed_out ? "true" : "false");
	json_put_cstr_or_null(out, run->error);
	event_put_time_member(out, "queued_at", run->queued_ms);
	event_put_time_member(out, "started_at", run->started_ms);
	event_put_time_member(out, "finished_at", run->finished_ms);
	buf_printf(out, ",\"duration_ms\":%llu,\"output\":",
		   (unsigned long long)(run->finished_ms && run->started_ms ? run->finished_ms - run->started_ms : 0));
	/* from a character boundary; the writer replaces what is not UTF-8 */
	text = proc_tail_text(&run->proc.tail, &n);
	json_put_string(out, text, n);
	buf_puts(out, "}");
}

int runner_run_json(struct runner *rn, const char *id, struct buf *out)
{
	const struct run *run = history_find(&rn->done, run_has_id, id);
	if (!run)
		return -1;
	run_json(run, out);
	return 0;
}

void runner_runs_json(struct runner *rn, size_t limit, struct buf *out)
{
	size_t i, n = history_len(&rn->done);
	buf_puts(out, "{\"runs\":[");
	for (i = 0; i < n && i < limit; i++) {
		if (i)
			buf_puts(out, ",");
		run_json(history_at(&rn->done, n - 1 - i), out);
	}
	buf_puts(out, "]}");
}

struct runner *runner_new(struct reactor *r, runner_emit_fn emit_fn, void *emit_arg, size_t history)
{
	struct runner *rn = calloc(1, sizeof(*rn));
	if (!rn)
		return NULL;
	rn->r = r;
	list_init(&rn->slots);
	list_init(&rn->running);
	list_init(&rn->gated);
	rn->kills.r = r;
	rn->emit = emit_fn;
	rn->emit_arg = emit_arg;
	if (history_init(&rn->done, history) < 0) {
		free(rn);
		return NULL;
	}
	return rn;
}

size_t runner_active(const struct runner *rn) { return rn->active; }

void runner_stats(const struct runner *rn, struct runner_stats *out)
{
	out->completed = rn->completed;
	out->failed = rn->failed;
	out->slots = rn->nslots;
	out->held_bytes = rn->held;
}

void runner_drain(struct runner *rn, void (*on_idle)(void *), void *arg)
{
	rn->on_idle = on_idle;
	rn->idle_arg = arg;
	check_idle(rn);
}

/* Shutdown: a run that has not spawned never will. */
static void cancel_unstarted(struct runner *rn, struct run *q)
{
	list_remove(&q->link);
	rn->active--;
	snprintf(q->error, sizeof(q->error), "cancelled at shutdown");
	q->state = RUN_FAILED;
	q->slot = NULL;
	release_request(q);
	if (!q->in_ring)
		run_free(q);
}

void runner_kill_all(struct runner *rn)
{
	list_for_each_safe(it, nx, &rn->slots) {
		struct slot *s = list_entry(it, struct slot, link);
		/* queued runs never start */
		while (!list_empty(&s->queue)) {
			s->queued--;
			cancel_unstarted(rn, list_first(&s->queue, struct run, link));
		}
	}
	/* held before their spawn: they never start either */
	list_for_each_safe(it, nx, &rn->gated) {
		struct run *g = list_entry(it, struct run, link);
		if (rn->gate.cancel)
			rn->gate.cancel(rn->gate.arg, g);
		g->slot->running--;
		cancel_unstarted(rn, g);
	}
	list_for_each_safe(it, nx, &rn->running) {
		struct run *run = list_entry(it, struct run, link);
		proc_kill(&run->proc);
		if (!run->error[0])
			snprintf(run->error, sizeof(run->error), "killed at shutdown");
	}
	proc_kills_now(&rn->kills);
}

void runner_free(struct runner *rn)
{
	if (!rn)
		return;
	rn->on_idle = NULL;
	runner_kill_all(rn);
	while (!list_empty(&rn->running)) {
		struct run *run = list_first(&rn->running, struct run, link);
		int status;
		waitpid(run->proc.pid, &status, 0);
		run->exit_code = -1;
		finish(run);
	}
	history_free(&rn->done, history_drop);
	list_for_each_safe(it, nx, &rn->slots)
		free(list_entry(it, struct slot, link));
	free(rn);
}
