#include "edgehook/runner.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/reactor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TAIL = 4096, KILL_GRACE_MS = 5000, MAX_ARGS = 64 };

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
	pid_t pid;
	int exit_code, term_signal, timed_out, in_ring, kill_stage;
	char error[96];
	uint64_t queued_ms, started_ms, finished_ms;
	char *command;
	char **argv, **envp;
	uint64_t timeout_ms;
	char *input;
	size_t input_len, input_off;
	int in_fd, out_fd, err_fd;
	char tail[TAIL];
	size_t tail_len;
	struct timer timer;
	struct run *next; /* slot queue, or the running list */
};

struct slot {
	char trigger[129];
	unsigned running, queued, concurrency, queue_max;
	struct run *head, *tail;
	struct slot *next;
};

struct runner {
	struct reactor *r;
	struct dispatch *disp;
	struct slot *slots;
	struct run *running;
	size_t active;
	struct run **ring;
	size_t ring_cap, ring_head, ring_len;
	void (*on_idle)(void *);
	void *idle_arg;
};

static void free_strv(char **v)
{
	size_t i;
	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void run_free(struct run *run)
{
	free(run->command);
	free_strv(run->argv);
	free_strv(run->envp);
	free(run->input);
	free(run);
}

/* ---- placeholders ---- */

static int put_json_value(struct buf *out, const char *json, size_t len, const char *path)
{
	struct json_doc doc;
	int t, rc = 0;
	if (!json || json_parse(&doc, json, len, 64) < 0)
		return 0;
	t = json_path(&doc, path);
	if (t >= 0) {
		const struct json_tok *tok = &doc.toks[t];
		if (tok->type == JSON_STRING) {
			char *tmp = malloc((size_t)(tok->end - tok->start) + 1);
			int n = tmp ? json_tok_copy(&doc, t, tmp, (size_t)(tok->end - tok->start) + 1) : -1;
			rc = n >= 0 ? buf_append(out, tmp, (size_t)n) : -1;
			free(tmp);
		} else {
			rc = buf_append(out, json + tok->start, (size_t)(tok->end - tok->start));
		}
	}
	json_doc_free(&doc);
	return rc;
}

int runner_expand(struct buf *out, const char *tmpl, const char *trigger, const struct run_request *req)
{
	const char *p = tmpl;
	while (*p) {
		const char *close;
		char name[256];
		size_t n;
		if (*p != '{' || !(close = strchr(p, '}')) || (n = (size_t)(close - p - 1)) >= sizeof(name)) {
			if (buf_append(out, p++, 1) < 0)
				return -1;
			continue;
		}
		memcpy(name, p + 1, n);
		name[n] = '\0';
		if (strcmp(name, "event") == 0)
			buf_puts(out, req->event);
		else if (strcmp(name, "delivery") == 0)
			buf_puts(out, req->delivery);
		else if (strcmp(name, "trigger") == 0)
			buf_puts(out, trigger);
		else if (strcmp(name, "source_ip") == 0)
			buf_puts(out, req->source_ip);
		else if (strncmp(name, "json.", 5) == 0)
			put_json_value(out, req->json, req->json_len, name + 5);
		else
			buf_append(out, p, n + 2); /* unknown: left as written */
		p = close + 1;
	}
	return buf_append(out, "", 1);
}

/* ---- events ---- */

static void emit(struct runner *rn, struct run *run, const char *type)
{
	struct buf b;
	char url[64], evt[EVENT_ID_LEN];
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
		if (run->exit_code >= 0)
			buf_printf(&b, "%d", run->exit_code);
		else
			buf_puts(&b, "null");
		buf_printf(&b, ",\"duration_ms\":%llu",
			   (unsigned long long)(run->started_ms ? run->finished_ms - run->started_ms : 0));
		if (run->error[0])
			json_put_kv(&b, 1, "error", run->error);
	}
	buf_puts(&b, ",\"timestamp\":");
	event_put_timestamp(&b);
	buf_puts(&b, "}");
	if (!b.data || dispatch_event(rn->disp, type, b.data, b.len, evt, sizeof(evt)) < 0)
		log_msg(LOG_WARN, "run event refused: delivery queue full", "run", run->id, "event", type, NULL);
	buf_free(&b);
}

/* ---- lifecycle ---- */

static void start(struct run *run);

static void check_idle(struct runner *rn)
{
	if (rn->active == 0 && rn->on_idle) {
		void (*cb)(void *) = rn->on_idle;
		rn->on_idle = NULL;
		cb(rn->idle_arg);
	}
}

static void finish(struct run *run)
{
	struct runner *rn = run->rn;
	struct slot *s = run->slot;
	struct run **pp;
	timer_stop(rn->r, &run->timer);
	reactor_close(rn->r, &run->in_fd);
	reactor_close(rn->r, &run->out_fd);
	reactor_close(rn->r, &run->err_fd);
	for (pp = &rn->running; *pp; pp = &(*pp)->next)
		if (*pp == run) {
			*pp = run->next;
			break;
		}
	if (run->started_ms)
		s->running--;
	run->finished_ms = clock_wall_ms();
	run->state = (run->exit_code == 0 && !run->timed_out && !run->error[0]) ? RUN_COMPLETED : RUN_FAILED;
	if (run->state == RUN_FAILED) {
		char code[16];
		snprintf(code, sizeof(code), "%d", run->exit_code);
		log_msg(LOG_WARN, "run failed", "run", run->id, "trigger", run->trigger, "exit_code", code, "err",
			run->error[0] ? run->error : "non-zero exit", NULL);
	}
	emit(rn, run, run->state == RUN_COMPLETED ? "run.completed" : "run.failed");
	rn->active--;
	if (s->head && s->running < s->concurrency) {
		struct run *next = s->head;
		s->head = next->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		start(next);
	}
	if (!run->in_ring)
		run_free(run);
	check_idle(rn);
}

static void keep_tail(struct run *run, const char *data, size_t n)
{
	if (n >= TAIL) {
		memcpy(run->tail, data + n - TAIL, TAIL);
		run->tail_len = TAIL;
		return;
	}
	if (run->tail_len + n > TAIL) {
		size_t drop = run->tail_len + n - TAIL;
		memmove(run->tail, run->tail + drop, run->tail_len - drop);
		run->tail_len -= drop;
	}
	memcpy(run->tail + run->tail_len, data, n);
	run->tail_len += n;
}

/* Reads what is there; closes the pipe at EOF. */
static void drain_output(struct run *run, int *fd)
{
	char tmp[16384];
	for (;;) {
		ssize_t n = read(*fd, tmp, sizeof(tmp));
		if (n > 0) {
			keep_tail(run, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno != EAGAIN)
			reactor_close(run->rn->r, fd);
		return;
	}
}

static void on_output(void *arg, int fd, uint32_t events)
{
	struct run *run = arg;
	(void)events;
	drain_output(run, fd == run->out_fd ? &run->out_fd : &run->err_fd);
}

static void on_input(void *arg, int fd, uint32_t events)
{
	struct run *run = arg;
	(void)events;
	(void)fd;
	while (run->input_off < run->input_len) {
		ssize_t n = write(run->in_fd, run->input + run->input_off, run->input_len - run->input_off);
		if (n > 0) {
			run->input_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break; /* EPIPE: the command does not read its input */
	}
	reactor_close(run->rn->r, &run->in_fd);
}

static void on_timer(void *arg)
{
	struct run *run = arg;
	if (run->kill_stage == 0) {
		run->timed_out = 1;
		snprintf(run->error, sizeof(run->error), "timeout after %llums", (unsigned long long)run->timeout_ms);
		kill(-run->pid, SIGTERM);
		run->kill_stage = 1;
		timer_start(run->rn->r, &run->timer, KILL_GRACE_MS);
	} else {
		kill(-run->pid, SIGKILL);
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int spawn(struct run *run, int in[2], int out[2], int err[2])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawnattr_init(&attr);
	/* the loop blocks signals for signalfd and ignores SIGPIPE: give the
	 * child a normal signal state, and its own group for clean kills */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawn(&run->pid, run->command, &fa, &attr, run->argv, run->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

static void start(struct run *run)
{
	struct runner *rn = run->rn;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rc = -1;
	run->state = RUN_RUNNING;
	run->started_ms = clock_wall_ms();
	run->slot->running++;
	if (pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0)
		rc = spawn(run, in, out, err);
	else
		rc = errno;
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	run->in_fd = in[1];
	run->out_fd = out[0];
	run->err_fd = err[0];
	run->next = rn->running;
	rn->running = run;
	if (rc != 0) {
		snprintf(run->error, sizeof(run->error), "spawn %s: %s", run->command, strerror(rc));
		run->exit_code = -1;
		emit(rn, run, "run.started");
		finish(run);
		return;
	}
	set_nonblock(run->in_fd);
	set_nonblock(run->out_fd);
	set_nonblock(run->err_fd);
	reactor_add(rn->r, run->out_fd, EPOLLIN, on_output, run);
	reactor_add(rn->r, run->err_fd, EPOLLIN, on_output, run);
	if (run->input_len && reactor_add(rn->r, run->in_fd, EPOLLOUT, on_input, run) == 0)
		on_input(run, run->in_fd, EPOLLOUT);
	else
		reactor_close(rn->r, &run->in_fd);
	timer_start(rn->r, &run->timer, run->timeout_ms);
	emit(rn, run, "run.started");
}

void runner_reap(struct runner *rn)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct run *run;
		for (run = rn->running; run; run = run->next)
			if (run->pid == pid)
				break;
		if (!run)
			continue;
		if (WIFEXITED(status)) {
			run->exit_code = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			run->term_signal = WTERMSIG(status);
			run->exit_code = -1;
			if (!run->error[0])
				snprintf(run->error, sizeof(run->error), "killed by signal %d", run->term_signal);
		}
		/* what the command wrote is already in the pipes; a descendant
		 * holding them open must not keep the run alive */
		if (run->out_fd >= 0)
			drain_output(run, &run->out_fd);
		if (run->err_fd >= 0)
			drain_output(run, &run->err_fd);
		finish(run);
	}
}

/* ---- submission ---- */

static struct slot *slot_for(struct runner *rn, const struct trigger_cfg *t)
{
	struct slot *s;
	for (s = rn->slots; s; s = s->next)
		if (strcmp(s->trigger, t->id) == 0)
			break;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		snprintf(s->trigger, sizeof(s->trigger), "%s", t->id);
		s->next = rn->slots;
		rn->slots = s;
	}
	s->concurrency = t->run->concurrency;
	s->queue_max = t->run->queue;
	return s;
}

int runner_has_room(struct runner *rn, const struct trigger_cfg *t)
{
	struct slot *s = slot_for(rn, t);
	return s && (s->running < s->concurrency || s->queued < s->queue_max);
}

static char *expand_dup(const char *tmpl, const char *trigger, const struct run_request *req)
{
	struct buf b;
	buf_init(&b, 64 << 10);
	if (runner_expand(&b, tmpl, trigger, req) < 0) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

static char **make_env(const struct run *run, const struct run_request *req)
{
	static const char *const keep[] = {"PATH", "HOME", "LANG", "TZ", NULL};
	char **env = calloc(12, sizeof(char *));
	size_t n = 0, i;
	char line[1024];
	if (!env)
		return NULL;
	for (i = 0; keep[i]; i++) {
		const char *v = getenv(keep[i]);
		if (!v && strcmp(keep[i], "PATH") == 0)
			v = "/usr/local/bin:/usr/bin:/bin";
		if (v) {
			snprintf(line, sizeof(line), "%s=%s", keep[i], v);
			env[n++] = strdup(line);
		}
	}
	snprintf(line, sizeof(line), "EDGEHOOK_EVENT=%s", req->event);
	env[n++] = strdup(line);
	snprintf(line, sizeof(line), "EDGEHOOK_DELIVERY=%s", req->delivery);
	env[n++] = strdup(line);
	snprintf(line, sizeof(line), "EDGEHOOK_TRIGGER=%s", run->trigger);
	env[n++] = strdup(line);
	snprintf(line, sizeof(line), "EDGEHOOK_SOURCE_IP=%s", req->source_ip);
	env[n++] = strdup(line);
	snprintf(line, sizeof(line), "EDGEHOOK_RUN_ID=%s", run->id);
	env[n++] = strdup(line);
	for (i = 0; i < n; i++)
		if (!env[i]) {
			free_strv(env);
			return NULL;
		}
	return env;
}

static void ring_push(struct runner *rn, struct run *run)
{
	if (rn->ring_len == rn->ring_cap) {
		struct run *old = rn->ring[rn->ring_head];
		old->in_ring = 0;
		if (old->state >= RUN_COMPLETED)
			run_free(old);
		rn->ring_head = (rn->ring_head + 1) % rn->ring_cap;
		rn->ring_len--;
	}
	rn->ring[(rn->ring_head + rn->ring_len) % rn->ring_cap] = run;
	rn->ring_len++;
	run->in_ring = 1;
}

int runner_submit(struct runner *rn, const struct trigger_cfg *t, const struct run_request *req, char *id, size_t cap)
{
	struct slot *s = slot_for(rn, t);
	struct run *run;
	size_t i;
	if (!s || (s->running >= s->concurrency && s->queued >= s->queue_max))
		return -1;
	run = calloc(1, sizeof(*run));
	if (!run)
		return -1;
	run->rn = rn;
	run->slot = s;
	run->in_fd = run->out_fd = run->err_fd = -1;
	run->exit_code = -1;
	rand_id(run->id, sizeof(run->id), "run_");
	snprintf(run->trigger, sizeof(run->trigger), "%s", t->id);
	snprintf(run->event, sizeof(run->event), "%s", req->event);
	snprintf(run->delivery, sizeof(run->delivery), "%s", req->delivery);
	run->timeout_ms = t->run->timeout_ms;
	run->queued_ms = clock_wall_ms();
	timer_init(&run->timer, on_timer, run);
	run->command = strdup(t->run->command);
	run->argv = calloc(t->run->nargs + 2, sizeof(char *));
	run->envp = make_env(run, req);
	run->input = malloc(req->len + 1);
	if (!run->command || !run->argv || !run->envp || !run->input || t->run->nargs > MAX_ARGS)
		goto fail;
	memcpy(run->input, req->body, req->len);
	run->input_len = req->len;
	run->argv[0] = strdup(t->run->command);
	for (i = 0; i < t->run->nargs; i++)
		if (!(run->argv[i + 1] = expand_dup(t->run->args[i], t->id, req)))
			goto fail;
	if (!run->argv[0])
		goto fail;
	snprintf(id, cap, "%s", run->id);
	rn->active++;
	ring_push(rn, run);
	if (s->running < s->concurrency) {
		start(run);
	} else {
		run->state = RUN_QUEUED;
		if (s->tail)
			s->tail->next = run;
		else
			s->head = run;
		s->tail = run;
		s->queued++;
	}
	return 0;
fail:
	run_free(run);
	return -1;
}

/* ---- queries and shutdown ---- */

int runner_run_json(struct runner *rn, const char *id, struct buf *out)
{
	size_t i;
	for (i = 0; i < rn->ring_len; i++) {
		struct run *run = rn->ring[(rn->ring_head + i) % rn->ring_cap];
		if (strcmp(run->id, id) != 0)
			continue;
		buf_puts(out, "{");
		json_put_kv(out, 0, "id", run->id);
		json_put_kv(out, 1, "trigger", run->trigger);
		json_put_kv(out, 1, "event", run->event);
		json_put_kv(out, 1, "state", run_state_names[run->state]);
		buf_puts(out, ",\"exit_code\":");
		if (run->state >= RUN_COMPLETED && run->exit_code >= 0)
			buf_printf(out, "%d", run->exit_code);
		else
			buf_puts(out, "null");
		buf_printf(out, ",\"signal\":%d,\"timed_out\":%s", run->term_signal, run->timed_out ? "true" : "false");
		buf_puts(out, ",\"error\":");
		if (run->error[0])
			json_put_cstr(out, run->error);
		else
			buf_puts(out, "null");
		event_put_time_member(out, "queued_at", run->queued_ms);
		event_put_time_member(out, "started_at", run->started_ms);
		event_put_time_member(out, "finished_at", run->finished_ms);
		buf_printf(out, ",\"duration_ms\":%llu,\"output\":",
			   (unsigned long long)(run->finished_ms && run->started_ms ? run->finished_ms - run->started_ms : 0));
		json_put_string(out, run->tail, run->tail_len);
		return buf_puts(out, "}");
	}
	return -1;
}

struct runner *runner_new(struct reactor *r, struct dispatch *disp, size_t history)
{
	struct runner *rn = calloc(1, sizeof(*rn));
	if (!rn)
		return NULL;
	rn->r = r;
	rn->disp = disp;
	rn->ring_cap = history ? history : 1;
	rn->ring = calloc(rn->ring_cap, sizeof(*rn->ring));
	if (!rn->ring) {
		free(rn);
		return NULL;
	}
	return rn;
}

size_t runner_active(const struct runner *rn) { return rn->active; }

void runner_drain(struct runner *rn, void (*on_idle)(void *), void *arg)
{
	rn->on_idle = on_idle;
	rn->idle_arg = arg;
	check_idle(rn);
}

void runner_kill_all(struct runner *rn)
{
	struct run *run;
	struct slot *s;
	for (s = rn->slots; s; s = s->next) {
		/* queued runs never start */
		while (s->head) {
			struct run *q = s->head;
			s->head = q->next;
			s->queued--;
			rn->active--;
			snprintf(q->error, sizeof(q->error), "cancelled at shutdown");
			q->state = RUN_FAILED;
			if (!q->in_ring)
				run_free(q);
		}
		s->tail = NULL;
	}
	for (run = rn->running; run; run = run->next) {
		kill(-run->pid, SIGKILL);
		if (!run->error[0])
			snprintf(run->error, sizeof(run->error), "killed at shutdown");
	}
}

void runner_free(struct runner *rn)
{
	size_t i;
	struct slot *s;
	if (!rn)
		return;
	rn->on_idle = NULL;
	runner_kill_all(rn);
	while (rn->running) {
		struct run *run = rn->running;
		int status;
		waitpid(run->pid, &status, 0);
		run->exit_code = -1;
		finish(run);
	}
	for (i = 0; i < rn->ring_len; i++) {
		struct run *run = rn->ring[(rn->ring_head + i) % rn->ring_cap];
		run->in_ring = 0;
		run_free(run);
	}
	free(rn->ring);
	while ((s = rn->slots)) {
		rn->slots = s->next;
		free(s);
	}
	free(rn);
}
