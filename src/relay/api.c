/* /api/v1: event ingest, event status, endpoints, endpoint tests. */
#include "edgehook/relay_routes.h"
#include "dispatch_internal.h"
#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/endpoint.h"
#include "edgehook/event.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/sign.h"
#include "edgehook/spool.h"
#include "edgehook/strutil.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ENDPOINT_NAME_CAP = 256 };

enum { MAX_BATCH = 1000 };

static int is_loopback(const struct sockaddr *sa)
{
	static struct cidr loop4, loop6;
	static int ready;
	if (!ready) {
		cidr_parse("127.0.0.0/8", &loop4);
		cidr_parse("::1", &loop6);
		ready = 1;
	}
	return cidr_match(&loop4, sa) || cidr_match(&loop6, sa);
}

/* A local caller: a Unix socket peer (0600: the owner) or a loopback one
 * that is neither a trusted proxy nor forwarding for someone else. A
 * reverse proxy on this host connects from 127.0.0.1 for the whole
 * internet, so any forwarding header, or a peer listed as a proxy, means
 * the real caller is unknown. */
static int is_local(const struct relay *rl, struct http_conn *c, const struct http_request *req)
{
	static const char *const forwarding[] = {"forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host",
		"x-forwarded-proto", "via", NULL};
	const struct sockaddr *peer = http_conn_peer(c);
	const char *const *h;
	for (h = forwarding; *h; h++)
		if (http_find_header(req->headers, req->num_headers, *h))
			return 0;
	if (peer->sa_family == AF_UNIX)
		return 1;
	return is_loopback(peer) &&
	       !cidr_match_any(rl->cfg->server.trusted_proxies, rl->cfg->server.ntrusted, peer);
}

/* Whether a browser sends this for a page of another origin. Browsers
 * say where a request comes from: Sec-Fetch-Site on every request (they
 * compute it, so a proxy rewriting Host does not change it); older ones
 * only Origin, on cross-origin requests and POSTs, compared with the
 * name asked for (Host, or X-Forwarded-Host from a proxy: a page cannot
 * set that header without a CORS preflight, which the API never grants).
 * The only page meant to use the API is the status page of this origin,
 * so another site's page cannot drive it through the operator's browser
 * (CSRF). */
/* a and b name the same host and port, b perhaps with the scheme's
 * default port written out (browsers leave it out of Origin, some
 * clients put it in Host, and the other way round). */
static int same_authority(const char *a, size_t an, const char *b, size_t bn, const char *dport)
{
	size_t dn = dport ? strlen(dport) : 0;
	if (an == bn)
		return strncasecmp(a, b, an) == 0;
	return dn && bn == an + dn && strncasecmp(a, b, an) == 0 && memcmp(b + an, dport, dn) == 0;
}

static int from_other_origin(const struct http_request *req)
{
	static const char *const names[] = {"host", "x-forwarded-host"};
	const char *dport;
	const struct http_header *site = http_find_header(req->headers, req->num_headers, "sec-fetch-site");
	const struct http_header *origin = http_find_header(req->headers, req->num_headers, "origin");
	const char *p;
	size_t n, k;
	if (site)
		return !http_token_eq_nocase(site->value, site->value_len, "same-origin") &&
		       !http_token_eq_nocase(site->value, site->value_len, "none");
	if (!origin)
		return 0;
	p = memmem(origin->value, origin->value_len, "://", 3);
	if (!p)
		return 1;
	dport = http_token_eq_nocase(origin->value, (size_t)(p - origin->value), "https") ? ":443"
		: http_token_eq_nocase(origin->value, (size_t)(p - origin->value), "http") ? ":80"
											    : NULL;
	p += 3;
	n = (size_t)(origin->value + origin->value_len - p);
	for (k = 0; k < 2; k++) {
		const struct http_header *h = http_find_header(req->headers, req->num_headers, names[k]);
		if (h && (same_authority(p, n, h->value, h->value_len, dport) ||
			  same_authority(h->value, h->value_len, p, n, dport)))
			return 0;
	}
	return 1;
}

/* Whether Host names this machine by address or as localhost: a page
 * whose own name was made to resolve to 127.0.0.1 (DNS rebinding) is
 * same-origin for the browser, but sends its own name. */
static int local_host_header(const struct http_request *req)
{
	const struct http_header *h = http_find_header(req->headers, req->num_headers, "host");
	const char *colon;
	size_t n, i;
	if (!h || (h->value_len && h->value[0] == '['))
		return 1;
	colon = memchr(h->value, ':', h->value_len);
	n = colon ? (size_t)(colon - h->value) : h->value_len;
	if (http_token_eq_nocase(h->value, n, "localhost"))
		return 1;
	for (i = 0; i < n; i++)
		if ((h->value[i] < '0' || h->value[i] > '9') && h->value[i] != '.')
			return 0;
	return n > 0;
}

/* 0 when the caller may use the API; otherwise the answer is sent. */
int api_authorize(struct relay *rl, struct http_conn *c, const struct http_request *req)
{
	const char *token = rl->cfg->api.token;
	const struct http_header *auth;
	if (from_other_origin(req)) {
		api_respond_error(c, 403, "the API answers no page of another origin");
		return -1;
	}
	if (!token) {
		if (!is_local(rl, c, req)) {
			api_respond_error(c, 403, "without api.token the API answers local, unproxied peers only");
			return -1;
		}
		if (!local_host_header(req)) {
			api_respond_error(c, 403, "without api.token the API answers Host: localhost or an IP address only");
			return -1;
		}
		return 0;
	}
	auth = http_find_header(req->headers, req->num_headers, "authorization");
	if (auth && auth->value_len > 7 && http_token_eq_nocase(auth->value, 7, "bearer ") &&
	    sign_verify_token(token, auth->value + 7, auth->value_len - 7) == 0)
		return 0;
	http_respond(c, 401, "application/json", "WWW-Authenticate: Bearer\r\n",
		     "{\"error\":\"missing or wrong bearer token\"}", 41);
	return -1;
}

int api_authorize_page(struct relay *rl, struct http_conn *c, const struct http_request *req)
{
	if (rl->cfg->api.token || is_local(rl, c, req))
		return 0;
	api_respond_error(c, 403, "without api.token the status page answers local, unproxied peers only");
	return -1;
}

void api_respond_error(struct http_conn *c, int status, const char *msg)
{
	struct buf b;
	char mem[256];
	buf_init(&b, sizeof(mem));
	b.data = mem;
	b.cap = sizeof(mem);
	buf_puts(&b, "{\"error\":");
	json_put_cstr(&b, msg);
	buf_puts(&b, "}");
	http_respond(c, status, "application/json", status == 503 ? "Retry-After: 1\r\n" : NULL, b.data, b.len);
}

void api_reply_rendered(struct http_conn *c, int status, const char *ctype, struct buf *b, const char *what)
{
	if (b->failed || !b->data) {
		log_msg(LOG_ERROR, "answer not sent: rendering failed (too large or out of memory)", "what", what, NULL);
		api_respond_error(c, 500, "the answer could not be rendered (see the log)");
	} else {
		http_respond(c, status, ctype, NULL, b->data, b->len);
	}
	buf_free(b);
}

/* Checks one item of the ingest body; type gets its "event" string. */
static const char *check_item(const struct json_doc *doc, int tok, char *type, size_t cap)
{
	int t, n;
	if (doc->toks[tok].type != JSON_OBJECT)
		return "each event must be a JSON object";
	t = json_get(doc, tok, "event");
	if (t < 0 || doc->toks[t].type != JSON_STRING)
		return "missing string \"event\"";
	if ((n = json_tok_copy(doc, t, type, cap)) <= 0)
		return "\"event\" must be 1 to 127 characters";
	/* routing reads up to a NUL, receivers read the whole string */
	if (strlen(type) != (size_t)n)
		return "\"event\" must not contain \\u0000";
	return NULL;
}

/* The item as given, plus "timestamp" when it has none. */
int api_item_body(const struct json_doc *doc, int tok, struct buf *out)
{
	const char *s = doc->text + doc->toks[tok].start;
	size_t n = (size_t)(doc->toks[tok].end - doc->toks[tok].start);
	if (json_get(doc, tok, "timestamp") >= 0)
		return buf_append(out, s, n);
	/* "event" exists, so the object has members: insert before '}' */
	if (buf_append(out, s, n - 1) < 0 || buf_puts(out, ",\"timestamp\":") < 0 || event_put_timestamp(out) < 0)
		return -1;
	return buf_puts(out, "}");
}

/* A 202 held until the spool has synced the events it names. */
struct ingest_ack {
	struct relay *rl;
	struct http_conn *c;
	struct buf reply;
	struct spool_waiter w;
};

static void ack_abort(void *arg)
{
	struct ingest_ack *a = arg;
	spool_wait_cancel(a->rl->spool, &a->w);
	buf_free(&a->reply);
	free(a);
}

static void ack_written(void *arg, int status)
{
	struct ingest_ack *a = arg;
	if (status == 0) {
		api_reply_rendered(a->c, 202, "application/json", &a->reply, "event ids");
	} else {
		api_respond_error(a->c, 503, "the spool could not write the events");
		buf_free(&a->reply);
	}
	free(a);
}

/* Under fsync: always the answer waits for the commit of the last
 * record this request appended; otherwise it leaves at once. */
static void reply_accepted(struct relay *rl, struct http_conn *c, struct buf *reply, uint64_t lsn_before)
{
	uint64_t lsn = dispatch_spool_lsn(rl->disp);
	struct ingest_ack *a;
	if (!rl->spool || rl->cfg->spool.fsync != SPOOL_FSYNC_ALWAYS || lsn == lsn_before ||
	    !(a = calloc(1, sizeof(*a)))) {
		api_reply_rendered(c, 202, "application/json", reply, "event ids");
		return;
	}
	a->rl = rl;
	a->c = c;
	a->reply = *reply;
	if (spool_wait(rl->spool, &a->w, lsn, ack_written, a) == 1) {
		api_reply_rendered(c, 202, "application/json", &a->reply, "event ids");
		free(a);
		return;
	}
	http_defer(c, ack_abort, a);
}

static void ingest(struct relay *rl, struct http_conn *c, const char *body, size_t len)
{
	struct json_doc doc;
	int items[MAX_BATCH], nitems = 0, i, tok, rc = 0;
	const char *type_ptrs[MAX_BATCH];
	char (*all_types)[EVENT_TYPE_MAX] = NULL;
	struct buf reply, one;
	const char *why = NULL;
	uint64_t lsn_before;
	if (len == 0 || (rc = json_parse(&doc, body, len, 64)) < 0) {
		api_respond_error(c, 400, len == 0 ? "empty body" : rc == -2 ? "body has a duplicate key in an object (ambiguous JSON)" : "body is not valid JSON");
		return;
	}
	if (doc.toks[0].type == JSON_ARRAY) {
		if (doc.toks[0].size == 0 || doc.toks[0].size > MAX_BATCH) {
			const char *why_size = doc.toks[0].size ? "at most 1000 events per request" : "empty array";
			json_doc_free(&doc);
			api_respond_error(c, 400, why_size);
			return;
		}
		for (i = 0, tok = 1; i < doc.toks[0].size; i++, tok = json_skip(&doc, tok))
			items[nitems++] = tok;
	} else {
		items[nitems++] = 0;
	}
	all_types = malloc((size_t)nitems * sizeof(*all_types));
	if (!all_types) {
		json_doc_free(&doc);
		api_respond_error(c, 500, "out of memory");
		return;
	}
	for (i = 0; i < nitems && !why; i++) {
		why = check_item(&doc, items[i], all_types[i], EVENT_TYPE_MAX);
		type_ptrs[i] = all_types[i];
	}
	if (why) {
		char msg[160];
		if (nitems > 1)
			snprintf(msg, sizeof(msg), "event %d: %s", i - 1, why);
		else
			snprintf(msg, sizeof(msg), "%s", why);
		api_respond_error(c, 400, msg);
		goto out;
	}
	if (rl->cluster) {
		api_ingest_cluster(rl, c, &doc, items, nitems, (const char(*)[EVENT_TYPE_MAX])all_types,
				   doc.toks[0].type == JSON_ARRAY);
		goto out;
	}
	if (!dispatch_admit(rl->disp, type_ptrs, (size_t)nitems, len + (size_t)nitems * 48)) {
		const char *full = dispatch_refusal(rl->disp);
		log_msg(LOG_WARN, "events refused", "why", full, NULL);
		api_respond_error(c, dispatch_refusal_final(rl->disp) ? 413 : 503, full);
		goto out;
	}
	lsn_before = dispatch_spool_lsn(rl->disp);
	buf_init(&reply, RENDER_MAX);
	buf_init(&one, len + 64);
	if (doc.toks[0].type == JSON_ARRAY)
		buf_puts(&reply, "[");
	for (i = 0; i < nitems; i++) {
		char id[EVENT_ID_LEN];
		int n;
		one.len = 0;
		n = api_item_body(&doc, items[i], &one) == 0 ? dispatch_event(rl->disp, all_types[i], one.data, one.len, id, sizeof(id)) : -1;
		if (n < 0) {
			/* after dispatch_admit only a failed allocation gets here */
			log_msg(LOG_ERROR, "event refused after admission", "event", all_types[i], NULL);
			snprintf(id, sizeof(id), "none");
			n = 0;
		}
		buf_puts(&reply, i ? ",{\"id\":\"" : "{\"id\":\"");
		buf_puts(&reply, id);
		buf_puts(&reply, "\",\"endpoints\":");
		buf_put_u64(&reply, (uint64_t)n);
		buf_puts(&reply, "}");
	}
	if (doc.toks[0].type == JSON_ARRAY)
		buf_puts(&reply, "]");
	reply_accepted(rl, c, &reply, lsn_before);
	buf_free(&one);
out:
	free(all_types);
	json_doc_free(&doc);
}

/* GET /api/v1/endpoints: every endpoint's counters and the queue. */
static void endpoints_json(const struct dispatch *d, struct buf *out)
{
	size_t i;
	buf_puts(out, "{\"endpoints\":[");
	for (i = 0; i < d->neps; i++) {
		if (i)
			buf_puts(out, ",");
		endpoint_json(out, d->eps[i]);
	}
	buf_printf(out, "],\"queue\":{\"pending\":%zu,\"max\":%zu,\"bytes\":%zu,\"max_bytes\":%zu}}", d->pending,
		   d->queue_max, d->pending_bytes, d->bytes_max);
}

struct pending_test {
	struct http_conn *c;
	struct dispatch_test *t;
};

/* json is NULL when the outcome could not be rendered. */
static void on_test_done(void *arg, const char *json, size_t len)
{
	struct pending_test *p = arg;
	if (json) {
		http_respond(p->c, 200, "application/json", NULL, json, len);
	} else {
		log_msg(LOG_ERROR, "answer not sent: rendering failed (too large or out of memory)", "what",
			"endpoint test", NULL);
		api_respond_error(p->c, 500, "the answer could not be rendered (see the log)");
	}
	free(p);
}

static void on_test_abort(void *arg)
{
	struct pending_test *p = arg;
	dispatch_test_cancel(p->t);
	free(p);
}

/* The endpoint name from the path into n (NUL-terminated); -1 after a 404
 * when it cannot be one. */
static int endpoint_name(struct http_conn *c, const char *name, size_t len, char n[static ENDPOINT_NAME_CAP])
{
	if (len == 0 || len >= ENDPOINT_NAME_CAP) {
		api_respond_error(c, 404, "unknown endpoint");
		return -1;
	}
	memcpy(n, name, len);
	n[len] = '\0';
	return 0;
}

static void endpoint_test(struct relay *rl, struct http_conn *c, const char *name, size_t len)
{
	struct pending_test *p;
	char n[ENDPOINT_NAME_CAP];
	if (endpoint_name(c, name, len, n) < 0)
		return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		api_respond_error(c, 500, "out of memory");
		return;
	}
	p->c = c;
	p->t = dispatch_test(rl->disp, n, on_test_done, p);
	if (!p->t) {
		free(p);
		api_respond_error(c, 404, "unknown endpoint");
		return;
	}
	http_defer(c, on_test_abort, p);
}

/* POST /api/v1/endpoints/{name}/enable: undoes a 410 Gone. */
static void endpoint_enable(struct relay *rl, struct http_conn *c, const char *name, size_t len)
{
	const struct endpoint_rt *ep;
	char n[ENDPOINT_NAME_CAP];
	struct buf b;
	if (endpoint_name(c, name, len, n) < 0)
		return;
	ep = dispatch_enable(rl->disp, n);
	if (!ep) {
		api_respond_error(c, 404, "unknown endpoint");
		return;
	}
	buf_init(&b, RENDER_MAX);
	endpoint_json(&b, ep);
	api_reply_rendered(c, 200, "application/json", &b, "endpoint");
}

/* The length of an endpoints/{name}/ACTION path's name; 0 for another action. */
static size_t endpoint_action(const char *rest, size_t rlen, const char *action)
{
	size_t n = strlen(action);
	return rlen > n + 1 && rest[rlen - n - 1] == '/' && memcmp(rest + rlen - n, action, n) == 0 ? rlen - n - 1 : 0;
}

/* POST /api/v1/events/{id}/replay[?endpoint=NAME] */
static void event_replay(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *id,
			 size_t len)
{
	char idz[64], name[256];
	const char *q, *why = NULL;
	size_t qlen = 0;
	struct buf b;
	int n;
	q = api_status_query_param(req, "endpoint", &qlen);
	if (len == 0 || len >= sizeof(idz) || memchr(id, '/', len) || (q && qlen >= sizeof(name))) {
		api_respond_error(c, 404, "unknown event or endpoint");
		return;
	}
	memcpy(idz, id, len);
	idz[len] = '\0';
	if (q) {
		memcpy(name, q, qlen);
		name[qlen] = '\0';
	}
	n = dispatch_replay(rl->disp, idz, q ? name : NULL, &why);
	if (n < 0) {
		api_respond_error(c, n == -2 ? 503 : 404, why);
		return;
	}
	buf_init(&b, RENDER_MAX);
	buf_puts(&b, "{");
	json_put_kv(&b, 0, "id", idz);
	buf_printf(&b, ",\"endpoints\":%d}", n);
	api_reply_rendered(c, 202, "application/json", &b, "replay");
}

/* POST /api/v1/endpoints/{name}/recover {"since": RFC 3339} */
static void endpoint_recover(struct relay *rl, struct http_conn *c, const char *name, size_t len, const char *body,
			     size_t blen)
{
	struct json_doc doc;
	char n[ENDPOINT_NAME_CAP], since[64];
	uint64_t since_ms;
	int t, rc;
	struct buf b;
	if (endpoint_name(c, name, len, n) < 0)
		return;
	if (json_parse(&doc, body, blen, 8) < 0) {
		api_respond_error(c, 400, "body: expected {\"since\": \"RFC 3339 time\"}");
		return;
	}
	t = json_get(&doc, 0, "since");
	rc = t < 0 || json_tok_copy(&doc, t, since, sizeof(since)) < 0 || clock_parse_rfc3339(since, &since_ms) < 0;
	json_doc_free(&doc);
	if (rc) {
		api_respond_error(c, 400, "since: expected an RFC 3339 time");
		return;
	}
	rc = dispatch_recover(rl->disp, n, since_ms);
	if (rc == -1) {
		api_respond_error(c, 404, "unknown endpoint");
		return;
	}
	if (rc == -2) {
		api_respond_error(c, 503, "queue full (some events may have been replayed)");
		return;
	}
	buf_init(&b, RENDER_MAX);
	buf_puts(&b, "{");
	json_put_kv(&b, 0, "endpoint", n);
	buf_printf(&b, ",\"replayed\":%d}", rc);
	api_reply_rendered(c, 202, "application/json", &b, "recover");
}

static int render_event(struct relay *rl, const char *id, struct buf *out)
{
	return api_status_event_json(rl->disp, id, out);
}

static int render_run(struct relay *rl, const char *id, struct buf *out)
{
	return runner_run_json(rl->runner, id, out);
}

/* GET of one record by the id that ends the path: 404 when render finds
 * none, 500 (through api_reply_rendered) when its answer could not be
 * built. */
static void reply_by_id(struct http_conn *c, const struct http_request *req, const char *rest, size_t rlen,
			int (*render)(struct relay *, const char *, struct buf *), struct relay *rl, const char *what,
			const char *not_found)
{
	char id[64];
	struct buf b;
	if (!http_method_is_exact(req, "GET") && !http_method_is_exact(req, "HEAD")) {
		http_respond_405(c, "GET, HEAD");
		return;
	}
	if (rlen >= sizeof(id) || memchr(rest, '/', rlen)) {
		api_respond_error(c, 404, not_found);
		return;
	}
	memcpy(id, rest, rlen);
	id[rlen] = '\0';
	buf_init(&b, RENDER_MAX);
	if (render(rl, id, &b) < 0 && !b.failed) {
		api_respond_error(c, 404, not_found);
		buf_free(&b);
		return;
	}
	api_reply_rendered(c, 200, "application/json", &b, what);
}

/* path is what follows "/api/v1/". */
void api_handle(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *path, size_t plen,
		const char *body, size_t len)
{
	const char *slash = memchr(path, '/', plen);
	size_t head = slash ? (size_t)(slash - path) : plen;
	const char *rest = slash ? slash + 1 : "";
	size_t rlen = slash ? plen - head - 1 : 0;
	struct buf b;
	if (api_authorize(rl, c, req) < 0)
		return;
	if (str_slice_eq(path, head, "events") && rlen == 0 && http_method_is_exact(req, "POST")) {
		ingest(rl, c, body, len);
	} else if (str_slice_eq(path, head, "events") && endpoint_action(rest, rlen, "replay")) {
		if (http_method_is_exact(req, "POST"))
			event_replay(rl, c, req, rest, endpoint_action(rest, rlen, "replay"));
		else
			http_respond_405(c, "POST");
	} else if (str_slice_eq(path, head, "events") && rlen > 0 && api_event_cluster(rl, c, req, rest, rlen) == 0) {
		/* cluster mode, delivered elsewhere: answered from Redis */
	} else if (str_slice_eq(path, head, "events") && rlen > 0) {
		reply_by_id(c, req, rest, rlen, render_event, rl, "event status",
			    "unknown event (or no longer in the status history)");
	} else if (str_slice_eq(path, head, "endpoints") && rlen == 0) {
		if (!http_method_is_exact(req, "GET") && !http_method_is_exact(req, "HEAD")) {
			http_respond_405(c, "GET, HEAD");
			return;
		}
		buf_init(&b, RENDER_MAX);
		endpoints_json(rl->disp, &b);
		api_reply_rendered(c, 200, "application/json", &b, "endpoints");
	} else if (str_slice_eq(path, head, "triggers")) {
		if (memchr(rest, '/', rlen))
			api_respond_error(c, 404, "unknown trigger");
		else
			registry_api(rl, c, req, rest, rlen, body, len);
	} else if (str_slice_eq(path, head, "runs") && rlen > 0) {
		reply_by_id(c, req, rest, rlen, render_run, rl, "run", "unknown run (or no longer in the history)");
	} else if (str_slice_eq(path, head, "endpoints") && endpoint_action(rest, rlen, "test")) {
		if (http_method_is_exact(req, "POST"))
			endpoint_test(rl, c, rest, endpoint_action(rest, rlen, "test"));
		else
			http_respond_405(c, "POST");
	} else if (str_slice_eq(path, head, "endpoints") && endpoint_action(rest, rlen, "recover")) {
		if (http_method_is_exact(req, "POST"))
			endpoint_recover(rl, c, rest, endpoint_action(rest, rlen, "recover"), body, len);
		else
			http_respond_405(c, "POST");
	} else if (str_slice_eq(path, head, "endpoints") && endpoint_action(rest, rlen, "enable")) {
		if (http_method_is_exact(req, "POST"))
			endpoint_enable(rl, c, rest, endpoint_action(rest, rlen, "enable"));
		else
			http_respond_405(c, "POST");
	} else if (!api_status_handle(rl, c, req, path, plen)) {
		api_respond_error(c, 404, "unknown API route");
	}
}
