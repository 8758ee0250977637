/* Config: the hooks section (adnanh/webhook hooks files beside the
 * triggers): files, the prefix as written and its FILE:LINE errors. */
#include "config_load.h"

#include "edgehook/config.h"

TEST(test_hooks_config_off_by_default)
{
	struct buf errs;
	struct config *c = load(config_default_yaml, &errs);
	CHECK(c && c->hooks.nfiles == 0);
	config_free(c);
	buf_free(&errs);
}

TEST(test_hooks_config_files_and_prefix)
{
	struct buf errs;
	struct config *c = load("hooks:\n  files: [/a.json, b.yaml]\n", &errs);
	CHECK(c != NULL);
	if (c) {
		CHECK_EQ_INT(c->hooks.nfiles, 2);
		CHECK_STR(c->hooks.files[1], "b.yaml");
		CHECK_STR(c->hooks.urlprefix, "hooks");
	}
	config_free(c);
	buf_free(&errs);
	c = load("hooks:\n  files: /a.json\n  urlprefix: /ci/hooks/\n", &errs);
	CHECK(c && c->hooks.nfiles == 1);
	if (c)
		CHECK_STR(c->hooks.urlprefix, "ci/hooks");
	config_free(c);
	buf_free(&errs);
}

TEST(test_hooks_config_errors_have_file_and_line)
{
	CHECK(fails_with("hooks:\n  urlprefix: x\n", "t.yaml:1: hooks: files is required"));
	CHECK(fails_with("hooks:\n  files: []\n", "hooks: files is required"));
	CHECK(fails_with("hooks:\n  files: [a]\n  urlprefix: /\n", "t.yaml:3: urlprefix: expected a path segment"));
	CHECK(fails_with("hooks:\n  files: [a]\n  urlprefix: a//b\n", "urlprefix: expected a path segment"));
	CHECK(fails_with("hooks:\n  files: [a]\n  urlprefix: api/x\n", "t.yaml:3: urlprefix: \"api/x\" is one of"));
	CHECK(fails_with("hooks:\n  files: [a]\n  urlprefix: webhooks\n", "edgehook's own routes"));
	CHECK(fails_with("hooks:\n  files: [a]\n  nope: 1\n", "nope"));
	CHECK(fails_with("hooks: [a]\n", "hooks: expected a map"));
	CHECK(fails_with("hooks:\n  files: [a]\ntriggers:\n  - {id: t, path: /hooks/t, emit: true}\n",
			 "path /hooks/t of t lies under hooks.urlprefix /hooks/"));
	CHECK(fails_with("hooks:\n  files: [a]\ntriggers:\n  - {id: t, path: /hooks, emit: true}\n",
			 "lies under hooks.urlprefix"));
}

TEST(test_hooks_config_trigger_paths_beside_the_prefix)
{
	struct buf errs;
	struct config *c = load("hooks:\n  files: [a]\ntriggers:\n  - {id: t, path: /hooksx/t, emit: true}\n", &errs);
	CHECK(c != NULL);
	config_free(c);
	buf_free(&errs);
}

int main(void)
{
	RUN(test_hooks_config_off_by_default);
	RUN(test_hooks_config_files_and_prefix);
	RUN(test_hooks_config_errors_have_file_and_line);
	RUN(test_hooks_config_trigger_paths_beside_the_prefix);
	return unit_done();
}
