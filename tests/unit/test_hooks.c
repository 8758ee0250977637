/* hooks: webhook hooks files to hook sets (every key, errors with
 * FILE:LINE, duplicate ids). */
#include "unit.h"

#include "edgehook/hooks.h"

static const char json_file[] =
	"[\n"
	"  {\n"
	"    \"id\": \"deploy\",\n"
	"    \"execute-command\": \"/usr/local/bin/deploy.sh\",\n"
	"    \"command-working-directory\": \"/srv\",\n"
	"    \"response-message\": \"Deploying\",\n"
	"    \"response-headers\": [{\"name\": \"X-A\", \"value\": \"1\"}],\n"
	"    \"success-http-response-code\": 202,\n"
	"    \"trigger-rule-mismatch-http-response-code\": 403,\n"
	"    \"include-command-output-in-response\": true,\n"
	"    \"include-command-output-in-response-on-error\": true,\n"
	"    \"trigger-signature-soft-failures\": true,\n"
	"    \"incoming-payload-content-type\": \"application/json\",\n"
	"    \"http-methods\": [\"POST \", \"PUT\"],\n"
	"    \"pass-arguments-to-command\": [{\"source\": \"payload\", \"name\": \"head_commit.id\"},\n"
	"                                  {\"source\": \"header\", \"name\": \"x-github-event\"}],\n"
	"    \"pass-environment-to-command\": [{\"source\": \"payload\", \"name\": \"ref\", \"envname\": \"REF\"}],\n"
	"    \"pass-file-to-command\": [{\"source\": \"entire-payload\", \"name\": \"p\", \"base64decode\": true}],\n"
	"    \"parse-parameters-as-json\": [{\"source\": \"payload\", \"name\": \"data\"}],\n"
	"    \"trigger-rule\": {\"match\": {\"type\": \"value\", \"value\": \"refs/heads/main\",\n"
	"                     \"parameter\": {\"source\": \"payload\", \"name\": \"ref\"}}},\n"
	"    \"timeout\": \"30s\", \"max-concurrency\": 2, \"pass-body-to-stdin\": true,\n"
	"    \"some-future-key\": {\"ignored\": 1}\n"
	"  },\n"
	"  {\"id\": \"deploy\", \"execute-command\": \"/bin/second\"},\n"
	"  {\"id\": \"plain\"}\n"
	"]\n";

static const char yaml_file[] = "- id: yhook\n"
				"  execute-command: /bin/echo\n"
				"  include-command-output-in-response: yes\n"
				"  pass-arguments-to-command:\n"
				"    - source: string\n"
				"      name: 1\n";

TEST(test_hooks_file_reads_every_webhook_key)
{
	struct hook_set s;
	const struct hook *h;
	struct buf err;
	hooks_init(&s);
	buf_init(&err, HOOKS_ERRORS_MAX);
	CHECK_EQ_INT(hooks_add_text(&s, "hooks.json", json_file, sizeof(json_file) - 1, &err), 0);
	if (err.len)
		fprintf(stderr, "%s\n", unit_errors(&err));
	buf_free(&err);
	CHECK_EQ_INT(s.n, 3);
	h = hooks_find(&s, "deploy", 6);
	CHECK(h != NULL);
	if (!h)
		goto out;
	CHECK_STR(h->command, "/usr/local/bin/deploy.sh");
	CHECK_STR(h->workdir, "/srv");
	CHECK_STR(h->response, "Deploying");
	CHECK_EQ_INT(h->nheaders, 1);
	CHECK_STR(h->headers[0].name, "X-A");
	CHECK_EQ_INT(h->success_code, 202);
	CHECK_EQ_INT(h->mismatch_code, 403);
	CHECK(h->sync && h->output_on_error && h->soft_failures);
	CHECK_STR(h->content_type, "application/json");
	CHECK_EQ_INT(h->nmethods, 2);
	CHECK_STR(h->methods[0], "POST");
	CHECK_EQ_INT(h->args.n, 2);
	CHECK_EQ_INT(h->args.v[0].source, SRC_PAYLOAD);
	CHECK_STR(h->args.v[0].name, "head_commit.id");
	CHECK_STR(h->args.v[1].name, "x-github-event"); /* as written: webhook's HOOK_x-github-event */
	CHECK_STR(h->env.v[0].envname, "REF");
	CHECK_EQ_INT(h->files.v[0].base64decode, 1);
	CHECK_EQ_INT(h->json_params.n, 1);
	CHECK(h->rule != NULL);
	CHECK_EQ_INT(h->timeout_ms, 30000);
	CHECK_EQ_INT(h->max_concurrency, 2);
	CHECK_EQ_INT(h->body_to_stdin, 1);
	h = hooks_find(&s, "plain", 5);
	CHECK(h && !h->rule && !h->sync && !h->methods && h->success_code == 0);
out:
	hooks_free(&s);
}

TEST(test_hooks_yaml_coerces_scalars)
{
	struct hook_set s;
	const struct hook *h;
	struct buf err;
	hooks_init(&s);
	buf_init(&err, HOOKS_ERRORS_MAX);
	CHECK_EQ_INT(hooks_add_text(&s, "hooks.yaml", yaml_file, sizeof(yaml_file) - 1, &err), 0);
	buf_free(&err);
	h = hooks_find(&s, "yhook", 5);
	CHECK(h && h->sync);
	CHECK(h && h->args.n == 1 && h->args.v[0].source == SRC_STRING && strcmp(h->args.v[0].name, "1") == 0);
	hooks_free(&s);
}

TEST(test_hooks_duplicate_id_across_files_refuses)
{
	struct hook_set s;
	struct buf err;
	static const char a[] = "[{\"id\": \"x\"}]", b[] = "[{\"id\": \"y\"},\n{\"id\": \"x\"}]";
	hooks_init(&s);
	buf_init(&err, HOOKS_ERRORS_MAX);
	CHECK_EQ_INT(hooks_add_text(&s, "a.json", a, sizeof(a) - 1, &err), 0);
	CHECK_EQ_INT(hooks_add_text(&s, "b.json", b, sizeof(b) - 1, &err), -1);
	CHECK_STR(unit_errors(&err), "b.json:2: hook with the id x has already been loaded");
	buf_free(&err);
	hooks_free(&s);
}

/* A fresh set and error buffer (both freed by the caller) read as h.json. */
static int load_text(struct hook_set *s, struct buf *err, const char *text)
{
	hooks_init(s);
	buf_init(err, HOOKS_ERRORS_MAX);
	return hooks_add_text(s, "h.json", text, strlen(text), err);
}

TEST(test_hooks_errors_name_file_line_hook_and_pattern)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{"[{\"id\": \"r\",\n \"trigger-rule\": {\"match\": {\"type\": \"regex\", \"regex\": \"a(?=b)\",\n"
		 "\"parameter\": {\"source\": \"payload\", \"name\": \"x\"}}}}]",
		 "h.json:2: hook r: line 2: regex \"a(?=b)\": invalid or unsupported Perl syntax: (?="},
		{"[{\"id\": \"c\",\n \"success-http-response-code\": \"ok\"}]", "h.json:2: success-http-response-code must be a number"},
		{"[{\"id\": \"c\",\n \"include-command-output-in-response\": 3}]", "h.json:2: include-command-output-in-response must be true or false"},
		{"{\"id\": \"c\"}", "h.json:1: a hooks file is a list of hooks"},
		{"[{\"id\": \"c\", \"pass-arguments-to-command\": {\"source\": \"x\"}}]", "h.json:1: pass-arguments-to-command must be a list"},
		{"[{\"id\": \"c\", \"response-headers\": [{\"name\": \"X\", \"value\": \"a\\r\\nb\"}]}]", "one line"},
	};
	size_t i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hook_set s;
		struct buf err;
		CHECK_EQ_INT(load_text(&s, &err, cases[i].text), -1);
		if (!strstr(unit_errors(&err), cases[i].err)) {
			fprintf(stderr, "case %zu: \"%s\", expected \"%s\"\n", i, unit_errors(&err), cases[i].err);
			CHECK(0);
		}
		buf_free(&err);
		hooks_free(&s);
	}
}

/* What a request prepares follows from these bits: a source no list
 * and no rule node names is never read, so its work is skipped. */
TEST(test_hooks_sources_name_what_the_hook_reads)
{
	static const struct {
		const char *text;
		unsigned sources;
	} cases[] = {
		{"[{\"id\": \"none\"}]", 0},
		{"[{\"id\": \"hmac\", \"trigger-rule\": {\"and\": [{\"match\": {\"type\": \"payload-hmac-sha256\",\n"
		 "\"secret\": \"s\", \"parameter\": {\"source\": \"header\", \"name\": \"X-Sig\"}}},\n"
		 "{\"not\": {\"match\": {\"type\": \"value\", \"value\": \"x\",\n"
		 "\"parameter\": {\"source\": \"url\", \"name\": \"q\"}}}}]}}]",
		 1u << SRC_HEADER | 1u << SRC_QUERY},
		{"[{\"id\": \"rule\", \"trigger-rule\": {\"or\": [{\"match\": {\"type\": \"ip-whitelist\",\n"
		 "\"ip-range\": \"10.0.0.0/8\"}}, {\"match\": {\"type\": \"regex\", \"regex\": \"a\",\n"
		 "\"parameter\": {\"source\": \"payload\", \"name\": \"p\"}}}]}}]",
		 1u << SRC_UNKNOWN | 1u << SRC_PAYLOAD},
		{"[{\"id\": \"args\", \"pass-arguments-to-command\": [{\"source\": \"entire-payload\"}]}]",
		 1u << SRC_ENTIRE_PAYLOAD},
		{"[{\"id\": \"env\", \"pass-environment-to-command\": [{\"source\": \"request\", \"name\": \"method\"}]}]",
		 1u << SRC_REQUEST},
		{"[{\"id\": \"files\", \"pass-file-to-command\": [{\"source\": \"payload\", \"name\": \"f\"}]}]",
		 1u << SRC_PAYLOAD},
		{"[{\"id\": \"json\", \"parse-parameters-as-json\": [{\"source\": \"payload\", \"name\": \"d\"}]}]",
		 1u << SRC_PAYLOAD},
	};
	size_t i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hook_set s;
		struct buf err;
		CHECK_EQ_INT(load_text(&s, &err, cases[i].text), 0);
		CHECK_EQ_INT((int)s.n, 1);
		if (s.n == 1 && s.hooks[0].sources != cases[i].sources) {
			fprintf(stderr, "case %zu: sources %#x, expected %#x\n", i, s.hooks[0].sources, cases[i].sources);
			CHECK(0);
		}
		buf_free(&err);
		hooks_free(&s);
	}
}

int main(void)
{
	RUN(test_hooks_sources_name_what_the_hook_reads);
	RUN(test_hooks_file_reads_every_webhook_key);
	RUN(test_hooks_yaml_coerces_scalars);
	RUN(test_hooks_duplicate_id_across_files_refuses);
	RUN(test_hooks_errors_name_file_line_hook_and_pattern);
	return unit_done();
}
