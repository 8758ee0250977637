#include "edgehook/healthcheck.h"
#include "edgehook/buf.h"
#include "edgehook/config.h"
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

int healthcheck_default_url(const struct listen_cfg *list, size_t n, char *out, size_t cap)
{
	size_t i;
	for (i = 0; i < n; i++) {
		const struct listen_cfg *l = &list[i];
		char host[INET6_ADDRSTRLEN];
		if (l->tls > 0)
			continue;
		if (l->addr.ss_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;
			if (a->sin_addr.s_addr == htonl(INADDR_ANY))
				snprintf(host, sizeof(host), "127.0.0.1");
			else
				inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			snprintf(out, cap, "http://%s:%u/healthz", host, ntohs(a->sin_port));
			return 0;
		}
		if (l->addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->addr;
			if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
				snprintf(host, sizeof(host), "::1");
			else
				inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			snprintf(out, cap, "http://[%s]:%u/healthz", host, ntohs(a->sin6_port));
			return 0;
		}
	}
	return -1;
}

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

int healthcheck_main(const char *url, const char *config_path, const char *listen)
{
	struct config *cfg = NULL;
	struct listen_cfg one;
	struct buf errors;
	char text[128];
	int rc = -1;
	if (url)
		return healthcheck_run(url);
	if (listen) {
		if (config_parse_listen(listen, &one) == 0)
			rc = healthcheck_default_url(&one, 1, text, sizeof(text));
	} else {
		buf_init(&errors, 1 << 16);
		if (config_path)
			rc = config_load_file(config_path, &cfg, &errors);
		else
			rc = config_load_text("<default>", config_default_yaml, strlen(config_default_yaml), &cfg, &errors);
		if (errors.len)
			fwrite(errors.data, 1, errors.len, stderr);
		buf_free(&errors);
		if (rc == 0)
			rc = healthcheck_default_url(cfg->server.listen, cfg->server.nlisten, text, sizeof(text));
		config_free(cfg);
	}
	if (rc < 0) {
		fprintf(stderr, "edgehook: --healthcheck: no plain-HTTP listener to check; give a URL\n");
		return 1;
	}
	return healthcheck_run(text);
}
