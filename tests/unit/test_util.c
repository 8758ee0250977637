/* Small modules: cidr, url, b64, match, form, dedupe, buf, rand ids. */
#include "unit.h"
#include "edgehook/clock.h"

#include "edgehook/b64.h"
#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/dedupe.h"
#include "edgehook/form.h"
#include "edgehook/match.h"
#include "edgehook/rand.h"
#include "edgehook/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

static int match_ip(const char *cidr, const char *ip)
{
	struct cidr c;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (cidr_parse(cidr, &c) < 0)
		return -1;
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return cidr_match(&c, (struct sockaddr *)&ss);
}

TEST(cidr_matching)
{
	struct cidr c;
	CHECK_EQ_INT(match_ip("192.0.2.0/24", "192.0.2.77"), 1);
	CHECK_EQ_INT(match_ip("192.0.2.0/24", "192.0.3.1"), 0);
	CHECK_EQ_INT(match_ip("127.0.0.1", "127.0.0.1"), 1);
	CHECK_EQ_INT(match_ip("127.0.0.1", "127.0.0.2"), 0);
	CHECK_EQ_INT(match_ip("10.0.0.0/8", "::ffff:10.1.2.3"), 1);
	CHECK_EQ_INT(match_ip("2001:db8::/32", "2001:db8:1::5"), 1);
	CHECK_EQ_INT(match_ip("2001:db8::/32", "2001:db9::5"), 0);
	CHECK_EQ_INT(match_ip("0.0.0.0/0", "8.8.8.8"), 1);
	CHECK_EQ_INT(match_ip("10.0.0.0/7", "11.255.0.1"), 1);
	CHECK_EQ_INT(match_ip("::1", "127.0.0.1"), 0);
	CHECK(cidr_parse("10.0.0.0/33", &c) < 0);
	CHECK(cidr_parse("10.0.0.0/", &c) < 0);
	CHECK(cidr_parse("10.0.0/8", &c) < 0);
	CHECK(cidr_parse("::/129", &c) < 0);
	CHECK(cidr_parse("", &c) < 0);
}

TEST(address_text)
{
	static const char *const ips[] = {"0.0.0.0", "127.0.0.1", "10.9.99.100", "255.255.255.255", "192.0.2.7"};
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;
	char out[64];
	size_t i;
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		memset(&a4, 0, sizeof(a4));
		a4.sin_family = AF_INET;
		inet_pton(AF_INET, ips[i], &a4.sin_addr);
		cidr_addr_text((struct sockaddr *)&a4, out, sizeof(out));
		CHECK_STR(out, ips[i]);
	}
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &a6.sin6_addr);
	cidr_addr_text((struct sockaddr *)&a6, out, sizeof(out));
	CHECK_STR(out, "10.1.2.3");
	inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
	cidr_addr_text((struct sockaddr *)&a6, out, sizeof(out));
	CHECK_STR(out, "2001:db8::1");
}

TEST(url_parsing)
{
	struct url u;
	const char *why;
	CHECK(url_parse("https://example.com/webhook", &u, &why) == 0 && u.scheme == URL_HTTPS && u.port == 443);
	CHECK_STR(u.host, "example.com");
	CHECK_STR(u.path, "/webhook");
	CHECK(url_parse("http://127.0.0.1:8081", &u, &why) == 0 && u.port == 8081);
	CHECK_STR(u.path, "/");
	CHECK(url_parse("http://[::1]:9/a?b#frag", &u, &why) == 0 && u.host_is_ipv6);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.path, "/a?b");
	CHECK(url_parse("http://h?q=1", &u, &why) == 0);
	CHECK_STR(u.path, "/?q=1");
	CHECK(url_parse("stdout:", &u, &why) == 0 && u.scheme == URL_STDOUT);
	CHECK(url_parse("ftp://x/", &u, &why) < 0);
	CHECK(url_parse("http://", &u, &why) < 0);
	CHECK(url_parse("http://a:0/", &u, &why) < 0);
	CHECK(url_parse("http://a:65536/", &u, &why) < 0);
	CHECK(url_parse("http://a:x/", &u, &why) < 0);
	CHECK(url_parse("http://u:p@a/", &u, &why) < 0);
	CHECK(url_parse("http://a b/", &u, &why) < 0);
	CHECK(url_parse("http://[::1/", &u, &why) < 0);
	CHECK(url_is_loopback((url_parse("http://localhost/", &u, &why), &u)));
}

TEST(base64_roundtrip)
{
	unsigned char out[64];
	char enc[64];
	CHECK_EQ_INT(b64_encode((const unsigned char *)"hello", 5, enc, sizeof(enc)), 8);
	CHECK_STR(enc, "aGVsbG8=");
	CHECK_EQ_INT(b64_decode("aGVsbG8=", 8, out, sizeof(out)), 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_EQ_INT(b64_decode("aGVsbG8", 7, out, sizeof(out)), 5);
	CHECK_EQ_INT(b64_decode("a", 1, out, sizeof(out)), -1);
	CHECK_EQ_INT(b64_decode("a$==", 4, out, sizeof(out)), -1);
	CHECK_EQ_INT(b64_decode("aGVsbG8=", 8, out, 3), -1);
	CHECK_EQ_INT(b64_encode((const unsigned char *)"hi", 2, enc, 4), -1);
}

TEST(patterns)
{
	static const char *const pats[] = {"provider_build.*", "exact.one"};
	CHECK(match_pattern("*", "anything"));
	CHECK(match_pattern("provider.*", "provider.created"));
	CHECK(!match_pattern("provider.*", "provider"));
	CHECK(!match_pattern("provider.*", "providers.created"));
	CHECK(match_pattern("a.b", "a.b"));
	CHECK(!match_pattern("a.b", "a.bc"));
	CHECK(match_any(pats, 2, "provider_build.done"));
	CHECK(match_any(pats, 2, "exact.one"));
	CHECK(!match_any(pats, 2, "provider.created"));
}

TEST(form_decoding)
{
	static const char body[] = "token=xyz&text=&command=%2Fwebhook-collect&user+name=road+runner&flag";
	struct buf b;
	char out[64];
	buf_init(&b, 1024);
	CHECK_EQ_INT(form_to_json(&b, body, sizeof(body) - 1), 0);
	buf_append(&b, "", 1);
	CHECK_STR(b.data, "{\"token\":\"xyz\",\"text\":\"\",\"command\":\"/webhook-collect\",\"user name\":\"road runner\",\"flag\":\"\"}");
	CHECK_EQ_INT(form_get(body, sizeof(body) - 1, "command", out, sizeof(out)), 16);
	CHECK_STR(out, "/webhook-collect");
	CHECK_EQ_INT(form_get(body, sizeof(body) - 1, "missing", out, sizeof(out)), -1);
	b.len = 0;
	CHECK_EQ_INT(form_to_json(&b, "a=%zz", 5), -1);
	b.len = 0;
	CHECK_EQ_INT(form_to_json(&b, "a=%4", 4), -1);
	buf_free(&b);
}

TEST(dedupe_window)
{
	struct dedupe *d = dedupe_new(3);
	char id[16];
	int i;
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 0); /* looking records nothing */
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 1);
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 1);
	CHECK_EQ_INT(dedupe_check(d, "u", "a", 1), 0); /* scoped per trigger */
	CHECK_EQ_INT(dedupe_check(d, "t", "b", 1), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", "c", 1), 0); /* evicts t/a */
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	dedupe_free(d);
	d = dedupe_new(1000);
	for (i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		CHECK_EQ_INT(dedupe_check(d, "t", id, strlen(id)), 0);
	}
	for (i = 4000; i < 5000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		CHECK_EQ_INT(dedupe_check(d, "t", id, strlen(id)), 1);
	}
	dedupe_free(d);
}

TEST(dedupe_off_with_zero_window)
{
	struct dedupe *d = dedupe_new(0);
	CHECK(d != NULL);
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", "a", 1), 0);
	CHECK_EQ_INT(dedupe_seen(d, "t", "a", 1), 0);
	dedupe_free(d);
}

TEST(dedupe_long_ids_count_in_full)
{
	struct dedupe *d = dedupe_new(10);
	char a[600], b[600];
	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[sizeof(b) - 1] = 'y';
	CHECK_EQ_INT(dedupe_check(d, "t", a, sizeof(a)), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", b, sizeof(b)), 0);
	CHECK_EQ_INT(dedupe_check(d, "t", a, sizeof(a)), 1);
	CHECK_EQ_INT(dedupe_check(d, "t", b, sizeof(b)), 1);
	dedupe_free(d);
}

/* The attack on the old unkeyed key (FNV-1a-32 of scope, 0xff, id next to
 * djb2 of scope and id): blocks of "aa"/"b@" pairs keep djb2 equal, a
 * birthday search finds two blocks with equal FNV state, and chaining
 * such pairs (Joux) gives 2^k ids with one key. */
struct variant {
	uint32_t h, m;
};

static int variant_cmp(const void *x, const void *y)
{
	const struct variant *a = x, *b = y;
	return a->h < b->h ? -1 : a->h > b->h;
}

enum { PAIRS = 18, BLOCK = 2 * PAIRS, BLOCKS = 8 };

static void old_block(uint32_t m, char *out)
{
	int i;
	for (i = 0; i < PAIRS; i++)
		memcpy(out + 2 * i, (m >> i) & 1 ? "b@" : "aa", 2);
}

static uint32_t fnv_from(uint32_t a, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		a = (a ^ (unsigned char)s[i]) * 16777619u;
	return a;
}

/* Two blocks with equal FNV state from a; their state in *a. */
static int old_collision(uint32_t *a, char *x, char *y)
{
	size_t n = (size_t)1 << PAIRS, i;
	struct variant *v = malloc(n * sizeof(*v));
	char blk[BLOCK];
	int found = 0;
	if (!v)
		return -1;
	for (i = 0; i < n; i++) {
		old_block((uint32_t)i, blk);
		v[i].h = fnv_from(*a, blk, BLOCK);
		v[i].m = (uint32_t)i;
	}
	qsort(v, n, sizeof(*v), variant_cmp);
	for (i = 1; i < n && !found; i++)
		if (v[i].h == v[i - 1].h) {
			old_block(v[i - 1].m, x);
			old_block(v[i].m, y);
			*a = v[i].h;
			found = 1;
		}
	free(v);
	return found ? 0 : -1;
}

TEST(dedupe_crafted_ids_cost_a_probe_never_a_duplicate)
{
	char pairs[BLOCKS][2][BLOCK], id[BLOCKS * BLOCK];
	uint32_t a = fnv_from(2166136261u, "t", 1);
	struct dedupe *d = dedupe_new(100000), *r = dedupe_new(100000);
	uint64_t crafted, random;
	int i, k, n = 1 << BLOCKS, ok = 1;
	a = (a ^ 0xff) * 16777619u;
	for (k = 0; k < BLOCKS && ok; k++)
		ok = old_collision(&a, pairs[k][0], pairs[k][1]) == 0;
	CHECK(ok);
	for (i = 0; i < n; i++) {
		for (k = 0; k < BLOCKS; k++)
			memcpy(id + k * BLOCK, pairs[k][(i >> k) & 1], BLOCK);
		CHECK_EQ_INT(dedupe_check(d, "t", id, sizeof(id)), 0);
	}
	for (i = 0; i < n; i++) {
		rand_bytes(id, sizeof(id));
		CHECK_EQ_INT(dedupe_check(r, "t", id, sizeof(id)), 0);
	}
	crafted = dedupe_probes(d);
	random = dedupe_probes(r);
	CHECK(crafted < 2 * random);
	dedupe_free(d);
	dedupe_free(r);
}

/* issue 21 #5: a failed append is recorded, so a renderer checks once */
TEST(buf_records_failed_append)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK_EQ_INT(b.failed, 0);
	CHECK_EQ_INT(buf_puts(&b, "abc"), 0);
	CHECK_EQ_INT(buf_puts(&b, "too long"), -1);
	CHECK_EQ_INT(buf_puts(&b, "d"), 0);
	CHECK_EQ_INT(b.failed, 1);
	buf_free(&b);
	buf_init(&b, 8);
	CHECK_EQ_INT(b.failed, 0);
	buf_free(&b);
}

TEST(buf_bounds)
{
	struct buf b;
	buf_init(&b, 10);
	CHECK_EQ_INT(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ_INT(buf_append(&b, "x", 1), -1);
	CHECK_EQ_INT(b.len, 10);
	buf_consume(&b, 4);
	CHECK(b.len == 6 && memcmp(b.data, "456789", 6) == 0);
	CHECK_EQ_INT(buf_printf(&b, "%s", "abcd"), 0);
	CHECK_EQ_INT(buf_printf(&b, "%s", "z"), -1);
	buf_free(&b);
}

TEST(random_ids)
{
	char a[40], b[40];
	rand_id(a, sizeof(a), "evt_");
	rand_id(b, sizeof(b), "evt_");
	CHECK_EQ_INT(strlen(a), 26);
	CHECK(strncmp(a, "evt_", 4) == 0);
	CHECK(strcmp(a, b) != 0);
	rand_id(a, 10, "evt_");
	CHECK_STR(a, "");
}

TEST(rfc3339_times)
{
	uint64_t ms = 0;
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00Z", &ms) == 0);
	CHECK(ms == 1774526400000ull);
	CHECK(clock_parse_rfc3339("2026-03-26T14:00:00.250+02:00", &ms) == 0);
	CHECK(ms == 1774526400250ull);
	CHECK(clock_parse_rfc3339("2026-03-26T11:30:00-00:30", &ms) == 0);
	CHECK(ms == 1774526400000ull);
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00", &ms) < 0);
	CHECK(clock_parse_rfc3339("2026-13-26T12:00:00Z", &ms) < 0);
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00Zjunk", &ms) < 0);
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00.Z", &ms) < 0);
	CHECK(clock_parse_rfc3339("yesterday", &ms) < 0);
	CHECK(clock_parse_rfc3339("", &ms) < 0);
}

int main(void)
{
	RUN(cidr_matching);
	RUN(address_text);
	RUN(url_parsing);
	RUN(base64_roundtrip);
	RUN(patterns);
	RUN(form_decoding);
	RUN(dedupe_window);
	RUN(dedupe_off_with_zero_window);
	RUN(dedupe_long_ids_count_in_full);
	RUN(dedupe_crafted_ids_cost_a_probe_never_a_duplicate);
	RUN(buf_bounds);
	RUN(buf_records_failed_append);
	RUN(random_ids);
	RUN(rfc3339_times);
	return unit_done();
}
