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

/* 0 parsed, 1 answered already (-version, -help: exit 0), -1 usage
 * error (message and usage on stderr: exit 2). */
int compat_parse_args(int argc, char **argv, struct compat_opts *o);
/* Whether argv asks for webhook mode: argv[0]'s base name is "webhook",
 * or argv[1] is "webhook" (then *skip is 1). */
int compat_wanted(int argc, char **argv, int *skip);
/* Runs webhook mode; the process exit code. */
int compat_main(int argc, char **argv);

#endif
