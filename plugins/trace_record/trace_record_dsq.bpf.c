// SPDX-License-Identifier: GPL-2.0
/*
 * trace_record, sched_ext part: a record per DSQ insert and per dispatch
 * (the task left that DSQ) into the main object's ring buffer, for the
 * per-DSQ depth and latency counter tracks user space writes.
 *
 * A separate object from trace_record.bpf.c so that a kernel without
 * sched_ext costs nothing: user space opens it only when vmlinux BTF has
 * the scx kfuncs (plugins/common/scx_dsq_hooks.h chooses which, the same
 * choice as sched_latency's), and every program starts with autoload off.
 * The hooks are those of sched_latency_dsq.bpf.c:
 *   insert:  fentry on every insert kfunc present; a compatibility wrapper
 *            calls the newer kfunc, so one insert can pass two hooks: an
 *            insert of a task still queued in the same DSQ is that second
 *            sighting and is dropped (a task cannot sit in a DSQ twice)
 *   consume: fexit on scx_bpf_dsq_move_to_local / scx_bpf_consume: when it
 *            took a task, the CPU notes which DSQ and when; the switch to a
 *            task of that DSQ on this CPU is its dispatch, timed at the consume
 *   move:    fexit on scx_bpf_dsq_move[_vtime] (or _dispatch_[vtime_]from_dsq):
 *            a dispatch out of the old DSQ and an insert into the new one
 *   run:     tp_btf/sched_switch: a task with an open insert runs: its
 *            dispatch (built-in DSQs, local and global, are left this way)
 * Only inserts seen while attached open a task's entry, so a dispatch is
 * always of an insert in the trace (the depth user space computes counts
 * the tasks queued since the recording started).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "trace_record.h"

#define DEDUP_NS 2000

/* A ring buffer of its own (sized by user space before load), read with
 * the main object's per-CPU rings. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct dsq_task {
	__u64 dsq_id;
	__u64 insert_ts; /* 0: not queued (as far as we saw) */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dsq_task);
} dsq_task SEC(".maps");

struct last_insert {
	__u64 task, dsq_id, ts;
};

/* Per CPU: the last insert (the double-hook check) and the last consume. */
struct cpu_note {
	struct last_insert li;
	__u64 consume_dsq, consume_ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_note);
} notes SEC(".maps");

/* Set by user space just before attaching (CLOCK_BOOTTIME): an entry older
 * than that is from an earlier recording and is not open any more. */
__u64 attach_ts = 0;

struct tr_dsq_slot dsq_stats[TR_MAX_CPUS] = {};

/* Newer kernels pass the vtime insert's arguments in a struct. */
struct scx_bpf_dsq_insert_vtime_args___tr {
	__u64 dsq_id;
} __attribute__((preserve_access_index));

static __always_inline bool open_insert(const struct dsq_task *t)
{
	return t && t->insert_ts && t->insert_ts >= attach_ts;
}

/* One record; ts 0: now. */
static __always_inline void emit(__u16 type, struct task_struct *p, __u64 dsq_id, __s32 c,
				 __u64 lat, __u64 ts)
{
	__u32 cpu = bpf_get_smp_processor_id(), k = type == TR_DSQ_INSERT ? 0 : 1;
	struct tr_event *e;

	if (cpu >= TR_MAX_CPUS)
		return;
	dsq_stats[cpu].seen[k]++;
	e = bpf_ringbuf_reserve(&events, TR_EV_SMALL, 0);
	if (!e) {
		dsq_stats[cpu].lost[k]++;
		return;
	}
	e->ts_ns = ts ? ts : bpf_ktime_get_boot_ns();
	e->type = type;
	e->cpu = (__u16)cpu;
	e->pid = (__u32)bpf_get_current_pid_tgid();
	e->a = (__s64)dsq_id;
	e->b = BPF_CORE_READ(p, pid);
	e->c = c;
	e->d = (__s32)(__u32)(lat >> 32);
	e->e = (__s32)(__u32)lat;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &p->comm);
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

static __always_inline int on_insert(struct task_struct *p, __u64 dsq_id, bool moved)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct dsq_task *t;
	struct cpu_note *n;
	__u32 zero = 0;

	if (!p)
		return 0;
	t = bpf_task_storage_get(&dsq_task, p, 0, 0);
	if (open_insert(t) && t->dsq_id == dsq_id)
		return 0; /* the second hook of one insert */
	n = bpf_map_lookup_elem(&notes, &zero);
	if (n) {
		if (n->li.task == (__u64)p && n->li.dsq_id == dsq_id && now - n->li.ts < DEDUP_NS)
			return 0;
		n->li.task = (__u64)p;
		n->li.dsq_id = dsq_id;
		n->li.ts = now;
	}
	t = bpf_task_storage_get(&dsq_task, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		return 0; /* no dispatch could be matched: no insert either */
	t->dsq_id = dsq_id;
	t->insert_ts = now;
	emit(TR_DSQ_INSERT, p, dsq_id, moved, 0, now);
	return 0;
}

/* A consume kfunc returned: note the DSQ when it took a task. */
static __always_inline int on_consume_ret(void *ctx, __u64 dsq_id)
{
	struct cpu_note *n;
	__u64 ret = 0;
	__u32 zero = 0;

	if (bpf_get_func_ret(ctx, &ret) || !(ret & 0xff))
		return 0;
	n = bpf_map_lookup_elem(&notes, &zero);
	if (n) {
		n->consume_dsq = dsq_id;
		n->consume_ts = bpf_ktime_get_boot_ns();
	}
	return 0;
}

/* A task moved from the DSQ we saw it in to another one. */
static __always_inline int on_move(void *ctx, struct task_struct *p, __u64 dsq_id)
{
	struct dsq_task *t;
	__u64 ret = 0, now;

	if (bpf_get_func_ret(ctx, &ret) || !(ret & 0xff) || !p)
		return 0;
	t = bpf_task_storage_get(&dsq_task, p, 0, 0);
	if (open_insert(t)) {
		now = bpf_ktime_get_boot_ns();
		emit(TR_DSQ_DISPATCH, p, t->dsq_id, TR_DSQ_MOVED,
		     now > t->insert_ts ? now - t->insert_ts : 0, now);
		t->insert_ts = 0;
	}
	return on_insert(p, dsq_id, true);
}

SEC("?fentry/scx_bpf_dsq_insert___v2")
int BPF_PROG(tr_dsq_insert_v2, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, false);
}

SEC("?fentry/scx_bpf_dsq_insert")
int BPF_PROG(tr_dsq_insert, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, false);
}

SEC("?fentry/scx_bpf_dispatch")
int BPF_PROG(tr_dsq_dispatch, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, false);
}

SEC("?fentry/__scx_bpf_dsq_insert_vtime")
int BPF_PROG(tr_dsq_insert_vtime_args, struct task_struct *p,
	     struct scx_bpf_dsq_insert_vtime_args___tr *args)
{
	return on_insert(p, BPF_CORE_READ(args, dsq_id), false);
}

SEC("?fentry/scx_bpf_dsq_insert_vtime")
int BPF_PROG(tr_dsq_insert_vtime, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, false);
}

SEC("?fentry/scx_bpf_dispatch_vtime")
int BPF_PROG(tr_dsq_dispatch_vtime, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, false);
}

SEC("?fexit/scx_bpf_dsq_move_to_local")
int BPF_PROG(tr_dsq_move_to_local, __u64 dsq_id)
{
	return on_consume_ret(ctx, dsq_id);
}

SEC("?fexit/scx_bpf_consume")
int BPF_PROG(tr_dsq_consume, __u64 dsq_id)
{
	return on_consume_ret(ctx, dsq_id);
}

SEC("?fexit/scx_bpf_dsq_move")
int BPF_PROG(tr_dsq_move, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

SEC("?fexit/scx_bpf_dispatch_from_dsq")
int BPF_PROG(tr_dsq_dispatch_from_dsq, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

SEC("?fexit/scx_bpf_dsq_move_vtime")
int BPF_PROG(tr_dsq_move_vtime, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

SEC("?fexit/scx_bpf_dispatch_vtime_from_dsq")
int BPF_PROG(tr_dsq_dispatch_vtime_from_dsq, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

/* The task with an open insert runs: its dispatch, timed at the consume
 * that took it from that DSQ on this CPU when there was one. */
SEC("?tp_btf/sched_switch")
int BPF_PROG(tr_dsq_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct dsq_task *t = bpf_task_storage_get(&dsq_task, next, 0, 0);
	struct cpu_note *n;
	__u64 now, at;
	__u32 zero = 0;

	if (!t || !t->insert_ts)
		return 0;
	if (!open_insert(t)) {
		t->insert_ts = 0; /* from an earlier recording: not timed */
		return 0;
	}
	now = bpf_ktime_get_boot_ns();
	at = now;
	n = bpf_map_lookup_elem(&notes, &zero);
	if (n && n->consume_ts && n->consume_dsq == t->dsq_id && n->consume_ts >= t->insert_ts &&
	    n->consume_ts <= now) {
		at = n->consume_ts;
		n->consume_ts = 0;
	}
	emit(TR_DSQ_DISPATCH, next, t->dsq_id, TR_DSQ_RAN, at - t->insert_ts, at);
	t->insert_ts = 0;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
