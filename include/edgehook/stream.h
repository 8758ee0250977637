/* stream: the bytes under an HTTP connection, for the server's
 * connections and the client's alike: a non-blocking TCP socket, with
 * TLS on top when tls is not NULL (handshakes happen inside the calls).
 *
 * Both calls return n > 0 bytes moved, 0 at the end of the stream (recv
 * only), -2 when the socket would block (wait for EPOLLOUT, or for what
 * tls_want says), -1 on an error, with a short reason in *why when why
 * is not NULL. */
#ifndef EDGEHOOK_STREAM_H
#define EDGEHOOK_STREAM_H

#include <stddef.h>
#include <sys/types.h>

struct tls_conn;

ssize_t stream_send(int fd, struct tls_conn *tls, const char *data, size_t len, const char **why);
ssize_t stream_recv(int fd, struct tls_conn *tls, char *buf, size_t cap, const char **why);
/* A socket errno as the reason logs and delivery records show. */
const char *stream_errno_reason(int e);

#endif
