/* cluster: the Redis that instances share (config.h struct cluster_cfg). */
#include "config_internal.h"

#include <string.h>
#include <unistd.h>

static const char *const cluster_keys[] = {"redis", "prefix", "instance", "claim_after", "max_stream_len",
					   "timeout", "queue", "dedupe_window", "status_ttl", "ca_file", NULL};

/* Key prefixes and consumer names travel into Redis keys, log lines and
 * the status page: a conservative alphabet keeps them unambiguous. */
static int valid_name(const char *s, size_t max)
{
	size_t n = strlen(s), i;
	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_' || ch == '.' || ch == ':'))
			return 0;
	}
	return 1;
}

void config_cluster_defaults(struct config *c)
{
	memset(&c->cluster, 0, sizeof(c->cluster));
	c->cluster.prefix = "edgehook";
	c->cluster.claim_after_ms = 60000;
	c->cluster.max_stream_len = 1000000;
	c->cluster.timeout_ms = 5000;
	c->cluster.queue = 10000;
	c->cluster.dedupe_window_ms = 24ULL * 3600000;
	/* one hash per event: memory is rate x ttl x ~300 bytes */
	c->cluster.status_ttl_ms = 10ULL * 60000;
}

/* The host name, the natural consumer name of one process per host. */
static const char *default_instance(struct loader *L)
{
	char host[256];
	if (gethostname(host, sizeof(host)) < 0)
		return NULL;
	host[sizeof(host) - 1] = '\0';
	return arena_strdup(L->a, host);
}

static void load_url(struct loader *L, const struct node *n, struct cluster_cfg *cl)
{
	const struct node *v = tree_get(n, "redis");
	const char *why = NULL;
	if (config_get_str(L, n, "redis", &cl->redis) <= 0) {
		cl->redis = NULL;
		if (!v || v->kind == NODE_NULL)
			config_err_at(L, n, "cluster: redis is required (redis://host:6379 or rediss://...)");
		return;
	}
	/* never echo the URL: it usually carries the password */
	if (redis_url_parse(cl->redis, &cl->url, &why) < 0) {
		config_err_at(L, v, "redis: %s", why);
		cl->redis = NULL;
	}
}

void config_load_cluster(struct loader *L, const struct node *n, struct config *c)
{
	struct cluster_cfg *cl = &c->cluster;
	const struct node *v;
	int len = 0, queue = 0;
	cl->line = n->line;
	config_check_keys(L, n, cluster_keys);
	/* Two durability points would each promise the 202: runs gated and
	 * events resumed by both, pending work split between disk and Redis. */
	if (c->spool.dir)
		config_err_at(L, n,
			      "cluster: spool.dir and cluster: exclude each other (with cluster: the Redis stream "
			      "replaces the local spool as the durability point)");
	load_url(L, n, cl);
	if (config_get_str(L, n, "prefix", &cl->prefix) > 0 && !valid_name(cl->prefix, 64))
		config_err_at(L, tree_get(n, "prefix"), "prefix: expected 1 to 64 of A-Z a-z 0-9 - _ . :, got \"%s\"",
			      cl->prefix);
	if ((v = tree_get(n, "instance")) && v->kind != NODE_NULL) {
		if (config_get_str(L, n, "instance", &cl->instance) > 0 && !valid_name(cl->instance, 128))
			config_err_at(L, v, "instance: expected 1 to 128 of A-Z a-z 0-9 - _ . :, got \"%s\"",
				      cl->instance);
	} else if (!(cl->instance = default_instance(L)) || !valid_name(cl->instance, 128)) {
		config_err_at(L, n, "cluster: the host name is no usable instance name: set instance");
	}
	config_get_duration(L, n, "claim_after", &cl->claim_after_ms);
	if (config_get_int(L, n, "max_stream_len", &len, 100, 2000000000) > 0)
		cl->max_stream_len = (uint64_t)len;
	config_get_duration(L, n, "timeout", &cl->timeout_ms);
	config_get_duration(L, n, "dedupe_window", &cl->dedupe_window_ms);
	config_get_duration(L, n, "status_ttl", &cl->status_ttl_ms);
	if (config_get_str(L, n, "ca_file", &cl->ca_file) > 0 && !*cl->ca_file)
		config_err_at(L, tree_get(n, "ca_file"), "ca_file: expected a file path");
	if (config_get_int(L, n, "queue", &queue, 16, 1000000) > 0)
		cl->queue = (size_t)queue;
	if (cl->claim_after_ms < 1000 && tree_get(n, "claim_after"))
		config_err_at(L, tree_get(n, "claim_after"),
			      "claim_after: at least 1s (a shorter one takes deliveries from live instances)");
}
