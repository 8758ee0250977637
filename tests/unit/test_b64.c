/* b64: encode and decode, bounds and bad input. */
#include "unit.h"

#include "edgehook/b64.h"

TEST(base64_roundtrip)
{
	unsigned char out[64];
	char enc[64];
	CHECK_EQ_INT(b64_encode((const unsigned char *)"hello", 5, enc, sizeof(enc)), 8);
	CHECK_STR(enc, "aGVsbG8=");
	CHECK_EQ_INT(b64_decode("aGVsbG8=", 8, out, sizeof(out)), 5);
	CHECK(memcmp(out, "hello", 5) == 0);
	CHECK_EQ_INT(b64_decode("aGVsbG8", 7, out, sizeof(out)), 5);
	CHECK_EQ_INT(b64_decode("a", 1, out, sizeof(out)), -1);
	CHECK_EQ_INT(b64_decode("a$==", 4, out, sizeof(out)), -1);
	CHECK_EQ_INT(b64_decode("aGVsbG8=", 8, out, 3), -1);
	CHECK_EQ_INT(b64_encode((const unsigned char *)"hi", 2, enc, 4), -1);
}

int main(void)
{
	RUN(base64_roundtrip);
	return unit_done();
}
