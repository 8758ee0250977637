/* yaml: the YAML subset of DESIGN.md read into the document tree
 * (tree.h). On error it appends "LINE: message" to errors and returns
 * -1. */
#ifndef EDGEHOOK_YAML_H
#define EDGEHOOK_YAML_H

#include <stddef.h>

#include "edgehook/tree.h"

struct buf;

int yaml_parse(struct arena *a, const char *text, size_t len, struct node **root, struct buf *errors);

#endif
