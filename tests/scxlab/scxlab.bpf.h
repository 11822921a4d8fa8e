/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the lab's test schedulers share. They are test fixtures, built by
 * scxlab.sh against a vmlinux.h made from the GUEST kernel's BTF (the build
 * machine's kernel has no sched_ext types), with bookworm's clang 14 and
 * libbpf 1.1:
 *
 *  - libbpf 1.1 does not know the "struct_ops.s/" section, so ops.init is
 *    an ordinary "struct_ops/" program and the loader marks it sleepable
 *    (BPF_F_SLEEPABLE) before load;
 *  - kfuncs are declared here (bpftool 7.1 does not dump them); their names
 *    are chosen by scxlab.sh from the guest BTF: 6.13+ kernels call the
 *    insert/move kfuncs scx_bpf_dsq_insert*, older ones scx_bpf_dispatch*
 *    (-DSCXLAB_DISPATCH_NAMES).
 *
 * Each scheduler counts, in its own .bss, what it inserted into and moved
 * out of each of its DSQs, so the lab can print the truth beside what the
 * daemon reported; ops.exit records why the kernel stopped it.
 */
#ifndef SCXLAB_BPF_H
#define SCXLAB_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "scxlab.h"

#define BPF_STRUCT_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

#define SCXLAB_SLICE_NS 20000000ull /* SCX_SLICE_DFL */

extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  bool *is_idle) __ksym;
extern void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym;
extern s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym;
extern u32 scx_bpf_nr_cpu_ids(void) __ksym;
extern s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym;

#ifdef SCXLAB_DISPATCH_NAMES
extern void scx_bpf_dispatch(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
extern void scx_bpf_dispatch_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				   u64 enq_flags) __ksym;
extern bool scx_bpf_consume(u64 dsq_id) __ksym;
#define scx_bpf_dsq_insert scx_bpf_dispatch
#define scx_bpf_dsq_insert_vtime scx_bpf_dispatch_vtime
#define scx_bpf_dsq_move_to_local scx_bpf_consume
#else
extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
extern void scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime,
				     u64 enq_flags) __ksym;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
#endif

struct scxlab_exit scxlab_exit = {};
struct scxlab_counts scxlab_counts = {};

static __always_inline void scxlab_count_insert(u32 slot)
{
	if (slot >= SCXLAB_NDSQ)
		slot = SCXLAB_NDSQ - 1;
	__sync_fetch_and_add(&scxlab_counts.inserted[slot], 1);
}

static __always_inline bool scxlab_move(u64 dsq_id, u32 slot)
{
	if (!scx_bpf_dsq_move_to_local(dsq_id))
		return false;
	if (slot >= SCXLAB_NDSQ)
		slot = SCXLAB_NDSQ - 1;
	__sync_fetch_and_add(&scxlab_counts.moved[slot], 1);
	return true;
}

/* Tasks sit in our DSQs, not in a CPU's local one: wake an idle CPU that
 * may run p so that it comes to dispatch. */
static __always_inline void scxlab_kick_idle(struct task_struct *p)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

static __always_inline void scxlab_record_exit(struct scx_exit_info *ei)
{
	scxlab_exit.exit_code = ei->exit_code;
	bpf_probe_read_kernel_str(scxlab_exit.reason, sizeof(scxlab_exit.reason), ei->reason);
	bpf_probe_read_kernel_str(scxlab_exit.msg, sizeof(scxlab_exit.msg), ei->msg);
	scxlab_exit.kind = ei->kind ? ei->kind : -1;
}

char LICENSE[] SEC("license") = "GPL";

#endif
