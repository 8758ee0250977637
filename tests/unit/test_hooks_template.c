/* hooks_template: webhook's -template subset; what it cannot expand is a
 * FILE:LINE error, never half an expansion. */
#include "unit.h"

#include "edgehook/hooks_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *expand(const char *text)
{
	static char res[1024];
	struct buf out, err;
	buf_init(&out, 1 << 20);
	buf_init(&err, 1 << 10);
	if (hooks_template_expand("h.json", text, strlen(text), &out, &err) == 0)
		snprintf(res, sizeof(res), "%.*s", (int)out.len, out.data ? out.data : "");
	else
		snprintf(res, sizeof(res), "ERR:%.*s", (int)err.len, err.data ? err.data : "");
	buf_free(&out);
	buf_free(&err);
	return res;
}

TEST(literals_functions_pipes_and_trim)
{
	setenv("T_UNIT_TPL", "a\"<b>&'", 1);
	unsetenv("T_UNIT_NOPE");
	unsetenv("CREDENTIALS_DIRECTORY");
	CHECK_STR(expand("plain {text}"), "plain {text}");
	CHECK_STR(expand("[{{ getenv \"T_UNIT_TPL\" }}]"), "[a\"<b>&']");
	CHECK_STR(expand("[{{ getenv \"T_UNIT_NOPE\" }}]"), "[]");
	CHECK_STR(expand("{{ getenv \"T_UNIT_TPL\" | js }}"), "a\\\"\\u003Cb\\u003E\\u0026\\'");
	CHECK_STR(expand("{{ getenv \"T_UNIT_TPL\" | html }}"), "a&#34;&lt;b&gt;&amp;&#39;");
	CHECK_STR(expand("{{ credential \"T_UNIT_TPL\" | html }}"), "a&#34;&lt;b&gt;&amp;&#39;");
	CHECK_STR(expand("a \n {{- \"x\" -}} \n b"), "axb");
	CHECK_STR(expand("a {{/* note */}} b {{- /* trimmed */ -}} c"), "a  bc");
	CHECK_STR(expand("{{ `r\\n` }}{{ \"\\x41\\u00e9\\t\" }}"), "r\\nA\xc3\xa9\t");
	CHECK_STR(expand("{{ js \"<\" \"=\" }}"), "\\u003C\\u003D");
	CHECK_STR(expand("{{ \"}}\" }}"), "}}");
	CHECK_STR(expand("{{ cat \"/nonexistent/file\" }}."), ".");
}

TEST(unsupported_is_an_error_naming_the_line)
{
	CHECK_STR(expand("a\n{{ nosuch \"x\" }}"), "ERR:h.json:2: -template: function \"nosuch\" not defined");
	CHECK_STR(expand("\n\n{{ .Foo }}"), "ERR:h.json:3: -template: '.' is not supported (only literals, getenv, cat, "
					   "credential, js and html)");
	CHECK_STR(expand("{{ if \"x\" }}"), "ERR:h.json:1: -template: \"if\" is not supported (only literals, getenv, "
					    "cat, credential, js and html)");
	CHECK_STR(expand("{{ getenv }}"), "ERR:h.json:1: -template: wrong number of args for getenv: want 1 got 0");
	CHECK_STR(expand("{{ getenv \"A\" \"B\" }}"), "ERR:h.json:1: -template: wrong number of args for getenv: want 1 got 2");
	CHECK_STR(expand("{{ \"a\" \"b\" }}"), "ERR:h.json:1: -template: can't give argument to non-function");
	CHECK_STR(expand("{{ \"a\" | \"b\" }}"), "ERR:h.json:1: -template: non executable command in pipeline stage 2");
	CHECK_STR(expand("{{ }}"), "ERR:h.json:1: -template: missing value for command");
	CHECK_STR(expand("{{ getenv \"A\" |  }}"), "ERR:h.json:1: -template: missing command after '|'");
	CHECK_STR(expand("{{ \"open"), "ERR:h.json:1: -template: unterminated quoted string");
	CHECK_STR(expand("{{ \"a\" "), "ERR:h.json:1: -template: unclosed action");
	CHECK_STR(expand("{{/* x */ }}"), "ERR:h.json:1: -template: comment ends before closing delimiter");
	CHECK_STR(expand("{{ \"\\q\" }}"), "ERR:h.json:1: -template: unknown escape sequence in string literal");
	CHECK_STR(expand("{{ getenv HOME }}"), "ERR:h.json:1: -template: function \"HOME\" not defined");
}

/* Expansion runs on the loop thread at every reload: a FIFO named by cat
 * would block it; a credential name is one file in the directory, never
 * a path out of it. */
TEST(cat_reads_regular_files_only_and_credentials_stay_in_their_directory)
{
	char dir[] = "/tmp/edgehook-tpl-XXXXXX", path[256];
	FILE *f;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0);
	snprintf(path, sizeof(path), "{{ cat \"%s/fifo\" }}", dir);
	CHECK(strstr(expand(path), "ERR:h.json:1: -template: cat ") == expand(path));
	CHECK(strstr(expand(path), "not a regular file") != NULL);
	snprintf(path, sizeof(path), "%s/secret", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("s3cret\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/creds", dir);
	CHECK(mkdir(path, 0700) == 0);
	setenv("CREDENTIALS_DIRECTORY", path, 1);
	CHECK_STR(expand("{{ credential \"../secret\" }}"),
		  "ERR:h.json:1: -template: credential \"../secret\": a name, not a path");
	CHECK_STR(expand("{{ credential \"..\" }}"), "ERR:h.json:1: -template: credential \"..\": a name, not a path");
	snprintf(path, sizeof(path), "%s/creds/token", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("tok\n", f);
	fclose(f);
	CHECK_STR(expand("[{{ credential \"token\" }}]"), "[tok]");
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(path);
	snprintf(path, sizeof(path), "%s/creds", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/secret", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	RUN(literals_functions_pipes_and_trim);
	RUN(cat_reads_regular_files_only_and_credentials_stay_in_their_directory);
	RUN(unsupported_is_an_error_naming_the_line);
	return unit_done();
}
