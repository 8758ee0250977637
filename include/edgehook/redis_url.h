/* redis_url: redis://[[user]:password@]host[:port][/db] and rediss://
 * (TLS). Lives in core so the config loader can validate it and the RESP
 * client can use it. No allocation: fields are fixed arrays, and a URL
 * whose parts do not fit is refused. */
#ifndef EDGEHOOK_REDIS_URL_H
#define EDGEHOOK_REDIS_URL_H

#include <stdint.h>

struct redis_url {
	char host[256]; /* IPv6 without brackets */
	uint16_t port;
	int tls;
	char user[128];
	char password[256]; /* percent-decoded; empty = no AUTH */
	int has_password;
	unsigned db;
};

/* 0, or -1 with *why set. */
int redis_url_parse(const char *s, struct redis_url *u, const char **why);

#endif
