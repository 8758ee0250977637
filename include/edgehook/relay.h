/* relay: the application behind the HTTP server.
 *
 * struct relay holds what the request handlers share: the live config,
 * the dispatcher, the dedupe window and counters. relay_handle is the
 * server's handler: it routes each request to triggers (trigger.c), the
 * API (api.c), /healthz or /metrics (metrics.c). */
#ifndef EDGEHOOK_RELAY_H
#define EDGEHOOK_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/http_parser.h"

struct reactor;
struct config;
struct dispatch;
struct dedupe;
struct runner;
struct api_trigger;
struct http_server;
struct http_conn;
struct trigger_cfg;
struct buf;

struct trigger_stats {
	uint64_t accepted, duplicates, rejected_auth, rejected_source, rejected_body, not_found, queue_full, run_refused;
};

struct relay {
	struct reactor *r;
	struct config *cfg;
	struct http_server *srv;
	struct dispatch *disp;
	struct dedupe *dedupe;
	struct runner *runner;
	struct spool *spool;     /* NULL: spool.dir unset, memory only */
	struct api_trigger *api_triggers;
	size_t n_api_triggers;
	struct trigger_stats tstats;
	uint64_t started_ms;
	int api_own_listeners;   /* api.listen was bound: /api/v1 is served only there */
	char **api_sockets;      /* Unix socket paths bound for the API, removed at exit */
	size_t n_api_sockets;
};

struct relay *relay_new(struct reactor *r, struct config *cfg);
void relay_free(struct relay *rl);
/* Opens and recovers spool.dir when set (after privileges are dropped:
 * the user that runs must be the one that can write it). -1 with a
 * message in err: the caller exits with a usage error. */
int relay_open_spool(struct relay *rl, char *err, size_t errcap);
/* All or nothing: on success takes ownership of cfg (the old one is
 * freed); on failure (logged) nothing changed and cfg is the caller's. */
int relay_reload(struct relay *rl, struct config *cfg);
/* Binds api.listen (after the server's own listeners); -1 with a
 * message on stderr. relay_log_api_listeners logs them (listeners base..) once the process
 * is ready (after any privilege drop). */
int relay_listen_api(struct relay *rl, struct http_server *srv);
void relay_log_api_listeners(const struct relay *rl, const struct http_server *srv, size_t base);
void relay_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body,
		  size_t body_len);

/* registry.c: config triggers, then API-registered ones */
const struct trigger_cfg *trigger_by_id(const struct relay *rl, const char *id, size_t len);
const struct trigger_cfg *trigger_by_path(const struct relay *rl, const char *path, size_t len);
void trigger_info(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t);
void triggers_api(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *id,
		  size_t id_len, const char *body, size_t len);
/* After a reload: API triggers the new config shadows (same id or path)
 * or no longer allows (run without api.allow_run) are dropped, logged. */
void registry_reconcile(struct relay *rl);
void registry_free(struct relay *rl);

/* trigger.c */
/* verify_as: the kind named in the route, or the trigger's own kind. */
void trigger_receive(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
		     size_t len, const struct trigger_cfg *t, int verify_as);

/* api.c: path is what follows "/api/v1/" */
/* Bound for a rendered answer (JSON or metrics); buffers grow to it. */
enum { RENDER_MAX = 64 << 20 };
/* Sends b and frees it; when an append into b failed (b->failed) the
 * answer is 500 with a log line naming `what`, never a cut body. */
void reply_rendered(struct http_conn *c, int status, const char *ctype, struct buf *b, const char *what);
/* {"error":"msg"} with status (503 also says Retry-After: 1); msg is
 * escaped, so it may quote the request. */
void api_respond_error(struct http_conn *c, int status, const char *msg);
int api_authorize(struct relay *rl, struct http_conn *c, const struct http_request *req);
void api_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path, size_t plen,
		const char *body, size_t len);

/* metrics.c */
void metrics_render(struct relay *rl, struct http_conn *c);

#endif
