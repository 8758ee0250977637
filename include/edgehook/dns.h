/* dns: asynchronous stub resolver driven by the reactor. No getaddrinfo.
 *
 * Order: IP literals, then the hosts file, then the cache, then the
 * nameservers of resolv.conf ("nameserver IP" and, as an extension,
 * "nameserver IP:PORT" / "[V6]:PORT"; "options timeout:N attempts:N").
 * A trailing dot is dropped: "host." and "host" are one name.
 * A and AAAA are asked in parallel from a fresh UDP socket (random source
 * port) with random query ids; an answer must come from the server asked,
 * carry our id and repeat our question, or it is ignored. A truncated
 * answer is asked again over TCP, A and AAAA each on their own
 * connection. Answers are cached, bounded, for their
 * TTL (clamped to 1s..1h); NXDOMAIN is cached for 5s.
 *
 * dns_resolve either answers at once (literal, hosts, cache): it calls cb
 * before returning and returns NULL; or it returns a handle and calls cb
 * later from the loop. dns_cancel(handle) guarantees cb is never called.
 * Errors reach cb as text: "dns: NXDOMAIN", "dns: timeout",
 * "dns: SERVFAIL", "dns: no address", "dns: bad name". */
#ifndef EDGEHOOK_DNS_H
#define EDGEHOOK_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum { DNS_MAX_ADDRS = 8 };

struct reactor;
struct dns;
struct dns_waiter;

struct dns_result {
	int n;
	struct sockaddr_storage addr[DNS_MAX_ADDRS]; /* port 0 */
};

struct dns_stats {
	uint64_t cache_hits, cache_misses, queries, timeouts, failures, tcp_fallbacks;
};

typedef void (*dns_cb)(void *arg, const char *err, const struct dns_result *res);

struct dns_conf;

/* What resolv.conf and the hosts file say, read in full; NULL only when
 * out of memory (a missing file means defaults or no entries). A reload
 * reads it first and installs it with dns_set_conf, which cannot fail,
 * takes ownership and empties the cache; queries in flight go on. */
struct dns_conf *dns_conf_load(const char *resolv_conf, const char *hosts_file);
void dns_conf_free(struct dns_conf *c);
void dns_set_conf(struct dns *d, struct dns_conf *c);

/* Takes ownership of conf (non-NULL), also on failure. */
struct dns *dns_new(struct reactor *r, struct dns_conf *conf);
void dns_free(struct dns *d);
struct dns_waiter *dns_resolve(struct dns *d, const char *host, dns_cb cb, void *arg);
void dns_cancel(struct dns_waiter *w);
const struct dns_stats *dns_stats(const struct dns *d);

/* Exposed for the fuzz harness and unit tests: parses a response to a
 * query for (name, qtype, id), appending addresses to res. Returns the
 * rcode (0..15), -1 when the message is not a valid answer to that
 * question, -2 when truncated. *ttl gets the smallest TTL seen. */
int dns_parse_answer(const uint8_t *msg, size_t len, const char *name, uint16_t qtype, uint16_t id,
		     struct dns_result *res, uint32_t *ttl);
/* Builds a query into out; returns its length or -1 for a bad name. */
int dns_build_query(uint8_t *out, size_t cap, const char *name, uint16_t qtype, uint16_t id);

#endif
