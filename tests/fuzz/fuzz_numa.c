/* SPDX-License-Identifier: MIT */
/*
 * Fuzz sched_latency's numastat and numa_maps parsers (sl_numa_parse.c):
 * the input is fed whole, then again split at a point its first byte
 * chooses; the sums must agree (chunking never changes what is counted).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_numa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_numa_maps *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint64_t v[SLN_N] = { 0 };
	size_t cut = size ? data[0] % (size + 1) : 0;

	(void)sl_numastat_parse((const char *)data, size, v);
	if (!a || !b)
		goto out;
	sl_numa_maps_init(a);
	sl_numa_maps_feed(a, (const char *)data, size);
	sl_numa_maps_end(a);
	sl_numa_maps_init(b);
	sl_numa_maps_feed(b, (const char *)data, cut);
	sl_numa_maps_feed(b, (const char *)data + cut, size - cut);
	sl_numa_maps_end(b);
	if (memcmp(a->pages, b->pages, sizeof(a->pages)) != 0 ||
	    memcmp(a->kb, b->kb, sizeof(a->kb)) != 0 || a->mappings != b->mappings ||
	    a->skipped != b->skipped)
		abort();
out:
	free(a);
	free(b);
	return 0;
}
