/* compat: the webhook-mode process: flags, hooks files, listener (TCP,
 * Unix socket or HTTPS), -setuid/-setgid after binding, -pidfile, the
 * log webhook users grep, and the loop. */
#include "edgehook/compat_internal.h"

#include "edgehook/buf.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/server.h"
#include "edgehook/tls.h"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

void compat_log(struct compat *app, const char *reqid, const char *fmt, ...)
{
	va_list ap;
	char when[32];
	time_t now;
	struct tm tm;
	if (app->embedded) {
		char line[4096];
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		log_msg(LOG_INFO, line, "hooks_request", reqid, NULL);
		return;
	}
	if (!app->log)
		return;
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y/%m/%d %H:%M:%S", &tm);
	fprintf(app->log, "[webhook] %s ", when);
	if (reqid)
		fprintf(app->log, "[%s] ", reqid);
	va_start(ap, fmt);
	vfprintf(app->log, fmt, ap);
	va_end(ap);
	fputc('\n', app->log);
	fflush(app->log);
}

/* NUL-terminates a loader's message for the log; one at the bound loses
 * its last byte rather than the whole message. */
static const char *errors_text(struct buf *b)
{
	if (buf_append(b, "", 1) == 0)
		return b->data;
	if (!b->len)
		return "out of memory";
	b->data[b->len - 1] = 0;
	return b->data;
}

/* Loads every -hooks file into set. At start a bad file is logged and
 * skipped (webhook carries on); on reload any failure keeps the running
 * set. A duplicate id always fails: across files at start, and within
 * one file too on reload, as webhook's reloadHooks checks. */
static int load_set(struct compat *app, struct hook_set *set, int strict)
{
	size_t i, before;
	struct buf errors;
	const char *err;
	int rc = 0;
	set->unique_in_file = strict;
	set->as_template = app->o.template_;
	for (i = 0; i < app->o.nhooks && rc == 0; i++) {
		compat_log(app, NULL, "attempting to %sload hooks from %s", strict ? "re" : "", app->o.hooks[i]);
		before = set->n;
		buf_init(&errors, HOOKS_ERRORS_MAX);
		if (hooks_load(set, &app->o.hooks[i], 1, &errors) < 0) {
			err = errors_text(&errors);
			if (strstr(err, "has already been loaded")) {
				compat_log(app, NULL, "error: %s! please check your hooks file for duplicate hooks ids!", err);
				if (!app->log)
					fprintf(stderr, "[webhook] error: %s! please check your hooks file for duplicate hooks "
							"ids!\n", err);
				rc = -1;
			} else {
				compat_log(app, NULL, "couldn't load hooks from file! %s", err);
				rc = strict ? -1 : 0;
			}
		} else {
			compat_log(app, NULL, "found %zu hook(s) in file", set->n - before);
			for (; before < set->n; before++)
				compat_log(app, NULL, "\tloaded: %s", set->hooks[before].id);
		}
		buf_free(&errors);
	}
	return rc;
}

static int load_hooks(struct compat *app)
{
	if (load_set(app, &app->hooks, 0) < 0)
		return -1;
	if (app->hooks.n == 0 && !app->log && !app->o.nopanic) {
		printf("couldn't load any hooks from file!\naborting webhook execution since the -verbose flag is set to "
		       "false.\nIf, for some reason, you want webhook to start without the hooks, either use -verbose flag, "
		       "or -nopanic\n");
		return -1;
	}
	return 0;
}

/* SIGHUP, SIGUSR1: a new set replaces the running one only whole. Runs
 * in flight copied what they need from their hook, and no request is
 * between lookup and answer here (one thread), so the old set can go. */
void compat_reload(struct compat *app)
{
	struct hook_set fresh;
	hooks_init(&fresh);
	if (load_set(app, &fresh, 1) < 0) {
		compat_log(app, NULL, "reverting hooks back to the previous configuration");
		hooks_free(&fresh);
		return;
	}
	hooks_free(&app->hooks);
	app->hooks = fresh;
}

/* -hotreload: the directories of the hooks files are watched, since
 * editors and config tools replace a file by renaming a new one over it;
 * a change to one of the files reloads the set. */
static void on_inotify(void *arg, int fd, uint32_t events)
{
	struct compat *app = arg;
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *changed = NULL;
	ssize_t n;
	size_t i;
	(void)events;
	while ((n = read(fd, ev, sizeof(ev))) > 0) {
		char *p;
		for (p = ev; p < ev + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			for (i = 0; e->len && i < app->o.nhooks; i++) {
				const char *base = strrchr(app->o.hooks[i], '/');
				if (strcmp(e->name, base ? base + 1 : app->o.hooks[i]) == 0)
					changed = app->o.hooks[i];
			}
		}
	}
	if (changed) {
		compat_log(app, NULL, "hooks file %s modified", changed);
		compat_reload(app);
	}
}

static int watch_hooks(struct compat *app)
{
	size_t i;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -1;
	for (i = 0; i < app->o.nhooks; i++) {
		char dir[4096];
		const char *slash = strrchr(app->o.hooks[i], '/');
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - app->o.hooks[i] + 1) : 1,
			 slash ? app->o.hooks[i] : ".");
		if (inotify_add_watch(fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
			compat_log(app, NULL, "error adding hooks dir %s to the watcher: %s", dir, strerror(errno));
			close(fd);
			return -1;
		}
		compat_log(app, NULL, "setting up file watcher for %s", app->o.hooks[i]);
	}
	if (reactor_add(app->r, fd, EPOLLIN, on_inotify, app) < 0) {
		close(fd);
		return -1;
	}
	app->watch_fd = fd;
	return 0;
}

static int split_methods(struct compat *app)
{
	char *p;
	if (!app->o.methods || !*app->o.methods)
		return 0;
	if (!(app->methods_text = strdup(app->o.methods)))
		return -1;
	for (p = strtok(app->methods_text, ","); p && app->nmethods < COMPAT_MAX_LIST; p = strtok(NULL, ",")) {
		char *end;
		p += strspn(p, " \t");
		for (end = p + strlen(p); end > p && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = 0;
		/* webhook upper-cases the -http-methods list */
		for (end = p; *end; end++)
			if (*end >= 'a' && *end <= 'z')
				*end = (char)(*end - 32);
		if (*p)
			app->methods[app->nmethods++] = p;
	}
	return 0;
}

static int listen_on(struct compat *app, struct http_server *srv, struct tls_server_ctx **tls)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	if (app->o.socket) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		if (strlen(app->o.socket) >= sizeof(un->sun_path)) {
			fprintf(stderr, "webhook: -socket %s: path too long\n", app->o.socket);
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, app->o.socket);
		len = sizeof(*un);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		if (app->o.port < 0 || app->o.port > 65535)
			goto bad_addr;
		if (inet_pton(AF_INET, app->o.ip, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)app->o.port);
			len = sizeof(*a4);
		} else if (inet_pton(AF_INET6, app->o.ip, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)app->o.port);
			len = sizeof(*a6);
		} else {
			goto bad_addr;
		}
	}
	if (app->o.secure) {
		struct buf why;
		buf_init(&why, 4096);
		*tls = tls_server_ctx_new(app->o.cert, app->o.key, &why);
		if (!*tls)
			fprintf(stderr, "webhook: error loading key pair: %.*s\n", (int)why.len, why.data ? why.data : "");
		buf_free(&why);
		if (!*tls)
			return -1;
	}
	if (http_server_listen(srv, (const struct sockaddr *)&ss, len, *tls) < 0) {
		fprintf(stderr, "webhook: listen: %s\n", strerror(errno));
		return -1;
	}
	if (app->o.socket)
		compat_log(app, NULL, "serving hooks on %s", app->o.socket);
	else
		compat_log(app, NULL, "serving hooks on http%s://%s:%ld%s{id}", app->o.secure ? "s" : "", app->o.ip,
			   app->o.port, app->prefix);
	return 0;
bad_addr:
	fprintf(stderr, "webhook: listen tcp: address %s:%ld: invalid\n", app->o.ip, app->o.port);
	return -1;
}

static int drop_ids(struct compat *app)
{
	if (!app->o.setuid && !app->o.setgid)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid((gid_t)app->o.setgid) < 0 || setuid((uid_t)app->o.setuid) < 0) {
		fprintf(stderr, "webhook: error dropping privileges: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* webhook's pidfile: a file naming a live process refuses the start
 * (another webhook may run), a stale one is replaced; the directory is
 * created; the pid is written without a newline, mode 0600. */
static int write_pidfile(struct compat *app)
{
	char text[32], dir[4096];
	const char *path = app->o.pidfile;
	char *p;
	int fd, n;
	FILE *old = fopen(path, "r");
	if (old) {
		long pid = 0;
		int live = fscanf(old, "%ld", &pid) == 1 && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
		fclose(old);
		if (live) {
			compat_log(app, NULL, "Error creating pidfile: pid file found, ensure webhook is not running or delete %s",
				   path);
			return -1;
		}
	}
	snprintf(dir, sizeof(dir), "%s", path);
	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			break;
		*p = '/';
	}
	n = snprintf(text, sizeof(text), "%d", (int)getpid());
	/* written as root before -setuid: a symlink or hard link planted
	 * under the stale name must not lead the write to another file, so
	 * the name is removed and a new file of our own made */
	if (unlink(path) < 0 && errno != ENOENT) {
		compat_log(app, NULL, "Error creating pidfile: %s", strerror(errno));
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, (size_t)n) != n) {
		compat_log(app, NULL, "Error creating pidfile: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Go's net/http reads a POST without Content-Length as an empty body */
static int any_request(void *app, const struct http_request *req)
{
	(void)app;
	(void)req;
	return 1;
}

static void on_signal(void *arg, int signo)
{
	struct compat *app = arg;
	if (signo == SIGCHLD) {
		compat_reap(app);
		return;
	}
	if (signo == SIGHUP || signo == SIGUSR1) {
		compat_log(app, NULL, "caught %s signal", signo == SIGHUP ? "hangup" : "user defined signal 1");
		compat_reload(app);
		return;
	}
	compat_log(app, NULL, "caught %s signal; exiting", signo == SIGTERM ? "terminated" : "interrupt");
	reactor_stop(app->r);
}

int compat_main(int argc, char **argv)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGCHLD, SIGHUP, SIGUSR1};
	static const struct http_server_limits lim = {
		.max_connections = 4096,
		.max_header_bytes = 1 << 20,  /* Go's DefaultMaxHeaderBytes */
		.max_body_bytes = 64u << 20,  /* webhook has none: ours is a bound */
		.header_timeout_ms = 60000,
		.body_timeout_ms = 300000,
		.idle_timeout_ms = 120000,
	};
	struct compat app;
	struct http_server *srv = NULL;
	struct tls_server_ctx *tls = NULL;
	int pidfile = 0;
	int rc = 1, k = compat_parse_args(argc, argv, &app.o);
	if (k != 0)
		return k > 0 ? 0 : 2;
	/* checked before anything else, as webhook does */
	if (!app.o.setuid != !app.o.setgid) {
		printf("error: setuid and setgid options must be used together\n");
		return 1;
	}
	{
		struct compat_opts o = app.o;
		memset(&app, 0, sizeof(app));
		app.o = o;
		app.watch_fd = -1;
	}
	hooks_init(&app.hooks);
	signal(SIGPIPE, SIG_IGN);
	if (app.o.logfile && !(app.log = fopen(app.o.logfile, "a"))) {
		fprintf(stderr, "webhook: error opening log file %s: %s\n", app.o.logfile, strerror(errno));
		goto out;
	}
	if (!app.log && (app.o.verbose || app.o.debug))
		app.log = stderr;
	snprintf(app.prefix, sizeof(app.prefix), "/%s%s", app.o.urlprefix, *app.o.urlprefix ? "/" : "");
	compat_log(&app, NULL, "version 2.8.0 starting");
	if (app.o.pidfile) {
		if (write_pidfile(&app) < 0)
			goto out;
		pidfile = 1;
	}
	compat_log(&app, NULL, "setting up os signal watcher");
	if (!(app.r = reactor_new()) || reactor_signals(app.r, signals, sizeof(signals) / sizeof(signals[0]), on_signal, &app) < 0)
		goto out;
	compat_log(&app, NULL, "os signal watcher ready");
	if (split_methods(&app) < 0 || load_hooks(&app) < 0 || !(srv = http_server_new(app.r, &lim, compat_handle, &app)))
		goto out;
	http_server_empty_body_ok(srv, any_request);
	if (app.o.hotreload && watch_hooks(&app) < 0)
		goto out;
	if (listen_on(&app, srv, &tls) < 0 || drop_ids(&app) < 0)
		goto out;
	reactor_run(app.r);
	rc = 0;
out:
	if (pidfile)
		unlink(app.o.pidfile);
	if (srv)
		http_server_free(srv);
	if (tls)
		tls_server_ctx_free(tls);
	if (app.r && app.watch_fd >= 0)
		reactor_close(app.r, &app.watch_fd);
	if (app.r)
		reactor_free(app.r);
	hooks_free(&app.hooks);
	compat_runs_free(&app);
	free(app.methods_text);
	if (app.log && app.log != stderr)
		fclose(app.log);
	return rc;
}
