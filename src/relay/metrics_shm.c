/* metrics_shm: the shared segment behind /metrics with workers (see
 * metrics_shm.h). */
#include "edgehook/metrics_shm.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

/* a reader gives up on a slot being rewritten this many times in a row
 * and takes the copy it has: a worker killed mid-publish leaves it odd */
enum { READ_TRIES = 8 };

struct slot {
	atomic_uint seq; /* odd while the owner writes */
	struct metrics_snapshot live;
};

struct metrics_shm {
	size_t bytes;
	unsigned n;
	atomic_uint seq; /* odd while the supervisor folds a slot into retired */
	uint64_t restarts, started_ms;
	struct metrics_counters retired;
	struct metrics_endpoint retired_eps[METRICS_SHM_ENDPOINTS];
	size_t retired_neps;
	struct slot slots[];
};

/* every member of metrics_counters is a uint64_t: summed as an array */
_Static_assert(sizeof(struct metrics_counters) % sizeof(uint64_t) == 0, "metrics_counters holds only uint64_t");

static void add_counters(struct metrics_counters *to, const struct metrics_counters *from)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;
	size_t i;
	for (i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}

struct metrics_shm *metrics_shm_new(unsigned nworkers, uint64_t started_ms)
{
	size_t bytes = sizeof(struct metrics_shm) + (size_t)nworkers * sizeof(struct slot);
	struct metrics_shm *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* fresh anonymous pages are zero: only the sizes need setting */
	m->bytes = bytes;
	m->n = nworkers;
	m->started_ms = started_ms;
	return m;
}

void metrics_shm_free(struct metrics_shm *m)
{
	if (m)
		munmap(m, m->bytes);
}

/* The endpoint named like e in list (n entries), appended while cap
 * allows; NULL when full. */
static struct metrics_endpoint *endpoint_in(struct metrics_endpoint *list, size_t *n, size_t cap, size_t hint,
					    const struct metrics_endpoint *e)
{
	size_t i;
	if (hint < *n && strcmp(list[hint].name, e->name) == 0)
		return &list[hint];
	for (i = 0; i < *n; i++)
		if (strcmp(list[i].name, e->name) == 0)
			return &list[i];
	if (*n == cap)
		return NULL;
	memset(&list[*n], 0, sizeof(list[*n]));
	memcpy(list[*n].name, e->name, sizeof(e->name));
	return &list[(*n)++];
}

static void add_endpoint_counters(struct metrics_endpoint *to, const struct metrics_endpoint *from)
{
	to->delivered += from->delivered;
	to->failed += from->failed;
	to->retried += from->retried;
	to->dropped += from->dropped;
}

void metrics_shm_retire(struct metrics_shm *m, unsigned slot)
{
	struct slot *s = &m->slots[slot];
	size_t i;
	atomic_fetch_add_explicit(&m->seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	add_counters(&m->retired, &s->live.c);
	for (i = 0; i < s->live.neps && i < METRICS_SHM_ENDPOINTS; i++) {
		struct metrics_endpoint *to =
			endpoint_in(m->retired_eps, &m->retired_neps, METRICS_SHM_ENDPOINTS, i, &s->live.eps[i]);
		if (to)
			add_endpoint_counters(to, &s->live.eps[i]);
	}
	memset(&s->live, 0, sizeof(s->live));
	atomic_store_explicit(&s->seq, 0, memory_order_release);
	m->restarts++;
	atomic_fetch_add_explicit(&m->seq, 1, memory_order_release);
}

void metrics_shm_publish(struct metrics_shm *m, unsigned slot, const struct metrics_snapshot *snap)
{
	struct slot *s = &m->slots[slot];
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	memcpy(&s->live, snap, offsetof(struct metrics_snapshot, eps) + snap->neps * sizeof(snap->eps[0]));
	atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
}

/* A consistent copy of slot s into out (torn only past READ_TRIES). */
static void read_slot(struct slot *s, struct metrics_snapshot *out)
{
	unsigned before, tries;
	for (tries = 0; tries < READ_TRIES; tries++) {
		before = atomic_load_explicit(&s->seq, memory_order_acquire);
		memcpy(out, &s->live, offsetof(struct metrics_snapshot, eps));
		if (out->neps > METRICS_SHM_ENDPOINTS)
			out->neps = METRICS_SHM_ENDPOINTS;
		memcpy(out->eps, s->live.eps, out->neps * sizeof(out->eps[0]));
		atomic_thread_fence(memory_order_acquire);
		if (!(before & 1) && atomic_load_explicit(&s->seq, memory_order_relaxed) == before)
			return;
	}
}

static void add_snapshot(struct metrics_snapshot *out, const struct metrics_snapshot *s)
{
	size_t i;
	add_counters(&out->c, &s->c);
	out->g.connections_open += s->g.connections_open;
	out->g.queue_depth += s->g.queue_depth;
	out->g.queue_bytes += s->g.queue_bytes;
	out->g.in_flight += s->g.in_flight;
	out->g.cluster_redis_up += s->g.cluster_redis_up;
	for (i = 0; i < s->neps; i++) {
		struct metrics_endpoint *to = endpoint_in(out->eps, &out->neps, METRICS_SHM_ENDPOINTS, i, &s->eps[i]);
		if (!to)
			continue;
		add_endpoint_counters(to, &s->eps[i]);
		to->in_flight += s->eps[i].in_flight;
		to->disabled |= s->eps[i].disabled;
		to->breaker_open |= s->eps[i].breaker_open;
	}
}

static uint64_t requests_of(const struct metrics_counters *c)
{
	return c->requests[1] + c->requests[2] + c->requests[3] + c->requests[4] + c->requests[5];
}

static void sum_once(struct metrics_shm *m, unsigned slot, const struct metrics_snapshot *own,
		     struct metrics_snapshot *out, struct metrics_snapshot *scratch, struct metrics_workers *w)
{
	unsigned i;
	size_t k;
	memcpy(out, own, offsetof(struct metrics_snapshot, eps) + own->neps * sizeof(own->eps[0]));
	memset(w, 0, sizeof(*w));
	w->n = m->n;
	w->restarts = m->restarts;
	w->started_ms = m->started_ms;
	w->requests[slot] = requests_of(&own->c);
	for (i = 0; i < m->n; i++) {
		if (i == slot)
			continue;
		read_slot(&m->slots[i], scratch);
		add_snapshot(out, scratch);
		if (i < sizeof(w->requests) / sizeof(w->requests[0]))
			w->requests[i] = requests_of(&scratch->c);
	}
	add_counters(&out->c, &m->retired);
	for (k = 0; k < m->retired_neps; k++) {
		struct metrics_endpoint *to = endpoint_in(out->eps, &out->neps, METRICS_SHM_ENDPOINTS, k, &m->retired_eps[k]);
		if (to)
			add_endpoint_counters(to, &m->retired_eps[k]);
	}
}

void metrics_shm_sum(struct metrics_shm *m, unsigned slot, const struct metrics_snapshot *own,
		     struct metrics_snapshot *out, struct metrics_snapshot *scratch, struct metrics_workers *w)
{
	unsigned before, tries;
	metrics_shm_publish(m, slot, own);
	for (tries = 0; tries < READ_TRIES; tries++) {
		before = atomic_load_explicit(&m->seq, memory_order_acquire);
		sum_once(m, slot, own, out, scratch, w);
		atomic_thread_fence(memory_order_acquire);
		if (!(before & 1) && atomic_load_explicit(&m->seq, memory_order_relaxed) == before)
			return;
	}
}
