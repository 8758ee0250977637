/* tls: BearSSL glue, driven without blocking from the reactor.
 *
 * A tls_conn wraps one TCP socket. tls_read/tls_write move application
 * bytes and do whatever record I/O the engine needs on the way; when the
 * socket would block they return -2 and tls_want() tells which epoll
 * events to wait for. Handshakes happen inside these calls. Buffers are
 * BearSSL's "mono" size (16.7 KiB): HTTP/1.1 never needs both directions
 * at once, so one buffer serves both.
 *
 * Clients verify the server chain against trust anchors loaded from a PEM
 * bundle, send SNI and check the name (a trailing dot dropped); for an IP
 * literal they send no SNI (RFC 6066) and match the address against the
 * certificate's iPAddress SANs. Sessions can be resumed from saved
 * parameters. Servers load a PEM chain and an RSA or EC key and keep a
 * small LRU session cache. Both sides refuse renegotiation. Engines are
 * set up from tls_impl's table (tls_impl.h), logged once at the first
 * context ("tls implementations").
 *
 * Errors are plain text: "tls: unknown CA", "tls: expired certificate",
 * "tls: name mismatch", else "tls: <BearSSL error name>". */
#ifndef EDGEHOOK_TLS_H
#define EDGEHOOK_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct tls_client_ctx;
struct tls_server_ctx;
struct tls_conn;
struct tls_session; /* opaque saved session parameters */

/* Loads trust anchors; NULL, with the reason appended to errors, when
 * the file is unreadable or holds no certificate. */
struct tls_client_ctx *tls_client_ctx_new(const char *ca_file, struct buf *errors, size_t *count);
/* Drops the caller's reference: connections made from ctx keep their own
 * until tls_free, so a reload can swap the anchors while handshakes run. */
void tls_client_ctx_free(struct tls_client_ctx *ctx);

/* Loads a PEM chain and key; NULL, with the reason appended to errors. */
struct tls_server_ctx *tls_server_ctx_new(const char *cert_file, const char *key_file, struct buf *errors);
void tls_server_ctx_free(struct tls_server_ctx *ctx);

/* resume may be NULL; a session saved under other anchors (before a
 * reload changed them) is not offered. */
struct tls_conn *tls_client_new(struct tls_client_ctx *ctx, const char *server_name, const struct tls_session *resume);
/* 1 when client connection t verified its peer under ctx's anchors. */
int tls_client_under(const struct tls_conn *t, const struct tls_client_ctx *ctx);
struct tls_conn *tls_server_new(struct tls_server_ctx *ctx);
void tls_free(struct tls_conn *t);

/* n > 0 bytes, 0 at a clean end of stream, -1 error, -2 would block. */
ssize_t tls_read(struct tls_conn *t, int fd, void *buf, size_t cap);
/* n > 0 bytes taken (maybe still in flight), -1 error, -2 would block. */
ssize_t tls_write(struct tls_conn *t, int fd, const void *buf, size_t len);
/* Sends buffered records: 1 all sent, -2 would block, -1 error. */
int tls_flush(struct tls_conn *t, int fd);
/* Queues close_notify (send it with tls_flush). */
void tls_close(struct tls_conn *t);
/* EPOLLIN/EPOLLOUT the engine is waiting for. */
uint32_t tls_want(const struct tls_conn *t);
int tls_handshake_done(const struct tls_conn *t);
/* 1 when the peer ended the stream with close_notify (a clean end); a
 * TCP close without it reads as EOF too, but may be a truncation. */
int tls_close_notified(const struct tls_conn *t);
int tls_resumed(const struct tls_conn *t);
const char *tls_error(const struct tls_conn *t);
/* Saves the session for resumption (caller frees with free()). */
struct tls_session *tls_session_save(const struct tls_conn *t);
/* Bytes one connection object takes (for the README's memory figure). */
size_t tls_conn_size(int client);

#endif
