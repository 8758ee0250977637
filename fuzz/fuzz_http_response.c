/* HTTP response heads (what a hostile endpoint sends back) and chunked
 * bodies with tight caps. */
#include "edgehook/http_parser.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_header headers[32];
	struct http_response res;
	int n;
	res.headers = headers;
	n = http_parse_response((const char *)data, size, &res, 32, size & 1);
	if (n > 0 && res.body == HTTP_BODY_CHUNKED) {
		struct http_chunked ch;
		size_t len = size - (size_t)n;
		char *copy = malloc(len + 1);
		if (!copy)
			return 0;
		memcpy(copy, data + n, len);
		http_chunked_init(&ch, 4096, 512);
		(void)http_chunked_decode(&ch, copy, &len);
		free(copy);
	}
	return 0;
}
