/* log: one logfmt line per call on stderr.
 *
 *   log_msg(LOG_WARN, "delivery failed", "endpoint", name, "err", "timeout", NULL);
 *
 * Arguments after the message are key/value string pairs ended by NULL.
 * Values are quoted when they contain spaces, quotes or '='; control bytes
 * are escaped so a hostile value can never forge a second log line.
 * Lines below the configured level are dropped before any formatting. */
#ifndef EDGEHOOK_LOG_H
#define EDGEHOOK_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *msg, ...);

#endif
