/* message: the heads we write, responses (server) and requests (client). */
#include "unit.h"

#include "edgehook/message.h"

static void request_text(const char *url, const char *headers, size_t body_len, char *out, size_t cap)
{
	struct url u;
	struct buf b;
	const char *why = NULL;
	buf_init(&b, 4096);
	out[0] = '\0';
	if (url_parse(url, &u, &why) < 0 || http_put_request_head(&b, "POST", &u, body_len, headers) < 0)
		return;
	snprintf(out, cap, "%.*s", (int)b.len, b.data);
	buf_free(&b);
}

TEST(request_head_host_port_and_headers)
{
	char t[512];
	request_text("http://example.com/hook?a=1", NULL, 12, t, sizeof(t));
	CHECK_STR(t, "POST /hook?a=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 12\r\n\r\n");
	request_text("https://example.com:443/", "X-A: 1\r\n", 0, t, sizeof(t));
	CHECK_STR(t, "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\nX-A: 1\r\n\r\n");
	request_text("https://example.com:80/", NULL, 0, t, sizeof(t));
	CHECK_STR(t, "POST / HTTP/1.1\r\nHost: example.com:80\r\nContent-Length: 0\r\n\r\n");
	request_text("http://[::1]:8080/x", NULL, 3, t, sizeof(t));
	CHECK_STR(t, "POST /x HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 3\r\n\r\n");
}

TEST(response_head_fields)
{
	struct buf b;
	buf_init(&b, 4096);
	CHECK_EQ_INT(http_put_head(&b, 503, 2, "application/json", "Connection: close\r\n", "Retry-After: 1\r\n"), 0);
	CHECK_EQ_INT(buf_append(&b, "", 1), 0);
	CHECK_STR(b.data, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nContent-Type: application/json\r\n"
			  "Connection: close\r\nRetry-After: 1\r\n\r\n");
	buf_free(&b);
}

TEST(heads_fail_when_the_buffer_is_full)
{
	struct url u;
	struct buf b;
	const char *why;
	CHECK_EQ_INT(url_parse("http://example.com/", &u, &why), 0);
	buf_init(&b, 20);
	CHECK(http_put_request_head(&b, "POST", &u, 0, NULL) < 0);
	CHECK(b.failed);
	buf_free(&b);
	buf_init(&b, 20);
	CHECK(http_put_head(&b, 200, 0, NULL, "", NULL) < 0);
	buf_free(&b);
}

int main(void)
{
	RUN(request_head_host_port_and_headers);
	RUN(response_head_fields);
	RUN(heads_fail_when_the_buffer_is_full);
	return unit_done();
}
