/* dedupe: remembers the last N delivery ids (a ring of ids plus an open
 * addressing hash), so a redelivered webhook is recognised. Memory is
 * fixed at creation: N slots of 64-byte ids; longer ids are hashed. */
#ifndef EDGEHOOK_DEDUPE_H
#define EDGEHOOK_DEDUPE_H

#include <stddef.h>

struct dedupe;

struct dedupe *dedupe_new(size_t window);
void dedupe_free(struct dedupe *d);
/* 1 when (scope, id) was seen within the window (and leaves it), else
 * records it and returns 0. */
int dedupe_check(struct dedupe *d, const char *scope, const char *id, size_t id_len);
/* Only looks: 1 when (scope, id) is in the window. */
int dedupe_seen(const struct dedupe *d, const char *scope, const char *id, size_t id_len);

#endif
