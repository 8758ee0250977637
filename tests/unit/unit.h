/* unit: the smallest test runner that does the job.
 *
 *   TEST(name) { CHECK(cond); CHECK_EQ_INT(a, b); CHECK_STR(a, b); }
 *   int main(void) { RUN(name); return unit_done(); }
 *
 * Each test prints "PASS name" or "FAIL name" (tests/run.py counts these
 * lines); the binary exits non-zero when anything failed. */
#ifndef EDGEHOOK_UNIT_H
#define EDGEHOOK_UNIT_H

#include <stdio.h>
#include <string.h>

#include "edgehook/buf.h"

static int unit_current_failed, unit_passed, unit_failed;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			unit_current_failed = 1;                                           \
		}                                                                          \
	} while (0)
#define CHECK_EQ_INT(a, b)                                                                          \
	do {                                                                                        \
		long long unit_a = (long long)(a), unit_b = (long long)(b);                         \
		if (unit_a != unit_b) {                                                             \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, \
				unit_a, unit_b);                                                    \
			unit_current_failed = 1;                                                    \
		}                                                                                   \
	} while (0)
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *unit_sa = (a), *unit_sb = (b);                                         \
		if (!unit_sa || strcmp(unit_sa, unit_sb) != 0) {                                   \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
				#a, unit_sa ? unit_sa : "(null)", unit_sb);                        \
			unit_current_failed = 1;                                                   \
		}                                                                                  \
	} while (0)

static void unit_report(const char *name, int failed)
{
	if (failed) {
		printf("FAIL %s\n", name);
		unit_failed++;
	} else {
		printf("PASS %s\n", name);
		unit_passed++;
	}
	fflush(stdout);
}

#define RUN(name)                                          \
	do {                                               \
		unit_current_failed = 0;                   \
		name();                                    \
		unit_report(#name, unit_current_failed);   \
	} while (0)

/* A loader's errors as a C string for CHECK and strstr ("" when none). */
static inline const char *unit_errors(struct buf *b)
{
	if (buf_append(b, "", 1) < 0)
		return "";
	b->len--;
	return b->data;
}

static inline int unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
