/* payload_xml: XML bodies to the JSON of webhook's payload map. Expected
 * outputs were checked against webhook 2.8.0 (keys here are in document
 * order; webhook's JSON sorts them, as hook_json_marshal does later). */
#include "unit.h"

#include "edgehook/payload_xml.h"

#include <stdlib.h>

/* out as a C string, or "ERR:" + the reader's message */
static const char *conv(const char *xml, size_t len, int *rc)
{
	static char res[4096];
	struct buf out;
	char why[256];
	buf_init(&out, 1 << 20);
	*rc = xml_to_json(&out, xml, len, why, sizeof(why));
	if (*rc == 0)
		snprintf(res, sizeof(res), "%.*s", (int)out.len, out.data);
	else
		snprintf(res, sizeof(res), "ERR:%s", why);
	buf_free(&out);
	return res;
}

static const struct {
	const char *xml, *json;
} ok_table[] = {
	{"<a><b>1</b><b id=\"2\">two</b><c/></a>", "{\"a\":{\"b\":[\"1\",{\"-id\":\"2\",\"#text\":\"two\"}],\"c\":\"\"}}"},
	{"<a x=\"1\">  text  </a>", "{\"a\":{\"-x\":\"1\",\"#text\":\"text\"}}"},
	{"<a>t1<b/>t2</a>", "{\"a\":\"t1\"}"},
	{"<a><b/>t</a>", "{\"a\":{\"b\":\"\",\"#text\":\"t\"}}"},
	{"<a>x<!--c-->y</a>", "{\"a\":\"y\"}"},
	{"<a>&lt;&amp;&#65;&#x42;&quot;</a>", "{\"a\":\"<&AB\\\"\"}"},
	{"<a>&#xD800;</a>", "{\"a\":\"\xef\xbf\xbd\"}"},
	{"<x:a xmlns:x=\"u\" x:at=\"1\"><x:b>1</x:b></x:a>", "{\"a\":{\"-x\":\"u\",\"-at\":\"1\",\"b\":\"1\"}}"},
	{"<a:b:c>1</a:b:c>", "{\"a:b:c\":\"1\"}"},
	{"<a b=\"1\" b=\"2\"/>", "{\"a\":{\"-b\":\"2\"}}"},
	{"<a><b>1</b><c>2</c><b>3</b></a>", "{\"a\":{\"b\":[\"1\",\"3\"],\"c\":\"2\"}}"},
	{"<a><p:-x/></a>", "{\"a\":{\"-x\":\"\"}}"},
	{"<a -x=\"\"/>", NULL},
	{"<a y=\"1\"><p:-y>2</p:-y></a>", "{\"a\":{\"-y\":[\"1\",\"2\"]}}"},
	{"<a>l1\r\nl2\rl3</a>", "{\"a\":\"l1\\nl2\\nl3\"}"},
	{"<!DOCTYPE a [<!ENTITY e \"x\"> <!-- > -->]><a>1</a><junk", "{\"a\":\"1\"}"},
	{"\xef\xbb\xbf text <?pi x?><a><![CDATA[ <&> ]]></a>", "{\"a\":\"<&>\"}"},
	{"<?xml version='1.0' encoding='utf-8'?><a/>", "{\"a\":\"\"}"},
};

TEST(well_formed_documents_become_webhooks_map)
{
	size_t i;
	int rc;
	for (i = 0; i < sizeof(ok_table) / sizeof(ok_table[0]); i++) {
		const char *got = conv(ok_table[i].xml, strlen(ok_table[i].xml), &rc);
		if (ok_table[i].json)
			CHECK_STR(got, ok_table[i].json);
		else
			CHECK_EQ_INT(rc, -1);
	}
}

static const char *const bad_table[] = {
	"<a>&foo;</a>", "<a><b></a>", "<a>", "plain", "", "<a><!-- -- --></a>", "<a>]]></a>", "<a>&#0;</a>",
	"<?xml version=\"1.0\" encoding=\"latin1\"?><a/>", "<?xml version=\"1.1\"?><a/>", "<a x=1/>", "<a b=\"<\"/>",
	"<1a/>", "<a>\x01</a>", "<a>\xff</a>", "</a>", "<a>&amp</a>", "<a/ >", "<a><![CDATA[x</a>", "<!DOCTYPE a",
	"<a x=\"1></a>", "<a>&#x110000;</a>",
};

TEST(malformed_documents_are_errors_with_a_message)
{
	size_t i;
	int rc;
	for (i = 0; i < sizeof(bad_table) / sizeof(bad_table[0]); i++) {
		const char *got = conv(bad_table[i], strlen(bad_table[i]), &rc);
		CHECK_EQ_INT(rc, -1);
		CHECK(strncmp(got, "ERR:", 4) == 0 && got[4]);
	}
	CHECK_STR(conv("<a>\n<b>&bad;</b></a>", 19, &rc), "ERR:XML syntax error on line 2: invalid character entity &bad;");
	CHECK_STR(conv(" ", 1, &rc), "ERR:EOF");
}

/* nesting is capped (the JSON nests twice as deep); siblings and
 * attributes in the thousands stay linear (hashed keys) */
TEST(hostile_documents_are_bounded)
{
	size_t n = 200000, i;
	char *x = malloc(8 * n + 64), *p;
	struct buf out;
	char why[256];
	int rc;
	for (p = x, i = 0; i < XML_MAX_DEPTH + 1; i++)
		p += sprintf(p, "<a>");
	buf_init(&out, 64 << 20);
	rc = xml_to_json(&out, x, (size_t)(p - x), why, sizeof(why));
	CHECK_EQ_INT(rc, -2);
	CHECK(strstr(why, "nested too deep") != NULL);
	for (p = x, i = 0; i < XML_MAX_DEPTH; i++)
		p += sprintf(p, "<a>");
	for (i = 0; i < XML_MAX_DEPTH; i++)
		p += sprintf(p, "</a>");
	out.len = 0;
	CHECK_EQ_INT(xml_to_json(&out, x, (size_t)(p - x), why, sizeof(why)), 0);
	p = x + sprintf(x, "<r>");
	for (i = 0; i < n / 8; i++)
		p += sprintf(p, "<n%zu/>", i);
	p += sprintf(p, "</r>");
	out.len = 0;
	CHECK_EQ_INT(xml_to_json(&out, x, (size_t)(p - x), why, sizeof(why)), 0);
	CHECK(out.len > n / 8 * 6);
	buf_free(&out);
	buf_init(&out, 64);
	CHECK_EQ_INT(xml_to_json(&out, x, (size_t)(p - x), why, sizeof(why)), -2);
	buf_free(&out);
	free(x);
}

int main(void)
{
	RUN(well_formed_documents_become_webhooks_map);
	RUN(malformed_documents_are_errors_with_a_message);
	RUN(hostile_documents_are_bounded);
	return unit_done();
}
