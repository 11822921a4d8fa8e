/* SPDX-License-Identifier: MIT */
/* A build without perf_profiler's core library: recordings run without
 * stack samples and say why (tr_stacks.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tr_stacks.h"

struct tr_stacks {
	struct tr_stacks_snap st;
};

int tr_stacks_open(struct tr_stacks **ret, uint32_t ncpus, uint32_t hz, const char *root)
{
	struct tr_stacks *s = calloc(1, sizeof(*s));

	(void)ncpus, (void)root;
	if (!s)
		return -ENOMEM;
	s->st.hz = hz;
	snprintf(s->st.why, sizeof(s->st.why),
		 "this build has no stack sampling (it needs the perf_profiler plugin's "
		 "libraries: libelf, libdw, libunwind)");
	*ret = s;
	return 0;
}

uint64_t tr_stacks_drain(struct tr_stacks *s, struct tr_out *out, bool all)
{
	(void)s, (void)out, (void)all;
	return 0;
}

void tr_stacks_stop(struct tr_stacks *s)
{
	(void)s;
}

void tr_stacks_snap(const struct tr_stacks *s, struct tr_stacks_snap *ret)
{
	if (s)
		*ret = s->st;
}

void tr_stacks_release(struct tr_stacks *s)
{
	(void)s;
}

void tr_stacks_free(struct tr_stacks *s)
{
	free(s);
}

int tr_stacks_inject(struct tr_stacks *s, const void *rec, size_t len, uint32_t cpu)
{
	(void)s, (void)rec, (void)len, (void)cpu;
	return -ENOTSUP;
}
