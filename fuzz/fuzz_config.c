/* Config files: the YAML subset or JSON, then the whole schema; and the
 * YAML reader alone, as webhook hooks files reach it (a document that
 * opens with '[' or '{' included). */
#include "edgehook/config.h"
#include "edgehook/yaml.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	struct buf errors;
	struct arena a;
	struct node *root;
	buf_init(&errors, 1 << 16);
	config_load_text("fuzz.yaml", (const char *)data, size, &cfg, &errors);
	config_free(cfg);
	errors.len = 0;
	arena_init(&a);
	yaml_parse(&a, (const char *)data, size, &root, &errors);
	arena_free(&a);
	buf_free(&errors);
	return 0;
}
