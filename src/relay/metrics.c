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
#include "edgehook/metrics_shm.h"
#include "edgehook/server.h"
#include "edgehook/cluster.h"
#include "edgehook/resp.h"
#include "edgehook/spool.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void collect_cluster(const struct cluster *cl, struct metrics_snapshot *s)
{
	const struct cluster_stats *st = cluster_stats(cl);
	struct resp_stats rs;
	cluster_redis_stats(cl, &rs);
	s->cluster = 1;
	s->g.cluster_redis_up = cluster_up(cl) != 0;
	s->c.cluster.put_ok = st->put_ok;
	s->c.cluster.put_failed = st->put_failed;
	s->c.cluster.read_calls = st->read_calls;
	s->c.cluster.read_entries = st->read_entries;
	s->c.cluster.acked = st->acked;
	s->c.cluster.claimed = st->claimed;
	s->c.cluster.claim_calls = st->claim_calls;
	s->c.cluster.group_created = st->group_created;
	s->c.cluster.redis_errors = st->redis_errors;
	s->c.cluster.parked = st->parked;
	s->c.cluster.retries_taken = st->retries_taken;
	s->c.cluster.replies = rs.replies;
	s->c.cluster.writes = rs.writes;
	s->c.cluster.connects = rs.connects;
}

/* What this process counted, in the shape the workers' segment sums. */
static void collect(const struct relay *rl, struct metrics_snapshot *s)
{
	const struct http_server_stats *st = http_server_stats(rl->srv);
	const struct dns_stats *ds = dns_stats(rl->dns);
	const struct http_client_stats *cs = http_client_stats(rl->client);
	const struct dispatch *d = rl->disp;
	size_t i;
	memset(s, 0, offsetof(struct metrics_snapshot, eps));
	s->c.connections_total = st->connections_total;
	s->c.connections_rejected = st->connections_rejected;
	memcpy(s->c.requests, st->requests, sizeof(s->c.requests));
	s->c.parse_errors = st->parse_errors;
	s->c.timeouts = st->timeouts;
	s->c.trig = rl->tstats;
	s->c.events_total = d->events_total;
	s->c.events_rejected = d->events_rejected;
	s->c.dns_hits = ds->cache_hits;
	s->c.dns_misses = ds->cache_misses;
	s->c.dns_queries = ds->queries;
	s->c.client_opened = cs->connections_opened;
	s->c.client_reused = cs->reused;
	s->c.client_resent = cs->resent;
	s->c.client_tls_handshakes = cs->tls_handshakes;
	s->c.client_tls_resumed = cs->tls_resumed;
	s->g.connections_open = st->connections_open;
	s->g.queue_depth = d->pending;
	s->g.queue_bytes = d->pending_bytes;
	s->g.in_flight = http_client_in_flight(rl->client);
	for (i = 0; i < d->neps && i < METRICS_SHM_ENDPOINTS; i++) {
		const struct endpoint_rt *ep = d->eps[i];
		struct metrics_endpoint *e = &s->eps[i];
		snprintf(e->name, sizeof(e->name), "%s", ep->name);
		e->delivered = ep->n.delivered;
		e->failed = ep->n.failed;
		e->retried = ep->n.retried;
		e->dropped = ep->n.dropped;
		e->in_flight = ep->in_flight;
		e->disabled = ep->disabled != 0;
		e->breaker_open = ep->breaker.state != BREAKER_CLOSED;
	}
	s->neps = i;
	if (rl->cluster)
		collect_cluster(rl->cluster, s);
}

static void server_metrics(struct buf *b, const struct metrics_snapshot *s, uint64_t started_ms)
{
	int k;
	gauge(b, "edgehook_uptime_seconds", "Seconds since the process started.", (clock_now_ms() - started_ms) / 1000);
	gauge(b, "edgehook_connections_open", "Inbound connections open now.", s->g.connections_open);
	counter(b, "edgehook_connections_total", "Inbound connections accepted.", s->c.connections_total);
	counter(b, "edgehook_connections_rejected_total",
		"Inbound connections refused (max_connections or out of descriptors).", s->c.connections_rejected);
	metric_head(b, "edgehook_requests_total", "counter", "Inbound requests answered, by status class.");
	for (k = 1; k <= 5; k++)
		buf_printf(b, "edgehook_requests_total{class=\"%dxx\"} %llu\n", k, (unsigned long long)s->c.requests[k]);
	counter(b, "edgehook_parse_errors_total", "Inbound requests refused as malformed HTTP.", s->c.parse_errors);
	counter(b, "edgehook_request_timeouts_total", "Inbound requests that timed out.", s->c.timeouts);
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

static void dispatch_metrics(struct buf *b, const struct metrics_snapshot *s)
{
	counter(b, "edgehook_events_total", "Events accepted for delivery.", s->c.events_total);
	counter(b, "edgehook_events_rejected_total", "Events refused: delivery queue full or out of memory.",
		s->c.events_rejected);
	gauge(b, "edgehook_queue_depth", "Deliveries not finished yet.", s->g.queue_depth);
	gauge(b, "edgehook_queue_bytes", "Bytes of event bodies held by unfinished deliveries.", s->g.queue_bytes);
	gauge(b, "edgehook_deliveries_in_flight", "Outbound requests started and not finished.", s->g.in_flight);
}

static void outbound_metrics(struct buf *b, const struct metrics_counters *c)
{
	counter(b, "edgehook_dns_cache_hits_total", "Endpoint name lookups answered from the cache.", c->dns_hits);
	counter(b, "edgehook_dns_cache_misses_total", "Endpoint name lookups that needed a query.", c->dns_misses);
	counter(b, "edgehook_dns_queries_total", "DNS queries sent.", c->dns_queries);
	counter(b, "edgehook_client_connections_opened_total", "Outbound connections opened.", c->client_opened);
	counter(b, "edgehook_client_connections_reused_total", "Outbound requests sent on a pooled connection.",
		c->client_reused);
	counter(b, "edgehook_client_requests_resent_total",
		"Outbound requests sent again after a pooled connection closed under them.", c->client_resent);
	counter(b, "edgehook_client_tls_handshakes_total", "Outbound TLS handshakes completed.",
		c->client_tls_handshakes);
	counter(b, "edgehook_client_tls_resumed_total", "Outbound TLS handshakes that resumed a session.",
		c->client_tls_resumed);
}

static void endpoint_metrics(struct buf *b, const struct metrics_snapshot *s)
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
		for (i = 0; i < s->neps; i++) {
			const struct metrics_endpoint *n = &s->eps[i];
			uint64_t v = k == 0 ? n->delivered : k == 1 ? n->failed : k == 2 ? n->retried : n->dropped;
			buf_printf(b, "%s{endpoint=\"%s\"} %llu\n", fam[k].name, n->name, (unsigned long long)v);
		}
	}
	metric_head(b, "edgehook_endpoint_in_flight", "gauge", "Outbound requests in flight, by endpoint.");
	for (i = 0; i < s->neps; i++)
		buf_printf(b, "edgehook_endpoint_in_flight{endpoint=\"%s\"} %llu\n", s->eps[i].name,
			   (unsigned long long)s->eps[i].in_flight);
	metric_head(b, "edgehook_endpoint_disabled", "gauge", "1 while an endpoint is disabled (it answered 410 Gone).");
	for (i = 0; i < s->neps; i++)
		buf_printf(b, "edgehook_endpoint_disabled{endpoint=\"%s\"} %d\n", s->eps[i].name, s->eps[i].disabled);
	metric_head(b, "edgehook_endpoint_breaker_open", "gauge", "1 while an endpoint's breaker is open or half open.");
	for (i = 0; i < s->neps; i++)
		buf_printf(b, "edgehook_endpoint_breaker_open{endpoint=\"%s\"} %d\n", s->eps[i].name,
			   s->eps[i].breaker_open);
}

/* With workers: which one answered, and each one's share. */
static void worker_metrics(struct buf *b, const struct metrics_workers *w, unsigned self)
{
	unsigned i;
	gauge(b, "edgehook_workers", "Worker processes configured (server.workers).", w->n);
	counter(b, "edgehook_worker_restarts_total", "Worker processes restarted after they exited.", w->restarts);
	metric_head(b, "edgehook_worker_requests_total", "counter",
		    "Inbound requests answered by each worker's current process.");
	for (i = 0; i < w->n && i < sizeof(w->requests) / sizeof(w->requests[0]); i++)
		buf_printf(b, "edgehook_worker_requests_total{worker=\"%u\"} %llu\n", i, (unsigned long long)w->requests[i]);
	metric_head(b, "edgehook_worker_scrape", "gauge", "The worker that answered this scrape.");
	buf_printf(b, "edgehook_worker_scrape{worker=\"%u\",pid=\"%ld\"} 1\n", self, (long)getpid());
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

static void cluster_metrics(struct buf *b, const struct metrics_snapshot *s)
{
	const struct metrics_cluster *st = &s->c.cluster;
	gauge(b, "edgehook_cluster_redis_up",
	      "1 while the Redis command connection is up (with workers: how many workers have it up).",
	      s->g.cluster_redis_up);
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
	counter(b, "edgehook_cluster_redis_replies_total", "Redis replies read.", st->replies);
	counter(b, "edgehook_cluster_redis_writes_total", "Writes to Redis (pipelined commands share one).", st->writes);
	counter(b, "edgehook_cluster_redis_connects_total", "Redis connections established.", st->connects);
}

void metrics_publish(struct relay *rl)
{
	if (!rl->shm || (!rl->published && !(rl->published = malloc(sizeof(*rl->published)))))
		return;
	collect(rl, rl->published);
	metrics_shm_publish(rl->shm, rl->worker, rl->published);
}

/* Without workers the sums are this process's own counters. */
static int sums(struct relay *rl, struct metrics_snapshot *out, struct metrics_workers *w)
{
	struct metrics_snapshot *own, *scratch;
	if (!rl->shm) {
		collect(rl, out);
		return 0;
	}
	own = malloc(sizeof(*own));
	scratch = malloc(sizeof(*scratch));
	if (own && scratch) {
		collect(rl, own);
		metrics_shm_sum(rl->shm, rl->worker, own, out, scratch, w);
	}
	free(own);
	free(scratch);
	return own && scratch ? 0 : -1;
}

void metrics_render(struct relay *rl, struct http_conn *c)
{
	struct buf b;
	struct metrics_snapshot *s = malloc(sizeof(*s));
	struct metrics_workers w;
	memset(&w, 0, sizeof(w));
	if (!s || sums(rl, s, &w) < 0) {
		free(s);
		http_respond(c, 503, "application/json", "Retry-After: 1\r\n", "{\"error\":\"out of memory\"}", 25);
		return;
	}
	buf_init(&b, RENDER_MAX);
	server_metrics(&b, s, rl->shm ? w.started_ms : rl->started_ms);
	trigger_metrics(&b, &s->c.trig);
	dispatch_metrics(&b, s);
	outbound_metrics(&b, &s->c);
	endpoint_metrics(&b, s);
	if (rl->spool)
		spool_metrics(&b, rl->spool);
	if (s->cluster)
		cluster_metrics(&b, s);
	if (rl->shm)
		worker_metrics(&b, &w, rl->worker);
	free(s);
	api_reply_rendered(c, 200, "text/plain; version=0.0.4", &b, "metrics");
}
