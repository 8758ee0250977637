/* resp client against a real redis-server (started here on a free port,
 * own dir, stopped by pid) and against hostile fake servers. */
#include "edgehook/clock.h"
#include "edgehook/dns.h"
#include "edgehook/reactor.h"
#include "edgehook/resp.h"

#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct reactor *R;
static char tmpdir[] = "/tmp/edgehook-resp-XXXXXX";

struct result {
	int done;
	char err[64];
	int type;
	char text[128];
	int64_t i;
	uint32_t n;
	int order;
};

static int order_seq;
static int inside_command; /* set while resp_command runs: a callback there is a bug */
static int callback_inside;

static void on_reply(void *arg, const char *err, const struct resp_reply *r)
{
	struct result *res = arg;
	if (inside_command)
		callback_inside = 1;
	res->done = 1;
	res->order = ++order_seq;
	if (err) {
		snprintf(res->err, sizeof(res->err), "%s", err);
		return;
	}
	res->type = r->v[0].type;
	res->i = r->v[0].i;
	res->n = r->n;
	snprintf(res->text, sizeof(res->text), "%.*s", (int)(r->v[0].len < 127 ? r->v[0].len : 127), resp_str(r, &r->v[0]));
}

static int cmd(struct resp_client *c, struct result *res, int argc, const char *const *argv)
{
	int rc;
	memset(res, 0, sizeof(*res));
	inside_command = 1;
	rc = resp_command(c, argc, argv, NULL, on_reply, res);
	inside_command = 0;
	return rc;
}

/* Runs the loop until *flag or 20s; returns the iterations it took. */
static int run_until(const int *flag)
{
	uint64_t end = clock_update() + 20000;
	int it = 0;
	while (!*flag && clock_now_ms() < end) {
		reactor_poll(R, 100);
		it++;
	}
	return it;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static pid_t redis_pid = -1;
static uint16_t redis_port;

static int redis_start(uint16_t on_port)
{
	char port[8];
	redis_port = on_port;
	snprintf(port, sizeof(port), "%u", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		char log[300];
		int fd;
		snprintf(log, sizeof(log), "%s/redis.log", tmpdir);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", tmpdir,
		       "--save", "", "--appendonly", "no", "--requirepass", "s3cret", "--daemonize", "no",
		       "--logfile", "", "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	return redis_pid > 0 ? 0 : -1;
}

static void redis_stop(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

static struct resp_client *client(struct dns *d, const char *url, uint64_t timeout_ms)
{
	struct redis_url u;
	struct resp_opts o;
	const char *why;
	if (redis_url_parse(url, &u, &why) < 0)
		return NULL;
	resp_opts_default(&o);
	o.command_timeout_ms = timeout_ms;
	o.backoff_min_ms = 50;
	o.backoff_max_ms = 400;
	return resp_client_new(R, d, &u, &o);
}

TEST(test_resp_client_pipelined_round_trips_real_redis)
{
	char url[128], hosts[300];
	struct dns *d;
	struct resp_client *c, *c0;
	struct result r[8];
	FILE *f;
	const char *set[] = {"SET", "k", "v"}, *get[] = {"GET", "k"};
	const char *grp[] = {"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"};
	const char *xadd[] = {"XADD", "s", "*", "f", "v"};
	const char *xread[] = {"XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "STREAMS", "s", ">"};
	const char *nogroup[] = {"XREADGROUP", "GROUP", "missing", "c1", "STREAMS", "s", ">"};
	const char *ack[] = {"XACK", "s", "g", "0-0"};
	int i;
	/* a host name, through the resolver's hosts file */
	snprintf(hosts, sizeof(hosts), "%s/hosts", tmpdir);
	f = fopen(hosts, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fprintf(f, "127.0.0.1 redis.test\n");
	fclose(f);
	d = dns_new(R, dns_conf_load("/dev/null", hosts));
	snprintf(url, sizeof(url), "redis://:s3cret@redis.test:%u/2", redis_port);
	c = client(d, url, 10000);
	CHECK(c != NULL);
	if (!c)
		return;
	/* queued before the connection is up (redis may still be starting):
	 * they wait for it, and go out pipelined */
	CHECK_EQ_INT(cmd(c, &r[0], 3, set), 0);
	CHECK_EQ_INT(cmd(c, &r[1], 2, get), 0);
	CHECK_EQ_INT(cmd(c, &r[2], 6, grp), 0);
	CHECK_EQ_INT(cmd(c, &r[3], 5, xadd), 0);
	CHECK_EQ_INT(cmd(c, &r[4], 9, xread), 0);
	CHECK_EQ_INT(cmd(c, &r[5], 7, nogroup), 0);
	CHECK_EQ_INT(cmd(c, &r[6], 4, ack), 0);
	CHECK(!r[0].done);
	run_until(&r[6].done);
	for (i = 0; i < 7; i++) {
		CHECK_STR(r[i].err, "");
		CHECK_EQ_INT(r[i].order, order_seq - 6 + i);
	}
	CHECK(r[0].type == RESP_SIMPLE && strcmp(r[0].text, "OK") == 0);
	CHECK(r[1].type == RESP_BULK && strcmp(r[1].text, "v") == 0);
	CHECK(r[2].type == RESP_SIMPLE && strcmp(r[2].text, "OK") == 0);
	CHECK_EQ_INT(r[3].type, RESP_BULK); /* the new id */
	/* [[s, [[id, [f, v]]]]]: 1 + 1 + 1 + 1 + 1 + 1 + 1 + 2 values */
	CHECK(r[4].type == RESP_ARRAY && r[4].n == 9);
	CHECK_EQ_INT(r[5].type, RESP_ERROR);
	CHECK(strncmp(r[5].text, "NOGROUP", 7) == 0);
	CHECK(r[6].type == RESP_INT && r[6].i == 0);
	CHECK(resp_connected(c));
	CHECK(!callback_inside);
	/* SELECT took: db 0 has no k */
	snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%u", redis_port);
	c0 = client(NULL, url, 10000);
	CHECK_EQ_INT(cmd(c0, &r[7], 2, get), 0);
	run_until(&r[7].done);
	CHECK_STR(r[7].err, "");
	CHECK_EQ_INT(r[7].type, RESP_NULL);
	resp_client_free(c0);
	resp_client_free(c);
	dns_free(d);
}

TEST(test_resp_client_wrong_password_fails_cleanly)
{
	char url[128];
	struct resp_client *c;
	struct result r;
	const char *ping[] = {"PING"};
	snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%u", redis_port);
	c = client(NULL, url, 800);
	CHECK_EQ_INT(cmd(c, &r, 1, ping), 0);
	run_until(&r.done);
	CHECK_STR(r.err, "resp: timeout");
	CHECK(strstr(resp_last_error(c), "handshake refused") != NULL);
	CHECK(!resp_connected(c));
	resp_client_free(c);
}

TEST(test_resp_client_reconnects_after_redis_restart)
{
	char url[128];
	struct resp_client *c;
	struct result r;
	const char *ping[] = {"PING"};
	uint64_t end;
	snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%u", redis_port);
	c = client(NULL, url, 10000);
	CHECK_EQ_INT(cmd(c, &r, 1, ping), 0);
	run_until(&r.done);
	CHECK_STR(r.text, "PONG");
	redis_stop();
	/* the loss is seen without a command (EOF), and the next command waits
	 * for the reconnect to the restarted server */
	end = clock_update() + 20000;
	while (resp_connected(c) && clock_now_ms() < end)
		reactor_poll(R, 100);
	CHECK(!resp_connected(c));
	CHECK_EQ_INT(redis_start(redis_port), 0);
	CHECK_EQ_INT(cmd(c, &r, 1, ping), 0);
	run_until(&r.done);
	CHECK_STR(r.err, "");
	CHECK_STR(r.text, "PONG");
	CHECK(resp_stats(c)->disconnects >= 1 && resp_stats(c)->connects >= 2);
	resp_client_free(c);
}

/* ---- hostile fake servers ---- */

enum fake_mode { FAKE_GARBAGE_ON_ACCEPT, FAKE_GARBAGE_ON_COMMAND, FAKE_STALL };

struct fake {
	int lfd;
	enum fake_mode mode;
	int conns[64];
	int nconns, accepts, eofs;
	uint64_t accepted_at[64];
};

static void fake_conn_io(void *arg, int fd, uint32_t events)
{
	struct fake *f = arg;
	char b[4096];
	ssize_t n = read(fd, b, sizeof(b));
	(void)events;
	if (n <= 0) {
		f->eofs++;
		reactor_del(R, fd);
		return;
	}
	if (f->mode == FAKE_GARBAGE_ON_COMMAND && write(fd, "+OK\r\n:12x\r\n", 11) < 0)
		f->eofs += 0;
}

static void fake_accept(void *arg, int fd, uint32_t events)
{
	struct fake *f = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	(void)events;
	if (c < 0 || f->nconns == 64) {
		if (c >= 0)
			close(c);
		return;
	}
	f->accepted_at[f->nconns] = clock_now_ms();
	f->conns[f->nconns++] = c;
	f->accepts++;
	if (f->mode == FAKE_GARBAGE_ON_ACCEPT && write(c, "HTTP/1.1 400 Bad\r\n\r\n", 20) < 0)
		return;
	reactor_add(R, c, EPOLLIN, fake_conn_io, f);
}

static uint16_t fake_start(struct fake *f, enum fake_mode mode)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	bind(f->lfd, (struct sockaddr *)&a, sizeof(a));
	listen(f->lfd, 16);
	getsockname(f->lfd, (struct sockaddr *)&a, &len);
	reactor_add(R, f->lfd, EPOLLIN, fake_accept, f);
	return ntohs(a.sin_port);
}

static void fake_stop(struct fake *f)
{
	int i;
	for (i = 0; i < f->nconns; i++) {
		reactor_del(R, f->conns[i]);
		close(f->conns[i]);
	}
	reactor_close(R, &f->lfd);
}

TEST(test_resp_client_garbage_reply_is_protocol_error)
{
	struct fake f;
	char url[64];
	struct resp_client *c;
	struct result r[2];
	const char *ping[] = {"PING"};
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", fake_start(&f, FAKE_GARBAGE_ON_COMMAND));
	c = client(NULL, url, 5000);
	CHECK_EQ_INT(cmd(c, &r[0], 1, ping), 0);
	CHECK_EQ_INT(cmd(c, &r[1], 1, ping), 0);
	run_until(&r[1].done);
	/* the first reply was good, the second is not a reply */
	CHECK_STR(r[0].err, "");
	CHECK_STR(r[1].err, "resp: protocol error");
	CHECK_EQ_INT(resp_stats(c)->protocol_errors, 1);
	resp_client_free(c);
	fake_stop(&f);
}

TEST(test_resp_client_garbage_server_no_busy_loop)
{
	/* a server that answers garbage at once: each attempt fails, and the
	 * reconnects wait a growing backoff instead of spinning the loop */
	struct fake f;
	char url[64];
	struct resp_client *c;
	uint64_t end;
	int it = 0;
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", fake_start(&f, FAKE_GARBAGE_ON_ACCEPT));
	c = client(NULL, url, 5000);
	end = clock_update() + 20000;
	while (f.accepts < 5 && clock_now_ms() < end) {
		reactor_poll(R, 1000);
		it++;
	}
	CHECK(f.accepts >= 5);
	CHECK(it < 200);
	/* the gaps between attempts grow: the 4th at least twice the 1st */
	if (f.accepts >= 5) {
		uint64_t first = f.accepted_at[1] - f.accepted_at[0], fourth = f.accepted_at[4] - f.accepted_at[3];
		CHECK(fourth > first && fourth >= 2 * first);
	}
	CHECK(resp_stats(c)->protocol_errors >= 4);
	CHECK(strstr(resp_last_error(c), "reply") != NULL);
	resp_client_free(c);
	fake_stop(&f);
}

TEST(test_resp_client_stalled_server_times_out)
{
	struct fake f;
	char url[64];
	struct resp_client *c;
	struct result r[2];
	const char *ping[] = {"PING"};
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", fake_start(&f, FAKE_STALL));
	c = client(NULL, url, 300);
	CHECK_EQ_INT(cmd(c, &r[0], 1, ping), 0);
	CHECK_EQ_INT(cmd(c, &r[1], 1, ping), 0);
	run_until(&r[1].done);
	CHECK_STR(r[0].err, "resp: timeout");
	CHECK_STR(r[1].err, "resp: timeout");
	CHECK(resp_stats(c)->timeouts >= 1);
	/* the stalled connection is dropped, not left open */
	run_until(&f.eofs);
	CHECK_EQ_INT(f.eofs, 1);
	resp_client_free(c);
	fake_stop(&f);
}

TEST(test_resp_client_full_queue_refused_without_callback)
{
	struct fake f;
	char url[64];
	struct redis_url u;
	struct resp_opts o;
	const char *why;
	struct resp_client *c;
	struct result r[3];
	const char *ping[] = {"PING"};
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u", fake_start(&f, FAKE_STALL));
	redis_url_parse(url, &u, &why);
	resp_opts_default(&o);
	o.max_queue = 2;
	o.command_timeout_ms = 200;
	c = resp_client_new(R, NULL, &u, &o);
	CHECK_EQ_INT(cmd(c, &r[0], 1, ping), 0);
	CHECK_EQ_INT(cmd(c, &r[1], 1, ping), 0);
	CHECK_EQ_INT(cmd(c, &r[2], 1, ping), -1);
	CHECK_EQ_INT(resp_stats(c)->refused, 1);
	run_until(&r[1].done);
	CHECK(!r[2].done);
	CHECK(!callback_inside);
	resp_client_free(c);
	fake_stop(&f);
}

TEST(test_resp_client_tls_needs_anchors_and_plain_refuses_them)
{
	struct redis_url u;
	struct resp_opts o;
	const char *why;
	redis_url_parse("rediss://h", &u, &why);
	resp_opts_default(&o);
	CHECK(resp_client_new(R, NULL, &u, &o) == NULL);
	redis_url_parse("redis://h", &u, &why);
	o.tls = (struct tls_client_ctx *)&o; /* never dereferenced: refused before */
	CHECK(resp_client_new(R, NULL, &u, &o) == NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	R = reactor_new();
	if (!R || !mkdtemp(tmpdir))
		return 1;
	clock_update();
	if (redis_start(free_port()) == 0) {
		RUN(test_resp_client_pipelined_round_trips_real_redis);
		RUN(test_resp_client_wrong_password_fails_cleanly);
		RUN(test_resp_client_reconnects_after_redis_restart);
	} else {
		unit_report("redis-server (tests/setup.sh installs it)", 1);
	}
	redis_stop();
	RUN(test_resp_client_garbage_reply_is_protocol_error);
	RUN(test_resp_client_garbage_server_no_busy_loop);
	RUN(test_resp_client_stalled_server_times_out);
	RUN(test_resp_client_full_queue_refused_without_callback);
	RUN(test_resp_client_tls_needs_anchors_and_plain_refuses_them);
	reactor_free(R);
	{
		char cmdline[128];
		snprintf(cmdline, sizeof(cmdline), "rm -rf %s", tmpdir);
		if (system(cmdline) != 0)
			return 1;
	}
	return unit_done();
}
