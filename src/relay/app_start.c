/* app_start: the start-up chores around the object graph (see app.h). */
#include "edgehook/app.h"
#include "edgehook/buf.h"
#include "edgehook/cidr.h"
#include "edgehook/clock.h"
#include "edgehook/config.h"
#include "edgehook/log.h"
#include "edgehook/server.h"
#include "edgehook/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A daemon started with a closed stdin/stdout/stderr would hand those
 * numbers to sockets or pipes; children would then inherit them as their
 * standard streams. Park /dev/null there first. */
void app_std_fds(void)
{
	int fd;
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* A test-only setting for signature windows (Slack, Standard Webhooks). */
void app_test_clock(void)
{
	const char *now = getenv("EDGEHOOK_TEST_NOW");
	if (now && *now) {
		clock_set_wall_override((uint64_t)strtoull(now, NULL, 10) * 1000u);
		log_msg(LOG_WARN, "wall clock frozen by EDGEHOOK_TEST_NOW (test only)", "now", now, NULL);
	}
}

int app_load_config(const char *path, struct config **cfg)
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

void app_print_warnings(const struct config *cfg, const struct listen_cfg *listen, size_t n, int to_stderr)
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

/* "host:port" or "[v6]:port" of bound listener i; a Unix socket by the
 * configured text when given, else by its path. */
static void bound_text(const struct http_server *srv, size_t i, const char *configured, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	char host[64];
	if (http_server_local_addr(srv, i, &ss) < 0 || ss.ss_family == AF_UNIX) {
		if (configured)
			snprintf(out, cap, "%s", configured);
		else
			snprintf(out, cap, "unix:%s", ss.ss_family == AF_UNIX ? ((struct sockaddr_un *)&ss)->sun_path : "?");
		return;
	}
	cidr_addr_text((const struct sockaddr *)&ss, host, sizeof(host));
	snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port));
}

static int listen_server(struct http_server *srv, const struct config *cfg, const char *override,
			 struct app_listeners *out)
{
	size_t i;
	out->list = cfg->server.listen;
	out->n = cfg->server.nlisten;
	if (override) {
		if (config_parse_listen(override, &out->one) < 0) {
			fprintf(stderr, "edgehook: -l %s: expected HOST:PORT\n", override);
			return APP_EXIT_USAGE;
		}
		out->list = &out->one;
		out->n = 1;
	}
	for (i = 0; i < out->n; i++) {
		const struct listen_cfg *l = &out->list[i];
		int tls = override ? cfg->server.tls_cert != NULL : l->tls > 0;
		if (tls && !out->tls) {
			struct buf err;
			buf_init(&err, 4096);
			out->tls = tls_server_ctx_new(cfg->server.tls_cert, cfg->server.tls_key, &err);
			if (!out->tls)
				fprintf(stderr, "edgehook: server.tls: %.*s\n", (int)err.len, err.data ? err.data : "");
			buf_free(&err);
			if (!out->tls)
				return APP_EXIT_USAGE;
		}
		if (http_server_listen_named(srv, (const struct sockaddr *)&l->addr, l->addrlen, l->name,
					     tls ? out->tls : NULL, 0) < 0) {
			fprintf(stderr, "edgehook: cannot listen on %s: %s\n", l->text, strerror(errno));
			return APP_EXIT_RUNTIME;
		}
	}
	return 0;
}

void app_remove_stale_socket(const struct sockaddr_un *un)
{
	struct stat st;
	int fd;
	if (lstat(un->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)un, sizeof(*un)) < 0 && errno == ECONNREFUSED)
		unlink(un->sun_path);
	close(fd);
}

static int remember_socket(struct app_listeners *l, const char *path)
{
	char **grown = realloc(l->sockets, (l->nsockets + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	l->sockets = grown;
	if (!(grown[l->nsockets] = strdup(path)))
		return -1;
	l->nsockets++;
	return 0;
}

static int listen_api(struct http_server *srv, const struct config *cfg, struct app_listeners *out)
{
	size_t i;
	for (i = 0; i < cfg->api.nlisten; i++) {
		const struct listen_cfg *l = &cfg->api.listen[i];
		/* a passed Unix socket is the service manager's to remove */
		int own_path = l->addr.ss_family == AF_UNIX && !http_server_activated();
		if (own_path)
			app_remove_stale_socket((const struct sockaddr_un *)&l->addr);
		if (http_server_listen_named(srv, (const struct sockaddr *)&l->addr, l->addrlen, l->name, NULL,
					     HTTP_LISTENER_API) < 0) {
			fprintf(stderr, "edgehook: cannot listen on %s (api.listen): %s\n", l->text, strerror(errno));
			return APP_EXIT_RUNTIME;
		}
		if (own_path && remember_socket(out, ((const struct sockaddr_un *)&l->addr)->sun_path) < 0) {
			fprintf(stderr, "edgehook: out of memory\n");
			return APP_EXIT_RUNTIME;
		}
		out->napi++;
	}
	return 0;
}

/* Sockets passed by socket activation that no listen entry took are
 * served too (a .socket unit may listen on more addresses than named). */
static int listen_passed_rest(struct http_server *srv, struct app_listeners *out)
{
	unsigned flags;
	int got;
	while ((got = http_server_listen_passed(srv, &flags)) > 0) {
		unsigned *grown = realloc(out->passed, (out->npassed + 1) * sizeof(*grown));
		if (!grown) {
			fprintf(stderr, "edgehook: out of memory\n");
			return APP_EXIT_RUNTIME;
		}
		out->passed = grown;
		out->passed[out->npassed++] = flags;
		if (flags & HTTP_LISTENER_API)
			out->napi_passed++;
	}
	if (got < 0)
		fprintf(stderr, "edgehook: cannot serve a passed socket: %s\n", strerror(errno));
	return got < 0 ? APP_EXIT_RUNTIME : 0;
}

int app_listen(struct http_server *srv, const struct config *cfg, const char *override, struct app_listeners *out)
{
	int rc = listen_server(srv, cfg, override, out);
	if (rc == 0)
		rc = listen_api(srv, cfg, out);
	return rc ? rc : listen_passed_rest(srv, out);
}

void app_announce(const struct http_server *srv, const struct config *cfg, const struct app_listeners *l)
{
	size_t i;
	app_print_warnings(cfg, l->list, l->n, 0);
	for (i = 0; i < l->n; i++) {
		char text[160];
		int tls = l->list == &l->one ? cfg->server.tls_cert != NULL : l->list[i].tls > 0;
		bound_text(srv, i, NULL, text, sizeof(text));
		log_msg(LOG_INFO, "listening", "addr", text, "tls", tls ? "on" : "off", NULL);
	}
	for (i = 0; i < l->napi; i++) {
		char text[160];
		bound_text(srv, l->n + i, cfg->api.listen[i].text, text, sizeof(text));
		log_msg(LOG_INFO, "listening for the API", "addr", text, NULL);
	}
	for (i = 0; i < l->npassed; i++) {
		char text[160];
		bound_text(srv, l->n + l->napi + i, NULL, text, sizeof(text));
		log_msg(LOG_INFO, l->passed[i] & HTTP_LISTENER_API ? "listening for the API" : "listening", "addr", text,
			"tls", "off", "passed", "yes", NULL);
	}
}

void app_listeners_close(struct app_listeners *l)
{
	size_t i;
	for (i = 0; i < l->nsockets; i++) {
		unlink(l->sockets[i]);
		free(l->sockets[i]);
	}
	free(l->sockets);
	free(l->passed);
	tls_server_ctx_free(l->tls);
	memset(l, 0, sizeof(*l));
}

int app_drop_privileges(const char *user)
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
