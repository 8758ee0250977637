#include "edgehook/relay_routes.h"
#include "edgehook/addr.h"
#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/dedupe.h"
#include "edgehook/dispatch.h"
#include "edgehook/event.h"
#include "edgehook/form.h"
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/sign.h"
#include "edgehook/trigger_spool.h"

#include <bearssl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_DELIVERY_ID = 128 };

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

/* One X-Forwarded-For hop as an address: a bare literal, "[v6]" or
 * "[v6]:port", "v4:port". -1 when it is none of these. */
static int parse_hop(const char *s, size_t n, struct sockaddr_storage *out)
{
	const char *colon;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return -1;
		n = (size_t)(close - s - 1);
		s++;
	} else if ((colon = memchr(s, ':', n)) != NULL && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
		n = (size_t)(colon - s);
	}
	return addr_parse_ip(s, n, out) < 0 ? -1 : 0;
}

static int is_trusted(const struct relay *rl, const struct sockaddr *sa)
{
	return cidr_match_any(rl->cfg->server.trusted_proxies, rl->cfg->server.ntrusted, sa);
}

/* Walks one X-Forwarded-For line from the right: 1 when *out is settled
 * (an untrusted hop, or AF_UNSPEC for one that is no address), 0 when
 * every hop on the line was a trusted proxy. */
static int walk_hops(const struct relay *rl, const struct http_header *h, struct sockaddr_storage *out)
{
	const char *end = h->value + h->value_len;
	while (end > h->value) {
		const char *start = end, *a, *b;
		while (start > h->value && start[-1] != ',')
			start--;
		for (a = start, b = end; a < b && (*a == ' ' || *a == '\t'); a++)
			;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		end = start > h->value ? start - 1 : start;
		if (a == b)
			continue;
		if (parse_hop(a, (size_t)(b - a), out) < 0) {
			memset(out, 0, sizeof(*out));
			return 1;
		}
		if (!is_trusted(rl, (const struct sockaddr *)out))
			return 1;
	}
	return 0;
}

/* The client address: the peer, or when the peer is a trusted proxy the
 * rightmost X-Forwarded-For hop that is not one. All lines count, in
 * order, as one list: HAProxy appends its own line after any the client
 * sent. When every hop is trusted the leftmost is the client. */
void relay_client_addr(const struct relay *rl, struct http_conn *c, const struct http_request *req,
		       struct sockaddr_storage *out)
{
	const struct sockaddr *peer = http_conn_peer(c);
	size_t i;
	memset(out, 0, sizeof(*out));
	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)
		return; /* a Unix socket peer has no address */
	memcpy(out, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	if (!is_trusted(rl, peer))
		return;
	for (i = req->num_headers; i-- > 0;)
		if (http_token_eq_nocase(req->headers[i].name, req->headers[i].name_len, "x-forwarded-for") &&
		    walk_hops(rl, &req->headers[i], out))
			return;
}

/* The request body, parsed as JSON once (on first need: the Slack
 * handshake or the body's type), and the event data it yields with that
 * data's one parse: the body itself, or the JSON made from a form. The
 * runner reads `data` for {json.PATH}; nothing parses the body again. */
struct inbound {
	const char *body;
	size_t len;
	int parsed; /* 0: not yet; 1: body_doc holds it; else json_parse's -1 or -2 */
	struct json_doc body_doc;
	struct buf conv; /* a form as JSON, or GitHub's payload field */
	int conv_parsed;
	struct json_doc conv_doc;
	const struct json_doc *data; /* NULL: no data (empty JSON body) */
};

static void inbound_init(struct inbound *in, const char *body, size_t len)
{
	memset(in, 0, sizeof(*in));
	in->body = body;
	in->len = len;
	buf_init(&in->conv, form_json_bound(len));
}

static void inbound_free(struct inbound *in)
{
	if (in->parsed == 1)
		json_doc_free(&in->body_doc);
	if (in->conv_parsed)
		json_doc_free(&in->conv_doc);
	buf_free(&in->conv);
}

/* 0 when the body is JSON; -2 for a repeated name, -1 otherwise. */
static int inbound_json(struct inbound *in)
{
	if (in->parsed == 0) {
		int rc = in->len ? json_parse(&in->body_doc, in->body, in->len, 64) : -1;
		in->parsed = rc == 0 ? 1 : rc;
	}
	return in->parsed == 1 ? 0 : in->parsed;
}

/* Parses the converted text, once; -1 when it is not JSON (a GitHub
 * payload field) or memory is short. */
static int inbound_conv(struct inbound *in)
{
	if (json_parse(&in->conv_doc, in->conv.data, in->conv.len, 64) < 0)
		return -1;
	in->conv_parsed = 1;
	in->data = &in->conv_doc;
	return 0;
}

enum body_type { BODY_JSON, BODY_JSON_CHECKED, BODY_FORM, BODY_OTHER };

/* curl -d sends JSON labelled as a form; a body that parses as JSON is
 * JSON (a real form body, "a=b&c=d", never does). */
static enum body_type body_type(const struct http_request *req, struct inbound *in)
{
	const struct http_header *ct = http_find_header(req->headers, req->num_headers, "content-type");
	size_t n;
	if (!ct || ct->value_len == 0)
		return BODY_JSON;
	/* header values are slices of the request buffer, not C strings */
	{
		const char *semi = memchr(ct->value, ';', ct->value_len);
		n = semi ? (size_t)(semi - ct->value) : ct->value_len;
	}
	while (n > 0 && ct->value[n - 1] == ' ')
		n--;
	if (http_token_eq_nocase(ct->value, n, "application/json") || http_token_eq_nocase(ct->value, n, "text/json") ||
	    (n > 5 && http_token_eq_nocase(ct->value + n - 5, 5, "+json")))
		return BODY_JSON;
	if (http_token_eq_nocase(ct->value, n, "application/x-www-form-urlencoded")) {
		int rc = inbound_json(in);
		/* JSON with a repeated key is JSON still, and refused as such */
		return rc == 0 ? BODY_JSON_CHECKED : rc == -2 ? BODY_JSON : BODY_FORM;
	}
	return BODY_OTHER;
}

/* GitHub's form content type: the JSON is the payload field; -2 when
 * the field repeats (readers disagree on which one counts). */
static int github_payload(struct inbound *in)
{
	char *payload;
	int n, ok;
	if (form_count(in->body, in->len, "payload") > 1)
		return -2;
	payload = malloc(in->len + 1);
	n = payload ? form_get(in->body, in->len, "payload", payload, in->len + 1) : -1;
	ok = n > 0 && buf_append(&in->conv, payload, (size_t)n) == 0;
	free(payload);
	return ok ? inbound_conv(in) : -1;
}

/* Sets in->data: the JSON body as is, or the form as an object. */
static int body_data(struct inbound *in, const struct http_request *req, int github_form, const char **why,
		     int *status)
{
	int rc;
	switch (body_type(req, in)) {
	case BODY_JSON:
		if (in->len == 0)
			return 0;
		if ((rc = inbound_json(in)) < 0) {
			*why = rc == -2 ? "body has a duplicate key in an object (ambiguous JSON)" : "body is not valid JSON";
			*status = 400;
			return -1;
		}
		in->data = &in->body_doc;
		return 0;
	case BODY_JSON_CHECKED:
		in->data = &in->body_doc;
		return 0;
	case BODY_FORM:
		if (github_form) {
			if ((rc = github_payload(in)) < 0) {
				*why = rc == -2 ? "form body repeats a field name" : "form body without a JSON payload field";
				*status = 400;
				return -1;
			}
			return 0;
		}
		if ((rc = form_to_json(&in->conv, in->body, in->len)) < 0) {
			*why = rc == -2 ? "form body repeats a field name" : "malformed form body";
			*status = 400;
			return -1;
		}
		if (inbound_conv(in) < 0) {
			*why = "out of memory";
			*status = 500;
			return -1;
		}
		return 0;
	default:
		*why = "unsupported content type (use JSON or form)";
		*status = 415;
		return -1;
	}
}

/* The first event header present names the event; -1 when that one is
 * too long to keep or not UTF-8 (it goes into JSON). It is never skipped
 * for the next one: a sender could then pick the type routing reads while
 * receivers read the first header. */
static int event_type(const struct trigger_cfg *t, const struct http_request *req, char *out, size_t cap)
{
	static const char *const headers[] = {"x-github-event", "x-gitlab-event", "x-webhook-event", NULL};
	const char *const *h;
	if (t->event) {
		snprintf(out, cap, "%s", t->event);
		return 0;
	}
	for (h = headers; *h; h++) {
		const struct http_header *v = http_find_header(req->headers, req->num_headers, *h);
		if (!v || v->value_len == 0)
			continue;
		if (v->value_len >= cap || !json_utf8_valid(v->value, v->value_len) ||
		    memchr(v->value, '\0', v->value_len))
			return -1;
		memcpy(out, v->value, v->value_len);
		out[v->value_len] = '\0';
		return 0;
	}
	snprintf(out, cap, "webhook.received");
	return 0;
}

/* The delivery id the scheme defines (for standard, the signed one); no
 * other id header counts. NULL when absent or empty. */
static const struct http_header *delivery_header(const struct http_request *req, enum trigger_kind kind)
{
	static const char *const names[][2] = {
		[TRIGGER_GENERIC] = {"idempotency-key", "x-request-id"},
		[TRIGGER_GITHUB] = {"x-github-delivery", NULL},
		[TRIGGER_GITLAB] = {"x-gitlab-event-uuid", NULL},
		[TRIGGER_SLACK] = {NULL, NULL},
		[TRIGGER_STANDARD] = {"webhook-id", NULL},
	};
	size_t i;
	for (i = 0; i < 2 && names[kind][i]; i++) {
		const struct http_header *h = http_find_header(req->headers, req->num_headers, names[kind][i]);
		if (h && h->value_len)
			return h;
	}
	return NULL;
}

/* The id as the event shows it: as sent, or "sha256:HEX" of it when it
 * is too long to carry. Dedupe always sees the full id. */
static void delivery_text(const struct http_header *h, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	br_sha256_context sc;
	uint8_t d[32];
	size_t i;
	if (h->value_len < cap && h->value_len < MAX_DELIVERY_ID) {
		memcpy(out, h->value, h->value_len);
		out[h->value_len] = '\0';
		return;
	}
	br_sha256_init(&sc);
	br_sha256_update(&sc, h->value, h->value_len);
	br_sha256_out(&sc, d);
	if (cap < 7 + 2 * sizeof(d) + 1) {
		out[0] = '\0';
		return;
	}
	memcpy(out, "sha256:", 7);
	for (i = 0; i < sizeof(d); i++) {
		out[7 + 2 * i] = hex[d[i] >> 4];
		out[8 + 2 * i] = hex[d[i] & 15];
	}
	out[7 + 2 * sizeof(d)] = '\0';
}

static int emit_event(struct relay *rl, const struct trigger_cfg *t, const char *type, const char *delivery,
		      const char *ip, const struct json_doc *data, char *evt_id)
{
	struct trigger_envelope e = {type, t->id, delivery, ip, data ? data->text : NULL, data ? data->len : 0};
	struct buf env;
	int rc;
	buf_init(&env, e.data_len + 1024);
	rc = event_trigger_envelope(&env, &e) < 0 ? -1 : dispatch_event(rl->disp, type, env.data, env.len, evt_id, EVENT_ID_LEN);
	buf_free(&env);
	return rc < 0 ? -1 : 0;
}

static int64_t now_seconds(void) { return (int64_t)(clock_wall_ms() / 1000); }

/* Checks the request's signature for `kind`; 0 when valid. */
static int verify(const struct trigger_cfg *t, enum trigger_kind kind, const struct http_request *req,
		  const char *body, size_t len, const char **why)
{
	char sig[1024], ts[32], id[1024];
	const struct http_header *h;
	if (!t->secret) {
		/* unsigned only as the trigger's own kind: a route suffix that
		 * picks a scheme must be verified with the trigger's secret */
		if (kind == t->kind && (kind == TRIGGER_GENERIC || kind == TRIGGER_GITLAB))
			return 0;
		*why = "trigger has no secret to verify with";
		return -1;
	}
	switch (kind) {
	case TRIGGER_GENERIC:
	case TRIGGER_GITHUB:
		h = http_find_header(req->headers, req->num_headers, "x-hub-signature-256");
		if (!h && kind == TRIGGER_GENERIC)
			h = http_find_header(req->headers, req->num_headers, "x-signature-256");
		if (h)
			return sign_verify_github(t->secret, h->value, h->value_len, 0, body, len, why);
		h = http_find_header(req->headers, req->num_headers, "x-hub-signature");
		if (h && t->allow_sha1)
			return sign_verify_github(t->secret, h->value, h->value_len, 1, body, len, why);
		*why = h ? "sha1 signatures are not accepted (allow_sha1)" : "missing X-Hub-Signature-256";
		return -1;
	case TRIGGER_GITLAB:
		h = http_find_header(req->headers, req->num_headers, "x-gitlab-token");
		if (h && sign_verify_token(t->secret, h->value, h->value_len) == 0)
			return 0;
		*why = h ? "wrong X-Gitlab-Token" : "missing X-Gitlab-Token";
		return -1;
	case TRIGGER_SLACK:
		if (!header_copy(req, "x-slack-request-timestamp", ts, sizeof(ts)) ||
		    !header_copy(req, "x-slack-signature", sig, sizeof(sig))) {
			*why = "missing X-Slack-Signature or X-Slack-Request-Timestamp";
			return -1;
		}
		return sign_verify_slack(t->secret, ts, sig, body, len, now_seconds(), why);
	case TRIGGER_STANDARD:
		if (!header_copy(req, "webhook-id", id, sizeof(id)) ||
		    !header_copy(req, "webhook-timestamp", ts, sizeof(ts)) ||
		    !header_copy(req, "webhook-signature", sig, sizeof(sig))) {
			*why = "missing (or over 1023 bytes) webhook-id, webhook-timestamp or webhook-signature";
			return -1;
		}
		return sign_verify_standard(t->secret, id, ts, sig, body, len, now_seconds(), why);
	}
	*why = "unknown kind";
	return -1;
}

/* event_source: empty allows all; else the Origin (or Referer) host must
 * be it, or it names the source address, or allowed_ips let the source in. */
static int source_allowed(const struct trigger_cfg *t, const struct http_request *req, const struct sockaddr *src)
{
	static const char *const headers[] = {"origin", "referer", NULL};
	const char *const *hn;
	struct cidr c;
	size_t n = t->event_source ? strlen(t->event_source) : 0;
	if (n == 0)
		return 1;
	if (cidr_parse(t->event_source, &c) == 0 && cidr_match(&c, src))
		return 1;
	if (t->nallowed && cidr_match_any(t->allowed_ips, t->nallowed, src))
		return 1;
	for (hn = headers; *hn; hn++) {
		const struct http_header *h = http_find_header(req->headers, req->num_headers, *hn);
		const char *host, *end;
		if (!h)
			continue;
		host = memchr(h->value, '/', h->value_len);
		host = host && (size_t)(host - h->value) + 2 < h->value_len && host[1] == '/' ? host + 2 : h->value;
		end = host;
		while (end < h->value + h->value_len && *end != '/' && *end != ':')
			end++;
		if ((size_t)(end - host) == n && http_token_eq_nocase(host, n, t->event_source))
			return 1;
	}
	return 0;
}

/* Slack's url_verification handshake: answered with its challenge. */
static int slack_challenge(struct http_conn *c, struct inbound *in)
{
	const struct json_doc *doc = &in->body_doc;
	char challenge[512];
	struct buf b;
	int tok;
	if (in->len == 0 || in->body[0] != '{' || inbound_json(in) < 0)
		return 0;
	tok = json_get(doc, 0, "type");
	if (tok < 0 || !json_tok_eq(doc, tok, "url_verification") ||
	    (tok = json_get(doc, 0, "challenge")) < 0 || json_tok_copy(doc, tok, challenge, sizeof(challenge)) < 0)
		return 0;
	/* room for every byte escaped as \u00XX */
	buf_init(&b, 6 * sizeof(challenge) + 32);
	buf_puts(&b, "{");
	json_put_kv(&b, 0, "challenge", challenge);
	buf_puts(&b, "}");
	api_reply_rendered(c, 200, "application/json", &b, "slack challenge");
	return 1;
}

static void reject(struct http_conn *c, uint64_t *counter, int status, const char *why)
{
	(*counter)++;
	api_respond_error(c, status, why);
}

void trigger_receive(struct relay *rl, struct http_conn *c, const struct http_request *req, const char *body,
		     size_t len, const struct trigger_cfg *t, int verify_as)
{
	struct sockaddr_storage src;
	char ip[64], type[EVENT_TYPE_MAX], delivery[MAX_DELIVERY_ID], dlv_id[EVENT_ID_LEN], evt_id[EVENT_ID_LEN];
	struct run *run = NULL;
	struct trigger_accept acc;
	size_t need;
	int fits;
	enum trigger_kind kind = verify_as >= 0 ? (enum trigger_kind)verify_as : t->kind;
	struct inbound in;
	struct buf reply;
	const char *why = NULL;
	const struct http_header *dlv;
	int status = 0;

	if (!t->enabled) {
		reject(c, &rl->tstats.rejected_source, 403, "trigger disabled");
		return;
	}
	relay_client_addr(rl, c, req, &src);
	cidr_addr_text((const struct sockaddr *)&src, ip, sizeof(ip));
	if ((t->nallowed && !cidr_match_any(t->allowed_ips, t->nallowed, (const struct sockaddr *)&src)) ||
	    !source_allowed(t, req, (const struct sockaddr *)&src)) {
		log_msg(LOG_WARN, "source not allowed", "trigger", t->id, "source_ip", ip, NULL);
		reject(c, &rl->tstats.rejected_source, 403, "source not allowed");
		return;
	}
	if (verify(t, kind, req, body, len, &why) < 0) {
		log_msg(LOG_WARN, "webhook rejected", "trigger", t->id, "source_ip", ip, "err", why, NULL);
		reject(c, &rl->tstats.rejected_auth, 401, why);
		return;
	}
	inbound_init(&in, body, len);
	if (kind == TRIGGER_SLACK && slack_challenge(c, &in))
		goto out;
	dlv = delivery_header(req, kind);
	if (dlv)
		delivery_text(dlv, delivery, sizeof(delivery));
	if (t->run && geteuid() == 0 && !t->run->allow_root) {
		log_msg(LOG_ERROR, "refusing to run a command as root (set run.allow_root: true)", "trigger", t->id, NULL);
		reject(c, &rl->tstats.run_refused, 500, "refusing to run commands as root");
		goto out;
	}
	if (t->run && !runner_has_room(rl->runner, t)) {
		reject(c, &rl->tstats.queue_full, 503, "run queue full");
		goto out;
	}
	/* Look now, record only once accepted: a delivery refused below (400,
	 * 503) must not be taken for a duplicate when the sender retries it. */
	if (dlv && dedupe_seen(rl->dedupe, t->id, dlv->value, dlv->value_len)) {
		rl->tstats.duplicates++;
		http_respond(c, 200, "application/json", NULL, "{\"status\":\"duplicate\"}", 22);
		goto out;
	}
	/* the same delivery still waiting for its commit may yet fail: the
	 * sender's retry then decides */
	if (dlv && rl->tspool && trigger_spool_pending(rl->tspool, t->id, dlv->value, dlv->value_len)) {
		reject(c, &rl->tstats.duplicates, 503, "the same delivery is being accepted");
		goto out;
	}
	if (body_data(&in, req, kind == TRIGGER_GITHUB, &why, &status) < 0) {
		reject(c, &rl->tstats.rejected_body, status, why);
		goto out;
	}
	rand_id(dlv_id, sizeof(dlv_id), "dlv_");
	if (event_type(t, req, type, sizeof(type)) < 0) {
		reject(c, &rl->tstats.rejected_body, 400, "event type header too long (127 bytes at most) or not UTF-8");
		goto out;
	}
	/* Everything that can refuse is decided before any side effect: a
	 * refused request (the sender retries it) must not emit. */
	if (t->run) {
		struct run_request rr = {type, dlv ? delivery : dlv_id, ip, body, len, in.data, NULL, 0};
		if (!(run = runner_prepare(rl->runner, t, &rr))) {
			reject(c, &rl->tstats.queue_full, 503, "run queue full");
			goto out;
		}
	}
	if (rl->cluster) {
		struct cluster_accept ta = {type, dlv ? dlv->value : NULL, dlv ? dlv->value_len : 0, dlv_id, run, body, len,
					    {type, t->id, dlv ? delivery : dlv_id, ip, in.data ? in.data->text : NULL,
					     in.data ? in.data->len : 0}};
		trigger_accept_cluster(rl, c, t, &ta);
		goto out;
	}
	/* both records of one batch, decided before the emit writes the first:
	 * the delivery's (body, and the data when it is not the body) and the
	 * emitted event's (the data) */
	need = len + (in.data && in.data->text != body ? in.data->len : 0) + (t->emit && in.data ? in.data->len : 0);
	if (rl->tspool && (fits = trigger_spool_fits(rl->tspool, need)) <= 0) {
		runner_discard(run);
		if (fits < 0) { /* a retry cannot succeed: not "full" */
			log_msg(LOG_WARN, "trigger delivery refused: larger than the spool takes at once", "trigger", t->id, NULL);
			reject(c, &rl->tstats.rejected_body, 413,
			       "larger than the spool takes at once (64 MiB: body, form data and the emitted event)");
		} else {
			log_msg(LOG_WARN, "trigger delivery refused: spool full", "trigger", t->id, NULL);
			reject(c, &rl->tstats.spool_full, 503, "spool full");
		}
		goto out;
	}
	if (t->emit && emit_event(rl, t, type, dlv ? delivery : dlv_id, ip, in.data, evt_id) < 0) {
		const char *why_full = dispatch_refusal(rl->disp);
		runner_discard(run);
		log_msg(LOG_WARN, "event refused", "trigger", t->id, "why", why_full, NULL);
		reject(c, &rl->tstats.queue_full, dispatch_refusal_final(rl->disp) ? 413 : 503, why_full);
		goto out;
	}
	buf_init(&reply, 256);
	buf_puts(&reply, "{\"status\":\"accepted\",");
	json_put_kv(&reply, 0, "id", dlv_id);
	if (run)
		json_put_kv(&reply, 1, "run_id", runner_id(run));
	buf_puts(&reply, "}");
	acc = (struct trigger_accept){t, run, t->emit, type, dlv ? delivery : dlv_id, ip, body, len, NULL, 0,
				      dlv ? dlv->value : NULL, dlv ? dlv->value_len : 0};
	if (in.data && in.data->text != body) {
		acc.data = in.data->text;
		acc.data_len = in.data->len;
	}
	received_add(&rl->received, t->id, dlv_id, dlv ? delivery : "", type, t->emit ? evt_id : "",
		     run ? runner_id(run) : "");
	trigger_accept(rl, c, &acc, &reply);
out:
	inbound_free(&in);
}
