#include "edgehook/cidr.h"
#include "edgehook/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cidr_parse(const char *s, struct cidr *out)
{
	struct sockaddr_storage ss;
	const char *slash = strchr(s, '/');
	const uint8_t *bytes;
	size_t blen;
	int max;
	memset(out, 0, sizeof(*out));
	if (addr_parse_ip(s, slash ? (size_t)(slash - s) : strlen(s), &ss) < 0)
		return -1;
	bytes = addr_ip_bytes(&ss, &blen);
	out->family = ss.ss_family;
	memcpy(out->addr, bytes, blen);
	max = (int)blen * 8;
	out->prefix = max;
	if (slash) {
		char *end;
		long v;
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		v = strtol(slash + 1, &end, 10);
		if (*end || v < 0 || v > max)
			return -1;
		out->prefix = (int)v;
	}
	return 0;
}

static int prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* The peer as (family, bytes), unwrapping v4-mapped IPv6. */
static int peer_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		if (memcmp(a, mapped, 12) == 0) {
			memcpy(out, a + 12, 4);
			return AF_INET;
		}
		memcpy(out, a, 16);
		return AF_INET6;
	}
	return -1;
}

/* A v4 peer is also its v4-mapped IPv6 address: "::ffff:127.0.0.1" or
 * "::/0" in a list must match 127.0.0.1, or a listed proxy passes for an
 * unlisted peer. */
int cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	uint8_t bytes[16];
	int fam = peer_bytes(sa, bytes);
	if (fam == AF_INET && c->family == AF_INET6) {
		memmove(bytes + 12, bytes, 4);
		memset(bytes, 0, 10);
		bytes[10] = bytes[11] = 0xff;
		fam = AF_INET6;
	}
	return fam == c->family && prefix_eq(bytes, c->addr, c->prefix);
}

int cidr_match_any(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (cidr_match(&list[i], sa))
			return 1;
	return 0;
}

/* glibc's inet_ntop prints IPv4 with sprintf; this runs per webhook. */
static int ipv4_text(const uint8_t *b, char *out, size_t cap)
{
	size_t o = 0;
	int i;
	if (cap < 16)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i)
			out[o++] = '.';
		if (v >= 100)
			out[o++] = (char)('0' + v / 100);
		if (v >= 10)
			out[o++] = (char)('0' + v / 10 % 10);
		out[o++] = (char)('0' + v % 10);
	}
	out[o] = '\0';
	return 0;
}

void cidr_addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	uint8_t bytes[16];
	int fam = peer_bytes(sa, bytes);
	if (fam == AF_INET && ipv4_text(bytes, out, cap) == 0)
		return;
	if (fam < 0 || !inet_ntop(fam, bytes, out, (socklen_t)cap))
		snprintf(out, cap, "unknown");
}
