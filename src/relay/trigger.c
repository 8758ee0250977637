#include "edgehook/relay.h"
#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/dispatch.h"
#include "edgehook/event.h"
#include "edgehook/form.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

enum { MAX_TYPE = 128, MAX_DELIVERY_ID = 128 };

const struct trigger_cfg *trigger_by_id(const struct relay *rl, const char *id, size_t len)
{
	size_t i;
	for (i = 0; i < rl->cfg->ntriggers; i++) {
		const struct trigger_cfg *t = &rl->cfg->triggers[i];
		if (strlen(t->id) == len && memcmp(t->id, id, len) == 0)
			return t;
	}
	return NULL;
}

const struct trigger_cfg *trigger_by_path(const struct relay *rl, const char *path, size_t len)
{
	size_t i;
	for (i = 0; i < rl->cfg->ntriggers; i++) {
		const struct trigger_cfg *t = &rl->cfg->triggers[i];
		if (t->path && strlen(t->path) == len && memcmp(t->path, path, len) == 0)
			return t;
	}
	return NULL;
}

/* Copies a header value into out when present and short enough. */
static int header_copy(const struct http_request *req, const char *name, char *out, size_t cap)
{
	const struct http_header *h = http_find_header(req->headers, req->num_headers, name);
	if (!h || h->value_len == 0 || h->value_len >= cap)
		return 0;
	memcpy(out, h->value, h->value_len);
	out[h->value_len] = '\0';
	return 1;
}

/* Replaces *out with ip when ip is a valid address literal. */
static void parse_ip(const char *ip, struct sockaddr_storage *out)
{
	struct sockaddr_storage tmp;
	memset(&tmp, 0, sizeof(tmp));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&tmp)->sin_addr) == 1)
		tmp.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&tmp)->sin6_addr) == 1)
		tmp.ss_family = AF_INET6;
	else
		return;
	*out = tmp;
}

/* The client address: the peer, or the last X-Forwarded-For hop when the
 * peer is a trusted proxy. */
static void source_addr(const struct relay *rl, struct http_conn *c, const struct http_request *req,
			struct sockaddr_storage *out)
{
	const struct sockaddr *peer = http_conn_peer(c);
	const struct http_header *xff;
	memcpy(out, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	if (!rl->cfg->server.ntrusted || !cidr_match_any(rl->cfg->server.trusted_proxies, rl->cfg->server.ntrusted, peer))
		return;
	xff = http_find_header(req->headers, req->num_headers, "x-forwarded-for");
	if (xff && xff->value_len) {
		const char *v = xff->value + xff->value_len, *start;
		char ip[64];
		size_t n;
		while (v > xff->value && v[-1] == ' ')
			v--;
		start = v;
		while (start > xff->value && start[-1] != ',' && start[-1] != ' ')
			start--;
		n = (size_t)(v - start);
		if (n == 0 || n >= sizeof(ip))
			return;
		memcpy(ip, start, n);
		ip[n] = '\0';
		parse_ip(ip, out);
	}
}

enum body_type { BODY_JSON, BODY_FORM, BODY_OTHER };

static enum body_type body_type(const struct http_request *req)
{
	const struct http_header *ct = http_find_header(req->headers, req->num_headers, "content-type");
	size_t n;
	if (!ct || ct->value_len == 0)
		return BODY_JSON;
	n = strcspn(ct->value, ";");
	if (n > ct->value_len)
		n = ct->value_len;
	while (n > 0 && ct->value[n - 1] == ' ')
		n--;
	if (http_token_eq(ct->value, n, "application/json") || http_token_eq(ct->value, n, "text/json") ||
	    (n > 5 && http_token_eq(ct->value + n - 5, 5, "+json")))
		return BODY_JSON;
	if (http_token_eq(ct->value, n, "application/x-www-form-urlencoded"))
		return BODY_FORM;
	return BODY_OTHER;
}

/* The event's data member: the JSON body as is, or the form as an object. */
static int body_data(struct buf *data, const struct http_request *req, const char *body, size_t len,
		     const char **why, int *status)
{
	switch (body_type(req)) {
	case BODY_JSON:
		if (len == 0)
			return 0;
		if (json_validate(body, len, 64, NULL) < 0) {
			*why = "body is not valid JSON";
			*status = 400;
			return -1;
		}
		return buf_append(data, body, len);
	case BODY_FORM:
		if (form_to_json(data, body, len) < 0) {
			*why = "malformed form body";
			*status = 400;
			return -1;
		}
		return 0;
	default:
		*why = "unsupported content type (use JSON or form)";
		*status = 415;
		return -1;
	}
}

static void event_type(const struct trigger_cfg *t, const struct http_request *req, char *out, size_t cap)
{
	static const char *const headers[] = {"x-github-event", "x-gitlab-event", "x-webhook-event", NULL};
	const char *const *h;
	if (t->event) {
		snprintf(out, cap, "%s", t->event);
		return;
	}
	for (h = headers; *h; h++)
		if (header_copy(req, *h, out, cap))
			return;
	snprintf(out, cap, "webhook.received");
}

static int delivery_header(const struct http_request *req, char *out, size_t cap)
{
	static const char *const headers[] = {"x-github-delivery", "x-gitlab-event-uuid", "webhook-id",
		"idempotency-key", NULL};
	const char *const *h;
	for (h = headers; *h; h++)
		if (header_copy(req, *h, out, cap))
			return 1;
	return 0;
}

void trigger_receive(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
		     size_t len, const struct trigger_cfg *t, int verify_as)
{
	struct sockaddr_storage src;
	char ip[64], type[MAX_TYPE], delivery[MAX_DELIVERY_ID], dlv_id[EVENT_ID_LEN], evt_id[EVENT_ID_LEN];
	struct buf data, env, reply;
	const char *why = NULL;
	int status = 0, has_delivery;
	(void)verify_as;

	if (!t->enabled) {
		rl->tstats.rejected_source++;
		http_respond_error(c, 403, "trigger disabled");
		return;
	}
	source_addr(rl, c, req, &src);
	cidr_addr_text((const struct sockaddr *)&src, ip, sizeof(ip));
	if (t->nallowed && !cidr_match_any(t->allowed_ips, t->nallowed, (const struct sockaddr *)&src)) {
		rl->tstats.rejected_source++;
		log_msg(LOG_WARN, "source not allowed", "trigger", t->id, "source_ip", ip, NULL);
		http_respond_error(c, 403, "source not allowed");
		return;
	}
	has_delivery = delivery_header(req, delivery, sizeof(delivery));
	if (has_delivery && dedupe_check(rl->dedupe, t->id, delivery, strlen(delivery))) {
		rl->tstats.duplicates++;
		http_respond(c, 200, "application/json", NULL, "{\"status\":\"duplicate\"}", 22);
		return;
	}
	buf_init(&data, len + 64 + len / 2);
	if (body_data(&data, req, body, len, &why, &status) < 0) {
		buf_free(&data);
		rl->tstats.rejected_body++;
		http_respond_error(c, status, why);
		return;
	}
	rand_id(dlv_id, sizeof(dlv_id), "dlv_");
	event_type(t, req, type, sizeof(type));
	if (t->emit) {
		struct trigger_envelope e = {type, t->id, has_delivery ? delivery : dlv_id, ip, data.len ? data.data : NULL,
			data.len};
		buf_init(&env, data.len + 1024);
		if (event_trigger_envelope(&env, &e) < 0 ||
		    dispatch_event(rl->disp, type, env.data, env.len, evt_id, sizeof(evt_id)) < 0) {
			buf_free(&env);
			buf_free(&data);
			rl->tstats.queue_full++;
			log_msg(LOG_WARN, "event refused: delivery queue full", "trigger", t->id, NULL);
			http_respond_error(c, 503, "delivery queue full");
			return;
		}
		buf_free(&env);
	}
	buf_free(&data);
	rl->tstats.accepted++;
	buf_init(&reply, 256);
	buf_puts(&reply, "{\"status\":\"accepted\",");
	json_put_kv(&reply, 0, "id", dlv_id);
	buf_puts(&reply, "}");
	http_respond(c, 202, "application/json", NULL, reply.data, reply.len);
	buf_free(&reply);
}

void trigger_info(struct relay *rl, struct http_conn *c, const struct trigger_cfg *t)
{
	struct buf b;
	char url[600];
	(void)rl;
	buf_init(&b, 128 << 10);
	snprintf(url, sizeof(url), "/webhooks/%s", t->id);
	buf_puts(&b, "{");
	json_put_kv(&b, 0, "id", t->id);
	json_put_kv(&b, 1, "kind", config_kind_name(t->kind));
	json_put_kv(&b, 1, "url", url);
	if (t->path)
		json_put_kv(&b, 1, "path", t->path);
	json_put_kv(&b, 1, "description", t->description ? t->description : "");
	buf_printf(&b, ",\"enabled\":%s", t->enabled ? "true" : "false");
	json_put_kv(&b, 1, "event_source", t->event_source ? t->event_source : "");
	buf_printf(&b, ",\"emit\":%s,\"run\":%s,\"metadata\":%s,\"source\":\"config\"}", t->emit ? "true" : "false",
		   t->run ? "true" : "false", t->metadata_json);
	http_respond(c, 200, "application/json", NULL, b.data, b.len);
	buf_free(&b);
}
