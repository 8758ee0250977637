/* compat_hook: webhook's routes and answers (COMPAT-WEBHOOK.md § HTTP
 * answers) and its way of running commands (§ Commands): the parent's
 * environment plus the hook's variables, stdin at EOF, stdout and
 * stderr combined, temp files removed after the run. Synchronous hooks
 * answer from the run's end; the loop serves others meanwhile. */
#include "edgehook/compat_internal.h"

#include "edgehook/b64.h"
#include "edgehook/form.h"
#include "edgehook/hook_params.h"
#include "edgehook/json.h"
#include "edgehook/proc.h"
#include "edgehook/rand.h"
#include "edgehook/reactor.h"
#include "edgehook/server.h"
#include "edgehook/strutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct compat_run {
	struct compat *app;
	struct compat_run *next;
	pid_t pid;
	int fd;
	int exited, status;
	struct buf out;
	struct http_conn *conn; /* a synchronous hook's request; NULL when async or gone */
	int success_code, on_error;
	char *extra; /* the answer's headers */
	char reqid[64], id[128];
	char **tmpfiles;
	size_t ntmp;
	/* our extensions: the body on stdin, a deadline */
	int in_fd;
	char *stdin_data;
	size_t stdin_len, stdin_off;
	struct timer deadline;
	int timed_out;
	uint64_t timeout_ms;
	/* prepared command: spawned at once, or when a slot frees up */
	char *path, *cwd;
	char **argv, **envp;
	int max_concurrency, queued;
};

static const char text_plain[] = "text/plain; charset=utf-8";

static int valid_code(int code)
{
	return code >= 100 && code <= 999;
}

/* ---- paths ---- */

/* Go's path.Clean, keeping a trailing slash as gorilla/mux does. */
static size_t clean_path(const char *p, size_t n, char *out)
{
	size_t w = 0, i = 0;
	out[w++] = '/';
	while (i < n) {
		size_t s = i, len;
		while (i < n && p[i] != '/')
			i++;
		len = i - s;
		if (i < n)
			i++;
		if (len == 0 || (len == 1 && p[s] == '.'))
			continue;
		if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
			while (w > 1 && out[w - 1] != '/')
				w--;
			if (w > 1)
				w--;
			continue;
		}
		if (w > 1)
			out[w++] = '/';
		memcpy(out + w, p + s, len);
		w += len;
	}
	if (n > 1 && p[n - 1] == '/' && w > 1)
		out[w++] = '/';
	return w;
}

static size_t pct_decode(const char *in, size_t n, char *out)
{
	size_t i, w = 0;
	for (i = 0; i < n; i++) {
		int hi, lo;
		if (in[i] == '%' && i + 2 < n && (hi = str_hex_digit(in[i + 1])) >= 0 &&
		    (lo = str_hex_digit(in[i + 2])) >= 0) {
			out[w++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[w++] = in[i];
		}
	}
	return w;
}

/* ---- answers ---- */

static void answer(struct http_conn *c, int status, const char *extra, const char *body)
{
	size_t n = strlen(body);
	/* a Content-Type among the hook's headers replaces ours */
	int own = extra && (strncasecmp(extra, "content-type:", 13) == 0 || strcasestr(extra, "\ncontent-type:"));
	http_respond(c, status, n && !own ? text_plain : NULL, extra && *extra ? extra : NULL, body, n);
}

/* The buffer as a C string (NULL when empty or short of memory). */
static const char *cstr(struct buf *b)
{
	if (b->len == 0 || buf_append(b, "", 1) < 0)
		return NULL;
	b->len--;
	return b->data;
}

static int add_header(struct buf *b, const char *name, const char *value)
{
	char canon[256];
	snprintf(canon, sizeof(canon), "%s", name);
	hook_canonical_header(canon);
	return buf_printf(b, "%s: %s\r\n", canon, value);
}

/* ---- commands ---- */

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

struct compat_run *compat_run_next(const struct compat_run *run)
{
	return run->next;
}

static void run_abort(void *arg)
{
	struct compat_run *run = arg;
	run->conn = NULL;
}

static void launch_or_fail(struct compat *app, struct compat_run *run);

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
			answer(run->conn, 500, run->extra,
			       run->on_error ? (run->out.data ? run->out.data : "")
					     : "Error occurred while executing the hook's command. Please check your logs for more details.");
		else
			answer(run->conn, valid_code(run->success_code) ? run->success_code : 200, run->extra,
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
			launch_or_fail(app, next);
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
static int prepare_command(struct compat *app, struct compat_run *run, const struct hook *h, struct hook_request *rq)
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
static void launch_or_fail(struct compat *app, struct compat_run *run)
{
	if (launch(app, run) == 0)
		return;
	run->exited = 1;
	run->status = 127 << 8;
	run_finish(run);
}

static size_t count_runs(const struct compat *app, const char *id, int queued)
{
	const struct compat_run *r;
	size_t n = 0;
	for (r = app->runs; r; r = r->next)
		n += r->queued == queued && strcmp(r->id, id) == 0;
	return n;
}

/* ---- requests ---- */

static void request_id(struct compat *app, const struct http_request *req, char *out, size_t cap)
{
	const struct http_header *h = app->o.xrid ? http_find_header(req->headers, req->num_headers, "x-request-id") : NULL;
	if (h && h->value_len) {
		size_t n = h->value_len;
		if (app->o.xrid_limit > 0 && n > (size_t)app->o.xrid_limit)
			n = (size_t)app->o.xrid_limit;
		snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), h->value);
		return;
	}
	snprintf(out, cap, "%06x", rand_u32() & 0xffffff);
}

static int method_in(const char *const *list, size_t n, const struct http_request *req)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (strlen(list[i]) == req->method_len && memcmp(list[i], req->method, req->method_len) == 0)
			return 1;
	return 0;
}

/* The payload by content type; NULL with a log line when there is none. */
static struct json_doc *parse_payload(struct compat *app, const char *reqid, const char *ctype, const char *body,
				      size_t len, struct json_doc *doc, struct buf *form)
{
	if (strstr(ctype, "json")) {
		if (json_parse(doc, body, len, 512) == 0)
			return doc;
		compat_log(app, reqid, "error parsing JSON payload");
		return NULL;
	}
	if (strstr(ctype, "x-www-form-urlencoded")) {
		if (form_to_json(form, body, len) == 0 && json_parse(doc, form->data, form->len, 4) == 0)
			return doc;
		compat_log(app, reqid, "error parsing form payload");
		return NULL;
	}
	if (strstr(ctype, "xml") || strncmp(ctype, "multipart/form-data", 19) == 0) {
		compat_log(app, reqid, "edgehook: %s payloads are not read yet", strstr(ctype, "xml") ? "XML" : "multipart");
		return NULL;
	}
	compat_log(app, reqid, "error parsing body payload due to unsupported content type header: %s", ctype);
	return NULL;
}

static void peer_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "";
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(a->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(a->sin_port));
	} else {
		snprintf(out, cap, "@");
	}
}

struct exchange {
	struct compat *app;
	struct http_conn *c;
	const struct http_request *req;
	const struct hook *h;
	const char *body;
	size_t len;
	char reqid[64];
	struct buf extra; /* -header, then response-headers */
};

static void trigger(struct exchange *x, struct hook_request *rq)
{
	struct compat *app = x->app;
	const struct hook *h = x->h;
	struct compat_run *run, **tail;
	size_t i;
	compat_log(app, x->reqid, "%s hook triggered successfully", h->id);
	for (i = 0; i < h->nheaders; i++)
		add_header(&x->extra, h->headers[i].name, h->headers[i].value);
	if (app->nruns >= COMPAT_MAX_RUNS || !(run = calloc(1, sizeof(*run)))) {
		/* bounded: say so rather than drop the command */
		compat_log(app, x->reqid, "edgehook: %d commands running: refusing %s", COMPAT_MAX_RUNS, h->id);
		answer(x->c, 503, cstr(&x->extra), "Too many commands running.");
		return;
	}
	run->app = app;
	run->fd = -1;
	run->in_fd = -1;
	timer_init(&run->deadline, on_deadline, run);
	run->success_code = h->success_code;
	run->on_error = h->output_on_error;
	buf_init(&run->out, COMPAT_MAX_OUTPUT + 1);
	snprintf(run->reqid, sizeof(run->reqid), "%s", x->reqid);
	snprintf(run->id, sizeof(run->id), "%s", h->id);
	if (prepare_command(app, run, h, rq) < 0) {
		if (h->sync)
			answer(x->c, 500, cstr(&x->extra),
			       h->output_on_error ? ""
						  : "Error occurred while executing the hook's command. Please check your logs for more details.");
		else
			answer(x->c, valid_code(h->success_code) ? h->success_code : 200, cstr(&x->extra),
			       h->response ? h->response : "");
		compat_log(app, x->reqid, "finished handling %s", h->id);
		compat_run_free(run);
		return;
	}
	if (h->max_concurrency && count_runs(app, h->id, 0) >= (size_t)h->max_concurrency) {
		if (count_runs(app, h->id, 1) >= COMPAT_MAX_QUEUE) {
			compat_log(app, x->reqid, "edgehook: %s has %d commands running and %d waiting: refused", h->id,
				   h->max_concurrency, COMPAT_MAX_QUEUE);
			answer(x->c, 503, cstr(&x->extra), "Too many commands waiting for this hook.");
			compat_run_free(run);
			return;
		}
		run->queued = 1;
	}
	/* FIFO: a queued run starts after those queued before it */
	for (tail = &app->runs; *tail; tail = &(*tail)->next)
		;
	*tail = run;
	app->nruns++;
	if (h->sync) {
		run->extra = x->extra.len ? strndup(x->extra.data, x->extra.len) : NULL;
		run->conn = x->c;
		http_defer(x->c, run_abort, run);
	} else {
		answer(x->c, valid_code(h->success_code) ? h->success_code : 200, cstr(&x->extra),
		       h->response ? h->response : "");
	}
	if (!run->queued)
		launch_or_fail(app, run);
}

static void hook_request(struct exchange *x)
{
	struct compat *app = x->app;
	const struct hook *h = x->h;
	const struct http_request *req = x->req;
	const struct http_header *cth = http_find_header(req->headers, req->num_headers, "content-type");
	char ctype[256], remote[80];
	const char *q = memchr(req->target, '?', req->target_len);
	struct json_doc doc;
	struct buf form, out;
	struct hook_request rq;
	struct rule_req rr;
	int ok;
	size_t i;
	compat_log(app, x->reqid, "%s got matched", h->id);
	for (i = 0; i < app->o.nheaders; i++) {
		const char *eq = strchr(app->o.headers[i], '=');
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - app->o.headers[i]) : strlen(app->o.headers[i])),
			 app->o.headers[i]);
		add_header(&x->extra, name, eq ? eq + 1 : "");
	}
	if (h->content_type && *h->content_type)
		snprintf(ctype, sizeof(ctype), "%s", h->content_type);
	else
		snprintf(ctype, sizeof(ctype), "%.*s", cth ? (int)cth->value_len : 0, cth ? cth->value : "");
	memset(&doc, 0, sizeof(doc));
	buf_init(&form, 2 * form_json_bound(x->len) + 16);
	buf_init(&out, 64u << 20);
	peer_text(http_conn_peer(x->c), remote, sizeof(remote));
	memset(&rq, 0, sizeof(rq));
	rq.headers = req->headers;
	rq.nheaders = req->num_headers;
	rq.query = q ? q + 1 : NULL;
	rq.query_len = q ? req->target_len - (size_t)(q + 1 - req->target) : 0;
	rq.method = strndup(req->method, req->method_len);
	rq.remote_addr = remote;
	rq.body = x->body;
	rq.body_len = x->len;
	rq.payload = parse_payload(app, x->reqid, ctype, x->body, x->len, &doc, &form);
	rq.out = &out;
	memset(&rr, 0, sizeof(rr));
	rr.body = x->body;
	rr.body_len = x->len;
	rr.client = http_conn_peer(x->c);
	rr.now = time(NULL);
	rr.soft_signature_failures = h->soft_failures;
	rr.param = hook_param_get;
	rr.ctx = &rq;
	ok = rules_eval(h->rule, &rr);
	if (ok < 0) {
		compat_log(app, x->reqid, "error evaluating hook: %s", rr.why);
		answer(x->c, 500, cstr(&x->extra), "Error occurred while evaluating hook rules.");
	} else {
		if (rr.why[0])
			compat_log(app, x->reqid, "%s", rr.why);
		if (ok) {
			trigger(x, &rq);
		} else {
			compat_log(app, x->reqid,
				   "%s got matched, but didn't get triggered because the trigger rules were not satisfied", h->id);
			answer(x->c, valid_code(h->mismatch_code) ? h->mismatch_code : 200, cstr(&x->extra),
			       "Hook rules were not satisfied.");
		}
	}
	free((char *)rq.method);
	if (rq.payload)
		json_doc_free(&doc);
	buf_free(&form);
	buf_free(&out);
}

void compat_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body, size_t len)
{
	struct exchange x;
	const char *q = memchr(req->target, '?', req->target_len);
	size_t plen = q ? (size_t)(q - req->target) : req->target_len, n, pre;
	char *clean, *id;
	memset(&x, 0, sizeof(x));
	x.app = arg;
	x.c = c;
	x.req = req;
	x.body = body;
	x.len = len;
	if (plen == 0 || req->target[0] != '/') {
		answer(c, 404, "X-Content-Type-Options: nosniff\r\n", "404 page not found\n");
		return;
	}
	if (!(clean = malloc(2 * plen + 2)) || !(id = malloc(plen + 1))) {
		free(clean);
		http_respond_error(c, 503, "out of memory");
		return;
	}
	n = clean_path(req->target, plen, clean);
	if (n != plen || memcmp(clean, req->target, n) != 0) {
		char loc[8300];
		snprintf(loc, sizeof(loc), "Location: %.*s%.*s\r\n", (int)(n < 4096 ? n : 4096), clean,
			 q ? (int)(req->target_len - plen < 4096 ? req->target_len - plen : 4096) : 0, q ? q : "");
		http_respond(c, 301, NULL, loc, "", 0);
		goto out;
	}
	n = pct_decode(req->target, plen, id);
	id[n] = 0;
	pre = strlen(x.app->prefix);
	if (n == 1) {
		answer(c, 200, NULL, "OK");
		goto out;
	}
	if (n < pre || memcmp(id, x.app->prefix, pre) != 0) {
		answer(c, 404, "X-Content-Type-Options: nosniff\r\n", "404 page not found\n");
		goto out;
	}
	request_id(x.app, req, x.reqid, sizeof(x.reqid));
	{
		char remote[80];
		peer_text(http_conn_peer(c), remote, sizeof(remote));
		compat_log(x.app, x.reqid, "incoming HTTP %.*s request from %s", (int)req->method_len, req->method, remote);
	}
	x.h = hooks_find(&x.app->hooks, id + pre, n - pre);
	if (!x.h) {
		answer(c, 404, NULL, "Hook not found.");
		goto out;
	}
	if (x.h->nmethods ? !method_in(x.h->methods, x.h->nmethods, req)
			  : x.app->nmethods && !method_in(x.app->methods, x.app->nmethods, req)) {
		compat_log(x.app, x.reqid, "HTTP %.*s method not allowed for hook \"%s\"", (int)req->method_len, req->method,
			   x.h->id);
		http_respond(c, 405, NULL, NULL, "", 0);
		goto out;
	}
	buf_init(&x.extra, 1 << 20);
	hook_request(&x);
	buf_free(&x.extra);
out:
	free(clean);
	free(id);
}
