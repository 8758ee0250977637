/* multipart/form-data payloads: the first line of the input is the
 * Content-Type (so the boundary is fuzzed too), the rest the body. */
#include "edgehook/payload_multipart.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int every_other(void *ctx, const char *name, size_t nlen)
{
	(void)ctx;
	(void)name;
	return nlen % 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char ctype[256];
	size_t clen = nl ? (size_t)(nl - data) : 0;
	struct buf out;
	if (!nl || clen >= sizeof(ctype) || memchr(data, '\0', clen))
		return 0;
	memcpy(ctype, data, clen);
	ctype[clen] = '\0';
	buf_init(&out, 1 << 20);
	multipart_to_json(&out, ctype, (const char *)nl + 1, size - clen - 1, 64, every_other, NULL);
	buf_free(&out);
	return 0;
}
