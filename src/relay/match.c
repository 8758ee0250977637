#include "edgehook/match.h"

#include <string.h>

int match_pattern(const char *pattern, const char *type)
{
	size_t n = strlen(pattern);
	if (n == 1 && pattern[0] == '*')
		return 1;
	if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
		return strncmp(pattern, type, n - 1) == 0;
	return strcmp(pattern, type) == 0;
}

int match_any(const char *const *patterns, size_t n, const char *type)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (match_pattern(patterns[i], type))
			return 1;
	return 0;
}
