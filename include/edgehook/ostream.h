/* ostream: a non-blocking, bounded writer for a stream fd (stdout).
 *
 * Writes go straight to the fd; what the fd will not take now is queued
 * (up to `max` bytes) and flushed on EPOLLOUT, so a slow reader of our
 * stdout never blocks the loop. When the queue is full the record is
 * refused (-1) and the caller counts the drop. A regular file or a
 * descriptor epoll cannot watch is written synchronously instead. */
#ifndef EDGEHOOK_OSTREAM_H
#define EDGEHOOK_OSTREAM_H

#include <stddef.h>

#include "edgehook/buf.h"

struct reactor;

struct ostream {
	struct reactor *r;
	int fd;
	int pollable;
	int watching;
	int saved_flags; /* restored at close: a tty's flags are shared with the shell */
	struct buf pending;
};

void ostream_init(struct ostream *s, struct reactor *r, int fd, size_t max);
void ostream_close(struct ostream *s);
/* Writes a whole record or nothing: 0, or -1 when it cannot be queued. */
int ostream_write(struct ostream *s, const char *data, size_t len);
/* Tries to write everything queued, without waiting (for shutdown). */
void ostream_flush(struct ostream *s);

#endif
