// SPDX-License-Identifier: GPL-2.0
/*
 * scxlab_pcpu: one FIFO DSQ per CPU (ids 3000 + cpu, created in ops.init;
 * CPUs from SCXLAB_MAX_CPUS on share them modulo).
 * A task waits in the DSQ of the CPU it was placed on; a CPU serves its own
 * DSQ first and steals from the others when it is empty (the kernel skips
 * tasks whose affinity forbids the move). A lab fixture, not a product.
 */
#include "scxlab.bpf.h"

static u32 nr_cpus;

static __always_inline u64 dsq_of(s32 cpu)
{
	return SCXLAB_PCPU_DSQ_BASE + (u32)cpu % SCXLAB_MAX_CPUS;
}

s32 BPF_STRUCT_OPS(pcpu_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;

	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
}

void BPF_STRUCT_OPS(pcpu_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p);

	scx_bpf_dsq_insert(p, dsq_of(cpu), SCXLAB_SLICE_NS, enq_flags);
	scxlab_count_insert((u32)cpu % SCXLAB_MAX_CPUS);
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	scxlab_kick_idle(p);
}

void BPF_STRUCT_OPS(pcpu_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 n = nr_cpus < SCXLAB_MAX_CPUS ? nr_cpus : SCXLAB_MAX_CPUS;

	if (scxlab_move(dsq_of(cpu), (u32)cpu % SCXLAB_MAX_CPUS))
		return;
	for (u32 i = 0; i < SCXLAB_MAX_CPUS; i++) {
		if (i >= n)
			break;
		if (i != (u32)cpu && scxlab_move(SCXLAB_PCPU_DSQ_BASE + i, i))
			return;
	}
}

s32 BPF_STRUCT_OPS(pcpu_init)
{
	nr_cpus = scx_bpf_nr_cpu_ids();
	for (u32 i = 0; i < SCXLAB_MAX_CPUS; i++) {
		s32 err;

		if (i >= nr_cpus)
			break;
		err = scx_bpf_create_dsq(SCXLAB_PCPU_DSQ_BASE + i, -1);
		if (err)
			return err;
	}
	return 0;
}

void BPF_STRUCT_OPS(pcpu_exit, struct scx_exit_info *ei)
{
	scxlab_record_exit(ei);
}

SEC(".struct_ops")
struct sched_ext_ops pcpu_ops = {
	.select_cpu = (void *)pcpu_select_cpu,
	.enqueue = (void *)pcpu_enqueue,
	.dispatch = (void *)pcpu_dispatch,
	.init = (void *)pcpu_init,
	.exit = (void *)pcpu_exit,
	.name = "scxlab_pcpu",
};
