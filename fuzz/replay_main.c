/* Plain driver for the libFuzzer entry points: runs each file named on
 * the command line through LLVMFuzzerTestOneInput once, so every corpus
 * input stays a regression test under gcc + ASan where libFuzzer is not
 * available. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *data;
		long n;
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		fseek(f, 0, SEEK_SET);
		data = malloc((size_t)n + 1);
		if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
			fclose(f);
			free(data);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(data, (size_t)n);
		free(data);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
