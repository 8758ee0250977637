/* x-www-form-urlencoded bodies: to JSON (which must then validate) and
 * single-field lookups. */
#include "edgehook/form.h"
#include "edgehook/json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;
	char out[512];
	buf_init(&b, 8 * size + 16);
	if (form_to_json(&b, (const char *)data, size) == 0 && json_validate(b.data, b.len, 4, NULL) != 0)
		abort();
	buf_free(&b);
	form_get((const char *)data, size, "payload", out, sizeof(out));
	return 0;
}
