/* compat_cli: webhook's flags, parsed the way Go's flag package does. */
#include "edgehook/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_BOOL, F_STR, F_INT, F_LIST };

struct flag {
	const char *name;
	enum ftype type;
	size_t off;   /* into struct compat_opts */
	size_t noff;  /* F_LIST: the count */
	const char *usage;
};

#define O(f) offsetof(struct compat_opts, f)
static const struct flag flags[] = {
	{"cert", F_STR, O(cert), 0, "path to the HTTPS certificate pem file (default \"cert.pem\")"},
	{"cipher-suites", F_STR, O(ciphers), 0, "comma-separated list of supported TLS cipher suites"},
	{"debug", F_BOOL, O(debug), 0, "show debug output"},
	{"header", F_LIST, O(headers), O(nheaders), "response header to return, specified in format name=value, use multiple times to set multiple headers"},
	{"hooks", F_LIST, O(hooks), O(nhooks), "path to the json file containing defined hooks the webhook should serve, use multiple times to load from different files"},
	{"hotreload", F_BOOL, O(hotreload), 0, "watch hooks file for changes and reload them automatically"},
	{"http-methods", F_STR, O(methods), 0, "set default allowed HTTP methods (ie. \"POST\"); separate methods with comma"},
	{"ip", F_STR, O(ip), 0, "ip the webhook should serve hooks on (default \"0.0.0.0\")"},
	{"key", F_STR, O(key), 0, "path to the HTTPS certificate private key pem file (default \"key.pem\")"},
	{"list-cipher-suites", F_BOOL, O(list_ciphers), 0, "list available TLS cipher suites"},
	{"logfile", F_STR, O(logfile), 0, "send log output to a file; implicitly enables verbose logging"},
	{"max-multipart-mem", F_INT, O(multipart_mem), 0, "maximum memory in bytes for parsing multipart form data before disk caching (default 1048576)"},
	{"nopanic", F_BOOL, O(nopanic), 0, "do not panic if hooks cannot be loaded when webhook is not running in verbose mode"},
	{"pidfile", F_STR, O(pidfile), 0, "create PID file at the given path"},
	{"port", F_INT, O(port), 0, "port the webhook should serve hooks on (default 9000)"},
	{"secure", F_BOOL, O(secure), 0, "use HTTPS instead of HTTP"},
	{"setgid", F_INT, O(setgid), 0, "set group ID after opening listening port; must be used with setuid"},
	{"setuid", F_INT, O(setuid), 0, "set user ID after opening listening port; must be used with setgid"},
	{"socket", F_STR, O(socket), 0, "path to a Unix socket (e.g. /tmp/webhook.sock) or Windows named pipe to serve hooks on"},
	{"template", F_BOOL, O(template_), 0, "parse hooks file as a Go template"},
	{"tls-min-version", F_STR, O(tls_min), 0, "minimum TLS version (1.0, 1.1, 1.2, 1.3) (default \"1.2\")"},
	{"urlprefix", F_STR, O(urlprefix), 0, "url prefix to use for served hooks (protocol://yourserver:port/PREFIX/:hook-id) (default \"hooks\")"},
	{"verbose", F_BOOL, O(verbose), 0, "show verbose output"},
	{"version", F_BOOL, O(version), 0, "display webhook version and quit"},
	{"x-request-id", F_BOOL, O(xrid), 0, "use X-Request-Id header, if present, as request ID"},
	{"x-request-id-limit", F_INT, O(xrid_limit), 0, "truncate X-Request-Id header to limit; default no limit"},
};

static void usage(FILE *f)
{
	size_t i;
	fprintf(f, "Usage of webhook:\n");
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		fprintf(f, "  -%s%s\n    \t%s\n", flags[i].name,
			flags[i].type == F_BOOL ? "" : flags[i].type == F_INT ? " int" : " string", flags[i].usage);
}

static const struct flag *find(const char *name, size_t len)
{
	size_t i;
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strlen(flags[i].name) == len && memcmp(flags[i].name, name, len) == 0)
			return &flags[i];
	return NULL;
}

/* Go's strconv.ParseBool spellings. */
static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
	size_t i;
	for (i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0)
			return *out = 1, 0;
		if (strcmp(s, f[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int set(struct compat_opts *o, const struct flag *fl, const char *value, int has_value)
{
	char *base = (char *)o;
	if (fl->type == F_BOOL)
		return has_value ? parse_bool(value, (int *)(base + fl->off)) : (*(int *)(base + fl->off) = 1, 0);
	if (fl->type == F_STR) {
		*(const char **)(base + fl->off) = value;
		return 0;
	}
	if (fl->type == F_INT) {
		char *end;
		long v;
		errno = 0;
		v = strtol(value, &end, 0);
		if (errno || *end || end == value)
			return -1;
		*(long *)(base + fl->off) = v;
		return 0;
	}
	{
		size_t *n = (size_t *)(base + fl->noff);
		if (*n >= COMPAT_MAX_LIST)
			return -1;
		((const char **)(base + fl->off))[(*n)++] = value;
		return 0;
	}
}

void compat_defaults(struct compat_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->urlprefix = "hooks";
	o->ip = "0.0.0.0";
	o->port = 9000;
	o->cert = "cert.pem";
	o->key = "key.pem";
	o->tls_min = "1.2";
	o->multipart_mem = 1 << 20;
}

int compat_parse_args(int argc, char **argv, struct compat_opts *o)
{
	int i;
	compat_defaults(o);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *value;
		const struct flag *fl;
		size_t len;
		if (a[0] != '-' || a[1] == 0)
			break;
		name = a + 1 + (a[1] == '-');
		if (a[1] == '-' && a[2] == 0)
			break;
		if (name[0] == '-' || name[0] == '=') {
			fprintf(stderr, "bad flag syntax: %s\n", a);
			goto bad;
		}
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		if ((len == 1 && name[0] == 'h') || (len == 4 && memcmp(name, "help", 4) == 0)) {
			usage(stderr);
			return 1;
		}
		if (!(fl = find(name, len))) {
			fprintf(stderr, "flag provided but not defined: -%.*s\n", (int)len, name);
			goto bad;
		}
		value = eq ? eq + 1 : NULL;
		if (!eq && fl->type != F_BOOL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "flag needs an argument: -%s\n", fl->name);
				goto bad;
			}
			value = argv[++i];
		}
		if (set(o, fl, value ? value : "", value != NULL) < 0) {
			fprintf(stderr, "invalid value \"%s\" for flag -%s\n", value ? value : "", fl->name);
			goto bad;
		}
	}
	if (o->version) {
		printf("webhook version 2.8.0 (edgehook %s)\n", EDGEHOOK_VERSION);
		return 1;
	}
	if (o->nhooks == 0)
		o->hooks[o->nhooks++] = "hooks.json";
	return 0;
bad:
	usage(stderr);
	return -1;
}

int compat_wanted(int argc, char **argv, int *skip)
{
	const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	*skip = 0;
	base = base ? base + 1 : argc > 0 && argv[0] ? argv[0] : "";
	if (strcmp(base, "webhook") == 0)
		return 1;
	if (argc > 1 && strcmp(argv[1], "webhook") == 0) {
		*skip = 1;
		return 1;
	}
	return 0;
}
