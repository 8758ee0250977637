/* resp: the Redis serialization protocol (RESP2, and the RESP3 types a
 * server may send), and a non-blocking pipelined client on the reactor.
 *
 * Parser. resp_parse reads one reply from the start of a caller-owned
 * buffer into a caller-owned array of values, in pre-order: an aggregate
 * is followed by its children, and its `end` is the index after its last
 * descendant, so a reader can skip a subtree. Values hold offsets into
 * the buffer, never pointers, so the buffer may move (grow) between calls.
 * It is incremental: on -2 (need more) it keeps the elements it already
 * completed and resumes there when called again with the same bytes plus
 * more. Returns the length of the reply on success (and resets itself for
 * the next one), -1 on a malformed reply or one over a bound (element
 * count, bulk length, nesting depth, line length), -2 when incomplete.
 * After -1 the stream cannot be resynchronised: drop the connection.
 * RESP3 attributes ('|') are refused: we never ask for RESP3.
 *
 * Encoder. resp_encode appends one command as an array of bulk strings,
 * all or nothing.
 *
 * Client. One connection, commands pipelined in a bounded FIFO. Every
 * callback runs from the loop (a reply read, a timer), never inside
 * resp_command; a command that cannot be queued is refused there with -1
 * and its callback is never called. err is NULL with a reply (an error
 * reply such as NOGROUP is a reply of type RESP_ERROR), or a short text:
 * "resp: timeout", "resp: connection lost", "resp: protocol error".
 * A command sent on a connection that dies gets
 * "resp: connection lost" (it may or may not have run: the caller decides
 * whether to retry); one not yet sent waits for the reconnect, at most its
 * timeout. A reply that does not come within the timeout means a stalled
 * server: in-flight commands fail and the connection is dropped.
 * Reconnects back off exponentially (reset by the first good reply), so a
 * server that answers garbage or refuses costs no busy loop. */
#ifndef EDGEHOOK_RESP_H
#define EDGEHOOK_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "edgehook/redis_url.h"

struct buf;
struct reactor;
struct dns;
struct tls_client_ctx;

enum resp_type {
	RESP_SIMPLE = '+',
	RESP_ERROR = '-',
	RESP_INT = ':',
	RESP_BULK = '$',
	RESP_ARRAY = '*',
	RESP_NULL = '_',    /* also RESP2 "$-1" and "*-1" */
	RESP_BOOL = '#',
	RESP_DOUBLE = ',',  /* text in off/len */
	RESP_BIGNUM = '(',  /* text in off/len */
	RESP_BLOB_ERROR = '!',
	RESP_VERBATIM = '=', /* off/len include the "txt:" prefix */
	RESP_MAP = '%',     /* n = 2 * pairs: key, value, key, value... */
	RESP_SET = '~',
	RESP_PUSH = '>',
};

struct resp_value {
	uint8_t type;
	uint32_t n;    /* aggregates: children */
	uint32_t end;  /* index after this value's subtree */
	size_t off, len; /* strings: bytes at buf + off */
	int64_t i;     /* RESP_INT, RESP_BOOL (0/1) */
};

struct resp_limits {
	size_t max_bulk;   /* bytes of one bulk string */
	size_t max_line;   /* bytes of one simple string or error */
	uint32_t max_values; /* values in one reply (the array's capacity) */
	int max_depth;     /* nesting, at most RESP_MAX_DEPTH */
};

enum { RESP_MAX_DEPTH = 16 };

struct resp_parser {
	struct resp_limits lim;
	struct resp_value *vals;
	size_t pos;     /* bytes of the current reply already parsed */
	uint32_t nvals;
	int depth;
	uint32_t remain[RESP_MAX_DEPTH]; /* children still owed per open aggregate */
	uint32_t open[RESP_MAX_DEPTH];   /* index of each open aggregate */
};

/* vals has lim->max_values entries. */
void resp_parser_init(struct resp_parser *p, struct resp_value *vals, const struct resp_limits *lim);
int resp_parse(struct resp_parser *p, const char *buf, size_t len);
/* Values of the last complete reply (valid until the next resp_parse). */
static inline uint32_t resp_parser_count(const struct resp_parser *p) { return p->nvals; }

/* 0, or -1 with b unchanged (over its cap). lens may be NULL (strlen). */
int resp_encode(struct buf *b, int argc, const char *const *argv, const size_t *lens);

/* A complete reply: v[0] is the root, base the buffer its offsets index. */
struct resp_reply {
	const struct resp_value *v;
	uint32_t n;
	const char *base;
};

static inline const char *resp_str(const struct resp_reply *r, const struct resp_value *v)
{
	return r->base + v->off;
}
/* True when v is a string-like value equal to s. */
int resp_eq(const struct resp_reply *r, const struct resp_value *v, const char *s);

struct resp_opts {
	uint64_t connect_timeout_ms;
	uint64_t command_timeout_ms;
	uint64_t backoff_min_ms, backoff_max_ms;
	uint32_t max_queue;   /* commands queued or in flight */
	size_t max_out;       /* encoded bytes not yet written */
	size_t max_reply;     /* bytes of one reply */
	uint32_t max_values;  /* values in one reply: bound XREADGROUP's COUNT to fit */
	struct tls_client_ctx *tls; /* the anchors for rediss:// (required then), NULL for redis:// */
};
void resp_opts_default(struct resp_opts *o);

struct resp_client;
struct resp_stats {
	uint64_t connects, connect_failures, disconnects, protocol_errors, timeouts, replies, refused;
	uint64_t writes; /* send calls that carried queued commands */
};

/* r (NULL with err) points into the client's read buffer: valid only
 * during the call. */
typedef void (*resp_cb)(void *arg, const char *err, const struct resp_reply *r);

/* Starts connecting at once; NULL when out of memory or when the URL's
 * scheme and o->tls disagree (rediss:// needs anchors, redis:// none).
 * With TLS the server's certificate is verified against o->tls and the
 * URL's host (tls.h); the ctx must outlive the client. dns may be NULL
 * for IP literals only. */
struct resp_client *resp_client_new(struct reactor *r, struct dns *dns, const struct redis_url *u,
				    const struct resp_opts *o);
/* Calls no callback; not from inside one of this client's callbacks. */
void resp_client_free(struct resp_client *c);
/* 0 queued, -1 refused (queue or buffer full): cb never runs. */
int resp_command(struct resp_client *c, int argc, const char *const *argv, const size_t *lens, resp_cb cb,
		 void *arg);
/* Subscriber mode: every connection's handshake ends with SUBSCRIBE
 * channel (so a reconnect re-subscribes); fn(arg, NULL) runs once each
 * subscription is confirmed (messages published while it was down are
 * lost: the caller catches up then), fn(arg, r) for each
 * ["message", channel, payload]. Such a client carries no commands.
 * Call right after resp_client_new, before the loop runs; -1 when the
 * channel is empty or longer than 127 bytes. */
typedef void (*resp_push_cb)(void *arg, const struct resp_reply *r);
int resp_subscribe(struct resp_client *c, const char *channel, resp_push_cb fn, void *arg);
int resp_connected(const struct resp_client *c);
/* Why the last connection attempt or connection failed ("" if none). */
const char *resp_last_error(const struct resp_client *c);
const struct resp_stats *resp_stats(const struct resp_client *c);

#endif
