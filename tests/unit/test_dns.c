/* DNS wire format: queries, answers checked against the question, CNAME
 * chains, compression, hostile packets. */
#include "unit.h"

#include "edgehook/dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static size_t put_name(uint8_t *p, const char *name)
{
	size_t o = 0;
	while (*name) {
		size_t l = strcspn(name, ".");
		p[o++] = (uint8_t)l;
		memcpy(p + o, name, l);
		o += l;
		name += l;
		if (*name == '.')
			name++;
	}
	p[o++] = 0;
	return o;
}

/* Builds a response: header, question (name, type), then raw answers. */
static size_t response(uint8_t *m, uint16_t id, uint16_t flags, const char *qname, uint16_t qtype, int ancount,
		       const uint8_t *answers, size_t alen)
{
	size_t o = 12;
	memset(m, 0, 12);
	m[0] = (uint8_t)(id >> 8);
	m[1] = (uint8_t)id;
	m[2] = (uint8_t)(flags >> 8);
	m[3] = (uint8_t)flags;
	m[5] = 1;
	m[7] = (uint8_t)ancount;
	o += put_name(m + o, qname);
	m[o++] = 0;
	m[o++] = (uint8_t)qtype;
	m[o++] = 0;
	m[o++] = 1;
	if (alen)
		memcpy(m + o, answers, alen);
	return o + alen;
}

/* An A record whose owner is a pointer to offset 12 (the question). */
static const uint8_t a_record[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3};

TEST(query_format)
{
	uint8_t q[300];
	int n = dns_build_query(q, sizeof(q), "api.example.com", 28, 0xbeef);
	CHECK_EQ_INT(n, 12 + 17 + 4);
	CHECK(q[0] == 0xbe && q[1] == 0xef && q[2] == 0x01 && q[5] == 1);
	CHECK(memcmp(q + 12, "\x03" "api" "\x07" "example" "\x03" "com\0", 17) == 0);
	CHECK(q[30] == 28 && q[32] == 1);
	CHECK_EQ_INT(dns_build_query(q, sizeof(q), "bad..name", 1, 1), -1);
	CHECK_EQ_INT(dns_build_query(q, sizeof(q), "sp ace", 1, 1), -1);
	CHECK_EQ_INT(dns_build_query(q, sizeof(q), "", 1, 1), -1);
}

TEST(answer_accepted_and_checked)
{
	uint8_t m[512];
	struct dns_result res;
	uint32_t ttl = UINT32_MAX;
	size_t n = response(m, 7, 0x8180, "Sink.Test", 1, 1, a_record, sizeof(a_record));
	memset(&res, 0, sizeof(res));
	CHECK_EQ_INT(dns_parse_answer(m, n, "sink.test", 1, 7, &res, &ttl), 0);
	CHECK_EQ_INT(res.n, 1);
	CHECK_EQ_INT(ttl, 60);
	CHECK_EQ_INT(((struct sockaddr_in *)&res.addr[0])->sin_addr.s_addr, htonl(0x0a010203));
	res.n = 0;
	CHECK_EQ_INT(dns_parse_answer(m, n, "sink.test", 1, 8, &res, &ttl), -1);     /* wrong id */
	CHECK_EQ_INT(dns_parse_answer(m, n, "other.test", 1, 7, &res, &ttl), -1);    /* wrong name */
	CHECK_EQ_INT(dns_parse_answer(m, n, "sink.test", 28, 7, &res, &ttl), -1);    /* wrong type */
	CHECK_EQ_INT(dns_parse_answer(m, n - 1, "sink.test", 1, 7, &res, &ttl), -1); /* cut short */
	n = response(m, 7, 0x0180, "sink.test", 1, 1, a_record, sizeof(a_record));  /* QR clear */
	CHECK_EQ_INT(dns_parse_answer(m, n, "sink.test", 1, 7, &res, &ttl), -1);
	n = response(m, 7, 0x8183, "sink.test", 1, 0, NULL, 0);
	CHECK_EQ_INT(dns_parse_answer(m, n, "sink.test", 1, 7, &res, &ttl), 3);      /* NXDOMAIN */
	n = response(m, 7, 0x8380, "sink.test", 1, 0, NULL, 0);
	CHECK_EQ_INT(dns_parse_answer(m, n, "sink.test", 1, 7, &res, &ttl), -2);     /* truncated */
	CHECK_EQ_INT(res.n, 0);
}

TEST(cname_chain_and_unrelated_owners)
{
	uint8_t ans[256], m[512];
	struct dns_result res;
	uint32_t ttl = UINT32_MAX;
	size_t o = 0, n;
	/* www.test CNAME real.test; real.test A 10.0.0.9; evil.test A 6.6.6.6 */
	memcpy(ans + o, "\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x1e\x00\x0b", 12);
	o += 12;
	o += put_name(ans + o, "real.test");
	o += put_name(ans + o, "evil.test");
	memcpy(ans + o, "\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x06\x06\x06\x06", 14);
	o += 14;
	o += put_name(ans + o, "real.test");
	memcpy(ans + o, "\x00\x01\x00\x01\x00\x00\x00\x05\x00\x04\x0a\x00\x00\x09", 14);
	o += 14;
	n = response(m, 1, 0x8180, "www.test", 1, 3, ans, o);
	memset(&res, 0, sizeof(res));
	CHECK_EQ_INT(dns_parse_answer(m, n, "www.test", 1, 1, &res, &ttl), 0);
	CHECK_EQ_INT(res.n, 1);
	CHECK_EQ_INT(((struct sockaddr_in *)&res.addr[0])->sin_addr.s_addr, htonl(0x0a000009));
	CHECK_EQ_INT(ttl, 5);
}

/* "a.test." is the fully qualified "a.test": the answer to its query is
 * accepted (the query drops the dot, the check used to keep it). */
TEST(trailing_dot_names_the_same_host)
{
	uint8_t q[300], m[512];
	struct dns_result res;
	uint32_t ttl = UINT32_MAX;
	size_t n;
	CHECK_EQ_INT(dns_build_query(q, sizeof(q), "a.test.", 1, 7), dns_build_query(m, sizeof(m), "a.test", 1, 7));
	CHECK(memcmp(q, m, 12 + 8 + 4) == 0);
	n = response(m, 7, 0x8180, "a.test", 1, 1, a_record, sizeof(a_record));
	memset(&res, 0, sizeof(res));
	CHECK_EQ_INT(dns_parse_answer(m, n, "a.test.", 1, 7, &res, &ttl), 0);
	CHECK_EQ_INT(res.n, 1);
	CHECK_EQ_INT(dns_parse_answer(m, n, "a.test..", 1, 7, &res, &ttl), -1);
	CHECK_EQ_INT(dns_parse_answer(m, n, "a.tes", 1, 7, &res, &ttl), -1);
	CHECK_EQ_INT(dns_build_query(q, sizeof(q), ".", 1, 7), -1);
}

TEST(hostile_packets)
{
	uint8_t m[512];
	struct dns_result res;
	uint32_t ttl = UINT32_MAX;
	/* an answer whose owner name points at itself */
	static const uint8_t loop[] = {0xc0, 0x18, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
	static const uint8_t overlong[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0xff, 0xff, 1};
	size_t n = response(m, 1, 0x8180, "a.test", 1, 1, loop, sizeof(loop));
	memset(&res, 0, sizeof(res));
	CHECK_EQ_INT(dns_parse_answer(m, n, "a.test", 1, 1, &res, &ttl), -1);
	n = response(m, 1, 0x8180, "a.test", 1, 1, overlong, sizeof(overlong));
	CHECK_EQ_INT(dns_parse_answer(m, n, "a.test", 1, 1, &res, &ttl), -1);
	n = response(m, 1, 0x8180, "a.test", 1, 5, a_record, sizeof(a_record)); /* ancount lies */
	CHECK_EQ_INT(dns_parse_answer(m, n, "a.test", 1, 1, &res, &ttl), -1);
	CHECK_EQ_INT(dns_parse_answer(m, 5, "a.test", 1, 1, &res, &ttl), -1);
}

int main(void)
{
	RUN(query_format);
	RUN(answer_accepted_and_checked);
	RUN(cname_chain_and_unrelated_owners);
	RUN(trailing_dot_names_the_same_host);
	RUN(hostile_packets);
	return unit_done();
}
