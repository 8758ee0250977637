/* Config files: the YAML subset or JSON, then the whole schema. */
#include "edgehook/config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	struct buf errors;
	buf_init(&errors, 1 << 16);
	config_load_text("fuzz.yaml", (const char *)data, size, &cfg, &errors);
	config_free(cfg);
	buf_free(&errors);
	return 0;
}
