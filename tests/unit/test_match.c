/* match: event type patterns. */
#include "unit.h"

#include "edgehook/match.h"

TEST(patterns)
{
	static const char *const pats[] = {"provider_build.*", "exact.one"};
	CHECK(match_pattern("*", "anything"));
	CHECK(match_pattern("provider.*", "provider.created"));
	CHECK(!match_pattern("provider.*", "provider"));
	CHECK(!match_pattern("provider.*", "providers.created"));
	CHECK(match_pattern("a.b", "a.b"));
	CHECK(!match_pattern("a.b", "a.bc"));
	CHECK(match_any(pats, 2, "provider_build.done"));
	CHECK(match_any(pats, 2, "exact.one"));
	CHECK(!match_any(pats, 2, "provider.created"));
}

int main(void)
{
	RUN(patterns);
	return unit_done();
}
