/* match: event type patterns. "*" matches everything, "prefix.*" any type
 * starting with "prefix.", anything else only itself. */
#ifndef EDGEHOOK_MATCH_H
#define EDGEHOOK_MATCH_H

#include <stddef.h>

int match_pattern(const char *pattern, const char *type);
int match_any(const char *const *patterns, size_t n, const char *type);

#endif
