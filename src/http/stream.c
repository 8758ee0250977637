#include "edgehook/stream.h"
#include "edgehook/tls.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

const char *stream_errno_reason(int e)
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

/* What a plain socket call's result means here. */
static ssize_t sock_result(ssize_t n, const char **why)
{
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return -2;
	if (why)
		*why = stream_errno_reason(errno);
	return -1;
}

ssize_t stream_send(int fd, struct tls_conn *tls, const char *data, size_t len, const char **why)
{
	ssize_t n;
	if (!tls)
		return sock_result(send(fd, data, len, MSG_NOSIGNAL), why);
	n = tls_write(tls, fd, data, len);
	if (n == -1 && why)
		*why = tls_error(tls);
	return n;
}

ssize_t stream_recv(int fd, struct tls_conn *tls, char *buf, size_t cap, const char **why)
{
	ssize_t n;
	if (!tls)
		return sock_result(recv(fd, buf, cap, 0), why);
	n = tls_read(tls, fd, buf, cap);
	if (n == -1 && why)
		*why = tls_error(tls);
	return n;
}
