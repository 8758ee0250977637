/* form: application/x-www-form-urlencoded bodies to JSON and lookups. */
#include "unit.h"

#include "edgehook/buf.h"
#include "edgehook/form.h"

TEST(form_decoding)
{
	static const char body[] = "token=xyz&text=&command=%2Fwebhook-collect&user+name=road+runner&flag";
	struct buf b;
	char out[64];
	buf_init(&b, 1024);
	CHECK_EQ_INT(form_to_json(&b, body, sizeof(body) - 1), 0);
	buf_append(&b, "", 1);
	CHECK_STR(b.data, "{\"token\":\"xyz\",\"text\":\"\",\"command\":\"/webhook-collect\",\"user name\":\"road runner\",\"flag\":\"\"}");
	CHECK_EQ_INT(form_get(body, sizeof(body) - 1, "command", out, sizeof(out)), 16);
	CHECK_STR(out, "/webhook-collect");
	CHECK_EQ_INT(form_get(body, sizeof(body) - 1, "missing", out, sizeof(out)), -1);
	b.len = 0;
	CHECK_EQ_INT(form_to_json(&b, "a=%zz", 5), -1);
	b.len = 0;
	CHECK_EQ_INT(form_to_json(&b, "a=%4", 4), -1);
	buf_free(&b);
}

int main(void)
{
	RUN(form_decoding);
	return unit_done();
}
