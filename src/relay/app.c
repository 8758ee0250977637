/* app: builds the object graph from the config, runs it, reloads it and
 * winds it down (see app.h). */
#include "edgehook/app.h"
#include "edgehook/buf.h"
#include "edgehook/client.h"
#include "edgehook/cluster.h"
#include "edgehook/compat.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/dispatch.h"
#include "edgehook/dns.h"
#include "edgehook/event.h"
#include "edgehook/hooks.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/relay.h"
#include "edgehook/relay_routes.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/spool.h"
#include "edgehook/supervise.h"
#include "edgehook/tls.h"
#include "edgehook/trigger_spool.h"
#include "edgehook/url.h"
#include "edgehook/clock.h"
#include "edgehook/metrics_shm.h"
#include "edgehook/workers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct app {
	struct reactor *r;
	struct config *cfg;
	const char *config_path;
	struct dns *dns;
	struct tls_client_ctx *client_tls;
	struct http_client *client;
	struct http_server *srv;
	struct dispatch *disp;
	struct dedupe *dedupe;
	struct runner *runner;
	struct spool *spool;
	struct cluster *cluster;
	struct tls_client_ctx *cluster_tls; /* rediss:// anchors */
	struct trigger_spool *tspool;
	struct compat *hooks; /* the config's hooks files */
	struct relay rl;
	struct app_listeners lis;
	struct supervisor sup;
	struct timer drain_timer;
	int supervised, draining;
	const struct app_worker *worker; /* NULL: not one of server.workers */
	struct timer publish_timer;
	uint64_t published_ms;
};

/* Everything a config builds that can fail, built before anything is
 * swapped: at start and on every reload. */
struct app_stage {
	struct dispatch_stage *disp;
	struct tls_client_ctx *tls; /* NULL: no https endpoint */
	struct dns_conf *dns;
	struct http_server_limits lim;
	struct hook_set hooks; /* hooks.files, read again on every load */
	const char *hooks_prefix; /* NULL: no hooks served */
};

static void stage_free(struct app_stage *st)
{
	dispatch_stage_free(st->disp);
	tls_client_ctx_free(st->tls);
	dns_conf_free(st->dns);
	hooks_free(&st->hooks);
}

/* The CA bundle is read again on every load (a reload re-reads a
 * changed file); plain-http endpoints off loopback earn a warning. */
static int load_trust(struct app_stage *st, const struct config *cfg)
{
	struct buf err;
	size_t i, count = 0;
	int https = 0;
	char n[32];
	for (i = 0; i < cfg->webhook.nendpoints; i++) {
		const struct endpoint_cfg *e = &cfg->webhook.endpoints[i];
		if (e->url.scheme == URL_HTTPS)
			https = 1;
		else if (e->url.scheme == URL_HTTP && !url_is_loopback(&e->url))
			log_msg(LOG_WARN, "endpoint uses plain http off this host", "endpoint", e->name, "url", e->url_text, NULL);
	}
	if (!https)
		return 0;
	buf_init(&err, 4096);
	st->tls = tls_client_ctx_new(cfg->webhook.ca_file, &err, &count);
	if (!st->tls) {
		buf_append(&err, "", 1);
		log_msg(LOG_ERROR, "cannot load trust anchors", "file", cfg->webhook.ca_file, "err",
			err.data ? err.data : "out of memory", NULL);
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	snprintf(n, sizeof(n), "%zu", count);
	log_msg(LOG_INFO, "trust anchors loaded", "file", cfg->webhook.ca_file, "count", n, NULL);
	return 0;
}

enum hooks_load_at { HOOKS_AT_RELOAD, HOOKS_AT_START, HOOKS_AT_CHECK };

/* A hooks file that does not load refuses the config: at start (and
 * --check) on stderr, on a reload in the log (the running set stays). */
static int load_hooks(struct app_stage *st, const struct config *cfg, enum hooks_load_at at)
{
	struct buf errors;
	if (!cfg->hooks.nfiles)
		return 0;
	st->hooks_prefix = cfg->hooks.urlprefix;
	buf_init(&errors, HOOKS_ERRORS_MAX);
	if (hooks_load(&st->hooks, cfg->hooks.files, cfg->hooks.nfiles, &errors) == 0) {
		char n[32];
		buf_free(&errors);
		snprintf(n, sizeof(n), "%zu", st->hooks.n);
		if (at != HOOKS_AT_CHECK)
			log_msg(LOG_INFO, "hooks files loaded", "hooks", n, "urlprefix", cfg->hooks.urlprefix, NULL);
		return 0;
	}
	if (buf_append(&errors, "", 1) < 0 && errors.len)
		errors.data[errors.len - 1] = 0;
	if (at != HOOKS_AT_RELOAD)
		fprintf(stderr, "%s\n", errors.len ? errors.data : "hooks: out of memory");
	else
		log_msg(LOG_ERROR, "hooks file refused", "err", errors.len ? errors.data : "out of memory", NULL);
	buf_free(&errors);
	return -1;
}

static int stage_build(struct app_stage *st, const struct config *cfg)
{
	memset(st, 0, sizeof(*st));
	hooks_init(&st->hooks);
	st->lim.max_connections = cfg->server.max_connections;
	st->lim.max_header_bytes = cfg->server.max_header_bytes;
	st->lim.max_body_bytes = cfg->server.max_body_bytes;
	st->lim.header_timeout_ms = cfg->server.header_timeout_ms;
	st->lim.body_timeout_ms = cfg->server.body_timeout_ms;
	st->lim.idle_timeout_ms = cfg->server.idle_timeout_ms;
	if (!(st->disp = dispatch_prepare(cfg)) || load_trust(st, cfg) < 0 ||
	    !(st->dns = dns_conf_load(cfg->webhook.resolv_conf, cfg->webhook.hosts_file))) {
		stage_free(st);
		return -1;
	}
	return 0;
}

/* Cannot fail. Without https endpoints the old anchors stay for retries
 * of deliveries that began under the old config. */
static void stage_commit(struct app *a, struct app_stage *st)
{
	dispatch_commit(a->disp, st->disp);
	if (st->tls) {
		tls_client_ctx_free(a->client_tls);
		a->client_tls = st->tls;
		http_client_set_tls(a->client, a->client_tls);
	}
	dns_set_conf(a->dns, st->dns);
	http_server_set_limits(a->srv, &st->lim);
	compat_embed_set(a->hooks, &st->hooks, st->hooks_prefix);
}

/* ---- the dispatcher's transport and the runner's events ---- */

static struct http_client_op *client_send(void *ctx, const struct http_client_request *req, http_client_cb cb,
					  void *arg)
{
	return http_client_send(ctx, req, cb, arg);
}

static void client_cancel(void *ctx, struct http_client_op *op)
{
	(void)ctx;
	http_client_cancel(op);
}

static int client_limit(void *ctx, const struct url *u, unsigned max_in_flight)
{
	return http_client_limit(ctx, u, max_in_flight);
}

static int emit_event(void *arg, const char *type, const char *body, size_t len)
{
	struct app *a = arg;
	char id[EVENT_ID_LEN];
	/* cluster mode: through the stream, delivered by whichever instance */
	if (a->cluster) {
		cluster_emit(a->cluster, type, body, len);
		return 0;
	}
	return dispatch_event(a->disp, type, body, len, id, sizeof(id)) < 0 ? -1 : 0;
}

/* ---- building and freeing ---- */

static int build(struct app *a, struct app_stage *st)
{
	struct dispatch_transport tp = {NULL, client_send, client_cancel, client_limit};
	if (!(a->dns = dns_new(a->r, NULL)) || !(a->client = http_client_new(a->r, a->dns)))
		return -1;
	tp.ctx = a->client;
	a->disp = dispatch_new(a->r, &tp, a->cfg->webhook.history);
	a->dedupe = dedupe_new(a->cfg->server.dedupe);
	a->runner = runner_new(a->r, emit_event, a, a->cfg->webhook.history);
	/* the server calls into the relay, set up once the listeners are bound */
	a->srv = http_server_new(a->r, &st->lim, relay_handle, &a->rl);
	if (a->srv)
		http_server_empty_body_ok(a->srv, relay_empty_body_ok);
	a->hooks = compat_embed_new(a->r);
	if (!a->disp || !a->dedupe || !a->runner || !a->srv || !a->hooks)
		return -1;
	stage_commit(a, st);
	return 0;
}

static void teardown(struct app *a)
{
	if (a->disp)
		dispatch_flush(a->disp);
	timer_stop(a->r, &a->drain_timer);
	timer_stop(a->r, &a->publish_timer);
	if (a->supervised)
		supervise_stop(&a->sup);
	http_server_free(a->srv);
	app_listeners_close(&a->lis);
	trigger_spool_stop(a->tspool); /* its waiting runs, before the runner */
	runner_free(a->runner); /* before the dispatcher: runs emit events */
	trigger_spool_free(a->tspool);
	relay_fini(&a->rl);
	cluster_free(a->cluster);
	tls_client_ctx_free(a->cluster_tls);
	compat_embed_free(a->hooks);
	dispatch_free(a->disp);
	spool_free(a->spool);
	http_client_free(a->client);
	tls_client_ctx_free(a->client_tls);
	dns_free(a->dns);
	dedupe_free(a->dedupe);
	config_free(a->cfg);
	reactor_free(a->r);
}

/* ---- reload and signals ---- */

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int same_list(const struct listen_cfg *a, size_t na, const struct listen_cfg *b, size_t nb)
{
	size_t i;
	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].text, b[i].text) != 0 || a[i].tls != b[i].tls)
			return 0;
	return 1;
}

static int same_spool(const struct spool_cfg *a, const struct spool_cfg *b)
{
	if (!a->dir != !b->dir || (a->dir && strcmp(a->dir, b->dir) != 0))
		return 0;
	return a->fsync == b->fsync && a->interval_ms == b->interval_ms && a->max_bytes == b->max_bytes &&
	       a->segment_bytes == b->segment_bytes && a->retention_ms == b->retention_ms;
}

static int same_cluster(const struct cluster_cfg *a, const struct cluster_cfg *b)
{
	return same_str(a->redis, b->redis) && same_str(a->prefix, b->prefix) && same_str(a->instance, b->instance) &&
	       same_str(a->ca_file, b->ca_file) && a->claim_after_ms == b->claim_after_ms &&
	       a->max_stream_len == b->max_stream_len && a->timeout_ms == b->timeout_ms && a->queue == b->queue &&
	       a->dedupe_window_ms == b->dedupe_window_ms && a->status_ttl_ms == b->status_ttl_ms;
}

/* Every record goes to both: each takes its own types. */
static void replay(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n)
{
	struct app *a = arg;
	dispatch_spool_replay(a->disp, seg, type, p, n);
	trigger_spool_replay(a->tspool, seg, type, p, n);
}

/* Opens and recovers spool.dir when set, as the user that runs (it must
 * be the one that can write it); its deliveries resume, then its runs.
 * -1 with a message on stderr. */
static int open_spool(struct app *a)
{
	struct buf errors;
	if (!a->cfg->spool.dir)
		return 0;
	if (!(a->tspool = trigger_spool_new(a->dedupe))) {
		fprintf(stderr, "edgehook: spool: out of memory\n");
		return -1;
	}
	buf_init(&errors, SPOOL_ERRORS_MAX);
	if (spool_open(a->r, &a->cfg->spool, replay, a, &a->spool, &errors) < 0) {
		dispatch_spool_discard(a->disp);
		fprintf(stderr, "edgehook: spool: %.*s\n", (int)errors.len, errors.data ? errors.data : "");
		buf_free(&errors);
		return -1;
	}
	buf_free(&errors);
	dispatch_spool_resume(a->disp, a->spool);
	a->rl.spool = a->spool; /* the API waits on its commits, /metrics counts it */
	trigger_spool_resume(a->tspool, &a->rl, a->spool);
	return 0;
}

/* cluster mode: connects and starts reading the shared stream; ingest
 * answers 503 until Redis is reachable. -1 with a message on stderr. */
static int open_cluster(struct app *a)
{
	const struct cluster_cfg *cl = &a->cfg->cluster;
	if (!cl->redis)
		return 0;
	if (cl->url.tls) {
		struct buf errors;
		const char *ca = cl->ca_file ? cl->ca_file : a->cfg->webhook.ca_file;
		size_t anchors;
		buf_init(&errors, 4096);
		a->cluster_tls = tls_client_ctx_new(ca, &errors, &anchors);
		if (!a->cluster_tls) {
			fprintf(stderr, "edgehook: cluster: ca_file %s: %.*s\n", ca, (int)errors.len, errors.data ? errors.data : "");
			buf_free(&errors);
			return -1;
		}
		buf_free(&errors);
	}
	if (!(a->cluster = cluster_new(a->r, a->dns, cl, a->disp, a->cluster_tls,
					a->cfg->server.max_body_bytes))) {
		fprintf(stderr, "edgehook: cluster: out of memory\n");
		return -1;
	}
	a->rl.cluster = a->cluster;
	cluster_triggers_watch(a->cluster, registry_sync, &a->rl);
	cluster_runs_watch(a->cluster, trigger_cluster_run, &a->rl);
	trigger_cluster_gate(&a->rl);
	runner_on_done(a->runner, cluster_run_done, a->cluster);
	log_msg(LOG_INFO, "cluster mode", "redis", cl->url.host, "tls", cl->url.tls ? "on" : "off", "instance",
		cluster_instance(a->cluster), NULL);
	return 0;
}

/* Each worker is its own consumer in the cluster's group, named
 * "<instance>-w<index>"; its replacement takes the same name and so
 * resumes its pending list. */
static int worker_config(const struct app *a, struct config *cfg)
{
	char name[160];
	if (!a->worker || !cfg->cluster.redis)
		return 0;
	snprintf(name, sizeof(name), "%s-w%u", cfg->cluster.instance, a->worker->index);
	return (cfg->cluster.instance = arena_strdup(&cfg->arena, name)) ? 0 : -1;
}

static void reload(struct app *a)
{
	struct config *cfg;
	struct app_stage st;
	struct dedupe *dedupe = NULL;
	const struct config *old = a->cfg;
	if (!a->config_path) {
		log_msg(LOG_INFO, "reload ignored: running on the built-in config", NULL);
		return;
	}
	if (app_load_config(a->config_path, &cfg) < 0) {
		log_msg(LOG_ERROR, "reload failed: keeping the running config", "file", a->config_path, NULL);
		return;
	}
	if (worker_config(a, cfg) < 0)
		goto fail;
	/* listeners are bound once at start; a reload cannot move them */
	if (!same_list(old->server.listen, old->server.nlisten, cfg->server.listen, cfg->server.nlisten) ||
	    !same_str(old->server.tls_cert, cfg->server.tls_cert) || !same_str(old->server.tls_key, cfg->server.tls_key))
		log_msg(LOG_WARN, "reload: server.listen and server.tls changes take effect after a restart", NULL);
	if (stage_build(&st, cfg) < 0)
		goto fail;
	if (load_hooks(&st, cfg, HOOKS_AT_RELOAD) < 0) {
		stage_free(&st);
		goto fail;
	}
	if (cfg->server.dedupe != old->server.dedupe && !(dedupe = dedupe_resized(a->dedupe, cfg->server.dedupe))) {
		stage_free(&st);
		goto fail;
	}
	if (dedupe) {
		/* the newest ids seen are kept */
		dedupe_free(a->dedupe);
		a->dedupe = a->rl.dedupe = dedupe;
	}
	if (!same_list(old->api.listen, old->api.nlisten, cfg->api.listen, cfg->api.nlisten))
		log_msg(LOG_WARN, "reload: api.listen changes take effect after a restart", NULL);
	if (!same_spool(&old->spool, &cfg->spool))
		log_msg(LOG_WARN, "reload: spool changes take effect after a restart", NULL);
	if (old->server.workers != cfg->server.workers || old->server.workers_auto != cfg->server.workers_auto)
		log_msg(LOG_WARN, "reload: server.workers changes take effect after a restart", NULL);
	if (!same_cluster(&old->cluster, &cfg->cluster))
		log_msg(LOG_WARN, "reload: cluster changes take effect after a restart", NULL);
	stage_commit(a, &st);
	relay_set_config(&a->rl, cfg);
	config_free(a->cfg);
	a->cfg = cfg;
	if (config_apply_log(cfg) < 0)
		log_msg(LOG_ERROR, "reload: cannot open log.file: logging where it did", "file", cfg->log.file, "err",
			strerror(errno), NULL);
	log_msg(LOG_INFO, "config reloaded", "file", a->config_path, NULL);
	return;
fail:
	config_free(cfg);
	log_msg(LOG_ERROR, "reload failed: keeping the running config", "file", a->config_path, NULL);
}

static void on_drained(void *arg)
{
	struct app *a = arg;
	reactor_stop(a->r);
}

static void on_drain_timeout(void *arg)
{
	struct app *a = arg;
	relay_abandon(&a->rl);
	reactor_stop(a->r);
}

static void on_signal(void *arg, int signo)
{
	struct app *a = arg;
	if (signo == SIGHUP) {
		supervise_reloading(&a->sup);
		reload(a);
		supervise_ready(&a->sup);
		return;
	}
	if (signo == SIGCHLD) {
		compat_reap(a->hooks);
		runner_reap(a->runner);
		return;
	}
	if (signo == SIGUSR2) {
		log_reopen();
		return;
	}
	if (signo != SIGTERM && signo != SIGINT)
		return;
	if (a->draining) {
		/* a worker gets TERM from its supervisor and often the same from
		 * the terminal or the service manager: only the supervisor
		 * decides to cut a drain short */
		if (!a->worker)
			reactor_stop(a->r);
		return;
	}
	a->draining = 1;
	supervise_stopping(&a->sup);
	timer_start(a->r, &a->drain_timer, a->cfg->server.drain_timeout_ms);
	/* logged after the listeners are closed: whoever reads this line can
	 * rely on new connections being refused */
	relay_drain(&a->rl, on_drained, a);
	log_msg(LOG_INFO, "draining", "signal", signo == SIGTERM ? "TERM" : "INT", NULL);
}

/* ---- a worker (server.workers > 1) ---- */

/* After any activity the slot is refreshed, at most every
 * METRICS_SHM_PUBLISH_MS: the timer only makes the loop come round. */
static void after_iteration(void *arg)
{
	struct app *a = arg;
	uint64_t now = clock_now_ms();
	if (now - a->published_ms >= METRICS_SHM_PUBLISH_MS) {
		metrics_publish(&a->rl);
		a->published_ms = now;
	} else if (!timer_armed(&a->publish_timer)) {
		timer_start(a->r, &a->publish_timer, METRICS_SHM_PUBLISH_MS);
	}
}

static void on_publish_timer(void *arg) { (void)arg; }

static void worker_start(struct app *a)
{
	a->rl.shm = a->worker->shm;
	a->rl.worker = a->worker->index;
	reactor_after_each(a->r, after_iteration, a);
}

static void worker_ready(struct app *a)
{
	(void)!write(a->worker->ready_fd, "R", 1);
	close(a->worker->ready_fd);
}

/* ---- the process ---- */

static int start(struct app *a, const struct app_options *o)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR2};
	struct relay_parts parts;
	struct app_stage st;
	const char *user;
	int rc;
	if (stage_build(&st, a->cfg) < 0) {
		fprintf(stderr, "edgehook: out of memory\n");
		return APP_EXIT_RUNTIME;
	}
	if (load_hooks(&st, a->cfg, HOOKS_AT_START) < 0) {
		stage_free(&st);
		return APP_EXIT_USAGE;
	}
	if (!(a->r = reactor_new()) || build(a, &st) < 0) {
		stage_free(&st);
		fprintf(stderr, "edgehook: start-up failed: %s\n", strerror(errno));
		return APP_EXIT_RUNTIME;
	}
	if (reactor_signals(a->r, signals, sizeof(signals) / sizeof(signals[0]), on_signal, a) < 0) {
		fprintf(stderr, "edgehook: start-up failed: %s\n", strerror(errno));
		return APP_EXIT_RUNTIME;
	}
	if ((rc = app_listen(a->srv, a->cfg, o->listen, &a->lis)) != 0)
		return rc;
	parts = (struct relay_parts){a->r, a->cfg, a->srv, a->disp, a->dedupe, a->runner, a->dns, a->client,
				     a->lis.napi + a->lis.napi_passed > 0, a->hooks};
	relay_init(&a->rl, &parts);
	if (a->worker)
		worker_start(a);
	supervise_start(&a->sup, a->r, &a->rl);
	a->supervised = 1;
	/* every listener is bound: root is no longer needed, and readiness
	 * is announced by a process that has dropped it */
	user = o->user ? o->user : a->cfg->server.user;
	if (user && app_drop_privileges(user) < 0)
		return APP_EXIT_USAGE;
	app_announce(a->srv, a->cfg, &a->lis);
	/* recovered before READY=1 */
	if (open_spool(a) < 0 || open_cluster(a) < 0)
		return APP_EXIT_USAGE;
	supervise_ready(&a->sup);
	if (a->worker)
		worker_ready(a);
	return 0;
}

int app_run(const struct app_options *o)
{
	struct app a;
	int rc;
	memset(&a, 0, sizeof(a));
	timer_init(&a.drain_timer, on_drain_timeout, &a);
	timer_init(&a.publish_timer, on_publish_timer, &a);
	a.worker = o->worker;
	if (app_load_config(o->config, &a.cfg) < 0)
		return APP_EXIT_USAGE;
	if (worker_config(&a, a.cfg) < 0) {
		fprintf(stderr, "edgehook: out of memory\n");
		config_free(a.cfg);
		return APP_EXIT_RUNTIME;
	}
	if (o->check) {
		struct app_stage st;
		int bad;
		memset(&st, 0, sizeof(st));
		hooks_init(&st.hooks);
		bad = load_hooks(&st, a.cfg, HOOKS_AT_CHECK) < 0;
		hooks_free(&st.hooks);
		if (bad) {
			config_free(a.cfg);
			return APP_EXIT_USAGE;
		}
		app_print_warnings(a.cfg, NULL, 0, 1);
		puts("ok");
		config_free(a.cfg);
		return 0;
	}
	if (config_apply_log(a.cfg) < 0) {
		fprintf(stderr, "edgehook: log.file %s: %s\n", a.cfg->log.file, strerror(errno));
		config_free(a.cfg);
		return APP_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	/* a file size limit makes a spool write fail (EFBIG, answered 503),
	 * it must not kill the process */
	signal(SIGXFSZ, SIG_IGN);
	app_test_clock();
	if (!a.worker && a.cfg->server.workers > 1)
		return workers_run(o, a.cfg);
	a.config_path = o->config;
	rc = start(&a, o);
	if (rc == 0) {
		log_msg(LOG_INFO, "edgehook started", "version", EDGEHOOK_VERSION, NULL);
		if (reactor_run(a.r) < 0) {
			log_msg(LOG_ERROR, "event loop failed", NULL);
			rc = APP_EXIT_RUNTIME;
		}
	}
	teardown(&a);
	if (rc == 0)
		log_msg(LOG_INFO, "stopped", NULL);
	return rc;
}
