#include "edgehook/healthcheck.h"
#include "edgehook/buf.h"
#include "edgehook/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The status line is all we read; a head longer than this is cut there. */
enum { HEAD_MAX = 4096 };

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; -1 with *why on timeout. */
static int wait_fd(int fd, short events, long long deadline, const char **why)
{
	struct pollfd p = {.fd = fd, .events = events};
	int rc;
	do {
		long long left = deadline - now_ms();
		if (left <= 0) {
			*why = "timed out";
			return -1;
		}
		rc = poll(&p, 1, (int)left);
	} while (rc < 0 && errno == EINTR);
	if (rc <= 0) {
		*why = rc == 0 ? "timed out" : strerror(errno);
		return -1;
	}
	return 0;
}

static int address_of(const struct url *u, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, strcmp(u->host, "localhost") == 0 ? "127.0.0.1" : u->host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(u->port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, u->host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(u->port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

/* The status code of the response on fd, or -1 with *why. */
static int exchange(int fd, const struct url *u, long long deadline, const char **why)
{
	char req[2400], head[HEAD_MAX + 1];
	size_t sent = 0, got = 0;
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: edgehook-healthcheck\r\nConnection: close\r\n\r\n",
			 u->path, u->host_is_ipv6 ? "[" : "", u->host, u->host_is_ipv6 ? "]" : "", u->port);
	int err = 0, status;
	socklen_t elen = sizeof(err);
	if (wait_fd(fd, POLLOUT, deadline, why) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
		*why = strerror(err ? err : errno);
		return -1;
	}
	while (sent < (size_t)n) {
		ssize_t w = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (w > 0)
			sent += (size_t)w;
		else if (wait_fd(fd, POLLOUT, deadline, why) < 0)
			return -1;
	}
	while (got < HEAD_MAX && !memchr(head, '\n', got)) {
		ssize_t r;
		if (wait_fd(fd, POLLIN, deadline, why) < 0)
			return -1;
		r = recv(fd, head + got, HEAD_MAX - got, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r < 0 && errno != EAGAIN && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (r > 0)
			got += (size_t)r;
	}
	head[got] = '\0';
	if (sscanf(head, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100 || status > 999) {
		*why = "not an HTTP response";
		return -1;
	}
	return status;
}

int healthcheck_run(const char *text)
{
	long long deadline = now_ms() + HEALTHCHECK_MS;
	struct url u;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why = NULL;
	int fd, status = -1;
	if (url_parse(text, &u, &why) < 0 || u.scheme != URL_HTTP) {
		fprintf(stderr, "edgehook: --healthcheck %s: %s\n", text, why ? why : "only http:// URLs are checked");
		return 1;
	}
	if (address_of(&u, &ss, &len) < 0) {
		fprintf(stderr, "edgehook: --healthcheck %s: the host must be an IP address or localhost\n", text);
		return 1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS))
		why = strerror(errno);
	else
		status = exchange(fd, &u, deadline, &why);
	if (fd >= 0)
		close(fd);
	if (status < 200 || status > 299) {
		if (status > 0)
			fprintf(stderr, "unhealthy: %s answered %d\n", text, status);
		else
			fprintf(stderr, "unhealthy: %s: %s\n", text, why);
		return 1;
	}
	printf("healthy: %s answered %d\n", text, status);
	return 0;
}
