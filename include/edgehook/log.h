/* log: one line per call, logfmt (default) or JSON, on stderr or a file.
 *
 *   log_msg(LOG_WARN, "delivery failed", "endpoint", name, "err", "timeout", NULL);
 *
 * Arguments after the message are key/value string pairs ended by NULL.
 * logfmt:  ts=... level=warn msg="delivery failed" endpoint=a err=timeout
 * JSON:    {"ts":"...","level":"warn","msg":"delivery failed","endpoint":"a","err":"timeout"}
 * The same keys in the same order either way. Values are quoted/escaped
 * so a hostile value can never forge a second line; in JSON, bytes that
 * are not UTF-8 become U+FFFD so every line parses. A line longer than
 * the buffer is cut at a field boundary, never left unterminated.
 * Lines below the configured level are dropped before any formatting. */
#ifndef EDGEHOOK_LOG_H
#define EDGEHOOK_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_LOGFMT, LOG_JSON };

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
/* Logs to path (appending, created 0640) instead of stderr; NULL goes
 * back to stderr; the current path again changes nothing. -1 with errno when it cannot be opened (nothing changed). */
int log_set_file(const char *path);
/* Reopens the log file under the same path (after logrotate moved it);
 * -1 (logged to the old file) keeps writing to the old one. */
int log_reopen(void);
/* One key=value pair appended to every line of this process from now on
 * (a worker's worker=N); NULL key removes it. */
void log_set_context(const char *key, const char *value);
/* the compiler checks that the pairs end with NULL */
void log_msg(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
