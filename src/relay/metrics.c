#include "edgehook/relay.h"
#include "edgehook/buf.h"
#include "edgehook/clock.h"
#include "edgehook/dispatch.h"
#include "edgehook/server.h"

/* Prometheus text exposition format 0.0.4. */
void metrics_render(struct relay *rl, struct http_conn *c)
{
	const struct http_server_stats *st = http_server_stats(rl->srv);
	const struct trigger_stats *ts = &rl->tstats;
	struct buf b;
	int k;
	buf_init(&b, RENDER_MAX);
	buf_printf(&b, "# TYPE edgehook_uptime_seconds gauge\nedgehook_uptime_seconds %llu\n",
		   (unsigned long long)((clock_now_ms() - rl->started_ms) / 1000));
	buf_printf(&b, "# TYPE edgehook_connections_open gauge\nedgehook_connections_open %llu\n",
		   (unsigned long long)st->connections_open);
	buf_printf(&b, "# TYPE edgehook_connections_total counter\nedgehook_connections_total %llu\n",
		   (unsigned long long)st->connections_total);
	buf_printf(&b, "# TYPE edgehook_connections_rejected_total counter\nedgehook_connections_rejected_total %llu\n",
		   (unsigned long long)st->connections_rejected);
	buf_printf(&b, "# TYPE edgehook_requests_total counter\n");
	for (k = 1; k <= 5; k++)
		buf_printf(&b, "edgehook_requests_total{class=\"%dxx\"} %llu\n", k, (unsigned long long)st->requests[k]);
	buf_printf(&b, "# TYPE edgehook_parse_errors_total counter\nedgehook_parse_errors_total %llu\n",
		   (unsigned long long)st->parse_errors);
	buf_printf(&b, "# TYPE edgehook_request_timeouts_total counter\nedgehook_request_timeouts_total %llu\n",
		   (unsigned long long)st->timeouts);
	buf_printf(&b,
		   "# TYPE edgehook_webhooks_total counter\n"
		   "edgehook_webhooks_total{outcome=\"accepted\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"duplicate\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"unauthorized\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"forbidden\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"bad_body\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"not_found\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"queue_full\"} %llu\n"
		   "edgehook_webhooks_total{outcome=\"run_refused\"} %llu\n",
		   (unsigned long long)ts->accepted, (unsigned long long)ts->duplicates,
		   (unsigned long long)ts->rejected_auth, (unsigned long long)ts->rejected_source,
		   (unsigned long long)ts->rejected_body, (unsigned long long)ts->not_found,
		   (unsigned long long)ts->queue_full, (unsigned long long)ts->run_refused);
	dispatch_metrics(rl->disp, &b);
	reply_rendered(c, 200, "text/plain; version=0.0.4", &b, "metrics");
}
