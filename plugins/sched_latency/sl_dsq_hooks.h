/* SPDX-License-Identifier: MIT */
/*
 * Which sched_ext kfuncs to hook, decided from the names this kernel's BTF
 * has. Pure; unit-tested against the kfunc sets of 6.12, 6.13-6.18 and
 * 6.19+ (sched_latency_dsq.bpf.c has one program per entry, same order).
 */
#ifndef SL_DSQ_HOOKS_H
#define SL_DSQ_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

enum sl_dsq_group {
	SL_DSQ_INSERT,     /* every insert kfunc present (duplicates dropped in BPF) */
	SL_DSQ_CONSUME,    /* the newest of move_to_local / consume */
	SL_DSQ_MOVE,       /* the newest of dsq_move / dispatch_from_dsq */
	SL_DSQ_MOVE_VTIME, /* the newest of dsq_move_vtime / dispatch_vtime_from_dsq */
	SL_DSQ_DEPTH,      /* scx_bpf_dsq_nr_queued, from a syscall program */
};

struct sl_dsq_hook {
	const char *kfunc;
	enum sl_dsq_group group;
	bool all; /* hook every present kfunc of the group, not only the first */
};

#define SL_DSQ_NHOOKS 13
extern const struct sl_dsq_hook sl_dsq_hooks[SL_DSQ_NHOOKS];

/*
 * present[i]: has(ctx, sl_dsq_hooks[i].kfunc). chosen[i]: whether to hook
 * it. Returns true when the kernel has sched_ext (an insert kfunc exists).
 */
bool sl_dsq_choose(bool (*has)(void *ctx, const char *kfunc), void *ctx,
		   bool present[SL_DSQ_NHOOKS], bool chosen[SL_DSQ_NHOOKS]);

#endif
