/* DNS wire format (RFC 1035): building queries, checking and reading
 * answers. Pure functions over caller buffers. */
#include "edgehook/dns.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { TYPE_A = 1, TYPE_CNAME = 5, TYPE_AAAA = 28, CLASS_IN = 1, MAX_JUMPS = 32 };

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int dns_build_query(uint8_t *out, size_t cap, const char *name, uint16_t qtype, uint16_t id)
{
	size_t o = 12, nlen = strlen(name);
	const char *p = name;
	if (nlen == 0 || nlen > 253 || cap < 12 + nlen + 2 + 4)
		return -1;
	memset(out, 0, 12);
	out[0] = (uint8_t)(id >> 8);
	out[1] = (uint8_t)id;
	out[2] = 0x01; /* RD */
	out[5] = 1;    /* QDCOUNT */
	while (*p) {
		size_t l = strcspn(p, ".");
		size_t i;
		if (l == 0 || l > 63)
			return -1;
		for (i = 0; i < l; i++) {
			char c = p[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '_'))
				return -1;
		}
		out[o++] = (uint8_t)l;
		memcpy(out + o, p, l);
		o += l;
		p += l;
		if (*p == '.')
			p++;
	}
	out[o++] = 0;
	out[o++] = (uint8_t)(qtype >> 8);
	out[o++] = (uint8_t)qtype;
	out[o++] = 0;
	out[o++] = CLASS_IN;
	return (int)o;
}

/* Reads a possibly compressed name at *off into out (dotted, lower case);
 * advances *off past it in the message. -1 when malformed. */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t cap)
{
	size_t pos = *off, o = 0;
	int jumps = 0, jumped = 0;
	for (;;) {
		uint8_t l;
		if (pos >= len)
			return -1;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > MAX_JUMPS)
				return -1;
			if (!jumped)
				*off = pos + 2;
			jumped = 1;
			pos = (size_t)((l & 0x3f) << 8 | msg[pos + 1]);
			continue;
		}
		if (l & 0xc0)
			return -1;
		pos++;
		if (l == 0)
			break;
		if (pos + l > len || o + l + 2 > cap)
			return -1;
		if (o)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++)
			out[o++] = (char)lower(msg[pos + i]);
		pos += l;
	}
	out[o] = '\0';
	if (!jumped)
		*off = pos;
	return 0;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void add_addr(struct dns_result *res, uint16_t type, const uint8_t *rdata)
{
	struct sockaddr_storage *ss;
	if (res->n >= DNS_MAX_ADDRS)
		return;
	ss = &res->addr[res->n++];
	memset(ss, 0, sizeof(*ss));
	if (type == TYPE_A) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		memcpy(&a->sin_addr, rdata, 4);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		memcpy(&a->sin6_addr, rdata, 16);
	}
}

/* The question as read from the wire never ends in a dot; the name we
 * asked for may (dns_build_query accepts "host." as the same name). */
static int same_name(const char *wire, const char *asked)
{
	size_t n = strlen(asked);
	if (n > 1 && asked[n - 1] == '.')
		n--;
	return strlen(wire) == n && strncasecmp(wire, asked, n) == 0;
}

int dns_parse_answer(const uint8_t *msg, size_t len, const char *name, uint16_t qtype, uint16_t id,
		     struct dns_result *res, uint32_t *ttl)
{
	char qname[256], owner[256], target[256];
	size_t off = 12;
	unsigned ancount, i;
	int rcode;
	if (len < 12 || get16(msg) != id || !(msg[2] & 0x80) || (msg[2] & 0x78) != 0 || get16(msg + 4) != 1)
		return -1;
	if (read_name(msg, len, &off, qname, sizeof(qname)) < 0 || off + 4 > len)
		return -1;
	if (!same_name(qname, name) || get16(msg + off) != qtype || get16(msg + off + 2) != CLASS_IN)
		return -1;
	off += 4;
	if (msg[2] & 0x02)
		return -2;
	rcode = msg[3] & 0x0f;
	ancount = get16(msg + 6);
	snprintf(target, sizeof(target), "%s", qname);
	/* Follow the CNAME chain from our name; records for other owners
	 * are ignored so an answer cannot plant unrelated addresses. */
	for (i = 0; i < ancount; i++) {
		uint16_t type, klass, rdlen;
		uint32_t t;
		if (read_name(msg, len, &off, owner, sizeof(owner)) < 0 || off + 10 > len)
			return -1;
		type = get16(msg + off);
		klass = get16(msg + off + 2);
		t = get32(msg + off + 4);
		rdlen = get16(msg + off + 8);
		off += 10;
		if (off + rdlen > len)
			return -1;
		if (klass == CLASS_IN && strcasecmp(owner, target) == 0) {
			if (type == TYPE_CNAME) {
				size_t roff = off;
				if (read_name(msg, len, &roff, target, sizeof(target)) < 0)
					return -1;
			} else if (type == qtype && ((type == TYPE_A && rdlen == 4) || (type == TYPE_AAAA && rdlen == 16))) {
				add_addr(res, type, msg + off);
				if (t < *ttl)
					*ttl = t;
			}
		}
		off += rdlen;
	}
	return rcode;
}
