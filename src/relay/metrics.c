/* GET /metrics: Prometheus text exposition format 0.0.4. Every family
 * gets its # HELP and # TYPE lines from metric_head; the renderer checks
 * the buffer's sticky failure flag once (api_reply_rendered). */
#include "edgehook/relay_routes.h"
#include "dispatch_internal.h"
#include "edgehook/buf.h"
#include "edgehook/client.h"
#include "edgehook/clock.h"
#include "edgehook/dns.h"
#include "edgehook/endpoint.h"
#include "edgehook/server.h"
#include "edgehook/cluster.h"
#include "edgehook/resp.h"
#include "edgehook/spool.h"

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family with one unlabelled sample. */
static void metric(struct buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	metric_head(b, name, type, help);
	buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void counter(struct buf *b, const char *name, const char *help, uint64_t v)
{
	metric(b, name, "counter", help, v);
}

static void gauge(struct buf *b, const char *name, const char *help, uint64_t v) { metric(b, name, "gauge", help, v); }

static void server_metrics(struct buf *b, const struct relay *rl)
{
	const struct http_server_stats *st = http_server_stats(rl->srv);
	int k;
	gauge(b, "edgehook_uptime_seconds", "Seconds since the process started.",
	      (clock_now_ms() - rl->started_ms) / 1000);
	gauge(b, "edgehook_connections_open", "Inbound connections open now.", st->connections_open);
	counter(b, "edgehook_connections_total", "Inbound connections accepted.", st->connections_total);
	counter(b, "edgehook_connections_rejected_total",
		"Inbound connections refused (max_connections or out of descriptors).", st->connections_rejected);
	metric_head(b, "edgehook_requests_total", "counter", "Inbound requests answered, by status class.");
	for (k = 1; k <= 5; k++)
		buf_printf(b, "edgehook_requests_total{class=\"%dxx\"} %llu\n", k, (unsigned long long)st->requests[k]);
	counter(b, "edgehook_parse_errors_total", "Inbound requests refused as malformed HTTP.", st->parse_errors);
	counter(b, "edgehook_request_timeouts_total", "Inbound requests that timed out.", st->timeouts);
}

static void trigger_metrics(struct buf *b, const struct trigger_stats *ts)
{
	static const char *const outcomes[] = {"accepted", "duplicate", "unauthorized", "forbidden",
		"bad_body", "not_found", "queue_full", "run_refused", "spool_full"};
	const uint64_t v[] = {ts->accepted, ts->duplicates, ts->rejected_auth, ts->rejected_source,
		ts->rejected_body, ts->not_found, ts->queue_full, ts->run_refused, ts->spool_full};
	size_t k;
	metric_head(b, "edgehook_webhooks_total", "counter", "Inbound trigger deliveries, by outcome.");
	for (k = 0; k < sizeof(v) / sizeof(v[0]); k++)
		buf_printf(b, "edgehook_webhooks_total{outcome=\"%s\"} %llu\n", outcomes[k], (unsigned long long)v[k]);
}

static void dispatch_metrics(struct buf *b, const struct dispatch *d, const struct http_client *client)
{
	counter(b, "edgehook_events_total", "Events accepted for delivery.", d->events_total);
	counter(b, "edgehook_events_rejected_total", "Events refused: delivery queue full or out of memory.",
		d->events_rejected);
	gauge(b, "edgehook_queue_depth", "Deliveries not finished yet.", d->pending);
	gauge(b, "edgehook_queue_bytes", "Bytes of event bodies held by unfinished deliveries.", d->pending_bytes);
	gauge(b, "edgehook_deliveries_in_flight", "Outbound requests started and not finished.",
	      http_client_in_flight(client));
}

static void outbound_metrics(struct buf *b, const struct dns *dns, const struct http_client *client)
{
	const struct dns_stats *ds = dns_stats(dns);
	const struct http_client_stats *cs = http_client_stats(client);
	counter(b, "edgehook_dns_cache_hits_total", "Endpoint name lookups answered from the cache.", ds->cache_hits);
	counter(b, "edgehook_dns_cache_misses_total", "Endpoint name lookups that needed a query.", ds->cache_misses);
	counter(b, "edgehook_dns_queries_total", "DNS queries sent.", ds->queries);
	counter(b, "edgehook_client_connections_opened_total", "Outbound connections opened.",
		cs->connections_opened);
	counter(b, "edgehook_client_connections_reused_total", "Outbound requests sent on a pooled connection.",
		cs->reused);
	counter(b, "edgehook_client_requests_resent_total",
		"Outbound requests sent again after a pooled connection closed under them.", cs->resent);
	counter(b, "edgehook_client_tls_handshakes_total", "Outbound TLS handshakes completed.", cs->tls_handshakes);
	counter(b, "edgehook_client_tls_resumed_total", "Outbound TLS handshakes that resumed a session.",
		cs->tls_resumed);
}

static void endpoint_metrics(struct buf *b, const struct dispatch *d)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{"edgehook_deliveries_delivered_total", "Deliveries answered with 2xx (or written to stdout), by endpoint."},
		{"edgehook_deliveries_failed_total", "Deliveries given up after their last attempt, by endpoint."},
		{"edgehook_deliveries_retried_total", "Failed attempts followed by a retry, by endpoint."},
		{"edgehook_deliveries_dropped_total", "Deliveries dropped (stdout full, abandoned at shutdown), by endpoint."},
	};
	size_t i, k;
	for (k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
		metric_head(b, fam[k].name, "counter", fam[k].help);
		for (i = 0; i < d->neps; i++) {
			const struct endpoint_counters *n = &d->eps[i]->n;
			uint64_t v = k == 0 ? n->delivered : k == 1 ? n->failed : k == 2 ? n->retried : n->dropped;
			buf_printf(b, "%s{endpoint=\"%s\"} %llu\n", fam[k].name, d->eps[i]->name, (unsigned long long)v);
		}
	}
	metric_head(b, "edgehook_endpoint_in_flight", "gauge", "Outbound requests in flight, by endpoint.");
	for (i = 0; i < d->neps; i++)
		buf_printf(b, "edgehook_endpoint_in_flight{endpoint=\"%s\"} %u\n", d->eps[i]->name, d->eps[i]->in_flight);
	metric_head(b, "edgehook_endpoint_disabled", "gauge", "1 while an endpoint is disabled (it answered 410 Gone).");
	for (i = 0; i < d->neps; i++)
		buf_printf(b, "edgehook_endpoint_disabled{endpoint=\"%s\"} %d\n", d->eps[i]->name, d->eps[i]->disabled);
	metric_head(b, "edgehook_endpoint_breaker_open", "gauge", "1 while an endpoint's breaker is open or half open.");
	for (i = 0; i < d->neps; i++)
		buf_printf(b, "edgehook_endpoint_breaker_open{endpoint=\"%s\"} %d\n", d->eps[i]->name,
			   d->eps[i]->breaker.state != BREAKER_CLOSED);
}

static void spool_metrics(struct buf *b, const struct spool *s)
{
	struct spool_stats st;
	spool_stats(s, &st);
	gauge(b, "edgehook_spool_bytes", "Bytes in the spool's segments.", st.bytes);
	gauge(b, "edgehook_spool_segments", "Spool segment files.", st.segments);
	counter(b, "edgehook_spool_records_total", "Records appended to the spool.", st.appended);
	counter(b, "edgehook_spool_full_total", "Records refused: spool.max_bytes reached.", st.full);
	counter(b, "edgehook_spool_flushes_total", "Batches written to the spool (group commits).", st.flushes);
	counter(b, "edgehook_spool_fsyncs_total", "Spool batches synced to disk.", st.fsyncs);
	counter(b, "edgehook_spool_write_errors_total", "Spool batches that failed to write or sync.", st.write_errors);
	counter(b, "edgehook_spool_segments_deleted_total", "Settled spool segments deleted after retention.",
		st.deleted);
	counter(b, "edgehook_spool_carries_total", "Oldest spool segments whose pending records were carried forward.",
		st.carries);
	gauge(b, "edgehook_spool_recovered_records", "Records replayed from the spool at start.", st.recovered);
	counter(b, "edgehook_spool_corrupt_records_total", "Damaged spool records skipped at start.", st.corrupt);
}

static void cluster_metrics(struct buf *b, const struct cluster *cl)
{
	const struct cluster_stats *st = cluster_stats(cl);
	struct resp_stats rs;
	cluster_redis_stats(cl, &rs);
	gauge(b, "edgehook_cluster_redis_up", "1 while the Redis command connection is up.", (uint64_t)cluster_up(cl));
	counter(b, "edgehook_cluster_stored_total", "Events Redis confirmed (XADD) before their 202.", st->put_ok);
	counter(b, "edgehook_cluster_store_failed_total", "Ingest requests answered 503: Redis down, full or slow.",
		st->put_failed);
	counter(b, "edgehook_cluster_reads_total", "XREADGROUP calls (each waits up to 1s for entries).",
		st->read_calls);
	counter(b, "edgehook_cluster_entries_total", "Stream entries taken for delivery here.", st->read_entries);
	counter(b, "edgehook_cluster_acked_total", "Stream entries settled (delivered or failed) and acknowledged.",
		st->acked);
	counter(b, "edgehook_cluster_claimed_total", "Stream entries taken over from a silent instance.", st->claimed);
	counter(b, "edgehook_cluster_claim_calls_total", "XAUTOCLAIM calls (looking for silent instances' entries).",
		st->claim_calls);
	counter(b, "edgehook_cluster_group_created_total", "Consumer group (re)creations.", st->group_created);
	counter(b, "edgehook_cluster_retries_parked_total", "Events handed to the shared retry set while they wait.",
		st->parked);
	counter(b, "edgehook_cluster_retries_taken_total", "Events taken from the shared retry set when due.",
		st->retries_taken);
	counter(b, "edgehook_cluster_redis_errors_total", "Redis commands that failed or were refused.",
		st->redis_errors);
	counter(b, "edgehook_cluster_redis_replies_total", "Redis replies read.", rs.replies);
	counter(b, "edgehook_cluster_redis_writes_total", "Writes to Redis (pipelined commands share one).", rs.writes);
	counter(b, "edgehook_cluster_redis_connects_total", "Redis connections established.", rs.connects);
}

void metrics_render(struct relay *rl, struct http_conn *c)
{
	struct buf b;
	buf_init(&b, RENDER_MAX);
	server_metrics(&b, rl);
	trigger_metrics(&b, &rl->tstats);
	dispatch_metrics(&b, rl->disp, rl->client);
	outbound_metrics(&b, rl->dns, rl->client);
	endpoint_metrics(&b, rl->disp);
	if (rl->spool)
		spool_metrics(&b, rl->spool);
	if (rl->cluster)
		cluster_metrics(&b, rl->cluster);
	api_reply_rendered(c, 200, "text/plain; version=0.0.4", &b, "metrics");
}
