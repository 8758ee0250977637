#include "edgehook/http_parser.h"
#include "edgehook/http_chars.h"

#include <string.h>

enum { NEED_MORE = -2, BAD = -1 };

struct cursor {
	const char *p, *end;
	int status;
	const char *error;
};

static int fail(struct cursor *c, int status, const char *why)
{
	c->status = status;
	c->error = why;
	return BAD;
}

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* Lengths first: header scans compare many names that differ in length. */
static int ieq(const char *s, const char *lit, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
			return 0;
	return 1;
}

/* http_token_eq_nocase for a string literal: the length compares first,
 * known at compile time (every header of every request meets these) */
#define TOKEN_IS(s, len, lit) ((len) == sizeof(lit) - 1 && ieq(s, lit, sizeof(lit) - 1))

int http_token_eq_nocase(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && ieq(s, lit, len);
}

const struct http_header *http_find_header(const struct http_header *h, size_t n, const char *name)
{
	size_t i, len = strlen(name);
	for (i = 0; i < n; i++)
		if (h[i].name_len == len && ieq(h[i].name, name, len))
			return &h[i];
	return NULL;
}

/* Expects CRLF at the cursor. */
static int expect_crlf(struct cursor *c)
{
	if (c->p == c->end)
		return NEED_MORE;
	if (*c->p != '\r')
		return fail(c, 400, "expected CRLF");
	if (c->p + 1 == c->end)
		return NEED_MORE;
	if (c->p[1] != '\n')
		return fail(c, 400, "bare CR");
	c->p += 2;
	return 0;
}

/* HTTP/DIGIT.DIGIT; stores the minor version, 505 for unsupported ones.
 * Status lines only: request lines go through the head scanner. */
static int parse_version(struct cursor *c, int *minor)
{
	static const char prefix[] = "HTTP/";
	size_t i;
	for (i = 0; i < 5; i++) {
		if (c->p + i == c->end)
			return NEED_MORE;
		if (c->p[i] != prefix[i])
			return fail(c, 400, "bad HTTP version");
	}
	if (c->end - c->p < 8)
		return NEED_MORE;
	if (c->p[5] < '0' || c->p[5] > '9' || c->p[6] != '.' || c->p[7] < '0' || c->p[7] > '9')
		return fail(c, 400, "bad HTTP version");
	if (c->p[5] != '1' || c->p[7] > '1')
		return fail(c, c->p[5] == '0' ? 400 : 505, "HTTP version not supported");
	*minor = c->p[7] - '0';
	c->p += 8;
	return 0;
}

/* ---- the head scanner: one byte at a time, resumable ---- */

enum scan_state {
	S_LEAD,       /* empty lines may come before the request line */
	S_LEAD_LF,
	S_METHOD,
	S_TARGET,
	S_VERSION,    /* sub = bytes of "HTTP/d.d" matched */
	S_RL_CR,
	S_RL_LF,
	S_LINE,       /* start of a header line or of the blank line */
	S_NAME,
	S_VALUE,
	S_VALUE_LF,
	S_END_LF,
	S_DONE
};

void http_head_scan_init(struct http_head_scan *s, size_t max_headers)
{
	memset(s, 0, sizeof(*s));
	s->state = S_LEAD;
	s->max_headers = max_headers;
}

void http_head_scan_fields(struct http_head_scan *s, size_t max_headers)
{
	http_head_scan_init(s, max_headers);
	s->state = S_LINE;
}

static int scan_fail(struct http_head_scan *s, int status, const char *why)
{
	s->error_status = status;
	s->error = why;
	return BAD;
}

/* "HTTP/" then DIGIT "." DIGIT: decided at the byte that settles it. */
static int scan_version(struct http_head_scan *s, char ch)
{
	static const char prefix[] = "HTTP/";
	unsigned i = s->sub++;
	if (i < 5)
		return ch == prefix[i] ? 0 : scan_fail(s, 400, "bad HTTP version");
	if (i == 6)
		return ch == '.' ? 0 : scan_fail(s, 400, "bad HTTP version");
	if (ch < '0' || ch > '9')
		return scan_fail(s, 400, "bad HTTP version");
	if (i == 5) {
		s->major = (unsigned char)(ch - '0');
		return 0;
	}
	if (s->major != 1 || ch > '1')
		return scan_fail(s, s->major == 0 ? 400 : 505, "HTTP version not supported");
	s->minor = (unsigned char)(ch - '0');
	s->state = S_RL_CR;
	return 0;
}

/* One byte of the head; BAD on error, 1 at the head's last byte. */
static int scan_byte(struct http_head_scan *s, char ch)
{
	switch (s->state) {
	case S_LEAD:
		if (ch == '\r') {
			s->state = S_LEAD_LF;
			return 0;
		}
		s->state = S_METHOD;
		s->sub = 0;
		/* fall through */
	case S_METHOD:
		if (IS_TOKEN(ch)) {
			s->sub = 1;
			return 0;
		}
		if (ch != ' ' || !s->sub)
			return scan_fail(s, 400, "invalid method");
		s->state = S_TARGET;
		s->sub = 0;
		return 0;
	case S_LEAD_LF:
		if (ch != '\n')
			return scan_fail(s, 400, "bare CR");
		s->state = S_LEAD;
		return 0;
	case S_TARGET:
		if ((unsigned char)ch > 0x20 && (unsigned char)ch < 0x7f) {
			s->sub = 1;
			return 0;
		}
		if (ch != ' ' || !s->sub)
			return scan_fail(s, 400, "invalid request target");
		s->state = S_VERSION;
		s->sub = 0;
		return 0;
	case S_VERSION:
		return scan_version(s, ch);
	case S_RL_CR:
		if (ch != '\r')
			return scan_fail(s, 400, "expected CRLF");
		s->state = S_RL_LF;
		return 0;
	case S_RL_LF:
	case S_VALUE_LF:
		if (ch != '\n')
			return scan_fail(s, 400, "bare CR");
		s->state = S_LINE;
		return 0;
	case S_LINE:
		if (ch == '\r') {
			s->state = S_END_LF;
			return 0;
		}
		if (ch == ' ' || ch == '\t')
			return scan_fail(s, 400, "obsolete line folding");
		if (!IS_TOKEN(ch))
			return scan_fail(s, 400, "empty header name");
		s->state = S_NAME;
		return 0;
	case S_NAME:
		if (IS_TOKEN(ch))
			return 0;
		if (ch != ':')
			return scan_fail(s, 400, "invalid header name");
		if (s->count == s->max_headers)
			return scan_fail(s, 431, "too many headers");
		s->count++;
		s->state = S_VALUE;
		return 0;
	case S_VALUE:
		if (IS_FIELD_CHAR(ch))
			return 0;
		if (ch != '\r')
			return scan_fail(s, 400, ch == '\n' ? "bare LF" : "invalid header value");
		s->state = S_VALUE_LF;
		return 0;
	case S_END_LF:
		if (ch != '\n')
			return scan_fail(s, 400, "bare CR");
		s->state = S_DONE;
		return 1;
	}
	return scan_fail(s, 400, "bad head state");
}

/* The end of the run of bytes from off that scan_byte would take without
 * leaving the state: the same checks without the dispatch per byte, for
 * the target, header names and values (most of a head). */
static size_t scan_run(const struct http_head_scan *s, const char *buf, size_t off, size_t len)
{
	switch (s->state) {
	case S_TARGET:
		while (off < len && (unsigned char)buf[off] > 0x20 && (unsigned char)buf[off] < 0x7f)
			off++;
		break;
	case S_NAME:
		while (off < len && IS_TOKEN(buf[off]))
			off++;
		break;
	case S_VALUE:
		while (off < len && IS_FIELD_CHAR(buf[off]))
			off++;
		break;
	default:
		break;
	}
	return off;
}

int http_head_scan(struct http_head_scan *s, const char *buf, size_t len)
{
	if (s->state == S_DONE)
		return (int)s->off;
	if (s->error)
		return BAD;
	while (s->off < len) {
		size_t run = scan_run(s, buf, s->off, len);
		int r;
		if (run > s->off) {
			if (s->state == S_TARGET)
				s->sub = 1; /* a target byte was seen */
			s->off = run;
			continue;
		}
		r = scan_byte(s, buf[s->off++]);
		if (r == BAD)
			return BAD;
		if (r == 1)
			return (int)s->off;
	}
	return NEED_MORE;
}

/* Header lines of a scanned head, from p up to and including the blank
 * line that ends at end: every byte is already known to be valid. */
static void collect_headers(const char *p, const char *end, struct http_header *h, size_t *count)
{
	*count = 0;
	while (*p != '\r') {
		const char *value, *vend;
		h[*count].name = p;
		p = memchr(p, ':', (size_t)(end - p));
		h[*count].name_len = (size_t)(p - h[*count].name);
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		value = p;
		p = memchr(p, '\r', (size_t)(end - p));
		vend = p;
		while (vend > value && (vend[-1] == ' ' || vend[-1] == '\t'))
			vend--;
		h[*count].value = value;
		h[*count].value_len = (size_t)(vend - value);
		(*count)++;
		p += 2;
	}
}

/* Content-Length: 1*DIGIT, at most 18 digits so it cannot overflow. */
static int parse_content_length(const struct http_header *h, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	if (h->value_len == 0 || h->value_len > 18)
		return -1;
	for (i = 0; i < h->value_len; i++) {
		if (h->value[i] < '0' || h->value[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(h->value[i] - '0');
	}
	*out = v;
	return 0;
}

/* Iterates comma-separated list elements, skipping empty ones and OWS. */
static int next_list_item(const char **p, const char *end, const char **item, size_t *len)
{
	for (;;) {
		const char *s, *e;
		while (*p < end && (**p == ' ' || **p == '\t' || **p == ','))
			(*p)++;
		if (*p == end)
			return 0;
		s = *p;
		while (*p < end && **p != ',')
			(*p)++;
		e = *p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > s) {
			*item = s;
			*len = (size_t)(e - s);
			return 1;
		}
	}
}

struct framing {
	int cl_seen, te_seen, chunked_count, other_coding, chunked_not_last, te_empty;
	uint64_t cl;
	int conn_close, conn_keep_alive;
};

static int scan_framing(struct cursor *c, const struct http_header *h, size_t n, struct framing *f)
{
	size_t i;
	memset(f, 0, sizeof(*f));
	for (i = 0; i < n; i++) {
		const char *p = h[i].value, *end = h[i].value + h[i].value_len, *item;
		size_t len;
		if (TOKEN_IS(h[i].name, h[i].name_len, "content-length")) {
			if (f->cl_seen)
				return fail(c, 400, "duplicate Content-Length");
			if (parse_content_length(&h[i], &f->cl) < 0)
				return fail(c, 400, "invalid Content-Length");
			f->cl_seen = 1;
		} else if (TOKEN_IS(h[i].name, h[i].name_len, "transfer-encoding")) {
			int any = 0;
			f->te_seen = 1;
			while (next_list_item(&p, end, &item, &len)) {
				any = 1;
				if (f->chunked_count)
					f->chunked_not_last = 1;
				if (TOKEN_IS(item, len, "chunked"))
					f->chunked_count++;
				else
					f->other_coding = 1;
			}
			if (!any)
				f->te_empty = 1;
		} else if (TOKEN_IS(h[i].name, h[i].name_len, "connection")) {
			while (next_list_item(&p, end, &item, &len)) {
				if (TOKEN_IS(item, len, "close"))
					f->conn_close = 1;
				else if (TOKEN_IS(item, len, "keep-alive"))
					f->conn_keep_alive = 1;
			}
		}
	}
	return 0;
}

static int valid_host(const char *s, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      strchr("-._~!$&'()*+,;=:[]%", ch)))
			return 0;
	}
	return 1;
}

static int request_semantics(struct cursor *c, struct http_request *req)
{
	struct framing f;
	size_t i;
	int hosts = 0;
	if (scan_framing(c, req->headers, req->num_headers, &f) < 0)
		return BAD;
	for (i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];
		if (TOKEN_IS(h->name, h->name_len, "host")) {
			if (++hosts > 1)
				return fail(c, 400, "duplicate Host");
			if (!valid_host(h->value, h->value_len))
				return fail(c, 400, "invalid Host");
			req->host = h->value;
			req->host_len = h->value_len;
		} else if (TOKEN_IS(h->name, h->name_len, "expect")) {
			if (!TOKEN_IS(h->value, h->value_len, "100-continue"))
				return fail(c, 417, "unsupported expectation");
			req->expect_continue = req->minor_version == 1;
		}
	}
	if (req->minor_version == 1 && hosts == 0)
		return fail(c, 400, "missing Host");
	if (f.te_seen) {
		if (req->minor_version == 0)
			return fail(c, 400, "Transfer-Encoding in HTTP/1.0");
		if (f.cl_seen)
			return fail(c, 400, "Content-Length with Transfer-Encoding");
		if (f.te_empty)
			return fail(c, 400, "empty Transfer-Encoding");
		if (f.chunked_count > 1 || f.chunked_not_last)
			return fail(c, 400, "chunked must be applied once, last");
		if (f.other_coding)
			return fail(c, 501, "unsupported transfer coding");
		req->body = HTTP_BODY_CHUNKED;
	} else if (f.cl_seen) {
		req->content_length = f.cl;
		req->body = f.cl ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	}
	req->keep_alive = req->minor_version == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	req->has_length = f.cl_seen || f.te_seen;
	return 0;
}

static int check_target(struct cursor *c, struct http_request *req)
{
	const char *t = req->target;
	size_t n = req->target_len;
	if (t[0] == '/')
		return 0;
	if (n == 1 && t[0] == '*')
		return http_token_eq_nocase(req->method, req->method_len, "OPTIONS") ? 0 : fail(c, 400, "'*' target");
	if (n > 7 && (http_token_eq_nocase(t, 7, "http://") || (n > 8 && http_token_eq_nocase(t, 8, "https://"))))
		return 0;
	if (http_token_eq_nocase(req->method, req->method_len, "CONNECT"))
		return fail(c, 405, "CONNECT not supported");
	return fail(c, 400, "invalid request target");
}

int http_parse_scanned(const char *buf, size_t n, const struct http_head_scan *scan, struct http_request *req)
{
	struct cursor c = {buf, buf + n, 0, NULL};
	struct http_header *headers = req->headers;
	const char *p, *end = buf + n;

	memset(req, 0, sizeof(*req));
	req->headers = headers;
	/* the scanner vouched for every byte: only slicing is left */
	for (p = buf; *p == '\r'; p += 2)
		;
	req->method = p;
	p = memchr(p, ' ', (size_t)(end - p));
	req->method_len = (size_t)(p - req->method);
	req->target = ++p;
	p = memchr(p, ' ', (size_t)(end - p));
	req->target_len = (size_t)(p - req->target);
	req->minor_version = scan->minor;
	collect_headers(p + sizeof(" HTTP/1.1\r\n") - 1, end, headers, &req->num_headers);
	if (check_target(&c, req) != 0 || request_semantics(&c, req) != 0) {
		req->error_status = c.status;
		req->error = c.error;
		return BAD;
	}
	return (int)n;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req, size_t max_headers)
{
	struct http_header *headers = req->headers;
	struct http_head_scan scan;
	int n;

	http_head_scan_init(&scan, max_headers);
	n = http_head_scan(&scan, buf, len);
	if (n >= 0)
		return http_parse_scanned(buf, (size_t)n, &scan, req);
	memset(req, 0, sizeof(*req));
	req->headers = headers;
	if (n == BAD) {
		req->error_status = scan.error_status;
		req->error = scan.error;
	}
	return n;
}

int http_parse_response(const char *buf, size_t len, struct http_response *res, size_t max_headers,
			int head_request)
{
	struct cursor c = {buf, buf + len, 0, NULL};
	struct http_header *headers = res->headers;
	struct http_head_scan scan;
	struct framing f;
	int r, i;

	memset(res, 0, sizeof(*res));
	res->headers = headers;
	if ((r = parse_version(&c, &res->minor_version)) != 0)
		goto out;
	if (c.end - c.p < 4) {
		r = NEED_MORE;
		goto out;
	}
	if (c.p[0] != ' ') {
		r = fail(&c, 400, "bad status line");
		goto out;
	}
	for (i = 1; i <= 3; i++) {
		if (c.p[i] < '0' || c.p[i] > '9') {
			r = fail(&c, 400, "bad status code");
			goto out;
		}
		res->status = res->status * 10 + (c.p[i] - '0');
	}
	c.p += 4;
	if (res->status < 100) {
		r = fail(&c, 400, "bad status code");
		goto out;
	}
	if (c.p < c.end && *c.p == ' ')
		c.p++;
	res->reason = c.p;
	while (c.p < c.end && IS_FIELD_CHAR(*c.p))
		c.p++;
	res->reason_len = (size_t)(c.p - res->reason);
	if ((r = expect_crlf(&c)) != 0)
		goto out;
	http_head_scan_fields(&scan, max_headers);
	if ((r = http_head_scan(&scan, c.p, (size_t)(c.end - c.p))) < 0) {
		if (r == BAD)
			fail(&c, 400, scan.error);
		goto out;
	}
	collect_headers(c.p, c.p + r, headers, &res->num_headers);
	c.p += r;
	if ((r = scan_framing(&c, headers, res->num_headers, &f)) != 0)
		goto out;
	res->keep_alive = res->minor_version == 1 ? !f.conn_close : (f.conn_keep_alive && !f.conn_close);
	if (head_request || res->status < 200 || res->status == 204 || res->status == 304) {
		res->body = HTTP_BODY_NONE;
	} else if (f.te_seen) {
		/* RFC 9112 6.3: chunked last means chunked; otherwise the body
		 * runs to the close. Both with CL smell of smuggling: never
		 * reuse that connection. */
		res->body = (f.chunked_count == 1 && !f.chunked_not_last && !f.other_coding)
				    ? HTTP_BODY_CHUNKED
				    : HTTP_BODY_UNTIL_CLOSE;
		if (f.cl_seen || res->body == HTTP_BODY_UNTIL_CLOSE)
			res->keep_alive = 0;
	} else if (f.cl_seen) {
		res->content_length = f.cl;
		res->body = f.cl ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else {
		res->body = HTTP_BODY_UNTIL_CLOSE;
		res->keep_alive = 0;
	}
	return (int)(c.p - buf);
out:
	if (r == BAD)
		res->error = c.error;
	return r;
}
