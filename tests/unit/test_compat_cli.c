/* compat_cli: webhook's flags under Go's flag package rules. */
#include "unit.h"

#include "edgehook/compat.h"

static int parse(struct compat_opts *o, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	for (; args[argc]; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	return compat_parse_args(argc, argv, o);
}

TEST(test_compat_cli_go_flag_forms)
{
	struct compat_opts o;
	static const char *const a[] = {"webhook", "-hooks", "a.json", "--hooks=b.yaml", "-port=9001", "-verbose",
		"-hotreload=false", "-urlprefix", "", "-header", "x-a=1", "--header", "x-b=2", "-nopanic=true",
		"-http-methods", "post,put", "stop-here", "-debug", NULL};
	CHECK_EQ_INT(parse(&o, a), 0);
	CHECK_EQ_INT(o.nhooks, 2);
	CHECK_STR(o.hooks[1], "b.yaml");
	CHECK_EQ_INT(o.port, 9001);
	CHECK(o.verbose && !o.hotreload && o.nopanic && !o.debug);
	CHECK_STR(o.urlprefix, "");
	CHECK_EQ_INT(o.nheaders, 2);
	CHECK_STR(o.methods, "post,put");
	CHECK_STR(o.ip, "0.0.0.0");
}

TEST(test_compat_cli_defaults_and_errors)
{
	struct compat_opts o;
	static const char *const none[] = {"webhook", NULL};
	static const char *const unknown[] = {"webhook", "-nope", NULL};
	static const char *const missing[] = {"webhook", "-port", NULL};
	static const char *const badint[] = {"webhook", "-port", "x", NULL};
	static const char *const badbool[] = {"webhook", "-verbose=maybe", NULL};
	CHECK_EQ_INT(parse(&o, none), 0);
	CHECK_EQ_INT(o.nhooks, 1);
	CHECK_STR(o.hooks[0], "hooks.json");
	CHECK_STR(o.urlprefix, "hooks");
	CHECK_EQ_INT(o.port, 9000);
	CHECK_EQ_INT(o.multipart_mem, 1 << 20);
	CHECK_EQ_INT(parse(&o, unknown), -1);
	CHECK_EQ_INT(parse(&o, missing), -1);
	CHECK_EQ_INT(parse(&o, badint), -1);
	CHECK_EQ_INT(parse(&o, badbool), -1);
}

TEST(test_compat_cli_invocation_names)
{
	static const char *const a[] = {"/usr/local/bin/webhook", "-port", "1", NULL};
	static const char *const b[] = {"edgehook", "webhook", "-port", "1", NULL};
	static const char *const c[] = {"edgehook", "-c", "x.yaml", NULL};
	int skip;
	CHECK(compat_wanted(3, (char **)a, &skip) && skip == 0);
	CHECK(compat_wanted(4, (char **)b, &skip) && skip == 1);
	CHECK(!compat_wanted(3, (char **)c, &skip));
}

int main(void)
{
	RUN(test_compat_cli_go_flag_forms);
	RUN(test_compat_cli_defaults_and_errors);
	RUN(test_compat_cli_invocation_names);
	return unit_done();
}
