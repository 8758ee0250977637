/* client: requests on one connection of a pool (see pool.c): resolve,
 * connect address by address, write the request while reading whatever
 * answer comes, parse the response, and report the outcome to the op's
 * caller, failures always from the loop. */
#include "edgehook/client_internal.h"
#include "edgehook/addr.h"
#include "edgehook/clock.h"
#include "edgehook/message.h"
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

enum { RESP_HEADERS = 64 };

static void conn_io_handler(void *arg, int fd, uint32_t events);

/* ---- ops ---- */

void client_op_free(struct http_client_op *op)
{
	timer_stop(op->c->r, &op->timer);
	defer_cancel(&op->report);
	buf_free(&op->out);
	op->c->in_flight--;
	free(op);
}

/* Detaches op from everything, calls back, frees it. Only ever called
 * from a loop handler, never under http_client_send/cancel. */
static void op_complete(struct http_client_op *op, struct http_client_result *res)
{
	struct http_client *c = op->c;
	pool_op_unlink(op);
	if (op->conn)
		op->conn->op = NULL;
	op->conn = NULL;
	timer_stop(c->r, &op->timer);
	res->duration_ms = clock_now_ms() - op->started;
	if (res->status == 0)
		c->stats.failures++;
	op->cb(op->arg, res);
	client_op_free(op);
}

static void op_complete_error(struct http_client_op *op, const char *err)
{
	struct http_client_result res;
	memset(&res, 0, sizeof(res));
	res.error = err;
	op_complete(op, &res);
}

static void on_op_report(void *arg)
{
	struct http_client_op *op = arg;
	op_complete_error(op, op->end_err);
}

/* Ends op with err, reported from the loop (the reactor's defer queue):
 * a failure can be found while http_client_send or http_client_cancel
 * is on the stack (a dead pooled connection, a refused connect), and
 * their callers must never see the callback run there (client.h). */
static void op_fail(struct http_client_op *op, const char *err)
{
	struct http_client *c = op->c;
	pool_op_unlink(op);
	if (op->conn)
		op->conn->op = NULL;
	op->conn = NULL;
	op->end_err = err;
	op->state = OP_ENDING;
	timer_stop(c->r, &op->timer); /* the report ends it now */
	list_push_front(&c->ending, &op->link);
	reactor_defer(c->r, &op->report);
}

static void on_op_timer(void *arg)
{
	struct http_client_op *op = arg;
	struct pool *p = op->pool;
	p->c->stats.timeouts++;
	if (op->conn) {
		struct cconn *cc = op->conn;
		cc->op = NULL;
		op->conn = NULL;
		pool_conn_close(cc);
	}
	op_complete_error(op, "timeout");
	pool_dispatch(p);
}

/* ---- connection failures ---- */

/* A request that died on a reused connection before any response byte
 * goes out once more on a fresh one: the peer probably closed the idle
 * connection as we wrote. Otherwise the op fails with err. */
static void conn_fail(struct cconn *cc, const char *err)
{
	struct pool *p = cc->pool;
	struct http_client_op *op = cc->op;
	int resend = op && cc->reused && !cc->got_bytes && !op->resent;
	pool_conn_close(cc);
	if (op && resend) {
		op->resent = 1;
		p->c->stats.resent++;
		pool_queue_push(p, op, 1);
	} else if (op) {
		op_fail(op, err);
	}
	pool_dispatch(p);
}

/* For failures found while pool_dispatch is on the stack (connect and
 * resolve can fail synchronously): closing cc there would pull it from
 * under its caller, so the failure goes through the loop. */
static void conn_defer_fail(struct cconn *cc, const char *err)
{
	struct reactor *r = cc->pool->c->r;
	cc->deferred_err = err;
	timer_stop(r, &cc->timer); /* no connect timeout over it */
	reactor_defer(r, &cc->fail);
}

void client_on_conn_fail(void *arg)
{
	struct cconn *cc = arg;
	conn_fail(cc, cc->deferred_err);
}

/* EPOLLIN always: a response (early or not) or the peer's close.
 * EPOLLOUT only while bytes wait for room; over TLS only while the
 * engine has records to send (SENDREC), never while it waits for the
 * peer's records (RECVREC): the socket is writable all that time and
 * the loop would spin. */
static void conn_events(struct cconn *cc, int want_out)
{
	uint32_t ev = EPOLLIN;
	if (cc->tls ? (tls_want(cc->tls) & EPOLLOUT) != 0 : want_out)
		ev |= EPOLLOUT;
	if (ev != cc->events && reactor_set_events(cc->pool->c->r, cc->fd, ev) == 0)
		cc->events = ev;
}

static int writing(const struct cconn *cc) { return cc->written < cc->op->out.len && !cc->write_err; }

/* Never fails the op from here (this runs under http_client_send for a
 * pooled connection): a plain socket error waits for the read side,
 * where an early answer may still be waiting; a TLS error goes through
 * the loop. */
static void conn_write(struct cconn *cc)
{
	struct http_client_op *op = cc->op;
	const char *why = NULL;
	while (cc->written < op->out.len) {
		ssize_t n = stream_send(cc->fd, cc->tls, op->out.data + cc->written, op->out.len - cc->written, &why);
		if (n > 0) {
			cc->written += (size_t)n;
			continue;
		}
		if (n == -2) {
			conn_events(cc, 1);
			return;
		}
		why = why ? why : "connection reset";
		if (cc->tls) {
			conn_defer_fail(cc, why);
			return;
		}
		cc->write_err = why;
		conn_events(cc, 0);
		return;
	}
	if (cc->tls && tls_flush(cc->tls, cc->fd) == -1) {
		conn_defer_fail(cc, tls_error(cc->tls));
		return;
	}
	conn_events(cc, 0);
}

static void conn_start_request(struct cconn *cc)
{
	cc->state = CC_BUSY;
	cc->written = 0;
	cc->head_len = cc->body_len = 0;
	cc->got_bytes = cc->no_reuse = 0;
	cc->write_err = cc->deferred_err = NULL;
	cc->in.len = 0;
	conn_write(cc);
}

/* ---- connecting ---- */

static void conn_connect(struct cconn *cc);

/* The next address of the name, or the end with err. */
static void conn_next_addr(struct cconn *cc, const char *err)
{
	if (cc->addr_idx + 1 >= cc->addrs.n) {
		conn_fail(cc, err);
		return;
	}
	reactor_close(cc->pool->c->r, &cc->fd);
	cc->addr_idx++;
	conn_connect(cc);
}

static void conn_connect(struct cconn *cc)
{
	struct pool *p = cc->pool;
	struct sockaddr_storage *ss = &cc->addrs.addr[cc->addr_idx];
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	addr_set_port(ss, p->port);
	cc->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cc->fd < 0) {
		conn_defer_fail(cc, stream_errno_reason(errno));
		return;
	}
	setsockopt(cc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cc->state = CC_CONNECTING;
	if (connect(cc->fd, (struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(cc->fd);
		cc->fd = -1;
		conn_defer_fail(cc, stream_errno_reason(e));
		return;
	}
	p->c->stats.connections_opened++;
	cc->events = EPOLLOUT;
	if (reactor_add(p->c->r, cc->fd, EPOLLOUT, conn_io_handler, cc) < 0) {
		conn_defer_fail(cc, "out of memory");
		return;
	}
	/* each address gets its share of the attempt: a black-holed first
	 * address must leave time for the others */
	if (cc->addr_idx + 1 < cc->addrs.n && cc->op)
		timer_start(p->c->r, &cc->timer, cc->op->timeout_ms / (uint64_t)cc->addrs.n);
}

static void on_resolved(void *arg, const char *err, const struct dns_result *res)
{
	struct cconn *cc = arg;
	cc->dw = NULL;
	if (err || res->n == 0) {
		conn_defer_fail(cc, err ? err : "dns: no address");
		return;
	}
	cc->addrs = *res;
	cc->addr_idx = 0;
	conn_connect(cc);
}

static void on_connected(struct cconn *cc)
{
	struct http_client *c = cc->pool->c;
	int err = 0;
	socklen_t len = sizeof(err);
	timer_stop(c->r, &cc->timer);
	getsockopt(cc->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		conn_next_addr(cc, stream_errno_reason(err));
		return;
	}
	if (cc->pool->scheme == URL_HTTPS) {
		if (!c->tls) {
			conn_fail(cc, "tls: no trust anchors (webhook.ca_file)");
			return;
		}
		cc->tls = tls_client_new(c->tls, cc->pool->host, cc->pool->session);
		if (!cc->tls) {
			conn_fail(cc, "tls: cannot start a session");
			return;
		}
		c->stats.tls_handshakes++;
	}
	conn_start_request(cc);
}

void client_on_conn_timer(void *arg)
{
	struct cconn *cc = arg;
	if (cc->state == CC_CONNECTING)
		conn_next_addr(cc, "connect timeout");
	else
		pool_conn_close(cc); /* idle too long */
}

void client_conn_begin(struct cconn *cc, int fresh)
{
	if (fresh)
		cc->dw = dns_resolve(cc->pool->c->dns, cc->pool->host, on_resolved, cc);
	else
		conn_start_request(cc);
}

/* ---- responses ---- */

static void conn_finish(struct cconn *cc, int reusable)
{
	struct pool *p = cc->pool;
	struct http_client *c = p->c;
	struct http_client_op *op = cc->op;
	struct http_client_result res;
	struct http_header headers[RESP_HEADERS];
	struct http_response resp;
	const struct http_header *ra;
	/* an answer before the whole request went out leaves the rest of it
	 * unsent: the connection's framing is lost */
	reusable = reusable && !cc->no_reuse && cc->written == op->out.len && !cc->write_err;
	memset(&res, 0, sizeof(res));
	res.status = cc->status;
	res.reused = cc->reused;
	res.body = cc->in.data ? cc->in.data + cc->head_len : "";
	res.body_len = cc->body_len;
	resp.headers = headers;
	if (http_parse_response(cc->in.data, cc->head_len, &resp, RESP_HEADERS, 0) > 0 &&
	    (ra = http_find_header(headers, resp.num_headers, "retry-after")) != NULL) {
		res.retry_after = ra->value;
		res.retry_after_len = ra->value_len;
	}
	if (cc->tls && !cc->reused) {
		struct tls_session *s = tls_session_save(cc->tls);
		if (tls_resumed(cc->tls))
			c->stats.tls_resumed++;
		if (s) {
			free(p->session);
			p->session = s;
		}
	}
	op_complete(op, &res);
	if (reusable)
		pool_conn_idle(cc);
	else
		pool_conn_close(cc);
	pool_dispatch(p);
}

/* Content-Length or Transfer-Encoding on a response that cannot have a
 * body (1xx, 204): the peer's framing is not to be trusted after it. */
static int announces_body(const struct http_response *r)
{
	const struct http_header *h = http_find_header(r->headers, r->num_headers, "content-length");
	if (h && !(h->value_len == 1 && h->value[0] == '0'))
		return 1;
	return http_find_header(r->headers, r->num_headers, "transfer-encoding") != NULL;
}

/* Parses the head once it is complete, skipping interim (1xx) answers
 * in a loop: 1 head parsed, 0 need more, -1 cc failed. */
static int conn_parse_head(struct cconn *cc, int eof)
{
	size_t off = 0;
	for (;;) {
		struct http_header headers[RESP_HEADERS];
		struct http_response resp;
		int n;
		resp.headers = headers;
		n = http_parse_response(cc->in.data + off, cc->in.len - off, &resp, RESP_HEADERS, 0);
		if (n > 0 && resp.status < 200) {
			cc->no_reuse |= (unsigned)announces_body(&resp);
			off += (size_t)n;
			continue;
		}
		if (off)
			buf_consume(&cc->in, off);
		if (n == -2) {
			if (cc->in.len > CLIENT_MAX_HEAD)
				conn_fail(cc, "bad response: head too large");
			else if (eof)
				conn_fail(cc, cc->in.len ? "bad response: truncated"
						: cc->write_err ? cc->write_err : "connection closed");
			else
				return 0;
			return -1;
		}
		if (n < 0) {
			conn_fail(cc, "bad response");
			return -1;
		}
		if (resp.status == 204)
			cc->no_reuse |= (unsigned)announces_body(&resp);
		cc->head_len = (size_t)n;
		cc->status = resp.status;
		cc->body = resp.body;
		cc->clen = resp.content_length;
		cc->keep_alive = resp.keep_alive;
		cc->raw_off = cc->head_len;
		if (resp.body == HTTP_BODY_CHUNKED)
			http_chunked_init(&cc->chunked, CLIENT_MAX_BODY, CLIENT_MAX_HEAD);
		return 1;
	}
}

/* Parses what arrived; finishes the op when the response is complete.
 * 1 when the op is done with cc (finished or failed), 0 to read on. */
static int conn_parse(struct cconn *cc, int eof)
{
	if (cc->head_len == 0) {
		int r = conn_parse_head(cc, eof);
		if (r <= 0)
			return r < 0;
	}
	switch (cc->body) {
	case HTTP_BODY_NONE:
		conn_finish(cc, cc->keep_alive && cc->in.len == cc->head_len && !eof);
		return 1;
	case HTTP_BODY_LENGTH:
		if (cc->clen > CLIENT_MAX_BODY) {
			cc->body_len = cc->in.len - cc->head_len;
			conn_finish(cc, 0);
		} else if (cc->in.len - cc->head_len >= cc->clen) {
			cc->body_len = (size_t)cc->clen;
			conn_finish(cc, cc->keep_alive && cc->in.len == cc->head_len + cc->clen && !eof);
		} else if (eof) {
			conn_fail(cc, "bad response: truncated body");
		} else {
			return 0;
		}
		return 1;
	case HTTP_BODY_CHUNKED: {
		size_t avail = cc->in.len - cc->raw_off, len = avail;
		ssize_t r = http_chunked_decode(&cc->chunked, cc->in.data + cc->raw_off, &len);
		memmove(cc->in.data + cc->head_len + cc->body_len, cc->in.data + cc->raw_off, len);
		cc->body_len += len;
		cc->in.len = cc->head_len + cc->body_len;
		cc->raw_off = cc->in.len;
		/* bytes after the last chunk were never asked for: do not reuse */
		if (r >= 0)
			conn_finish(cc, cc->keep_alive && !eof && (size_t)r == avail);
		else if (r == -1 && cc->chunked.error_status == 413)
			conn_finish(cc, 0);
		else if (r == -1)
			conn_fail(cc, "bad response: chunked encoding");
		else if (eof)
			conn_fail(cc, "bad response: truncated body");
		else
			return 0;
		return 1;
	}
	case HTTP_BODY_UNTIL_CLOSE:
		cc->body_len = cc->in.len - cc->head_len;
		/* after a handshake, a TCP close without close_notify may be a
		 * truncation by anyone on the path: not the end of this body */
		if (eof && cc->tls && !tls_close_notified(cc->tls))
			conn_fail(cc, "bad response: truncated (no TLS close_notify)");
		else if (eof || cc->body_len > CLIENT_MAX_BODY)
			conn_finish(cc, 0);
		else
			return 0;
		return 1;
	}
	return 0;
}

/* 1 when the op is done with cc, 0 to wait for more. */
static int conn_read(struct cconn *cc)
{
	const char *why = NULL;
	ssize_t n;
	if (buf_reserve(&cc->in, CLIENT_READ_CHUNK) < 0)
		return conn_parse(cc, 1); /* over the cap: what we have decides */
	n = stream_recv(cc->fd, cc->tls, cc->in.data + cc->in.len, cc->in.cap - cc->in.len, &why);
	if (n == -2) {
		conn_events(cc, writing(cc));
		return 0;
	}
	if (n == -1) {
		conn_fail(cc, cc->write_err && !cc->got_bytes ? cc->write_err : why);
		return 1;
	}
	if (n > 0) {
		cc->got_bytes = 1;
		cc->in.len += (size_t)n;
	}
	return conn_parse(cc, n == 0);
}

/* Reads before writing: an endpoint may answer (413, 503) before it has
 * read the whole request, and then close; that answer ends the attempt. */
static void conn_busy_io(struct cconn *cc, uint32_t events)
{
	if (cc->deferred_err)
		return;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(cc))
		return;
	if (writing(cc)) {
		conn_write(cc);
		return;
	}
	if (cc->tls) {
		if (tls_flush(cc->tls, cc->fd) == -1) {
			conn_fail(cc, tls_error(cc->tls));
			return;
		}
		conn_events(cc, 0);
	}
}

static void conn_io_handler(void *arg, int fd, uint32_t events)
{
	struct cconn *cc = arg;
	(void)fd;
	switch (cc->state) {
	case CC_CONNECTING:
		on_connected(cc);
		return;
	case CC_IDLE:
		/* closed by the peer (or unsolicited bytes): unusable */
		cc->pool->c->stats.idle_closed_by_peer++;
		pool_conn_close(cc);
		return;
	case CC_BUSY:
		conn_busy_io(cc, events);
		return;
	case CC_RESOLVING:
		return;
	}
}

/* ---- API ---- */

struct http_client_op *http_client_send(struct http_client *c, const struct http_client_request *req,
					http_client_cb cb, void *arg)
{
	struct http_client_op *op;
	struct pool *p = pool_get(c, req->url, req->max_in_flight);
	int ok;
	if (!p)
		return NULL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->c = c;
	op->pool = p;
	op->cb = cb;
	op->arg = arg;
	op->started = clock_now_ms();
	op->timeout_ms = req->timeout_ms;
	buf_init(&op->out, CLIENT_MAX_HEAD + req->body_len);
	/* one allocation for the whole request */
	ok = buf_reserve(&op->out, strlen(req->url->path) + (req->headers ? strlen(req->headers) : 0) + 96 + req->body_len);
	ok |= http_put_request_head(&op->out, req->method, req->url, req->body_len, req->headers);
	ok |= buf_append(&op->out, req->body, req->body_len);
	if (ok != 0) {
		buf_free(&op->out);
		free(op);
		return NULL;
	}
	timer_init(&op->timer, on_op_timer, op);
	defer_init(&op->report, on_op_report, op);
	list_init(&op->link);
	timer_start(c->r, &op->timer, req->timeout_ms);
	c->in_flight++;
	c->stats.requests++;
	pool_queue_push(p, op, 0);
	pool_dispatch(p);
	return op;
}

void http_client_cancel(struct http_client_op *op)
{
	struct pool *p = op->pool;
	pool_op_unlink(op);
	if (op->conn) {
		struct cconn *cc = op->conn;
		cc->op = NULL;
		op->conn = NULL;
		pool_conn_close(cc);
	}
	client_op_free(op);
	pool_dispatch(p);
}
