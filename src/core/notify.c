#include "edgehook/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_address(struct notifier *n, const char *path)
{
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len > sizeof(n->addr.sun_path))
		return -1;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	/* the abstract namespace: a leading NUL, and the length says where
	 * the name ends (it is not NUL-terminated) */
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	return 0;
}

/* WATCHDOG_PID names the process the watchdog is meant for; when it is
 * set to another pid, the variables were inherited and are not ours. */
static uint64_t watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;
	if (!usec || !*usec)
		return 0;
	if (pid && *pid && strtol(pid, &end, 10) != (long)getpid())
		return 0;
	v = strtoull(usec, &end, 10);
	if (*end || v == 0)
		return 0;
	return v < 1000 ? 1 : v / 1000;
}

int notify_open(struct notifier *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	int rc = 0;
	n->fd = -1;
	n->watchdog_ms = 0;
	if (path && *path) {
		rc = -1;
		if (parse_address(n, path) == 0) {
			n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
			if (n->fd >= 0) {
				n->watchdog_ms = watchdog_ms();
				rc = 1;
			}
		}
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return rc;
}

int notify_send(struct notifier *n, const char *msg)
{
	ssize_t w;
	if (n->fd < 0)
		return -1;
	do
		w = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *)&n->addr, n->addrlen);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -1 : 0;
}

void notify_close(struct notifier *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
