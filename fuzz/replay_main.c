/* Plain driver for the libFuzzer entry points: runs each file named on
 * the command line through LLVMFuzzerTestOneInput once, so every corpus
 * input stays a regression test under gcc + ASan where libFuzzer is not
 * available. Each input is exactly its n bytes (as libFuzzer gives),
 * ending at an unreadable page: a read one past the end faults in every
 * flavour, not only under ASan. */
#include "../tests/unit/guard.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct guard g = {0};
	char *data;
	long n;
	int rc = -1;
	if (!f) {
		perror(path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	/* an empty input is a pointer to 0 readable bytes: the guard itself */
	if (guard_init(&g, (size_t)n) < 0 || !(data = guard_room(&g, (size_t)n)) ||
	    fread(data, 1, (size_t)n, f) != (size_t)n)
		goto fail;
	LLVMFuzzerTestOneInput((const uint8_t *)data, (size_t)n);
	rc = 0;
fail:
	if (rc != 0)
		fprintf(stderr, "%s: cannot read\n", path);
	fclose(f);
	guard_free(&g);
	return rc;
}

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++)
		if (replay(argv[i]) != 0)
			return 1;
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
