/* relay: the application behind the HTTP server.
 *
 * struct relay holds what the request handlers share: the live config,
 * the dispatcher, the runner, the dedupe window and counters. It builds
 * none of them: relay/app.c does, and hands them over in relay_parts.
 * relay_handle is the server's handler: it routes each request to
 * triggers (trigger.c), the API (api.c), /healthz or /metrics
 * (metrics.c), or the hooks files (compat_embed.c). relay_drain winds
 * the whole application down in order. */
#ifndef EDGEHOOK_RELAY_H
#define EDGEHOOK_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/http_parser.h"
#include "edgehook/received.h"
#include "edgehook/stats_series.h"

struct reactor;
struct config;
struct dispatch;
struct dedupe;
struct dns;
struct spool;
struct cluster;
struct trigger_spool;
struct runner;
struct api_trigger;
struct http_client;
struct http_server;
struct http_conn;
struct metrics_shm;
struct metrics_snapshot;
struct compat;

struct trigger_stats {
	uint64_t accepted, duplicates, rejected_auth, rejected_source, rejected_body, not_found, queue_full, run_refused,
		spool_full;
};

/* The collaborators, all owned by the caller and outliving the relay. */
struct relay_parts {
	struct reactor *r;
	struct config *cfg;
	struct http_server *srv;
	struct dispatch *disp;
	struct dedupe *dedupe;
	struct runner *runner;
	const struct dns *dns;            /* counters for /metrics */
	const struct http_client *client; /* counters for /metrics */
	int api_own_listeners;            /* api.listen was bound */
	struct compat *hooks;             /* hooks files (config hooks:) */
};

struct relay {
	struct reactor *r;
	struct config *cfg;
	struct http_server *srv;
	struct dispatch *disp;
	struct dedupe *dedupe;
	struct runner *runner;
	const struct dns *dns;
	const struct http_client *client;
	struct spool *spool;     /* NULL: spool.dir unset, memory only (set once opened) */
	struct cluster *cluster; /* NULL: not in cluster mode (set once connected) */
	struct trigger_spool *tspool; /* set with spool */
	struct api_trigger *api_triggers;
	size_t n_api_triggers;
	struct trigger_stats tstats;
	struct received_log received;  /* the last webhooks accepted, for the API */
	struct stats_series series;    /* deliveries per 10 s, for the API */
	uint64_t started_ms;
	int api_own_listeners;   /* /api/v1 is served only on the api.listen listeners */
	struct metrics_shm *shm; /* NULL: one process; else /metrics sums the workers' slots */
	unsigned worker;         /* this process's slot in shm */
	struct metrics_snapshot *published; /* metrics_publish's buffer */
	struct compat *hooks;    /* serves the config's hooks files under hooks.urlprefix */
	void (*on_drained)(void *arg);
	void *drained_arg;
};

void relay_init(struct relay *rl, const struct relay_parts *parts);
/* Frees what the relay itself holds (API-registered triggers). */
void relay_fini(struct relay *rl);
/* A reload committed: cfg replaces the live config (the caller frees
 * the old one afterwards); API triggers it shadows are dropped. */
void relay_set_config(struct relay *rl, struct config *cfg);
void relay_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body,
		  size_t body_len);
/* The server's http_empty_body_fn: the hooks files' routes read a POST
 * without Content-Length as webhook does (an empty body); others 411. */
int relay_empty_body_ok(void *arg, const struct http_request *req);
/* Closes the listeners, then waits for open requests, running commands
 * (whose lifecycle events are queued) and deliveries, in that order, and
 * calls on_drained once all are done. */
void relay_drain(struct relay *rl, void (*on_drained)(void *arg), void *arg);
/* Past the drain timeout: kills the commands and drops the deliveries
 * still pending, counted and logged; on_drained is not called. */
void relay_abandon(struct relay *rl);
/* With workers: copies this process's counters to its slot in rl->shm. */
void metrics_publish(struct relay *rl);

#endif
