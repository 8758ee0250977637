#include "edgehook/server.h"
#include "edgehook/server_internal.h"
#include "edgehook/message.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/stream.h"
#include "edgehook/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	MAX_HEADERS = 100,
	READ_CHUNK = 16384,
	OUT_HIGH_WATER = 256 << 10, /* stop reading while this much is unsent */
	OUT_MAX = 8 << 20,
	LINGER_MS = 2000,
};

enum conn_state {
	CONN_HEAD,    /* waiting for (the rest of) a request head */
	CONN_BODY,    /* head parsed, body incomplete */
	CONN_APP,     /* request handed to the application, no answer yet */
	CONN_CLOSING, /* last answer queued: flush, then linger */
	CONN_LINGER,  /* write side shut: drain input until EOF or timeout */
};

struct http_conn {
	struct http_server *srv;
	int fd;
	enum conn_state state;
	struct sockaddr_storage peer;
	struct buf in, out;
	struct timer timer;
	struct tls_conn *tls; /* TLS listeners only */
	uint32_t events;      /* what epoll watches now: changes only are sent */
	struct list link; /* in the server's conns */
	/* current request framing, offsets relative to in.data; the parsed
	 * head itself is never kept: it lives in the frame of the call that
	 * dispatches it (conn_process), re-parsed there from this
	 * connection's own bytes when the body came in a later read */
	struct http_head_scan scan; /* where the head scan stopped */
	size_t head_len;
	enum http_body body_kind;
	uint64_t content_length;
	struct http_chunked chunked;
	size_t body_len;   /* decoded body bytes stored after the head */
	size_t raw_off;    /* chunked: undecoded input starts here */
	uint64_t deadline; /* of the current phase, set once on entering it */
	unsigned keep_alive : 1;
	unsigned is_head : 1;
	unsigned minor : 1;
	unsigned sent_continue : 1;
	unsigned want_out : 1;
	unsigned in_process : 1;
	unsigned closed : 1;
	unsigned listener_flags; /* of the listener that accepted it */
	void (*abort_cb)(void *);
	void *abort_arg;
};

static void conn_io(void *arg, int fd, uint32_t events);
static void conn_process(struct http_conn *c);
static void respond_error(struct http_conn *c, int status, const char *msg);

/* ---- connection lifetime ---- */

static void conn_destroy(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (c->abort_cb) {
		void (*cb)(void *) = c->abort_cb;
		c->abort_cb = NULL;
		cb(c->abort_arg);
	}
	reactor_del(s->r, c->fd);
	timer_stop(s->r, &c->timer);
	close(c->fd);
	tls_free(c->tls);
	buf_free(&c->in);
	buf_free(&c->out);
	list_remove(&c->link);
	s->nconns--;
	s->stats.connections_open--;
	free(c);
	if (s->draining && s->nconns == 0 && s->on_empty) {
		void (*cb)(void *) = s->on_empty;
		s->on_empty = NULL;
		cb(s->on_empty_arg);
	}
}

/* Destroys c unless we are inside its own processing loop, which checks
 * `closed` and destroys it on the way out. */
static void conn_close(struct http_conn *c)
{
	c->closed = 1;
	if (!c->in_process)
		conn_destroy(c);
}

static void conn_on_timer(void *arg)
{
	struct http_conn *c = arg;
	switch (c->state) {
	case CONN_HEAD:
		if (c->in.len == 0 && c->out.len == 0) {
			conn_close(c); /* idle keep-alive */
			return;
		}
		/* fall through */
	case CONN_BODY:
		c->srv->stats.timeouts++;
		c->in.len = 0;
		c->keep_alive = 0;
		c->is_head = 0; /* the last request's method, not this one's */
		c->state = CONN_APP; /* so respond accepts it */
		respond_error(c, 408, "request timeout");
		return;
	case CONN_APP:
		return;
	case CONN_CLOSING:
	case CONN_LINGER:
		conn_close(c);
		return;
	}
}

/* Heads (from their first byte), bodies (from the end of the head) and
 * lingering closes each have one deadline, set when the phase begins:
 * bytes trickling in never move it. Idle keep-alive connections and
 * answers being written wait idle_timeout from the last progress. */
static void conn_arm_timer(struct http_conn *c)
{
	struct http_server *s = c->srv;
	uint64_t now = clock_now_ms(), deadline;
	switch (c->state) {
	case CONN_HEAD:
		if (c->in.len == 0 && c->out.len == 0 && (!c->tls || tls_handshake_done(c->tls)))
			deadline = now + s->lim.idle_timeout_ms;
		else
			deadline = c->deadline;
		break;
	case CONN_BODY:
	case CONN_LINGER:
		deadline = c->deadline;
		break;
	case CONN_CLOSING:
		deadline = now + s->lim.idle_timeout_ms;
		break;
	default:
		timer_stop(s->r, &c->timer);
		return;
	}
	if (timer_armed(&c->timer) && c->timer.deadline == deadline)
		return;
	timer_start(s->r, &c->timer, deadline > now ? deadline - now : 0);
}

static void conn_update_events(struct http_conn *c)
{
	uint32_t ev = 0;
	if (c->state == CONN_LINGER || ((c->state == CONN_HEAD || c->state == CONN_BODY) && c->out.len < OUT_HIGH_WATER))
		ev |= EPOLLIN;
	if (c->want_out)
		ev |= EPOLLOUT;
	if (c->tls && c->state != CONN_LINGER)
		ev |= tls_want(c->tls);
	/* one epoll_ctl per request was a tenth of the syscalls on the hot path */
	if (ev != c->events && reactor_set_events(c->srv->r, c->fd, ev) == 0)
		c->events = ev;
}

/* Writes what is queued; -1 when the connection died. */
static int conn_flush(struct http_conn *c)
{
	int r;
	while (c->out.len > 0) {
		ssize_t n = stream_send(c->fd, c->tls, c->out.data, c->out.len, NULL);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			continue;
		}
		if (n == -2) {
			c->want_out = 1;
			return 0;
		}
		return -1;
	}
	if (c->tls && c->state == CONN_CLOSING)
		tls_close(c->tls);
	if (c->tls && (r = tls_flush(c->tls, c->fd)) != 1) {
		c->want_out = r == -2;
		return r == -2 ? 0 : -1;
	}
	c->want_out = 0;
	if (c->out.cap > READ_CHUNK)
		buf_free(&c->out);
	if (c->state == CONN_CLOSING && c->srv->draining) {
		conn_close(c);
		return 0;
	}
	if (c->state == CONN_CLOSING) {
		/* Lingering close: a peer still sending must not get a RST
		 * that would destroy the answer before it reads it. */
		shutdown(c->fd, SHUT_WR);
		c->state = CONN_LINGER;
		c->deadline = clock_now_ms() + LINGER_MS;
		c->in.len = 0;
	}
	return 0;
}

/* ---- responses ---- */

void http_respond(struct http_conn *c, int status, const char *content_type, const char *extra_headers,
		  const char *body, size_t len)
{
	struct http_server *s = c->srv;
	int ok;
	if (c->state != CONN_APP)
		return;
	c->abort_cb = NULL;
	if (s->draining)
		c->keep_alive = 0;
	s->stats.requests[status / 100 <= 5 ? status / 100 : 5]++;
	ok = http_put_head(&c->out, status, len, content_type,
		      c->keep_alive ? (c->minor == 0 ? "Connection: keep-alive\r\n" : "") : "Connection: close\r\n",
		      extra_headers) == 0;
	if (ok && !c->is_head)
		ok = buf_append(&c->out, body, len) == 0;
	if (!ok) {
		log_msg(LOG_WARN, "response dropped: output buffer full", NULL);
		conn_close(c);
		return;
	}
	c->state = c->keep_alive ? CONN_HEAD : CONN_CLOSING;
	c->head_len = 0;
	/* pipelined bytes already here start the next head's clock now */
	c->deadline = clock_now_ms() + s->lim.header_timeout_ms;
	if (!c->in_process) {
		/* a deferred answer: resume the pipeline from the loop */
		c->in_process = 1;
		conn_process(c);
		c->in_process = 0;
		if (c->closed)
			conn_destroy(c);
	}
}

/* The server's own error answers. msg is one of its own or the
 * parser's literal messages, plain text without '"', '\\' or control
 * bytes, so it goes into the body as it is: this layer has no JSON
 * writer (handlers render theirs and answer with http_respond). */
static void respond_error(struct http_conn *c, int status, const char *msg)
{
	struct buf b;
	char mem[256];
	buf_init(&b, sizeof(mem));
	b.data = mem;
	b.cap = sizeof(mem);
	buf_puts(&b, "{\"error\":\"");
	buf_puts(&b, msg);
	buf_puts(&b, "\"}");
	http_respond(c, status, "application/json", NULL, b.data, b.len);
}

void http_respond_405(struct http_conn *c, const char *allow)
{
	char h[96];
	snprintf(h, sizeof(h), "Allow: %s\r\n", allow);
	http_respond(c, 405, "application/json", h, "{\"error\":\"method not allowed\"}", 30);
}

int http_method_is_exact(const struct http_request *req, const char *method)
{
	return strlen(method) == req->method_len && memcmp(req->method, method, req->method_len) == 0;
}

void http_defer(struct http_conn *c, void (*abort_cb)(void *), void *arg)
{
	c->abort_cb = abort_cb;
	c->abort_arg = arg;
}

const struct sockaddr *http_conn_peer(const struct http_conn *c) { return (const struct sockaddr *)&c->peer; }
unsigned http_conn_listener_flags(const struct http_conn *c) { return c->listener_flags; }

/* Answers a request we could not frame and closes after it. */
static void conn_reject(struct http_conn *c, int status, const char *why)
{
	c->srv->stats.parse_errors++;
	c->keep_alive = 0;
	c->is_head = 0;
	c->state = CONN_APP;
	respond_error(c, status, why);
}

/* ---- request processing ---- */

/* Hands the request to the application. req is the head parsed in this
 * same call when the body came with it; NULL when the body came in a
 * later read: then the head is parsed again, from this connection's own
 * buffer into the caller's frame. */
static void dispatch(struct http_conn *c, struct http_request *req, struct http_header *headers)
{
	struct http_server *s = c->srv;
	struct http_request again;
	if (!req) {
		req = &again;
		req->headers = headers;
		if (http_parse_request(c->in.data, c->head_len, req, MAX_HEADERS) != (int)c->head_len) {
			conn_reject(c, 400, "bad request");
			return;
		}
	}
	c->state = CONN_APP;
	s->handle(s->app, c, req, c->in.data + c->head_len, c->body_len);
}

/* Answers a head that outgrew max_header_bytes. */
static void reject_oversized(struct http_conn *c)
{
	if (!memchr(c->in.data, '\n', c->srv->lim.max_header_bytes))
		conn_reject(c, 414, "request line too long");
	else
		conn_reject(c, 431, "request head too large");
}

/* Scans the new bytes of a head at in.data[0..] and parses it into req
 * once complete; 1 when the request can be dispatched or the body is
 * next, 0 when more bytes are needed, -1 when rejected. The scan keeps
 * its place between reads: each byte is looked at once, and an error is
 * answered at the byte that makes it certain, however the head is split.
 * Only the first max_header_bytes are scanned, so the answer is the same
 * whole or in pieces. */
static int take_head(struct http_conn *c, struct http_request *req)
{
	struct http_server *s = c->srv;
	size_t max = s->lim.max_header_bytes;
	int n = http_head_scan(&c->scan, c->in.data, c->in.len < max ? c->in.len : max);
	if (n == -2) {
		if (c->in.len <= max)
			return 0;
		reject_oversized(c);
		return -1;
	}
	if (n == -1) {
		conn_reject(c, c->scan.error_status, c->scan.error);
		return -1;
	}
	n = http_parse_scanned(c->in.data, (size_t)n, &c->scan, req);
	http_head_scan_init(&c->scan, MAX_HEADERS); /* for the next request */
	if (n < 0) {
		conn_reject(c, req->error_status, req->error);
		return -1;
	}
	c->head_len = (size_t)n;
	c->body_kind = req->body;
	c->content_length = req->content_length;
	c->keep_alive = req->keep_alive;
	c->minor = req->minor_version == 1;
	c->is_head = http_token_eq_nocase(req->method, req->method_len, "HEAD");
	c->body_len = 0;
	c->sent_continue = 0;
	c->deadline = clock_now_ms() + s->lim.body_timeout_ms;
	/* as nginx does: a method that carries a body must say how long */
	if (!req->has_length && !(s->empty_body_ok && s->empty_body_ok(s->app, req)) &&
	    (http_method_is_exact(req, "POST") || http_method_is_exact(req, "PUT") || http_method_is_exact(req, "PATCH"))) {
		conn_reject(c, 411, "Content-Length required");
		return -1;
	}
	if (req->body == HTTP_BODY_LENGTH && req->content_length > s->lim.max_body_bytes) {
		conn_reject(c, 413, "request body too large");
		return -1;
	}
	if (req->body == HTTP_BODY_CHUNKED) {
		http_chunked_init(&c->chunked, s->lim.max_body_bytes, s->lim.max_header_bytes);
		c->raw_off = c->head_len;
	}
	if (req->expect_continue && req->body != HTTP_BODY_NONE) {
		size_t have = c->in.len - c->head_len;
		if (req->body == HTTP_BODY_CHUNKED || have < req->content_length) {
			buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
			c->sent_continue = 1;
		}
	}
	c->state = CONN_BODY;
	return 1;
}

/* Advances the body; returns the bytes the whole request occupies once it
 * is complete, 0 when more are needed, -1 when rejected. */
static size_t take_body(struct http_conn *c, int *rejected)
{
	ssize_t r;
	size_t len;
	*rejected = 0;
	if (c->body_kind == HTTP_BODY_NONE)
		return c->head_len;
	if (c->body_kind == HTTP_BODY_LENGTH) {
		c->body_len = (size_t)c->content_length;
		return c->in.len - c->head_len >= c->content_length ? c->head_len + c->body_len : 0;
	}
	len = c->in.len - c->raw_off;
	r = http_chunked_decode(&c->chunked, c->in.data + c->raw_off, &len);
	memmove(c->in.data + c->head_len + c->body_len, c->in.data + c->raw_off, len);
	c->body_len += len;
	if (r == -1) {
		*rejected = 1;
		conn_reject(c, c->chunked.error_status, c->chunked.error);
		return 0;
	}
	if (r == -2) {
		/* all input consumed: drop the framing gap */
		c->in.len = c->head_len + c->body_len;
		c->raw_off = c->in.len;
		return 0;
	}
	{
		/* keep pipelined bytes that follow, right after the body */
		size_t after = c->raw_off + (size_t)r;
		size_t rest = c->in.len - after;
		memmove(c->in.data + c->head_len + c->body_len, c->in.data + after, rest);
		c->in.len = c->head_len + c->body_len + rest;
	}
	return c->head_len + c->body_len;
}

static void conn_process(struct http_conn *c)
{
	/* the parsed head of this connection's current request: here, in
	 * this frame, and nowhere else */
	struct http_header headers[MAX_HEADERS];
	struct http_request req;
	size_t consumed = 0;
	while (!c->closed && (c->state == CONN_HEAD || c->state == CONN_BODY)) {
		size_t total;
		int rejected, fresh = 0;
		if (consumed) {
			buf_consume(&c->in, consumed);
			consumed = 0;
		}
		if (c->state == CONN_HEAD) {
			req.headers = headers;
			if (c->in.len == 0 || take_head(c, &req) <= 0)
				break;
			fresh = 1;
		}
		total = take_body(c, &rejected);
		if (rejected || total == 0)
			break;
		dispatch(c, fresh ? &req : NULL, headers);
		consumed = total;
		if (c->out.len >= OUT_HIGH_WATER)
			break;
	}
	if (consumed && !c->closed)
		buf_consume(&c->in, consumed);
	if (c->closed)
		return;
	if (c->in.len == 0 && c->in.cap)
		buf_free(&c->in);
	if (c->out.len && conn_flush(c) < 0)
		conn_close(c);
	if (c->closed)
		return;
	conn_update_events(c);
	conn_arm_timer(c);
}

/* Reads once (level-triggered epoll calls again if more is waiting). */
static void conn_read(struct http_conn *c, uint32_t events)
{
	struct http_server *s = c->srv;
	size_t room_max = s->lim.max_header_bytes + s->lim.max_body_bytes + READ_CHUNK;
	ssize_t n;
	if (c->state == CONN_LINGER) {
		char sink[4096];
		n = recv(c->fd, sink, sizeof(sink), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}

	c->in.max = room_max;
	if (buf_reserve(&c->in, READ_CHUNK) < 0 && buf_reserve(&c->in, 1) < 0) {
		conn_reject(c, c->state == CONN_BODY ? 413 : 431, "request too large");
		return;
	}
	n = stream_recv(c->fd, c->tls, c->in.data + c->in.len, c->in.cap - c->in.len, NULL);
	if (n == -2)
		return;
	if (n == -1) {
		/* includes a failed TLS handshake: nothing useful to answer */
		conn_close(c);
		return;
	}
	if (n == 0) {
		/* A half-closed peer waiting on a deferred answer still gets
		 * it; EPOLLHUP means both directions are gone. */
		c->keep_alive = 0;
		if (c->state != CONN_APP || (events & EPOLLHUP))
			conn_close(c);
		return;
	}
	if (c->state == CONN_HEAD && c->in.len == 0)
		c->deadline = clock_now_ms() + s->lim.header_timeout_ms;
	c->in.len += (size_t)n;
	conn_process(c);
}

static void conn_io(void *arg, int fd, uint32_t events)
{
	struct http_conn *c = arg;
	(void)fd;
	c->in_process = 1;
	if ((events & EPOLLOUT) && conn_flush(c) < 0)
		conn_close(c);
	if (!c->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(c, events);
	if (!c->closed && (events & EPOLLOUT) && c->state == CONN_HEAD && c->in.len)
		conn_process(c);
	if (!c->closed) {
		conn_update_events(c);
		if (c->state != CONN_APP)
			conn_arm_timer(c);
	}
	c->in_process = 0;
	if (c->closed)
		conn_destroy(c);
}

/* ---- new connections (listener.c accepts them) ---- */

int http_conn_new(struct http_server *s, int fd, const struct sockaddr_storage *peer, struct tls_server_ctx *tls,
		  unsigned flags)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	int one = 1;
	if (!c)
		return -1;
	if (tls && !(c->tls = tls_server_new(tls))) {
		free(c);
		return -1;
	}
	/* a TLS handshake counts against the first head's deadline */
	c->deadline = clock_now_ms() + s->lim.header_timeout_ms;
	http_head_scan_init(&c->scan, MAX_HEADERS);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = s;
	c->fd = fd;
	c->peer = *peer;
	c->listener_flags = flags;
	c->state = CONN_HEAD;
	buf_init(&c->in, s->lim.max_header_bytes + s->lim.max_body_bytes + READ_CHUNK);
	buf_init(&c->out, OUT_MAX);
	timer_init(&c->timer, conn_on_timer, c);
	c->events = EPOLLIN;
	if (reactor_add(s->r, fd, EPOLLIN, conn_io, c) < 0) {
		tls_free(c->tls);
		free(c);
		return -1;
	}
	list_push_front(&s->conns, &c->link);
	s->nconns++;
	s->stats.connections_open++;
	conn_arm_timer(c);
	return 0;
}

/* ---- server ---- */

struct http_server *http_server_new(struct reactor *r, const struct http_server_limits *limits,
				    http_handler_fn handle, void *app)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->r = r;
	s->lim = *limits;
	s->handle = handle;
	s->app = app;
	list_init(&s->conns);
	listener_init(s);
	return s;
}

void http_server_set_limits(struct http_server *s, const struct http_server_limits *limits) { s->lim = *limits; }

void http_server_empty_body_ok(struct http_server *s, http_empty_body_fn fn) { s->empty_body_ok = fn; }

void http_server_drain(struct http_server *s, void (*on_empty)(void *), void *arg)
{
	s->draining = 1;
	s->on_empty = on_empty;
	s->on_empty_arg = arg;
	listener_close(s);
	list_for_each_safe(it, nx, &s->conns) {
		struct http_conn *c = list_entry(it, struct http_conn, link);
		if ((c->state == CONN_HEAD && c->in.len == 0 && c->out.len == 0) || c->state == CONN_LINGER)
			conn_close(c);
		else
			c->keep_alive = 0;
	}
	if (s->nconns == 0 && s->on_empty) {
		s->on_empty = NULL;
		on_empty(arg);
	}
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	s->on_empty = NULL;
	while (!list_empty(&s->conns))
		conn_destroy(list_first(&s->conns, struct http_conn, link));
	listener_free(s);
	free(s);
}

const struct http_server_stats *http_server_stats(const struct http_server *s) { return &s->stats; }
size_t http_server_open_connections(const struct http_server *s) { return s->nconns; }
