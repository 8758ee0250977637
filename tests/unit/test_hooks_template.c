/* hooks_template: webhook's -template subset; what it cannot expand is a
 * FILE:LINE error, never half an expansion. */
#include "unit.h"

#include "edgehook/hooks_template.h"

#include <stdlib.h>

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

int main(void)
{
	RUN(literals_functions_pipes_and_trim);
	RUN(unsupported_is_an_error_naming_the_line);
	return unit_done();
}
