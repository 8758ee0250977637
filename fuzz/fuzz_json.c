/* JSON: validation, tokenizing, lookups, unescaping, compaction; the
 * validator and the tokenizer must agree on what is valid. */
#include "edgehook/event.h"
#include "edgehook/form.h"
#include "edgehook/json.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct json_doc doc;
	struct buf b;
	char out[256];
	int valid = json_validate(text, size, 32, NULL) == 0;
	if (json_parse(&doc, text, size, 32) == 0) {
		int i;
		if (!valid)
			abort();
		for (i = 0; i < doc.ntoks; i++)
			json_tok_copy(&doc, i, out, sizeof(out));
		json_path(&doc, "a.b.0.c");
		json_doc_free(&doc);
		buf_init(&b, size + 16);
		event_json_compact(&b, text, size);
		if (json_validate(b.data, b.len, 32, NULL) != 0)
			abort();
		buf_free(&b);
	}
	buf_init(&b, 4 * size + 16);
	form_to_json(&b, text, size);
	buf_free(&b);
	return 0;
}
