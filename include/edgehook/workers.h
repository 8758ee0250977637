/* workers: server.workers > 1, all cores of one box.
 *
 * The process that starts becomes a supervisor: it binds every listener
 * once per worker (SO_REUSEPORT, so the kernel spreads connections over
 * the workers' sockets; Unix and socket-activated sockets are one socket
 * all workers accept on), maps the shared /metrics segment
 * (metrics_shm.h), then forks N workers. Each worker is the ordinary
 * single-threaded daemon (app_run) handed its own sockets as if passed
 * by socket activation; it loads the config, drops privileges and
 * serves as one process would, and writes one byte on a pipe once it
 * serves.
 *
 * The sockets are bound before the fork and kept by the supervisor for
 * the workers' whole life: a replacement worker accepts on the very
 * socket its predecessor had, so connections queued on it when it died
 * are served rather than reset (those the kernel hands that socket
 * while it has no worker wait for the replacement), and no worker needs
 * the privilege to bind. The supervisor keeps the user it started as for the same
 * reason: a replacement must be able to read what a first worker read
 * (TLS keys) before it drops privileges like the others.
 *
 * The supervisor runs no request: its loop reaps workers (SIGCHLD
 * through signalfd), restarts one that exited with a backoff (100 ms,
 * doubling while it keeps dying young, at most 5 s; logged and counted
 * in edgehook_worker_restarts_total), forwards SIGHUP and SIGUSR2, and on
 * SIGTERM/SIGINT drains them all and exits once every one has exited
 * (SIGKILL for any still there drain_timeout + 5 s later, or at a second
 * TERM/INT: a worker ignores repeated ones, which a terminal or a
 * service manager sends it besides the one passed on). A worker of
 * the first generation that exits before it serves stops the start:
 * the others are stopped and its exit code is returned. Workers get
 * SIGTERM if the supervisor dies. Readiness (sd_notify READY=1) is sent
 * once every worker serves. */
#ifndef EDGEHOOK_WORKERS_H
#define EDGEHOOK_WORKERS_H

#include "edgehook/app.h"

struct config;

/* Supervises cfg->server.workers workers until stopped; takes cfg.
 * Returns the process exit code. */
int workers_run(const struct app_options *o, struct config *cfg);

#endif
