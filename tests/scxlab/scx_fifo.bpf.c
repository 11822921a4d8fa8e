// SPDX-License-Identifier: GPL-2.0
/* scxlab_fifo: every task waits in one custom FIFO DSQ (created in
 * ops.init), any CPU takes the oldest. A lab fixture, not a product. */
#include "scxlab.bpf.h"

s32 BPF_STRUCT_OPS(fifo_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;

	/* pick a CPU but never insert here: every task goes through the DSQ */
	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
}

void BPF_STRUCT_OPS(fifo_enqueue, struct task_struct *p, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCXLAB_FIFO_DSQ, SCXLAB_SLICE_NS, enq_flags);
	scxlab_count_insert(0);
	scxlab_kick_idle(p);
}

void BPF_STRUCT_OPS(fifo_dispatch, s32 cpu, struct task_struct *prev)
{
	scxlab_move(SCXLAB_FIFO_DSQ, 0);
}

/* sleepable: the loader sets BPF_F_SLEEPABLE (libbpf 1.1 has no struct_ops.s) */
s32 BPF_STRUCT_OPS(fifo_init)
{
	return scx_bpf_create_dsq(SCXLAB_FIFO_DSQ, -1);
}

void BPF_STRUCT_OPS(fifo_exit, struct scx_exit_info *ei)
{
	scxlab_record_exit(ei);
}

SEC(".struct_ops")
struct sched_ext_ops fifo_ops = {
	.select_cpu = (void *)fifo_select_cpu,
	.enqueue = (void *)fifo_enqueue,
	.dispatch = (void *)fifo_dispatch,
	.init = (void *)fifo_init,
	.exit = (void *)fifo_exit,
	.name = "scxlab_fifo",
};
