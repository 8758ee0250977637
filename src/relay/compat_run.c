/* compat_run: a hook's command run webhook's way (COMPAT-WEBHOOK.md
 * § Commands): argv[0] as written, missing arguments as "", the parent's
 * environment plus the hook's variables, pass-file-to-command temp files
 * removed after the run, stdout and stderr combined, stdin at EOF (or the
 * body, our pass-body-to-stdin). A run is prepared at request time and
 * spawned at once or when its hook's max-concurrency slot frees; a
 * synchronous hook's answer leaves when the run ends. */
#include "edgehook/compat_internal.h"

#include "edgehook/b64.h"
#include "edgehook/hook_params.h"
#include "edgehook/proc.h"
#include "edgehook/reactor.h"
#include "edgehook/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void compat_run_free(struct compat_run *run)
{
	size_t i;
	for (i = 0; i < run->ntmp; i++) {
		unlink(run->tmpfiles[i]);
		free(run->tmpfiles[i]);
	}
	free(run->tmpfiles);
	free(run->extra);
	free(run->stdin_data);
	if (run->in_fd >= 0)
		close(run->in_fd);
	free(run->path);
	free(run->cwd);
	proc_strv_free(run->argv);
	proc_strv_free(run->envp);
	buf_free(&run->out);
	free(run);
}

void compat_runs_free(struct compat *app)
{
	while (app->runs) {
		struct compat_run *next = app->runs->next;
		compat_run_free(app->runs);
		app->runs = next;
	}
	app->nruns = 0;
}

void compat_run_abort(void *arg)
{
	struct compat_run *run = arg;
	run->conn = NULL;
}



static void run_finish(struct compat_run *run)
{
	struct compat *app = run->app;
	struct compat_run **pp;
	int failed = !WIFEXITED(run->status) || WEXITSTATUS(run->status) != 0;
	timer_stop(app->r, &run->deadline);
	if (run->in_fd >= 0)
		reactor_close(app->r, &run->in_fd);
	if (run->timed_out)
		compat_log(app, run->reqid, "edgehook: %s timed out and was killed", run->id);
	compat_log(app, run->reqid, "command output: %.*s", (int)run->out.len, run->out.data ? run->out.data : "");
	if (failed)
		compat_log(app, run->reqid, "error occurred: %s %d",
			   WIFEXITED(run->status) ? "exit status" : "signal:",
			   WIFEXITED(run->status) ? WEXITSTATUS(run->status) : WTERMSIG(run->status));
	compat_log(app, run->reqid, "finished handling %s", run->id);
	if (run->conn) {
		if (buf_append(&run->out, "", 1) < 0)
			run->out.len = 0;
		else
			run->out.len--;
		if (failed)
			compat_answer(run->conn, 500, run->extra,
			       run->on_error ? (run->out.data ? run->out.data : "")
					     : "Error occurred while executing the hook's command. Please check your logs for more details.");
		else
			compat_answer(run->conn, compat_valid_code(run->success_code) ? run->success_code : 200, run->extra,
			       run->out.data ? run->out.data : "");
	}
	for (pp = &app->runs; *pp; pp = &(*pp)->next)
		if (*pp == run) {
			*pp = run->next;
			break;
		}
	app->nruns--;
	if (run->max_concurrency) {
		struct compat_run *next;
		for (next = app->runs; next && !(next->queued && strcmp(next->id, run->id) == 0); next = next->next)
			;
		compat_run_free(run);
		if (next)
			compat_run_start(app, next);
		return;
	}
	compat_run_free(run);
}

static void on_output(void *arg, int fd, uint32_t events)
{
	struct compat_run *run = arg;
	char chunk[16384];
	(void)events;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n > 0) {
			/* past the cap the output is cut, and says so */
			if (run->out.len + (size_t)n <= COMPAT_MAX_OUTPUT)
				buf_append(&run->out, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break;
	}
	reactor_close(run->app->r, &run->fd);
	if (run->exited)
		run_finish(run);
}

void compat_reap(struct compat *app)
{
	struct compat_run *run;
again:
	for (run = app->runs; run; run = run->next) {
		int st;
		/* a queued run has no process yet (waitpid(0) would reap any) */
		if (run->queued || run->exited || waitpid(run->pid, &st, WNOHANG) != run->pid)
			continue;
		run->exited = 1;
		run->status = st;
		if (run->fd < 0) {
			/* finishing may start or end other runs: walk again */
			run_finish(run);
			goto again;
		}
	}
}

/* exec.LookPath: a name with a slash must be an executable file; a bare
 * name is searched in $PATH. */
static int look_path(const char *name, char *out, size_t cap)
{
	struct stat st;
	const char *path = getenv("PATH"), *p;
	int k;
	if (strchr(name, '/')) {
		if (stat(name, &st) != 0 || !S_ISREG(st.st_mode) || access(name, X_OK) != 0)
			return -1;
		if (name[0] == '/' || !getcwd(out, cap))
			k = snprintf(out, cap, "%s", name);
		else
			k = snprintf(out + strlen(out), cap - strlen(out), "/%s", name);
		return k < 0 || (size_t)k >= cap ? -1 : 0;
	}
	for (p = path ? path : ""; *name && p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL) {
		size_t len = strcspn(p, ":");
		k = snprintf(out, cap, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", name);
		if (k > 0 && (size_t)k < cap && stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

static void arg_text(const struct hook_arg *a, char *out, size_t cap)
{
	static const char *const names[] = {"", "header", "url", "payload", "request", "raw-request-body",
		"entire-payload", "entire-headers", "entire-query", "string"};
	snprintf(out, cap, "{Source:%s Name:%s EnvName:%s Base64Decode:%s}", names[a->source], a->name,
		 a->envname ? a->envname : "", a->base64decode ? "true" : "false");
}

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_push(struct strv *s, const char *a, size_t alen, const char *b, size_t blen)
{
	char *x;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	if (!(x = malloc(alen + blen + 1)))
		return -1;
	memcpy(x, a, alen);
	memcpy(x + alen, b, blen);
	x[alen + blen] = 0;
	s->v[s->n++] = x;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_free(struct strv *s)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* pass-file-to-command: a temp file per parameter, its name in the env. */
static int make_file(struct compat_run *run, const struct hook *h, const struct hook_arg *a, const char *v, size_t len,
		     struct strv *env)
{
	char envname[160], path[4096], **t;
	const char *dir = h->workdir && *h->workdir ? h->workdir : getenv("TMPDIR");
	unsigned char *dec = NULL;
	int fd, k, rc = -1;
	size_t i;
	if (a->envname && *a->envname)
		snprintf(envname, sizeof(envname), "%s", a->envname);
	else {
		snprintf(envname, sizeof(envname), "HOOK_%s", a->name);
		for (i = 5; envname[i]; i++)
			if (envname[i] >= 'a' && envname[i] <= 'z')
				envname[i] = (char)(envname[i] - 32);
	}
	if (a->base64decode) {
		if (!(dec = malloc(len + 1)))
			return -1;
		k = b64_decode(v, len, dec, len + 1);
		if (k < 0) {
			compat_log(run->app, run->reqid, "error decoding string [illegal base64 data]");
			k = 0;
		}
		v = (const char *)dec;
		len = (size_t)k;
	}
	snprintf(path, sizeof(path), "%s/%sXXXXXX", dir && *dir ? dir : "/tmp", envname);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		compat_log(run->app, run->reqid, "error creating temp file [%s]", strerror(errno));
		goto out;
	}
	k = write_all(fd, v, len);
	close(fd);
	if (!(t = realloc(run->tmpfiles, (run->ntmp + 1) * sizeof(*t))))
		goto out;
	run->tmpfiles = t;
	if (!(t[run->ntmp] = strdup(path)))
		goto out;
	run->ntmp++;
	rc = k < 0 ? -1 : strv_push(env, envname, strlen(envname), "=", 1) < 0 ? -1 : 0;
	if (rc == 0) {
		char *last = env->v[env->n - 1], *joined = malloc(strlen(last) + strlen(path) + 1);
		if (!joined)
			rc = -1;
		else {
			strcpy(joined, last);
			strcat(joined, path);
			free(last);
			env->v[env->n - 1] = joined;
		}
	}
out:
	free(dec);
	return rc;
}

static int build_command(struct compat_run *run, const struct hook *h, struct hook_request *rq, struct strv *argv,
			 struct strv *env)
{
	const char *v;
	size_t i, len;
	char why[192], text[512];
	char **e;
	if (strv_push(argv, h->command, strlen(h->command), "", 0) < 0)
		return -1;
	for (i = 0; i < h->args.n; i++) {
		if (hook_param_get(rq, &h->args.v[i], &v, &len, why, sizeof(why)) != RULE_PARAM_FOUND) {
			arg_text(&h->args.v[i], text, sizeof(text));
			compat_log(run->app, run->reqid, "error extracting command arguments: couldn't retrieve argument for %s",
				   text);
			v = "", len = 0;
		}
		if (strv_push(argv, v, len, "", 0) < 0)
			return -1;
	}
	for (e = environ; *e; e++)
		if (strv_push(env, *e, strlen(*e), "", 0) < 0)
			return -1;
	for (i = 0; i < h->env.n; i++) {
		const struct hook_arg *a = &h->env.v[i];
		char name[300];
		if (hook_param_get(rq, a, &v, &len, why, sizeof(why)) != RULE_PARAM_FOUND) {
			arg_text(a, text, sizeof(text));
			compat_log(run->app, run->reqid,
				   "error extracting command arguments for environment: couldn't retrieve argument for %s", text);
			continue;
		}
		snprintf(name, sizeof(name), "%s%s=", a->envname && *a->envname ? "" : "HOOK_",
			 a->envname && *a->envname ? a->envname : a->name);
		if (strv_push(env, name, strlen(name), v, len) < 0)
			return -1;
	}
	for (i = 0; i < h->files.n; i++) {
		if (hook_param_get(rq, &h->files.v[i], &v, &len, why, sizeof(why)) != RULE_PARAM_FOUND) {
			arg_text(&h->files.v[i], text, sizeof(text));
			compat_log(run->app, run->reqid,
				   "error extracting command arguments for file: couldn't retrieve argument for %s", text);
			continue;
		}
		if (make_file(run, h, &h->files.v[i], v, len, env) < 0)
			return -1;
	}
	return 0;
}

static void on_stdin(void *arg, int fd, uint32_t events)
{
	struct compat_run *run = arg;
	(void)events;
	while (run->stdin_off < run->stdin_len) {
		ssize_t n = write(fd, run->stdin_data + run->stdin_off, run->stdin_len - run->stdin_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break; /* the command closed its stdin: the rest is not wanted */
		run->stdin_off += (size_t)n;
	}
	reactor_close(run->app->r, &run->in_fd);
	free(run->stdin_data);
	run->stdin_data = NULL;
}

static void on_deadline(void *arg)
{
	struct compat_run *run = arg;
	run->timed_out = 1;
	kill(-run->pid, SIGKILL);
}

/* pass-body-to-stdin: the body is written as the command reads it;
 * otherwise stdin is at EOF at once, as webhook's /dev/null. */
static void feed_stdin(struct compat_run *run, int in)
{
	run->in_fd = in;
	if (run->stdin_data && reactor_add(run->app->r, in, EPOLLOUT, on_stdin, run) == 0)
		return;
	close(in);
	run->in_fd = -1;
}

/* Resolves h's command and renders its arguments, environment and
 * files for this request; -1 when it cannot run (logged). */
int compat_run_prepare(struct compat *app, struct compat_run *run, const struct hook *h, struct hook_request *rq)
{
	struct strv argv = {0}, env = {0};
	char path[4096], look[4096];
	if (h->workdir && *h->workdir && h->command[0] != '/')
		snprintf(look, sizeof(look), "%s/%s", h->workdir, h->command);
	else
		snprintf(look, sizeof(look), "%s", h->command);
	if (!*h->command || look_path(look, path, sizeof(path)) < 0) {
		compat_log(app, run->reqid, "error in exec: \"%s\": executable file not found in $PATH", look);
		if (strchr(h->command, ' '))
			compat_log(app, run->reqid, "use 'pass-arguments-to-command' to specify args for '%.*s'",
				   (int)strcspn(h->command, " \t"), h->command);
		return -1;
	}
	if (build_command(run, h, rq, &argv, &env) < 0 || !(run->path = strdup(path)) ||
	    (h->workdir && *h->workdir && !(run->cwd = strdup(h->workdir))) ||
	    (h->body_to_stdin && rq->body_len && !(run->stdin_data = malloc(rq->body_len)))) {
		compat_log(app, run->reqid, "edgehook: out of memory preparing %s", h->id);
		strv_free(&argv);
		strv_free(&env);
		return -1;
	}
	if (run->stdin_data) {
		memcpy(run->stdin_data, rq->body, rq->body_len);
		run->stdin_len = rq->body_len;
	}
	run->argv = argv.v;
	run->envp = env.v;
	run->timeout_ms = h->timeout_ms;
	run->max_concurrency = h->max_concurrency;
	compat_log(app, run->reqid, "executing %s (%s) with %zu argument(s) using %s as cwd", h->command, path,
		   argv.n, h->workdir ? h->workdir : "");
	return 0;
}

/* Spawns a prepared run; 0, or -1 (logged). */
static int launch(struct compat *app, struct compat_run *run)
{
	int in = -1, err = -1;
	int k = proc_spawn_at(run->path, run->argv, run->envp, run->cwd, 1, &run->pid, &in, &run->fd, &err);
	proc_strv_free(run->argv);
	proc_strv_free(run->envp);
	run->argv = run->envp = NULL;
	run->queued = 0;
	if (k != 0) {
		compat_log(app, run->reqid, "error in exec: %s", strerror(k));
		return -1;
	}
	feed_stdin(run, in);
	if (run->timeout_ms)
		timer_start(app->r, &run->deadline, run->timeout_ms);
	if (reactor_add(app->r, run->fd, EPOLLIN, on_output, run) < 0) {
		close(run->fd);
		run->fd = -1;
	}
	return 0;
}

/* A run that could not start ends as a failed one (a sync hook's 500). */
void compat_run_start(struct compat *app, struct compat_run *run)
{
	if (launch(app, run) == 0)
		return;
	run->exited = 1;
	run->status = 127 << 8;
	run_finish(run);
}

size_t compat_count_runs(const struct compat *app, const char *id, int queued)
{
	const struct compat_run *r;
	size_t n = 0;
	for (r = app->runs; r; r = r->next)
		n += r->queued == queued && strcmp(r->id, id) == 0;
	return n;
}

void compat_run_init_timer(struct compat_run *run)
{
	timer_init(&run->deadline, on_deadline, run);
}
