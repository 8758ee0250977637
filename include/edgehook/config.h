/* config: loads, validates and owns one configuration.
 *
 * config_load reads YAML or JSON (tree.h), expands ${NAME} and
 * ${NAME:-default} from the environment, checks the whole DESIGN.md
 * schema and fills struct config with defaults applied. Every problem is
 * reported as "FILE:LINE: message", one per line, into the errors buffer,
 * and loading continues so a user sees all mistakes at once; the result
 * is -1 when there was any. Everything hangs off the config's arena and
 * is released by config_free. */
#ifndef EDGEHOOK_CONFIG_H
#define EDGEHOOK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "edgehook/arena.h"
#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/log.h"
#include "edgehook/redis_url.h"
#include "edgehook/tree.h"
#include "edgehook/url.h"

struct listen_cfg {
	const char *text; /* as written, "127.0.0.1:8080" or "unix:/run/x.sock" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int tls;
	const char *name; /* socket activation: the LISTEN_FDNAMES name to take, or NULL */
};

struct header_cfg {
	const char *name, *value;
};

/* Signatures per delivery: bounds the webhook-signature header. */
enum { ENDPOINT_MAX_SECRETS = 8 };

struct endpoint_cfg {
	const char *name;
	const char *url_text;
	struct url url;
	struct header_cfg *headers;
	size_t nheaders;
	const char **events;
	size_t nevents;
	const char **secrets; /* "whsec_...", each signs every delivery (rotation) */
	size_t nsecrets;      /* 0: unsigned; at most ENDPOINT_MAX_SECRETS */
	int retries;          /* -1: webhook.retries */
	uint64_t timeout_ms; /* 0: webhook.timeout */
	unsigned max_in_flight;
	int ordered; /* strictly in ingest order, one delivery at a time */
	int line;
};

enum trigger_kind { TRIGGER_GENERIC, TRIGGER_GITHUB, TRIGGER_GITLAB, TRIGGER_SLACK, TRIGGER_STANDARD };

/* The loader refuses more run args than this. */
enum { RUN_MAX_ARGS = 64 };

struct run_cfg {
	const char *command;
	const char **args;
	size_t nargs;
	uint64_t timeout_ms;
	unsigned concurrency;
	unsigned queue;
	int allow_root;
};

struct trigger_cfg {
	const char *id;
	enum trigger_kind kind;
	const char *secret;
	struct cidr *allowed_ips;
	size_t nallowed;
	const char *event_source;
	const char *path;
	int enabled;
	const char *description;
	const char *metadata_json; /* the metadata map rendered as JSON, "{}" when absent */
	const char *event;
	int emit;
	int allow_sha1;
	struct run_cfg *run;
	int line;
};

enum spool_fsync { SPOOL_FSYNC_ALWAYS, SPOOL_FSYNC_INTERVAL, SPOOL_FSYNC_OFF };

/* spool: the durable log (spool.h); dir NULL keeps everything in memory. */
struct spool_cfg {
	const char *dir;
	enum spool_fsync fsync;
	uint64_t interval_ms;
	size_t max_bytes, segment_bytes;
	uint64_t retention_ms;
};

/* a worker's cluster consumer name is "<instance>-w<index>" (index < 64) */
enum { CONFIG_WORKERS_MAX = 64, CONFIG_INSTANCE_MAX = 128 };

/* cluster: Redis Streams as the shared durability point (DESIGN.md
 * cluster mode). redis NULL: not configured, the process stands alone. */
struct cluster_cfg {
	const char *redis;   /* the URL after ${...} expansion (holds the password) */
	struct redis_url url;
	const char *prefix;  /* of every key: PREFIX:events, PREFIX:retries, ... */
	const char *instance; /* consumer name, unique per process; default: the host name */
	uint64_t claim_after_ms;
	uint64_t max_stream_len; /* XADD MAXLEN ~; a full stream answers 503 */
	uint64_t timeout_ms;     /* one Redis command; ingest answers 503 past it */
	uint64_t dedupe_window_ms; /* how long a trigger delivery id counts as seen, cluster-wide */
	uint64_t status_ttl_ms;    /* how long GET /api/v1/events/{id} answers after the last change */
	size_t queue;            /* Redis commands queued or in flight */
	const char *ca_file;     /* rediss://: the anchors; NULL: webhook.ca_file */
	int line;
};

struct config {
	struct arena arena;
	const char *path;
	struct {
		struct listen_cfg *listen;
		size_t nlisten;
		const char *tls_cert, *tls_key;
		size_t max_connections;
		size_t max_header_bytes, max_body_bytes;
		uint64_t header_timeout_ms, body_timeout_ms, idle_timeout_ms, drain_timeout_ms;
		struct cidr *trusted_proxies;
		size_t ntrusted;
		const char *user;
		size_t dedupe;
		unsigned workers;  /* processes serving; 1: this one, no supervisor */
		int workers_auto;  /* workers: auto (the online CPUs, at most CONFIG_WORKERS_MAX) */
	} server;
	struct {
		const char *token; /* NULL: local peers only (loopback, not proxied) */
		int allow_run;     /* API triggers may carry run (never run.allow_root) */
		struct listen_cfg *listen; /* when set, the API is served only there */
		size_t nlisten;
	} api;
	struct {
		uint64_t timeout_ms;
		int retries;
		uint64_t backoff_ms, max_backoff_ms;
		size_t queue;
		size_t max_queue_bytes;
		size_t history;
		const char *user_agent, *ca_file, *resolv_conf, *hosts_file;
		int https_only;
		struct {
			unsigned failures;  /* consecutive failures that open it; 0: no breaker */
			uint64_t cooldown_ms, disable_after_ms; /* disable_after 0: never */
		} breaker;
		struct endpoint_cfg *endpoints;
		size_t nendpoints;
	} webhook;
	struct spool_cfg spool;
	struct cluster_cfg cluster;
	struct {
		const char **files; /* adnanh/webhook hooks files; none: hooks off */
		size_t nfiles;
		const char *urlprefix; /* served at /{urlprefix}/{id}; no slash at either end */
	} hooks;
	struct trigger_cfg *triggers;
	size_t ntriggers;
	struct {
		enum log_format format;
		enum log_level level;
		const char *file; /* NULL: stderr */
	} log;
};

/* The configuration used when no -c is given. */
extern const char config_default_yaml[];

int config_load_file(const char *path, struct config **out, struct buf *errors);
int config_load_text(const char *name, const char *text, size_t len, struct config **out, struct buf *errors);
void config_free(struct config *cfg);
/* The document tree of a config text: JSON when the first non-blank byte
 * is '{' or '[', the YAML subset otherwise (a UTF-8 byte order mark is
 * skipped); on error "LINE: message" appended to errors. */
int config_parse_tree(struct arena *a, const char *text, size_t len, struct node **root, struct buf *errors);

/* Applies the log settings: level, format and file (opened unless the
 * log already goes there). -1 with errno when the file cannot be
 * opened; nothing changed then. */
int config_apply_log(const struct config *c);

/* Parsers shared with the runtime trigger API; -1 on bad input. */
int config_parse_duration(const char *s, uint64_t *ms);
int config_parse_size(const char *s, size_t *out);
int config_parse_listen(const char *s, struct listen_cfg *out);
/* 1 for a loopback address or a Unix socket. */
int config_listen_is_local(const struct listen_cfg *l);
/* Appends "FILE[:LINE]: warning: ..." lines for settings that load but
 * are probably unsafe: the API on a non-local listener without a token,
 * event_source as a trigger's only rule. listen/nlisten: the listeners
 * actually used (-l), or NULL for server.listen. -1 when out filled up. */
int config_warnings(const struct config *c, const struct listen_cfg *listen, size_t nlisten, struct buf *out);
/* Validates one trigger map into out, allocating from a (the runtime
 * trigger API gives each trigger its own arena); errors as in
 * config_load, prefixed with file. 0 or -1. */
int config_trigger_from_tree(struct arena *a, const char *file, const struct node *n, struct trigger_cfg *out,
			     struct buf *errors);
const char *config_kind_name(enum trigger_kind kind);

#endif
