/* Signature headers and timestamps from hostile senders: Standard
 * Webhooks (several space-separated signatures), GitHub, Slack, base64,
 * Retry-After. Input layout: header NUL timestamp NUL body. */
#include "edgehook/b64.h"
#include "edgehook/client.h"
#include "edgehook/endpoint.h"
#include "edgehook/sign.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 2);
	const char *header, *ts, *body, *why;
	unsigned char raw[256];
	size_t hlen, tlen;
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = copy[size + 1] = '\0';
	header = copy;
	hlen = strlen(header);
	ts = header + hlen + (hlen < size);
	tlen = strlen(ts);
	body = ts + tlen + (ts + tlen < copy + size);
	sign_verify_standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", ts, header, body, strlen(body), 1614265330, &why);
	sign_verify_github("secret", header, hlen, 0, body, strlen(body), &why);
	sign_verify_github("secret", header, hlen, 1, body, strlen(body), &why);
	sign_verify_slack("secret", ts, header, body, strlen(body), 1531420618, &why);
	sign_verify_token("secret", header, hlen);
	b64_decode(header, hlen, raw, sizeof(raw));
	http_retry_after_ms(header, hlen, 1700000000000ULL);
	free(copy);
	return 0;
}
