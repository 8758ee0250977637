/* Certificates from a hostile https endpoint, walked for iPAddress SANs
 * (the end-entity certificate of a connection to an IP literal). */
#include "edgehook/x509_san.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t v4[4] = {127, 0, 0, 1};
	static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	int a = x509_san_has_ip(data, size, v4, sizeof(v4));
	int b = x509_san_has_ip(data, size, v6, sizeof(v6));
	if (a < -1 || a > 1 || b < -1 || b > 1)
		__builtin_trap();
	return 0;
}
