/* SPDX-License-Identifier: MIT */
/* What the trace_analysis fuzz targets share: every analysis run on a
 * trace that was read, each page within its limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ta.h"
#include "ta_an.h"

void ta_fuzz_analyses(const struct ta_trace *t);

void ta_fuzz_analyses(const struct ta_trace *t)
{
	for (int i = 0; ta_analyses[i]; i++) {
		struct ta_query q = { .tid = -1, .pid = -1, .cpu = -1, .t1_ns = -1, .t2_ns = -1,
				      .limit = 20, .group = "process" };
		struct ta_answer a;

		snprintf(q.analysis, sizeof(q.analysis), "%s", ta_analyses[i]);
		if (t->n_th)
			q.tid = t->th[t->n_th - 1].tid;
		if (!strcmp(ta_analyses[i], "timeline"))
			q.cpu = 0;
		if (ta_analyze(t, NULL, &q, &a, NULL) == 0 && a.n_rows > q.limit)
			abort();
		ta_answer_free(&a);
	}
	{
		/* the stack samples' other grouping, over the whole trace */
		struct ta_query q = { .tid = -1, .pid = -1, .cpu = -1, .t1_ns = -1, .t2_ns = -1,
				      .limit = 20, .group = "stack", .analysis = "samples" };
		struct ta_answer a;

		if (ta_analyze(t, NULL, &q, &a, NULL) == 0 && a.n_rows > q.limit)
			abort();
		ta_answer_free(&a);
	}
}
