/* message: the HTTP/1.1 heads we write, without printf (every response
 * and every delivery attempt goes through here).
 *
 * http_put_head appends a response head for the server: "HTTP/1.1
 * <status> <reason>", Content-Length, Content-Type (when given), the
 * connection line and the caller's extra header lines, then the blank
 * line. http_put_request_head appends a request head for the client:
 * the request line for u's path, Host (the port only when it is not the
 * scheme's default, IPv6 literals bracketed), Content-Length, the
 * caller's header lines, then the blank line. Both return -1 when the
 * buffer is full. */
#ifndef EDGEHOOK_MESSAGE_H
#define EDGEHOOK_MESSAGE_H

#include <stddef.h>

#include "edgehook/buf.h"
#include "edgehook/url.h"

const char *http_status_reason(int status);
int http_put_head(struct buf *b, int status, size_t len, const char *content_type, const char *connection,
		  const char *extra);
/* headers: preformatted "Name: value\r\n" lines or NULL. */
int http_put_request_head(struct buf *b, const char *method, const struct url *u, size_t body_len,
			  const char *headers);

#endif
