/* Trigger lookup over the config file's triggers and those registered at
 * run time through /api/v1/triggers. API triggers live in the relay (not
 * the config), so a SIGHUP reload keeps them; a restart does not, and
 * GET shows them with "source":"api". */
#include "edgehook/relay_routes.h"
#include "edgehook/arena.h"
#include "edgehook/buf.h"
#include "edgehook/cluster.h"
#include "edgehook/config.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/server.h"
#include "edgehook/strutil.h"
#include "edgehook/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_API_TRIGGERS = 1024, MAX_TRIGGER_BODY = 64 << 10 };

struct api_trigger {
	struct arena arena;
	struct trigger_cfg cfg;
	const char *json; /* the definition as PUT (cluster mode compares it) */
	size_t json_len;
	struct api_trigger *next;
};

static const struct trigger_cfg *config_trigger(const struct relay *rl, const char *id, size_t len)
{
	size_t i;
	for (i = 0; i < rl->cfg->ntriggers; i++)
		if (str_slice_eq(id, len, rl->cfg->triggers[i].id))
			return &rl->cfg->triggers[i];
	return NULL;
}

static struct api_trigger **api_slot(struct relay *rl, const char *id, size_t len)
{
	struct api_trigger **pp;
	for (pp = &rl->api_triggers; *pp; pp = &(*pp)->next)
		if (str_slice_eq(id, len, (*pp)->cfg.id))
			return pp;
	return pp;
}

const struct trigger_cfg *registry_by_id(const struct relay *rl, const char *id, size_t len)
{
	const struct trigger_cfg *t = config_trigger(rl, id, len);
	struct api_trigger **pp;
	if (t)
		return t;
	pp = api_slot((struct relay *)rl, id, len);
	return *pp ? &(*pp)->cfg : NULL;
}

const struct trigger_cfg *registry_by_path(const struct relay *rl, const char *path, size_t len)
{
	const struct api_trigger *a;
	size_t i;
	for (i = 0; i < rl->cfg->ntriggers; i++)
		if (rl->cfg->triggers[i].path && str_slice_eq(path, len, rl->cfg->triggers[i].path))
			return &rl->cfg->triggers[i];
	for (a = rl->api_triggers; a; a = a->next)
		if (a->cfg.path && str_slice_eq(path, len, a->cfg.path))
			return &a->cfg;
	return NULL;
}

static int is_config_trigger(const struct relay *rl, const struct trigger_cfg *t)
{
	return rl->cfg->ntriggers && t >= rl->cfg->triggers && t < rl->cfg->triggers + rl->cfg->ntriggers;
}

static int trigger_json(const struct relay *rl, struct buf *b, const struct trigger_cfg *t)
{
	char url[600];
	snprintf(url, sizeof(url), "/webhooks/%s", t->id);
	buf_puts(b, "{");
	json_put_kv(b, 0, "id", t->id);
	json_put_kv(b, 1, "kind", config_kind_name(t->kind));
	json_put_kv(b, 1, "url", url);
	buf_puts(b, ",\"path\":");
	json_put_cstr_or_null(b, t->path);
	json_put_kv(b, 1, "description", t->description ? t->description : "");
	buf_printf(b, ",\"enabled\":%s", t->enabled ? "true" : "false");
	json_put_kv(b, 1, "event_source", t->event_source ? t->event_source : "");
	buf_printf(b, ",\"emit\":%s,\"run\":%s,\"signed\":%s,\"metadata\":%s,\"source\":\"%s\"}",
			 t->emit ? "true" : "false", t->run ? "true" : "false", t->secret ? "true" : "false",
			 t->metadata_json, is_config_trigger(rl, t) ? "config" : "api");
	return b->failed ? -1 : 0;
}

void registry_info(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t)
{
	struct buf b;
	buf_init(&b, RENDER_MAX);
	trigger_json(rl, &b, t);
	api_reply_rendered(c, 200, "application/json", &b, "trigger");
}

static void list_triggers(struct relay *rl, struct http_conn *c)
{
	struct buf b;
	const struct api_trigger *a;
	size_t i;
	int first = 1;
	buf_init(&b, RENDER_MAX);
	buf_puts(&b, "{\"triggers\":[");
	for (i = 0; i < rl->cfg->ntriggers; i++, first = 0)
		buf_puts(&b, first ? "" : ","), trigger_json(rl, &b, &rl->cfg->triggers[i]);
	for (a = rl->api_triggers; a; a = a->next, first = 0)
		buf_puts(&b, first ? "" : ","), trigger_json(rl, &b, &a->cfg);
	buf_puts(&b, "]}");
	api_reply_rendered(c, 200, "application/json", &b, "trigger list");
}

static void api_trigger_free(struct api_trigger *a)
{
	arena_free(&a->arena);
	free(a);
}

/* The first line of the loader's errors, for a 400 body. */
static void first_error(struct buf *errors, char *out, size_t cap)
{
	size_t n = errors->len ? strcspn(errors->data, "\n") : 0;
	if (n == 0 || n > errors->len) {
		snprintf(out, cap, "invalid trigger");
		return;
	}
	snprintf(out, cap, "%.*s", (int)n, errors->data);
}

/* Commands are defined by whoever owns the config file: through the API
 * only when it says api.allow_run, and never to run as root. */
static const char *run_refusal(const struct relay *rl, const struct trigger_cfg *t)
{
	if (!t->run)
		return NULL;
	if (!rl->cfg->api.allow_run)
		return "run: commands are defined in the config file (api.allow_run: true lets API triggers have them)";
	if (t->run->allow_root)
		return "run.allow_root cannot be set through the API";
	return NULL;
}

/* Validates and installs (or replaces) API trigger id from its JSON
 * definition. Returns 201 created, 200 replaced, or the refusal's status
 * with err filled. */
static int install(struct relay *rl, const char *id, size_t id_len, const char *body, size_t len, char *err,
		   size_t cap)
{
	struct api_trigger *a, **slot;
	struct node *root = NULL, *idn;
	struct buf errors;
	const char *why;
	int status = 500, created;
	if (config_trigger(rl, id, id_len))
		return snprintf(err, cap, "trigger is defined in the config file"), 409;
	if (len > MAX_TRIGGER_BODY)
		return snprintf(err, cap, "a trigger definition is at most 64 KiB"), 413;
	a = calloc(1, sizeof(*a));
	if (!a)
		return snprintf(err, cap, "out of memory"), 500;
	arena_init(&a->arena);
	buf_init(&errors, 1 << 16);
	snprintf(err, cap, "out of memory");
	if (!(a->json = arena_strndup(&a->arena, body, len)))
		goto fail;
	a->json_len = len;
	status = 400;
	if (len == 0 || tree_from_json(&a->arena, body, len, &root, &errors) < 0) {
		/* the tree's "LINE: message" without the line, for a JSON body */
		const char *msg = len && buf_append(&errors, "", 1) == 0 ? strstr(errors.data, ": ") : NULL;
		snprintf(err, cap, "%s", len == 0 ? "empty body" : msg ? msg + 2 : "body is not valid JSON");
		goto fail;
	}
	if (root->kind != NODE_MAP) {
		snprintf(err, cap, "body must be a JSON object");
		goto fail;
	}
	idn = tree_get(root, "id");
	if (!idn) {
		idn = tree_new(&a->arena, NODE_SCALAR, 1);
		if (!idn || !(idn->str = arena_strndup(&a->arena, id, id_len))) {
			status = 500;
			snprintf(err, cap, "out of memory");
			goto fail;
		}
		idn->quoted = 1;
		idn->len = id_len;
		idn->key = "id";
		tree_append(root, idn);
	} else if (idn->kind != NODE_SCALAR || !str_slice_eq(id, id_len, idn->str)) {
		snprintf(err, cap, "\"id\" in the body differs from the URL");
		goto fail;
	}
	if (config_trigger_from_tree(&a->arena, "request", root, &a->cfg, &errors) < 0) {
		first_error(&errors, err, cap);
		goto fail;
	}
	if ((why = run_refusal(rl, &a->cfg)) != NULL) {
		snprintf(err, cap, "%s", why);
		goto fail;
	}
	status = 409;
	if (a->cfg.path) {
		const struct trigger_cfg *other = registry_by_path(rl, a->cfg.path, strlen(a->cfg.path));
		if (other && strcmp(other->id, a->cfg.id) != 0) {
			snprintf(err, cap, "path is used by another trigger");
			goto fail;
		}
	}
	slot = api_slot(rl, id, id_len);
	created = *slot == NULL;
	if (created && rl->n_api_triggers >= MAX_API_TRIGGERS) {
		snprintf(err, cap, "too many API triggers (1024)");
		goto fail;
	}
	if (!created) {
		struct api_trigger *old = *slot;
		a->next = old->next;
		api_trigger_free(old);
	} else {
		rl->n_api_triggers++;
	}
	*slot = a;
	buf_free(&errors);
	return created ? 201 : 200;
fail:
	buf_free(&errors);
	api_trigger_free(a);
	return status;
}

static void put_trigger(struct relay *rl, struct http_conn *c, const char *id, size_t id_len, const char *body,
			size_t len)
{
	char err[512];
	struct buf b;
	int status = install(rl, id, id_len, body, len, err, sizeof(err));
	if (status != 200 && status != 201) {
		api_respond_error(c, status, err);
		return;
	}
	/* cluster mode: every instance serves it (registry_sync) */
	if (rl->cluster)
		cluster_trigger_store(rl->cluster, (*api_slot(rl, id, id_len))->cfg.id, body, len);
	buf_init(&b, RENDER_MAX);
	trigger_json(rl, &b, &(*api_slot(rl, id, id_len))->cfg);
	api_reply_rendered(c, status, "application/json", &b, "trigger");
}

static void remove_api(struct relay *rl, struct api_trigger **slot)
{
	struct api_trigger *a = *slot;
	*slot = a->next;
	rl->n_api_triggers--;
	api_trigger_free(a);
}

static void delete_trigger(struct relay *rl, struct http_conn *c, const char *id, size_t id_len)
{
	struct api_trigger **slot = api_slot(rl, id, id_len);
	if (config_trigger(rl, id, id_len)) {
		api_respond_error(c, 409, "trigger is defined in the config file");
		return;
	}
	if (!*slot) {
		api_respond_error(c, 404, "unknown trigger");
		return;
	}
	if (rl->cluster)
		cluster_trigger_store(rl->cluster, (*slot)->cfg.id, NULL, 0);
	remove_api(rl, slot);
	http_respond(c, 200, "application/json", NULL, "{\"status\":\"deleted\"}", 20);
}

void registry_api(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *id,
		  size_t id_len, const char *body, size_t len)
{
	int get = http_method_is_exact(req, "GET") || http_method_is_exact(req, "HEAD");
	if (id_len == 0) {
		if (get)
			list_triggers(rl, c);
		else
			http_respond_405(c, "GET, HEAD");
		return;
	}
	if (get) {
		const struct trigger_cfg *t = registry_by_id(rl, id, id_len);
		if (t)
			registry_info(rl, c, t);
		else
			api_respond_error(c, 404, "unknown trigger");
	} else if (http_method_is_exact(req, "PUT")) {
		put_trigger(rl, c, id, id_len, body, len);
	} else if (http_method_is_exact(req, "DELETE")) {
		delete_trigger(rl, c, id, id_len);
	} else {
		http_respond_405(c, "GET, HEAD, PUT, DELETE");
	}
}

/* Why the running config no longer admits API trigger t, or NULL. */
static const char *shadowed(const struct relay *rl, const struct trigger_cfg *t)
{
	size_t i;
	if (config_trigger(rl, t->id, strlen(t->id)))
		return "the config file defines this id";
	for (i = 0; t->path && i < rl->cfg->ntriggers; i++)
		if (rl->cfg->triggers[i].path && strcmp(rl->cfg->triggers[i].path, t->path) == 0)
			return "the config file uses this path";
	return run_refusal(rl, t);
}

void registry_reconcile(struct relay *rl)
{
	struct api_trigger **pp = &rl->api_triggers;
	while (*pp) {
		struct api_trigger *a = *pp;
		const char *why = shadowed(rl, &a->cfg);
		if (!why) {
			pp = &a->next;
			continue;
		}
		log_msg(LOG_WARN, "API trigger dropped on reload", "trigger", a->cfg.id, "reason", why, NULL);
		remove_api(rl, pp);
	}
}

void registry_free(struct relay *rl)
{
	while (rl->api_triggers) {
		struct api_trigger *a = rl->api_triggers;
		rl->api_triggers = a->next;
		api_trigger_free(a);
	}
	rl->n_api_triggers = 0;
}

/* Cluster mode: the shared set of API triggers (ids[i] -> defs[i], as
 * PUT on some instance) replaces ours: new and changed ones installed,
 * ones no longer shared removed. A definition this instance refuses (its
 * config shadows it) is logged and skipped. */
void registry_sync(void *arg, size_t n, const struct cluster_kv *kv)
{
	struct relay *rl = arg;
	struct api_trigger **pp;
	size_t i;
	char err[512];
	for (i = 0; i < n; i++) {
		struct api_trigger *a = *api_slot(rl, kv[i].key, kv[i].klen);
		int status;
		if (a && a->json_len == kv[i].vlen && memcmp(a->json, kv[i].val, kv[i].vlen) == 0)
			continue;
		status = install(rl, kv[i].key, kv[i].klen, kv[i].val, kv[i].vlen, err, sizeof(err));
		if (status != 200 && status != 201) {
			char id[128];
			snprintf(id, sizeof(id), "%.*s", (int)(kv[i].klen > 100 ? 100 : kv[i].klen), kv[i].key);
			log_msg(LOG_WARN, "cluster: shared API trigger refused here", "trigger", id, "err", err, NULL);
		}
	}
	for (pp = &rl->api_triggers; *pp;) {
		for (i = 0; i < n; i++)
			if (str_slice_eq(kv[i].key, kv[i].klen, (*pp)->cfg.id))
				break;
		if (i < n)
			pp = &(*pp)->next;
		else
			remove_api(rl, pp);
	}
}
