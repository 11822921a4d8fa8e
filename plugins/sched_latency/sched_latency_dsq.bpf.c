// SPDX-License-Identifier: GPL-2.0
/*
 * sched_latency, sched_ext part: per-DSQ inserts, consumption, depth and
 * insert -> run latency.
 *
 * A separate object from sched_latency.bpf.c so that a kernel without
 * sched_ext (or one whose kfuncs changed shape) costs nothing and breaks
 * nothing: user space opens it only when vmlinux BTF has the scx kfuncs,
 * and enables (autoload) only the programs whose targets this kernel has.
 * Every program here starts with autoload off ("?").
 *
 * The DSQ kfuncs are hooked with fentry/fexit, the way scxtop does:
 *   insert:  scx_bpf_dsq_insert___v2, scx_bpf_dsq_insert, scx_bpf_dispatch,
 *            __scx_bpf_dsq_insert_vtime, scx_bpf_dsq_insert_vtime,
 *            scx_bpf_dispatch_vtime
 *   consume: scx_bpf_dsq_move_to_local (6.13+) or scx_bpf_consume
 *   move:    scx_bpf_dsq_move[_vtime] (6.13+) or scx_bpf_dispatch[_vtime]_from_dsq
 *   depth:   scx_bpf_dsq_nr_queued, called from a syscall program
 * Compatibility wrappers call the newer kfunc on some kernels, so one
 * insert can pass two hooks. A task cannot sit in a DSQ twice, so an insert
 * of a task that is still queued in the same DSQ (its insert not yet ended
 * by a run or a move) is that second hook and is not counted. A time window
 * was not enough: under emulation the two hooks can be microseconds apart.
 *
 * While the event stream is on (its filter is copied into this object's
 * .bss) each counted insert is also a dsq_insert event, written into the
 * main object's ring buffer (sl_shared.bpf.h). With the stream off that
 * costs one load of stream.enabled.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sl_common.bpf.h"
#include "sl_shared.bpf.h"
#include "sl_stream.bpf.h"

#define DEDUP_NS 2000

/* Newer kernels pass the vtime insert's arguments in a struct. */
struct scx_bpf_dsq_insert_vtime_args___sl {
	__u64 dsq_id;
} __attribute__((preserve_access_index));

extern __s32 scx_bpf_dsq_nr_queued(__u64 dsq_id) __ksym __weak;

static struct sl_dsq_stats zero_dsq;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct sl_dsq_stats);
} dsq_stats SEC(".maps");

struct last_insert {
	__u64 task;
	__u64 dsq_id;
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_insert);
} dedup SEC(".maps");

/* When the hooks were last attached (user space sets it just before). An
 * insert older than that was seen under an earlier scheduler, and the task
 * may have left that DSQ while nothing watched: it is not open any more. */
__u64 attach_ts = 0;

static __always_inline bool insert_open(const struct sl_dsq_task *t)
{
	return t->insert_ts && t->insert_ts >= attach_ts;
}

/* DSQ events not counted because dsq_stats was full. */
__u64 untracked = 0;

/* Depth query: user space fills depth_ids[0..depth_n), runs dsq_depth. */
__u64 depth_ids[SL_DEPTH_IDS] = {};
__s64 depth_out[SL_DEPTH_IDS] = {};
__u32 depth_n = 0;

static __always_inline struct sl_dsq_stats *dsq_get(__u64 id)
{
	struct sl_dsq_stats *s = bpf_map_lookup_elem(&dsq_stats, &id);

	if (s)
		return s;
	bpf_map_update_elem(&dsq_stats, &id, &zero_dsq, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&dsq_stats, &id);
	if (!s)
		__sync_fetch_and_add(&untracked, 1);
	return s;
}

/* A dsq_insert event; from: the DSQ a move took p out of (has_from). */
static __always_inline void stream_insert(struct task_struct *p, __u64 dsq_id, __u64 from,
					  bool has_from, __u64 now)
{
	__u32 cpu = bpf_get_smp_processor_id(), pid = p->pid, tgid = p->tgid, zero = 0;
	struct sl_cpu_stats *cs;
	struct sl_event *e;

	if (!stream_wants(SL_EV_DSQ_INSERT, cpu, pid, tgid, 0, 0))
		return;
	cs = bpf_map_lookup_elem(&cpu_stats, &zero);
	if (!cs)
		return;
	e = stream_reserve(cs, now);
	if (!e)
		return;
	e->latency_ns = 0;
	e->type = SL_EV_DSQ_INSERT;
	e->cpu = cpu;
	e->pid = pid;
	e->tgid = tgid;
	e->other_pid = e->other_tgid = 0;
	e->src_cpu = e->dst_cpu = -1;
	e->prev_state = 0;
	e->flags = SL_EVF_DSQ | (has_from ? SL_EVF_FROM_DSQ : 0);
	e->dsq_id = dsq_id;
	e->from_dsq_id = has_from ? from : 0;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &p->comm);
	e->other_comm[0] = 0;
	stream_submit(e);
}

static __always_inline int on_insert(struct task_struct *p, __u64 dsq_id, __u64 from,
				     bool has_from)
{
	__u64 now = bpf_ktime_get_ns();
	struct last_insert *li;
	struct sl_dsq_stats *s;
	struct sl_dsq_task *t;
	__u32 zero = 0;

	if (!p)
		return 0;
	t = bpf_task_storage_get(&dsq_task, p, 0, 0);
	if (t && insert_open(t) && t->dsq_id == dsq_id)
		return 0;
	li = bpf_map_lookup_elem(&dedup, &zero);
	if (li) {
		if (li->task == (__u64)p && li->dsq_id == dsq_id && now - li->ts < DEDUP_NS)
			return 0;
		li->task = (__u64)p;
		li->dsq_id = dsq_id;
		li->ts = now;
	}
	s = dsq_get(dsq_id);
	if (s)
		__sync_fetch_and_add(&s->inserted, 1);
	t = bpf_task_storage_get(&dsq_task, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (t) {
		t->dsq_id = dsq_id;
		t->insert_ts = now;
	}
	if (stream.enabled)
		stream_insert(p, dsq_id, from, has_from, now);
	return 0;
}

static __always_inline void on_consumed(__u64 dsq_id)
{
	struct sl_dsq_stats *s = dsq_get(dsq_id);

	if (s)
		__sync_fetch_and_add(&s->consumed, 1);
}

/* A consume kfunc returned: it took a task from dsq_id when it says so. */
static __always_inline int on_consume_ret(void *ctx, __u64 dsq_id)
{
	__u64 ret = 0;

	if (!bpf_get_func_ret(ctx, &ret) && (ret & 0xff))
		on_consumed(dsq_id);
	return 0;
}

/* A task moved from the DSQ we saw it in to another one. */
static __always_inline int on_move(void *ctx, struct task_struct *p, __u64 dsq_id)
{
	struct sl_dsq_task *t;
	__u64 ret = 0, from = 0;
	bool has_from = false;

	if (bpf_get_func_ret(ctx, &ret) || !(ret & 0xff) || !p)
		return 0;
	t = bpf_task_storage_get(&dsq_task, p, 0, 0);
	if (t && insert_open(t)) {
		from = t->dsq_id;
		has_from = true;
		on_consumed(from);
		t->insert_ts = 0; /* it left that DSQ */
	}
	return on_insert(p, dsq_id, from, has_from);
}

SEC("?fentry/scx_bpf_dsq_insert___v2")
int BPF_PROG(sl_dsq_insert_v2, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, 0, false);
}

SEC("?fentry/scx_bpf_dsq_insert")
int BPF_PROG(sl_dsq_insert, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, 0, false);
}

SEC("?fentry/scx_bpf_dispatch")
int BPF_PROG(sl_dsq_dispatch, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, 0, false);
}

SEC("?fentry/__scx_bpf_dsq_insert_vtime")
int BPF_PROG(sl_dsq_insert_vtime_args, struct task_struct *p,
	     struct scx_bpf_dsq_insert_vtime_args___sl *args)
{
	return on_insert(p, BPF_CORE_READ(args, dsq_id), 0, false);
}

SEC("?fentry/scx_bpf_dsq_insert_vtime")
int BPF_PROG(sl_dsq_insert_vtime, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, 0, false);
}

SEC("?fentry/scx_bpf_dispatch_vtime")
int BPF_PROG(sl_dsq_dispatch_vtime, struct task_struct *p, __u64 dsq_id)
{
	return on_insert(p, dsq_id, 0, false);
}

SEC("?fexit/scx_bpf_dsq_move_to_local")
int BPF_PROG(sl_dsq_move_to_local, __u64 dsq_id)
{
	return on_consume_ret(ctx, dsq_id);
}

SEC("?fexit/scx_bpf_consume")
int BPF_PROG(sl_dsq_consume, __u64 dsq_id)
{
	return on_consume_ret(ctx, dsq_id);
}

SEC("?fexit/scx_bpf_dsq_move")
int BPF_PROG(sl_dsq_move, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

SEC("?fexit/scx_bpf_dsq_move_vtime")
int BPF_PROG(sl_dsq_move_vtime, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

SEC("?fexit/scx_bpf_dispatch_from_dsq")
int BPF_PROG(sl_dsq_dispatch_from_dsq, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

SEC("?fexit/scx_bpf_dispatch_vtime_from_dsq")
int BPF_PROG(sl_dsq_dispatch_vtime_from_dsq, void *it, struct task_struct *p, __u64 dsq_id)
{
	return on_move(ctx, p, dsq_id);
}

/* Insert -> run latency, attributed to the DSQ the task last entered. */
SEC("?tp_btf/sched_switch")
int BPF_PROG(sl_dsq_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct sl_dsq_task *t = bpf_task_storage_get(&dsq_task, next, 0, 0);
	struct sl_dsq_stats *s;
	__u64 now, lat;

	if (!t || !t->insert_ts)
		return 0;
	if (!insert_open(t)) {
		t->insert_ts = 0; /* left over from an earlier scheduler: not timed */
		return 0;
	}
	now = bpf_ktime_get_ns();
	lat = now > t->insert_ts ? now - t->insert_ts : 0;
	t->insert_ts = 0;
	/* for the stream's switch event (sched_latency.bpf.c), if it runs after us */
	t->ran_dsq_id = t->dsq_id;
	t->ran_ts = now;
	t->ran_wait_ns = lat;
	s = dsq_get(t->dsq_id);
	if (!s)
		return 0;
	__sync_fetch_and_add(&s->ran, 1);
	__sync_fetch_and_add(&s->wait_ns, lat);
	if (lat > s->wait_max_ns)
		s->wait_max_ns = lat;
	__sync_fetch_and_add(&s->hist[sl_hidx(sl_bucket(lat))], 1);
	return 0;
}

SEC("?syscall")
int sl_dsq_depth(void *ctx)
{
	__u32 n = depth_n;

	for (__u32 i = 0; i < SL_DEPTH_IDS; i++) {
		if (i >= n)
			break;
		depth_out[i] = scx_bpf_dsq_nr_queued ? scx_bpf_dsq_nr_queued(depth_ids[i]) : -95;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
