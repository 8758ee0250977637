/* health_mode: the `--healthcheck [URL]` mode. Without a URL it checks
 * http://127.0.0.1:PORT/healthz on the first plain-HTTP listener of -l
 * or of the configuration (wildcard addresses are reached on loopback),
 * through http/healthcheck.c. It lives in relay/ because it reads the
 * configuration; the HTTP check itself knows nothing of it. */
#ifndef EDGEHOOK_HEALTH_MODE_H
#define EDGEHOOK_HEALTH_MODE_H

#include <stddef.h>

struct listen_cfg;

/* The default URL for listeners list[0..n) into out; -1 when none is
 * plain HTTP over TCP. */
int healthcheck_default_url(const struct listen_cfg *list, size_t n, char *out, size_t cap);
/* The --healthcheck mode: url, else the default URL of -l listen or of
 * the configuration at config_path (NULL: the built-in one). */
int healthcheck_main(const char *url, const char *config_path, const char *listen);

#endif
