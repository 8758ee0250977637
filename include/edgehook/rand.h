/* rand: unpredictable bytes and identifiers from getrandom(2).
 *
 * rand_id writes PREFIX + 22 base62 characters (~131 bits) + NUL, e.g.
 * "dlv_4f9XkQ2b...", into out (cap >= strlen(prefix) + 23). */
#ifndef EDGEHOOK_RAND_H
#define EDGEHOOK_RAND_H

#include <stddef.h>
#include <stdint.h>

void rand_bytes(void *out, size_t len);
uint32_t rand_u32(void);
void rand_id(char *out, size_t cap, const char *prefix);

#endif
