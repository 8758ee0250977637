/* The trigger side's spool records (ACCEPT, START, END) as recovery hands
 * them over, from hostile bytes: decoding must stay inside each record
 * (each is copied to a buffer of exactly its size), the dedupe window is
 * refilled from whatever keys they carry, and the recovered runs are
 * freed whole. Input: records of u8 type | u16 length (little endian) |
 * payload, the last one cut short to what is left. */
#include "edgehook/dedupe.h"
#include "edgehook/trigger_spool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dedupe *dd = dedupe_new(64);
	struct trigger_spool *ts = dd ? trigger_spool_new(dd) : NULL;
	const uint8_t *p = data, *end = data + size;
	if (!ts)
		abort();
	while (end - p >= 3) {
		unsigned type = p[0];
		size_t n = (size_t)p[1] | (size_t)p[2] << 8;
		unsigned char *rec;
		p += 3;
		n = n < (size_t)(end - p) ? n : (size_t)(end - p);
		if (!(rec = malloc(n ? n : 1)))
			abort();
		memcpy(rec, p, n);
		trigger_spool_replay(ts, 1, type, rec, n);
		free(rec);
		p += n;
	}
	trigger_spool_free(ts);
	dedupe_free(dd);
	return 0;
}
