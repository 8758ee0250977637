/* redis:// and rediss:// URLs (see redis_url.h). */
#include "edgehook/redis_url.h"

#include "edgehook/strutil.h"

#include <string.h>

/* Percent-decodes s[0..n) into out (cap bytes with the NUL). */
static int pct_copy(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0, i;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = str_hex_digit((unsigned char)s[i + 1]);
			lo = str_hex_digit((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int redis_url_parse(const char *s, struct redis_url *u, const char **why)
{
	const char *auth, *at, *host, *hend, *p;
	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (strncmp(s, "redis://", 8) == 0) {
		auth = s + 8;
	} else if (strncmp(s, "rediss://", 9) == 0) {
		auth = s + 9;
		u->tls = 1;
	} else {
		*why = "want redis:// or rediss://";
		return -1;
	}
	hend = auth + strcspn(auth, "/?#");
	/* the password may hold '@' only percent-encoded; take the last one */
	at = NULL;
	for (p = auth; p < hend; p++)
		if (*p == '@')
			at = p;
	host = auth;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (!colon) {
			*why = "credentials want user:password@ or :password@";
			return -1;
		}
		if (pct_copy(u->user, sizeof(u->user), auth, (size_t)(colon - auth)) < 0 ||
		    pct_copy(u->password, sizeof(u->password), colon + 1, (size_t)(at - colon - 1)) < 0) {
			*why = "bad user or password";
			return -1;
		}
		u->has_password = 1;
		host = at + 1;
	}
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(hend - host));
		if (!rb || rb == host + 1 || (size_t)(rb - host - 1) >= sizeof(u->host)) {
			*why = "bad IPv6 host";
			return -1;
		}
		memcpy(u->host, host + 1, (size_t)(rb - host - 1));
		p = rb + 1;
	} else {
		p = host + strcspn(host, ":/?#");
		if (p > hend)
			p = hend;
		if (p == host || (size_t)(p - host) >= sizeof(u->host)) {
			*why = "bad host";
			return -1;
		}
		memcpy(u->host, host, (size_t)(p - host));
	}
	if (p < hend && *p == ':') {
		unsigned long port = 0;
		for (p++; p < hend && *p >= '0' && *p <= '9' && port <= 65535; p++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (port == 0 || port > 65535) {
			*why = "bad port";
			return -1;
		}
		u->port = (uint16_t)port;
	}
	if (p != hend) {
		*why = "bad host or port";
		return -1;
	}
	if (*p == '/' && p[1]) {
		unsigned long db = 0;
		for (p++; *p >= '0' && *p <= '9' && db < 100000; p++)
			db = db * 10 + (unsigned long)(*p - '0');
		if (db >= 100000 || (*p && *p != '?')) {
			*why = "bad database number";
			return -1;
		}
		u->db = (unsigned)db;
	} else if (*p && !(p[0] == '/' && !p[1])) {
		*why = "unexpected text after host";
		return -1;
	}
	if (*p == '?') {
		*why = "URL options are not supported";
		return -1;
	}
	return 0;
}
