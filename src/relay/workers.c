/* workers: the supervisor of server.workers processes (see workers.h). */
#include "edgehook/workers.h"
#include "edgehook/activation.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/log.h"
#include "edgehook/metrics_shm.h"
#include "edgehook/reactor.h"
#include "edgehook/server.h"
#include "edgehook/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
	SOCKS_MAX = 16, /* what a worker can take as passed sockets */
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
	HEALTHY_MS = 10000, /* a worker that lived this long restarts at the minimum backoff */
	KILL_GRACE_MS = 5000,
};

struct workers;

struct worker {
	struct workers *w;
	unsigned index;
	pid_t pid;    /* 0: not running */
	int ready_fd; /* read end of its readiness pipe, -1 once read or closed */
	int ready;
	uint64_t started_ms, backoff_ms;
	struct timer restart;
	int fds[SOCKS_MAX];
};

struct workers {
	struct reactor *r;
	const struct app_options *o;
	struct config *cfg;
	struct metrics_shm *shm;
	struct supervisor sup;
	int supervised;
	pid_t self;
	struct worker *ws;
	unsigned n;
	/* listener k: fds[k] in each worker; shared (a Unix socket) is one
	 * socket in all of them */
	size_t nsocks;
	const char *names[SOCKS_MAX];
	int shared[SOCKS_MAX];
	char *paths[SOCKS_MAX]; /* Unix socket files to remove at exit */
	size_t npaths;
	struct listen_cfg one;  /* the -l override */
	int starting;           /* the first generation is not all serving yet */
	int draining;
	int rc;
	struct timer kill_timer;
};

/* ---- the listeners, bound once per worker ---- */

static int bind_entry(struct workers *w, const struct listen_cfg *l, int api)
{
	size_t k = w->nsocks;
	struct sockaddr_storage addr = l->addr;
	socklen_t len = l->addrlen;
	unsigned i;
	if (k == SOCKS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	w->nsocks++;
	w->names[k] = l->name ? l->name : api ? "api" : "";
	w->shared[k] = l->addr.ss_family == AF_UNIX;
	if (w->shared[k])
		app_remove_stale_socket((const struct sockaddr_un *)&l->addr);
	for (i = 0; i < w->n; i++) {
		int fd = w->shared[k] && i > 0 ? w->ws[0].fds[k]
					       : http_listen_socket((const struct sockaddr *)&addr, len, !w->shared[k]);
		if (fd < 0)
			return -1;
		w->ws[i].fds[k] = fd;
		/* port 0: the others share the port the first one got */
		len = sizeof(addr);
		if (i == 0 && getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
			return -1;
	}
	if (w->shared[k] && !(w->paths[w->npaths++] = strdup(((const struct sockaddr_un *)&l->addr)->sun_path))) {
		w->npaths--;
		return -1;
	}
	return 0;
}

/* 0 or an exit code with a message on stderr. Under socket activation
 * nothing is bound: every worker takes the passed sockets. */
static int bind_all(struct workers *w)
{
	const struct listen_cfg *list = w->cfg->server.listen;
	size_t n = w->cfg->server.nlisten, i;
	if (activation_count() > 0)
		return 0;
	if (w->o->listen) {
		if (config_parse_listen(w->o->listen, &w->one) < 0) {
			fprintf(stderr, "edgehook: -l %s: expected HOST:PORT\n", w->o->listen);
			return APP_EXIT_USAGE;
		}
		list = &w->one;
		n = 1;
	}
	for (i = 0; i < n; i++)
		if (bind_entry(w, &list[i], 0) < 0) {
			fprintf(stderr, "edgehook: cannot listen on %s: %s\n", list[i].text, strerror(errno));
			return APP_EXIT_RUNTIME;
		}
	for (i = 0; i < w->cfg->api.nlisten; i++)
		if (bind_entry(w, &w->cfg->api.listen[i], 1) < 0) {
			fprintf(stderr, "edgehook: cannot listen on %s (api.listen): %s\n", w->cfg->api.listen[i].text,
				strerror(errno));
			return APP_EXIT_RUNTIME;
		}
	return 0;
}

static void close_socks(struct workers *w)
{
	size_t k, i;
	for (k = 0; k < w->nsocks; k++)
		for (i = 0; i < w->n; i++)
			if (w->ws[i].fds[k] >= 0 && !(w->shared[k] && i > 0))
				close(w->ws[i].fds[k]);
	for (k = 0; k < w->npaths; k++) {
		unlink(w->paths[k]);
		free(w->paths[k]);
	}
	w->nsocks = w->npaths = 0;
}

/* ---- a worker process ---- */

/* In the child: drops everything of the supervisor's but its own
 * sockets and the segment, then runs as the ordinary daemon. */
static void worker_main(struct worker *wk, int ready_fd)
{
	struct workers *w = wk->w;
	struct app_worker ctx = {wk->index, w->shm, ready_fd};
	struct app_options o = *w->o;
	char idx[16];
	size_t k, i;
	/* a supervisor that died (even by SIGKILL) must not leave workers */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != w->self)
		_exit(APP_EXIT_RUNTIME);
	/* wk lives in w->ws, freed below */
	snprintf(idx, sizeof(idx), "%u", wk->index);
	if (w->nsocks && activation_install(wk->fds, w->names, (int)w->nsocks) < 0)
		_exit(APP_EXIT_RUNTIME);
	for (i = 0; i < w->n; i++) {
		struct worker *other = &w->ws[i];
		if (other == wk)
			continue;
		if (other->ready_fd >= 0)
			close(other->ready_fd);
		for (k = 0; k < w->nsocks; k++)
			if (!w->shared[k])
				close(other->fds[k]);
	}
	for (k = 0; k < w->npaths; k++)
		free(w->paths[k]);
	if (w->supervised)
		supervise_stop(&w->sup);
	reactor_free(w->r);
	config_free(w->cfg);
	free(w->ws);
	log_set_context("worker", idx);
	o.worker = &ctx;
	exit(app_run(&o));
}

static void on_ready(void *arg, int fd, uint32_t events);

static int alive(const struct workers *w)
{
	unsigned i, n = 0;
	for (i = 0; i < w->n; i++)
		n += w->ws[i].pid != 0;
	return (int)n;
}

static void spawn(struct worker *wk)
{
	struct workers *w = wk->w;
	char idx[16], pid[16];
	int p[2];
	pid_t child;
	if (pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	if ((child = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	if (child == 0) {
		close(p[0]);
		worker_main(wk, p[1]);
	}
	close(p[1]);
	wk->pid = child;
	wk->ready = 0;
	wk->started_ms = clock_now_ms();
	wk->ready_fd = p[0];
	if (reactor_add(w->r, p[0], EPOLLIN, on_ready, wk) < 0)
		reactor_close(w->r, &wk->ready_fd);
	snprintf(idx, sizeof(idx), "%u", wk->index);
	snprintf(pid, sizeof(pid), "%ld", (long)child);
	log_msg(LOG_INFO, "worker started", "worker", idx, "pid", pid, NULL);
	return;
fail:
	snprintf(idx, sizeof(idx), "%u", wk->index);
	log_msg(LOG_ERROR, "cannot start a worker: retrying", "worker", idx, "err", strerror(errno), NULL);
	timer_start(w->r, &wk->restart, BACKOFF_MAX_MS);
}

static void on_restart(void *arg)
{
	struct worker *wk = arg;
	if (!wk->w->draining)
		spawn(wk);
}

static void on_ready(void *arg, int fd, uint32_t events)
{
	struct worker *wk = arg;
	struct workers *w = wk->w;
	char byte, n[16];
	unsigned i;
	(void)events;
	if (read(fd, &byte, 1) == 1)
		wk->ready = 1;
	reactor_close(w->r, &wk->ready_fd);
	if (!w->starting || !wk->ready)
		return;
	for (i = 0; i < w->n; i++)
		if (!w->ws[i].ready)
			return;
	w->starting = 0;
	snprintf(n, sizeof(n), "%u", w->n);
	log_msg(LOG_INFO, "workers serving", "workers", n, NULL);
	if (w->supervised)
		supervise_ready(&w->sup);
}

/* ---- signals and exits ---- */

static void signal_all(struct workers *w, int signo)
{
	unsigned i;
	for (i = 0; i < w->n; i++)
		if (w->ws[i].pid)
			kill(w->ws[i].pid, signo);
}

static void on_kill_timer(void *arg)
{
	struct workers *w = arg;
	log_msg(LOG_WARN, "workers still running past drain_timeout: killing them", NULL);
	signal_all(w, SIGKILL);
	w->rc = APP_EXIT_RUNTIME;
}

static void drain(struct workers *w)
{
	unsigned i;
	if (w->draining) {
		/* a second TERM/INT: stop now, as one process would */
		log_msg(LOG_WARN, "stopping workers now", NULL);
		signal_all(w, SIGKILL);
		return;
	}
	w->draining = 1;
	if (w->supervised)
		supervise_stopping(&w->sup);
	for (i = 0; i < w->n; i++)
		timer_stop(w->r, &w->ws[i].restart);
	signal_all(w, SIGTERM);
	timer_start(w->r, &w->kill_timer, w->cfg->server.drain_timeout_ms + KILL_GRACE_MS);
	log_msg(LOG_INFO, "draining workers", NULL);
	if (!alive(w))
		reactor_stop(w->r);
}

static void describe(int status, char *out, size_t cap)
{
	if (WIFSIGNALED(status))
		snprintf(out, cap, "signal %d", WTERMSIG(status));
	else
		snprintf(out, cap, "exit %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void exited(struct worker *wk, int status)
{
	struct workers *w = wk->w;
	char idx[16], pid[16], how[32], in[32];
	uint64_t lived = clock_now_ms() - wk->started_ms;
	snprintf(idx, sizeof(idx), "%u", wk->index);
	snprintf(pid, sizeof(pid), "%ld", (long)wk->pid);
	describe(status, how, sizeof(how));
	wk->pid = 0;
	reactor_close(w->r, &wk->ready_fd);
	if (w->draining) {
		log_msg(LOG_INFO, "worker stopped", "worker", idx, "pid", pid, "status", how, NULL);
		if (!alive(w))
			reactor_stop(w->r);
		return;
	}
	if (w->starting && !wk->ready) {
		log_msg(LOG_ERROR, "worker failed to start: stopping", "worker", idx, "pid", pid, "status", how, NULL);
		w->rc = WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : APP_EXIT_RUNTIME;
		drain(w);
		return;
	}
	wk->backoff_ms = lived >= HEALTHY_MS || !wk->backoff_ms ? BACKOFF_MIN_MS
				: wk->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wk->backoff_ms * 2;
	snprintf(in, sizeof(in), "%llu", (unsigned long long)wk->backoff_ms);
	metrics_shm_retire(w->shm, wk->index);
	log_msg(LOG_WARN, "worker exited: restarting", "worker", idx, "pid", pid, "status", how, "in_ms", in, NULL);
	timer_start(w->r, &wk->restart, wk->backoff_ms);
}

static void reap(struct workers *w)
{
	int status;
	pid_t pid;
	unsigned i;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < w->n; i++)
			if (w->ws[i].pid == pid)
				exited(&w->ws[i], status);
}

static void on_signal(void *arg, int signo)
{
	struct workers *w = arg;
	if (signo == SIGCHLD) {
		reap(w);
	} else if (signo == SIGHUP) {
		if (w->supervised)
			supervise_reloading(&w->sup);
		signal_all(w, SIGHUP);
		log_msg(LOG_INFO, "reload passed to the workers", NULL);
		if (w->supervised)
			supervise_ready(&w->sup);
	} else if (signo == SIGUSR2) {
		log_reopen();
		signal_all(w, SIGUSR2);
	} else {
		drain(w);
	}
}

/* ---- the supervisor ---- */

static int setup(struct workers *w)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR2};
	unsigned i;
	size_t k;
	int rc;
	w->self = getpid();
	w->starting = 1;
	if (!(w->ws = calloc(w->n, sizeof(*w->ws))) || !(w->shm = metrics_shm_new(w->n, clock_now_ms())) ||
	    !(w->r = reactor_new())) {
		fprintf(stderr, "edgehook: start-up failed: %s\n", strerror(errno));
		return APP_EXIT_RUNTIME;
	}
	for (i = 0; i < w->n; i++) {
		w->ws[i].w = w;
		w->ws[i].index = i;
		w->ws[i].ready_fd = -1;
		timer_init(&w->ws[i].restart, on_restart, &w->ws[i]);
		for (k = 0; k < SOCKS_MAX; k++)
			w->ws[i].fds[k] = -1;
	}
	if (reactor_signals(w->r, signals, sizeof(signals) / sizeof(signals[0]), on_signal, w) < 0) {
		fprintf(stderr, "edgehook: start-up failed: %s\n", strerror(errno));
		return APP_EXIT_RUNTIME;
	}
	if ((rc = bind_all(w)) != 0)
		return rc;
	/* before forking: the variable is unset, so only we notify */
	supervise_start(&w->sup, w->r, NULL);
	w->supervised = 1;
	return 0;
}

static void teardown(struct workers *w)
{
	if (w->ws)
		close_socks(w);
	if (w->supervised)
		supervise_stop(&w->sup);
	if (w->r)
		timer_stop(w->r, &w->kill_timer);
	reactor_free(w->r);
	metrics_shm_free(w->shm);
	free(w->ws);
	config_free(w->cfg);
}

int workers_run(const struct app_options *o, struct config *cfg)
{
	struct workers w;
	char n[16];
	unsigned i;
	int rc;
	memset(&w, 0, sizeof(w));
	w.o = o;
	w.cfg = cfg;
	w.n = cfg->server.workers;
	timer_init(&w.kill_timer, on_kill_timer, &w);
	rc = setup(&w);
	if (rc == 0) {
		snprintf(n, sizeof(n), "%u", w.n);
		log_msg(LOG_INFO, "edgehook started", "version", EDGEHOOK_VERSION, "workers", n, NULL);
		for (i = 0; i < w.n; i++)
			spawn(&w.ws[i]);
		if (reactor_run(w.r) < 0) {
			log_msg(LOG_ERROR, "event loop failed", NULL);
			signal_all(&w, SIGKILL);
			rc = APP_EXIT_RUNTIME;
		} else {
			rc = w.rc;
		}
	}
	teardown(&w);
	if (rc == 0)
		log_msg(LOG_INFO, "stopped", NULL);
	return rc;
}
