#include "edgehook/dispatch.h"
#include "edgehook/config.h"
#include "edgehook/event.h"
#include "edgehook/log.h"
#include "edgehook/match.h"
#include "edgehook/ostream.h"
#include "edgehook/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { STDOUT_QUEUE = 4 << 20 };

struct endpoint_rt {
	const struct endpoint_cfg *cfg;
	struct endpoint_stats stats;
};

struct dispatch {
	struct reactor *r;
	const struct config *cfg;
	struct endpoint_rt *eps;
	size_t neps;
	struct ostream out;
	struct buf line;
	uint64_t events_total, events_rejected;
};

static int load_endpoints(struct dispatch *d, const struct config *cfg)
{
	struct endpoint_rt *eps = calloc(cfg->webhook.nendpoints + 1, sizeof(*eps));
	size_t i;
	if (!eps)
		return -1;
	for (i = 0; i < cfg->webhook.nendpoints; i++)
		eps[i].cfg = &cfg->webhook.endpoints[i];
	free(d->eps);
	d->eps = eps;
	d->neps = cfg->webhook.nendpoints;
	d->cfg = cfg;
	return 0;
}

struct dispatch *dispatch_new(struct reactor *r, const struct config *cfg)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->r = r;
	ostream_init(&d->out, r, STDOUT_FILENO, STDOUT_QUEUE);
	buf_init(&d->line, STDOUT_QUEUE);
	if (load_endpoints(d, cfg) < 0) {
		dispatch_free(d);
		return NULL;
	}
	return d;
}

void dispatch_free(struct dispatch *d)
{
	if (!d)
		return;
	ostream_flush(&d->out);
	ostream_close(&d->out);
	buf_free(&d->line);
	free(d->eps);
	free(d);
}

int dispatch_reload(struct dispatch *d, const struct config *cfg) { return load_endpoints(d, cfg); }

static void deliver_stdout(struct dispatch *d, struct endpoint_rt *ep, const char *type, const char *body,
			   size_t len)
{
	d->line.len = 0;
	if (event_json_compact(&d->line, body, len) < 0 || buf_append(&d->line, "\n", 1) < 0 ||
	    ostream_write(&d->out, d->line.data, d->line.len) < 0) {
		ep->stats.dropped++;
		log_msg(LOG_WARN, "delivery dropped", "endpoint", ep->cfg->name, "event", type, "err",
			"stdout queue full", NULL);
	} else {
		ep->stats.delivered++;
	}
	if (d->line.cap > 65536)
		buf_free(&d->line);
}

int dispatch_event(struct dispatch *d, const char *type, const char *body, size_t len, char *id, size_t cap)
{
	size_t i;
	int matched = 0;
	rand_id(id, cap, "evt_");
	d->events_total++;
	for (i = 0; i < d->neps; i++) {
		struct endpoint_rt *ep = &d->eps[i];
		if (!match_any(ep->cfg->events, ep->cfg->nevents, type))
			continue;
		matched++;
		if (ep->cfg->url.scheme == URL_STDOUT)
			deliver_stdout(d, ep, type, body, len);
	}
	return matched;
}

int dispatch_metrics(struct dispatch *d, struct buf *out)
{
	size_t i;
	static const char *const names[] = {"delivered", "failed", "retried", "dropped"};
	int rc = buf_printf(out, "# TYPE edgehook_events_total counter\nedgehook_events_total %llu\n",
			    (unsigned long long)d->events_total);
	for (size_t k = 0; k < 4; k++) {
		rc |= buf_printf(out, "# TYPE edgehook_deliveries_%s_total counter\n", names[k]);
		for (i = 0; i < d->neps; i++) {
			const struct endpoint_stats *st = &d->eps[i].stats;
			uint64_t v = k == 0 ? st->delivered : k == 1 ? st->failed : k == 2 ? st->retried : st->dropped;
			rc |= buf_printf(out, "edgehook_deliveries_%s_total{endpoint=\"%s\"} %llu\n", names[k],
					 d->eps[i].cfg->name, (unsigned long long)v);
		}
	}
	return rc;
}

void dispatch_flush(struct dispatch *d) { ostream_flush(&d->out); }
