/* edgehook: the command line; everything else is relay/app.c. */
#include "edgehook/app.h"
#include "edgehook/compat.h"
#include "edgehook/health_mode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: edgehook [-c FILE] [-l HOST:PORT] [--user USER] [--check] [--healthcheck [URL]] [--version] [--help]\n"
	"  -c FILE       configuration (YAML or JSON); default: built-in demo config\n"
	"  -l HOST:PORT  listen address, overrides server.listen\n"
	"  --user USER   after binding, drop root for USER (name or uid:gid), overrides server.user\n"
	"  --check       validate the configuration, print ok or the errors, exit\n"
	"  --healthcheck [URL]  GET URL (default: /healthz on the first listener), exit 0 on 2xx, else 1\n"
	"  --version     print the version\n"
	"exit codes: 0 normal stop, 1 runtime failure, 2 usage or config error\n"
	"signals: HUP reload, TERM/INT drain and stop, USR2 reopen log.file\n"
	"more in the manual: man edgehook\n";

/* --healthcheck [URL]: the client mode instead of the daemon */
struct health {
	int on;
	const char *url;
};

static int parse_args(int argc, char **argv, struct app_options *o, struct health *h)
{
	int i;
	memset(o, 0, sizeof(*o));
	memset(h, 0, sizeof(*h));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
			o->config = argv[++i];
		} else if ((strcmp(a, "-l") == 0 || strcmp(a, "--listen") == 0) && i + 1 < argc) {
			o->listen = argv[++i];
		} else if (strcmp(a, "--user") == 0 && i + 1 < argc) {
			o->user = argv[++i];
		} else if (strcmp(a, "--check") == 0) {
			o->check = 1;
		} else if (strcmp(a, "--healthcheck") == 0) {
			h->on = 1;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				h->url = argv[++i];
		} else if (strcmp(a, "--version") == 0) {
			printf("edgehook %s\n", EDGEHOOK_VERSION);
			exit(0);
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else {
			fprintf(stderr, "edgehook: unknown or incomplete argument \"%s\"\n%s", a, usage);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct app_options o;
	struct health h;
	int skip;
	if (compat_wanted(argc, argv, &skip))
		return compat_main(argc - skip, argv + skip);
	app_std_fds();
	if (parse_args(argc, argv, &o, &h) < 0)
		return APP_EXIT_USAGE;
	if (h.on)
		return healthcheck_main(h.url, o.config, o.listen);
	return app_run(&o);
}
