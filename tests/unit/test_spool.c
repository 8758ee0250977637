/* Spool: CRC32C, record framing, torn tails and corruption at recovery,
 * rotation, retention, max_bytes, fsync modes, lazy records, carrying
 * the oldest segment forward, write failures, and a loop that keeps
 * running while the disk is slow. */
#include "unit.h"

#include "edgehook/clock.h"
#include "edgehook/crc32c.h"
#include "edgehook/log.h"
#include "edgehook/reactor.h"
#include "edgehook/spool.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void fresh_dir(void)
{
	char cmd[96];
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	snprintf(dir, sizeof(dir), "/tmp/edgehook-spool-XXXXXX");
	if (!mkdtemp(dir))
		perror("mkdtemp");
}

static struct spool_cfg cfg_for(enum spool_fsync mode)
{
	struct spool_cfg c;
	memset(&c, 0, sizeof(c));
	c.dir = dir;
	c.fsync = mode;
	c.interval_ms = 5;
	c.max_bytes = 1 << 20;
	c.segment_bytes = 1 << 20;
	c.retention_ms = 0;
	return c;
}

struct seen {
	unsigned n;
	unsigned types[64];
	size_t lens[64];
	unsigned char first[64];
};

static void on_record(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n)
{
	struct seen *s = arg;
	(void)seg;
	if (s->n < 64) {
		s->types[s->n] = type;
		s->lens[s->n] = n;
		s->first[s->n] = n ? p[0] : 0;
	}
	s->n++;
}

static void on_written(void *arg, int status) { *(int *)arg = status; }

/* Polls until *flag leaves its start value; the deadline only keeps a
 * broken spool from hanging the test. */
static int wait_flag(struct reactor *r, volatile int *flag, int start)
{
	uint64_t until = clock_update() + 10000;
	while (*flag == start && clock_update() < until)
		reactor_poll(r, 10);
	return *flag != start;
}

static int append_and_wait(struct reactor *r, struct spool *s, unsigned type, const char *payload)
{
	struct spool_waiter w;
	uint64_t lsn;
	int status = 99;
	memset(&w, 0, sizeof(w));
	if (spool_append(s, type, payload, strlen(payload), NULL, &lsn) != 0)
		return -9;
	if (spool_wait(s, &w, lsn, on_written, &status) == 1)
		return 0;
	wait_flag(r, &status, 99);
	return status;
}

static struct spool_stats stats(const struct spool *s)
{
	struct spool_stats st;
	spool_stats(s, &st);
	return st;
}

static long long file_size(const char *name)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) < 0 ? -1 : (long long)st.st_size;
}

TEST(test_crc32c_check_value)
{
	CHECK_EQ_INT(crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_INT(crc32c(0, "", 0), 0);
	/* continued over split data, across the eight-byte steps */
	CHECK_EQ_INT(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	CHECK_EQ_INT(crc32c(crc32c(0, "123456789abcdefghij", 11), "cdefghij", 8),
		     crc32c(0, "123456789abcdefghij", 19));
	{
		unsigned char zeros[32] = {0};
		CHECK_EQ_INT(crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
	}
}

TEST(test_spool_frame_and_scan_roundtrip)
{
	struct buf b;
	struct seen s;
	uint64_t records = 0, corrupt = 0;
	memset(&s, 0, sizeof(s));
	buf_init(&b, 4096);
	CHECK_EQ_INT(spool_frame(&b, 1, "alpha", 5), 0);
	CHECK_EQ_INT(spool_frame(&b, 2, "", 0), 0);
	CHECK_EQ_INT(spool_frame(&b, 255, "omega", 5), 0);
	CHECK_EQ_INT(spool_frame(&b, 0, "x", 1), -1);
	CHECK_EQ_INT(b.len, 3 * SPOOL_HEADER + 10);
	CHECK_EQ_INT(spool_scan((unsigned char *)b.data, b.len, 1, on_record, &s, &records, &corrupt), b.len);
	CHECK_EQ_INT(records, 3);
	CHECK_EQ_INT(corrupt, 0);
	CHECK_EQ_INT(s.types[0], 1);
	CHECK_EQ_INT(s.lens[1], 0);
	CHECK_EQ_INT(s.types[2], 255);
	CHECK_EQ_INT(s.first[2], 'o');
	buf_free(&b);
}

/* spool_open for tests that expect it to work: a failure says why on stderr. */
static int open_spool(struct reactor *r, const struct spool_cfg *c, spool_replay_fn fn, void *arg, struct spool **s)
{
	struct buf err;
	int rc;
	buf_init(&err, SPOOL_ERRORS_MAX);
	rc = spool_open(r, c, fn, arg, s, &err);
	if (rc < 0)
		fprintf(stderr, "spool_open: %s\n", unit_errors(&err));
	buf_free(&err);
	return rc;
}

/* Five records through a real spool; returns where the last one begins. */
static long long write_five(void)
{
	static const char *const payloads[] = {"one", "two-two", "three-three-three", "four", "five-is-the-last"};
	struct reactor *r = reactor_new();
	struct spool_cfg c = cfg_for(SPOOL_FSYNC_ALWAYS);
	struct spool *s = NULL;
	long long last = 0;
	int i;
	if (!r || open_spool(r, &c, NULL, NULL, &s) < 0)
		return -1;
	for (i = 0; i < 5; i++) {
		if (i == 4)
			last = (long long)spool_bytes(s);
		if (append_and_wait(r, s, (unsigned)i + 1, payloads[i]) != 0)
			last = -1;
	}
	spool_free(s);
	reactor_free(r);
	return last;
}

static int recover(struct seen *seen, struct spool_recovery *rec)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c = cfg_for(SPOOL_FSYNC_ALWAYS);
	struct spool *s = NULL;
	memset(seen, 0, sizeof(*seen));
	if (!r || open_spool(r, &c, on_record, seen, &s) < 0) {
		reactor_free(r);
		return -1;
	}
	*rec = *spool_recovery(s);
	/* the log keeps working after recovery */
	if (append_and_wait(r, s, 9, "after") != 0)
		rec->records = 1000;
	spool_free(s);
	reactor_free(r);
	return 0;
}

TEST(test_spool_torn_tail_at_every_offset_of_last_record)
{
	const char *seg = "0000000000000001.seg";
	char path[128];
	long long last, end, cut;
	fresh_dir();
	last = write_five();
	CHECK(last > 0);
	snprintf(path, sizeof(path), "%s/%s", dir, seg);
	end = file_size(seg);
	CHECK_EQ_INT(end, last + SPOOL_HEADER + 16);
	for (cut = last; cut < end; cut++) {
		struct seen seen;
		struct spool_recovery rec;
		fresh_dir();
		write_five();
		snprintf(path, sizeof(path), "%s/%s", dir, seg);
		CHECK(truncate(path, cut) == 0);
		CHECK_EQ_INT(recover(&seen, &rec), 0);
		CHECK_EQ_INT(rec.records, 4);
		CHECK_EQ_INT(rec.corrupt, 0);
		CHECK_EQ_INT(rec.truncated_bytes, cut - last);
		CHECK_EQ_INT(seen.types[3], 4);
		/* cut back to the last whole record, then "after" appended */
		CHECK_EQ_INT(file_size(seg), last + SPOOL_HEADER + 5);
		CHECK_EQ_INT(recover(&seen, &rec), 0);
		CHECK_EQ_INT(rec.records, 5);
		CHECK_EQ_INT(seen.types[4], 9);
		CHECK_EQ_INT(rec.truncated_bytes, 0);
	}
}

/* Every byte of the middle record flipped in turn: that record alone is
 * lost and counted, everything around it survives. */
TEST(test_spool_flipped_byte_in_middle_is_skipped_and_counted)
{
	const char *seg = "0000000000000001.seg";
	char path[128];
	size_t start = 2 * SPOOL_HEADER + 3 + 7, len = SPOOL_HEADER + 17, i;
	for (i = 0; i < len; i++) {
		struct seen seen;
		struct spool_recovery rec;
		unsigned char byte;
		int fd;
		fresh_dir();
		CHECK(write_five() > 0);
		snprintf(path, sizeof(path), "%s/%s", dir, seg);
		fd = open(path, O_RDWR);
		CHECK(fd >= 0);
		CHECK(pread(fd, &byte, 1, (off_t)(start + i)) == 1);
		byte ^= 0x40;
		CHECK(pwrite(fd, &byte, 1, (off_t)(start + i)) == 1);
		close(fd);
		CHECK_EQ_INT(recover(&seen, &rec), 0);
		CHECK_EQ_INT(rec.records, 4);
		CHECK_EQ_INT(rec.corrupt, 1);
		CHECK_EQ_INT(rec.truncated_bytes, 0);
		CHECK_EQ_INT(seen.types[0], 1);
		CHECK_EQ_INT(seen.types[1], 2);
		CHECK_EQ_INT(seen.types[2], 4);
		CHECK_EQ_INT(seen.types[3], 5);
	}
}

TEST(test_spool_garbage_files_never_crash_recovery)
{
	struct seen seen;
	struct spool_recovery rec;
	char path[128];
	unsigned char junk[4096];
	size_t i;
	int fd;
	fresh_dir();
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 7919u >> 3);
	snprintf(path, sizeof(path), "%s/0000000000000001.seg", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	close(fd);
	snprintf(path, sizeof(path), "%s/not-a-segment", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK_EQ_INT(recover(&seen, &rec), 0);
	CHECK_EQ_INT(rec.records, 0);
	CHECK_EQ_INT(rec.truncated_bytes, sizeof(junk));
	CHECK_EQ_INT(file_size("0000000000000001.seg"), SPOOL_HEADER + 5);
}

TEST(test_spool_rotates_and_deletes_settled_segments_oldest_first)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c;
	struct spool *s = NULL;
	uint64_t seg1 = 0, seg;
	int i;
	fresh_dir();
	c = cfg_for(SPOOL_FSYNC_OFF);
	c.segment_bytes = 3 * (SPOOL_HEADER + 10);
	CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
	CHECK_EQ_INT(spool_append(s, 1, "0123456789", 10, &seg1, NULL), 0);
	spool_hold(s, seg1);
	for (i = 1; i < 9; i++) {
		CHECK_EQ_INT(spool_append(s, 1, "0123456789", 10, &seg, NULL), 0);
		CHECK_EQ_INT(seg, seg1 + (uint64_t)i / 3);
	}
	CHECK_EQ_INT(append_and_wait(r, s, 1, "0123456789"), 0);
	CHECK_EQ_INT(spool_segment_count(s), 4);
	CHECK_EQ_INT(file_size("0000000000000001.seg"), 3 * (SPOOL_HEADER + 10));
	CHECK_EQ_INT(file_size("0000000000000004.seg"), SPOOL_HEADER + 10);
	/* segment 1 is held: nothing after it may go either */
	{
		uint64_t until = clock_update() + 10000, sweeps = stats(s).sweeps;
		while (stats(s).sweeps < sweeps + 2 && clock_update() < until)
			reactor_poll(r, 50);
		CHECK(stats(s).sweeps >= sweeps + 2);
	}
	CHECK_EQ_INT(spool_segment_count(s), 4);
	spool_release(s, seg1);
	{
		uint64_t until = clock_update() + 10000;
		while (spool_segment_count(s) > 1 && clock_update() < until)
			reactor_poll(r, 50);
		while (file_size("0000000000000003.seg") >= 0 && clock_update() < until)
			reactor_poll(r, 50);
	}
	CHECK_EQ_INT(spool_segment_count(s), 1);
	CHECK_EQ_INT(file_size("0000000000000001.seg"), -1);
	CHECK_EQ_INT(file_size("0000000000000003.seg"), -1);
	CHECK_EQ_INT(file_size("0000000000000004.seg"), SPOOL_HEADER + 10);
	CHECK_EQ_INT(stats(s).deleted, 3);
	CHECK_EQ_INT(spool_bytes(s), SPOOL_HEADER + 10);
	spool_free(s);
	reactor_free(r);
}

TEST(test_spool_max_bytes_full_is_refused_and_counted)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c;
	struct spool *s = NULL;
	char payload[100];
	int i, ok = 0, full = 0;
	fresh_dir();
	c = cfg_for(SPOOL_FSYNC_OFF);
	c.max_bytes = 10 * (SPOOL_HEADER + sizeof(payload));
	memset(payload, 'p', sizeof(payload));
	CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
	for (i = 0; i < 25; i++) {
		int rc = spool_append(s, 1, payload, sizeof(payload), NULL, NULL);
		ok += rc == 0;
		full += rc == -2;
	}
	CHECK_EQ_INT(ok, 10);
	CHECK_EQ_INT(full, 15);
	CHECK_EQ_INT(stats(s).full, 15);
	CHECK_EQ_INT(stats(s).appended, 10);
	CHECK_EQ_INT(spool_append(s, 1, payload, SPOOL_RECORD_MAX + 1u, NULL, NULL), -1);
	spool_free(s);
	reactor_free(r);
	CHECK_EQ_INT(file_size("0000000000000001.seg"), 10 * (SPOOL_HEADER + sizeof(payload)));
}

static int ticks;
static struct timer tick;
static struct reactor *tick_r;
static void on_tick(void *arg)
{
	(void)arg;
	ticks++;
	timer_start(tick_r, &tick, 5);
}

/* A 200 ms flush must not hold the loop: a 5 ms timer keeps firing
 * while the batch is with the I/O thread (a blocked loop would see at
 * most one tick). */
TEST(test_spool_slow_flush_never_blocks_the_loop)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c = cfg_for(SPOOL_FSYNC_ALWAYS);
	struct spool *s = NULL;
	struct spool_waiter w;
	uint64_t lsn;
	int status = 99;
	fresh_dir();
	setenv("EDGEHOOK_TEST_SPOOL_DELAY_MS", "200", 1);
	CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
	unsetenv("EDGEHOOK_TEST_SPOOL_DELAY_MS");
	memset(&w, 0, sizeof(w));
	tick_r = r;
	ticks = 0;
	timer_init(&tick, on_tick, NULL);
	timer_start(r, &tick, 5);
	CHECK_EQ_INT(spool_append(s, 1, "slow", 4, NULL, &lsn), 0);
	CHECK_EQ_INT(spool_wait(s, &w, lsn, on_written, &status), 0);
	CHECK(wait_flag(r, &status, 99));
	CHECK_EQ_INT(status, 0);
	CHECK(ticks >= 10);
	timer_stop(r, &tick);
	spool_free(s);
	reactor_free(r);
}

/* Everything appended while a flush is out goes in the next one. */
TEST(test_spool_group_commit_and_fsync_modes)
{
	static const enum spool_fsync modes[] = {SPOOL_FSYNC_ALWAYS, SPOOL_FSYNC_INTERVAL, SPOOL_FSYNC_OFF};
	size_t m;
	for (m = 0; m < 3; m++) {
		struct reactor *r = reactor_new();
		struct spool_cfg c = cfg_for(modes[m]);
		struct spool *s = NULL;
		struct spool_waiter w[20];
		int status[20], i, left;
		fresh_dir();
		setenv("EDGEHOOK_TEST_SPOOL_DELAY_MS", "50", 1);
		CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
		unsetenv("EDGEHOOK_TEST_SPOOL_DELAY_MS");
		memset(w, 0, sizeof(w));
		for (i = 0; i < 20; i++) {
			uint64_t lsn;
			status[i] = 99;
			CHECK_EQ_INT(spool_append(s, 1, "gc", 2, NULL, &lsn), 0);
			CHECK_EQ_INT(spool_wait(s, &w[i], lsn, on_written, &status[i]), 0);
			if (i == 0)
				reactor_poll(r, 0); /* the first batch leaves alone */
		}
		CHECK(wait_flag(r, &status[19], 99));
		for (i = 0, left = 0; i < 20; i++)
			left += status[i] != 0;
		CHECK_EQ_INT(left, 0);
		CHECK_EQ_INT(stats(s).flushes, 2);
		if (modes[m] == SPOOL_FSYNC_ALWAYS)
			CHECK_EQ_INT(stats(s).fsyncs, 2);
		if (modes[m] == SPOOL_FSYNC_OFF)
			CHECK_EQ_INT(stats(s).fsyncs, 0);
		if (modes[m] == SPOOL_FSYNC_INTERVAL) {
			uint64_t until = clock_update() + 10000;
			CHECK_EQ_INT(stats(s).fsyncs, 0);
			while (stats(s).fsyncs == 0 && clock_update() < until)
				reactor_poll(r, 10);
			CHECK_EQ_INT(stats(s).fsyncs, 1);
		}
		spool_free(s);
		reactor_free(r);
	}
}

/* A lazy record (a state change) is written with its batch but not
 * synced on its own: a later synced batch takes it along, or the sync
 * within interval does. */
TEST(test_spool_lazy_records_are_synced_later)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c = cfg_for(SPOOL_FSYNC_ALWAYS);
	struct spool *s = NULL;
	uint64_t until;
	fresh_dir();
	c.interval_ms = 1000; /* long enough that the synced batch comes first */
	CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
	CHECK_EQ_INT(spool_append_lazy(s, 8, "state", 5, NULL, NULL), 0);
	until = clock_update() + 10000;
	while (stats(s).flushes == 0 && clock_update() < until)
		reactor_poll(r, 10);
	CHECK_EQ_INT(stats(s).flushes, 1);
	CHECK_EQ_INT(stats(s).fsyncs, 0);
	/* a synced batch before the interval ends takes it along */
	CHECK_EQ_INT(append_and_wait(r, s, 1, "event"), 0);
	CHECK_EQ_INT(stats(s).fsyncs, 1);
	/* alone, it is synced within interval */
	CHECK_EQ_INT(spool_append_lazy(s, 8, "state", 5, NULL, NULL), 0);
	until = clock_update() + 10000;
	while (stats(s).fsyncs < 2 && clock_update() < until)
		reactor_poll(r, 10);
	CHECK_EQ_INT(stats(s).fsyncs, 2);
	CHECK_EQ_INT(file_size("0000000000000001.seg"), 3 * SPOOL_HEADER + 15);
	spool_free(s);
	reactor_free(r);
}

static void on_carry(void *arg, uint64_t seg) { *(uint64_t *)arg = seg; }

/* The oldest segment, sealed and pinned by one hold, is handed to the
 * carry callback so its owner can move the record forward. */
TEST(test_spool_carry_is_asked_for_the_oldest_pinned_segment)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c = cfg_for(SPOOL_FSYNC_OFF);
	struct spool *s = NULL;
	uint64_t seg1 = 0, carried = 0, until;
	int i;
	fresh_dir();
	c.segment_bytes = SPOOL_HEADER + 10;
	CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
	spool_on_carry(s, on_carry, &carried);
	CHECK_EQ_INT(spool_append(s, 1, "0123456789", 10, &seg1, NULL), 0);
	spool_hold(s, seg1);
	for (i = 0; i < 3; i++)
		CHECK_EQ_INT(spool_append(s, 1, "0123456789", 10, NULL, NULL), 0);
	until = clock_update() + 10000;
	while (!carried && clock_update() < until)
		reactor_poll(r, 50);
	CHECK_EQ_INT(carried, seg1);
	CHECK(stats(s).carries >= 1);
	/* released (what the owner does once it wrote the copy): it expires */
	spool_release(s, seg1);
	until = clock_update() + 10000;
	while (file_size("0000000000000001.seg") >= 0 && clock_update() < until)
		reactor_poll(r, 50);
	CHECK_EQ_INT(file_size("0000000000000001.seg"), -1);
	spool_free(s);
	reactor_free(r);
}

/* RLIMIT_FSIZE makes the disk "full": the failing batch is cut off the
 * file, its writers hear -1, and the spool works again once it can. */
TEST(test_spool_write_failure_is_cut_back_and_recovers)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c = cfg_for(SPOOL_FSYNC_ALWAYS);
	struct spool *s = NULL;
	struct rlimit old, small;
	char big[300];
	struct seen seen;
	struct spool_recovery rec;
	fresh_dir();
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	signal(SIGXFSZ, SIG_IGN);
	CHECK_EQ_INT(open_spool(r, &c, NULL, NULL, &s), 0);
	CHECK_EQ_INT(append_and_wait(r, s, 1, "fits"), 0);
	getrlimit(RLIMIT_FSIZE, &old);
	small = old;
	small.rlim_cur = 200;
	CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
	CHECK_EQ_INT(append_and_wait(r, s, 2, big), -1);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK_EQ_INT(stats(s).write_errors, 1);
	CHECK_EQ_INT(file_size("0000000000000001.seg"), SPOOL_HEADER + 4);
	CHECK_EQ_INT(spool_bytes(s), SPOOL_HEADER + 4);
	CHECK_EQ_INT(append_and_wait(r, s, 3, big), 0);
	spool_free(s);
	reactor_free(r);
	CHECK_EQ_INT(recover(&seen, &rec), 0);
	CHECK_EQ_INT(rec.records, 2);
	CHECK_EQ_INT(rec.corrupt, 0);
	CHECK_EQ_INT(seen.types[1], 3);
}

TEST(test_spool_dir_that_cannot_be_created_is_an_error)
{
	struct reactor *r = reactor_new();
	struct spool_cfg c;
	struct spool *s = NULL;
	struct buf err;
	char path[96];
	fresh_dir();
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	snprintf(path, sizeof(path), "%s/file/spool", dir);
	c = cfg_for(SPOOL_FSYNC_ALWAYS);
	c.dir = path;
	buf_init(&err, SPOOL_ERRORS_MAX);
	CHECK_EQ_INT(spool_open(r, &c, NULL, NULL, &s, &err), -1);
	CHECK(s == NULL);
	CHECK(strstr(unit_errors(&err), "cannot be created") != NULL);
	buf_free(&err);
	reactor_free(r);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(test_crc32c_check_value);
	RUN(test_spool_frame_and_scan_roundtrip);
	RUN(test_spool_torn_tail_at_every_offset_of_last_record);
	RUN(test_spool_flipped_byte_in_middle_is_skipped_and_counted);
	RUN(test_spool_garbage_files_never_crash_recovery);
	RUN(test_spool_rotates_and_deletes_settled_segments_oldest_first);
	RUN(test_spool_max_bytes_full_is_refused_and_counted);
	RUN(test_spool_slow_flush_never_blocks_the_loop);
	RUN(test_spool_group_commit_and_fsync_modes);
	RUN(test_spool_lazy_records_are_synced_later);
	RUN(test_spool_carry_is_asked_for_the_oldest_pinned_segment);
	RUN(test_spool_write_failure_is_cut_back_and_recovers);
	RUN(test_spool_dir_that_cannot_be_created_is_an_error);
	fresh_dir();
	rmdir(dir);
	return unit_done();
}
