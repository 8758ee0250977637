/* buf: a growable byte buffer with a hard cap.
 *
 * Every append either fits under `max` or fails with -1 and leaves the
 * buffer unchanged, so a hostile peer can never grow one past its bound.
 * A failed append also sets `failed` (cleared only by buf_init and
 * buf_free): a renderer that appends many pieces checks it once before
 * sending, so a cut output is an error, never an answer.
 * The storage is malloc'd on first use and released by buf_free. */
#ifndef EDGEHOOK_BUF_H
#define EDGEHOOK_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	int failed;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Makes room for `extra` more bytes; -1 when over max or out of memory. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For error helpers that add a prefix to their caller's format. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Decimal digits of v, without printf (for hot paths). */
int buf_put_u64(struct buf *b, uint64_t v);
/* Drops the first n bytes. */
void buf_consume(struct buf *b, size_t n);

#endif
