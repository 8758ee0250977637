/* client: non-blocking HTTP/1.1 client with one connection pool per
 * origin (scheme, host, port).
 *
 * http_client_send queues a request on its origin's pool and returns at
 * once; the callback runs exactly once, later, from the loop (never
 * inside http_client_send, http_client_cancel or http_client_limit, even
 * when the failure is known at once), unless the op is cancelled first.
 * A pool opens at most its origin's limit of connections (set by
 * http_client_limit; a pool created by a send takes that request's
 * max_in_flight once); further requests wait in FIFO order. Finished
 * keep-alive connections go back to the pool; an idle one that the peer
 * closed is noticed (EPOLLIN on idle) and dropped, and a request that
 * fails on a reused connection before any response byte is sent once
 * more on a fresh (or freshly probed) connection, invisibly to the caller.
 *
 * timeout_ms bounds the whole attempt: waiting for a connection, DNS,
 * connect, write, and the response; a name with n addresses gives each
 * connect timeout_ms/n before the next address is tried. The response is
 * read while the request is written: an early final answer (413) ends the
 * attempt with its status. Responses are parsed with http_parser
 * (Content-Length, chunked, close-delimited; over TLS a close-delimited
 * body needs close_notify); any run of 1xx answers is skipped; a body
 * over max_body is not read further and the connection is closed, the
 * status still counts. A connection whose peer broke the framing (a body
 * announced on 1xx/204, bytes after the response, an early answer) is
 * closed, never reused.
 *
 * Errors reach the callback as status 0 and a plain reason: "timeout",
 * "connection refused", "connection reset", "connection closed",
 * "connect timeout" (every address),
 * "host unreachable", "dns: NXDOMAIN" (any dns.h error), "bad response".
 *
 * The request bytes are copied; the caller's buffers may go at once. */
#ifndef EDGEHOOK_CLIENT_H
#define EDGEHOOK_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/url.h"

struct reactor;
struct dns;
struct http_client;
struct http_client_op;

struct http_client_request {
	const struct url *url;
	const char *method;
	const char *headers; /* "Name: value\r\n" lines; Host and Content-Length are added */
	const char *body;
	size_t body_len;
	uint64_t timeout_ms;
	unsigned max_in_flight; /* only for an origin without a limit yet */
};

struct http_client_result {
	int status; /* HTTP status, 0 when no response */
	const char *error;
	const char *retry_after; /* raw header value or NULL */
	size_t retry_after_len;
	const char *body; /* at most max_body bytes */
	size_t body_len;
	uint64_t duration_ms;
	int reused;
};

struct http_client_stats {
	uint64_t requests, connections_opened, reused, resent, failures, timeouts;
	uint64_t idle_closed_by_peer;
	uint64_t tls_handshakes, tls_resumed;
};

typedef void (*http_client_cb)(void *arg, const struct http_client_result *res);

struct tls_client_ctx;

struct http_client *http_client_new(struct reactor *r, struct dns *dns);
/* Trust anchors for https:// origins (owned by the caller). */
void http_client_set_tls(struct http_client *c, struct tls_client_ctx *tls);
void http_client_free(struct http_client *c);
struct http_client_op *http_client_send(struct http_client *c, const struct http_client_request *req,
					http_client_cb cb, void *arg);
void http_client_cancel(struct http_client_op *op);
/* Sets the most connections open to u's origin; -1 on ENOMEM. */
int http_client_limit(struct http_client *c, const struct url *u, unsigned max_in_flight);
const struct http_client_stats *http_client_stats(const struct http_client *c);
/* A result's Retry-After value (delta-seconds or an HTTP-date) as the
 * wait in ms from now_wall_ms; -1 when unparseable. */
int64_t http_retry_after_ms(const char *v, size_t len, uint64_t now_wall_ms);
/* Requests started but not finished, over all pools. */
size_t http_client_in_flight(const struct http_client *c);

#endif
