/* compat: edgehook as adnanh/webhook (../shared/COMPAT-WEBHOOK.md).
 *
 * compat_cli.c reads webhook's command line (Go's flag package rules:
 * -flag value, -flag=value, --flag, boolean flags take no separate
 * value, parsing stops at the first non-flag argument or "--", an unknown
 * flag exits 2 with the usage). compat.c serves the hooks with webhook's
 * routes and answers. */
#ifndef EDGEHOOK_COMPAT_H
#define EDGEHOOK_COMPAT_H

#include <stddef.h>

enum { COMPAT_MAX_LIST = 64 };

struct compat_opts {
	const char *hooks[COMPAT_MAX_LIST];
	size_t nhooks;
	const char *headers[COMPAT_MAX_LIST]; /* "name=value" */
	size_t nheaders;
	const char *urlprefix, *ip, *socket, *cert, *key, *tls_min, *ciphers, *methods, *logfile, *pidfile;
	long port, setuid, setgid, xrid_limit, multipart_mem;
	int template_, hotreload, secure, xrid, verbose, debug, nopanic, version, list_ciphers;
};

/* webhook's defaults (port 9000, prefix "hooks", ...). */
void compat_defaults(struct compat_opts *o);
/* 0 parsed, 1 answered already (-version, -help: exit 0), -1 usage
 * error (message and usage on stderr: exit 2). */
int compat_parse_args(int argc, char **argv, struct compat_opts *o);
/* Whether argv asks for webhook mode: argv[0]'s base name is "webhook",
 * or argv[1] is "webhook" (then *skip is 1). */
int compat_wanted(int argc, char **argv, int *skip);
/* Runs webhook mode; the process exit code. */
int compat_main(int argc, char **argv);

/* compat_embed.c: hooks files served by the relay beside its triggers
 * (config `hooks:`), with webhook's answers, by the relay's reactor and
 * logged through log.h. The client address ip-whitelist checks is the
 * relay's (X-Forwarded-For from trusted_proxies), remote-addr stays the
 * socket peer as in webhook. */
struct compat;
struct reactor;
struct hook_set;
struct http_conn;
struct http_request;
struct sockaddr_storage;
typedef void (*compat_client_fn)(void *ctx, struct http_conn *c, const struct http_request *req,
				 struct sockaddr_storage *out);
struct compat *compat_embed_new(struct reactor *r);
void compat_embed_client(struct compat *app, compat_client_fn fn, void *ctx);
/* Serves set (its contents move here; the old set is freed: runs in
 * flight hold copies) under /urlprefix/ (NULL: nothing served). */
int compat_embed_set(struct compat *app, struct hook_set *set, const char *urlprefix);
/* 1 when path lies under the prefix. */
int compat_embed_serves(const struct compat *app, const char *path, size_t len);
/* Commands still running are left to finish on their own. */
void compat_embed_free(struct compat *app);
/* the server's handler, and SIGCHLD: reaps only its own children */
void compat_handle(void *arg, struct http_conn *c, const struct http_request *req, const char *body, size_t len);
void compat_reap(struct compat *app);

#endif
