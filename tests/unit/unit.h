/* SPDX-License-Identifier: MIT */
/* A tiny assertion kit for the C unit tests: every CHECK counts as one
 * passed or failed assertion; unit_done() prints "N passed, N failed" and
 * returns the process exit code. Test code only. */
#ifndef SMCP_TEST_UNIT_H
#define SMCP_TEST_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;
static const char *unit_case = "";

#define UNIT_CASE(name) (unit_case = (name))

#define CHECK_MSG(cond, ...)                                                                       \
	do {                                                                                       \
		if (cond) {                                                                        \
			unit_passed++;                                                             \
		} else {                                                                           \
			unit_failed++;                                                             \
			fprintf(stderr, "%s:%d: [%s] CHECK(%s) failed: ", __FILE__, __LINE__,      \
				unit_case, #cond);                                                 \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

#define CHECK(cond) CHECK_MSG(cond, "%s", "")

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		CHECK_MSG(g_ == w_, "%s = %lld, expected %lld", #got, g_, w_);                     \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		CHECK_MSG(g_ && w_ && strcmp(g_, w_) == 0, "%s = \"%s\", expected \"%s\"", #got,  \
			  g_ ? g_ : "(null)", w_ ? w_ : "(null)");                                 \
	} while (0)

/* got contains needle */
#define CHECK_HAS(got, needle)                                                                     \
	do {                                                                                       \
		const char *g_ = (got), *n_ = (needle);                                            \
		CHECK_MSG(g_ && strstr(g_, n_), "%s = \"%s\", expected it to contain \"%s\"", #got, \
			  g_ ? g_ : "(null)", n_);                                                 \
	} while (0)

static inline int unit_done(const char *prog)
{
	printf("%s: %d passed, %d failed\n", prog, unit_passed, unit_failed);
	fflush(stdout);
	return unit_failed ? 1 : 0;
}

#endif
