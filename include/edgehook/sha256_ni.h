#ifndef EDGEHOOK_SHA256_NI_H
#define EDGEHOOK_SHA256_NI_H
/* SHA-256 for HMAC on every signed request: a BearSSL hash class whose
 * block function is the CPU's SHA extensions when it has them (x86-64
 * SHA-NI with SSE4.1), else BearSSL's own br_sha256_vtable. Same
 * context layout, state and output as br_sha256_vtable, so br_hmac and
 * saved key states work unchanged; no branch or memory access depends
 * on the data (constant time, like BearSSL's). */
#include <bearssl_hash.h>

const br_hash_class *sha256_class(void);
/* The accelerated class, or NULL on a CPU without the extensions (for
 * tests that compare it with BearSSL's). */
const br_hash_class *sha256_ni_class(void);

#endif
