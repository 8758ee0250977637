/* payload_multipart: multipart/form-data bodies as webhook reads them
 * (Go's mime/multipart ReadForm, then webhook's payload rules).
 *
 * multipart_to_json appends a JSON object to out: each value part (no
 * filename) as "name":"text", first part per name; each file part whose
 * Content-Type is application/json or whose name is_json() accepts as
 * "name":<its JSON object> (null when it is not one); other file parts are
 * left out, as webhook leaves them out. A file part wins over a value of
 * the same name. Value bytes are capped at max_mem + 10 MiB like Go's
 * ReadForm, parts at MULTIPART_MAX_PARTS.
 * Returns 0; -1 malformed (no boundary, no closing delimiter, bad part
 * head); -2 too large (values or parts over the caps, or out full); -3
 * no usable boundary parameter (webhook then has no payload, no error). */
#ifndef EDGEHOOK_PAYLOAD_MULTIPART_H
#define EDGEHOOK_PAYLOAD_MULTIPART_H

#include <stddef.h>

#include "edgehook/buf.h"

enum { MULTIPART_MAX_PARTS = 1000 };

int multipart_to_json(struct buf *out, const char *ctype, const char *body, size_t len, long max_mem,
		      int (*is_json)(void *ctx, const char *name, size_t nlen), void *ctx);

#endif
