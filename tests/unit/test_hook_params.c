/* hook_params: sources and Go-style rendering. Expected strings are what
 * Debian's webhook 2.8.0 printed for the same payload (echo argv). */
#include "unit.h"

#include "edgehook/hook_params.h"
#include "edgehook/hooks.h"
#include "edgehook/http_parser.h"

static const char body[] = "{\"z\":1.50,\"n\":null,\"a\":{\"b\":\"x<y\\b\"},\"arr\":[1,{\"k\":2,\"a\":\"&\"}],"
			   "\"o\":{\"b\":1,\"a\":[true]},\"a.b\":\"literal\",\"s\":\"\\u2028\\u00e9\"}";

static int get(struct hook_request *rq, enum hook_source src, const char *name, char *out, size_t cap)
{
	struct hook_arg arg = {src, (char *)name, NULL, 0};
	const char *v;
	size_t len;
	char why[128] = "";
	int k = hook_param_get(rq, &arg, &v, &len, why, sizeof(why));
	if (k == RULE_PARAM_FOUND)
		snprintf(out, cap, "%.*s", (int)len, v);
	else
		snprintf(out, cap, "%s", k == RULE_PARAM_MISSING ? "(missing)" : why);
	return k;
}

TEST(test_hook_params_render_like_go)
{
	struct json_doc doc;
	struct buf out;
	struct hook_request rq;
	static const struct {
		enum hook_source src;
		const char *name, *expect;
	} rows[] = {
		{SRC_ENTIRE_PAYLOAD, "",
		 "{\"a\":{\"b\":\"x\\u003cy\\u0008\"},\"a.b\":\"literal\",\"arr\":[1,{\"a\":\"\\u0026\",\"k\":2}],\"n\":null,"
		 "\"o\":{\"a\":[true],\"b\":1},\"s\":\"\\u2028\xc3\xa9\",\"z\":1.50}"},
		{SRC_PAYLOAD, "n", "<nil>"},
		{SRC_PAYLOAD, "z", "1.50"},
		{SRC_PAYLOAD, "a.b", "literal"},
		{SRC_PAYLOAD, "arr.1", "{\"a\":\"\\u0026\",\"k\":2}"},
		{SRC_PAYLOAD, "arr.1.k", "2"},
		{SRC_PAYLOAD, "arr.2", "(missing)"},
		{SRC_PAYLOAD, "arr.x", "(missing)"},
		{SRC_PAYLOAD, "missing", "(missing)"},
		{SRC_PAYLOAD, "o", "{\"a\":[true],\"b\":1}"},
		{SRC_PAYLOAD, "o.a.0", "true"},
		{SRC_STRING, "const", "const"},
		{SRC_REQUEST, "method", "POST"},
		{SRC_REQUEST, "Remote-Addr", "127.0.0.1:5555"},
		{SRC_REQUEST, "other", "unsupported request key: \"other\""},
		{SRC_HEADER, "X-Event", "push"},
		{SRC_HEADER, "X-None", "(missing)"},
		{SRC_QUERY, "q", "a b"},
		{SRC_QUERY, "r", "(missing)"},
		{SRC_RAW_BODY, "", body},
	};
	static const struct http_header headers[] = {
		{"x-event", 7, "push", 4},
		{"X-Event", 7, "second", 6},
	};
	size_t i;
	char got[512];
	CHECK(json_parse(&doc, body, strlen(body), 32) == 0);
	buf_init(&out, 1 << 16);
	memset(&rq, 0, sizeof(rq));
	rq.payload = &doc;
	rq.out = &out;
	rq.body = body;
	rq.body_len = strlen(body);
	rq.method = "POST";
	rq.remote_addr = "127.0.0.1:5555";
	rq.headers = headers;
	rq.nheaders = 2;
	rq.query = "q=a+b&q=second";
	rq.query_len = strlen(rq.query);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		get(&rq, rows[i].src, rows[i].name, got, sizeof(got));
		if (strcmp(got, rows[i].expect) != 0) {
			fprintf(stderr, "row %zu (%s): \"%s\", expected \"%s\"\n", i, rows[i].name, got, rows[i].expect);
			CHECK(0);
		}
	}
	buf_free(&out);
	json_doc_free(&doc);
}

TEST(test_hook_params_array_payload_reads_as_root)
{
	static const char arr[] = "[{\"x\":1},2]";
	struct json_doc doc;
	struct buf out;
	struct hook_request rq;
	char got[256];
	CHECK(json_parse(&doc, arr, strlen(arr), 32) == 0);
	buf_init(&out, 4096);
	memset(&rq, 0, sizeof(rq));
	rq.payload = &doc;
	rq.out = &out;
	get(&rq, SRC_PAYLOAD, "root.0", got, sizeof(got));
	CHECK_STR(got, "{\"x\":1}");
	get(&rq, SRC_ENTIRE_PAYLOAD, "", got, sizeof(got));
	CHECK_STR(got, "{\"root\":[{\"x\":1},2]}");
	rq.payload = NULL;
	get(&rq, SRC_ENTIRE_PAYLOAD, "", got, sizeof(got));
	CHECK_STR(got, "null");
	CHECK_EQ_INT(get(&rq, SRC_PAYLOAD, "root", got, sizeof(got)), RULE_PARAM_MISSING);
	buf_free(&out);
	json_doc_free(&doc);
}

TEST(test_hook_params_parse_parameters_as_json)
{
	static const char js[] = "{\"d\":\"{\\\"x\\\": {\\\"y\\\": \\\"\\\\u00e9\\\"}}\",\"s\":\"[1]\",\"o\":{\"k\":1}}";
	struct hook_arg list[] = {{SRC_PAYLOAD, "d", NULL, 0}, {SRC_PAYLOAD, "s", NULL, 0},
				  {SRC_PAYLOAD, "o", NULL, 0}, {SRC_HEADER, "h", NULL, 0}};
	struct hook_args args = {list, 4};
	struct json_doc doc;
	struct buf out, text;
	struct hook_request rq;
	char got[256], why[128];
	CHECK(json_parse(&doc, js, strlen(js), 32) == 0);
	buf_init(&out, 4096);
	buf_init(&text, 0);
	CHECK_EQ_INT(hook_params_parse_json(&doc, &text, &args, why, sizeof(why)), -1);
	CHECK_STR(why, "error parsing JSON parameter s");
	memset(&rq, 0, sizeof(rq));
	rq.payload = &doc;
	rq.out = &out;
	get(&rq, SRC_PAYLOAD, "d.x.y", got, sizeof(got));
	CHECK_STR(got, "\xc3\xa9");
	get(&rq, SRC_PAYLOAD, "s", got, sizeof(got));
	CHECK_STR(got, "[1]");
	get(&rq, SRC_PAYLOAD, "o.k", got, sizeof(got));
	CHECK_STR(got, "1");
	json_doc_free(&doc);
	buf_free(&text);
	buf_free(&out);
}

int main(void)
{
	RUN(test_hook_params_parse_parameters_as_json);
	RUN(test_hook_params_render_like_go);
	RUN(test_hook_params_array_payload_reads_as_root);
	return unit_done();
}
