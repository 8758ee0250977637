#include "edgehook/log.h"
#include "edgehook/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) { min_level = level; }

static int needs_quotes(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v; v++)
		if (*v == ' ' || *v == '"' || *v == '=' || (unsigned char)*v < 0x20 || *v == 0x7f)
			return 1;
	return 0;
}

/* Appends src to line[*n..cap), escaping as needed; truncates silently
 * because a log line must never fail. */
static void put_value(char *line, size_t *n, size_t cap, const char *v)
{
	int quote = needs_quotes(v);
	if (quote && *n < cap)
		line[(*n)++] = '"';
	for (; *v && *n + 6 < cap; v++) {
		unsigned char c = (unsigned char)*v;
		if (c == '"' || c == '\\') {
			line[(*n)++] = '\\';
			line[(*n)++] = (char)c;
		} else if (c == '\n') {
			line[(*n)++] = '\\';
			line[(*n)++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			*n += (size_t)snprintf(line + *n, cap - *n, "\\x%02x", c);
		} else {
			line[(*n)++] = (char)c;
		}
	}
	if (quote && *n < cap)
		line[(*n)++] = '"';
}

void log_msg(enum log_level level, const char *msg, ...)
{
	char line[2048];
	size_t n = 0, cap = sizeof(line) - 1;
	char ts[32];
	va_list ap;

	if (level < min_level)
		return;
	clock_iso8601(ts, sizeof(ts), clock_wall_ms());
	n = (size_t)snprintf(line, cap, "ts=%s level=%s msg=", ts, level_names[level]);
	put_value(line, &n, cap, msg);
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		const char *v;
		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (n + strlen(k) + 2 >= cap)
			break;
		line[n++] = ' ';
		memcpy(line + n, k, strlen(k));
		n += strlen(k);
		line[n++] = '=';
		put_value(line, &n, cap, v ? v : "");
	}
	va_end(ap);
	line[n++] = '\n';
	/* stderr is a pipe or terminal; a short write loses part of a log
	 * line, which is preferable to blocking the loop. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
