/* relay_routes: what relay_handle (relay.c) routes a request to, one
 * file each: registry.c (triggers from the config, then API-registered
 * ones), trigger.c (inbound webhooks), api.c (/api/v1/...) and
 * metrics.c (/metrics). All share struct relay. */
#ifndef EDGEHOOK_RELAY_ROUTES_H
#define EDGEHOOK_RELAY_ROUTES_H

#include <stddef.h>

#include "edgehook/event.h"
#include "edgehook/http_parser.h"
#include "edgehook/relay.h"

struct buf;
struct dispatch;
struct http_conn;
struct trigger_cfg;
struct sockaddr_storage;

/* registry.c: config triggers, then API-registered ones */
const struct trigger_cfg *registry_by_id(const struct relay *rl, const char *id, size_t len);
const struct trigger_cfg *registry_by_path(const struct relay *rl, const char *path, size_t len);
void registry_info(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t);
void registry_api(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *id,
		  size_t id_len, const char *body, size_t len);
/* After a reload: API triggers the new config shadows (same id or path)
 * or no longer allows (run without api.allow_run) are dropped, logged. */
void registry_reconcile(struct relay *rl);
void registry_free(struct relay *rl);
/* Cluster mode: the shared API triggers, for cluster_triggers_watch. */
struct cluster_kv;
void registry_sync(void *arg, size_t n, const struct cluster_kv *kv);

/* trigger.c */
/* The client address: the peer, or when the peer is in trusted_proxies
 * the rightmost X-Forwarded-For hop that is not (AF_UNSPEC when that hop
 * is no address or the peer is a Unix socket). */
void relay_client_addr(const struct relay *rl, struct http_conn *c, const struct http_request *req,
		       struct sockaddr_storage *out);
/* verify_as: the kind named in the route, or the trigger's own kind. */
void trigger_receive(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
		     size_t len, const struct trigger_cfg *t, int verify_as);

/* trigger_cluster.c: what trigger_receive decided for an accepted
 * delivery, handed to cluster mode (answers 202, 200 duplicate or 503). */
struct run;
struct cluster_accept {
	const char *type;
	const char *delivery; /* the sender's delivery id, dlen 0: none */
	size_t dlen;
	const char *dlv_id;   /* ours, "dlv_..." */
	struct run *run;      /* prepared (validated), or NULL; taken over */
	const char *body;     /* the raw request body (a run's stdin) */
	size_t len;
	struct trigger_envelope env;
};
void trigger_accept_cluster(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t,
			    const struct cluster_accept *ta);
/* The cluster's run hook (cluster_runs_watch): 1 started, 0 reported. */
struct cluster_run;
int trigger_cluster_run(void *arg, const struct cluster_run *cr);
/* Puts the run-start mark in the runner's gate: in cluster mode no run
 * spawns before Redis holds its mark (it replaces the spool's gate). */
void trigger_cluster_gate(struct relay *rl);

/* api.c: path is what follows "/api/v1/" */
/* Bound for a rendered answer (JSON or metrics); buffers grow to it. */
enum { RENDER_MAX = 64 << 20 };
/* Sends b and frees it; when an append into b failed (b->failed) the
 * answer is 500 with a log line naming `what`, never a cut body. */
void api_reply_rendered(struct http_conn *c, int status, const char *ctype, struct buf *b, const char *what);
/* {"error":"msg"} with status (503 also says Retry-After: 1); msg is
 * escaped, so it may quote the request. */
void api_respond_error(struct http_conn *c, int status, const char *msg);
int api_authorize(struct relay *rl, struct http_conn *c, const struct http_request *req);
void api_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path, size_t plen,
		const char *body, size_t len);
/* 0 when the status page's files may be served to the caller (with
 * api.token: anyone reaching the listener, the page holds no data and
 * sends the token on each API request; without: local callers only);
 * otherwise the 403 is sent. */
int api_authorize_page(struct relay *rl, struct http_conn *c, const struct http_request *req);

/* api_status.c: the read-only views (events, runs, dead, received,
 * spool, stats/series); 0 when path is none of them. */
int api_status_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path,
		      size_t plen);
/* GET /api/v1/events/{id}: -1 for an id not in the status history. */
int api_status_event_json(const struct dispatch *d, const char *id, struct buf *out);
/* The value of the query parameter key in the request target (names and
 * ids need no decoding); NULL when absent. */
const char *api_status_query_param(const struct http_request *req, const char *key, size_t *len);

/* ui.c: the status page, /ui and its files under /ui/ */
int ui_path(const char *path, size_t plen);
void ui_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path, size_t plen);

/* api.c: one item of an ingest body as delivered (with "timestamp"
 * added when it has none); api_cluster.c: ingest in cluster mode, the
 * 202 sent once Redis holds every event of the request. */
struct json_doc;
int api_item_body(const struct json_doc *doc, int tok, struct buf *out);
void api_ingest_cluster(struct relay *rl, struct http_conn *c, const struct json_doc *doc, const int *items,
			int nitems, const char (*types)[128], int array);
/* GET /api/v1/events/{id} in cluster mode for an event not held here:
 * answered from the shared status (0); -1: not for it, answer locally. */
int api_event_cluster(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *rest,
		      size_t rlen);

/* metrics.c */
void metrics_render(struct relay *rl, struct http_conn *c);

#endif
