#include "edgehook/supervise.h"
#include "edgehook/dispatch.h"
#include "edgehook/log.h"
#include "edgehook/relay.h"
#include "edgehook/server.h"

#include <stdio.h>
#include <time.h>

/* STATUS= is one line; state plus two numbers fit easily */
enum { MSG_MAX = 256 };

static void send_with_status(struct supervisor *s, const char *head)
{
	char msg[MSG_MAX];
	size_t conns;
	if (!s->rl) {
		snprintf(msg, sizeof(msg), "%s%sSTATUS=%s", head, *head ? "\n" : "", s->state);
		notify_send(&s->n, msg);
		return;
	}
	conns = s->rl->srv ? http_server_open_connections(s->rl->srv) : 0;
	snprintf(msg, sizeof(msg), "%s%sSTATUS=%s, %zu connections, %zu deliveries pending", head, *head ? "\n" : "",
		 s->state, conns, dispatch_pending(s->rl->disp));
	notify_send(&s->n, msg);
}

static void on_watchdog(void *arg)
{
	struct supervisor *s = arg;
	send_with_status(s, "WATCHDOG=1");
	timer_start(s->r, &s->watchdog, s->n.watchdog_ms / 2 ? s->n.watchdog_ms / 2 : 1);
}

int supervise_start(struct supervisor *s, struct reactor *r, const struct relay *rl)
{
	int rc = notify_open(&s->n);
	char ms[32];
	s->r = r;
	s->rl = rl;
	s->state = "starting";
	timer_init(&s->watchdog, on_watchdog, s);
	if (rc < 0) {
		log_msg(LOG_WARN, "NOTIFY_SOCKET unusable: not notifying the service manager", NULL);
		return -1;
	}
	if (rc > 0 && s->n.watchdog_ms) {
		snprintf(ms, sizeof(ms), "%llu", (unsigned long long)s->n.watchdog_ms / 2);
		log_msg(LOG_INFO, "watchdog on", "ping_ms", ms, NULL);
		on_watchdog(s);
	}
	return 0;
}

void supervise_ready(struct supervisor *s)
{
	s->state = "serving";
	send_with_status(s, "READY=1");
}

/* Type=notify-reload wants the reload's start on the monotonic clock */
void supervise_reloading(struct supervisor *s)
{
	char head[64];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000u);
	s->state = "reloading";
	send_with_status(s, head);
}

void supervise_stopping(struct supervisor *s)
{
	s->state = "draining";
	send_with_status(s, "STOPPING=1");
}

void supervise_stop(struct supervisor *s)
{
	timer_stop(s->r, &s->watchdog);
	notify_close(&s->n);
}
