// SPDX-License-Identifier: GPL-2.0
/*
 * trace_record: one record per scheduler event into its CPU's ring buffer, for a
 * Perfetto trace written by user space. Attached only while a recording
 * runs (tr_bpf.c). Nothing is aggregated here: a trace wants every event.
 *
 * Timestamps are bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME, what ftrace's
 * "boot" trace clock reads), taken after the record is reserved. Records of
 * one CPU can reach the ring out of time order (an interrupt's event lands
 * between the reservation and the timestamp of the event it interrupted),
 * so user space sorts each CPU's records before writing them.
 *
 * The reader drains on a timer: records are submitted without waking it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "trace_record.h"

/* One ring buffer per CPU, created and put in by user space: records of
 * one CPU never contend with another's for a ring's lock and producer
 * position (one shared ring cost 536 ns a switch with both CPUs busy,
 * 237 ns with one). */
struct tr_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* each CPU's size, set before load */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* the possible CPUs, set before load */
	__type(key, __u32);
	__array(values, struct tr_ring);
} rings SEC(".maps");

/* Per-CPU counters; read by user space through .bss. */
struct tr_cpu_slot stats[TR_MAX_CPUS] = {};

static __always_inline struct tr_event *reserve(__u16 type, __u32 size)
{
	__u32 cpu = bpf_get_smp_processor_id(), key = cpu;
	struct tr_event *e = NULL;
	struct tr_cpu_slot *st;
	void *ring;

	if (cpu >= TR_MAX_CPUS || type >= TR_NTYPES)
		return NULL;
	st = &stats[cpu]; /* before the lookup, which spills its key */
	st->s.seen[type]++;
	ring = bpf_map_lookup_elem(&rings, &key);
	if (ring)
		e = bpf_ringbuf_reserve(ring, size, 0);
	if (!e) {
		st->s.lost[type]++;
		return NULL;
	}
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->type = type;
	e->cpu = (__u16)cpu;
	e->pid = (__u32)bpf_get_current_pid_tgid();
	return e;
}

static __always_inline void submit(struct tr_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* What ftrace prints as prev_state (__trace_sched_switch_state): a
 * preempted task reads TASK_REPORT_MAX, else one bit of the task's
 * reported state. */
static __always_inline __s64 switch_state(bool preempt, struct task_struct *prev,
					  unsigned int prev_state)
{
	unsigned int state;

	if (preempt)
		return 0x100; /* TASK_REPORT_MAX: TASK_REPORT_IDLE << 1 */
	if (prev_state == 0x402) /* TASK_IDLE (UNINTERRUPTIBLE | NOLOAD) */
		return 0x80;  /* TASK_REPORT_IDLE */
	if (prev_state & 0x1000) /* TASK_RTLOCK_WAIT reports as UNINTERRUPTIBLE */
		prev_state = 0x2;
	state = (prev_state | (unsigned int)prev->exit_state) & 0x7f; /* TASK_REPORT */
	/* the highest bit set (fls): state < 0x80 */
	for (int i = 6; i >= 0; i--)
		if (state & (1u << i))
			return 1ll << i;
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tr_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct tr_event *e = reserve(TR_SWITCH, TR_EV_SMALL);

	if (!e)
		return 0;
	e->pid = prev->pid;
	e->a = switch_state(preempt, prev, prev_state);
	e->b = next->pid;
	e->c = next->prio;
	e->d = prev->prio;
	__builtin_memcpy(e->comm, next->comm, TR_COMM_LEN);
	submit(e);
	return 0;
}

static __always_inline int wake(__u16 type, struct task_struct *p)
{
	struct tr_event *e = reserve(type, TR_EV_SMALL);

	if (!e)
		return 0;
	e->b = p->pid;
	e->c = p->prio;
	e->d = (__s32)p->thread_info.cpu;
	__builtin_memcpy(e->comm, p->comm, TR_COMM_LEN);
	submit(e);
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(tr_waking, struct task_struct *p)
{
	return wake(TR_WAKING, p);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(tr_wakeup_new, struct task_struct *p)
{
	return wake(TR_WAKEUP_NEW, p);
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(tr_migrate, struct task_struct *p, int dest_cpu)
{
	struct tr_event *e = reserve(TR_MIGRATE, TR_EV_SMALL);

	if (!e)
		return 0;
	e->b = p->pid;
	e->c = p->prio;
	e->d = (__s32)p->thread_info.cpu;
	e->e = dest_cpu;
	__builtin_memcpy(e->comm, p->comm, TR_COMM_LEN);
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tr_fork, struct task_struct *parent, struct task_struct *child)
{
	struct tr_event *e = reserve(TR_FORK, TR_EV_MID);

	if (!e)
		return 0;
	e->b = parent->pid;
	e->c = child->pid;
	__builtin_memcpy(e->comm, parent->comm, TR_COMM_LEN);
	__builtin_memcpy(e->comm2, child->comm, TR_COMM_LEN);
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tr_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct tr_event *e = reserve(TR_EXEC, sizeof(struct tr_event));

	if (!e)
		return 0;
	e->b = p->pid;
	e->c = old_pid;
	if (bpf_probe_read_kernel_str(e->str, sizeof(e->str), bprm->filename) < 0)
		e->str[0] = 0;
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tr_exit, struct task_struct *p)
{
	struct tr_event *e = reserve(TR_EXIT, TR_EV_SMALL);

	if (!e)
		return 0;
	e->b = p->pid;
	e->c = p->tgid;
	e->d = p->prio;
	__builtin_memcpy(e->comm, p->comm, TR_COMM_LEN);
	submit(e);
	return 0;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(tr_irq_entry, int irq, struct irqaction *action)
{
	struct tr_event *e = reserve(TR_IRQ_ENTRY, TR_EV_MID);

	if (!e)
		return 0;
	e->b = irq;
	if (bpf_probe_read_kernel_str(e->comm2, sizeof(e->comm2), action->name) < 0)
		e->comm2[0] = 0;
	submit(e);
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(tr_irq_exit, int irq, struct irqaction *action, int ret)
{
	struct tr_event *e = reserve(TR_IRQ_EXIT, TR_EV_SMALL);

	if (!e)
		return 0;
	e->b = irq;
	e->c = ret;
	submit(e);
	return 0;
}

static __always_inline int two_u32(__u16 type, __u32 x, __u32 y)
{
	struct tr_event *e = reserve(type, TR_EV_SMALL);

	if (!e)
		return 0;
	e->b = (__s32)x;
	e->c = (__s32)y;
	submit(e);
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(tr_softirq_entry, unsigned int vec)
{
	return two_u32(TR_SOFTIRQ_ENTRY, vec, 0);
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(tr_softirq_exit, unsigned int vec)
{
	return two_u32(TR_SOFTIRQ_EXIT, vec, 0);
}

SEC("tp_btf/cpu_frequency")
int BPF_PROG(tr_cpu_frequency, unsigned int state, unsigned int cpu_id)
{
	return two_u32(TR_CPU_FREQ, state, cpu_id);
}

SEC("tp_btf/cpu_idle")
int BPF_PROG(tr_cpu_idle, unsigned int state, unsigned int cpu_id)
{
	return two_u32(TR_CPU_IDLE, state, cpu_id);
}

char LICENSE[] SEC("license") = "GPL";
