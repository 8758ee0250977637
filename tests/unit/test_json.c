/* JSON: strict validation, lookups, unescaping, the writer, compaction. */
#include "unit.h"

#include "edgehook/event.h"
#include "edgehook/json.h"

static int valid(const char *s) { return json_validate(s, strlen(s), 32, NULL) == 0; }

TEST(validator_accepts)
{
	static const char *ok[] = {"{}", "[]", "0", "-1.5e+10", "\"\\u00e9\\n\"", "true", "null",
		" {\"a\": [1, 2, {\"b\": null}], \"c\": \"d\"} ", "[-0, 0.0, 1E2]", "\"caf\xc3\xa9\""};
	size_t i;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (!valid(ok[i]))
			fprintf(stderr, "rejected: %s\n", ok[i]);
		CHECK(valid(ok[i]));
	}
}

TEST(validator_rejects)
{
	static const char *bad[] = {"", "{", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}", "{a:1}", "tru",
		"nul", "01", "1.", ".5", "-", "\"\x01\"", "\"\\x\"", "\"\\u12\"", "{} {}", "[1]]", "'a'",
		"NaN", "{\"a\":}", "\"unterminated", "+1"};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (valid(bad[i]))
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(!valid(bad[i]));
	}
}

TEST(depth_limit)
{
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	CHECK(json_validate(deep, 200, 32, NULL) < 0);
	CHECK(json_validate(deep + 80, 40, 32, NULL) == 0);
}

TEST(lookups)
{
	static const char text[] = "{\"repository\": {\"full_name\": \"o/r\", \"tags\": [\"a\", {\"x\": 5}]},"
				   " \"esc\": \"l\\u00e9\\\"q\", \"n\": 42}";
	struct json_doc doc;
	char out[64];
	int t;
	CHECK_EQ_INT(json_parse(&doc, text, sizeof(text) - 1, 32), 0);
	t = json_path(&doc, "repository.full_name");
	CHECK(t > 0 && json_tok_copy(&doc, t, out, sizeof(out)) == 3 && strcmp(out, "o/r") == 0);
	t = json_path(&doc, "repository.tags.1.x");
	CHECK(t > 0 && json_tok_copy(&doc, t, out, sizeof(out)) == 1 && strcmp(out, "5") == 0);
	CHECK_EQ_INT(json_path(&doc, "repository.tags.2"), -1);
	CHECK_EQ_INT(json_path(&doc, "nope"), -1);
	t = json_get(&doc, 0, "esc");
	CHECK(t > 0 && json_tok_copy(&doc, t, out, sizeof(out)) > 0 && strcmp(out, "l\xc3\xa9\"q") == 0);
	CHECK(json_get(&doc, 0, "n") > 0);
	CHECK(json_tok_copy(&doc, json_get(&doc, 0, "esc"), out, 3) == -1);
	json_doc_free(&doc);
	CHECK_EQ_INT(json_parse(&doc, "{\"a\":1,}", 8, 32), -1);
}

TEST(large_documents_use_heap_tokens)
{
	char text[4096];
	struct json_doc doc;
	size_t n = 0;
	int i, t;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"items\":[");
	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i ? "," : "", i);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "],\"last\":\"x\"}");
	CHECK_EQ_INT(json_parse(&doc, text, n, 8), 0);
	CHECK_EQ_INT(doc.ntoks, 305);
	CHECK(doc.toks != doc.inline_toks);
	t = json_path(&doc, "items.299");
	CHECK(t > 0 && doc.text[doc.toks[t].start] == '2');
	CHECK(json_tok_eq(&doc, json_get(&doc, 0, "last"), "x"));
	json_doc_free(&doc);
	CHECK_EQ_INT(json_parse(&doc, "[1,2]", 5, 8), 0);
	CHECK(doc.toks == doc.inline_toks);
	json_doc_free(&doc);
}

TEST(writer_escapes)
{
	struct buf b;
	buf_init(&b, 256);
	CHECK_EQ_INT(json_put_string(&b, "a\"b\\c\n\x01", 7), 0);
	CHECK_EQ_INT(b.len, strlen("\"a\\\"b\\\\c\\n\\u0001\""));
	CHECK(memcmp(b.data, "\"a\\\"b\\\\c\\n\\u0001\"", b.len) == 0);
	CHECK(valid(buf_append(&b, "", 1) == 0 ? b.data : ""));
	buf_free(&b);
	buf_init(&b, 4);
	CHECK_EQ_INT(json_put_cstr(&b, "too long"), -1);
	buf_free(&b);
}

/* issue 21 #2, issue 19 #3: duplicate keys at any depth are refused;
 * keys compare by their full unescaped bytes, NUL included */
TEST(duplicate_keys_refused_and_keys_compare_full_length)
{
	static const char nul_key[] = "{\"event\\u0000\":\"public.ping\",\"event\":\"admin.delete_all\"}";
	static const char ref[] = "{\"ref\\u0000x\":\"--upload-pack=evil\",\"ref2\":1}";
	struct json_doc doc;
	char out[64], longkey[600], want[500];
	size_t off = 0;
	int t;
	CHECK_EQ_INT(json_validate("{\"event\":\"a\",\"event\":\"b\"}", 25, 32, &off), -2);
	CHECK_EQ_INT(off, 13);
	CHECK_EQ_INT(json_validate("{\"a\":[{\"x\":1,\"y\":{\"r\":1,\"\\u0072\":2}}]}", 37, 32, NULL), -2);
	CHECK_EQ_INT(json_validate("[{\"x\":1},{\"x\":2},{\"a\":{\"x\":3}}]", 31, 32, NULL), 0);
	CHECK_EQ_INT(json_parse(&doc, "{\"k\":1,\"k\":1}", 13, 32), -2);
	CHECK_EQ_INT(json_parse(&doc, nul_key, sizeof(nul_key) - 1, 32), 0);
	t = json_get(&doc, 0, "event");
	CHECK(t > 0 && json_tok_copy(&doc, t, out, sizeof(out)) > 0 && strcmp(out, "admin.delete_all") == 0);
	json_doc_free(&doc);
	CHECK_EQ_INT(json_parse(&doc, ref, sizeof(ref) - 1, 32), 0);
	CHECK_EQ_INT(json_get(&doc, 0, "ref"), -1);
	CHECK_EQ_INT(json_path(&doc, "ref"), -1);
	json_doc_free(&doc);
	/* keys longer than any scratch buffer still compare exactly */
	memset(longkey, 'k', sizeof(longkey));
	memcpy(longkey, "{\"", 2);
	memcpy(longkey + 500, "\\u006b\":7}", 10);
	CHECK_EQ_INT(json_parse(&doc, longkey, 510, 32), 0);
	memset(want, 'k', sizeof(want));
	want[499] = '\0'; /* 498 + the escaped one */
	CHECK(json_get(&doc, 0, want) > 0);
	want[498] = '\0';
	CHECK(json_get(&doc, 0, want) < 0);
	json_doc_free(&doc);
}

/* issue 21 #6: strings are UTF-8 */
TEST(validator_rejects_invalid_utf8)
{
	static const char *bad[] = {"\"\xff\"", "\"caf\xe9\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "{\"k\xe9\":1}", "\"\x80\""};
	size_t i;
	CHECK(valid("\"\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9 \xef\xbf\xbf\""));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (valid(bad[i]))
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(!valid(bad[i]));
	}
}

/* issue 21 #6, issue 19 #12: the writer takes raw bytes, emits UTF-8 */
TEST(writer_replaces_invalid_utf8)
{
	static const char in[] = "a\xe9" "b\xf0\x9f\x98\x80\xff\xe2\x82";
	struct buf b;
	buf_init(&b, 256);
	CHECK_EQ_INT(json_put_string(&b, in, sizeof(in) - 1), 0);
	buf_append(&b, "", 1);
	CHECK_STR(b.data, "\"a\\ufffdb\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd\"");
	CHECK(valid(b.data));
	buf_free(&b);
}

TEST(compact_keeps_strings)
{
	static const char in[] = "{\n  \"a b\": [1, 2],\n  \"c\": \"x \\\" y\"\n}";
	struct buf b;
	buf_init(&b, 256);
	CHECK_EQ_INT(event_json_compact(&b, in, sizeof(in) - 1), 0);
	buf_append(&b, "", 1);
	CHECK_STR(b.data, "{\"a b\":[1,2],\"c\":\"x \\\" y\"}");
	buf_free(&b);
}

TEST(writer_value_or_null)
{
	struct buf b;
	buf_init(&b, 256);
	json_put_cstr_or_null(&b, "a\"b");
	buf_puts(&b, ",");
	json_put_cstr_or_null(&b, "");
	buf_puts(&b, ",");
	json_put_cstr_or_null(&b, NULL);
	buf_puts(&b, ",");
	json_put_int_or_null(&b, 1, -42);
	buf_puts(&b, ",");
	json_put_int_or_null(&b, 0, 7);
	buf_append(&b, "", 1);
	CHECK_STR(b.data, "\"a\\\"b\",null,null,-42,null");
	CHECK(!b.failed);
	buf_free(&b);
}

int main(void)
{
	RUN(validator_accepts);
	RUN(validator_rejects);
	RUN(depth_limit);
	RUN(lookups);
	RUN(large_documents_use_heap_tokens);
	RUN(writer_escapes);
	RUN(compact_keeps_strings);
	RUN(duplicate_keys_refused_and_keys_compare_full_length);
	RUN(validator_rejects_invalid_utf8);
	RUN(writer_replaces_invalid_utf8);
	RUN(writer_value_or_null);
	return unit_done();
}
