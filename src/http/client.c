#include "edgehook/client.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/dns.h"
#include "edgehook/http_parser.h"
#include "edgehook/reactor.h"
#include "edgehook/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	MAX_HEAD = 16384,
	MAX_BODY = 65536,
	IDLE_MS = 30000,
	PROBE_AFTER_MS = 1000,
	RESP_HEADERS = 64,
	READ_CHUNK = 16384,
};

enum cconn_state {
	CC_RESOLVING,  /* waiting for DNS */
	CC_CONNECTING, /* non-blocking connect in progress */
	CC_BUSY,       /* writing a request or reading its response */
	CC_IDLE,       /* keep-alive, in the pool */
};

struct pool;

struct cconn {
	struct pool *pool;
	enum cconn_state state;
	int fd;
	struct dns_waiter *dw;
	struct dns_result addrs;
	int addr_idx;
	struct http_client_op *op;
	struct buf in;
	size_t written;
	unsigned reused : 1, got_bytes : 1, keep_alive : 1;
	const char *deferred_err; /* failure to report from the loop */
	/* response being read */
	size_t head_len, body_len, raw_off;
	int status;
	enum http_body body;
	uint64_t clen;
	struct http_chunked chunked;
	struct timer timer; /* idle expiry, or deferred failure */
	struct tls_conn *tls;              /* https only */
	uint32_t events;                   /* what epoll watches now */
	uint64_t idle_since;
	struct cconn *prev, *next;         /* pool's idle list */
	struct cconn *all_prev, *all_next; /* every connection of the pool */
};

struct http_client_op {
	struct http_client *c;
	struct pool *pool;
	struct buf out;
	uint64_t started;
	struct timer timer;
	http_client_cb cb;
	void *arg;
	struct cconn *conn;
	int resent, queued;
	struct http_client_op *prev, *next;
};

struct pool {
	struct http_client *c;
	enum url_scheme scheme;
	char host[256];
	uint16_t port;
	unsigned max_conns, nconns;
	struct cconn *idle, *all;
	struct tls_session *session; /* for resumption on new connections */
	struct http_client_op *wait_head, *wait_tail;
	struct pool *next;
};

struct http_client {
	struct reactor *r;
	struct dns *dns;
	struct tls_client_ctx *tls;
	struct pool *pools;
	size_t in_flight;
	struct http_client_stats stats;
};

static void pool_dispatch(struct pool *p);
static void conn_io(void *arg, int fd, uint32_t events);

/* ---- ops ---- */

static void queue_remove(struct pool *p, struct http_client_op *op)
{
	if (!op->queued)
		return;
	if (op->prev)
		op->prev->next = op->next;
	else
		p->wait_head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	else
		p->wait_tail = op->prev;
	op->prev = op->next = NULL;
	op->queued = 0;
}

static void queue_push(struct pool *p, struct http_client_op *op, int front)
{
	op->queued = 1;
	if (front) {
		op->prev = NULL;
		op->next = p->wait_head;
		if (p->wait_head)
			p->wait_head->prev = op;
		else
			p->wait_tail = op;
		p->wait_head = op;
	} else {
		op->next = NULL;
		op->prev = p->wait_tail;
		if (p->wait_tail)
			p->wait_tail->next = op;
		else
			p->wait_head = op;
		p->wait_tail = op;
	}
}

static void op_free(struct http_client_op *op)
{
	timer_stop(op->c->r, &op->timer);
	buf_free(&op->out);
	op->c->in_flight--;
	free(op);
}

/* Detaches op from everything, calls back, frees it. */
static void op_complete(struct http_client_op *op, struct http_client_result *res)
{
	struct http_client *c = op->c;
	queue_remove(op->pool, op);
	if (op->conn)
		op->conn->op = NULL;
	op->conn = NULL;
	timer_stop(c->r, &op->timer);
	res->duration_ms = clock_now_ms() - op->started;
	if (res->status == 0)
		c->stats.failures++;
	op->cb(op->arg, res);
	op_free(op);
}

static void op_fail(struct http_client_op *op, const char *err)
{
	struct http_client_result res;
	memset(&res, 0, sizeof(res));
	res.error = err;
	op_complete(op, &res);
}

/* ---- connections ---- */

static void conn_close(struct cconn *cc)
{
	struct pool *p = cc->pool;
	struct http_client *c = p->c;
	if (cc->dw)
		dns_cancel(cc->dw);
	reactor_close(c->r, &cc->fd);
	timer_stop(c->r, &cc->timer);
	if (cc->state == CC_IDLE) {
		if (cc->prev)
			cc->prev->next = cc->next;
		else
			p->idle = cc->next;
		if (cc->next)
			cc->next->prev = cc->prev;
	}
	if (cc->op)
		cc->op->conn = NULL;
	tls_free(cc->tls);
	if (cc->all_prev)
		cc->all_prev->all_next = cc->all_next;
	else
		p->all = cc->all_next;
	if (cc->all_next)
		cc->all_next->all_prev = cc->all_prev;
	buf_free(&cc->in);
	p->nconns--;
	free(cc);
}

static const char *errno_reason(int e)
{
	switch (e) {
	case ECONNREFUSED: return "connection refused";
	case ECONNRESET: case EPIPE: return "connection reset";
	case ETIMEDOUT: return "timeout";
	case EHOSTUNREACH: return "host unreachable";
	case ENETUNREACH: return "network unreachable";
	default: return strerror(e);
	}
}

/* A request that died on a reused connection before any response byte
 * goes out once more on a fresh one: the peer probably closed the idle
 * connection as we wrote. Otherwise the op fails with err. */
static void conn_fail(struct cconn *cc, const char *err)
{
	struct pool *p = cc->pool;
	struct http_client_op *op = cc->op;
	int resend = op && cc->reused && !cc->got_bytes && !op->resent;
	conn_close(cc);
	if (op && resend) {
		op->resent = 1;
		p->c->stats.resent++;
		queue_push(p, op, 1);
	} else if (op) {
		op_fail(op, err);
	}
	pool_dispatch(p);
}

/* For failures found while the caller of http_client_send is still on
 * the stack: report them from the loop instead. */
static void conn_defer_fail(struct cconn *cc, const char *err)
{
	cc->deferred_err = err;
	timer_start(cc->pool->c->r, &cc->timer, 0);
}

static void on_conn_timer(void *arg)
{
	struct cconn *cc = arg;
	if (cc->deferred_err)
		conn_fail(cc, cc->deferred_err);
	else
		conn_close(cc); /* idle too long */
}

/* The transport: plain TCP, or TLS when the pool is https. Both return
 * n > 0, 0 for EOF (recv), -2 to wait, -1 for an error (reason set). */
static ssize_t conn_send(struct cconn *cc, const char *data, size_t len, const char **why)
{
	ssize_t n;
	if (cc->tls) {
		n = tls_write(cc->tls, cc->fd, data, len);
		if (n == -1)
			*why = tls_error(cc->tls);
		return n;
	}
	n = send(cc->fd, data, len, MSG_NOSIGNAL);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -2;
	*why = errno_reason(errno);
	return -1;
}

static ssize_t conn_recv(struct cconn *cc, char *buf, size_t cap, const char **why)
{
	ssize_t n;
	if (cc->tls) {
		n = tls_read(cc->tls, cc->fd, buf, cap);
		if (n == -1)
			*why = tls_error(cc->tls);
		return n;
	}
	n = recv(cc->fd, buf, cap, 0);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -2;
	*why = errno_reason(errno);
	return -1;
}

static void conn_events(struct cconn *cc, uint32_t ev)
{
	if (cc->tls)
		ev |= tls_want(cc->tls);
	if (ev != cc->events && reactor_set_events(cc->pool->c->r, cc->fd, ev) == 0)
		cc->events = ev;
}

static void conn_write(struct cconn *cc)
{
	struct http_client_op *op = cc->op;
	const char *why = NULL;
	while (cc->written < op->out.len) {
		ssize_t n = conn_send(cc, op->out.data + cc->written, op->out.len - cc->written, &why);
		if (n > 0) {
			cc->written += (size_t)n;
			continue;
		}
		if (n == -2) {
			conn_events(cc, EPOLLIN | EPOLLOUT);
			return;
		}
		conn_fail(cc, why ? why : "connection reset");
		return;
	}
	if (cc->tls && tls_flush(cc->tls, cc->fd) == -1) {
		conn_fail(cc, tls_error(cc->tls));
		return;
	}
	conn_events(cc, EPOLLIN);
}

static void conn_start_request(struct cconn *cc)
{
	cc->state = CC_BUSY;
	cc->written = 0;
	cc->head_len = cc->body_len = 0;
	cc->got_bytes = 0;
	cc->in.len = 0;
	conn_write(cc);
}

static void conn_connect(struct cconn *cc)
{
	struct pool *p = cc->pool;
	struct sockaddr_storage *ss = &cc->addrs.addr[cc->addr_idx];
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(p->port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(p->port);
	cc->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cc->fd < 0) {
		conn_defer_fail(cc, errno_reason(errno));
		return;
	}
	setsockopt(cc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cc->state = CC_CONNECTING;
	if (connect(cc->fd, (struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(cc->fd);
		cc->fd = -1;
		conn_defer_fail(cc, errno_reason(e));
		return;
	}
	p->c->stats.connections_opened++;
	cc->events = EPOLLOUT;
	if (reactor_add(p->c->r, cc->fd, EPOLLOUT, conn_io, cc) < 0)
		conn_defer_fail(cc, "out of memory");
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
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(cc->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		/* try the next address before giving up */
		if (cc->addr_idx + 1 < cc->addrs.n) {
			reactor_close(cc->pool->c->r, &cc->fd);
			cc->addr_idx++;
			conn_connect(cc);
			return;
		}
		conn_fail(cc, errno_reason(err));
		return;
	}
	if (cc->pool->scheme == URL_HTTPS) {
		struct http_client *c = cc->pool->c;
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
	cc->op = NULL;
	op->conn = NULL;
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
	if (!reusable) {
		conn_close(cc);
	} else {
		cc->state = CC_IDLE;
		cc->reused = 1;
		cc->idle_since = clock_now_ms();
		buf_free(&cc->in);
		cc->prev = NULL;
		cc->next = p->idle;
		if (p->idle)
			p->idle->prev = cc;
		p->idle = cc;
		conn_events(cc, EPOLLIN);
		timer_start(c->r, &cc->timer, IDLE_MS);
	}
	pool_dispatch(p);
}

/* Parses what arrived; finishes the op when the response is complete. */
static void conn_parse(struct cconn *cc, int eof)
{
	if (cc->head_len == 0) {
		struct http_header headers[RESP_HEADERS];
		struct http_response resp;
		int n;
		resp.headers = headers;
		n = http_parse_response(cc->in.data, cc->in.len, &resp, RESP_HEADERS, 0);
		if (n == -2) {
			if (cc->in.len > MAX_HEAD)
				conn_fail(cc, "bad response: head too large");
			else if (eof)
				conn_fail(cc, cc->in.len ? "bad response: truncated" : "connection closed");
			return;
		}
		if (n < 0) {
			conn_fail(cc, "bad response");
			return;
		}
		if (resp.status < 200) {
			/* interim response: drop it, the real one follows */
			buf_consume(&cc->in, (size_t)n);
			conn_parse(cc, eof);
			return;
		}
		cc->head_len = (size_t)n;
		cc->status = resp.status;
		cc->body = resp.body;
		cc->clen = resp.content_length;
		cc->keep_alive = resp.keep_alive;
		cc->raw_off = cc->head_len;
		if (resp.body == HTTP_BODY_CHUNKED)
			http_chunked_init(&cc->chunked, MAX_BODY, MAX_HEAD);
	}
	switch (cc->body) {
	case HTTP_BODY_NONE:
		conn_finish(cc, cc->keep_alive && cc->in.len == cc->head_len && !eof);
		return;
	case HTTP_BODY_LENGTH:
		if (cc->clen > MAX_BODY) {
			cc->body_len = cc->in.len - cc->head_len;
			conn_finish(cc, 0);
		} else if (cc->in.len - cc->head_len >= cc->clen) {
			cc->body_len = (size_t)cc->clen;
			conn_finish(cc, cc->keep_alive && cc->in.len == cc->head_len + cc->clen && !eof);
		} else if (eof) {
			conn_fail(cc, "bad response: truncated body");
		}
		return;
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
		return;
	}
	case HTTP_BODY_UNTIL_CLOSE:
		cc->body_len = cc->in.len - cc->head_len;
		if (eof || cc->body_len > MAX_BODY)
			conn_finish(cc, 0);
		return;
	}
}

static void conn_read(struct cconn *cc)
{
	const char *why = NULL;
	ssize_t n;
	if (buf_reserve(&cc->in, READ_CHUNK) < 0) {
		/* over the cap: what we have decides */
		conn_parse(cc, 1);
		return;
	}
	n = conn_recv(cc, cc->in.data + cc->in.len, cc->in.cap - cc->in.len, &why);
	if (n == -2) {
		conn_events(cc, EPOLLIN);
		return;
	}
	if (n == -1) {
		conn_fail(cc, why);
		return;
	}
	if (n > 0) {
		cc->got_bytes = 1;
		cc->in.len += (size_t)n;
	}
	conn_parse(cc, n == 0);
}

static void conn_io(void *arg, int fd, uint32_t events)
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
		conn_close(cc);
		return;
	case CC_BUSY:
		if (cc->written < cc->op->out.len) {
			/* TLS may need to read handshake records to write */
			conn_write(cc);
			return;
		}
		if (cc->tls && (events & EPOLLOUT) && tls_flush(cc->tls, cc->fd) == -1) {
			conn_fail(cc, tls_error(cc->tls));
			return;
		}
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_read(cc);
		return;
	case CC_RESOLVING:
		return;
	}
}

/* ---- pools ---- */

/* An idle connection whose peer has not closed it, or NULL. */
static struct cconn *take_idle(struct pool *p)
{
	while (p->idle) {
		struct cconn *cc = p->idle;
		char probe;
		ssize_t n;
		p->idle = cc->next;
		if (p->idle)
			p->idle->prev = NULL;
		cc->next = cc->prev = NULL;
		cc->state = CC_BUSY;
		timer_stop(p->c->r, &cc->timer);
		/* Idle connections are watched for EPOLLIN, and a request lost on
		 * one is resent once; the probe (a syscall per reuse) only pays
		 * after a pause long enough for a peer's keep-alive timeout. */
		if (clock_now_ms() - cc->idle_since < PROBE_AFTER_MS)
			return cc;
		n = recv(cc->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return cc;
		p->c->stats.idle_closed_by_peer++;
		conn_close(cc);
	}
	return NULL;
}

static struct cconn *conn_new(struct pool *p)
{
	struct cconn *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	cc->pool = p;
	cc->fd = -1;
	cc->state = CC_RESOLVING;
	buf_init(&cc->in, MAX_HEAD + MAX_BODY + READ_CHUNK);
	timer_init(&cc->timer, on_conn_timer, cc);
	cc->all_next = p->all;
	if (p->all)
		p->all->all_prev = cc;
	p->all = cc;
	p->nconns++;
	return cc;
}

static void pool_dispatch(struct pool *p)
{
	while (p->wait_head) {
		struct http_client_op *op;
		struct cconn *cc = take_idle(p);
		int fresh = 0;
		if (!cc) {
			if (p->nconns >= p->max_conns)
				return;
			cc = conn_new(p);
			if (!cc)
				return; /* the op's timer reports it */
			fresh = 1;
		} else {
			p->c->stats.reused++;
		}
		op = p->wait_head;
		queue_remove(p, op);
		op->conn = cc;
		cc->op = op;
		if (!fresh) {
			conn_start_request(cc);
			continue;
		}
		cc->dw = dns_resolve(p->c->dns, p->host, on_resolved, cc);
	}
}

static struct pool *pool_get(struct http_client *c, const struct url *u)
{
	struct pool *p;
	for (p = c->pools; p; p = p->next)
		if (p->scheme == u->scheme && p->port == u->port && strcmp(p->host, u->host) == 0)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->c = c;
	p->scheme = u->scheme;
	p->port = u->port;
	snprintf(p->host, sizeof(p->host), "%s", u->host);
	p->next = c->pools;
	c->pools = p;
	return p;
}

static void on_op_timeout(void *arg)
{
	struct http_client_op *op = arg;
	struct pool *p = op->pool;
	op->pool->c->stats.timeouts++;
	if (op->conn) {
		struct cconn *cc = op->conn;
		cc->op = NULL;
		op->conn = NULL;
		conn_close(cc);
	}
	op_fail(op, "timeout");
	pool_dispatch(p);
}

struct http_client_op *http_client_send(struct http_client *c, const struct http_client_request *req,
					http_client_cb cb, void *arg)
{
	struct http_client_op *op;
	struct pool *p = pool_get(c, req->url);
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
	buf_init(&op->out, MAX_HEAD + req->body_len);
	/* built without printf: this runs once per delivery attempt */
	ok = buf_reserve(&op->out, strlen(req->url->path) + (req->headers ? strlen(req->headers) : 0) + 96 + req->body_len);
	ok |= buf_puts(&op->out, req->method);
	ok |= buf_puts(&op->out, " ");
	ok |= buf_puts(&op->out, req->url->path);
	ok |= buf_puts(&op->out, req->url->host_is_ipv6 ? " HTTP/1.1\r\nHost: [" : " HTTP/1.1\r\nHost: ");
	ok |= buf_puts(&op->out, req->url->host);
	ok |= req->url->host_is_ipv6 ? buf_puts(&op->out, "]") : 0;
	if (req->url->port != (req->url->scheme == URL_HTTPS ? 443 : 80))
		ok |= buf_puts(&op->out, ":") | buf_put_u64(&op->out, req->url->port);
	ok |= buf_puts(&op->out, "\r\nContent-Length: ");
	ok |= buf_put_u64(&op->out, req->body_len);
	ok |= buf_puts(&op->out, "\r\n");
	ok |= req->headers ? buf_puts(&op->out, req->headers) : 0;
	ok |= buf_puts(&op->out, "\r\n");
	ok |= buf_append(&op->out, req->body, req->body_len);
	if (ok != 0) {
		buf_free(&op->out);
		free(op);
		return NULL;
	}
	timer_init(&op->timer, on_op_timeout, op);
	timer_start(c->r, &op->timer, req->timeout_ms);
	c->in_flight++;
	c->stats.requests++;
	p->max_conns = req->max_in_flight ? req->max_in_flight : 1;
	queue_push(p, op, 0);
	pool_dispatch(p);
	return op;
}

void http_client_cancel(struct http_client_op *op)
{
	struct pool *p = op->pool;
	queue_remove(p, op);
	if (op->conn) {
		struct cconn *cc = op->conn;
		cc->op = NULL;
		conn_close(cc);
	}
	op_free(op);
	pool_dispatch(p);
}

void http_client_set_tls(struct http_client *c, struct tls_client_ctx *tls) { c->tls = tls; }

struct http_client *http_client_new(struct reactor *r, struct dns *dns)
{
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->r = r;
	c->dns = dns;
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	while (c->pools) {
		struct pool *p = c->pools;
		while (p->wait_head) {
			struct http_client_op *op = p->wait_head;
			queue_remove(p, op);
			op_free(op);
		}
		while (p->all) {
			struct cconn *cc = p->all;
			struct http_client_op *op = cc->op;
			conn_close(cc);
			if (op)
				op_free(op);
		}
		c->pools = p->next;
		free(p->session);
		free(p);
	}
	free(c);
}

const struct http_client_stats *http_client_stats(const struct http_client *c) { return &c->stats; }
size_t http_client_in_flight(const struct http_client *c) { return c->in_flight; }
