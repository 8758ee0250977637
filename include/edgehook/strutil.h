/* strutil: small string helpers shared by several modules. */
#ifndef EDGEHOOK_STRUTIL_H
#define EDGEHOOK_STRUTIL_H

#include <stddef.h>

/* The slice s[0..len) equals the C string lit exactly. */
int str_slice_eq(const char *s, size_t len, const char *lit);
/* 0..15 for a hex digit (either case), -1 otherwise. */
int str_hex_digit(int c);

#endif
