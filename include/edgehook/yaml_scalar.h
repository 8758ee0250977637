/* yaml_scalar: the YAML reader's (config/yaml.c) scalar pieces that do not
 * need its line state.
 *
 * yaml_block_scalar reads a block scalar whose header ("|" or ">", then
 * optionally "-"/"+" and an indentation digit) is `header`, written on
 * line `line` (1-based) after a key or "-" at column `indent`; raw holds
 * the untouched source lines. *text gets the value (arena), *last the last
 * line it spans. 0; -1 bad header; -2 text after the header; -3 no memory.
 *
 * yaml_unicode_escape decodes "uXXXX" (a surrogate pair as two escapes)
 * at *in, just past the backslash, as UTF-8 at *out, never longer than the
 * escape; advances both. 0, or -1 on a malformed or lone surrogate or NUL. */
#ifndef EDGEHOOK_YAML_SCALAR_H
#define EDGEHOOK_YAML_SCALAR_H

#include "edgehook/arena.h"

int yaml_block_scalar(struct arena *a, char **raw, int nraw, int indent, int line, const char *header, char **text,
		      int *last);
int yaml_unicode_escape(char **in, char **out);

#endif
