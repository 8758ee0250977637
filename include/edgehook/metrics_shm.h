/* metrics_shm: /metrics for server.workers > 1, where each worker
 * process holds its own counters but any of them may get the scrape.
 *
 * The supervisor maps one shared anonymous segment before it forks: a
 * header (start time, restarts, the counters of workers that are gone)
 * and one slot per worker. Each worker owns its slot: it publishes a
 * snapshot of its counters there (metrics_shm_publish, at most every
 * METRICS_SHM_PUBLISH_MS after activity), and the worker that answers a
 * scrape sums every slot with its own fresh snapshot. One writer per
 * slot means no shared atomics on the request path; a sequence number
 * per slot (odd while written) lets a reader retry a torn copy.
 *
 * When a worker dies the supervisor folds its slot's counters into the
 * header's "retired" sums before starting its replacement, so a counter
 * summed over workers never goes backwards; its gauges go with it. */
#ifndef EDGEHOOK_METRICS_SHM_H
#define EDGEHOOK_METRICS_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/config.h"
#include "edgehook/relay.h"

enum {
	METRICS_SHM_ENDPOINTS = 1024, /* the config's endpoint limit */
	METRICS_SHM_NAME = 129,       /* endpoint names: at most 128 bytes */
	METRICS_SHM_PUBLISH_MS = 5,
};

struct metrics_cluster {
	uint64_t put_ok, put_failed, read_calls, read_entries, acked, claimed, claim_calls, group_created, redis_errors;
	uint64_t parked, retries_taken;
	uint64_t replies, writes, connects;
};

/* Everything /metrics sums over workers, all monotonic. */
struct metrics_counters {
	uint64_t connections_total, connections_rejected, requests[6], parse_errors, timeouts;
	struct trigger_stats trig;
	uint64_t events_total, events_rejected;
	uint64_t dns_hits, dns_misses, dns_queries;
	uint64_t client_opened, client_reused, client_resent, client_tls_handshakes, client_tls_resumed;
	struct metrics_cluster cluster;
};

/* Levels: summed over workers. */
struct metrics_gauges {
	uint64_t connections_open, queue_depth, queue_bytes, in_flight;
	uint64_t cluster_redis_up;
};

struct metrics_endpoint {
	char name[METRICS_SHM_NAME];
	uint8_t disabled, breaker_open;                /* summed as "on in any worker" */
	uint64_t delivered, failed, retried, dropped; /* counters */
	uint64_t in_flight;                           /* gauge */
};

struct metrics_snapshot {
	struct metrics_counters c;
	struct metrics_gauges g;
	int cluster; /* cluster: is configured (the same in every worker) */
	size_t neps;
	struct metrics_endpoint eps[METRICS_SHM_ENDPOINTS];
};

/* What the scrape shows about the workers themselves. */
struct metrics_workers {
	unsigned n;
	uint64_t restarts;
	uint64_t started_ms; /* the supervisor's start, monotonic clock */
	uint64_t requests[CONFIG_WORKERS_MAX]; /* answered by each worker's current process */
};

struct metrics_shm;

/* The supervisor, before forking: NULL when the mapping fails. */
struct metrics_shm *metrics_shm_new(unsigned nworkers, uint64_t started_ms);
void metrics_shm_free(struct metrics_shm *m);
/* The supervisor, once worker slot i's process is reaped. */
void metrics_shm_retire(struct metrics_shm *m, unsigned slot);

/* The worker in slot i. */
void metrics_shm_publish(struct metrics_shm *m, unsigned slot, const struct metrics_snapshot *s);
/* out = own (the caller's fresh snapshot, slot i) + every other slot +
 * the retired sums; scratch is a snapshot's worth of caller memory.
 * Endpoints are matched by name; ones only other workers know are added
 * while out has room. */
void metrics_shm_sum(struct metrics_shm *m, unsigned slot, const struct metrics_snapshot *own,
		     struct metrics_snapshot *out, struct metrics_snapshot *scratch, struct metrics_workers *w);

#endif
