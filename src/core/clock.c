#include "edgehook/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t now_ms, updates;
static uint64_t wall_override;

uint64_t clock_update(void)
{
	struct timespec ts;
	updates++;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	return now_ms;
}

uint64_t clock_now_ms(void)
{
	if (now_ms == 0)
		return clock_update();
	return now_ms;
}

uint64_t clock_updates(void) { return updates; }

void clock_set_wall_override(uint64_t wall_ms) { wall_override = wall_ms; }

uint64_t clock_wall_ms(void)
{
	struct timespec ts;
	if (wall_override)
		return wall_override;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t clock_iso8601(char *out, size_t cap, uint64_t wall_ms)
{
	/* every event gets a timestamp: format each second once */
	static time_t cached_secs = -1;
	static char cached[32];
	static size_t cached_len;
	time_t secs = (time_t)(wall_ms / 1000u);
	if (secs != cached_secs) {
		struct tm tm;
		int n;
		gmtime_r(&secs, &tm);
		n = snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached_len = n < 0 ? 0 : (size_t)n;
		cached_secs = secs;
	}
	if (cap <= cached_len) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	memcpy(out, cached, cached_len + 1);
	return cached_len;
}
