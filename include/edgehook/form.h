/* form: application/x-www-form-urlencoded bodies.
 *
 * form_to_json appends {"name":"value",...} (percent-decoding, '+' as
 * space; names appear in body order, repeats included). form_get finds the
 * first value of a name (compared decoded) and decodes it into out. Both
 * return -1 on a malformed escape or when the output does not fit;
 * form_to_json returns -2 when a name repeats (the JSON would have a
 * duplicate key). form_count says how often a name occurs. Bytes
 * that are not UTF-8 become U+FFFD. */
#ifndef EDGEHOOK_FORM_H
#define EDGEHOOK_FORM_H

#include <stddef.h>

#include "edgehook/buf.h"

int form_to_json(struct buf *out, const char *body, size_t len);
/* What form_to_json can append for a body of len bytes, at worst. */
size_t form_json_bound(size_t len);
/* Length of the decoded value of `name`, -1 when absent or malformed. */
int form_get(const char *body, size_t len, const char *name, char *out, size_t cap);
int form_count(const char *body, size_t len, const char *name);
/* Decodes in to out (out may equal in); returns the length or -1. */
int form_decode(const char *in, size_t len, char *out);

#endif
