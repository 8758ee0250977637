/* loadgen: epoll HTTP/1.1 load generator built on edgehook's own parser.
 *
 *   loadgen [-c CONNS] [-d SECONDS] [-p PIPELINE] [-R RATE] [-m METHOD]
 *           [-H "Name: value"]... [-b BODY] [-w WARMUP] URL
 *   loadgen --sink HOST:PORT -d SECONDS      receive webhooks, measure
 *                                            now - body "t" (microseconds)
 *   loadgen --idle N URL                     open N keep-alive connections,
 *                                            one request each, then hold them
 *
 * Closed loop (default): every connection keeps PIPELINE requests in
 * flight. Open loop (-R): requests are due at fixed intervals; latency is
 * measured from the time a request was due, not when it could be sent,
 * so a stalled server cannot hide its stalls (no coordinated omission).
 * "{now}" in the body becomes the send time in monotonic microseconds.
 * Output: one JSON object on stdout. */
#include "edgehook/http_parser.h"
#include "edgehook/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CONNS = 20000, MAX_PIPE = 256, RBUF = 65536, NBUCKETS = 26000 };

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Latency histogram: 1 us steps to 10 ms, 100 us to 1 s, 10 ms to 61 s. */
static uint64_t hist[NBUCKETS], hist_n, hist_max;

static int bucket(uint64_t us)
{
	if (us < 10000)
		return (int)us;
	if (us < 1000000)
		return 10000 + (int)((us - 10000) / 100);
	if (us < 61000000)
		return 19900 + (int)((us - 1000000) / 10000);
	return NBUCKETS - 1;
}

static uint64_t bucket_value(int b)
{
	if (b < 10000)
		return (uint64_t)b;
	if (b < 19900)
		return 10000 + (uint64_t)(b - 10000) * 100;
	return 1000000 + (uint64_t)(b - 19900) * 10000;
}

static void record(uint64_t us)
{
	hist[bucket(us)]++;
	hist_n++;
	if (us > hist_max)
		hist_max = us;
}

static uint64_t percentile(double p)
{
	uint64_t want = (uint64_t)(p * (double)hist_n), seen = 0;
	int b;
	if (hist_n == 0)
		return 0;
	for (b = 0; b < NBUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return bucket_value(b);
	}
	return hist_max;
}

struct conn {
	int fd;
	char rbuf[RBUF];
	size_t rlen;
	uint64_t due[MAX_PIPE]; /* FIFO of in-flight requests' start times */
	unsigned head, count;
	char *wbuf;
	size_t wlen, wcap;
	int connected;
};

static struct conn *conns;
static int nconns = 50, pipeline = 1, epfd;
static double rate;
static const char *method = "GET";
static char *headers_text;
static size_t headers_len;
static const char *body = "";
static struct url target;
static struct sockaddr_in addr;
static uint64_t completed, errors, status_class[6], measuring;

static int connect_one(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void wappend(struct conn *c, const char *p, size_t n)
{
	if (c->wlen + n > c->wcap) {
		c->wcap = (c->wlen + n) * 2;
		c->wbuf = realloc(c->wbuf, c->wcap);
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
}

/* Appends one request; the body's {now} becomes the send time. */
static void queue_request(struct conn *c, uint64_t due)
{
	char head[1024], tbody[4096];
	const char *b = body, *mark = strstr(body, "{now}");
	size_t blen = strlen(body);
	int n;
	if (mark) {
		int k = snprintf(tbody, sizeof(tbody), "%.*s%llu%s", (int)(mark - body), body,
				 (unsigned long long)now_us(), mark + 5);
		b = tbody;
		blen = (size_t)k;
	}
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n", method, target.path,
		     target.host, blen);
	wappend(c, head, (size_t)n);
	wappend(c, headers_text, headers_len);
	wappend(c, "\r\n", 2);
	wappend(c, b, blen);
	c->due[(c->head + c->count) % MAX_PIPE] = due;
	c->count++;
}

static void flush(struct conn *c)
{
	while (c->wlen) {
		ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (size_t)n;
	}
	struct epoll_event ev = {.events = EPOLLIN | (c->wlen ? EPOLLOUT : 0), .data.ptr = c};
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The server closed the connection (nginx does after keepalive_requests):
 * requests in flight count as errors and the loop goes on on a new one. */
static void reconnect(struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
	int k;
	errors += c->count;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = connect_one();
	c->rlen = c->wlen = 0;
	c->count = 0;
	if (c->fd < 0)
		return;
	epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
	if (!rate)
		for (k = 0; k < pipeline; k++)
			queue_request(c, now_us());
}

/* Consumes complete responses; returns how many. */
static int parse_responses(struct conn *c)
{
	int done = 0;
	for (;;) {
		struct http_header h[32];
		struct http_response res;
		size_t total;
		int n;
		res.headers = h;
		n = http_parse_response(c->rbuf, c->rlen, &res, 32, 0);
		if (n == -2)
			return done;
		if (n < 0 || res.body == HTTP_BODY_CHUNKED || res.body == HTTP_BODY_UNTIL_CLOSE)
			return -1;
		total = (size_t)n + (size_t)res.content_length;
		if (c->rlen < total)
			return done;
		memmove(c->rbuf, c->rbuf + total, c->rlen - total);
		c->rlen -= total;
		if (c->count) {
			uint64_t due = c->due[c->head];
			c->head = (c->head + 1) % MAX_PIPE;
			c->count--;
			if (measuring) {
				record(now_us() - due);
				status_class[res.status / 100 < 6 ? res.status / 100 : 5]++;
				completed++;
			}
		}
		done++;
	}
}

static int resolve(const char *host, struct sockaddr_in *out)
{
	out->sin_family = AF_INET;
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void print_result(double secs, uint64_t sent_total)
{
	printf("{\"requests\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"errors\":%llu,\"sent\":%llu,"
	       "\"status\":{\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu},"
	       "\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}}\n",
	       (unsigned long long)completed, secs, (double)completed / secs, (unsigned long long)errors,
	       (unsigned long long)sent_total, (unsigned long long)status_class[2], (unsigned long long)status_class[3],
	       (unsigned long long)status_class[4], (unsigned long long)status_class[5],
	       (unsigned long long)percentile(0.5), (unsigned long long)percentile(0.9),
	       (unsigned long long)percentile(0.99), (unsigned long long)percentile(0.999),
	       (unsigned long long)hist_max);
}

static int run_load(double duration, double warmup)
{
	struct epoll_event evs[512];
	uint64_t start = now_us(), t_measure = start + (uint64_t)(warmup * 1e6);
	uint64_t t_end = t_measure + (uint64_t)(duration * 1e6), next_due = start, sent = 0;
	uint64_t interval = rate > 0 ? (uint64_t)(1e6 / rate) : 0, rr = 0;
	int i;
	epfd = epoll_create1(0);
	conns = calloc((size_t)nconns, sizeof(*conns));
	for (i = 0; i < nconns; i++) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &conns[i]};
		conns[i].fd = connect_one();
		if (conns[i].fd < 0) {
			fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
			return 1;
		}
		epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev);
		if (!rate) {
			int k;
			for (k = 0; k < pipeline; k++)
				queue_request(&conns[i], now_us());
		}
	}
	for (;;) {
		uint64_t now = now_us();
		int n, timeout = 1;
		if (!measuring && now >= t_measure) {
			measuring = 1;
			memset(hist, 0, sizeof(hist));
			hist_n = hist_max = completed = 0;
		}
		if (now >= t_end)
			break;
		while (rate > 0 && next_due <= now) {
			/* open loop: the request is due now whether or not its
			 * connection is free; latency counts from next_due */
			struct conn *c = &conns[rr++ % (uint64_t)nconns];
			if (c->count < MAX_PIPE) {
				queue_request(c, next_due);
				flush(c);
				sent++;
			} else {
				errors++;
			}
			next_due += interval;
		}
		n = epoll_wait(epfd, evs, 512, timeout);
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
				reconnect(c);
				continue;
			}
			if (evs[i].events & EPOLLIN) {
				ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
				int done;
				if (r <= 0) {
					if (r == 0 || (errno != EAGAIN && errno != EINTR))
						reconnect(c);
					continue;
				}
				c->rlen += (size_t)r;
				done = parse_responses(c);
				if (done < 0) {
					reconnect(c);
					continue;
				}
				if (!rate)
					while (done-- > 0)
						queue_request(c, now_us()), sent++;
			}
			if (c->wlen || (evs[i].events & EPOLLOUT))
				flush(c);
		}
	}
	print_result((double)(now_us() - t_measure) / 1e6, sent);
	return 0;
}

/* Sink: answers 200 to every POST and records now - "t" from the body. */
static int run_sink(const char *listen_addr, double duration)
{
	struct sockaddr_in a;
	struct epoll_event ev, evs[256];
	char host[64];
	const char *colon = strrchr(listen_addr, ':');
	int lfd, one = 1;
	uint64_t t_end;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_addr), listen_addr);
	memset(&a, 0, sizeof(a));
	resolve(host, &a);
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1024) < 0) {
		perror("loadgen --sink");
		return 1;
	}
	epfd = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	measuring = 1;
	t_end = now_us() + (uint64_t)(duration * 1e6);
	while (now_us() < t_end) {
		int n = epoll_wait(epfd, evs, 256, 100), i;
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			{
				ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
				if (r <= 0) {
					close(c->fd);
					free(c);
					continue;
				}
				c->rlen += (size_t)r;
			}
			for (;;) {
				struct http_header h[32];
				struct http_request req;
				size_t total;
				const char *t;
				int hn;
				req.headers = h;
				hn = http_parse_request(c->rbuf, c->rlen, &req, 32);
				if (hn <= 0)
					break;
				total = (size_t)hn + (size_t)req.content_length;
				if (c->rlen < total)
					break;
				t = memmem(c->rbuf + hn, (size_t)req.content_length, "\"t\":", 4);
				if (t) {
					uint64_t sent_at = strtoull(t + 4, NULL, 10), now = now_us();
					record(now > sent_at ? now - sent_at : 0);
					completed++;
					status_class[2]++;
				}
				if (send(c->fd, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
					errors++;
				memmove(c->rbuf, c->rbuf + total, c->rlen - total);
				c->rlen -= total;
			}
		}
	}
	print_result(duration, completed);
	return 0;
}

/* Opens n keep-alive connections with one request each, then holds them. */
static int run_idle(int n, double hold)
{
	int i, ok = 0;
	epfd = epoll_create1(0);
	conns = calloc((size_t)n, sizeof(*conns));
	for (i = 0; i < n; i++) {
		conns[i].fd = connect_one();
		if (conns[i].fd >= 0) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = &conns[i]};
			epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev);
			queue_request(&conns[i], now_us());
		}
	}
	{
		uint64_t end = now_us() + 20000000;
		while (ok < n && now_us() < end) {
			struct epoll_event evs[512];
			int k, m = epoll_wait(epfd, evs, 512, 100);
			for (k = 0; k < m; k++) {
				struct conn *c = evs[k].data.ptr;
				if (evs[k].events & EPOLLOUT)
					flush(c);
				if (evs[k].events & EPOLLIN) {
					ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
					if (r > 0) {
						c->rlen += (size_t)r;
						measuring = 1;
						if (parse_responses(c) > 0)
							ok++;
						struct epoll_event ev = {.events = 0, .data.ptr = c};
						epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
					}
				}
			}
		}
	}
	printf("{\"idle_connections\":%d}\n", ok);
	fflush(stdout);
	{
		struct timespec ts = {(time_t)hold, 0};
		nanosleep(&ts, NULL);
	}
	return ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	double duration = 5, warmup = 1;
	const char *url = NULL, *sink = NULL, *why;
	int i, idle = 0;
	size_t hcap = 4096;
	headers_text = calloc(1, hcap);
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c") && i + 1 < argc)
			nconns = atoi(argv[++i]);
		else if (!strcmp(a, "-d") && i + 1 < argc)
			duration = atof(argv[++i]);
		else if (!strcmp(a, "-w") && i + 1 < argc)
			warmup = atof(argv[++i]);
		else if (!strcmp(a, "-p") && i + 1 < argc)
			pipeline = atoi(argv[++i]);
		else if (!strcmp(a, "-R") && i + 1 < argc)
			rate = atof(argv[++i]);
		else if (!strcmp(a, "-m") && i + 1 < argc)
			method = argv[++i];
		else if (!strcmp(a, "-b") && i + 1 < argc)
			body = argv[++i];
		else if (!strcmp(a, "-H") && i + 1 < argc) {
			const char *h = argv[++i];
			if (headers_len + strlen(h) + 3 > hcap)
				return 2;
			headers_len += (size_t)sprintf(headers_text + headers_len, "%s\r\n", h);
		} else if (!strcmp(a, "--sink") && i + 1 < argc)
			sink = argv[++i];
		else if (!strcmp(a, "--idle") && i + 1 < argc)
			idle = atoi(argv[++i]);
		else
			url = a;
	}
	if (sink)
		return run_sink(sink, duration);
	if (!url || url_parse(url, &target, &why) < 0 || target.scheme != URL_HTTP || resolve(target.host, &addr) < 0) {
		fprintf(stderr, "usage: loadgen [-c N] [-d S] [-p N] [-R RATE] [-m M] [-H H] [-b BODY] http://IP:PORT/path\n");
		return 2;
	}
	addr.sin_port = htons(target.port);
	if (nconns < 1 || nconns > MAX_CONNS || pipeline < 1 || pipeline > MAX_PIPE)
		return 2;
	if (idle)
		return run_idle(idle, duration);
	return run_load(duration, warmup);
}
