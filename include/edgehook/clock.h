/* clock: monotonic and wall time in milliseconds, ISO 8601 formatting.
 *
 * clock_now_ms() is the reactor's cached monotonic time: it advances once
 * per loop iteration (clock_update), so every timer set in one iteration
 * shares a base. clock_wall_ms() is real time. A test can freeze wall time
 * with clock_set_wall_override and the loop's time with
 * clock_set_now_override, then move them by hand (0 to disable). */
#ifndef EDGEHOOK_CLOCK_H
#define EDGEHOOK_CLOCK_H

#include <stddef.h>
#include <stdint.h>

uint64_t clock_update(void);
uint64_t clock_now_ms(void);
/* How many times clock_update ran: changes once per loop iteration, so
 * work can be budgeted per iteration. */
uint64_t clock_updates(void);
uint64_t clock_wall_ms(void);
void clock_set_wall_override(uint64_t wall_ms);
void clock_set_now_override(uint64_t now_ms);
/* "2026-03-26T12:00:00Z" (or with .mmm when with_ms); returns length. */
size_t clock_iso8601(char *out, size_t cap, uint64_t wall_ms);
/* RFC 3339 ("2026-03-26T12:00:00Z", fraction and +hh:mm allowed) to
 * wall ms; -1 when s is not one. */
int clock_parse_rfc3339(const char *s, uint64_t *wall_ms);

#endif
