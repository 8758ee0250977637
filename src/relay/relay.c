/* relay: the request router and the drain order (see relay.h). */
#include "edgehook/relay.h"
#include "edgehook/relay_routes.h"
#include "edgehook/clock.h"
#include "edgehook/compat.h"
#include "edgehook/config.h"
#include "edgehook/cluster.h"
#include "edgehook/dispatch.h"
#include "edgehook/log.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void client_addr(void *ctx, struct http_conn *c, const struct http_request *req, struct sockaddr_storage *out)
{
	relay_client_addr(ctx, c, req, out);
}

void relay_init(struct relay *rl, const struct relay_parts *p)
{
	memset(rl, 0, sizeof(*rl));
	rl->r = p->r;
	rl->cfg = p->cfg;
	rl->srv = p->srv;
	rl->disp = p->disp;
	rl->dedupe = p->dedupe;
	rl->runner = p->runner;
	rl->dns = p->dns;
	rl->client = p->client;
	rl->api_own_listeners = p->api_own_listeners;
	rl->hooks = p->hooks;
	if (rl->hooks)
		compat_embed_client(rl->hooks, client_addr, rl);
	rl->started_ms = clock_now_ms();
	stats_series_start(&rl->series, rl->r, rl->disp);
}

void relay_fini(struct relay *rl)
{
	registry_free(rl);
	received_free(&rl->received);
	stats_series_stop(&rl->series);
	free(rl->published);
	rl->published = NULL;
}

void relay_set_config(struct relay *rl, struct config *cfg)
{
	rl->cfg = cfg;
	registry_reconcile(rl);
}

static void on_deliveries_done(void *arg)
{
	struct relay *rl = arg;
	rl->on_drained(rl->drained_arg);
}

/* Runs finished (their lifecycle events are queued): deliveries next. */
static void on_runs_done(void *arg)
{
	struct relay *rl = arg;
	dispatch_drain(rl->disp, on_deliveries_done, rl);
}

/* Inbound side empty: wait for running commands, then deliveries. */
static void on_requests_done(void *arg)
{
	struct relay *rl = arg;
	runner_drain(rl->runner, on_runs_done, rl);
}

void relay_drain(struct relay *rl, void (*on_drained)(void *arg), void *arg)
{
	rl->on_drained = on_drained;
	rl->drained_arg = arg;
	if (rl->cluster)
		cluster_stop(rl->cluster);
	http_server_drain(rl->srv, on_requests_done, rl);
}

void relay_abandon(struct relay *rl)
{
	char conns[32], pending[32];
	snprintf(conns, sizeof(conns), "%zu", http_server_open_connections(rl->srv));
	snprintf(pending, sizeof(pending), "%zu", dispatch_pending(rl->disp));
	log_msg(LOG_WARN, "drain timeout", "connections", conns, "deliveries", pending, NULL);
	runner_kill_all(rl->runner);
	dispatch_abandon(rl->disp);
}

/* The path of the target without query, for origin- and absolute-form. */
static void target_path(const struct http_request *req, const char **path, size_t *len)
{
	const char *p = req->target, *end = req->target + req->target_len;
	if (*p != '/') {
		const char *scheme_end = memchr(p, ':', (size_t)(end - p));
		p = scheme_end ? scheme_end + 3 : end;
		while (p < end && *p != '/' && *p != '?')
			p++;
	}
	*path = p;
	*len = (size_t)(end - p);
	{
		const char *q = memchr(p, '?', *len);
		if (q)
			*len = (size_t)(q - p);
	}
	if (*len == 0) {
		*path = "/";
		*len = 1;
	}
}

static void trigger_route(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
			  size_t len, const struct trigger_cfg *t, int verify_as)
{
	if (http_method_is_exact(req, "POST"))
		trigger_receive(rl, c, req, body, len, t, verify_as);
	else if (verify_as < 0 && (http_method_is_exact(req, "GET") || http_method_is_exact(req, "HEAD")))
		registry_info(rl, c, t);
	else
		http_respond_405(c, verify_as < 0 ? "GET, HEAD, POST" : "POST");
}

/* /webhooks/{id} or /webhooks/{id}/{kind} */
static void webhooks_route(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
			   size_t len, const char *rest, size_t rest_len)
{
	static const char *const kinds[] = {"github", "gitlab", "slack", "standard"};
	static const enum trigger_kind kind_of[] = {TRIGGER_GITHUB, TRIGGER_GITLAB, TRIGGER_SLACK, TRIGGER_STANDARD};
	const char *slash = memchr(rest, '/', rest_len);
	size_t id_len = slash ? (size_t)(slash - rest) : rest_len;
	const struct trigger_cfg *t = registry_by_id(rl, rest, id_len);
	int verify_as = -1;
	if (slash) {
		size_t k, klen = rest_len - id_len - 1;
		for (k = 0; k < 4; k++)
			if (str_slice_eq(slash + 1, klen, kinds[k]))
				verify_as = (int)kind_of[k];
		/* only a generic trigger lets the route choose its scheme */
		if (verify_as < 0 || (t && t->kind != TRIGGER_GENERIC && t->kind != (enum trigger_kind)verify_as))
			t = NULL;
	}
	if (!t) {
		rl->tstats.not_found++;
		api_respond_error(c, 404, "unknown trigger");
		return;
	}
	trigger_route(rl, c, req, body, len, t, verify_as);
}

int relay_empty_body_ok(void *arg, const struct http_request *req)
{
	struct relay *rl = arg;
	const char *path;
	size_t plen;
	target_path(req, &path, &plen);
	return rl->hooks && compat_embed_serves(rl->hooks, path, plen);
}

void relay_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body, size_t len)
{
	struct relay *rl = arg;
	const struct trigger_cfg *t;
	const char *path;
	size_t plen;
	int on_api, api_path;
	target_path(req, &path, &plen);
	/* with api.listen the API lives only there, and only the API does */
	on_api = (http_conn_listener_flags(c) & HTTP_LISTENER_API) != 0;
	/* the status page goes where the API goes */
	api_path = (plen > 8 && memcmp(path, "/api/v1/", 8) == 0) || ui_path(path, plen);
	if (on_api != api_path && (on_api || rl->api_own_listeners)) {
		api_respond_error(c, 404, "not found");
		return;
	}
	if (plen > 10 && memcmp(path, "/webhooks/", 10) == 0) {
		webhooks_route(rl, c, req, body, len, path + 10, plen - 10);
	} else if (str_slice_eq(path, plen, "/healthz")) {
		if (http_method_is_exact(req, "GET") || http_method_is_exact(req, "HEAD"))
			http_respond(c, 200, "application/json", NULL, "{\"status\":\"ok\"}", 15);
		else
			http_respond_405(c, "GET, HEAD");
	} else if (str_slice_eq(path, plen, "/metrics")) {
		if (http_method_is_exact(req, "GET") || http_method_is_exact(req, "HEAD"))
			metrics_render(rl, c);
		else
			http_respond_405(c, "GET, HEAD");
	} else if (ui_path(path, plen)) {
		ui_handle(rl, c, req, path, plen);
	} else if (api_path) {
		api_handle(rl, c, req, path + 8, plen - 8, body, len);
	} else if (rl->hooks && compat_embed_serves(rl->hooks, path, plen)) {
		compat_handle(rl->hooks, c, req, body, len);
	} else if ((t = registry_by_path(rl, path, plen)) != NULL) {
		trigger_route(rl, c, req, body, len, t, -1);
	} else {
		api_respond_error(c, 404, "not found");
	}
}
