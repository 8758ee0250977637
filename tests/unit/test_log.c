/* log: JSON lines stay one valid object each whatever the values hold,
 * logfmt lines stay one line, and the log file can be reopened. */
#include "edgehook/json.h"
#include "edgehook/log.h"
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/edgehook-unit-log-XXXXXX";

static size_t slurp(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	if (f) {
		n = fread(out, 1, cap - 1, f);
		fclose(f);
	}
	out[n] = '\0';
	return n;
}

/* Calls fn for each line; returns the number of lines. */
static int each_line(char *text, int (*fn)(const char *line, size_t len))
{
	int n = 0;
	char *p = text, *nl;
	while ((nl = strchr(p, '\n'))) {
		CHECK(fn(p, (size_t)(nl - p)));
		p = nl + 1;
		n++;
	}
	CHECK(*p == '\0');
	return n;
}

static int valid_json(const char *line, size_t len) { return json_validate(line, len, 4, NULL) == 0; }
static int no_raw_control(const char *line, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20)
			return 0;
	return 1;
}

static void hostile_lines(void)
{
	static char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[100] = '"';
	big[4000] = '\xc3'; /* a lead byte cut by the line bound */
	log_msg(LOG_WARN, "forged\n{\"level\":\"error\"}", "k", "a\"b\\c\x01\x7f", NULL);
	log_msg(LOG_WARN, "bytes", "raw", "\xff\xfe caf\xc3\xa9 \xed\xa0\x80 \xf0\x9f\x98\x80", NULL);
	log_msg(LOG_WARN, "long", "v", big, "after", "y", NULL);
	log_msg(LOG_WARN, "empty", "v", "", "null", NULL, NULL);
}

TEST(test_json_log_lines_are_valid_objects_whatever_the_values)
{
	char path[128], text[16384];
	snprintf(path, sizeof(path), "%s/json.log", dir);
	CHECK_EQ_INT(log_set_file(path), 0);
	log_set_format(LOG_JSON);
	hostile_lines();
	log_set_format(LOG_LOGFMT);
	CHECK_EQ_INT(log_set_file(NULL), 0);
	CHECK(slurp(path, text, sizeof(text)) > 0);
	CHECK_EQ_INT(each_line(text, valid_json), 4);
	CHECK(strstr(text, "\"msg\":\"forged\\n{\\\"level\\\":\\\"error\\\"}\"") != NULL);
	CHECK(strstr(text, "\"raw\":\"\\ufffd\\ufffd caf\xc3\xa9 \\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80\"") != NULL);
	CHECK(strstr(text, "\"k\":\"a\\\"b\\\\c\\u0001\\u007f\"") != NULL);
	CHECK(strstr(text, "\"null\":\"\"") != NULL);
}

TEST(test_logfmt_lines_stay_one_line_each)
{
	char path[128], text[16384];
	snprintf(path, sizeof(path), "%s/logfmt.log", dir);
	CHECK_EQ_INT(log_set_file(path), 0);
	hostile_lines();
	CHECK_EQ_INT(log_set_file(NULL), 0);
	slurp(path, text, sizeof(text));
	CHECK_EQ_INT(each_line(text, no_raw_control), 4);
	CHECK(strstr(text, "level=warn msg=\"forged\\n{\\\"level\\\":\\\"error\\\"}\" k=\"a\\\"b\\\\c\\x01\\x7f\"") != NULL);
}

TEST(test_log_reopen_follows_a_rotated_file)
{
	char path[128], rotated[128], text[4096];
	snprintf(path, sizeof(path), "%s/rot.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/rot.log.1", dir);
	CHECK_EQ_INT(log_set_file(path), 0);
	log_msg(LOG_INFO, "before", NULL);
	CHECK_EQ_INT(rename(path, rotated), 0);
	log_msg(LOG_INFO, "still the old file", NULL);
	CHECK_EQ_INT(log_reopen(), 0);
	log_msg(LOG_INFO, "after", NULL);
	CHECK_EQ_INT(log_set_file(NULL), 0);
	slurp(rotated, text, sizeof(text));
	CHECK(strstr(text, "msg=before") && strstr(text, "still the old file") && !strstr(text, "msg=after"));
	slurp(path, text, sizeof(text));
	CHECK(strstr(text, "msg=after") != NULL);
	CHECK(strstr(text, "reopened") != NULL);
}

TEST(test_log_level_drops_lower_lines)
{
	char path[128], text[4096];
	snprintf(path, sizeof(path), "%s/level.log", dir);
	CHECK_EQ_INT(log_set_file(path), 0);
	log_set_level(LOG_WARN);
	log_msg(LOG_INFO, "dropped", NULL);
	log_msg(LOG_ERROR, "kept", NULL);
	log_set_level(LOG_INFO);
	CHECK_EQ_INT(log_set_file(NULL), 0);
	slurp(path, text, sizeof(text));
	CHECK(!strstr(text, "dropped") && strstr(text, "kept"));
}

TEST(test_log_context_ends_every_line)
{
	char path[128], text[4096];
	snprintf(path, sizeof(path), "%s/context.log", dir);
	CHECK_EQ_INT(log_set_file(path), 0);
	log_set_context("worker", "3");
	log_msg(LOG_INFO, "one", "k", "v", NULL);
	log_set_format(LOG_JSON);
	log_msg(LOG_INFO, "two", NULL);
	log_set_format(LOG_LOGFMT);
	log_set_context(NULL, NULL);
	log_msg(LOG_INFO, "three", NULL);
	CHECK_EQ_INT(log_set_file(NULL), 0);
	slurp(path, text, sizeof(text));
	CHECK(strstr(text, "msg=one k=v worker=3\n") != NULL);
	CHECK(strstr(text, "\"msg\":\"two\",\"worker\":\"3\"}\n") != NULL);
	CHECK(strstr(text, "msg=three\n") != NULL);
}

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	RUN(test_json_log_lines_are_valid_objects_whatever_the_values);
	RUN(test_logfmt_lines_stay_one_line_each);
	RUN(test_log_reopen_follows_a_rotated_file);
	RUN(test_log_level_drops_lower_lines);
	RUN(test_log_context_ends_every_line);
	return unit_done();
}
