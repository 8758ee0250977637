#include "edgehook/reactor.h"
#include "edgehook/clock.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct handler {
	reactor_io_fn fn;
	void *arg;
	uint32_t gen;
	int active;
};

enum { LANES = 8 };

/* Timers of one duration, in start order, which is deadline order. */
struct lane {
	uint64_t delay;
	struct timer *head, *tail;
	size_t count;
};

struct reactor {
	int epfd;
	struct lane lanes[LANES];
	int stopped;
	struct handler *handlers;
	size_t nhandlers;
	uint32_t next_gen;
	struct timer *heap; /* root of the pairing heap */
	size_t heap_len;
	int sigfd;
	reactor_signal_fn sig_fn;
	void *sig_arg;
	struct list deferred; /* struct defer, in queue order */
	reactor_timer_fn after_fn;
	void *after_arg;
};

struct reactor *reactor_new(void)
{
	struct reactor *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		free(r);
		return NULL;
	}
	r->sigfd = -1;
	list_init(&r->deferred);
	clock_update();
	return r;
}

void reactor_free(struct reactor *r)
{
	if (!r)
		return;
	if (r->sigfd >= 0)
		close(r->sigfd);
	close(r->epfd);
	free(r->handlers);
	free(r);
}

static int grow_handlers(struct reactor *r, size_t fd)
{
	size_t n = r->nhandlers ? r->nhandlers : 64;
	struct handler *h;
	while (n <= fd)
		n *= 2;
	h = realloc(r->handlers, n * sizeof(*h));
	if (!h)
		return -1;
	memset(h + r->nhandlers, 0, (n - r->nhandlers) * sizeof(*h));
	r->handlers = h;
	r->nhandlers = n;
	return 0;
}

static int ctl(struct reactor *r, int op, int fd, uint32_t events)
{
	struct epoll_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)r->handlers[fd].gen << 32);
	return epoll_ctl(r->epfd, op, fd, &ev);
}

int reactor_add(struct reactor *r, int fd, uint32_t events, reactor_io_fn fn, void *arg)
{
	struct handler *h;
	if (fd < 0)
		return -1;
	if ((size_t)fd >= r->nhandlers && grow_handlers(r, (size_t)fd) < 0)
		return -1;
	h = &r->handlers[fd];
	h->fn = fn;
	h->arg = arg;
	h->gen = ++r->next_gen;
	h->active = 1;
	if (ctl(r, EPOLL_CTL_ADD, fd, events) < 0) {
		h->active = 0;
		return -1;
	}
	return 0;
}

int reactor_set_events(struct reactor *r, int fd, uint32_t events)
{
	if (fd < 0 || (size_t)fd >= r->nhandlers || !r->handlers[fd].active)
		return -1;
	return ctl(r, EPOLL_CTL_MOD, fd, events);
}

void reactor_del(struct reactor *r, int fd)
{
	if (fd < 0 || (size_t)fd >= r->nhandlers || !r->handlers[fd].active)
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
	r->handlers[fd].active = 0;
	r->handlers[fd].fn = NULL;
}

void reactor_close(struct reactor *r, int *fd)
{
	if (*fd < 0)
		return;
	reactor_del(r, *fd);
	close(*fd);
	*fd = -1;
}

/* ---- timers off the lanes: a pairing heap linked through the timers
 * themselves (child, prev = parent or left sibling, next = right
 * sibling), so starting a timer never allocates and cannot fail ---- */

/* Links two roots; the later deadline becomes the other's first child. */
static struct timer *meld(struct timer *a, struct timer *b)
{
	struct timer *tmp;
	if (!a)
		return b;
	if (!b)
		return a;
	if (b->deadline < a->deadline) {
		tmp = a;
		a = b;
		b = tmp;
	}
	b->prev = a;
	b->next = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	return a;
}

/* Melds a sibling list into one root: pairs left to right, then the
 * pairs right to left. Iterative, however long the list is. */
static struct timer *merge_siblings(struct timer *first)
{
	struct timer *pairs = NULL, *root = NULL;
	while (first) {
		struct timer *a = first, *b = first->next;
		first = b ? b->next : NULL;
		a->prev = a->next = NULL;
		if (b)
			b->prev = b->next = NULL;
		a = meld(a, b);
		a->next = pairs;
		pairs = a;
	}
	while (pairs) {
		struct timer *next = pairs->next;
		pairs->next = NULL;
		root = meld(root, pairs);
		pairs = next;
	}
	return root;
}

static void heap_insert(struct reactor *r, struct timer *t)
{
	t->child = t->prev = t->next = NULL;
	t->lane = TIMER_IN_HEAP;
	r->heap = meld(r->heap, t);
	r->heap_len++;
}

static void heap_remove(struct reactor *r, struct timer *t)
{
	struct timer *sub = merge_siblings(t->child);
	if (t == r->heap) {
		r->heap = sub;
	} else {
		if (t->prev->child == t)
			t->prev->child = t->next;
		else
			t->prev->next = t->next;
		if (t->next)
			t->next->prev = t->prev;
		r->heap = meld(r->heap, sub);
	}
	t->child = t->prev = t->next = NULL;
	t->lane = TIMER_IDLE;
	r->heap_len--;
}

void timer_init(struct timer *t, reactor_timer_fn fn, void *arg)
{
	t->deadline = 0;
	t->lane = TIMER_IDLE;
	t->prev = t->next = t->child = NULL;
	t->fn = fn;
	t->arg = arg;
}

static void lane_remove(struct reactor *r, struct timer *t)
{
	struct lane *l = &r->lanes[t->lane];
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->prev = t->next = NULL;
	t->lane = TIMER_IDLE;
	l->count--;
}

/* The lane for this delay: an existing one, or a free (empty) one. */
static int lane_for(struct reactor *r, uint64_t delay)
{
	int i, free_lane = -1;
	for (i = 0; i < LANES; i++) {
		if (r->lanes[i].count && r->lanes[i].delay == delay)
			return i;
		if (!r->lanes[i].count && free_lane < 0)
			free_lane = i;
	}
	if (free_lane >= 0)
		r->lanes[free_lane].delay = delay;
	return free_lane;
}

void timer_stop(struct reactor *r, struct timer *t)
{
	if (t->lane >= 0)
		lane_remove(r, t);
	else if (t->lane == TIMER_IN_HEAP)
		heap_remove(r, t);
}

void timer_start(struct reactor *r, struct timer *t, uint64_t delay_ms)
{
	int lane;
	timer_stop(r, t);
	t->deadline = clock_now_ms() + delay_ms;
	lane = lane_for(r, delay_ms);
	if (lane >= 0) {
		/* same delay, later start: never earlier than the tail */
		struct lane *l = &r->lanes[lane];
		t->lane = lane;
		t->prev = l->tail;
		t->next = NULL;
		if (l->tail)
			l->tail->next = t;
		else
			l->head = t;
		l->tail = t;
		l->count++;
		return;
	}
	heap_insert(r, t);
}

size_t reactor_timer_count(const struct reactor *r)
{
	size_t n = r->heap_len;
	int i;
	for (i = 0; i < LANES; i++)
		n += r->lanes[i].count;
	return n;
}

/* The armed timer with the earliest deadline, or NULL. */
static struct timer *earliest(struct reactor *r)
{
	struct timer *best = r->heap;
	int i;
	for (i = 0; i < LANES; i++) {
		struct timer *h = r->lanes[i].head;
		if (h && (!best || h->deadline < best->deadline))
			best = h;
	}
	return best;
}

static void run_timers(struct reactor *r)
{
	uint64_t now = clock_now_ms();
	struct timer *t;
	while ((t = earliest(r)) != NULL && t->deadline <= now) {
		timer_stop(r, t);
		t->fn(t->arg);
	}
}

static int next_timeout(struct reactor *r, int max_wait_ms)
{
	uint64_t now = clock_now_ms(), wait;
	struct timer *t = earliest(r);
	if (!list_empty(&r->deferred))
		return 0;
	if (!t)
		return max_wait_ms;
	wait = t->deadline > now ? t->deadline - now : 0;
	if (max_wait_ms >= 0 && wait > (uint64_t)max_wait_ms)
		return max_wait_ms;
	return wait > 60000 ? 60000 : (int)wait;
}

/* ---- deferred calls ---- */

void defer_init(struct defer *d, reactor_timer_fn fn, void *arg)
{
	list_init(&d->link);
	d->fn = fn;
	d->arg = arg;
}

void reactor_defer(struct reactor *r, struct defer *d)
{
	if (!defer_pending(d))
		list_push_back(&r->deferred, &d->link);
}

/* Runs what was queued when it started: calls queued meanwhile wait for
 * the next iteration, so a call that queues itself cannot starve I/O. */
static void run_deferred(struct reactor *r)
{
	struct list batch;
	list_take_all(&batch, &r->deferred);
	while (!list_empty(&batch)) {
		struct defer *d = list_entry(batch.next, struct defer, link);
		list_remove(&d->link);
		d->fn(d->arg);
	}
}

/* ---- signals ---- */

static void on_signalfd(void *arg, int fd, uint32_t events)
{
	struct reactor *r = arg;
	struct signalfd_siginfo si[8];
	ssize_t n;
	(void)events;
	while ((n = read(fd, si, sizeof(si))) > 0) {
		size_t i;
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++)
			r->sig_fn(r->sig_arg, (int)si[i].ssi_signo);
	}
}

int reactor_signals(struct reactor *r, const int *signals, size_t n, reactor_signal_fn fn, void *arg)
{
	sigset_t set;
	size_t i;
	sigemptyset(&set);
	for (i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sigfd < 0)
		return -1;
	r->sig_fn = fn;
	r->sig_arg = arg;
	return reactor_add(r, r->sigfd, EPOLLIN, on_signalfd, r);
}

/* ---- loop ---- */

int reactor_poll(struct reactor *r, int max_wait_ms)
{
	struct epoll_event events[256];
	int n, i;
	n = epoll_wait(r->epfd, events, 256, next_timeout(r, max_wait_ms));
	clock_update();
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -1;
	}
	for (i = 0; i < n; i++) {
		int fd = (int)(uint32_t)events[i].data.u64;
		uint32_t gen = (uint32_t)(events[i].data.u64 >> 32);
		struct handler *h;
		if ((size_t)fd >= r->nhandlers)
			continue;
		h = &r->handlers[fd];
		if (!h->active || h->gen != gen)
			continue;
		h->fn(h->arg, fd, events[i].events);
	}
	run_timers(r);
	run_deferred(r);
	if (r->after_fn)
		r->after_fn(r->after_arg);
	return 0;
}

void reactor_after_each(struct reactor *r, reactor_timer_fn fn, void *arg)
{
	r->after_fn = fn;
	r->after_arg = arg;
}

int reactor_run(struct reactor *r)
{
	r->stopped = 0;
	while (!r->stopped)
		if (reactor_poll(r, -1) < 0)
			return -1;
	return 0;
}

void reactor_stop(struct reactor *r) { r->stopped = 1; }
