/* client internals shared by src/http/client.c (requests on a
 * connection: connect, write, read, parse) and src/http/pool.c (pools
 * per origin, the wait queue, idle connections, limits). Not for other
 * modules: they use client.h.
 *
 * An op is in exactly one place: its pool's wait queue (OP_WAITING), on
 * a connection (OP_ACTIVE), or on the client's list of ops whose failure
 * is reported from the loop by the reactor's defer queue (OP_ENDING). */
#ifndef EDGEHOOK_CLIENT_INTERNAL_H
#define EDGEHOOK_CLIENT_INTERNAL_H

#include "edgehook/buf.h"
#include "edgehook/client.h"
#include "edgehook/dns.h"
#include "edgehook/http_parser.h"
#include "edgehook/list.h"
#include "edgehook/reactor.h"

enum {
	CLIENT_MAX_HEAD = 16384,
	CLIENT_MAX_BODY = 65536, /* response bytes kept; more are not read */
	CLIENT_READ_CHUNK = 16384,
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
	unsigned reused : 1, got_bytes : 1, keep_alive : 1, no_reuse : 1;
	const char *deferred_err; /* failure to report from the loop (fail) */
	struct defer fail;
	const char *write_err;    /* the write failed; a response may still be readable */
	/* response being read */
	size_t head_len, body_len, raw_off;
	int status;
	enum http_body body;
	uint64_t clen;
	struct http_chunked chunked;
	struct timer timer; /* idle expiry or connect timeout */
	struct tls_conn *tls; /* https only */
	uint32_t events;      /* what epoll watches now */
	uint64_t idle_since;
	struct list idle_link; /* pool's idle list */
	struct list all_link;  /* every connection of the pool */
};

enum op_state { OP_WAITING, OP_ACTIVE, OP_ENDING };

struct http_client_op {
	struct http_client *c;
	struct pool *pool;
	enum op_state state;
	struct buf out;
	uint64_t started, timeout_ms;
	struct timer timer;  /* the attempt's deadline */
	struct defer report; /* OP_ENDING: the failure, from the loop */
	http_client_cb cb;
	void *arg;
	struct cconn *conn;
	const char *end_err;
	int resent;
	struct list link; /* wait queue or ending list */
};

struct pool {
	struct http_client *c;
	enum url_scheme scheme;
	char host[256];
	uint16_t port;
	unsigned max_conns, nconns;
	struct list idle, all; /* struct cconn */
	struct tls_session *session; /* for resumption on new connections */
	struct list wait;      /* struct http_client_op, FIFO */
	struct list link;      /* in the client's pools */
};

struct http_client {
	struct reactor *r;
	struct dns *dns;
	struct tls_client_ctx *tls;
	struct list pools;  /* struct pool */
	struct list ending; /* struct http_client_op, OP_ENDING */
	size_t in_flight;
	struct http_client_stats stats;
};

/* pool.c */
struct pool *pool_get(struct http_client *c, const struct url *u, unsigned max_conns);
void pool_queue_push(struct pool *p, struct http_client_op *op, int front);
/* Takes op off its wait queue or the ending list, whichever holds it. */
void pool_op_unlink(struct http_client_op *op);
struct cconn *pool_conn_new(struct pool *p);
void pool_conn_close(struct cconn *cc);
/* Puts a finished keep-alive connection back as idle. */
void pool_conn_idle(struct cconn *cc);
/* Starts waiting ops on idle or new connections, up to the limit. */
void pool_dispatch(struct pool *p);

/* client.c */
/* Begins op's request on cc: resolve and connect (fresh) or write. */
void client_conn_begin(struct cconn *cc, int fresh);
void client_on_conn_timer(void *arg);
/* cc's deferred failure (cc->fail), from the loop. */
void client_on_conn_fail(void *arg);
void client_op_free(struct http_client_op *op);

#endif
