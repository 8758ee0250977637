/* JSON: validation, tokenizing, lookups, unescaping, compaction; the
 * validator and the tokenizer must agree on what is valid; the writer and
 * the form converter always produce valid JSON. */
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
	int valid = json_validate(text, size, 32, NULL) == 0, parsed = 0;
	if (json_parse(&doc, text, size, 32) == 0) {
		int i;
		parsed = 1;
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
	/* Go's decoder reading: a text json_parse reads is read too; any first
	 * value it takes is a prefix whose tokens stay inside it */
	if (json_parse_first(&doc, text, size, 32) == 0) {
		int i;
		for (i = 0; i < doc.ntoks; i++)
			if (doc.toks[i].end > (int)doc.len)
				abort();
		json_tok_copy(&doc, 0, out, sizeof(out));
		json_doc_free(&doc);
	} else if (parsed) {
		abort();
	}
	/* the writer turns any bytes into valid JSON (U+FFFD for non-UTF-8) */
	buf_init(&b, 6 * size + 16);
	if (json_put_string(&b, text, size) < 0 || json_validate(b.data, b.len, 1, NULL) != 0)
		abort();
	buf_free(&b);
	buf_init(&b, form_json_bound(size));
	if (form_to_json(&b, text, size) == 0 && json_validate(b.data, b.len, 2, NULL) != 0)
		abort();
	buf_free(&b);
	return 0;
}
