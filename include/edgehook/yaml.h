/* yaml: the YAML subset of DESIGN.md read into the document tree
 * (tree.h). On error it writes "LINE: message" to err and returns -1. */
#ifndef EDGEHOOK_YAML_H
#define EDGEHOOK_YAML_H

#include <stddef.h>

#include "edgehook/tree.h"

int yaml_parse(struct arena *a, const char *text, size_t len, struct node **root, char *err, size_t errcap);

#endif
