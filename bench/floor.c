/* floor: the least an HTTP responder can do, the bench's floor: one
 * epoll loop, one read and one canned write per request, no parsing.
 * Every inbound CPU-per-request figure is also read against it.
 *
 *   floor PORT        (listens on 127.0.0.1; runs until killed)
 *
 * A request is assumed to arrive in one read (the bench's clients send
 * each request with one write, one in flight per connection). Built by
 * `make bench`, never linked into edgehook. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 30\r\n\r\n"
			     "Hook rules were not satisfied.";

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	struct epoll_event ev, evs[256];
	static char buf[65536];
	int one = 1, lfd, ep;
	if (argc != 2) {
		fprintf(stderr, "usage: floor PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0) {
		perror("floor: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int i, n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			{
				ssize_t r = read(fd, buf, sizeof(buf));
				if (r > 0 ? write(fd, answer, sizeof(answer) - 1) < 0 : r == 0 || errno != EAGAIN)
					close(fd);
			}
		}
	}
}
