#include "edgehook/message.h"

#include <string.h>

const char *http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static int put_str(struct buf *b, const char *s) { return s ? buf_puts(b, s) : 0; }

/* The status line and headers, without printf: this runs per response. */
int http_put_head(struct buf *b, int status, size_t len, const char *content_type, const char *connection,
		    const char *extra)
{
	int rc = buf_reserve(b, 128);
	if (rc == 0) {
		char *o = b->data + b->len;
		memcpy(o, "HTTP/1.1 ", 9);
		o[9] = (char)('0' + status / 100 % 10);
		o[10] = (char)('0' + status / 10 % 10);
		o[11] = (char)('0' + status % 10);
		o[12] = ' ';
		b->len += 13;
	}
	rc |= put_str(b, http_status_reason(status));
	rc |= put_str(b, "\r\nContent-Length: ");
	rc |= buf_put_u64(b, len);
	rc |= put_str(b, "\r\n");
	if (content_type) {
		rc |= put_str(b, "Content-Type: ");
		rc |= put_str(b, content_type);
		rc |= put_str(b, "\r\n");
	}
	rc |= put_str(b, connection);
	rc |= put_str(b, extra);
	rc |= put_str(b, "\r\n");
	return rc;
}


int http_put_request_head(struct buf *b, const char *method, const struct url *u, size_t body_len,
			  const char *headers)
{
	int rc = buf_puts(b, method);
	rc |= buf_puts(b, " ");
	rc |= buf_puts(b, u->path);
	rc |= buf_puts(b, u->host_is_ipv6 ? " HTTP/1.1\r\nHost: [" : " HTTP/1.1\r\nHost: ");
	rc |= buf_puts(b, u->host);
	rc |= u->host_is_ipv6 ? buf_puts(b, "]") : 0;
	if (u->port != (u->scheme == URL_HTTPS ? 443 : 80))
		rc |= buf_puts(b, ":") | buf_put_u64(b, u->port);
	rc |= buf_puts(b, "\r\nContent-Length: ");
	rc |= buf_put_u64(b, body_len);
	rc |= buf_puts(b, "\r\n");
	rc |= put_str(b, headers);
	rc |= buf_puts(b, "\r\n");
	return rc;
}
