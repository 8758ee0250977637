/* RESP parser, encoder and URL: every type, every split point, hostile input. */
#include "edgehook/buf.h"
#include "edgehook/resp.h"

#include "unit.h"

#include <stdlib.h>

static struct resp_value vals[64];
static const struct resp_limits lim = {.max_bulk = 1024, .max_line = 256, .max_values = 64, .max_depth = 5};

/* Parses s whole; returns the result and leaves the values in vals. */
static int parse_whole(const char *s, size_t n, struct resp_parser *p)
{
	resp_parser_init(p, vals, &lim);
	return resp_parse(p, s, n);
}

/* Feeds s one more byte at a time through one parser: every prefix must
 * ask for more, and the whole must give the same as parsing it at once. */
static int parse_split(const char *s, size_t n)
{
	struct resp_parser p;
	size_t i;
	resp_parser_init(&p, vals, &lim);
	for (i = 0; i < n; i++) {
		int rc = resp_parse(&p, s, i);
		if (rc != -2)
			return rc == -1 ? -1 : -3;
	}
	return resp_parse(&p, s, n);
}

#define S(lit) lit, sizeof(lit) - 1

TEST(test_resp_every_type_parses)
{
	struct resp_parser p;
	struct resp_reply r = {vals, 0, NULL};
	static const char all[] = "*13\r\n+OK\r\n-NOGROUP No such key\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n_\r\n"
				  "#t\r\n,3.14\r\n(12345678901234567890\r\n!3\r\nbad\r\n=8\r\ntxt:abcd\r\n%1\r\n+k\r\n:1\r\n";
	CHECK_EQ_INT(parse_whole(S(all), &p), sizeof(all) - 1);
	r.base = all;
	CHECK_EQ_INT(resp_parser_count(&p), 16);
	CHECK_EQ_INT(vals[0].type, RESP_ARRAY);
	CHECK_EQ_INT(vals[0].n, 13);
	CHECK_EQ_INT(vals[0].end, 16);
	CHECK(vals[1].type == RESP_SIMPLE && resp_eq(&r, &vals[1], "OK"));
	CHECK(vals[2].type == RESP_ERROR && resp_eq(&r, &vals[2], "NOGROUP No such key"));
	CHECK(vals[3].type == RESP_INT && vals[3].i == -42);
	CHECK(vals[4].type == RESP_BULK && vals[4].len == 5 && memcmp(all + vals[4].off, "he\r\no", 5) == 0);
	CHECK(vals[5].type == RESP_NULL && vals[6].type == RESP_NULL && vals[7].type == RESP_NULL);
	CHECK(vals[8].type == RESP_BOOL && vals[8].i == 1);
	CHECK(vals[9].type == RESP_DOUBLE && resp_eq(&r, &vals[9], "3.14"));
	CHECK(vals[10].type == RESP_BIGNUM && resp_eq(&r, &vals[10], "12345678901234567890"));
	CHECK(vals[11].type == RESP_BLOB_ERROR && resp_eq(&r, &vals[11], "bad"));
	CHECK(vals[12].type == RESP_VERBATIM && resp_eq(&r, &vals[12], "txt:abcd"));
	CHECK(vals[13].type == RESP_MAP && vals[13].n == 2 && vals[13].end == 16);
	CHECK(resp_eq(&r, &vals[14], "k") && vals[15].i == 1);
	CHECK_EQ_INT(parse_split(S(all)), sizeof(all) - 1);
}

TEST(test_resp_split_at_every_byte)
{
	static const char *const cases[] = {
		"+OK\r\n", "-ERR x\r\n", ":0\r\n", "$0\r\n\r\n", "$-1\r\n", "*0\r\n", "*-1\r\n",
		"*2\r\n*1\r\n$3\r\nabc\r\n:9\r\n",
		/* an XREADGROUP reply, depth 5: [[stream, [[id, [field, value]]]]] */
		"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
	};
	size_t i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_EQ_INT(parse_split(cases[i], strlen(cases[i])), strlen(cases[i]));
}

TEST(test_resp_pipelined_replies_one_at_a_time)
{
	struct resp_parser p;
	static const char two[] = "+OK\r\n$3\r\nbar\r\n";
	int n;
	resp_parser_init(&p, vals, &lim);
	n = resp_parse(&p, two, sizeof(two) - 1);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(resp_parse(&p, two + n, sizeof(two) - 1 - (size_t)n), 9);
	CHECK_EQ_INT(vals[0].type, RESP_BULK);
	CHECK_EQ_INT(vals[0].off, 4); /* offsets are relative to the buffer given */
}

TEST(test_resp_hostile_replies_refused)
{
	static const char *const bad[] = {
		"?\r\n", "\0\r\n", "+O\nK\r\n", "+OK\n", "+O\rK\r\n", ":\r\n", ":-\r\n", ":1a\r\n",
		":9223372036854775808\r\n", ":-9223372036854775809\r\n", ":00000000000000000000000001\r\n",
		"$-2\r\n", "$2\r\nabc\r\n", "$3\r\nabcXY", "$1025\r\n", "*-2\r\n", "*64\r\n", "%32\r\n",
		"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", /* depth 6 > 5 */
		"_x\r\n", "#x\r\n", "(\r\n", "(1.5\r\n", "=3\r\ntxt\r\n", "=4\r\ntxtx\r\n", "|1\r\n",
		"$ 1\r\na\r\n",
	};
	struct resp_parser p;
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = bad[i][0] ? strlen(bad[i]) : 3;
		int rc = parse_whole(bad[i], n, &p);
		if (rc != -1)
			fprintf(stderr, "case %zu (%s): %d\n", i, bad[i], rc);
		CHECK_EQ_INT(rc, -1);
	}
}

TEST(test_resp_long_line_refused_before_its_end)
{
	struct resp_parser p;
	char line[300];
	memset(line, 'a', sizeof(line));
	line[0] = '+';
	/* no CRLF yet, but already past max_line: no point waiting */
	CHECK_EQ_INT(parse_whole(line, sizeof(line), &p), -1);
	CHECK_EQ_INT(parse_whole(line, 100, &p), -2);
	line[0] = ':';
	CHECK_EQ_INT(parse_whole(line, 30, &p), -1);
}

TEST(test_resp_values_bound_counts_every_element)
{
	/* 63 children fit in 64 values, one more does not */
	struct resp_parser p;
	struct buf b;
	int i;
	buf_init(&b, 4096);
	buf_puts(&b, "*63\r\n");
	for (i = 0; i < 63; i++)
		buf_puts(&b, ":1\r\n");
	CHECK_EQ_INT(parse_whole(b.data, b.len, &p), (int)b.len);
	b.len = 0;
	buf_puts(&b, "*2\r\n*40\r\n");
	for (i = 0; i < 40; i++)
		buf_puts(&b, ":1\r\n");
	buf_puts(&b, "*40\r\n");
	CHECK_EQ_INT(parse_whole(b.data, b.len, &p), -1);
	buf_free(&b);
}

TEST(test_resp_encode_bulk_array)
{
	struct buf b;
	const char *argv[] = {"SET", "k", "a\r\nb"};
	size_t lens[] = {3, 1, 4};
	struct resp_parser p;
	buf_init(&b, 64);
	CHECK_EQ_INT(resp_encode(&b, 3, argv, lens), 0);
	CHECK_EQ_INT(b.len, strlen("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n"));
	CHECK(memcmp(b.data, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n", b.len) == 0);
	CHECK_EQ_INT(parse_whole(b.data, b.len, &p), (int)b.len);
	/* all or nothing against the cap */
	b.max = b.len + 10;
	CHECK_EQ_INT(resp_encode(&b, 3, argv, lens), -1);
	CHECK_EQ_INT(b.len, 30);
	buf_free(&b);
}

TEST(test_redis_url_parse)
{
	struct redis_url u;
	const char *why = NULL;
	CHECK_EQ_INT(redis_url_parse("redis://:p%40ss@10.0.0.5:6380/3", &u, &why), 0);
	CHECK_STR(u.host, "10.0.0.5");
	CHECK_STR(u.password, "p@ss");
	CHECK(u.has_password && u.port == 6380 && u.db == 3 && !u.tls && u.user[0] == 0);
	CHECK_EQ_INT(redis_url_parse("rediss://app:x@[::1]", &u, &why), 0);
	CHECK(u.tls && u.port == 6379 && u.db == 0);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.user, "app");
	CHECK_EQ_INT(redis_url_parse("redis://localhost/", &u, &why), 0);
	CHECK(!u.has_password);
	CHECK_EQ_INT(redis_url_parse("http://h", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://h:0", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://h:65536", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://h/x", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://pw@h", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://:a%0@h", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://:a%00b@h", &u, &why), -1);
	CHECK_EQ_INT(redis_url_parse("redis://h/1?x=1", &u, &why), -1);
}

int main(void)
{
	RUN(test_resp_every_type_parses);
	RUN(test_resp_split_at_every_byte);
	RUN(test_resp_pipelined_replies_one_at_a_time);
	RUN(test_resp_hostile_replies_refused);
	RUN(test_resp_long_line_refused_before_its_end);
	RUN(test_resp_values_bound_counts_every_element);
	RUN(test_resp_encode_bulk_array);
	RUN(test_redis_url_parse);
	return unit_done();
}
