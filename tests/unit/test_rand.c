/* rand: random ids. */
#include "unit.h"

#include "edgehook/rand.h"

TEST(random_ids)
{
	char a[40], b[40];
	rand_id(a, sizeof(a), "evt_");
	rand_id(b, sizeof(b), "evt_");
	CHECK_EQ_INT(strlen(a), 26);
	CHECK(strncmp(a, "evt_", 4) == 0);
	CHECK(strcmp(a, b) != 0);
	rand_id(a, 10, "evt_");
	CHECK_STR(a, "");
}

int main(void)
{
	RUN(random_ids);
	return unit_done();
}
