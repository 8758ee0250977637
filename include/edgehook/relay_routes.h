/* relay_routes: what relay_handle (relay.c) routes a request to, one
 * file each: registry.c (triggers from the config, then API-registered
 * ones), trigger.c (inbound webhooks), api.c (/api/v1/...) and
 * metrics.c (/metrics). All share struct relay. */
#ifndef EDGEHOOK_RELAY_ROUTES_H
#define EDGEHOOK_RELAY_ROUTES_H

#include <stddef.h>

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

/* trigger.c */
/* The client address: the peer, or when the peer is in trusted_proxies
 * the rightmost X-Forwarded-For hop that is not (AF_UNSPEC when that hop
 * is no address or the peer is a Unix socket). */
void relay_client_addr(const struct relay *rl, struct http_conn *c, const struct http_request *req,
		       struct sockaddr_storage *out);
/* verify_as: the kind named in the route, or the trigger's own kind. */
void trigger_receive(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
		     size_t len, const struct trigger_cfg *t, int verify_as);

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

/* metrics.c */
void metrics_render(struct relay *rl, struct http_conn *c);

#endif
