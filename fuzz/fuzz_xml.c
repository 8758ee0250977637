/* XML payloads (payload_xml.c): whatever the input, the reader returns
 * 0/-1/-2 with a message on failure, and what it accepts is valid JSON
 * that nests no deeper than XML_JSON_DEPTH. */
#include "edgehook/json.h"
#include "edgehook/payload_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	char why[256];
	size_t off;
	int rc;
	buf_init(&out, 8 * size + 64);
	rc = xml_to_json(&out, (const char *)data, size, why, sizeof(why));
	if (rc == 0 && json_validate(out.data, out.len, XML_JSON_DEPTH, &off) != 0)
		abort();
	if (rc < 0 && (rc < -2 || why[0] == 0))
		abort();
	buf_free(&out);
	return 0;
}
