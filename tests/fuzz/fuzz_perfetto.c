/* SPDX-License-Identifier: MIT */
/*
 * Fuzz the trace_analysis plugin's Perfetto reader: a trace file is written
 * by anyone who can write to the trace directory, and read by the daemon.
 * The model (ta_model.c), the decoder (ta_pb.c), the replay and the
 * analyses are compiled in. Input: the file's bytes. Each input is read
 * under a 16 MiB memory bound; when it reads, every analysis runs on it.
 *
 * Besides crashes, it aborts when a promise of the code is broken: an
 * error without a message that names an offset, a trace over its memory
 * bound, or an analysis page larger than its limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta.h"
#include "ta_an.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void ta_fuzz_analyses(const struct ta_trace *t);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ta_trace *t = ta_trace_new("fuzz", "perfetto", 16u << 20);
	char err[256];
	int rc;

	if (!t)
		return 0;
	rc = ta_read_perfetto(t, data, size, err, sizeof(err));
	if (rc && rc != -ENOMEM && !strstr(err, "offset"))
		abort();
	if (!rc && ta_trace_finish(t) == 0) {
		if (ta_trace_mem(t) > t->mem_limit + (1u << 20))
			abort();
		ta_fuzz_analyses(t);
	}
	ta_trace_free(t);
	return 0;
}
