/* edgehook: flags, config, signals, then the loop. */
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/compat.h"
#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/health_mode.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/relay.h"
#include "edgehook/runner.h"
#include "edgehook/server.h"
#include "edgehook/supervise.h"
#include "edgehook/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

struct options {
	const char *config;
	const char *listen;
	const char *user;
	int check;
	int healthcheck;
	const char *health_url;
};

struct daemon {
	struct reactor *r;
	struct relay *rl;
	struct http_server *srv;
	const char *config_path;
	struct timer drain_timer;
	struct tls_server_ctx *tls;
	struct supervisor sup;
	int draining;
};

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

static int parse_args(int argc, char **argv, struct options *o)
{
	int i;
	memset(o, 0, sizeof(*o));
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
			o->healthcheck = 1;
			if (i + 1 < argc && argv[i + 1][0] != '-')
				o->health_url = argv[++i];
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

static int load(const char *path, struct config **cfg)
{
	struct buf errors;
	int rc;
	buf_init(&errors, 1 << 20);
	if (path)
		rc = config_load_file(path, cfg, &errors);
	else
		rc = config_load_text("<default>", config_default_yaml, strlen(config_default_yaml), cfg, &errors);
	if (rc < 0 && errors.len)
		fwrite(errors.data, 1, errors.len, stderr);
	buf_free(&errors);
	return rc;
}

static void limits_of(const struct config *cfg, struct http_server_limits *lim)
{
	lim->max_connections = cfg->server.max_connections;
	lim->max_header_bytes = cfg->server.max_header_bytes;
	lim->max_body_bytes = cfg->server.max_body_bytes;
	lim->header_timeout_ms = cfg->server.header_timeout_ms;
	lim->body_timeout_ms = cfg->server.body_timeout_ms;
	lim->idle_timeout_ms = cfg->server.idle_timeout_ms;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, ntohs(a->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		/* a passed socket: api.listen's own are logged by relay */
		snprintf(out, cap, "unix:%s", ((const struct sockaddr_un *)ss)->sun_path);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, ntohs(a->sin_port));
	}
}

/* Resolves "name" (passwd) or "uid:gid" (works without /etc/passwd, as
 * in a scratch container) and drops to it for good. */
static int drop_privileges(const char *user)
{
	uid_t uid;
	gid_t gid;
	char *end;
	if (geteuid() != 0) {
		log_msg(LOG_WARN, "not root: user setting ignored", "user", user, NULL);
		return 0;
	}
	uid = (uid_t)strtoul(user, &end, 10);
	if (end != user && *end == ':') {
		gid = (gid_t)strtoul(end + 1, &end, 10);
		if (*end)
			goto bad;
	} else {
		struct passwd *pw = getpwnam(user);
		if (!pw)
			goto bad;
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (uid == 0) {
		fprintf(stderr, "edgehook: --user %s is root; nothing to drop to\n", user);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0 || setuid(0) == 0) {
		fprintf(stderr, "edgehook: cannot drop privileges to %s: %s\n", user, strerror(errno));
		return -1;
	}
	log_msg(LOG_INFO, "dropped privileges", "user", user, NULL);
	return 0;
bad:
	fprintf(stderr, "edgehook: unknown user \"%s\" (name or uid:gid)\n", user);
	return -1;
}

static void on_deliveries_done(void *arg)
{
	struct daemon *d = arg;
	reactor_stop(d->r);
}

/* Runs finished (their lifecycle events are queued): deliveries next. */
static void on_runs_done(void *arg)
{
	struct daemon *d = arg;
	dispatch_drain(d->rl->disp, on_deliveries_done, d);
}

/* Inbound side empty: wait for running commands, then deliveries. */
static void on_drained(void *arg)
{
	struct daemon *d = arg;
	runner_drain(d->rl->runner, on_runs_done, d);
}

static void on_drain_timeout(void *arg)
{
	struct daemon *d = arg;
	char conns[32], pending[32];
	snprintf(conns, sizeof(conns), "%zu", http_server_open_connections(d->srv));
	snprintf(pending, sizeof(pending), "%zu", dispatch_pending(d->rl->disp));
	log_msg(LOG_WARN, "drain timeout", "connections", conns, "deliveries", pending, NULL);
	runner_kill_all(d->rl->runner);
	dispatch_abandon(d->rl->disp);
	reactor_stop(d->r);
}

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* Listeners are bound once at start; a reload cannot move them. */
static int same_listeners(const struct config *a, const struct config *b)
{
	size_t i;
	if (a->server.nlisten != b->server.nlisten || !same_str(a->server.tls_cert, b->server.tls_cert) ||
	    !same_str(a->server.tls_key, b->server.tls_key))
		return 0;
	for (i = 0; i < a->server.nlisten; i++)
		if (strcmp(a->server.listen[i].text, b->server.listen[i].text) != 0 ||
		    a->server.listen[i].tls != b->server.listen[i].tls)
			return 0;
	return 1;
}

static void reload(struct daemon *d)
{
	struct config *cfg;
	struct http_server_limits lim;
	if (!d->config_path) {
		log_msg(LOG_INFO, "reload ignored: running on the built-in config", NULL);
		return;
	}
	if (load(d->config_path, &cfg) < 0) {
		log_msg(LOG_ERROR, "reload failed: keeping the running config", "file", d->config_path, NULL);
		return;
	}
	limits_of(cfg, &lim);
	if (!same_listeners(d->rl->cfg, cfg))
		log_msg(LOG_WARN, "reload: server.listen and server.tls changes take effect after a restart", NULL);
	if (relay_reload(d->rl, cfg) < 0) {
		config_free(cfg);
		log_msg(LOG_ERROR, "reload failed: keeping the running config", "file", d->config_path, NULL);
		return;
	}
	http_server_set_limits(d->srv, &lim);
	if (config_apply_log(d->rl->cfg) < 0)
		log_msg(LOG_ERROR, "reload: cannot open log.file: logging where it did", "file", d->rl->cfg->log.file,
			"err", strerror(errno), NULL);
	log_msg(LOG_INFO, "config reloaded", "file", d->config_path, NULL);
}

static void on_signal(void *arg, int signo)
{
	struct daemon *d = arg;
	if (signo == SIGHUP) {
		supervise_reloading(&d->sup);
		reload(d);
		supervise_ready(&d->sup);
		return;
	}
	if (signo == SIGCHLD) {
		runner_reap(d->rl->runner);
		return;
	}
	if (signo == SIGUSR2) {
		log_reopen();
		return;
	}
	if (signo != SIGTERM && signo != SIGINT)
		return;
	if (d->draining) {
		reactor_stop(d->r);
		return;
	}
	d->draining = 1;
	supervise_stopping(&d->sup);
	timer_start(d->r, &d->drain_timer, d->rl->cfg->server.drain_timeout_ms);
	/* logged after the listeners are closed: whoever reads this line can
	 * rely on new connections being refused */
	http_server_drain(d->srv, on_drained, d);
	log_msg(LOG_INFO, "draining", "signal", signo == SIGTERM ? "TERM" : "INT", NULL);
}

/* --check prints the config's warnings, start-up logs them. */
static void print_warnings(const struct config *cfg, const struct listen_cfg *listen, size_t n, int to_stderr)
{
	struct buf b;
	char *line, *next;
	int all;
	buf_init(&b, 1 << 20);
	all = config_warnings(cfg, listen, n, &b) == 0 && buf_append(&b, "", 1) == 0;
	for (line = b.data; line && (next = memchr(line, '\n', b.len - (size_t)(line - b.data))); line = next + 1) {
		*next = '\0';
		if (to_stderr)
			fprintf(stderr, "%s\n", line);
		else
			log_msg(LOG_WARN, line, NULL);
	}
	if (!all && to_stderr)
		fprintf(stderr, "edgehook: more warnings than fit in 1 MiB\n");
	else if (!all)
		log_msg(LOG_WARN, "more config warnings than fit in 1 MiB", NULL);
	buf_free(&b);
}

/* Sockets passed by socket activation that no listen entry took are
 * served too (a .socket unit may listen on more addresses than named). */
static int listen_passed_rest(struct daemon *d, size_t i)
{
	unsigned flags;
	int got;
	for (; (got = http_server_listen_passed(d->srv, &flags)) > 0; i++) {
		struct sockaddr_storage bound;
		char text[128];
		if (flags & HTTP_LISTENER_API)
			d->rl->api_own_listeners = 1;
		http_server_local_addr(d->srv, i, &bound);
		addr_text(&bound, text, sizeof(text));
		log_msg(LOG_INFO, flags & HTTP_LISTENER_API ? "listening for the API" : "listening", "addr", text, "tls",
			"off", "passed", "yes", NULL);
	}
	if (got < 0)
		fprintf(stderr, "edgehook: cannot serve a passed socket: %s\n", strerror(errno));
	return got < 0 ? EXIT_RUNTIME : 0;
}

/* Binds every listener (the API's too), drops root for `user` (when set),
 * and only then logs the "listening" lines: readiness is announced by a
 * process that is already unprivileged and has accepted nothing (the loop
 * has not run). */
static int start_listeners(struct daemon *d, const char *override, const char *user)
{
	const struct config *cfg = d->rl->cfg;
	struct listen_cfg one;
	const struct listen_cfg *list = cfg->server.listen;
	size_t n = cfg->server.nlisten, i;
	if (override) {
		if (config_parse_listen(override, &one) < 0) {
			fprintf(stderr, "edgehook: -l %s: expected HOST:PORT\n", override);
			return EXIT_USAGE;
		}
		list = &one;
		n = 1;
	}
	for (i = 0; i < n; i++) {
		int tls = override ? cfg->server.tls_cert != NULL : list[i].tls > 0;
		if (tls && !d->tls) {
			char err[512];
			d->tls = tls_server_ctx_new(cfg->server.tls_cert, cfg->server.tls_key, err, sizeof(err));
			if (!d->tls) {
				fprintf(stderr, "edgehook: server.tls: %s\n", err);
				return EXIT_USAGE;
			}
		}
		if (http_server_listen_named(d->srv, (const struct sockaddr *)&list[i].addr, list[i].addrlen, list[i].name,
					     tls ? d->tls : NULL, 0) < 0) {
			fprintf(stderr, "edgehook: cannot listen on %s: %s\n", list[i].text, strerror(errno));
			return EXIT_RUNTIME;
		}
	}
	if (relay_listen_api(d->rl, d->srv) < 0)
		return EXIT_RUNTIME;
	if (user && drop_privileges(user) < 0)
		return EXIT_USAGE;
	print_warnings(cfg, list, n, 0);
	for (i = 0; i < n; i++) {
		struct sockaddr_storage bound;
		char text[128];
		int tls = override ? cfg->server.tls_cert != NULL : list[i].tls > 0;
		http_server_local_addr(d->srv, i, &bound);
		addr_text(&bound, text, sizeof(text));
		log_msg(LOG_INFO, "listening", "addr", text, "tls", tls ? "on" : "off", NULL);
	}
	relay_log_api_listeners(d->rl, d->srv, n);
	return listen_passed_rest(d, n + cfg->api.nlisten);
}

/* A daemon started with a closed stdin/stdout/stderr would hand those
 * numbers to sockets or pipes; children would then inherit them as their
 * standard streams. Park /dev/null there first. */
static void ensure_std_fds(void)
{
	int fd;
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* EDGEHOOK_TEST_NOW=<unix seconds> freezes the wall clock: a test-only
 * setting for signature windows (Slack, Standard Webhooks). */
static void test_clock(void)
{
	const char *now = getenv("EDGEHOOK_TEST_NOW");
	if (now && *now) {
		clock_set_wall_override((uint64_t)strtoull(now, NULL, 10) * 1000u);
		log_msg(LOG_WARN, "wall clock frozen by EDGEHOOK_TEST_NOW (test only)", "now", now, NULL);
	}
}

int main(int argc, char **argv)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR2};
	struct options o;
	struct config *cfg;
	struct http_server_limits lim;
	struct daemon d;
	int rc;
	int skip;
	if (compat_wanted(argc, argv, &skip))
		return compat_main(argc - skip, argv + skip);

	ensure_std_fds();
	if (parse_args(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (o.healthcheck)
		return healthcheck_main(o.health_url, o.config, o.listen);
	if (load(o.config, &cfg) < 0)
		return EXIT_USAGE;
	if (o.check) {
		print_warnings(cfg, NULL, 0, 1);
		puts("ok");
		config_free(cfg);
		return 0;
	}
	if (config_apply_log(cfg) < 0) {
		fprintf(stderr, "edgehook: log.file %s: %s\n", cfg->log.file, strerror(errno));
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	/* a file size limit makes a spool write fail (EFBIG, answered 503),
	 * it must not kill the process */
	signal(SIGXFSZ, SIG_IGN);
	test_clock();
	memset(&d, 0, sizeof(d));
	d.config_path = o.config;
	d.r = reactor_new();
	d.rl = d.r ? relay_new(d.r, cfg) : NULL;
	if (!d.rl) {
		fprintf(stderr, "edgehook: out of memory\n");
		return EXIT_RUNTIME;
	}
	limits_of(cfg, &lim);
	d.srv = http_server_new(d.r, &lim, relay_handle, d.rl);
	if (!d.srv || reactor_signals(d.r, signals, 5, on_signal, &d) < 0) {
		fprintf(stderr, "edgehook: start-up failed: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	d.rl->srv = d.srv;
	timer_init(&d.drain_timer, on_drain_timeout, &d);
	supervise_start(&d.sup, d.r, d.rl);
	rc = start_listeners(&d, o.listen, o.user ? o.user : cfg->server.user);
	/* a durable spool is recovered here, before READY=1 */
	if (rc == 0) {
		char err[512];
		if (relay_open_spool(d.rl, err, sizeof(err)) < 0) {
			fprintf(stderr, "edgehook: spool: %s\n", err);
			rc = EXIT_USAGE;
		}
	}
	if (rc == 0) {
		supervise_ready(&d.sup);
		log_msg(LOG_INFO, "edgehook started", "version", EDGEHOOK_VERSION, NULL);
		if (reactor_run(d.r) < 0) {
			log_msg(LOG_ERROR, "event loop failed", NULL);
			rc = EXIT_RUNTIME;
		}
	}
	dispatch_flush(d.rl->disp);
	timer_stop(d.r, &d.drain_timer);
	supervise_stop(&d.sup);
	http_server_free(d.srv);
	tls_server_ctx_free(d.tls);
	relay_free(d.rl);
	reactor_free(d.r);
	if (rc == 0)
		log_msg(LOG_INFO, "stopped", NULL);
	return rc;
}
