#include "edgehook/url.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_';
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;
	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int url_parse(const char *s, struct url *u, const char **why)
{
	const char *p, *host, *host_end, *path;
	size_t i;
	memset(u, 0, sizeof(*u));
	if (strcmp(s, "stdout:") == 0) {
		u->scheme = URL_STDOUT;
		return 0;
	}
	if (strncasecmp(s, "http://", 7) == 0) {
		u->scheme = URL_HTTP;
		u->port = 80;
		p = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		u->scheme = URL_HTTPS;
		u->port = 443;
		p = s + 8;
	} else {
		*why = "scheme must be http, https or stdout:";
		return -1;
	}
	for (i = 0; s[i]; i++) {
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) {
			*why = "URL contains spaces or control characters";
			return -1;
		}
	}
	path = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(path - p))) {
		*why = "credentials in URLs are not supported (use headers)";
		return -1;
	}
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', (size_t)(path - host));
		if (!host_end) {
			*why = "unterminated IPv6 literal";
			return -1;
		}
		u->host_is_ipv6 = 1;
		for (p = host; p < host_end; p++)
			if (!strchr("0123456789abcdefABCDEF:.", *p)) {
				*why = "bad IPv6 literal";
				return -1;
			}
		p = host_end + 1;
	} else {
		host = p;
		while (p < path && *p != ':')
			p++;
		host_end = p;
		for (const char *q = host; q < host_end; q++)
			if (!host_char(*q)) {
				*why = "invalid host name";
				return -1;
			}
	}
	if (host_end == host || (size_t)(host_end - host) >= sizeof(u->host)) {
		*why = host_end == host ? "missing host" : "host name too long";
		return -1;
	}
	memcpy(u->host, host, (size_t)(host_end - host));
	if (p < path) {
		if (*p != ':' || parse_port(p + 1, (size_t)(path - p - 1), &u->port) < 0) {
			*why = "invalid port";
			return -1;
		}
	}
	if (*path == '#')
		path = "";
	i = strcspn(path, "#");
	if (i + 2 > sizeof(u->path)) {
		*why = "path too long";
		return -1;
	}
	if (*path != '/')
		u->path[0] = '/';
	strncat(u->path, path, i);
	return 0;
}

int url_is_loopback(const struct url *u)
{
	return strncmp(u->host, "127.", 4) == 0 || strcmp(u->host, "::1") == 0 ||
	       strcasecmp(u->host, "localhost") == 0;
}
