/* yaml: what real hooks files contain (issue 15 item 7): multi-line flow
 * collections, trailing commas, one-pair maps inside flow sequences, tabs
 * where YAML 1.1 takes them, block scalars, anchors and aliases with a
 * bounded expansion; errors keep their LINE. */
#include "unit.h"

#include <stdlib.h>

#include "edgehook/buf.h"
#include "edgehook/yaml.h"

/* The document as compact JSON, or "ERR LINE: message". */
static const char *parse(const char *text)
{
	static char out[4096];
	struct arena a;
	struct node *root;
	struct buf b, err;
	arena_init(&a);
	buf_init(&b, sizeof(out) - 1);
	buf_init(&err, 1024);
	if (yaml_parse(&a, text, strlen(text), &root, &err) < 0)
		snprintf(out, sizeof(out), "ERR %.*s", (int)err.len, err.data ? err.data : "");
	else if (tree_to_json(&b, root) < 0)
		snprintf(out, sizeof(out), "ERR render");
	else
		snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
	buf_free(&b);
	buf_free(&err);
	arena_free(&a);
	return out;
}

TEST(yaml_multi_line_flow_collections_with_trailing_commas)
{
	CHECK_STR(parse("hooks: [\n  {id: a,\n   cmd: \"x\"},  # one\n\n  {id: b},\n]\n"),
		  "{\"hooks\":[{\"id\":\"a\",\"cmd\":\"x\"},{\"id\":\"b\"}]}");
	CHECK_STR(parse("[\n {\"id\": \"a\", \"m\": [1, 2,],},\n]\n"), "[{\"id\":\"a\",\"m\":[1,2]}]");
	CHECK_STR(parse("k: [a, b,]\n"), "{\"k\":[\"a\",\"b\"]}");
	CHECK_STR(parse("k: [\n  a\n]\nnext: 1\n"), "{\"k\":[\"a\"],\"next\":1}");
}

TEST(yaml_one_pair_map_inside_flow_sequence)
{
	CHECK_STR(parse("r: {\"and\": [ \"or\": [a, b], {\"match\": 1} ]}\n"),
		  "{\"r\":{\"and\":[{\"or\":[\"a\",\"b\"]},{\"match\":1}]}}");
	CHECK_STR(parse("s: [k: v, url: http://x/y]\n"), "{\"s\":[{\"k\":\"v\"},{\"url\":\"http://x/y\"}]}");
}

TEST(yaml_tabs_where_yaml_1_1_takes_them)
{
	CHECK_STR(parse("k: [\n\t{id: a},\n\t\"b\"\n]\n"), "{\"k\":[{\"id\":\"a\"},\"b\"]}");
	CHECK_STR(parse("k:\tv\n"), "{\"k\":\"v\"}");
	CHECK_STR(parse("a:\n\tb: 1\n"), "ERR 2: tab in indentation");
}

TEST(yaml_block_scalars_and_chomping)
{
	CHECK_STR(parse("c: |\n  line 1\n    more # kept\n\n  line 3\n\nn: 1\n"),
		  "{\"c\":\"line 1\\n  more # kept\\n\\nline 3\\n\",\"n\":1}");
	CHECK_STR(parse("c: |-\n  a\n  b\n\n"), "{\"c\":\"a\\nb\"}");
	CHECK_STR(parse("c: |+\n  a\n\n\nd: 1\n"), "{\"c\":\"a\\n\\n\\n\",\"d\":1}");
	CHECK_STR(parse("c: >\n  one\n  two\n\n  three\n    indented\n  four\n"),
		  "{\"c\":\"one two\\nthree\\n  indented\\nfour\\n\"}");
	CHECK_STR(parse("c: >-\n  a\n  b\n"), "{\"c\":\"a b\"}");
	CHECK_STR(parse("- |2\n    x\n- y\n"), "[\"  x\\n\",\"y\"]");
	CHECK_STR(parse("c: |\n  true\n"), "{\"c\":\"true\\n\"}");
	CHECK_STR(parse("c: |x\n  a\n"), "ERR 1: bad block scalar header");
}

TEST(yaml_anchors_and_aliases)
{
	CHECK_STR(parse("base: &r\n  match: {type: value}\nuse: *r\nlist: [&v 1, *v]\n- x\n"),
		  "ERR 5: unexpected content at this indentation");
	CHECK_STR(parse("base: &r\n  match: {type: value}\nuse: *r\nlist: [&v 1, *v]\n"),
		  "{\"base\":{\"match\":{\"type\":\"value\"}},\"use\":{\"match\":{\"type\":\"value\"}},\"list\":[1,1]}");
	CHECK_STR(parse("- &h\n  id: a\n- *h\n"), "[{\"id\":\"a\"},{\"id\":\"a\"}]");
	CHECK_STR(parse("a: *nope\n"), "ERR 1: unknown alias \"*nope\"");
	CHECK_STR(parse("a: !!str x\n"), "ERR 1: tags are not supported");
	CHECK_STR(parse("b: &b {k: 1}\nc:\n  <<: *b\n"), "ERR 3: merge keys (<<) are not supported");
	CHECK_STR(parse("b: &b {k: 1}\nc: {<<: *b}\n"), "ERR 2: merge keys (<<) are not supported");
	CHECK_STR(parse("c: {\"<<\": 1}\n"), "{\"c\":{\"<<\":1}}");
}

TEST(yaml_billion_laughs_is_refused)
{
	static char doc[2048];
	size_t off = 0;
	int k;
	off += (size_t)snprintf(doc + off, sizeof(doc) - off, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (k = 1; k < 10; k++)
		off += (size_t)snprintf(doc + off, sizeof(doc) - off,
					"a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", k, k,
					k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1);
	CHECK(strstr(parse(doc), "aliases expand to more than") != NULL);
}

TEST(yaml_errors_keep_their_line)
{
	CHECK_STR(parse("k: [\n  a,\n  b\n  c\n]\n"), "ERR 4: expected ',' or ']'");
	CHECK_STR(parse("k: [\n  a,\n"), "ERR 1: flow collection not closed at end of file");
	CHECK_STR(parse("k: {\n  a: 1,\n  a: 2}\n"), "ERR 3: duplicate key \"a\"");
	CHECK_STR(parse("k: \"\\u00e9\\ud83d\\ude00\"\n"), "{\"k\":\"\xc3\xa9\xf0\x9f\x98\x80\"}");
	CHECK_STR(parse("k: \"\\ud800\"\n"), "ERR 1: bad \\u escape in double-quoted string");
}

int main(void)
{
	RUN(yaml_multi_line_flow_collections_with_trailing_commas);
	RUN(yaml_one_pair_map_inside_flow_sequence);
	RUN(yaml_tabs_where_yaml_1_1_takes_them);
	RUN(yaml_block_scalars_and_chomping);
	RUN(yaml_anchors_and_aliases);
	RUN(yaml_billion_laughs_is_refused);
	RUN(yaml_errors_keep_their_line);
	return unit_done();
}
