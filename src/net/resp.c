/* resp client: one pipelined connection on the reactor (see resp.h).
 *
 * States: IDLE (waiting out a backoff) -> RESOLVING -> CONNECTING ->
 * HANDSHAKE (AUTH/SELECT, user commands held back) -> READY. Any failure
 * goes back to IDLE through conn_drop, which fails what was sent.
 *
 * The queue is one FIFO ring: the first `sent` commands are written in
 * full and await replies; the next one may be written `partial` bytes;
 * the rest are bytes in `out`, in queue order. Replies arrive in order,
 * so each completes the head. All commands share one timeout, so the
 * head always holds the earliest deadline and one timer covers them. */
#include "edgehook/resp.h"

#include "edgehook/addr.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/dns.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum rc_state { RC_IDLE, RC_RESOLVING, RC_CONNECTING, RC_HANDSHAKE, RC_READY };

enum { READ_CHUNK = 65536 };

struct cmd {
	resp_cb cb;
	void *arg;
	uint64_t deadline;
	size_t len; /* encoded bytes */
};

struct resp_client {
	struct reactor *r;
	struct dns *dns;
	struct redis_url u;
	struct resp_opts o;
	enum rc_state state;
	int fd;
	struct tls_conn *tls; /* rediss://: the session on fd, NULL for plain TCP */
	uint32_t events;
	struct dns_waiter *dw;
	struct dns_result addrs;
	int addr_idx;
	struct timer conn_timer; /* connect timeout, or the backoff in IDLE */
	struct timer cmd_timer;  /* the head command's deadline */
	struct defer flush;      /* writes what resp_command queued this iteration */
	uint64_t backoff;
	struct cmd *q;
	uint32_t head, count, sent;
	size_t partial;
	struct buf out, hs, in;
	int hs_owed; /* handshake replies still to come */
	struct resp_parser parser;
	struct resp_value *vals;
	struct resp_stats stats;
	char last_error[160];
	/* subscriber mode (resp_subscribe): the channel, "" for none */
	char channel[128];
	resp_push_cb push;
	void *push_arg;
};

void resp_opts_default(struct resp_opts *o)
{
	o->connect_timeout_ms = 5000;
	o->command_timeout_ms = 5000;
	o->backoff_min_ms = 100;
	o->backoff_max_ms = 5000;
	o->max_queue = 4096;
	o->max_out = 16u << 20;
	o->max_reply = 16u << 20;
	o->max_values = 16384;
	o->tls = NULL;
}

static struct cmd *cmd_at(struct resp_client *c, uint32_t i)
{
	return &c->q[(c->head + i) % c->o.max_queue];
}

static struct cmd cmd_pop(struct resp_client *c)
{
	struct cmd cm = c->q[c->head];
	c->head = (c->head + 1) % c->o.max_queue;
	c->count--;
	return cm;
}

static void arm_cmd_timer(struct resp_client *c)
{
	uint64_t now = clock_now_ms(), d;
	if (c->count == 0) {
		timer_stop(c->r, &c->cmd_timer);
		return;
	}
	d = cmd_at(c, 0)->deadline;
	timer_start(c->r, &c->cmd_timer, d > now ? d - now : 0);
}

static void set_events(struct resp_client *c, uint32_t ev)
{
	if (c->fd >= 0 && ev != c->events && reactor_set_events(c->r, c->fd, ev) == 0)
		c->events = ev;
}

static void start_connect(struct resp_client *c);

/* Closes the connection and fails what it carried with err (the reason
 * for the log is why); a reconnect follows after the backoff. */
static void conn_drop(struct resp_client *c, const char *err, const char *why)
{
	uint32_t owed = c->sent + (c->partial > 0);
	struct resp_limits lim;
	if (c->dw) {
		dns_cancel(c->dw);
		c->dw = NULL;
	}
	reactor_close(c->r, &c->fd);
	if (c->tls) {
		tls_free(c->tls);
		c->tls = NULL;
	}
	if (c->state >= RC_HANDSHAKE)
		c->stats.disconnects++;
	else if (c->state != RC_IDLE)
		c->stats.connect_failures++;
	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	log_msg(LOG_WARN, "redis connection failed", "host", c->u.host, "err", why, NULL);
	if (c->partial > 0)
		buf_consume(&c->out, cmd_at(c, c->sent)->len - c->partial);
	c->sent = 0;
	c->partial = 0;
	c->hs.len = 0;
	c->hs_owed = 0;
	c->in.len = 0;
	lim = c->parser.lim; /* init clears the parser it is read from */
	resp_parser_init(&c->parser, c->vals, &lim);
	defer_cancel(&c->flush);
	c->state = RC_IDLE;
	c->backoff = c->backoff ? c->backoff * 2 : c->o.backoff_min_ms;
	if (c->backoff > c->o.backoff_max_ms)
		c->backoff = c->o.backoff_max_ms;
	timer_start(c->r, &c->conn_timer, c->backoff);
	while (owed-- > 0) {
		struct cmd cm = cmd_pop(c);
		cm.cb(cm.arg, err, NULL);
	}
	arm_cmd_timer(c);
}

/* n > 0 written, -2 would block, -1 failed (errno or the TLS reason in why). */
static ssize_t io_send(struct resp_client *c, const char *p, size_t len, const char **why)
{
	ssize_t n;
	if (c->tls) {
		n = tls_write(c->tls, c->fd, p, len);
		if (n == -1)
			*why = tls_error(c->tls);
		return n;
	}
	do
		n = send(c->fd, p, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -2;
	if (n <= 0)
		*why = n == 0 ? "connection closed" : strerror(errno);
	return n > 0 ? n : -1;
}

/* Writes the handshake, then queued commands; -1 when the connection dropped. */
static int flush_out(struct resp_client *c)
{
	struct buf *b = c->state == RC_HANDSHAKE ? &c->hs : &c->out;
	const char *why = "send failed";
	uint32_t ev;
	while (b->len > 0) {
		ssize_t n = io_send(c, b->data, b->len, &why);
		if (n == -2)
			break;
		if (n < 0) {
			conn_drop(c, "resp: connection lost", why);
			return -1;
		}
		buf_consume(b, (size_t)n);
		if (b == &c->out) {
			c->stats.writes++;
			c->partial += (size_t)n;
			while (c->sent < c->count && c->partial >= cmd_at(c, c->sent)->len) {
				c->partial -= cmd_at(c, c->sent)->len;
				c->sent++;
			}
		}
	}
	ev = b->len > 0 ? EPOLLIN | EPOLLOUT : EPOLLIN;
	if (c->tls) {
		/* records the engine still holds (the handshake, our writes) */
		if (tls_flush(c->tls, c->fd) == -1) {
			conn_drop(c, "resp: connection lost", tls_error(c->tls));
			return -1;
		}
		ev |= tls_want(c->tls);
	}
	set_events(c, ev);
	return 0;
}

static void on_flush(void *arg)
{
	struct resp_client *c = arg;
	if (c->state == RC_READY)
		flush_out(c);
}

static void ready(struct resp_client *c)
{
	c->state = RC_READY;
	timer_stop(c->r, &c->conn_timer);
	flush_out(c);
}

static void deliver(struct resp_client *c, const struct resp_reply *rep)
{
	struct cmd cm;
	if (c->hs_owed > 0) {
		if (rep->v[0].type == RESP_ERROR) {
			char why[160];
			snprintf(why, sizeof(why), "handshake refused: %.*s", (int)(rep->v[0].len > 120 ? 120 : rep->v[0].len),
				 resp_str(rep, &rep->v[0]));
			conn_drop(c, "resp: connection lost", why);
			return;
		}
		if (--c->hs_owed == 0) {
			ready(c);
			if (c->push)
				c->push(c->push_arg, NULL); /* (re)subscribed: what was missed is the caller's */
		}
		return;
	}
	if (c->push && c->sent == 0 && rep->v[0].type == RESP_ARRAY && rep->v[0].n == 3 &&
	    resp_eq(rep, &rep->v[1], "message")) {
		c->stats.replies++;
		c->backoff = 0;
		c->push(c->push_arg, rep);
		return;
	}
	if (c->sent == 0) {
		c->stats.protocol_errors++;
		conn_drop(c, "resp: protocol error", "reply without a command");
		return;
	}
	c->sent--;
	cm = cmd_pop(c);
	c->stats.replies++;
	c->backoff = 0; /* this server speaks RESP: the next failure starts over */
	arm_cmd_timer(c);
	cm.cb(cm.arg, NULL, rep);
}

static void on_readable(struct resp_client *c)
{
	size_t room = c->in.max - c->in.len, off = 0;
	ssize_t n;
	if (room > READ_CHUNK)
		room = READ_CHUNK;
	if (room == 0 || buf_reserve(&c->in, room) < 0) {
		c->stats.protocol_errors++;
		conn_drop(c, "resp: protocol error", "reply over max_reply");
		return;
	}
	if (c->tls) {
		n = tls_read(c->tls, c->fd, c->in.data + c->in.len, room);
		if (n == -2)
			return;
		if (n <= 0) {
			conn_drop(c, "resp: connection lost", n == 0 ? "closed by server" : tls_error(c->tls));
			return;
		}
	} else {
		n = read(c->fd, c->in.data + c->in.len, room);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_drop(c, "resp: connection lost", n == 0 ? "closed by server" : strerror(errno));
			return;
		}
	}
	c->in.len += (size_t)n;
	while (off < c->in.len) {
		struct resp_reply rep;
		int len = resp_parse(&c->parser, c->in.data + off, c->in.len - off);
		enum rc_state st = c->state;
		if (len == -2)
			break;
		if (len < 0) {
			c->stats.protocol_errors++;
			conn_drop(c, "resp: protocol error", "malformed reply");
			return;
		}
		rep.v = c->vals;
		rep.n = resp_parser_count(&c->parser);
		rep.base = c->in.data + off;
		off += (size_t)len;
		deliver(c, &rep);
		if (c->state != st && c->state != RC_READY)
			return; /* dropped: the buffer is gone */
	}
	buf_consume(&c->in, off);
}

static void on_connected(struct resp_client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		conn_drop(c, "resp: connection lost", strerror(err));
		return;
	}
	if (c->o.tls && !(c->tls = tls_client_new(c->o.tls, c->u.host, NULL))) {
		conn_drop(c, "resp: connection lost", "out of memory");
		return;
	}
	c->stats.connects++;
	c->state = RC_HANDSHAKE;
	if (c->u.has_password) {
		const char *argv[] = {"AUTH", c->u.user, c->u.password};
		if (c->u.user[0])
			resp_encode(&c->hs, 3, argv, NULL);
		else {
			argv[1] = c->u.password;
			resp_encode(&c->hs, 2, argv, NULL);
		}
		c->hs_owed++;
	}
	if (c->u.db) {
		char db[16];
		const char *argv[] = {"SELECT", db};
		snprintf(db, sizeof(db), "%u", c->u.db);
		resp_encode(&c->hs, 2, argv, NULL);
		c->hs_owed++;
	}
	if (c->channel[0]) {
		const char *argv[] = {"SUBSCRIBE", c->channel};
		resp_encode(&c->hs, 2, argv, NULL);
		c->hs_owed++;
	}
	if (c->hs_owed == 0) {
		ready(c);
		return;
	}
	flush_out(c);
}

static void on_io(void *arg, int fd, uint32_t events)
{
	struct resp_client *c = arg;
	(void)fd;
	if (c->state == RC_CONNECTING) {
		on_connected(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		enum rc_state st = c->state;
		on_readable(c);
		if (c->state == RC_IDLE || (c->state != st && c->state != RC_READY))
			return;
	}
	/* TLS: a read may have left records to send (the handshake) */
	if (((events & EPOLLOUT) || c->tls) && c->fd >= 0)
		flush_out(c);
}

static void connect_addr(struct resp_client *c)
{
	struct sockaddr_storage *ss = &c->addrs.addr[c->addr_idx % c->addrs.n];
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	c->addr_idx++; /* the next attempt tries the next address */
	addr_set_port(ss, c->u.port);
	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_drop(c, "resp: connection lost", strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS) {
		conn_drop(c, "resp: connection lost", strerror(errno));
		return;
	}
	c->state = RC_CONNECTING;
	c->events = EPOLLOUT;
	if (reactor_add(c->r, c->fd, EPOLLOUT, on_io, c) < 0) {
		close(c->fd);
		c->fd = -1;
		conn_drop(c, "resp: connection lost", "out of memory");
	}
}

static void on_resolved(void *arg, const char *err, const struct dns_result *res)
{
	struct resp_client *c = arg;
	c->dw = NULL;
	if (err || res->n == 0) {
		conn_drop(c, "resp: connection lost", err ? err : "dns: no address");
		return;
	}
	c->addrs = *res;
	connect_addr(c);
}

static void start_connect(struct resp_client *c)
{
	c->state = RC_RESOLVING;
	timer_start(c->r, &c->conn_timer, c->o.connect_timeout_ms);
	if (addr_parse_ip(c->u.host, strlen(c->u.host), &c->addrs.addr[0]) > 0) {
		c->addrs.n = 1;
		connect_addr(c);
	} else if (!c->dns) {
		conn_drop(c, "resp: connection lost", "no resolver for a host name");
	} else {
		c->dw = dns_resolve(c->dns, c->u.host, on_resolved, c);
	}
}

static void on_conn_timer(void *arg)
{
	struct resp_client *c = arg;
	if (c->state == RC_IDLE)
		start_connect(c);
	else
		conn_drop(c, "resp: connection lost", "connect timeout");
}

static void on_cmd_timer(void *arg)
{
	struct resp_client *c = arg;
	uint64_t now = clock_now_ms();
	while (c->count > 0 && cmd_at(c, 0)->deadline <= now) {
		struct cmd cm;
		c->stats.timeouts++;
		if (c->sent > 0 || c->partial > 0) {
			/* no reply in time: the server stalls, and the replies
			 * still owed could not be matched any more */
			conn_drop(c, "resp: timeout", "reply timeout");
			continue;
		}
		buf_consume(&c->out, cmd_at(c, 0)->len);
		cm = cmd_pop(c);
		cm.cb(cm.arg, "resp: timeout", NULL);
	}
	arm_cmd_timer(c);
}

struct resp_client *resp_client_new(struct reactor *r, struct dns *dns, const struct redis_url *u,
				    const struct resp_opts *o)
{
	struct resp_client *c;
	struct resp_limits lim;
	if (!u->tls != !o->tls || o->max_queue == 0 || o->max_values < 2)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->r = r;
	c->dns = dns;
	c->u = *u;
	c->o = *o;
	/* a zero backoff would turn a refusing server into a busy loop */
	if (c->o.backoff_min_ms < 10)
		c->o.backoff_min_ms = 10;
	if (c->o.backoff_max_ms < c->o.backoff_min_ms)
		c->o.backoff_max_ms = c->o.backoff_min_ms;
	c->fd = -1;
	c->q = calloc(o->max_queue, sizeof(*c->q));
	c->vals = calloc(o->max_values, sizeof(*c->vals));
	if (!c->q || !c->vals) {
		free(c->q);
		free(c->vals);
		free(c);
		return NULL;
	}
	buf_init(&c->out, o->max_out);
	buf_init(&c->hs, 2048);
	buf_init(&c->in, o->max_reply);
	lim.max_bulk = o->max_reply;
	lim.max_line = o->max_reply < 65536 ? o->max_reply : 65536;
	lim.max_values = o->max_values;
	lim.max_depth = RESP_MAX_DEPTH;
	resp_parser_init(&c->parser, c->vals, &lim);
	timer_init(&c->conn_timer, on_conn_timer, c);
	timer_init(&c->cmd_timer, on_cmd_timer, c);
	defer_init(&c->flush, on_flush, c);
	start_connect(c);
	return c;
}

void resp_client_free(struct resp_client *c)
{
	if (!c)
		return;
	if (c->dw)
		dns_cancel(c->dw);
	reactor_close(c->r, &c->fd);
	tls_free(c->tls);
	timer_stop(c->r, &c->conn_timer);
	timer_stop(c->r, &c->cmd_timer);
	defer_cancel(&c->flush);
	buf_free(&c->out);
	buf_free(&c->hs);
	buf_free(&c->in);
	free(c->q);
	free(c->vals);
	free(c);
}

int resp_subscribe(struct resp_client *c, const char *channel, resp_push_cb fn, void *arg)
{
	if (strlen(channel) >= sizeof(c->channel) || !channel[0])
		return -1;
	snprintf(c->channel, sizeof(c->channel), "%s", channel);
	c->push = fn;
	c->push_arg = arg;
	return 0;
}

int resp_command(struct resp_client *c, int argc, const char *const *argv, const size_t *lens, resp_cb cb,
		 void *arg)
{
	size_t before = c->out.len;
	struct cmd *cm;
	if (c->count >= c->o.max_queue || resp_encode(&c->out, argc, argv, lens) < 0) {
		c->stats.refused++;
		return -1;
	}
	cm = &c->q[(c->head + c->count) % c->o.max_queue];
	cm->cb = cb;
	cm->arg = arg;
	cm->deadline = clock_now_ms() + c->o.command_timeout_ms;
	cm->len = c->out.len - before;
	if (c->count++ == 0)
		arm_cmd_timer(c);
	/* one write per loop iteration carries everything queued in it */
	if (c->state == RC_READY)
		reactor_defer(c->r, &c->flush);
	return 0;
}

int resp_connected(const struct resp_client *c)
{
	return c->state == RC_READY;
}

const char *resp_last_error(const struct resp_client *c)
{
	return c->last_error;
}

const struct resp_stats *resp_stats(const struct resp_client *c)
{
	return &c->stats;
}
