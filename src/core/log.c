#include "edgehook/log.h"
#include "edgehook/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LINE_MAX_BYTES = 2048, PATH_MAX_BYTES = 4096 };

static enum log_level min_level = LOG_INFO;
static enum log_format format = LOG_LOGFMT;
static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX_BYTES];
static const char *level_names[] = {"debug", "info", "warn", "error"};
static char context_key[16], context_value[32];

void log_set_level(enum log_level level) { min_level = level; }

void log_set_context(const char *key, const char *value)
{
	snprintf(context_key, sizeof(context_key), "%s", key ? key : "");
	snprintf(context_value, sizeof(context_value), "%s", value ? value : "");
}
void log_set_format(enum log_format f) { format = f; }

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int log_set_file(const char *path)
{
	int fd = STDERR_FILENO;
	if (strcmp(path ? path : "", log_path) == 0)
		return 0;
	if (path && strlen(path) >= sizeof(log_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (path && (fd = open_log(path)) < 0)
		return -1;
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	snprintf(log_path, sizeof(log_path), "%s", path ? path : "");
	return 0;
}

int log_reopen(void)
{
	int fd;
	if (log_fd == STDERR_FILENO)
		return 0;
	fd = open_log(log_path);
	if (fd < 0) {
		log_msg(LOG_ERROR, "cannot reopen the log file: still writing to the old one", "file", log_path, "err",
			strerror(errno), NULL);
		return -1;
	}
	close(log_fd);
	log_fd = fd;
	log_msg(LOG_INFO, "log file reopened", "file", log_path, NULL);
	return 0;
}

/* A line being built: appends stop at cap, and `full` remembers it. */
struct line {
	char buf[LINE_MAX_BYTES];
	size_t n, cap;
};

static void put(struct line *l, const char *s, size_t len)
{
	if (len > l->cap - l->n)
		len = l->cap - l->n;
	memcpy(l->buf + l->n, s, len);
	l->n += len;
}

static int needs_quotes(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v; v++)
		if (*v == ' ' || *v == '"' || *v == '=' || (unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

/* The length of the valid UTF-8 sequence at s, 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* One escaped value; leaves room (reserve bytes) for what closes the
 * line and stops short rather than split an escape. */
static void put_escaped(struct line *l, const char *v, size_t reserve, int json)
{
	const unsigned char *p = (const unsigned char *)v;
	char esc[8];
	while (*p) {
		size_t len = 1;
		const char *out = esc;
		size_t olen;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\', esc[1] = (char)*p, olen = 2;
		} else if (*p == '\n') {
			esc[0] = '\\', esc[1] = 'n', olen = 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			olen = (size_t)snprintf(esc, sizeof(esc), json ? "\\u%04x" : "\\x%02x", *p);
		} else if (json && *p >= 0x80) {
			len = utf8_len(p);
			out = len ? (const char *)p : "\\ufffd";
			olen = len ? len : 6;
			len = len ? len : 1;
		} else {
			out = (const char *)p, olen = 1;
		}
		if (l->n + olen + reserve > l->cap)
			return;
		put(l, out, olen);
		p += len;
	}
}

static void put_logfmt_value(struct line *l, const char *v)
{
	int quote = needs_quotes(v);
	if (quote)
		put(l, "\"", 1);
	put_escaped(l, v, quote ? 1 : 0, 0);
	if (quote)
		put(l, "\"", 1);
}

static void put_field(struct line *l, const char *k, const char *v, int first)
{
	size_t klen = strlen(k);
	if (format == LOG_JSON) {
		/* ,"k":"" plus the closing } */
		if (l->n + klen + 7 > l->cap)
			return;
		put(l, first ? "{\"" : ",\"", 2);
		put_escaped(l, k, 0, 1);
		put(l, "\":\"", 3);
		put_escaped(l, v, 2, 1);
		put(l, "\"", 1);
	} else {
		if (l->n + klen + 4 > l->cap)
			return;
		if (!first)
			put(l, " ", 1);
		put(l, k, klen);
		put(l, "=", 1);
		put_logfmt_value(l, v);
	}
}

void log_msg(enum log_level level, const char *msg, ...)
{
	struct line l;
	char ts[32];
	va_list ap;

	if (level < min_level)
		return;
	l.n = 0;
	/* the newline (and in JSON the closing brace) always fit */
	l.cap = sizeof(l.buf) - 2;
	clock_iso8601(ts, sizeof(ts), clock_wall_ms());
	put_field(&l, "ts", ts, 1);
	put_field(&l, "level", level_names[level], 0);
	put_field(&l, "msg", msg, 0);
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;
		if (!k)
			break;
		v = va_arg(ap, const char *);
		put_field(&l, k, v ? v : "", 0);
	}
	va_end(ap);
	if (context_key[0])
		put_field(&l, context_key, context_value, 0);
	if (format == LOG_JSON)
		l.buf[l.n++] = '}';
	l.buf[l.n++] = '\n';
	/* stderr is a pipe or terminal; a short write loses part of a log
	 * line, which is preferable to blocking the loop. */
	if (write(log_fd, l.buf, l.n) < 0)
		return;
}
