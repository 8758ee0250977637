/* Config: the cluster section, its defaults, ${ENV} and its FILE:LINE errors. */
#include "config_load.h"

#include "edgehook/config.h"

#include <stdlib.h>
#include <unistd.h>

TEST(test_cluster_config_absent_means_standalone)
{
	struct buf errs;
	struct config *c = load("server:\n  max_connections: 10\n", &errs);
	CHECK(c && c->cluster.redis == NULL);
	config_free(c);
	buf_free(&errs);
	c = load(config_default_yaml, &errs);
	CHECK(c && c->cluster.redis == NULL);
	config_free(c);
	buf_free(&errs);
}

TEST(test_cluster_config_all_keys_and_env)
{
	struct buf errs;
	struct config *c;
	setenv("EH_T_REDIS_PW", "s3cr@t", 1);
	c = load("cluster:\n  redis: redis://:${EH_T_REDIS_PW}@10.0.0.5:6380/2\n  prefix: eh:prod\n"
		 "  instance: web-1\n  claim_after: 90s\n  max_stream_len: 5000\n  timeout: 1500ms\n  queue: 64\n"
		 "  dedupe_window: 2h\n  status_ttl: 30m\n",
		 &errs);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->cluster.redis, "redis://:s3cr@t@10.0.0.5:6380/2");
		CHECK_STR(c->cluster.url.host, "10.0.0.5");
		CHECK_STR(c->cluster.url.password, "s3cr@t");
		CHECK(c->cluster.url.has_password && c->cluster.url.port == 6380 && c->cluster.url.db == 2);
		CHECK(!c->cluster.url.tls);
		CHECK_STR(c->cluster.prefix, "eh:prod");
		CHECK_STR(c->cluster.instance, "web-1");
		CHECK_EQ_INT(c->cluster.claim_after_ms, 90000);
		CHECK_EQ_INT(c->cluster.max_stream_len, 5000);
		CHECK_EQ_INT(c->cluster.timeout_ms, 1500);
		CHECK_EQ_INT(c->cluster.queue, 64);
		CHECK_EQ_INT(c->cluster.dedupe_window_ms, 2 * 3600000);
		CHECK_EQ_INT(c->cluster.status_ttl_ms, 30 * 60000);
		CHECK_EQ_INT(c->cluster.line, 1);
	}
	config_free(c);
	buf_free(&errs);
	unsetenv("EH_T_REDIS_PW");
}

TEST(test_cluster_config_defaults_and_tls)
{
	struct buf errs;
	char host[256] = "";
	struct config *c = load("cluster:\n  redis: rediss://app:pw@redis.internal\n", &errs);
	gethostname(host, sizeof(host) - 1);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->cluster.url.tls && c->cluster.url.port == 6379 && c->cluster.url.db == 0);
		CHECK_STR(c->cluster.url.user, "app");
		CHECK_STR(c->cluster.prefix, "edgehook");
		CHECK_STR(c->cluster.instance, host);
		CHECK_EQ_INT(c->cluster.claim_after_ms, 60000);
		CHECK_EQ_INT(c->cluster.max_stream_len, 1000000);
		CHECK_EQ_INT(c->cluster.timeout_ms, 5000);
		CHECK_EQ_INT(c->cluster.queue, 10000);
		CHECK_EQ_INT(c->cluster.dedupe_window_ms, 24 * 3600000);
		CHECK_EQ_INT(c->cluster.status_ttl_ms, 10 * 60000);
	}
	config_free(c);
	buf_free(&errs);
}

TEST(test_cluster_config_errors_have_file_and_line)
{
	CHECK(fails_with("cluster:\n  prefix: x\n", "t.yaml:1: cluster: redis is required"));
	CHECK(fails_with("cluster:\n  redis: http://h\n", "t.yaml:2: redis: want redis:// or rediss://"));
	CHECK(fails_with("cluster:\n  redis: redis://h:99999\n", "t.yaml:2: redis: bad port"));
	CHECK(fails_with("cluster:\n  redis: redis://h/db\n", "t.yaml:2: redis: bad database number"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  prefix: \"a b\"\n", "t.yaml:3: prefix: expected 1 to 64"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  instance: \"\"\n", "t.yaml:3: instance: expected 1 to 128"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  claim_after: 10ms\n", "t.yaml:3: claim_after: at least 1s"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  claim_after: soon\n", "t.yaml:3: claim_after: bad duration"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  max_stream_len: 10\n", "t.yaml:3: max_stream_len: expected"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  timeout: 0\n", "t.yaml:3: timeout: must be at least 1ms"));
	CHECK(fails_with("cluster:\n  redis: redis://h\n  redis_url: x\n", "t.yaml:3"));
	CHECK(fails_with("cluster:\n  redis: redis://${EH_T_UNSET_VAR}\n",
			 "t.yaml:2: environment variable EH_T_UNSET_VAR is not set"));
	CHECK(fails_with("cluster: redis://h\n", "t.yaml:1: cluster: expected a map"));
	CHECK(fails_with("spool:\n  dir: /tmp/x\ncluster:\n  redis: redis://h\n",
			 "t.yaml:3: cluster: spool.dir and cluster: exclude each other"));
}

TEST(test_cluster_config_error_never_shows_the_password)
{
	struct buf errs;
	struct config *c = load("cluster:\n  redis: redis://:hunter2@h:0\n", &errs);
	CHECK(c == NULL && errs.len && strstr(errs.data, "hunter2") == NULL);
	config_free(c);
	buf_free(&errs);
}

int main(void)
{
	RUN(test_cluster_config_absent_means_standalone);
	RUN(test_cluster_config_all_keys_and_env);
	RUN(test_cluster_config_defaults_and_tls);
	RUN(test_cluster_config_errors_have_file_and_line);
	RUN(test_cluster_config_error_never_shows_the_password);
	return unit_done();
}
