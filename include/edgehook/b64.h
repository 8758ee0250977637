/* b64: standard base64 (RFC 4648, with padding), as Standard Webhooks
 * uses for secrets and signatures. */
#ifndef EDGEHOOK_B64_H
#define EDGEHOOK_B64_H

#include <stddef.h>

/* Writes the encoding plus NUL; returns its length or -1 if cap is short. */
int b64_encode(const unsigned char *in, size_t len, char *out, size_t cap);
/* Accepts padded or unpadded input; returns the byte count or -1. */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
