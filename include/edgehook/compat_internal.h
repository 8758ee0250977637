/* compat internals shared by compat.c (process, listeners, logging) and
 * compat_hook.c (routes, answers, commands). */
#ifndef EDGEHOOK_COMPAT_INTERNAL_H
#define EDGEHOOK_COMPAT_INTERNAL_H

#include <stdio.h>
#include <sys/types.h>

#include "edgehook/buf.h"
#include "edgehook/compat.h"
#include "edgehook/hooks.h"

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
};

/* "[webhook] YYYY/MM/DD HH:MM:SS [reqid] ..." when logging is on. */
void compat_log(struct compat *app, const char *reqid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void compat_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body, size_t len);
/* SIGCHLD: reap and finish the runs whose process ended. */
void compat_reap(struct compat *app);
/* Reloads the hooks files; on any failure the running set stays. */
void compat_reload(struct compat *app);
/* At exit: runs still going are left to finish on their own. */
struct compat_run *compat_run_next(const struct compat_run *run);
void compat_run_free(struct compat_run *run);

/* Runs at once (running or waiting), output kept per run, and runs
 * waiting per hook under its max-concurrency. */
enum { COMPAT_MAX_RUNS = 1024, COMPAT_MAX_OUTPUT = 16 << 20, COMPAT_MAX_QUEUE = 64 };

#endif
