/* DNS answers from a hostile server, parsed for both question types. */
#include "edgehook/dns.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_result res;
	uint32_t ttl = UINT32_MAX;
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	memset(&res, 0, sizeof(res));
	dns_parse_answer(data, size, "sink.test", 1, id, &res, &ttl);
	dns_parse_answer(data, size, "sink.test", 28, id, &res, &ttl);
	if (res.n > DNS_MAX_ADDRS)
		__builtin_trap();
	return 0;
}
