/* Config: the spool section, its defaults and its FILE:LINE errors. */
#include "config_load.h"

#include "edgehook/config.h"

TEST(test_spool_config_defaults_memory_only)
{
	struct buf errs;
	struct config *c = load("server:\n  max_connections: 10\n", &errs);
	CHECK(c != NULL);
	if (c) {
		CHECK(c->spool.dir == NULL);
		CHECK_EQ_INT(c->spool.fsync, SPOOL_FSYNC_ALWAYS);
		CHECK_EQ_INT(c->spool.interval_ms, 10);
		CHECK_EQ_INT(c->spool.max_bytes, 1 << 30);
		CHECK_EQ_INT(c->spool.segment_bytes, 64 << 20);
		CHECK_EQ_INT(c->spool.retention_ms, 24 * 3600000);
	}
	config_free(c);
	buf_free(&errs);
	c = load(config_default_yaml, &errs);
	CHECK(c && c->spool.dir == NULL);
	config_free(c);
	buf_free(&errs);
}

TEST(test_spool_config_all_keys)
{
	struct buf errs;
	struct config *c = load("spool:\n  dir: /var/lib/edgehook\n  fsync: interval\n  interval: 25ms\n"
				"  max_bytes: 2GiB\n  segment_bytes: 1MiB\n  retention: 0\n",
				&errs);
	CHECK(c != NULL);
	if (c) {
		CHECK_STR(c->spool.dir, "/var/lib/edgehook");
		CHECK_EQ_INT(c->spool.fsync, SPOOL_FSYNC_INTERVAL);
		CHECK_EQ_INT(c->spool.interval_ms, 25);
		CHECK_EQ_INT(c->spool.max_bytes, 2ULL << 30);
		CHECK_EQ_INT(c->spool.segment_bytes, 1 << 20);
		CHECK_EQ_INT(c->spool.retention_ms, 0);
	}
	config_free(c);
	buf_free(&errs);
	c = load("spool:\n  dir: /s\n  fsync: off\n", &errs);
	CHECK(c && c->spool.fsync == SPOOL_FSYNC_OFF);
	config_free(c);
	buf_free(&errs);
}

TEST(test_spool_config_errors_have_file_and_line)
{
	CHECK(fails_with("spool:\n  dir: /s\n  fsync: sometimes\n",
			 "t.yaml:3: fsync: expected always, interval or off, got \"sometimes\""));
	CHECK(fails_with("spool:\n  dir: /s\n  interval: 0\n", "t.yaml:3: interval: must be at least 1ms"));
	CHECK(fails_with("spool:\n  dir: /s\n  max_bytes: lots\n", "t.yaml:3: max_bytes: bad size"));
	CHECK(fails_with("spool:\n  dir: /s\n  max_bytes: 1KiB\n", "t.yaml:3: max_bytes: 1KiB is out of range"));
	CHECK(fails_with("spool:\n  dir: /s\n  max_bytes: 10MiB\n  segment_bytes: 20MiB\n",
			 "t.yaml:4: segment_bytes: larger than max_bytes"));
	CHECK(fails_with("spool:\n  dir: /s\n  retention: forever\n", "t.yaml:3: retention: bad duration"));
	CHECK(fails_with("spool:\n  dir: \"\"\n", "t.yaml:2: dir: expected a directory path"));
	CHECK(fails_with("spool:\n  fsync: off\n", "t.yaml:1: spool: dir is required"));
	CHECK(fails_with("spool:\n  dir: /s\n  fsynk: off\n", "t.yaml:3"));
	CHECK(fails_with("spool: /var/lib/edgehook\n", "t.yaml:1: spool: expected a map"));
}

int main(void)
{
	RUN(test_spool_config_defaults_memory_only);
	RUN(test_spool_config_all_keys);
	RUN(test_spool_config_errors_have_file_and_line);
	return unit_done();
}
