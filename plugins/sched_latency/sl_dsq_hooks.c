/* SPDX-License-Identifier: MIT */
#include "sl_dsq_hooks.h"

/*
 * Newer names first within a group: the compatibility wrappers of older
 * names call the newer kfunc on the kernels that have both, so hooking the
 * newest catches every caller once. Inserts are the exception (the vtime
 * variants do not all funnel into one kfunc): all are hooked and BPF drops
 * the second sighting of the same insert.
 */
const struct sl_dsq_hook sl_dsq_hooks[SL_DSQ_NHOOKS] = {
	{ "scx_bpf_dsq_insert___v2", SL_DSQ_INSERT, true },	  /* 6.19+ */
	{ "scx_bpf_dsq_insert", SL_DSQ_INSERT, true },		  /* 6.13+ */
	{ "scx_bpf_dispatch", SL_DSQ_INSERT, true },		  /* 6.12 */
	{ "__scx_bpf_dsq_insert_vtime", SL_DSQ_INSERT, true },	  /* 6.19+ */
	{ "scx_bpf_dsq_insert_vtime", SL_DSQ_INSERT, true },	  /* 6.13+ */
	{ "scx_bpf_dispatch_vtime", SL_DSQ_INSERT, true },	  /* 6.12 */
	{ "scx_bpf_dsq_move_to_local", SL_DSQ_CONSUME, false },	  /* 6.13+ */
	{ "scx_bpf_consume", SL_DSQ_CONSUME, false },		  /* 6.12 */
	{ "scx_bpf_dsq_move", SL_DSQ_MOVE, false },		  /* 6.13+ */
	{ "scx_bpf_dispatch_from_dsq", SL_DSQ_MOVE, false },	  /* 6.12 */
	{ "scx_bpf_dsq_move_vtime", SL_DSQ_MOVE_VTIME, false },	  /* 6.13+ */
	{ "scx_bpf_dispatch_vtime_from_dsq", SL_DSQ_MOVE_VTIME, false }, /* 6.12 */
	{ "scx_bpf_dsq_nr_queued", SL_DSQ_DEPTH, false },
};

bool sl_dsq_choose(bool (*has)(void *ctx, const char *kfunc), void *ctx,
		   bool present[SL_DSQ_NHOOKS], bool chosen[SL_DSQ_NHOOKS])
{
	bool group_done[SL_DSQ_DEPTH + 1] = { false }, scx = false;

	for (size_t i = 0; i < SL_DSQ_NHOOKS; i++) {
		present[i] = has(ctx, sl_dsq_hooks[i].kfunc);
		chosen[i] = false;
		if (present[i] && sl_dsq_hooks[i].group == SL_DSQ_INSERT)
			scx = true;
	}
	for (size_t i = 0; scx && i < SL_DSQ_NHOOKS; i++) {
		const struct sl_dsq_hook *h = &sl_dsq_hooks[i];

		if (!present[i] || (!h->all && group_done[h->group]))
			continue;
		chosen[i] = true;
		group_done[h->group] = true;
	}
	return scx;
}
