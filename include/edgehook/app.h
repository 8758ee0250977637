/* app: the process. relay/app.c is the one place that builds objects
 * from the config: DNS, the client and server TLS contexts, the HTTP
 * client, the server, the dispatcher, the runner and the relay, each
 * handed its collaborators. A SIGHUP reload goes through the same staging
 * as the start (all or nothing: a config that does not fully build
 * changes nothing); SIGTERM/SIGINT drain through relay_drain, bounded by
 * server.drain_timeout.
 *
 * relay/app_start.c holds the start-up chores around it: binding the
 * listeners, dropping privileges, the config warnings. */
#ifndef EDGEHOOK_APP_H
#define EDGEHOOK_APP_H

#include <stddef.h>

#include "edgehook/config.h"

struct config;
struct http_server;
struct listen_cfg;
struct tls_server_ctx;

enum { APP_EXIT_RUNTIME = 1, APP_EXIT_USAGE = 2 };

struct metrics_shm;
struct sockaddr_un;

/* What a worker process (server.workers > 1, relay/workers.c) is told by
 * its supervisor. */
struct app_worker {
	unsigned index;          /* its slot in shm */
	struct metrics_shm *shm; /* /metrics sums over the workers */
	int ready_fd;            /* one byte written once serving, then closed */
};

struct app_options {
	const char *config; /* NULL: the built-in config */
	const char *listen; /* overrides server.listen */
	const char *user;   /* overrides server.user */
	int check;          /* validate, print ok or the errors, exit */
	const struct app_worker *worker; /* NULL: not a worker (maybe their supervisor) */
};

/* Runs until stopped; returns the process exit code. */
int app_run(const struct app_options *o);

/* ---- app_start.c ---- */

/* Parks /dev/null on closed descriptors 0-2 (children inherit them). */
void app_std_fds(void);
/* EDGEHOOK_TEST_NOW=<unix seconds> freezes the wall clock (tests only). */
void app_test_clock(void);
/* 0, or -1 with the errors on stderr. */
int app_load_config(const char *path, struct config **cfg);
/* --check prints the config's warnings on stderr, start-up logs them. */
void app_print_warnings(const struct config *cfg, const struct listen_cfg *listen, size_t n, int to_stderr);

/* What app_listen bound and must be undone at exit. */
struct app_listeners {
	struct listen_cfg one;             /* the -l override */
	const struct listen_cfg *list;     /* server listeners: cfg's or &one */
	size_t n;
	size_t napi;                       /* api.listen listeners bound after them */
	unsigned *passed;                  /* then activation's unnamed rest: their flags */
	size_t npassed, napi_passed;
	struct tls_server_ctx *tls;        /* made when a listener needs it */
	char **sockets;                    /* Unix socket paths bound for the API */
	size_t nsockets;
};
/* Binds server.listen (or override) and api.listen, then takes the
 * sockets socket activation passed that no entry named; logs nothing.
 * 0 or an exit code with a message on stderr. */
int app_listen(struct http_server *srv, const struct config *cfg, const char *override, struct app_listeners *out);
/* The config's warnings, then one "listening" line per listener: the
 * readiness a supervisor waits for, said once privileges are dropped. */
void app_announce(const struct http_server *srv, const struct config *cfg, const struct app_listeners *l);
void app_listeners_close(struct app_listeners *l);
/* A Unix socket file left by a process that is gone would make bind
 * fail: removed when nothing answers on it. */
void app_remove_stale_socket(const struct sockaddr_un *un);
/* Resolves "name" or "uid:gid" and drops root for it; -1 on stderr. */
int app_drop_privileges(const char *user);

#endif
