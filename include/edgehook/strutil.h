/* strutil: small string helpers shared by several modules. */
#ifndef EDGEHOOK_STRUTIL_H
#define EDGEHOOK_STRUTIL_H

#include <stddef.h>

/* The slice s[0..len) equals the C string lit exactly. */
int str_slice_eq(const char *s, size_t len, const char *lit);

#endif
