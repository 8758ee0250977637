/* url: parsing endpoint URLs, what is refused, loopback. */
#include "unit.h"

#include "edgehook/url.h"

TEST(url_parsing)
{
	struct url u;
	const char *why;
	CHECK(url_parse("https://example.com/webhook", &u, &why) == 0 && u.scheme == URL_HTTPS && u.port == 443);
	CHECK_STR(u.host, "example.com");
	CHECK_STR(u.path, "/webhook");
	CHECK(url_parse("http://127.0.0.1:8081", &u, &why) == 0 && u.port == 8081);
	CHECK_STR(u.path, "/");
	CHECK(url_parse("http://[::1]:9/a?b#frag", &u, &why) == 0 && u.host_is_ipv6);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.path, "/a?b");
	CHECK(url_parse("http://h?q=1", &u, &why) == 0);
	CHECK_STR(u.path, "/?q=1");
	CHECK(url_parse("stdout:", &u, &why) == 0 && u.scheme == URL_STDOUT);
	CHECK(url_parse("ftp://x/", &u, &why) < 0);
	CHECK(url_parse("http://", &u, &why) < 0);
	CHECK(url_parse("http://a:0/", &u, &why) < 0);
	CHECK(url_parse("http://a:65536/", &u, &why) < 0);
	CHECK(url_parse("http://a:x/", &u, &why) < 0);
	CHECK(url_parse("http://u:p@a/", &u, &why) < 0);
	CHECK(url_parse("http://a b/", &u, &why) < 0);
	CHECK(url_parse("http://[::1/", &u, &why) < 0);
	CHECK(url_is_loopback((url_parse("http://localhost/", &u, &why), &u)));
}

int main(void)
{
	RUN(url_parsing);
	return unit_done();
}
