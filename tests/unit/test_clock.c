/* clock: RFC 3339 times. */
#include "unit.h"

#include "edgehook/clock.h"

#include <stdint.h>

TEST(rfc3339_times)
{
	uint64_t ms = 0;
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00Z", &ms) == 0);
	CHECK(ms == 1774526400000ull);
	CHECK(clock_parse_rfc3339("2026-03-26T14:00:00.250+02:00", &ms) == 0);
	CHECK(ms == 1774526400250ull);
	CHECK(clock_parse_rfc3339("2026-03-26T11:30:00-00:30", &ms) == 0);
	CHECK(ms == 1774526400000ull);
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00", &ms) < 0);
	CHECK(clock_parse_rfc3339("2026-13-26T12:00:00Z", &ms) < 0);
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00Zjunk", &ms) < 0);
	CHECK(clock_parse_rfc3339("2026-03-26T12:00:00.Z", &ms) < 0);
	CHECK(clock_parse_rfc3339("yesterday", &ms) < 0);
	CHECK(clock_parse_rfc3339("", &ms) < 0);
}

int main(void)
{
	RUN(rfc3339_times);
	return unit_done();
}
