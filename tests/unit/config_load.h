/* config_load: loading a config text in unit tests (the file name is
 * "t.yaml", so errors read "t.yaml:LINE: message"). */
#ifndef EDGEHOOK_TEST_CONFIG_LOAD_H
#define EDGEHOOK_TEST_CONFIG_LOAD_H

#include "unit.h"

#include "edgehook/config.h"

/* The config, or NULL; errs holds the errors, NUL-terminated when any. */
static inline struct config *load(const char *text, struct buf *errs)
{
	struct config *c = NULL;
	buf_init(errs, 1 << 16);
	config_load_text("t.yaml", text, strlen(text), &c, errs);
	if (errs->len)
		buf_append(errs, "", 1);
	return c;
}

/* Loads text expecting failure with an error containing expect. */
static inline int fails_with(const char *text, const char *expect)
{
	struct buf errs;
	struct config *c = load(text, &errs);
	int ok = !c && errs.len && strstr(errs.data, expect) != NULL;
	if (!ok)
		fprintf(stderr, "expected error containing \"%s\", got: %s\n", expect, errs.len ? errs.data : "(none)");
	config_free(c);
	buf_free(&errs);
	return ok;
}

#endif
