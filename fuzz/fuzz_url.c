/* Endpoint URLs, CIDRs and listen addresses as a hostile config has them. */
#include "edgehook/cidr.h"
#include "edgehook/config.h"
#include "edgehook/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct url u;
	struct cidr c;
	struct listen_cfg l;
	const char *why;
	uint64_t ms;
	size_t sz;
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (url_parse(s, &u, &why) == 0 && u.scheme != URL_STDOUT && (u.path[0] != '/' || strlen(u.host) >= sizeof(u.host)))
		abort();
	cidr_parse(s, &c);
	config_parse_listen(s, &l);
	config_parse_duration(s, &ms);
	config_parse_size(s, &sz);
	free(s);
	return 0;
}
