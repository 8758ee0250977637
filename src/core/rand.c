#include "edgehook/rand.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Ids are requested on every webhook, so bytes come from a pool refilled
 * with one getrandom call per 4 KiB instead of a syscall per id. */
static unsigned char pool[4096];
static size_t pool_left;

static void refill(void)
{
	size_t got = 0;
	while (got < sizeof(pool)) {
		ssize_t n = getrandom(pool + got, sizeof(pool) - got, 0);
		if (n < 0) {
			/* Without a working getrandom no id or jitter can
			 * be trusted; stopping is the only safe answer. */
			if (errno != EINTR && errno != EAGAIN)
				abort();
			continue;
		}
		got += (size_t)n;
	}
	pool_left = sizeof(pool);
}

void rand_bytes(void *out, size_t len)
{
	unsigned char *p = out;
	while (len > 0) {
		size_t take;
		if (pool_left == 0)
			refill();
		take = len < pool_left ? len : pool_left;
		memcpy(p, pool + sizeof(pool) - pool_left, take);
		memset(pool + sizeof(pool) - pool_left, 0, take);
		pool_left -= take;
		p += take;
		len -= take;
	}
}

uint32_t rand_u32(void)
{
	uint32_t v;
	rand_bytes(&v, sizeof(v));
	return v;
}

void rand_id(char *out, size_t cap, const char *prefix)
{
	static const char alphabet[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char raw[22];
	size_t plen = strlen(prefix), i;
	if (cap < plen + sizeof(raw) + 1) {
		if (cap)
			out[0] = '\0';
		return;
	}
	memcpy(out, prefix, plen);
	rand_bytes(raw, sizeof(raw));
	/* 248 = 4 * 62: rejecting bytes >= 248 keeps the digits unbiased. */
	for (i = 0; i < sizeof(raw); i++) {
		while (raw[i] >= 248)
			rand_bytes(&raw[i], 1);
		out[plen + i] = alphabet[raw[i] % 62];
	}
	out[plen + sizeof(raw)] = '\0';
}
