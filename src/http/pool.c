/* pool: one connection pool per origin for the HTTP client: the FIFO
 * of waiting ops, idle keep-alive connections, and the origin's limit on
 * open connections, which comes from configuration (http_client_limit),
 * never from the request being sent. */
#include "edgehook/client_internal.h"
#include "edgehook/clock.h"
#include "edgehook/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum {
	IDLE_MS = 30000,
	PROBE_AFTER_MS = 1000,
};

/* ---- wait queue and ending list ---- */

void pool_queue_push(struct pool *p, struct http_client_op *op, int front)
{
	op->state = OP_WAITING;
	if (front)
		list_push_front(&p->wait, &op->link);
	else
		list_push_back(&p->wait, &op->link);
}

void pool_op_unlink(struct http_client_op *op)
{
	list_remove(&op->link);
	op->state = OP_ACTIVE;
}

/* ---- connections ---- */

struct cconn *pool_conn_new(struct pool *p)
{
	struct cconn *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	cc->pool = p;
	cc->fd = -1;
	cc->state = CC_RESOLVING;
	buf_init(&cc->in, CLIENT_MAX_HEAD + CLIENT_MAX_BODY + CLIENT_READ_CHUNK);
	timer_init(&cc->timer, client_on_conn_timer, cc);
	defer_init(&cc->fail, client_on_conn_fail, cc);
	list_init(&cc->idle_link);
	list_push_front(&p->all, &cc->all_link);
	p->nconns++;
	return cc;
}

void pool_conn_close(struct cconn *cc)
{
	struct pool *p = cc->pool;
	struct http_client *c = p->c;
	if (cc->dw)
		dns_cancel(cc->dw);
	reactor_close(c->r, &cc->fd);
	timer_stop(c->r, &cc->timer);
	defer_cancel(&cc->fail);
	list_remove(&cc->idle_link);
	if (cc->op)
		cc->op->conn = NULL;
	tls_free(cc->tls);
	list_remove(&cc->all_link);
	buf_free(&cc->in);
	p->nconns--;
	free(cc);
}

void pool_conn_idle(struct cconn *cc)
{
	struct pool *p = cc->pool;
	cc->state = CC_IDLE;
	cc->reused = 1;
	cc->idle_since = clock_now_ms();
	buf_free(&cc->in);
	list_push_front(&p->idle, &cc->idle_link);
	if (reactor_set_events(p->c->r, cc->fd, EPOLLIN) == 0)
		cc->events = EPOLLIN;
	timer_start(p->c->r, &cc->timer, IDLE_MS);
}

/* An idle connection whose peer has not closed it, or NULL. Idle
 * connections are watched for EPOLLIN and a request lost on one is
 * resent once, so the probe (a syscall per reuse) only pays after a
 * pause long enough for a peer's keep-alive timeout, and always for a
 * resent request: it must not meet a second dead connection. */
static struct cconn *take_idle(struct pool *p, int probe_always)
{
	struct cconn *cc;
	while ((cc = list_first(&p->idle, struct cconn, idle_link)) != NULL) {
		char probe;
		ssize_t n;
		list_remove(&cc->idle_link);
		cc->state = CC_BUSY;
		timer_stop(p->c->r, &cc->timer);
		if (cc->tls && !tls_client_under(cc->tls, p->c->tls)) {
			/* verified under anchors a reload has replaced */
			pool_conn_close(cc);
			continue;
		}
		if (!probe_always && clock_now_ms() - cc->idle_since < PROBE_AFTER_MS)
			return cc;
		n = recv(cc->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return cc;
		p->c->stats.idle_closed_by_peer++;
		pool_conn_close(cc);
	}
	return NULL;
}

void pool_dispatch(struct pool *p)
{
	struct http_client_op *op;
	while ((op = list_first(&p->wait, struct http_client_op, link)) != NULL) {
		struct cconn *cc = take_idle(p, op->resent);
		int fresh = 0;
		if (!cc) {
			if (p->nconns >= p->max_conns)
				return;
			cc = pool_conn_new(p);
			if (!cc)
				return; /* the op's timer reports it */
			fresh = 1;
		} else {
			p->c->stats.reused++;
		}
		pool_op_unlink(op);
		op->conn = cc;
		cc->op = op;
		client_conn_begin(cc, fresh);
	}
}

/* ---- pools ---- */

struct pool *pool_get(struct http_client *c, const struct url *u, unsigned max_conns)
{
	struct pool *p;
	list_for_each_safe(it, nx, &c->pools) {
		p = list_entry(it, struct pool, link);
		if (p->scheme == u->scheme && p->port == u->port && strcmp(p->host, u->host) == 0)
			return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->c = c;
	p->scheme = u->scheme;
	p->port = u->port;
	p->max_conns = max_conns ? max_conns : 1;
	snprintf(p->host, sizeof(p->host), "%s", u->host);
	list_init(&p->idle);
	list_init(&p->all);
	list_init(&p->wait);
	list_push_front(&c->pools, &p->link);
	return p;
}

int http_client_limit(struct http_client *c, const struct url *u, unsigned max_in_flight)
{
	struct pool *p = pool_get(c, u, max_in_flight);
	if (!p)
		return -1;
	p->max_conns = max_in_flight ? max_in_flight : 1;
	pool_dispatch(p); /* a raised limit lets waiting ops go */
	return 0;
}

void http_client_set_tls(struct http_client *c, struct tls_client_ctx *tls) { c->tls = tls; }

struct http_client *http_client_new(struct reactor *r, struct dns *dns)
{
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->r = r;
	c->dns = dns;
	list_init(&c->pools);
	list_init(&c->ending);
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	list_for_each_safe(it, nx, &c->ending) {
		struct http_client_op *op = list_entry(it, struct http_client_op, link);
		pool_op_unlink(op);
		client_op_free(op);
	}
	list_for_each_safe(it, nx, &c->pools) {
		struct pool *p = list_entry(it, struct pool, link);
		list_for_each_safe(w, wn, &p->wait) {
			struct http_client_op *op = list_entry(w, struct http_client_op, link);
			pool_op_unlink(op);
			client_op_free(op);
		}
		list_for_each_safe(a, an, &p->all) {
			struct cconn *cc = list_entry(a, struct cconn, all_link);
			struct http_client_op *op = cc->op;
			pool_conn_close(cc);
			if (op)
				client_op_free(op);
		}
		free(p->session);
		free(p);
	}
	free(c);
}

const struct http_client_stats *http_client_stats(const struct http_client *c) { return &c->stats; }
size_t http_client_in_flight(const struct http_client *c) { return c->in_flight; }
