#include "edgehook/activation.h"
#include "edgehook/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* SD_LISTEN_FDS_START; more passed sockets than listeners we can hold
 * are refused rather than tracked */
enum { FIRST_FD = 3, MAX_PASSED = 16, NAME_MAX_LEN = 255 };

struct passed {
	int fd;
	int taken;
	char name[NAME_MAX_LEN + 1];
};

static struct {
	int parsed;
	int n;
	struct passed p[MAX_PASSED];
} act;

static int is_listening_stream(int fd)
{
	int type = 0, listening = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(listening);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) == 0 && type == SOCK_STREAM &&
	       getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l2) == 0 && listening;
}

/* The i-th colon-separated name in names, "" when absent. */
static void name_at(const char *names, int i, char *out)
{
	const char *p = names ? names : "", *end;
	size_t len;
	for (; i > 0 && p; i--)
		p = (p = strchr(p, ':')) ? p + 1 : NULL;
	if (!p)
		p = "";
	end = strchr(p, ':');
	len = end ? (size_t)(end - p) : strlen(p);
	if (len > NAME_MAX_LEN)
		len = NAME_MAX_LEN;
	memcpy(out, p, len);
	out[len] = '\0';
}

static void parse(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
	char *end;
	long n, i;
	act.parsed = 1;
	if (!pid || !fds || strtol(pid, &end, 10) != (long)getpid() || *end)
		goto done;
	n = strtol(fds, &end, 10);
	if (*end || n <= 0)
		goto done;
	if (n > MAX_PASSED) {
		log_msg(LOG_WARN, "socket activation: more passed sockets than listeners; using the first 16", "fds", fds, NULL);
		n = MAX_PASSED;
	}
	for (i = 0; i < n; i++) {
		int fd = FIRST_FD + (int)i;
		struct passed *p = &act.p[act.n];
		char num[16];
		name_at(names, (int)i, p->name);
		if (!is_listening_stream(fd)) {
			snprintf(num, sizeof(num), "%d", fd);
			log_msg(LOG_WARN, "socket activation: passed fd is not a listening stream socket; ignored", "fd", num,
				"name", p->name, NULL);
			continue;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		p->fd = fd;
		p->taken = 0;
		act.n++;
	}
done:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int activation_count(void)
{
	if (!act.parsed)
		parse();
	return act.n;
}

static int same_address(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);
	memset(&local, 0, sizeof(local));
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 || local.ss_family != addr->sa_family)
		return 0;
	if (addr->sa_family == AF_UNIX)
		return strncmp(((const struct sockaddr_un *)addr)->sun_path, ((struct sockaddr_un *)&local)->sun_path,
			       sizeof(((struct sockaddr_un *)&local)->sun_path)) == 0;
	return llen == len && memcmp(&local, addr, len) == 0;
}

static int take(struct passed *p)
{
	p->taken = 1;
	return p->fd;
}

int activation_take(const struct sockaddr *addr, socklen_t len, const char *name, int api)
{
	int i;
	if (activation_count() == 0)
		return -1;
	for (i = 0; name && i < act.n; i++)
		if (!act.p[i].taken && strcmp(act.p[i].name, name) == 0)
			return take(&act.p[i]);
	for (i = 0; i < act.n; i++)
		if (!act.p[i].taken && same_address(act.p[i].fd, addr, len))
			return take(&act.p[i]);
	for (i = 0; i < act.n; i++)
		if (!act.p[i].taken && (strcmp(act.p[i].name, "api") == 0) == (api != 0))
			return take(&act.p[i]);
	return -1;
}

int activation_take_rest(int *api)
{
	int i;
	for (i = 0; i < activation_count(); i++)
		if (!act.p[i].taken) {
			*api = strcmp(act.p[i].name, "api") == 0;
			return take(&act.p[i]);
		}
	return -1;
}

int activation_install(const int *fds, const char *const *names, int n)
{
	int i;
	if (n > MAX_PASSED)
		return -1;
	memset(&act, 0, sizeof(act));
	act.parsed = 1;
	for (i = 0; i < n; i++) {
		act.p[i].fd = fds[i];
		snprintf(act.p[i].name, sizeof(act.p[i].name), "%s", names[i] ? names[i] : "");
	}
	act.n = n;
	return 0;
}
