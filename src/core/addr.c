#include "edgehook/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

int addr_parse_ip(const char *s, size_t n, struct sockaddr_storage *out)
{
	char ip[INET6_ADDRSTRLEN];
	memset(out, 0, sizeof(*out));
	/* inet_pton wants a C string; a literal that does not fit is none */
	if (n == 0 || n >= sizeof(ip) || memchr(s, '\0', n))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)out)->sin_addr) == 1) {
		out->ss_family = AF_INET;
		return (int)sizeof(struct sockaddr_in);
	}
	if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)out)->sin6_addr) == 1) {
		out->ss_family = AF_INET6;
		return (int)sizeof(struct sockaddr_in6);
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

const uint8_t *addr_ip_bytes(const struct sockaddr_storage *a, size_t *len)
{
	if (a->ss_family == AF_INET) {
		*len = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
	}
	if (a->ss_family == AF_INET6) {
		*len = 16;
		return ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
	}
	*len = 0;
	return NULL;
}

void addr_set_port(struct sockaddr_storage *a, uint16_t port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)a)->sin_port = htons(port);
	else if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)a)->sin6_port = htons(port);
}
