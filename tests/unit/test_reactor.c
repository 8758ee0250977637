/* Reactor: timer ordering and cancellation, fd events, stale events for
 * reused descriptors, signals through signalfd. */
#include "unit.h"

#include "edgehook/clock.h"
#include "edgehook/reactor.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

static struct reactor *R;

/* Polls while cond holds, at most ~10 s of loop time: a timer that never
 * fires fails the CHECKs that follow instead of hanging the run. */
#define POLL_WHILE(cond)                                              \
	do {                                                          \
		int poll_rounds = 0;                                  \
		while ((cond) && poll_rounds++ < 500)                 \
			reactor_poll(R, 20);                          \
	} while (0)
static int fired[16], nfired;

static void on_timer(void *arg)
{
	fired[nfired++] = (int)(long)arg;
}

TEST(timers_fire_in_deadline_order)
{
	struct timer t[5];
	static const int delays[5] = {40, 10, 30, 0, 20};
	int i;
	nfired = 0;
	for (i = 0; i < 5; i++) {
		timer_init(&t[i], on_timer, (void *)(long)delays[i]);
		timer_start(R, &t[i], (uint64_t)delays[i]);
	}
	POLL_WHILE(nfired < 5);
	for (i = 0; i < 5; i++)
		CHECK_EQ_INT(fired[i], i * 10);
	CHECK_EQ_INT(reactor_timer_count(R), 0);
}

TEST(timer_stop_and_restart)
{
	struct timer a, b, c;
	nfired = 0;
	timer_init(&a, on_timer, (void *)1L);
	timer_init(&b, on_timer, (void *)2L);
	timer_init(&c, on_timer, (void *)3L);
	timer_start(R, &a, 5);
	timer_start(R, &b, 10);
	timer_start(R, &c, 15);
	timer_stop(R, &a);
	CHECK(!timer_armed(&a));
	timer_start(R, &b, 30); /* restart moves it after c */
	POLL_WHILE(nfired < 2);
	CHECK_EQ_INT(fired[0], 3);
	CHECK_EQ_INT(fired[1], 2);
	timer_stop(R, &a); /* stopping an idle timer is harmless */
}

static uint64_t fired_deadlines[3000];
static int nfired_deadlines;

static void record_deadline(void *arg)
{
	fired_deadlines[nfired_deadlines++] = ((struct timer *)arg)->deadline;
}

TEST(many_timers_heap_consistent)
{
	enum { N = 2000 };
	struct timer *t = calloc(N, sizeof(*t));
	int i, sorted = 1;
	nfired_deadlines = 0;
	for (i = 0; i < N; i++) {
		timer_init(&t[i], record_deadline, &t[i]);
		timer_start(R, &t[i], (uint64_t)((i * 7919) % 300));
	}
	for (i = 0; i < N; i += 3)
		timer_stop(R, &t[i]);
	CHECK_EQ_INT(reactor_timer_count(R), N - (N + 2) / 3);
	POLL_WHILE(reactor_timer_count(R) > 0);
	CHECK_EQ_INT(nfired_deadlines, N - (N + 2) / 3);
	for (i = 1; i < nfired_deadlines; i++)
		if (fired_deadlines[i] < fired_deadlines[i - 1])
			sorted = 0;
	CHECK(sorted);
	free(t);
}

/* timer_start has no failure to report: starting a timer, whatever its
 * delay, allocates nothing (ASan's allocator reports no mallinfo, so only
 * the release run can see a difference; the count is checked by both). */
TEST(timer_start_never_allocates)
{
	enum { N = 5000 };
	struct timer *t = calloc(N, sizeof(*t));
	struct mallinfo2 before, after;
	int i;
	for (i = 0; i < N; i++)
		timer_init(&t[i], on_timer, NULL);
	before = mallinfo2();
	for (i = 0; i < N; i++)
		timer_start(R, &t[i], 60000 + (uint64_t)i); /* distinct: past the lanes */
	after = mallinfo2();
	CHECK_EQ_INT(after.uordblks, before.uordblks);
	CHECK_EQ_INT(reactor_timer_count(R), N);
	for (i = 0; i < N; i++)
		timer_stop(R, &t[i]);
	CHECK_EQ_INT(reactor_timer_count(R), 0);
	free(t);
}

/* Random starts, restarts and stops against a model: exactly the armed
 * timers fire, in deadline order. */
TEST(timers_random_operations_match_model)
{
	enum { N = 3000, OPS = 20000 };
	struct timer *t = calloc(N, sizeof(*t));
	unsigned seed = 12345;
	int i, armed = 0, sorted = 1;
	for (i = 0; i < N; i++)
		timer_init(&t[i], record_deadline, &t[i]);
	for (i = 0; i < OPS; i++) {
		int k;
		seed = seed * 1103515245u + 12345u;
		k = (int)((seed >> 8) % N);
		if ((seed >> 4) % 3 == 0) {
			armed -= timer_armed(&t[k]);
			timer_stop(R, &t[k]);
		} else {
			armed += !timer_armed(&t[k]);
			timer_start(R, &t[k], (seed >> 12) % 97);
		}
	}
	CHECK_EQ_INT(reactor_timer_count(R), armed);
	nfired_deadlines = 0;
	POLL_WHILE(reactor_timer_count(R) > 0);
	CHECK_EQ_INT(nfired_deadlines, armed);
	for (i = 1; i < nfired_deadlines; i++)
		if (fired_deadlines[i] < fired_deadlines[i - 1])
			sorted = 0;
	CHECK(sorted);
	free(t);
}

TEST(lanes_keep_order_and_stop_in_middle)
{
	struct timer t[6];
	int i;
	nfired = 0;
	/* one delay: a lane; started in order 0..5, stop 2, restart 0 last */
	for (i = 0; i < 6; i++) {
		timer_init(&t[i], on_timer, (void *)(long)i);
		timer_start(R, &t[i], 20);
	}
	timer_stop(R, &t[2]);
	CHECK(!timer_armed(&t[2]));
	timer_start(R, &t[0], 20);
	CHECK_EQ_INT(reactor_timer_count(R), 5);
	POLL_WHILE(nfired < 5);
	CHECK_EQ_INT(fired[0], 1);
	CHECK_EQ_INT(fired[1], 3);
	CHECK_EQ_INT(fired[2], 4);
	CHECK_EQ_INT(fired[3], 5);
	CHECK_EQ_INT(fired[4], 0);
	CHECK_EQ_INT(reactor_timer_count(R), 0);
}

static int reads, other_called;
static int pipe_a[2], pipe_b[2];

static void on_other(void *arg, int fd, uint32_t ev)
{
	(void)arg; (void)fd; (void)ev;
	other_called++;
}

/* Closes the other pipe's read end and registers a fresh fd with the
 * same number: its already fetched event must not reach the new owner. */
static void on_first(void *arg, int fd, uint32_t ev)
{
	int victim = (int)(long)arg, p[2];
	char c;
	(void)ev;
	reads++;
	if (read(fd, &c, 1) < 0)
		return;
	reactor_del(R, victim);
	close(victim);
	if (pipe(p) == 0) {
		if (p[0] != victim) {
			int d = dup2(p[0], victim);
			close(p[0]);
			p[0] = d;
		}
		reactor_add(R, p[0], EPOLLIN, on_other, NULL);
		pipe_b[0] = p[0];
		close(pipe_b[1]);
		pipe_b[1] = p[1];
	}
}

TEST(stale_events_dropped)
{
	CHECK_EQ_INT(pipe(pipe_a), 0);
	CHECK_EQ_INT(pipe(pipe_b), 0);
	reads = other_called = 0;
	reactor_add(R, pipe_a[0], EPOLLIN, on_first, (void *)(long)pipe_b[0]);
	reactor_add(R, pipe_b[0], EPOLLIN, on_first, (void *)(long)pipe_a[0]);
	CHECK_EQ_INT(write(pipe_a[1], "x", 1), 1);
	CHECK_EQ_INT(write(pipe_b[1], "y", 1), 1);
	reactor_poll(R, 100);
	CHECK_EQ_INT(reads, 1);
	CHECK_EQ_INT(other_called, 0);
	reactor_del(R, pipe_a[0]);
	reactor_del(R, pipe_b[0]);
	close(pipe_a[0]); close(pipe_a[1]); close(pipe_b[0]); close(pipe_b[1]);
}

static int got_signal;
static void on_sig(void *arg, int signo)
{
	(void)arg;
	got_signal = signo;
}

TEST(signals_via_signalfd)
{
	static const int sigs[] = {SIGHUP};
	got_signal = 0;
	CHECK_EQ_INT(reactor_signals(R, sigs, 1, on_sig, NULL), 0);
	raise(SIGHUP);
	reactor_poll(R, 200);
	CHECK_EQ_INT(got_signal, SIGHUP);
}

static void stopper(void *arg) { reactor_stop(arg); }

TEST(run_until_stop)
{
	struct timer t;
	timer_init(&t, stopper, R);
	timer_start(R, &t, 5);
	CHECK_EQ_INT(reactor_run(R), 0);
}

static struct defer deferred[3];

static void on_deferred(void *arg)
{
	int i = (int)(long)arg;
	fired[nfired++] = i;
	/* queued from a deferred call: runs on the next iteration, not this one */
	if (i == 0)
		reactor_defer(R, &deferred[2]);
}

/* Deferred calls run from the loop, in queue order, once however often
 * they were queued, never inside reactor_defer; a cancelled one never
 * runs; the poll does not wait while calls are queued. */
TEST(defer_queue_runs_from_the_loop_in_order)
{
	int i;
	nfired = 0;
	for (i = 0; i < 3; i++)
		defer_init(&deferred[i], on_deferred, (void *)(long)i);
	reactor_defer(R, &deferred[1]);
	reactor_defer(R, &deferred[0]);
	reactor_defer(R, &deferred[1]);
	CHECK_EQ_INT(nfired, 0);
	CHECK(defer_pending(&deferred[1]));
	CHECK_EQ_INT(reactor_poll(R, 10000), 0);
	CHECK_EQ_INT(nfired, 2);
	CHECK_EQ_INT(fired[0], 1);
	CHECK_EQ_INT(fired[1], 0);
	CHECK(defer_pending(&deferred[2]));
	CHECK_EQ_INT(reactor_poll(R, 10000), 0);
	CHECK_EQ_INT(nfired, 3);
	CHECK_EQ_INT(fired[2], 2);
	reactor_defer(R, &deferred[1]);
	defer_cancel(&deferred[1]);
	CHECK(!defer_pending(&deferred[1]));
	CHECK_EQ_INT(reactor_poll(R, 0), 0);
	CHECK_EQ_INT(nfired, 3);
}

int main(void)
{
	R = reactor_new();
	RUN(timers_fire_in_deadline_order);
	RUN(timer_stop_and_restart);
	RUN(many_timers_heap_consistent);
	RUN(timer_start_never_allocates);
	RUN(timers_random_operations_match_model);
	RUN(lanes_keep_order_and_stop_in_middle);
	RUN(stale_events_dropped);
	RUN(signals_via_signalfd);
	RUN(run_until_stop);
	RUN(defer_queue_runs_from_the_loop_in_order);
	reactor_free(R);
	return unit_done();
}
