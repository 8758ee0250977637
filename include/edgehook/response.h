/* response: HTTP/1.1 response heads for the server.
 *
 * http_put_head appends "HTTP/1.1 <status> <reason>", Content-Length,
 * Content-Type (when given), the connection line and the caller's extra
 * header lines, then the blank line; -1 when the buffer is full. */
#ifndef EDGEHOOK_RESPONSE_H
#define EDGEHOOK_RESPONSE_H

#include <stddef.h>

#include "edgehook/buf.h"

const char *http_status_reason(int status);
int http_put_head(struct buf *b, int status, size_t len, const char *content_type, const char *connection,
		  const char *extra);

#endif
