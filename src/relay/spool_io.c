/* The spool's I/O thread. It touches only the segment and directory file
 * descriptors and the job it was handed; it never logs and never looks
 * at relay state. */
#include "edgehook/spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The segment file for seq, opened for appending. A new file's directory
 * entry is synced too unless fsync is off: else a synced record could
 * sit in a file that does not exist after a power cut. */
static int segment_fd(struct spool_io *io, uint64_t seq)
{
	char name[32];
	if (io->fd >= 0 && io->fd_seq == seq)
		return io->fd;
	if (io->fd >= 0) {
		if (io->fsync_mode != SPOOL_FSYNC_OFF && fdatasync(io->fd) < 0)
			return -1;
		close(io->fd);
		io->fd = -1;
	}
	spool_seg_name(name, sizeof(name), seq);
	io->fd = openat(io->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (io->fd < 0)
		return -1;
	io->fd_seq = seq;
	if (io->fsync_mode != SPOOL_FSYNC_OFF && fsync(io->dirfd) < 0)
		return -1;
	return io->fd;
}

/* A failed write or sync is cut back to where the chunk began, so the
 * log never keeps a record its writer was told had failed. */
static void run_job(struct spool_io *io, struct spool_job *job)
{
	size_t i, off = 0;
	job->failed_chunk = job->nchunks;
	job->err = 0;
	job->synced = 0;
	job->unlink_errors = 0;
	for (i = 0; i < job->nchunks; i++) {
		struct spool_chunk *c = &job->chunks[i];
		off_t start = -1;
		int fd = segment_fd(io, c->seq);
		if (fd >= 0)
			start = lseek(fd, 0, SEEK_END);
		if (fd < 0 || start < 0 || write_all(fd, job->data.data + off, c->len) < 0 ||
		    (i + 1 == job->nchunks && job->sync && fdatasync(fd) < 0)) {
			job->err = errno ? errno : EIO;
			job->failed_chunk = i;
			if (fd >= 0 && start >= 0 && ftruncate(fd, start) < 0)
				job->err = errno;
			return;
		}
		off += c->len;
	}
	if (job->sync && job->nchunks == 0 && io->fd >= 0 && fdatasync(io->fd) < 0) {
		job->err = errno;
		return;
	}
	job->synced = job->sync;
	for (i = 0; i < job->nunlinks; i++) {
		char name[32];
		spool_seg_name(name, sizeof(name), job->unlinks[i]);
		if (unlinkat(io->dirfd, name, 0) < 0 && errno != ENOENT)
			job->unlink_errors++;
	}
}

static void pause_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *io_main(void *arg)
{
	struct spool_io *io = arg;
	uint64_t one = 1;
	ssize_t w;
	pthread_mutex_lock(&io->mu);
	for (;;) {
		struct spool_job *job;
		while (!io->todo && !io->stop)
			pthread_cond_wait(&io->cv, &io->mu);
		if (!io->todo)
			break;
		job = io->todo;
		io->todo = NULL;
		pthread_mutex_unlock(&io->mu);
		if (io->delay_ms)
			pause_ms(io->delay_ms);
		run_job(io, job);
		pthread_mutex_lock(&io->mu);
		io->done = job;
		/* Cannot fail: one job at a time keeps the counter tiny. */
		w = write(io->efd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&io->mu);
	return NULL;
}

int spool_io_start(struct spool_io *io)
{
	io->fd = -1;
	io->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (io->efd < 0)
		return -1;
	if (pthread_mutex_init(&io->mu, NULL) != 0)
		goto fail_efd;
	if (pthread_cond_init(&io->cv, NULL) != 0)
		goto fail_mu;
	if (pthread_create(&io->thread, NULL, io_main, io) != 0)
		goto fail_cv;
	io->started = 1;
	return 0;
fail_cv:
	pthread_cond_destroy(&io->cv);
fail_mu:
	pthread_mutex_destroy(&io->mu);
fail_efd:
	close(io->efd);
	io->efd = -1;
	return -1;
}

void spool_io_submit(struct spool_io *io, struct spool_job *job)
{
	pthread_mutex_lock(&io->mu);
	io->todo = job;
	pthread_cond_signal(&io->cv);
	pthread_mutex_unlock(&io->mu);
}

struct spool_job *spool_io_collect(struct spool_io *io)
{
	struct spool_job *job;
	uint64_t n;
	if (read(io->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return NULL;
	pthread_mutex_lock(&io->mu);
	job = io->done;
	io->done = NULL;
	pthread_mutex_unlock(&io->mu);
	return job;
}

/* Finishes a job already handed over, then ends the thread. */
void spool_io_stop(struct spool_io *io)
{
	if (!io->started)
		return;
	pthread_mutex_lock(&io->mu);
	io->stop = 1;
	pthread_cond_signal(&io->cv);
	pthread_mutex_unlock(&io->mu);
	pthread_join(io->thread, NULL);
	pthread_cond_destroy(&io->cv);
	pthread_mutex_destroy(&io->mu);
	close(io->efd);
	if (io->fd >= 0)
		close(io->fd);
	io->started = 0;
}
