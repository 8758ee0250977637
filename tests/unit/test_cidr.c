/* cidr: matching addresses against v4/v6 prefixes, address text. */
#include "unit.h"

#include "edgehook/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int match_ip(const char *cidr, const char *ip)
{
	struct cidr c;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (cidr_parse(cidr, &c) < 0)
		return -1;
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return cidr_match(&c, (struct sockaddr *)&ss);
}

TEST(cidr_matching)
{
	struct cidr c;
	CHECK_EQ_INT(match_ip("192.0.2.0/24", "192.0.2.77"), 1);
	CHECK_EQ_INT(match_ip("192.0.2.0/24", "192.0.3.1"), 0);
	CHECK_EQ_INT(match_ip("127.0.0.1", "127.0.0.1"), 1);
	CHECK_EQ_INT(match_ip("127.0.0.1", "127.0.0.2"), 0);
	CHECK_EQ_INT(match_ip("10.0.0.0/8", "::ffff:10.1.2.3"), 1);
	CHECK_EQ_INT(match_ip("2001:db8::/32", "2001:db8:1::5"), 1);
	CHECK_EQ_INT(match_ip("2001:db8::/32", "2001:db9::5"), 0);
	CHECK_EQ_INT(match_ip("0.0.0.0/0", "8.8.8.8"), 1);
	CHECK_EQ_INT(match_ip("10.0.0.0/7", "11.255.0.1"), 1);
	CHECK_EQ_INT(match_ip("::1", "127.0.0.1"), 0);
	CHECK(cidr_parse("10.0.0.0/33", &c) < 0);
	CHECK(cidr_parse("10.0.0.0/", &c) < 0);
	CHECK(cidr_parse("10.0.0/8", &c) < 0);
	CHECK(cidr_parse("::/129", &c) < 0);
	CHECK(cidr_parse("", &c) < 0);
}

TEST(address_text)
{
	static const char *const ips[] = {"0.0.0.0", "127.0.0.1", "10.9.99.100", "255.255.255.255", "192.0.2.7"};
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	char out[64];
	size_t i;
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		memset(&a4, 0, sizeof(a4));
		a4.sin_family = AF_INET;
		inet_pton(AF_INET, ips[i], &a4.sin_addr);
		cidr_addr_text((struct sockaddr *)&a4, out, sizeof(out));
		CHECK_STR(out, ips[i]);
	}
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &a6.sin6_addr);
	cidr_addr_text((struct sockaddr *)&a6, out, sizeof(out));
	CHECK_STR(out, "10.1.2.3");
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	cidr_addr_text((struct sockaddr *)&a6, out, sizeof(out));
	CHECK_STR(out, "2001:db8::1");
}

int main(void)
{
	RUN(cidr_matching);
	RUN(address_text);
	return unit_done();
}
