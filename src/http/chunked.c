/* Chunked transfer coding (RFC 9112 7.1), decoded in place one framing
 * byte at a time, so a body split anywhere decodes the same. */
#include "edgehook/http_parser.h"
#include "edgehook/http_chars.h"
#include "edgehook/strutil.h"

#include <string.h>

enum chunk_state {
	CH_SIZE_START,
	CH_SIZE,
	CH_SIZE_WS,
	CH_EXT,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,
	CH_TRAILER_NAME,
	CH_TRAILER,
	CH_TRAILER_LF,
	CH_END_LF
};

void http_chunked_init(struct http_chunked *c, uint64_t max_body, size_t max_trailer)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE_START;
	c->max_body = max_body;
	c->max_trailer = max_trailer;
}

static ssize_t chunk_fail(struct http_chunked *c, int status, const char *why)
{
	c->error_status = status;
	c->error = why;
	return -1;
}

/* One framing byte (anything outside chunk data); returns 1 when the
 * message is complete, 0 to go on, -1 on error. */
static int chunk_byte(struct http_chunked *c, unsigned char ch)
{
	int hv;
	switch (c->state) {
	case CH_SIZE_START:
	case CH_SIZE:
		hv = str_hex_digit(ch);
		if (hv >= 0) {
			/* 15 hex digits keep the size far below overflow. */
			if (++c->digits > 15)
				return (int)chunk_fail(c, 400, "chunk size too long");
			c->remaining = c->remaining * 16 + (uint64_t)hv;
			c->state = CH_SIZE;
			return 0;
		}
		if (c->state == CH_SIZE_START)
			return (int)chunk_fail(c, 400, "invalid chunk size");
		if (c->remaining > c->max_body || c->decoded > c->max_body - c->remaining)
			return (int)chunk_fail(c, 413, "body too large");
		/* fall through */
	case CH_SIZE_WS:
		if (ch == ' ' || ch == '\t') {
			/* BWS before ';' only: "5 5" is not a size */
			c->state = CH_SIZE_WS;
			return ++c->trailer_bytes > c->max_trailer ? (int)chunk_fail(c, 400, "chunk line too long") : 0;
		}
		if (ch == ';') {
			c->state = CH_EXT;
			return 0;
		}
		if (ch == '\r') {
			c->state = CH_SIZE_LF;
			return 0;
		}
		return (int)chunk_fail(c, 400, "invalid chunk size");
	case CH_EXT:
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (ch != '\t' && (ch < 0x20 || ch == 0x7f))
			return (int)chunk_fail(c, 400, "invalid chunk extension");
		else if (++c->trailer_bytes > c->max_trailer)
			return (int)chunk_fail(c, 400, "chunk extension too long");
		return 0;
	case CH_SIZE_LF:
		if (ch != '\n')
			return (int)chunk_fail(c, 400, "bare CR in chunk size");
		c->digits = 0;
		c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return (int)chunk_fail(c, 400, "chunk data not followed by CRLF");
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return (int)chunk_fail(c, 400, "chunk data not followed by CRLF");
		c->state = CH_SIZE_START;
		return 0;
	case CH_TRAILER_START:
		if (ch == '\r') {
			c->state = CH_END_LF;
			return 0;
		}
		if (!IS_TOKEN(ch))
			return (int)chunk_fail(c, 400, "invalid trailer");
		c->state = CH_TRAILER_NAME;
		/* fall through */
	case CH_TRAILER_NAME:
		/* Trailers are discarded, but a line a proxy in front would read
		 * another way (no colon, a space in the name) is refused, as in
		 * the head. */
		if (++c->trailer_bytes > c->max_trailer)
			return (int)chunk_fail(c, 400, "trailers too large");
		if (ch == ':')
			c->state = CH_TRAILER;
		else if (!IS_TOKEN(ch))
			return (int)chunk_fail(c, 400, "invalid trailer name");
		return 0;
	case CH_TRAILER:
		if (++c->trailer_bytes > c->max_trailer)
			return (int)chunk_fail(c, 400, "trailers too large");
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!IS_FIELD_CHAR(ch))
			return (int)chunk_fail(c, 400, "invalid trailer");
		return 0;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return (int)chunk_fail(c, 400, "bare CR in trailer");
		c->state = CH_TRAILER_START;
		return 0;
	case CH_END_LF:
		if (ch != '\n')
			return (int)chunk_fail(c, 400, "bare CR after trailers");
		return 1;
	}
	return (int)chunk_fail(c, 400, "bad chunked state");
}

ssize_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len)
{
	size_t in = 0, out = 0, n = *len;
	while (in < n) {
		int r;
		if (c->state == CH_DATA) {
			size_t take = n - in;
			if (take > c->remaining)
				take = (size_t)c->remaining;
			memmove(buf + out, buf + in, take);
			in += take;
			out += take;
			c->remaining -= take;
			c->decoded += take;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		r = chunk_byte(c, (unsigned char)buf[in++]);
		if (r < 0) {
			*len = out;
			return -1;
		}
		if (r == 1) {
			*len = out;
			return (ssize_t)in;
		}
	}
	*len = out;
	return -2;
}
