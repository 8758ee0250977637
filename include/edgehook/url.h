/* url: parses absolute http(s) URLs for endpoints, plus the "stdout:"
 * pseudo-URL. No allocation: fields are copied into fixed arrays, and a
 * URL whose parts do not fit is rejected. */
#ifndef EDGEHOOK_URL_H
#define EDGEHOOK_URL_H

#include <stdint.h>

enum url_scheme { URL_HTTP, URL_HTTPS, URL_STDOUT };

struct url {
	enum url_scheme scheme;
	char host[256];      /* without brackets for IPv6 literals */
	uint16_t port;
	int host_is_ipv6;
	char path[2048];     /* path and query, at least "/" */
};

/* 0 on success, -1 with *why set to a short reason. */
int url_parse(const char *s, struct url *u, const char **why);
/* True for 127.0.0.0/8, ::1 and "localhost". */
int url_is_loopback(const struct url *u);

#endif
