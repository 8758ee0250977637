#include "edgehook/ostream.h"
#include "edgehook/reactor.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void on_writable(void *arg, int fd, uint32_t events);

void ostream_init(struct ostream *s, struct reactor *r, int fd, size_t max)
{
	struct stat st;
	s->r = r;
	s->fd = fd;
	s->watching = 0;
	buf_init(&s->pending, max);
	s->pollable = fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode));
	s->saved_flags = fcntl(fd, F_GETFL);
	if (s->pollable && (s->saved_flags < 0 || fcntl(fd, F_SETFL, s->saved_flags | O_NONBLOCK) < 0))
		s->pollable = 0;
}

void ostream_close(struct ostream *s)
{
	if (s->watching)
		reactor_del(s->r, s->fd);
	s->watching = 0;
	buf_free(&s->pending);
	if (s->saved_flags >= 0)
		fcntl(s->fd, F_SETFL, s->saved_flags);
}

/* Writes from data; returns bytes written (maybe short), -1 on a hard error. */
static ssize_t write_some(struct ostream *s, const char *data, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(s->fd, data + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	return (ssize_t)done;
}

static void watch(struct ostream *s, int on)
{
	if (on == s->watching)
		return;
	if (on) {
		if (reactor_add(s->r, s->fd, EPOLLOUT, on_writable, s) == 0)
			s->watching = 1;
		else
			s->pollable = 0; /* epoll refuses this fd: fall back to blocking writes */
	} else {
		reactor_del(s->r, s->fd);
		s->watching = 0;
	}
}

void ostream_flush(struct ostream *s)
{
	ssize_t n;
	if (s->pending.len == 0)
		return;
	n = write_some(s, s->pending.data, s->pending.len);
	if (n < 0)
		s->pending.len = 0;
	else
		buf_consume(&s->pending, (size_t)n);
	if (s->pending.len == 0) {
		watch(s, 0);
		buf_free(&s->pending);
	}
}

static void on_writable(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	ostream_flush(arg);
}

int ostream_write(struct ostream *s, const char *data, size_t len)
{
	ssize_t n = 0;
	/* Whole records or nothing: refuse before any byte goes out. */
	if (len > s->pending.max - s->pending.len)
		return -1;
	if (s->pending.len == 0) {
		n = write_some(s, data, len);
		if (n < 0)
			return -1;
		if ((size_t)n == len)
			return 0;
	}
	if (buf_append(&s->pending, data + n, len - (size_t)n) < 0)
		return -1;
	if (s->pollable)
		watch(s, 1);
	if (!s->pollable) {
		int fl = fcntl(s->fd, F_GETFL);
		if (fl >= 0)
			fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
		ostream_flush(s);
	}
	return 0;
}
