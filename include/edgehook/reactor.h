/* reactor: one epoll loop, fd-indexed handlers, a timer min-heap, signals.
 *
 * Handlers are looked up by fd in a table; each registration gets a
 * generation number carried in the epoll event, so an event that was
 * already fetched for an fd that a handler closed (and maybe reused) in the
 * same batch is dropped instead of being delivered to the wrong owner.
 *
 * Timers are caller-owned `struct timer`s. Most timers in a server share a
 * few durations (header, idle, attempt timeouts), so those go to per-
 * duration FIFO lanes, already sorted by deadline: start and stop are O(1)
 * there. Other durations go to a pairing heap (O(1) start, O(log n)
 * amortized stop and expiry). Both are linked through the caller's
 * struct timer, so starting a timer never allocates and cannot fail.
 * Expiry never scans idle entries. A timer callback may start or stop any
 * timer.
 *
 * Deferred calls are caller-owned `struct defer`s run from the loop after
 * this iteration's events and timers, in the order they were queued:
 * "report later" for code that finds a result while its caller is on
 * the stack (a contract like "the callback never runs inside send").
 * Queuing a pending one again changes nothing; one queued by a deferred
 * call runs on the next iteration, which then does not wait for events.
 *
 * Signals are delivered through signalfd: reactor_signals blocks them and
 * calls the handler from the loop, never from signal context.
 *
 * Writes are the caller's job: write first, and only on EAGAIN ask for
 * EPOLLOUT with reactor_set_events. */
#ifndef EDGEHOOK_REACTOR_H
#define EDGEHOOK_REACTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "edgehook/list.h"

struct reactor;
typedef void (*reactor_io_fn)(void *arg, int fd, uint32_t events);
typedef void (*reactor_timer_fn)(void *arg);
typedef void (*reactor_signal_fn)(void *arg, int signo);

enum { TIMER_IDLE = -1, TIMER_IN_HEAP = -2 };

struct timer {
	uint64_t deadline;
	int lane;                   /* lane index, TIMER_IN_HEAP or TIMER_IDLE */
	struct timer *prev, *next;  /* lane list; heap: parent or left, right */
	struct timer *child;        /* heap: first child */
	reactor_timer_fn fn;
	void *arg;
};

struct reactor *reactor_new(void);
void reactor_free(struct reactor *r);

int reactor_add(struct reactor *r, int fd, uint32_t events, reactor_io_fn fn, void *arg);
int reactor_set_events(struct reactor *r, int fd, uint32_t events);
/* Unregisters fd; the caller still closes it. Safe inside any callback. */
void reactor_del(struct reactor *r, int fd);
/* Unregisters and closes *fd if open, and sets it to -1. */
void reactor_close(struct reactor *r, int *fd);

void timer_init(struct timer *t, reactor_timer_fn fn, void *arg);
/* (Re)arms t to fire delay_ms from the loop's current time. */
void timer_start(struct reactor *r, struct timer *t, uint64_t delay_ms);
void timer_stop(struct reactor *r, struct timer *t);
static inline int timer_armed(const struct timer *t) { return t->lane != TIMER_IDLE; }

struct defer {
	struct list link; /* in the reactor's queue while pending */
	reactor_timer_fn fn;
	void *arg;
};

void defer_init(struct defer *d, reactor_timer_fn fn, void *arg);
void reactor_defer(struct reactor *r, struct defer *d);
/* Safe whether d is pending or not. */
static inline void defer_cancel(struct defer *d) { list_remove(&d->link); }
static inline int defer_pending(const struct defer *d) { return list_linked(&d->link); }

/* Blocks the listed signals and routes them to fn through a signalfd. */
int reactor_signals(struct reactor *r, const int *signals, size_t n, reactor_signal_fn fn, void *arg);

/* Runs until reactor_stop; returns 0, or -1 if epoll itself fails. */
int reactor_run(struct reactor *r);
void reactor_stop(struct reactor *r);
/* One iteration waiting at most max_wait_ms (-1 = until an event). */
int reactor_poll(struct reactor *r, int max_wait_ms);
size_t reactor_timer_count(const struct reactor *r);
/* fn runs at the end of every iteration, before the loop waits again
 * (one per reactor; NULL removes it): for work that should follow any
 * activity without being called from every place that makes some. */
void reactor_after_each(struct reactor *r, reactor_timer_fn fn, void *arg);

#endif
