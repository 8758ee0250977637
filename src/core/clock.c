#include "edgehook/clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t now_ms, updates;
static uint64_t now_override;
static uint64_t wall_override;

uint64_t clock_update(void)
{
	struct timespec ts;
	updates++;
	if (now_override)
		return now_ms = now_override;
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

void clock_set_now_override(uint64_t now)
{
	now_override = now;
	clock_update();
}

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

int clock_parse_rfc3339(const char *s, uint64_t *wall_ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0, sign = 0;
	long long t;
	unsigned ms = 0, scale = 100;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	s += n;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return -1;
		for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
			ms += (unsigned)(*s - '0') * scale;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if ((*s == '+' || *s == '-') && sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5) {
		sign = *s == '+' ? 1 : -1;
		s += 6;
	} else
		return -1;
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59 || y < 1970)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (long long)timegm(&tm) - sign * (oh * 3600LL + om * 60LL);
	if (t < 0)
		return -1;
	*wall_ms = (uint64_t)t * 1000u + ms;
	return 0;
}
