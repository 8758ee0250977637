/* payload_multipart: multipart/form-data to the JSON payload webhook
 * builds (issue 15 item 4): first value per name, JSON file parts, other
 * files left out, Go's value cap (-max-multipart-mem + 10 MiB). */
#include "unit.h"

#include <stdlib.h>

#include "edgehook/payload_multipart.h"

#define CT "multipart/form-data; boundary=BB"

static int forced(void *ctx, const char *name, size_t nlen)
{
	(void)ctx;
	return nlen == 1 && name[0] == 'f';
}

static int run(const char *ctype, const char *body, size_t len, long mem, char *out, size_t cap)
{
	struct buf b;
	int rc;
	buf_init(&b, cap - 1);
	rc = multipart_to_json(&b, ctype, body, len, mem, forced, NULL);
	snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
	buf_free(&b);
	return rc;
}

TEST(multipart_values_files_and_json_parts)
{
	static const char body[] = "preamble\r\n--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n"
				   "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ntwo\r\n"
				   "--BB\r\nContent-Disposition: form-data; name=\"j\"; filename=\"x\"\r\n"
				   "Content-Type: application/json\r\n\r\n{\"k\": [1]}\r\n"
				   "--BB\r\nContent-Disposition: form-data; name=\"f\"; filename=\"y\"\r\n\r\n[1]\r\n"
				   "--BB\r\nContent-Disposition: form-data; name=\"p\"; filename=\"z\"\r\n\r\n{}\r\n"
				   "--BB\r\nContent-Disposition: attachment\r\n\r\nskipped\r\n"
				   "--BB\r\nContent-Disposition: form-data; name=\"j\"\r\n\r\nlosing value\r\n"
				   "--BB--\r\n";
	char out[512];
	CHECK_EQ_INT(run(CT, body, sizeof(body) - 1, 1 << 20, out, sizeof(out)), 0);
	CHECK_STR(out, "{\"j\":{\"k\": [1]},\"f\":null,\"a\":\"one\"}");
	CHECK_EQ_INT(run("multipart/form-data; boundary=\"BB\"", body, sizeof(body) - 1, 0, out, sizeof(out)), 0);
}

TEST(multipart_malformed_bodies_refused)
{
	char out[256];
	CHECK_EQ_INT(run("multipart/form-data", "--BB--\r\n", 8, 0, out, sizeof(out)), -3);
	CHECK_EQ_INT(run(CT, "no delimiter", 12, 0, out, sizeof(out)), -1);
	CHECK_EQ_INT(run(CT, "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx", 51, 0, out, sizeof(out)), -1);
	CHECK_EQ_INT(run(CT, "--BB\r\nno colon here\r\n\r\nx\r\n--BB--", 31, 0, out, sizeof(out)), -1);
	CHECK_EQ_INT(run(CT, "--BB\r\n", 6, 0, out, sizeof(out)), 0);
	CHECK_STR(out, "{}");
}

TEST(multipart_values_capped_like_go)
{
	size_t n = (10u << 20) + 100, k;
	char *body = malloc(n + 128), out[64];
	struct buf big;
	int off;
	CHECK(body != NULL);
	off = snprintf(body, 128, "--BB\r\nContent-Disposition: form-data; name=\"v\"\r\n\r\n");
	for (k = 0; k < n; k++)
		body[off + (int)k] = 'x';
	memcpy(body + off + n, "\r\n--BB--", 8);
	CHECK_EQ_INT(run(CT, body, off + n + 8, 0, out, sizeof(out)), -2);
	buf_init(&big, 64u << 20);
	CHECK_EQ_INT(multipart_to_json(&big, CT, body, off + n + 8, 1 << 20, NULL, NULL), 0);
	buf_free(&big);
	free(body);
}

TEST(multipart_part_count_bounded)
{
	struct buf b;
	char out[16];
	int k;
	buf_init(&b, 1 << 20);
	for (k = 0; k <= MULTIPART_MAX_PARTS; k++)
		buf_puts(&b, "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n");
	buf_puts(&b, "--BB--");
	CHECK_EQ_INT(run(CT, b.data, b.len, 0, out, sizeof(out)), -2);
	buf_free(&b);
}

int main(void)
{
	RUN(multipart_values_files_and_json_parts);
	RUN(multipart_malformed_bodies_refused);
	RUN(multipart_values_capped_like_go);
	RUN(multipart_part_count_bounded);
	return unit_done();
}
