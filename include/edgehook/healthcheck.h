/* healthcheck: `edgehook --healthcheck [URL]`, a client for images
 * without curl (FROM scratch): GET URL, exit 0 on a 2xx and 1 on
 * anything else, within HEALTHCHECK_MS whatever the server does.
 *
 * It is a separate short-lived process, so it blocks (poll with the
 * time left), but never past the deadline. The URL's host must be an IP
 * literal or localhost: no resolver, which works in an empty chroot.
 * Without a URL it checks http://127.0.0.1:PORT/healthz on the first
 * plain-HTTP listener of the configuration (wildcard addresses are
 * reached on loopback). */
#ifndef EDGEHOOK_HEALTHCHECK_H
#define EDGEHOOK_HEALTHCHECK_H

#include <stddef.h>

struct listen_cfg;

enum { HEALTHCHECK_MS = 2000 };

/* The default URL for listeners list[0..n) into out; -1 when none is
 * plain HTTP over TCP. */
int healthcheck_default_url(const struct listen_cfg *list, size_t n, char *out, size_t cap);
/* Runs the check, prints one line on stdout or stderr; the exit code. */
int healthcheck_run(const char *url);
/* The --healthcheck mode: url, else the default URL of -l listen or of
 * the configuration at config_path (NULL: the built-in one). */
int healthcheck_main(const char *url, const char *config_path, const char *listen);

#endif
