/* Retry-After (RFC 9110 10.2.3) as the client's callers read it. */
#include "edgehook/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t http_retry_after_ms(const char *v, size_t len, uint64_t now_wall_ms)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char tmp[64], mon[4];
	struct tm tm;
	size_t i;
	int n = 0;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (strspn(tmp, "0123456789") == len) {
		/* leading zeros are digits, not size: only the rest can overflow */
		size_t z = strspn(tmp, "0");
		long long secs = len - z > 9 ? 999999999LL : atoll(tmp + z);
		return (int64_t)secs * 1000;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	memset(&tm, 0, sizeof(tm));
	if (sscanf(tmp, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &n) != 6 || (size_t)n != len)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncmp(mon, months + 3 * i, 3) == 0)
			break;
	if (i == 12)
		return -1;
	tm.tm_mon = (int)i;
	tm.tm_year -= 1900;
	{
		int64_t at = (int64_t)timegm(&tm) * 1000;
		return at > (int64_t)now_wall_ms ? at - (int64_t)now_wall_ms : 0;
	}
}
