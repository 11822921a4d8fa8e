// SPDX-License-Identifier: GPL-2.0
/*
 * scxlab_vtime: two vtime-ordered DSQs. Woken tasks wait in WAKE, tasks
 * that were preempted or used up their slice wait in BATCH; each is ordered
 * by a virtual time that advances with the CPU time a task used, scaled by
 * its weight (kept in task storage, so nothing writes p->scx). Dispatch
 * prefers WAKE but serves BATCH first every fourth time, so neither
 * starves. A lab fixture, not a product.
 */
#include "scxlab.bpf.h"

struct vt {
	u64 vtime;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vt);
} vtimes SEC(".maps");

static u64 vtime_now;
static u64 dispatch_seq;

static __always_inline struct vt *vt_of(struct task_struct *p)
{
	return bpf_task_storage_get(&vtimes, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
}

s32 BPF_STRUCT_OPS(vtime_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;

	return scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
}

void BPF_STRUCT_OPS(vtime_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct vt *v = vt_of(p);
	u64 vtime = v ? v->vtime : vtime_now;
	bool woken = enq_flags & SCX_ENQ_WAKEUP;

	/* a task that slept long gets at most one slice of credit */
	if ((s64)(vtime - (vtime_now - SCXLAB_SLICE_NS)) < 0)
		vtime = vtime_now - SCXLAB_SLICE_NS;
	scx_bpf_dsq_insert_vtime(p, woken ? SCXLAB_VTIME_WAKE_DSQ : SCXLAB_VTIME_BATCH_DSQ,
				 SCXLAB_SLICE_NS, vtime, enq_flags);
	scxlab_count_insert(woken ? 0 : 1);
	scxlab_kick_idle(p);
}

void BPF_STRUCT_OPS(vtime_dispatch, s32 cpu, struct task_struct *prev)
{
	if (__sync_fetch_and_add(&dispatch_seq, 1) % 4 == 3) {
		if (!scxlab_move(SCXLAB_VTIME_BATCH_DSQ, 1))
			scxlab_move(SCXLAB_VTIME_WAKE_DSQ, 0);
		return;
	}
	if (!scxlab_move(SCXLAB_VTIME_WAKE_DSQ, 0))
		scxlab_move(SCXLAB_VTIME_BATCH_DSQ, 1);
}

void BPF_STRUCT_OPS(vtime_running, struct task_struct *p)
{
	struct vt *v = vt_of(p);

	if (v && (s64)(vtime_now - v->vtime) < 0)
		vtime_now = v->vtime;
}

void BPF_STRUCT_OPS(vtime_stopping, struct task_struct *p, bool runnable)
{
	struct vt *v = vt_of(p);
	u64 used = p->scx.slice < SCXLAB_SLICE_NS ? SCXLAB_SLICE_NS - p->scx.slice : 0;
	u32 weight = p->scx.weight ? p->scx.weight : 100;

	if (v)
		v->vtime += used * 100 / weight;
}

void BPF_STRUCT_OPS(vtime_enable, struct task_struct *p)
{
	struct vt *v = vt_of(p);

	if (v)
		v->vtime = vtime_now;
}

s32 BPF_STRUCT_OPS(vtime_init)
{
	s32 err = scx_bpf_create_dsq(SCXLAB_VTIME_WAKE_DSQ, -1);

	return err ? err : scx_bpf_create_dsq(SCXLAB_VTIME_BATCH_DSQ, -1);
}

void BPF_STRUCT_OPS(vtime_exit, struct scx_exit_info *ei)
{
	scxlab_record_exit(ei);
}

SEC(".struct_ops")
struct sched_ext_ops vtime_ops = {
	.select_cpu = (void *)vtime_select_cpu,
	.enqueue = (void *)vtime_enqueue,
	.dispatch = (void *)vtime_dispatch,
	.running = (void *)vtime_running,
	.stopping = (void *)vtime_stopping,
	.enable = (void *)vtime_enable,
	.init = (void *)vtime_init,
	.exit = (void *)vtime_exit,
	.name = "scxlab_vtime",
};
