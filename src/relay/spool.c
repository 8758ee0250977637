#include "edgehook/spool_internal.h"
#include "edgehook/grow.h"
#include "edgehook/clock.h"
#include "edgehook/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A held segment older than CARRY_AGE_MS with at most CARRY_HOLDS
 * holds blocks the deletion of everything newer: its owners are asked to
 * carry their records forward (spool_on_carry). */
enum { SWEEP_MS = 1000, BATCH_MAX = SPOOL_HEADER + SPOOL_RECORD_MAX, CARRY_AGE_MS = 1000, CARRY_HOLDS = 64 };

struct spool {
	struct reactor *r;
	struct spool_cfg cfg;
	char *dir;
	struct spool_seg *segs; /* ascending seq; the last one is written to */
	size_t nsegs, capsegs;
	uint64_t bytes;         /* in segments, including what is batched */
	struct spool_job jobs[2];
	struct spool_job *pending;  /* filling during this iteration */
	struct spool_job *inflight; /* with the I/O thread, or NULL */
	uint64_t next_lsn;
	uint64_t written_lsn; /* every lsn up to here has been through the disk */
	struct spool_waiter *whead, *wtail;
	struct defer kick;
	struct timer sync_tick, sweep;
	int want_sync; /* something written is not synced yet, and should be */
	int failing; /* the last batch failed: logged once until one succeeds */
	spool_carry_fn carry;
	void *carry_arg;
	struct spool_io io;
	struct spool_recovery rec;
	struct {
		uint64_t appended, full, flushes, fsyncs, write_errors, deleted, unlink_errors, sweeps, carries;
	} st;
};

static void job_reset(struct spool_job *job)
{
	job->data.len = 0;
	job->nchunks = 0;
	job->nunlinks = 0;
	job->sync = 0;
	job->durable = 0;
	job->first_lsn = job->last_lsn = 0;
}

static void job_free(struct spool_job *job)
{
	buf_free(&job->data);
	free(job->chunks);
	free(job->unlinks);
}

static int job_empty(const struct spool_job *job) { return job->nchunks == 0 && job->nunlinks == 0; }

static struct spool_seg *active(struct spool *s) { return &s->segs[s->nsegs - 1]; }

static struct spool_seg *find_seg(struct spool *s, uint64_t seq)
{
	size_t lo = 0, hi = s->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->segs[mid].seq == seq)
			return &s->segs[mid];
		if (s->segs[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int add_segment(struct spool *s, uint64_t seq)
{
	if (array_grow((void **)&s->segs, &s->capsegs, s->nsegs, sizeof(*s->segs), 8) < 0)
		return -1;
	memset(&s->segs[s->nsegs], 0, sizeof(s->segs[0]));
	s->segs[s->nsegs].seq = seq;
	s->segs[s->nsegs].idle_since = clock_wall_ms();
	s->nsegs++;
	return 0;
}

static void submit(struct spool *s)
{
	struct spool_job *job = s->pending;
	if (s->inflight || (job_empty(job) && !s->want_sync))
		return;
	job->sync = (s->cfg.fsync == SPOOL_FSYNC_ALWAYS && job->durable) || s->want_sync;
	if (job->sync)
		s->want_sync = 0;
	s->inflight = job;
	s->pending = job == &s->jobs[0] ? &s->jobs[1] : &s->jobs[0];
	job_reset(s->pending);
	spool_io_submit(&s->io, job);
}

static void on_kick(void *arg) { submit(arg); }

static void on_sync_tick(void *arg)
{
	struct spool *s = arg;
	s->want_sync = 1;
	submit(s);
}

static void notify_waiters(struct spool *s, uint64_t ok_lsn)
{
	struct spool_waiter *w;
	while ((w = s->whead) != NULL && w->lsn <= s->written_lsn) {
		spool_wait_cancel(s, w);
		w->fn(w->arg, w->lsn <= ok_lsn ? 0 : -1);
	}
}

/* Accounts a finished job: bytes of chunks that failed were cut off the
 * file again and leave the log's size; their writers hear -1. */
static void complete(struct spool *s, struct spool_job *job, int notify)
{
	uint64_t ok_lsn = job->last_lsn;
	size_t i;
	s->st.flushes++;
	if (job->synced)
		s->st.fsyncs++;
	if (job->err) {
		s->st.write_errors++;
		if (!s->failing)
			log_msg(LOG_WARN, "spool: write failed", "dir", s->dir, "err", strerror(job->err), NULL);
		s->failing = 1;
		if (job->nchunks)
			ok_lsn = job->failed_chunk ? job->chunks[job->failed_chunk - 1].last_lsn : job->first_lsn - 1;
		for (i = job->failed_chunk; i < job->nchunks; i++) {
			struct spool_seg *g = find_seg(s, job->chunks[i].seq);
			if (g)
				g->bytes -= job->chunks[i].len;
			s->bytes -= job->chunks[i].len;
		}
	}
	else if (s->failing && job->nchunks) {
		s->failing = 0;
		log_msg(LOG_INFO, "spool: writing again", "dir", s->dir, NULL);
	}
	if (job->unlink_errors) {
		s->st.unlink_errors += job->unlink_errors;
		log_msg(LOG_WARN, "spool: could not delete an expired segment", "dir", s->dir, NULL);
	}
	if (job->synced)
		timer_stop(s->r, &s->sync_tick); /* it took everything before it along */
	/* interval: what was written is synced within interval; always: so
	 * are lazy records that no synced batch took along */
	if (s->cfg.fsync != SPOOL_FSYNC_OFF && job->nchunks && !job->synced && !timer_armed(&s->sync_tick))
		timer_start(s->r, &s->sync_tick, s->cfg.interval_ms);
	if (job->nchunks)
		s->written_lsn = job->last_lsn;
	if (notify)
		notify_waiters(s, ok_lsn);
}

static void on_done(void *arg, int fd, uint32_t events)
{
	struct spool *s = arg;
	struct spool_job *job = spool_io_collect(&s->io);
	(void)fd;
	(void)events;
	if (!job)
		return;
	s->inflight = NULL;
	complete(s, job, 1);
	submit(s);
}

/* Oldest first, never past a held segment, never the one written to. */
static void on_sweep(void *arg)
{
	struct spool *s = arg;
	uint64_t now = clock_wall_ms();
	size_t n = 0;
	s->st.sweeps++;
	while (n + 1 < s->nsegs && s->segs[n].holds == 0 && now - s->segs[n].idle_since >= s->cfg.retention_ms) {
		struct spool_job *job = s->pending;
		if (array_grow((void **)&job->unlinks, &job->capunlinks, job->nunlinks, sizeof(*job->unlinks), 8) < 0)
			break;
		job->unlinks[job->nunlinks++] = s->segs[n].seq;
		s->bytes -= s->segs[n].bytes;
		s->st.deleted++;
		n++;
	}
	if (n) {
		memmove(s->segs, s->segs + n, (s->nsegs - n) * sizeof(*s->segs));
		s->nsegs -= n;
		submit(s);
	}
	if (s->carry && s->nsegs > 2 && s->segs[0].holds && s->segs[0].holds <= CARRY_HOLDS &&
	    now - s->segs[0].idle_since >= CARRY_AGE_MS) {
		s->st.carries++;
		s->carry(s->carry_arg, s->segs[0].seq);
	}
	timer_start(s->r, &s->sweep, SWEEP_MS);
}

static int append(struct spool *s, unsigned type, const void *p, size_t n, uint64_t *seg, uint64_t *lsn, int durable)
{
	struct spool_job *job = s->pending;
	struct spool_chunk *c;
	size_t need = SPOOL_HEADER + n;
	if (type == 0 || type > 255 || n > SPOOL_RECORD_MAX)
		return -1;
	if (s->bytes + need > s->cfg.max_bytes || job->data.len + need > job->data.max)
		goto full;
	if (active(s)->bytes && active(s)->bytes + need > s->cfg.segment_bytes) {
		if (add_segment(s, active(s)->seq + 1) < 0)
			goto full;
		s->segs[s->nsegs - 2].idle_since = clock_wall_ms();
	}
	c = job->nchunks ? &job->chunks[job->nchunks - 1] : NULL;
	if (!c || c->seq != active(s)->seq) {
		if (array_grow((void **)&job->chunks, &job->capchunks, job->nchunks, sizeof(*job->chunks), 8) < 0)
			goto full;
		c = &job->chunks[job->nchunks++];
		c->seq = active(s)->seq;
		c->len = 0;
	}
	if (spool_frame(&job->data, type, p, n) < 0) {
		if (c->len == 0)
			job->nchunks--;
		goto full;
	}
	c->len += need;
	c->last_lsn = job->last_lsn = ++s->next_lsn;
	if (!job->first_lsn)
		job->first_lsn = job->last_lsn;
	active(s)->bytes += need;
	s->bytes += need;
	s->st.appended++;
	job->durable |= durable;
	if (seg)
		*seg = active(s)->seq;
	if (lsn)
		*lsn = job->last_lsn;
	reactor_defer(s->r, &s->kick);
	return 0;
full:
	s->st.full++;
	return -2;
}

int spool_append(struct spool *s, unsigned type, const void *p, size_t n, uint64_t *seg, uint64_t *lsn)
{
	return append(s, type, p, n, seg, lsn, 1);
}

int spool_append_lazy(struct spool *s, unsigned type, const void *p, size_t n, uint64_t *seg, uint64_t *lsn)
{
	return append(s, type, p, n, seg, lsn, 0);
}

int spool_fits(const struct spool *s, size_t bytes, size_t n)
{
	uint64_t need = (uint64_t)bytes + (uint64_t)n * SPOOL_HEADER;
	return s->bytes + need <= s->cfg.max_bytes && s->pending->data.len + need <= s->pending->data.max;
}

int spool_fits_ever(const struct spool *s, size_t bytes, size_t n)
{
	uint64_t need = (uint64_t)bytes + (uint64_t)n * SPOOL_HEADER;
	return need <= s->cfg.max_bytes && need <= s->pending->data.max;
}

int spool_wait(struct spool *s, struct spool_waiter *w, uint64_t lsn, spool_done_fn fn, void *arg)
{
	struct spool_waiter *at = s->wtail;
	if (lsn <= s->written_lsn)
		return 1;
	w->lsn = lsn;
	w->fn = fn;
	w->arg = arg;
	while (at && at->lsn > lsn)
		at = at->prev;
	w->prev = at;
	w->next = at ? at->next : s->whead;
	if (w->next)
		w->next->prev = w;
	else
		s->wtail = w;
	if (at)
		at->next = w;
	else
		s->whead = w;
	w->linked = 1;
	return 0;
}

void spool_wait_cancel(struct spool *s, struct spool_waiter *w)
{
	if (!w->linked)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		s->whead = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		s->wtail = w->prev;
	w->prev = w->next = NULL;
	w->linked = 0;
}

void spool_hold(struct spool *s, uint64_t seq)
{
	struct spool_seg *g = find_seg(s, seq);
	if (g)
		g->holds++;
}

void spool_release(struct spool *s, uint64_t seq)
{
	struct spool_seg *g = find_seg(s, seq);
	if (g && g->holds && --g->holds == 0)
		g->idle_since = clock_wall_ms();
}

int spool_fsync(const struct spool *s) { return s->cfg.fsync; }
uint64_t spool_bytes(const struct spool *s) { return s->bytes; }
size_t spool_segment_count(const struct spool *s) { return s->nsegs; }
const struct spool_recovery *spool_recovery(const struct spool *s) { return &s->rec; }

void spool_stats(const struct spool *s, struct spool_stats *out)
{
	out->bytes = s->bytes;
	out->segments = s->nsegs;
	out->appended = s->st.appended;
	out->full = s->st.full;
	out->flushes = s->st.flushes;
	out->fsyncs = s->st.fsyncs;
	out->write_errors = s->st.write_errors;
	out->deleted = s->st.deleted;
	out->recovered = s->rec.records;
	out->corrupt = s->rec.corrupt;
	out->sweeps = s->st.sweeps;
	out->carries = s->st.carries;
}

void spool_on_carry(struct spool *s, spool_carry_fn fn, void *arg)
{
	s->carry = fn;
	s->carry_arg = arg;
}

/* Writability is proven by creating a file, not by access(2): that is
 * what a read-only mount or a full inode table refuse. */
static int open_dir(struct spool *s, struct buf *errors)
{
	int fd;
	if (mkdir(s->dir, 0700) < 0 && errno != EEXIST) {
		buf_printf(errors, "spool directory %s cannot be created: %s", s->dir, strerror(errno));
		return -1;
	}
	s->io.dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->io.dirfd < 0) {
		buf_printf(errors, "spool directory %s cannot be opened: %s", s->dir, strerror(errno));
		return -1;
	}
	fd = openat(s->io.dirfd, ".probe", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		buf_printf(errors, "spool directory %s is not writable: %s", s->dir, strerror(errno));
		return -1;
	}
	close(fd);
	unlinkat(s->io.dirfd, ".probe", 0);
	return 0;
}

static void log_recovery(const struct spool *s)
{
	char v[5][24];
	snprintf(v[0], sizeof(v[0]), "%llu", (unsigned long long)s->rec.segments);
	snprintf(v[1], sizeof(v[1]), "%llu", (unsigned long long)s->rec.records);
	snprintf(v[2], sizeof(v[2]), "%llu", (unsigned long long)s->rec.corrupt);
	snprintf(v[3], sizeof(v[3]), "%llu", (unsigned long long)s->rec.truncated_bytes);
	snprintf(v[4], sizeof(v[4]), "%llu", (unsigned long long)s->rec.ms);
	log_msg(LOG_INFO, "spool recovered", "dir", s->dir, "segments", v[0], "records", v[1], "corrupt", v[2],
		"truncated_bytes", v[3], "ms", v[4], NULL);
}

int spool_open(struct reactor *r, const struct spool_cfg *cfg, spool_replay_fn fn, void *arg, struct spool **out,
	       struct buf *errors)
{
	struct spool *s = calloc(1, sizeof(*s));
	const char *delay = getenv("EDGEHOOK_TEST_SPOOL_DELAY_MS");
	if (!s || !(s->dir = strdup(cfg->dir))) {
		buf_puts(errors, "out of memory");
		goto fail;
	}
	s->r = r;
	s->cfg = *cfg;
	s->cfg.dir = s->dir;
	s->io.dirfd = -1;
	s->io.efd = -1;
	s->io.fsync_mode = cfg->fsync;
	buf_init(&s->jobs[0].data, BATCH_MAX);
	buf_init(&s->jobs[1].data, BATCH_MAX);
	s->pending = &s->jobs[0];
	defer_init(&s->kick, on_kick, s);
	timer_init(&s->sync_tick, on_sync_tick, s);
	timer_init(&s->sweep, on_sweep, s);
	if (open_dir(s, errors) < 0)
		goto fail;
	if (spool_recover_dir(s->io.dirfd, fn, arg, &s->segs, &s->nsegs, &s->rec, errors) < 0)
		goto fail;
	s->capsegs = s->nsegs;
	s->bytes = s->rec.bytes;
	if (s->nsegs == 0 && add_segment(s, 1) < 0) {
		buf_puts(errors, "out of memory");
		goto fail;
	}
	if (delay && *delay) {
		s->io.delay_ms = strtoull(delay, NULL, 10);
		log_msg(LOG_WARN, "spool flushes delayed by EDGEHOOK_TEST_SPOOL_DELAY_MS (test only)", "ms", delay, NULL);
	}
	if (spool_io_start(&s->io) < 0 || reactor_add(r, s->io.efd, EPOLLIN, on_done, s) < 0) {
		buf_printf(errors, "cannot start the spool I/O thread: %s", strerror(errno));
		goto fail;
	}
	timer_start(r, &s->sweep, SWEEP_MS);
	log_recovery(s);
	*out = s;
	return 0;
fail:
	spool_free(s);
	return -1;
}

/* Shutdown only: blocks until the batch with the I/O thread is back. */
static void drain(struct spool *s)
{
	while (s->inflight || !job_empty(s->pending) || s->want_sync) {
		struct pollfd p = {s->io.efd, POLLIN, 0};
		struct spool_job *job;
		submit(s);
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return;
		if ((job = spool_io_collect(&s->io)) != NULL) {
			s->inflight = NULL;
			complete(s, job, 0);
		}
	}
}

void spool_free(struct spool *s)
{
	if (!s)
		return;
	s->whead = s->wtail = NULL; /* their owners are going away too */
	if (s->io.started) {
		defer_cancel(&s->kick);
		timer_stop(s->r, &s->sync_tick);
		timer_stop(s->r, &s->sweep);
		s->want_sync = s->cfg.fsync != SPOOL_FSYNC_OFF;
		drain(s);
		reactor_del(s->r, s->io.efd);
		spool_io_stop(&s->io);
	}
	if (s->io.dirfd >= 0)
		close(s->io.dirfd);
	job_free(&s->jobs[0]);
	job_free(&s->jobs[1]);
	free(s->segs);
	free(s->dir);
	free(s);
}
