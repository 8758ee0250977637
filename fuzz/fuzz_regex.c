/* regex compiler + matcher: the input is "pattern\0subject". Compiling
 * must either fail with a message or give a bounded program; searching
 * must stay within len(subject) * len(program) steps (the linear-time
 * promise) and give the same answer twice. */
#include "edgehook/buf.h"
#include "edgehook/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul ? (size_t)(nul - data) : size;
	const char *subject = nul ? (const char *)nul + 1 : "";
	size_t slen = nul ? size - plen - 1 : 0;
	char *pattern = malloc(plen + 1);
	struct buf errors;
	struct regex *re;
	int m;
	memcpy(pattern, data, plen);
	pattern[plen] = 0;
	buf_init(&errors, 2 * REGEX_MAX_PATTERN);
	if (regex_compile(&re, pattern, &errors) < 0) {
		if (!errors.len)
			abort();
		buf_free(&errors);
		free(pattern);
		return 0;
	}
	buf_free(&errors);
	if (regex_program_size(re) > REGEX_MAX_INSTS)
		abort();
	m = regex_search(re, subject, slen);
	if (regex_last_steps(re) > 2 * (slen + 2) * (regex_program_size(re) + 1))
		abort();
	if (regex_search(re, subject, slen) != m)
		abort();
	regex_free(re);
	free(pattern);
	return 0;
}
