/* healthcheck: `edgehook --healthcheck [URL]`, a client for images
 * without curl (FROM scratch): GET URL, exit 0 on a 2xx and 1 on
 * anything else, within HEALTHCHECK_MS whatever the server does.
 *
 * It is a separate short-lived process, so it blocks (poll with the
 * time left), but never past the deadline. The URL's host must be an IP
 * literal or localhost: no resolver, which works in an empty chroot.
 * The default URL from the configuration is relay/health_mode.c's. */
#ifndef EDGEHOOK_HEALTHCHECK_H
#define EDGEHOOK_HEALTHCHECK_H

#include <stddef.h>

enum { HEALTHCHECK_MS = 2000 };

/* Runs the check, prints one line on stdout or stderr; the exit code. */
int healthcheck_run(const char *url);

#endif
