/* listener: listening sockets (bound here or passed by socket
 * activation), accepting, and the limits applied before a peer becomes a
 * connection (max_connections, draining, EMFILE). */
#include "edgehook/server.h"
#include "edgehook/activation.h"
#include "edgehook/server_internal.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	ACCEPT_BATCH = 64,
	EMFILE_PAUSE_MS = 100,
};

#define BUSY_BODY "{\"error\":\"too many connections\"}"
static const char busy_response[] =
	"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
	"Connection: close\r\nContent-Length: %zu\r\n\r\n" BUSY_BODY;

static void reject_fd(struct http_server *s, int fd)
{
	char msg[sizeof(busy_response) + 16];
	int n = snprintf(msg, sizeof(msg), busy_response, sizeof(BUSY_BODY) - 1);
	s->stats.connections_rejected++;
	(void)!send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
}

static void listeners_set(struct http_server *s, uint32_t events)
{
	size_t i;
	for (i = 0; i < s->nlisteners; i++)
		reactor_set_events(s->r, s->listeners[i], events);
}

static void accept_resume(void *arg)
{
	struct http_server *s = arg;
	if (!s->draining)
		listeners_set(s, EPOLLIN);
}

/* Out of descriptors: spend the reserve one to accept and refuse a
 * waiting peer, then pause accepting briefly so the loop cannot spin. */
static void on_emfile(struct http_server *s, int lfd)
{
	int fd;
	if (s->reserve_fd >= 0) {
		close(s->reserve_fd);
		s->reserve_fd = -1;
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			reject_fd(s, fd);
		s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	log_msg(LOG_WARN, "out of file descriptors: refusing connections", NULL);
	listeners_set(s, 0);
	timer_start(s->r, &s->accept_pause, EMFILE_PAUSE_MS);
}

static size_t listener_index(const struct http_server *s, int lfd)
{
	size_t i;
	for (i = 0; i < s->nlisteners && s->listeners[i] != lfd; i++)
		;
	return i;
}

static void on_accept(void *arg, int lfd, uint32_t events)
{
	struct http_server *s = arg;
	size_t li = listener_index(s, lfd);
	struct tls_server_ctx *tls = li < s->nlisteners ? s->listener_tls[li] : NULL;
	unsigned flags = li < s->nlisteners ? s->listener_flags[li] : 0;
	int i;
	(void)events;
	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				on_emfile(s, lfd);
			return;
		}
		s->stats.connections_total++;
		if (s->nconns >= s->lim.max_connections || s->draining) {
			reject_fd(s, fd);
			continue;
		}
		if (http_conn_new(s, fd, &peer, tls, flags) < 0)
			reject_fd(s, fd);
	}
}

void listener_init(struct http_server *s)
{
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	timer_init(&s->accept_pause, accept_resume, s);
}

void listener_close(struct http_server *s)
{
	size_t i;
	for (i = 0; i < s->nlisteners; i++) {
		reactor_del(s->r, s->listeners[i]);
		close(s->listeners[i]);
	}
	s->nlisteners = 0;
	timer_stop(s->r, &s->accept_pause);
}

void listener_free(struct http_server *s)
{
	listener_close(s);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	s->reserve_fd = -1;
}

int http_server_listen(struct http_server *s, const struct sockaddr *addr, socklen_t len, struct tls_server_ctx *tls)
{
	return http_server_listen_flags(s, addr, len, tls, 0);
}

int http_server_listen_flags(struct http_server *s, const struct sockaddr *addr, socklen_t len,
			     struct tls_server_ctx *tls, unsigned flags)
{
	return http_server_listen_named(s, addr, len, NULL, tls, flags);
}

static int add_listener(struct http_server *s, int fd, struct tls_server_ctx *tls, unsigned flags)
{
	if (reactor_add(s->r, fd, EPOLLIN, on_accept, s) < 0)
		return -1;
	s->listener_tls[s->nlisteners] = tls;
	s->listener_flags[s->nlisteners] = flags;
	s->listeners[s->nlisteners++] = fd;
	return 0;
}

int http_listen_socket(const struct sockaddr *addr, socklen_t len, int reuseport)
{
	int one = 1, fd, bound;
	mode_t mask;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (addr->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* a Unix socket is created 0600: only its owner may connect */
	mask = addr->sa_family == AF_UNIX ? umask(0177) : 0;
	bound = bind(fd, addr, len);
	if (addr->sa_family == AF_UNIX)
		umask(mask);
	if (bound < 0 || listen(fd, 4096) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Under socket activation nothing is bound here: an entry without a
 * passed socket is an error (EADDRNOTAVAIL), not a silent bind. */
int http_server_listen_named(struct http_server *s, const struct sockaddr *addr, socklen_t len, const char *name,
			     struct tls_server_ctx *tls, unsigned flags)
{
	int fd;
	if (s->nlisteners == MAX_LISTENERS) {
		errno = ENOSPC;
		return -1;
	}
	if (activation_count() > 0) {
		fd = activation_take(addr, len, name, (flags & HTTP_LISTENER_API) != 0);
		if (fd < 0) {
			log_msg(LOG_ERROR, "socket activation: no passed socket left for a listener", "name", name ? name : "",
				NULL);
			errno = EADDRNOTAVAIL;
			return -1;
		}
	} else if ((fd = http_listen_socket(addr, len, 0)) < 0) {
		return -1;
	}
	if (add_listener(s, fd, tls, flags) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return 0;
}

int http_server_listen_passed(struct http_server *s, unsigned *flags)
{
	int fd, api;
	if (s->nlisteners == MAX_LISTENERS || (fd = activation_take_rest(&api)) < 0)
		return 0;
	*flags = api ? HTTP_LISTENER_API : 0;
	if (add_listener(s, fd, NULL, *flags) < 0) {
		close(fd);
		return -1;
	}
	return 1;
}

int http_server_activated(void) { return activation_count() > 0; }

int http_server_local_addr(const struct http_server *s, size_t i, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);
	if (i >= s->nlisteners)
		return -1;
	return getsockname(s->listeners[i], (struct sockaddr *)out, &len);
}
