/* Parser tests: the request corpus in tests/data (whole, one byte at a
 * time, and the head scanner in random pieces), responses, chunked
 * decoding split at every offset. Every input the parser sees ends at an
 * unreadable page (guard.h): a read past what was fed crashes the test. */
#include "unit.h"
#include "guard.h"

#include "edgehook/http_parser.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

enum { MAX_HEADERS = 100, MAX_CASE = 65536 };

static struct guard G;

/* s[0..n) placed just before the guard page. */
static char *fed(const char *s, size_t n) { return guard_place(&G, s, n); }

static int parse_request(const char *s, size_t n, struct http_request *req, size_t max)
{
	return http_parse_request(fed(s, n), n, req, max);
}

static int parse_response(const char *s, size_t n, struct http_response *res, size_t max, int head)
{
	return http_parse_response(fed(s, n), n, res, max, head);
}

/* Decodes C escapes in place; returns the length. */
static size_t unescape(char *s)
{
	char *in = s, *out = s;
	while (*in) {
		if (*in != '\\') {
			*out++ = *in++;
			continue;
		}
		in++;
		switch (*in) {
		case 'r': *out++ = '\r'; in++; break;
		case 'n': *out++ = '\n'; in++; break;
		case 't': *out++ = '\t'; in++; break;
		case '\\': *out++ = '\\'; in++; break;
		case 'x': {
			char hex[3] = {in[1], in[2], 0};
			*out++ = (char)strtol(hex, NULL, 16);
			in += 3;
			break;
		}
		default: *out++ = '\\'; break;
		}
	}
	return (size_t)(out - s);
}

struct outcome {
	int status; /* 0 ok, -2 incomplete, else HTTP status */
	char body[4096];
	size_t body_len;
};

/* Feeds raw to the parser the way the server does: the head from the
 * start of the buffer, then the body. step = 0: all at once; step = 1:
 * one byte more per call. */
static void run_case(const char *raw, size_t len, size_t step, struct outcome *o)
{
	struct http_header headers[MAX_HEADERS];
	struct http_request req;
	size_t have = step ? 0 : len;
	int head = -2;
	memset(o, 0, sizeof(*o));
	req.headers = headers;
	for (;;) {
		head = parse_request(raw, have, &req, MAX_HEADERS);
		if (head != -2 || have == len)
			break;
		have += step;
	}
	if (head == -2) {
		o->status = -2;
		return;
	}
	if (head == -1) {
		o->status = req.error_status;
		return;
	}
	if (req.body == HTTP_BODY_LENGTH) {
		if (len - (size_t)head < req.content_length) {
			o->status = -2;
			return;
		}
		memcpy(o->body, raw + head, (size_t)req.content_length);
		o->body_len = (size_t)req.content_length;
	} else if (req.body == HTTP_BODY_CHUNKED) {
		struct http_chunked ch;
		size_t off = (size_t)head;
		ssize_t r = -2;
		http_chunked_init(&ch, 1 << 20, 8192);
		while (off < len) {
			size_t n = step ? 1 : len - off;
			char *in = fed(raw + off, n);
			r = http_chunked_decode(&ch, in, &n);
			memcpy(o->body + o->body_len, in, n);
			o->body_len += n;
			if (r != -2)
				break;
			off += step ? 1 : len - off;
		}
		if (r == -1)
			o->status = ch.error_status;
		else if (r == -2)
			o->status = -2;
	}
}

/* The head scanner fed in pieces cut at random points, then the head it
 * accepted parsed without a second scan (as the server does): the answer
 * (the head length, or minus the error status) must be the one
 * http_parse_request gives on the whole input. */
static int scan_pieces(const char *raw, size_t len, unsigned *seed)
{
	struct http_head_scan s;
	struct http_header h[MAX_HEADERS];
	struct http_request req;
	const char *in = NULL;
	size_t have = 0;
	int r = -2;
	http_head_scan_init(&s, MAX_HEADERS);
	while (r == -2 && have < len) {
		*seed = *seed * 1103515245u + 12345u;
		have += 1 + (*seed >> 8) % 7;
		if (have > len)
			have = len;
		in = fed(raw, have);
		r = http_head_scan(&s, in, have);
	}
	if (r == -1)
		return -s.error_status;
	if (r < 0)
		return r;
	req.headers = h;
	r = http_parse_scanned(in, (size_t)r, &s, &req);
	return r < 0 ? -req.error_status : r;
}

static int scan_whole(const char *raw, size_t len)
{
	struct http_header h[MAX_HEADERS];
	struct http_request req;
	int r;
	req.headers = h;
	r = parse_request(raw, len, &req, MAX_HEADERS);
	return r == -1 ? -req.error_status : r;
}

static int expected_status(const char *s)
{
	if (strcmp(s, "ok") == 0)
		return 0;
	if (strcmp(s, "incomplete") == 0)
		return -2;
	return atoi(s);
}

static void corpus(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[MAX_CASE];
	int cases = 0;
	if (!f) {
		printf("FAIL corpus: cannot open %s\n", path);
		unit_failed++;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *expect, *name, *raw, *body, *sep;
		size_t raw_len, body_len = 0;
		struct outcome whole, bytewise;
		int want, failed = 0;
		char label[300];
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		expect = line;
		sep = strstr(expect, " | ");
		name = sep + 3;
		*sep = '\0';
		sep = strstr(name, " | ");
		raw = sep + 3;
		*sep = '\0';
		body = NULL;
		if ((sep = strstr(raw, " | ")) != NULL) {
			*sep = '\0';
			body = sep + 3;
			body_len = unescape(body);
		}
		raw_len = unescape(raw);
		want = expected_status(expect);
		run_case(raw, raw_len, 0, &whole);
		run_case(raw, raw_len, 1, &bytewise);
		{
			unsigned seed = (unsigned)raw_len;
			int ref = scan_whole(raw, raw_len), k;
			for (k = 0; k < 20; k++) {
				int got = scan_pieces(raw, raw_len, &seed);
				if (got != ref) {
					fprintf(stderr, "%s: head scanned in pieces %d, parsed whole %d\n", name, got, ref);
					failed = 1;
					break;
				}
			}
			if (ref < 0 && ref != -2 && -ref != want) {
				fprintf(stderr, "%s: head scan says %d, expected %s\n", name, -ref, expect);
				failed = 1;
			}
		}
		if (whole.status != want || bytewise.status != want) {
			fprintf(stderr, "%s: expected %s, got %d whole, %d byte by byte\n", name, expect, whole.status,
				bytewise.status);
			failed = 1;
		}
		if (body && (whole.body_len != body_len || memcmp(whole.body, body, body_len) != 0 ||
			     bytewise.body_len != body_len || memcmp(bytewise.body, body, body_len) != 0)) {
			fprintf(stderr, "%s: body mismatch\n", name);
			failed = 1;
		}
		snprintf(label, sizeof(label), "corpus: %s", name);
		unit_report(label, failed);
		cases++;
	}
	fclose(f);
	unit_report("corpus has at least 60 cases", cases < 60);
}

TEST(request_fields)
{
	static const char raw[] = "POST /hook?x=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  spaced  \r\n"
				  "Content-Length: 3\r\n\r\nabc";
	struct http_header h[8];
	struct http_request req;
	req.headers = h;
	CHECK_EQ_INT(parse_request(raw, sizeof(raw) - 1, &req, 8), (int)sizeof(raw) - 4);
	CHECK(http_token_eq_nocase(req.method, req.method_len, "POST"));
	CHECK_EQ_INT(req.target_len, 9);
	CHECK_EQ_INT(req.minor_version, 1);
	CHECK_EQ_INT(req.num_headers, 3);
	CHECK_EQ_INT(h[1].value_len, 6);
	CHECK(memcmp(h[1].value, "spaced", 6) == 0);
	CHECK_EQ_INT(req.body, HTTP_BODY_LENGTH);
	CHECK_EQ_INT(req.content_length, 3);
	CHECK(req.keep_alive);
	CHECK(http_find_header(h, req.num_headers, "x-a") == &h[1]);
}

TEST(keep_alive_rules)
{
	struct http_header h[8];
	struct http_request req;
	req.headers = h;
	parse_request("GET / HTTP/1.0\r\n\r\n", 18, &req, 8);
	CHECK(!req.keep_alive);
	parse_request("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", 51, &req, 8);
	CHECK(!req.keep_alive);
}

TEST(response_framing)
{
	struct http_header h[8];
	struct http_response res;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	static const char chunked[] = "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char close_delim[] = "HTTP/1.0 200 OK\r\n\r\nbody";
	static const char no_reason[] = "HTTP/1.1 204\r\n\r\n";
	res.headers = h;
	CHECK_EQ_INT(parse_response(ok, sizeof(ok) - 1, &res, 8, 0), (int)sizeof(ok) - 3);
	CHECK_EQ_INT(res.status, 200);
	CHECK_EQ_INT(res.body, HTTP_BODY_LENGTH);
	CHECK(res.keep_alive);
	CHECK_EQ_INT(parse_response(chunked, sizeof(chunked) - 1, &res, 8, 0), (int)sizeof(chunked) - 1);
	CHECK_EQ_INT(res.status, 503);
	CHECK_EQ_INT(res.body, HTTP_BODY_CHUNKED);
	CHECK(parse_response(close_delim, sizeof(close_delim) - 1, &res, 8, 0) > 0);
	CHECK_EQ_INT(res.body, HTTP_BODY_UNTIL_CLOSE);
	CHECK(!res.keep_alive);
	CHECK(parse_response(no_reason, sizeof(no_reason) - 1, &res, 8, 0) > 0);
	CHECK_EQ_INT(res.status, 204);
	CHECK_EQ_INT(res.body, HTTP_BODY_NONE);
	CHECK_EQ_INT(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 38, &res, 8, 1), 38);
	CHECK_EQ_INT(res.body, HTTP_BODY_NONE);
	CHECK_EQ_INT(parse_response("HTTP/1.1 2x0 OK\r\n\r\n", 19, &res, 8, 0), -1);
	CHECK_EQ_INT(parse_response("HTTP/1.1 200 OK\r\n", 17, &res, 8, 0), -2);
	CHECK_EQ_INT(parse_response("SSH-2.0-OpenSSH\r\n", 17, &res, 8, 0), -1);
}

TEST(chunked_every_split)
{
	static const char body[] = "4\r\nWiki\r\n5;x=y\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT";
	size_t n = sizeof(body) - 1, split;
	for (split = 0; split <= n; split++) {
		struct http_chunked ch;
		char *a, *b, out[128];
		size_t la = split, lb = n - split, olen = 0;
		ssize_t r;
		http_chunked_init(&ch, 1024, 1024);
		a = fed(body, la);
		r = http_chunked_decode(&ch, a, &la);
		memcpy(out, a, la);
		olen = la;
		if (r == -2) {
			b = fed(body + split, lb);
			r = http_chunked_decode(&ch, b, &lb);
			memcpy(out + olen, b, lb);
			olen += lb;
			if (r >= 0)
				r += (ssize_t)split;
		}
		CHECK_EQ_INT(r, (long)(n - 4));
		CHECK_EQ_INT(olen, 23);
		CHECK(memcmp(out, "Wikipedia in\r\n\r\nchunks.", 23) == 0);
	}
}

TEST(chunked_body_cap)
{
	struct http_chunked ch;
	static const char body[] = "10\r\n0123456789abcdef\r\n0\r\n\r\n";
	size_t len = sizeof(body) - 1;
	http_chunked_init(&ch, 8, 64);
	CHECK_EQ_INT(http_chunked_decode(&ch, fed(body, len), &len), -1);
	CHECK_EQ_INT(ch.error_status, 413);
}

TEST(chunked_trailer_cap)
{
	struct http_chunked ch;
	char buf[512];
	size_t len;
	memcpy(buf, "0\r\n", 3);
	memset(buf + 3, 'a', 200);
	memcpy(buf + 203, ": b\r\n\r\n", 7);
	len = 210;
	http_chunked_init(&ch, 8, 64);
	CHECK_EQ_INT(http_chunked_decode(&ch, fed(buf, len), &len), -1);
	CHECK_EQ_INT(ch.error_status, 400);
}

/* The guard itself: one byte past a placed input is unreadable. */
TEST(guard_page_faults_one_byte_past_the_input)
{
	int status = 0;
	pid_t pid;
	char *p = fed("GET", 3);
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(p[2], 'T');
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		volatile const char *q = p;
		signal(SIGSEGV, SIG_DFL);
		_exit(q[3] == 0 ? 3 : 4);
	}
	CHECK(pid > 0);
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status));
	CHECK(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS));
}

int main(int argc, char **argv)
{
	if (guard_init(&G, MAX_CASE) < 0) {
		printf("FAIL guard page: mmap/mprotect\n");
		return 1;
	}
	RUN(guard_page_faults_one_byte_past_the_input);
	corpus(argc > 1 ? argv[1] : "tests/data/http_requests.txt");
	RUN(request_fields);
	RUN(keep_alive_rules);
	RUN(response_framing);
	RUN(chunked_every_split);
	RUN(chunked_body_cap);
	RUN(chunked_trailer_cap);
	guard_free(&G);
	return unit_done();
}
