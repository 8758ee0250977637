/* The spool's segment reader on hostile bytes: recovery must never read
 * outside the segment, and what it keeps must scan again to the same
 * records with no damage left (a truncated file is clean next time). */
#include "edgehook/spool.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	uint64_t n;
	uint64_t bytes;
};

static void count(void *arg, uint64_t seg, unsigned type, const unsigned char *p, size_t n)
{
	struct tally *t = arg;
	(void)seg;
	if (type == 0)
		abort();
	if (n)
		t->bytes += p[0] + p[n - 1];
	t->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally a = {0, 0}, b = {0, 0};
	uint64_t records = 0, corrupt = 0, records2 = 0, corrupt2 = 0;
	size_t end = spool_scan(data, size, 1, count, &a, &records, &corrupt);
	if (end > size || records != a.n)
		abort();
	/* What recovery keeps scans again to itself; only the skipped
	 * middle damage is counted again, never a new torn tail. */
	if (spool_scan(data, end, 1, count, &b, &records2, &corrupt2) != end || records2 != records ||
	    corrupt2 != corrupt || b.bytes != a.bytes)
		abort();
	return 0;
}
