/* rules: webhook trigger rules and their error model, table-driven.
 * HMAC vectors are Python's hmac over BODY with the secret "s3cret". */
#include "unit.h"

#include "edgehook/arena.h"
#include "edgehook/buf.h"
#include "edgehook/rules.h"
#include "edgehook/config.h"
#include "edgehook/tree.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <strings.h>

#define BODY "{\"ref\":\"refs/heads/main\"}"
#define SHA1 "9e9224e1fe730b87754d941cabe9da2f2724b16c"
#define SHA256 "232a5e067b6a5aa567ed5a1d21a0dffaf6ef0eeecb6bd9bcf43b3d5ef3fc4f43"
#define SHA512                                                                                                   \
	"5d451062f10d9e2e3477568a228981d1708584a21a7f8796bb12e824c5175e229169cf2154b7fce5701f037c076766194208a3aac1" \
	"2a381a650f53ba28c1094e"
#define SCALR_DATE "Wed 02 Dec 2026 03:00:00 UTC"
#define SCALR_SIG "f4869ec95b36bb49ab1e93a49a5e6da32fe15a66"
#define SCALR_NOW 1796180400

/* The request the rules see: a few headers and payload fields. */
struct fake {
	const char *const *kv; /* "source:name", value, ... NULL */
};


/* The config's document parser. */
static int parse_json(struct arena *a, const char *json, struct node **root, struct buf *errors)
{
	return config_parse_tree(a, json, strlen(json), root, errors);
}
static int fake_param(void *ctx, const struct hook_arg *arg, const char **val, size_t *len, char *why, size_t whycap)
{
	const struct fake *f = ctx;
	static const char *const src[] = {"?", "header", "url", "payload", "request", "raw", "ep", "eh", "eq", "string"};
	char key[128];
	size_t i;
	if (arg->source == SRC_STRING) {
		*val = arg->name;
		*len = strlen(arg->name);
		return RULE_PARAM_FOUND;
	}
	if (arg->source == SRC_REQUEST && strcmp(arg->name, "bogus") == 0) {
		snprintf(why, whycap, "unsupported request key: \"bogus\"");
		return RULE_PARAM_ERROR;
	}
	snprintf(key, sizeof(key), "%s:%s", src[arg->source], arg->name);
	/* header names as written in the hooks file, compared as HTTP does */
	for (i = 0; f->kv[i]; i += 2)
		if (strcasecmp(f->kv[i], key) == 0) {
			*val = f->kv[i + 1];
			*len = strlen(*val);
			return RULE_PARAM_FOUND;
		}
	return RULE_PARAM_MISSING;
}

static const char *const headers_default[] = {
	"header:X-Hub-Signature", "sha1=" SHA1, "header:X-Hub-Signature-256", "sha256=" SHA256,
	"header:X-Sig-512", SHA512, "payload:ref", "refs/heads/main", "header:X-Signature", SCALR_SIG,
	"header:Date", SCALR_DATE, "header:X-Multi", "sha256=00,sha256=" SHA256, "header:X-Multi-Space",
	"sha256=00, sha256=" SHA256, "header:X-Bad", "sha256=deadbeef", "header:X-Upper", "sha1=9E9224E1FE730B87754D941CABE9DA2F2724B16C",
	"header:X-Noprefix-List", SHA256 ",00", NULL,
};

struct row {
	const char *rule; /* the trigger-rule as JSON */
	int soft;         /* trigger-signature-soft-failures */
	const char *client;
	int expect; /* 1, 0, -1 (500) */
	const char *why; /* substring of the log line, or NULL for none */
};

#define M(x) "{\"match\":" x "}"
#define HDR(n) "\"parameter\":{\"source\":\"header\",\"name\":\"" n "\"}"
#define HMAC(t, n) M("{\"type\":\"" t "\",\"secret\":\"s3cret\"," HDR(n) "}")
#define REF M("{\"type\":\"value\",\"value\":\"refs/heads/main\",\"parameter\":{\"source\":\"payload\",\"name\":\"ref\"}}")
#define MISSING M("{\"type\":\"value\",\"value\":\"x\",\"parameter\":{\"source\":\"payload\",\"name\":\"nope\"}}")

static const struct row rows[] = {
	/* value, regex */
	{REF, 0, NULL, 1, NULL},
	{M("{\"type\":\"value\",\"value\":\"refs/heads/mai\",\"parameter\":{\"source\":\"payload\",\"name\":\"ref\"}}"), 0, NULL, 0, NULL},
	{M("{\"type\":\"regex\",\"regex\":\"^refs/heads/(main|master)$\",\"parameter\":{\"source\":\"payload\",\"name\":\"ref\"}}"), 0, NULL, 1, NULL},
	{M("{\"type\":\"regex\",\"regex\":\"tags\",\"parameter\":{\"source\":\"payload\",\"name\":\"ref\"}}"), 0, NULL, 0, NULL},
	{M("{\"type\":\"value\",\"value\":\"k\",\"parameter\":{\"source\":\"string\",\"name\":\"k\"}}"), 0, NULL, 1, NULL},
	/* hmac, all three hashes, old names, prefixes, lists */
	{HMAC("payload-hmac-sha1", "X-Hub-Signature"), 0, NULL, 1, NULL},
	{HMAC("payload-hash-sha1", "X-Hub-Signature"), 0, NULL, 1, NULL},
	{HMAC("payload-hmac-sha256", "x-hub-signature-256"), 0, NULL, 1, NULL},
	{HMAC("payload-hash-sha256", "X-Hub-Signature-256"), 0, NULL, 1, NULL},
	{HMAC("payload-hmac-sha512", "X-Sig-512"), 0, NULL, 1, NULL},
	{HMAC("payload-hash-sha512", "X-Sig-512"), 0, NULL, 1, NULL},
	{HMAC("payload-hmac-sha256", "X-Multi"), 0, NULL, 1, NULL},
	{HMAC("payload-hmac-sha256", "X-Multi-Space"), 0, NULL, -1, "invalid payload signature"},
	{HMAC("payload-hmac-sha256", "X-Noprefix-List"), 0, NULL, -1, "invalid payload signature"},
	{HMAC("payload-hmac-sha1", "X-Upper"), 0, NULL, -1, "invalid payload signature"},
	{HMAC("payload-hmac-sha256", "X-Hub-Signature"), 0, NULL, -1, "invalid payload signature"},
	{HMAC("payload-hmac-sha256", "X-Bad"), 0, NULL, -1, "invalid payload signature sha256=deadbeef"},
	{M("{\"type\":\"payload-hmac-sha1\",\"secret\":\"\"," HDR("X-Hub-Signature") "}"), 0, NULL, -1, "secret can not be empty"},
	{HMAC("payload-hmac-sha256", "X-Absent"), 0, NULL, 0, "parameter node not found: X-Absent"},
	/* the error model */
	{MISSING, 0, NULL, 0, "parameter node not found: nope"},
	{"{\"not\":" MISSING "}", 0, NULL, 1, "parameter node not found: nope"},
	{"{\"and\":[{\"not\":" MISSING "}," REF "]}", 0, NULL, 0, "parameter node not found"},
	{"{\"and\":[" REF "," MISSING "]}", 0, NULL, 0, "parameter node not found"},
	{"{\"or\":[" MISSING "," REF "]}", 0, NULL, 1, NULL},
	{"{\"or\":[" MISSING "]}", 0, NULL, 0, NULL},
	{"{\"or\":[{\"not\":" MISSING "}]}", 0, NULL, 1, NULL},
	{"{\"or\":[" HMAC("payload-hmac-sha256", "X-Bad") "," REF "]}", 0, NULL, -1, "invalid payload signature"},
	{"{\"or\":[" HMAC("payload-hmac-sha256", "X-Bad") "," REF "]}", 1, NULL, 1, NULL},
	{"{\"or\":[" HMAC("payload-hmac-sha256", "X-Bad") "]}", 1, NULL, 0, NULL},
	{HMAC("payload-hmac-sha256", "X-Bad"), 1, NULL, -1, "invalid payload signature"},
	{"{\"and\":[" HMAC("payload-hmac-sha256", "X-Bad") "]}", 1, NULL, -1, "invalid payload signature"},
	{"{\"or\":[" M("{\"type\":\"payload-hmac-sha1\",\"secret\":\"\"," HDR("X-Hub-Signature") "}") "]}", 1, NULL, -1,
	 "secret can not be empty"},
	{"{\"and\":[" REF "," HMAC("payload-hmac-sha1", "X-Hub-Signature") "]}", 0, NULL, 1, NULL},
	{"{}", 0, NULL, 0, NULL},
	{"{\"and\":[]}", 0, NULL, 1, NULL},
	{"{\"or\":[]}", 0, NULL, 0, NULL},
	{M("{\"type\":\"no-such-type\",\"parameter\":{\"source\":\"payload\",\"name\":\"ref\"}}"), 0, NULL, 0, NULL},
	{M("{\"type\":\"value\",\"value\":\"x\"}"), 0, NULL, -1, "no source for value retrieval"},
	{M("{\"type\":\"value\",\"value\":\"x\",\"parameter\":{\"source\":\"request\",\"name\":\"bogus\"}}"), 0, NULL, -1,
	 "unsupported request key"},
	/* ip-whitelist */
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"10.0.0.0/8\"}"), 0, "10.1.2.3", 1, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"10.0.0.0/8\"}"), 0, "11.1.2.3", 0, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"192.0.2.1  10.1.2.3\"}"), 0, "10.1.2.3", 1, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"192.0.2.1\"}"), 0, "192.0.2.2", 0, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"2001:db8::/32\"}"), 0, "2001:db8::7", 1, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"2001:db8::1\"}"), 0, "2001:db8::2", 0, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"2001:db8::1\"}"), 0, "2001:db8::1", 1, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"127.0.0.1\"}"), 0, "::ffff:127.0.0.1", 1, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"10.0.0.0/8 bogus\"}"), 0, "10.1.2.3", 1, NULL},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"10.0.0.0/8 bogus\"}"), 0, "11.1.2.3", -1, "invalid CIDR address: bogus"},
	{M("{\"type\":\"ip-whitelist\",\"ip-range\":\"10.0.0.0/8\"}"), 0, NULL, -1, "invalid IP address"},
	/* scalr */
	{M("{\"type\":\"scalr-signature\",\"secret\":\"s3cret\"}"), 0, NULL, 1, NULL},
	{M("{\"type\":\"scalr-signature\",\"secret\":\"other\"}"), 0, NULL, -1, "invalid payload signature"},
	{M("{\"type\":\"scalr-signature\",\"secret\":\"\"}"), 0, NULL, -1, "signing key can not be empty"},
};

static struct sockaddr_storage client_addr(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return ss;
}

/* rule_req.quiet for run_rule */
static int quiet_eval;

static int run_rule(const char *json, int soft, const char *client, time_t now, const char *const *kv, char *why,
		    size_t whycap)
{
	struct arena a;
	struct node *root;
	struct rules *r;
	struct buf err;
	struct fake f = {kv};
	struct rule_req q;
	struct sockaddr_storage ss;
	int k;
	arena_init(&a);
	buf_init(&err, 4096);
	if (parse_json(&a, json, &root, &err) < 0 || rules_compile(&r, root, "t", &err) < 0) {
		fprintf(stderr, "%s: %s\n", json, unit_errors(&err));
		buf_free(&err);
		arena_free(&a);
		return -9;
	}
	buf_free(&err);
	memset(&q, 0, sizeof(q));
	q.body = BODY;
	q.body_len = strlen(BODY);
	q.now = now;
	q.soft_signature_failures = soft;
	q.param = fake_param;
	q.ctx = &f;
	q.quiet = quiet_eval;
	if (client) {
		ss = client_addr(client);
		q.client = (const struct sockaddr *)&ss;
	}
	k = rules_eval(r, &q);
	snprintf(why, whycap, "%s", q.why);
	rules_free(r);
	arena_free(&a);
	return k;
}

TEST(test_rules_table_follows_webhook_error_model)
{
	size_t i;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char why[256];
		int k = run_rule(rows[i].rule, rows[i].soft, rows[i].client, SCALR_NOW + 100, headers_default, why,
				 sizeof(why));
		if (k != rows[i].expect || (rows[i].why ? !strstr(why, rows[i].why) : why[0] != 0)) {
			fprintf(stderr, "row %zu %s: got %d \"%s\", expected %d \"%s\"\n", i, rows[i].rule, k, why,
				rows[i].expect, rows[i].why ? rows[i].why : "");
			CHECK(0);
		}
	}
}

/* Not formatting messages nobody logs must not change a single answer. */
TEST(test_rules_quiet_answers_as_the_table)
{
	size_t i;
	quiet_eval = 1;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char why[256];
		int k = run_rule(rows[i].rule, rows[i].soft, rows[i].client, SCALR_NOW + 100, headers_default, why,
				 sizeof(why));
		if (k != rows[i].expect) {
			fprintf(stderr, "row %zu %s: quiet got %d, expected %d\n", i, rows[i].rule, k, rows[i].expect);
			CHECK(0);
		}
	}
	{
		/* the invalid signature's message is the one left unwritten */
		char why[256];
		CHECK_EQ_INT(run_rule(HMAC("payload-hmac-sha256", "X-Multi-Space"), 0, NULL, SCALR_NOW, headers_default,
				      why, sizeof(why)), -1);
		CHECK_STR(why, "");
	}
	quiet_eval = 0;
}

TEST(test_rules_scalr_outside_five_minutes_is_a_signature_error)
{
	char why[256];
	const char *rule = M("{\"type\":\"scalr-signature\",\"secret\":\"s3cret\"}");
	CHECK_EQ_INT(run_rule(rule, 0, NULL, SCALR_NOW + 300, headers_default, why, sizeof(why)), 1);
	CHECK_EQ_INT(run_rule(rule, 0, NULL, SCALR_NOW - 300, headers_default, why, sizeof(why)), 1);
	CHECK_EQ_INT(run_rule(rule, 0, NULL, SCALR_NOW + 301, headers_default, why, sizeof(why)), -1);
	CHECK(strstr(why, "outdated") != NULL);
	CHECK_EQ_INT(run_rule("{\"or\":[" M("{\"type\":\"scalr-signature\",\"secret\":\"s3cret\"}") "]}", 1, NULL,
			      SCALR_NOW + 301, headers_default, why, sizeof(why)),
		     0);
}

TEST(test_rules_scalr_without_headers_is_false)
{
	static const char *const none[] = {NULL};
	char why[256];
	CHECK_EQ_INT(run_rule(M("{\"type\":\"scalr-signature\",\"secret\":\"s3cret\"}"), 0, NULL, SCALR_NOW, none, why,
			      sizeof(why)),
		     0);
	CHECK_STR(why, "");
}

TEST(test_rules_bad_regex_refuses_the_hook)
{
	struct arena a;
	struct node *root;
	struct rules *r = NULL;
	struct buf err;
	const char *json = "{\"and\":[" M("{\"type\":\"regex\",\"regex\":\"(a)\\\\1\",\"parameter\":{\"source\":"
					  "\"payload\",\"name\":\"ref\"}}") "]}";
	arena_init(&a);
	buf_init(&err, 4096);
	CHECK(parse_json(&a, json, &root, &err) == 0);
	CHECK_EQ_INT(rules_compile(&r, root, "deploy", &err), -1);
	CHECK(strstr(unit_errors(&err), "hook deploy") != NULL);
	CHECK(strstr(unit_errors(&err), "(a)\\1") != NULL);
	CHECK(strstr(unit_errors(&err), "backreferences") != NULL);
	buf_free(&err);
	arena_free(&a);
}

TEST(test_rules_depth_is_bounded)
{
	char json[4096] = "";
	int i;
	struct arena a;
	struct node *root;
	struct rules *r = NULL;
	struct buf err;
	for (i = 0; i < 40; i++)
		strcat(json, "{\"not\":");
	strcat(json, REF);
	for (i = 0; i < 40; i++)
		strcat(json, "}");
	arena_init(&a);
	buf_init(&err, 4096);
	CHECK(parse_json(&a, json, &root, &err) == 0);
	CHECK_EQ_INT(rules_compile(&r, root, "deep", &err), -1);
	CHECK(strstr(unit_errors(&err), "nests deeper") != NULL);
	buf_free(&err);
	arena_free(&a);
}

int main(void)
{
	RUN(test_rules_table_follows_webhook_error_model);
	RUN(test_rules_quiet_answers_as_the_table);
	RUN(test_rules_scalr_outside_five_minutes_is_a_signature_error);
	RUN(test_rules_scalr_without_headers_is_false);
	RUN(test_rules_bad_regex_refuses_the_hook);
	RUN(test_rules_depth_is_bounded);
	return unit_done();
}
