/* compat_hook: webhook's routes and answers (COMPAT-WEBHOOK.md § HTTP
 * answers): paths, methods, payload by content type, rules, then the
 * command (compat_run.c). */
#include "edgehook/compat_internal.h"

#include "edgehook/form.h"
#include "edgehook/payload_multipart.h"
#include "edgehook/payload_xml.h"
#include "edgehook/hook_params.h"
#include "edgehook/json.h"
#include "edgehook/rand.h"
#include "edgehook/server.h"
#include "edgehook/strutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char text_plain[] = "text/plain; charset=utf-8";

int compat_valid_code(int code)
{
	return code >= 100 && code <= 999;
}

/* ---- paths ---- */

/* Go's path.Clean, keeping a trailing slash as gorilla/mux does. */
static size_t clean_path(const char *p, size_t n, char *out)
{
	size_t w = 0, i = 0;
	out[w++] = '/';
	while (i < n) {
		size_t s = i, len;
		while (i < n && p[i] != '/')
			i++;
		len = i - s;
		if (i < n)
			i++;
		if (len == 0 || (len == 1 && p[s] == '.'))
			continue;
		if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
			while (w > 1 && out[w - 1] != '/')
				w--;
			if (w > 1)
				w--;
			continue;
		}
		if (w > 1)
			out[w++] = '/';
		memcpy(out + w, p + s, len);
		w += len;
	}
	if (n > 1 && p[n - 1] == '/' && w > 1)
		out[w++] = '/';
	return w;
}

static size_t pct_decode(const char *in, size_t n, char *out)
{
	size_t i, w = 0;
	for (i = 0; i < n; i++) {
		int hi, lo;
		if (in[i] == '%' && i + 2 < n && (hi = str_hex_digit(in[i + 1])) >= 0 &&
		    (lo = str_hex_digit(in[i + 2])) >= 0) {
			out[w++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[w++] = in[i];
		}
	}
	return w;
}

/* ---- answers ---- */

void compat_answer(struct http_conn *c, int status, const char *extra, const char *body)
{
	size_t n = strlen(body);
	/* a Content-Type among the hook's headers replaces ours */
	int own = extra && (strncasecmp(extra, "content-type:", 13) == 0 || strcasestr(extra, "\ncontent-type:"));
	http_respond(c, status, n && !own ? text_plain : NULL, extra && *extra ? extra : NULL, body, n);
}

/* The buffer as a C string (NULL when empty or short of memory). */
static const char *cstr(struct buf *b)
{
	if (b->len == 0 || buf_append(b, "", 1) < 0)
		return NULL;
	b->len--;
	return b->data;
}

static int add_header(struct buf *b, const char *name, const char *value)
{
	char canon[256];
	snprintf(canon, sizeof(canon), "%s", name);
	hook_canonical_header(canon);
	return buf_printf(b, "%s: %s\r\n", canon, value);
}

/* ---- requests ---- */

static void request_id(struct compat *app, const struct http_request *req, char *out, size_t cap)
{
	const struct http_header *h = app->o.xrid ? http_find_header(req->headers, req->num_headers, "x-request-id") : NULL;
	if (h && h->value_len) {
		size_t n = h->value_len;
		if (app->o.xrid_limit > 0 && n > (size_t)app->o.xrid_limit)
			n = (size_t)app->o.xrid_limit;
		snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), h->value);
		return;
	}
	{
		static const char hex[] = "0123456789abcdef";
		uint32_t v = rand_u32();
		size_t i;
		for (i = 0; i < 6 && i + 1 < cap; i++)
			out[i] = hex[(v >> (20 - 4 * i)) & 15];
		out[i] = 0;
	}
}

static int method_in(const char *const *list, size_t n, const struct http_request *req)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (strlen(list[i]) == req->method_len && memcmp(list[i], req->method, req->method_len) == 0)
			return 1;
	return 0;
}

/* parse-parameters-as-json names a multipart file part to read as JSON */
static int json_param(void *ctx, const char *name, size_t nlen)
{
	const struct hook *h = ctx;
	size_t i;
	for (i = 0; i < h->json_params.n; i++) {
		const struct hook_arg *a = &h->json_params.v[i];
		if (a->source == SRC_PAYLOAD && strlen(a->name) == nlen && memcmp(a->name, name, nlen) == 0)
			return 1;
	}
	return 0;
}

/* The payload by content type; NULL with a log line when there is none.
 * *refused: webhook answers 500 for a multipart body it cannot read. */
static struct json_doc *parse_payload(struct compat *app, const struct hook *h, const char *reqid, const char *ctype,
				      const char *body, size_t len, struct json_doc *doc, struct buf *form, int *refused)
{
	/* Only a multipart body webhook cannot read changes the answer; any
	 * other payload no parameter reads would only be parsed for a log
	 * line nobody writes. */
	int unread = !(h->sources & (1u << SRC_PAYLOAD | 1u << SRC_ENTIRE_PAYLOAD)) && !app->log && !app->embedded;
	if (strstr(ctype, "json")) {
		/* Go's json.Decoder: the first value, the last of repeated names */
		size_t i = 0;
		if (unread)
			return NULL;
		while (i < len && memchr(" \t\r\n\v\f", body[i], 6))
			i++;
		if (json_parse_first(doc, body, len, 512) == 0) {
			if (doc->toks[0].type == JSON_OBJECT || doc->toks[0].type == JSON_ARRAY)
				return doc;
			json_doc_free(doc);
		}
		compat_log(app, reqid, "error parsing JSON%s payload", i < len && body[i] == '[' ? " array" : "");
		return NULL;
	}
	if (strstr(ctype, "x-www-form-urlencoded")) {
		int dropped;
		if (unread)
			return NULL;
		if (hook_query_map(form, body, len, &dropped) == 0 && !dropped && json_parse(doc, form->data, form->len, 4) == 0)
			return doc;
		compat_log(app, reqid, "error parsing form payload");
		return NULL;
	}
	/* webhook's order: a multipart boundary containing "xml" reads as XML */
	if (strstr(ctype, "xml")) {
		char why[256];
		int rc;
		if (unread)
			return NULL;
		rc = xml_to_json(form, body, len, why, sizeof(why));
		if (rc == 0 && json_parse(doc, form->data, form->len, XML_JSON_DEPTH) == 0)
			return doc;
		/* mxj wraps the decoder's errors, not the EOF of a body without an element */
		compat_log(app, reqid, "error parsing XML payload: %s%s",
			   rc == -1 && strcmp(why, "EOF") != 0 ? "xml.Decoder.Token() - " : "", rc ? why : "JSON too deep");
		return NULL;
	}
	if (strncmp(ctype, "multipart/form-data", 19) == 0) {
		int rc = multipart_to_json(form, ctype, body, len, app->o.multipart_mem, json_param, (void *)h);
		if (rc == 0 && json_parse(doc, form->data, form->len, 514) == 0)
			return doc;
		if (rc == -3) {
			compat_log(app, reqid, "error parsing body payload due to unsupported content type header: %s", ctype);
			return NULL;
		}
		compat_log(app, reqid, "error parsing multipart form: %s",
			   rc == -2 ? "multipart: message too large" : "malformed multipart body");
		*refused = 1;
		return NULL;
	}
	compat_log(app, reqid, "error parsing body payload due to unsupported content type header: %s", ctype);
	return NULL;
}

static void peer_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "";
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(a->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(a->sin_port));
	} else {
		snprintf(out, cap, "@");
	}
}

/* The address ip-whitelist checks: the socket peer, or inside the relay
 * the client behind its trusted_proxies. */
static void client_addr(struct compat *app, struct http_conn *c, const struct http_request *req,
			struct sockaddr_storage *out)
{
	const struct sockaddr *peer = http_conn_peer(c);
	if (app->client) {
		app->client(app->client_ctx, c, req, out);
		return;
	}
	memset(out, 0, sizeof(*out));
	if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)
		memcpy(out, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
}

struct exchange {
	struct compat *app;
	struct http_conn *c;
	const struct http_request *req;
	const struct hook *h;
	const char *body;
	size_t len;
	char reqid[64];
	struct buf extra; /* -header, then response-headers */
};

static void trigger(struct exchange *x, struct hook_request *rq)
{
	struct compat *app = x->app;
	const struct hook *h = x->h;
	struct compat_run *run, **tail;
	size_t i;
	compat_log(app, x->reqid, "%s hook triggered successfully", h->id);
	for (i = 0; i < h->nheaders; i++)
		add_header(&x->extra, h->headers[i].name, h->headers[i].value);
	if (app->nruns >= COMPAT_MAX_RUNS || !(run = calloc(1, sizeof(*run)))) {
		/* bounded: say so rather than drop the command */
		compat_log(app, x->reqid, "edgehook: %d commands running: refusing %s", COMPAT_MAX_RUNS, h->id);
		compat_answer(x->c, 503, cstr(&x->extra), "Too many commands running.");
		return;
	}
	run->app = app;
	run->fd = -1;
	run->in_fd = -1;
	compat_run_init_timer(run);
	run->success_code = h->success_code;
	run->on_error = h->output_on_error;
	buf_init(&run->out, COMPAT_MAX_OUTPUT + 1);
	snprintf(run->reqid, sizeof(run->reqid), "%s", x->reqid);
	snprintf(run->id, sizeof(run->id), "%s", h->id);
	if (compat_run_prepare(app, run, h, rq) < 0) {
		if (h->sync)
			compat_answer(x->c, 500, cstr(&x->extra),
			       h->output_on_error ? ""
						  : "Error occurred while executing the hook's command. Please check your logs for more details.");
		else
			compat_answer(x->c, compat_valid_code(h->success_code) ? h->success_code : 200, cstr(&x->extra),
			       h->response ? h->response : "");
		compat_log(app, x->reqid, "finished handling %s", h->id);
		compat_run_free(run);
		return;
	}
	if (h->max_concurrency && compat_count_runs(app, h->id, 0) >= (size_t)h->max_concurrency) {
		if (compat_count_runs(app, h->id, 1) >= COMPAT_MAX_QUEUE) {
			compat_log(app, x->reqid, "edgehook: %s has %d commands running and %d waiting: refused", h->id,
				   h->max_concurrency, COMPAT_MAX_QUEUE);
			compat_answer(x->c, 503, cstr(&x->extra), "Too many commands waiting for this hook.");
			compat_run_free(run);
			return;
		}
		run->queued = 1;
	}
	/* FIFO: a queued run starts after those queued before it */
	for (tail = &app->runs; *tail; tail = &(*tail)->next)
		;
	*tail = run;
	app->nruns++;
	if (h->sync) {
		run->extra = x->extra.len ? strndup(x->extra.data, x->extra.len) : NULL;
		run->conn = x->c;
		http_defer(x->c, compat_run_abort, run);
	} else {
		compat_answer(x->c, compat_valid_code(h->success_code) ? h->success_code : 200, cstr(&x->extra),
		       h->response ? h->response : "");
	}
	if (!run->queued)
		compat_run_start(app, run);
}

static void hook_request(struct exchange *x)
{
	struct compat *app = x->app;
	const struct hook *h = x->h;
	const struct http_request *req = x->req;
	const struct http_header *cth = http_find_header(req->headers, req->num_headers, "content-type");
	char ctype[256], remote[80];
	const char *q = memchr(req->target, '?', req->target_len);
	struct json_doc doc;
	struct buf form, out, pjson;
	struct hook_request rq;
	struct hook_json_maps maps;
	struct rule_req rr;
	struct sockaddr_storage client;
	int ok, refused = 0;
	size_t i;
	compat_log(app, x->reqid, "%s got matched", h->id);
	for (i = 0; i < app->o.nheaders; i++) {
		const char *eq = strchr(app->o.headers[i], '=');
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? (size_t)(eq - app->o.headers[i]) : strlen(app->o.headers[i])),
			 app->o.headers[i]);
		add_header(&x->extra, name, eq ? eq + 1 : "");
	}
	if (h->content_type && *h->content_type)
		snprintf(ctype, sizeof(ctype), "%s", h->content_type);
	else {
		size_t n = cth ? (cth->value_len < sizeof(ctype) - 1 ? cth->value_len : sizeof(ctype) - 1) : 0;
		if (n)
			memcpy(ctype, cth->value, n);
		ctype[n] = 0;
	}
	/* read only once a parse filled it (rq.payload): its inline tokens
	 * need no clearing */
	doc.toks = NULL;
	doc.ntoks = 0;
	/* two inline token arrays: cleared only for a hook that reads them */
	if (h->json_params.n)
		memset(&maps, 0, sizeof(maps));
	buf_init(&form, 2 * form_json_bound(x->len) + 16);
	buf_init(&pjson, 0);
	buf_init(&out, 64u << 20);
	memset(&rq, 0, sizeof(rq));
	rq.headers = req->headers;
	rq.nheaders = req->num_headers;
	rq.query = q ? q + 1 : NULL;
	rq.query_len = q ? req->target_len - (size_t)(q + 1 - req->target) : 0;
	if (h->sources & 1u << SRC_REQUEST) {
		peer_text(http_conn_peer(x->c), remote, sizeof(remote));
		rq.remote_addr = remote;
		rq.method = strndup(req->method, req->method_len);
	}
	rq.body = x->body;
	rq.body_len = x->len;
	rq.payload = parse_payload(app, h, x->reqid, ctype, x->body, x->len, &doc, &form, &refused);
	if (refused) {
		compat_answer(x->c, 500, cstr(&x->extra), "Error occurred while parsing multipart form.");
		goto done;
	}
	if (rq.payload && h->json_params.n) {
		char why[160];
		int rc = hook_params_parse_json(&doc, &pjson, &h->json_params, why, sizeof(why));
		if (rc == -2)
			rq.payload = NULL;
		if (rc < 0)
			compat_log(app, x->reqid, "%s", rc == -2 ? "error re-reading the payload" : why);
	}
	if (h->json_params.n) {
		char why[160];
		int rc = hook_params_json_maps(&rq, &maps, &h->json_params, why, sizeof(why));
		if (rc < 0)
			compat_log(app, x->reqid, "%s", rc == -2 ? "error reading the headers and query as JSON maps" : why);
	}
	rq.out = &out;
	memset(&rr, 0, sizeof(rr));
	rr.body = x->body;
	rr.body_len = x->len;
	client_addr(app, x->c, req, &client);
	rr.client = (const struct sockaddr *)&client;
	rr.now = time(NULL);
	rr.soft_signature_failures = h->soft_failures;
	rr.param = hook_param_get;
	rr.ctx = &rq;
	rr.quiet = !app->log && !app->embedded;
	ok = rules_eval(h->rule, &rr);
	if (ok < 0) {
		compat_log(app, x->reqid, "error evaluating hook: %s", rr.why);
		compat_answer(x->c, 500, cstr(&x->extra), "Error occurred while evaluating hook rules.");
	} else {
		if (rr.why[0])
			compat_log(app, x->reqid, "%s", rr.why);
		if (ok) {
			trigger(x, &rq);
		} else {
			compat_log(app, x->reqid,
				   "%s got matched, but didn't get triggered because the trigger rules were not satisfied", h->id);
			compat_answer(x->c, compat_valid_code(h->mismatch_code) ? h->mismatch_code : 200, cstr(&x->extra),
			       "Hook rules were not satisfied.");
		}
	}
done:
	if (h->json_params.n)
		hook_json_maps_free(&rq, &maps);
	free((char *)rq.method);
	if (rq.payload)
		json_doc_free(&doc);
	buf_free(&pjson);
	buf_free(&form);
	buf_free(&out);
}

void compat_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body, size_t len)
{
	struct exchange x;
	const char *q = memchr(req->target, '?', req->target_len);
	size_t plen = q ? (size_t)(q - req->target) : req->target_len, n, pre;
	char small[1024], *clean, *id;
	memset(&x, 0, sizeof(x));
	x.app = arg;
	x.c = c;
	x.req = req;
	x.body = body;
	x.len = len;
	if (plen == 0 || req->target[0] != '/') {
		compat_answer(c, 404, "X-Content-Type-Options: nosniff\r\n", "404 page not found\n");
		return;
	}
	/* the usual short path needs no allocation */
	clean = 3 * plen + 3 <= sizeof(small) ? small : malloc(3 * plen + 3);
	if (!clean) {
		compat_answer(c, 503, NULL, "Out of memory.");
		return;
	}
	id = clean + 2 * plen + 2;
	n = clean_path(req->target, plen, clean);
	if (n != plen || memcmp(clean, req->target, n) != 0) {
		char loc[8300];
		snprintf(loc, sizeof(loc), "Location: %.*s%.*s\r\n", (int)(n < 4096 ? n : 4096), clean,
			 q ? (int)(req->target_len - plen < 4096 ? req->target_len - plen : 4096) : 0, q ? q : "");
		http_respond(c, 301, NULL, loc, "", 0);
		goto out;
	}
	n = pct_decode(req->target, plen, id);
	id[n] = 0;
	pre = strlen(x.app->prefix);
	if (n == 1) {
		compat_answer(c, 200, NULL, "OK");
		goto out;
	}
	if (n < pre || memcmp(id, x.app->prefix, pre) != 0) {
		compat_answer(c, 404, "X-Content-Type-Options: nosniff\r\n", "404 page not found\n");
		goto out;
	}
	request_id(x.app, req, x.reqid, sizeof(x.reqid));
	if (x.app->log || x.app->embedded) {
		char remote[80];
		peer_text(http_conn_peer(c), remote, sizeof(remote));
		compat_log(x.app, x.reqid, "incoming HTTP %.*s request from %s", (int)req->method_len, req->method, remote);
	}
	x.h = hooks_find(&x.app->hooks, id + pre, n - pre);
	if (!x.h) {
		compat_answer(c, 404, NULL, "Hook not found.");
		goto out;
	}
	if (x.h->nmethods ? !method_in(x.h->methods, x.h->nmethods, req)
			  : x.app->nmethods && !method_in(x.app->methods, x.app->nmethods, req)) {
		compat_log(x.app, x.reqid, "HTTP %.*s method not allowed for hook \"%s\"", (int)req->method_len, req->method,
			   x.h->id);
		http_respond(c, 405, NULL, NULL, "", 0);
		goto out;
	}
	buf_init(&x.extra, 1 << 20);
	hook_request(&x);
	buf_free(&x.extra);
out:
	if (clean != small)
		free(clean);
}
