#include "edgehook/dns.h"
#include "edgehook/addr.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/list.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/reactor.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum {
	MAX_SERVERS = 3,
	MAX_HOSTS = 4096,
	CACHE_SLOTS = 512,
	CACHE_NAME = 128,
	NEGATIVE_TTL_MS = 5000,
	TYPE_A = 1,
	TYPE_AAAA = 28,
	MSG_MAX = 65535,
};

struct host_entry {
	char *name;
	struct sockaddr_storage addr;
};

struct cache_entry {
	char name[CACHE_NAME];
	uint64_t expires;
	const char *err;
	struct dns_result res;
};

struct dns_waiter {
	struct dns_query *q;
	dns_cb cb;
	void *arg;
	struct list link; /* in its query's waiters */
};

/* One question asked again over TCP after a truncated answer; A and
 * AAAA each get their own, so neither waits for the other. */
struct dns_tcp {
	struct dns_query *q;
	int idx, fd;
	struct buf out, in;
};

struct dns_query {
	struct dns *d;
	char name[256];
	int udp_fd;
	uint16_t id[2];
	int done[2], rcode[2];
	struct dns_tcp tcp[2];
	unsigned server, tries;
	struct dns_result res;
	uint32_t ttl;
	struct timer timer;
	struct list waiters; /* struct dns_waiter; never empty while active */
	struct list link;    /* in the resolver's active queries */
};

struct dns_conf {
	struct sockaddr_storage servers[MAX_SERVERS];
	socklen_t server_len[MAX_SERVERS];
	unsigned nservers;
	unsigned timeout_ms, attempts;
	struct host_entry *hosts;
	size_t nhosts, hosts_cap;
};

struct dns {
	struct reactor *r;
	struct dns_conf *conf;
	struct cache_entry *cache;
	struct list active; /* struct dns_query */
	struct dns_stats stats;
};

static const uint16_t qtypes[2] = {TYPE_A, TYPE_AAAA};

/* ---- configuration files ---- */

static int parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	long port = 53;
	const char *colon = NULL;
	int rc;
	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || (size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (close[1] == ':')
			colon = close + 1;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
	}
	if (colon) {
		port = strtol(colon + 1, NULL, 10);
		if (port <= 0 || port > 65535)
			return -1;
	}
	rc = addr_parse_ip(host, strlen(host), ss);
	if (rc < 0)
		return -1;
	addr_set_port(ss, (uint16_t)port);
	*len = (socklen_t)rc;
	return 0;
}

static void load_resolv_conf(struct dns_conf *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512];
	c->timeout_ms = 5000;
	c->attempts = 2;
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *tok = strtok(line, " \t\r\n");
			if (!tok || *tok == '#' || *tok == ';')
				continue;
			if (strcmp(tok, "nameserver") == 0 && (tok = strtok(NULL, " \t\r\n")) && c->nservers < MAX_SERVERS) {
				if (parse_server(tok, &c->servers[c->nservers], &c->server_len[c->nservers]) == 0)
					c->nservers++;
			} else if (strcmp(tok, "options") == 0) {
				while ((tok = strtok(NULL, " \t\r\n"))) {
					if (strncmp(tok, "timeout:", 8) == 0 && atoi(tok + 8) > 0)
						c->timeout_ms = (unsigned)atoi(tok + 8) * 1000u;
					else if (strncmp(tok, "attempts:", 9) == 0 && atoi(tok + 9) > 0)
						c->attempts = (unsigned)atoi(tok + 9);
				}
			}
		}
		fclose(f);
	}
	if (c->timeout_ms > 30000)
		c->timeout_ms = 30000;
	if (c->attempts > 5)
		c->attempts = 5;
	if (c->nservers == 0)
		parse_server("127.0.0.1", &c->servers[c->nservers++], &c->server_len[0]);
}

static int literal(const char *s, struct sockaddr_storage *ss) { return addr_parse_ip(s, strlen(s), ss) > 0; }

/* "name." and "name" are one name; the table keeps the short form. */
static int add_host(struct dns_conf *c, const char *name, const struct sockaddr_storage *ss)
{
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		len--;
	if (c->nhosts == c->hosts_cap) {
		size_t cap = c->hosts_cap ? c->hosts_cap * 2 : 16;
		struct host_entry *h = realloc(c->hosts, cap * sizeof(*h));
		if (!h)
			return -1;
		c->hosts = h;
		c->hosts_cap = cap;
	}
	if (!(c->hosts[c->nhosts].name = strndup(name, len)))
		return -1;
	c->hosts[c->nhosts++].addr = *ss;
	return 0;
}

/* -1 only when out of memory: a missing hosts file means no entries. */
static int load_hosts(struct dns_conf *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int rc = 0, full = 0;
	if (!f)
		return 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		struct sockaddr_storage ss;
		char *hash = strchr(line, '#'), *tok;
		if (hash)
			*hash = '\0';
		tok = strtok(line, " \t\r\n");
		if (!tok || !literal(tok, &ss))
			continue;
		while (rc == 0 && (tok = strtok(NULL, " \t\r\n"))) {
			if (c->nhosts >= MAX_HOSTS)
				full = 1;
			else
				rc = add_host(c, tok, &ss);
		}
	}
	fclose(f);
	if (full)
		log_msg(LOG_WARN, "hosts file: entries beyond the limit ignored", "file", path, "limit", "4096", NULL);
	return rc;
}

void dns_conf_free(struct dns_conf *c)
{
	size_t i;
	if (!c)
		return;
	for (i = 0; i < c->nhosts; i++)
		free(c->hosts[i].name);
	free(c->hosts);
	free(c);
}

struct dns_conf *dns_conf_load(const char *resolv_conf, const char *hosts_file)
{
	struct dns_conf *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	load_resolv_conf(c, resolv_conf);
	if (load_hosts(c, hosts_file) < 0) {
		dns_conf_free(c);
		return NULL;
	}
	return c;
}

static int from_hosts(const struct dns_conf *c, const char *name, struct dns_result *res)
{
	size_t i;
	res->n = 0;
	for (i = 0; i < c->nhosts && res->n < DNS_MAX_ADDRS; i++)
		if (strcasecmp(c->hosts[i].name, name) == 0)
			res->addr[res->n++] = c->hosts[i].addr;
	if (res->n == 0 && strcasecmp(name, "localhost") == 0) {
		literal("127.0.0.1", &res->addr[0]);
		literal("::1", &res->addr[1]);
		res->n = 2;
	}
	return res->n > 0;
}

/* ---- cache: direct-mapped, bounded, by name ---- */

static struct cache_entry *cache_slot(struct dns *d, const char *name)
{
	uint32_t h = 2166136261u;
	const char *p;
	if (!d->cache || strlen(name) >= CACHE_NAME)
		return NULL;
	for (p = name; *p; p++)
		h = (h ^ (uint8_t)(*p | 0x20)) * 16777619u;
	return &d->cache[h % CACHE_SLOTS];
}

static void cache_put(struct dns *d, const char *name, const char *err, const struct dns_result *res, uint64_t ttl_ms)
{
	struct cache_entry *e = cache_slot(d, name);
	if (!e)
		return;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->expires = clock_now_ms() + ttl_ms;
	e->err = err;
	if (res)
		e->res = *res;
	else
		e->res.n = 0;
}

/* ---- queries ---- */

struct dns *dns_new(struct reactor *r, struct dns_conf *conf)
{
	struct dns *d = calloc(1, sizeof(*d));
	if (!d || !(d->cache = calloc(CACHE_SLOTS, sizeof(*d->cache)))) {
		free(d);
		dns_conf_free(conf);
		return NULL;
	}
	d->r = r;
	d->conf = conf;
	list_init(&d->active);
	return d;
}

void dns_set_conf(struct dns *d, struct dns_conf *c)
{
	dns_conf_free(d->conf);
	d->conf = c;
	/* answers from the old servers or hosts file must not outlive them */
	memset(d->cache, 0, CACHE_SLOTS * sizeof(*d->cache));
}

static void query_free(struct dns_query *q);

void dns_free(struct dns *d)
{
	if (!d)
		return;
	/* cancelling a query's last waiter frees the query: re-read the list */
	while (!list_empty(&d->active)) {
		struct dns_query *q = list_first(&d->active, struct dns_query, link);
		dns_cancel(list_first(&q->waiters, struct dns_waiter, link));
	}
	dns_conf_free(d->conf);
	free(d->cache);
	free(d);
}

const struct dns_stats *dns_stats(const struct dns *d) { return &d->stats; }

static void query_free(struct dns_query *q)
{
	struct dns *d = q->d;
	int idx;
	reactor_close(d->r, &q->udp_fd);
	for (idx = 0; idx < 2; idx++) {
		reactor_close(d->r, &q->tcp[idx].fd);
		buf_free(&q->tcp[idx].in);
		buf_free(&q->tcp[idx].out);
	}
	timer_stop(d->r, &q->timer);
	list_remove(&q->link);
	free(q);
}

void dns_cancel(struct dns_waiter *w)
{
	struct dns_query *q = w->q;
	list_remove(&w->link);
	free(w);
	if (list_empty(&q->waiters))
		query_free(q);
}

static const char *rcode_error(int rcode)
{
	switch (rcode) {
	case 3: return "dns: NXDOMAIN";
	case 5: return "dns: REFUSED";
	case 2: return "dns: SERVFAIL";
	default: return "dns: server error";
	}
}

/* IPv4 first: a host without IPv6 routes still connects at once. */
static void order_v4_first(struct dns_result *res)
{
	struct dns_result sorted;
	int i, fam;
	sorted.n = 0;
	for (fam = 0; fam < 2; fam++)
		for (i = 0; i < res->n; i++)
			if ((res->addr[i].ss_family == AF_INET) == (fam == 0))
				sorted.addr[sorted.n++] = res->addr[i];
	*res = sorted;
}

static void finish(struct dns_query *q, const char *err)
{
	struct dns *d = q->d;
	struct list waiters;
	if (!err && q->res.n > 0) {
		uint64_t ttl = q->ttl < 1 ? 1 : q->ttl > 3600 ? 3600 : q->ttl;
		order_v4_first(&q->res);
		cache_put(d, q->name, NULL, &q->res, ttl * 1000);
	} else if (!err) {
		int rc = q->rcode[0] ? q->rcode[0] : q->rcode[1];
		err = rc ? rcode_error(rc) : "dns: no address";
		if (rc == 3)
			cache_put(d, q->name, err, NULL, NEGATIVE_TTL_MS);
	}
	if (err)
		d->stats.failures++;
	/* Waiters may resolve or cancel from their callbacks: detach all
	 * first, free the query, then call. */
	list_take_all(&waiters, &q->waiters);
	{
		struct dns_result res = q->res;
		query_free(q);
		while (!list_empty(&waiters)) {
			struct dns_waiter *w = list_first(&waiters, struct dns_waiter, link);
			list_remove(&w->link);
			w->cb(w->arg, err, err ? NULL : &res);
			free(w);
		}
	}
}

/* Returns 1 when the query finished (and is freed). */
static int maybe_done(struct dns_query *q)
{
	if (!q->done[0] || !q->done[1])
		return 0;
	finish(q, NULL);
	return 1;
}

static void on_tcp(void *arg, int fd, uint32_t events);

/* The TCP question idx failed: SERVFAIL for that type. Returns 1 when
 * that finished (and freed) the query. */
static int tcp_failed(struct dns_query *q, int idx)
{
	reactor_close(q->d->r, &q->tcp[idx].fd);
	q->done[idx] = 1;
	q->rcode[idx] = 2;
	return maybe_done(q);
}

static int start_tcp(struct dns_query *q, int idx)
{
	struct dns *d = q->d;
	struct dns_tcp *t = &q->tcp[idx];
	unsigned s = q->server % d->conf->nservers;
	const struct sockaddr_storage *ss = &d->conf->servers[s];
	uint8_t msg[300];
	int n = dns_build_query(msg + 2, sizeof(msg) - 2, q->name, qtypes[idx], q->id[idx]);
	d->stats.tcp_fallbacks++;
	t->in.len = t->out.len = 0;
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	t->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n < 0 || t->fd < 0 || buf_append(&t->out, msg, (size_t)n + 2) < 0 ||
	    (connect(t->fd, (const struct sockaddr *)ss, d->conf->server_len[s]) < 0 && errno != EINPROGRESS) ||
	    reactor_add(d->r, t->fd, EPOLLOUT | EPOLLIN, on_tcp, t) < 0)
		return tcp_failed(q, idx);
	return 0;
}

/* One datagram (tcp < 0) or the message on TCP connection tcp: accepted
 * if it answers one of ours. Returns 1 when that finished (and freed)
 * the query. */
static int on_message(struct dns_query *q, const uint8_t *msg, size_t len, int tcp)
{
	int idx;
	for (idx = 0; idx < 2; idx++) {
		int rc;
		if (q->done[idx] || (tcp >= 0 ? idx != tcp : q->tcp[idx].fd >= 0))
			continue;
		rc = dns_parse_answer(msg, len, q->name, qtypes[idx], q->id[idx], &q->res, &q->ttl);
		if (rc == -1)
			continue;
		if (rc == -2)
			return tcp < 0 ? start_tcp(q, idx) : tcp_failed(q, idx);
		if (tcp >= 0)
			reactor_close(q->d->r, &q->tcp[idx].fd);
		q->done[idx] = 1;
		q->rcode[idx] = rc;
		return maybe_done(q);
	}
	/* over TCP, anything but the answer to our question is a failure */
	return tcp >= 0 ? tcp_failed(q, tcp) : 0;
}

static void on_tcp(void *arg, int fd, uint32_t events)
{
	struct dns_tcp *t = arg;
	struct dns_query *q = t->q;
	ssize_t n;
	(void)events;
	if (t->out.len) {
		n = send(fd, t->out.data, t->out.len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(&t->out, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN)
			goto failed;
		if (t->out.len == 0)
			reactor_set_events(q->d->r, fd, EPOLLIN);
		return;
	}
	if (buf_reserve(&t->in, 4096) < 0)
		goto failed;
	n = recv(fd, t->in.data + t->in.len, t->in.cap - t->in.len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto failed;
	t->in.len += (size_t)n;
	if (t->in.len >= 2) {
		size_t want = (size_t)((uint8_t)t->in.data[0] << 8 | (uint8_t)t->in.data[1]);
		if (t->in.len >= want + 2)
			on_message(q, (const uint8_t *)t->in.data + 2, want, t->idx);
	}
	return;
failed:
	tcp_failed(q, t->idx);
}

static void on_udp(void *arg, int fd, uint32_t events)
{
	struct dns_query *q = arg;
	uint8_t msg[4096];
	(void)events;
	for (;;) {
		ssize_t n = recv(fd, msg, sizeof(msg), 0);
		if (n < 0)
			return; /* EAGAIN, or ICMP refused: the timer retries */
		if (on_message(q, msg, (size_t)n, -1))
			return;
	}
}

static void send_attempt(struct dns_query *q);

static void on_timeout(void *arg)
{
	struct dns_query *q = arg;
	struct dns *d = q->d;
	d->stats.timeouts++;
	if (++q->tries >= d->conf->attempts * d->conf->nservers) {
		finish(q, q->res.n > 0 ? NULL : "dns: timeout");
		return;
	}
	q->server++;
	send_attempt(q);
}

static void send_attempt(struct dns_query *q)
{
	struct dns *d = q->d;
	const struct dns_conf *c = d->conf;
	unsigned s = q->server % c->nservers;
	int idx;
	reactor_close(d->r, &q->udp_fd);
	timer_start(d->r, &q->timer, c->timeout_ms);
	q->udp_fd = socket(c->servers[s].ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->udp_fd < 0)
		return; /* the timer tries again */
	/* connect() makes the kernel drop datagrams from anyone else */
	if (connect(q->udp_fd, (const struct sockaddr *)&c->servers[s], c->server_len[s]) < 0 ||
	    reactor_add(d->r, q->udp_fd, EPOLLIN, on_udp, q) < 0) {
		reactor_close(d->r, &q->udp_fd);
		return;
	}
	for (idx = 0; idx < 2; idx++) {
		uint8_t msg[300];
		int n;
		if (q->done[idx] || q->tcp[idx].fd >= 0)
			continue;
		q->id[idx] = (uint16_t)rand_u32();
		n = dns_build_query(msg, sizeof(msg), q->name, qtypes[idx], q->id[idx]);
		if (n > 0 && send(q->udp_fd, msg, (size_t)n, 0) == n)
			d->stats.queries++;
	}
}

static struct dns_waiter *add_waiter(struct dns_query *q, dns_cb cb, void *arg)
{
	struct dns_waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->q = q;
	w->cb = cb;
	w->arg = arg;
	list_push_front(&q->waiters, &w->link);
	return w;
}

struct dns_waiter *dns_resolve(struct dns *d, const char *host, dns_cb cb, void *arg)
{
	struct dns_result res;
	struct cache_entry *e;
	struct dns_query *q;
	uint8_t probe[300];
	char name[256];
	size_t len = strlen(host);
	int idx;
	memset(&res, 0, sizeof(res));
	if (literal(host, &res.addr[0])) {
		res.n = 1;
		cb(arg, NULL, &res);
		return NULL;
	}
	/* "sink.test." is the fully qualified "sink.test": one name for the
	 * hosts file, the cache, the question and the answer check */
	if (len > 1 && host[len - 1] == '.')
		len--;
	if (len >= sizeof(name)) {
		cb(arg, "dns: bad name", NULL);
		return NULL;
	}
	memcpy(name, host, len);
	name[len] = '\0';
	host = name;
	if (from_hosts(d->conf, host, &res)) {
		cb(arg, NULL, &res);
		return NULL;
	}
	e = cache_slot(d, host);
	if (e && e->expires > clock_now_ms() && strcasecmp(e->name, host) == 0) {
		d->stats.cache_hits++;
		cb(arg, e->err, e->err ? NULL : &e->res);
		return NULL;
	}
	d->stats.cache_misses++;
	if (dns_build_query(probe, sizeof(probe), host, TYPE_A, 0) < 0) {
		cb(arg, "dns: bad name", NULL);
		return NULL;
	}
	list_for_each_safe(it, nx, &d->active) {
		q = list_entry(it, struct dns_query, link);
		if (strcasecmp(q->name, host) == 0)
			return add_waiter(q, cb, arg);
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		cb(arg, "dns: out of memory", NULL);
		return NULL;
	}
	q->d = d;
	snprintf(q->name, sizeof(q->name), "%s", host);
	q->udp_fd = -1;
	q->ttl = UINT32_MAX;
	q->server = 0;
	for (idx = 0; idx < 2; idx++) {
		q->tcp[idx].q = q;
		q->tcp[idx].idx = idx;
		q->tcp[idx].fd = -1;
		buf_init(&q->tcp[idx].in, MSG_MAX + 2);
		buf_init(&q->tcp[idx].out, 512);
	}
	timer_init(&q->timer, on_timeout, q);
	list_init(&q->waiters);
	list_push_front(&d->active, &q->link);
	{
		struct dns_waiter *w = add_waiter(q, cb, arg);
		if (!w) {
			query_free(q);
			cb(arg, "dns: out of memory", NULL);
			return NULL;
		}
		send_attempt(q);
		return w;
	}
}
