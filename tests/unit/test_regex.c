/* regex: a table of patterns with expected matches (Go regexp's answers
 * for MatchString), the syntax errors, and cost by count. */
#include "unit.h"

#include "edgehook/regex.h"

#include <stdlib.h>

struct row {
	const char *pattern, *input;
	int match;
};

static const struct row rows[] = {
	{"abc", "xxabcxx", 1}, {"abc", "abx", 0}, {"", "", 1}, {"", "x", 1},
	{"a.c", "abc", 1}, {"a.c", "a\nc", 0}, {"(?s)a.c", "a\nc", 1}, {"^.$", "\xc3\xa9", 1},
	{"^..$", "\xc3\xa9", 0}, {"^abc$", "abc", 1}, {"^abc$", "abc\n", 0}, {"^abc", "xabc", 0},
	{"abc$", "abcx", 0}, {"(?m)^b$", "a\nb\nc", 1}, {"^b$", "a\nb\nc", 0}, {"\\Aab\\z", "ab", 1},
	{"[abc]+$", "xxcab", 1}, {"^[abc]+$", "xxcab", 0}, {"[^abc]", "abc", 0}, {"[^abc]", "abcd", 1},
	{"[^a]", "\n", 1}, {"[a-z0-9]", "-Q-", 0}, {"[a-z0-9]", "-7-", 1}, {"[]a]", "]", 1},
	{"[-a]", "-", 1}, {"[a-]", "-", 1}, {"[\\]]", "]", 1}, {"[\\d.]", ".", 1},
	{"\\d+", "abc123", 1}, {"^\\d+$", "12a", 0}, {"\\D", "123", 0}, {"\\w+", "  _ ", 1},
	{"\\W", "ab_9", 0}, {"\\s", "a\tb", 1}, {"\\s", "a\vb", 0}, {"\\S", " \t\n", 0},
	{"[[:alpha:]]+", "123", 0}, {"[[:alpha:]]", "12b", 1}, {"[[:^digit:]]", "123", 0}, {"[[:xdigit:]]", "g", 0},
	{"a|b|c", "c", 1}, {"a|b|c", "d", 0}, {"^(foo|bar)$", "bar", 1}, {"^(foo|bar)$", "foobar", 0},
	{"^(?:ab)+$", "ababab", 1}, {"^(?:ab)+$", "ababa", 0}, {"^a*$", "", 1}, {"^a+$", "", 0},
	{"^a?b$", "b", 1}, {"^a?b$", "aab", 0}, {"^a{3}$", "aaa", 1}, {"^a{3}$", "aa", 0},
	{"^a{2,}$", "aaaaa", 1}, {"^a{2,}$", "a", 0}, {"^a{2,3}$", "aaaa", 0}, {"^a{2,3}$", "aaa", 1},
	{"^a{0,2}b$", "b", 1}, {"^a*?b$", "aaab", 1}, {"^a+?$", "aa", 1}, {"^a??b$", "ab", 1},
	{"^a{1,2}?$", "aa", 1}, {"a{", "a{", 1}, {"a{x}", "a{x}", 1}, {"a{1,x}", "a{1,x}", 1},
	{"(?i)hello", "HeLLo", 1}, {"hello", "HeLLo", 0}, {"(?i)[a-c]+$", "xAbC", 1}, {"(?i:a)b", "Ab", 1},
	{"(?i:a)b", "AB", 0}, {"a(?i)b", "aB", 1}, {"(a(?i)b)c", "aBC", 0}, {"(?i)K", "k", 1},
	{"\\bfoo\\b", "a foo b", 1}, {"\\bfoo\\b", "afoo", 0}, {"\\Bfoo", "afoo", 1}, {"x\\b", "x", 1},
	{"\\.", "a", 0}, {"\\.", ".", 1}, {"\\x41", "A", 1}, {"\\x{263a}", "\xe2\x98\xba", 1},
	{"\\t", "\t", 1}, {"\\012", "\n", 1}, {"\\0", "", 0}, {"(?P<name>ab)c", "abc", 1},
	{"(?<n>x)", "x", 1}, {"(a*)*$", "aaaa", 1}, {"(a|)+b", "aab", 1}, {"(|a)*$", "b", 1},
	{"refs/heads/(master|main)", "refs/heads/main", 1}, {"^refs/tags/v[0-9]+\\.[0-9]+", "refs/tags/v1.22", 1},
	{"^[\\x{4e00}-\\x{9fff}]+$", "\xe4\xb8\xad\xe6\x96\x87", 1}, {"\xc3\xa9", "caf\xc3\xa9", 1},
	{"^.$", "\xff", 1}, {"^\\x{fffd}$", "\xff", 1}, {"^(?U)a+$", "aaa", 1}, {"a(?-i)b", "ab", 1},
	{"(?i)a(?-i)b", "Ab", 1}, {"(?i)a(?-i)b", "AB", 0}, {"[^\\n]", "\n", 0}, {"^[\\s\\S]$", "\n", 1},
};

TEST(test_regex_table_matches_go)
{
	size_t i;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct regex *re;
		struct buf err;
		buf_init(&err, 4096);
		if (regex_compile(&re, rows[i].pattern, &err) < 0) {
			fprintf(stderr, "pattern %s: %s\n", rows[i].pattern, unit_errors(&err));
			buf_free(&err);
			CHECK(0);
			continue;
		}
		buf_free(&err);
		if (regex_search(re, rows[i].input, strlen(rows[i].input)) != rows[i].match) {
			fprintf(stderr, "pattern %s on \"%s\": expected %d\n", rows[i].pattern, rows[i].input,
				rows[i].match);
			CHECK(0);
		}
		regex_free(re);
	}
}

TEST(test_regex_nul_in_input)
{
	struct regex *re;
	struct buf err;
	buf_init(&err, 4096);
	CHECK(regex_compile(&re, "a\\x00b", &err) == 0);
	buf_free(&err);
	CHECK_EQ_INT(regex_search(re, "xa\0b", 4), 1);
	CHECK_EQ_INT(regex_search(re, "xa\0c", 4), 0);
	regex_free(re);
}

struct bad {
	const char *pattern, *message;
};

static const struct bad bad_rows[] = {
	{"(", "missing closing )"}, {"a)", "unexpected )"}, {"[a", "missing closing ]"},
	{"*a", "missing argument to repetition operator"}, {"a**", "invalid nested repetition operator"},
	{"a{2}{3}", "invalid nested repetition operator"}, {"(?i)*", "missing argument"},
	{"a{1001}", "invalid repeat count"}, {"a{3,2}", "invalid repeat count"}, {"(?=a)", "Perl syntax"},
	{"(?!a)", "Perl syntax"}, {"(?<=a)", "invalid named capture"}, {"(a)\\1", "backreferences"},
	{"\\p{Greek}", "Unicode classes"}, {"\\Z", "invalid escape"}, {"\\q", "invalid escape"},
	{"a\\", "trailing backslash"}, {"[z-a]", "invalid character class range"},
	{"[[:foo:]]", "invalid character class range"}, {"\xff", "invalid UTF-8"}, {"{2}", "missing argument"},
	{"(?x)", "Perl syntax"}, {"\\x{110000}", "invalid escape"},
	{"((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))",
	 "nests too deeply"},
	{"(((a{100}){100}){100})", "too large"}, {"((((){1000}){1000}){1000})", "too large"},
};

TEST(test_regex_unsupported_syntax_is_an_error)
{
	size_t i;
	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		struct regex *re = NULL;
		struct buf err;
		buf_init(&err, 4096);
		if (regex_compile(&re, bad_rows[i].pattern, &err) == 0) {
			fprintf(stderr, "pattern %s compiled\n", bad_rows[i].pattern);
			regex_free(re);
			CHECK(0);
		} else if (!strstr(unit_errors(&err), bad_rows[i].message)) {
			fprintf(stderr, "pattern %s: \"%s\", expected \"%s\"\n", bad_rows[i].pattern,
				unit_errors(&err), bad_rows[i].message);
			CHECK(0);
		}
		buf_free(&err);
	}
}

static unsigned long steps_for(struct regex *re, const char *unit, size_t n, const char *tail)
{
	size_t ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(n * ul + tl + 1);
	unsigned long steps;
	for (i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + n * ul, tail, tl);
	CHECK_EQ_INT(regex_search(re, s, n * ul + tl), 0);
	steps = regex_last_steps(re);
	free(s);
	return steps;
}

/* Patterns that make backtracking engines exponential or quadratic:
 * the work for 2n bytes stays within 2.1x the work for n bytes, and the
 * third n costs no more than the second (a quadratic cost would make it
 * 5/3 of it). */
TEST(test_regex_cost_is_linear_in_input)
{
	static const struct {
		const char *pattern, *unit, *tail;
	} cases[] = {
		{"^(a+)+$", "a", "b"}, {"(a|a)*c", "a", "b"}, {"(x+x+)+y", "x", ""},
		{"^(a|aa)*$", "a", "b"}, {"(.*a){20}c", "a", "b"}, {"a{0,1000}b", "a", ""},
	};
	size_t i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct regex *re;
		struct buf err;
		unsigned long s1, s2, s3;
		buf_init(&err, 4096);
		CHECK(regex_compile(&re, cases[i].pattern, &err) == 0);
		buf_free(&err);
		if (!re)
			continue;
		s1 = steps_for(re, cases[i].unit, 10000, cases[i].tail);
		s2 = steps_for(re, cases[i].unit, 20000, cases[i].tail);
		s3 = steps_for(re, cases[i].unit, 30000, cases[i].tail);
		if (s2 * 10 > s1 * 21 || (s3 - s2) * 10 > (s2 - s1) * 11) {
			fprintf(stderr, "%s: %lu, %lu, %lu steps for n, 2n, 3n\n", cases[i].pattern, s1, s2, s3);
			CHECK(0);
		}
		/* each rune visits each instruction at most twice (list walk + add) */
		CHECK(s3 <= 2 * (30000 * strlen(cases[i].unit) + 2) * (regex_program_size(re) + 1));
		regex_free(re);
	}
}

TEST(test_regex_program_size_is_bounded)
{
	struct regex *re = NULL;
	struct buf err;
	buf_init(&err, 4096);
	CHECK(regex_compile(&re, "a{1000}", &err) == 0);
	CHECK(re && regex_program_size(re) <= REGEX_MAX_INSTS);
	regex_free(re);
	CHECK(regex_compile(&re, "[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}"
				 "[a-z]{1000}[a-z]{1000}",
			    &err) < 0);
	CHECK(strstr(unit_errors(&err), "too large") != NULL);
	buf_free(&err);
}

int main(void)
{
	RUN(test_regex_table_matches_go);
	RUN(test_regex_nul_in_input);
	RUN(test_regex_unsupported_syntax_is_an_error);
	RUN(test_regex_cost_is_linear_in_input);
	RUN(test_regex_program_size_is_bounded);
	return unit_done();
}
