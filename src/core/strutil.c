#include "edgehook/strutil.h"

#include <string.h>

int str_slice_eq(const char *s, size_t len, const char *lit) { return strlen(lit) == len && memcmp(s, lit, len) == 0; }
