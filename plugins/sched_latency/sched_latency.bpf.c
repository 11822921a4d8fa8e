// SPDX-License-Identifier: GPL-2.0
/*
 * sched_latency: run-queue latency, scheduler counters and the live event
 * stream, aggregated in the kernel.
 *
 * Each program exists twice, as tp_btf (task storage, direct loads) and as
 * raw_tp (a tid-keyed LRU hash, CO-RE probe reads); user space loads one
 * set with autoload. Everything is cumulative: user space computes windows
 * from differences, so readers never reset each other.
 *
 * Per-thread counters live in a direct-mapped array indexed by tid
 * (task_slots: one load of the element, where task storage takes three
 * dependent ones that miss when many tasks take turns), or, for a thread
 * whose slot another live thread holds, in its own task storage; either
 * way the hot path touches no hash map. An iter/task program (sl_dump)
 * exports the threads that changed once per user-space tick, and exiting
 * threads send their final counters through the exits ring buffer.
 * Processes are summed from their threads in user space.
 *
 * Run-queue latency is the time from a task becoming runnable (sched_wakeup,
 * sched_wakeup_new, or being switched out while still runnable) to its next
 * sched_switch in, stamped with bpf_ktime_get_ns() exactly as libbpf-tools
 * runqlat does. The histogram layout is in sched_latency.h.
 *
 * Always attached: sched_switch, sched_wakeup, sched_wakeup_new,
 * sched_process_exit. Attached only while needed (sl_bpf.c):
 * sched_waking (waker CPU and identity), sched_migrate_task (migrate
 * events); migrations are otherwise counted at switch-in.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sl_common.bpf.h"
#include "sl_shared.bpf.h"
#include "sl_stream.bpf.h"

/* Set by user space between open and load. */
const volatile __u16 cpu_llc[SL_MAX_CPUS] = {};
const volatile __u16 cpu_node[SL_MAX_CPUS] = {};
const volatile bool have_topology = false;
/*
 * The kernel's clock: run-queue latency from the scheduler's own
 * bookkeeping (CONFIG_SCHED_INFO: task->sched_info.last_queued is the rq
 * clock when the task was queued, run_delay the waits it finished) and the
 * rq clock __schedule() just updated (reached through prev's cfs_rq, as
 * the per-CPU runqueues are not always in kallsyms), instead of a timestamp
 * taken by a sched_wakeup program: no program runs on wakeups, and the
 * switch reads no clock. User space sets it when the kernel's BTF has
 * sched_info.last_queued, sched_entity.cfs_rq and cfs_rq.rq
 * (CONFIG_FAIR_GROUP_SCHED).
 */
const volatile bool rq_clock = false;
/* CLOCK_MONOTONIC ns before the programs were loaded: a thread started
 * later (task->start_time) has had its whole life in view. */
const volatile __u64 load_mono_ns = 0;
/* task_slots: on (tp_btf) when user space sized it; its entries - 1 (a
 * power of two minus one). */
const volatile bool slots_on = false;
const volatile __u32 slot_mask = 0;
/* enum sl_cg_mode: the hierarchy per-cgroup latency is keyed by. */
const volatile __u32 cg_mode = SL_CGM_OFF;

/* Changed by user space at run time through the mmapped .bss. */
struct sl_measure_ctl measure[SL_MEASURE_SLOTS] = {};
__u32 measure_active = 0; /* number of active slots */
__u32 track_wakers = 0;
__u32 track_softirq = 0;
/* Set while the sched_ext DSQ hooks are attached (sl_dsq.c): only then do
 * stream events look up the task's DSQ state. */
__u32 dsq_hooked = 0;

/* Threads kept in task storage because another live thread held their
 * slot (counted once, when the storage is created). */
__u64 slot_fallbacks = 0;
/* Switch-ins and wakeups of threads whose task storage could not be made
 * (the kernel's allocator for it ran dry, or another program held it on
 * this CPU): counted, and their counters caught up at the next one. */
__u64 task_state_failed = 0;
/* Switch-ins not counted per cgroup: cg_stats was full. */
__u64 cg_overflow = 0;
/* Bumped whenever tasks move between cgroups: a task's cached cgroup slot
 * is good while no move happened since it was taken. */
__u64 cg_epoch = 0;

static struct sl_task zero_task;
static struct sl_wake_val zero_wake;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set to the number of possible CPUs */
	__type(key, __u32);
	__type(value, struct sl_cpu_remote);
} cpu_remote SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_task);
} task_store SEC(".maps");

/*
 * Per-thread state, direct-mapped: slot tid & slot_mask, sized by user
 * space (task_slots, at most the next power of two over pid_max). A slot
 * is free while its tag (st.tid and st.tgid as one word) is 0, claimed
 * with a compare-and-swap, and given back (zeroed, then the tag cleared)
 * at the thread's last switch-out (TASK_DEAD), after which it never runs:
 * not at sched_process_exit, after which an exiting thread can still sleep
 * and run. slot_task (the holder's task_struct address) tells a slot left
 * by an earlier thread of the same tid from the current one's: exec from a
 * non-leader thread gives it the leader's tid and start_time (de_thread),
 * so neither tells the two apart, and the old leader may not have switched
 * out for the last time yet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_task);
} task_slots SEC(".maps");

/* Per-cgroup latency (sched_latency.h); all three sized by user space
 * (cgroup_max) when cg_mode is on. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_measure);
} cg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} cg_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 1);
	__type(value, __u32);
} cg_free SEC(".maps");

/* raw_tp fallback only: sized by user space when used. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_task);
} task_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_MEASURE_SLOTS);
	__type(key, __u32);
	__type(value, struct sl_measure);
} measure_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sl_wake_key);
	__type(value, struct sl_wake_val);
} wake_pairs SEC(".maps");

/* analyze_softirq: the entry time of the softirq running on this CPU
 * (softirqs do not nest on a CPU), per-CPU totals per vector, and the
 * processes in whose context they ran. */
struct sl_softirq_entry {
	__u64 ts;
	__u32 vec;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_softirq_entry);
} softirq_entry SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_NR_SOFTIRQS);
	__type(key, __u32);
	__type(value, struct sl_softirq_stat);
} softirq_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SL_SOFTIRQ_PROCS);
	__type(key, struct sl_softirq_key);
	__type(value, struct sl_softirq_proc);
} softirq_procs SEC(".maps");

static struct sl_softirq_proc zero_softirq_proc;

/* Final counters of exiting threads; drained by user space every tick. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} exits SEC(".maps");

__u64 exits_lost = 0;

/* ------------------------------------------------------- task accessors */

struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

struct task_struct___cpu {
	unsigned int cpu;
} __attribute__((preserve_access_index));

/* btf: t is a BTF pointer (tp_btf) and may be loaded directly; otherwise
 * it is a plain address (raw_tp) read with CO-RE probe reads. Every caller
 * passes a constant, so the other branch is compiled out. */
#define TREAD(btf, t, field) ((btf) ? (t)->field : BPF_CORE_READ((t), field))

static __always_inline __u32 task_state(struct task_struct *t, bool btf)
{
	if (bpf_core_field_exists(t->__state))
		return TREAD(btf, t, __state);
	return (__u32)BPF_CORE_READ((struct task_struct___old *)t, state);
}

static __always_inline __u32 task_cpu(struct task_struct *t, bool btf)
{
	if (bpf_core_field_exists(t->thread_info.cpu))
		return TREAD(btf, t, thread_info.cpu);
	return BPF_CORE_READ((struct task_struct___cpu *)t, cpu);
}

#define SL_TASK_DEAD 0x80 /* TASK_DEAD: its last switch-out */

static __always_inline __u64 *slot_tag(struct sl_task *v)
{
	return (__u64 *)&v->st.tid; /* with st.tgid: one aligned word */
}

/* Everything of a slot but its tag. */
static __always_inline void slot_zero(struct sl_task *v)
{
	__builtin_memset(v, 0, __builtin_offsetof(struct sl_task, st.tid));
	__builtin_memset(&v->st.last_cpu, 0,
			 sizeof(*v) - __builtin_offsetof(struct sl_task, st.last_cpu));
}

/* t's state (tp_btf), pid being t->pid: its slot when it holds it, else
 * its task storage; with create, a free slot (or one an earlier thread of
 * this tid left) is claimed, else task storage created. A thread that has
 * task storage keeps it, so each thread's counts stay in one place. */
static __always_inline struct sl_task *task_get_btf(struct task_struct *t, __u32 pid,
						    bool create)
{
	struct sl_task *v = NULL;
	__u64 me = (__u64)t; /* compared, never dereferenced */
	__u32 idx = pid & slot_mask;

	if (slots_on) {
		v = bpf_map_lookup_elem(&task_slots, &idx);
		if (v && v->st.tid == pid && v->slot_task == me)
			return v;
	}
	if (!create)
		return bpf_task_storage_get(&task_store, t, 0, 0);
	if (v) {
		struct sl_task *s = bpf_task_storage_get(&task_store, t, 0, 0);
		__u64 mine = pid | (__u64)t->tgid << 32, tag = *(volatile __u64 *)slot_tag(v);

		if (s)
			return s;
		if ((__u32)tag == pid) {
			/* an earlier thread of this tid left it (it is dead, or
			 * gave this tid up at exec): ours now */
			slot_zero(v);
			v->st.tgid = mine >> 32;
		} else if (tag) {
			goto storage; /* another live thread holds it */
		} else {
			tag = __sync_val_compare_and_swap(slot_tag(v), 0, mine);
			if (tag == mine) /* this thread's wakeup and switch-in at once */
				return v;
			if (tag)
				goto storage;
		}
		v->slot_task = me;
		v->st.tid = pid;
		v->inited = 1;
		return v;
	}
storage:
	v = bpf_task_storage_get(&task_store, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!v)
		__sync_fetch_and_add(&task_state_failed, 1);
	if (v && !v->inited) {
		v->st.tid = pid;
		v->st.tgid = t->tgid;
		v->inited = 1;
		if (slots_on)
			__sync_fetch_and_add(&slot_fallbacks, 1);
	}
	return v;
}

/* A thread switched out for the last time gives its slot back: zeroed
 * first, so that the next holder starts clean. */
static __always_inline void slot_release(struct task_struct *t, __u32 pid)
{
	__u32 idx = pid & slot_mask;
	struct sl_task *v = bpf_map_lookup_elem(&task_slots, &idx);
	__u64 tag;

	if (!v || v->st.tid != pid || v->slot_task != (__u64)t)
		return;
	tag = *(volatile __u64 *)slot_tag(v);
	slot_zero(v);
	/* a full barrier: the zeroes are seen before the slot is free */
	(void)__sync_val_compare_and_swap(slot_tag(v), tag, 0);
}

/* The task's state, created on first use (pid is t->pid). */
static __always_inline struct sl_task *task_get(struct task_struct *t, __u32 pid, bool btf)
{
	struct sl_task *v;

	if (btf)
		return task_get_btf(t, pid, true);
	v = bpf_map_lookup_elem(&task_hash, &pid);
	if (v)
		return v;
	bpf_map_update_elem(&task_hash, &pid, &zero_task, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&task_hash, &pid);
	if (v && !v->inited) {
		v->inited = 1;
		v->st.tid = pid;
		v->st.tgid = BPF_CORE_READ(t, tgid);
		bpf_probe_read_kernel_str(v->st.comm, sizeof(v->st.comm), &t->comm);
	}
	return v;
}

/* Cgroup v2 id of t's cgroup's ancestor at level (itself when equal);
 * 0 when t is not that deep. */
static __always_inline __u64 task_cgroup_at(struct task_struct *t, __u32 level)
{
	struct cgroup *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp), *anc = NULL;
	int l;

	if (!cg)
		return 0;
	l = BPF_CORE_READ(cg, level);
	if (l < 0 || (__u32)l < level)
		return 0;
	if ((__u32)l == level)
		return BPF_CORE_READ(cg, kn, id);
	if (!bpf_core_field_exists(cg->ancestors))
		return 0;
	bpf_probe_read_kernel(&anc, sizeof(anc), &cg->ancestors[level & 63]);
	return anc ? BPF_CORE_READ(anc, kn, id) : 0;
}

/* The id of t's cgroup in the hierarchy cg_mode names (its kernfs id, the
 * directory's inode number); 0 when unknown. tp_btf loads the pointers
 * directly (a NULL on the way reads as 0). */
static __always_inline __u64 task_cg_id(struct task_struct *t, bool btf)
{
	int i;

	if (cg_mode == SL_CGM_V2)
		return btf ? t->cgroups->dfl_cgrp->kn->id
			   : BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id))
		return 0;
	i = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
	return btf ? t->cgroups->subsys[i]->cgroup->kn->id
		   : BPF_CORE_READ(t, cgroups, subsys[i], cgroup, kn, id);
}

/* Count a switch-in into h, and its wait when have (this CPU's own copy). */
static __always_inline void lat_add(struct sl_measure *h, bool have, __u64 lat, __u32 b)
{
	h->switches_in++;
	if (!have)
		return;
	h->waits++;
	h->wait_ns += lat;
	if (lat > h->wait_max_ns)
		h->wait_max_ns = lat;
	h->hist[sl_hidx(b)]++;
}

/* The cg_stats slot of id, taken from cg_free when new; -1 when none is
 * left (user space gives back the slots of removed cgroups). */
static __always_inline int cg_slot_of(__u64 id)
{
	__u32 *s = bpf_map_lookup_elem(&cg_slots, &id), fresh;

	if (s)
		return (int)*s;
	if (bpf_map_pop_elem(&cg_free, &fresh))
		return -1;
	if (!bpf_map_update_elem(&cg_slots, &id, &fresh, BPF_NOEXIST))
		return (int)fresh;
	/* another CPU added it first (or the map is full): give it back */
	bpf_map_push_elem(&cg_free, &fresh, 0);
	s = bpf_map_lookup_elem(&cg_slots, &id);
	return s ? (int)*s : -1;
}

/* Count a switch-in of t (state nt; and its wait, when have) for its
 * cgroup. The slot is cached in nt while no task moved between cgroups
 * (cg_epoch, from the cgroup_attach_task and cgroup_transfer_tasks
 * tracepoints, which fire once a move is done): the common path touches
 * nothing of the task_struct and is an array lookup. */
static __always_inline void cg_account(struct task_struct *t, struct sl_task *nt, bool btf,
				       bool have, __u64 lat, __u32 b)
{
	__u64 epoch = *(volatile __u64 *)&cg_epoch; /* before the cgroup is read */
	struct sl_measure *c;
	__u32 slot;

	if (nt->cg_slot && nt->cg_epoch == epoch && ++nt->cg_checks % SL_CG_RECHECK) {
		slot = nt->cg_slot - 1;
	} else {
		__u64 id = task_cg_id(t, btf);
		int s = id ? cg_slot_of(id) : -1;

		nt->cg_checks = 0;
		if (s < 0) {
			nt->cg_slot = 0;
			if (id)
				__sync_fetch_and_add(&cg_overflow, 1);
			return;
		}
		slot = (__u32)s;
		nt->cg_epoch = epoch;
		nt->cg_slot = slot + 1;
	}
	c = bpf_map_lookup_elem(&cg_stats, &slot);
	if (c)
		lat_add(c, have, lat, b);
}

/* ---------------------------------------------------------- aggregation */

static __always_inline void measure_add(struct task_struct *next, __u32 pid, __u32 tgid,
					__u32 cpu, bool have, __u64 lat, __u32 b)
{
	__u64 cgid_level = ~0ull, cgid = 0;

#pragma unroll
	for (__u32 i = 0; i < SL_MEASURE_SLOTS; i++) {
		struct sl_measure_ctl *m = &measure[i];
		struct sl_measure *h;
		__u32 key = i;

		if (!m->active)
			continue;
		if (m->pid && m->pid != pid && m->pid != tgid)
			continue;
		if (m->cpu >= 0 && (__u32)m->cpu != cpu)
			continue;
		if (m->cgroup_id) {
			if (cgid_level != m->cgroup_level) {
				cgid_level = m->cgroup_level;
				cgid = task_cgroup_at(next, m->cgroup_level);
			}
			if (cgid != m->cgroup_id)
				continue;
		}
		h = bpf_map_lookup_elem(&measure_hist, &key);
		if (h)
			lat_add(h, have, lat, b);
	}
}

/* ------------------------------------------------------ sched_ext fields */

/*
 * The DSQ next ran from, for its switch event. The DSQ object's own
 * sched_switch program ends the insert (insert_ts = 0, copied to ran_*),
 * and the two programs may run in either order: either the insert is still
 * open, or its copy is newer than the moment the task last became runnable
 * (enq_ts) and so belongs to this switch.
 */
static __always_inline void dsq_fill_switch(struct sl_event *e, struct task_struct *next,
					    __u64 now, __u64 enq_ts)
{
	struct sl_dsq_task *t = bpf_task_storage_get(&dsq_task, next, 0, 0);

	if (!t)
		return;
	if (t->insert_ts && t->insert_ts <= now) {
		e->dsq_id = t->dsq_id;
		e->dsq_wait_ns = now - t->insert_ts;
	} else if (t->ran_ts && enq_ts && t->ran_ts >= enq_ts) {
		e->dsq_id = t->ran_dsq_id;
		e->dsq_wait_ns = t->ran_wait_ns;
	} else {
		return;
	}
	e->flags |= SL_EVF_DSQ;
}

/* The DSQ p is queued in (wakeup, migrate), if any. */
static __always_inline void dsq_fill_queued(struct sl_event *e, struct task_struct *p)
{
	struct sl_dsq_task *t = bpf_task_storage_get(&dsq_task, p, 0, 0);

	if (t && t->insert_ts) {
		e->dsq_id = t->dsq_id;
		e->flags |= SL_EVF_DSQ;
	}
}

/* ------------------------------------------------------------- handlers */

static __always_inline struct sl_cpu_stats *this_cpu_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_stats, &zero);
}

/* A task runs on cpu after last running on src: a migration, however it
 * came about (wakeup placement, load balancing, affinity change). Counted
 * here rather than in sched_migrate_task so that the common path needs no
 * extra program; src's share is the one remote update. */
static __always_inline void count_migration(struct sl_cpu_stats *cs, struct sl_task *t,
					    __u32 src, __u32 cpu)
{
	struct sl_cpu_remote *r = bpf_map_lookup_elem(&cpu_remote, &src);
	bool xllc = false, xnode = false;

	if (have_topology && src < SL_MAX_CPUS && cpu < SL_MAX_CPUS) {
		xllc = cpu_llc[src & (SL_MAX_CPUS - 1)] != cpu_llc[cpu & (SL_MAX_CPUS - 1)];
		xnode = cpu_node[src & (SL_MAX_CPUS - 1)] != cpu_node[cpu & (SL_MAX_CPUS - 1)];
	}
	t->st.migrations++;
	cs->migrations_in++;
	cs->migrations_in_xllc += xllc;
	cs->migrations_in_xnode += xnode;
	if (!r)
		return;
	__sync_fetch_and_add(&r->migrations_out, 1);
	if (xllc)
		__sync_fetch_and_add(&r->migrations_out_xllc, 1);
	if (xnode)
		__sync_fetch_and_add(&r->migrations_out_xnode, 1);
}

/* A time slice that ended on this CPU. */
static __always_inline void slice_add(struct sl_cpu_stats *cs, __u64 ran)
{
	cs->slices++;
	cs->run_ns += ran;
	cs->slice_hist[sl_hidx(sl_bucket(ran))]++;
}

static __always_inline int on_switch(bool preempt, struct task_struct *prev,
				     struct task_struct *next, bool btf)
{
	__u32 prev_pid = TREAD(btf, prev, pid), next_pid = TREAD(btf, next, pid);
	__u32 cpu = bpf_get_smp_processor_id(), prev_state, next_tgid, b = 0, reason;
	__u64 now, lat = 0, enq = 0;
	struct sl_cpu_stats *cs = this_cpu_stats();
	struct sl_task *pt, *nt;
	bool runnable, have = false;

	if (!cs)
		return 0;
	if (rq_clock) /* prev is this rq's current task */
		now = btf ? prev->se.cfs_rq->rq->clock : BPF_CORE_READ(prev, se.cfs_rq, rq, clock);
	else
		now = bpf_ktime_get_ns();
	prev_state = task_state(prev, btf);
	runnable = preempt || prev_state == 0;
	cs->switches++;
	if (!next_pid)
		cs->switches_to_idle++;

	if (prev_pid) { /* never the idle task */
		if (runnable)
			cs->switches_involuntary++;
		else
			cs->switches_voluntary++;
	}
	/*
	 * With the kernel's clock prev's task storage is not needed: its slice
	 * is timed per CPU here, and its per-thread counters (voluntary and
	 * involuntary switches, CPU time, the run_delay baseline) are taken
	 * from the kernel's own counts at its next switch-in.
	 */
	if (rq_clock) {
		if (prev_pid && cs->oncpu_ts && now > cs->oncpu_ts)
			slice_add(cs, now - cs->oncpu_ts);
		cs->oncpu_ts = now;
	}
	pt = prev_pid && !rq_clock ? task_get(prev, prev_pid, btf) : NULL;
	if (pt) {
		if (runnable) {
			pt->st.switches_involuntary++;
			pt->enq_ts = now;
			pt->enq_reason = SL_ENQ_PREEMPT;
		} else {
			pt->st.switches_voluntary++;
		}
		if (pt->oncpu_ts && now > pt->oncpu_ts) {
			slice_add(cs, now - pt->oncpu_ts);
			pt->st.run_ns += now - pt->oncpu_ts;
		}
		pt->oncpu_ts = 0;
		pt->gen++;
	}

	if (slots_on && btf && prev_pid && (prev_state & SL_TASK_DEAD))
		slot_release(prev, prev_pid);

	nt = next_pid ? task_get(next, next_pid, btf) : NULL;
	if (!nt)
		goto stream;
	if (rq_clock) {
		/*
		 * Queued since last_queued on this rq, plus what run_delay gained
		 * since it last ran (a wait on another rq it was migrated from).
		 * One switch-out happened since its last switch-in: nvcsw moved if
		 * it blocked (so this run follows a wakeup), else nivcsw. A thread
		 * first seen now has no baselines: a new one if it never ran.
		 */
		__u64 lq = TREAD(btf, next, sched_info.last_queued);
		__u64 rd = TREAD(btf, next, sched_info.run_delay);
		__u64 sum = TREAD(btf, next, se.sum_exec_runtime);
		__u32 nv = TREAD(btf, next, nvcsw), niv = TREAD(btf, next, nivcsw);
		bool woke;

		lat = lq && now > lq ? now - lq : 0;
		if (nt->based) {
			woke = nv != nt->nvcsw;
			nt->st.switches_voluntary += nv - nt->nvcsw;
			nt->st.switches_involuntary += niv - nt->nivcsw;
			if (sum > nt->oncpu_ts)
				nt->st.run_ns += sum - nt->oncpu_ts;
			if (rd > nt->enq_ts)
				lat += rd - nt->enq_ts;
			nt->enq_reason = woke ? SL_ENQ_SLEPT : SL_ENQ_PREEMPT;
		} else if (!TREAD(btf, next, sched_info.pcount)) {
			woke = true; /* its first run */
			nt->enq_reason = SL_ENQ_WAKEUP_NEW;
		} else if (TREAD(btf, next, start_time) > load_mono_ns) {
			/*
			 * It ran before, unseen, though it started after the
			 * programs were loaded: its state could not be made then
			 * (task_state_failed). Its counters since birth are the
			 * kernel's: every block was followed by a wakeup (its
			 * first run one too). Missed waits stay missed.
			 */
			woke = nv != 0;
			nt->st.switches_voluntary += nv;
			nt->st.switches_involuntary += niv;
			nt->st.run_ns += sum;
			nt->wakeups += nv + 1 - woke;
			nt->enq_reason = woke ? SL_ENQ_SLEPT : SL_ENQ_PREEMPT;
		} else {
			woke = false; /* older than the programs: from now on */
			nt->enq_reason = SL_ENQ_NONE;
		}
		nt->based = 1;
		nt->nvcsw = nv;
		nt->nivcsw = niv;
		nt->oncpu_ts = sum; /* CPU time so far */
		/* run_delay once the kernel books this wait */
		nt->enq_ts = rd + (lq && now > lq ? now - lq : 0);
		nt->wakeups += woke;
		have = lq || lat;
	} else {
		nt->oncpu_ts = now;
		enq = nt->enq_ts;
		if (enq && now > enq) {
			lat = now - enq;
			have = true;
		}
	}
	next_tgid = nt->st.tgid;
	if (nt->ran_on && nt->ran_on != cpu + 1)
		count_migration(cs, nt, nt->ran_on - 1, cpu);
	nt->ran_on = cpu + 1; /* st.last_cpu is set from this at export */
	if (have) {
		b = sl_bucket(lat);
		cs->waits++;
		cs->wait_ns += lat;
		if (lat > cs->wait_max_ns)
			cs->wait_max_ns = lat;
		cs->wait_hist[sl_hidx(b)]++;
		nt->st.waits++;
		nt->st.wait_ns += lat;
		if (lat > nt->st.wait_max_ns)
			nt->st.wait_max_ns = lat;
		nt->st.hist[sl_hidx(b)]++;
	}
	reason = nt->enq_reason;
	if (reason == SL_ENQ_WAKEUP || reason == SL_ENQ_WAKEUP_NEW || reason == SL_ENQ_SLEPT)
		cs->wakeups_target++;
	nt->st.wakeups += nt->wakeups;
	nt->wakeups = 0;
	/* last, after every change of st: an export on another CPU that
	 * sees the new gen sees them too (else a thread that then sleeps for
	 * good would keep its last wait unexported) */
	asm volatile("" ::: "memory");
	nt->gen++;
	if (!rq_clock) {
		nt->enq_ts = 0;
		nt->enq_reason = SL_ENQ_NONE;
	}
	if (cg_mode != SL_CGM_OFF)
		cg_account(next, nt, btf, have, lat, b);
	if (measure_active)
		measure_add(next, next_pid, next_tgid, cpu, have, lat, b);
	if (track_wakers && have && (reason == SL_ENQ_WAKEUP || reason == SL_ENQ_SLEPT) &&
	    nt->waker_pid) {
		struct sl_wake_key k = { nt->waker_pid, next_pid };
		struct sl_wake_val *w = bpf_map_lookup_elem(&wake_pairs, &k);

		if (w) {
			__sync_fetch_and_add(&w->waits, 1);
			__sync_fetch_and_add(&w->wait_ns, lat);
			/* racy but only ever raised: a maximum, not a sum */
			if (lat > w->wait_max_ns)
				w->wait_max_ns = lat;
		}
	}

stream:
	if (stream.enabled && (have || !stream.min_latency_ns) && lat >= stream.min_latency_ns) {
		__u32 prev_tgid = TREAD(btf, prev, tgid);
		struct sl_event *e;

		next_tgid = TREAD(btf, next, tgid);
		if (!stream_wants(SL_EV_SWITCH, cpu, next_pid, next_tgid, prev_pid, prev_tgid))
			return 0;
		if (rq_clock) { /* events and DSQ stamps are in ktime */
			__u64 kt = bpf_ktime_get_ns();

			enq = have ? kt - lat : 0;
			now = kt;
		}
		e = stream_reserve(cs, now);
		if (!e)
			return 0;
		e->latency_ns = lat;
		e->type = SL_EV_SWITCH;
		e->cpu = cpu;
		e->pid = next_pid;
		e->tgid = next_tgid;
		e->other_pid = prev_pid;
		e->other_tgid = prev_tgid;
		e->src_cpu = e->dst_cpu = -1;
		e->prev_state = runnable ? 0 : prev_state;
		e->flags = preempt ? SL_EVF_PREEMPTED : 0;
		/* task storage: tp_btf only */
		if (btf && dsq_hooked && next_pid)
			dsq_fill_switch(e, next, now, enq);
		bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &next->comm);
		bpf_probe_read_kernel_str(e->other_comm, sizeof(e->other_comm), &prev->comm);
		stream_submit(e);
	}
	return 0;
}

/* Only attached while waker CPUs are counted ([plugin sched_latency]
 * waker_cpu) or someone needs the waker's identity (stream, analysis). */
static __always_inline int on_waking(struct task_struct *p, bool btf)
{
	struct sl_cpu_stats *cs = this_cpu_stats();
	struct sl_task *t;
	__u64 id;

	if (cs)
		cs->wakeups_waker++;
	/* who woke whom costs a task lookup: only while someone looks */
	if (!stream.enabled && !track_wakers)
		return 0;
	t = task_get(p, TREAD(btf, p, pid), btf);
	if (!t)
		return 0;
	id = bpf_get_current_pid_tgid();
	t->waker_pid = (__u32)id;
	t->waker_tgid = id >> 32;
	/* sched_waking runs where the waker runs (sched_wakeup may run on the
	 * target CPU instead): kept to tell a wakeup across an LLC or node */
	t->waker_cpu = bpf_get_smp_processor_id() + 1;
	return 0;
}

static __always_inline int on_wakeup(struct task_struct *p, bool btf, bool is_new)
{
	__u32 type = is_new ? SL_EV_WAKEUP_NEW : SL_EV_WAKEUP, pid, tgid, cpu;
	struct sl_cpu_stats *cs;
	struct sl_event *e;
	struct sl_task *t;
	__u64 now;

	/* the target CPU is counted when the task runs (sl_switch) */
	t = task_get(p, TREAD(btf, p, pid), btf);
	if (!t)
		return 0;
	now = bpf_ktime_get_ns();
	if (!rq_clock) { /* else the switch-in measures and counts it */
		t->enq_ts = now;
		t->wakeups++;
		t->gen++;
		t->enq_reason = is_new ? SL_ENQ_WAKEUP_NEW : SL_ENQ_WAKEUP;
	} /* else the switch-in tells a wakeup from the kernel's counts */
	if (is_new)
		t->waker_pid = t->waker_tgid = 0;
	if (!track_wakers && !stream.enabled)
		return 0;
	pid = t->st.tid;

	if (track_wakers && !is_new && t->waker_pid) {
		struct sl_wake_key k = { t->waker_pid, pid };
		struct sl_wake_val *w = bpf_map_lookup_elem(&wake_pairs, &k);

		if (!w) {
			bpf_map_update_elem(&wake_pairs, &k, &zero_wake, BPF_NOEXIST);
			w = bpf_map_lookup_elem(&wake_pairs, &k);
			if (w) {
				struct task_struct *cur = (void *)bpf_get_current_task();

				w->waker_tgid = t->waker_tgid;
				w->wakee_tgid = TREAD(btf, p, tgid);
				bpf_probe_read_kernel_str(w->wakee_comm, sizeof(w->wakee_comm),
							  &p->comm);
				/* the waker is current when the wakeup is not deferred */
				if ((__u32)bpf_get_current_pid_tgid() == t->waker_pid)
					bpf_probe_read_kernel_str(w->waker_comm,
								  sizeof(w->waker_comm),
								  &cur->comm);
			}
		}
		if (w) {
			__u32 to = task_cpu(p, btf), from = t->waker_cpu - 1;

			__sync_fetch_and_add(&w->wakeups, 1);
			if (t->waker_cpu && to == from) {
				__sync_fetch_and_add(&w->same_cpu, 1);
			} else if (t->waker_cpu && have_topology) {
				/* the masks bound the indexes for the verifier: kept
				 * from the compiler, which would fold them into a
				 * range check on another register */
				barrier_var(from);
				barrier_var(to);
				from &= SL_MAX_CPUS - 1;
				to &= SL_MAX_CPUS - 1;
				if (cpu_llc[from] != cpu_llc[to])
					__sync_fetch_and_add(&w->cross_llc, 1);
				if (cpu_node[from] != cpu_node[to])
					__sync_fetch_and_add(&w->cross_node, 1);
			}
		}
		t->waker_cpu = 0;
	}

	if (!stream.enabled)
		return 0;
	tgid = t->st.tgid;
	cpu = task_cpu(p, btf);
	if (!stream_wants(type, cpu, pid, tgid, t->waker_pid, t->waker_tgid))
		return 0;
	cs = this_cpu_stats();
	if (!cs)
		return 0;
	e = stream_reserve(cs, now);
	if (!e)
		return 0;
	e->latency_ns = 0;
	e->type = type;
	e->cpu = cpu;
	e->pid = pid;
	e->tgid = tgid;
	e->other_pid = t->waker_pid;
	e->other_tgid = t->waker_tgid;
	e->src_cpu = -1;
	e->dst_cpu = cpu;
	e->prev_state = 0;
	e->flags = 0;
	if (btf && dsq_hooked)
		dsq_fill_queued(e, p);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &p->comm);
	e->other_comm[0] = 0;
	stream_submit(e);
	return 0;
}

/* Only attached while the stream wants migrate events. */
static __always_inline int on_migrate(struct task_struct *p, int dest, bool btf)
{
	__u32 src = task_cpu(p, btf), dst = dest, pid, tgid;
	struct sl_cpu_stats *cs;
	struct sl_event *e;

	if (src == dst || !stream.enabled)
		return 0;
	pid = TREAD(btf, p, pid);
	tgid = TREAD(btf, p, tgid);
	if (!stream_wants(SL_EV_MIGRATE, dst, pid, tgid, 0, 0) &&
	    !stream_wants(SL_EV_MIGRATE, src, pid, tgid, 0, 0))
		return 0;
	cs = this_cpu_stats();
	if (!cs)
		return 0;
	e = stream_reserve(cs, bpf_ktime_get_ns());
	if (!e)
		return 0;
	e->latency_ns = 0;
	e->type = SL_EV_MIGRATE;
	e->cpu = bpf_get_smp_processor_id();
	e->pid = pid;
	e->tgid = tgid;
	e->other_pid = e->other_tgid = 0;
	e->src_cpu = src;
	e->dst_cpu = dst;
	e->prev_state = 0;
	e->flags = 0;
	if (btf && dsq_hooked)
		dsq_fill_queued(e, p);
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &p->comm);
	e->other_comm[0] = 0;
	stream_submit(e);
	return 0;
}

/* Send an exiting thread's final counters, unless the last export has
 * them already; its task storage goes away with it. */
static __always_inline int on_exit(struct task_struct *p, bool btf)
{
	__u32 pid = TREAD(btf, p, pid);
	struct sl_task *t;

	if (!pid)
		return 0;
	t = btf ? task_get_btf(p, pid, false) : bpf_map_lookup_elem(&task_hash, &pid);
	if (rq_clock && t && t->based) { /* its last slice, which no switch-in books */
		__u64 sum = TREAD(btf, p, se.sum_exec_runtime);
		__u32 nv = TREAD(btf, p, nvcsw), niv = TREAD(btf, p, nivcsw);

		t->st.switches_voluntary += nv - t->nvcsw;
		t->st.switches_involuntary += niv - t->nivcsw;
		if (sum > t->oncpu_ts)
			t->st.run_ns += sum - t->oncpu_ts;
		t->nvcsw = nv;
		t->nivcsw = niv;
		t->oncpu_ts = sum;
		t->gen++;
	}
	if (t && t->gen != t->exported) {
		t->exported = t->gen;
		t->st.wakeups += t->wakeups;
		t->wakeups = 0;
		t->st.last_cpu = t->ran_on ? t->ran_on - 1 : 0;
		t->st.exited = 1;
		bpf_probe_read_kernel_str(t->st.comm, sizeof(t->st.comm), &p->comm);
		/* user space drains it every tick, and early once half full */
		if (bpf_ringbuf_output(&exits, &t->st, sizeof(t->st),
				       bpf_ringbuf_query(&exits, BPF_RB_AVAIL_DATA) > (512 << 10)
					       ? BPF_RB_FORCE_WAKEUP
					       : BPF_RB_NO_WAKEUP))
			__sync_fetch_and_add(&exits_lost, 1);
	}
	if (!btf)
		bpf_map_delete_elem(&task_hash, &pid);
	return 0;
}

/* Export the threads that changed since the last run (user space runs this
 * iterator once per tick). */
SEC("iter/task")
int sl_dump(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct sl_task *t;
	__u64 was;

	if (!task)
		return 0;
	t = task_get_btf(task, task->pid, false);
	if (!t || t->gen == t->exported)
		return 0;
	was = t->exported;
	t->exported = t->gen;
	t->st.wakeups += t->wakeups;
	t->wakeups = 0;
	t->st.last_cpu = t->ran_on ? t->ran_on - 1 : 0;
	bpf_probe_read_kernel_str(t->st.comm, sizeof(t->st.comm), &task->comm);
	/* a full buffer makes the kernel show this task again in the next
	 * read(): it must still look changed then */
	if (bpf_seq_write(ctx->meta->seq, &t->st, sizeof(t->st)))
		t->exported = was;
	return 0;
}

static __always_inline int on_softirq_entry(unsigned int vec)
{
	struct sl_softirq_entry *e;
	__u32 zero = 0;

	if (!track_softirq || vec >= SL_NR_SOFTIRQS)
		return 0;
	e = bpf_map_lookup_elem(&softirq_entry, &zero);
	if (e) {
		e->ts = bpf_ktime_get_ns();
		e->vec = vec;
	}
	return 0;
}

static __always_inline int on_softirq_exit(unsigned int vec)
{
	struct sl_softirq_key k = { .vec = vec };
	struct sl_softirq_entry *e;
	struct sl_softirq_stat *s;
	struct sl_softirq_proc *pr;
	__u64 now = bpf_ktime_get_ns(), d; /* first: time the handler, not us */
	__u32 zero = 0, v = vec;

	e = bpf_map_lookup_elem(&softirq_entry, &zero);
	/* an exit without its entry: tracking began inside this softirq */
	if (!e || !e->ts || e->vec != vec || vec >= SL_NR_SOFTIRQS)
		return 0;
	d = now - e->ts;
	e->ts = 0;
	if (!track_softirq)
		return 0;
	s = bpf_map_lookup_elem(&softirq_stats, &v);
	if (s) { /* this CPU's own slot: no other writer */
		s->count++;
		s->total_ns += d;
		if (d > s->max_ns)
			s->max_ns = d;
		s->hist[sl_hidx(sl_bucket(d))]++;
	}
	k.tgid = bpf_get_current_pid_tgid() >> 32;
	pr = bpf_map_lookup_elem(&softirq_procs, &k);
	if (!pr) {
		bpf_map_update_elem(&softirq_procs, &k, &zero_softirq_proc, BPF_NOEXIST);
		pr = bpf_map_lookup_elem(&softirq_procs, &k);
		if (!pr)
			return 0;
		bpf_get_current_comm(pr->comm, sizeof(pr->comm));
	}
	__sync_fetch_and_add(&pr->count, 1);
	__sync_fetch_and_add(&pr->total_ns, d);
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(sl_sirq_entry, unsigned int vec)
{
	return on_softirq_entry(vec);
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(sl_sirq_exit, unsigned int vec)
{
	return on_softirq_exit(vec);
}

SEC("raw_tp/softirq_entry")
int BPF_PROG(sl_sirq_entry_raw, unsigned int vec)
{
	return on_softirq_entry(vec);
}

SEC("raw_tp/softirq_exit")
int BPF_PROG(sl_sirq_exit_raw, unsigned int vec)
{
	return on_softirq_exit(vec);
}

/* Tasks moved between cgroups (attached only while cg_mode is on). */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(sl_cg_attach)
{
	__sync_fetch_and_add(&cg_epoch, 1);
	return 0;
}

SEC("tp_btf/cgroup_transfer_tasks")
int BPF_PROG(sl_cg_transfer)
{
	__sync_fetch_and_add(&cg_epoch, 1);
	return 0;
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(sl_cg_attach_raw)
{
	__sync_fetch_and_add(&cg_epoch, 1);
	return 0;
}

SEC("raw_tp/cgroup_transfer_tasks")
int BPF_PROG(sl_cg_transfer_raw)
{
	__sync_fetch_and_add(&cg_epoch, 1);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sl_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, true);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(sl_waking, struct task_struct *p)
{
	return on_waking(p, true);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sl_wakeup, struct task_struct *p)
{
	return on_wakeup(p, true, false);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sl_wakeup_new, struct task_struct *p)
{
	return on_wakeup(p, true, true);
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(sl_migrate, struct task_struct *p, int dest_cpu)
{
	return on_migrate(p, dest_cpu, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sl_exit, struct task_struct *p)
{
	return on_exit(p, true);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(sl_switch_raw, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return on_switch(preempt, prev, next, false);
}

SEC("raw_tp/sched_waking")
int BPF_PROG(sl_waking_raw, struct task_struct *p)
{
	return on_waking(p, false);
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(sl_wakeup_raw, struct task_struct *p)
{
	return on_wakeup(p, false, false);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(sl_wakeup_new_raw, struct task_struct *p)
{
	return on_wakeup(p, false, true);
}

SEC("raw_tp/sched_migrate_task")
int BPF_PROG(sl_migrate_raw, struct task_struct *p, int dest_cpu)
{
	return on_migrate(p, dest_cpu, false);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(sl_exit_raw, struct task_struct *p)
{
	return on_exit(p, false);
}

char LICENSE[] SEC("license") = "GPL";
