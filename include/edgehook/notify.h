/* notify: the systemd notification protocol (sd_notify(3)) without
 * libsystemd: one datagram per message to $NOTIFY_SOCKET, a filesystem
 * path or an abstract name written "@name".
 *
 *   struct notifier n;
 *   if (notify_open(&n) > 0) notify_send(&n, "READY=1");
 *
 * notify_open reads and then unsets NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID, so commands run by triggers can neither inherit the
 * socket nor be mistaken for the service. Sends never block: a message
 * the manager is too slow to take is dropped (the next one repeats the
 * state), which is better than stalling the loop the watchdog guards. */
#ifndef EDGEHOOK_NOTIFY_H
#define EDGEHOOK_NOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct notifier {
	int fd;                  /* -1: notifications off */
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_ms;    /* WATCHDOG_USEC in ms, 0: no watchdog */
};

/* 1: notifications on; 0: no NOTIFY_SOCKET (n->fd is -1); -1: a
 * NOTIFY_SOCKET that is not an absolute path or "@name", or no socket. */
int notify_open(struct notifier *n);
/* 0, or -1 when the datagram could not be sent (or notifications are off). */
int notify_send(struct notifier *n, const char *msg);
void notify_close(struct notifier *n);

#endif
