/* client: what the outbound HTTP client promises its callers without a
 * peer to talk to: failures known at once are still reported from the
 * loop (the reactor's defer queue), never inside http_client_send. */
#include "unit.h"

#include "edgehook/client.h"
#include "edgehook/dns.h"
#include "edgehook/reactor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int calls;
static const char *last_error;
static int in_send;

static void on_result(void *arg, const struct http_client_result *res)
{
	(void)arg;
	CHECK(!in_send);
	calls++;
	last_error = res->error;
}

/* A loopback port nobody listens on: bind one, then close it. */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static struct http_client_op *send_to(struct http_client *c, const char *text, struct url *u)
{
	struct http_client_request req;
	const char *why;
	struct http_client_op *op;
	memset(&req, 0, sizeof(req));
	if (url_parse(text, u, &why) < 0)
		return NULL;
	req.method = "POST";
	req.url = u;
	req.body = "{}";
	req.body_len = 2;
	req.timeout_ms = 5000;
	req.max_in_flight = 4;
	in_send = 1;
	op = http_client_send(c, &req, on_result, NULL);
	in_send = 0;
	return op;
}

TEST(refused_connect_reported_from_the_loop_not_inside_send)
{
	struct reactor *r = reactor_new();
	struct dns_conf *conf = dns_conf_load("/dev/null", "/dev/null");
	struct dns *d = dns_new(r, conf);
	struct http_client *c = http_client_new(r, d);
	char text[64];
	struct url u, u2;
	int port = closed_port(), rounds = 0;
	struct http_client_op *op;
	CHECK(port > 0);
	snprintf(text, sizeof(text), "http://127.0.0.1:%d/", port);
	calls = 0;
	CHECK(send_to(c, text, &u) != NULL);
	CHECK_EQ_INT(calls, 0);
	while (calls == 0 && rounds++ < 100)
		reactor_poll(r, 50);
	CHECK_EQ_INT(calls, 1);
	CHECK_STR(last_error, "connection refused");
	/* cancelled before the loop reports it: never reported */
	calls = 0;
	op = send_to(c, text, &u2);
	CHECK(op != NULL);
	if (op)
		http_client_cancel(op);
	CHECK_EQ_INT(reactor_poll(r, 0), 0);
	CHECK_EQ_INT(calls, 0);
	CHECK_EQ_INT(http_client_in_flight(c), 0);
	http_client_free(c);
	dns_free(d);
	reactor_free(r);
}

int main(void)
{
	RUN(refused_connect_reported_from_the_loop_not_inside_send);
	return unit_done();
}
