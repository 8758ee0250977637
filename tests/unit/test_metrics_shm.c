/* metrics_shm: sums over worker slots, endpoints matched by name, a
 * retired worker's counters kept, and a fork()ed writer seen. */
#include "unit.h"

#include "edgehook/metrics_shm.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct metrics_snapshot *snap(uint64_t requests, uint64_t open, const char *ep, uint64_t delivered)
{
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	s->c.requests[2] = requests;
	s->c.trig.accepted = requests;
	s->g.connections_open = open;
	if (ep) {
		snprintf(s->eps[0].name, sizeof(s->eps[0].name), "%s", ep);
		s->eps[0].delivered = delivered;
		s->eps[0].in_flight = 1;
		s->neps = 1;
	}
	return s;
}

static const struct metrics_endpoint *find(const struct metrics_snapshot *s, const char *name)
{
	size_t i;
	for (i = 0; i < s->neps; i++)
		if (strcmp(s->eps[i].name, name) == 0)
			return &s->eps[i];
	return NULL;
}

struct sums {
	struct metrics_snapshot *out, *scratch;
	struct metrics_workers w;
};

static void sum(struct metrics_shm *m, unsigned slot, const struct metrics_snapshot *own, struct sums *s)
{
	metrics_shm_sum(m, slot, own, s->out, s->scratch, &s->w);
}

TEST(sums_slots_and_endpoints_by_name)
{
	struct metrics_shm *m = metrics_shm_new(3, 1000);
	struct metrics_snapshot *a = snap(5, 2, "a", 4), *b = snap(7, 1, "b", 3), *c = snap(1, 0, "a", 1);
	struct sums s = {calloc(1, sizeof(*s.out)), calloc(1, sizeof(*s.scratch)), {0}};
	CHECK(m != NULL);
	metrics_shm_publish(m, 1, b);
	metrics_shm_publish(m, 2, c);
	sum(m, 0, a, &s);
	CHECK_EQ_INT(s.out->c.requests[2], 13);
	CHECK_EQ_INT(s.out->c.trig.accepted, 13);
	CHECK_EQ_INT(s.out->g.connections_open, 3);
	CHECK_EQ_INT(s.out->neps, 2);
	CHECK_EQ_INT(find(s.out, "a")->delivered, 5);
	CHECK_EQ_INT(find(s.out, "a")->in_flight, 2);
	CHECK_EQ_INT(find(s.out, "b")->delivered, 3);
	CHECK_EQ_INT(s.w.n, 3);
	CHECK_EQ_INT(s.w.requests[0], 5);
	CHECK_EQ_INT(s.w.requests[1], 7);
	CHECK_EQ_INT(s.w.requests[2], 1);
	CHECK_EQ_INT(s.w.started_ms, 1000);
	/* the answering worker's own snapshot replaces what its slot held */
	a->c.requests[2] = 6;
	sum(m, 0, a, &s);
	CHECK_EQ_INT(s.out->c.requests[2], 14);
	free(a);
	free(b);
	free(c);
	free(s.out);
	free(s.scratch);
	metrics_shm_free(m);
}

TEST(retired_worker_counters_stay_gauges_go)
{
	struct metrics_shm *m = metrics_shm_new(2, 0);
	struct metrics_snapshot *a = snap(5, 2, "a", 4), *b = snap(7, 3, "a", 3), *fresh = snap(1, 1, NULL, 0);
	struct sums s = {calloc(1, sizeof(*s.out)), calloc(1, sizeof(*s.scratch)), {0}};
	metrics_shm_publish(m, 1, b);
	metrics_shm_retire(m, 1);
	sum(m, 0, a, &s);
	CHECK_EQ_INT(s.out->c.requests[2], 12);
	CHECK_EQ_INT(s.out->g.connections_open, 2);
	CHECK_EQ_INT(find(s.out, "a")->delivered, 7);
	CHECK_EQ_INT(s.w.restarts, 1);
	CHECK_EQ_INT(s.w.requests[1], 0);
	/* the replacement starts from zero: the sum does not go back */
	metrics_shm_publish(m, 1, fresh);
	sum(m, 0, a, &s);
	CHECK_EQ_INT(s.out->c.requests[2], 13);
	CHECK_EQ_INT(s.w.requests[1], 1);
	free(a);
	free(b);
	free(fresh);
	free(s.out);
	free(s.scratch);
	metrics_shm_free(m);
}

TEST(forked_writer_is_seen)
{
	struct metrics_shm *m = metrics_shm_new(2, 0);
	struct metrics_snapshot *own = snap(0, 0, NULL, 0), *child = snap(42, 0, "x", 9);
	struct sums s = {calloc(1, sizeof(*s.out)), calloc(1, sizeof(*s.scratch)), {0}};
	int status = -1;
	pid_t pid = fork();
	if (pid == 0) {
		metrics_shm_publish(m, 1, child);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && status == 0);
	sum(m, 0, own, &s);
	CHECK_EQ_INT(s.out->c.requests[2], 42);
	CHECK_EQ_INT(find(s.out, "x")->delivered, 9);
	free(own);
	free(child);
	free(s.out);
	free(s.scratch);
	metrics_shm_free(m);
}

int main(void)
{
	RUN(sums_slots_and_endpoints_by_name);
	RUN(retired_worker_counters_stay_gauges_go);
	RUN(forked_writer_is_seen);
	return unit_done();
}
