/* http_parser: zero-copy HTTP/1.1 message-head parser and chunked decoder.
 *
 * Contract (picohttpparser style):
 *   n  = http_parse_request(buf, len, &req, max_headers)
 *   n > 0   the head is complete and n bytes long; every pointer in req is
 *           a slice of buf, valid while buf is
 *   n == -2 incomplete: call again with more bytes (from the start)
 *   n == -1 malformed: req.error_status is the HTTP status to answer (400,
 *           417, 431, 501, 505) and req.error a short reason
 * Nothing is allocated: req.headers points to a caller array of at least
 * max_headers entries.
 *
 * Strict RFC 9112: CRLF line endings only (bare CR or bare LF is an
 * error), no obs-fold, no NUL or other control bytes, token characters in
 * methods and header names, no whitespace before a colon, exactly one
 * Host in HTTP/1.1, one well-formed Content-Length, Transfer-Encoding only
 * as a final, single `chunked` (other codings -> 501) and never together
 * with Content-Length or in HTTP/1.0. Version HTTP/1.x with x > 1 or a
 * major above 1 -> 505.
 *
 * http_chunked_decode decodes a chunked body in place, keeping the running
 * state in struct http_chunked so input may arrive in any split. */
#ifndef EDGEHOOK_HTTP_PARSER_H
#define EDGEHOOK_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

enum http_body {
	HTTP_BODY_NONE,
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_UNTIL_CLOSE /* responses only */
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	int minor_version;
	struct http_header *headers; /* caller-provided array */
	size_t num_headers;
	enum http_body body;
	uint64_t content_length;
	const char *host;
	size_t host_len;
	unsigned keep_alive : 1;
	unsigned expect_continue : 1;
	unsigned has_length : 1; /* Content-Length or Transfer-Encoding was sent */
	int error_status;
	const char *error;
};

struct http_response {
	int minor_version;
	int status;
	const char *reason;
	size_t reason_len;
	struct http_header *headers;
	size_t num_headers;
	enum http_body body;
	uint64_t content_length;
	unsigned keep_alive : 1;
	const char *error;
};

int http_parse_request(const char *buf, size_t len, struct http_request *req, size_t max_headers);

/* The head scanner behind http_parse_request, for a server that gets a
 * head in pieces: it keeps its place (like picohttpparser's last_len, but
 * with the state too), so each byte is looked at once and a syntax error
 * is reported at the byte that makes it certain, wherever the pieces
 * split. buf must hold the same bytes as in earlier calls, plus more.
 * Returns the head length once its blank line is seen, -2 for more, -1
 * on error (error_status, error as in http_request). Errors that need the
 * whole head (framing, Host, target form) come from http_parse_request,
 * which a server calls on the complete head. */
struct http_head_scan {
	size_t off;   /* bytes of buf scanned so far */
	size_t count; /* header lines so far */
	size_t max_headers;
	unsigned char state, sub, major, minor;
	int error_status;
	const char *error;
};
void http_head_scan_init(struct http_head_scan *s, size_t max_headers);
/* Starts at the header fields (a response's, after its status line). */
void http_head_scan_fields(struct http_head_scan *s, size_t max_headers);
int http_head_scan(struct http_head_scan *s, const char *buf, size_t len);
/* http_parse_request's answer for the head of n bytes that s (which
 * read its first n bytes) accepted: the whole-head checks and slicing
 * without scanning it again. */
int http_parse_scanned(const char *buf, size_t n, const struct http_head_scan *s, struct http_request *req);
/* head_request: the request was HEAD, so no body follows whatever the
 * headers say. 1xx, 204 and 304 never have a body either. */
int http_parse_response(const char *buf, size_t len, struct http_response *res, size_t max_headers,
			int head_request);

/* Case-insensitive header lookup; NULL when absent. */
const struct http_header *http_find_header(const struct http_header *h, size_t n, const char *name);
/* ASCII case-insensitive equality of a slice and a literal: for header
 * names and tokens, which HTTP compares without case. */
int http_token_eq_nocase(const char *s, size_t len, const char *lit);

struct http_chunked {
	int state;
	uint64_t remaining;  /* bytes left in the current chunk */
	uint64_t decoded;    /* total data bytes so far */
	uint64_t max_body;   /* data cap; over it -> error_status 413 */
	size_t trailer_bytes;
	size_t max_trailer;
	unsigned digits;
	int error_status;
	const char *error;
};

void http_chunked_init(struct http_chunked *c, uint64_t max_body, size_t max_trailer);
/* Decodes buf[0..*len) in place; on return the data decoded by this call
 * is at buf[0..*len). Returns the number of input bytes consumed once the
 * last chunk and trailers are complete (what follows belongs to the next
 * message), -2 when all input was consumed and more is needed, -1 on error
 * (c->error_status 400 or 413). */
ssize_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len);

#endif
