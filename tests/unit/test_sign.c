/* Signatures: every vector of ../shared/testdata/signatures.json, plus
 * wrong, missing, stale and multi-signature cases. */
#include "unit.h"

#include "edgehook/b64.h"
#include "edgehook/json.h"
#include "edgehook/sign.h"

#include <stdlib.h>

static char text[1 << 16];
static struct json_doc doc;

static const char *field(const char *path)
{
	static char vals[16][4096];
	static int next;
	char *out = vals[next++ % 16];
	int t = json_path(&doc, path);
	if (t < 0 || json_tok_copy(&doc, t, out, 4096) < 0)
		return "";
	return out;
}

static int load_vectors(void)
{
	FILE *f = fopen("../shared/testdata/signatures.json", "r");
	size_t n;
	if (!f)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	return json_parse(&doc, text, n, 16);
}

TEST(github_vector)
{
	const char *why = NULL;
	const char *body = field("github_sha256.body"), *sig = field("github_sha256.expected");
	const char *secret = field("github_sha256.secret");
	CHECK_EQ_INT(sign_verify_github(secret, sig, strlen(sig), 0, body, strlen(body), &why), 0);
	CHECK_EQ_INT(sign_verify_github("wrong", sig, strlen(sig), 0, body, strlen(body), &why), -1);
	CHECK_EQ_INT(sign_verify_github(secret, sig, strlen(sig), 0, "Hello, World?", 13, &why), -1);
	CHECK_EQ_INT(sign_verify_github(secret, sig + 7, strlen(sig) - 7, 0, body, strlen(body), &why), -1);
	CHECK_EQ_INT(sign_verify_github(secret, "", 0, 0, body, strlen(body), &why), -1);
	CHECK_EQ_INT(sign_verify_github(secret, sig, strlen(sig) - 1, 0, body, strlen(body), &why), -1);
}

TEST(slack_vector_with_injected_clock)
{
	const char *why = NULL;
	const char *secret = field("slack_v0.secret"), *ts = field("slack_v0.timestamp");
	const char *body = field("slack_v0.body"), *sig = field("slack_v0.expected");
	long long t = atoll(ts);
	CHECK_EQ_INT(sign_verify_slack(secret, ts, sig, body, strlen(body), t + 10, &why), 0);
	CHECK_EQ_INT(sign_verify_slack(secret, ts, sig, body, strlen(body), t + 301, &why), -1);
	CHECK_STR(why, "timestamp outside the 5 minute window");
	CHECK_EQ_INT(sign_verify_slack(secret, ts, sig, body, strlen(body), t - 301, &why), -1);
	CHECK_EQ_INT(sign_verify_slack(secret, ts, sig, body, strlen(body) - 1, t, &why), -1);
	CHECK_STR(why, "signature mismatch");
	CHECK_EQ_INT(sign_verify_slack(secret, "", sig, body, strlen(body), t, &why), -1);
	CHECK_EQ_INT(sign_verify_slack(secret, "12x", sig, body, strlen(body), 12, &why), -1);
}

TEST(standard_webhooks_vector)
{
	const char *why = NULL;
	const char *secret = field("standard_webhooks.secret"), *id = field("standard_webhooks.msg_id");
	const char *ts = field("standard_webhooks.timestamp"), *body = field("standard_webhooks.body");
	const char *expected = field("standard_webhooks.expected");
	char sig[128], multi[300];
	long long t = atoll(ts);
	CHECK_EQ_INT(sign_standard(secret, id, ts, body, strlen(body), sig, sizeof(sig)), 0);
	CHECK_STR(sig, expected);
	CHECK_EQ_INT(sign_verify_standard(secret, id, ts, expected, body, strlen(body), t, &why), 0);
	snprintf(multi, sizeof(multi), "v1,bm9wZQ== v2,xyz %s", expected);
	CHECK_EQ_INT(sign_verify_standard(secret, id, ts, multi, body, strlen(body), t + 299, &why), 0);
	CHECK_EQ_INT(sign_verify_standard(secret, id, ts, expected, body, strlen(body), t + 301, &why), -1);
	CHECK_EQ_INT(sign_verify_standard(secret, "msg_other", ts, expected, body, strlen(body), t, &why), -1);
	CHECK_EQ_INT(sign_verify_standard(secret, id, ts, "v1,bm9wZQ==", body, strlen(body), t, &why), -1);
	CHECK_EQ_INT(sign_verify_standard(secret, id, ts, "", body, strlen(body), t, &why), -1);
	CHECK_EQ_INT(sign_standard("nowhsec", id, ts, body, strlen(body), sig, sizeof(sig)), -1);
	CHECK_EQ_INT(sign_standard(secret, id, ts, body, strlen(body), sig, 10), -1);
}

TEST(key_cache_eviction_keeps_results_right)
{
	char secrets[20][64], sig[128];
	const char *why;
	int round, i;
	for (i = 0; i < 20; i++) {
		unsigned char raw[24];
		char b64[40];
		memset(raw, 'a' + i, sizeof(raw));
		b64_encode(raw, sizeof(raw), b64, sizeof(b64));
		snprintf(secrets[i], sizeof(secrets[i]), "whsec_%s", b64);
	}
	for (round = 0; round < 2; round++)
		for (i = 0; i < 20; i++) {
			CHECK_EQ_INT(sign_standard(secrets[i], "m", "100", "body", 4, sig, sizeof(sig)), 0);
			CHECK_EQ_INT(sign_verify_standard(secrets[i], "m", "100", sig, "body", 4, 100, &why), 0);
			CHECK_EQ_INT(sign_verify_standard(secrets[(i + 1) % 20], "m", "100", sig, "body", 4, 100, &why), -1);
		}
}

TEST(token_and_equal)
{
	CHECK_EQ_INT(sign_verify_token("abc", "abc", 3), 0);
	CHECK_EQ_INT(sign_verify_token("abc", "abd", 3), -1);
	CHECK_EQ_INT(sign_verify_token("abc", "ab", 2), -1);
	CHECK(sign_equal("", 0, "", 0));
	CHECK(!sign_equal("a", 1, "", 0));
}

int main(void)
{
	if (load_vectors() < 0) {
		unit_report("load ../shared/testdata/signatures.json", 1);
		return unit_done();
	}
	RUN(github_vector);
	RUN(slack_vector_with_injected_clock);
	RUN(standard_webhooks_vector);
	RUN(key_cache_eviction_keeps_results_right);
	RUN(token_and_equal);
	json_doc_free(&doc);
	return unit_done();
}
