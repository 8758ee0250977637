#include "edgehook/relay.h"
#include "edgehook/cidr.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/dispatch.h"
#include "edgehook/log.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/spool.h"
#include "edgehook/strutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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
	size_t i;
	if (!rl)
		return;
	for (i = 0; i < rl->n_api_sockets; i++) {
		unlink(rl->api_sockets[i]);
		free(rl->api_sockets[i]);
	}
	free(rl->api_sockets);
	runner_free(rl->runner); /* before the dispatcher: runs emit events */
	registry_free(rl);
	dispatch_free(rl->disp);
	dedupe_free(rl->dedupe);
	spool_free(rl->spool);
	config_free(rl->cfg);
	free(rl);
}

int relay_open_spool(struct relay *rl, char *err, size_t errcap)
{
	if (!rl->cfg->spool.dir)
		return 0;
	if (spool_open(rl->r, &rl->cfg->spool, dispatch_spool_replay, rl->disp, &rl->spool, err, errcap) < 0) {
		dispatch_spool_discard(rl->disp);
		return -1;
	}
	dispatch_spool_resume(rl->disp, rl->spool);
	return 0;
}

static int same_spool(const struct spool_cfg *a, const struct spool_cfg *b)
{
	if (!a->dir != !b->dir || (a->dir && strcmp(a->dir, b->dir) != 0))
		return 0;
	return a->fsync == b->fsync && a->interval_ms == b->interval_ms && a->max_bytes == b->max_bytes &&
	       a->segment_bytes == b->segment_bytes && a->retention_ms == b->retention_ms;
}

static int same_api_listeners(const struct config *a, const struct config *b)
{
	size_t i;
	if (a->api.nlisten != b->api.nlisten)
		return 0;
	for (i = 0; i < a->api.nlisten; i++)
		if (strcmp(a->api.listen[i].text, b->api.listen[i].text) != 0)
			return 0;
	return 1;
}

/* Builds the whole new state first; the swap below cannot fail. */
int relay_reload(struct relay *rl, struct config *cfg)
{
	struct dispatch_stage *st = dispatch_prepare(cfg);
	struct dedupe *dd = NULL;
	if (!st)
		return -1;
	if (cfg->server.dedupe != rl->cfg->server.dedupe && !(dd = dedupe_resized(rl->dedupe, cfg->server.dedupe))) {
		dispatch_stage_free(st);
		return -1;
	}
	if (dd) {
		dedupe_free(rl->dedupe);
		rl->dedupe = dd;
	}
	if (!same_api_listeners(rl->cfg, cfg))
		log_msg(LOG_WARN, "reload: api.listen changes take effect after a restart", NULL);
	if (!same_spool(&rl->cfg->spool, &cfg->spool))
		log_msg(LOG_WARN, "reload: spool changes take effect after a restart", NULL);
	dispatch_commit(rl->disp, st);
	config_free(rl->cfg);
	rl->cfg = cfg;
	registry_reconcile(rl);
	return 0;
}

/* A Unix socket file left by a process that is gone would make bind
 * fail: removed when nothing answers on it. */
static void remove_stale_socket(const struct sockaddr_un *un)
{
	struct stat st;
	int fd;
	if (lstat(un->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)un, sizeof(*un)) < 0 && errno == ECONNREFUSED)
		unlink(un->sun_path);
	close(fd);
}

static int remember_socket(struct relay *rl, const char *path)
{
	char **grown = realloc(rl->api_sockets, (rl->n_api_sockets + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	rl->api_sockets = grown;
	if (!(grown[rl->n_api_sockets] = strdup(path)))
		return -1;
	rl->n_api_sockets++;
	return 0;
}

static void bound_text(const struct http_server *srv, size_t i, const struct listen_cfg *l, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	char host[64];
	if (l->addr.ss_family == AF_UNIX || http_server_local_addr(srv, i, &ss) < 0) {
		snprintf(out, cap, "%s", l->text);
		return;
	}
	cidr_addr_text((const struct sockaddr *)&ss, host, sizeof(host));
	snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port));
}

int relay_listen_api(struct relay *rl, struct http_server *srv)
{
	size_t i;
	for (i = 0; i < rl->cfg->api.nlisten; i++) {
		const struct listen_cfg *l = &rl->cfg->api.listen[i];
		/* a passed Unix socket is the service manager's to remove */
		int own_path = l->addr.ss_family == AF_UNIX && !http_server_activated();
		if (own_path)
			remove_stale_socket((const struct sockaddr_un *)&l->addr);
		if (http_server_listen_named(srv, (const struct sockaddr *)&l->addr, l->addrlen, l->name, NULL,
					     HTTP_LISTENER_API) < 0) {
			fprintf(stderr, "edgehook: cannot listen on %s (api.listen): %s\n", l->text, strerror(errno));
			return -1;
		}
		if (own_path && remember_socket(rl, ((const struct sockaddr_un *)&l->addr)->sun_path) < 0) {
			fprintf(stderr, "edgehook: out of memory\n");
			return -1;
		}
		rl->api_own_listeners = 1;
	}
	return 0;
}

void relay_log_api_listeners(const struct relay *rl, const struct http_server *srv, size_t base)
{
	size_t i;
	for (i = 0; i < rl->cfg->api.nlisten; i++) {
		char text[160];
		bound_text(srv, base + i, &rl->cfg->api.listen[i], text, sizeof(text));
		log_msg(LOG_INFO, "listening for the API", "addr", text, NULL);
	}
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
	api_path = plen > 8 && memcmp(path, "/api/v1/", 8) == 0;
	if (on_api != api_path && (on_api || rl->api_own_listeners)) {
		api_respond_error(c, 404, "not found");
		return;
	}
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
	} else if (api_path) {
		api_handle(rl, c, req, path + 8, plen - 8, body, len);
	} else if ((t = trigger_by_path(rl, path, plen)) != NULL) {
		trigger_route(rl, c, req, body, len, t, -1);
	} else {
		api_respond_error(c, 404, "not found");
	}
}
