/* compat internals shared by compat.c (process, listeners, logging) and
 * compat_hook.c (routes, answers, commands). */
#ifndef EDGEHOOK_COMPAT_INTERNAL_H
#define EDGEHOOK_COMPAT_INTERNAL_H

#include <stdio.h>
#include <sys/types.h>

#include "edgehook/buf.h"
#include "edgehook/compat.h"
#include "edgehook/hooks.h"
#include "edgehook/reactor.h"

struct reactor;
struct http_conn;
struct http_request;
struct compat_run;

struct compat {
	struct compat_opts o;
	struct reactor *r;
	struct hook_set hooks;
	char prefix[256]; /* "/hooks/" or "/" */
	const char *methods[COMPAT_MAX_LIST]; /* -http-methods, trimmed */
	char *methods_text;
	size_t nmethods;
	FILE *log;          /* NULL: quiet, as webhook without -verbose */
	int watch_fd; /* -hotreload's inotify descriptor or -1 */
	struct compat_run *runs;
	size_t nruns;
	/* inside the relay (compat_embed.c): logs through log.h, and the
	 * client address comes from the relay */
	int embedded;
	compat_client_fn client;
	void *client_ctx;
};

/* "[webhook] YYYY/MM/DD HH:MM:SS [reqid] ..." when logging is on. */
void compat_log(struct compat *app, const char *reqid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reloads the hooks files; on any failure the running set stays. */
void compat_reload(struct compat *app);
/* At exit: runs still going are left to finish on their own. */
void compat_runs_free(struct compat *app);
void compat_run_free(struct compat_run *run);

/* Runs at once (running or waiting), output kept per run, and runs
 * waiting per hook under its max-concurrency. */
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

/* compat_hook.c */
int compat_valid_code(int code);
/* text/plain unless empty or the hook's headers name a Content-Type. */
void compat_answer(struct http_conn *c, int status, const char *extra, const char *body);

/* compat_run.c */
struct hook_request;
int compat_run_prepare(struct compat *app, struct compat_run *run, const struct hook *h, struct hook_request *rq);
/* Spawns a prepared run; one that cannot start ends as failed. */
void compat_run_start(struct compat *app, struct compat_run *run);
void compat_run_init_timer(struct compat_run *run);
void compat_run_abort(void *arg);
size_t compat_count_runs(const struct compat *app, const char *id, int queued);

enum { COMPAT_MAX_RUNS = 1024, COMPAT_MAX_OUTPUT = 16 << 20, COMPAT_MAX_QUEUE = 64 };

#endif
