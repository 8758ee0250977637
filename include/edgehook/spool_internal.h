/* spool_internal: what spool.c (loop side), spool_io.c (the I/O thread)
 * and spool_recover.c (the start-up scan) share. Not for use outside
 * src/relay/spool*.c. */
#ifndef EDGEHOOK_SPOOL_INTERNAL_H
#define EDGEHOOK_SPOOL_INTERNAL_H

#include "edgehook/spool.h"

#include <pthread.h>

struct spool_seg {
	uint64_t seq;
	uint64_t bytes;
	uint64_t holds;
	uint64_t idle_since; /* wall ms: sealed or last released, whichever is later */
};

/* A run of consecutive batch bytes going to one segment. */
struct spool_chunk {
	uint64_t seq;
	size_t len;
	uint64_t last_lsn;
};

/* One flush: filled by the loop, executed by the I/O thread. */
struct spool_job {
	struct buf data;
	struct spool_chunk *chunks;
	size_t nchunks, capchunks;
	uint64_t *unlinks;
	size_t nunlinks, capunlinks;
	int sync;
	int durable; /* holds a record appended with spool_append */
	uint64_t first_lsn, last_lsn;
	/* results, written by the thread */
	size_t failed_chunk; /* index of the chunk that failed; nchunks when none */
	int err;             /* errno of that failure */
	size_t unlink_errors;
	int synced;
};

struct spool_io {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct spool_job *todo; /* handed over, not yet taken */
	struct spool_job *done; /* finished, not yet collected */
	int stop;
	int efd;   /* eventfd: the thread adds 1 per finished job */
	int dirfd; /* owned by the thread once started */
	int fd;    /* the open segment, thread only */
	uint64_t fd_seq;
	int fsync_mode;
	uint64_t delay_ms;
	int started;
};

int spool_io_start(struct spool_io *io);
/* Hands job over; the caller must not touch it until it comes back. */
void spool_io_submit(struct spool_io *io, struct spool_job *job);
/* The finished job, or NULL. */
struct spool_job *spool_io_collect(struct spool_io *io);
void spool_io_stop(struct spool_io *io);

/* Scans every segment under dirfd in order, truncating torn tails.
 * Fills *segs (malloc'd, ascending seq). -1 with a message appended
 * to errors on an I/O error. */
int spool_recover_dir(int dirfd, spool_replay_fn fn, void *arg, struct spool_seg **segs, size_t *nsegs,
		      struct spool_recovery *rec, struct buf *errors);
void spool_seg_name(char *out, size_t cap, uint64_t seq);

#endif
