#include "edgehook/dns.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/log.h"
#include "edgehook/rand.h"
#include "edgehook/reactor.h"

#include <arpa/inet.h>
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
	struct dns_waiter *next, *prev;
};

struct dns_query {
	struct dns *d;
	char name[256];
	int udp_fd, tcp_fd;
	uint16_t id[2];
	int done[2], rcode[2];
	int tcp_type; /* index into id[] being asked over TCP, -1 none */
	struct buf tcp_out, tcp_in;
	unsigned server, tries;
	struct dns_result res;
	uint32_t ttl;
	struct timer timer;
	struct dns_waiter *waiters;
	struct dns_query *next, *prev;
};

struct dns {
	struct reactor *r;
	struct sockaddr_storage servers[MAX_SERVERS];
	socklen_t server_len[MAX_SERVERS];
	unsigned nservers;
	unsigned timeout_ms, attempts;
	struct host_entry *hosts;
	size_t nhosts;
	struct cache_entry *cache;
	struct dns_query *active;
	struct dns_stats stats;
};

static const uint16_t qtypes[2] = {TYPE_A, TYPE_AAAA};

/* ---- configuration files ---- */

static int parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	long port = 53;
	const char *colon = NULL;
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
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -1;
}

static void load_resolv_conf(struct dns *d, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512];
	d->timeout_ms = 5000;
	d->attempts = 2;
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *tok = strtok(line, " \t\r\n");
			if (!tok || *tok == '#' || *tok == ';')
				continue;
			if (strcmp(tok, "nameserver") == 0 && (tok = strtok(NULL, " \t\r\n")) && d->nservers < MAX_SERVERS) {
				if (parse_server(tok, &d->servers[d->nservers], &d->server_len[d->nservers]) == 0)
					d->nservers++;
			} else if (strcmp(tok, "options") == 0) {
				while ((tok = strtok(NULL, " \t\r\n"))) {
					if (strncmp(tok, "timeout:", 8) == 0 && atoi(tok + 8) > 0)
						d->timeout_ms = (unsigned)atoi(tok + 8) * 1000u;
					else if (strncmp(tok, "attempts:", 9) == 0 && atoi(tok + 9) > 0)
						d->attempts = (unsigned)atoi(tok + 9);
				}
			}
		}
		fclose(f);
	}
	if (d->timeout_ms > 30000)
		d->timeout_ms = 30000;
	if (d->attempts > 5)
		d->attempts = 5;
	if (d->nservers == 0)
		parse_server("127.0.0.1", &d->servers[d->nservers++], &d->server_len[0]);
}

static int literal(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return 1;
	}
	return 0;
}

static void load_hosts(struct dns *d, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && d->nhosts < MAX_HOSTS) {
		struct sockaddr_storage ss;
		char *hash = strchr(line, '#'), *tok;
		if (hash)
			*hash = '\0';
		tok = strtok(line, " \t\r\n");
		if (!tok || !literal(tok, &ss))
			continue;
		while ((tok = strtok(NULL, " \t\r\n")) && d->nhosts < MAX_HOSTS) {
			struct host_entry *h = realloc(d->hosts, (d->nhosts + 1) * sizeof(*h));
			if (!h)
				break;
			d->hosts = h;
			h[d->nhosts].name = strdup(tok);
			h[d->nhosts].addr = ss;
			if (h[d->nhosts].name)
				d->nhosts++;
		}
	}
	fclose(f);
}

static int from_hosts(const struct dns *d, const char *name, struct dns_result *res)
{
	size_t i;
	res->n = 0;
	for (i = 0; i < d->nhosts && res->n < DNS_MAX_ADDRS; i++)
		if (strcasecmp(d->hosts[i].name, name) == 0)
			res->addr[res->n++] = d->hosts[i].addr;
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

struct dns *dns_new(struct reactor *r, const char *resolv_conf, const char *hosts_file)
{
	struct dns *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->r = r;
	d->cache = calloc(CACHE_SLOTS, sizeof(*d->cache));
	load_resolv_conf(d, resolv_conf);
	load_hosts(d, hosts_file);
	return d;
}

static void query_free(struct dns_query *q);

void dns_free(struct dns *d)
{
	size_t i;
	if (!d)
		return;
	/* cancelling a query's last waiter frees the query: re-read the list */
	while (d->active)
		dns_cancel(d->active->waiters);
	for (i = 0; i < d->nhosts; i++)
		free(d->hosts[i].name);
	free(d->hosts);
	free(d->cache);
	free(d);
}

const struct dns_stats *dns_stats(const struct dns *d) { return &d->stats; }

static void query_free(struct dns_query *q)
{
	struct dns *d = q->d;
	reactor_close(d->r, &q->udp_fd);
	reactor_close(d->r, &q->tcp_fd);
	timer_stop(d->r, &q->timer);
	buf_free(&q->tcp_in);
	buf_free(&q->tcp_out);
	if (q->prev)
		q->prev->next = q->next;
	else
		d->active = q->next;
	if (q->next)
		q->next->prev = q->prev;
	free(q);
}

void dns_cancel(struct dns_waiter *w)
{
	struct dns_query *q = w->q;
	if (w->prev)
		w->prev->next = w->next;
	else
		q->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w);
	if (!q->waiters)
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
	struct dns_waiter *w;
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
	w = q->waiters;
	q->waiters = NULL;
	{
		struct dns_result res = q->res;
		query_free(q);
		while (w) {
			struct dns_waiter *next = w->next;
			w->cb(w->arg, err, err ? NULL : &res);
			free(w);
			w = next;
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

static int start_tcp(struct dns_query *q, int idx)
{
	struct dns *d = q->d;
	const struct sockaddr_storage *ss = &d->servers[q->server % d->nservers];
	uint8_t msg[300];
	int n = dns_build_query(msg + 2, sizeof(msg) - 2, q->name, qtypes[idx], q->id[idx]);
	d->stats.tcp_fallbacks++;
	reactor_close(d->r, &q->tcp_fd);
	q->tcp_type = idx;
	q->tcp_in.len = q->tcp_out.len = 0;
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	q->tcp_fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n < 0 || q->tcp_fd < 0 || buf_append(&q->tcp_out, msg, (size_t)n + 2) < 0 ||
	    (connect(q->tcp_fd, (const struct sockaddr *)ss, d->server_len[q->server % d->nservers]) < 0 &&
	     errno != EINPROGRESS) ||
	    reactor_add(d->r, q->tcp_fd, EPOLLOUT | EPOLLIN, on_tcp, q) < 0) {
		reactor_close(d->r, &q->tcp_fd);
		q->done[idx] = 1;
		q->rcode[idx] = 2;
		return maybe_done(q);
	}
	return 0;
}

/* One datagram or TCP message: accepted if it answers one of ours.
 * Returns 1 when that finished (and freed) the query. */
static int on_message(struct dns_query *q, const uint8_t *msg, size_t len, int via_tcp)
{
	int idx;
	for (idx = 0; idx < 2; idx++) {
		int rc;
		if (q->done[idx] || (via_tcp && idx != q->tcp_type))
			continue;
		rc = dns_parse_answer(msg, len, q->name, qtypes[idx], q->id[idx], &q->res, &q->ttl);
		if (rc == -1)
			continue;
		if (rc == -2)
			return !via_tcp && q->tcp_type < 0 ? start_tcp(q, idx) : 0;
		q->done[idx] = 1;
		q->rcode[idx] = rc;
		if (via_tcp)
			q->tcp_type = -1;
		return maybe_done(q);
	}
	return 0;
}

static void on_tcp(void *arg, int fd, uint32_t events)
{
	struct dns_query *q = arg;
	ssize_t n;
	(void)events;
	if (q->tcp_out.len) {
		n = send(fd, q->tcp_out.data, q->tcp_out.len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(&q->tcp_out, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINPROGRESS && errno != ENOTCONN)
			goto failed;
		if (q->tcp_out.len == 0)
			reactor_set_events(q->d->r, fd, EPOLLIN);
		return;
	}
	if (buf_reserve(&q->tcp_in, 4096) < 0)
		goto failed;
	n = recv(fd, q->tcp_in.data + q->tcp_in.len, q->tcp_in.cap - q->tcp_in.len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto failed;
	q->tcp_in.len += (size_t)n;
	if (q->tcp_in.len >= 2) {
		size_t want = (size_t)((uint8_t)q->tcp_in.data[0] << 8 | (uint8_t)q->tcp_in.data[1]);
		if (q->tcp_in.len >= want + 2) {
			reactor_close(q->d->r, &q->tcp_fd);
			if (!on_message(q, (const uint8_t *)q->tcp_in.data + 2, want, 1) && q->tcp_type >= 0) {
				/* not an answer to our question */
				q->done[q->tcp_type] = 1;
				q->rcode[q->tcp_type] = 2;
				q->tcp_type = -1;
				maybe_done(q);
			}
		}
	}
	return;
failed:
	reactor_close(q->d->r, &q->tcp_fd);
	q->done[q->tcp_type] = 1;
	q->rcode[q->tcp_type] = 2;
	q->tcp_type = -1;
	maybe_done(q);
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
		if (on_message(q, msg, (size_t)n, 0))
			return;
	}
}

static void send_attempt(struct dns_query *q);

static void on_timeout(void *arg)
{
	struct dns_query *q = arg;
	struct dns *d = q->d;
	d->stats.timeouts++;
	if (++q->tries >= d->attempts * d->nservers) {
		finish(q, q->res.n > 0 ? NULL : "dns: timeout");
		return;
	}
	q->server++;
	send_attempt(q);
}

static void send_attempt(struct dns_query *q)
{
	struct dns *d = q->d;
	unsigned s = q->server % d->nservers;
	int idx;
	reactor_close(d->r, &q->udp_fd);
	timer_start(d->r, &q->timer, d->timeout_ms);
	q->udp_fd = socket(d->servers[s].ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->udp_fd < 0)
		return; /* the timer tries again */
	/* connect() makes the kernel drop datagrams from anyone else */
	if (connect(q->udp_fd, (const struct sockaddr *)&d->servers[s], d->server_len[s]) < 0 ||
	    reactor_add(d->r, q->udp_fd, EPOLLIN, on_udp, q) < 0) {
		reactor_close(d->r, &q->udp_fd);
		return;
	}
	for (idx = 0; idx < 2; idx++) {
		uint8_t msg[300];
		int n;
		if (q->done[idx] || q->tcp_type == idx)
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
	w->next = q->waiters;
	if (q->waiters)
		q->waiters->prev = w;
	q->waiters = w;
	return w;
}

struct dns_waiter *dns_resolve(struct dns *d, const char *host, dns_cb cb, void *arg)
{
	struct dns_result res;
	struct cache_entry *e;
	struct dns_query *q;
	uint8_t probe[300];
	memset(&res, 0, sizeof(res));
	if (literal(host, &res.addr[0])) {
		res.n = 1;
		cb(arg, NULL, &res);
		return NULL;
	}
	if (from_hosts(d, host, &res)) {
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
	for (q = d->active; q; q = q->next)
		if (strcasecmp(q->name, host) == 0)
			return add_waiter(q, cb, arg);
	q = calloc(1, sizeof(*q));
	if (!q) {
		cb(arg, "dns: out of memory", NULL);
		return NULL;
	}
	q->d = d;
	snprintf(q->name, sizeof(q->name), "%s", host);
	q->udp_fd = q->tcp_fd = -1;
	q->tcp_type = -1;
	q->ttl = UINT32_MAX;
	q->server = 0;
	buf_init(&q->tcp_in, MSG_MAX + 2);
	buf_init(&q->tcp_out, 512);
	timer_init(&q->timer, on_timeout, q);
	q->next = d->active;
	if (d->active)
		d->active->prev = q;
	d->active = q;
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
