/* addr: IP literals, parsed in one place for every layer (listen
 * addresses, allowlists, resolv.conf and hosts, X-Forwarded-For hops).
 *
 * addr_parse_ip reads s[0..n) (need not be NUL-terminated) as a bare
 * IPv4 or IPv6 literal: no brackets, port or zone. On success *out holds
 * the address with port 0 and the sockaddr length is returned; -1 (and
 * *out zeroed) for anything else. */
#ifndef EDGEHOOK_ADDR_H
#define EDGEHOOK_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

int addr_parse_ip(const char *s, size_t n, struct sockaddr_storage *out);
/* The 4 or 16 address bytes of an AF_INET/AF_INET6 address, their count
 * in *len; NULL for other families. */
const uint8_t *addr_ip_bytes(const struct sockaddr_storage *a, size_t *len);
/* Sets the port of an AF_INET/AF_INET6 address. */
void addr_set_port(struct sockaddr_storage *a, uint16_t port);

#endif
