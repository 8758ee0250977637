/* supervise: what the daemon tells a service manager (systemd) about
 * itself, over notify.h. Every call is a no-op without NOTIFY_SOCKET.
 *
 *   supervise_start  at start-up, before anything forks: opens the
 *                    socket and, with WATCHDOG_USEC, arms a loop timer
 *                    pinging WATCHDOG=1 at half the interval, so a
 *                    stalled loop stops the pings and gets restarted
 *   supervise_ready  READY=1 once every listener is bound, privileges
 *                    are dropped and stored state is recovered
 *   supervise_reloading / supervise_ready  around a SIGHUP reload
 *   supervise_stopping  STOPPING=1 when draining starts
 *
 * Each message carries STATUS= with a one-line summary (state, open
 * connections, deliveries pending); watchdog pings refresh it. */
#ifndef EDGEHOOK_SUPERVISE_H
#define EDGEHOOK_SUPERVISE_H

#include "edgehook/notify.h"
#include "edgehook/reactor.h"

struct relay;

struct supervisor {
	struct notifier n;
	struct reactor *r;
	const struct relay *rl;
	struct timer watchdog;
	const char *state;
};

/* -1 (logged) when NOTIFY_SOCKET is set but unusable; the daemon runs on.
 * rl NULL (the workers' supervisor): STATUS= says the state only. */
int supervise_start(struct supervisor *s, struct reactor *r, const struct relay *rl);
void supervise_ready(struct supervisor *s);
void supervise_reloading(struct supervisor *s);
void supervise_stopping(struct supervisor *s);
void supervise_stop(struct supervisor *s);

#endif
