/* RESP replies as a hostile server sends them: every reply in the input
 * is parsed at once and again split in two, and both must agree; every
 * value must lie inside the input and every subtree inside the reply. */
#include "edgehook/resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct resp_value whole[256], split[256];
static const struct resp_limits lim = {.max_bulk = 4096, .max_line = 512, .max_values = 256, .max_depth = 8};

static void check(const struct resp_value *v, uint32_t n, size_t len)
{
	uint32_t i;
	for (i = 0; i < n; i++) {
		if (v[i].end <= i || v[i].end > n || v[i].off > len || v[i].len > len - v[i].off)
			abort();
		if (v[i].type == RESP_INT && v[i].len != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t at = 0;
	while (at < size) {
		struct resp_parser a, b;
		size_t left = size - at, cut = left / 2;
		int n, m;
		resp_parser_init(&a, whole, &lim);
		resp_parser_init(&b, split, &lim);
		n = resp_parse(&a, s + at, left);
		m = resp_parse(&b, s + at, cut);
		if (m >= 0 && m != n)
			abort();
		if (m == -2)
			m = resp_parse(&b, s + at, left);
		if (m != n)
			abort();
		if (n <= 0)
			break;
		if ((size_t)n > left)
			abort();
		check(whole, resp_parser_count(&a), (size_t)n);
		if (memcmp(whole, split, resp_parser_count(&a) * sizeof(whole[0])) != 0)
			abort();
		at += (size_t)n;
	}
	return 0;
}
