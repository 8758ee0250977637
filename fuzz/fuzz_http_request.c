/* HTTP request heads and chunked bodies, parsed whole and in two halves:
 * both must agree (incremental parsing can never change the outcome). */
#include "edgehook/http_parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_header headers[64];
	struct http_request req;
	char *copy;
	int n, half;
	req.headers = headers;
	n = http_parse_request((const char *)data, size, &req, 64);
	half = http_parse_request((const char *)data, size / 2, &req, 64);
	if (n > 0 && half > 0 && half != n)
		abort();
	if (n == -2 && half != -2 && half != -1)
		abort();
	n = http_parse_request((const char *)data, size, &req, 64);
	if (n <= 0 || req.body != HTTP_BODY_CHUNKED)
		return 0;
	copy = malloc(size - (size_t)n + 1);
	if (!copy)
		return 0;
	{
		struct http_chunked ch;
		size_t len = size - (size_t)n, first = len / 3, second;
		ssize_t r;
		memcpy(copy, data + n, len);
		http_chunked_init(&ch, 1 << 20, 4096);
		second = len - first;
		r = http_chunked_decode(&ch, copy, &first);
		if (r == -2)
			r = http_chunked_decode(&ch, copy + len - second, &second);
		(void)r;
	}
	free(copy);
	return 0;
}
