/* HTTP request heads and chunked bodies, parsed whole and in two halves:
 * both must agree (incremental parsing can never change the outcome).
 * The head scanner, fed in pieces whose sizes come from the input, must
 * give exactly the answer it gives on the whole input. */
#include "edgehook/http_parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int scan_status(const struct http_head_scan *s, int r) { return r == -1 ? -s->error_status : r; }

static void scan_in_pieces(const uint8_t *data, size_t size)
{
	struct http_head_scan whole, split;
	size_t have = 0, i = 0;
	int r = -2, ref;
	http_head_scan_init(&whole, 64);
	ref = scan_status(&whole, http_head_scan(&whole, (const char *)data, size));
	http_head_scan_init(&split, 64);
	while (r == -2 && have < size) {
		have += 1 + data[i++ % size] % 16;
		if (have > size)
			have = size;
		r = http_head_scan(&split, (const char *)data, have);
	}
	if (scan_status(&split, r) != ref)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_header headers[64];
	struct http_request req;
	char *copy;
	int n, half;
	req.headers = headers;
	if (size)
		scan_in_pieces(data, size);
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
