/* activation: listening sockets passed by a service manager (systemd
 * socket activation, sd_listen_fds(3)) instead of bound by us.
 *
 * The protocol: LISTEN_PID is our pid, LISTEN_FDS=n says fds 3..3+n-1 are
 * ours, LISTEN_FDNAMES optionally names them ("a:b:c", FileDescriptorName=
 * in the .socket unit). The variables are read once, on first use, and
 * unset so that commands run by triggers do not inherit them; the passed
 * descriptors become close-on-exec and non-blocking.
 *
 * The listener layer (listener.c) asks here before binding, so every mode
 * that listens gets activation for free. A listen entry takes, in order:
 * the passed socket named like the entry (listen: {address, name}), the
 * one bound to the entry's address, then the first one named for its role
 * ("api" for api.listen, any other name for server.listen). */
#ifndef EDGEHOOK_ACTIVATION_H
#define EDGEHOOK_ACTIVATION_H

#include <sys/socket.h>

/* The number of usable passed sockets; 0 without socket activation. */
int activation_count(void);
/* A passed socket for the entry (name may be NULL; api: an api.listen
 * entry), now the caller's; -1 when none is left for it. */
int activation_take(const struct sockaddr *addr, socklen_t len, const char *name, int api);
/* The next passed socket no entry took, with *api set from its name;
 * -1 when all are taken. */
int activation_take_rest(int *api);
/* A worker process (relay/workers.c) is handed its listeners as if
 * passed: fds (names[i] NULL or the entry's name) replace whatever was
 * parsed. -1 when more than fit. */
int activation_install(const int *fds, const char *const *names, int n);

#endif
