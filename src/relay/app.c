#include "edgehook/relay.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/dispatch.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/strutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relay *relay_new(struct reactor *r, struct config *cfg)
{
	struct relay *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->r = r;
	rl->cfg = cfg;
	rl->started_ms = clock_now_ms();
	rl->disp = dispatch_new(r, cfg);
	rl->dedupe = dedupe_new(cfg->server.dedupe);
	rl->runner = rl->disp ? runner_new(r, rl->disp, cfg->webhook.history) : NULL;
	if (!rl->disp || !rl->dedupe || !rl->runner) {
		relay_free(rl);
		return NULL;
	}
	return rl;
}

void relay_free(struct relay *rl)
{
	if (!rl)
		return;
	runner_free(rl->runner); /* before the dispatcher: runs emit events */
	registry_free(rl);
	dispatch_free(rl->disp);
	dedupe_free(rl->dedupe);
	config_free(rl->cfg);
	free(rl);
}

int relay_reload(struct relay *rl, struct config *cfg)
{
	if (dispatch_reload(rl->disp, cfg) < 0)
		return -1;
	config_free(rl->cfg);
	rl->cfg = cfg;
	return 0;
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
	if (http_method_is(req, "POST"))
		trigger_receive(rl, c, req, body, len, t, verify_as);
	else if (verify_as < 0 && (http_method_is(req, "GET") || http_method_is(req, "HEAD")))
		trigger_info(rl, c, t);
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
	const struct trigger_cfg *t = trigger_by_id(rl, rest, id_len);
	int verify_as = -1;
	if (slash) {
		size_t k, klen = rest_len - id_len - 1;
		for (k = 0; k < 4; k++)
			if (str_slice_eq(slash + 1, klen, kinds[k]))
				verify_as = (int)kind_of[k];
		if (verify_as < 0)
			t = NULL;
	}
	if (!t) {
		rl->tstats.not_found++;
		http_respond_error(c, 404, "unknown trigger");
		return;
	}
	trigger_route(rl, c, req, body, len, t, verify_as);
}

void relay_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body, size_t len)
{
	struct relay *rl = arg;
	const struct trigger_cfg *t;
	const char *path;
	size_t plen;
	target_path(req, &path, &plen);
	if (plen > 10 && memcmp(path, "/webhooks/", 10) == 0) {
		webhooks_route(rl, c, req, body, len, path + 10, plen - 10);
	} else if (str_slice_eq(path, plen, "/healthz")) {
		if (http_method_is(req, "GET") || http_method_is(req, "HEAD"))
			http_respond(c, 200, "application/json", NULL, "{\"status\":\"ok\"}", 15);
		else
			http_respond_405(c, "GET, HEAD");
	} else if (str_slice_eq(path, plen, "/metrics")) {
		if (http_method_is(req, "GET") || http_method_is(req, "HEAD"))
			metrics_render(rl, c);
		else
			http_respond_405(c, "GET, HEAD");
	} else if (plen > 8 && memcmp(path, "/api/v1/", 8) == 0) {
		api_handle(rl, c, req, path + 8, plen - 8, body, len);
	} else if ((t = trigger_by_path(rl, path, plen)) != NULL) {
		trigger_route(rl, c, req, body, len, t, -1);
	} else {
		http_respond_error(c, 404, "not found");
	}
}
