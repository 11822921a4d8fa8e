/* SPDX-License-Identifier: MIT */
/*
 * Fuzz trace_record's /proc/interrupts and /proc/softirqs parser
 * (tr_kstat_parse.c), both layouts, with 1, 4 and 1024 CPUs counted: the
 * first 4 CPUs' sums and the shape must not depend on how many CPUs past
 * them are counted (those are left out, never moved).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tr_kstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	uint64_t *all = calloc(1024, sizeof(*all));

	if (!text || !all)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0'; /* as the reader gives it */
	for (int irqs = 0; irqs < 2; irqs++) {
		uint64_t four[4] = { 0 }, one[1] = { 0 }, s_all = 0, s_four = 0, s_one = 0;
		int r_all, r_four, r_one;

		memset(all, 0, 1024 * sizeof(*all));
		r_all = tr_kstat_parse(text, size, irqs, all, 1024, &s_all);
		r_four = tr_kstat_parse(text, size, irqs, four, 4, &s_four);
		r_one = tr_kstat_parse(text, size, irqs, one, 1, &s_one);
		if (r_all != r_four || r_all != r_one)
			abort();
		if (!r_all && (memcmp(all, four, sizeof(four)) || all[0] != one[0] ||
			       s_all != s_four || s_all != s_one))
			abort();
	}
out:
	free(text);
	free(all);
	return 0;
}
