/* server: HTTP/1.1 connections on top of the reactor and the parser.
 *
 * Each connection is an explicit state machine (enum conn_state in
 * server.c): reading a head, reading a body, waiting for the application,
 * closing. Requests on one connection are handled strictly one at a time,
 * so pipelined responses always leave in request order. A read buffer is
 * allocated when bytes arrive and freed when the connection is idle.
 *
 * The application gets each complete request through `handle` and answers
 * with http_respond, either before returning or later (http_defer first;
 * if the peer goes away meanwhile, the abort callback runs and the
 * connection must not be used again).
 *
 * Each connection owns its request: the parsed head passed to `handle`
 * (req, its header slices, body) is valid only during that call and
 * points into that connection's own buffer; nothing parsed is shared
 * between connections or kept across reads.
 *
 * Limits and timeouts come from the config: oversized heads -> 431 (414
 * for a request line), bodies -> 413, slow heads or bodies -> 408 (each
 * a fixed deadline: header_timeout from the head's first byte,
 * body_timeout from its end; trickled bytes do not extend them), and
 * every error whose framing is unknown closes the connection after the
 * answer, lingering at most 2 s for the peer to read it. Past
 * max_connections new peers get a canned 503 and are closed; EMFILE is
 * absorbed with a reserve descriptor so the listener never spins. */
#ifndef EDGEHOOK_SERVER_H
#define EDGEHOOK_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "edgehook/http_parser.h"

struct reactor;
struct http_server;
struct http_conn;

struct http_server_limits {
	size_t max_connections;
	size_t max_header_bytes;
	size_t max_body_bytes;
	uint64_t header_timeout_ms; /* whole head, from its first byte */
	uint64_t body_timeout_ms;   /* whole body, from the end of the head */
	uint64_t idle_timeout_ms;
};

typedef void (*http_handler_fn)(void *app, struct http_conn *c, const struct http_request *req,
				const char *body, size_t body_len);

struct http_server_stats {
	uint64_t connections_total;
	uint64_t connections_open;
	uint64_t connections_rejected; /* max_connections or EMFILE */
	uint64_t requests[6];          /* by status class: [1]=1xx .. [5]=5xx */
	uint64_t parse_errors;
	uint64_t timeouts;
};

struct http_server *http_server_new(struct reactor *r, const struct http_server_limits *limits,
				    http_handler_fn handle, void *app);
struct tls_server_ctx;
/* Opens a listening socket (HTTPS when tls is given, owned by the
 * caller); -1 with errno on failure. */
int http_server_listen(struct http_server *s, const struct sockaddr *addr, socklen_t len, struct tls_server_ctx *tls);
/* Listener flags: given to every connection the listener accepts. */
enum { HTTP_LISTENER_API = 1 };
/* The same with flags; an AF_UNIX address gets a socket of mode 0600. */
int http_server_listen_flags(struct http_server *s, const struct sockaddr *addr, socklen_t len,
			     struct tls_server_ctx *tls, unsigned flags);
/* The same for a named listen entry: under socket activation (see
 * activation.h) it takes the passed socket of that name, address or role
 * instead of binding; -1 with EADDRNOTAVAIL when none is left. */
int http_server_listen_named(struct http_server *s, const struct sockaddr *addr, socklen_t len, const char *name,
			     struct tls_server_ctx *tls, unsigned flags);
/* Serves one passed socket that no entry took (plain HTTP; an API
 * listener when named "api", *flags says which): 1, 0 when none is left,
 * -1 on failure. */
int http_server_listen_passed(struct http_server *s, unsigned *flags);
/* A bound, listening, non-blocking socket (mode 0600 for AF_UNIX), not
 * served: for a supervisor that hands listeners to worker processes.
 * reuseport: SO_REUSEPORT, so several sockets share the address and the
 * kernel spreads new connections over them. -1 with errno. */
int http_listen_socket(const struct sockaddr *addr, socklen_t len, int reuseport);
/* 1 when listeners come from socket activation: nothing is bound and
 * no socket path is ours to create or remove. */
int http_server_activated(void);
/* New limits apply to new requests (SIGHUP reload keeps the listeners). */
void http_server_set_limits(struct http_server *s, const struct http_server_limits *limits);
/* Requests for which a POST/PUT/PATCH without Content-Length (or
 * chunked coding) has an empty body, as Go's net/http reads it (webhook's
 * routes), instead of 411. Unset: none. */
typedef int (*http_empty_body_fn)(void *app, const struct http_request *req);
void http_server_empty_body_ok(struct http_server *s, http_empty_body_fn fn);
/* Stops accepting and closes idle connections; busy ones close after
 * their current response. on_empty runs once no connection is left. */
void http_server_drain(struct http_server *s, void (*on_empty)(void *arg), void *arg);
void http_server_free(struct http_server *s);
const struct http_server_stats *http_server_stats(const struct http_server *s);
size_t http_server_open_connections(const struct http_server *s);
/* Bound address of listener i (for -l 127.0.0.1:0). */
int http_server_local_addr(const struct http_server *s, size_t i, struct sockaddr_storage *out);

const struct sockaddr *http_conn_peer(const struct http_conn *c);
/* The flags of the listener that accepted c (HTTP_LISTENER_*). */
unsigned http_conn_listener_flags(const struct http_conn *c);
/* extra_headers: preformatted "Name: value\r\n" lines or NULL. */
void http_respond(struct http_conn *c, int status, const char *content_type, const char *extra_headers,
		  const char *body, size_t len);
/* 405 with an Allow header listing the methods that are. */
void http_respond_405(struct http_conn *c, const char *allow);
/* Exact (case-sensitive) method match, as RFC 9110 says methods are. */
int http_method_is_exact(const struct http_request *req, const char *method);
void http_defer(struct http_conn *c, void (*abort_cb)(void *arg), void *arg);

#endif
