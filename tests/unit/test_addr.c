/* addr: the one IP-literal parser every layer uses. */
#include "unit.h"

#include "edgehook/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int family(const char *s)
{
	struct sockaddr_storage ss;
	if (addr_parse_ip(s, strlen(s), &ss) < 0)
		return -1;
	return ss.ss_family;
}

TEST(addr_parse_ip_accepts_bare_literals_only)
{
	CHECK_EQ_INT(family("127.0.0.1"), AF_INET);
	CHECK_EQ_INT(family("::1"), AF_INET6);
	CHECK_EQ_INT(family("::ffff:10.1.2.3"), AF_INET6);
	CHECK_EQ_INT(family("2001:db8::5"), AF_INET6);
	CHECK_EQ_INT(family(""), -1);
	CHECK_EQ_INT(family("localhost"), -1);
	CHECK_EQ_INT(family("[::1]"), -1);
	CHECK_EQ_INT(family("1.2.3.4:80"), -1);
	CHECK_EQ_INT(family("1.2.3"), -1);
	CHECK_EQ_INT(family("fe80::1%eth0"), -1);
	CHECK_EQ_INT(family("0000:0000:0000:0000:0000:ffff:255.255.255.255x"), -1);
}

TEST(addr_parse_ip_reads_only_its_slice)
{
	struct sockaddr_storage ss;
	const char *line = "10.0.0.1, 10.0.0.2";
	size_t len = 0;
	const uint8_t *b;
	CHECK_EQ_INT(addr_parse_ip(line, 8, &ss), (int)sizeof(struct sockaddr_in));
	b = addr_ip_bytes(&ss, &len);
	CHECK(b != NULL);
	CHECK_EQ_INT(len, 4);
	CHECK(b && memcmp(b, "\x0a\x00\x00\x01", 4) == 0);
	CHECK_EQ_INT(addr_parse_ip(line, 9, &ss), -1);
	CHECK_EQ_INT(ss.ss_family, 0);
	CHECK_EQ_INT(addr_parse_ip("::1\0junk", 8, &ss), -1);
}

TEST(addr_set_port_per_family)
{
	struct sockaddr_storage ss;
	size_t len;
	CHECK_EQ_INT(addr_parse_ip("::1", 3, &ss), (int)sizeof(struct sockaddr_in6));
	addr_set_port(&ss, 8443);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8443);
	CHECK_EQ_INT(addr_ip_bytes(&ss, &len)[15], 1);
	CHECK_EQ_INT(len, 16);
	CHECK_EQ_INT(addr_parse_ip("192.0.2.7", 9, &ss), (int)sizeof(struct sockaddr_in));
	addr_set_port(&ss, 53);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 53);
}

int main(void)
{
	RUN(addr_parse_ip_accepts_bare_literals_only);
	RUN(addr_parse_ip_reads_only_its_slice);
	RUN(addr_set_port_per_family);
	return unit_done();
}
