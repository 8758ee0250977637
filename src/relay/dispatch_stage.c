/* dispatch_stage: what a (re)load of the config builds for the
 * dispatcher before anything is swapped (see dispatch.h). */
#include "edgehook/config.h"
#include "edgehook/dispatch.h"
#include "edgehook/dns.h"
#include "edgehook/endpoint.h"
#include "edgehook/log.h"
#include "edgehook/tls.h"
#include "edgehook/url.h"

#include <stdio.h>
#include <stdlib.h>

void dispatch_stage_free(struct dispatch_stage *st)
{
	if (!st)
		return;
	while (st->neps > 0)
		endpoint_unref(st->eps[--st->neps]);
	free(st->eps);
	tls_client_ctx_free(st->tls);
	dns_conf_free(st->dns);
	free(st);
}

/* The CA bundle is read again on every load (a reload re-reads a
 * changed file); plain-http endpoints off loopback earn a warning. */
static int load_trust(struct dispatch_stage *st, const struct config *cfg)
{
	size_t i, count = 0;
	int https = 0;
	const char *err = NULL;
	char n[32];
	for (i = 0; i < cfg->webhook.nendpoints; i++) {
		const struct endpoint_cfg *e = &cfg->webhook.endpoints[i];
		if (e->url.scheme == URL_HTTPS)
			https = 1;
		else if (e->url.scheme == URL_HTTP && !url_is_loopback(&e->url))
			log_msg(LOG_WARN, "endpoint uses plain http off this host", "endpoint", e->name, "url", e->url_text, NULL);
	}
	if (!https)
		return 0;
	st->tls = tls_client_ctx_new(cfg->webhook.ca_file, &err, &count);
	if (!st->tls) {
		log_msg(LOG_ERROR, "cannot load trust anchors", "file", cfg->webhook.ca_file, "err", err, NULL);
		return -1;
	}
	snprintf(n, sizeof(n), "%zu", count);
	log_msg(LOG_INFO, "trust anchors loaded", "file", cfg->webhook.ca_file, "count", n, NULL);
	return 0;
}

struct dispatch_stage *dispatch_prepare(const struct config *cfg)
{
	struct dispatch_stage *st = calloc(1, sizeof(*st));
	if (!st || !(st->eps = calloc(cfg->webhook.nendpoints + 1, sizeof(*st->eps))))
		goto fail;
	for (; st->neps < cfg->webhook.nendpoints; st->neps++)
		if (!(st->eps[st->neps] = endpoint_new(&cfg->webhook.endpoints[st->neps], cfg)))
			goto fail;
	st->queue_max = cfg->webhook.queue;
	st->bytes_max = cfg->webhook.max_queue_bytes;
	if (load_trust(st, cfg) < 0)
		goto fail;
	if (!(st->dns = dns_conf_load(cfg->webhook.resolv_conf, cfg->webhook.hosts_file)))
		goto fail;
	return st;
fail:
	dispatch_stage_free(st);
	return NULL;
}

