/* Config: the api section (listen, allow_run), empty secrets and the
 * warnings --check prints. */
#include "config_load.h"

#include "edgehook/config.h"

#include <stdlib.h>
#include <sys/un.h>

/* The warnings of text, NUL-terminated in out (empty when none). */
static void warnings_of(const char *text, struct buf *out)
{
	struct buf errs;
	struct config *c = load(text, &errs);
	buf_init(out, 1 << 16);
	if (c)
		config_warnings(c, NULL, 0, out);
	buf_append(out, "", 1);
	config_free(c);
	buf_free(&errs);
}

TEST(api_listen_addresses_and_unix_socket)
{
	struct buf errs;
	struct config *c = load("api:\n  listen: [127.0.0.1:9090, unix:/run/eh/api.sock]\n  allow_run: true\n", &errs);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_INT(c->api.nlisten, 2);
	CHECK_EQ_INT(c->api.allow_run, 1);
	CHECK_EQ_INT(c->api.listen[1].addr.ss_family, AF_UNIX);
	CHECK_STR(((struct sockaddr_un *)&c->api.listen[1].addr)->sun_path, "/run/eh/api.sock");
	CHECK_EQ_INT(config_listen_is_local(&c->api.listen[0]), 1);
	CHECK_EQ_INT(config_listen_is_local(&c->api.listen[1]), 1);
	config_free(c);
	buf_free(&errs);
	c = load("api:\n  token: t\n", &errs);
	CHECK(c && c->api.nlisten == 0 && c->api.allow_run == 0);
	config_free(c);
	buf_free(&errs);
}

TEST(api_listen_errors)
{
	char long_path[200];
	char text[300];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	snprintf(text, sizeof(text), "api:\n  listen: unix:/%s\n", long_path);
	CHECK(fails_with(text, "t.yaml:2: listen: bad address"));
	CHECK(fails_with("api:\n  listen: unix:relative.sock\n", "t.yaml:2: listen: bad address"));
	CHECK(fails_with("server:\n  listen: unix:/run/x.sock\n", "Unix sockets are for api.listen only"));
	CHECK(fails_with("api:\n  listen: {address: 127.0.0.1:9, tls: true}\n", "TLS is not served on API listeners"));
	CHECK(fails_with("api:\n  allow_run: maybe\n", "t.yaml:2: allow_run"));
}

TEST(empty_secret_refused_for_every_kind)
{
	static const char *const kinds[] = {"generic", "github", "gitlab", "slack", "standard"};
	char text[200];
	size_t i;
	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "triggers:\n  - id: t\n    kind: %s\n    secret: \"\"\n", kinds[i]);
		CHECK(fails_with(text, "t.yaml:4: secret: empty"));
	}
}

TEST(warnings_api_on_shared_listener_and_bare_event_source)
{
	struct buf w;
	warnings_of("server:\n  listen: [127.0.0.1:1, \"0.0.0.0:8080\"]\n", &w);
	CHECK(strstr(w.data, "t.yaml: warning: the API is served on 0.0.0.0:8080 and api.token is not set") != NULL);
	CHECK(strstr(w.data, "127.0.0.1:1") == NULL);
	buf_free(&w);
	warnings_of("server:\n  listen: \"[::]:8080\"\napi:\n  listen: \"[::1]:9\"\n", &w);
	CHECK_STR(w.data, "");
	buf_free(&w);
	warnings_of("server:\n  listen: \"[::]:8080\"\napi:\n  token: x\n", &w);
	CHECK_STR(w.data, "");
	buf_free(&w);
	warnings_of("triggers:\n  - id: a\n    event_source: ci.example.com\n  - {id: b, event_source: x, secret: s}\n", &w);
	CHECK(strstr(w.data, "t.yaml:2: warning: trigger a: event_source") != NULL);
	CHECK(strstr(w.data, "trigger b") == NULL);
	buf_free(&w);
}

int main(void)
{
	RUN(api_listen_addresses_and_unix_socket);
	RUN(api_listen_errors);
	RUN(empty_secret_refused_for_every_kind);
	RUN(warnings_api_on_shared_listener_and_bare_event_source);
	return unit_done();
}
