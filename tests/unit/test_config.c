/* Config: the YAML subset, JSON, the schema checks and their line
 * numbers, ${ENV} expansion, defaults, the Agent Stack file verbatim. */
#include "config_load.h"

#include "edgehook/config.h"
#include "edgehook/tree.h"

#include <stdlib.h>
#include <time.h>

TEST(defaults_and_default_config)
{
	struct buf errs;
	struct config *c = load(config_default_yaml, &errs);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_INT(c->server.nlisten, 1);
	CHECK_STR(c->server.listen[0].text, "127.0.0.1:8080");
	CHECK_EQ_INT(c->server.max_header_bytes, 16384);
	CHECK_EQ_INT(c->server.max_body_bytes, 1 << 20);
	CHECK_EQ_INT(c->server.header_timeout_ms, 10000);
	CHECK_EQ_INT(c->webhook.queue, 10000);
	CHECK_EQ_INT(c->webhook.retries, 0);
	CHECK_EQ_INT(c->ntriggers, 1);
	CHECK_STR(c->triggers[0].id, "demo");
	CHECK_EQ_INT(c->triggers[0].nallowed, 2);
	CHECK(c->triggers[0].emit);
	CHECK_EQ_INT(c->webhook.nendpoints, 1);
	CHECK_EQ_INT(c->webhook.endpoints[0].url.scheme, URL_STDOUT);
	config_free(c);
	buf_free(&errs);
}

TEST(agentstack_config_verbatim)
{
	struct buf errs;
	struct config *c = NULL;
	buf_init(&errs, 4096);
	CHECK_EQ_INT(config_load_file("../shared/testdata/agentstack-config.yaml", &c, &errs), 0);
	if (!c)
		return;
	CHECK_EQ_INT(c->webhook.nendpoints, 2);
	CHECK_STR(c->webhook.endpoints[0].url.host, "ci.example.com");
	CHECK_STR(c->webhook.endpoints[0].url.path, "/hooks/agentstack");
	CHECK_EQ_INT(c->webhook.endpoints[0].url.port, 443);
	CHECK_STR(c->webhook.endpoints[0].headers[0].name, "Authorization");
	CHECK_STR(c->webhook.endpoints[0].headers[0].value, "Bearer ci-token");
	CHECK_STR(c->webhook.endpoints[0].events[0], "provider_build.*");
	CHECK_STR(c->webhook.endpoints[1].events[0], "*");
	CHECK_STR(c->webhook.endpoints[1].headers[0].name, "X-API-Key");
	config_free(c);
	buf_free(&errs);
}

TEST(full_schema_yaml)
{
	static const char text[] =
		"# a comment\n"
		"---\n"
		"server:\n"
		"  listen:\n"
		"    - 127.0.0.1:0\n"
		"    - \"[::1]:9000\"\n"
		"  max_connections: 500\n"
		"  max_header_bytes: 8KiB   # trailing comment\n"
		"  max_body_bytes: 2MiB\n"
		"  header_timeout: 250ms\n"
		"  idle_timeout: 1m30s\n"
		"  drain_timeout: 1h\n"
		"  trusted_proxies: [10.0.0.0/8]\n"
		"api:\n"
		"  token: 'it''s secret'\n"
		"webhook:\n"
		"  timeout: 5s\n"
		"  retries: 3\n"
		"  backoff: 100ms\n"
		"  endpoints:\n"
		"  - url: http://127.0.0.1:9999/x?y=1\n"
		"    name: sink\n"
		"    events: [a.*, b]\n"
		"    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
		"    retries: 1\n"
		"    max_in_flight: 4\n"
		"triggers:\n"
		"  - id: deploy\n"
		"    kind: github\n"
		"    secret: \"s3cr\\\"et\"\n"
		"    allowed_ips: [192.0.2.0/24, \"2001:db8::/32\", 127.0.0.1]\n"
		"    path: /agent-1/webhook\n"
		"    metadata: {team: infra, n: 3, on: true}\n"
		"    run:\n"
		"      command: /bin/true\n"
		"      args: [\"{event}\", x]\n"
		"      timeout: 2s\n"
		"      concurrency: 2\n";
	struct buf errs;
	struct config *c = load(text, &errs);
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "%s", errs.data);
		return;
	}
	CHECK_EQ_INT(c->server.nlisten, 2);
	CHECK_EQ_INT(c->server.listen[1].addr.ss_family, 10);
	CHECK_EQ_INT(c->server.max_connections, 500);
	CHECK_EQ_INT(c->server.max_header_bytes, 8192);
	CHECK_EQ_INT(c->server.max_body_bytes, 2 << 20);
	CHECK_EQ_INT(c->server.header_timeout_ms, 250);
	CHECK_EQ_INT(c->server.idle_timeout_ms, 90000);
	CHECK_EQ_INT(c->server.drain_timeout_ms, 3600000);
	CHECK_EQ_INT(c->server.ntrusted, 1);
	CHECK_STR(c->api.token, "it's secret");
	CHECK_EQ_INT(c->webhook.retries, 3);
	CHECK_EQ_INT(c->webhook.endpoints[0].retries, 1);
	CHECK_EQ_INT(c->webhook.endpoints[0].url.port, 9999);
	CHECK_STR(c->webhook.endpoints[0].url.path, "/x?y=1");
	CHECK_EQ_INT(c->webhook.endpoints[0].nevents, 2);
	CHECK_EQ_INT(c->webhook.endpoints[0].max_in_flight, 4);
	CHECK_STR(c->triggers[0].secret, "s3cr\"et");
	CHECK_EQ_INT(c->triggers[0].kind, TRIGGER_GITHUB);
	CHECK_EQ_INT(c->triggers[0].nallowed, 3);
	CHECK_STR(c->triggers[0].path, "/agent-1/webhook");
	CHECK_STR(c->triggers[0].metadata_json, "{\"team\":\"infra\",\"n\":3,\"on\":true}");
	CHECK(c->triggers[0].run != NULL);
	CHECK_EQ_INT(c->triggers[0].run->nargs, 2);
	CHECK_EQ_INT(c->triggers[0].run->concurrency, 2);
	config_free(c);
	buf_free(&errs);
}

TEST(json_config)
{
	static const char text[] = "{\n \"server\": {\"listen\": \"127.0.0.1:1234\", \"max_connections\": 7},\n"
				   " \"triggers\": [{\"id\": \"x\", \"emit\": true, \"enabled\": false}]\n}\n";
	struct buf errs;
	struct config *c = load(text, &errs);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_INT(c->server.max_connections, 7);
	CHECK(c->triggers[0].emit);
	CHECK(!c->triggers[0].enabled);
	config_free(c);
	buf_free(&errs);
	CHECK(fails_with("{\n \"server\": {\n  \"bogus\": 1\n }\n}\n", "t.yaml:3: unknown key \"bogus\""));
	CHECK(fails_with("{\n \"server\": {,}\n}\n", "t.yaml:2: invalid JSON"));
	CHECK(fails_with("{\"a\": 1, \"a\": 2}", "duplicate key"));
}

TEST(errors_name_the_line)
{
	CHECK(fails_with("server:\n  listen: 127.0.0.1:8080\n  max_conections: 5\n", "t.yaml:3: unknown key \"max_conections\""));
	CHECK(fails_with("server:\n  header_timeout: 10\n", "t.yaml:2: header_timeout: bad duration"));
	CHECK(fails_with("server:\n  max_body_bytes: 1XB\n", "t.yaml:2: max_body_bytes: bad size"));
	CHECK(fails_with("server:\n  max_connections: lots\n", "t.yaml:2: max_connections: bad size"));
	CHECK(fails_with("server:\n  listen: nowhere\n", "t.yaml:2: listen: bad address"));
	CHECK(fails_with("webhook:\n  endpoints:\n    - url: ftp://x/\n", "t.yaml:3: bad url \"ftp://x/\""));
	CHECK(fails_with("webhook:\n  endpoints:\n    - url: http://a:99999/\n", "t.yaml:3: bad url"));
	CHECK(fails_with("webhook:\n  endpoints:\n    - name: x\n", "t.yaml:3: endpoint: url is required"));
	CHECK(fails_with("webhook:\n  retries: many\n", "t.yaml:2: retries: expected an integer"));
	CHECK(fails_with("webhook:\n  https_only: yes\n", "t.yaml:2: https_only: expected true or false"));
	CHECK(fails_with("webhook:\n  https_only: true\n  endpoints:\n    - url: http://a/\n", "t.yaml:4: https_only"));
	CHECK(fails_with("triggers:\n  - id: a\n  - id: a\n", "t.yaml:3: duplicate trigger id \"a\""));
	CHECK(fails_with("triggers:\n  - id: a\n    kind: github\n", "t.yaml:2: trigger a: kind github needs a secret"));
	CHECK(fails_with("triggers:\n  - id: a\n    kind: bitbucket\n", "t.yaml:3: kind: \"bitbucket\""));
	CHECK(fails_with("triggers:\n  - id: a\n    allowed_ips: [10.0.0.0/33]\n", "t.yaml:3: allowed_ips: bad address"));
	CHECK(fails_with("triggers:\n  - id: a\n    allowed_ips: [not-an-ip]\n", "t.yaml:3"));
	CHECK(fails_with("triggers:\n  - id: a\n    path: /api/v1/x\n", "t.yaml:3: path \"/api/v1/x\" collides"));
	CHECK(fails_with("triggers:\n  - id: \"a b\"\n", "t.yaml:2: trigger id"));
	CHECK(fails_with("triggers:\n  - id: a\n    run:\n      args: [x]\n", "t.yaml:3: run: command is required"));
	CHECK(fails_with("triggers:\n  - id: a\n    run: {command: deploy.sh}\n", "absolute path"));
	CHECK(fails_with("triggers:\n  - kind: generic\n", "t.yaml:2: trigger: id is required"));
	CHECK(fails_with("server: [1, 2]\n", "t.yaml:1: server: expected a map"));
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time to refuse a map of `keys` keys, YAML or JSON, the least of
 * three runs (other processes only ever add time). */
static double refusal_cost(int keys, int json)
{
	struct buf text;
	double best = 1e9;
	int i, run;
	buf_init(&text, 8 << 20);
	if (json) {
		buf_puts(&text, "{\"triggers\": [{\"id\": \"t\", \"metadata\": {");
		for (i = 0; i < keys; i++)
			buf_printf(&text, "%s\"k%d\": %d", i ? ", " : "", i, i);
		buf_puts(&text, "}}]}");
	} else {
		buf_puts(&text, "triggers:\n  - id: t\n    metadata:\n");
		for (i = 0; i < keys; i++)
			buf_printf(&text, "      k%d: %d\n", i, i);
	}
	buf_append(&text, "", 1);
	for (run = 0; run < 3; run++) {
		double t0 = cpu_seconds(), t;
		CHECK(fails_with(text.data, json ? "too many keys in one map" : "t.yaml:4: too many keys in one map (at most 256)"));
		t = cpu_seconds() - t0;
		if (t < best)
			best = t;
	}
	buf_free(&text);
	return best;
}

/* Refusing a huge map costs in proportion to its size: 4x the keys must
 * cost well under 16x (what a duplicate scan over the whole map would
 * cost); compared within one run, so the machine's speed cancels out. */
TEST(huge_maps_refused_quickly)
{
	int json;
	for (json = 0; json <= 1; json++) {
		double small = refusal_cost(10000, json), big = refusal_cost(40000, json);
		if (!(big < small * 8))
			fprintf(stderr, "%s: %d keys %.4fs, %d keys %.4fs\n", json ? "json" : "yaml", 10000, small, 40000, big);
		CHECK(big < small * 8);
	}
}

TEST(many_endpoints_and_triggers_bounded)
{
	struct buf text, errs;
	struct config *c;
	int i;
	buf_init(&text, 4 << 20);
	buf_puts(&text, "webhook:\n  endpoints:\n");
	for (i = 0; i < 1000; i++)
		buf_puts(&text, "    - url: http://same.example/\n");
	buf_append(&text, "", 1);
	c = load(text.data, &errs);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->webhook.endpoints[0].name, "same.example");
		CHECK_STR(c->webhook.endpoints[999].name, "same.example-1000");
	}
	config_free(c);
	buf_free(&errs);
	text.len = 0;
	buf_puts(&text, "webhook:\n  endpoints:\n");
	for (i = 0; i < 1025; i++)
		buf_puts(&text, "    - url: http://same.example/\n");
	buf_append(&text, "", 1);
	CHECK(fails_with(text.data, "t.yaml:2: endpoints: at most 1024"));
	text.len = 0;
	buf_puts(&text, "triggers:\n");
	for (i = 0; i < 4097; i++)
		buf_printf(&text, "  - id: t%d\n", i);
	buf_append(&text, "", 1);
	CHECK(fails_with(text.data, "t.yaml:1: triggers: at most 4096"));
	buf_free(&text);
}

TEST(deep_nesting_refused)
{
	struct buf text;
	int i;
	buf_init(&text, 4 << 20);
	buf_puts(&text, "server:\n  listen: ");
	for (i = 0; i < 200000; i++)
		buf_puts(&text, "[");
	for (i = 0; i < 200000; i++)
		buf_puts(&text, "]");
	buf_append(&text, "\n", 2);
	CHECK(fails_with(text.data, "t.yaml:2: nesting deeper than 64"));
	text.len = 0;
	for (i = 0; i < 100; i++) {
		int k;
		for (k = 0; k < i; k++)
			buf_puts(&text, " ");
		buf_printf(&text, "k%d:\n", i);
	}
	buf_append(&text, "", 1);
	CHECK(fails_with(text.data, "nesting deeper than 64"));
	buf_free(&text);
}

TEST(yaml_syntax_errors)
{
	CHECK(fails_with("server:\n\tlisten: x\n", "t.yaml:2: tab in indentation"));
	CHECK(fails_with("server:\n  listen: 1\n    extra: 2\n", "t.yaml:3: unexpected indentation"));
	CHECK(fails_with("a: 1\na: 2\n", "t.yaml:2: duplicate key \"a\""));
	CHECK(fails_with("server:\n  listen: [1, 2\n", "t.yaml:2"));
	CHECK(fails_with("server:\n  tls: |\n    x\n", "t.yaml:2: tls: expected a map"));
	CHECK(fails_with("x: !!str 1\n", "t.yaml:1: tags are not supported"));
	CHECK(fails_with("server:\n  listen: [1,\n", "t.yaml:2: flow collection not closed"));
	CHECK(fails_with("server:\n  listen: \"unterminated\n", "t.yaml:2: unterminated"));
	CHECK(fails_with("just a scalar line\n", "t.yaml:1: expected \"key: value\""));
	CHECK(fails_with("a: 1\n---\nb: 2\n", "t.yaml:2: only one document"));
	CHECK(fails_with("- 1\n- 2\n", "t.yaml:1: expected a map at the top level"));
}

TEST(env_expansion)
{
	struct buf errs;
	struct config *c;
	setenv("EH_TEST_TOKEN", "tok123", 1);
	unsetenv("EH_TEST_MISSING");
	c = load("api:\n  token: ${EH_TEST_TOKEN}\n", &errs);
	CHECK(c && strcmp(c->api.token, "tok123") == 0);
	config_free(c);
	buf_free(&errs);
	c = load("api:\n  token: \"Bearer ${EH_TEST_MISSING:-}\"\n", &errs);
	CHECK(c && strcmp(c->api.token, "Bearer ") == 0);
	config_free(c);
	buf_free(&errs);
	c = load("api:\n  token: ${EH_TEST_MISSING:-}\n", &errs);
	CHECK(c && c->api.token == NULL);
	config_free(c);
	buf_free(&errs);
	CHECK(fails_with("api:\n  token: ${EH_TEST_MISSING}\n", "t.yaml:2: environment variable EH_TEST_MISSING is not set"));
}

TEST(durations_and_sizes)
{
	uint64_t ms;
	size_t sz;
	CHECK(config_parse_duration("250ms", &ms) == 0 && ms == 250);
	CHECK(config_parse_duration("10s", &ms) == 0 && ms == 10000);
	CHECK(config_parse_duration("5m", &ms) == 0 && ms == 300000);
	CHECK(config_parse_duration("1h", &ms) == 0 && ms == 3600000);
	CHECK(config_parse_duration("0", &ms) == 0 && ms == 0);
	CHECK(config_parse_duration("10", &ms) < 0);
	CHECK(config_parse_duration("-1s", &ms) < 0);
	CHECK(config_parse_duration("1d", &ms) < 0);
	CHECK(config_parse_duration("", &ms) < 0);
	CHECK(config_parse_duration("99999999999999999999s", &ms) < 0);
	CHECK(config_parse_size("512", &sz) == 0 && sz == 512);
	CHECK(config_parse_size("64KiB", &sz) == 0 && sz == 65536);
	CHECK(config_parse_size("1MiB", &sz) == 0 && sz == 1048576);
	CHECK(config_parse_size("1kib", &sz) < 0);
	CHECK(config_parse_size("x", &sz) < 0);
	CHECK(config_parse_size("99999999999999999999999", &sz) < 0);
}

TEST(endpoint_names_derived_and_unique)
{
	struct buf errs;
	struct config *c = load("webhook:\n  endpoints:\n    - url: https://a.example/x\n    - url: https://a.example/y\n", &errs);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->webhook.endpoints[0].name, "a.example");
		CHECK_STR(c->webhook.endpoints[1].name, "a.example-2");
	}
	config_free(c);
	buf_free(&errs);
	CHECK(fails_with("webhook:\n  endpoints:\n    - {url: \"http://a/\", name: x}\n    - {url: \"http://b/\", name: x}\n",
			 "t.yaml:4: duplicate endpoint name"));
	/* regression (fuzz): a broken entry before one with a derived name */
	CHECK(fails_with("webhook:\n  endpoints:\n    - nope\n    - url: https://a/\n", "t.yaml:3: endpoint: expected a map"));
}

TEST(sequence_at_key_indent_and_nested_items)
{
	struct buf errs;
	struct config *c = load("triggers:\n- id: a\n  allowed_ips:\n  - 127.0.0.1\n  - ::1\n- id: b\n", &errs);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->ntriggers, 2);
		CHECK_EQ_INT(c->triggers[0].nallowed, 2);
		CHECK_STR(c->triggers[1].id, "b");
	}
	config_free(c);
	buf_free(&errs);
}

/* issue 21 #11: '#' inside quotes, a bare "-" before "- x", a BOM */
TEST(yaml_quotes_bare_dash_and_bom)
{
	static const char text[] = "a: \"say \\\"hi\\\" #1\" # comment\nb: 'it''s #1'\nc:\n  -\n  - x\n";
	static const char bom_yaml[] = "\xef\xbb\xbfserver:\n  listen: 127.0.0.1:9\n";
	static const char bom_json[] = "\xef\xbb\xbf{\"server\": {\"listen\": \"127.0.0.1:9\"}}";
	struct arena a;
	struct node *root = NULL;
	struct buf b, errs;
	struct config *c;
	arena_init(&a);
	buf_init(&b, 4096);
	buf_init(&errs, 4096);
	CHECK_EQ_INT(config_parse_tree(&a, text, sizeof(text) - 1, &root, &errs), 0);
	if (root) {
		tree_to_json(&b, root);
		buf_append(&b, "", 1);
		CHECK_STR(b.data, "{\"a\":\"say \\\"hi\\\" #1\",\"b\":\"it's #1\",\"c\":[null,\"x\"]}");
	}
	buf_free(&b);
	arena_free(&a);
	c = load(bom_yaml, &errs);
	CHECK(c && c->server.nlisten == 1);
	config_free(c);
	buf_free(&errs);
	c = load(bom_json, &errs);
	CHECK(c && c->server.nlisten == 1);
	config_free(c);
	buf_free(&errs);
}

/* issue 21 #4: ${A:-${B}} expands the default, never keeps "${" */
TEST(env_nested_defaults)
{
	struct buf errs;
	struct config *c;
	setenv("EH_TEST_SET", "inner", 1);
	unsetenv("EH_TEST_MISSING");
	c = load("api:\n  token: ${EH_TEST_MISSING:-${EH_TEST_SET}}\n", &errs);
	CHECK(c && strcmp(c->api.token, "inner") == 0);
	config_free(c);
	buf_free(&errs);
	c = load("api:\n  token: \"a${EH_TEST_MISSING:-b${EH_TEST_MISSING:-c}d}e\"\n", &errs);
	CHECK(c && strcmp(c->api.token, "abcde") == 0);
	config_free(c);
	buf_free(&errs);
	c = load("api:\n  token: ${EH_TEST_SET:-${EH_TEST_MISSING}}\n", &errs);
	CHECK(c && strcmp(c->api.token, "inner") == 0);
	config_free(c);
	buf_free(&errs);
	CHECK(fails_with("api:\n  token: ${EH_TEST_MISSING:-${EH_TEST_MISSING}}\n",
			 "t.yaml:2: environment variable EH_TEST_MISSING is not set"));
	CHECK(fails_with("api:\n  token: ${EH_TEST_MISSING:-${EH_TEST_MISSING:-x}\n", "t.yaml:2: unterminated ${"));
	CHECK(fails_with("api:\n  token: ${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-x}}}}}}}}}\n",
			 "t.yaml:2: ${...} nested deeper than"));
}

/* issue 21 #7: every term is checked for overflow; 0 only where documented */
TEST(durations_overflow_and_minimums)
{
	struct buf text;
	uint64_t ms = 0;
	int i;
	buf_init(&text, 1 << 20);
	for (i = 0; i < 5124; i++)
		buf_puts(&text, "1000000000h");
	buf_puts(&text, "95576030h1551s617ms"); /* 2^64 + 1 ms */
	buf_append(&text, "", 1);
	CHECK_EQ_INT(config_parse_duration(text.data, &ms), -1);
	buf_free(&text);
	CHECK(fails_with("server:\n  idle_timeout: 0\n", "t.yaml:2: idle_timeout"));
	CHECK(fails_with("server:\n  header_timeout: 0s\n", "t.yaml:2: header_timeout"));
	CHECK(fails_with("webhook:\n  timeout: 0\n", "t.yaml:2: timeout"));
	CHECK(fails_with("triggers:\n  - id: r\n    allowed_ips: [127.0.0.1]\n    run: {command: /bin/true, timeout: 0ms}\n",
			 "t.yaml:4: timeout"));
}

int main(void)
{
	RUN(defaults_and_default_config);
	RUN(agentstack_config_verbatim);
	RUN(full_schema_yaml);
	RUN(json_config);
	RUN(errors_name_the_line);
	RUN(huge_maps_refused_quickly);
	RUN(many_endpoints_and_triggers_bounded);
	RUN(deep_nesting_refused);
	RUN(yaml_syntax_errors);
	RUN(env_expansion);
	RUN(durations_and_sizes);
	RUN(endpoint_names_derived_and_unique);
	RUN(sequence_at_key_indent_and_nested_items);
	RUN(yaml_quotes_bare_dash_and_bom);
	RUN(env_nested_defaults);
	RUN(durations_overflow_and_minimums);
	return unit_done();
}
