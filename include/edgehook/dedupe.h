/* dedupe: remembers the last N delivery ids (a ring plus an open
 * addressing hash), so a redelivered webhook is recognised.
 *
 * Each (scope, id) is reduced to HMAC-SHA-256 under a key drawn at start:
 * ids of any length count in full, the table position cannot be predicted
 * by a sender (probing stays O(1) expected whatever ids arrive), and two
 * ids are the same only when their full 256-bit digests are, so a forged
 * id can cost a probe but never make another delivery a duplicate.
 * Memory is fixed at creation: 40 to 48 bytes per id in the window (the
 * digest and 2-4 table slots). A window of 0 turns dedupe off. */
#ifndef EDGEHOOK_DEDUPE_H
#define EDGEHOOK_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

struct dedupe;

struct dedupe *dedupe_new(size_t window);
/* A new store of `window` ids holding the newest of old's (a reload that
 * changes server.dedupe); NULL when memory is short. old is unchanged. */
struct dedupe *dedupe_resized(const struct dedupe *old, size_t window);
void dedupe_free(struct dedupe *d);
/* 1 when (scope, id) was seen within the window (and leaves it), else
 * records it and returns 0. */
int dedupe_check(struct dedupe *d, const char *scope, const char *id, size_t id_len);
/* Only looks: 1 when (scope, id) is in the window. */
int dedupe_seen(struct dedupe *d, const char *scope, const char *id, size_t id_len);
/* Table slots inspected so far (for tests of the probing cost). */
uint64_t dedupe_probes(const struct dedupe *d);

#endif
