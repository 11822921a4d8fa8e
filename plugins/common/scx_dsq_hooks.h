/* SPDX-License-Identifier: MIT */
/*
 * Which sched_ext kfuncs to hook, decided from the names this kernel's BTF
 * has; shared by sched_latency (sched_latency_dsq.bpf.c) and trace_record
 * (trace_record_dsq.bpf.c), whose DSQ objects have one program per entry,
 * in this order. Pure and header-only (static: no symbol crosses a
 * plugin's boundary); unit-tested against the kfunc sets of 6.12,
 * 6.13-6.18 and 6.19+ (tests/plugins/sched_latency/test_units.c).
 */
#ifndef SCX_DSQ_HOOKS_H
#define SCX_DSQ_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

enum scx_dsq_group {
	SCX_DSQ_INSERT,     /* every insert kfunc present (duplicates dropped in BPF) */
	SCX_DSQ_CONSUME,    /* the newest of move_to_local / consume */
	SCX_DSQ_MOVE,       /* the newest of dsq_move / dispatch_from_dsq */
	SCX_DSQ_MOVE_VTIME, /* the newest of dsq_move_vtime / dispatch_vtime_from_dsq */
	SCX_DSQ_DEPTH,      /* scx_bpf_dsq_nr_queued, from a syscall program */
};

struct scx_dsq_hook {
	const char *kfunc;
	enum scx_dsq_group group;
	bool all; /* hook every present kfunc of the group, not only the first */
};

#define SCX_DSQ_NHOOKS 13

/*
 * Newer names first within a group: the compatibility wrappers of older
 * names call the newer kfunc on the kernels that have both, so hooking the
 * newest catches every caller once. Inserts are the exception (the vtime
 * variants do not all funnel into one kfunc): all are hooked and BPF drops
 * the second sighting of the same insert.
 */
static const struct scx_dsq_hook scx_dsq_hooks[SCX_DSQ_NHOOKS] __attribute__((unused)) = {
	{ "scx_bpf_dsq_insert___v2", SCX_DSQ_INSERT, true },	     /* 6.19+ */
	{ "scx_bpf_dsq_insert", SCX_DSQ_INSERT, true },		     /* 6.13+ */
	{ "scx_bpf_dispatch", SCX_DSQ_INSERT, true },		     /* 6.12 */
	{ "__scx_bpf_dsq_insert_vtime", SCX_DSQ_INSERT, true },	     /* 6.19+ */
	{ "scx_bpf_dsq_insert_vtime", SCX_DSQ_INSERT, true },	     /* 6.13+ */
	{ "scx_bpf_dispatch_vtime", SCX_DSQ_INSERT, true },	     /* 6.12 */
	{ "scx_bpf_dsq_move_to_local", SCX_DSQ_CONSUME, false },     /* 6.13+ */
	{ "scx_bpf_consume", SCX_DSQ_CONSUME, false },		     /* 6.12 */
	{ "scx_bpf_dsq_move", SCX_DSQ_MOVE, false },		     /* 6.13+ */
	{ "scx_bpf_dispatch_from_dsq", SCX_DSQ_MOVE, false },	     /* 6.12 */
	{ "scx_bpf_dsq_move_vtime", SCX_DSQ_MOVE_VTIME, false },     /* 6.13+ */
	{ "scx_bpf_dispatch_vtime_from_dsq", SCX_DSQ_MOVE_VTIME, false }, /* 6.12 */
	{ "scx_bpf_dsq_nr_queued", SCX_DSQ_DEPTH, false },
};

/*
 * present[i]: has(ctx, scx_dsq_hooks[i].kfunc). chosen[i]: whether to hook
 * it. Returns true when the kernel has sched_ext (an insert kfunc exists).
 */
static inline bool scx_dsq_choose(bool (*has)(void *ctx, const char *kfunc), void *ctx,
				  bool present[SCX_DSQ_NHOOKS], bool chosen[SCX_DSQ_NHOOKS])
{
	bool group_done[SCX_DSQ_DEPTH + 1] = { false }, scx = false;

	for (size_t i = 0; i < SCX_DSQ_NHOOKS; i++) {
		present[i] = has(ctx, scx_dsq_hooks[i].kfunc);
		chosen[i] = false;
		if (present[i] && scx_dsq_hooks[i].group == SCX_DSQ_INSERT)
			scx = true;
	}
	for (size_t i = 0; scx && i < SCX_DSQ_NHOOKS; i++) {
		const struct scx_dsq_hook *h = &scx_dsq_hooks[i];

		if (!present[i] || (!h->all && group_done[h->group]))
			continue;
		chosen[i] = true;
		group_done[h->group] = true;
	}
	return scx;
}

#endif
