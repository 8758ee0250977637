/* spool: the append-only on-disk log behind "a 202 is a promise".
 *
 * Segment files DIR/<seq as 16 hex digits>.seg hold records framed
 *
 *   u32 length | u32 CRC32C | u8 type | payload[length]     (little endian)
 *
 * where the CRC covers the length bytes, the type and the payload, so a
 * header can be trusted on its own when resynchronising after damage.
 * Type 0 is never written. The spool does not interpret payloads.
 *
 * Threads: everything here runs on the loop thread except the flush. Each
 * loop iteration's appends are collected in one batch; at the end of the
 * iteration (a deferred call) the batch goes to one helper I/O thread that
 * owns only the segment file descriptors: it writes, fdatasyncs (per the
 * fsync mode), rotates and unlinks, and signals completion through an
 * eventfd watched by the reactor. One batch is in flight at a time, so
 * everything appended meanwhile is committed together (group commit).
 * io_uring is not used: it is blocked by the default seccomp profile of
 * common container runtimes, and one thread works everywhere.
 *
 * Retention: a segment is held while any record in it still matters
 * (spool_hold/spool_release, counted by the caller). Segments are deleted
 * oldest first: a segment goes once it and every older one is unheld,
 * sealed, and has been so for `retention`. State records about an event
 * may live in newer segments than the event itself, which is why
 * deletion never skips over a held segment. So that one record stuck
 * behind a dead endpoint does not pin every newer segment forever, the
 * oldest segment, once sealed for a second and held by few records, is
 * handed to the carry callback: its owner appends fresh copies of what
 * still matters (which hold the current segment) and releases the old.
 *
 * Test hook: EDGEHOOK_TEST_SPOOL_DELAY_MS=<n> makes the I/O thread sleep
 * n ms before each flush (to prove the loop never waits for the disk). */
#ifndef EDGEHOOK_SPOOL_H
#define EDGEHOOK_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/buf.h"
#include "edgehook/config.h"
#include "edgehook/reactor.h"

enum {
	SPOOL_HEADER = 9,
	SPOOL_RECORD_MAX = 64 << 20, /* payload bytes */
	SPOOL_ERRORS_MAX = 8 << 10,  /* an open's message: the directory path and errno text */
};

struct spool;

/* Called for every valid record found at open, oldest first. */
typedef void (*spool_replay_fn)(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n);

struct spool_recovery {
	uint64_t segments, records, bytes;
	uint64_t corrupt;         /* damaged records skipped inside the log */
	uint64_t truncated_bytes; /* torn tails cut off */
	uint64_t ms;
};

/* Opens (creating dir when missing) and recovers the spool: replays every
 * record to fn, truncates torn tails and counts corrupt records, then
 * starts the I/O thread. Damage never fails the open; a directory that
 * cannot be created, read or written does: -1 with one message (no
 * newline) appended to errors. */
int spool_open(struct reactor *r, const struct spool_cfg *cfg, spool_replay_fn fn, void *arg, struct spool **out,
	       struct buf *errors);
/* Writes out what is still batched (blocking: shutdown only), stops the
 * thread and closes everything. NULL is fine. */
void spool_free(struct spool *s);
const struct spool_recovery *spool_recovery(const struct spool *s);

/* Appends one record to the current batch; *seg and *lsn (either may be
 * NULL) name its segment and its sequence number. 0; -1 when the record
 * is invalid (type 0, too long); -2 when the spool is full (max_bytes, or
 * too much is waiting for the disk): nothing was written, the caller
 * answers 503 and the refusal is counted. */
int spool_append(struct spool *s, unsigned type, const void *p, size_t n, uint64_t *seg, uint64_t *lsn);

/* The same for a record whose loss only means repeated work (a state
 * change): under fsync: always a batch of only such records is written
 * but not synced; the next synced batch, or the segment's rotation,
 * syncs it along. */
int spool_append_lazy(struct spool *s, unsigned type, const void *p, size_t n, uint64_t *seg, uint64_t *lsn);

/* Whether n records of bytes payload in all would be taken now. */
int spool_fits(const struct spool *s, size_t bytes, size_t n);
/* Whether they would be taken by an empty spool in one batch: when not,
 * no wait makes them fit. */
int spool_fits_ever(const struct spool *s, size_t bytes, size_t n);

/* Called from the loop when the batch holding lsn has been written, and
 * synced under fsync: always. status 0, or -1 when the write failed (the
 * record is not in the log; the failed bytes were cut off again). */
typedef void (*spool_done_fn)(void *arg, int status);
struct spool_waiter {
	uint64_t lsn;
	spool_done_fn fn;
	void *arg;
	struct spool_waiter *prev, *next;
	int linked;
};
/* Registers a caller-owned waiter (never allocates). Returns 1 without
 * registering when lsn is already written, 0 when fn will be called. */
int spool_wait(struct spool *s, struct spool_waiter *w, uint64_t lsn, spool_done_fn fn, void *arg);
void spool_wait_cancel(struct spool *s, struct spool_waiter *w);

/* Called by the sweep with the oldest segment when few holds pin it:
 * the owner of those holds re-appends what still matters and moves its
 * holds to the new records' segment. */
typedef void (*spool_carry_fn)(void *arg, uint64_t seg);
void spool_on_carry(struct spool *s, spool_carry_fn fn, void *arg);

void spool_hold(struct spool *s, uint64_t seg);
void spool_release(struct spool *s, uint64_t seg);

/* The configured SPOOL_FSYNC_* mode. */
int spool_fsync(const struct spool *s);
/* Bytes in the log, including what is still batched. */
uint64_t spool_bytes(const struct spool *s);
size_t spool_segment_count(const struct spool *s);

struct spool_stats {
	uint64_t bytes, segments;      /* now */
	uint64_t appended, full;       /* records accepted, refused (full) */
	uint64_t flushes, fsyncs;      /* batches written, of them synced */
	uint64_t write_errors, deleted; /* batches failed, segments removed */
	uint64_t recovered, corrupt;   /* at start: records replayed, damaged ones skipped */
	uint64_t sweeps;               /* retention checks run */
	uint64_t carries;              /* oldest segments handed to the carry callback */
};
void spool_stats(const struct spool *s, struct spool_stats *out);

/* The record scanner used by recovery, on one segment's bytes: calls fn
 * for every valid record, skips and counts damaged ones it can resync
 * past, and returns where the valid log ends (n when it ends cleanly;
 * less when the tail is torn). */
size_t spool_scan(const unsigned char *p, size_t n, uint64_t seg, spool_replay_fn fn, void *arg, uint64_t *records,
		  uint64_t *corrupt);
/* Frames one record into out (SPOOL_HEADER + n bytes); -1 when it does
 * not fit or is invalid. */
int spool_frame(struct buf *out, unsigned type, const void *p, size_t n);

#endif
