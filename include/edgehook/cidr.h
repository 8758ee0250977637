/* cidr: IPv4/IPv6 address ranges for allowlists.
 *
 * "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128).
 * Matching treats IPv4-mapped IPv6 peers (::ffff:a.b.c.d) as IPv4. */
#ifndef EDGEHOOK_CIDR_H
#define EDGEHOOK_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix;
};

int cidr_parse(const char *s, struct cidr *out);
int cidr_match(const struct cidr *c, const struct sockaddr *sa);
int cidr_match_any(const struct cidr *list, size_t n, const struct sockaddr *sa);
/* Peer address as text without port ("127.0.0.1", "::1"); v4-mapped
 * addresses print as IPv4. */
void cidr_addr_text(const struct sockaddr *sa, char *out, size_t cap);

#endif
