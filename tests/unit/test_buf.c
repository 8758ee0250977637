/* buf: bounded appends and the sticky failed flag. */
#include "unit.h"

#include "edgehook/buf.h"

/* issue 21 #5: a failed append is recorded, so a renderer checks once */
TEST(buf_records_failed_append)
{
	struct buf b;
	buf_init(&b, 8);
	CHECK_EQ_INT(b.failed, 0);
	CHECK_EQ_INT(buf_puts(&b, "abc"), 0);
	CHECK_EQ_INT(buf_puts(&b, "too long"), -1);
	CHECK_EQ_INT(buf_puts(&b, "d"), 0);
	CHECK_EQ_INT(b.failed, 1);
	buf_free(&b);
	buf_init(&b, 8);
	CHECK_EQ_INT(b.failed, 0);
	buf_free(&b);
}

TEST(buf_bounds)
{
	struct buf b;
	buf_init(&b, 10);
	CHECK_EQ_INT(buf_append(&b, "0123456789", 10), 0);
	CHECK_EQ_INT(buf_append(&b, "x", 1), -1);
	CHECK_EQ_INT(b.len, 10);
	buf_consume(&b, 4);
	CHECK(b.len == 6 && memcmp(b.data, "456789", 6) == 0);
	CHECK_EQ_INT(buf_printf(&b, "%s", "abcd"), 0);
	CHECK_EQ_INT(buf_printf(&b, "%s", "z"), -1);
	buf_free(&b);
}

int main(void)
{
	RUN(buf_bounds);
	RUN(buf_records_failed_append);
	return unit_done();
}
